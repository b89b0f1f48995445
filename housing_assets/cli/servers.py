"""Commands that start a long-running program in this process's place: the Dagster UI, the
MLflow UI, the API and the dashboard."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from housing_assets.cli.common import (
    launch,
    port_free,
    prepare_dagster_env,
    say,
    settings_for,
    tool,
    writable_home,
)
from housing_core.settings import project_root


def cmd_dev(args) -> int:
    settings = settings_for(args)
    prepare_dagster_env(settings)
    port_free("127.0.0.1", args.port)
    import dagster as dg

    from housing_assets.defs.ingestion.partitions import ensure_pool_limits

    with dg.DagsterInstance.get() as instance:
        ensure_pool_limits(instance, settings.backfill_runs)
    root = project_root()
    os.chdir(root)
    # `dg dev` from the root: the project's code location ([tool.dg] in pyproject.toml) on the
    # instance of dagster.yaml (DAGSTER_HOME) -- what plain `dagster dev` did, minus its warning
    # that `dg dev` supersedes it.
    command = [tool("dg"), "dev", "-p", str(args.port)]
    say(f"Dagster UI on http://127.0.0.1:{args.port} (instance: {settings.dagster_home})")
    # The code location reads its settings from the environment (settings.py).
    child = {"HOUSING_HOME": str(settings.home), "HOUSING_SOURCE": settings.source,
             "HOUSING_SCALE": str(settings.scale), "HOUSING_SEED": str(settings.seed)}  # fmt: skip
    return supervise(command, {**os.environ, **child})


GRACE_S = 10.0  # how long `dg dev`, then what it leaves behind, may take to stop on its own
TERM_AFTER = 1.0  # graces after the stop request: `dg dev` is sent SIGTERM
KILL_AFTER = 1.5  # ... and SIGKILL


def stop_bound_s(grace_s: float = GRACE_S) -> float:
    """The longest a stop can take once asked: `dg dev` is killed `KILL_AFTER` graces in at the
    latest, then its leftovers get SIGTERM and, one grace later, SIGKILL."""
    return (KILL_AFTER + 1) * grace_s


def supervise(command: list[str], env: dict[str, str], *, grace_s: float = GRACE_S) -> int:
    """Run `command` and see to it that everything it started stops with it.

    `dg dev` exits within seconds of Ctrl-C or SIGTERM, but the code servers it started wait for
    their heartbeat to time out and may even start a fresh gRPC child meanwhile: ports,
    sockets and the instance stay in use after the prompt is back. So this process becomes the
    "subreaper" of its descendants (Linux prctl): anything orphaned below it is re-parented
    here, and once `dg dev` is gone every process left below it is sent SIGTERM, then SIGKILL
    after `grace_s`."""
    import signal
    import subprocess

    _become_subreaper()
    proc = subprocess.Popen(command, env=env)

    stopped: list[int] = []

    def forward(signum, _frame):
        stopped.append(signum)
        # Ctrl-C's SIGINT reached `dg dev` already (one process group); a second one would make
        # it stop its services ungracefully. SIGTERM (a container stop, `kill`) is ours alone.
        if signum == signal.SIGTERM and proc.poll() is None:
            proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = _wait(proc, stopped, grace_s)
    _stop_leftovers(grace_s)
    return 0 if stopped else code  # asked to stop, and stopped: whatever `dg dev` exits with


def _wait(proc, stopped: list[int], grace_s: float) -> int:
    """`proc`'s exit code. Once asked to stop, it has `grace_s` to exit on its own (`dg dev`
    usually exits within seconds, but not always, and not with a run in flight on a slow host),
    then it is sent SIGTERM, and SIGKILL half a grace later: a stop never waits on it for ever
    (`stop_bound_s`)."""
    import subprocess
    import time

    asked: float | None = None
    while True:
        try:
            return proc.wait(timeout=0.25)
        except subprocess.TimeoutExpired:
            pass
        if not stopped:
            continue
        asked = asked if asked is not None else time.monotonic()
        waited = time.monotonic() - asked
        if waited > KILL_AFTER * grace_s:
            proc.kill()
        elif waited > TERM_AFTER * grace_s:
            proc.terminate()


def _become_subreaper() -> None:
    import ctypes

    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _descendants() -> list[int]:
    """Live processes below this one: orphans of `dg dev` are re-parented here (we are their
    subreaper), and a run worker may hang below a code server that is itself on its way out."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "(comm)": state, ppid, ...
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    below: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - below
        below |= frontier
    return sorted(below)


def _stop_leftovers(grace_s: float) -> None:
    import signal
    import time

    deadline = time.monotonic() + grace_s
    sent: set[int] = set()
    while (left := _descendants()) and time.monotonic() < deadline:
        for pid in set(left) - sent:
            _signal(pid, signal.SIGTERM)
            sent.add(pid)
        _reap()
        time.sleep(0.2)
    for pid in _descendants():
        _signal(pid, signal.SIGKILL)
    _reap()


def _signal(pid: int, signum: int) -> None:
    import contextlib

    with contextlib.suppress(ProcessLookupError):  # it exited since it was listed: as wanted
        os.kill(pid, signum)


def _reap() -> None:
    """Collect exited children (re-parented orphans included), so none stays a zombie."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def cmd_mlflow(args) -> int:
    settings = settings_for(args)
    writable_home(settings)
    port_free("127.0.0.1", args.port)
    settings.mlflow_dir.mkdir(parents=True, exist_ok=True)
    store = settings.mlflow_dir / "mlflow.db"
    command = [
        tool("mlflow"),
        "ui",
        "--backend-store-uri",
        f"sqlite:///{store}",
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--workers",
        "1",
    ]
    say(f"MLflow UI on http://127.0.0.1:{args.port} (store: {store})")
    launch(command, {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}, override=False)
    return 0


def cmd_serve(args) -> int:
    from housing_serving.settings import ServingSettings

    store = ServingSettings().store  # HOUSING_SERVING_STORE, else <HOUSING_HOME>/serving
    from housing_serving.protocol import uvicorn_command

    port_free(args.host, args.port)
    command = uvicorn_command(args.host, args.port)
    command[0] = tool(command[0])
    say(f"API on http://{args.host}:{args.port}/docs (store: {store})")
    launch(command, {"HOUSING_SERVING_STORE": store})
    return 0


def ui_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The dashboard's exact entry command (also what its container runs)."""
    app = Path(__file__).resolve().parents[2] / "housing_ui" / "app.py"
    return [
        sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port), "--server.address", host,
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip


def cmd_ui(args) -> int:
    from housing_ui.settings import UiSettings

    api = args.api or UiSettings().api_url
    port_free(args.host, args.port)
    say(f"dashboard on http://{args.host}:{args.port} (API: {api}; start it with `housing serve`)")
    launch(ui_command(args.port, args.host), {"HOUSING_UI_API_URL": api})
    return 0
