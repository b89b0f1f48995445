"""Forecasts: a zip's (or many zips', or a metro's) price 1..24 months ahead, with 80/95% bands,
from the published forecaster's table (the price model's routes are /v1/predict)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from housing_core import contract as c
from housing_serving.deps import LiveForecasts
from housing_serving.errors import errors as answers
from housing_serving.forecasts import LiveForecast, past, points
from housing_serving.schemas import (
    ForecastBatch,
    ForecastCatalog,
    ForecastRequest,
    MetroForecast,
    ZipForecast,
)

router = APIRouter(prefix="/v1/forecast", tags=["forecast"])
MONTHS = Query(ge=1, description="Months ahead, 1..the served horizon (24).")
HISTORY = Query(ge=0, le=60, description="Months of actual prices before the origin to include.")


def _months(live: LiveForecast, months: int) -> int:
    if months > live.horizon:
        raise HTTPException(
            422,
            detail=f"months={months} is beyond what forecaster {live.version} serves "
            f"(1..{live.horizon} months after {live.origin})",
        )
    return months


def _zip(live: LiveForecast, zipcode: int, months: int, history: int = 0) -> dict:
    part = live.by_zip[zipcode]
    return {
        "zipcode": c.format_zip(zipcode),
        "metro": str(part["metro"].iat[0]),
        "origin": live.origin,
        "last_price": float(part["last_price"].iat[0]),
        "model_version": live.version,
        "vintage": str(live.provenance["vintage"]),
        "points": points(part, months),
        "history": past(live.past_by_zip.get(zipcode), history),
    }


@router.get("", response_model=ForecastCatalog, responses=answers(404))
def catalog(live: LiveForecasts) -> dict:
    """What is forecast: the metros and their zips, the origin month, the horizon, the backtest."""
    return live.catalog()


@router.get("/metro/{metro}", response_model=MetroForecast, responses=answers(404, 422))
def metro_forecast(
    live: LiveForecasts,
    metro: Annotated[str, Path(min_length=1, max_length=64)],
    months: Annotated[int, MONTHS] = 12,
    history: Annotated[int, HISTORY] = 0,
) -> dict:
    """A metro's average zip: the mean of its zips' forecasts and bands, month by month."""
    _months(live, months)
    part = live.metros.get(metro)
    if part is None:
        known = ", ".join(sorted(live.metros)[:10])
        raise HTTPException(
            404, detail=f"metro {metro!r} has no forecast in {live.version} (metros: {known}, ...)"
        )
    rows = part[part["step"] <= months]
    return {
        "metro": metro,
        "origin": live.origin,
        "model_version": live.version,
        "vintage": str(live.provenance["vintage"]),
        "summary": f"the mean over the metro's {int(rows['zips'].max())} zips' forecasts and bands",
        "points": rows.to_dict(orient="records"),
        "history": past(live.past_by_metro.get(metro), history),
    }


@router.get("/{zipcode}", response_model=ZipForecast, responses=answers(404, 422))
def zip_forecast(
    live: LiveForecasts,
    zipcode: Annotated[int, Path(ge=501, le=99_950)],
    months: Annotated[int, MONTHS] = 12,
    history: Annotated[int, HISTORY] = 0,
) -> dict:
    """One zip's price for each of the next `months` months after its last known price."""
    months = _months(live, months)
    if zipcode not in live.by_zip:
        raise HTTPException(
            404,
            detail=f"zip {c.format_zip(zipcode)} has no forecast in {live.version} "
            f"(no price in {live.origin})",
        )
    return _zip(live, zipcode, months, history)


@router.post("", response_model=ForecastBatch, responses=answers(404, 413, 422))
def many_forecasts(live: LiveForecasts, request: ForecastRequest) -> dict:
    """Several zips at once; every zip must have a forecast, or none is answered (404 lists them)."""
    months = _months(live, request.months)
    unknown = [z for z in request.zipcodes if z not in live.by_zip]
    if unknown:
        shown = ", ".join(c.format_zip(z) for z in unknown[:20])
        more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        raise HTTPException(
            404, detail=f"{len(unknown)} zip(s) have no forecast in {live.version}: {shown}{more}"
        )
    return {
        "model_version": live.version,
        "origin": live.origin,
        "forecasts": [_zip(live, z, months) for z in dict.fromkeys(request.zipcodes)],
    }
