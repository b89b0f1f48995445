"""Scoring: validated rows -> contract frame -> predictions, intervals, flags, explanations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xgboost as xgb

from housing_assets.lib import contract as c
from housing_assets.lib import features as F
from housing_assets.lib.cleaning import CleaningReport, not_reported_to_missing
from housing_serving.model_holder import LoadedModel

TOP_CONTRIBUTIONS = 8
# 0.0 is HouseTS's "not reported" for market stats and census fields: allowed, read as missing.
ZERO_ALLOWED = set(c.MARKET_STATS) | set(c.CENSUS_COLUMNS)


class InputError(ValueError):
    """Values that break the contract: carries per-row details for a 422 answer."""

    def __init__(self, details: list[dict]):
        super().__init__("; ".join(d["message"] for d in details[:5]))
        self.details = details


NUMERIC = list(c.NUMERIC_COLUMNS)
_RANGE_COLUMNS = list(c.RANGES)
_LOW = np.array([c.RANGES[k].low for k in _RANGE_COLUMNS])
_HIGH = np.array([c.RANGES[k].high for k in _RANGE_COLUMNS])
_ZERO_OK = np.array([k in ZERO_ALLOWED for k in _RANGE_COLUMNS])


def frame_from_records(records: list[dict]) -> pd.DataFrame:
    """Validated request rows -> a frame in the contract's columns and dtypes (numpy, not per-cell pandas)."""
    numeric = np.array(
        [[r.get(k) for k in NUMERIC] for r in records], dtype="float64"
    )  # None -> nan
    frame = pd.DataFrame(numeric, columns=NUMERIC)
    dates = np.array([r[c.DATE] for r in records], dtype="datetime64[M]")
    frame[c.DATE] = (dates + 1).astype("datetime64[D]") - np.timedelta64(1, "D")  # month end
    frame[c.DATE] = frame[c.DATE].astype("datetime64[ns]")
    frame[c.ZIPCODE] = np.array([r[c.ZIPCODE] for r in records], dtype="int64")
    frame[c.YEAR] = dates.astype("int64") // 12 + 1970
    frame[c.CITY] = [r[c.CITY] for r in records]
    frame[c.CITY_FULL] = [r.get(c.CITY_FULL) or c.METROS.get(r[c.CITY]) for r in records]
    return frame[c.COLUMNS]


def check_ranges(frame: pd.DataFrame) -> None:
    """422-worthy values: outside the contract's plausible ranges (not-reported zeros allowed)."""
    values = frame[_RANGE_COLUMNS].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        bad = ((values < _LOW) | (values > _HIGH)) & ~(_ZERO_OK & (values == 0))
    if not bad.any():
        return
    details = []
    for row, j in np.argwhere(bad)[:20]:
        rule = c.RANGES[_RANGE_COLUMNS[j]]
        details.append(
            {
                "row": int(row),
                "field": _RANGE_COLUMNS[j],
                "message": f"{_RANGE_COLUMNS[j]}={values[row, j]:g} breaks the rule: {rule.rule}",
            }
        )
    raise InputError(details)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """HouseTS zeros that mean 'not reported' become missing, by the same rule cleaning applies
    before training (one implementation, so training and serving cannot drift apart)."""
    return not_reported_to_missing(frame, CleaningReport())


def score(model: LoadedModel, frame: pd.DataFrame, ids: list, explain: bool) -> list[dict]:
    rows = readable(frame)
    scored = model.predictor.predict(rows)
    contributions = _contributions(model, rows) if explain else None
    prediction = scored["prediction"].to_numpy()
    lo80, hi80 = scored["lower_80"].to_numpy(), scored["upper_80"].to_numpy()
    lo95, hi95 = scored["lower_95"].to_numpy(), scored["upper_95"].to_numpy()
    unseen_zip, unseen_metro = scored["unseen_zip"].to_numpy(), scored["unseen_metro"].to_numpy()
    actual = frame[c.TARGET].to_numpy(dtype="float64")
    out = []
    for i in range(len(frame)):
        p = float(prediction[i])
        item = {
            "id": ids[i],
            "row": i,
            "prediction": p,
            "interval_80": (float(lo80[i]), float(hi80[i])),
            "interval_95": (float(lo95[i]), float(hi95[i])),
            "flags": ["unseen_zip"] * bool(unseen_zip[i])
            + ["unseen_metro"] * bool(unseen_metro[i]),
        }
        if actual[i] == actual[i]:  # not NaN
            a = float(actual[i])
            item.update(actual=a, error=p - a, abs_pct_error=abs(p - a) / a * 100)
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
