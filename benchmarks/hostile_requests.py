"""What each class of /v1/predict request costs the server: peak memory over its resident size,
the slowest answer of a readiness probe running beside it, and the request's own time.

    uv run python benchmarks/hostile_requests.py [--json out.json]

A real uvicorn process serves the in-process model's bundle (tests/tiny.py); each request class
gets a fresh server, so every peak (VmHWM) is that request's own. The hostile classes are those
of tests/security/test_hostile_bodies.py (JSON and CSV); valid ones (1 row, 10,000 rows as JSON and
as CSV) are the yardstick.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from tests.harness.hostile import CSV_HOSTILE, HOSTILE, holdout_csv, holdout_rows, measure
from tests.harness.loopback import api_process
from tests.tiny import tiny_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    tiny = tiny_model()
    classes = {
        "valid: 1 row": (lambda h: holdout_rows(h, 1), 200, 0, ""),
        "valid: 10,000 rows": (lambda h: holdout_rows(h, 10_000), 200, 0, ""),
        **HOSTILE,
        "CSV: 10,000 valid rows": (lambda h: holdout_csv(h, 10_000), 200, 0, ""),
        **CSV_HOSTILE,
    }
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        store = tiny.publish(Path(tmp) / "serving")
        for name, (make_body, *_) in classes.items():
            body = make_body(tiny.holdout)
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
    if args.json:
        args.json.write_text(json.dumps({"hostile_requests": results}, indent=1))


if __name__ == "__main__":
    main()
