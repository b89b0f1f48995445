"""The jobs: what a run materializes (the sensors and `housing run` launch these)."""

import dagster as dg

from housing_assets.defs.forecasting import assets as forecasting
from housing_assets.defs.ingestion import assets as ingestion
from housing_assets.defs.monitoring import assets as monitoring
from housing_assets.defs.training import assets as training

# Every job runs its steps in the run's own process, as `housing run` does. The steps are a
# chain (load, check, clean, check; splits, encoders, tuning, holdout, gate, bundle) with nothing
# to run side by side, and a subprocess per step imports the code location again each time:
# most of a month's run, and most of a small sensor-started retraining.
IN_PROCESS = dg.in_process_executor

ingest_job = dg.define_asset_job(
    "ingest",
    executor_def=IN_PROCESS,
    selection=dg.AssetSelection.groups(ingestion.GROUP),
    description="Raw monthly HouseTS data -> expectation checks -> cleaned monthly data.",
)

# Used by the runner after a month is quarantined: re-check stored raw months, clean the rest.
check_and_clean_job = dg.define_asset_job(
    "check_and_clean",
    executor_def=IN_PROCESS,
    selection=dg.AssetSelection.checks_for_assets(ingestion.raw_monthly)
    | dg.AssetSelection.assets(ingestion.cleaned_monthly),
    description="Re-check stored raw months and clean those that pass.",
)

train_job = dg.define_asset_job(
    "train",
    executor_def=IN_PROCESS,
    selection=dg.AssetSelection.groups(training.GROUP),
    description="One vintage: splits -> encoders -> tuned model -> holdout metrics -> gated serving bundle.",
)

# Its own job, not part of `train`: the forecaster's gate and the nowcast model's are separate,
# and a vintage's forecaster reads the same splits the train run wrote.
forecast_job = dg.define_asset_job(
    "forecast",
    executor_def=IN_PROCESS,
    selection=dg.AssetSelection.groups(forecasting.GROUP),
    description="One vintage: the forecaster (1-24 months ahead) -> its holdout backtest -> gated published forecasts.",
)

# What the new-data sensor runs once a champion exists: the month's ingest, then its drift
# report and every zip's prediction (blocking checks stop the monitoring of a bad month).
ingest_and_monitor_job = dg.define_asset_job(
    "ingest_and_monitor",
    executor_def=IN_PROCESS,
    selection=dg.AssetSelection.groups(ingestion.GROUP, monitoring.GROUP),
    description="One month: ingest + checks + cleaning, then its drift report and batch predictions.",
)

# What the drift sensor runs when a new champion goes live: the months' drift reports as that
# model sees them, and its served history advanced with them -- months that landed while it
# trained were refreshed into the champion it replaced (cleaned months are only read).
drift_report_job = dg.define_asset_job(
    "recompute_drift",
    executor_def=IN_PROCESS,
    selection=dg.AssetSelection.assets(monitoring.drift_report, monitoring.served_history),
    description="Months' drift reports scored by the live champion (after a champion change), "
    "and its served history advanced with any of them it lacks.",
)
