"""Sensors: new months in the source -> ingest (+ monitoring); a new champion -> its drift
reports; drift or new data -> retrain, and the retrained vintage's forecaster after it.

Every tick says what it decided and why (SkipReason or run tags), visible in the Dagster UI.
With HOUSING_ECS_SIZING every requested run also carries its Fargate task's size (run_sizes.py).
"""

import json
import time

import dagster as dg

from housing_assets.defs import jobs
from housing_assets.defs.ingestion import checks
from housing_assets.defs.ingestion.partitions import MONTH, ensure_pool_limits, months
from housing_assets.defs.monitoring.run_history import check_evaluations, first_error
from housing_assets.defs.monitoring.run_sizes import size_tags
from housing_assets.defs.training.partitions import vintages
from housing_assets.resources.automation import DriftPolicy, RetrainPolicy, SensorIntervals
from housing_assets.resources.serving_store import ServingStore
from housing_assets.resources.source import HouseTSSource
from housing_core import automation, drift_reports, live_performance
from housing_core.settings import Settings

INGEST_JOB, MONITORED_JOB, TRAIN_JOB, DRIFT_JOB = (
    jobs.ingest_job.name,
    jobs.ingest_and_monitor_job.name,
    jobs.train_job.name,
    jobs.drift_report_job.name,
)
FORECAST_JOB = jobs.forecast_job.name
SPLITS = dg.AssetKey("splits")
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]
INGESTING = (INGEST_JOB, MONITORED_JOB, jobs.check_and_clean_job.name)  # jobs that clean months
RANGE_START, RANGE_END = automation.RANGE_START, automation.RANGE_END
CLEANED = dg.AssetKey("cleaned_monthly")
BATCH_TAG = "housing/batch"  # a run over several months: split into one run per month if it fails
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def new_source_months(
    context: dg.SensorEvaluationContext, source: HouseTSSource, serving_store: ServingStore
):
    """A new month in the source (or a month whose content changed) -> its partition plus one
    ingest run; with a champion published, the run also writes the month's drift report and
    batch predictions."""
    fingerprints = source.fingerprints()
    ignored = _landing_notes(context, source)
    if not fingerprints:
        return dg.SkipReason(f"{source.describe()} has no monthly files yet{ignored}")
    cursor = automation.read_cursor(context.cursor)
    instance = context.instance
    materialized = set(instance.get_materialized_partitions(CLEANED)) if cursor is None else set()
    plan = automation.plan_ingest(
        fingerprints,
        cursor,
        set(instance.get_dynamic_partitions(MONTH)),
        materialized,
    )
    if not source.is_landing_area():
        # A generated or single-file source does not "receive" months: register them only;
        # `housing run` ingests them in one run.
        if not plan.add_partitions:
            context.update_cursor(plan.cursor_json())
            return dg.SkipReason(
                f"all {len(fingerprints)} months of {source.describe()} are partitions"
            )
        return dg.SensorResult(
            dynamic_partitions_requests=[months.build_add_request(plan.add_partitions)],
            cursor=plan.cursor_json(),
        )
    ensure_pool_limits(instance, Settings.from_env().backfill_runs)
    job = MONITORED_JOB if serving_store.has_champion() else INGEST_JOB
    order = sorted(set(fingerprints) | set(instance.get_dynamic_partitions(MONTH)))
    already = automation.read_split(context.cursor)
    failed = _failed_batches(instance, already)
    retries = automation.retry_failed_batches(
        failed, already, order, busy={r.month for r in plan.requests}
    )
    plan.split = [b.run_key for b in failed]  # every failed batch still on record is handled
    runs = automation.batch_runs(plan.requests, order) + retries
    sized = size_tags(instance, "monthly") if runs else {}
    requests = [_ingest_request(run, job, sized) for run in runs]
    if not requests and not plan.add_partitions:
        context.update_cursor(plan.cursor_json())
        return dg.SkipReason(_nothing_new(instance, source, fingerprints, order, plan, ignored))
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=(
            [months.build_add_request(plan.add_partitions)] if plan.add_partitions else []
        ),
        cursor=plan.cursor_json(),
    )


