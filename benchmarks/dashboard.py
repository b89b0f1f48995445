"""Dashboard benchmark: how long each page and each interaction takes to answer.

    uv run housing run                           # publish a bundle first (default home)
    uv run python benchmarks/dashboard.py [--home .housing] [--json out.json]

Starts `housing serve` on the default bundle, then drives the app with Streamlit's AppTest (the
script run a browser would wait for: API calls, data shaping, chart specs; the browser's own
drawing adds ~0.1-0.3 s, see docs/screenshots.py). Cold = empty cache, warm = the same again.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from housing_harness.loopback import api_process
from housing_harness.soak import peak_rss_mb

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "housing_ui" / "app.py")


def timed(action) -> float:
    started = time.perf_counter()
    at = action()
    assert not at.exception, [e.value for e in at.exception]
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=REPO / ".housing")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results: list[tuple[str, float, float]] = []
    with api_process(args.home / "serving") as api:
        os.environ["HOUSING_UI_API_URL"] = api.url

        def page(slug: str) -> AppTest:
            at = AppTest.from_file(APP, default_timeout=120)
            at.query_params["page"] = slug
            return at.run()

        for slug in ("overview", "map", "explorer", "what-if", "errors", "drift"):
            st.cache_data.clear()
            cold = timed(lambda slug=slug: page(slug))
            warm = timed(lambda slug=slug: page(slug))
            results.append((f"open {slug}", cold, warm))

        st.cache_data.clear()
        at = page("explorer")
        metros = at.selectbox(key="explorer_metro").options
        cold = timed(lambda: at.selectbox(key="explorer_metro").select(metros[3]).run())
        at.selectbox(key="explorer_metro").select(metros[0]).run()
        warm = timed(lambda: at.selectbox(key="explorer_metro").select(metros[3]).run())
        results.append(("explorer: another metro", cold, warm))
        zips = at.selectbox(key="explorer_zip").options
        cold = timed(lambda: at.selectbox(key="explorer_zip").select(zips[1]).run())
        at.selectbox(key="explorer_zip").select(zips[0]).run()
        warm = timed(lambda: at.selectbox(key="explorer_zip").select(zips[1]).run())
        results.append(("explorer: a zip code", cold, warm))

        at = page("what-if")
        box = next(n for n in at.number_input if n.label.startswith("Median list price"))
        value = box.value
        edit = timed(lambda: box.set_value(value * 1.2).run())
        results.append(("what-if: edit list price (API predict + SHAP)", edit, edit))
        api_peak = peak_rss_mb(api.process.pid)
    app_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("| interaction | cold cache | warm cache |\n|---|---|---|")
    for name, cold, warm in results:
        print(f"| {name} | {cold:.2f} s | {warm:.2f} s |")
    print(f"peak RSS: dashboard (AppTest) {app_peak:.0f} MB, API {api_peak:.0f} MB")
    if args.json:
        out = {
            "interactions": [
                {"interaction": n, "cold_s": round(c, 2), "warm_s": round(w, 2)}
                for n, c, w in results
            ],
            "dashboard_peak_rss_mb": round(app_peak),
            "api_peak_rss_mb": round(api_peak),
        }
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
