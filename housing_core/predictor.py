"""Predict prices with intervals from a model + feature state + zip history: training, the gate
and the API."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import xgboost as xgb

from housing_core import anchors as A
from housing_core import bundle as B
from housing_core import features as F
from housing_core import horizons
from housing_core.bundle import ANCHORS, Bundle
from housing_core.threads import SCORING_THREADS

TOP_CONTRIBUTIONS = 8


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
        # One thread per process (housing_core/threads.py): predictable latency beside other work, and
        # the API scales with workers.
        self.booster.set_param({"nthread": SCORING_THREADS})

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
        state = F.FeatureState.from_json(bundle.files[B.FEATURE_STATE].decode())
        conformal = json.loads(bundle.files[B.CONFORMAL])
        history = pd.read_parquet(io.BytesIO(bundle.files[ANCHORS]))
        return cls.from_model_json(
            bundle.files[B.MODEL],
            state,
            conformal,
            A.AnchorTable(history, state.stats),
            bundle.version,
        )

    def with_anchors(self, anchors: A.AnchorTable) -> Predictor:
        """The same model reading another zip history (a fresher one, or the holdout's)."""
        return Predictor(self.booster, self.state, self.conformal, anchors, self.version)

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """`predict_raw` on a frame: one output row per input row, same order and index, with
        the anchor month as 'YYYY-MM' (None when cold)."""
        out = self.predict_raw(F.Rows.from_frame(rows))
        out["anchor_month"] = np.array(
            [A.month_key(m) if m >= 0 else None for m in out["anchor_month"]], dtype=object
        )
        return pd.DataFrame(out, index=rows.index)

    def predict_raw(self, raw: F.Rows, *, explain: bool = False) -> dict:
        """Raw rows as a source or a client sends them -> prediction, lower/upper_{80,95},
        unseen_zip/unseen_metro flags, anchor_month (month index, -1 when cold), anchor_price
        and horizon (NaN when cold); with `explain`, also `contributions`: per row the
        TOP_CONTRIBUTIONS features by SHAP magnitude. The one scoring path: training's holdout,
        batch scoring, drift and the API all come here, so none applies a rule of its own."""
        rows = raw.readable()
        match = F.served_anchors(rows, self.anchors)
        X = F.matrix(rows, self.state, match)
        price = F.to_price(self.booster.inplace_predict(X), rows, self.state, match)
        h = F.horizon(rows, match)
        columns: dict = {"prediction": price}
        for level, (lo, hi) in horizons.intervals(
            price, horizons.bucket(h), self.conformal
        ).items():
            columns[f"lower_{level}"] = lo
            columns[f"upper_{level}"] = hi
        columns["unseen_zip"], columns["unseen_metro"] = F.flag_arrays(rows, self.state)
        columns["anchor_month"] = match.month
        columns["anchor_price"] = np.exp(match.column("anchor_log_price"))
        columns["horizon"] = h
        if explain:
            columns["contributions"] = self._contributions(X)
        return columns

    def _contributions(self, X: np.ndarray) -> list[list[dict]]:
        """XGBoost's own SHAP values (pred_contribs), top features by magnitude, bias left out."""
        names = self.state.features
        values = self.booster.predict(
            xgb.DMatrix(X, missing=np.nan, feature_names=names, nthread=SCORING_THREADS),
            pred_contribs=True,
        )[:, :-1]
        top = np.argsort(-np.abs(values), axis=1)[:, :TOP_CONTRIBUTIONS]
        return [
            [{"feature": names[j], "contribution": float(values[i, j])} for j in top[i]]
            for i in range(len(X))
        ]
