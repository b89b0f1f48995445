"""Loop latency: a new month in the landing area -> the API serves it, through real processes.

    uv run python benchmarks/loop_latency.py                 # default scale (0.25), ~10-15 min
    uv run python benchmarks/loop_latency.py --quick         # 2% scale, 2 trials: a smoke run

On a temporary home: the synthetic panel's months up to 2021-12 land in a landing directory and
`housing run --vintage 2021-01` trains the first champion on them. Then a real `dagster-daemon`
(both sensors, the run queue) and the real API (`housing serve`, uvicorn, following the serving
store) start, a steady load of single-row predictions begins, and the next month (2022-01) is
moved into the landing directory. Measured from that moment:

  (a) history  until the API's /v1/model reports history_until >= the month: the new-data sensor's
               ingest_and_monitor run refreshed the champion's zip history (served_history), no
               retrain. Target: 3 min.
  (b) retrain  until the API serves a newly trained model whose data reaches the month: the
               retraining sensor's train run passed the promotion gate and published. The policy
               (HOUSING_POLICIES) retrains every new month, so the rules call for it. Target: 10 min.
  (c) swaps    failed requests of the load (non-200 or no answer) over the whole loop, and the
               latency around each model swap. Target: 0 failed.

While waiting it prints each run's transitions and what the API serves. Every process it starts
stops with it, on failure and Ctrl-C included (housing_harness/loop.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from housing_harness.loop import LoopHome, LoopProcesses, steady_load
from housing_harness.soak import Sample, holdout_records

TARGETS_S = {"history": 180, "retrain": 600}
HISTORY_UNTIL, VINTAGE, MONTH = "2021-12", "2021-01", "2022-01"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def say(message: str) -> None:
    print(message, flush=True)


def policies_file(path: Path, trials: int) -> Path:
    """Retrain on every new month (so the rules call for it on the one we land), tuning `trials`."""
    path.write_text(f"retrain:\n  every_months: 1\n  n_trials: {trials}\n")
    return path


class RunWatch:
    """Prints each Dagster run's status changes as they happen: what the daemon is doing."""

    def __init__(self, instance):
        self.instance, self.seen = instance, {}
        self.events: list[dict] = []

    def poll(self, now: float, quiet: bool = False) -> list[str]:
        """Runs in flight now; each status change since the last poll is printed and recorded
        (`quiet`: only remembered, e.g. the setup's runs)."""
        import dagster as dg

        in_flight = []
        for run in self.instance.get_runs(filters=dg.RunsFilter(), limit=20):
            what = run.tags.get("housing/months") or run.tags.get("dagster/partition", "")
            label = f"{run.job_name} {what}".strip()
            status = run.status.value
            if self.seen.get(run.run_id) != status:
                first_sight = run.run_id not in self.seen
                self.seen[run.run_id] = status
                if not quiet:
                    self.events.append({"t_s": round(now, 1), "run": label, "status": status})
                    reason = run.tags.get("housing/reason", "") if first_sight else ""
                    say(f"  {now:6.1f} s  run {run.run_id[:8]} {label}: {status}"
                        + (f" ({reason})" if reason else ""))  # fmt: skip
            if not run.is_finished:
                in_flight.append(f"{label} ({status.lower()})")
        return in_flight


def latency(samples: list[Sample], start: float, end: float) -> dict:
    window = [s for s in samples if start <= s.started < end]
    seconds = np.array([s.seconds for s in window]) * 1000
    return {
        "requests": len(window),
        "failed": sum(1 for s in window if s.status != 200),
        "p50_ms": round(float(np.quantile(seconds, 0.5)), 2) if len(window) else None,
        "p99_ms": round(float(np.quantile(seconds, 0.99)), 2) if len(window) else None,
        "max_ms": round(float(seconds.max()), 2) if len(window) else None,
    }


