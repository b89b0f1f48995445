"""Dead runs are failed, not left "running" forever.

A run whose process is killed (SIGKILL, the OOM killer, a stopped container) never reports its
end: it stays STARTED, holds its place in the run queue and its pool, and the retraining sensor
waits on it as "a training run in flight". Dagster's run monitoring fails such runs when the run
launcher can tell a dead worker from a live one; the stock local launcher cannot. Here:

* `worker_of(instance, run)`: the process that executes a run -- the `Started process for run
  (pid: N)` engine event of a run launched through the queue, or the `housing/worker` tag a
  `housing run` puts on the runs it executes in its own process;
* `LocalRunLauncher`: Dagster's default launcher plus that health check, so the daemon's run
  monitoring (on in every instance config) fails a dead run and the queue moves on;
* `fail_dead_runs(instance)`: the same verdict applied at once -- `housing run` calls it at start
  (holding the home lock, so no other `housing run` is alive).

A worker is judged only on the host it ran on (ECS runs are judged by the ECS launcher).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG

# The upstream release the subclasses below were verified on (tests/test_overrides.py;
# docs/decisions/overrides.md says what each buys and how to re-verify it).
UPSTREAM_VERSION = ("dagster", "1.13.27")

WORKER_TAG = "housing/worker"  # "<host>:<pid>" of the process executing a run in-process
IN_FLIGHT = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


@dataclass(frozen=True)
class Worker:
    host: str
    pid: int
    since: float  # when it was known to run this run (epoch seconds)

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def worker_tag() -> dict[str, str]:
    """Tags for a run this process executes in-process."""
    return {WORKER_TAG: f"{socket.gethostname()}:{os.getpid()}"}


def worker_of(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Worker | None:
    """The process executing `run`, if it is known."""
    record = instance.get_run_record_by_id(run.run_id)
    started = (record.start_time or record.create_timestamp.timestamp()) if record else time.time()
    if WORKER_TAG in run.tags:
        tagged_host, _, tagged_pid = run.tags[WORKER_TAG].rpartition(":")
        return Worker(tagged_host, int(tagged_pid), started)
    host = _code_server_host(run)
    if host is None:
        return None
    events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    for entry in reversed(events):
        event = entry.dagster_event
        data = event.engine_event_data if event else None
        pid = data.metadata.get("pid") if data and data.metadata else None
        if pid is not None and entry.message.startswith("Started process for run"):
            return Worker(host, int(str(pid.value)), entry.timestamp)
    return None


def _code_server_host(run: dg.DagsterRun) -> str | None:
    """The host of the code server that started the run's process: this host when the server
    listens on a local socket or loopback (`housing dev`), None when it is elsewhere (compose's
    code-server container: its pids mean nothing here)."""
    info = json.loads(run.tags.get(GRPC_INFO_TAG) or "{}")
    if info.get("socket") or info.get("host") in ("localhost", "127.0.0.1", "::1"):
        return socket.gethostname()
    return info.get("host")  # judged only if it names this very host


def is_alive(worker: Worker) -> bool | None:
    """True/False for a worker on this host; None when it cannot be judged from here."""
    if worker.host != socket.gethostname():
        return None
    stat = Path(f"/proc/{worker.pid}/stat")
    if not Path("/proc/self/stat").exists():  # not Linux: existence is all we can ask
        try:
            os.kill(worker.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    if fields[0] in ("Z", "X"):  # exited, not yet reaped by its parent
        return False
    # A pid reused by a process started after the run's worker is not the worker.
    started = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return started <= worker.since + 5


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime")


def dead_reason(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """Why `run` is known dead, or None if it is alive or cannot be judged."""
    worker = worker_of(instance, run)
    if worker is None or is_alive(worker) is not False:
        return None
    return (
        f"the process executing this run ({worker.describe()}) is gone without reporting an "
        "end (killed?): marked failed so the queue and the sensors move on"
    )


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail every in-flight run whose worker is known dead; the ids of those runs."""
    failed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT)):
        reason = dead_reason(instance, run)
        if reason:
            instance.report_run_failed(run, reason)
            failed.append(run.run_id)
    return failed


class LocalRunLauncher(DefaultRunLauncher):
    """Dagster's default launcher, able to tell run monitoring that a run's worker is dead."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        reason = dead_reason(self._instance, run)
        if reason:
            return CheckRunHealthResult(WorkerStatus.FAILED, reason)
        # Alive, or not judgeable from here (another host): never fail what we cannot see.
        return CheckRunHealthResult(WorkerStatus.RUNNING)
