"""Hostile prediction bodies and a readiness probe that runs beside them: used by
tests/security/test_hostile_bodies.py and benchmarks/hostile_requests.py."""

from __future__ import annotations

import json
import threading
import time

import httpx

from tests.serving.conftest import records

PROBE_EVERY_S = 0.02


def _empty_rows(n: int) -> bytes:
    return ('{"rows":[' + ",".join(["{}"] * n) + "]}").encode()


def _unknown_keys(n: int) -> bytes:
    return ('{"rows":[{' + ",".join(f'"k{i}":1' for i in range(n)) + "}]}").encode()


def holdout_rows(holdout, n: int, *, explain: bool = False) -> bytes:
    """A valid body of `n` holdout rows (repeated as needed)."""
    rows = (records(holdout) * (n // len(holdout) + 1))[:n]
    return json.dumps({"rows": rows, "explain": explain}).encode()


HOSTILE = {  # name: (body, status, errors in the answer, what the first one says)
    "10,000 empty rows": (
        lambda h: _empty_rows(10_000), 422, 50, "row 0: date: Field required"
    ),
    "5 million empty rows (15 MB)": (
        lambda h: _empty_rows(5_000_000), 413, 1,
        "more than 10,000 rows; the limit is 10,000 per request",
    ),
    "one row with a million unknown keys": (
        lambda h: _unknown_keys(1_000_000), 422, 1,
        "too many fields: a row has at most 40 (the contract's columns and `id`)",
    ),
    "explain on 5,000 rows": (
        lambda h: holdout_rows(h, 5_000, explain=True), 413, 1,
        "explain is limited to 1,000 rows per request (got 5,000)",
    ),
}  # fmt: skip


class Probe:
    """GET /v1/ready every PROBE_EVERY_S in a thread; the slowest answer it saw."""

    def __init__(self, url: str):
        self.url, self.latencies, self.failures = url, [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set():
                started = time.perf_counter()
                status = http.get(f"{self.url}/v1/ready").status_code
                self.latencies.append(time.perf_counter() - started)
                if status != 200:
                    self.failures.append(status)
                time.sleep(PROBE_EVERY_S)

    def __enter__(self) -> Probe:
        self._thread.start()
        time.sleep(0.3)  # a few probes before the hostile request
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.3)
        self._stop.set()
        self._thread.join(timeout=30)


def measure(url: str, pid: int, body: bytes) -> tuple[httpx.Response, Probe, float]:
    """Send `body` to /v1/predict with the probe running: (answer, probe, server peak memory
    over its resident size before the request, MB)."""
    from tests.harness.soak import peak_rss_mb, rss_mb

    httpx.get(f"{url}/v1/model", timeout=30)  # warm: the first request loads lazily
    before = rss_mb(pid)
    with Probe(url) as probe:
        answer = httpx.post(
            f"{url}/v1/predict",
            content=body,
            headers={"content-type": "application/json"},
            timeout=120,
        )
    return answer, probe, peak_rss_mb(pid) - before
