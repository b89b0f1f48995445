"""`housing run`'s Dagster runs, in this process: ingest over many months as ONE run per
contiguous stretch, then one vintage's model lineage.

Dagster evaluates a check once per run step, so in a single run over a partition range a
blocking failure in one month would hold back every month's cleaning. A failed run is handled
by the platform's one policy, `automation.after_failure` (the new-data sensor applies it too):
the months the contract check named are quarantined (their failed evaluations are on record
per partition, see checks.py) and the others are checked and cleaned again in one run per
contiguous stretch; a run that failed without naming a month re-runs each month alone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

import dagster as dg

from housing_assets import liveness
from housing_assets.defs import loggers
from housing_assets.defs.ingestion import checks
from housing_assets.defs.ingestion.partitions import MONTH
from housing_assets.defs.training.partitions import VINTAGE
from housing_assets.resources.revisions import ACCEPT_TAG
from housing_core import automation, evaluation
from housing_core.publishing import Publication
from housing_core.training import ModelArtifact

MONTHS, VINTAGES = MONTH, VINTAGE
LOGGING = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class Interrupted(KeyboardInterrupt):
    """The user pressed Ctrl-C during a run: Dagster ends the run (failed, every write before it
    complete) and returns; the command must stop there, not go on as if a step had failed."""

    def __init__(self, run_id: str):
        super().__init__(run_id)
        self.run_id = run_id


def _interrupted(result) -> bool:
    return any(loggers.interrupt_error(e) for e in result.all_events if e.is_step_failure)


@dataclass
class IngestOutcome:
    months: list[str]
    run_ids: list[str] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)  # month -> why
    failed: dict[str, str] = field(default_factory=dict)  # month -> the error of its last run
    warnings: dict[str, str] = field(default_factory=dict)  # check -> description

    @property
    def ingested(self) -> list[str]:
        return [m for m in self.months if m not in self.quarantined and m not in self.failed]


def register_months(instance: dg.DagsterInstance, keys: Iterable[str]) -> list[str]:
    known = set(instance.get_dynamic_partitions(MONTHS))
    new = sorted(k for k in keys if k not in known)
    if new:
        instance.add_dynamic_partitions(MONTHS, new)
    return new


def _run_range(
    defs: dg.Definitions, job: str, instance, first: str, last: str, tags: dict | None = None
):
    # A one-month stretch runs as that partition, so Dagster attributes its check results to it.
    title = f"{job} {first}" if first == last else f"{job} {first}..{last}"
    if first == last:
        return _run(defs, job, instance, dict(tags or {}), partition_key=first, title=title)
    tags = {**(tags or {}), automation.RANGE_START: first, automation.RANGE_END: last}
    return _run(defs, job, instance, tags, title=title)


def _run(
    defs: dg.Definitions,
    job: str,
    instance,
    tags: dict,
    partition_key: str | None = None,
    run_config: dict | None = None,
    title: str = "",
):
    """Execute `job` in this process. A listening console (the CLI's) gets the run's records and
    shows its progress; otherwise Dagster's console logger prints warnings (`run_config` may
    set another level). Raises `Interrupted` when the user stopped it with Ctrl-C."""
    job_def = defs.resolve_job_def(job)
    config = {**LOGGING, **(run_config or {}), **(loggers.run_config() or {})}
    with loggers.showing(title or job, steps=len(job_def.nodes)):
        result = job_def.execute_in_process(
            instance=instance,
            tags={**tags, **liveness.worker_tag()},  # a killed `housing run` is failed later
            partition_key=partition_key,
            run_config=config,
            raise_on_error=False,
        )
    if _interrupted(result):
        raise Interrupted(result.run_id)
    return result


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
    accept_revisions: Collection[str] = (),
) -> IngestOutcome:
    """One run per contiguous stretch of `months`; a failed run is handled by the platform's one
    policy (`automation.after_failure`, which the sensor applies too): months its contract
    check named are quarantined and the rest re-run together; after a crash every month re-runs
    alone, once. Months that fail again are reported in `outcome.failed`, never dropped silently.
    `accept_revisions`: months whose revision an operator reviewed and accepts (a run tag the
    revision check reads)."""
    outcome = IngestOutcome(months=months)
    accept = {ACCEPT_TAG: ",".join(sorted(accept_revisions))} if accept_revisions else {}
    order = [k for k in instance.get_dynamic_partitions(MONTHS) if k in set(months)]
    for first, last in automation.stretches(order, months):
        say(f"  one run: raw -> checks -> cleaned for {first}..{last}")
        result = _run_range(defs, "ingest", instance, first, last, accept)
        outcome.run_ids.append(result.run_id)
        _collect_warnings(result, outcome)
        if result.success:
            continue
        evaluations = result.get_asset_check_evaluations()
        blocked = checks.blocked_months(evaluations)
        if blocked is None:
            say(f"  run {result.run_id[:8]} failed without naming a month: each month runs alone")
            job = "ingest"
        else:
            details = checks.findings(evaluations)
            for month in blocked:
                outcome.quarantined[month] = "\n".join(f"    - {x}" for x in details.get(month, []))
                say(f"  quarantined {month}: a blocking check failed it (details below)")
            job = "check_and_clean"  # their raw data is stored: check and clean it again
        for a, b in automation.after_failure(first, last, order, blocked):
            say(f"  re-run {job} for {a}..{b}")
            rerun = _run_range(defs, job, instance, a, b, accept)
            outcome.run_ids.append(rerun.run_id)
            if not rerun.success:
                for month in order[order.index(a) : order.index(b) + 1]:
                    outcome.failed[month] = _step_errors(rerun)
    return outcome


def _collect_warnings(result, outcome: IngestOutcome) -> None:
    names = {e.check_name for e in result.get_asset_check_evaluations()}
    for name in names:
        e = checks.run_level(result.get_asset_check_evaluations(), name)
        if e is not None and not e.passed and e.severity == dg.AssetCheckSeverity.WARN:
            outcome.warnings[name] = e.description or ""


@dataclass
class ForecastOutcome:
    """One vintage's forecasting run: the backtest and what its gate decided."""

    vintage: str
    run_id: str
    gate: str  # "publish" or the gate's reasons
    backtest: dict | None
    published: dict | None  # the publication's provenance; None: held back

    @property
    def version(self) -> str | None:
        return self.published["version"] if self.published else None