def swaps(samples: list[Sample]) -> list[dict]:
    """Each model version's first answer, with the latency of the requests around it."""
    out, version = [], None
    for s in sorted(samples, key=lambda s: s.started):
        if s.version is not None and s.version != version:
            if version is not None:
                out.append({"t_s": round(s.started, 1), "from": version, "to": s.version,
                            **latency(samples, s.started - 2, s.started + 3)})  # fmt: skip
            version = s.version
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.25, help="synthetic scale (default 0.25)")
    parser.add_argument("--quick", action="store_true", help="2%% scale, 2 trials: a smoke run")
    parser.add_argument("--trials", type=int, default=None, help="retrain trials (default 12)")
    parser.add_argument(
        "--first-trials", type=int, default=4, help="the first champion's trials (default 4)"
    )
    parser.add_argument("--rate", type=float, default=30.0, help="requests per second")
    parser.add_argument("--timeout", type=float, default=30.0, help="minutes to wait at most")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    scale = 0.02 if args.quick else args.scale
    trials = args.trials or (2 if args.quick else 12)
    first_trials = min(args.first_trials, trials) if args.quick else args.first_trials
    # SIGTERM (a CI job stopped, `kill`) unwinds like Ctrl-C: the processes are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with tempfile.TemporaryDirectory(prefix="housing-loop-") as tmp:
        root = Path(tmp)
        loop = LoopHome(
            root / "home", scale, policies=policies_file(root / "policies.yaml", trials)
        )
        say(f"home {loop.home}, scale {scale}, load average {load_average()}")
        started = time.perf_counter()
        loop.land(f"..{HISTORY_UNTIL}")
        new_files = loop.land(MONTH, into=root / "staging")
        say(f"landed the months to {HISTORY_UNTIL} ({time.perf_counter() - started:.0f} s); "
            f"training the first champion (vintage {VINTAGE}, {first_trials} trials)")  # fmt: skip
        started = time.perf_counter()
        loop.housing("run", "--vintage", VINTAGE, "--trials", str(first_trials))
        first_champion_s = time.perf_counter() - started
        say(f"first champion in {first_champion_s:.0f} s; starting the API and the daemon")
        body = {"rows": holdout_records(loop.home, 1)}
        with LoopProcesses(loop, root / "logs") as procs:
            try:
                out = measure(loop, procs, new_files, body, args)
            except BaseException:
                for name in ("daemon", "api"):
                    say(f"--- {name} log (tail) ---\n{procs.log(name)[-3000:]}")
                raise
            api_log = procs.log("api")
    out.update(
        scale=scale,
        retrain_trials=trials,
        first_champion_trials=first_trials,
        first_champion_s=round(first_champion_s, 1),
        # Its log names every swap; the first line is the model it started with.
        api_swaps_logged=api_log.count("model swapped:") - api_log.count("model swapped: none"),
        api_bundles_refused=api_log.count("refusing bundle"),
    )
    report(out, args.json)
    ok = out["failed_requests"] == 0 and out["history_s"] is not None
    return 0 if ok and out["retrain_s"] is not None else 1


