"""What the final refit buys: the months after a retrain, served by the model published before it
(trained through eval's end, a year behind) and by the same parameters refit through the newest
month (holdout included) -- a rolling-origin comparison on the real DC panel.

    uv run python benchmarks/refit_value.py [--trials 12] [--json out.json]

For each origin M (data known through M), the platform retrains as the retraining sensor does:
vintage M-11 (the newest 12 months held out), `training.train` with `housing run`'s budget (12
trials on half the train rows) -- its booster, refit on train + eval, is what a bundle served
before -- then `training.final_refit` through M. Both predict months M+1..M+6 two ways:

  * fresh history: each row anchored on the month before it (the monthly history refresh serves
    this between retrains);
  * history frozen at M: horizons 1..6, as predicted on the day of the retrain.

Both use the same eval-calibrated interval quantiles; coverage is reported for each. Persistence
(the anchor price carried forward) is printed for scale.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from real_data import CASES, load

from housing_core import features as F
from housing_core import metrics, training, tuning
from housing_core import splits as S
from housing_core.predictor import Predictor

AHEAD = 6  # months a model serves before the next retrain (the sensor's 6-new-months rule)
ORIGINS = [str(p) for p in pd.period_range("2019-03", "2021-06", freq="3M")]


def retrain(panel: pd.DataFrame, origin: str, trials: int, seed: int) -> dict[str, Predictor]:
    """The two models a retrain at `origin` can publish, keyed 'published before' / 'refit'."""
    known = panel[panel["date"] <= pd.Period(origin, "M").to_timestamp()]
    vintage = str(pd.Period(origin, "M") - 11)
    rows = S.assign(known, S.Windows(vintage))
    state = F.fit(rows[rows[S.SPLIT] == S.TRAIN])
    settings = tuning.TuningSettings(
        n_trials=trials, timeout_s=None, seed=seed, sample_fraction=0.5, nthread=1
    )
    model = training.train(rows, state, settings)
    final = training.final_refit(rows, state, model.tuning.best_params, model.rounds, settings)
    empty = F.anchor_table(rows.iloc[:0], state)
    return {
        "before": Predictor(model.booster, state, model.conformal, empty),
        "refit": Predictor(final.booster, state, model.conformal, empty),
    }


def score(predictor: Predictor, rows: pd.DataFrame, anchors, only_h1: bool) -> dict:
    served = predictor.with_anchors(anchors).predict(rows)
    keep = served["horizon"].notna().to_numpy()
    if only_h1:
        keep &= served["horizon"].to_numpy() == 1
    y, p = rows["price"].to_numpy()[keep], served["prediction"].to_numpy()[keep]
    return {
        "rows": int(keep.sum()),
        "mape": metrics.regression(y, p)["mape"],
        "persistence": metrics.regression(y, served["anchor_price"].to_numpy()[keep])["mape"],
        "ape": list(np.abs(p / y - 1) * 100),
        "covered_80": int(
            metrics.coverage(
                y, served["lower_80"].to_numpy()[keep], served["upper_80"].to_numpy()[keep]
            )
            * keep.sum()
        ),
        "covered_95": int(
            metrics.coverage(
                y, served["lower_95"].to_numpy()[keep], served["upper_95"].to_numpy()[keep]
            )
            * keep.sum()
        ),
    }


def run(trials: int, seed: int) -> dict:
    path, _ = CASES["DC panel"]
    if not path.exists():
        print(f"{path} not found: nothing measured")
        return {}
    panel = load(path)
    out: dict = {}
    for origin in ORIGINS:
        started = time.perf_counter()
        models = retrain(panel, origin, trials, seed)
        start = pd.Period(origin, "M")
        ahead = panel[
            (panel["date"] > start.to_timestamp())
            & (panel["date"] <= (start + AHEAD).to_timestamp())
        ].reset_index(drop=True)
        state = models["refit"].state
        fresh = F.anchor_table(panel[panel["date"] <= (start + AHEAD).to_timestamp()], state)
        frozen = F.anchor_table(panel[panel["date"] <= start.to_timestamp()], state)
        out[origin] = {
            way: {
                name: score(model, ahead, anchors, only_h1=way == "fresh")
                for name, model in models.items()
            }
            for way, anchors in (("fresh", fresh), ("frozen", frozen))
        }
        print(f"origin {origin}: done in {time.perf_counter() - started:.1f}s", flush=True)
    return out


def pooled(results: dict, way: str, name: str) -> dict:
    parts = [r[way][name] for r in results.values()]
    ape = np.concatenate([p["ape"] for p in parts])
    n = sum(p["rows"] for p in parts)
    return {
        "rows": n,
        "mape": float(ape.mean()),
        "cover_80": sum(p["covered_80"] for p in parts) / n,
        "cover_95": sum(p["covered_95"] for p in parts) / n,
    }


def table(results: dict) -> str:
    lines = [
        "| origin (data through) | rows | fresh: before | fresh: refit | frozen: before | "
        "frozen: refit | frozen: persistence |",
        "|---|---|---|---|---|---|---|",
    ]
    for origin, r in results.items():
        fr, fz = r["fresh"], r["frozen"]
        lines.append(
            f"| {origin} | {fz['refit']['rows']} | {fr['before']['mape']:.2f}% | "
            f"{fr['refit']['mape']:.2f}% | {fz['before']['mape']:.2f}% | "
            f"{fz['refit']['mape']:.2f}% | {fz['refit']['persistence']:.2f}% |"
        )
    lines += [
        "",
        "| pooled over origins | rows | MAPE before | MAPE refit | refit / before | "
        "cover 80 / 95 before | cover 80 / 95 refit |",
        "|---|---|---|---|---|---|---|",
    ]
    for way, label in (("fresh", "fresh history (h = 1)"), ("frozen", "history frozen (h = 1..6)")):
        b, f = pooled(results, way, "before"), pooled(results, way, "refit")
        lines.append(
            f"| {label} | {b['rows']} | {b['mape']:.2f}% | {f['mape']:.2f}% | "
            f"{f['mape'] / b['mape']:.2f} | {b['cover_80']:.0%} / {b['cover_95']:.0%} | "
            f"{f['cover_80']:.0%} / {f['cover_95']:.0%} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = run(args.trials, args.seed)
    if not results:
        return 2
    print()
    print(table(results))
    if args.json:
        summary = {
            "origins": {
                o: {
                    w: {n: {k: v for k, v in s.items() if k != "ape"} for n, s in r[w].items()}
                    for w in r
                }
                for o, r in results.items()
            },
            "pooled": {
                w: {n: pooled(results, w, n) for n in ("before", "refit")}
                for w in ("fresh", "frozen")
            },
        }
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
