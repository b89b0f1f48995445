"""What writing a range run's per-month check evaluations as one batch buys over `log_event`.

    uv run python benchmarks/check_evaluations.py
    uv run python benchmarks/check_evaluations.py --months 142 --checks 5 --repeats 3

A first ingest of the full panel is one run over every month with five checks on it: each check
logs one evaluation per month (housing_assets/defs/ingestion/checks.py). Here one asset over
`--months` static partitions, materialized in one run, and `--checks` checks that each log one
evaluation per month -- with nothing else to do, so the run's time is Dagster's and the event
log's. Modes, interleaved `--repeats` times, the fastest counting (the machine is shared):

* `none`: the checks log no per-month evaluation (the floor);
* `log_event`: one `context.log_event(AssetCheckEvaluation)` per month (public API);
* `batch`: the same events as one batch through Dagster's internal event API
  (`DagsterEvent.from_step` with `DagsterEventBatchMetadata`, dagster 1.13.27).

Each instance runs in its own process: the project's (dagster.yaml: `HomeSqliteStorage`, which
writes a batch in one transaction and turns Dagster's event batching on) and Dagster's stock
SQLite instance (`instance_for_test`, batching off: a batch is stored event by event).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster._core.events import (
    DagsterEvent,
    DagsterEventBatchMetadata,
    DagsterEventType,
    generate_event_batch_id,
)

REPO = Path(__file__).resolve().parents[1]
MODES = ("none", "log_event", "batch")


def _definitions(months: list[str], checks: int, mode: str):
    partitions = dg.StaticPartitionsDefinition(months)

    @dg.asset(partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run())
    def monthly(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        for month in context.partition_keys:
            context.add_asset_metadata({"month": month}, partition_key=month)
        return dg.MaterializeResult()

    def build(name: str):
        @dg.asset_check(asset=monthly, partitions_def=partitions, name=name)
        def per_month(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
            evaluations = [
                dg.AssetCheckEvaluation(
                    asset_key=monthly.key,
                    check_name=name,
                    passed=i % 3 != 0,
                    severity=dg.AssetCheckSeverity.WARN,
                    partition=month,
                    description=f"{month}: all expectations hold",
                    metadata={"findings": dg.MetadataValue.md("none")},
                )
                for i, month in enumerate(context.partition_keys)
            ]
            if mode == "log_event":
                for evaluation in evaluations:
                    context.op_execution_context.log_event(evaluation)
            elif mode == "batch":
                step = context.op_execution_context.get_step_execution_context()
                batch = generate_event_batch_id()
                for i, evaluation in enumerate(evaluations):
                    DagsterEvent.from_step(
                        DagsterEventType.ASSET_CHECK_EVALUATION,
                        step,
                        evaluation,
                        batch_metadata=DagsterEventBatchMetadata(batch, i == len(evaluations) - 1),
                    )
            return dg.AssetCheckResult(passed=True)

        return per_month

    return dg.Definitions(assets=[monthly], asset_checks=[build(f"c{i}") for i in range(checks)])


def _one_instance(kind: str, months: int, checks: int, repeats: int) -> dict:
    """Seconds per mode (fastest of `repeats`) for one instance kind, in this process."""
    keys = [str(p) for p in pd.period_range("2012-01", periods=months, freq="M")]
    jobs = {
        mode: _definitions(keys, checks, mode).resolve_implicit_global_asset_job_def()
        for mode in MODES
    }
    tags = {"dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[-1]}  # fmt: skip
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as home:
        if kind == "project":
            os.environ["HOUSING_HOME"] = home
            os.environ["DAGSTER_HOME"] = str(REPO)
            instance_cm = dg.DagsterInstance.get()
        else:
            instance_cm = dg.instance_for_test(temp_dir=home)
        with instance_cm as instance:
            jobs["none"].execute_in_process(instance=instance, tags=tags)  # warm up
            for _ in range(repeats):
                for mode in MODES:
                    started = time.perf_counter()
                    result = jobs[mode].execute_in_process(instance=instance, tags=tags)
                    times[mode].append(time.perf_counter() - started)
                    assert result.success
            history = instance.event_log_storage.get_asset_check_execution_history(
                dg.AssetCheckKey(dg.AssetKey("monthly"), "c0"), limit=100_000
            )
    evaluated = [r for r in history if r.partition and r.status.value != "PLANNED"]
    assert len(evaluated) == 2 * repeats * months, len(evaluated)  # every evaluation stored
    return {mode: round(min(t), 2) for mode, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=142)
    parser.add_argument("--checks", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--instance", choices=("project", "stock"))
    args = parser.parse_args()
    if args.instance:
        print(json.dumps(_one_instance(args.instance, args.months, args.checks, args.repeats)))
        return
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_EVENT_BATCH_SIZE"}
    print(f"{args.months} months x {args.checks} checks, one range run; seconds per run "
          f"(fastest of {args.repeats})")  # fmt: skip
    print(f"{'instance':<10}" + "".join(f"{m:>11}" for m in MODES))
    for kind in ("project", "stock"):
        out = subprocess.run(
            [sys.executable, __file__, "--instance", kind, "--months", str(args.months),
             "--checks", str(args.checks), "--repeats", str(args.repeats)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        seconds = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{kind:<10}" + "".join(f"{seconds[m]:>11.2f}" for m in MODES))


if __name__ == "__main__":
    main()
