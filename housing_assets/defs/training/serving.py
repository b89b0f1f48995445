"""Publishing: the serving bundle of a vintage that passed the promotion gate."""

import json
import subprocess
from importlib.metadata import version as package_version

import dagster as dg
import pandas as pd

from housing_assets.defs.training.assets import GROUP, one
from housing_assets.defs.training.model import predictor_of
from housing_assets.defs.training.partitions import vintages
from housing_assets.lib import anchors as A
from housing_assets.lib import bundle, drift
from housing_assets.lib import contract as c
from housing_assets.lib import features as F
from housing_assets.lib import splits as S
from housing_assets.resources.mlflow_tracking import MlflowTracking
from housing_assets.resources.serving_store import ServingStore


def code_version() -> str:
    """Package version plus the git commit when running from a checkout."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = "no-git"
    return f"housing-platform {package_version('housing-platform')} ({sha})"


def schema_document() -> dict:
    return {
        "columns": c.COLUMNS,
        "dtypes": c.DTYPES,
        "target": c.TARGET,
        "keys": c.KEYS,
        "ranges": {k: [r.low, r.high, r.rule] for k, r in c.RANGES.items()},
        "metros": c.METROS,
    }


PREDICTION_COLUMNS = [
    "prediction",
    "anchor_month",
    "horizon",
    "lower_80",
    "upper_80",
    "lower_95",
    "upper_95",
    "unseen_zip",
    "unseen_metro",
]


def explorer_files(rows: pd.DataFrame, predictions: pd.DataFrame) -> dict[str, bytes]:
    """What the dashboard explores, shipped inside the bundle so the API needs nothing else:
    every split's actual prices (small: five columns) and the holdout rows exactly as a client
    would send them, beside the model's predictions for them."""
    history = rows[[c.ZIPCODE, c.DATE, c.CITY, c.TARGET, S.SPLIT]].reset_index(drop=True)
    holdout = rows[rows[S.SPLIT] == S.HOLDOUT][c.COLUMNS].reset_index(drop=True)
    # Both come from the same splits in the same order; check rather than join silently.
    if not holdout[c.KEYS].equals(predictions[c.KEYS].reset_index(drop=True)):
        raise ValueError("holdout predictions are not row-aligned with the holdout split")
    holdout = pd.concat([holdout, predictions[PREDICTION_COLUMNS]], axis=1)
    return {
        "history.parquet": history.to_parquet(index=False),
        "holdout.parquet": holdout.to_parquet(index=False),
    }


def drift_reference(rows: pd.DataFrame, predictor) -> pd.DataFrame:
    """The market the champion learned last: a seeded sample of the year before its holdout,
    with the champion's own predictions (prediction drift is measured against these)."""
    holdout_start = rows.loc[rows[S.SPLIT] == S.HOLDOUT, c.DATE].min()
    start = holdout_start - pd.DateOffset(months=drift.REFERENCE_MONTHS)
    recent = rows[(rows[c.DATE] >= start) & (rows[c.DATE] < holdout_start)]
    if recent.empty:
        raise ValueError(
            f"no rows in the {drift.REFERENCE_MONTHS} months before {holdout_start:%Y-%m}"
        )
    sample = recent.sample(min(len(recent), drift.REFERENCE_ROWS), random_state=0)
    sample = sample[c.COLUMNS].sort_values(c.KEYS).reset_index(drop=True)
    sample["prediction"] = predictor.predict(sample)["prediction"].to_numpy()
    return sample


@dg.asset(partitions_def=vintages, group_name=GROUP, kinds={"json"})
def serving_bundle(
    context: dg.AssetExecutionContext,
    splits: dict,
    feature_state: dict,
    tuned_model: dict,
    holdout_predictions: dict,
    holdout_metrics: dict,
    serving_store: ServingStore,
    mlflow_tracking: MlflowTracking,
) -> dict:
    """The published bundle (model, encoders, zip history through the latest month, schema, intervals, metrics, provenance); MLflow alias `champion` moves to it."""
    vintage, model, rows = context.partition_key, one(tuned_model, context), one(splits, context)
    state = F.FeatureState.from_dict(one(feature_state, context))
    # Serving reads every price known today (holdout months included): the model was judged on
    # the pre-holdout history, it serves from the freshest.
    history = A.keep_recent(A.inputs(rows, state.stats))
    history_until = A.month_key(int(history[A.MONTH].max()))
    registered = model["mlflow"]["version"]
    version = f"{vintage}-v{registered}"
    provenance = {
        "version": version,
        "model_version": version,
        "vintage": vintage,
        "history_until": history_until,
        "windows": {
            s: {
                "first": g[c.DATE].min().strftime("%Y-%m"),
                "last": g[c.DATE].max().strftime("%Y-%m"),
                "rows": len(g),
            }
            for s, g in rows.groupby("split")
        },
        "mlflow": model["mlflow"],
        "data_fingerprint": S.fingerprint(rows),
        "code_version": code_version(),
        "dagster_run_id": context.run_id,
        # Why this vintage was trained: a sensor's trigger and reason, or a person (housing run).
        "trigger": context.run.tags.get("housing/trigger", "manual"),
        "trigger_reason": context.run.tags.get("housing/reason", "started by hand"),
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
    }
    files = {
        "model.json": model["model_json"].encode(),
        "feature_state.json": json.dumps(
            one(feature_state, context), indent=1, sort_keys=True
        ).encode(),
        "schema.json": json.dumps(schema_document(), indent=1).encode(),
        "conformal.json": json.dumps({**model["conformal"], "scale": "log"}, indent=1).encode(),
        bundle.ANCHORS: history.to_parquet(index=False),
        "metrics.json": json.dumps(one(holdout_metrics, context), indent=1, default=str).encode(),
        "provenance.json": json.dumps(provenance, indent=1).encode(),
        **explorer_files(rows, one(holdout_predictions, context)),
        "reference.parquet": drift_reference(
            rows,
            predictor_of(model, one(feature_state, context), rows[rows[S.SPLIT] != S.HOLDOUT]),
        ).to_parquet(index=False),
    }
    store = serving_store.store()
    previous = bundle.current_version(store)
    manifest = bundle.publish(store, version, files)
    mlflow_tracking.set_champion(registered)
    context.log.info(
        f"published {version} to {store.describe()} (was {previous}); MLflow champion -> v{registered}"
    )
    context.add_output_metadata(
        {
            "version": version,
            "previous_version": str(previous),
            "history_until": history_until,
            "zips_with_history": int(history[A.ZIP].nunique()),
            "store": store.describe(),
            "registered_version": registered,
            "data_fingerprint": provenance["data_fingerprint"],
            "code_version": provenance["code_version"],
        }
    )
    return {vintage: {"manifest": manifest, "provenance": provenance}}
