"""What is known at each origin month: the zip's price path, its market's stats, its metro.

Every signal is a months x zips grid whose row o uses nothing after month o. Three families feed
the forecaster's three members (housing_core/forecast/model.py): the zip's own momentum, its metro's
momentum and breadth, and the market stats that lead turns (sale-to-list, days on market,
pending sales, inventory against sales). Growth is per month in log price, so horizons compare.

`window` bounds how far back a signal may look: 12 is the HouseTS benchmark's input window (an
origin sees months o-11..o), None lets the zip's whole history in (two years of lags).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from housing_core.forecast.panel import Panel

FAMILIES = ("momentum", "metro", "market")


def lagged(grid: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(grid, np.nan)
    if k < len(grid):
        out[k:] = grid[: len(grid) - k]
    return out


def trailing_mean(grid: np.ndarray, k: int) -> np.ndarray:
    return pd.DataFrame(grid).rolling(k, min_periods=1).mean().to_numpy()


def _by_metro(panel: Panel, grid: np.ndarray, reduce) -> np.ndarray:
    """Each zip's column replaced by its metro's reduction over the metro's zips, month by month."""
    out = np.full_like(grid, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a month where a metro has no data
        for metro in np.unique(panel.metros):
            cols = panel.metros == metro
            out[:, cols] = reduce(grid[:, cols], axis=1)[:, None]
    return out


@dataclass(frozen=True)
class Signals:
    names: list[str]
    family: dict[str, str]
    grids: dict[str, np.ndarray]
    window: int | None

    def at(self, origins: np.ndarray) -> np.ndarray:
        """(len(origins) * zips) x signals: origin-major, zips in panel order within an origin."""
        return np.column_stack([self.grids[n][origins].ravel() for n in self.names])

    def of(self, family: str) -> list[str]:
        return [n for n in self.names if self.family[n] == family]


def compute(panel: Panel, window: int | None = None) -> Signals:
    if window is not None and window < 4:
        raise ValueError(f"input window must be at least 4 months, got {window}")
    year = 12 if window is None else min(12, window - 1)
    lp = np.log(panel.price)
    grids: dict[str, np.ndarray] = {}
    family: dict[str, str] = {}

    def add(name: str, fam: str, grid: np.ndarray) -> None:
        grids[name], family[name] = grid, fam

    growth = {k: (lp - lagged(lp, k)) / k for k in sorted({1, 3, 6, year})}
    for k, g in growth.items():
        add(f"g{k}", "momentum", g)
    add("g1_lag1", "momentum", lagged(growth[1], 1))
    add("g1_lag2", "momentum", lagged(growth[1], 2))
    add("accel3", "momentum", growth[3] - lagged(growth[3], 3))
    if window is None:
        add("g24", "momentum", (lp - lagged(lp, 24)) / 24)

    for k in (1, 3, year):
        add(f"metro_g{k}", "metro", _by_metro(panel, growth[k], np.nanmean))
    add("metro_breadth3", "metro", _by_metro(panel, (growth[3] > 0).astype(float), np.nanmean))

    stats = panel.stats
    if "avg_sale_to_list" in stats:
        stl = trailing_mean(stats["avg_sale_to_list"], 3)
        add("sale_to_list_chg3", "market", stl - lagged(stl, 3))
        add("sale_to_list_chg_year", "market", stl - lagged(stl, year))
        metro_stl = trailing_mean(_by_metro(panel, stats["avg_sale_to_list"], np.nanmedian), 3)
        add("metro_sale_to_list_chg3", "market", metro_stl - lagged(metro_stl, 3))
    for stat in ("pending_sales", "inventory"):
        if stat in stats:
            total = trailing_mean(_by_metro(panel, stats[stat], np.nansum), 3) + 1.0
            add(f"metro_{stat}_chg_year", "market", np.log(total) - np.log(lagged(total, year)))
    if "inventory" in stats and "homes_sold" in stats:
        supply = np.log(
            (trailing_mean(stats["inventory"], 3) + 1) / (trailing_mean(stats["homes_sold"], 3) + 1)
        )
        add("months_supply_chg_year", "market", supply - lagged(supply, year))
    if "median_dom" in stats:
        dom = np.log(trailing_mean(stats["median_dom"], 3) + 1)
        add("dom_chg_year", "market", dom - lagged(dom, year))
    return Signals(list(grids), family, grids, window)
