"""Busy-machine benchmark: `housing run` quiet and beside one CPU-bound neighbour,
with the old fixed 2 XGBoost threads and with the thread budget (housing_core/threads.py).

    uv run python benchmarks/busy_machine.py                 # sample + default scale (~25 min)
    uv run python benchmarks/busy_machine.py --quick         # sample + scale 0.05
    uv run python benchmarks/busy_machine.py --only sample

Each case is a fresh `housing run` process on an empty HOUSING_HOME: `--source` the real HouseTS
sample (../shared/data/housets_sample.csv, skipped with a message when absent) or the synthetic
default. "before" forces HOUSING_THREADS=2 (a fixed thread count for every fit); "after" leaves
the budget to decide. "busy" starts one `while True: pass` Python process, pinned nowhere, for
the case's duration. Per case: wall time, the run's CPU time (user + system, from the kernel's
rusage), the holdout MAPE (the same before and after: the thread count does not change the
model) and the 1-minute load average when it started. Slowdown = busy wall / quiet wall.
Targets from the issue: the sample run <= 60 s quiet, and <= 2.5x that with one neighbour.
A case still running after --timeout seconds is stopped and reported as "> timeout".
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from housing_harness.cli_output import holdout_mape

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(
    os.environ.get("HOUSETS_SAMPLE", REPO.parent / "shared" / "data" / "housets_sample.csv")
)
THREADS = {"before": "2", "after": None}  # HOUSING_THREADS per variant


def run_case(extra: list[str], threads: str | None, busy: bool, timeout: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "HOUSING_THREADS")}
    if threads:
        env["HOUSING_THREADS"] = threads
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    load = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory(prefix="housing-bench-busy-") as home:
            env["HOUSING_HOME"] = home
            log = Path(home) / "run.log"
            stopped = threading.Event()
            started = time.perf_counter()
            with log.open("w") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "housing_assets.cli", "run", *extra],
                    cwd=REPO,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

                def stop() -> None:
                    stopped.set()
                    # SIGKILL: on SIGTERM `housing run` finishes its step first (seen: 584 s).
                    os.killpg(proc.pid, signal.SIGKILL)

                timer = threading.Timer(timeout, stop)
                timer.start()
                # The run's own rusage (and its waited-for children's), not the neighbour's.
                _, status, usage = os.wait4(proc.pid, 0)
                timer.cancel()
            wall = time.perf_counter() - started
            code = os.waitstatus_to_exitcode(status)
            output = log.read_text()
    finally:
        if neighbour is not None:
            neighbour.terminate()
            neighbour.wait()
    timed_out = stopped.is_set()
    if code != 0 and not timed_out:
        raise SystemExit(f"housing run {' '.join(extra)} failed (exit {code}):\n{output[-3000:]}")
    mape = holdout_mape(output) or "-"
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "timed_out": timed_out,
        "mape": mape,
        "load_1m": round(load, 1),
    }


def wall(case: dict) -> str:
    return f"> {case['wall_s']} s (stopped)" if case["timed_out"] else f"{case['wall_s']} s"


def slowdown(case: dict) -> str:
    if case["slowdown"] is None:
        return "unknown (quiet run stopped)"
    return f"{'> ' if case['timed_out'] else ''}{case['slowdown']}x"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the default run at scale 0.05")
    parser.add_argument("--only", choices=["sample", "default"])
    parser.add_argument("--timeout", type=float, default=900, help="per case, seconds")
    parser.add_argument("--variant", choices=list(THREADS), help="only this thread setting")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    data = {
        "sample": ["--source", str(SAMPLE)],
        "default": ["--scale", "0.05"] if args.quick else [],
    }
    if args.only:
        data = {args.only: data[args.only]}
    if "sample" in data and not SAMPLE.exists():
        print(f"skipping the sample cases: {SAMPLE} is absent", flush=True)
        del data["sample"]
    cases = []
    for name, extra in data.items():
        # Side by side: each variant quiet, then each beside the neighbour, one after another.
        for busy in (False, True):
            for variant, threads in THREADS.items():
                if args.variant and variant != args.variant:
                    continue
                case = run_case(extra, threads, busy, args.timeout)
                case.update(data=name, variant=variant, busy=busy, threads=threads or "budget")
                cases.append(case)
                print(
                    f"{name:8} {variant:6} {'busy' if busy else 'quiet':5}  wall {wall(case)}  "
                    f"cpu {case['cpu_s']} s  MAPE {case['mape']}%  load {case['load_1m']:.1f}",
                    flush=True,
                )
    for case in cases:
        quiet = next(
            c
            for c in cases
            if (c["data"], c["variant"], c["busy"]) == (case["data"], case["variant"], False)
        )
        # Unknown when the quiet run itself was stopped; a lower bound when only this one was.
        case["slowdown"] = (
            None if quiet["timed_out"] else round(case["wall_s"] / quiet["wall_s"], 2)
        )
    print()
    print("| run | threads | quiet: wall / CPU | one neighbour: wall / CPU | slowdown | MAPE |")
    print("|---|---|---|---|---|---|")
    for name in data:
        for variant in [args.variant] if args.variant else THREADS:
            q, b = (
                next(
                    c
                    for c in cases
                    if (c["data"], c["variant"], c["busy"]) == (name, variant, busy)
                )
                for busy in (False, True)
            )
            print(
                f"| {name} | {variant} ({q['threads']}) | {wall(q)} / {q['cpu_s']} s | "
                f"{wall(b)} / {b['cpu_s']} s | {slowdown(b)} | {q['mape']}% / {b['mape']}% |"
            )
    if args.json:
        args.json.write_text(json.dumps(cases, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
