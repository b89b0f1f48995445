"""Optuna picks the forecaster's settings on rolling-origin validation inside the history.

Three folds, each fit on the targets before a cut and scored on the next 12 target months: the
validation months and the two years before them, so a setting must hold across regimes rather
than win one. Nothing at or after the test start is seen.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import optuna

from housing_core.forecast import model as M

SCORED_STEPS = 12  # the benchmark's longest horizon; longer ones still fit, but don't steer tuning
FOLDS = 3


def fold_cuts(examples: M.Examples, validation_start: int, folds: int = FOLDS) -> list[int]:
    """The folds' first target months, oldest first; a fold without enough history is dropped."""
    cuts = (validation_start - 12 * k for k in range(folds - 1, -1, -1))
    return [c for c in cuts if M.can_fit(examples, c - 1)]


def validation_error(
    examples: M.Examples, params: M.Params, cuts: list[int], test_start: int
) -> float:
    """Mean absolute percentage error in price over the folds' target months (steps <= 12)."""
    errors = []
    for cut in cuts:
        model = M.fit(examples, cut - 1, params)
        end = min(cut + 12, test_start)
        for o in range(max(cut - SCORED_STEPS, 0), end - 1):
            rows = examples.rows_at(o)
            ok = examples.usable[rows]
            if not ok.any():
                continue
            pred = model.predict(examples.X[rows][ok])
            for h in range(1, SCORED_STEPS + 1):
                if cut <= o + h < end:
                    y = examples.Y[rows, h - 1][ok]
                    fine = np.isfinite(y)
                    errors.append(np.abs(np.expm1(pred[fine, h - 1] - y[fine])))
    if not errors:
        raise ValueError("forecast tuning: no validation target month inside the history")
    return float(np.concatenate(errors).mean() * 100)


def search_space(trial: optuna.Trial) -> M.Params:
    return M.Params(
        alpha=trial.suggest_float("alpha", 0.01, 300.0, log=True),
        half_life=float(trial.suggest_categorical("half_life", [0, 24, 48, 96])),
        shrink=trial.suggest_float("shrink", 0.5, 1.0),
        damping=trial.suggest_float("damping", 0.7, 0.97),
    )


def tune(
    examples: M.Examples,
    validation_start: int,
    test_start: int,
    trials: int = 24,
    seed: int = 0,
    on_trial: Callable[[int, M.Params, float, float], None] | None = None,
) -> tuple[M.Params, optuna.Study]:
    """The best Params and the study (each trial's fold error is its value). `on_trial` hears
    each trial's number (from 1), setting, validation MAPE and the best MAPE so far."""
    cuts = fold_cuts(examples, validation_start)
    if not cuts:
        raise ValueError(
            f"forecast tuning: too little history before {examples.panel.months[validation_start]} "
            f"for one validation fold (a fit needs {examples.horizon} months of targets)"
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    # The default settings are the first trial, so tuning can only improve on them.
    study.enqueue_trial({"alpha": 10.0, "half_life": 0, "shrink": 1.0, "damping": 0.9})

    def objective(trial: optuna.Trial) -> float:
        params = search_space(trial)
        value = validation_error(examples, params, cuts, test_start)
        if on_trial is not None:
            on_trial(trial.number + 1, params, value, min(value, _best(study, value)))
        return value

    study.optimize(objective, n_trials=trials)
    best = study.best_params
    params = M.Params(
        alpha=best["alpha"],
        half_life=float(best["half_life"]),
        shrink=best["shrink"],
        damping=best["damping"],
    )
    return params, study


def _best(study: optuna.Study, fallback: float) -> float:
    done = [t.value for t in study.trials if t.value is not None]
    return min(done) if done else fallback
