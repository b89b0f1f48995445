"""The forecaster's cost at scale: tuning, fit and holdout backtest of one vintage on the
synthetic panel, with the process's peak memory.

    uv run python benchmarks/forecast_scale.py [--scale 1.0] [--trials 24]

What the `forecast` job does for vintage 2022-01 (housing_core/forecast: tune on rolling-origin folds of
the months before it, fit, backtest every holdout origin and step 1-24 with calibrated bands),
timed step by step on `--scale` of the full ~6,226 zips (1.0: 884k rows).
"""

from __future__ import annotations

import argparse
import resource
import time

import pandas as pd

from housing_core.cleaning import clean_month
from housing_core.forecast import backtest, tuning
from housing_core.forecast import intervals as I
from housing_core.forecast import model as M
from housing_core.forecast import protocol as P
from housing_core.forecast import signals as S
from housing_core.forecast.panel import Panel
from housing_core.synthetic import SyntheticSpec, generate_panel

VINTAGE, EVAL_START = "2022-01", "2020-01"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--trials", type=int, default=24)
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def lap(what: str, since: float) -> float:
        now = time.perf_counter()
        print(f"{what:38s} {now - since:7.1f} s", flush=True)
        return now

    raw = generate_panel(SyntheticSpec(seed=7, scale=args.scale))
    rows = pd.concat([clean_month(g)[0] for _, g in raw.groupby("date")], ignore_index=True)
    t = lap(f"panel: {len(rows):,} cleaned rows", started)
    history = Panel.from_rows(rows[rows["date"] < pd.Timestamp(VINTAGE)])
    examples = M.Examples(history, S.compute(history, 12))
    t = lap(f"signals: {len(examples.X):,} origins x zips", t)
    params, _ = tuning.tune(examples, history.index(EVAL_START), history.n_months, args.trials)
    t = lap(f"tuning: {args.trials} trials x 3 folds", t)
    model = M.fit(examples, history.n_months - 1, params)
    t = lap("fit", t)
    full = Panel.from_rows(rows)
    every = M.Examples(full, S.compute(full, 12))
    start = full.index(VINTAGE)
    pool = I.calibration_pool(every, model, start, P.CALIBRATION_FOLDS)
    points = P.forecast_points(every, model, list(range(start - 1, full.n_months - 1)), 24, pool)
    rep = backtest.report(points.dropna(subset=["actual"]))
    lap(f"backtest: {rep['points']:,} points", t)
    overall = rep["overall"]
    print(
        f"total {time.perf_counter() - started:.1f} s, peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB; backtest MAPE "
        f"{overall['model']:.2f}% (persistence {overall['persistence']:.2f}%, drift "
        f"{overall['drift']:.2f}%)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
