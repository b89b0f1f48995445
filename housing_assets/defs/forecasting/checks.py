"""The forecaster's gate: published only when its backtest beats carrying the price forward."""

import dagster as dg

from housing_assets.defs.forecasting.assets import forecast_backtest
from housing_assets.defs.training.partitions import vintages
from housing_core.forecast import backtest


@dg.asset_check(asset=forecast_backtest, partitions_def=vintages, blocking=True)
def forecast_beats_persistence(
    context: dg.AssetCheckExecutionContext, forecast_backtest: dict
) -> dg.AssetCheckResult:
    """Publish the forecaster only if its holdout backtest beats persistence overall and in every horizon bucket with at least 30 points (the nowcast model's gate is separate)."""
    rep = forecast_backtest
    reasons = backtest.verdict(rep, backtest.MIN_POINTS)
    overall = rep["overall"]
    return dg.AssetCheckResult(
        passed=not reasons,
        description="; ".join(reasons)
        or f"MAPE {overall['model']:.2f}% < persistence {overall['persistence']:.2f}%, "
        "and in every horizon bucket",
        metadata={
            "mape": overall["model"],
            "persistence_mape": overall["persistence"],
            "reasons": dg.MetadataValue.json(reasons),
            "by_bucket": dg.MetadataValue.json(rep["by_bucket"]),
        },
    )
