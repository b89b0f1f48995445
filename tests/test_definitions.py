"""The code location loads, and its asset/check/job names only change on purpose."""

import dagster as dg
import pytest

from housing_assets.definitions import build_definitions
from housing_assets.resources.environment import resources_for
from housing_core.settings import Settings
from tests.conftest import ALL_ASSETS, FORECASTING_ASSETS, LINEAGE_ASSETS


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    return build_definitions(Settings(home=tmp_path_factory.mktemp("home")))


def test_every_job_and_op_name_is_unique_as_a_code_server_loads_them(defs):
    """A job named like an asset's op (a `drift_report` job beside the `drift_report` asset)
    passes Definitions but makes the code server refuse the whole location: `dagster-daemon`
    and `dagster dev` then run no sensor at all."""
    defs.get_repository_def().load_all_definitions()


def test_module_level_defs_load():
    from housing_assets.definitions import defs as module_defs

    assert module_defs.resolve_job_def("ingest") is not None


def test_asset_check_job_sensor_snapshot(defs):
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == ALL_ASSETS
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert checks == {
        ("raw_monthly", "raw_contract"),
        ("raw_monthly", "raw_revisions"),
        ("raw_monthly", "raw_columns_reported"),
        ("raw_monthly", "raw_plausible_values"),
        ("cleaned_monthly", "cleaned_expectations"),
        ("splits", "splits_are_temporal"),
        ("feature_state", "encoders_fit_on_train_only"),
        ("holdout_predictions", "holdout_served_from_the_past"),
        ("holdout_metrics", "promotion_gate"),
        ("forecast_backtest", "forecast_beats_persistence"),
        ("drift_report", "drift_within_thresholds"),
        ("forecast_scorecard", "live_forecast_error"),
        ("live_performance", "champion_beats_persistence_live"),
    }
    assert {j.name for j in defs.jobs} == {
        "ingest",
        "check_and_clean",
        "train",
        "forecast",
        "ingest_and_monitor",
        "recompute_drift",
    }
    assert [s.name for s in defs.sensors] == [
        "new_source_months",
        "retrain_on_drift_or_new_data",
        "forecast_after_retrain",
        "drift_for_live_champion",
        "alert_on_failure",
        "alert_champion_losing",
    ]


def test_blocking_flags(defs):
    graph = defs.resolve_asset_graph()
    specs = {key.name: graph.get_check_spec(key).blocking for key in graph.asset_check_keys}
    assert specs == {
        "raw_contract": True,
        "raw_revisions": True,
        "raw_columns_reported": False,
        "raw_plausible_values": False,
        "cleaned_expectations": True,
        "splits_are_temporal": True,
        "encoders_fit_on_train_only": True,
        "holdout_served_from_the_past": True,
        "promotion_gate": True,
        "forecast_beats_persistence": True,
        "drift_within_thresholds": False,
        "live_forecast_error": False,
        "champion_beats_persistence_live": False,
    }


def test_every_asset_has_a_description_and_partitions(defs):
    for node in defs.resolve_asset_graph().asset_nodes:
        assert node.description, node.key
        assert isinstance(node.partitions_def, dg.DynamicPartitionsDefinition)
        expected = "month" if node.group_name in ("ingestion", "monitoring") else "vintage"
        assert node.partitions_def.name == expected, node.key


@pytest.mark.parametrize(
    ("source", "resource"),
    [
        ("synthetic", "SyntheticSource"),
        ("/data/housets.csv", "FileSource"),
        ("s3://b/k.csv", "S3Source"),
    ],
)
def test_source_setting_picks_the_implementation(tmp_path, source, resource):
    resources = resources_for(Settings(home=tmp_path, source=source))
    assert type(resources["source"]).__name__ == resource
    assert set(resources) == {
        "source",
        "io_manager",
        "mlflow_tracking",
        "optuna_storage",
        "serving_store",
        "promotion_policy",
        "retrain_policy",
        "drift_policy",
        "forecast_policy",
        "revision_policy",
        "sensor_intervals",
        "alerts",
        "threads",
        "dask",
    }


def test_unknown_environment_is_refused(monkeypatch):
    monkeypatch.setenv("HOUSING_ENV", "staging")
    with pytest.raises(ValueError, match="HOUSING_ENV must be one of"):
        Settings.from_env()


PROD_ENV = {
    "HOUSING_ENV": "prod",
    "HOUSING_SOURCE": "s3://housing-prod/landing/",
    "HOUSING_DATA_URI": "s3://housing-prod/data",
    "HOUSING_SERVING_URI": "s3://housing-prod/serving",
    "MLFLOW_TRACKING_URI": "http://mlflow.internal:5000",
    "HOUSING_MLFLOW_ARTIFACTS": "s3://housing-prod/mlflow",
    "HOUSING_OPTUNA_URL": "postgresql://optuna@db/optuna",
}


def test_every_environment_loads_with_the_same_resources(tmp_path, monkeypatch):
    local = build_definitions(Settings(home=tmp_path))
    for name, value in PROD_ENV.items():
        monkeypatch.setenv(name, value)
    prod_settings = Settings.from_env()
    prod = build_definitions(prod_settings)
    assert prod.resolve_job_def("ingest_and_monitor") is not None
    kinds = {k: type(v).__name__ for k, v in local.resources.items()}
    assert set(prod.resources) == set(kinds)
    assert {k: type(v).__name__ for k, v in prod.resources.items()} == kinds | {
        "source": "S3Source"
    }
    r = prod.resources
    assert r["io_manager"].base_dir == "s3://housing-prod/data"
    assert r["serving_store"].root == "s3://housing-prod/serving"
    assert r["mlflow_tracking"].tracking_uri == "http://mlflow.internal:5000"
    assert r["mlflow_tracking"].artifact_location == "s3://housing-prod/mlflow"
    assert r["optuna_storage"].storage_url == "postgresql://optuna@db/optuna"
    assert r["source"].is_landing_area()


