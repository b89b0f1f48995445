"""Publishing: the serving bundle of a vintage that passed the promotion gate."""

from dataclasses import asdict

import dagster as dg
import pandas as pd

from housing_assets.defs.owners import ML
from housing_assets.defs.training.assets import GROUP
from housing_assets.defs.training.partitions import vintages
from housing_assets.lib import anchors as A
from housing_assets.lib import bundle, publishing, training
from housing_assets.lib import features as F
from housing_assets.resources.mlflow_tracking import MlflowTracking
from housing_assets.resources.serving_store import ServingStore


@dg.asset(partitions_def=vintages, group_name=GROUP, kinds={"json"}, owners=ML, code_version="1")
def serving_bundle(
    context: dg.AssetExecutionContext,
    splits: pd.DataFrame,
    feature_state: F.FeatureState,
    tuned_model: training.ModelArtifact,
    holdout_predictions: pd.DataFrame,
    holdout_metrics: dict,
    serving_store: ServingStore,
    mlflow_tracking: MlflowTracking,
) -> publishing.Publication:
    """The published bundle (model, encoders, zip history through the latest month, schema, intervals, metrics, provenance); MLflow alias `champion` moves to it."""
    vintage, model, rows, state = context.partition_key, tuned_model, splits, feature_state
    history = publishing.served_history(rows, state)
    registered = model.mlflow.version
    version = f"{vintage}-v{registered}"
    provenance = publishing.provenance(
        version,
        vintage,
        rows,
        history,
        asdict(model.mlflow),
        run_id=context.run_id,
        trigger=context.run.tags.get("housing/trigger", "manual"),
        trigger_reason=context.run.tags.get("housing/reason", "started by hand"),
    )
    files = publishing.bundle_files(
        rows,
        state,
        model.model_json.encode(),
        model.conformal,
        holdout_predictions,
        holdout_metrics,
        provenance,
        history,
    )
    store = serving_store.store()
    if repaired := mlflow_tracking.reconcile_champion(store):  # an earlier publish crashed
        context.log.warning(repaired)
    previous = bundle.current_version(store)
    # `current` first: it is the truth; a crash before the alias moves is repaired next time.
    manifest = bundle.publish(store, version, files)
    mlflow_tracking.set_champion(registered)
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
        }
    )
    return publishing.Publication(version, previous, manifest, provenance)
