"""The FastAPI service: `create_app()` builds it; `housing serve` runs it under uvicorn."""

import asyncio
import contextlib
import io
import json
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Annotated

import pandas as pd
import pydantic_core
from fastapi import (
    Depends,
    FastAPI,
    File,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    UploadFile,
)
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from housing_assets.lib import bundle, horizons
from housing_assets.lib import contract as c
from housing_serving import service
from housing_serving.explorer import Explorer
from housing_serving.metrics import ApiMetrics
from housing_serving.model_holder import LoadedModel, ModelHolder
from housing_serving.schemas import (
    Catalog,
    ErrorReport,
    ErrorResponse,
    ModelInfo,
    PredictRequest,
    PredictResponse,
    Series,
)
from housing_serving.settings import ServingSettings

log = logging.getLogger("housing_serving")
ERRORS = {
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
    413: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}
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
JSON_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
}


def _error(
    status: int, message: str, row: int | None = None, field: str | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"detail": [{"row": row, "field": field, "message": message}]}
    )


class BodyLimit:
    """Answers 413 before reading more than `limit` bytes of a request body (ASGI middleware)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _error(413, f"request body over {self.limit:,} bytes")(
                scope, receive, send
            )
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge(413, f"request body over {self.limit:,} bytes")
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _error(413, f"request body over {self.limit:,} bytes")(scope, receive, send)


class _TooLarge(HTTPException):
    """Raised while the body streams in. An HTTPException: FastAPI's body parsing (forms, file
    uploads) passes those through, where any other error becomes a 400."""


class Observe:
    """Counts requests by route and status and times them (plain ASGI: no per-request task)."""

    def __init__(self, app, metrics: ApiMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_and_record(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(
                route=path, method=scope["method"], status=str(status["code"])
            ).inc()
            self.metrics.latency.labels(route=path).observe(time.perf_counter() - started)


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    settings = settings or ServingSettings()
    holder = ModelHolder(bundle.store_for(settings.store))
    metrics = ApiMetrics()

    def refresh() -> bool:
        swapped = holder.refresh()
        if swapped and holder.current is not None:
            metrics.serving(holder.current.version, holder.current.provenance.get("vintage", "?"))
        metrics.reloads.labels(
            outcome="swapped" if swapped else ("refused" if holder.last_error else "unchanged")
        ).inc()
        return swapped

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        await asyncio.to_thread(refresh)
        poller = (
            asyncio.create_task(_poll(refresh, settings.poll_seconds))
            if settings.poll_seconds
            else None
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
    )
    app.state.holder, app.state.metrics, app.state.settings = holder, metrics, settings
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(Observe, metrics=metrics)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors()[:50]:
            loc = [p for p in err.get("loc", ()) if p != "body"]
            row = (
                next((p for p in loc[1:2] if isinstance(p, int)), None)
                if loc[:1] == ["rows"]
                else None
            )
            field = str(loc[-1]) if loc and not isinstance(loc[-1], int) else None
            where = f"row {row}: " if row is not None else ""
            details.append(
                {"row": row, "field": field, "message": f"{where}{field or 'body'}: {err['msg']}"}
            )
        return JSONResponse(status_code=422, content={"detail": details})

    @app.exception_handler(service.InputError)
    async def out_of_contract(_request: Request, exc: service.InputError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": exc.details})

    async def live_model() -> LoadedModel:  # async: no thread hop for a dict lookup
        model = holder.current
        if model is None:
            raise HTTPException(
                503,
                detail=f"no model loaded from {settings.store} ({holder.last_error or 'nothing published'})",
            )
        return model

    Live = Annotated[LoadedModel, Depends(live_model)]

    @app.get("/v1/health", tags=["ops"])
    def health() -> dict:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/v1/ready", tags=["ops"], responses=ERRORS)
    def ready(model: Live) -> dict:
        """A model is loaded and can serve (503 otherwise)."""
        return {"status": "ready", "model_version": model.version}

    @app.get("/v1/model", tags=["model"], response_model=ModelInfo, responses=ERRORS)
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
            features=model.predictor.state.features,
            input_schema=model.schema,
            data_fingerprint=p["data_fingerprint"],
            code_version=p["code_version"],
            trained_at=p["trained_at"],
            loaded_at=datetime.fromtimestamp(model.loaded_at, UTC).isoformat(),
        )

    def _score(model: LoadedModel, records: list[dict], ids: list, explain: bool):
        if len(records) > settings.max_rows:
            raise HTTPException(
                413, detail=f"{len(records):,} rows; the limit is {settings.max_rows:,} per request"
            )
        rows = service.rows_from_records(records)
        service.check_ranges(rows)
        out = service.score(model, rows, ids, explain)
        metrics.predictions.labels(model_version=model.version).inc(len(out))
        return out

    @app.post(
        "/v1/predict",
        tags=["predict"],
        response_model=PredictResponse,
        responses=ERRORS,
        openapi_extra={"requestBody": JSON_BODY},
    )
    async def predict(request: Request, model: Live) -> Response:
        """Predict one or many raw HouseTS rows, in request order, with intervals and flags.

        The body (schema `PredictRequest`) is parsed and validated in one pass by pydantic-core
        and the answer serialized by it: FastAPI's generic path (json.loads, validation, response
        re-validation) took two thirds of a 10,000-row request.
        """
        try:
            parsed = PredictRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from None
        records = parsed.rows
        ids = [r.get("id") for r in records]
        # Scoring a few rows is well under a millisecond of CPU: cheaper on the event loop than a
        # thread hop. Large batches go to a worker thread so they never stall other requests.
        if len(records) > 64:
            predictions = await asyncio.to_thread(_score, model, records, ids, parsed.explain)
        else:
            predictions = _score(model, records, ids, parsed.explain)
        payload = {"model_version": model.version, "predictions": predictions}
        return Response(pydantic_core.to_json(payload), media_type="application/json")

    @app.post(
        "/v1/predict/csv",
        tags=["predict"],
        responses={**ERRORS, 200: {"content": {"text/csv": {}}}},
    )
    def predict_csv(
        file: Annotated[UploadFile, File(description="HouseTS-layout CSV")], model: Live
    ) -> Response:
        """Score a CSV upload in the HouseTS layout; answers CSV, one line per input row."""
        frame = _read_csv(file)
        ids = frame["id"].tolist() if "id" in frame.columns else list(range(len(frame)))
        conformed, problems = c.coerce(
            frame.drop(columns=["id"], errors="ignore"), source=file.filename or "upload"
        )
        missing = [
            col
            for col in c.COLUMNS
            if col not in conformed.columns and col not in (c.TARGET, c.CITY_FULL, c.YEAR)
        ]
        if missing or problems:
            message = f"missing columns {missing}" if missing else "; ".join(problems)
            raise service.InputError([{"row": None, "field": None, "message": message}])
        for col in (c.TARGET, c.CITY_FULL, c.YEAR):
            if col not in conformed.columns:
                conformed[col] = None
        records = (
            conformed[c.COLUMNS]
            .astype(object)
            .where(conformed[c.COLUMNS].notna(), None)
            .to_dict("records")
        )
        scored = pd.DataFrame(_score(model, records, ids, explain=False))
        out = pd.DataFrame(
            {
                "id": scored["id"],
                "zipcode": conformed[c.ZIPCODE].map(c.format_zip),
                "date": conformed[c.DATE].dt.strftime("%Y-%m-%d"),
                "prediction": scored["prediction"],
                "lower_80": scored["interval_80"].str[0],
                "upper_80": scored["interval_80"].str[1],
                "lower_95": scored["interval_95"].str[0],
                "upper_95": scored["interval_95"].str[1],
                "flags": scored["flags"].str.join("|"),
                "anchor_month": scored["anchor_month"],
                "horizon": scored["horizon"].astype("Int64"),
                "model_version": model.version,
            }
        )
        if "actual" in scored:
            out["actual"], out["error"] = scored["actual"], scored["error"]
        return Response(out.to_csv(index=False), media_type="text/csv")

    def explorer_of(model: LoadedModel) -> Explorer:
        if model.explorer is None:
            raise HTTPException(
                404, detail=f"bundle {model.version} carries no explorer data (published before it)"
            )
        return model.explorer

    @app.get("/v1/explore/catalog", tags=["explore"], response_model=Catalog, responses=ERRORS)
    def catalog(model: Live) -> dict:
        """Metros and their zip codes, the months covered and the holdout window."""
        return explorer_of(model).catalog

    @app.get("/v1/explore/series", tags=["explore"], response_model=Series, responses=ERRORS)
    def series(
        model: Live,
        zipcode: Annotated[int | None, Query(ge=501, le=99_950)] = None,
        metro: Annotated[str | None, Query(min_length=1, max_length=8)] = None,
    ) -> dict:
        """Actual price by month (every split) and the model's holdout predictions with bands, for
        one zip code or one metro (the mean over its zips)."""
        if (zipcode is None) == (metro is None):
            raise HTTPException(422, detail="give exactly one of zipcode or metro")
        explorer = explorer_of(model)
        if zipcode is not None:
            points, key, level = explorer.zip_series(zipcode), c.format_zip(zipcode), "zipcode"
        else:
            points, key, level = explorer.metro_series(metro), metro, "metro"
        if points is None:
            raise HTTPException(404, detail=f"{level} {key} is not in bundle {model.version}")
        return {"model_version": model.version, "level": level, "key": key, "points": points}

    @app.get("/v1/explore/row", tags=["explore"], responses=ERRORS)
    def holdout_row(
        model: Live,
        zipcode: Annotated[int, Query(ge=501, le=99_950)],
        month: Annotated[
            str, Query(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", description="YYYY-MM")
        ],
    ) -> dict:
        """One holdout row exactly as a client sends it to /v1/predict (the what-if start)."""
        row = explorer_of(model).row(zipcode, pd.Period(month, "M"))
        if row is None:
            raise HTTPException(
                404, detail=f"no holdout row for zip {c.format_zip(zipcode)} in {month}"
            )
        return row

    @app.get("/v1/explore/errors", tags=["explore"], response_model=ErrorReport, responses=ERRORS)
    def errors(model: Live) -> dict:
        """Holdout errors: MAPE by metro and month, the worst zip codes, the residual histogram."""
        return {"model_version": model.version, **explorer_of(model).errors}

    MONTH = Annotated[str, Path(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", description="YYYY-MM")]

    @app.get("/v1/models", tags=["monitoring"])
    def models() -> dict:
        """Every published bundle, oldest first: vintage, when and why it was trained, its holdout
        MAPE, and which one is live (the retraining timeline)."""
        store, live = holder.store, bundle.current_version(holder.store)
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

    @app.get("/v1/drift", tags=["monitoring"])
    def drift_overview() -> dict:
        """Every month's drift verdict and per-feature PSI, oldest first."""
        months = []
        for key in holder.store.list("reports/drift"):
            if not key.endswith(".json"):
                continue
            r = json.loads(holder.store.read(key))
            months.append(
                {k: r.get(k) for k in DRIFT_SUMMARY}
                | {"psi": {f["feature"]: f["psi"] for f in r["features"]}}
            )
        return {"months": sorted(months, key=lambda r: r["month"])}

    def _report(month: str, suffix: str) -> bytes:
        key = f"reports/drift/{month}.{suffix}"
        if not holder.store.exists(key):
            raise HTTPException(404, detail=f"no drift report for {month}")
        return holder.store.read(key)

    @app.get("/v1/drift/{month}", tags=["monitoring"], responses=ERRORS)
    def drift_month(month: MONTH) -> dict:
        """One month's full drift report (numbers)."""
        return json.loads(_report(month, "json"))

    @app.get(
        "/v1/drift/{month}/report",
        tags=["monitoring"],
        response_class=HTMLResponse,
        responses=ERRORS,
    )
    def drift_page(month: MONTH) -> HTMLResponse:
        """One month's self-contained HTML drift report."""
        return HTMLResponse(_report(month, "html"))

    @app.get("/v1/metrics", tags=["ops"], response_class=PlainTextResponse)
    def prometheus() -> Response:
        """Prometheus text format: requests and latency per route, rows scored, model info."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/v1/admin/reload",
        tags=["ops"],
        responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}},
    )
    def reload(x_api_key: Annotated[str | None, Header()] = None) -> dict:
        """Follow the store's `current` pointer now (API key in the X-API-Key header)."""
        if settings.api_key is None or not settings.api_key.get_secret_value():
            # An empty key (HOUSING_SERVING_API_KEY="") would accept an empty header: disabled.
            raise HTTPException(
                403, detail="admin routes are disabled: set HOUSING_SERVING_API_KEY"
            )
        if x_api_key is None or not secrets.compare_digest(
            x_api_key.encode(), settings.api_key.get_secret_value().encode()
        ):
            raise HTTPException(401, detail="missing or wrong X-API-Key")
        swapped = refresh()
        current = holder.current.version if holder.current else None
        return {"swapped": swapped, "model_version": current, "error": holder.last_error}

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    def openapi() -> dict:
        """FastAPI's schema plus `PredictRequest`, which /v1/predict parses itself."""
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            body = PredictRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(body.pop("$defs", {}))
            components["PredictRequest"] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return app


def _read_csv(upload: UploadFile) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.BytesIO(upload.file.read()))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise service.InputError(
            [{"row": None, "field": None, "message": f"not a readable CSV: {exc}"}]
        ) from exc
    if frame.empty:
        raise service.InputError([{"row": None, "field": None, "message": "the CSV has no rows"}])
    return frame


async def _poll(refresh, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(refresh)
        except (
            Exception
        ):  # the poller must survive anything; the error is logged, never swallowed silently
            log.exception("model refresh failed")
