"""The code location loads, and its asset/check/job names only change on purpose."""

import dagster as dg
import pytest

from housing_assets.definitions import build_definitions, resources_for
from housing_assets.settings import Settings
from tests.conftest import ALL_ASSETS


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    return build_definitions(Settings(home=tmp_path_factory.mktemp("home")))


def test_module_level_defs_load():
    from housing_assets.definitions import defs as module_defs

    assert module_defs.resolve_job_def("ingest") is not None


def test_asset_check_job_sensor_snapshot(defs):
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == ALL_ASSETS
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert checks == {
        ("raw_monthly", "raw_contract"),
        ("raw_monthly", "raw_plausible_values"),
        ("cleaned_monthly", "cleaned_expectations"),
        ("splits", "splits_are_temporal"),
        ("feature_state", "encoders_fit_on_train_only"),
        ("holdout_metrics", "promotion_gate"),
        ("drift_report", "drift_within_thresholds"),
    }
    assert {j.name for j in defs.jobs} == {
        "ingest",
        "check_and_clean",
        "train",
        "ingest_and_monitor",
    }
    assert [s.name for s in defs.sensors] == ["new_source_months", "retrain_on_drift_or_new_data"]


def test_blocking_flags(defs):
    graph = defs.resolve_asset_graph()
    specs = {key.name: graph.get_check_spec(key).blocking for key in graph.asset_check_keys}
    assert specs == {
        "raw_contract": True,
        "raw_plausible_values": False,
        "cleaned_expectations": True,
        "splits_are_temporal": True,
        "encoders_fit_on_train_only": True,
        "promotion_gate": True,
        "drift_within_thresholds": False,
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
    }


def test_unknown_environment_is_refused(monkeypatch):
    monkeypatch.setenv("HOUSING_ENV", "staging")
    with pytest.raises(ValueError, match="HOUSING_ENV must be one of"):
        Settings.from_env()
