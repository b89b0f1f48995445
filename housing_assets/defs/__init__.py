"""The code location's definitions, one package per domain (ingestion, training, forecasting,
monitoring), found by Dagster's package loader.

Two framework features we use knowingly while Dagster marks them beta / preview: a backfill
policy on the monthly assets (one run per range of months) and partitioned asset checks (a
check result per month). Their warnings would repeat on every load of this location, in every
run's log and in `dagster dev`'s output; they are silenced here, before any module below
declares them, and only these two: any other framework warning still shows."""

import warnings

import dagster as dg

warnings.filterwarnings(
    "ignore", message=r"Parameter `backfill_policy` of function `asset`", category=dg.BetaWarning
)
warnings.filterwarnings(
    "ignore",
    message=r"Specifying a partitions_def on an AssetCheckSpec",
    category=dg.PreviewWarning,
)
