"""Training benchmark: our tuning path vs the reference pipeline's way, same data, same splits.

    uv run python benchmarks/training.py --data full      # synthetic, 884k rows (~15 min)
    uv run python benchmarks/training.py --data sample    # the real HouseTS sample (~1 min)

reference: raw-price target, its features (date parts, zip frequency, smoothed metro target
           encoding, median_sale_price dropped), Optuna 15 trials over n_estimators 200-800,
           max_depth 3-10, learning_rate, subsample, colsample, gamma, alpha, lambda; picked on
           eval; no early stopping, no pruning; the picked model scored on the holdout.
ours:      housing_core/training.py as the platform runs it (change from the zip's anchor price,
           horizons sampled as served, early stopping, pruning, tuning on a sample, one refit on
           train + eval); its time includes the calibration examples and the refit.
Each method runs in its own process so peak RSS is its own. Vintage 2022-01 throughout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "housets_sample.csv"


def load_splits(data: str) -> pd.DataFrame:
    from housing_core import splits as S
    from housing_core.cleaning import clean_month
    from housing_core.sources import read_housets_csv
    from housing_core.synthetic import SyntheticSpec, generate_panel

    raw = (
        read_housets_csv(os.environ.get("HOUSETS_SAMPLE", SAMPLE))
        if data == "sample"
        else generate_panel(SyntheticSpec(scale=1.0))
    )
    months = raw["date"].dt.strftime("%Y-%m")
    panel = pd.concat([clean_month(g)[0] for _, g in raw.groupby(months)], ignore_index=True)
    return S.assign(panel, S.Windows("2022-01"))


def run_reference(splits: pd.DataFrame, trials: int, threads) -> dict:
    import optuna
    import xgboost as xgb

    from housing_core import features as F
    from housing_core import metrics, reference

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    parts = {
        k: splits[splits["split"] == k].reset_index(drop=True) for k in ("train", "eval", "holdout")
    }
    state = F.fit(parts["train"], target="log_price")
    X = {k: reference.matrix(v, state) for k, v in parts.items()}
    y = {k: v["price"].to_numpy() for k, v in parts.items()}
    nthread = threads.for_rows(len(parts["train"]))

    def model(params):
        return xgb.XGBRegressor(tree_method="hist", n_jobs=nthread, random_state=42, **params)

    def objective(trial):
        params = {
            "n_estimators": trial.suggest_int("n_estimators", 200, 800),
            "max_depth": trial.suggest_int("max_depth", 3, 10),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
            "gamma": trial.suggest_float("gamma", 0.0, 5.0),
            "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
        }
        fitted = model(params).fit(X["train"], y["train"])
        trial.set_user_attr("model", fitted)
        return metrics.regression(y["eval"], fitted.predict(X["eval"]))["mae"]

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=42))
    study.optimize(lambda t: objective(t), n_trials=trials)
    best = study.best_trial.user_attrs["model"]
    return {
        "holdout": metrics.regression(y["holdout"], best.predict(X["holdout"])),
        "best": study.best_params,
    }


def run_ours(splits: pd.DataFrame, trials: int, sample: float, threads) -> dict:
    from housing_core import evaluation, training, tuning
    from housing_core import features as F
    from housing_core.predictor import Predictor

    started = time.perf_counter()
    train_rows = splits[splits["split"] == "train"]
    state = F.fit(train_rows)
    settings = tuning.TuningSettings(n_trials=trials, timeout_s=1800, sample_fraction=sample)
    model = training.train(
        splits, state, settings, say=lambda m: print(f"  {m}", flush=True), threads=threads
    )
    trained = time.perf_counter()
    # evaluation.predictions anchors the holdout on the pre-holdout history itself, and fits the
    # reference-way baseline it reports beside ours: evaluation, timed apart from training.
    predictor = Predictor(
        model.booster, state, model.conformal, F.anchor_table(train_rows.iloc[:0], state)
    )
    rep = evaluation.report(evaluation.predictions(splits, predictor, threads=threads))
    return {
        "train_s": round(trained - started, 1),
        "evaluate_s": round(time.perf_counter() - trained, 1),
        "holdout": rep["model"],
        "coverage": rep["coverage"],
        "baselines": {k: b["baseline"]["mape"] for k, b in rep["baselines"].items()},
        "pruned": sum(t.state == "PRUNED" for t in model.tuning.trials),
        "rounds": model.rounds,
    }


def child(args) -> int:
    from housing_core.threads import ThreadBudget

    started = time.perf_counter()
    # This process alone on the machine; --nthread pins every fit as HOUSING_THREADS would.
    threads = ThreadBudget.detect(override=args.nthread)
    splits = load_splits(args.data)
    prepared = time.perf_counter()
    if args.method == "reference":
        out = run_reference(splits, args.reference_trials, threads)
    else:
        out = run_ours(splits, args.trials, args.sample if args.data == "full" else 1.0, threads)
    # Ours times its training apart from its evaluation (which also fits a reference baseline).
    out.setdefault("train_s", round(time.perf_counter() - prepared, 1))
    out.update(
        {
            "method": args.method,
            "data": args.data,
            "train_rows": int((splits["split"] == "train").sum()),
            "holdout_rows": int((splits["split"] == "holdout").sum()),
            "prepare_s": round(prepared - started, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
    )
    print("RESULT " + json.dumps(out, default=float), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["full", "sample"], default="sample")
    parser.add_argument("--method", choices=["reference", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["reference", "ours"])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--reference-trials", type=int, default=15)
    parser.add_argument("--sample", type=float, default=0.35, help="our tuning sample (full data)")
    parser.add_argument(
        "--nthread",
        type=int,
        default=None,
        help="threads per fit (default: housing_core/threads.py)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.method:
        return child(args)
    results = []
    for method in [args.only] if args.only else ["reference", "ours"]:
        print(f"running {method} on {args.data} ...", flush=True)
        cmd = [
            sys.executable,
            __file__,
            "--data",
            args.data,
            "--method",
            method,
            "--trials",
            str(args.trials),
            "--reference-trials",
            str(args.reference_trials),
            "--sample",
            str(args.sample),
            *(["--nthread", str(args.nthread)] if args.nthread else []),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            raise SystemExit(f"{method} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        results.append(json.loads(line[7:]))
        print(f"  {results[-1]}", flush=True)
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; data: {args.data}"
    )
    print(
        "| method | train rows | tuning + fit (s) | peak RSS (MB) | holdout MAPE | holdout MAE | holdout rows |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        h = r["holdout"]
        print(
            f"| {r['method']} | {r['train_rows']:,} | {r['train_s']} | {r['peak_rss_mb']} | {h['mape']:.2f}% | ${h['mae']:,.0f} | {r['holdout_rows']:,} |"
        )
    if len(results) == 2:
        print(f"\nspeed-up: {results[0]['train_s'] / results[1]['train_s']:.1f}x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
