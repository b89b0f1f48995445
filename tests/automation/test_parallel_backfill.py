"""A monthly backfill split into runs that write side by side, through the real daemon: the backfill
daemon cuts it into runs of HOUSING_BACKFILL_CHUNK months, the queue starts HOUSING_BACKFILL_RUNS
of them at once (the `monthly_data` pool), each in its own run-worker process."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.utils import make_new_backfill_id

from housing_assets.definitions import build_definitions
from housing_assets.defs.ingestion import checks
from housing_assets.defs.ingestion.assets import cleaned_monthly, raw_monthly
from housing_assets.defs.ingestion.partitions import ensure_pool_limits
from housing_assets.defs.monitoring.run_history import check_evaluations
from housing_assets.runner import register_months
from housing_core.automation import RANGE_END, RANGE_START
from housing_core.settings import Settings
from housing_core.synthetic import SyntheticSpec, generate_panel
from housing_harness.loop import LoopHome, LoopProcesses
from housing_harness.loopback import wait_for

CHUNK, RUNS = 6, 2
MONTHS = [str(p) for p in pd.period_range("2019-01", "2020-12", freq="M")]  # 24: four runs
CHUNKS = [MONTHS[i : i + CHUNK] for i in range(0, len(MONTHS), CHUNK)]
PLANTED = CHUNKS[1][0]  # the first month of the second run, its month before in the first run


@dataclass(frozen=True)
class BackfillHome(LoopHome):
    """A home whose source is one Parquet file (the new-data sensor only registers its months),
    with backfills in runs of CHUNK months, RUNS at once."""

    @property
    def panel(self) -> Path:
        return self.home / "panel.parquet"

    def env(self) -> dict[str, str]:
        return {
            **super().env(),
            "HOUSING_SOURCE": str(self.panel),
            "HOUSING_BACKFILL_CHUNK": str(CHUNK),
            "HOUSING_BACKFILL_RUNS": str(RUNS),
        }


def _write_panel(path: Path) -> None:
    """The tiny panel's 24 months (30 zips), PLANTED's prices x1.4."""
    panel = generate_panel(SyntheticSpec(seed=3, scale=0.001))
    month = panel["date"].dt.strftime("%Y-%m")
    panel = panel[month.isin(MONTHS)].copy()
    panel.loc[month == PLANTED, "price"] *= 1.4
    path.parent.mkdir(parents=True)
    panel.to_parquet(path, index=False)


# Each run's steps in the run worker's process, as the platform's own jobs run them (jobs.py): the
# implicit asset job a backfill runs defaults to a process per step, each importing the code
# location again, which is most of a small run.
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def _backfill(instance: dg.DagsterInstance, defs: dg.Definitions) -> str:
    """Request the backfill as the UI's 'Materialize' over a partition range does (its launchpad
    choosing the in-process executor)."""
    backfill_id = make_new_backfill_id()
    instance.add_backfill(
        PartitionBackfill.from_asset_partitions(
            backfill_id=backfill_id,
            asset_graph=defs.resolve_asset_graph(),
            partition_names=MONTHS,
            asset_selection=[raw_monthly.key, cleaned_monthly.key],
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=None,
            description=None,
            run_config=IN_PROCESS,
        )
    )
    return backfill_id


def _per_month(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, int]:
    records = instance.fetch_materializations(key, limit=1000).records
    counts: dict[str, int] = {}
    for record in records:
        counts[record.partition_key] = counts.get(record.partition_key, 0) + 1
    return counts


@pytest.mark.slow
def test_a_backfill_in_chunks_runs_side_by_side_and_still_quarantines_a_chunks_first_month(
    tmp_path,
):
    loop = BackfillHome(tmp_path / "home", scale=0.001)
    _write_panel(loop.panel)
    defs = build_definitions(Settings(home=loop.home, source=str(loop.panel)))
    ended = {BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED}
    ended |= {BulkActionStatus.FAILED, BulkActionStatus.CANCELED}
    with loop.instance() as instance, LoopProcesses(loop, tmp_path / "logs") as procs:
        register_months(instance, MONTHS)
        ensure_pool_limits(instance, RUNS)  # as `housing dev` does before anything is queued
        daemon = procs.daemon()
        backfill_id = _backfill(instance, defs)
        requested = time.monotonic()

        def done() -> bool:
            backfill = instance.get_backfill(backfill_id)
            return backfill is not None and backfill.status in ended

        wait_for(done, what="the backfill", timeout=600, process=daemon)
        records = instance.get_run_records(
            filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id})
        )

        runs = {
            (r.dagster_run.tags[RANGE_START], r.dagster_run.tags[RANGE_END]): r for r in records
        }
        assert sorted(runs) == [(c[0], c[-1]) for c in CHUNKS], procs.log("daemon")[-3000:]
        spans = sorted((r.start_time, r.end_time) for r in records)
        overlaps = [(a, b) for a, b in itertools.combinations(spans, 2) if b[0] < a[1]]
        assert overlaps, f"no two runs overlapped: {spans}"

        # The run holding PLANTED failed on its contract check, naming that month alone (its
        # month before was another run's), so none of its months was cleaned; the others passed.
        planted = runs[(CHUNKS[1][0], CHUNKS[1][-1])]
        assert planted.dagster_run.status == dg.DagsterRunStatus.FAILURE
        evaluations = check_evaluations(instance, planted.dagster_run.run_id)
        assert checks.blocked_months(evaluations) == [PLANTED]
        assert any(
            "zips' price moved more than 40%" in line
            for line in checks.findings(evaluations)[PLANTED]
        )
        others = [r for r in records if r is not planted]
        assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in others)

        assert _per_month(instance, raw_monthly.key) == dict.fromkeys(MONTHS, 1)
        cleaned = [m for m in MONTHS if m not in CHUNKS[1]]
        assert _per_month(instance, cleaned_monthly.key) == dict.fromkeys(cleaned, 1)
        took = time.monotonic() - requested
        print(f"{len(MONTHS)} months in {len(records)} runs, {len(overlaps)} overlapping pair(s), "
              f"{took:.0f} s from request to end")  # fmt: skip
