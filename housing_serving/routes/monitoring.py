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


@router.get("/models")
def models(rt: RuntimeDep) -> dict:
    """Every published bundle, oldest first: vintage, when and why it was trained, its holdout
    MAPE, and which one is live (the retraining timeline)."""
    store = rt.holder.store
    live = bundle.current_version(store)
    out = []
    for version in bundle.versions(store):
        p = json.loads(store.read(f"bundles/{version}/provenance.json"))
        m = json.loads(store.read(f"bundles/{version}/metrics.json"))
        out.append(
            {
                "version": version,
                "vintage": p.get("vintage"),
                "trained_at": p.get("trained_at"),
                "trigger": p.get("trigger", "manual"),
                "trigger_reason": p.get("trigger_reason", ""),
                "holdout_mape": m["model"]["mape"],
                "data_until": p.get("windows", {}).get("holdout", {}).get("last"),
                "live": version == live,
            }
        )
    return {"models": sorted(out, key=lambda r: r["trained_at"] or "")}


@router.get("/drift")
def drift_overview(rt: RuntimeDep) -> dict:
    """Every month's drift verdict and per-feature PSI, oldest first."""
    months = []
    for key in rt.holder.store.list("reports/drift"):
        if not key.endswith(".json"):
            continue
        r = json.loads(rt.holder.store.read(key))
        months.append(
            {k: r.get(k) for k in DRIFT_SUMMARY}
            | {"psi": {f["feature"]: f["psi"] for f in r["features"]}}
        )
    return {"months": sorted(months, key=lambda r: r["month"])}


def _report(rt: RuntimeDep, month: str, suffix: str) -> bytes:
    key = f"reports/drift/{month}.{suffix}"
    if not rt.holder.store.exists(key):
        raise HTTPException(404, detail=f"no drift report for {month}")
    return rt.holder.store.read(key)


@router.get("/drift/{month}", responses=ERRORS)
def drift_month(month: MONTH, rt: RuntimeDep) -> dict:
    """One month's full drift report (numbers)."""
    return json.loads(_report(rt, month, "json"))


@router.get("/drift/{month}/report", response_class=HTMLResponse, responses=ERRORS)
def drift_page(month: MONTH, rt: RuntimeDep) -> HTMLResponse:
    """One month's self-contained HTML drift report."""
    return HTMLResponse(_report(rt, month, "html"))
