"""`housing dev` starts a real Dagster webserver that shows the graph on this project's instance."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from housing_serving.loopback import free_port
from tests.conftest import ALL_ASSETS

REPO = Path(__file__).resolve().parents[2]
QUERY = """{ assetNodes { assetKey { path } isPartitioned assetChecksOrError {
  ... on AssetChecks { checks { name blocking } } } } }"""


def _get(url: str, data: bytes | None = None):
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
RUN_STATUS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""


@pytest.fixture
def dagster_dev(tmp_path):
    port = free_port()
    env = {**os.environ, "HOUSING_HOME": str(tmp_path), "HOUSING_SCALE": "0.01"}
    env.pop("DAGSTER_HOME", None)
    # Register (and ingest) two months the way a user's first `housing run` does; the run below
    # re-materializes one of them through the queue.
    first = subprocess.run(
        [
            sys.executable,
            "-m",
            "housing_assets.cli",
            "run",
            "--months",
            "2015-01,2015-02",
            "--no-train",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "housing_assets.cli", "dev", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                _get(f"{base}/server_info")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"dagster dev did not come up:\n{out[-3000:]}")
                time.sleep(1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_dagster_dev_shows_partitioned_assets_and_their_checks(dagster_dev):
    body = json.dumps({"query": QUERY}).encode()
    deadline = time.monotonic() + 60
    while True:  # the code server may still be loading right after the webserver answers
        nodes = _get(f"{dagster_dev}/graphql", body).get("data", {}).get("assetNodes") or []
        if nodes or time.monotonic() > deadline:
            break
        time.sleep(1)
    by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    assert set(by_key) == ALL_ASSETS
    assert all(n["isPartitioned"] for n in nodes)
    raw_checks = {
        c["name"]: c["blocking"] for c in by_key["raw_monthly"]["assetChecksOrError"]["checks"]
    }
    assert raw_checks == {"raw_contract": True, "raw_plausible_values": False}


def _graphql(base: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    return _get(f"{base}/graphql", body)


def test_dagster_dev_materializes_a_month_through_the_run_queue(dagster_dev):
    params = {
        "selector": {
            "repositoryLocationName": "housing",
            "repositoryName": "__repository__",
            "jobName": "ingest",
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2015-02"}]},
    }
    deadline = time.monotonic() + 60
    while True:  # the code location may still be loading
        launched = _graphql(dagster_dev, LAUNCH, {"params": params})["data"]["launchRun"]
        if launched["__typename"] == "LaunchRunSuccess" or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 240
    status = None
    while time.monotonic() < deadline:
        status = _graphql(dagster_dev, RUN_STATUS, {"id": run_id})["data"]["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS"
