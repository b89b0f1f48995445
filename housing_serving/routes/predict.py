"""Scoring: JSON rows and CSV uploads."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping, Sequence
from typing import Annotated

import pandas as pd
import pydantic_core
from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import Response

from housing_assets.lib import contract as c
from housing_assets.lib import features as F
from housing_assets.lib.published import PublishedModel
from housing_serving import intake, service
from housing_serving.deps import Live, Runtime, RuntimeDep
from housing_serving.errors import ERRORS
from housing_serving.schemas import PredictRequest, PredictResponse

router = APIRouter(prefix="/v1", tags=["predict"], responses=ERRORS)
JSON_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
}
THREAD_ABOVE_ROWS = 64  # a few rows score in well under a millisecond: cheaper on the event loop
INLINE_BYTES = 64 * 1024  # larger bodies are parsed and scored in a worker thread, a few at once


def score(
    rt: Runtime, model: PublishedModel, records: Sequence[Mapping], ids: list, explain: bool
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
    out = service.score(model, rows, ids, explain)
    rt.metrics.predictions.labels(model_version=model.version).inc(len(out))
    return out


def score_parsed(rt: Runtime, model: PublishedModel, parsed: PredictRequest) -> list[dict]:
    return score(rt, model, parsed.rows, [r.get("id") for r in parsed.rows], parsed.explain)


def parse_and_score(rt: Runtime, model: PublishedModel, body: bytes) -> list[dict]:
    return score_parsed(rt, model, intake.parse(body, rt.settings.max_rows))


@router.post("/predict", response_model=PredictResponse, openapi_extra={"requestBody": JSON_BODY})
async def predict(request: Request, model: Live, rt: RuntimeDep) -> Response:
    """Predict one or many raw HouseTS rows, in request order, with intervals and flags.

    The body (schema `PredictRequest`) is bounded before it is parsed (rows, keys), validated
    in one pass by pydantic-core that stops at the first invalid row (`intake.py`), and the
    answer serialized by pydantic-core. A body over 64 KB is parsed and scored in a worker
    thread, at most `heavy_requests` at a time, so no request stalls the others.
    """
    body = await request.body()
    if len(body) > INLINE_BYTES:
        async with rt.heavy_slot():
            predictions = await asyncio.to_thread(parse_and_score, rt, model, body)
    else:
        parsed = intake.parse(body, rt.settings.max_rows)
        if len(parsed.rows) > THREAD_ABOVE_ROWS or parsed.explain:
            predictions = await asyncio.to_thread(score_parsed, rt, model, parsed)
        else:
            predictions = score_parsed(rt, model, parsed)
    payload = {"model_version": model.version, "predictions": predictions}
    return Response(pydantic_core.to_json(payload), media_type="application/json")


@router.post("/predict/csv", responses={200: {"content": {"text/csv": {}}}})
def predict_csv(
    file: Annotated[UploadFile, File(description="HouseTS-layout CSV")], model: Live, rt: RuntimeDep
) -> Response:
    """Score a CSV upload in the HouseTS layout; answers CSV, one line per input row."""
    frame = _read_csv(file)
    ids = frame["id"].tolist() if "id" in frame.columns else list(range(len(frame)))
    conformed, problems = c.coerce(
        frame.drop(columns=["id"], errors="ignore"), source=file.filename or "upload"
    )
    optional = (c.TARGET, c.CITY_FULL, c.YEAR)
    missing = [col for col in c.COLUMNS if col not in conformed.columns and col not in optional]
    if missing or problems:
        message = f"missing columns {missing}" if missing else "; ".join(problems)
        raise service.InputError([{"row": None, "field": None, "message": message}])
    for col in optional:
        if col not in conformed.columns:
            conformed[col] = None
    records = (
        conformed[c.COLUMNS]
        .astype(object)
        .where(conformed[c.COLUMNS].notna(), None)
        .to_dict("records")
    )
    scored = pd.DataFrame(score(rt, model, records, ids, explain=False))
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
