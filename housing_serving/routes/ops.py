"""Liveness, readiness, the model card and Prometheus metrics."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from housing_core import horizons
from housing_serving.deps import Live, RuntimeDep
from housing_serving.errors import ERRORS
from housing_serving.schemas import ModelInfo

router = APIRouter(prefix="/v1")


@router.get("/health", tags=["ops"])
def health() -> dict:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/ready", tags=["ops"], responses=ERRORS)
def ready(model: Live) -> dict:
    """A model is loaded and can serve (503 otherwise)."""
    return {"status": "ready", "model_version": model.version}


@router.get("/model", tags=["model"], response_model=ModelInfo, responses=ERRORS)
def model_info(model: Live) -> ModelInfo:
    """What is being served: version, vintage, windows, registry version, holdout metrics, schema."""
    p, m = model.provenance, model.metrics
    return ModelInfo(
        version=model.version,
        vintage=p["vintage"],
        training_window=p["windows"],
        registered_model=p["mlflow"],
        holdout_metrics=m["model"],
        interval_coverage=m["coverage"],
        baselines={k: v["baseline"] for k, v in m["baselines"].items()},
        by_horizon=horizons.ordered(m.get("by_horizon", {})),
        history_until=p.get("history_until"),
        model_version=p.get("model_version", model.version),
        trained_through=p.get("trained_through"),
        final_refit=p.get("published_model"),
        features=model.predictor.state.features,
        input_schema=model.schema,
        data_fingerprint=p["data_fingerprint"],
        code_version=p["code_version"],
        trained_at=p["trained_at"],
        loaded_at=datetime.fromtimestamp(model.loaded_at, UTC).isoformat(),
    )


@router.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
def prometheus(rt: RuntimeDep) -> Response:
    """Prometheus text format: requests and latency per route, rows scored, model info."""
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)
