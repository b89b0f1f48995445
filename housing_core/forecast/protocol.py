"""The HouseTS benchmark's forecasting protocol, implemented exactly, and its scores.

One panel, months on one axis (T of them): train = the first round(0.7 T) months, validation up
to round(0.8 T), test the rest. Origins run from round(0.8 T) - 1 while o + H stays inside the
test months; each forecast uses the zip's history up to o and a forecaster fit only on target
months before the test start. Scored over every zip x origin x step in price space, beside
persistence (the last known price) and drift (the trailing 12-month growth carried on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from housing_core import horizons
from housing_core.forecast import intervals as I
from housing_core.forecast import model as M
from housing_core.forecast import signals as S
from housing_core.forecast import tuning
from housing_core.forecast.panel import Panel

CALIBRATION_FOLDS = 3  # years of out-of-sample residuals the bands start from


@dataclass(frozen=True)
class Split:
    n_months: int

    @property
    def validation_start(self) -> int:
        return round(0.7 * self.n_months)

    @property
    def test_start(self) -> int:
        return round(0.8 * self.n_months)

    def origins(self, steps: int) -> list[int]:
        return list(range(self.test_start - 1, self.n_months - steps))

    def describe(self, months: list[str], steps: int) -> str:
        o = self.origins(steps)
        return (
            f"T={self.n_months}: train {months[0]}..{months[self.validation_start - 1]}, "
            f"validation ..{months[self.test_start - 1]}, test {months[self.test_start]}.."
            f"{months[-1]}; H={steps}: {len(o)} origins {months[o[0]]}..{months[o[-1]]}"
            if o
            else f"T={self.n_months}: no origin fits H={steps}"
        )


@dataclass
class Run:
    forecaster: M.Forecaster
    points: pd.DataFrame  # zip x origin x step: actual, model, persistence, drift, bands


def forecast_points(
    examples: M.Examples,
    model: M.Forecaster,
    origins: list[int],
    steps: int,
    pool: I.Pool | None,
) -> pd.DataFrame:
    """Every zip x origin x step 1..steps with a price at the origin, with the bands known then
    (NaN bands without a pool)."""
    panel = examples.panel
    lp = np.log(panel.price)
    frames = []
    for o in origins:
        rows = examples.rows_at(o)
        anchor = lp[o]
        ok = np.isfinite(anchor)
        change = model.predict(examples.X[rows])[:, :steps]
        half = (
            pool.quantiles(as_of=o)
            if pool is not None
            else {lv: np.full(steps, np.nan) for lv in ("80", "95")}
        )
        trend = (anchor - lp[o - 12]) / 12 if o >= 12 else np.full_like(anchor, np.nan)
        trend = np.where(np.isfinite(trend), trend, 0.0)  # no trailing year: drift = persistence
        for h in range(1, steps + 1):
            if o + h >= panel.n_months:
                break
            centre = anchor + change[:, h - 1]
            unit = I.scale(change[:, h - 1], h)
            frames.append(
                pd.DataFrame(
                    {
                        "zipcode": panel.zips,
                        "origin": panel.months[o],
                        "step": h,
                        "actual": panel.price[o + h],
                        "model": np.exp(centre),
                        "persistence": np.exp(anchor),
                        "drift": np.exp(anchor + h * trend),
                        "lower_80": np.exp(centre - half["80"][h - 1] * unit),
                        "upper_80": np.exp(centre + half["80"][h - 1] * unit),
                        "lower_95": np.exp(centre - half["95"][h - 1] * unit),
                        "upper_95": np.exp(centre + half["95"][h - 1] * unit),
                    }
                )[ok]
            )
    if not frames:
        raise ValueError("no forecast point: no origin has a known price")
    return pd.concat(frames, ignore_index=True)


def run(
    panel: Panel,
    steps: int,
    window: int | None = 12,
    trials: int = 24,
    params: M.Params | None = None,
    seed: int = 0,
    on_trial=None,
) -> Run:
    split = Split(panel.n_months)
    origins = split.origins(steps)
    if not origins:
        raise ValueError(f"panel of {panel.n_months} months has no test origin for H={steps}")
    examples = M.Examples(panel, S.compute(panel, window))
    if params is None:
        params, _ = tuning.tune(
            examples, split.validation_start, split.test_start, trials, seed, on_trial
        )
    model = M.fit(examples, split.test_start - 1, params)
    pool = I.calibration_pool(examples, model, split.test_start, CALIBRATION_FOLDS)
    points = forecast_points(examples, model, origins, steps, pool)
    return Run(model, points.dropna(subset=["actual"]))


def scores(points: pd.DataFrame, column: str) -> dict:
    """MAPE, LogRMSE, MAE, RMSE (price space) and MAPE per step for one forecast column."""
    y, p = points["actual"].to_numpy(), points[column].to_numpy()
    ape = np.abs(p - y) / y
    per_step = pd.Series(ape * 100).groupby(points["step"].to_numpy()).mean()
    return {
        "mape": float(ape.mean() * 100),
        "log_rmse": float(np.sqrt(np.mean((np.log1p(p) - np.log1p(y)) ** 2))),
        "mae": float(np.abs(p - y).mean()),
        "rmse": float(np.sqrt(np.mean((p - y) ** 2))),
        "mape_by_step": {int(k): float(v) for k, v in per_step.items()},
        "points": len(y),
    }


def coverage(points: pd.DataFrame) -> dict:
    """Share of actuals inside the 80% and 95% bands, overall and per horizon bucket."""
    y = points["actual"].to_numpy()
    inside = {
        level: (y >= points[f"lower_{level}"].to_numpy())
        & (y <= points[f"upper_{level}"].to_numpy())
        for level in ("80", "95")
    }
    bucket = horizons.bucket(points["step"].to_numpy())
    out = {"overall": {lv: float(v.mean() * 100) for lv, v in inside.items()}}
    for label in horizons.LABELS:
        mask = bucket == label
        if mask.any():
            out[label] = {lv: float(v[mask].mean() * 100) for lv, v in inside.items()}
            out[label]["points"] = int(mask.sum())
    return out


def rolling_by_year(
    panel: Panel,
    window: int | None = 12,
    first_year: int = 2016,
    steps: int = 12,
    trials: int = 24,
    seed: int = 0,
) -> pd.DataFrame:
    """Every origin from `first_year` on, scored by origin year against persistence and drift.
    Each year gets its own forecaster, tuned and fit on the target months before that January,
    so a model that only fits one regime shows it."""
    examples = M.Examples(panel, S.compute(panel, window))
    rows = []
    for year in sorted({int(m[:4]) for m in panel.months if int(m[:4]) >= first_year}):
        start = panel.months.index(f"{year}-01") if f"{year}-01" in panel.months else None
        if start is None or not M.can_fit(examples, start - 13):
            continue  # too little history to tune this year's forecaster
        params, _ = tuning.tune(examples, start - 12, start, trials, seed)
        model = M.fit(examples, start - 1, params)
        origins = list(range(start, min(start + 12, panel.n_months - 1)))
        pool = I.calibration_pool(examples, model, start, CALIBRATION_FOLDS)
        points = forecast_points(examples, model, origins, steps, pool).dropna(subset=["actual"])
        row = {"year": year, "origins": len(origins), "points": len(points)}
        for column in ("model", "persistence", "drift"):
            row[column] = scores(points, column)["mape"]
        cover = coverage(points)["overall"]
        row["coverage_80"], row["coverage_95"] = cover["80"], cover["95"]
        rows.append(row)
    return pd.DataFrame(rows)
