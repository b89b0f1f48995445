import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from housing_assets.lib.splits import HOLDOUT, SPLIT
from housing_serving.app import create_app
from housing_serving.settings import ServingSettings
from housing_serving.soak import republish  # noqa: F401  (re-exported: the tests publish with it)
from tests.conftest import PUBLISHED

API_KEY = "test-key-please-rotate"


@pytest.fixture
def store(trained, tmp_path) -> Path:
    """A private copy of the trained serving store: tests may publish into it."""
    settings = trained[0]
    target = tmp_path / "serving"
    shutil.copytree(settings.serving_dir, target)
    return target


@pytest.fixture(scope="session")
def holdout(trained) -> pd.DataFrame:
    rows = PUBLISHED["splits"]
    return rows[rows[SPLIT] == HOLDOUT].reset_index(drop=True)


@pytest.fixture(scope="session")
def holdout_predictions(trained) -> pd.DataFrame:
    return PUBLISHED["holdout_predictions"]


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as a JSON client sends them: dates as text, missing values as null."""
    out = frame.drop(columns=[SPLIT], errors="ignore").copy()
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    return json.loads(out.to_json(orient="records"))


def make_client(store: Path, **overrides) -> TestClient:
    settings = ServingSettings(store=str(store), poll_seconds=0, api_key=API_KEY, **overrides)
    return TestClient(create_app(settings))


@pytest.fixture
def client(store):
    with make_client(store) as c:
        yield c


def assert_close(a, b, rtol=1e-6):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol)
