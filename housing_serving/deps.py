"""What routes depend on: the runtime (model holder, settings, metrics), the live model, the
admin key. Tests replace `live_model` through `app.dependency_overrides`."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, Header, HTTPException, Request

from housing_core import live_performance
from housing_core.published import PublishedModel
from housing_serving.forecasts import ForecastHolder, LiveForecast
from housing_serving.metrics import ApiMetrics
from housing_serving.model_holder import REFUSED, ModelHolder
from housing_serving.settings import ServingSettings

log = logging.getLogger("housing_serving")


@dataclass
class Runtime:
    """One app's state, built by `create_app` and kept on `app.state.runtime`."""

    holder: ModelHolder
    settings: ServingSettings
    metrics: ApiMetrics
    forecasts: ForecastHolder | None = None  # the published forecaster, when the store has one
    fallback: dict | None = None  # the live fallback record (live_performance.read_fallback)
    fallback_error: str | None = None
    slots: dict[str, asyncio.Semaphore] = field(init=False)

    def __post_init__(self) -> None:
        self.slots = {
            "large": asyncio.Semaphore(self.settings.heavy_requests),
            "explain": asyncio.Semaphore(self.settings.explain_requests),
        }

    @asynccontextmanager
    async def slot(self, kind: Literal["large", "explain"]):
        """A slot of the request's class: `large` (a body over 64 KB, parsed and scored in a
        thread) or `explain` (SHAP contributions, ~1.5 ms of CPU a row). Each class queues on its
        own, so callers looping on one cannot take the other's turns; a request that waits
        `heavy_wait_s` without one is answered 503 with Retry-After (the client retries later
        instead of piling up memory here)."""
        try:
            await asyncio.wait_for(self.slots[kind].acquire(), self.settings.heavy_wait_s)
        except TimeoutError:
            most = (
                self.settings.heavy_requests if kind == "large" else self.settings.explain_requests
            )
            raise HTTPException(
                503,
                detail=f"busy: {most} {kind} request(s) in progress, the most served at once; "
                "retry",
                headers={"Retry-After": str(max(1, round(self.settings.heavy_wait_s)))},
            ) from None
        try:
            yield
        finally:
            self.slots[kind].release()

    def refresh(self) -> bool:
        """Follow the store's pointers; True when a new price model went live."""
        if self.forecasts is not None:
            self.forecasts.refresh()  # its own pointer; a refused one is logged, never fatal
        swapped = self.holder.refresh()
        self._follow_fallback()
        current = self.holder.current
        if swapped and current is not None:
            self.metrics.serving(current.version, current.provenance.get("vintage", "?"))
        outcome = "swapped" if swapped else ("refused" if self.holder.last_error else "unchanged")
        self.metrics.reloads.labels(outcome=outcome).inc()
        return swapped

    def _follow_fallback(self) -> None:
        """An unreadable fallback record keeps the last one read (logged once)."""
        try:
            state = live_performance.read_fallback(self.holder.store)
        except REFUSED as exc:
            if self.fallback_error != str(exc):
                log.error("the fallback record is unreadable (kept the last one read): %s", exc)
            self.fallback_error = str(exc)
            return
        self.fallback_error = None
        if state != self.fallback and state is not None:
            log.warning("fallback record: %s", json.dumps(state))
        self.fallback = state

    def serves_baseline(self, model: PublishedModel) -> bool:
        return live_performance.serves_baseline(self.fallback, model.model_version)


async def runtime(request: Request) -> Runtime:
    # async, as every dependency here: a sync one costs a thread-pool hop on every request
    # (measured: -20% requests/s and p99 x8 at 8 connections on /v1/predict).
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(runtime)]


async def live_model(rt: RuntimeDep) -> PublishedModel:
    model = rt.holder.current
    if model is None:
        raise HTTPException(503, detail=rt.holder.unavailable())
    return model


Live = Annotated[PublishedModel, Depends(live_model)]


async def live_forecast(rt: RuntimeDep) -> LiveForecast:
    current = rt.forecasts.current if rt.forecasts is not None else None
    if current is None:
        holder = rt.forecasts
        reason = (
            holder.unavailable()
            if holder is not None and holder.last_error
            else "no forecaster is published: one is published only when its backtest beats "
            "persistence (housing run prints the verdict)"
        )
        # 404, not 503: no forecaster is a normal state (its gate held it back), not an outage.
        raise HTTPException(404, detail=reason)
    return current  # type: ignore[return-value]


LiveForecasts = Annotated[LiveForecast, Depends(live_forecast)]


async def admin_key(rt: RuntimeDep, x_api_key: Annotated[str | None, Header()] = None) -> None:
    """The X-API-Key header must equal HOUSING_SERVING_API_KEY (compared in constant time); an
    unset or empty key disables admin routes (an empty key would accept an empty header)."""
    configured = rt.settings.api_key.get_secret_value() if rt.settings.api_key else ""
    if not configured:
        raise HTTPException(403, detail="admin routes are disabled: set HOUSING_SERVING_API_KEY")
    if x_api_key is None or not secrets.compare_digest(x_api_key.encode(), configured.encode()):
        raise HTTPException(401, detail="missing or wrong X-API-Key")


Admin = Depends(admin_key)
