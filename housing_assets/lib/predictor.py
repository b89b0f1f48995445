"""Predict prices with intervals from a model + feature state + zip history: training, the gate
and the API."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import xgboost as xgb

from housing_assets.lib import anchors as A
from housing_assets.lib import features as F
from housing_assets.lib import horizons
from housing_assets.lib.bundle import ANCHORS, Bundle


class Predictor:
    def __init__(
        self,
        booster: xgb.Booster,
        state: F.FeatureState,
        conformal: dict,
        anchors: A.AnchorTable,
        version: str = "unpublished",
    ):
        self.booster = booster
        self.state = state
        self.conformal = conformal
        self.anchors = anchors
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
        anchors: A.AnchorTable,
        version: str = "unpublished",
    ) -> Predictor:
        booster = xgb.Booster()
        booster.load_model(
            bytearray(model_json.encode() if isinstance(model_json, str) else model_json)
        )
        return cls(booster, state, conformal, anchors, version)

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> Predictor:
        state = F.FeatureState.from_json(bundle.files["feature_state.json"].decode())
        conformal = json.loads(bundle.files["conformal.json"])
        history = pd.read_parquet(io.BytesIO(bundle.files[ANCHORS]))
        return cls.from_model_json(
            bundle.files["model.json"],
            state,
            conformal,
            A.AnchorTable(history, state.stats),
            bundle.version,
        )

    def with_anchors(self, anchors: A.AnchorTable) -> Predictor:
        """The same model reading another zip history (a fresher one, or the holdout's)."""
        return Predictor(self.booster, self.state, self.conformal, anchors, self.version)

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """One output row per input row, same order and index: prediction, intervals, flags,
        anchor month ('YYYY-MM', None when cold) and horizon."""
        out = self.predict_rows(F.Rows.from_frame(rows))
        out["anchor_month"] = np.array(
            [A.month_key(m) if m >= 0 else None for m in out["anchor_month"]], dtype=object
        )
        return pd.DataFrame(out, index=rows.index)

    def predict_rows(self, rows: F.Rows) -> dict[str, np.ndarray]:
        """The same on array rows (the API's path): prediction, lower/upper_{80,95}, flags,
        anchor_month (month index, -1 when cold), anchor_price and horizon (NaN when cold)."""
        match = F.served_anchors(rows, self.anchors)
        X = F.matrix(rows, self.state, match)
        price = F.to_price(self.booster.inplace_predict(X), rows, self.state, match)
        h = F.horizon(rows, match)
        columns = {"prediction": price}
        for level, (lo, hi) in horizons.intervals(
            price, horizons.bucket(h), self.conformal
        ).items():
            columns[f"lower_{level}"] = lo
            columns[f"upper_{level}"] = hi
        columns["unseen_zip"], columns["unseen_metro"] = F.flag_arrays(rows, self.state)
        columns["anchor_month"] = match.month
        columns["anchor_price"] = np.exp(match.column("anchor_log_price"))
        columns["horizon"] = h
        return columns
