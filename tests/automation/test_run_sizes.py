"""Sensor-requested runs sized for their Fargate task from the cleaned rows, only when
HOUSING_ECS_SIZING is set. Real instance, real serving store, the sensors evaluated directly; the
tags then go through dagster_aws's own EcsRunLauncher code that turns them into the task's size."""

import json

import dagster as dg
import pandas as pd
import pytest
from dagster_aws.ecs import EcsRunLauncher
from dagster_aws.ecs.container_context import EcsContainerContext

from housing_assets.definitions import build_definitions
from housing_assets.defs.ingestion.partitions import months
from housing_assets.defs.monitoring import sensors
from housing_assets.defs.monitoring.run_sizes import cleaned_rows
from housing_assets.resources.automation import RetrainPolicy, SensorIntervals
from housing_assets.resources.serving_store import ServingStore
from housing_core import bundle, drift_reports, task_sizes
from housing_core.settings import Settings
from tests.automation.daemon import InProcessDaemon
from tests.conftest import frames_by_month

SENSORS = {s.name: s for s in sensors.sensors(SensorIntervals())}
ROWS_PER_MONTH = 1_500_000  # three such months: a panel past 5x, larger than the run floor


def clean(instance: dg.DagsterInstance, month: str, rows: int) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            "cleaned_monthly", partition=month, metadata={"dagster/row_count": rows}
        )
    )


@pytest.fixture
def retrain_tick(tiny, tmp_path):
    """The retraining sensor's one run request for a champion with three cleaned months after
    its data, each with a calm drift report (the policy retrains after one new month)."""
    root = tiny.publish(tmp_path / "serving")
    store = bundle.LocalStore(root)
    provenance = json.loads(store.read(f"bundles/{bundle.current_version(store)}/provenance.json"))
    live = sensors.live_model_version(provenance)
    until = pd.Period(provenance["windows"]["holdout"]["last"], "M")
    later = [str(until + i) for i in (1, 2, 3)]
    for month in later:
        report = {"champion": live, "status": "ok", "reasons": []}
        store.write(drift_reports.key(live, month, "json"), json.dumps(report).encode())

    def tick() -> tuple[dg.RunRequest, int]:
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions(months.name, later)
            for month in later:
                clean(instance, month, ROWS_PER_MONTH)
            context = dg.build_sensor_context(
                instance=instance,
                resources={
                    "serving_store": ServingStore(root=str(root)),
                    "retrain_policy": RetrainPolicy(every_months=1, holdout_months=1),
                },
            )
            result = SENSORS["retrain_on_drift_or_new_data"](context)
            assert isinstance(result, dg.SensorResult), result
            (request,) = result.run_requests or []
            return request, cleaned_rows(instance)

    return tick


def test_with_sizing_on_a_retraining_asks_for_a_task_sized_for_the_cleaned_rows(
    retrain_tick, monkeypatch
):
    monkeypatch.setenv("HOUSING_ECS_SIZING", "1")
    request, rows = retrain_tick()
    assert rows == 3 * ROWS_PER_MONTH
    size = task_sizes.task_size(rows, "training")
    assert size.memory > task_sizes.RUN_FLOOR.memory
    assert request.tags["ecs/cpu"] == str(size.cpu)
    assert request.tags["ecs/memory"] == str(size.memory)
    assert f"{rows:,} cleaned rows" in request.tags["housing/sized_for"]

    # dagster_aws's launcher takes the run's tags over the instance's fixed run_resources
    run = dg.DagsterRun(job_name=request.job_name or "train", tags=request.tags)
    fixed = EcsContainerContext(run_resources={"cpu": "2048", "memory": "8192"})
    overrides = EcsRunLauncher.get_cpu_and_memory_overrides(None, fixed, run)
    assert overrides == {"cpu": str(size.cpu), "memory": str(size.memory)}


def test_with_sizing_off_a_retraining_carries_no_size(retrain_tick, monkeypatch):
    monkeypatch.delenv("HOUSING_ECS_SIZING", raising=False)
    request, _ = retrain_tick()
    assert request.tags["housing/sensor"] == "retrain"
    assert not {"ecs/cpu", "ecs/memory", "housing/sized_for"} & set(request.tags)


def test_a_month_cleaned_again_counts_as_its_latest_version():
    with dg.instance_for_test() as instance:
        clean(instance, "2022-01", 100)
        clean(instance, "2022-02", 200)
        clean(instance, "2022-01", 150)  # re-delivered and accepted
        assert cleaned_rows(instance) == 350


def test_with_sizing_on_new_months_are_ingested_in_a_task_sized_for_the_panel(
    tmp_path, small_panel, monkeypatch
):
    """Months already accepted are counted; the months landing are not read to size their run."""
    monkeypatch.setenv("HOUSING_ECS_SIZING", "1")
    landing = tmp_path / "landing"
    landing.mkdir()
    by_month = frames_by_month(small_panel)
    for month in ("2019-11", "2019-12"):
        by_month[month].to_parquet(landing / f"{month}.parquet", index=False)
    defs = build_definitions(Settings(home=tmp_path / "home", source=str(landing)))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(months.name, ["2019-10"])
        clean(instance, "2019-10", 6_000_000)  # a month of a very large panel, already in
        (request,) = (
            InProcessDaemon(defs, instance).tick("new_source_months", execute=False).run_requests
        )
    size = task_sizes.task_size(6_000_000, "monthly")
    assert size != task_sizes.RUN_FLOOR
    assert (request.tags["ecs/cpu"], request.tags["ecs/memory"]) == (
        str(size.cpu),
        str(size.memory),
    )
