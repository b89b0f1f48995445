"""Hot-swap benchmark: the API under sustained mixed load while a new model is published.

    uv run housing run                                  # publish a bundle first (default home)
    uv run python benchmarks/hot_swap.py [--seconds 60] [--home .housing]

A copy of the serving store is served by uvicorn (one worker, its own process); four client
threads send single-row and 50-row predictions, explorer series, the model card and readiness.
Halfway, the served bundle is published again under a new version and the API told to reload
(the admin route), as the training job's publication would. Reports failed requests, latency
before and right after the swap, how long until the new model answers, and the server's memory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from housing_harness.loopback import api_process
from housing_harness.soak import Call, holdout_records, peak_rss_mb, republish, soak

REPO = Path(__file__).resolve().parents[1]
KEY = "benchmark-key"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=REPO / ".housing")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    rows = holdout_records(args.home, 50)
    calls = [
        Call("predict 1 row", "POST", "/v1/predict", {"rows": rows[:1]}, weight=6),
        Call("predict 50 rows", "POST", "/v1/predict", {"rows": rows}, weight=2),
        Call("explore series", "GET", f"/v1/explore/series?zipcode={rows[0]['zipcode']}"),
        Call("model card", "GET", "/v1/model"),
        Call("ready", "GET", "/v1/ready"),
    ]
    with tempfile.TemporaryDirectory(prefix="housing-hot-swap-") as tmp:
        store = Path(tmp) / "serving"
        shutil.copytree(args.home / "serving", store)
        with api_process(store, env={"HOUSING_SERVING_API_KEY": KEY}) as api:
            old = httpx.get(f"{api.url}/v1/ready").json()["model_version"]
            new = f"{old}-swap{int(time.time())}"
            reload_s = {}

            def swap() -> None:
                republish(store, new)
                started = time.perf_counter()
                answer = httpx.post(
                    f"{api.url}/v1/admin/reload", headers={"X-API-Key": KEY}, timeout=120
                )
                reload_s["seconds"] = time.perf_counter() - started
                if answer.status_code != 200 or not answer.json().get("swapped"):
                    raise SystemExit(f"reload failed: {answer.status_code} {answer.text[:300]}")

            print(f"soaking {args.seconds:.0f} s, swapping {old} -> {new} halfway", flush=True)
            half = args.seconds / 2
            result = soak(
                api.url,
                api.process.pid,
                calls,
                seconds=args.seconds,
                swap_at=half,
                swap=swap,
                clients=args.clients,
                say=lambda m: print(m, flush=True),
            )
            peak = peak_rss_mb(api.process.pid)
    first_new = result.first_seen(new)
    rss = [mb for _, mb in result.rss_mb]
    out = {
        "seconds": args.seconds,
        "clients": args.clients,
        "requests": len(result.samples),
        "requests_per_s": round(result.requests_per_second(), 1),
        "failed_requests": result.errors,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "p50_ms_before_swap": round(result.latency_ms(0.5, 5, half), 2),
        "p99_ms_before_swap": round(result.latency_ms(0.99, 5, half), 2),
        "p99_ms_2s_after_swap": round(result.latency_ms(0.99, half, half + 2), 2),
        "max_ms_2s_after_swap": round(result.latency_ms(1.0, half, half + 2), 2),
        "p99_ms_after_swap": round(result.latency_ms(0.99, half + 2, args.seconds), 2),
        "reload_call_s": round(reload_s.get("seconds", float("nan")), 2),
        "new_model_first_answer_s_after_swap": (
            round(first_new - half, 2) if first_new is not None else None
        ),
        "rss_mb_before_swap": round(float(np.median(result.rss_between(5, half))), 0),
        "rss_mb_end": round(
            float(np.median(result.rss_between(args.seconds - 5, args.seconds))), 0
        ),
        "rss_mb_max_sampled": round(max(rss), 0),
        "server_peak_rss_mb": round(peak, 0),
    }
    if result.failures:
        out["first_failures"] = result.failures
    print("\n| hot swap under load | value |\n|---|---|")
    for key, value in out.items():
        if key not in ("statuses", "first_failures"):
            print(f"| {key} | {value} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