def _landing_notes(context: dg.SensorEvaluationContext, source: HouseTSSource) -> str:
    """Landing entries that are not months, logged one by one; the tick's summary of them."""
    refused, not_data = source.refused(), source.not_data()
    for reason in refused:
        context.log.warning(f"landing file refused: {reason}")
    for what in not_data:
        context.log.info(f"landing entry not data: {what}")
    ignored = f"; ignored {len(refused)} misnamed file(s): {'; '.join(refused[:3])}" * bool(refused)
    ignored += f"; {len(not_data)} entries not data: {'; '.join(not_data[:3])}" * bool(not_data)
    return ignored


def _failed_batches(instance: dg.DagsterInstance, already: set[str]) -> list:
    """The sensor's failed range runs still on record, each with the months its checks blocked
    (None for a batch already split: its months are retried one by one)."""
    return [
        automation.FailedBatch(
            r.tags["dagster/run_key"],
            r.tags[RANGE_START],
            r.tags[RANGE_END],
            None if r.tags["dagster/run_key"] in already else _blocked(instance, r.run_id),
        )
        for r in instance.get_runs(
            filters=dg.RunsFilter(tags={BATCH_TAG: "true"}, statuses=[dg.DagsterRunStatus.FAILURE]),
            limit=100,
        )
        if "dagster/run_key" in r.tags and RANGE_START in r.tags
    ]


def _ingest_request(run, job: str, sized: dict[str, str]) -> dg.RunRequest:
    """One month as a partition run, several as one range run (tagged as the sensor's batch)."""
    single = run.first == run.last
    return dg.RunRequest(
        run_key=run.run_key,
        job_name=job,
        partition_key=run.first if single else None,
        tags={
            **sized,
            "housing/trigger": run.reason,
            "housing/months": run.first if single else f"{run.first}..{run.last}",
            **({} if single else {RANGE_START: run.first, RANGE_END: run.last, BATCH_TAG: "true"}),
        },
    )


def _nothing_new(instance, source, fingerprints, order, plan, ignored: str) -> str:
    adopted = f"; adopted {len(plan.adopted)} ingested month(s)" if plan.adopted else ""
    held = _held_months(instance, order)
    waiting = (
        f"; {len(held)} month(s) held since their last ingest failed (quarantined or "
        f"crashed; a corrected file, or --accept-revisions, releases them): "
        f"{automation.span(held)}"
        if held
        else ""
    )
    return (
        f"{len(fingerprints)} month(s) in {source.describe()}, none new or changed"
        f"{waiting}{adopted}{ignored}"
    )


def _retrain_attempts(instance: dg.DagsterInstance) -> list[automation.Attempt]:
    """The sensor's retrainings, newest first, each with whether it reached the promotion gate
    (only those count toward the cooldown) or crashed before it, and why -- down to the newest
    that reached the gate: older ones decide nothing (`gated`, `crashes_in_a_row`), so a tick
    reads no more event logs than it needs."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=TRAIN_JOB, tags={"housing/sensor": "retrain"}), limit=20
    )
    out = []
    for record in records:
        run = record.dagster_run
        reached = any(
            e.check_name == "promotion_gate" for e in check_evaluations(instance, run.run_id)
        )
        failed = run.status == dg.DagsterRunStatus.FAILURE and not reached
        error = first_error(instance, run.run_id) if failed else ""
        out.append(
            automation.Attempt(
                run_id=run.run_id,
                data_until=run.tags.get("housing/data_until", ""),
                in_flight=run.status in IN_FLIGHT,
                reached_gate=reached,
                ended_at=record.end_time,
                error=error,
            )
        )
        if reached:
            break
    return out


def _held_months(instance: dg.DagsterInstance, order: list[str]) -> list[str]:
    """Months whose newest ingest run failed (`automation.held_months`), from the last 200 runs
    that ingest months."""
    runs = []
    for run in instance.get_runs(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]),
        limit=200,
    ):
        if run.job_name not in INGESTING:
            continue
        if RANGE_START in run.tags:
            first, last = run.tags[RANGE_START], run.tags[RANGE_END]
            covered = [m for m in order if first <= m <= last]
        else:
            covered = [run.tags["dagster/partition"]] if "dagster/partition" in run.tags else []
        runs.append((covered, run.status == dg.DagsterRunStatus.FAILURE))
    return automation.held_months(runs)


def _blocked(instance: dg.DagsterInstance, run_id: str) -> tuple[str, ...] | None:
    """The months a failed batch run's contract check named (None: it failed otherwise)."""
    blocked = checks.blocked_months(check_evaluations(instance, run_id))
    return None if blocked is None else tuple(blocked)


