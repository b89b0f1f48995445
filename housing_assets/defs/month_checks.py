"""Per-month check evaluations that Dagster's UI counts: a range run's check logs one evaluation
per month, each pointing at the month's latest materialization (the check's Partitions tab and
GraphQL `partitionStatuses` count a month only while its latest evaluation targets that)."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)


def latest_materializations(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, months: list[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """Month -> its latest materialization (months never materialized are left out), newest
    first: one page when the run just materialized the months, more only for older ones."""
    found: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
    cursor = None
    while True:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=months),
            limit=len(months),
            cursor=cursor,
        )
        for record in page.records:
            if record.partition_key is not None and record.partition_key not in found:
                found[record.partition_key] = target(record)
        if len(found) == len(months) or not page.has_more:
            return found
        cursor = page.cursor


def target(record: dg.EventLogRecord) -> AssetCheckEvaluationTargetMaterializationData:
    """The pointer a check evaluation keeps to the materialization it judged. It is the type of
    public `AssetCheckEvaluation`'s `target_materialization_data` argument, but dagster 1.13.27
    exports it only from `dagster._core.definitions.asset_checks.asset_check_evaluation`;
    Dagster's own `AssetCheckResult._get_partitioned_target_materialization_data` builds it from
    the same record fields."""
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=record.storage_id,
        run_id=record.run_id,
        timestamp=record.timestamp,
    )
