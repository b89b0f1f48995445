"""Runs the ingest job over many months as ONE Dagster run, quarantining months that fail.

Dagster evaluates a check once per run step, so in a single run over a partition range a
blocking failure in one month would hold back every month's cleaning. The runner keeps the
one-run fast path and, only when the contract check blocks, quarantines the failing months
(their failed evaluations are on record per partition, see checks.py) and re-runs checks +
cleaning of the passing months in one run per contiguous stretch of partitions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import dagster as dg

from housing_assets.defs.ingestion.partitions import months as months_partitions

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
LOGGING = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class IngestOutcome:
    months: list[str]
    run_ids: list[str] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)  # month -> why
    warnings: dict[str, str] = field(default_factory=dict)  # check -> description

    @property
    def ingested(self) -> list[str]:
        return [m for m in self.months if m not in self.quarantined]


def register_months(instance: dg.DagsterInstance, keys: Iterable[str]) -> list[str]:
    known = set(instance.get_dynamic_partitions(months_partitions.name))
    new = sorted(k for k in keys if k not in known)
    if new:
        instance.add_dynamic_partitions(months_partitions.name, new)
    return new


def segments(order: list[str], wanted: Iterable[str]) -> list[tuple[str, str]]:
    """Contiguous stretches of `wanted` in partition order, as (first, last) pairs."""
    wanted = set(wanted)
    out: list[list[str]] = []
    previous_in = False
    for key in order:
        if key in wanted:
            if previous_in:
                out[-1].append(key)
            else:
                out.append([key])
        previous_in = key in wanted
    return [(s[0], s[-1]) for s in out]


def _run_range(defs: dg.Definitions, job: str, instance, first: str, last: str):
    # A one-month stretch runs as that partition, so Dagster attributes its check results to it.
    if first == last:
        return _run(defs, job, instance, {}, partition_key=first)
    return _run(defs, job, instance, {RANGE_START: first, RANGE_END: last})


def _run(
    defs: dg.Definitions,
    job: str,
    instance,
    tags: dict,
    partition_key: str | None = None,
    run_config: dict | None = None,
):
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance,
        tags=tags,
        partition_key=partition_key,
        run_config={**LOGGING, **(run_config or {})},  # a caller's loggers entry wins
        raise_on_error=False,
    )
    return result


def _run_level_evaluation(result, check_name: str):
    """The check's own result: partition None in a range run, the one partition otherwise."""
    evaluations = [e for e in result.get_asset_check_evaluations() if e.check_name == check_name]
    unattributed = [e for e in evaluations if e.partition is None]
    if unattributed:
        return unattributed[0]
    return evaluations[0] if len(evaluations) == 1 else None


def _failed_months(result, check_name: str) -> list[str]:
    evaluation = _run_level_evaluation(result, check_name)
    if evaluation is None or evaluation.passed:
        return []
    return list(evaluation.metadata["failed_months"].value)


def _step_errors(result) -> str:
    """Each failed step with its error and the chain of causes (the user's error is the cause)."""
    lines = []
    for event in (e for e in result.all_events if e.is_step_failure):
        error = event.step_failure_data.error
        messages = []
        while error is not None:
            messages.append(error.message.strip())
            error = error.cause
        lines.append(f"{event.step_key}: " + " <- caused by: ".join(messages))
    return "\n".join(lines)


def ingest(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    months: list[str],
    say: Callable[[str], None] = print,
) -> IngestOutcome:
    outcome = IngestOutcome(months=months)
    order = [k for k in instance.get_dynamic_partitions(months_partitions.name) if k in set(months)]
    stretches = segments(instance.get_dynamic_partitions(months_partitions.name), months)
    for first, last in stretches:
        say(f"  one run: raw -> checks -> cleaned for {first}..{last}")
        result = _run_range(defs, "ingest", instance, first, last)
        outcome.run_ids.append(result.run_id)
        _collect_warnings(result, outcome)
        if result.success:
            continue
        blocked = _failed_months(result, "raw_contract")
        if not blocked:
            raise RuntimeError(f"ingest run {result.run_id} failed:\n{_step_errors(result)}")
        _quarantine(defs, instance, order, blocked, result, outcome, say)
    return outcome


def _quarantine(defs, instance, order, blocked, result, outcome, say) -> None:
    details = _run_level_evaluation(result, "raw_contract").metadata["findings_by_month"].value
    for month in blocked:
        outcome.quarantined[month] = "\n".join(f"    - {line}" for line in details.get(month, []))
        say(f"  quarantined {month}: its raw data breaks the contract (details below)")
    passing = [m for m in order if m not in set(blocked)]
    for first, last in segments(order, passing):
        say(f"  re-run checks -> cleaned for {first}..{last}")
        rerun = _run_range(defs, "check_and_clean", instance, first, last)
        outcome.run_ids.append(rerun.run_id)
        if not rerun.success:
            raise RuntimeError(f"run {rerun.run_id} failed:\n{_step_errors(rerun)}")


def _collect_warnings(result, outcome: IngestOutcome) -> None:
    names = {e.check_name for e in result.get_asset_check_evaluations()}
    for name in names:
        e = _run_level_evaluation(result, name)
        if e is not None and not e.passed and e.severity == dg.AssetCheckSeverity.WARN:
            outcome.warnings[name] = e.description or ""


@dataclass
class TrainOutcome:
    vintage: str
    run_id: str
    published: bool
    gate: str
    metrics: dict | None
    bundle_version: str | None
    mlflow: dict | None


def train(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    vintage: str,
    tuning: dict,
    say: Callable[[str], None] = print,
) -> TrainOutcome:
    """Materialize one vintage of the model lineage; a failed gate is an outcome, any other failure raises."""
    from housing_assets.defs.training.partitions import vintages

    if vintage not in set(instance.get_dynamic_partitions(vintages.name)):
        instance.add_dynamic_partitions(vintages.name, [vintage])
    say(
        f"  one run: splits -> encoders -> tuning ({tuning.get('n_trials')} trials) -> holdout -> gate -> bundle"
    )
    # INFO, not WARNING: tuning takes a while and its per-trial lines are the progress report.
    config = {
        "ops": {"tuned_model": {"config": tuning}},
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }
    result = _run(defs, "train", instance, {}, partition_key=vintage, run_config=config)
    gate = _run_level_evaluation(result, "promotion_gate")
    blocked_by_gate = gate is not None and not gate.passed
    if not result.success and not blocked_by_gate:
        raise RuntimeError(f"train run {result.run_id} failed:\n{_step_errors(result)}")
    outputs = {}
    for key in ("holdout_metrics", "tuned_model", "serving_bundle"):
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        if event is not None and event.run_id == result.run_id:
            outputs[key] = event.asset_materialization.metadata
    published = "serving_bundle" in outputs
    return TrainOutcome(
        vintage=vintage,
        run_id=result.run_id,
        published=published,
        gate=(gate.description or "") if gate is not None else "not evaluated",
        metrics={k: v.value for k, v in outputs.get("holdout_metrics", {}).items()},
        bundle_version=outputs["serving_bundle"]["version"].value if published else None,
        mlflow={k: outputs["tuned_model"][k].value for k in ("mlflow_run_id", "registered_version")}
        if "tuned_model" in outputs
        else None,
    )
