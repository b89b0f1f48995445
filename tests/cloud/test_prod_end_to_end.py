"""HOUSING_ENV=prod end to end on loopback: the landing prefix, asset objects, Optuna, MLflow
(a real `mlflow server`, artifacts on S3) and the serving store, then the API serving from S3."""

import os
import subprocess
import sys
from pathlib import Path

import boto3
import dagster as dg
import mlflow
import pytest
from fastapi.testclient import TestClient

from housing_assets.definitions import build_definitions
from housing_assets.runner import ingest, register_months, train
from housing_core import bundle
from housing_core.settings import Settings
from housing_core.synthetic import SyntheticSpec, generate_panel
from housing_harness.loopback import free_port, http_ok, stop, wait_for
from housing_serving.app import create_app
from housing_serving.settings import ServingSettings
from tests.cloud.conftest import keys
from tests.conftest import TUNING, frames_by_month

# The main job on S3 and an MLflow server (~50 s): the end-to-end tier.
pytestmark = pytest.mark.slow


@pytest.fixture
def mlflow_server(tmp_path, bucket):
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{tmp_path}/mlflow.db",
            "--artifacts-destination",
            f"s3://{bucket}/mlflow",
        ],
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(http_ok(f"{url}/health"), what="mlflow server", timeout=120, process=process)
        yield url
    finally:
        stop(process, timeout=30)


def test_the_main_job_runs_on_s3_and_an_mlflow_server(tmp_path, bucket, mlflow_server, monkeypatch):
    panel = generate_panel(SyntheticSpec(seed=3, scale=0.01))
    s3 = boto3.client("s3")
    months = frames_by_month(panel)
    for month, frame in months.items():
        s3.put_object(
            Bucket=bucket, Key=f"landing/{month}.parquet", Body=frame.to_parquet(index=False)
        )
    env = {
        "HOUSING_ENV": "prod",
        "HOUSING_HOME": str(tmp_path / "home"),
        "HOUSING_SOURCE": f"s3://{bucket}/landing/",
        "HOUSING_DATA_URI": f"s3://{bucket}/data",
        "HOUSING_SERVING_URI": f"s3://{bucket}/serving",
        "MLFLOW_TRACKING_URI": mlflow_server,
        "HOUSING_OPTUNA_URL": f"sqlite:///{tmp_path}/optuna.db",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        register_months(instance, list(months))
        outcome = ingest(defs, instance, list(months), say=lambda _: None)
        assert outcome.ingested == sorted(months) and not outcome.quarantined
        trained = train(defs, instance, "2022-01", TUNING, say=lambda _: None)
        assert trained.published, trained.gate
        # The rest of the graph: a month's drift report and batch predictions, on S3 too.
        monitored = defs.resolve_job_def("ingest_and_monitor").execute_in_process(
            instance=instance, partition_key="2023-12"
        )
        assert monitored.success

    stored = keys(bucket, "data/")
    assert (
        "data/cleaned_monthly/2023-12.parquet" in stored
        and "data/raw_monthly/2012-03.parquet" in stored
    )
    assert "data/tuned_model/2022-01.json" in stored
    assert {"data/drift_report/2023-12.json", "data/batch_predictions/2023-12.parquet"} <= set(
        stored
    )
    reports = keys(bucket, "serving/reports/")
    assert any(  # under the model version that scored it
        k.startswith("serving/reports/drift/v") and k.endswith("/2023-12.html") for k in reports
    ), reports
    store = bundle.store_for(f"s3://{bucket}/serving")
    assert bundle.current_version(store) == trained.bundle_version
    assert not (tmp_path / "home" / "data").exists()  # nothing fell back to local disk

    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    run = client.get_run(trained.model.mlflow.run_id)
    assert run.info.status == "FINISHED" and "holdout_mape" in run.data.metrics
    assert any(k.startswith("mlflow/") for k in keys(bucket, "mlflow/")), "no artifact reached S3"
    assert (
        client.get_model_version_by_alias("housing-price-xgb", "champion").version
        == trained.model.mlflow.version
    )

    with TestClient(
        create_app(ServingSettings(store=f"s3://{bucket}/serving", poll_seconds=0))
    ) as api:
        assert api.get("/v1/model").json()["version"] == trained.bundle_version
