"""Raw HouseTS rows -> model features: the ONE place, used by training and by the API.

No Dagster, no pickle: the fitted state is a plain JSON document (`FeatureState.to_json`), so the
serving image rebuilds exactly the features the model was trained on.

  * date parts: year, month, quarter;
  * zipcode frequency: share of train rows per zip (0 for a zip never seen -> flagged);
  * metro target encoding: smoothed mean log price per metro, fitted on TRAIN rows only; the
    train rows themselves get out-of-fold values (folds grouped by zipcode, so a zip's other
    months cannot leak its own price level into its encoding); unseen metro -> global mean;
  * missing values stay NaN (XGBoost learns where to send them), never 0;
  * `median_sale_price` is dropped by default (the reference pipeline's leakage rule).

Targets: `log_price` (log of the price index) or `log_ratio` (log of price over an anchor: the
month's median list price, else the census home value, else the metro level). Trees cannot
extrapolate a price level they never saw; a ratio to a contemporaneous anchor moves with the
market, which is why the holdout error of a level model doubles after the 2020-22 boom.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from housing_assets.lib import contract as c

LEAKAGE_DROP = ["median_sale_price"]
DATE_PARTS = ["year", "month", "quarter"]
ENCODED = ["zip_frequency", "metro_encoding"]
TARGETS = ("log_price", "log_ratio")
FOLDS = 5


def base_columns(drop: list[str] = LEAKAGE_DROP) -> list[str]:
    return [col for col in c.NUMERIC_COLUMNS if col != c.TARGET and col not in drop]


@dataclass
class FeatureState:
    target: str
    smoothing: float
    zip_frequency: dict[str, float]
    metro_encoding: dict[str, float]
    global_mean: float
    features: list[str]
    dropped: list[str]
    fitted_on: dict = field(default_factory=dict)
    version: int = 1

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureState:
        return cls(**json.loads(text))


def _log_price(df: pd.DataFrame) -> np.ndarray:
    return np.log(df[c.TARGET].to_numpy(dtype="float64"))


def _metro_means(metros: pd.Series, log_price: np.ndarray, smoothing: float, prior: float) -> dict:
    stats = (
        pd.DataFrame({"m": metros.to_numpy(), "y": log_price})
        .groupby("m")["y"]
        .agg(["sum", "count"])
    )
    encoded = (stats["sum"] + smoothing * prior) / (stats["count"] + smoothing)
    return {str(k): float(v) for k, v in encoded.items()}


def fit(train: pd.DataFrame, *, target: str = "log_ratio", smoothing: float = 20.0,
        drop: list[str] = LEAKAGE_DROP) -> FeatureState:  # fmt: skip
    """Fit the encoders on train rows only; raises if asked to fit on nothing."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if train.empty:
        raise ValueError("cannot fit feature state on an empty train split")
    y = _log_price(train)
    prior = float(y.mean())
    zips = train[c.ZIPCODE].map(c.format_zip)
    freq = zips.value_counts(normalize=True)
    return FeatureState(
        target=target,
        smoothing=smoothing,
        zip_frequency={str(k): float(v) for k, v in freq.sort_index().items()},
        metro_encoding=_metro_means(train[c.CITY], y, smoothing, prior),
        global_mean=prior,
        features=[*base_columns(drop), *DATE_PARTS, *ENCODED],
        dropped=list(drop),
        fitted_on={
            "rows": len(train),
            "first_date": train[c.DATE].min().strftime("%Y-%m-%d"),
            "last_date": train[c.DATE].max().strftime("%Y-%m-%d"),
        },
    )


def out_of_fold_metro_encoding(
    train: pd.DataFrame, state: FeatureState, seed: int = 0
) -> np.ndarray:
    """Metro encoding for the train rows, each computed without its own zip's rows."""
    zips = train[c.ZIPCODE].to_numpy()
    unique = np.unique(zips)
    fold_of_zip = np.random.default_rng(seed).permutation(len(unique)) % FOLDS
    fold = fold_of_zip[np.searchsorted(unique, zips)]
    y = _log_price(train)
    out = np.empty(len(train))
    for k in range(FOLDS):
        inside = fold == k
        means = _metro_means(
            train[c.CITY][~inside], y[~inside], state.smoothing, float(y[~inside].mean())
        )
        out[inside] = train[c.CITY][inside].map(means).fillna(state.global_mean).to_numpy()
    return out


def build(
    df: pd.DataFrame, state: FeatureState, metro_encoding: np.ndarray | None = None
) -> pd.DataFrame:
    """The model's input matrix (float32, columns in `state.features` order)."""
    missing = [
        col
        for col in [*base_columns(state.dropped), c.DATE, c.ZIPCODE, c.CITY]
        if col not in df.columns
    ]
    if missing:
        raise c.ContractError(f"cannot build features: missing columns {missing}")
    out = pd.DataFrame(index=df.index)
    for col in base_columns(state.dropped):
        out[col] = pd.to_numeric(df[col], errors="raise").astype("float32")
    date = pd.to_datetime(df[c.DATE])
    out["year"] = date.dt.year.astype("float32")
    out["month"] = date.dt.month.astype("float32")
    out["quarter"] = date.dt.quarter.astype("float32")
    zips = df[c.ZIPCODE].map(c.format_zip)
    out["zip_frequency"] = zips.map(state.zip_frequency).fillna(0.0).astype("float32")
    if metro_encoding is None:
        metro_encoding = df[c.CITY].map(state.metro_encoding).fillna(state.global_mean).to_numpy()
    out["metro_encoding"] = np.asarray(metro_encoding, dtype="float32")
    return out[state.features]


def flags(df: pd.DataFrame, state: FeatureState) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unseen_zip": ~df[c.ZIPCODE].map(c.format_zip).isin(state.zip_frequency.keys()),
            "unseen_metro": ~df[c.CITY].isin(state.metro_encoding.keys()),
        },
        index=df.index,
    )


def anchor(df: pd.DataFrame, state: FeatureState) -> np.ndarray:
    """Log of the level the ratio target is relative to (see module docstring)."""
    level = np.log(df["median_list_price"].where(df["median_list_price"] > 0))
    level = level.fillna(np.log(df["Median Home Value"].where(df["Median Home Value"] > 0)))
    fallback = df[c.CITY].map(state.metro_encoding).fillna(state.global_mean)
    return level.fillna(fallback).to_numpy(dtype="float64")


def target(df: pd.DataFrame, state: FeatureState) -> np.ndarray:
    y = _log_price(df)
    return y - anchor(df, state) if state.target == "log_ratio" else y


def to_price(prediction: np.ndarray, df: pd.DataFrame, state: FeatureState) -> np.ndarray:
    """Model output (log scale) -> price in dollars."""
    log_price = np.asarray(prediction, dtype="float64")
    if state.target == "log_ratio":
        log_price = log_price + anchor(df, state)
    return np.exp(log_price)
