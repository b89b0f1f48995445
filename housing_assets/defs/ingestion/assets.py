"""Raw and cleaned monthly HouseTS data."""

import hashlib
from typing import Any

import dagster as dg
import pandas as pd

from housing_assets.defs.ingestion.partitions import (
    BACKFILL_POLICY,
    MONTHLY_POOL,
    months,
    refuse_overlapping_runs,
)
from housing_assets.defs.owners import DATA_PLATFORM
from housing_assets.resources.io_manager import ParquetIOManager
from housing_assets.resources.month_frames import MonthFrames, MonthSpill
from housing_assets.resources.revisions import RevisionPolicy
from housing_assets.resources.source import HouseTSSource
from housing_core import contract as c
from housing_core import progress, revisions
from housing_core.cleaning import CleaningReport, clean_month

GROUP = "ingestion"


def contract_schema() -> dg.TableSchema:
    """The data contract's 39 columns in order, with their dtypes (housing_core/contract.py); the keys and
    the target may not be missing. A source's kept extras (longitude, latitude, state) may follow."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name,
                c.DTYPES[name],
                constraints=dg.TableColumnConstraints(nullable=name not in c.REQUIRED),
            )
            for name in c.COLUMNS
        ]
    )


# Both monthly assets: one Parquet file per month, every month of a backfill in a single run, or
# in runs of HOUSING_BACKFILL_CHUNK months. The pool limits the runs that write monthly data at
# once (dagster.yaml: limit 1, enforced per run by the queue; HOUSING_BACKFILL_RUNS raises it), and
# a run stops before writing if an earlier one still writes any of its months.
# A range run materializes every month at once: what describes one month goes on that month's
# event (`month_metadata`), run-wide figures are named `run_*`.
MONTHLY: dict[str, Any] = {
    "pool": MONTHLY_POOL,
    "partitions_def": months,
    "backfill_policy": BACKFILL_POLICY,
    "group_name": GROUP,
    "kinds": {"pandas", "parquet"},
    "owners": DATA_PLATFORM,
    "code_version": "1",  # bump when the asset's logic (or the lib code it calls) changes
    "metadata": {"dagster/column_schema": contract_schema()},
}


@dg.asset(**MONTHLY)
def raw_monthly(context: dg.AssetExecutionContext, source: HouseTSSource) -> MonthFrames:
    """HouseTS rows of one month as the source delivered them, in the contract's columns (not reported: NaN), cast where castable."""
    refuse_overlapping_runs(context)
    keys = list(context.partition_keys)
    context.log.info(f"loading {len(keys)} month(s) {keys[0]}..{keys[-1]} from {source.describe()}")
    # One month in memory at a time: each is described, then spilled as Parquet.
    spill, unreadable, rows = MonthSpill(), {}, {}
    not_reported: list[list[str]] = []
    dropped: list[list[str]] = []
    prints = {}
    for load in source.iter_months(keys):
        month, frame = load.month, load.frame
        if reason := c.unreadable_reason(frame):
            unreadable[month] = reason
            context.log.error(f"partition {month}: {reason} -- the contract check will fail it")
        not_reported.append(c.not_reported_columns(frame))
        dropped.append(c.dropped_columns(frame))
        rows[month] = len(frame)
        prints[month] = frame_fingerprint(frame)
        month_metadata(
            context,
            month,
            frame,
            fingerprint=prints[month],
            columns_not_reported=dg.MetadataValue.json(c.not_reported_columns(frame)),
            preview=dg.MetadataValue.md(frame.head(5).to_markdown(index=False)),
        )
        spill.put(month, frame)
    if _union(dropped):
        context.log.warning(
            f"source columns dropped by the contract's column mapping: {_union(dropped)}"
        )
    context.add_output_metadata(
        {
            "source": source.describe(),
            "run_months": len(keys),
            "unreadable_months": dg.MetadataValue.json(unreadable),
            "run_columns_not_reported": dg.MetadataValue.json(_union(not_reported)),
            "columns_dropped": dg.MetadataValue.json(_union(dropped)),
            "content_fingerprints": dg.MetadataValue.json(prints),
            "run_rows": sum(rows.values()),
            "rows_per_month_median": float(pd.Series(list(rows.values())).median()),
        }
    )
    return spill.frames()


