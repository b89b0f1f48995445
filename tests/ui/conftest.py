"""A real API on loopback (uvicorn) over the in-process model's bundle (housing_harness/tiny.py), for the dashboard."""

import contextlib
from pathlib import Path

import pytest

from housing_harness.loopback import free_port, serve_in_thread
from housing_serving.settings import ServingSettings

__all__ = ["APP", "free_port", "running_api"]

APP = str(Path(__file__).resolve().parents[2] / "housing_ui" / "app.py")


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each dashboard test starts with Streamlit's data cache empty (answers are cached by URL)."""
    import streamlit as st

    st.cache_data.clear()
    yield
    st.cache_data.clear()


@contextlib.contextmanager
def running_api(store: Path):
    with serve_in_thread(ServingSettings(store=str(store), poll_seconds=0)) as url:
        yield url


@pytest.fixture(scope="session")
def api_url(tiny, tmp_path_factory):
    store = tiny.publish(tmp_path_factory.mktemp("ui") / "serving")
    with running_api(store) as url:
        yield url


@pytest.fixture(scope="session")
def empty_api_url(tmp_path_factory):
    """An API that is up but has nothing published."""
    with running_api(tmp_path_factory.mktemp("empty") / "serving") as url:
        yield url
