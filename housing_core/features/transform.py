"""Rows + fitted state + anchors -> the model matrix, the target, flags, and back to prices."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from housing_core import anchors as A
from housing_core import contract as c
from housing_core.features.rows import NUMERIC_POSITION, Rows
from housing_core.features.state import (
    METRO_TRENDS,
    TRENDS,
    FeatureState,
    base_columns,
    log_prices,
)


def served_anchors(rows: Rows, table: A.AnchorTable) -> A.Match:
    """A served row's anchor: its zip's latest known month strictly before the row's month."""
    return table.lookup(rows.zip_numbers(), rows.months - 1)


def no_anchors(n: int, state: FeatureState) -> A.Match:
    """Every row on the cold path."""
    return A.Match.none(n, A.feature_names(state.stats))


def horizon(rows: Rows, match: A.Match) -> np.ndarray:
    """Months from the anchor to the row (NaN for a cold row)."""
    return np.where(match.found, rows.months - match.month, np.nan).astype("float64")


def _metro_lookup(rows: Rows, state: FeatureState) -> np.ndarray:
    return np.array(
        [state.metro_encoding.get(m, state.global_mean) for m in rows.metros], dtype="float64"
    )


def _log_list_price(rows: Rows) -> np.ndarray:
    return A.transform("median_list_price", rows.column("median_list_price"))


def _log_home_value(rows: Rows) -> np.ndarray:
    return A.transform("Median Home Value", rows.column("Median Home Value"))


def derived_columns(
    rows: Rows, state: FeatureState, match: A.Match, metro_encoding: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Every feature that is not a raw column of the row, by name."""
    h = horizon(rows, match)
    anchor = match.column("anchor_log_price")
    month = rows.months % 12 + 1
    out = {
        "year": rows.months // 12,
        "month": month,
        "quarter": (month - 1) // 3 + 1,
        "zip_frequency": np.array([state.zip_frequency.get(z, 0.0) for z in rows.zips]),
        "metro_encoding": _metro_lookup(rows, state) if metro_encoding is None else metro_encoding,
        "horizon": h,
        "list_vs_anchor": _log_list_price(rows) - anchor,
        "anchor_list_gap": match.column("smooth_median_list_price") - anchor,
        "home_value_vs_list": _log_home_value(rows) - _log_list_price(rows),
    }
    for name in A.FEATURES:
        out[name] = match.column(name)
    for name, (momentum, months) in {**TRENDS, **METRO_TRENDS}.items():
        out[name] = match.column(momentum) / months * h
    for stat in state.stats:
        now = A.transform(stat, rows.column(stat))
        out[f"change_{stat}"] = now - match.column(f"smooth_{stat}")
    return out


@lru_cache(maxsize=8)
def _column_plan(features: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, list]:
    """Where each feature comes from: (raw output columns, their raw input columns, the derived
    ones as (output column, name))."""
    raw = [(j, NUMERIC_POSITION[n]) for j, n in enumerate(features) if n in NUMERIC_POSITION]
    derived = [(j, n) for j, n in enumerate(features) if n not in NUMERIC_POSITION]
    return (
        np.array([j for j, _ in raw], dtype="int64"),
        np.array([k for _, k in raw], dtype="int64"),
        derived,
    )


def matrix(
    rows: Rows, state: FeatureState, match: A.Match, metro_encoding: np.ndarray | None = None
) -> np.ndarray:
    """The model's input matrix: float32, columns in `state.features` order."""
    derived = derived_columns(rows, state, match, metro_encoding)
    raw_out, raw_in, derived_out = _column_plan(tuple(state.features))
    out = np.empty((len(rows), len(state.features)), dtype="float32")
    out[:, raw_out] = rows.numeric[:, raw_in]
    for j, name in derived_out:
        out[:, j] = derived[name]
    return out


def build(
    df: pd.DataFrame,
    state: FeatureState,
    match: A.Match,
    metro_encoding: np.ndarray | None = None,
) -> pd.DataFrame:
    """The model's input matrix as a frame (feature names as columns, the rows' index)."""
    missing = [
        col
        for col in [*base_columns(state.dropped), c.DATE, c.ZIPCODE, c.CITY]
        if col not in df.columns
    ]
    if missing:
        raise c.ContractError(f"cannot build features: missing columns {missing}")
    X = matrix(Rows.from_frame(df), state, match, metro_encoding)
    return pd.DataFrame(X, columns=state.features, index=df.index)


def flag_arrays(rows: Rows, state: FeatureState) -> tuple[np.ndarray, np.ndarray]:
    """(unseen_zip, unseen_metro) as boolean arrays."""
    return (
        np.array([z not in state.zip_frequency for z in rows.zips], dtype=bool),
        np.array([m not in state.metro_encoding for m in rows.metros], dtype=bool),
    )


def flags(df: pd.DataFrame, state: FeatureState) -> pd.DataFrame:
    unseen_zip, unseen_metro = flag_arrays(Rows.from_frame(df), state)
    return pd.DataFrame({"unseen_zip": unseen_zip, "unseen_metro": unseen_metro}, index=df.index)


def cold_level(rows: Rows, state: FeatureState) -> np.ndarray:
    """An unseen zip's level: the median of the logs of its median list price, its census home
    value and its metro's encoded level, of those known. Either of the first two alone is ~0.26
    log sd from the price on the real sample, and a single mistyped or unrepresentative month
    ($8.6M list price for a $2.7M zip) would carry a prediction with it; the median of three
    drops the odd one out."""
    known = np.column_stack(
        [_log_list_price(rows), _log_home_value(rows), _metro_lookup(rows, state)]
    )
    return np.nanmedian(np.where(np.isfinite(known), known, np.nan), axis=1)


def log_level(rows: Rows, state: FeatureState, match: A.Match) -> np.ndarray:
    """The log level the target is relative to (0 for the log_price target): the zip's anchor
    price, else the cold level."""
    if state.target == "log_price":
        return np.zeros(len(rows))
    anchor = match.column("anchor_log_price")
    if match.found.all():
        return anchor
    return np.where(np.isnan(anchor), cold_level(rows, state), anchor)


def target(df: pd.DataFrame, state: FeatureState, match: A.Match) -> np.ndarray:
    """What the model learns for training rows: their log price relative to `log_level`."""
    return log_prices(df) - log_level(Rows.from_frame(df), state, match)


def to_price(prediction: np.ndarray, rows: Rows, state: FeatureState, match: A.Match) -> np.ndarray:
    """Model output (log scale, relative to the anchor level) -> price in dollars."""
    return np.exp(np.asarray(prediction, dtype="float64") + log_level(rows, state, match))
