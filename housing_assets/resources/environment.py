"""The resources of an environment: the same classes everywhere, only their locations and
thresholds differ (local directories and SQLite under HOUSING_HOME, or S3, an MLflow server and a
database in prod; the policies file)."""

from __future__ import annotations

import os
from typing import overload

import dagster as dg
from pydantic import SecretStr

from housing_assets.resources.alerts import AlertNotifier
from housing_assets.resources.dask_cluster import DaskCluster
from housing_assets.resources.io_manager import ParquetIOManager
from housing_assets.resources.mlflow_tracking import MlflowTracking, OptunaStorage
from housing_assets.resources.policies import policies
from housing_assets.resources.serving_store import ServingStore
from housing_assets.resources.source import source_from_setting
from housing_assets.resources.threads import ThreadBudgetResource
from housing_core.settings import Settings, redact_url

ALERT_VARIABLE = "HOUSING_ALERT_WEBHOOK_URL"


@overload
def from_env(value: str, variable: str) -> str: ...
@overload
def from_env(value: SecretStr | None, variable: str) -> str | None: ...
def from_env(value: str | SecretStr | None, variable: str) -> str | None:
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


def resources_for(settings: Settings) -> dict:
    """The same resource classes in every environment; only their locations differ (local
    directories and SQLite under HOUSING_HOME, or S3, an MLflow server and a database in prod)."""
    return {
        "source": source_from_setting(settings.source, seed=settings.seed, scale=settings.scale),
        "io_manager": ParquetIOManager(base_dir=settings.data_location),
        "mlflow_tracking": MlflowTracking(
            tracking_uri=from_env(settings.mlflow_tracking_uri, "MLFLOW_TRACKING_URI"),
            artifact_location=settings.mlflow_artifact_location,
        ),
        "optuna_storage": OptunaStorage(
            storage_url=from_env(settings.optuna_storage_url, "HOUSING_OPTUNA_URL")
        ),
        "serving_store": ServingStore(root=settings.serving_location),
        **policies(settings.policies),
        "alerts": AlertNotifier(webhook_url=from_env(settings.alert_webhook_url, ALERT_VARIABLE)),
        "threads": ThreadBudgetResource(
            concurrent_runs=settings.concurrent_runs,
            override=settings.threads,
            slots_dir=str(settings.fit_slots_dir) if settings.fit_slots_dir else None,
        ),
        "dask": DaskCluster(address=settings.dask, worker_memory=settings.dask_worker_memory),
    }
