"""The Dagster code location: assets, checks, jobs, sensors and the resources of the environment."""

from __future__ import annotations

import dagster as dg

from housing_assets.defs.ingestion import assets as ingestion
from housing_assets.defs.ingestion import checks as ingestion_checks
from housing_assets.defs.ingestion.partitions import months
from housing_assets.defs.ingestion.sensors import register_source_months
from housing_assets.defs.training import assets as training
from housing_assets.defs.training import checks as training_checks
from housing_assets.defs.training import model as training_model
from housing_assets.defs.training import serving as training_serving
from housing_assets.defs.training.partitions import vintages
from housing_assets.resources.io_manager import ParquetIOManager
from housing_assets.resources.mlflow_tracking import MlflowTracking, OptunaStorage
from housing_assets.resources.serving_store import PromotionPolicy, ServingStore
from housing_assets.resources.source import source_from_setting
from housing_assets.settings import Settings

ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups(ingestion.GROUP),
    partitions_def=months,
    description="Raw monthly HouseTS data -> expectation checks -> cleaned monthly data.",
)

# Used by the runner after a month is quarantined: re-check stored raw months, clean the rest.
check_and_clean_job = dg.define_asset_job(
    "check_and_clean",
    selection=dg.AssetSelection.checks_for_assets(ingestion.raw_monthly)
    | dg.AssetSelection.assets(ingestion.cleaned_monthly),
    partitions_def=months,
    description="Re-check stored raw months and clean those that pass.",
)

train_job = dg.define_asset_job(
    "train",
    selection=dg.AssetSelection.groups(training.GROUP),
    partitions_def=vintages,
    description="One vintage: splits -> encoders -> tuned model -> holdout metrics -> gated serving bundle.",
)


def resources_for(settings: Settings) -> dict:
    """One resource set per environment; the asset code is the same everywhere."""
    if settings.env == "local":
        return {
            "source": source_from_setting(
                settings.source, seed=settings.seed, scale=settings.scale
            ),
            "io_manager": ParquetIOManager(base_dir=str(settings.data_dir)),
            "mlflow_tracking": MlflowTracking(
                tracking_uri=f"sqlite:///{settings.mlflow_dir / 'mlflow.db'}",
                artifact_location=str(settings.mlflow_dir / "artifacts"),
            ),
            "optuna_storage": OptunaStorage(
                storage_url=f"sqlite:///{settings.data_dir / 'optuna' / 'studies.db'}"
            ),
            "serving_store": ServingStore(root=str(settings.serving_dir)),
            "promotion_policy": PromotionPolicy(),
        }
    raise NotImplementedError("the prod resource set (S3, MLflow server) comes with the cloud work")


def build_definitions(settings: Settings) -> dg.Definitions:
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
        ],
        asset_checks=[
            ingestion_checks.raw_contract,
            ingestion_checks.raw_plausible_values,
            ingestion_checks.cleaned_expectations,
            training_checks.splits_are_temporal,
            training_checks.encoders_fit_on_train_only,
            training_checks.promotion_gate,
        ],
        jobs=[ingest_job, check_and_clean_job, train_job],
        sensors=[register_source_months],
        resources=resources_for(settings),
    )


defs = build_definitions(Settings.from_env())