def measure(
    loop: LoopHome,
    procs: LoopProcesses,
    new_files: list[Path],
    body: dict,
    args: argparse.Namespace,
) -> dict:
    """Start the API and the daemon, load the API, land the month, and wait for (a) and (b)."""
    url = procs.api()
    first = httpx.get(f"{url}/v1/model").json()
    say(f"API serves {first['version']} (model {first['model_version']}, history to "
        f"{first['history_until']}); daemon starting")  # fmt: skip
    procs.daemon()
    say(f"daemon ticking; {args.rate:.0f} req/s of /v1/predict; landing {MONTH}")
    history_s = retrain_s = None
    served, failed_training = first, []
    with steady_load(url, body, args.rate) as load, loop.instance() as instance:
        time.sleep(5)  # a baseline before anything changes
        watch = RunWatch(instance)
        watch.poll(0, quiet=True)  # the setup's runs are not news
        t_drop = load.now()
        loop.deliver(new_files)
        load_at_drop = load_average()
        say(f"  {0:6.1f} s  {MONTH} landed (load average {load_at_drop})")
        deadline = t_drop + args.timeout * 60
        next_note = 15.0
        while (now := load.now()) < deadline and retrain_s is None:
            served = httpx.get(f"{url}/v1/model", timeout=30).json()
            if history_s is None and (served["history_until"] or "") >= MONTH:
                history_s = now - t_drop
                say(f"  {history_s:6.1f} s  (a) the API serves history to "
                    f"{served['history_until']} ({served['version']})")  # fmt: skip
            if (
                served["model_version"] != first["model_version"]
                and (served.get("trained_through") or served["training_window"]["holdout"]["last"])
                >= MONTH
            ):
                retrain_s = now - t_drop
                say(f"  {retrain_s:6.1f} s  (b) the API serves the retrained "
                    f"{served['model_version']} (vintage {served['vintage']})")  # fmt: skip
            in_flight = watch.poll(now - t_drop)
            if now - t_drop >= next_note:
                say(f"  {now - t_drop:6.1f} s  in flight: {', '.join(in_flight) or 'nothing'}; "
                    f"{len(load.samples):,} requests, {load.errors} failed; "
                    f"load average {load_average()}")  # fmt: skip
                next_note += 15.0
            if failed_training := [e for e in watch.events if e["run"].startswith("train ")
                                   and e["status"] == "FAILURE"]:  # fmt: skip
                # The gate refused the challenger, or training crashed: a retry, if any, comes
                # after the policy's backoff (10 min); this loop's answer is already "no".
                say(f"  {now - t_drop:6.1f} s  the train run failed (the gate or a crash: the "
                    "daemon's runs tell which); (b) not reached")  # fmt: skip
                break
            time.sleep(1)
        time.sleep(10)  # the load goes on past the last swap
    samples = load.samples
    seconds = np.array([s.seconds for s in samples]) * 1000
    return {
        "month": MONTH,
        "history_s": round(history_s, 1) if history_s is not None else None,
        "retrain_s": round(retrain_s, 1) if retrain_s is not None else None,
        "requests": len(samples),
        "failed_requests": sum(1 for s in samples if s.status != 200),
        "first_failures": load.failures,
        "p50_ms": round(float(np.quantile(seconds, 0.5)), 2),
        "p99_ms": round(float(np.quantile(seconds, 0.99)), 2),
        "swaps": [{**s, "t_s": round(s["t_s"] - t_drop, 1)} for s in swaps(samples)],
        "runs": watch.events,
        "retrain_failed": bool(failed_training),
        "served_at_end": {k: served.get(k) for k in ("version", "model_version", "history_until")},
        "load_average_at_drop": load_at_drop,
        "load_average_at_end": load_average(),
        "request_rate": args.rate,
        "timeout_min": args.timeout,
    }


def report(out: dict, path: Path | None) -> None:
    def verdict(value, target) -> str:
        return "not reached" if value is None else ("ok" if value <= target else "over")

    say(f"\nscale {out['scale']}, retrain with {out['retrain_trials']} trials, "
        f"load average {out['load_average_at_drop']} at the drop, "
        f"{out['load_average_at_end']} at the end\n")  # fmt: skip
    say("| loop latency | measured | target | |\n|---|---|---|---|")
    for key, label in (("history", "(a) landed -> history served"),
                       ("retrain", "(b) landed -> retrained champion served")):  # fmt: skip
        value, target = out[f"{key}_s"], TARGETS_S[key]
        shown = "-" if value is None else f"{value:.0f} s"
        say(f"| {label} | {shown} | {target // 60} min | {verdict(value, target)} |")
    say(f"| (c) failed requests during the loop | {out['failed_requests']} of "
        f"{out['requests']:,} (p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms) | 0 | "
        f"{'ok' if out['failed_requests'] == 0 else 'over'} |")  # fmt: skip
    for s in out["swaps"]:
        say(f"| swap at {s['t_s']} s: {s['from']} -> {s['to']} | {s['failed']} failed of "
            f"{s['requests']}; p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, max {s['max_ms']} ms "
            f"(2 s before to 3 s after) | 0 failed | |")  # fmt: skip
    if path:
        path.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
