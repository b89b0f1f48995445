"""The FastAPI service: `create_app()` builds it; `housing serve` runs it under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from housing_core import bundle
from housing_serving import docs, errors
from housing_serving.deps import Runtime
from housing_serving.forecasts import ForecastHolder
from housing_serving.metrics import ApiMetrics
from housing_serving.middleware import BodyLimit, HttpConventions, Observe
from housing_serving.model_holder import ModelHolder
from housing_serving.routes import admin, explore, forecast, gate, monitoring, ops, predict
from housing_serving.schemas import PredictRequest
from housing_serving.settings import ServingSettings

log = logging.getLogger("housing_serving")
ROUTERS = (
    ops.router,
    predict.router,
    forecast.router,
    explore.router,
    monitoring.router,
    gate.router,
    admin.router,
)


def _log_to_stderr() -> None:
    """uvicorn configures its own loggers only: without a handler, the service's INFO lines (a
    model going live, a bundle refused) went nowhere and an operator never saw a swap."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    settings = settings or ServingSettings()
    _log_to_stderr()
    store = bundle.store_for(settings.store)
    rt = Runtime(ModelHolder(store), settings, ApiMetrics(), ForecastHolder(store))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        await asyncio.to_thread(rt.refresh)
        poller = (
            asyncio.create_task(_poll(rt, settings.poll_seconds)) if settings.poll_seconds else None
        )
        yield
        if poller:
            poller.cancel()

    app = FastAPI(
        title="Housing price API",
        version="1",
        description="Prices for HouseTS zip-code x month rows from the published model bundle, with "
        "80%/95% conformal intervals and SHAP explanations.",
        lifespan=lifespan,
        docs_url=None,  # the CDN pages: docs.install serves both from local assets
        redoc_url=None,
    )
    app.state.runtime = rt
    app.add_middleware(
        BodyLimit, limit=settings.max_body_bytes, budget=settings.max_inflight_body_bytes
    )
    app.add_middleware(Observe, metrics=rt.metrics)
    app.add_middleware(HttpConventions)  # outermost: a HEAD is a GET to everything inside
    errors.install(app)
    docs.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # FastAPI's documented hook
    return app


def _openapi(app: FastAPI) -> dict:
    """FastAPI's schema plus `PredictRequest`, which /v1/predict parses itself."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        body = PredictRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(body.pop("$defs", {}))
        components["PredictRequest"] = body
        _only_declared_errors(schema)
        app.openapi_schema = schema
    return app.openapi_schema


def _only_declared_errors(schema: dict) -> None:
    """FastAPI documents a 422 of its own shape on every route with a parameter; ours answer in
    the envelope, and each route declares the errors it can give (errors.errors). An
    undeclared 422 is one the route cannot give (an optional header, say): dropped, with the
    shapes only it used. An HTML page's errors are JSON too."""
    for operations in schema["paths"].values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422", {})
            ref = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if ref.get("$ref", "").endswith("/HTTPValidationError"):
                del operation["responses"]["422"]
            for code, said in operation["responses"].items():
                content = said.get("content", {})
                if code.startswith(("4", "5")) and "text/html" in content:  # an HTML route's errors
                    content["application/json"] = content.pop("text/html")
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


async def _poll(rt: Runtime, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(rt.refresh)
        except Exception:  # the poller must survive anything; the error is logged, not hidden
            log.exception("model refresh failed")