@dataclass
class TrainOutcome:
    """One vintage's lineage run, read back as the assets' own typed values (not metadata)."""

    vintage: str
    run_id: str
    gate: str  # the promotion gate's verdict ("promote" or its reasons)
    report: dict | None  # evaluation.report() of the holdout
    model: ModelArtifact | None
    publication: Publication | None  # None: the gate blocked it
    trials: dict = field(default_factory=dict)  # new, resumed, pruned, best: what tuning did
    warnings: list[str] = field(default_factory=list)  # the gate's warnings (it passed anyway)
    forecast: ForecastOutcome | None = None  # the vintage's forecaster, when it was run

    @property
    def published(self) -> bool:
        return self.publication is not None

    @property
    def bundle_version(self) -> str | None:
        return self.publication.version if self.publication else None

    @property
    def metrics(self) -> dict[str, float]:
        return evaluation.summary_metrics(self.report) if self.report else {}


def train(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    vintage: str,
    tuning: dict,
    say: Callable[[str], None] = print,
) -> TrainOutcome:
    """Materialize one vintage of the model lineage; a failed gate is an outcome, any other failure raises."""
    if vintage not in set(instance.get_dynamic_partitions(VINTAGES)):
        instance.add_dynamic_partitions(VINTAGES, [vintage])
    say(
        f"  one run: splits -> encoders -> tuning ({tuning.get('n_trials')} trials) -> holdout -> gate -> bundle"
    )
    # INFO, not WARNING: tuning takes a while and its per-trial lines are the progress report.
    config = {
        "ops": {"tuned_model": {"config": tuning}},
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }
    result, gate = _gated_run(defs, instance, "train", vintage, config, "promotion_gate")

    def written(asset: str, kind: type):
        return _written(defs, instance, result.run_id, asset, kind, vintage)

    tuned = instance.get_latest_materialization_event(dg.AssetKey("tuned_model"))
    trials = {}
    if tuned is not None and tuned.run_id == result.run_id and tuned.asset_materialization:
        meta = {k: v.value for k, v in tuned.asset_materialization.metadata.items()}
        trials = {
            "new": meta["trials_new"],
            "resumed": meta["trials_resumed"],
            "pruned": meta["trials_pruned"],
            "best": meta["best_eval_log_mae"],
        }
    return TrainOutcome(
        trials=trials,
        vintage=vintage,
        run_id=result.run_id,
        gate=(gate.description or "") if gate is not None else "not evaluated",
        warnings=[
            note
            for note in (gate.metadata["notes"].value if gate is not None else [])
            if str(note).startswith("warning: ")
        ],
        report=written("holdout_metrics", dict),
        model=written("tuned_model", ModelArtifact),
        publication=written("serving_bundle", Publication),
    )


def forecast(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    vintage: str,
    trials: int,
    say: Callable[[str], None] = print,
) -> ForecastOutcome:
    """Materialize one vintage's forecaster, backtest and (if its gate passes) publication; the
    vintage's splits must exist (`train` wrote them). A held-back forecaster is an outcome, any
    other failure raises."""
    say(f"  one run: forecaster ({trials} trials) -> backtest -> gate -> published forecasts")
    config = {
        "ops": {"forecaster": {"config": {"trials": trials}}},
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }
    result, gate = _gated_run(
        defs, instance, "forecast", vintage, config, "forecast_beats_persistence"
    )
    return ForecastOutcome(
        vintage,
        result.run_id,
        (gate.description or "") if gate is not None else "not evaluated",
        _written(defs, instance, result.run_id, "forecast_backtest", dict, vintage),
        _written(defs, instance, result.run_id, "published_forecast", dict, vintage),
    )


def _gated_run(defs, instance, job: str, vintage: str, config: dict, gate_check: str):
    """Run one vintage of `job`; its gate failing is an outcome (the steps behind it skipped),
    any other failure raises. Returns the result and the gate's evaluation (None: not run)."""
    result = _run(
        defs, job, instance, {}, partition_key=vintage, run_config=config,
        title=f"{job} {vintage}",
    )  # fmt: skip
    gate = checks.run_level(result.get_asset_check_evaluations(), gate_check)
    blocked = gate is not None and not gate.passed
    if not result.success and not blocked:
        raise RuntimeError(f"{job} run {result.run_id} failed:\n{_step_errors(result)}")
    return result, gate


def _written(defs, instance, run_id: str, asset: str, kind: type, vintage: str):
    """The asset's value if run `run_id` materialized it (a blocked gate stops what follows)."""
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    if event is None or event.run_id != run_id:
        return None
    value = defs.load_asset_value(asset, python_type=kind, partition_key=vintage, instance=instance)
    if not isinstance(value, kind):
        raise TypeError(f"{asset} {vintage}: expected {kind.__name__}, got {type(value)}")
    return value