def retrain_on_drift_or_new_data(
    context: dg.SensorEvaluationContext,
    serving_store: ServingStore,
    retrain_policy: RetrainPolicy,
):
    """Retrain a new vintage when the champion loses to persistence live for `losing_months` in a
    row, a month's drift or MAPE decay crosses its threshold, or enough months arrived since the
    champion's data; the promotion gate then decides on promotion."""
    champion = serving_store.champion_provenance()
    if champion is None:
        return dg.SkipReason("no champion published yet: nothing to compare new data against")
    busy = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=TRAIN_JOB, statuses=IN_FLIGHT), limit=1
    )
    if busy:
        return dg.SkipReason(f"a training run is in flight ({busy[0].run_id[:8]}): waiting")
    cleaned = sorted(context.instance.get_materialized_partitions(CLEANED))
    data_until = champion["windows"]["holdout"]["last"]
    model_version = live_model_version(champion)
    store = serving_store.store()
    reports = {}  # only the live champion's view: a superseded model's verdict decides nothing
    for month in (m for m in cleaned if m > data_until):
        raw = drift_reports.read(store, model_version, month)
        if raw is not None:
            reports[month] = json.loads(raw)
    attempts = _retrain_attempts(context.instance)
    last_gated = automation.gated(attempts)
    decision = automation.plan_retrain(
        champion["version"],
        champion["vintage"],
        data_until,
        cleaned,
        reports,
        retrain_policy.rules(),
        last_attempt=last_gated.data_until if last_gated else None,
        model_version=model_version,
        live=live_performance.read(store, model_version)[0],
    )
    decision, attempt = automation.with_retries(
        decision, attempts, retrain_policy.rules(), time.time()
    )
    if not decision.retrain:
        return dg.SkipReason(decision.reason)
    if decision.vintage is None:
        raise ValueError(f"a retraining decided without a vintage: {decision}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"retrain-{decision.vintage}" + (f"-retry{attempt}" if attempt else ""),
                job_name=TRAIN_JOB,
                partition_key=decision.vintage,
                run_config=retrain_policy.run_config(),
                tags={
                    **size_tags(context.instance, "training"),
                    "housing/sensor": "retrain",
                    "housing/data_until": max(cleaned),
                    "housing/trigger": decision.trigger,
                    "housing/reason": decision.reason[:200],
                    "housing/champion": champion["version"],
                    "housing/champion_model": model_version,
                },
            )
        ],
        dynamic_partitions_requests=[vintages.build_add_request([decision.vintage])],
    )


def forecast_after_retrain(context: dg.SensorEvaluationContext, retrain_policy: RetrainPolicy):
    """A finished sensor-started retraining that wrote its vintage's splits -> that vintage's
    forecaster, backtest and gated publication. Promoted or not: the forecaster has its own gate,
    and a nowcast model held back says nothing about the forecaster."""
    runs = context.instance.get_runs(
        filters=dg.RunsFilter(
            job_name=TRAIN_JOB, tags={"housing/sensor": "retrain"}, statuses=FINISHED
        ),
        limit=5,
    )
    split = context.instance.get_materialized_partitions(SPLITS)
    ready = {
        run.tags["dagster/partition"]: run
        for run in reversed(runs)  # oldest first: the newest run of a vintage names it
        if run.tags.get("dagster/partition") in split
    }
    if not ready:
        return dg.SkipReason(
            "no finished retraining wrote its splits yet: nothing to fit a forecaster on"
        )
    sized = size_tags(context.instance, "training")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"forecast-{vintage}",  # once per vintage, retries of its training included
                job_name=FORECAST_JOB,
                partition_key=vintage,
                run_config=retrain_policy.forecast_run_config(),
                tags={
                    **sized,
                    "housing/sensor": "forecast-after-retrain",
                    "housing/trigger": f"retraining {run.run_id[:8]} wrote the splits",
                },
            )
            for vintage, run in ready.items()
        ]
    )


def live_model_version(provenance: dict) -> str:
    """The served model's MLflow version (bundles from before history refreshes: the bundle's)."""
    return str(provenance.get("model_version", provenance["version"]))


