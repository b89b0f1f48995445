"""The reference pipeline's way, as a baseline scored on the same holdout rows as our model.

A price-LEVEL XGBoost on the row's own stats, date parts, zip frequency and the metro target
encoding -- no zip history -- trained on the train split, as the public tutorial pipeline does.
Their Optuna search picks on eval; here one fixed mid-range setting of that search space stands
in for it (one fit instead of fifteen), on at most MAX_ROWS train rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xgboost as xgb

from housing_core import contract as c
from housing_core import features as F
from housing_core.threads import ThreadBudget

PARAMS = {
    "objective": "reg:squarederror",
    "tree_method": "hist",
    "max_depth": 6,
    "learning_rate": 0.1,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
}
ROUNDS = 400
MAX_ROWS = 200_000


DATE_PARTS = ["year", "month", "quarter"]  # the reference's own (ours leave the year out)


def matrix(rows: pd.DataFrame, state: F.FeatureState) -> np.ndarray:
    base = F.Rows.from_frame(rows)
    derived = F.derived_columns(base, state, F.no_anchors(len(rows), state))
    own = [base.column(name) for name in F.base_columns(state.dropped)]
    return np.column_stack(own + [derived[name] for name in [*DATE_PARTS, *F.ENCODED]])


def predict(
    train: pd.DataFrame,
    target: pd.DataFrame,
    state: F.FeatureState,
    *,
    seed: int = 0,
    threads: ThreadBudget | None = None,
) -> np.ndarray:
    """Fit on `train` (sampled down to MAX_ROWS), predict `target`'s prices; `threads`: the
    run's thread budget (default: this process's CPUs, one run)."""
    if len(train) > MAX_ROWS:
        train = train.sample(MAX_ROWS, random_state=seed)
    nthread = (threads or ThreadBudget.detect()).for_rows(len(train))
    data = xgb.DMatrix(matrix(train, state), label=train[c.TARGET].to_numpy(), missing=np.nan)
    booster = xgb.train({**PARAMS, "seed": seed, "nthread": nthread}, data, num_boost_round=ROUNDS)
    return booster.inplace_predict(matrix(target, state)).astype("float64")
