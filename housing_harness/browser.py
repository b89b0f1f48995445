"""Headless Chromium (Selenium + Debian's chromium-driver) against a running dashboard.

Used by the browser test, by `docs/screenshots.py` (the docs' pictures) and by the dashboard
benchmark. Selenium is a development dependency: imported only when a browser is wanted.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_NAMES = ("chromedriver",)


def find_browser() -> tuple[str, str] | None:
    """(browser, driver) paths, or None where no headless Chromium is installed."""
    browser = next((p for n in CHROMIUM_NAMES if (p := shutil.which(n))), None)
    driver = next((p for n in DRIVER_NAMES if (p := shutil.which(n))), None)
    return (browser, driver) if browser and driver else None


@contextlib.contextmanager
def chromium(width: int = 1440, height: int = 1100):
    found = find_browser()
    if found is None:
        raise RuntimeError("no Chromium + chromedriver: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver, url: str, expect: str, timeout: float = 60) -> float:
    """Load `url` and wait until the page shows `expect` and its charts have drawn.
    Returns the seconds that took."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    started = time.perf_counter()
    driver.get(url)
    WebDriverWait(driver, timeout, poll_frequency=0.1).until(
        lambda d: expect in d.find_element(By.TAG_NAME, "body").text
    )
    WebDriverWait(driver, timeout, poll_frequency=0.1).until(_charts_drawn)
    return time.perf_counter() - started


def _charts_drawn(driver) -> bool:
    """Streamlit shows a 'running' indicator while the script runs; every chart has an SVG/canvas."""
    from selenium.webdriver.common.by import By

    if driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'):
        return False
    charts = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"]')
    drawn = driver.find_elements(
        By.CSS_SELECTOR,
        '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg',
    )
    return len(drawn) >= len(charts)


def screenshot(driver, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path


@contextlib.contextmanager
def running_dashboard(api_url: str, port: int, timeout: float = 60):
    """`housing ui` as a subprocess -- the exact entry command -- until its health check answers."""
    import os
    import subprocess
    import sys

    from housing_harness.loopback import http_ok, stop, wait_for

    command = [
        sys.executable,
        "-m",
        "housing_assets.cli",
        "ui",
        "--api",
        api_url,
        "--port",
        str(port),
    ]
    process = subprocess.Popen(
        command,
        env={**os.environ, "HOUSING_UI_API_URL": api_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            http_ok(f"{url}/_stcore/health"),
            what=f"the dashboard on {url}",
            timeout=timeout,
            process=process,
        )
        yield url
    finally:
        stop(process, timeout=15)
