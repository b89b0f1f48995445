"""A landed month's live record on the champion's own MLflow run: metrics stepped by month, in a
real MLflow tracking store (SQLite), so MLflow's charts show live error beside persistence."""

from housing_assets.resources.mlflow_tracking import MlflowTracking
from housing_core import live_performance as live
from housing_harness.live import scored


def test_each_landed_month_is_a_step_of_the_champions_live_metrics(tmp_path):
    import mlflow

    tracking = MlflowTracking(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = mlflow.MlflowClient(tracking_uri=tracking.tracking_uri)
    run_id = client.create_run(client.create_experiment("housing-price")).info.run_id
    for month, error in (("2022-09", 0.04), ("2022-08", 0.01)):
        tracking.log_live(run_id, live.record(scored(30, error, 0.02), month, "1", "b"))
    history = client.get_metric_history(run_id, "live_mape")
    steps = {m.step: round(m.value, 4) for m in history}
    assert steps == {(2022 - 1970) * 12 + 7: 1.0, (2022 - 1970) * 12 + 8: 4.0}
    persistence = client.get_metric_history(run_id, "live_persistence_mape")
    assert {round(m.value, 4) for m in persistence} == {2.0}


def test_a_run_the_store_does_not_hold_is_told_apart(tmp_path):
    import mlflow

    tracking = MlflowTracking(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = mlflow.MlflowClient(tracking_uri=tracking.tracking_uri)
    run_id = client.create_run(client.create_experiment("housing-price")).info.run_id
    assert tracking.has_run(run_id) and not tracking.has_run("0" * 32)
