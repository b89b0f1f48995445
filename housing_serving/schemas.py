"""Request and response models, generated from the data contract (one source of truth)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, NotRequired, Required

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, FailFast, Field
from typing_extensions import TypedDict

from housing_core import contract as c

OPTIONAL = {c.TARGET, c.CITY_FULL, c.YEAR}
# The longest text a field takes: an id is echoed back, a metro name is matched to the model's,
# and neither needs more; a megabyte id once came back in every answer.
MAX_ID, MAX_NAME = 128, 100
# Months the service can reason about (and that fit a nanosecond timestamp).
FIRST_DATE, LAST_DATE = date(1990, 1, 1), date(2100, 12, 31)


def _month(value: Any) -> Any:
    # Accept "2023-06" as well as "2023-06-30"; any day maps to its month's end.
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}", value):
        return f"{value}-01"
    return value


def _short_id(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_ID:
        raise ValueError(f"String should have at most {MAX_ID} characters")
    return value


def _plausible_month(value: date) -> date:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValueError(f"must be between {FIRST_DATE:%Y-%m} and {LAST_DATE:%Y-%m}")
    return value


def _row_fields() -> dict[str, Any]:
    """One typed field per contract column, keyed by the contract's own names."""
    fields: dict[str, Any] = {
        "id": NotRequired[
            Annotated[
                str | int | None,
                AfterValidator(_short_id),
                Field(
                    description=f"Echoed back (at most {MAX_ID} characters).",
                    json_schema_extra={"maxLength": MAX_ID},
                ),
            ]
        ]
    }
    for column in c.COLUMNS:
        if column == c.DATE:
            kind: Any = Annotated[
                date,
                BeforeValidator(_month),
                AfterValidator(_plausible_month),
                Field(description="Month (YYYY-MM) or any day in it."),
            ]
        elif column == c.ZIPCODE:
            kind = Annotated[int, Field(ge=501, le=99_950)]
        elif column == c.CITY:
            kind = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
        elif column == c.CITY_FULL:
            kind = Annotated[str | None, Field(min_length=1, max_length=MAX_NAME)]
        elif column == c.YEAR:
            kind = int | None
        else:
            kind = Annotated[
                float | None, Field(allow_inf_nan=False, description="null = not reported")
            ]
        fields[column] = NotRequired[kind] if column in OPTIONAL else Required[kind]
    return fields


# A TypedDict, not a model: validated rows arrive as plain dicts keyed by contract names, which is
# what scoring reads (no per-row model objects, no dump) -- a third of a 10,000-row request's time.
HouseTSRow = TypedDict("HouseTSRow", _row_fields())  # type: ignore[misc]
HouseTSRow.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]


def _year_matches_date(row: dict) -> dict:
    year = row.get(c.YEAR)
    if year is not None and year != row[c.DATE].year:
        raise ValueError(f"year {year} is not the year of date {row[c.DATE]:%Y-%m}")
    return row


# A row as the routes validate it: `year`, when given, must agree with `date` (the model reads
# the date; a disagreeing year means the row was assembled wrong).
ValidRow = Annotated[HouseTSRow, AfterValidator(_year_matches_date)]  # type: ignore[valid-type]

# A row of the default synthetic panel (seed 7, scale 0.25): a zip the quick start's model knows,
# so the documented example is answered from its history (tests/serving/test_openapi.py).
EXAMPLE_ROW: dict[str, Any] = {
    "id": "75025-2023-06",
    "date": "2023-06-30",
    "median_sale_price": 278700.0,
    "median_list_price": 274500.0,
    "median_ppsf": 215.0,
    "median_list_ppsf": 206.8,
    "homes_sold": 36.0,
    "pending_sales": 25.0,
    "new_listings": 45.0,
    "inventory": 42.0,
    "median_dom": 120.0,
    "avg_sale_to_list": 0.946,
    "sold_above_list": 0.333,
    "off_market_in_two_weeks": 0.28,
    "city": "DAL",
    "zipcode": 75025,
    "year": 2023,
    "bank": 3.0,
    "bus": 0.0,
    "hospital": 1.0,
    "mall": 0.0,
    "park": 1.0,
    "restaurant": 8.0,
    "school": 18.0,
    "station": 0.0,
    "supermarket": 5.0,
    "Total Population": 1556.0,
    "Median Age": 30.1,
    "Per Capita Income": 26838.0,
    "Total Families Below Poverty": 1518.0,
    "Total Housing Units": 690.0,
    "Median Rent": 1352.0,
    "Median Home Value": 148300.0,
    "Total Labor Force": 812.0,
    "Unemployed Population": 24.0,
    "Total School Age Population": 1515.0,
    "Total School Enrollment": 1515.0,
    "Median Commute Time": 650.0,
    "price": 236815.0,
    "city_full": "Dallas-Fort Worth-Arlington",
}


class PredictRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"rows": [EXAMPLE_ROW], "explain": True}]}
    )

    # FailFast: validation stops at the first invalid row, so an error costs one row's errors,
    # never one per field of every row (intake.py then locates up to 50, chunk by chunk).
    rows: Annotated[list[ValidRow], FailFast()] = Field(
        min_length=1, description="Raw HouseTS rows, as in the data contract."
    )
    explain: bool = Field(
        default=False, description="Add each row's top feature contributions (SHAP)."
    )


class Contribution(BaseModel):
    feature: str
    contribution: float = Field(
        description="On the model's log scale: +0.01 is about +1% of price."
    )


class Prediction(BaseModel):
    id: str | int | None
    row: int = Field(description="Position in the request.")
    prediction: float
    interval_80: tuple[float, float]
    interval_95: tuple[float, float]
    flags: list[str]
    anchor_month: str | None = Field(
        description="The zip's last known month the prediction starts from (null: no history, "
        "predicted from the row's own stats -- the cold path)."
    )
    horizon: int | None = Field(description="Months from the anchor month to the row's month.")
    actual: float | None = None
    error: float | None = Field(
        default=None, description="prediction - actual, when price was sent."
    )
    abs_pct_error: float | None = None
    contributions: list[Contribution] | None = None


class PredictResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_version": "2022-01-v1",
                    "served_by": "model",
                    "predictions": [
                        {
                            "id": "75025-2023-06",
                            "row": 0,
                            "prediction": 237028.6,
                            "interval_80": [235475.1, 238592.3],
                            "interval_95": [233977.4, 240119.6],
                            "flags": [],
                            "anchor_month": "2023-05",
                            "horizon": 1,
                            "actual": 236815.0,
                            "error": 213.6,
                            "abs_pct_error": 0.09,
                            "contributions": [  # with "explain": true; else null
                                {"feature": "trend_1", "contribution": -0.0118},
                                {"feature": "horizon", "contribution": -0.0037},
                                {"feature": "avg_sale_to_list", "contribution": -0.002},
                            ],
                        }
                    ],
                }
            ]
        }
    )
    model_version: str
    served_by: Literal["model", "persistence"] = Field(
        description="`persistence` while the model, having lost to persistence live for the "
        "policy's months in a row, is replaced by each zip's last known price (rows answered so "
        "are flagged `persistence`; rows without zip history are still the model's)."
    )
    predictions: list[Prediction]


class ModelInfo(BaseModel):
    version: str
    vintage: str
    training_window: dict
    registered_model: dict
    holdout_metrics: dict
    interval_coverage: dict
    baselines: dict
    by_horizon: dict = Field(
        description="Holdout MAPE and coverage per months-since-anchor bucket, with baselines."
    )
    history_until: str | None = Field(
        description="Last month of zip history the model is anchored on (advances every month)."
    )
    model_version: str = Field(description="The trained model inside this (refreshed) bundle.")
    trained_through: str | None = Field(
        default=None,
        description="Newest month the served model learned from: after the gate passed, the "
        "evaluated parameters were refit on every month through it, holdout included. The "
        "holdout metrics are the estimate from the model before that refit.",
    )
    final_refit: dict | None = Field(
        default=None, description="The final refit: months, rows, examples, boosting rounds."
    )
    features: list[str]
    input_schema: dict
    data_fingerprint: str
    code_version: str
    trained_at: str
    loaded_at: str


class MetroZips(BaseModel):
    code: str
    name: str
    zipcodes: list[str]


class Catalog(BaseModel):
    metros: list[MetroZips]
    first_month: str
    last_month: str
    holdout: dict[str, str] = Field(description="First and last month of the holdout window.")


