"""Raw and cleaned monthly HouseTS data."""

import hashlib

import dagster as dg
import pandas as pd

from housing_assets.defs.ingestion.partitions import MONTHLY_POOL, months
from housing_assets.lib import contract as c
from housing_assets.lib import progress
from housing_assets.lib.cleaning import CleaningReport, clean_month
from housing_assets.resources.source import HouseTSSource

GROUP = "ingestion"
# Both monthly assets: one Parquet file per month, every month of a backfill in a single run.
# The pool serializes runs that write monthly data (dagster.yaml: pools of limit 1, enforced per
# run by the queue), so two runs over the same or overlapping months never interleave.
MONTHLY = {
    "pool": MONTHLY_POOL,
    "partitions_def": months,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "group_name": GROUP,
    "kinds": {"pandas", "parquet"},
    "code_version": "1",
}


@dg.asset(**MONTHLY)
def raw_monthly(
    context: dg.AssetExecutionContext, source: HouseTSSource
) -> dict[str, pd.DataFrame]:
    """HouseTS rows of one month as the source delivered them, in the contract's columns (not reported: NaN), cast where castable."""
    keys = list(context.partition_keys)
    context.log.info(f"loading {len(keys)} month(s) {keys[0]}..{keys[-1]} from {source.describe()}")
    loads = source.load_months(keys)
    frames = {m: loads[m].frame for m in keys}
    unreadable = {m: r for m, f in frames.items() if (r := c.unreadable_reason(f))}
    for month, reason in unreadable.items():
        context.log.error(f"partition {month}: {reason} -- the contract check will fail it")
    not_reported = _union(c.not_reported_columns(f) for f in frames.values())
    dropped = _union(c.dropped_columns(f) for f in frames.values())
    if dropped:
        context.log.warning(f"source columns dropped by the contract's column mapping: {dropped}")
    rows = sum(len(f) for f in frames.values())
    context.add_output_metadata(
        {
            "source": source.describe(),
            "months": len(keys),
            "unreadable_months": dg.MetadataValue.json(unreadable),
            "columns_not_reported": dg.MetadataValue.json(not_reported),
            "columns_dropped": dg.MetadataValue.json(dropped),
            "content_fingerprints": fingerprints(frames),
            "rows": rows,
            "rows_per_month_median": float(pd.Series([len(f) for f in frames.values()]).median()),
            "preview": dg.MetadataValue.md(frames[keys[0]].head(5).to_markdown(index=False)),
        }
    )
    return frames


@dg.asset(**MONTHLY)
def cleaned_monthly(
    context: dg.AssetExecutionContext, raw_monthly: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """Model-ready rows of one month: canonical metro names, one row per zip, NaN for not-reported, outliers removed."""
    total = CleaningReport()
    out = {}
    keys = list(context.partition_keys)
    for done, month in enumerate(keys, 1):
        try:
            out[month], report = clean_month(raw_monthly[month])
        except c.ContractError as exc:
            raise c.ContractError(f"partition {month}: {exc}") from exc
        total.add(report)
        progress.report("cleaning", done, len(keys), unit="months", note=month)
    context.log.info(
        f"cleaned {len(out)} month(s): {total.rows_in:,} rows in, {total.rows_out:,} out"
    )
    metadata = total.as_metadata()
    metadata["outlier_cells_by_column"] = dg.MetadataValue.json(total.outlier_cells)
    metadata["content_fingerprints"] = fingerprints(out)
    context.add_output_metadata(metadata)
    return out


def _union(lists) -> list[str]:
    """Column names from several months, each once, in first-seen order."""
    return list(dict.fromkeys(col for names in lists for col in names))


def fingerprints(frames: dict[str, pd.DataFrame]) -> dg.JsonMetadataValue:
    """Month -> a hash of its rows and schema, on every materialization: the same content shows
    the same fingerprint whichever run, range or process wrote it. (Dagster's own data version
    is one value per output, so a range run cannot carry one per month.)"""
    return dg.MetadataValue.json({month: frame_fingerprint(f) for month, f in frames.items()})


def frame_fingerprint(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update("|".join(f"{col}:{dtype}" for col, dtype in frame.dtypes.items()).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:24]
