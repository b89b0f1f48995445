"""The automation loop as an operator runs it, on a temporary home: a landing directory that
receives monthly files, a real `dagster-daemon` (sensors, run queue, run workers) and the real API
(`housing serve`, uvicorn), each a process of its own, plus a steady request load on the API.

Used by benchmarks/loop_latency.py; a scenario test can replay an operator's run with the same
pieces. Every process started here runs in its own session (process group) and carries the home
in HOUSING_HOME; `LoopProcesses` stops the groups and then any process still carrying that home
(run workers a code server started, orphaned when their parent went), so nothing outlives it,
on failure and Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from housing_harness.loopback import HOST, free_port, http_ok, wait_for
from housing_harness.soak import Sample

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class LoopHome:
    """A HOUSING_HOME whose source is the landing directory `home/landing`."""

    home: Path
    scale: float
    seed: int = 7
    policies: Path | None = None  # HOUSING_POLICIES for the daemon's sensors and runs
    alert_webhook: str | None = None  # HOUSING_ALERT_WEBHOOK_URL (default: alerts only logged)

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    def env(self) -> dict[str, str]:
        """The environment every process of this loop runs with (the CLI's, the daemon's and
        the API's): the home, its landing source and the instance of the root dagster.yaml."""
        env = {
            **os.environ,
            "HOUSING_HOME": str(self.home),
            "HOUSING_SOURCE": str(self.landing),
            "HOUSING_SCALE": str(self.scale),
            "HOUSING_SEED": str(self.seed),
            "DAGSTER_HOME": str(REPO),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("HOUSING_SERVING_STORE", None)  # the API follows this home's store
        if self.policies is not None:
            env["HOUSING_POLICIES"] = str(self.policies)
        env.pop("HOUSING_ALERT_WEBHOOK_URL", None)
        if self.alert_webhook is not None:
            env["HOUSING_ALERT_WEBHOOK_URL"] = self.alert_webhook
        return env

    def housing(self, *args: str, timeout: float = 3600) -> str:
        """`housing <args>` on this home; its output, or an error with the output's tail."""
        done = subprocess.run(
            [sys.executable, "-m", "housing_assets.cli", *args],
            cwd=REPO,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"`housing {' '.join(args)}` exited {done.returncode}:\n"
                f"{(done.stdout + done.stderr)[-3000:]}"
            )
        return done.stdout

    def land(self, months: str, into: Path | None = None) -> list[Path]:
        """Write `months` (a prefix, a list, or `..YYYY-MM` for everything up to it) of the
        synthetic panel as monthly Parquet files into the landing directory, or into `into` to
        deliver later with `deliver` (generating a month takes longer than landing it)."""
        out = into or self.landing
        before = set(out.glob("*.parquet")) if out.exists() else set()
        selection = ["--until", months[2:]] if months.startswith("..") else ["--months", months]
        self.housing(
            "generate", "--out", str(out), "--scale", str(self.scale), "--seed", str(self.seed),
            *selection,
        )  # fmt: skip
        return sorted(set(out.glob("*.parquet")) - before)

    def deliver(self, files: list[Path]) -> None:
        """Move prepared monthly files into the landing directory, each in one rename (on one
        filesystem): the sensor never sees half a file."""
        for path in files:
            os.replace(path, self.landing / path.name)

    @contextlib.contextmanager
    def instance(self):
        """This home's Dagster instance, read from this process (runs in flight, for progress).
        The storage resolves its directory from HOUSING_HOME when it is built, so this process's
        environment names the home while it is."""
        import dagster as dg

        saved = {k: os.environ.get(k) for k in ("HOUSING_HOME", "DAGSTER_HOME")}
        os.environ.update(HOUSING_HOME=str(self.home), DAGSTER_HOME=str(REPO))
        try:
            inst = dg.DagsterInstance.get()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        with inst:
            yield inst


@dataclass
class LoopProcesses:
    """The long-running processes of one loop; `stop()` ends them all (use it as a context)."""

    loop: LoopHome
    logs: Path
    started: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def __enter__(self) -> LoopProcesses:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        """`command` in a session of its own, its output in `logs/<name>.log`."""
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=REPO,
                env=self.loop.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append((name, process))
        return process

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def daemon(self, timeout: float = 180) -> subprocess.Popen:
        """`dagster-daemon run` on the project's workspace: the sensors tick, the queue launches
        runs, run monitoring watches them. Returns once both sensors have ticked once (the new-data
        sensor has adopted the months `housing run` ingested), so what follows is steady state."""
        process = self.start(
            "daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")]
        )
        sensors = ("new_source_months", "retrain_on_drift_or_new_data")

        def ticked() -> bool:
            text = self.log("daemon")
            return all(f"sensor: {name}" in text for name in sensors)

        wait_for(ticked, what="the daemon's first sensor ticks", timeout=timeout, process=process)
        return process

    def api(self, timeout: float = 120) -> str:
        """`housing serve` (uvicorn, following the serving store) on a free loopback port; its URL
        once it is ready to predict."""
        port = free_port()
        process = self.start(
            "api",
            [
                sys.executable,
                "-m",
                "housing_assets.cli",
                "serve",
                "--host",
                HOST,
                "--port",
                str(port),
            ],
        )
        url = f"http://{HOST}:{port}"
        wait_for(
            http_ok(f"{url}/v1/ready"), what=f"the API on {url}", timeout=timeout, process=process
        )
        return url

    def stop(self, grace_s: float = 20) -> None:
        """SIGTERM to each process group (newest first), SIGKILL after `grace_s`; then the same for
        any process left that still carries this loop's home (a run worker whose parent went)."""
        for _, process in reversed(self.started):
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for _, process in reversed(self.started):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            _signal_group(process.pid, signal.SIGKILL)  # anything left in the group
        for signum in (signal.SIGTERM, signal.SIGKILL):
            left = carrying_home(self.loop.home)
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)
            if left and signum == signal.SIGTERM:
                _wait_gone(left, grace_s)
        self.started.clear()


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.2)


