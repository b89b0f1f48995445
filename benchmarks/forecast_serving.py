"""What the API holds for the live forecaster, and how long it takes to load, by zips.

    uv run python benchmarks/forecast_serving.py [--zips 6000,30000]

A publication of `--zips` zips (24 monthly steps each, 36 months of published history, 30
metros), loaded as the API loads it (`housing_serving.forecasts.LiveForecast.of`); then one
zip's answer as the route builds it. Memory: the process's resident set once the publication
itself is dropped and only what the API keeps remains, above the process before it was made.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np
import pandas as pd

from housing_core.forecast.publishing import Bands, PublishedForecast
from housing_serving.forecasts import LiveForecast, points

STEPS, HISTORY_MONTHS, METROS = 24, 36, 30
BOUNDS = ("last_price", "forecast", "lower_80", "upper_80", "lower_95", "upper_95")


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def publication(n: int) -> PublishedForecast:
    rng = np.random.default_rng(0)
    zips = np.arange(10_000, 10_000 + n)
    table = pd.DataFrame({"zipcode": np.repeat(zips, STEPS), "step": np.tile(np.arange(1, 25), n)})
    table["metro"] = [f"metro {z % METROS}" for z in table["zipcode"]]
    table["month"] = (pd.Period("2024-01", "M") + (table["step"] - 1)).astype(str)
    table["origin"] = "2023-12"
    for col in BOUNDS:
        table[col] = rng.random(len(table)) * 1e6
    months = pd.period_range("2021-01", periods=HISTORY_MONTHS, freq="M").astype(str)
    history = pd.DataFrame(
        {"zipcode": np.repeat(zips, HISTORY_MONTHS), "month": np.tile(months, n)}
    )
    history["metro"] = [f"metro {z % METROS}" for z in history["zipcode"]]
    history["price"] = rng.random(len(history)) * 1e6
    return PublishedForecast(
        "bench", table, Bands("2023-12", {}, 0.0), {"overall": {}}, {"origin": "2023-12"}, history
    )


def measure(n: int) -> dict:
    gc.collect()
    before = rss_mb()
    published = publication(n)
    started = time.perf_counter()
    live = LiveForecast.of(published)
    load_s = time.perf_counter() - started
    del published
    gc.collect()
    held = rss_mb() - before
    zipcode = 10_000 + n // 2
    started = time.perf_counter()
    for _ in range(1000):
        points(live.by_zip[zipcode], STEPS)
    answer_ms = time.perf_counter() - started
    return {"zips": n, "load_s": load_s, "held_mb": held, "one_zip_ms": answer_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zips", default="6000,30000", help="comma-separated zip counts")
    args = parser.parse_args()
    print("| zips | load | held by the API | one zip's 24 points |")
    print("|---|---|---|---|")
    for n in (int(z) for z in args.zips.split(",")):
        r = measure(n)
        print(
            f"| {r['zips']:,} | {r['load_s']:.1f} s | {r['held_mb']:.0f} MB | "
            f"{r['one_zip_ms']:.2f} ms |"
        )


if __name__ == "__main__":
    main()
