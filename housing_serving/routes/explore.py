"""What the dashboard explores: the bundle's holdout and history, per metro and zip."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, HTTPException, Query

from housing_core import contract as c
from housing_core.explorer import Explorer
from housing_core.published import PublishedModel
from housing_serving.deps import Live
from housing_serving.errors import errors as answers
from housing_serving.schemas import Catalog, ErrorReport, Series, ZipMap

router = APIRouter(prefix="/v1/explore", tags=["explore"])
ZIPCODE = Query(ge=501, le=99_950)
MONTH = Query(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", description="YYYY-MM")


def explorer_of(model: PublishedModel) -> Explorer:
    if model.explorer is None:
        raise HTTPException(
            404, detail=f"bundle {model.version} carries no explorer data (published before it)"
        )
    return model.explorer


@router.get("/catalog", response_model=Catalog, responses=answers(503))
def catalog(model: Live) -> dict:
    """Metros and their zip codes, the months covered and the holdout window."""
    return explorer_of(model).catalog


@router.get("/map", response_model=ZipMap, responses=answers(503))
def zip_map(model: Live) -> dict:
    """Every zip code with a position (the source's own, else its bundled USPS centroid) and what
    the map colours it by: last price, predicted change over the holdout, holdout MAPE."""
    return {"model_version": model.version, **explorer_of(model).map}


@router.get("/series", response_model=Series, responses=answers(404, 422, 503))
def series(
    model: Live,
    zipcode: Annotated[int | None, ZIPCODE] = None,
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
        points, key, level = explorer.metro_series(metro), str(metro), "metro"
    if points is None:
        raise HTTPException(404, detail=f"{level} {key} is not in bundle {model.version}")
    return {"model_version": model.version, "level": level, "key": key, "points": points}


@router.get("/row", responses=answers(404, 422, 503))
def holdout_row(
    model: Live, zipcode: Annotated[int, ZIPCODE], month: Annotated[str, MONTH]
) -> dict:
    """One holdout row exactly as a client sends it to /v1/predict (the what-if start)."""
    row = explorer_of(model).row(zipcode, pd.Period(month, "M"))
    if row is None:
        raise HTTPException(
            404, detail=f"no holdout row for zip {c.format_zip(zipcode)} in {month}"
        )
    return row


@router.get("/errors", response_model=ErrorReport, responses=answers(503))
def errors(model: Live) -> dict:
    """Holdout errors: MAPE by metro and month, the worst zip codes, the residual histogram."""
    return {"model_version": model.version, **explorer_of(model).errors}
