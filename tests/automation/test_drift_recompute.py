"""A champion change -> one drift_report run for the months its model has no reports of, once
per (model, months); the retrain decision reads only the live model's reports. Real instance,
real serving store; the sensors are evaluated directly."""

import json

import dagster as dg
import pandas as pd

from housing_assets.defs.ingestion.partitions import months
from housing_assets.defs.monitoring import sensors
from housing_assets.resources.automation import DriftPolicy, RetrainPolicy, SensorIntervals
from housing_assets.resources.serving_store import ServingStore
from housing_core import bundle, drift_reports

SENSORS = {s.name: s for s in sensors.sensors(SensorIntervals())}


def test_a_new_champion_gets_its_recent_months_recomputed_and_stale_reports_decide_nothing(
    tiny, tmp_path
):
    root = tiny.publish(tmp_path / "serving")
    store = bundle.LocalStore(root)
    provenance = json.loads(store.read(f"bundles/{bundle.current_version(store)}/provenance.json"))
    live = sensors.live_model_version(provenance)
    until = provenance["windows"]["holdout"]["last"]
    later = [str(pd.Period(until, "M") + 1), str(pd.Period(until, "M") + 2)]
    cleaned = [until, *later]
    for month in later:  # a superseded model's verdicts: drifted, and about another model
        store.write(
            drift_reports.key("old", month, "json"),
            json.dumps({"champion": "old", "status": "error", "reasons": ["x"]}).encode(),
        )
    serving = ServingStore(root=str(root))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(months.name, cleaned)
        for month in cleaned:
            instance.report_runless_asset_event(
                dg.AssetMaterialization("cleaned_monthly", partition=month)
            )
        context = dg.build_sensor_context(
            instance=instance,
            resources={"serving_store": serving, "drift_policy": DriftPolicy(recompute_months=2)},
        )
        result = SENSORS["drift_for_live_champion"](context)
        (request,) = result.run_requests
        assert request.job_name == "recompute_drift"
        assert request.run_key == f"drift-v{live}-{later[0]}..{later[1]}"
        assert (request.tags[sensors.RANGE_START], request.tags[sensors.RANGE_END]) == tuple(later)
        assert request.tags["housing/champion_model"] == live

        retrain = SENSORS["retrain_on_drift_or_new_data"](
            dg.build_sensor_context(
                instance=instance,
                resources={"serving_store": serving, "retrain_policy": RetrainPolicy()},
            )
        )
    assert isinstance(retrain, dg.SkipReason)
    assert f"waiting for drift reports of model v{live} for {later[0]}..{later[1]}" in (
        retrain.skip_message or ""
    )
