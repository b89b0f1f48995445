"""Monthly partitions of the raw data.

Dynamic partitions keyed 'YYYY-MM': a month becomes a partition when a source delivers it
(registered by `housing run` and by the month-registration sensor), so new data needs no code
change, and the graph never shows phantom partitions for months that have no data -- a
calendar-based MonthlyPartitionsDefinition would list every month up to today as "missing".
"""

import dagster as dg

MONTH = "month"  # the partitions' name (a str where Dagster's own attribute is Optional)
months = dg.DynamicPartitionsDefinition(name=MONTH)


MONTHLY_POOL = "monthly_data"  # runs writing monthly data queue behind each other (dagster.yaml)


def ensure_pool_limits(instance: dg.DagsterInstance) -> None:
    """Register the monthly pool's limit with the instance before any run is queued.

    Dagster's queue applies a pool's default limit only from the iteration after the one in which
    it first meets the pool, so the first runs ever queued together could start together.
    Called by `housing dev` and by the new-data sensor (which is how production meets it)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    if instance.global_op_concurrency_default_limit is None:
        return
    if MONTHLY_POOL not in storage.get_concurrency_keys():
        storage.initialize_concurrency_limit_to_default(MONTHLY_POOL)
