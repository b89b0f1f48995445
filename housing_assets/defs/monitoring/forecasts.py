"""Published forecasts as months land: every zip forecast again from the newest month, and the
forecasts issued earlier for that month scored against what happened."""

import json

import dagster as dg
import pandas as pd

from housing_assets.defs.monitoring.assets import MONTHLY
from housing_assets.resources.month_frames import MonthFrames
from housing_assets.resources.serving_store import ServingStore
from housing_core import bundle
from housing_core.forecast import live

NOT_PUBLISHED = "no forecaster published: nothing to forecast from (its backtest gate decides)"


@dg.asset(**MONTHLY, kinds={"parquet"})
def zip_forecasts(
    context: dg.AssetExecutionContext,
    cleaned_monthly: MonthFrames,
    serving_store: ServingStore,
) -> dict:
    """Every zip's price for the 1-24 months after month M with 80/95% bands, from the published forecaster (same fit, history advanced with M), republished for the API and kept to be scored."""
    store = serving_store.store()
    if bundle.current_version(store, bundle.FORECAST) is None:
        context.log.warning(NOT_PUBLISHED)
        context.add_output_metadata({"status": NOT_PUBLISHED})
        return {m: pd.DataFrame() for m in cleaned_monthly}
    out = {}
    for month in sorted(cleaned_monthly):  # each month advances the one before it
        done = live.advance(store, cleaned_monthly[month])
        live.record_issued(store, done.table)
        out[month] = done.table
        context.add_asset_metadata(
            {
                "dagster/row_count": len(done.table),
                "origin": done.origin,
                "version": done.version,
                "republished": done.published,
            },
            partition_key=month,
        )
        context.log.info(f"forecasts from {done.origin}: {len(done.table):,} rows ({done.version})")
    return out


@dg.asset(**MONTHLY, kinds={"json"})
def forecast_scorecard(
    context: dg.AssetExecutionContext,
    cleaned_monthly: MonthFrames,
    serving_store: ServingStore,
) -> dict:
    """Month M's live forecast error: every forecast issued 1-24 months before M for M, against M's prices and against persistence, per horizon bucket, with band coverage; beside the backtest the forecaster was published on."""
    store = serving_store.store()
    current = bundle.current_version(store, bundle.FORECAST)
    # Only its backtest is read: the forecasts and history are neither fetched nor decoded.
    backtest = (
        json.loads(
            bundle.read_verified(store, current, (bundle.BACKTEST,), bundle.FORECAST)[
                bundle.BACKTEST
            ]
        )
        if current
        else {}
    )
    out = {}
    for month in sorted(cleaned_monthly):
        card = live.scorecard(live.score(store, cleaned_monthly[month], month))
        card.update(month=month, backtest=backtest.get("by_bucket", {}), forecaster=current)
        out[month] = card
        context.add_asset_metadata(
            {"points": card["points"], "by_bucket": dg.MetadataValue.json(card["by_bucket"])},
            partition_key=month,
        )
    return out
