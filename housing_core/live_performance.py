"""The served price model held to account as months land: month M's prices against what the
model answered for M (anchored, as served, on each zip's last price before M) and against
persistence (that last price carried forward) on the same rows, by months since the anchor,
with band coverage. This is the monitoring signal: drift reports explain it.

One record per (model version, month), in the serving store:

    reports/live/v<model version>/<month>.json

keyed by the MLflow model version as drift reports are, so a history refresh (same model, new
bundle) keeps its record and a new champion starts its own.

A policy may stop a losing model from answering: after it lost `losing_months` landed months
in a row, `reports/live/fallback.json` names it active and the API serves persistence in its
place, flagged in every answer, until it wins a month again or another model goes live.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from housing_core import contract as c
from housing_core import drift_reports, horizons, metrics
from housing_core.storage import Store

ROOT = "reports/live"
MIN_ROWS = 20  # fewer anchored rows judge nothing: one zip's price swings the month's MAPE


def key(model_version: str, month: str) -> str:
    if not drift_reports.MONTH.fullmatch(month):
        raise ValueError(f"invalid month {month!r}: expected YYYY-MM")
    return f"{ROOT}/v{drift_reports.check_model_version(model_version)}/{month}.json"


def record(scored: pd.DataFrame, month: str, model_version: str, bundle_version: str) -> dict:
    """Month `month`'s live record from its rows scored by the served model (the predictor's
    output beside the actual `price`): model and persistence MAPE on the rows with a price and
    an anchor, by horizon bucket, with 80/95% band coverage. `losing` is True when the model's
    MAPE is not below persistence's on at least MIN_ROWS rows, None when too few rows judge."""
    priced = scored[np.isfinite(scored[c.TARGET]) & (scored[c.TARGET] > 0)]
    anchored = priced[np.isfinite(priced["anchor_price"])]
    out: dict = {
        "month": month,
        "model_version": model_version,
        "bundle": bundle_version,
        "rows": len(scored),
        "priced_rows": len(priced),
        "anchored_rows": len(anchored),
        **_scores(anchored),
        "by_horizon": {},
    }
    buckets = horizons.bucket(anchored["horizon"].to_numpy())
    for label in horizons.LABELS:
        part = anchored[buckets == label]
        if len(part):
            out["by_horizon"][label] = {"rows": len(part), **_scores(part)}
    judged = out["anchored_rows"] >= MIN_ROWS
    out["losing"] = bool(out["mape"] >= out["persistence_mape"]) if judged else None
    return out


def _scores(rows: pd.DataFrame) -> dict:
    if rows.empty:
        return {"mape": None, "persistence_mape": None, "coverage_80": None, "coverage_95": None}
    actual = rows[c.TARGET].to_numpy()
    return {
        "mape": round(metrics.regression(actual, rows["prediction"].to_numpy())["mape"], 4),
        "persistence_mape": round(
            metrics.regression(actual, rows["anchor_price"].to_numpy())["mape"], 4
        ),
        "coverage_80": round(
            metrics.coverage(actual, rows["lower_80"].to_numpy(), rows["upper_80"].to_numpy()), 4
        ),
        "coverage_95": round(
            metrics.coverage(actual, rows["lower_95"].to_numpy(), rows["upper_95"].to_numpy()), 4
        ),
    }


def write(store: Store, rec: dict) -> str:
    k = key(rec["model_version"], rec["month"])
    store.write(k, json.dumps(rec, indent=1).encode())
    return k


def read(store: Store, model_version: str) -> tuple[list[dict], dict[str, str]]:
    """Every month's record of this model in month order, and the keys of records that cannot
    be read with why (listed by readers, never dropped silently)."""
    prefix = f"{ROOT}/v{drift_reports.check_model_version(model_version)}"
    found, broken = [], {}
    for k in sorted(store.list(prefix)):
        if not k.endswith(".json"):
            continue
        try:
            found.append(json.loads(store.read(k)))
        except ValueError as exc:
            broken[k] = f"{type(exc).__name__}: {exc}"[:300]
    return found, broken


FALLBACK = f"{ROOT}/fallback.json"
BASELINE = "persistence"  # what serves in a losing model's place: each zip's last known price


def fallback(records: Sequence[dict], model_version: str, losing_months: int) -> dict:
    """The fallback a model's live record calls for: `active` while its current losing streak
    is at least `losing_months` long."""
    streak = losing_streak(records)
    return {
        "model_version": str(model_version),
        "baseline": BASELINE,
        "active": len(streak) >= losing_months,
        "months": streak,
        "through": records[-1]["month"] if records else None,
    }


def write_fallback(store: Store, state: dict) -> None:
    store.write(FALLBACK, json.dumps(state, indent=1).encode())


def read_fallback(store: Store) -> dict | None:
    """The latest fallback record (None: no policy ever wrote one)."""
    if not store.exists(FALLBACK):
        return None
    state = json.loads(store.read(FALLBACK))
    if not isinstance(state, dict) or not {"model_version", "active", "months"} <= state.keys():
        raise ValueError(f"{FALLBACK} is not a fallback record: {str(state)[:200]}")
    return state


def serves_baseline(state: dict | None, model_version: str) -> bool:
    """Whether persistence answers in this model's place (a record about another model, say
    the one this champion replaced, does not apply)."""
    return bool(state and state["active"] and state["model_version"] == str(model_version))


def losing_streak(records: Sequence[dict]) -> list[str]:
    """The latest months, most recent last, in which the model lost to persistence without a
    month in between that it won (months too thin to judge neither break nor extend it)."""
    streak: list[str] = []
    for r in records:
        if r.get("losing") is True:
            streak.append(r["month"])
        elif r.get("losing") is False:
            streak = []
    return streak
