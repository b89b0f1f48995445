"""Screenshots of every dashboard page for the docs, from a real browser.

    uv run housing run                      # publish a bundle (default home)
    uv run python docs/screenshots.py       # starts the API and the dashboard, saves docs/*.png

The drift page in the docs was taken on the Automation page's "watch it happen" home after five months
had arrived: HOUSING_HOME=.housing-demo uv run python docs/screenshots.py --pages drift. The
forecast page needs a published forecaster (the synthetic default's gate holds it back): it was
taken on the DC panel's home (`housing run --source ../shared/data/housets_dc_panel_2012_2021.csv
--vintage 2020-01`) with --pages forecast.

Needs Chromium and its driver (Debian: `apt-get install chromium chromium-driver`). Prints how
long each page took to show its data and draw its charts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

from housing_harness.browser import chromium, open_page, running_dashboard, screenshot
from housing_harness.loopback import api_process, free_port

DOCS = Path(__file__).resolve().parent
PAGES = {
    "overview": "Model card",
    "map": "zip codes:",
    "explorer": "Holdout months shown",
    "forecast": "Scorecard",
    "what-if": "Why this price",
    "errors": "Worst zip codes",
    "drift": "Models published",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS)
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated page slugs")
    args = parser.parse_args()
    with api_process() as api:
        api_url = api.url
        version = httpx.get(f"{api_url}/v1/model").json()["version"]
        with running_dashboard(api_url, free_port()) as ui_url, chromium() as driver:
            for slug in args.pages.split(","):
                expect = PAGES[slug]
                seconds = open_page(driver, f"{ui_url}/?page={slug}", expect)
                time.sleep(1.0)  # let chart transitions settle before the picture
                path = screenshot(driver, args.out / f"dashboard-{slug}.png")
                print(
                    f"{slug:9s} shown in {seconds:.2f} s -> {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}"
                )
        print(f"model {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
