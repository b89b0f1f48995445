"""What a published bundle holds, assembled from a vintage's lineage: the model, its encoders and
zip history, the contract, intervals, metrics, provenance, and what the dashboard and drift reports
read. Dagster-free: the `serving_bundle` asset and the tests' in-process model both build here.
"""

from __future__ import annotations

import io
import json
import subprocess
from dataclasses import asdict, dataclass
from importlib.metadata import version as package_version

import pandas as pd

from housing_core import anchors as A
from housing_core import bundle, drift, explorer
from housing_core import contract as c
from housing_core import features as F
from housing_core import splits as S
from housing_core.predictor import Predictor


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
    every split's actual prices (five columns, seven with a source's coordinates) and the holdout
    rows exactly as a client would send them, beside the model's predictions for them; written by
    zip code (`explorer.files`) so the API reads them a zip at a time."""
    # A source's own longitude/latitude (the HouseTS per-metro panels) ride along for the map.
    located = [col for col in ("longitude", "latitude") if col in rows]
    history = rows[[c.ZIPCODE, c.DATE, c.CITY, c.TARGET, S.SPLIT, *located]].reset_index(drop=True)
    holdout = rows[rows[S.SPLIT] == S.HOLDOUT][c.COLUMNS].reset_index(drop=True)
    # Both come from the same splits in the same order; check rather than join silently.
    if not holdout[c.KEYS].equals(predictions[c.KEYS].reset_index(drop=True)):
        raise ValueError("holdout predictions are not row-aligned with the holdout split")
    holdout = pd.concat([holdout, predictions[PREDICTION_COLUMNS]], axis=1)
    return explorer.files(history, holdout)


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


def served_history(rows: pd.DataFrame, state: F.FeatureState) -> pd.DataFrame:
    """Serving reads every price known today (holdout months included): the model was judged on
    the pre-holdout history, it serves from the freshest."""
    return A.keep_recent(A.inputs(rows, state.stats))


ESTIMATE = (
    "holdout metrics are the estimate from the holdout of the model before its final refit: "
    "the same parameters refit on every month through trained_through, holdout included"
)


def windows(rows: pd.DataFrame) -> dict:
    return {
        s: {
            "first": g[c.DATE].min().strftime("%Y-%m"),
            "last": g[c.DATE].max().strftime("%Y-%m"),
            "rows": len(g),
        }
        for s, g in rows.groupby(S.SPLIT)
    }


def provenance(
    version: str,
    vintage: str,
    rows: pd.DataFrame,
    history: pd.DataFrame,
    mlflow: dict,
    *,
    run_id: str,
    trigger: str = "manual",
    trigger_reason: str = "started by hand",
    trained_at: str | None = None,
    code: str | None = None,
    final_refit: dict | None = None,
) -> dict:
    """Where a bundle came from: its data windows and fingerprint, the MLflow run, the code, the
    Dagster run, and why it was trained (a sensor's trigger and reason, or a person). With
    `final_refit` (`training.FinalRefit.describe()`), the served booster is the evaluated one's
    parameters refit on every month through `trained_through`; `metrics.json` stays the evaluated
    model's holdout, the published estimate."""
    refit = {}
    if final_refit is not None:
        refit = {
            "trained_through": final_refit["last_month"],
            "published_model": {
                **final_refit,
                "estimate": ESTIMATE,
            },
        }
    return {
        "version": version,
        "model_version": version,
        "vintage": vintage,
        "history_until": A.month_key(int(history[A.MONTH].max())),
        "windows": windows(rows),
        "missing_months": S.missing_months(rows),  # gaps the model trained and was judged across
        "mlflow": mlflow,
        "data_fingerprint": S.fingerprint(rows),
        "code_version": code or code_version(),
        "dagster_run_id": run_id,
        "trigger": trigger,
        "trigger_reason": trigger_reason,
        "trained_at": trained_at or pd.Timestamp.now(tz="UTC").isoformat(),
        **refit,
    }


def predictor_files(
    state: F.FeatureState, model_json: bytes, conformal: dict, history: pd.DataFrame
) -> dict[str, bytes]:
    """The files `Predictor.from_bundle` reads (a bundle's and the MLflow pyfunc's): one writer,
    so the registered model and the published bundle answer the same."""
    return {
        bundle.MODEL: model_json,
        bundle.FEATURE_STATE: state.to_json().encode(),
        bundle.CONFORMAL: json.dumps({**conformal, "scale": "log"}, indent=1).encode(),
        bundle.ANCHORS: history.to_parquet(index=False),
    }


def bundle_files(
    rows: pd.DataFrame,
    state: F.FeatureState,
    model_json: bytes,
    conformal: dict,
    holdout_predictions: pd.DataFrame,
    metrics: dict,
    provenance: dict,
    history: pd.DataFrame | None = None,
    evaluated_model_json: bytes | None = None,
) -> dict[str, bytes]:
    """Every file of a bundle (the store adds the manifest when it publishes them). With
    `evaluated_model_json`, `model_json` is its final refit and both are shipped."""
    history = served_history(rows, state) if history is None else history
    judged = Predictor.from_model_json(
        model_json, state, conformal, F.anchor_table(rows[rows[S.SPLIT] != S.HOLDOUT], state)
    )
    evaluated = (
        {} if evaluated_model_json is None else {bundle.EVALUATED_MODEL: evaluated_model_json}
    )
    served = predictor_files(state, model_json, conformal, history)
    return {
        **served,
        **evaluated,
        bundle.SMOKE: smoke_rows(rows, Predictor.from_bundle(bundle.Bundle("unpublished", served))),
        bundle.SCHEMA: json.dumps(schema_document(), indent=1).encode(),
        bundle.METRICS: json.dumps(metrics, indent=1, default=str).encode(),
        bundle.PROVENANCE: json.dumps(provenance, indent=1).encode(),
        **explorer_files(rows, holdout_predictions),
        bundle.REFERENCE: drift_reference(rows, judged).to_parquet(index=False),
        **drift_calibration(rows, state),
    }


def drift_calibration(rows: pd.DataFrame, state: F.FeatureState) -> dict[str, bytes]:
    """Each drift feature's thresholds learned from the months before the holdout (nothing when
    they are too few to replay: reports then judge by the policy's)."""
    before = rows[rows[S.SPLIT] != S.HOLDOUT]
    calibration = drift.calibrate(before, F.base_columns(state.dropped))
    if calibration is None:
        return {}
    return {bundle.DRIFT_CALIBRATION: json.dumps(calibration, indent=1).encode()}


SMOKE_ROWS = 8


def smoke_rows(rows: pd.DataFrame, served: Predictor) -> bytes:
    """The first rows of the newest month in the contract's columns, with what the served
    predictor answers for each (`expected_<output>`): `PublishedModel.smoke` scores them again
    before the bundle may serve."""
    newest = rows[rows[c.DATE] == rows[c.DATE].max()].head(SMOKE_ROWS)
    frame = newest[[col for col in c.COLUMNS if col in newest]].reset_index(drop=True)
    answer = served.predict(frame)
    for output in bundle.SMOKE_OUTPUTS:
        frame[f"expected_{output}"] = answer[output].to_numpy()
    return frame.to_parquet(index=False)


def with_anchors(files: dict[str, bytes], anchors: bytes) -> dict[str, bytes]:
    """The bundle's files serving another zip history (`anchors`, Parquet): the history replaced
    and the example rows' answers recorded again with it, as a publisher records them (the
    anchor a row is priced from is the history's)."""
    out = {**files, bundle.ANCHORS: anchors}
    if bundle.SMOKE in files:
        frame = pd.read_parquet(io.BytesIO(files[bundle.SMOKE]))
        rows = frame.drop(columns=[f"expected_{o}" for o in bundle.SMOKE_OUTPUTS])
        out[bundle.SMOKE] = smoke_rows(rows, Predictor.from_bundle(bundle.Bundle("refreshed", out)))
    return out


@dataclass(frozen=True)
class Publication:
    """What the `serving_bundle` asset stores: the bundle version made current, the one it
    replaced, its manifest (file checksums) and provenance."""

    version: str
    previous: str | None
    manifest: dict
    provenance: dict

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Publication:
        data = json.loads(text)
        return cls(
            version=data.get("version", data["manifest"]["version"]),
            previous=data.get("previous"),
            manifest=data["manifest"],
            provenance=data["provenance"],
        )
