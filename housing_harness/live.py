"""A landed month as the served model scored it, with chosen errors: for the live record's
tests (tests/core/test_live_performance.py, tests/serving/test_monitoring_api.py)."""

import numpy as np
import pandas as pd


def scored(n: int, model_error: float, anchor_error: float, horizon: float = 1.0) -> pd.DataFrame:
    """`n` zips priced $400k: the model off by `model_error`, the anchor (persistence) by
    `anchor_error`, bands of +-2% (80%) and +-5% (95%) around the prediction."""
    price = np.full(n, 400_000.0)
    prediction = price * (1 + model_error)
    return pd.DataFrame({
        "price": price,
        "prediction": prediction,
        "anchor_price": price * (1 + anchor_error),
        "horizon": horizon,
        "lower_80": prediction * 0.98, "upper_80": prediction * 1.02,
        "lower_95": prediction * 0.95, "upper_95": prediction * 1.05,
    })  # fmt: skip
