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

from housing_assets.cli.servers import stop_bound_s
from housing_harness.browser import chromium, find_browser
from housing_harness.loopback import free_port
from tests.conftest import ALL_ASSETS

# A real `dagster dev` and its daemon as subprocesses (~2 min): the end-to-end tier.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
QUERY = """{ assetNodes { assetKey { path } isPartitioned assetChecksOrError {
  ... on AssetChecks { checks { name blocking partitionStatuses {
    ... on AssetCheckDefaultPartitionStatuses { succeededPartitions failedPartitions } } } } } } }"""


def _get(url: str, data: bytes | None = None):
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


def _dev_env(home: Path) -> dict[str, str]:
    env = {**os.environ, "HOUSING_HOME": str(home), "HOUSING_SCALE": "0.01"}
    if (home / LANDING).is_dir():
        env["HOUSING_SOURCE"] = str(home / LANDING)
    env.pop("DAGSTER_HOME", None)
    return env


LANDING = "landing"


def _land(home: Path) -> None:
    """2015-01 as the publisher ships it (no POI, most census columns missing: the warning check
    `raw_columns_reported` fails that month) and 2015-02 in the full layout (it passes)."""
    from housing_core.synthetic import SyntheticSpec, generate_panel
    from tests.conftest import frames_by_month, publisher_layout

    landing = home / LANDING
    landing.mkdir()
    by_month = frames_by_month(generate_panel(SyntheticSpec(seed=3, scale=0.01)))
    publisher_layout(by_month["2015-01"]).to_csv(landing / "2015-01.csv", index=False)
    by_month["2015-02"].to_csv(landing / "2015-02.csv", index=False)


