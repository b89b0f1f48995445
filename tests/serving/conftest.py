from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from housing_core.splits import HOLDOUT, SPLIT
from housing_harness.rows import records  # noqa: F401  (re-exported: the tests send rows with it)
from housing_harness.soak import republish  # noqa: F401  (re-exported: the tests publish with it)
from housing_serving.app import create_app
from housing_serving.settings import ServingSettings

API_KEY = "test-key-please-rotate"


@pytest.fixture
def store(tiny, tmp_path) -> Path:
    """A private serving store with the tiny model published: tests may publish into it."""
    return tiny.publish(tmp_path / "serving")


@pytest.fixture(scope="session")
def holdout(tiny) -> pd.DataFrame:
    return tiny.holdout


@pytest.fixture(scope="session")
def holdout_predictions(tiny) -> pd.DataFrame:
    return tiny.holdout_predictions


def publish_with_history(store: Path, history: pd.DataFrame, version: str) -> None:
    """Republish the served model with the zip history of `history` (cleaned rows) only: with
    the pre-holdout rows, the API must answer exactly what the lineage judged."""
    from housing_core import anchors as A
    from housing_core import bundle, publishing
    from housing_core import features as F

    local = bundle.LocalStore(store)
    files = dict(bundle.load(local).files)
    state = F.FeatureState.from_json(files["feature_state.json"].decode())
    history_table = A.keep_recent(A.inputs(history, state.stats)).to_parquet(index=False)
    bundle.publish(local, version, publishing.with_anchors(files, history_table))


@pytest.fixture
def judged_client(store, tiny):
    """A client of the model serving the history the holdout was judged on (before 2022-01)."""
    rows = tiny.splits
    publish_with_history(store, rows[rows[SPLIT] != HOLDOUT], "2022-01-v1.judged")
    with make_client(store) as c:
        yield c


def make_client(store: Path, **overrides) -> TestClient:
    settings = ServingSettings(store=str(store), poll_seconds=0, api_key=API_KEY, **overrides)
    return TestClient(create_app(settings))


@pytest.fixture
def client(store):
    with make_client(store) as c:
        yield c


def assert_close(a, b, rtol=1e-6):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol)
