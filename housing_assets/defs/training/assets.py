"""Model lineage per vintage: splits -> feature state -> tuned model -> holdout -> serving bundle."""

import dagster as dg
import pandas as pd
from pydantic import Field

from housing_assets.defs.owners import ML
from housing_assets.defs.training.partitions import all_months, vintages
from housing_assets.resources.io_manager import Available
from housing_core import features as F
from housing_core import splits as S

GROUP = "training"
# Each lineage asset carries `owners=ML` and a `code_version`: bump an asset's when its logic (or
# the lib code it calls) changes, so Dagster marks the vintages it built as stale.


class SplitConfig(dg.Config):
    eval_months: int = Field(default=24, ge=1, description="Months of eval before the vintage.")
    train_months: int | None = Field(
        default=None, description="Months of train; None = all earlier."
    )
    holdout_months: int | None = Field(
        default=None, description="Months of holdout; None = all later."
    )


class FeatureConfig(dg.Config):
    target: str = Field(
        default="log_ratio",
        description="log_ratio (change from the zip's last known price) or log_price.",
    )
    smoothing: float = Field(
        default=20.0, gt=0, description="Metro target-encoding smoothing (rows)."
    )
    max_offset: int = Field(
        default=F.MAX_OFFSET,
        ge=1,
        description="Training rows are anchored 1..max_offset months back (the horizons served).",
    )


@dg.asset(
    partitions_def=vintages,
    group_name=GROUP,
    kinds={"pandas", "parquet"},
    ins={"cleaned_monthly": dg.AssetIn(partition_mapping=all_months)},
    owners=ML,
    code_version="1",
)
def splits(
    context: dg.AssetExecutionContext, config: SplitConfig, cleaned_monthly: Available
) -> pd.DataFrame:
    """Train / eval / holdout rows of the vintage (a `split` column), windows ending at the vintage month, from the months that passed their checks (gaps listed; the promotion gate decides whether they are acceptable)."""
    windows = S.Windows(
        context.partition_key, config.eval_months, config.train_months, config.holdout_months
    )
    if not cleaned_monthly:
        raise ValueError(
            f"no cleaned month to train on: {len(cleaned_monthly.missing)} registered month(s), "
            "none ingested (run `housing run --no-train` first)"
        )
    if cleaned_monthly.missing:
        context.log.warning(
            f"training without {len(cleaned_monthly.missing)} month(s) never cleaned "
            f"(quarantined or still landing): {', '.join(cleaned_monthly.missing)}"
        )
    panel = pd.concat([cleaned_monthly[m] for m in sorted(cleaned_monthly)], ignore_index=True)
    out = S.assign(panel, windows)
    summary = S.summary(out)
    context.add_output_metadata(
        {
            **{f"{name}_rows": part["rows"] for name, part in summary.items()},
            "windows": dg.MetadataValue.json(summary),
            "months_read": len(cleaned_monthly),
            "months_not_cleaned": dg.MetadataValue.json(cleaned_monthly.missing),
            "missing_in_window": dg.MetadataValue.json(S.missing_months(out)),
        }
    )
    return out


@dg.asset(partitions_def=vintages, group_name=GROUP, kinds={"json"}, owners=ML, code_version="1")
def feature_state(
    context: dg.AssetExecutionContext, config: FeatureConfig, splits: pd.DataFrame
) -> F.FeatureState:
    """Encoders fitted on the train split only (zip frequency, smoothed metro target encoding) and the feature list, as JSON."""
    state = F.fit(
        splits[splits[S.SPLIT] == S.TRAIN],
        target=config.target,
        smoothing=config.smoothing,
        max_offset=config.max_offset,
    )
    context.add_output_metadata(
        {
            "target": state.target,
            "features": len(state.features),
            "zips_encoded": len(state.zip_frequency),
            "metros_encoded": len(state.metro_encoding),
            "fitted_on": dg.MetadataValue.json(state.fitted_on),
            "market_stats_compared": dg.MetadataValue.json(state.stats),
            "max_offset": state.max_offset,
        }
    )
    return state