def _start_dev(home: Path) -> tuple[subprocess.Popen, str]:
    """`housing dev` on `home` (its own process group), once its webserver answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "housing_assets.cli", "dev", "--port", str(port)],
        cwd=REPO,
        env=_dev_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            _get(f"{base}/server_info")
            return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"dagster dev did not come up:\n{out[-3000:]}")
            time.sleep(1)


def _stop_dev(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def dagster_dev(tmp_path):
    # Register (and ingest) two landed months the way a user's first `housing run` does; the
    # run below re-materializes one of them through the queue.
    _land(tmp_path)
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
        env=_dev_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    proc, base = _start_dev(tmp_path)
    try:
        yield base
    finally:
        _stop_dev(proc)


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
        "raw_revisions": True,
        "raw_columns_reported": False,
        "raw_plausible_values": False,
    }
    # The fixture's one ingest run over both months: each ingestion check's Partitions tab has a
    # verdict for each month.
    for asset in ("raw_monthly", "cleaned_monthly"):
        for check in by_key[asset]["assetChecksOrError"]["checks"]:
            statuses = check["partitionStatuses"]
            judged = statuses["succeededPartitions"] + statuses["failedPartitions"]
            assert sorted(judged) == ["2015-01", "2015-02"], (check["name"], statuses)
    reported = next(
        c for c in by_key["raw_monthly"]["assetChecksOrError"]["checks"]
        if c["name"] == "raw_columns_reported"
    )  # fmt: skip
    assert reported["partitionStatuses"]["failedPartitions"] == ["2015-01"]
    if find_browser() is not None:
        assert _partitions_tab_in_chromium(dagster_dev, "raw_monthly", "raw_columns_reported") == {
            "Failed": 1, "Passed": 1, "Missing": 0, "Execution Failed": 0
        }  # fmt: skip


def _partitions_tab_in_chromium(base: str, asset: str, check: str) -> dict[str, int]:
    """Open the asset's Checks view, pick `check`, click its Partitions tab, and read the
    counts of the status filters ("Failed (1)") the way a user sees them."""
    import re

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium() as driver:
        driver.get(f"{base}/assets/{asset}?view=checks")
        wait = WebDriverWait(driver, 60, poll_frequency=0.2)
        wait.until(lambda d: d.find_elements(By.XPATH, f"//*[text()='{check}']"))
        driver.find_element(By.XPATH, f"//*[text()='{check}']").click()
        # The check's own tab bar (the asset's has a Partitions link too): its button.
        wait.until(lambda d: d.find_elements(By.XPATH, "//button[.//text()='Partitions']"))
        driver.find_element(By.XPATH, "//button[.//text()='Partitions']").click()
        wait.until(lambda d: "Passed (" in d.find_element(By.TAG_NAME, "body").text)
        text = driver.find_element(By.TAG_NAME, "body").text
    counts = re.findall(r"^(Execution Failed|Failed|Missing|Passed) \((\d+)\)$", text, re.M)
    return {name: int(n) for name, n in counts}


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


EVENTS = """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection {
  events { __typename ... on MessageEvent { message } } } } }"""
RUN_STATUS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""


def _status(base: str, run_id: str) -> str:
    return _graphql(base, RUN_STATUS, {"id": run_id})["data"]["runOrError"]["status"]


def _worker_pid(base: str, run_id: str, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = _graphql(base, EVENTS, {"id": run_id})["data"]["logsForRun"]["events"]
        for event in events:
            message = event.get("message") or ""
            if message.startswith("Started process for run (pid: "):
                return int(message.split("pid: ")[1].split(")")[0])
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never reported its process")


def test_a_run_left_running_by_a_crash_is_failed_and_the_queue_moves_on(dagster_dev, tmp_path):
    """`housing dev` killed outright mid-run (a crash, a stopped container): the run it was
    executing stays STARTED and the run queued behind it (same month) stays queued. On restart,
    run monitoring (LocalRunLauncher's health check) sees the run's process is gone, fails it,
    and the queued run starts and succeeds. Before, the dead run stayed STARTED forever and
    nothing behind it ever launched."""
    month = {"dagster/partition": "2015-02"}
    doomed = _launch(dagster_dev, month)
    pid = _worker_pid(dagster_dev, doomed)
    behind = _launch(dagster_dev, month)
    assert _status(dagster_dev, behind) == "QUEUED"
    deadline = time.monotonic() + 60  # STARTING is failed by the start timeout instead
    while _status(dagster_dev, doomed) != "STARTED":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    group = os.getpgid(pid)  # `housing dev`'s process group: everything it started
    assert group != os.getpgid(0)
    os.killpg(group, signal.SIGKILL)
    killed = time.monotonic()
    time.sleep(1)
    proc, base = _start_dev(tmp_path)
    up = time.monotonic() - killed
    try:
        statuses = {}
        while time.monotonic() - killed < 300:
            statuses = {run: _status(base, run) for run in (doomed, behind)}
            if statuses[doomed] == "FAILURE" and "failed_after" not in statuses:
                statuses["failed_after"] = f"{time.monotonic() - killed:.0f} s"
            if statuses[behind] in ("SUCCESS", "FAILURE"):
                break
            time.sleep(1)
        recovered = time.monotonic() - killed
        assert statuses[doomed] == "FAILURE", statuses
        assert statuses[behind] == "SUCCESS", statuses
        events = _graphql(base, EVENTS, {"id": doomed})["data"]["logsForRun"]["events"]
        messages = [e.get("message") or "" for e in events]
        # Failed by the health check (not by a timeout): the run's process is named as gone.
        assert any(f"(pid {pid} on " in m and "is gone" in m for m in messages), messages[-3:]
        print(
            f"after the kill: housing dev up again in {up:.0f} s, the dead run failed by "
            f"{statuses['failed_after']}, the queued run succeeded at {recovered:.0f} s"
        )
    finally:
        _stop_dev(proc)


def test_ctrl_c_stops_housing_dev_and_its_run_at_once(tmp_path):
    """Ctrl-C (SIGINT to the foreground process group) with a run in flight: `housing dev` (now
    `dg dev`), its daemon, webserver, code server and run worker all exit within seconds, on the
    first signal. Before, `housing dev` ignored SIGINT/SIGTERM for minutes after a run."""
    first = subprocess.run(
        [sys.executable, "-m", "housing_assets.cli", "run", "--months", "2015-01", "--no-train"],
        cwd=REPO, env=_dev_env(tmp_path), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    proc, base = _start_dev(tmp_path)
    try:
        run_id = _launch(base, {"dagster/partition": "2015-01"})
        _worker_pid(base, run_id)  # its run worker is up
    except BaseException:
        _stop_dev(proc)
        raise
    os.killpg(proc.pid, signal.SIGINT)
    sent = time.monotonic()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        _stop_dev(proc, signal.SIGKILL)
        pytest.fail("housing dev still running 60 s after Ctrl-C")
    took = time.monotonic() - sent
    deadline = time.monotonic() + 15  # children that got the same SIGINT finish exiting
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        pytest.fail("processes of housing dev's group outlived it")
    print(f"housing dev stopped {took:.1f} s after Ctrl-C, with a run in flight")
    # `dg dev` exits within ~3 s; when it hangs (seen with a run in flight) the supervisor's
    # SIGTERM and SIGKILL bound the stop, not its heartbeat timeouts.
    assert took < stop_bound_s() + 5
