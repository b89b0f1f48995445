"""Where does a second XGBoost thread start to pay? One hist fit per row count, 1 vs 2 threads.

    uv run python benchmarks/thread_crossover.py            # ~1 min on 2 idle cores
    uv run python benchmarks/thread_crossover.py --busy     # with one CPU-bound neighbour
    uv run python benchmarks/thread_crossover.py --busy --wait active   # OpenMP's default

The platform's model setting (hist, depth 6, 40 float features, 100 rounds) on random rows;
each (rows, threads) fit runs `--repeats` times, interleaved, and the fastest counts (the
machine is shared: the minimum is the least disturbed). housing_core/threads.py's SMALL_INPUT_ROWS is
the row count below which 2 threads were no faster than 1 here. `--wait` is OpenMP's wait
policy: passive (the platform's, housing_core/threads.configure_openmp) or active (OpenMP's default:
waiting threads spin).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROWS = (1_000, 4_000, 16_000, 64_000, 256_000)
FEATURES = 40
ROUNDS = 100


def fit_seconds(X: np.ndarray, y: np.ndarray, nthread: int) -> float:
    import xgboost as xgb

    data = xgb.DMatrix(X, label=y, nthread=nthread)
    params = {"tree_method": "hist", "max_depth": 6, "nthread": nthread, "seed": 0}
    started = time.perf_counter()
    xgb.train(params, data, num_boost_round=ROUNDS)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--busy", action="store_true", help="one CPU-bound neighbour process")
    parser.add_argument("--wait", choices=("passive", "active"), default="passive")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    os.environ["OMP_WAIT_POLICY"] = args.wait.upper()  # read when XGBoost (libgomp) loads
    print(f"OMP_WAIT_POLICY={args.wait.upper()}{', one busy neighbour' if args.busy else ''}")
    rng = np.random.default_rng(0)
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    out = []
    try:
        for rows in ROWS:
            X = rng.normal(size=(rows, FEATURES)).astype("float32")
            y = X[:, 0] * 2 + np.sin(X[:, 1]) + rng.normal(scale=0.1, size=rows)
            best = {1: float("inf"), 2: float("inf")}
            for _ in range(args.repeats):
                for nthread in (1, 2):
                    best[nthread] = min(best[nthread], fit_seconds(X, y, nthread))
            out.append({
                "rows": rows,
                "one_thread_s": round(best[1], 3),
                "two_threads_s": round(best[2], 3),
                "speedup": round(best[1] / best[2], 2),
            })  # fmt: skip
            print(
                f"{rows:>8,} rows  1 thread {best[1]:7.3f} s  2 threads {best[2]:7.3f} s  "
                f"speed-up {best[1] / best[2]:.2f}x",
                flush=True,
            )
    finally:
        if neighbour is not None:
            neighbour.terminate()
            neighbour.wait()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
