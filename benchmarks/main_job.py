"""Main-job benchmark: `housing run` end to end, and its ingest part alone.

    uv run python benchmarks/main_job.py                  # all four cases (~8 min)
    uv run python benchmarks/main_job.py --only ingest-full

Each case runs `housing run` as a fresh subprocess on an empty HOUSING_HOME (so the numbers
include interpreter start, imports, the Dagster instance and MLflow's first database setup)
and reports wall time and the peak RSS of that process. Targets on a 2-core machine:
ingest at full scale <= 90 s and <= 4 GB; default main job <= 3 min; full main job <= 5 min.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from housing_harness.cli_output import holdout_mape

REPO = Path(__file__).resolve().parents[1]
CASES = {  # in growing peak memory: children's ru_maxrss only ever grows
    "ingest-default": ["--no-train"],
    "main-default": [],
    "ingest-full": ["--full", "--no-train"],
    "main-full": ["--full"],
}


def run_case(name: str, extra: list[str], keep: Path | None = None) -> dict:
    """`keep`: run in this (empty or new) home and leave it there (the benchmark suite serves
    its bundle to the API and dashboard benchmarks); default: a temporary home."""
    if keep is not None:
        if keep.exists() and any(keep.iterdir()):
            raise SystemExit(f"--home {keep} is not empty: the case must start from nothing")
        keep.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.nullcontext(str(keep))
        if keep is not None
        else tempfile.TemporaryDirectory(prefix=f"housing-bench-{name}-")
    ) as home:
        env = {**os.environ, "HOUSING_HOME": home}
        env.pop("DAGSTER_HOME", None)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "housing_assets.cli", "run", *extra],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if proc.returncode != 0:
            raise SystemExit(f"{name} run failed:\n{proc.stdout}\n{proc.stderr}")
        months = sum(1 for _ in Path(home, "data", "cleaned_monthly").glob("*.parquet"))
    mape = holdout_mape(proc.stdout) or "-"
    # ru_maxrss of children is the max over all children so far: cases run in growing size.
    return {
        "case": name,
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(max(peak_kb, before) / 1024),
        "months": months,
        "holdout_mape": mape,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CASES))
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--home", type=Path, help="with --only: run there and keep the home")
    args = parser.parse_args()
    if args.home and not args.only:
        parser.error("--home needs --only (one case, one home)")
    names = [args.only] if args.only else list(CASES)
    results = []
    for name in names:
        print(f"running {name} ...", flush=True)
        results.append(run_case(name, CASES[name], args.home))
        print(f"  {results[-1]}", flush=True)
    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print("| case | wall (s) | peak RSS (MB) | months | holdout MAPE (%) |")
    print("|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['case']} | {r['wall_s']} | {r['peak_rss_mb']} | {r['months']} | {r['holdout_mape']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
