"""The Dagster code location: assets, checks, jobs, sensors and the resources of the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import overload

import dagster as dg
from pydantic import SecretStr

from housing_assets.defs import jobs, loggers
from housing_assets.defs.forecasting import assets as forecasting
from housing_assets.defs.forecasting import checks as forecasting_checks
from housing_assets.defs.ingestion import assets as ingestion
from housing_assets.defs.ingestion import checks as ingestion_checks
from housing_assets.defs.monitoring import alerts as monitoring_alerts
from housing_assets.defs.monitoring import assets as monitoring
from housing_assets.defs.monitoring import checks as monitoring_checks
from housing_assets.defs.monitoring import forecasts as monitoring_forecasts
from housing_assets.defs.monitoring import sensors as monitoring_sensors
from housing_assets.defs.training import assets as training
from housing_assets.defs.training import checks as training_checks
from housing_assets.defs.training import model as training_model
from housing_assets.defs.training import serving as training_serving
from housing_assets.resources.alerts import AlertNotifier
from housing_assets.resources.automation import (
    DriftPolicy,
    ForecastPolicy,
    RetrainPolicy,
    SensorIntervals,
)
from housing_assets.resources.io_manager import ParquetIOManager
from housing_assets.resources.mlflow_tracking import MlflowTracking, OptunaStorage
from housing_assets.resources.revisions import RevisionPolicy
from housing_assets.resources.serving_store import PromotionPolicy, ServingStore
from housing_assets.resources.source import source_from_setting
from housing_assets.resources.threads import ThreadBudgetResource
from housing_assets.settings import Settings, redact_url


@overload
def _from_env(value: str, variable: str) -> str: ...
@overload
def _from_env(value: SecretStr | None, variable: str) -> str | None: ...
def _from_env(value: str | SecretStr | None, variable: str) -> str | None:
    """A secret read from `variable` (a URL's password, a webhook's token) goes to its resource
    as dg.EnvVar: Dagster's UI (the code location's resource config) shows the variable's name,
    never the value, and the run reads the value where it starts. Anything else goes as is."""
    if value is None:
        return None
    plain = value.get_secret_value() if isinstance(value, SecretStr) else value
    secret = isinstance(value, SecretStr) or redact_url(plain) != plain
    if secret and os.environ.get(variable) == plain:
        return dg.EnvVar(variable)
    return plain


ALERT_VARIABLE = "HOUSING_ALERT_WEBHOOK_URL"
POLICIES = {  # section of the policies file -> its resource
    "retrain": ("retrain_policy", RetrainPolicy),
    "gate": ("promotion_policy", PromotionPolicy),
    "drift": ("drift_policy", DriftPolicy),
    "revisions": ("revision_policy", RevisionPolicy),
    "sensors": ("sensor_intervals", SensorIntervals),
    "forecast": ("forecast_policy", ForecastPolicy),
}


def policies(path: Path | None) -> dict:
    """The threshold resources, from the environment's policies file (HOUSING_POLICIES) where it
    sets a value, else their defaults. An unknown section or key is an error naming it: a typo
    must not silently leave a default in force."""
    import yaml

    given = yaml.safe_load(path.read_text()) if path else {}
    given = given or {}
    if not isinstance(given, dict) or set(given) - set(POLICIES):
        raise ValueError(
            f"{path}: sections must be {sorted(POLICIES)}, got {sorted(given) if isinstance(given, dict) else type(given).__name__}"
        )
    out = {}
    for section, (name, resource) in POLICIES.items():
        values = given.get(section) or {}
        unknown = sorted(set(values) - set(resource.model_fields))
        if unknown:
            raise ValueError(
                f"{path}: unknown {section} setting(s) {unknown}; known: {sorted(resource.model_fields)}"
            )
        out[name] = resource(**values)
    return out


def resources_for(settings: Settings) -> dict:
    """The same resource classes in every environment; only their locations differ (local
    directories and SQLite under HOUSING_HOME, or S3, an MLflow server and a database in prod)."""
    return {
        "source": source_from_setting(settings.source, seed=settings.seed, scale=settings.scale),
        "io_manager": ParquetIOManager(base_dir=settings.data_location),
        "mlflow_tracking": MlflowTracking(
            tracking_uri=_from_env(settings.mlflow_tracking_uri, "MLFLOW_TRACKING_URI"),
            artifact_location=settings.mlflow_artifact_location,
        ),
        "optuna_storage": OptunaStorage(
            storage_url=_from_env(settings.optuna_storage_url, "HOUSING_OPTUNA_URL")
        ),
        "serving_store": ServingStore(root=settings.serving_location),
        **policies(settings.policies),
        "alerts": AlertNotifier(webhook_url=_from_env(settings.alert_webhook_url, ALERT_VARIABLE)),
        "threads": ThreadBudgetResource(
            concurrent_runs=settings.concurrent_runs,
            override=settings.threads,
            slots_dir=str(settings.fit_slots_dir) if settings.fit_slots_dir else None,
        ),
    }


def build_definitions(settings: Settings, resources: dict | None = None) -> dg.Definitions:
    """`resources` replaces entries of the environment's set (tests: a smaller tuning budget)."""
    resources = {**resources_for(settings), **(resources or {})}
    intervals = resources["sensor_intervals"]
    return dg.Definitions(
        assets=[
            ingestion.raw_monthly,
            ingestion.cleaned_monthly,
            training.splits,
            training.feature_state,
            training_model.tuned_model,
            training_model.holdout_predictions,
            training_model.holdout_metrics,
            training_serving.serving_bundle,
            forecasting.forecaster,
            forecasting.forecast_backtest,
            forecasting.published_forecast,
            monitoring.drift_report,
            monitoring.batch_predictions,
            monitoring.served_history,
            monitoring_forecasts.zip_forecasts,
            monitoring_forecasts.forecast_scorecard,
        ],
        asset_checks=[
            ingestion_checks.raw_contract,
            ingestion_checks.raw_revisions,
            ingestion_checks.raw_columns_reported,
            ingestion_checks.raw_plausible_values,
            ingestion_checks.cleaned_expectations,
            training_checks.splits_are_temporal,
            training_checks.encoders_fit_on_train_only,
            training_checks.holdout_served_from_the_past,
            training_checks.promotion_gate,
            forecasting_checks.forecast_beats_persistence,
            monitoring_checks.drift_within_thresholds,
            monitoring_checks.live_forecast_error,
        ],
        jobs=[
            jobs.ingest_job,
            jobs.check_and_clean_job,
            jobs.train_job,
            jobs.forecast_job,
            jobs.ingest_and_monitor_job,
            jobs.drift_report_job,
        ],
        sensors=[
            *monitoring_sensors.sensors(intervals),
            monitoring_alerts.alert_sensor(intervals.alert_seconds),
        ],
        resources=resources,
        # Dagster's console stays available by name; a run naming neither gets Dagster's default.
        loggers={"console": dg.colored_console_logger, loggers.LOGGER: loggers.housing_console},
    )


defs = build_definitions(Settings.from_env())
