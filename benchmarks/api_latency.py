"""API benchmark: latency and throughput of `housing serve` (uvicorn, one worker) on loopback.

    uv run housing run                                # publish a bundle first (default home)
    uv run python benchmarks/api_latency.py [--seconds 20] [--concurrency 8]

The server runs as its own process; this process is the load generator (httpx, async, keep-
alive). Reports single-row /v1/predict p50/p99 latency and sustained requests/s at the given
concurrency, the time of one 10,000-row batch, and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def holdout_rows(home: Path, n: int) -> list[dict]:
    files = sorted((home / "data" / "splits").glob("*.parquet"))
    if not files:
        raise SystemExit(f"no trained vintage under {home}: run `uv run housing run` first")
    rows = pd.read_parquet(files[-1])
    rows = rows[rows["split"] == "holdout"].drop(columns=["split"])
    rows = pd.concat([rows] * (n // len(rows) + 1)).head(n)
    rows["date"] = rows["date"].dt.strftime("%Y-%m-%d")
    return json.loads(rows.to_json(orient="records"))


async def load(url: str, row: dict, seconds: float, concurrency: int) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker():
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(url, json={"rows": [row]})
                if response.status_code != 200:
                    raise SystemExit(f"status {response.status_code}: {response.text[:300]}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=REPO / ".housing")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    rows = holdout_rows(args.home, 10_000)
    port = free_port()
    env = {
        **os.environ,
        "HOUSING_SERVING_STORE": str(args.home / "serving"),
        "HOUSING_SERVING_POLL_SECONDS": "0",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "housing_serving.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{base}/v1/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("server did not become ready")
        asyncio.run(load(f"{base}/v1/predict", rows[0], 2, args.concurrency))  # warm-up
        latencies = np.array(
            asyncio.run(load(f"{base}/v1/predict", rows[0], args.seconds, args.concurrency))
        )
        batch_times = []
        with httpx.Client(timeout=60) as client:
            for _ in range(5):
                started = time.perf_counter()
                response = client.post(f"{base}/v1/predict", json={"rows": rows})
                batch_times.append(time.perf_counter() - started)
                assert response.status_code == 200 and len(response.json()["predictions"]) == 10_000
        peak = rss_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    rps = len(latencies) / args.seconds
    print(
        f"single-row /v1/predict, concurrency {args.concurrency}, {args.seconds:.0f}s: "
        f"{len(latencies):,} requests, {rps:,.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    print(f"10,000-row batch: median {np.median(batch_times) * 1000:.0f} ms (5 runs)")
    print(f"server peak RSS: {peak:.0f} MB")
    print("\n| measure | value |\n|---|---|")
    print(f"| requests/s (1 row, concurrency {args.concurrency}) | {rps:,.0f} |")
    print(f"| p50 / p99 latency | {p50:.2f} / {p99:.2f} ms |")
    print(f"| 10,000-row batch | {np.median(batch_times) * 1000:.0f} ms |")
    print(f"| server peak RSS | {peak:.0f} MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
