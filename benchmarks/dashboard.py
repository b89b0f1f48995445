"""Dashboard benchmark: how long each page and each interaction takes to answer.

    uv run housing run                           # publish a bundle first (default home)
    uv run python benchmarks/dashboard.py

Starts `housing serve` on the default bundle, then drives the app with Streamlit's AppTest (the
script run a browser would wait for: API calls, data shaping, chart specs; the browser's own
drawing adds ~0.1-0.3 s, see docs/screenshots.py). Cold = empty cache, warm = the same again.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "housing_ui" / "app.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(action) -> float:
    started = time.perf_counter()
    at = action()
    assert not at.exception, [e.value for e in at.exception]
    return time.perf_counter() - started


def main() -> int:
    port = free_port()
    api = subprocess.Popen(
        [sys.executable, "-m", "housing_assets.cli", "serve", "--port", str(port)],
        env={**os.environ, "HOUSING_SERVING_POLL_SECONDS": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    os.environ["HOUSING_UI_API_URL"] = url
    results: list[tuple[str, float, float]] = []
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{url}/v1/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("the API never became ready: run `uv run housing run` first")

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
    finally:
        api.terminate()
        api.wait(timeout=15)
    print("| interaction | cold cache | warm cache |\n|---|---|---|")
    for name, cold, warm in results:
        print(f"| {name} | {cold:.2f} s | {warm:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
