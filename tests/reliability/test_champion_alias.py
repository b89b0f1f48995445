"""`current` is the truth about what serves; the MLflow alias `champion` mirrors it, written by
the publish that moved `current` (so a publish that crashed between the two writes is mended by the
next). A real MLflow tracking store (SQLite) and a real serving store."""

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


def _alias(tracking, version: str) -> None:
    tracking.client().set_registered_model_alias(MODEL, "champion", version)


def test_a_stale_alias_is_moved_to_the_served_bundle(tmp_path, tiny, tracking):
    store = bundle.LocalStore(tiny.publish(tmp_path / "serving"))  # provenance: version "1"
    _alias(tracking, "2")  # a publish moved `current` back to v1 and crashed before the alias
    assert tracking.mirror_champion(store) == (
        "MLflow alias champion named v2, not the served 2022-01-v1: now v1"
    )
    assert tracking.champion_version() == "1"
    assert tracking.mirror_champion(store) is None  # in agreement: nothing to say
    assert tracking.champion_version() == "1"


def test_a_first_publish_sets_the_alias_and_an_empty_store_leaves_it_unset(
    tmp_path, tiny, tracking
):
    assert tracking.mirror_champion(bundle.LocalStore(tmp_path / "empty")) is None
    assert tracking.champion_version() is None
    store = bundle.LocalStore(tiny.publish(tmp_path / "serving"))
    assert tracking.mirror_champion(store) is None  # nothing was stale: the first publish
    assert tracking.champion_version() == "1"
