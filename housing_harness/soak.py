"""Sustained load against a running API with a model swap in the middle: what the reliability
test asserts (zero errors, memory flat) and the hot-swap benchmark reports (latency around the
swap). Client threads on loopback; the server is a separate process whose RSS is sampled."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np


@dataclass(frozen=True)
class Call:
    """One kind of request in the mix: `weight` of every sum(weights) requests."""

    name: str
    method: str
    path: str
    json: dict | None = None
    weight: int = 1


@dataclass
class Sample:
    started: float  # seconds since the soak began
    seconds: float
    call: str
    status: int  # 0: no answer (connection error or timeout)
    version: str | None


@dataclass
class SoakResult:
    seconds: float
    swap_requested_at: float | None
    samples: list[Sample] = field(default_factory=list)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (t, MB)
    failures: list[str] = field(default_factory=list)  # the first few non-200 answers

    @property
    def statuses(self) -> Counter:
        return Counter(s.status for s in self.samples)

    @property
    def errors(self) -> int:
        return sum(1 for s in self.samples if s.status != 200)

    def first_seen(self, version: str) -> float | None:
        return min((s.started for s in self.samples if s.version == version), default=None)

    def latency_ms(self, q: float, start: float = 0.0, end: float = float("inf")) -> float:
        values = [s.seconds for s in self.samples if start <= s.started < end]
        return float(np.quantile(values, q) * 1000) if values else float("nan")

    def rss_between(self, start: float, end: float) -> list[float]:
        return [mb for t, mb in self.rss_mb if start <= t < end]

    def requests_per_second(self) -> float:
        return len(self.samples) / self.seconds


def rss_mb(pid: int) -> float:
    """Resident memory of a process now (Linux /proc VmRSS), in MB."""
    return _status_mb(pid, "VmRSS")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    return _status_mb(pid, "VmHWM")


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


def soak(
    url: str,
    pid: int,
    calls: list[Call],
    *,
    seconds: float,
    swap_at: float | None = None,
    swap: Callable[[], None] | None = None,
    clients: int = 4,
    say: Callable[[str], None] = lambda _: None,
) -> SoakResult:
    """`clients` threads send the weighted mix of `calls` for `seconds`; at `swap_at` seconds
    `swap()` runs (publish a bundle, ask the API to reload). The server's RSS is sampled twice a
    second. Every answer is recorded, so nothing that fails goes unseen."""
    schedule = [c for c in calls for _ in range(c.weight)]
    result = SoakResult(seconds=seconds, swap_requested_at=swap_at)
    lock = threading.Lock()
    stop = threading.Event()
    t0 = time.monotonic()

    def client(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            i = offset
            while not stop.is_set():
                call = schedule[i % len(schedule)]
                i += 1
                started = time.monotonic()
                try:
                    answer = http.request(call.method, call.path, json=call.json)
                    status = answer.status_code
                    version = (
                        answer.json().get("model_version")
                        if status == 200 and call.path == "/v1/predict"
                        else None
                    )
                    detail = answer.text[:200] if status != 200 else ""
                except httpx.HTTPError as exc:
                    status, version, detail = 0, None, repr(exc)
                sample = Sample(
                    started - t0, time.monotonic() - started, call.name, status, version
                )
                with lock:
                    result.samples.append(sample)
                    if status != 200 and len(result.failures) < 10:
                        result.failures.append(f"{call.name} -> {status}: {detail}")

    def memory() -> None:
        while not stop.wait(0.5):
            result.rss_mb.append((time.monotonic() - t0, rss_mb(pid)))

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    threads.append(threading.Thread(target=memory, daemon=True))
    for t in threads:
        t.start()
    swapped = swap is None
    next_note = 10.0
    while (elapsed := time.monotonic() - t0) < seconds:
        if not swapped and swap is not None and swap_at is not None and elapsed >= swap_at:
            say(f"  {elapsed:5.1f} s: swapping the model")
            swap()
            swapped = True
        if elapsed >= next_note:
            with lock:
                done, bad = len(result.samples), result.errors
            say(f"  {elapsed:5.1f} s: {done:,} requests, {bad} errors, RSS {rss_mb(pid):.0f} MB")
            next_note += 10.0
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    return result


def republish(store: str | Path, version: str) -> None:
    """Publish the served bundle again under another version: a stand-in for a retrained model
    that exercises the whole swap (publish, pointer flip, verify, load) without training."""
    import json

    from housing_core import bundle

    local = bundle.store_for(str(store))
    files = dict(bundle.load(local).files)
    provenance = json.loads(files["provenance.json"])
    provenance["version"] = version
    files["provenance.json"] = json.dumps(provenance).encode()
    bundle.publish(local, version, files)


def holdout_records(home: str | Path, n: int) -> list[dict]:
    """`n` holdout rows of the latest trained vintage under a `housing run` home, as a client
    sends them (repeated when the holdout is smaller): the benchmarks' request bodies."""
    import json

    import pandas as pd

    files = sorted((Path(home) / "data" / "splits").glob("*.parquet"))
    if not files:
        raise SystemExit(f"no trained vintage under {home}: run `uv run housing run` first")
    rows = pd.read_parquet(files[-1])
    rows = rows[rows["split"] == "holdout"].drop(columns=["split"])
    rows = pd.concat([rows] * (n // len(rows) + 1)).head(n)
    rows["date"] = rows["date"].dt.strftime("%Y-%m-%d")
    return json.loads(rows.to_json(orient="records"))
