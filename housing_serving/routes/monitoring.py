"""The retraining timeline and the monthly drift reports, read from the serving store."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import HTMLResponse

from housing_assets.lib import bundle
from housing_serving.deps import RuntimeDep
from housing_serving.errors import ERRORS

router = APIRouter(prefix="/v1", tags=["monitoring"])
MONTH = Annotated[str, Path(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
DRIFT_SUMMARY = (
    "month",
    "status",
    "reasons",
    "share_drifting",
    "prediction_psi",
    "mape",
    "mape_ratio",
    "champion_mape",
    "champion",
    "rows",
)


# What a stored document may be that makes it unreadable: missing, not JSON, not UTF-8, not the
# shape this release writes. Such a file is listed as unreadable; the route still answers.
UNREADABLE = (OSError, ValueError, KeyError, TypeError, AttributeError, bundle.BundleError)


@router.get("/models")
def models(rt: RuntimeDep) -> dict:
    """Every published bundle, oldest first: vintage, when and why it was trained, its holdout
    MAPE, and which one is live (the retraining timeline). A bundle whose provenance or metrics
    cannot be read or do not match its manifest is listed under `unreadable` with the reason."""
    store = rt.holder.store
    live = bundle.current_version(store)
    out, unreadable = [], []
    for version in bundle.versions(store):
        try:
            docs = bundle.read_verified(store, version, ("provenance.json", "metrics.json"))
            p, m = (json.loads(docs[name]) for name in ("provenance.json", "metrics.json"))
            entry = {
                "version": version,
                "vintage": p.get("vintage"),
                "trained_at": p.get("trained_at"),
                "trigger": p.get("trigger", "manual"),
                "trigger_reason": p.get("trigger_reason", ""),
                "holdout_mape": float(m["model"]["mape"]),
                "data_until": p.get("windows", {}).get("holdout", {}).get("last"),
                "live": version == live,
            }
        except UNREADABLE as exc:
            unreadable.append({"version": version, "error": _why(exc), "live": version == live})
            continue
        out.append(entry)
    models = sorted(out, key=lambda r: r["trained_at"] or "")
    return {"models": models, "unreadable": unreadable}


@router.get("/drift")
def drift_overview(rt: RuntimeDep) -> dict:
    """Every month's drift verdict and per-feature PSI, oldest first; a report that cannot be
    read is listed under `unreadable` with the reason."""
    months, unreadable = [], []
    for key in rt.holder.store.list("reports/drift"):
        if not key.endswith(".json"):
            continue
        try:
            r = json.loads(rt.holder.store.read(key))
            entry = {k: r.get(k) for k in DRIFT_SUMMARY} | {
                "psi": {f["feature"]: f["psi"] for f in r["features"]}
            }
        except UNREADABLE as exc:
            unreadable.append({"report": key.rsplit("/", 1)[-1], "error": _why(exc)})
            continue
        months.append(entry)
    return {"months": sorted(months, key=lambda r: r["month"]), "unreadable": unreadable}


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _report(rt: RuntimeDep, month: str, suffix: str) -> bytes:
    key = f"reports/drift/{month}.{suffix}"
    if not rt.holder.store.exists(key):
        raise HTTPException(404, detail=f"no drift report for {month}")
    return rt.holder.store.read(key)


@router.get("/drift/{month}", responses=ERRORS)
def drift_month(month: MONTH, rt: RuntimeDep) -> dict:
    """One month's full drift report (numbers)."""
    try:
        return json.loads(_report(rt, month, "json"))
    except ValueError as exc:
        raise HTTPException(
            503, detail=f"the stored drift report for {month} is unreadable: {_why(exc)}"
        ) from None


@router.get("/drift/{month}/report", response_class=HTMLResponse, responses=ERRORS)
def drift_page(month: MONTH, rt: RuntimeDep) -> HTMLResponse:
    """One month's self-contained HTML drift report."""
    return HTMLResponse(_report(rt, month, "html"))
