"""The retraining timeline, the monthly drift reports and the live champion's record, read from
the serving store."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import HTMLResponse

from housing_core import bundle, drift_reports, live_performance
from housing_serving import service
from housing_serving.deps import RuntimeDep
from housing_serving.errors import errors as answers

router = APIRouter(prefix="/v1", tags=["monitoring"])
MONTH = Annotated[str, Path(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
CHAMPION = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        description="Model version whose drift reports to read (default: the live champion's).",
    ),
]
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
            docs = bundle.read_verified(store, version, (bundle.PROVENANCE, bundle.METRICS))
            p, m = (json.loads(docs[name]) for name in (bundle.PROVENANCE, bundle.METRICS))
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


@router.get("/drift", responses=answers(404, 422, 503))
def drift_overview(rt: RuntimeDep, champion: CHAMPION = None) -> dict:
    """Every month's drift verdict, per-feature PSI and severity as one champion scored it (default: the
    live one), oldest first, with the model versions that have reports; a report that cannot be
    read is listed under `unreadable` with the reason."""
    store = rt.holder.store
    version, live = _champion(rt, champion)
    months, unreadable = [], []
    for month, key in drift_reports.report_keys(store, version).items():
        try:
            r = json.loads(store.read(key))
            entry = {k: r.get(k) for k in DRIFT_SUMMARY} | {
                "psi": {f["feature"]: f["psi"] for f in r["features"]},
                # score over the feature's own threshold (PSI or, for counts, Wasserstein-1);
                # above 1 drifts. Reports written before the count statistic have none.
                "severity": {f["feature"]: f["severity"] for f in r["features"] if "severity" in f},
            }
        except UNREADABLE as exc:
            unreadable.append({"report": f"{month}.json", "error": _why(exc)})
            continue
        months.append(entry)
    for key, why in drift_reports.unreadable_legacy(store).items():
        unreadable.append({"report": key.rsplit("/", 1)[-1], "error": why})
    return {
        "champion": version,
        "live": version == live,
        "champions": drift_reports.champions(store),
        "months": sorted(months, key=lambda r: r["month"] or ""),
        "unreadable": unreadable,
    }


@router.get("/live", responses=answers(503))
def live_overview(rt: RuntimeDep) -> dict:
    """The live champion held to account: each landed month's error on what it answered (as
    served: anchored on each zip's last price before the month) against persistence on the same
    rows, by months since the anchor, with band coverage, oldest first; `losing_streak` lists
    the latest months it lost without a win in between; `serving` says whether the model or,
    after the policy's losing streak, persistence answers predictions. A record that cannot be read is listed
    under `unreadable`."""
    model = rt.holder.current
    if model is None:
        raise HTTPException(503, detail=rt.holder.unavailable())
    try:
        months, broken = live_performance.read(rt.holder.store, model.model_version)
    except UNREADABLE as exc:
        raise HTTPException(503, detail=f"the live records are unreadable: {_why(exc)}") from None
    return {
        "champion": model.model_version,
        "months": months,
        "losing_streak": live_performance.losing_streak(months),
        # Whether persistence answers in the champion's place (the policy's fallback), and why.
        "serving": service.BASELINE_FLAG if rt.serves_baseline(model) else "model",
        "fallback": rt.fallback if rt.serves_baseline(model) else None,
        "unreadable": [{"record": k.rsplit("/", 1)[-1], "error": why} for k, why in broken.items()],
    }


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _champion(rt: RuntimeDep, asked: str | None) -> tuple[str, str | None]:
    """The model version to read reports of, and the live champion's model version."""
    model = rt.holder.current
    live = model.model_version if model is not None else None
    if asked is None:
        if live is None:
            raise HTTPException(503, detail="no champion is live: name one with ?champion=")
        return live, live
    if asked != live and asked not in drift_reports.champions(rt.holder.store):
        known = ", ".join(drift_reports.champions(rt.holder.store)) or "none"
        raise HTTPException(
            404, detail=f"no drift reports for model version {asked!r} (with reports: {known})"
        )
    return asked, live


def _report(rt: RuntimeDep, month: str, suffix: str, asked: str | None) -> tuple[bytes, str]:
    version, _ = _champion(rt, asked)
    try:
        data = drift_reports.read(rt.holder.store, version, month, suffix)
    except UNREADABLE as exc:
        raise HTTPException(
            503, detail=f"the stored drift report for {month} is unreadable: {_why(exc)}"
        ) from None
    if data is None:
        raise HTTPException(404, detail=f"no drift report for {month} scored by model v{version}")
    return data, version


@router.get("/drift/{month}", responses=answers(404, 422, 503))
def drift_month(month: MONTH, rt: RuntimeDep, champion: CHAMPION = None) -> dict:
    """One month's full drift report (numbers) as one champion scored it (default: the live
    one); `champion` names that model version."""
    data, version = _report(rt, month, "json", champion)
    try:
        return json.loads(data) | {"champion": version}
    except ValueError as exc:
        raise HTTPException(
            503, detail=f"the stored drift report for {month} is unreadable: {_why(exc)}"
        ) from None


# The report is one self-contained page: inline styles and data: images, nothing else to load,
# no script to run, no form to send, never framed.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@router.get("/drift/{month}/report", response_class=HTMLResponse, responses=answers(404, 422, 503))
def drift_page(month: MONTH, rt: RuntimeDep, champion: CHAMPION = None) -> HTMLResponse:
    """One month's self-contained HTML drift report as one champion scored it (default: the live
    one; the `X-Drift-Champion` header names it)."""
    data, version = _report(rt, month, "html", champion)
    return HTMLResponse(
        data, headers={"X-Drift-Champion": version, "Content-Security-Policy": REPORT_CSP}
    )
