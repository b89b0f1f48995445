"""Publishing: the serving bundle of a vintage that passed the promotion gate."""

from dataclasses import asdict

import dagster as dg
import mlflow
import pandas as pd

from housing_assets.defs.owners import ML
from housing_assets.defs.training.assets import GROUP
from housing_assets.defs.training.partitions import vintages
from housing_assets.resources.dask_cluster import DaskCluster
from housing_assets.resources.mlflow_tracking import MlflowTracking
from housing_assets.resources.serving_store import ServingStore
from housing_assets.resources.threads import ThreadBudgetResource
from housing_core import anchors as A
from housing_core import bundle, dask_training, publishing, training
from housing_core import features as F

REFIT_ARTIFACT = "published_model/model.json"


def final_refit(
    context: dg.AssetExecutionContext,
    rows: pd.DataFrame,
    state: F.FeatureState,
    model: training.ModelArtifact,
    mlflow_tracking: MlflowTracking,
    threads: ThreadBudgetResource,
    dask: DaskCluster,
) -> tuple[training.FinalRefit, dict]:
    """The evaluated parameters refit on every month (runs only once the gate passed), logged to
    the vintage's MLflow run next to the registered (evaluated) model it was derived from; on
    the Dask cluster when HOUSING_DASK is set (then also what the materialization says of it)."""
    with threads.fitting() as budget, dask.client() as client:
        on = dask_training.DaskRefit(client, context.log.info) if client else None
        refit = training.final_refit(
            rows, state, model.best_params, model.rounds, model.tuning_settings(), budget, on
        )
        cluster = dask_training.metadata(on)
    context.log.info(
        f"final refit through {refit.last_month}: {refit.rows:,} rows, {refit.examples:,} "
        f"examples, {refit.rounds} rounds (evaluated model: {refit.evaluated_rounds})"
    )
    # The registered version stays the evaluated model; the served booster is this artifact.
    with mlflow_tracking.resume_run(model.mlflow.run_id):
        mlflow.log_metrics(
            {
                "final_refit_rounds": refit.rounds,
                "final_refit_rows": refit.rows,
                "final_refit_examples": refit.examples,
            }
        )
        mlflow.set_tags(
            {"final_refit_first_month": refit.first_month, "final_refit_through": refit.last_month}
        )
        mlflow.log_text(bytes(refit.booster.save_raw("json")).decode(), REFIT_ARTIFACT)
    return refit, cluster


@dg.asset(partitions_def=vintages, group_name=GROUP, kinds={"json"}, owners=ML, code_version="2")
def serving_bundle(
    context: dg.AssetExecutionContext,
    splits: pd.DataFrame,
    feature_state: F.FeatureState,
    tuned_model: training.ModelArtifact,
    holdout_predictions: pd.DataFrame,
    holdout_metrics: dict,
    serving_store: ServingStore,
    mlflow_tracking: MlflowTracking,
    threads: ThreadBudgetResource,
    dask: DaskCluster,
) -> publishing.Publication:
    """The published bundle (the tuned model refit on every month through the newest, encoders, zip history, schema, intervals, the holdout metrics of the model before that refit, provenance); MLflow alias `champion` moves to it."""
    vintage, model, rows, state = context.partition_key, tuned_model, splits, feature_state
    history = publishing.served_history(rows, state)
    registered = model.mlflow.version
    version = f"{vintage}-v{registered}"
    refit, cluster = final_refit(context, rows, state, model, mlflow_tracking, threads, dask)
    provenance = publishing.provenance(
        version,
        vintage,
        rows,
        history,
        {
            **asdict(model.mlflow),
            "served_artifact": f"runs:/{model.mlflow.run_id}/{REFIT_ARTIFACT}",
        },
        run_id=context.run_id,
        trigger=context.run.tags.get("housing/trigger", "manual"),
        trigger_reason=context.run.tags.get("housing/reason", "started by hand"),
        final_refit=refit.describe(),
    )
    # Intervals: the evaluated model's eval-calibrated quantiles (docs/architecture.md, "Model lineage").
    files = publishing.bundle_files(
        rows,
        state,
        bytes(refit.booster.save_raw("json")),
        model.conformal,
        holdout_predictions,
        holdout_metrics,
        provenance,
        history,
        evaluated_model_json=model.model_json.encode(),
    )
    store = serving_store.store()
    previous = bundle.current_version(store)
    manifest = bundle.publish(store, version, files)
    if stale := mlflow_tracking.mirror_champion(store):  # an earlier publish crashed before it
        context.log.warning(stale)
    context.log.info(
        f"published {version} to {store.describe()} (was {previous}); MLflow champion -> v{registered}"
    )
    context.add_output_metadata(
        {
            "version": version,
            "previous_version": str(previous),
            "history_until": provenance["history_until"],
            "zips_with_history": int(history[A.ZIP].nunique()),
            "store": store.describe(),
            "registered_version": registered,
            "data_fingerprint": provenance["data_fingerprint"],
            "code_version": provenance["code_version"],
            "trained_through": refit.last_month,
            "final_refit_rows": refit.rows,
            "final_refit_examples": refit.examples,
            "final_refit_rounds": refit.rounds,
            "evaluated_rounds": refit.evaluated_rounds,
            **cluster,
            # The run's own process by the end of its last training step (every step runs in
            # it): what a Fargate task for the run must hold, with or without a cluster.
            "process_peak_rss_mb": round(dask_training.peak_rss_mb()),
        }
    )
    return publishing.Publication(version, previous, manifest, provenance)
