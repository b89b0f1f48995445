"""The Fargate size of the runs the sensors request, as run tags EcsRunLauncher reads (`ecs/cpu`,
`ecs/memory`; dagster_aws's launcher takes them over its `run_resources`).

Off unless HOUSING_ECS_SIZING is set: only EcsRunLauncher reads the tags, and counting the rows is
an event-log query each tick that requests runs. The rows are the cleaned months' own row counts
(`dagster/row_count` on each month's newest `cleaned_monthly` materialization), so no tick
loads the panel."""

from __future__ import annotations

import dagster as dg

from housing_core import task_sizes
from housing_core.settings import Settings

CLEANED = dg.AssetKey("cleaned_monthly")
ROW_COUNT = "dagster/row_count"
SIZED_FOR = "housing/sized_for"
PAGE = 500


def cleaned_rows(instance: dg.DagsterInstance) -> int:
    """Rows of the accepted months: each month's newest cleaned materialization's row count (a
    month re-ingested counts once, as its latest version)."""
    rows: dict[str, int] = {}
    cursor = None
    while True:
        page = instance.fetch_materializations(CLEANED, limit=PAGE, cursor=cursor)  # newest first
        for record in page.records:
            month, event = record.partition_key, record.asset_materialization
            if month is None or month in rows or event is None:
                continue
            count = event.metadata.get(ROW_COUNT)
            rows[month] = count.value if count is not None and isinstance(count.value, int) else 0
        if not page.has_more:
            return sum(rows.values())
        cursor = page.cursor


def size_tags(instance: dg.DagsterInstance, kind: task_sizes.Kind) -> dict[str, str]:
    """The run tags that size a `kind` run's task for the cleaned rows so far; none when sizing
    is off."""
    if not Settings.from_env().ecs_sizing:
        return {}
    rows = cleaned_rows(instance)
    size = task_sizes.task_size(rows, kind)
    return {
        "ecs/cpu": str(size.cpu),
        "ecs/memory": str(size.memory),
        SIZED_FOR: f"{kind} run, {rows:,} cleaned rows: {size}",
    }
