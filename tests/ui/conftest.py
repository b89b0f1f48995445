"""A real API on loopback (uvicorn) over a copy of the fixtures' trained bundle, for the dashboard."""

import contextlib
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from housing_serving.app import create_app
from housing_serving.settings import ServingSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_api(store: Path):
    port = free_port()
    app = create_app(ServingSettings(store=str(store), poll_seconds=0))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="session")
def api_url(trained, tmp_path_factory):
    store = tmp_path_factory.mktemp("ui") / "serving"
    shutil.copytree(trained[0].serving_dir, store)
    with running_api(store) as url:
        yield url


@pytest.fixture(scope="session")
def empty_api_url(tmp_path_factory):
    """An API that is up but has nothing published."""
    with running_api(tmp_path_factory.mktemp("empty") / "serving") as url:
        yield url
