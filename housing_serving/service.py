"""Scoring: validated rows -> contract frame -> predictions, intervals, flags, explanations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xgboost as xgb

from housing_assets.lib import contract as c
from housing_assets.lib import features as F
from housing_serving.model_holder import LoadedModel

TOP_CONTRIBUTIONS = 8
# 0.0 is HouseTS's "not reported" for market stats and census fields: allowed, read as missing.
ZERO_ALLOWED = set(c.MARKET_STATS) | set(c.CENSUS_COLUMNS)


class InputError(ValueError):
    """Values that break the contract: carries per-row details for a 422 answer."""

    def __init__(self, details: list[dict]):
        super().__init__("; ".join(d["message"] for d in details[:5]))
        self.details = details


def frame_from_records(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=c.COLUMNS)
    frame[c.DATE] = (
        pd.to_datetime(frame[c.DATE]).dt.to_period("M").dt.to_timestamp(how="end").dt.normalize()
    )
    frame[c.YEAR] = frame[c.YEAR].fillna(frame[c.DATE].dt.year).astype("int64")
    frame[c.CITY_FULL] = frame[c.CITY_FULL].fillna(frame[c.CITY].map(c.METROS))
    for col in c.NUMERIC_COLUMNS:
        frame[col] = pd.to_numeric(frame[col], errors="raise").astype("float64")
    frame[c.ZIPCODE] = frame[c.ZIPCODE].astype("int64")
    return frame


def check_ranges(frame: pd.DataFrame) -> None:
    """422-worthy values: outside the contract's plausible ranges (not-reported zeros allowed)."""
    details = []
    for col, rule in c.RANGES.items():
        values = frame[col]
        bad = values.notna() & ((values < rule.low) | (values > rule.high))
        if col in ZERO_ALLOWED:
            bad &= values != 0
        for row in np.flatnonzero(bad.to_numpy())[:20]:
            details.append({"row": int(row), "field": col,
                            "message": f"{col}={values.iloc[row]:g} breaks the rule: {rule.rule}"})  # fmt: skip
    if details:
        raise InputError(details)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """HouseTS zeros that mean 'not reported' become missing, as cleaning does before training."""
    out = frame.copy()
    zero_market = c.all_zero_market(out)
    out.loc[zero_market, c.MARKET_STATS] = np.nan
    for col in [*c.MARKET_PRICE_STATS, "median_dom", "avg_sale_to_list", "Median Home Value"]:
        out.loc[out[col] == 0, col] = np.nan
    out.loc[out["Total Population"] == 0, c.CENSUS_COLUMNS] = np.nan
    return out


def score(model: LoadedModel, frame: pd.DataFrame, ids: list, explain: bool) -> list[dict]:
    rows = readable(frame)
    scored = model.predictor.predict(rows)
    contributions = _contributions(model, rows) if explain else None
    out = []
    actual = frame[c.TARGET].to_numpy(dtype="float64")
    for i in range(len(frame)):
        p = float(scored["prediction"].iat[i])
        item = {
            "id": ids[i],
            "row": i,
            "prediction": p,
            "interval_80": (float(scored["lower_80"].iat[i]), float(scored["upper_80"].iat[i])),
            "interval_95": (float(scored["lower_95"].iat[i]), float(scored["upper_95"].iat[i])),
            "flags": [f for f in ("unseen_zip", "unseen_metro") if bool(scored[f].iat[i])],
        }
        if np.isfinite(actual[i]):
            item.update(
                actual=float(actual[i]),
                error=p - actual[i],
                abs_pct_error=abs(p - actual[i]) / actual[i] * 100,
            )
        if contributions is not None:
            item["contributions"] = contributions[i]
        out.append(item)
    return out


def _contributions(model: LoadedModel, rows: pd.DataFrame) -> list[list[dict]]:
    """XGBoost's own SHAP values (pred_contribs), top features by magnitude, bias left out."""
    X = F.build(rows, model.predictor.state)
    values = model.predictor.booster.predict(xgb.DMatrix(X, missing=np.nan), pred_contribs=True)[
        :, :-1
    ]
    names = list(X.columns)
    top = np.argsort(-np.abs(values), axis=1)[:, :TOP_CONTRIBUTIONS]
    return [
        [{"feature": names[j], "contribution": float(values[i, j])} for j in top[i]]
        for i in range(len(rows))
    ]
