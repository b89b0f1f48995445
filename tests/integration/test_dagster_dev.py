"""`housing dev` starts a real Dagster webserver that shows the graph on this project's instance."""

import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ALL_ASSETS
from tests.harness.loopback import free_port

# A real `dagster dev` and its daemon as subprocesses (~2 min): the end-to-end tier.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
QUERY = """{ assetNodes { assetKey { path } isPartitioned assetChecksOrError {
  ... on AssetChecks { checks { name blocking } } } } }"""


def _get(url: str, data: bytes | None = None):
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


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
    assert raw_checks == {
        "raw_contract": True,
        "raw_columns_reported": False,
        "raw_plausible_values": False,
    }


def _graphql(base: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    return _get(f"{base}/graphql", body)


RUN_TIMES = (
    """query($id: ID!) { runOrError(runId: $id) { ... on Run { status startTime endTime } } }"""
)


def _launch(base: str, tags: dict[str, str]) -> str:
    params = {
        "selector": {
            "repositoryLocationName": "housing",
            "repositoryName": "__repository__",
            "jobName": "ingest",
        },
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
    }
    deadline = time.monotonic() + 60
    while True:  # the code location may still be loading
        launched = _graphql(base, LAUNCH, {"params": params})["data"]["launchRun"]
        if launched["__typename"] == "LaunchRunSuccess" or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def test_runs_writing_the_same_month_queue_behind_each_other(dagster_dev, tmp_path):
    """Two runs for 2015-02 and a backfill over 2015-01..2015-02, launched at once through the
    real queue: they run one after another (the `monthly_data` pool), all succeed, and the month's
    stored file ends byte-identical to what the first `housing run` wrote."""
    stored = tmp_path / "data" / "cleaned_monthly" / "2015-02.parquet"
    before = hashlib.sha256(stored.read_bytes()).hexdigest()
    month = {"dagster/partition": "2015-02"}
    both = {
        "dagster/asset_partition_range_start": "2015-01",
        "dagster/asset_partition_range_end": "2015-02",
    }
    run_ids = [_launch(dagster_dev, tags) for tags in (month, both, month)]
    deadline = time.monotonic() + 300
    while True:
        runs = [_graphql(dagster_dev, RUN_TIMES, {"id": i})["data"]["runOrError"] for i in run_ids]
        if all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
            break
        assert time.monotonic() < deadline, runs
        time.sleep(2)
    assert [r["status"] for r in runs] == ["SUCCESS"] * 3, runs
    spans = sorted((r["startTime"], r["endTime"]) for r in runs)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, f"two runs wrote monthly data at the same time: {spans}"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == before
    assert not [p for p in stored.parent.iterdir() if p.name.startswith(".")]  # no temp files
