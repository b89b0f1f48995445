"""A run whose process dies is failed, not left STARTED forever: runs executed in-process by a
`housing run` carry their worker's pid, and `fail_dead_runs` (called by the next `housing run`;
the same verdict the daemon's run monitoring gets from `LocalRunLauncher`) fails exactly the
dead ones. The real daemon's side is tests/integration/test_dagster_dev.py."""

import os
import signal
import socket
import subprocess
import sys
import time

import dagster as dg
import pytest

from housing_assets.liveness import WORKER_TAG, Worker, fail_dead_runs, is_alive

CONFIG = """storage:
  sqlite:
    base_dir: {home}
"""

WORKER = """
import sys, time
import dagster as dg
from housing_assets.liveness import worker_tag

@dg.op
def wait():
    print("started", flush=True)
    time.sleep(120)

@dg.job
def slow():
    wait()

with dg.DagsterInstance.get() as instance:
    slow.execute_in_process(instance=instance, tags={**worker_tag(), "which": sys.argv[1]})
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    (tmp_path / "dagster.yaml").write_text(CONFIG.format(home=tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return tmp_path


def start_worker(home, which: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, which],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout.readline().strip() == "started"
    return proc


@pytest.mark.slow
def test_a_killed_in_process_run_is_failed_and_a_live_one_is_not(home):
    killed, alive = start_worker(home, "killed"), start_worker(home, "alive")
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        with dg.DagsterInstance.get() as instance:
            runs = {r.tags["which"]: r for r in instance.get_runs()}
            assert {r.status for r in runs.values()} == {dg.DagsterRunStatus.STARTED}
            assert fail_dead_runs(instance) == [runs["killed"].run_id]
            assert instance.get_run_by_id(runs["killed"].run_id).status == (
                dg.DagsterRunStatus.FAILURE
            )
            assert instance.get_run_by_id(runs["alive"].run_id).status == (
                dg.DagsterRunStatus.STARTED
            )
            messages = [e.message for e in instance.all_logs(runs["killed"].run_id)]
            assert any(
                f"(pid {killed.pid} on {socket.gethostname()}) is gone" in m for m in messages
            )
            assert fail_dead_runs(instance) == []  # already failed: nothing more to do
    finally:
        alive.kill()
        alive.wait()


def test_liveness_of_a_worker():
    host = socket.gethostname()
    assert is_alive(Worker(host, os.getpid(), time.time())) is True
    # The same pid, but this process started long after the run it would be the worker of:
    # a reused pid is not the worker.
    assert is_alive(Worker(host, os.getpid(), time.time() - 10 * 86400)) is False
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert is_alive(Worker(host, gone.pid, time.time())) is False
    assert is_alive(Worker("another-host", os.getpid(), time.time())) is None  # not judged here


def test_runs_without_a_judgeable_worker_are_left_alone(home):
    @dg.op
    def noop():
        pass

    @dg.job
    def job():
        noop()

    with dg.DagsterInstance.get() as instance:
        elsewhere = instance.create_run_for_job(
            job, status=dg.DagsterRunStatus.STARTED, tags={WORKER_TAG: "elsewhere:1"}
        )
        unknown = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
        assert fail_dead_runs(instance) == []
        for run in (elsewhere, unknown):
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
