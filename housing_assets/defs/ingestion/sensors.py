"""Keeps the month partitions in step with what the source has."""

import dagster as dg

from housing_assets.defs.ingestion.partitions import months
from housing_assets.resources.source import HouseTSSource


@dg.sensor(minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING)
def register_source_months(context: dg.SensorEvaluationContext, source: HouseTSSource):
    """Adds every month the source delivers as a partition of the raw data (no runs requested)."""
    known = set(context.instance.get_dynamic_partitions(months.name))
    new = [m for m in source.months() if m not in known]
    if not new:
        return dg.SkipReason(f"all {len(known)} source months are partitions already")
    return dg.SensorResult(dynamic_partitions_requests=[months.build_add_request(new)])
