"""Monthly partitions of the raw data.

Dynamic partitions keyed 'YYYY-MM': a month becomes a partition when a source delivers it
(registered by `housing run` and by the month-registration sensor), so new data needs no code
change, and the graph never shows phantom partitions for months that have no data -- a
calendar-based MonthlyPartitionsDefinition would list every month up to today as "missing".
"""

import dagster as dg

from housing_assets import liveness
from housing_core import automation
from housing_core.settings import Settings

MONTH = "month"  # the partitions' name (a str where Dagster's own attribute is Optional)
months = dg.DynamicPartitionsDefinition(name=MONTH)


MONTHLY_POOL = "monthly_data"  # runs writing monthly data queue behind each other (dagster.yaml)
POOL_TAG = f".dagster/pool/{MONTHLY_POOL}"  # how Dagster marks a run that uses the pool
WRITING = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]  # may still write


def backfill_policy(chunk: int | None) -> dg.BackfillPolicy:
    """A backfill's months in one run (`chunk` None), or in runs of `chunk` months each, which
    run side by side as far as the monthly pool's limit lets them."""
    if chunk is None:
        return dg.BackfillPolicy.single_run()
    return dg.BackfillPolicy.multi_run(chunk)


# Read when the code location loads: the daemon, the webserver and the run workers each build it
# from the same environment.
BACKFILL_POLICY = backfill_policy(Settings.from_env().backfill_chunk)


def ensure_pool_limits(instance: dg.DagsterInstance, limit: int | None = None) -> None:
    """Register the monthly pool's limit with the instance before any run is queued: `limit`
    (HOUSING_BACKFILL_RUNS) when configured, else the instance's default limit.

    Dagster's queue applies a pool's default limit only from the iteration after the one in which
    it first meets the pool, so the first runs ever queued together could start together.
    Called by `housing dev` and by the new-data sensor (which is how production meets it)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    if limit is not None:
        storage.set_concurrency_slots(MONTHLY_POOL, limit)
        return
    if instance.global_op_concurrency_default_limit is None:
        return
    if MONTHLY_POOL not in storage.get_concurrency_keys():
        storage.initialize_concurrency_limit_to_default(MONTHLY_POOL)


def refuse_overlapping_runs(context: dg.AssetExecutionContext) -> None:
    """Fail this run before it writes when a run that started before it is still writing any of
    its months: two writers of one month would interleave its file and its events. The pool
    queues such runs behind each other while its limit is 1; with parallel backfills (a limit
    above 1), or beside an in-process `housing run` (which no queue sees), this keeps each month
    to one writer. Of two overlapping runs the later one stops, so one always goes on."""
    instance = context.instance
    record = instance.get_run_record_by_id(context.run_id)
    started = record.start_time if record is not None else None
    if started is None:  # not started through the run storage: nothing to order it by
        return
    others = instance.get_run_records(
        filters=dg.RunsFilter(statuses=WRITING, tags={POOL_TAG: "true"})
    )
    writing = [
        _in_flight(r)
        for r in others
        if r.dagster_run.run_id != context.run_id
        # a run whose process is known gone writes nothing (run monitoring fails it later)
        and liveness.dead_reason(instance, r.dagster_run) is None
    ]
    clashes = automation.overlapping_runs(
        context.partition_keys, automation.InFlight(context.run_id, started), writing
    )
    if clashes:
        raise dg.Failure(description=automation.describe_overlaps(clashes))


def _in_flight(record: dg.RunRecord) -> automation.InFlight:
    tags = record.dagster_run.tags
    first = tags.get(automation.RANGE_START, tags.get("dagster/partition"))
    last = tags.get(automation.RANGE_END, first)
    return automation.InFlight(record.dagster_run.run_id, record.start_time, first, last)