@dg.asset(**MONTHLY)
def cleaned_monthly(
    context: dg.AssetExecutionContext,
    raw_monthly: MonthFrames,
    io_manager: dg.ResourceParam[ParquetIOManager],
    revision_policy: RevisionPolicy,
    source: HouseTSSource,
) -> MonthFrames:
    """Model-ready rows of one month: canonical metro names, one row per zip, NaN for not-reported, outliers removed."""
    refuse_overlapping_runs(context)  # re-checking stored months writes them too
    total = CleaningReport()
    spill, prints = MonthSpill(), {}
    keys = list(context.partition_keys)
    delivered_by = source.describe()
    for done, month in enumerate(keys, 1):  # one month in memory at a time
        try:
            cleaned, report = clean_month(raw_monthly[month])
        except c.ContractError as exc:
            raise c.ContractError(f"partition {month}: {exc}") from exc
        total.add(report)
        prints[month] = frame_fingerprint(cleaned)
        month_metadata(
            context,
            month,
            cleaned,
            fingerprint=prints[month],
            **report.as_metadata(),
            outlier_cells_by_column=dg.MetadataValue.json(report.outlier_cells),
            **{SOURCE: delivered_by},
            **_revision_of(context.instance, io_manager, month, cleaned, delivered_by,
                           revision_policy),
        )  # fmt: skip
        spill.put(month, cleaned)
        progress.report("cleaning", done, len(keys), unit="months", note=month)
    context.log.info(
        f"cleaned {len(keys)} month(s): {total.rows_in:,} rows in, {total.rows_out:,} out"
    )
    metadata: dict[str, Any] = {f"run_{name}": v for name, v in total.as_metadata().items()}
    metadata["run_months"] = len(keys)
    metadata["content_fingerprints"] = dg.MetadataValue.json(prints)
    context.add_output_metadata(metadata)
    return spill.frames()


SOURCE = "source"  # on each cleaned month: the source that delivered its accepted version


def accepted_source(instance: dg.DagsterInstance, month: str) -> str | None:
    """The source (`HouseTSSource.describe()`) whose delivery of `month` is the accepted cleaned
    version; None when unknown (never cleaned, or cleaned before sources were recorded). A
    delivery from another source -- another seed, scale, file or landing area -- is another
    dataset replacing the month, not a revision of it."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=cleaned_monthly.key, asset_partitions=[month]), limit=1
    )
    if not result.records or result.records[0].asset_materialization is None:
        return None
    value = result.records[0].asset_materialization.metadata.get(SOURCE)
    return None if value is None else str(value.value)


def _revision_of(
    instance: dg.DagsterInstance, io_manager: ParquetIOManager, month: str, new: pd.DataFrame,
    delivered_by: str, policy: RevisionPolicy,
) -> dict:  # fmt: skip
    """`revised` against the accepted version of a month delivered again by the same source; a
    new month costs one file lookup, no event-log query."""
    accepted = io_manager.stored("cleaned_monthly", month)
    if accepted is None or accepted_source(instance, month) not in (delivered_by, None):
        return {}
    return revised(accepted, new, policy)


def revised(accepted: pd.DataFrame | None, new: pd.DataFrame, policy: RevisionPolicy) -> dict:
    """What this version of a past month changed in the one it replaces (`raw_revisions` let it
    through: a correction, or accepted by an operator), on the month's own materialization, so
    the partition's history says which version revised what. Nothing for a new month."""
    if accepted is None:
        return {}
    revision = revisions.diff(accepted, new, policy.rules())
    if revision.unchanged:
        return {}
    return {
        "revision_rows_changed": revision.rows_changed,
        "revision_columns_changed": dg.MetadataValue.json(revision.columns_changed),
        "revision": dg.MetadataValue.json(revision.as_metadata()),
    }


def month_metadata(
    context: dg.AssetExecutionContext,
    month: str,
    frame: pd.DataFrame,
    fingerprint: str | None = None,
    **extra,
) -> None:
    """What describes one month, on that month's materialization only: its own row count (not
    the run's), its content fingerprint (`fingerprint` when already computed) and `extra`."""
    context.add_asset_metadata(
        {
            "dagster/row_count": len(frame),
            "content_fingerprint": fingerprint or frame_fingerprint(frame),
            **extra,
        },
        partition_key=month,
    )


def _union(lists) -> list[str]:
    """Column names from several months, each once, in first-seen order."""
    return list(dict.fromkeys(col for names in lists for col in names))


def frame_fingerprint(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update("|".join(f"{col}:{dtype}" for col, dtype in frame.dtypes.items()).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:24]
