"""Hostile connections against a running API process, as an attacker would hold them: each class
is a worker that attacks over one connection, reconnects when the server closes it, and keeps
on until told to stop. Used by benchmarks/hostile_requests.py (figures) and
tests/security/test_hostile_connections.py (behaviour)."""

from __future__ import annotations

import contextlib
import multiprocessing
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from housing_harness.loopback import open_socket
from housing_harness.soak import rss_mb

CHUNK = b"x" * 65536
FRAMED = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"


@dataclass
class Tally:
    """What the attackers met: connections opened, answers by status line."""

    connections: int = 0
    answers: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def opened(self) -> None:
        with self.lock:
            self.connections += 1

    def answered(self, status: str) -> None:
        with self.lock:
            self.answers[status] += 1


def _status(sock: socket.socket) -> str:
    """The status code of whatever the server answered before closing ('closed': nothing)."""
    sock.settimeout(5)
    with contextlib.suppress(OSError):
        head = sock.recv(64)
        if head.startswith(b"HTTP/1.1 "):
            return head[9:12].decode()
    return "closed"


def _until_closed(sock: socket.socket, send: Callable[[], None], stop: threading.Event) -> None:
    with contextlib.suppress(OSError):
        while not stop.is_set():
            send()


def trickled_body(url: str, stop: threading.Event, tally: Tally, i: int) -> None:
    """A ~31 MB JSON body sent at once but for its last bytes, which then come one every 10 s
    (under the idle timeout): the body is never complete."""
    size = 31_000_000
    head = (
        f"POST /v1/predict HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        f"content-length: {size}\r\n\r\n"
    ).encode()
    block = b" " * (1 << 20)
    with open_socket(url) as sock:
        tally.opened()
        with contextlib.suppress(OSError):
            sock.sendall(head + b"[")
            for _ in range(size // len(block) - 1):
                sock.sendall(block)
            while not stop.wait(10):
                sock.sendall(b" ")
        tally.answered(_status(sock))


def endless_head(url: str, stop: threading.Event, tally: Tally, i: int) -> None:
    """Headers sent as fast as the server reads them, never ending."""
    header = b"X-Filler: " + b"a" * 8000 + b"\r\n"
    with open_socket(url) as sock:
        tally.opened()
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        _until_closed(sock, lambda: sock.sendall(header), stop)
        tally.answered(_status(sock))


EARLY_ANSWERS = [
    b"POST /v1/nowhere HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n",  # 404
    b"POST /v1/health HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n",  # 405
    b"POST /v1/admin/reload HTTP/1.1\r\nHost: x\r\nx-api-key: wrong\r\n",  # 401
    b"POST /v1/predict/csv HTTP/1.1\r\nHost: x\r\ncontent-type: multipart/form-data\r\n",  # 400
]


def endless_body_after_an_early_answer(
    url: str, stop: threading.Event, tally: Tally, i: int
) -> None:
    """An endless chunked body to a route that answers without reading it (404, 405, 401, 400)."""
    with open_socket(url) as sock:
        tally.opened()
        sock.sendall(EARLY_ANSWERS[i % len(EARLY_ANSWERS)] + b"transfer-encoding: chunked\r\n\r\n")
        _until_closed(sock, lambda: sock.sendall(FRAMED), stop)
        tally.answered(_status(sock))


def silent(url: str, stop: threading.Event, tally: Tally, i: int) -> None:
    """A connection opened and left silent."""
    with open_socket(url) as sock:
        tally.opened()
        tally.answered(_status_after(sock, stop))


def _status_after(sock: socket.socket, stop: threading.Event) -> str:
    sock.settimeout(0.5)
    while not stop.is_set():
        try:
            head = sock.recv(64)
        except TimeoutError:
            continue
        except OSError:
            return "closed"
        return head[9:12].decode() if head.startswith(b"HTTP/1.1 ") else "closed"
    return "held"


def posting(body: bytes, path: str = "/v1/predict") -> Callable:
    """A caller that posts `body` again and again (a valid but large request: a heavy user)."""

    def attack(url: str, stop: threading.Event, tally: Tally, i: int) -> None:
        with httpx.Client(timeout=120) as http:
            while not stop.is_set():
                tally.opened()
                try:
                    answer = http.post(
                        url + path, content=body, headers={"content-type": "application/json"}
                    )
                    tally.answered(str(answer.status_code))
                except httpx.HTTPError:
                    tally.answered("closed")

    return attack


def bytes_read(pid: int) -> int:
    """Bytes the process has read through system calls, sockets included (/proc/<pid>/io)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError(f"no rchar for pid {pid}")


@dataclass
class Siege:
    """One class of attack, `connections` at once for `hold` seconds, with a health probe and
    the server's memory sampled beside it."""

    url: str
    pid: int
    attack: Callable
    connections: int = 20
    hold: float = 60
    after: float = 30
    probe_body: bytes | None = None  # the probe POSTs this to /v1/predict instead of GET health
    probe_ms: list[float] = field(default_factory=list)
    probe_failures: Counter = field(default_factory=Counter)
    rss_during: list[float] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)

    def run(self) -> dict:
        httpx.get(f"{self.url}/v1/model", timeout=30)  # warm: first requests load lazily
        start_mb, read_before = rss_mb(self.pid), bytes_read(self.pid)
        stop = threading.Event()
        attackers = [
            threading.Thread(target=self._loop, args=(stop, i), daemon=True)
            for i in range(self.connections)
        ]
        # The probe is its own process: in this one it would wait on the attackers' GIL and
        # time the client, not the server.
        spawn = multiprocessing.get_context("spawn")
        probe_stop, (results, sink) = spawn.Event(), spawn.Pipe(duplex=False)
        probe = spawn.Process(
            target=_probe, args=(self.url, probe_stop, sink, self.probe_body), daemon=True
        )
        probe.start()
        results.poll(30)  # the probe's first answer: it is running
        results.recv()
        for thread in attackers:
            thread.start()
        deadline = time.monotonic() + self.hold
        while time.monotonic() < deadline:
            self.rss_during.append(rss_mb(self.pid))
            time.sleep(0.25)
        stop.set()
        probe_stop.set()
        self.probe_ms, failures = results.recv()
        self.probe_failures.update(failures)
        probe.join(timeout=30)
        for thread in attackers:
            thread.join(timeout=30)
        read = bytes_read(self.pid) - read_before
        time.sleep(self.after)
        probes = np.array(self.probe_ms or [np.nan])
        return {
            "rss_start_mb": round(start_mb),
            "rss_peak_over_start_mb": round(max(self.rss_during) - start_mb),
            "rss_after_over_start_mb": round(rss_mb(self.pid) - start_mb),
            "probe_p99_ms": round(float(np.percentile(probes, 99)), 1),
            "probe_max_ms": round(float(probes.max()), 1),
            "probe_failures": dict(self.probe_failures),
            "connections_opened": self.tally.connections,
            "answers": dict(self.tally.answers),
            "kb_read_per_connection": (
                round(read / self.tally.connections / 1024, 1) if self.tally.connections else None
            ),
        }

    def _loop(self, stop: threading.Event, i: int) -> None:
        while not stop.is_set():
            try:
                self.attack(self.url, stop, self.tally, i)
            except OSError:
                self.tally.answered("refused")
                stop.wait(0.1)


def _probe(url: str, stop, sink, body: bytes | None = None) -> None:
    """GET /v1/health (or POST `body` to /v1/predict) every 50 ms until `stop`; sends a first
    None when running, then the latencies (ms) and the failures by status."""
    latencies: list[float] = []
    failures: Counter = Counter()

    def call(http: httpx.Client) -> int:
        if body is None:
            return http.get(f"{url}/v1/health").status_code
        headers = {"content-type": "application/json"}
        return http.post(f"{url}/v1/predict", content=body, headers=headers).status_code

    with httpx.Client(timeout=30) as http:
        call(http)
        sink.send(None)
        while not stop.is_set():
            started = time.perf_counter()
            try:
                status: int | str = call(http)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            latencies.append((time.perf_counter() - started) * 1e3)
            if status != 200:
                failures[str(status)] += 1
            time.sleep(0.05)
    sink.send((latencies, dict(failures)))
