"""API benchmark: latency and throughput of `housing serve` (uvicorn, one worker) on loopback.

    uv run housing run                                # publish a bundle first (default home)
    uv run python benchmarks/api_latency.py [--seconds 20] [--concurrency 1,4,8]

The server runs as its own process (uvicorn, one worker). The load comes from Debian's `wrk`
(`apt-get install wrk`) when it is installed -- a C client that leaves the second core to the
server -- else from an async httpx client in this process, which itself needs most of a core on a
2-core machine and so understates the server. Reports single-row /v1/predict p50/p99 latency and
sustained requests/s per concurrency level, a 10,000-row batch's time, and the server's peak RSS.

It also reports the server's RSS once the bundle is loaded, and what the dashboard's explore routes
cost: p50/p99 of one zip's series over a few hundred zips, a metro's series, the map, and the RSS
after them. `--explore-only` measures just that against any serving store (`--store`);
`--checkout` serves another working tree's code, for a before/after on the same machine:

    uv run python benchmarks/api_latency.py --explore-only --store <store> --checkout <old tree>
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from housing_harness.loopback import api_process
from housing_harness.soak import holdout_records, peak_rss_mb, rss_mb

REPO = Path(__file__).resolve().parents[1]


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


def load_wrk(url: str, row: dict, seconds: float, concurrency: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) from wrk; non-2xx answers abort the benchmark."""
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "body.json"
        body.write_text(json.dumps({"rows": [row]}))
        script = Path(tmp) / "post.lua"
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f'local f = io.open("{body}", "r"); wrk.body = f:read("*a"); f:close()\n'
        )
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{concurrency}",
                f"-d{seconds:.0f}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw error answers:\n{out}")

    def millis(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps, millis("50"), millis("99")


def load_httpx(url: str, row: dict, seconds: float, concurrency: int) -> tuple[float, float, float]:
    latencies = np.array(asyncio.run(load(url, row, seconds, concurrency)))
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    return len(latencies) / seconds, float(p50), float(p99)


def explore(url: str, pid: int, zips: int = 300) -> dict:
    """The explore routes as the dashboard calls them: the catalog, one zip's series for `zips`
    zips spread over the catalog, every metro's series, the map; the server's RSS after them."""
    with httpx.Client(base_url=url, timeout=120) as client:

        def timed(path: str, **params) -> float:
            started = time.perf_counter()
            client.get(path, params=params).raise_for_status()
            return (time.perf_counter() - started) * 1000

        answer = client.get("/v1/explore/catalog")
        if answer.status_code == 404:
            raise SystemExit(f"the served bundle carries no explorer data: {answer.text[:200]}")
        catalog = answer.json()
        codes = [z for m in catalog["metros"] for z in m["zipcodes"]]
        chosen = codes[:: max(1, len(codes) // zips)]
        timed("/v1/explore/series", zipcode=chosen[0])  # warm-up
        series = np.array([timed("/v1/explore/series", zipcode=z) for z in chosen])
        metros = [timed("/v1/explore/series", metro=m["code"]) for m in catalog["metros"]]
        map_ms = timed("/v1/explore/map")
    return {
        "zips": len(codes),
        "zip_series_p50_ms": round(float(np.percentile(series, 50)), 2),
        "zip_series_p99_ms": round(float(np.percentile(series, 99)), 2),
        "zip_series_requests": len(series),
        "metro_series_first_median_ms": round(float(np.median(metros)), 1),
        "map_first_ms": round(map_ms),
        "server_rss_after_explore_mb": round(rss_mb(pid)),
    }


def explore_line(loaded_mb: float, e: dict) -> str:
    return (
        f"explore ({e['zips']:,} zips): server RSS {loaded_mb:.0f} MB once loaded, "
        f"{e['server_rss_after_explore_mb']} MB after the explore routes; one zip's series "
        f"p50 {e['zip_series_p50_ms']:.2f} ms, p99 {e['zip_series_p99_ms']:.2f} ms "
        f"({e['zip_series_requests']} zips); a metro's first series {e['metro_series_first_median_ms']} "
        f"ms (median); the map's first {e['map_first_ms']} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=REPO / ".housing")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", default="1,4,8", help="comma-separated levels")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--store", type=Path, help="the serving store (default: the home's)")
    parser.add_argument("--checkout", type=Path, help="serve this working tree's code instead")
    parser.add_argument("--explore-only", action="store_true", help="only the explore routes")
    args = parser.parse_args()
    store = args.store or args.home / "serving"
    if args.explore_only:
        with api_process(store=store, checkout=args.checkout) as server:
            loaded = rss_mb(server.process.pid)
            result = explore(server.url, server.process.pid)
        print(explore_line(loaded, result))
        if args.json:
            args.json.write_text(json.dumps({"server_rss_loaded_mb": round(loaded), **result}))
        return 0
    rows = holdout_records(args.home, 10_000)
    with api_process(store=store, checkout=args.checkout) as server:
        loaded = rss_mb(server.process.pid)
        base = server.url
        levels = [int(x) for x in str(args.concurrency).split(",")]
        generator = (
            "wrk" if shutil.which("wrk") else "httpx (in-process; install wrk for truer figures)"
        )
        run = load_wrk if shutil.which("wrk") else load_httpx
        url = f"{base}/v1/predict"
        run(url, rows[0], 2, max(levels))  # warm-up
        single = {n: run(url, rows[0], args.seconds, n) for n in levels}
        body = json.dumps({"rows": rows}).encode()
        batch_times = []
        with httpx.Client(timeout=60) as client:
            for _ in range(7):
                started = time.perf_counter()
                response = client.post(
                    url, content=body, headers={"content-type": "application/json"}
                )
                batch_times.append(time.perf_counter() - started)
                assert response.status_code == 200 and len(response.json()["predictions"]) == 10_000
        sizes = f"{len(body) / 1e6:.1f} MB JSON in, {len(response.content) / 1e6:.1f} MB out"
        peak = peak_rss_mb(server.process.pid)  # predictions only: the explore routes come next
        explored = explore(base, server.process.pid)
    batch = np.median(batch_times) * 1000
    print(f"load generator: {generator}; {args.seconds:.0f} s per level; uvicorn, one worker")
    print("\n| single-row /v1/predict | requests/s | p50 | p99 |\n|---|---|---|---|")
    for n, (rps, p50, p99) in single.items():
        print(f"| concurrency {n} | {rps:,.0f} | {p50:.2f} ms | {p99:.2f} ms |")
    print(
        f"\n10,000-row batch ({sizes}): median {batch:.0f} ms of 7, best {min(batch_times) * 1000:.0f} ms"
    )
    print(f"server peak RSS: {peak:.0f} MB")
    print(explore_line(loaded, explored))
    if args.json:
        result = {
            "generator": "wrk" if shutil.which("wrk") else "httpx",
            "seconds_per_level": args.seconds,
            "single_row": [
                {
                    "connections": n,
                    "requests_per_s": round(rps, 1),
                    "p50_ms": round(p50, 2),
                    "p99_ms": round(p99, 2),
                }
                for n, (rps, p50, p99) in single.items()
            ],
            "batch_10k_median_ms": round(float(batch), 1),
            "batch_10k_best_ms": round(min(batch_times) * 1000, 1),
            "batch_10k_sizes": sizes,
            "server_peak_rss_mb": round(peak),
            "server_rss_loaded_mb": round(loaded),
            "explore": explored,
        }
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
