"""Predict prices with intervals from a model + feature state: training, the gate and the API."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xgboost as xgb

from housing_assets.lib import features as F
from housing_assets.lib.bundle import Bundle
from housing_assets.lib.metrics import intervals


class Predictor:
    def __init__(
        self,
        booster: xgb.Booster,
        state: F.FeatureState,
        conformal: dict,
        version: str = "unpublished",
    ):
        self.booster = booster
        self.state = state
        self.conformal = conformal
        self.version = version
        self.booster.set_param(
            {"nthread": 1}
        )  # predictable latency beside other work (stack notes)

    @classmethod
    def from_model_json(
        cls,
        model_json: str | bytes,
        state: F.FeatureState,
        conformal: dict,
        version: str = "unpublished",
    ) -> Predictor:
        booster = xgb.Booster()
        booster.load_model(
            bytearray(model_json.encode() if isinstance(model_json, str) else model_json)
        )
        return cls(booster, state, conformal, version)

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> Predictor:
        state = F.FeatureState.from_json(bundle.files["feature_state.json"].decode())
        conformal = json.loads(bundle.files["conformal.json"])
        return cls.from_model_json(
            bundle.files["model.json"], state, conformal["quantiles"], bundle.version
        )

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """One output row per input row, same order and index: prediction, intervals, flags."""
        return pd.DataFrame(self.predict_rows(F.Rows.from_frame(rows)), index=rows.index)

    def predict_rows(self, rows: F.Rows) -> dict[str, np.ndarray]:
        """The same on array rows (the API's path): prediction, lower/upper_{80,95}, flags."""
        lags = F.state_lag_arrays(rows, self.state)
        X = F.matrix(rows, self.state, lags=lags)
        price = F.to_price(self.booster.inplace_predict(X), rows, self.state, lags)
        columns = {"prediction": price}
        for level, (lo, hi) in intervals(price, self.conformal).items():
            columns[f"lower_{level}"] = lo
            columns[f"upper_{level}"] = hi
        columns["unseen_zip"], columns["unseen_metro"] = F.flag_arrays(rows, self.state)
        return columns