def drift_for_live_champion(
    context: dg.SensorEvaluationContext, serving_store: ServingStore, drift_policy: DriftPolicy
):
    """A new champion (or a refreshed store) -> its own drift reports of the recent months, so
    the API and the retrain decision read the live model's view and not a superseded one's."""
    champion = serving_store.champion_provenance()
    if champion is None:
        return dg.SkipReason("no champion published yet: no drift to score")
    model_version = live_model_version(champion)
    cleaned = sorted(context.instance.get_materialized_partitions(CLEANED))
    have = drift_reports.report_keys(serving_store.store(), model_version)
    missing = drift_reports.months_to_recompute(
        cleaned, champion["windows"]["holdout"]["last"], have, drift_policy.recompute_months
    )
    in_flight = _months_in_flight(context.instance)
    todo = [m for m in missing if m not in in_flight]
    if not todo:
        waiting = f"; {drift_reports.span(missing)} in flight" if missing else ""
        return dg.SkipReason(f"model v{model_version} has its drift reports{waiting}")
    order = sorted(set(cleaned) | set(instance_months(context.instance)))
    sized = size_tags(context.instance, "monthly")
    requests = []
    for first, last in automation.stretches(order, todo):
        span = first if first == last else f"{first}..{last}"
        requests.append(
            dg.RunRequest(
                run_key=f"drift-v{model_version}-{span}",
                job_name=DRIFT_JOB,
                partition_key=first if first == last else None,
                tags={
                    **sized,
                    "housing/trigger": "champion-change",
                    "housing/champion_model": model_version,
                    "housing/months": span,
                    **({RANGE_START: first, RANGE_END: last} if first != last else {}),
                },
            )
        )
    return dg.SensorResult(run_requests=requests)


def instance_months(instance: dg.DagsterInstance) -> list[str]:
    return list(instance.get_dynamic_partitions(MONTH))


def _months_in_flight(instance: dg.DagsterInstance) -> set[str]:
    """Months a queued or running monitored run will write a drift report for."""
    out: set[str] = set()
    order = sorted(instance_months(instance))
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT), limit=50):
        if run.job_name not in (DRIFT_JOB, MONITORED_JOB):
            continue
        if RANGE_START in run.tags:
            start, end = run.tags[RANGE_START], run.tags[RANGE_END]
            out |= {m for m in order if start <= m <= end}
        elif "dagster/partition" in run.tags:
            out.add(run.tags["dagster/partition"])
    return out


def sensors(intervals: SensorIntervals) -> list[dg.SensorDefinition]:
    """The four sensors, each evaluated at the environment's interval (policies: `sensors`)."""
    running = dg.DefaultSensorStatus.RUNNING
    return [
        dg.sensor(
            name="new_source_months",
            jobs=[jobs.ingest_job, jobs.ingest_and_monitor_job],
            minimum_interval_seconds=intervals.new_data_seconds,
            default_status=running,
            description=(
                "Watches the source for new or changed monthly files: registers each month as a "
                "partition and requests one ingest run per stretch of new months "
                "(ingest_and_monitor once a champion is published); a failed multi-month run is "
                "retried without the months its contract check named. A generated or "
                "single-file source only registers months."
            ),
        )(new_source_months),
        dg.sensor(
            name="retrain_on_drift_or_new_data",
            jobs=[jobs.train_job],
            minimum_interval_seconds=intervals.retrain_seconds,
            default_status=running,
            description=(
                "Requests a train run for a new vintage when a month's drift or MAPE decay "
                "crosses the RetrainPolicy thresholds or enough months arrived since the "
                "champion's data; one training at a time, with a cooldown and bounded retries. "
                "The promotion gate decides whether the new model serves."
            ),
        )(retrain_on_drift_or_new_data),
        dg.sensor(
            name="forecast_after_retrain",
            jobs=[jobs.forecast_job],
            minimum_interval_seconds=intervals.retrain_seconds,
            default_status=running,
            description=(
                "Requests the forecast job for a vintage once a sensor-started retraining of "
                "it finished with its splits written (promoted or not: the forecaster has its "
                "own backtest gate); once per vintage."
            ),
        )(forecast_after_retrain),
        dg.sensor(
            name="drift_for_live_champion",
            jobs=[jobs.drift_report_job],
            minimum_interval_seconds=intervals.drift_recompute_seconds,
            default_status=running,
            description=(
                "When the live champion's model lacks drift reports for the latest cleaned "
                "months (DriftPolicy.recompute_months) or any month after its data window, "
                "requests one recompute_drift run per stretch of those months, once per "
                "(model version, months): their drift reports as it sees them, and its served "
                "history advanced with any it lacks (months that landed while it trained)."
            ),
        )(drift_for_live_champion),
    ]
