"""The new-data sensor on a real ephemeral instance: run requests, cursor, idempotency."""

import os

import dagster as dg
import pytest

from housing_assets.definitions import build_definitions
from housing_assets.defs.monitoring.run_history import check_evaluations
from housing_core.settings import Settings
from tests.automation.daemon import InProcessDaemon
from tests.conftest import frames_by_month

SENSOR = "new_source_months"


@pytest.fixture
def landing(tmp_path, small_panel):
    path = tmp_path / "landing"
    path.mkdir()
    by_month = frames_by_month(small_panel)
    for month in ("2019-10", "2019-11", "2019-12"):
        by_month[month].to_parquet(path / f"{month}.parquet", index=False)
    return path, by_month


@pytest.fixture
def daemon(tmp_path, landing):
    defs = build_definitions(Settings(home=tmp_path / "home", source=str(landing[0])))
    with dg.instance_for_test() as instance:
        yield InProcessDaemon(defs, instance)


@pytest.mark.slow
def test_each_month_is_ingested_once_whatever_the_ticks_and_restarts(daemon, landing):
    path, by_month = landing
    first = daemon.tick(SENSOR)
    (request,) = first.run_requests  # three contiguous new months: one single-run backfill
    assert request.job_name == "ingest"  # no champion yet
    assert request.tags["housing/months"] == "2019-10..2019-12"
    assert request.tags["housing/trigger"] == "new month"
    assert all(result.success for result in first.results)
    instance = daemon.instance
    assert set(instance.get_dynamic_partitions("month")) == {"2019-10", "2019-11", "2019-12"}
    assert instance.get_materialized_partitions(dg.AssetKey("cleaned_monthly")) == {
        "2019-10",
        "2019-11",
        "2019-12",
    }

    second = daemon.tick(SENSOR)
    assert second.run_requests == [] and "none new or changed" in second.skipped

    daemon.restart()  # the cursor survives a daemon restart; launched run keys are in the instance
    assert daemon.tick(SENSOR).run_requests == []

    # The same bytes written again (a new mtime): no run.
    target = path / "2019-11.parquet"
    target.write_bytes(target.read_bytes())
    os.utime(target, ns=(1, 1))
    assert daemon.tick(SENSOR).run_requests == []

    # A new month arrives, and a month's content changes: one run each.
    by_month["2020-01"].to_parquet(path / "2020-01.parquet", index=False)
    # (A correction of one zip: rewriting a whole column of a past month is held for review.)
    changed = by_month["2019-11"].copy()
    changed.loc[0, "inventory"] += 1
    changed.to_parquet(target, index=False)
    tick = daemon.tick(SENSOR)
    reasons = {r.partition_key: r.tags["housing/trigger"] for r in tick.run_requests}
    assert reasons == {"2019-11": "changed content", "2020-01": "new month"}
    assert all(result.success for result in tick.results)
    assert daemon.tick(SENSOR).run_requests == []

    assert ingested_per_month(instance) == {"2019-10": 1, "2019-11": 2, "2019-12": 1, "2020-01": 1}


def ingested_per_month(instance) -> dict[str, int]:
    records = instance.fetch_materializations(dg.AssetKey("raw_monthly"), limit=1000).records
    counts: dict[str, int] = {}
    for record in records:
        month = record.asset_materialization.partition
        counts[month] = counts.get(month, 0) + 1
    return counts


def test_a_generated_source_only_registers_months(tmp_path):
    defs = build_definitions(Settings(home=tmp_path / "home", scale=0.01))
    with dg.instance_for_test() as instance:
        daemon = InProcessDaemon(defs, instance)
        tick = daemon.tick(SENSOR)
        assert tick.run_requests == [] and len(instance.get_dynamic_partitions("month")) == 142
        assert "are partitions" in daemon.tick(SENSOR).skipped


def test_a_lost_cursor_adopts_what_is_already_ingested(daemon, landing):
    daemon.tick(SENSOR)
    daemon.cursors.clear()  # e.g. the sensor was reset in the UI
    tick = daemon.tick(SENSOR)
    assert tick.run_requests == [] and "adopted 3" in tick.skipped


def test_an_empty_landing_area_is_a_skip_with_a_reason(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    defs = build_definitions(Settings(home=tmp_path / "home", source=str(empty)))
    with dg.instance_for_test() as instance:
        tick = InProcessDaemon(defs, instance).tick(SENSOR)
    assert tick.run_requests == [] and "no monthly files yet" in tick.skipped


@pytest.mark.slow
def test_a_corrupt_month_fails_its_check_alone_while_the_others_proceed(tmp_path, small_panel):
    """A truncated CSV and a cut-short Parquet file in a batch: the batch run fails, its blocking
    contract check names the two bad months and the file; the sensor applies the platform's one
    policy (`automation.after_failure`): the named months stay quarantined, the others run again
    (one run per contiguous stretch) and land; a repaired file is ingested on the next tick."""
    path = tmp_path / "landing"
    path.mkdir()
    by_month = frames_by_month(small_panel)
    by_month["2019-10"].to_parquet(path / "2019-10.parquet", index=False)
    by_month["2019-12"].to_parquet(path / "2019-12.parquet", index=False)
    good_csv = by_month["2019-11"].to_csv(index=False).encode()
    (path / "2019-11.csv").write_bytes(good_csv[:-60])  # an upload cut off mid-row
    by_month["2020-01"].to_parquet(path / "2020-01.parquet", index=False)
    parquet = (path / "2020-01.parquet").read_bytes()
    (path / "2020-01.parquet").write_bytes(parquet[: len(parquet) // 2])

    defs = build_definitions(Settings(home=tmp_path / "home", source=str(path)))
    with dg.instance_for_test() as instance:
        daemon = InProcessDaemon(defs, instance)
        cleaned = dg.AssetKey("cleaned_monthly")

        (batch,) = daemon.tick(SENSOR).results
        assert not batch.success  # the blocking check stops the whole batch...
        assert instance.get_materialized_partitions(cleaned) == set()
        named = {
            e.partition: e.description or ""
            for e in check_evaluations(instance, batch.run_id)
            if e.check_name == "raw_contract" and not e.passed and e.partition is not None
        }  # ...naming each bad month and why, partition by partition, in the run's event log
        assert set(named) == {"2019-11", "2020-01"}, named
        assert "2019-11.csv: truncated" in named["2019-11"] and "ends mid-row" in named["2019-11"]
        assert "2020-01.parquet: cannot be read as .parquet" in named["2020-01"]

        retry = daemon.tick(SENSOR)  # the other months run again; the named ones do not
        outcome = {
            r.partition_key: res.success
            for r, res in zip(retry.run_requests, retry.results, strict=True)
        }
        assert outcome == {"2019-10": True, "2019-12": True}
        assert all(
            r.tags["housing/trigger"].startswith("retry without 2019-11, 2020-01 (quarantined)")
            for r in retry.run_requests
        )
        assert instance.get_materialized_partitions(cleaned) == {"2019-10", "2019-12"}

        idle = daemon.tick(SENSOR)
        assert idle.run_requests == []  # a failed batch is handled only once
        # ...and an idle tick names what is held, not "all is well"
        assert "2 month(s) held since their last ingest failed" in idle.skipped
        assert idle.skipped.endswith("2019-11, 2020-01")

        (path / "2019-11.csv").write_bytes(good_csv)  # the sender re-uploads the full file
        (repaired,) = daemon.tick(SENSOR).results
        assert repaired.success
        assert instance.get_materialized_partitions(cleaned) == {"2019-10", "2019-11", "2019-12"}
