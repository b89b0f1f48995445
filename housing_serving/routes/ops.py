"""Liveness, readiness, the model card and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from housing_serving.cards import model_card
from housing_serving.deps import Live, RuntimeDep
from housing_serving.errors import errors as answers
from housing_serving.schemas import ModelInfo

router = APIRouter(prefix="/v1")


@router.get("/health", tags=["ops"])
def health() -> dict:
    """The process is alive."""
    return {"status": "ok"}


@router.get(
    "/ready",
    tags=["ops"],
    responses={
        200: {
            "content": {
                "application/json": {"example": {"status": "ready", "model_version": "2022-01-v1"}}
            }
        },
        **answers(503),
    },
)
def ready(model: Live) -> dict:
    """A model is loaded and can serve (503 otherwise)."""
    return {"status": "ready", "model_version": model.version}


@router.get("/model", tags=["model"], response_model=ModelInfo, responses=answers(503))
def model_info(model: Live) -> ModelInfo:
    """What is being served: version, vintage, windows, registry version, holdout metrics, schema."""
    return model_card(model)


@router.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
def prometheus(rt: RuntimeDep) -> Response:
    """Prometheus text format: requests and latency per route, rows scored, model info."""
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)
