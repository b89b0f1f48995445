"""Hostile prediction bodies and a readiness probe that runs beside them: used by
tests/security/test_hostile_bodies.py and benchmarks/hostile_requests.py."""

from __future__ import annotations

import json
import threading
import time

import httpx

from housing_harness.rows import records

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


def holdout_csv(holdout, n: int, *, blank: str | None = None) -> bytes:
    """`n` holdout rows (repeated as needed) as a CSV upload; `blank`: a column left empty."""
    frame = holdout.drop(columns=["split"], errors="ignore")
    frame = frame.iloc[[i % len(frame) for i in range(n)]]
    if blank:
        frame = frame.assign(**{blank: None})
    return frame.to_csv(index=False).encode()


CSV_HOSTILE = {  # as HOSTILE, for /v1/predict/csv
    "CSV: 10,000 rows, every date empty": (
        lambda h: holdout_csv(h, 10_000, blank="date"), 422, 50,
        "row 0: date: Input should be a valid date",
    ),
    "CSV: one 30 MB line": (
        lambda h: b"date," + b"9" * 30_000_000, 422, 1,
        "not a readable CSV: a line of 30,000,005 bytes (a HouseTS row is ~300; the limit is 65,536)",
    ),
    "CSV: 5 million blank lines": (
        lambda h: b"date\n" + b"\n" * 5_000_000, 413, 1,
        "more than 10,000 rows; the limit is 10,000 per request",
    ),
}  # fmt: skip


def republish_edited(store, version: str, edit) -> None:
    """The current bundle's files, edited by `edit`, published as `version` with a fresh
    manifest (what a hand edit plus a recomputed manifest, or a broken publisher, leaves)."""
    from housing_core import bundle

    local = bundle.LocalStore(store)
    files = {k: v for k, v in bundle.load(local).files.items() if k != bundle.MANIFEST}
    edit(files)
    bundle.publish(local, version, files)


def empty_bands(files) -> None:
    """A bundle edit that leaves every checksum right and the model unable to score."""
    from housing_core import bundle

    files[bundle.CONFORMAL] = b"{}"


class Probe:
    """GET /v1/ready every PROBE_EVERY_S in a thread; the slowest answer it saw."""

    def __init__(self, url: str):
        self.url = url
        self.latencies: list[float] = []
        self.failures: list[int] = []  # status codes other than 200
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


def measure(
    url: str, pid: int, body: bytes, *, csv: bool = False
) -> tuple[httpx.Response, Probe, float]:
    """Send `body` to /v1/predict (or as a file to /v1/predict/csv) with the probe running:
    (answer, probe, server peak memory over its resident size before the request, MB)."""
    from housing_harness.soak import peak_rss_mb, rss_mb

    httpx.get(f"{url}/v1/model", timeout=30)  # warm: the first request loads lazily
    before = rss_mb(pid)
    with Probe(url) as probe:
        if csv:
            answer = httpx.post(
                f"{url}/v1/predict/csv", files={"file": ("rows.csv", body, "text/csv")}, timeout=120
            )
        else:
            answer = httpx.post(
                f"{url}/v1/predict",
                content=body,
                headers={"content-type": "application/json"},
                timeout=120,
            )
    return answer, probe, peak_rss_mb(pid) - before
