"""What hostile requests and connections cost the API, and whether a bundle that cannot score ever
answers a caller:

    uv run python benchmarks/hostile_requests.py [--part connections|bodies|swap|latency]
                                                  [--hold 60] [--against REV] [--json out.json]

A real uvicorn process (the API's entry command) serves the in-process model's bundle
(housing_harness/tiny.py); each class gets a fresh server.

* **connections**: 20 connections of one hostile class at once, each reconnecting when the
  server closes it, held `--hold` seconds (housing_harness/hostile_connections.py), with a probe
  every 50 ms (a health check; for the last class a small caller's 200-row prediction): the server's memory during and `--after` seconds after, the probe's p99 and
  max, and the bytes the server read per connection (its /proc io counter).
* **bodies**: one hostile /v1/predict body per class (tests/security/test_hostile_bodies.py's):
  the server's peak memory over its resident size and the slowest readiness probe beside it.
* **latency**: single-row /v1/predict p50/p99 of this checkout beside revision `--against`
  (default HEAD~1), both servers up at once and requests alternating between them.
* **swap**: 1,000 single-row predictions while a bundle that cannot score (every checksum right,
  an empty interval table) is published halfway and the server polls for it: the answers by
  status and the model versions that answered.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from housing_harness import hostile_connections as hc
from housing_harness.hostile import (
    CSV_HOSTILE,
    HOSTILE,
    empty_bands,
    holdout_csv,
    holdout_rows,
    measure,
    republish_edited,
)
from housing_harness.loopback import api_process
from housing_harness.tiny import tiny_model


def connection_classes(holdout, only: str | None = None) -> dict:
    classes = {
        "none (the probe alone)": None,
        "trickled 31 MB bodies": hc.trickled_body,
        "endless headers": hc.endless_head,
        "endless body after an early answer (404/405/401/400)": hc.endless_body_after_an_early_answer,
        "silent connections": hc.silent,
        "10,000-row predicts, back to back": hc.posting(holdout_rows(holdout, 10_000)),
        "explain on 1,000 rows, back to back": hc.posting(holdout_rows(holdout, 1_000, explain=True)),
        "explain on 1,000 rows; the probe a 200-row predict": hc.posting(holdout_rows(holdout, 1_000, explain=True)),
    }  # fmt: skip
    return {k: v for k, v in classes.items() if only is None or only in k}


def connections(store: Path, holdout, hold: float, after: float, only: str | None) -> list[dict]:
    results = []
    for name, attack in connection_classes(holdout, only).items():
        with api_process(store, env={"HOUSING_SERVING_API_KEY": "a-key-the-attacker-lacks"}) as api:
            siege = hc.Siege(
                api.url,
                api.process.pid,
                attack or (lambda *a: None),
                connections=20 if attack else 0,
                hold=hold,
                after=after,
                probe_body=holdout_rows(holdout, 200) if "the probe a" in name else None,
            )
            results.append({"class": name, **siege.run()})
        print(results[-1], flush=True)
    print(f"\n20 connections of each class held {hold:g} s; memory again {after:g} s after\n")
    print(
        "| class | RSS during (over start) | RSS after | probe p99 | probe max | probe failures"
        " | read per connection | answers |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        answers = ", ".join(f"{k}×{v}" for k, v in sorted(r["answers"].items()))
        print(
            f"| {r['class']} | +{r['rss_peak_over_start_mb']} MB | +{r['rss_after_over_start_mb']} MB"
            f" | {r['probe_p99_ms']:.0f} ms | {r['probe_max_ms']:.0f} ms"
            f" | {sum(r['probe_failures'].values())}"
            f" | {_kb(r['kb_read_per_connection'])} | {answers or '–'} |"
        )
    return results


def _kb(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} KB"


def bodies(store: Path, holdout) -> list[dict]:
    classes = {
        "valid: 1 row": lambda h: holdout_rows(h, 1),
        "valid: 10,000 rows": lambda h: holdout_rows(h, 10_000),
        **{name: make for name, (make, *_) in HOSTILE.items()},
        "CSV: 10,000 valid rows": lambda h: holdout_csv(h, 10_000),
        **{name: make for name, (make, *_) in CSV_HOSTILE.items()},
    }
    results = []
    for name, make_body in classes.items():
        body = make_body(holdout)
        with api_process(store) as api:
            started = time.perf_counter()
            answer, probe, growth = measure(
                api.url, api.process.pid, body, csv=name.startswith("CSV")
            )
            results.append(
                {
                    "class": name,
                    "body_mb": round(len(body) / 1e6, 3),
                    "status": answer.status_code,
                    "peak_growth_mb": round(growth, 1),
                    "probe_max_ms": round(max(probe.latencies) * 1e3, 1),
                    "request_s": round(time.perf_counter() - started - 0.6, 2),  # probe margins
                }
            )
        print(results[-1], flush=True)
    print("\n| request | body | status | server peak over resident | slowest probe |")
    print("|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['class']} | {r['body_mb']:.2f} MB | {r['status']} | +{r['peak_growth_mb']:.0f} MB"
            f" | {r['probe_max_ms']:.0f} ms |"
        )
    return results


def swap(store: Path, holdout, requests: int = 1_000) -> dict:
    row = json.loads(holdout_rows(holdout, 1))
    statuses, versions = Counter(), Counter()
    with api_process(store, env={"HOUSING_SERVING_POLL_SECONDS": "0.5"}) as api:
        published = threading.Timer(
            0, lambda: republish_edited(store, "unscoreable-v2", empty_bands)
        )
        with httpx.Client(timeout=30) as http:
            for i in range(requests):
                if i == requests // 2:
                    published.start()
                answer = http.post(f"{api.url}/v1/predict", json=row)
                statuses[answer.status_code] += 1
                if answer.status_code == 200:
                    versions[answer.json()["model_version"]] += 1
            published.join()
            time.sleep(1.5)  # three polls: the refusal is in the server's state by now
            ready = http.get(f"{api.url}/v1/ready").json()
    result = {"statuses": dict(statuses), "versions": dict(versions), "ready": ready}
    print(f"\n{requests:,} single-row predictions around a swap to a bundle that cannot score:")
    print(f"answers {dict(statuses)}; versions {dict(versions)}; /v1/ready after: {ready}")
    return result


def latency(store: Path, holdout, against: str, requests: int = 2_000) -> dict:
    """Single-row /v1/predict latency of this checkout and of revision `against`, side by side:
    both servers up at once, requests alternating between them, so load on a shared machine
    falls on both alike."""
    import subprocess

    import numpy as np

    row = json.loads(holdout_rows(holdout, 1))
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), against], check=True)
        try:
            with api_process(store) as ours, api_process(store, checkout=tree) as theirs:
                times: dict[str, list[float]] = {"this checkout": [], against: []}
                with httpx.Client(timeout=30) as http:
                    for i in range(requests + 100):
                        pair = [("this checkout", ours.url), (against, theirs.url)]
                        for name, url in pair[:: 1 if i % 2 else -1]:
                            started = time.perf_counter()
                            assert http.post(f"{url}/v1/predict", json=row).status_code == 200
                            if i >= 100:  # the first hundred warm both
                                times[name].append((time.perf_counter() - started) * 1e3)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], check=True)
    result = {
        name: {
            "p50_ms": round(float(np.percentile(t, 50)), 2),
            "p99_ms": round(float(np.percentile(t, 99)), 2),
        }
        for name, t in times.items()
    }
    print(f"\nsingle-row /v1/predict, {requests:,} requests each, alternating:")
    print("| code | p50 | p99 |\n|---|---|---|")
    for name, r in result.items():
        print(f"| {name} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms |")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--part", choices=["connections", "bodies", "swap", "latency"], action="append"
    )
    parser.add_argument(
        "--against", default="HEAD~1", help="revision the latency part compares with"
    )
    parser.add_argument("--hold", type=float, default=60, help="seconds each class is held")
    parser.add_argument("--after", type=float, default=30, help="seconds before memory again")
    parser.add_argument("--only", help="connection classes whose name holds this text")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    parts = args.part or ["connections", "bodies", "swap", "latency"]
    tiny = tiny_model()
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = tiny.publish(Path(tmp) / "serving")
        if "connections" in parts:
            results["connections"] = connections(
                store, tiny.holdout, args.hold, args.after, args.only
            )
        if "bodies" in parts:
            results["bodies"] = bodies(store, tiny.holdout)
        if "swap" in parts:  # on a store of its own: it leaves a bundle that cannot score there
            results["swap"] = swap(tiny.publish(Path(tmp) / "swap"), tiny.holdout)
        if "latency" in parts:
            results["latency"] = latency(store, tiny.holdout, args.against)
    if args.json:
        args.json.write_text(json.dumps({"hostile_requests": results}, indent=1))


if __name__ == "__main__":
    main()