class SeriesPoint(BaseModel):
    month: str
    split: str = Field(description="train, eval or holdout")
    actual: float | None
    prediction: float | None = Field(description="Holdout months only.")
    lower_80: float | None
    upper_80: float | None
    lower_95: float | None
    upper_95: float | None


class Series(BaseModel):
    model_version: str
    level: str = Field(description="zipcode, or metro (the mean over its zips, month by month)")
    key: str
    points: list[SeriesPoint]


class ZipPoint(BaseModel):
    zipcode: str
    metro: str
    name: str
    longitude: float
    latitude: float
    located: Literal["source", "centroid", "interpolated"] = Field(
        description="source: the data's own coordinates; centroid: the zip's USPS centroid; "
        "interpolated: a zip outside the USPS list placed between its real neighbours"
    )
    price: float | None = Field(description="The last actual price.")
    price_month: str | None
    predicted_change_pct: float | None = Field(
        description="Last holdout prediction against the last price known before the holdout."
    )
    mape: float | None = Field(description="Holdout MAPE of the zip (%).")


class ZipMap(BaseModel):
    model_version: str
    zipcodes: list[ZipPoint]
    unplaced: list[str] = Field(description="Zips with no position (their prefix is unknown).")


class MetroError(BaseModel):
    metro: str
    name: str
    mape: float
    mae: float
    rows: int


class MonthError(BaseModel):
    month: str
    mape: float
    rows: int


class ZipError(BaseModel):
    zipcode: str
    metro: str
    mape: float
    rows: int


class Residuals(BaseModel):
    bin_edges_pct: list[float]
    counts: list[int]
    clipped_at_pct: float


class ErrorReport(BaseModel):
    model_version: str
    rows: int
    mape: float
    by_metro: list[MetroError]
    by_month: list[MonthError]
    worst_zipcodes: list[ZipError]
    residuals: Residuals


class ErrorDetail(BaseModel):
    row: int | None = None
    field: str | None = None
    message: str


class ErrorResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": [
                        {
                            "row": 0,
                            "field": "median_dom",
                            "message": "median_dom=-3 breaks the rule: days on market between 0 "
                            "and 10 years",
                        }
                    ]
                }
            ]
        }
    )
    detail: list[ErrorDetail]


class ForecastPoint(BaseModel):
    month: str = Field(description="The month forecast, YYYY-MM.")
    step: int = Field(description="Months after the origin.")
    forecast: float
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float


class PastPrice(BaseModel):
    month: str
    price: float


class ZipForecast(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "zipcode": "75025",
                    "metro": "DAL",
                    "origin": "2023-12",
                    "last_price": 238410.0,
                    "model_version": "2022-01-f1",
                    "vintage": "2022-01",
                    "points": [
                        {
                            "month": "2024-01",
                            "step": 1,
                            "forecast": 238950.0,
                            "lower_80": 235100.0,
                            "upper_80": 242700.0,
                            "lower_95": 233000.0,
                            "upper_95": 244900.0,
                        }
                    ],
                    "history": [{"month": "2023-11", "price": 237980.0}],
                }
            ]
        }
    )
    zipcode: str
    metro: str
    origin: str = Field(description="The last month with a known price: the forecast's start.")
    last_price: float
    model_version: str = Field(description="The published forecaster's version.")
    vintage: str
    points: list[ForecastPoint]
    history: list[PastPrice] = Field(
        default_factory=list, description="The zip's actual prices before the origin (?history=N)."
    )


class MetroForecastPoint(ForecastPoint):
    zips: int
    last_price: float


class MetroForecast(BaseModel):
    metro: str
    origin: str
    model_version: str
    vintage: str
    summary: str = Field(description="What the line is: the metro's average zip.")
    points: list[MetroForecastPoint]
    history: list[PastPrice] = Field(default_factory=list)


class ForecastCatalog(BaseModel):
    model_version: str
    vintage: str
    origin: str
    horizon: int
    metros: dict[str, list[int]]
    backtest: dict = Field(description="The holdout backtest the forecaster's gate judged.")


class ForecastRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zipcodes: list[int] = Field(min_length=1, max_length=1000, description="Up to 1,000 zips.")
    months: int = Field(default=12, ge=1, description="Months ahead, 1..the served horizon.")


class ForecastBatch(BaseModel):
    model_version: str
    origin: str
    forecasts: list[ZipForecast]