def carrying_home(home: Path) -> list[int]:
    """This user's processes (not this one) whose environment has HOUSING_HOME=`home`: the
    processes a loop on that home started, however deep, and whichever session they are in."""
    marker = f"HOUSING_HOME={home}".encode()
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ:
            out.append(int(entry.name))
    return out


@dataclass
class SteadyLoad:
    """`rate` requests per second of POST /v1/predict (one row), from `clients` threads with
    keep-alive connections, until `stop()`. Every answer is a `Sample` (status 0: no answer),
    with the model version that answered, so failures and swaps are seen as clients see them."""

    url: str
    body: dict
    rate: float = 30.0
    clients: int = 2
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> SteadyLoad:
        self.t0 = time.monotonic()
        self._threads = [
            threading.Thread(target=self._client, args=(k,), daemon=True)
            for k in range(self.clients)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def now(self) -> float:
        """Seconds since the load started (the samples' clock)."""
        return time.monotonic() - self.t0

    @property
    def errors(self) -> int:
        with self._lock:
            return sum(1 for s in self.samples if s.status != 200)

    def _client(self, k: int) -> None:
        interval = self.clients / self.rate
        due = time.monotonic() + k * interval / self.clients
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self._stop.is_set():
                # A fixed schedule, not "send, then sleep": a slow answer is followed by the
                # requests that were due meanwhile, as independent clients would send them.
                due += interval
                started = time.monotonic()
                try:
                    answer = http.post("/v1/predict", json=self.body)
                    status = answer.status_code
                    version = answer.json().get("model_version") if status == 200 else None
                    detail = answer.text[:200] if status != 200 else ""
                except httpx.HTTPError as exc:
                    status, version, detail = 0, None, repr(exc)
                sample = Sample(
                    started - self.t0, time.monotonic() - started, "predict", status, version
                )
                with self._lock:
                    self.samples.append(sample)
                    if status != 200 and len(self.failures) < 10:
                        self.failures.append(f"{sample.started:.1f} s: {status} {detail}")
                self._stop.wait(max(0.0, due - time.monotonic()))


@contextlib.contextmanager
def steady_load(url: str, body: dict, rate: float, clients: int = 2) -> Iterator[SteadyLoad]:
    load = SteadyLoad(url, body, rate, clients).start()
    try:
        yield load
    finally:
        load.stop()