def test_prod_without_its_locations_names_every_missing_one(monkeypatch):
    monkeypatch.setenv("HOUSING_ENV", "prod")
    for name in (
        "HOUSING_DATA_URI",
        "HOUSING_SERVING_URI",
        "MLFLOW_TRACKING_URI",
        "HOUSING_OPTUNA_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError) as error:
        Settings.from_env()
    for name in (
        "HOUSING_DATA_URI",
        "HOUSING_SERVING_URI",
        "MLFLOW_TRACKING_URI",
        "HOUSING_OPTUNA_URL",
    ):
        assert name in str(error.value)


def test_settings_validate_the_environment_and_flags_win(monkeypatch, tmp_path):
    monkeypatch.setenv("HOUSING_SCALE", "-1")
    with pytest.raises(ValueError, match="scale"):
        Settings.from_env()
    monkeypatch.setenv("HOUSING_SCALE", "0.5")
    monkeypatch.setenv("HOUSING_SOURCE", "")  # empty = unset
    monkeypatch.setenv("HOUSING_HOME", str(tmp_path / "x" / ".." / "home"))
    settings = Settings.from_env()
    assert (settings.scale, settings.source, settings.home) == (0.5, "synthetic", tmp_path / "home")
    assert Settings(scale=0.1).scale == 0.1  # a keyword (a CLI flag) beats the environment
    assert settings.with_(seed=11).seed == 11 and settings.with_(seed=11).scale == 0.5
    with pytest.raises(ValueError, match="scale"):
        settings.with_(scale=0)  # changed fields are validated too


def test_local_runs_ignore_production_locations(monkeypatch, tmp_path):
    """MLflow exports MLFLOW_TRACKING_URI to its children: a local run must not follow it."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    monkeypatch.setenv("HOUSING_DATA_URI", "s3://elsewhere/data")
    settings = Settings(home=tmp_path)
    assert settings.mlflow_uri is None and settings.data_uri is None
    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"


def test_every_asset_has_an_owner_and_a_code_version(defs):
    graph = defs.resolve_asset_graph()
    owners = {n.key.to_user_string(): n.owners for n in graph.asset_nodes}
    assert all(owners.values()), owners
    assert {o for node_owners in owners.values() for o in node_owners} == {
        "team:data-platform",
        "team:ml",
    }
    for node in graph.asset_nodes:
        if node.group_name in ("training", "forecasting"):
            assert node.code_version, node.key
            assert node.owners == ["team:ml"], node.key
        if node.group_name == "ingestion":
            assert node.owners == ["team:data-platform"], node.key
    training = {n.key.to_user_string() for n in graph.asset_nodes if n.group_name == "training"}
    assert training == set(LINEAGE_ASSETS)
    forecasting = {
        n.key.to_user_string() for n in graph.asset_nodes if n.group_name == "forecasting"
    }
    assert forecasting == set(FORECASTING_ASSETS)


def test_every_sensor_and_job_says_what_it_does(defs):
    for sensor in defs.sensors:
        assert sensor.description and len(sensor.description) > 40, sensor.name
    for job in defs.jobs:
        assert job.description and len(job.description) > 20, job.name


@pytest.mark.parametrize("asset", ["raw_monthly", "cleaned_monthly"])
def test_raw_and_cleaned_declare_the_contract_as_column_schema(defs, asset):
    from housing_core import contract as c

    node = defs.resolve_asset_graph().get(dg.AssetKey(asset))
    schema = node.metadata["dagster/column_schema"]
    if isinstance(schema, dg.TableSchemaMetadataValue):
        schema = schema.schema
    assert [col.name for col in schema.columns] == c.COLUMNS
    assert len(schema.columns) == 39
    assert {col.name: col.type for col in schema.columns} == c.DTYPES
    required = {col.name for col in schema.columns if not col.constraints.nullable}
    assert required == set(c.REQUIRED)


def test_a_secret_read_from_the_environment_reaches_dagster_as_the_variables_name(monkeypatch):
    """Dagster's UI shows a resource's config: a password or a webhook token must appear there as
    the variable that holds it, never as its value."""
    from pydantic import SecretStr

    from housing_assets.resources.environment import from_env

    url = "postgresql://optuna:<password>@db/optuna"
    monkeypatch.setenv("HOUSING_OPTUNA_URL", url)
    given = from_env(url, "HOUSING_OPTUNA_URL")
    assert isinstance(given, dg.EnvVar) and given.env_var_name == "HOUSING_OPTUNA_URL"
    assert from_env("sqlite:///optuna.db", "HOUSING_OPTUNA_URL") == "sqlite:///optuna.db"
    hook = "https://hooks.example/T0/abc"
    monkeypatch.setenv("HOUSING_ALERT_WEBHOOK_URL", hook)
    assert isinstance(from_env(SecretStr(hook), "HOUSING_ALERT_WEBHOOK_URL"), dg.EnvVar)
    # A secret set otherwise (a policies file, a test) cannot be named by a variable: as is.
    assert (
        from_env(SecretStr("https://other/T1"), "HOUSING_ALERT_WEBHOOK_URL") == "https://other/T1"
    )
    assert from_env(None, "HOUSING_ALERT_WEBHOOK_URL") is None
