"""In-process Dagster run of the monthly monitoring over a range of months, against the tiny
champion: each month's materialization carries that month's own figures."""

import json

import dagster as dg
import pandas as pd
import pytest

from housing_assets.definitions import build_definitions
from housing_assets.resources.automation import RetrainPolicy
from housing_assets.runner import register_months
from housing_core import live_performance
from housing_core.automation import RANGE_END, RANGE_START
from housing_core.settings import Settings
from housing_core.storage import LocalStore

MONTHS = ["2022-02", "2022-03", "2022-04"]


def _latest(instance, asset: str, month: str) -> dict:
    [record] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[month]), limit=1
    ).records
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


def _tracked(home, settings: Settings) -> str:
    """The published champion, republished as tracked by a run of this home's MLflow store."""
    import mlflow

    from housing_core import bundle

    client = mlflow.MlflowClient(tracking_uri=settings.mlflow_tracking_uri)
    run_id = client.create_run(client.create_experiment("housing-price")).info.run_id
    store = bundle.LocalStore(home / "serving")
    files = {k: v for k, v in bundle.load(store).files.items() if k != bundle.MANIFEST}
    provenance = json.loads(files[bundle.PROVENANCE])
    provenance["mlflow"]["run_id"] = run_id
    provenance["trained_through"] = MONTHS[0]  # refit through the first month monitored
    files[bundle.PROVENANCE] = json.dumps(provenance).encode()
    bundle.publish(store, "2022-01-v1-tracked", files)
    return run_id


@pytest.mark.slow
def test_a_range_run_reports_drift_and_row_counts_per_month(tmp_path, tiny):
    import mlflow

    home = tmp_path / "home"
    tiny.publish(home / "serving")
    settings = Settings(home=home, scale=0.001, seed=3)
    run_id = _tracked(home, settings)
    falls_back = RetrainPolicy(fallback_to_baseline=True, losing_months=1)
    defs = build_definitions(settings, {"retrain_policy": falls_back})
    with dg.instance_for_test() as instance:
        register_months(instance, MONTHS)
        job = defs.resolve_job_def("ingest_and_monitor")
        result = job.execute_in_process(
            instance=instance, tags={RANGE_START: MONTHS[0], RANGE_END: MONTHS[-1]}
        )
        assert result.success
        statuses, lives = {}, {}
        for month in MONTHS:
            cleaned = len(pd.read_parquet(home / "data" / "cleaned_monthly" / f"{month}.parquet"))
            batch = _latest(instance, "batch_predictions", month)
            scored = pd.read_parquet(home / "data" / "batch_predictions" / f"{month}.parquet")
            assert batch["dagster/row_count"] == len(scored) == cleaned
            assert batch["run_rows"] == batch["run_months"] * cleaned  # the same zips each month
            drift = _latest(instance, "drift_report", month)
            model = _latest(instance, "drift_report", MONTHS[0])["model_version"]
            stored = json.loads(
                (home / "serving" / "reports" / "drift" / f"v{model}" / f"{month}.json").read_text()
            )
            assert stored["champion"] == model
            assert drift["dagster/row_count"] == stored["rows"] == cleaned
            assert drift["status"] == stored["status"]
            # Dagster shows figures at 4 decimals; the stored report keeps them exact.
            assert drift["share_drifting"] == round(stored["share_drifting"], 4)
            assert drift["report"].endswith(f"drift/v{model}/{month}.html")
            statuses[month] = stored["status"]
            # The live record: what was served for the month against its prices and persistence.
            live = json.loads(
                (home / "serving" / "reports" / "live" / f"v{model}" / f"{month}.json").read_text()
            )
            anchored = scored[scored["anchor_price"].notna() & scored["price"].notna()]
            ape = (anchored["prediction"] / anchored["price"] - 1).abs().mean() * 100
            persistence = (anchored["anchor_price"] / anchored["price"] - 1).abs().mean() * 100
            assert live["anchored_rows"] == len(anchored) > 0
            assert live["mape"] == pytest.approx(ape, abs=1e-3)
            assert live["persistence_mape"] == pytest.approx(persistence, abs=1e-3)
            assert live["losing"] == (ape >= persistence)
            assert _latest(instance, "live_performance", month)["mape"] == round(live["mape"], 4)
            lives[month] = live["mape"]
        # A month the champion learned from is reported, not judged, and its check passes.
        assert statuses[MONTHS[0]] == "trained"
        assert "trained" not in [statuses[m] for m in MONTHS[1:]]
        checked = {
            e.partition: e
            for e in (
                r.event_log_entry.dagster_event.event_specific_data
                for r in instance.get_records_for_run(
                    result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
                ).records
            )
            if e.check_name == "drift_within_thresholds" and e.partition
        }
        assert checked[MONTHS[0]].passed
        assert checked[MONTHS[0]].description == (
            f"model {model} was trained on months through {MONTHS[0]}: not judged"
        )
        # The policy's fallback follows the whole live record of the model.
        store = LocalStore(home / "serving")
        records, _ = live_performance.read(store, model)
        assert live_performance.read_fallback(store) == live_performance.fallback(records, model, 1)
        run_counts = _latest(instance, "drift_report", MONTHS[0])["run_status_counts"]
        assert run_counts == pd.Series(list(statuses.values())).value_counts().to_dict()
    # Each month's live error is a step of the champion's own MLflow run.
    client = mlflow.MlflowClient(tracking_uri=settings.mlflow_tracking_uri)
    logged = {m.step: m.value for m in client.get_metric_history(run_id, "live_mape")}
    steps = {(int(m[:4]) - 1970) * 12 + int(m[5:]) - 1: v for m, v in lives.items()}
    assert logged == pytest.approx(steps)


@pytest.mark.slow
def test_a_new_champion_gets_the_months_that_landed_while_it_trained(tmp_path, tiny):
    """A retrained champion published after months were refreshed into the champion it
    replaced served without them (the operator's loop: history to 2021-04 after 2021-05
    landed). The run the drift sensor requests for a new champion advances its history too."""
    from housing_core import anchors as A
    from housing_core import bundle, publishing, refresh
    from housing_core import features as F

    home = tmp_path / "home"
    tiny.publish(home / "serving")
    store = bundle.LocalStore(home / "serving")
    # The new champion: its history ends before the months that landed while it trained.
    files = {k: v for k, v in bundle.load(store).files.items() if k != bundle.MANIFEST}
    state = F.FeatureState.from_json(files[bundle.FEATURE_STATE].decode())
    older = tiny.splits[tiny.splits["date"] < pd.Timestamp(MONTHS[0])]
    history = A.keep_recent(A.inputs(older, state.stats)).to_parquet(index=False)
    bundle.publish(store, "2022-01-v2", publishing.with_anchors(files, history))

    def history_until() -> str:
        served = refresh.history_of(bundle.load(store))
        return A.month_key(int(served[A.MONTH].max()))

    assert history_until() < MONTHS[0]
    defs = build_definitions(Settings(home=home, scale=0.001, seed=3))
    with dg.instance_for_test() as instance:
        register_months(instance, MONTHS)
        tags = {RANGE_START: MONTHS[0], RANGE_END: MONTHS[-1]}
        ingest = defs.resolve_job_def("ingest").execute_in_process(instance=instance, tags=tags)
        assert ingest.success
        recompute = defs.resolve_job_def("recompute_drift")
        assert recompute.execute_in_process(instance=instance, tags=tags).success
    assert history_until() == MONTHS[-1]
    assert f".h{MONTHS[-1]}-" in bundle.current_version(store)  # the same model, refreshed
