"""Model lineage per vintage: splits -> feature state -> tuned model -> holdout -> serving bundle."""

import json

import dagster as dg
import pandas as pd
from pydantic import Field

from housing_assets.defs.training.partitions import all_months, vintages
from housing_assets.lib import features as F
from housing_assets.lib import splits as S

GROUP = "training"


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
        default="log_ratio", description="log_ratio (price over list price) or log_price."
    )
    smoothing: float = Field(
        default=20.0, gt=0, description="Metro target-encoding smoothing (rows)."
    )


def one(value: dict, context) -> object:
    """The value of this run's partition from an IO-manager dict {partition: value}."""
    return value[context.partition_key]


@dg.asset(
    partitions_def=vintages,
    group_name=GROUP,
    kinds={"pandas", "parquet"},
    ins={"cleaned_monthly": dg.AssetIn(partition_mapping=all_months)},
)
def splits(context: dg.AssetExecutionContext, config: SplitConfig, cleaned_monthly: dict) -> dict:
    """Train / eval / holdout rows of the vintage (a `split` column), windows ending at the vintage month."""
    windows = S.Windows(
        context.partition_key, config.eval_months, config.train_months, config.holdout_months
    )
    panel = pd.concat([cleaned_monthly[m] for m in sorted(cleaned_monthly)], ignore_index=True)
    out = S.assign(panel, windows)
    summary = S.summary(out)
    context.add_output_metadata(
        {
            **{f"{name}_rows": part["rows"] for name, part in summary.items()},
            "windows": dg.MetadataValue.json(summary),
            "months_read": len(cleaned_monthly),
        }
    )
    return {context.partition_key: out}


@dg.asset(partitions_def=vintages, group_name=GROUP, kinds={"json"})
def feature_state(context: dg.AssetExecutionContext, config: FeatureConfig, splits: dict) -> dict:
    """Encoders fitted on the train split only (zip frequency, smoothed metro target encoding) and each zip's last known price before the holdout, as JSON."""
    rows = one(splits, context)
    state = F.fit(
        rows[rows[S.SPLIT] == S.TRAIN],
        target=config.target,
        smoothing=config.smoothing,
        history=rows[rows[S.SPLIT] != S.HOLDOUT],  # prices known when the holdout starts
    )
    context.add_output_metadata(
        {
            "target": state.target,
            "features": len(state.features),
            "zips_encoded": len(state.zip_frequency),
            "metros_encoded": len(state.metro_encoding),
            "fitted_on": dg.MetadataValue.json(state.fitted_on),
            "zip_history_until": state.history_until,
        }
    )
    return {context.partition_key: json.loads(state.to_json())}
