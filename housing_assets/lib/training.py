"""Train one vintage: tune on train/eval, calibrate intervals on eval, refit on train + eval."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from housing_assets.lib import contract as c
from housing_assets.lib import features as F
from housing_assets.lib import metrics, tuning
from housing_assets.lib.splits import EVAL, HOLDOUT, SPLIT, TRAIN


@dataclass
class TrainedModel:
    booster: xgb.Booster  # refit on train + eval: the model that is published
    rounds: int
    tuning: tuning.TuningResult
    conformal: dict[str, list[float]]
    eval_metrics: dict[str, float]  # of the train-only model: what calibrated the intervals
    importance: dict[str, float]


def train(
    splits: pd.DataFrame,
    state: F.FeatureState,
    settings: tuning.TuningSettings,
    *,
    storage: str | None = None,
    study_name: str = "housing",
    on_trial: Callable[[tuning.TrialResult], None] | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> TrainedModel:
    train_rows = splits[splits[SPLIT] == TRAIN].reset_index(drop=True)
    eval_rows = splits[splits[SPLIT] == EVAL].reset_index(drop=True)
    known = splits[splits[SPLIT] != HOLDOUT]
    # Random 1..24-month lags from the panel itself: served rows see the same range of lags.
    lags_train = F.history_lags(train_rows, known, settings.seed)
    lags_eval = F.history_lags(eval_rows, known, settings.seed + 1)
    oof = F.out_of_fold_metro_encoding(train_rows, state, settings.seed)
    X_train = F.build(train_rows, state, oof, lags=lags_train)
    y_train = F.target(train_rows, state, lags_train)
    X_eval = F.build(eval_rows, state, lags=lags_eval)
    y_eval = F.target(eval_rows, state, lags_eval)
    sample = tuning.sample_rows(len(train_rows), settings.sample_fraction, settings.seed)
    d_tune = xgb.DMatrix(X_train.iloc[sample], label=y_train[sample], missing=np.nan)
    d_eval = xgb.DMatrix(X_eval, label=y_eval, missing=np.nan)
    say(f"tuning on {len(sample):,} train rows, early stopping on {len(eval_rows):,} eval rows")
    result = tuning.tune(
        d_tune, d_eval, settings, storage=storage, study_name=study_name, on_trial=on_trial
    )
    rounds = result.best_iteration + 1

    say(f"calibrating intervals: best params on all train rows, {rounds} rounds, residuals on eval")
    d_train = xgb.DMatrix(X_train, label=y_train, missing=np.nan)
    train_only = tuning.fit(result.best_params, rounds, d_train, settings)
    eval_price = F.to_price(train_only.predict(d_eval), eval_rows, state, lags_eval)
    residuals = np.log(eval_rows[c.TARGET].to_numpy()) - np.log(eval_price)
    conformal = metrics.conformal_quantiles(residuals)

    # More data supports proportionally more rounds at the same learning rate.
    refit_rounds = round(rounds * (len(train_rows) + len(eval_rows)) / len(train_rows))
    say(
        f"refitting on train + eval ({len(train_rows) + len(eval_rows):,} rows, {refit_rounds} rounds)"
    )
    d_all = xgb.DMatrix(
        pd.concat([X_train, X_eval], ignore_index=True),
        label=np.concatenate([y_train, y_eval]),
        missing=np.nan,
    )
    final = tuning.fit(result.best_params, refit_rounds, d_all, settings)
    gain = final.get_score(importance_type="total_gain")
    total = sum(gain.values()) or 1.0
    importance = {k: v / total for k, v in sorted(gain.items(), key=lambda kv: -kv[1])}
    return TrainedModel(
        final,
        refit_rounds,
        result,
        conformal,
        metrics.regression(eval_rows[c.TARGET], eval_price),
        importance,
    )
