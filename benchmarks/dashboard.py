"""Dashboard benchmark: how long each page and each interaction takes to answer.

    uv run housing run                           # publish a bundle first (default home)
    uv run python benchmarks/dashboard.py

Starts `housing serve` on the default bundle, then drives the app with Streamlit's AppTest (the
script run a browser would wait for: API calls, data shaping, chart specs; the browser's own
drawing adds ~0.1-0.3 s, see docs/screenshots.py). Cold = empty cache, warm = the same again.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from housing_serving.loopback import api_process

APP = str(Path(__file__).resolve().parents[1] / "housing_ui" / "app.py")


def timed(action) -> float:
    started = time.perf_counter()
    at = action()
    assert not at.exception, [e.value for e in at.exception]
    return time.perf_counter() - started


def main() -> int:
    results: list[tuple[str, float, float]] = []
    with api_process() as api:
        os.environ["HOUSING_UI_API_URL"] = api.url

        def page(slug: str) -> AppTest:
            at = AppTest.from_file(APP, default_timeout=120)
            at.query_params["page"] = slug
            return at.run()

        for slug in ("overview", "explorer", "what-if", "errors", "drift"):
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
    print("| interaction | cold cache | warm cache |\n|---|---|---|")
    for name, cold, warm in results:
        print(f"| {name} | {cold:.2f} s | {warm:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
