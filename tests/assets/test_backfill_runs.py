"""A backfill split into runs (HOUSING_BACKFILL_CHUNK) that write side by side
(HOUSING_BACKFILL_RUNS): each run judges its first month against the month before, which another
run may not have cleaned yet, and a run never writes months an earlier run still writes."""

import socket
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from housing_assets import liveness
from housing_assets.definitions import build_definitions
from housing_assets.defs.ingestion.assets import cleaned_monthly, raw_monthly
from housing_assets.defs.ingestion.partitions import (
    MONTHLY_POOL,
    backfill_policy,
    ensure_pool_limits,
)
from housing_assets.runner import ingest, register_months
from housing_core.automation import RANGE_END, RANGE_START
from housing_core.settings import Settings
from tests.conftest import frames_by_month

MONTHS = ["2019-11", "2019-12", "2020-01", "2020-02"]


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def _landing(tmp_path: Path, panel, factors: dict[str, float]) -> dg.Definitions:
    """Definitions over a landing area holding MONTHS, prices multiplied by `factors` per month."""
    landing = tmp_path / "landing"
    landing.mkdir()
    for month, frame in frames_by_month(panel).items():
        if month in MONTHS:
            frame = frame.assign(price=frame["price"] * factors.get(month, 1.0))
            frame.to_parquet(landing / f"{month}.parquet", index=False)
    return build_definitions(Settings(home=tmp_path / "home", source=str(landing)))


@pytest.mark.slow
def test_a_runs_first_month_is_judged_against_a_month_before_no_run_has_cleaned_yet(
    tmp_path, instance, small_panel
):
    """The run over 2020-01..2020-02 starts while the run holding 2019-12 has not cleaned it:
    2020-01's x1.4 prices are judged against 2019-12 as delivered, and quarantined."""
    defs = _landing(tmp_path, small_panel, {"2020-01": 1.4})
    register_months(instance, MONTHS)
    outcome = ingest(defs, instance, MONTHS[2:], say=lambda _: None)
    assert list(outcome.quarantined) == ["2020-01"]
    assert "price_plausible_month_over_month" in outcome.quarantined["2020-01"]
    assert outcome.ingested == ["2020-02"]
    assert not (tmp_path / "home" / "data" / "cleaned_monthly" / "2019-12.parquet").exists()


@pytest.mark.slow
def test_a_delivered_month_before_that_is_itself_implausible_is_no_yardstick(
    tmp_path, instance, small_panel
):
    """2019-12 delivered at twice its prices (its own run will quarantine it): 2020-01 is not
    judged against it, as within one run a rejected month judges no other."""
    defs = _landing(tmp_path, small_panel, {"2019-12": 2.0})
    register_months(instance, MONTHS)
    outcome = ingest(defs, instance, MONTHS[2:], say=lambda _: None)
    assert outcome.ingested == MONTHS[2:] and not outcome.quarantined


def test_a_run_over_months_an_earlier_run_still_writes_fails_before_writing(
    tmp_path, instance, small_panel
):
    defs = _landing(tmp_path, small_panel, {})
    register_months(instance, MONTHS)
    job = defs.resolve_job_def("ingest")
    earlier = instance.create_run_for_job(
        job, tags={RANGE_START: MONTHS[0], RANGE_END: MONTHS[1]}
    )  # the event a run worker records as it starts:
    start = dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=job.name)
    instance.report_dagster_event(start, earlier.run_id)

    result = job.execute_in_process(
        instance=instance, tags={RANGE_START: MONTHS[1], RANGE_END: MONTHS[2]}, raise_on_error=False
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "raw_monthly"
    error = failure.step_failure_data.user_failure_data.description
    assert f"2019-12 (run {earlier.run_id})" in error
    assert "2020-01" not in error  # only the months both runs cover
    assert not instance.get_materialized_partitions(raw_monthly.key)

    # Once the earlier run has finished, the same months run.
    instance.report_run_failed(instance.get_run_by_id(earlier.run_id))
    again = job.execute_in_process(
        instance=instance, tags={RANGE_START: MONTHS[1], RANGE_END: MONTHS[2]}
    )
    assert again.success
    assert instance.get_materialized_partitions(cleaned_monthly.key) == set(MONTHS[1:3])


@pytest.mark.slow
def test_a_run_whose_process_is_gone_does_not_hold_its_months(tmp_path, instance, small_panel):
    """A killed `housing run` leaves its run STARTED until something fails it: its months are
    not held by it meanwhile."""
    defs = _landing(tmp_path, small_panel, {})
    register_months(instance, MONTHS)
    job = defs.resolve_job_def("ingest")
    gone = subprocess.Popen(["true"])
    assert gone.wait() == 0  # exited and reaped: no process has its pid
    worker = f"{socket.gethostname()}:{gone.pid}"
    dead = instance.create_run_for_job(
        job, tags={RANGE_START: MONTHS[0], RANGE_END: MONTHS[1], liveness.WORKER_TAG: worker}
    )
    start = dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=job.name)
    instance.report_dagster_event(start, dead.run_id)
    result = job.execute_in_process(
        instance=instance, tags={RANGE_START: MONTHS[1], RANGE_END: MONTHS[2]}
    )
    assert result.success


def test_backfills_run_whole_unless_a_chunk_is_configured():
    assert raw_monthly.backfill_policy == dg.BackfillPolicy.single_run()  # the default
    assert backfill_policy(None) == dg.BackfillPolicy.single_run()
    assert backfill_policy(6) == dg.BackfillPolicy.multi_run(6)
    assert Settings(backfill_chunk=6, backfill_runs=2).backfill_runs == 2
    with pytest.raises(ValueError):
        Settings(backfill_chunk=0)


def test_the_monthly_pool_takes_the_configured_limit(instance):
    storage = instance.event_log_storage
    ensure_pool_limits(instance, 2)
    assert storage.get_concurrency_info(MONTHLY_POOL).slot_count == 2
    ensure_pool_limits(instance)  # unset: an operator's limit (or the last configured) stays
    assert storage.get_concurrency_info(MONTHLY_POOL).slot_count == 2
