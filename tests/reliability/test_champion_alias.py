"""`current` is the truth about what serves; the MLflow alias `champion` is repaired to follow it
(a publish that crashed between moving `current` and moving the alias left them apart). A real
MLflow tracking store (SQLite) and a real serving store."""

import pytest

from housing_assets.resources.mlflow_tracking import MlflowTracking
from housing_core import bundle

MODEL = "housing-price-xgb"


@pytest.fixture
def tracking(tmp_path):
    import mlflow

    resource = MlflowTracking(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = mlflow.MlflowClient(tracking_uri=resource.tracking_uri)
    client.create_registered_model(MODEL)
    for _ in range(2):  # versions 1 and 2
        client.create_model_version(MODEL, source=str(tmp_path / "model"))
    return resource


def test_a_stale_alias_is_moved_to_the_served_bundle(tmp_path, tiny, tracking):
    store = bundle.LocalStore(tiny.publish(tmp_path / "serving"))  # provenance: version "1"
    tracking.set_champion("2")  # the alias moved, then `current` was put back (or never moved)
    assert tracking.reconcile_champion(store) == (
        "MLflow alias champion was v2 but 2022-01-v1 serves: moved it to v1"
    )
    assert tracking.champion_version() == "1"
    assert tracking.reconcile_champion(store) is None  # in agreement: nothing to do


def test_an_unset_alias_is_set_and_an_empty_store_is_left_alone(tmp_path, tiny, tracking):
    assert tracking.reconcile_champion(bundle.LocalStore(tmp_path / "empty")) is None
    assert tracking.champion_version() is None
    store = bundle.LocalStore(tiny.publish(tmp_path / "serving"))
    assert tracking.reconcile_champion(store) == (
        "MLflow alias champion was unset but 2022-01-v1 serves: moved it to v1"
    )
    assert tracking.champion_version() == "1"
