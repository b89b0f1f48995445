"""The tuned model of a vintage and its holdout evaluation."""

import json
import time

import dagster as dg
import mlflow
import numpy as np
import pandas as pd
from pydantic import Field

from housing_assets.defs.metadata import rounded
from housing_assets.defs.owners import ML
from housing_assets.defs.training.assets import GROUP
from housing_assets.defs.training.partitions import vintages
from housing_assets.resources.dask_cluster import DaskCluster
from housing_assets.resources.mlflow_tracking import (
    MlflowTracking,
    OptunaStorage,
    log_png,
)
from housing_assets.resources.threads import ThreadBudgetResource
from housing_core import (
    dask_training,
    evaluation,
    plots,
    publishing,
    shared_tuning,
    training,
    tuning,
)
from housing_core import features as F
from housing_core import splits as S
from housing_core.predictor import Predictor

_TUNING = tuning.TuningSettings()  # the one source of each default


class TuningConfig(dg.Config):
    n_trials: int = Field(
        default=_TUNING.n_trials, ge=1, description="Trials the study should hold in total."
    )
    timeout_s: float | None = Field(
        default=_TUNING.timeout_s, description="Time budget for new trials (s)."
    )
    sample_fraction: float = Field(
        default=_TUNING.sample_fraction, gt=0, le=1, description="Share of train rows for tuning."
    )
    max_tuning_examples: int | None = Field(
        default=_TUNING.max_tuning_examples,
        ge=1,
        description="At most this many train examples tune (None: the sample fraction alone).",
    )
    seed: int = Field(default=_TUNING.seed, description="TPE sampler and XGBoost seed.")
    early_stopping_rounds: int = Field(default=_TUNING.early_stopping_rounds, ge=5)
    max_rounds: int = Field(
        default=_TUNING.max_rounds, ge=1, description="Upper bound on boosting rounds per trial."
    )

    def settings(self) -> tuning.TuningSettings:
        return tuning.TuningSettings(**self.model_dump())


def _study_name(config: TuningConfig, vintage: str, rows) -> str:
    # One study per vintage, data and tuning setup: re-running an interrupted run resumes it,
    # while new data (or another seed/sample) starts a fresh study.
    cap = config.max_tuning_examples
    return (
        f"vintage-{vintage}-data{S.fingerprint(rows)}-seed{config.seed}"
        f"-sample{config.sample_fraction}" + (f"-cap{cap}" if cap else "")
    )


@dg.asset(
    partitions_def=vintages,
    group_name=GROUP,
    kinds={"xgboost", "optuna", "mlflow"},
    owners=ML,
    code_version="1",
)
def tuned_model(
    context: dg.AssetExecutionContext,
    config: TuningConfig,
    splits: pd.DataFrame,
    feature_state: F.FeatureState,
    mlflow_tracking: MlflowTracking,
    optuna_storage: OptunaStorage,
    threads: ThreadBudgetResource,
    dask: DaskCluster,
) -> training.ModelArtifact:
    """XGBoost tuned by Optuna on train/eval, refit on train+eval (on the Dask cluster when HOUSING_DASK is set; the tuning as well when its study is in Postgres or SQLite), registered in MLflow as a pyfunc that prices HouseTS rows (model JSON inside)."""
    vintage, rows, state = context.partition_key, splits, feature_state
    settings = config.settings()
    # The study's storage is opened, a local file's directory made, by tuning.open_storage.
    storage, study = optuna_storage.storage_url, _study_name(config, vintage, rows)
    tags = {
        "vintage": vintage,
        "dagster_partition": vintage,
        "dagster_run_id": context.run_id,
        "data_fingerprint": S.fingerprint(rows),
    }
    started = time.perf_counter()
    windows = publishing.windows(rows)
    described = "; ".join(f"{k} {w['first']}..{w['last']}" for k, w in sorted(windows.items()))
    with mlflow_tracking.parent_run(
        context,
        tags,
        name=f"vintage {vintage}",
        description=(
            f"Vintage {vintage} ({described}): the price model tuned and registered here, the "
            f"forecaster when the job trains one; Dagster run {context.run_id[:8]} of job "
            f"{context.run.job_name}."
        ),
    ) as parent_id:
        mlflow.log_params({"vintage": vintage, "target": state.target, **settings.__dict__})
        with threads.fitting() as budget, dask.client() as client:
            refit = dask_training.DaskRefit(client, context.log.info) if client else None
            # Tuning on the cluster needs a study every worker reaches: not a local journal.
            tuner = (
                dask_training.DaskTuning(client, say=context.log.info)
                if client and shared_tuning.shareable(storage)
                else None
            )
            model = training.train(
                rows,
                state,
                settings,
                storage=storage,
                study_name=study,
                on_trial=mlflow_tracking.trial_logger(tags, context.log.info),
                say=context.log.info,
                threads=budget,
                refit=refit,
                tuner=tuner,
            )
        importance_png = plots.importance(model.importance)
        history = publishing.served_history(rows, state)
        version = mlflow_tracking.register_price_model(
            model, rows, state, history, importance_png, tags
        )
    context.add_output_metadata(
        {
            "mlflow_run_id": parent_id,
            "registered_version": version,
            "data_fingerprint": tags["data_fingerprint"],
            **_tuning_metadata(model),
            **dask_training.metadata(refit),
            **dask_training.tuning_metadata(tuner),
            "seconds": round(time.perf_counter() - started, 1),
            "feature_importance": dg.MetadataValue.md(
                plots.inline(importance_png, "feature importance")
            ),
        }
    )
    return training.ModelArtifact.of(
        model, training.MlflowRef(parent_id, mlflow_tracking.registered_model, version)
    )


