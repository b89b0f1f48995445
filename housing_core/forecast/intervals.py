"""Bands per horizon from rolling-origin residuals, recalibrated as months land.

A residual enters the pool when its target month is known: out-of-sample ones from the rolling
refits before the forecaster's own history ends (`backtest_residuals`), then the served
forecaster's own as its forecasts come due. Bands at origin o come from the pool's last
`months` target months up to o, per horizon (a month ahead is far surer than two years).

Each residual is stored divided by its forecast's `scale`: a floor growing with the horizon plus
the size of the change forecast. Errors grow with the move a forecast calls for -- a boom's
forecasts miss by more than a flat year's -- so bands scaled by it carry from one regime to the
next, where raw residual quantiles from a calm window under-cover the boom that follows. Measured
on the real DC panel's protocol splits (tests: benchmarks/forecast_protocol.py): 80% bands at
H = 6 cover 47% of the 2020-21 boom with raw residuals, 75% scaled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from housing_core import metrics
from housing_core.forecast import model as M

CALIBRATION_MONTHS = 36
MIN_RESIDUALS = 20
RECENT = 6  # months of one-step errors that set the pace (`Pool.pace`)
SCALE_FLOOR = 0.001  # per sqrt(month): the band of a forecast of no change


def scale(change: np.ndarray, step: int | np.ndarray) -> np.ndarray:
    """The unit a forecast's band is measured in: floor * sqrt(h) + |forecast log change|."""
    return SCALE_FLOOR * np.sqrt(step) + np.abs(change)


@dataclass
class Pool:
    horizon: int
    target: list[np.ndarray] = field(default_factory=list)  # target month index per residual
    step: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)  # (log actual - log forecast) / scale

    def add(
        self,
        target: np.ndarray,
        step: np.ndarray,
        residual: np.ndarray,
        unit: np.ndarray | float = 1.0,
    ) -> None:
        value = np.asarray(residual, dtype="float64") / unit
        ok = np.isfinite(value)
        self.target.append(np.asarray(target)[ok])
        self.step.append(np.asarray(step)[ok])
        self.value.append(value[ok])

    def quantiles(self, as_of: int, months: int = CALIBRATION_MONTHS) -> dict[str, np.ndarray]:
        """Per level, the band's half-width in `scale` units for h = 1..horizon, as known at
        month `as_of`. A horizon with too few residuals borrows from the nearest longer horizon
        that has enough (a longer horizon is never surer), the longest from the nearest shorter.
        """
        if not self.value:
            raise ValueError("interval pool is empty: no residual to calibrate on")
        target = np.concatenate(self.target)
        step = np.concatenate(self.step)
        value = np.concatenate(self.value)
        recent = (target <= as_of) & (target > as_of - months)
        own: dict[int, dict] = {}
        for h in range(1, self.horizon + 1):
            part = value[recent & (step == h)]
            if len(part) >= MIN_RESIDUALS:
                own[h] = metrics.conformal_quantiles(part)
        if not own:
            raise ValueError(
                f"interval pool: fewer than {MIN_RESIDUALS} residuals at every horizon "
                f"in the {months} months to month index {as_of}"
            )
        out = {level: np.zeros(self.horizon) for level in next(iter(own.values()))}
        for h in range(1, self.horizon + 1):
            longer = [k for k in own if k >= h]
            donor = min(longer) if longer else max(own)
            for level, (_, high) in own[donor].items():
                out[level][h - 1] = high
        pace = self.pace(target, step, value, as_of, months)
        return {level: half * pace for level, half in out.items()}

    @staticmethod
    def pace(target, step, value, as_of: int, months: int) -> float:
        """How the one-step errors of the last RECENT months run against the whole window's (at
        least 1): the one error that resolves at once, so a turn widens every horizon's band the
        month it shows, long before the turn's long-horizon residuals come due."""
        one = step == 1
        recent = np.abs(value[one & (target <= as_of) & (target > as_of - RECENT)])
        window = np.abs(value[one & (target <= as_of) & (target > as_of - months)])
        if len(recent) < MIN_RESIDUALS or len(window) < MIN_RESIDUALS or not window.mean() > 0:
            return 1.0
        return float(max(recent.mean() / window.mean(), 1.0))


def backtest_residuals(
    examples: M.Examples, params: M.Params, end: int, folds: int, pool: Pool
) -> None:
    """Out-of-sample residuals for target months end-12*folds .. end-1: each block of 12 target
    months forecast by a forecaster fit on the targets before the block."""
    for k in range(folds, 0, -1):
        cut = end - 12 * k
        if not M.can_fit(examples, cut - 1):
            continue  # too little history before this block to forecast it
        model = M.fit(examples, cut - 1, params)
        add_forecasts(
            examples,
            model,
            range(max(cut - examples.horizon, 0), cut + 12),
            pool,
            targets=(cut, min(cut + 12, end)),
        )


def add_forecasts(
    examples: M.Examples,
    model: M.Forecaster,
    origins,
    pool: Pool,
    targets: tuple[int, int],
) -> None:
    """Residuals of `model`'s forecasts from `origins` whose target month lies in [targets)."""
    lo, hi = targets
    for o in origins:
        rows = examples.rows_at(o)
        pred = model.predict(examples.X[rows])
        for h in range(1, examples.horizon + 1):
            if lo <= o + h < hi:
                r = examples.Y[rows, h - 1] - pred[:, h - 1]
                pool.add(np.full(len(r), o + h), np.full(len(r), h), r, scale(pred[:, h - 1], h))


def calibration_pool(examples: M.Examples, model: M.Forecaster, start: int, folds: int) -> Pool:
    """The pool for a forecaster fit on the targets before month `start`: `folds` years of
    rolling-origin residuals before it, then its own residuals as each target month lands."""
    pool = Pool(examples.horizon)
    backtest_residuals(examples, model.params, start, folds, pool)
    n_months = examples.panel.n_months
    add_forecasts(
        examples, model, range(max(start - examples.horizon, 0), n_months), pool, (start, n_months)
    )
    return pool
