"""Scoring: JSON rows and CSV uploads."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Annotated

import pandas as pd
import pydantic_core
from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import Response

from housing_core import contract as c
from housing_core import features as F
from housing_core.published import PublishedModel
from housing_serving import intake, service
from housing_serving.deps import Live, Runtime, RuntimeDep
from housing_serving.errors import errors as answers
from housing_serving.schemas import PredictRequest, PredictResponse

router = APIRouter(prefix="/v1", tags=["predict"])
JSON_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
}
THREAD_ABOVE_ROWS = 64  # a few rows score in well under a millisecond: cheaper on the event loop
INLINE_BYTES = 64 * 1024  # larger bodies are parsed and scored in a worker thread, a few at once


def score(
    rt: Runtime,
    model: PublishedModel,
    records: Sequence[Mapping],
    ids: list,
    explain: bool,
    baseline: bool = False,
) -> list[dict]:
    if len(records) > rt.settings.max_rows:
        raise HTTPException(
            413, detail=f"{len(records):,} rows; the limit is {rt.settings.max_rows:,} per request"
        )
    if explain and len(records) > rt.settings.max_explain_rows:
        raise HTTPException(
            413,
            detail=f"explain is limited to {rt.settings.max_explain_rows:,} rows per request "
            f"(got {len(records):,}): contributions cost ~1.5 ms of CPU per row",
        )
    rows = F.Rows.from_records(records)
    service.check_ranges(rows)
    out = service.score(model, rows, ids, explain, baseline)
    rt.metrics.predictions.labels(model_version=model.version).inc(len(out))
    return out


def score_parsed(
    rt: Runtime, model: PublishedModel, parsed: PredictRequest, baseline: bool = False
) -> list[dict]:
    ids = [r.get("id") for r in parsed.rows]
    return score(rt, model, parsed.rows, ids, parsed.explain, baseline)


def require_json(request: Request) -> None:
    """A JSON route reads only a body declared as JSON (`application/json` or a `+json` type): a
    form or a text body is refused, 415, instead of being parsed as JSON whatever it claims."""
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared != "application/json" and not declared.endswith("+json"):
        raise HTTPException(
            415,
            f"send the rows as JSON (Content-Type: application/json), not {declared or 'no type'}",
        )


def score_to_answer(rt: Runtime, model: PublishedModel, parsed: PredictRequest) -> bytes:
    baseline = rt.serves_baseline(model)
    return answer(model, score_parsed(rt, model, parsed, baseline), baseline)


def answer(model: PublishedModel, predictions: list[dict], baseline: bool = False) -> bytes:
    """The JSON answer, serialized where it was scored: thousands of predictions take the
    serializer long enough to stall the event loop if done there."""
    return pydantic_core.to_json(
        {
            "model_version": model.version,
            "served_by": service.BASELINE_FLAG if baseline else "model",
            "predictions": predictions,
        }
    )


@router.post(
    "/predict",
    response_model=PredictResponse,
    openapi_extra={"requestBody": JSON_BODY},
    responses=answers(408, 413, 415, 422, 503),
)
async def predict(request: Request, model: Live, rt: RuntimeDep) -> Response:
    """Predict one or many raw HouseTS rows, in request order, with intervals and flags.

    The body (schema `PredictRequest`) is checked against its limits before it is read (rows,
    keys per row), and validated up to the first invalid row, which the error names. Large
    bodies and requests for explanations are each served a few at a time
    (`HOUSING_SERVING_HEAVY_REQUESTS`, `HOUSING_SERVING_EXPLAIN_REQUESTS`); past that the answer
    is 503 with Retry-After, so one caller's big request never stalls the others.
    """
    require_json(request)
    body = await request.body()
    if len(body) > INLINE_BYTES:
        async with rt.slot("large"):
            parsed = await asyncio.to_thread(intake.parse, body, rt.settings.max_rows)
            if not parsed.explain:
                content = await asyncio.to_thread(score_to_answer, rt, model, parsed)
    else:
        parsed = intake.parse(body, rt.settings.max_rows)
        if not parsed.explain:
            content = (
                await asyncio.to_thread(score_to_answer, rt, model, parsed)
                if len(parsed.rows) > THREAD_ABOVE_ROWS
                else score_to_answer(rt, model, parsed)
            )
    if parsed.explain:
        async with rt.slot("explain"):
            content = await asyncio.to_thread(score_to_answer, rt, model, parsed)
    return Response(content, media_type="application/json")


@router.post(
    "/predict/csv",
    responses={200: {"content": {"text/csv": {}}}, **answers(408, 413, 422, 503)},
)
async def predict_csv(
    file: Annotated[UploadFile, File(description="HouseTS-layout CSV")], model: Live, rt: RuntimeDep
) -> Response:
    """Score a CSV upload in the HouseTS layout; answers CSV, one line per input row.

    Each line becomes the row the JSON route would receive (an empty cell is null) and is
    validated by the same rules, with the same messages naming the line and column; uploads
    are served a few at a time (`HOUSING_SERVING_HEAVY_REQUESTS`)."""
    body = await file.read()
    async with rt.slot("large"):
        return await asyncio.to_thread(_score_csv, rt, model, body)


# A cell a spreadsheet would run as a formula (the OWASP "CSV injection" class) starts with one
# of these; the caller's free text is the only such cell an answer echoes.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """The caller's id as a spreadsheet shows it and never runs it: prefixed with a quote when it
    could start a formula (documented in docs/api.md)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _score_csv(rt: Runtime, model: PublishedModel, body: bytes) -> Response:
    parsed, ids = intake.parse_csv(body, rt.settings.max_rows)
    rows: Sequence[Mapping] = parsed.rows  # validated rows: plain dicts keyed by contract names
    baseline = rt.serves_baseline(model)
    scored = pd.DataFrame(score(rt, model, rows, ids, explain=False, baseline=baseline))
    out = pd.DataFrame(
        {
            "id": [spreadsheet_safe(i) for i in scored["id"]],
            "zipcode": [c.format_zip(r[c.ZIPCODE]) for r in rows],
            "date": _month_ends([r[c.DATE] for r in rows]),
            "prediction": scored["prediction"],
            "lower_80": scored["interval_80"].str[0],
            "upper_80": scored["interval_80"].str[1],
            "lower_95": scored["interval_95"].str[0],
            "upper_95": scored["interval_95"].str[1],
            "flags": scored["flags"].str.join("|"),
            "anchor_month": scored["anchor_month"],
            "horizon": scored["horizon"].astype("Int64"),
            "model_version": model.version,
            "served_by": service.BASELINE_FLAG if baseline else "model",
        }
    )
    if "actual" in scored:
        out["actual"], out["error"] = scored["actual"], scored["error"]
    return Response(out.to_csv(index=False), media_type="text/csv")


def _month_ends(days: list) -> list[str]:
    """Each day as its month's last day (the HouseTS `date` convention), computed per month."""
    ends: dict[str, str] = {}
    out = []
    for day in days:
        key = f"{day:%Y-%m}"
        if key not in ends:
            ends[key] = f"{c.month_end(key):%Y-%m-%d}"
        out.append(ends[key])
    return out