def _tuning_metadata(model: training.TrainedModel) -> dict:
    eval_metrics = {f"eval_{k}": v for k, v in model.eval_metrics.items()}
    return {
        "trials_new": len(model.tuning.trials),
        "trials_resumed": model.tuning.resumed_trials,
        "trials_orphaned": model.tuning.orphaned_trials,
        "trials_pruned": sum(t.state == "PRUNED" for t in model.tuning.trials),
        "refit_rounds": model.rounds,
        "threads": model.tuning.nthread,
        "best_params": dg.MetadataValue.json(model.tuning.best_params),
        **rounded({"best_eval_log_mae": model.tuning.best_value, **eval_metrics}),
    }


def predictor_of(
    model: training.ModelArtifact, state: F.FeatureState, history: pd.DataFrame
) -> Predictor:
    """The trained model reading the zip history of `history` (cleaned rows)."""
    return Predictor.from_model_json(
        model.model_json, state, model.conformal, F.anchor_table(history, state)
    )


@dg.asset(
    partitions_def=vintages,
    group_name=GROUP,
    kinds={"pandas", "parquet"},
    owners=ML,
    code_version="1",
)
def holdout_predictions(
    context: dg.AssetExecutionContext,
    splits: pd.DataFrame,
    feature_state: F.FeatureState,
    tuned_model: training.ModelArtifact,
    threads: ThreadBudgetResource,
) -> pd.DataFrame:
    """Every holdout row served from the history before the holdout: prediction, 80/95% intervals, anchor month and horizon, flags, and the baselines (persistence, list price, the reference way)."""
    # `evaluation.predictions` anchors the model on the history before the holdout itself: the
    # predictor is built with no history rather than an anchor table that would be replaced.
    predictor = predictor_of(tuned_model, feature_state, splits.iloc[:0])
    with threads.fitting() as budget:  # the reference way's baseline is fitted here
        preds = evaluation.predictions(splits, predictor, threads=budget)
    context.add_output_metadata(
        {
            "rows": len(preds),
            "unseen_zip_rows": int(preds["unseen_zip"].sum()),
            "rows_by_horizon": dg.MetadataValue.json(
                preds[evaluation.BUCKET].value_counts().to_dict()
            ),
            "last_anchor_month": str(preds["anchor_month"].dropna().max()),
        }
    )
    return preds


@dg.asset(partitions_def=vintages, group_name=GROUP, kinds={"json"}, owners=ML, code_version="1")
def holdout_metrics(
    context: dg.AssetExecutionContext,
    holdout_predictions: pd.DataFrame,
    tuned_model: training.ModelArtifact,
    mlflow_tracking: MlflowTracking,
) -> dict:
    """MAE/RMSE/MAPE/median APE/R² overall, per horizon bucket, per metro and per month, next to the baselines; interval coverage."""
    preds = holdout_predictions
    rep = evaluation.report(preds)
    residual_png = plots.residuals(preds["price"], preds["prediction"], "holdout: error vs actual")
    metro_png = plots.metro_mape(rep["per_metro"])
    horizon_png = plots.horizon_mape(rep["by_horizon"])
    with mlflow_tracking.resume_run(tuned_model.mlflow.run_id):
        flat = {f"holdout_{k}": v for k, v in rep["model"].items() if np.isfinite(v)}
        flat.update({f"holdout_coverage_{k}": v for k, v in rep["coverage"].items()})
        flat.update(
            {
                f"holdout_baseline_{name}_mape": b["baseline"]["mape"]
                for name, b in rep["baselines"].items()
                if b["rows"]
            }
        )
        flat.update(evaluation.horizon_metrics(rep))
        mlflow.log_metrics(flat)
        log_png(residual_png, "holdout_residuals.png")
        log_png(metro_png, "holdout_mape_by_metro.png")
        log_png(horizon_png, "holdout_mape_by_horizon.png")
        mlflow.log_text(json.dumps(rep, indent=1, default=str), "holdout_metrics.json")
    context.add_output_metadata(
        {
            **rounded(evaluation.summary_metrics(rep)),
            "summary": dg.MetadataValue.md(evaluation.markdown(rep)),
            "by_horizon": dg.MetadataValue.md(
                evaluation.horizon_table(rep)
                + "\n\n"
                + plots.inline(horizon_png, "MAPE by horizon")
            ),
            "by_metro": dg.MetadataValue.md(
                evaluation.metro_table(rep) + "\n\n" + plots.inline(metro_png, "MAPE by metro")
            ),
            "residuals": dg.MetadataValue.md(plots.inline(residual_png, "residuals")),
        }
    )
    return rep
