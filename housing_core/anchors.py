"""The zip's own price history: the anchor every prediction starts from.

A price index moves slowly (on a real HouseTS panel the previous month's price is within 0.8% of
this month's), so the model predicts the CHANGE from the zip's last known price -- its anchor,
`h` months back -- and learns that change from what moved in between: the zip's momentum before
the anchor, its metro's, and how its market stats now compare with their level then.

History is kept as per-(zip, month) *inputs*: the log price and each market stat transformed
(log for prices, counts and days on market; as is for ratios). From inputs, `AnchorTable` derives
the features at every known (zip, month) using only months at or before it:

  anchor_log_price                         the anchor itself
  mom_{1,3,6,12}                           log price change over the k months before the anchor
  metro_mom_{3,12}                         the same for the metro's chained index
  smooth_<stat>                            mean of the stat over the SMOOTHING months up to it

Training, holdout evaluation, the API and the monthly history refresh all build the table with
this one function, and look anchors up with `AnchorTable.lookup` (the latest known month at or
before a cutoff), so what a served row sees is exactly what a training row saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from housing_core import contract as c

ZIP, MONTH, METRO, LOG_PRICE = "zip", "month", "metro", "log_price"
# Market stats whose change between anchor and target month the model sees. Sales, pending and
# new-listing counts were left out: their changes carried <0.1% of the gain each, at full scale
# and on the real panel, and every feature costs training time.
LOG_STATS = [
    "median_list_price",
    "median_list_ppsf",
    "median_ppsf",
    "median_sale_price",
    "inventory",
    "median_dom",
]
RAW_STATS = ["avg_sale_to_list", "sold_above_list", "off_market_in_two_weeks"]
STATS = [*LOG_STATS, *RAW_STATS]
MOMENTUM = (1, 3, 6, 12)
METRO_MOMENTUM = (3, 12)
SMOOTHING = 6  # months: zip-level monthly medians are noisy (list price: ~0.2 log sd a month)
KEEP_MONTHS = 48  # months per zip a bundle keeps: any of the last 36 has its full 12-month lookback
MONTH_SPAN = 100_000  # composite key zip * MONTH_SPAN + month index; month indexes are < 30k

FEATURES = [
    "anchor_log_price",
    *(f"mom_{k}" for k in MOMENTUM),
    *(f"metro_mom_{k}" for k in METRO_MOMENTUM),
]


def feature_names(stats: list[str]) -> list[str]:
    """An anchor table's columns for the given market stats."""
    return [*FEATURES, *(f"smooth_{s}" for s in stats)]


def month_index(dates: pd.Series) -> np.ndarray:
    """year * 12 + month - 1: consecutive months differ by one."""
    d = pd.to_datetime(dates)
    return (d.dt.year * 12 + d.dt.month - 1).to_numpy(dtype="int64")


def transform(stat: str, values: np.ndarray) -> np.ndarray:
    """A stat on the scale its changes are compared on (non-positive logs are missing)."""
    v = np.asarray(values, dtype="float64")
    if stat in RAW_STATS:
        return v
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > 0, np.log(v), np.nan)


def stats_used(dropped: list[str]) -> list[str]:
    return [s for s in STATS if s not in dropped]


def inputs(rows: pd.DataFrame, stats: list[str]) -> pd.DataFrame:
    """Cleaned HouseTS rows -> history inputs: one row per (zip, month) with a known price."""
    known = rows[rows[c.TARGET].notna() & (rows[c.TARGET] > 0)]
    out = pd.DataFrame(
        {
            ZIP: known[c.ZIPCODE].to_numpy(dtype="int64"),
            MONTH: month_index(known[c.DATE]),
            METRO: known[c.CITY].astype(str).to_numpy(),
            LOG_PRICE: np.log(known[c.TARGET].to_numpy(dtype="float64")),
        }
    )
    for stat in stats:
        values = known[stat].to_numpy() if stat in known.columns else np.full(len(known), np.nan)
        out[stat] = transform(stat, values)
    return out.drop_duplicates([ZIP, MONTH], keep="last").sort_values(
        [ZIP, MONTH], ignore_index=True
    )


def merge_inputs(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """`new` months replace the same (zip, month) in `old` (a re-delivered month wins)."""
    both = pd.concat([old, new[old.columns]], ignore_index=True)
    return both.drop_duplicates([ZIP, MONTH], keep="last").sort_values(
        [ZIP, MONTH], ignore_index=True
    )


def keep_recent(history: pd.DataFrame, months: int = KEEP_MONTHS) -> pd.DataFrame:
    """Each zip's latest `months` known months: what a serving bundle carries."""
    return history.groupby(ZIP, sort=False).tail(months).reset_index(drop=True)


def _rolling_mean(grid: np.ndarray, window: int) -> np.ndarray:
    """Mean of the known values among the last `window` columns (NaN when none)."""
    known = np.isfinite(grid)
    sums = np.cumsum(np.where(known, grid, 0.0), axis=1)
    counts = np.cumsum(known, axis=1)
    sums[:, window:] = sums[:, window:] - sums[:, :-window].copy()
    counts[:, window:] = counts[:, window:] - counts[:, :-window].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _lagged_change(grid: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(grid, np.nan)
    out[:, k:] = grid[:, k:] - grid[:, :-k]
    return out


def _metro_index(log_price: np.ndarray, metro_of_zip: np.ndarray) -> np.ndarray:
    """Per metro, the chained mean of its zips' month-over-month log changes (robust to zips
    entering or leaving); NaN before the metro's first change."""
    step = _lagged_change(log_price, 1)
    index = np.full((metro_of_zip.max() + 1, log_price.shape[1]), np.nan)
    for m in range(index.shape[0]):
        mine = metro_of_zip == m
        part = step[mine]
        counts = np.isfinite(part).sum(axis=0)
        mean = np.where(counts > 0, np.nansum(part, axis=0) / np.maximum(counts, 1), 0.0)
        seen = np.cumsum(np.isfinite(log_price[mine]).sum(axis=0)) > 0  # from its first price
        index[m] = np.where(seen, np.cumsum(mean), np.nan)
    return index


@dataclass(frozen=True)
class Match:
    """Anchors found for some rows: month index (-1 for none) and the anchor's features."""

    month: np.ndarray
    values: np.ndarray  # (n, len(table.names)); NaN where there is no anchor
    names: list[str]

    @property
    def found(self) -> np.ndarray:
        return self.month >= 0

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]

    @classmethod
    def none(cls, n: int, names: list[str]) -> Match:
        return cls(np.full(n, -1, dtype="int64"), np.full((n, len(names)), np.nan), names)


class AnchorTable:
    """Features at every known (zip, month) of a history, searchable by (zip, cutoff month)."""

    def __init__(self, history: pd.DataFrame, stats: list[str]):
        self.stats = list(stats)
        self.names = feature_names(self.stats)
        self.history = history
        if history.empty:
            self.keys = np.empty(0, dtype="int64")
            self.values = np.empty((0, len(self.names)))
            self.last_month = None
            return
        zips, zip_pos = np.unique(history[ZIP].to_numpy(), return_inverse=True)
        first = int(history[MONTH].min())
        month_pos = history[MONTH].to_numpy() - first
        width = int(month_pos.max()) + 1
        grid = np.full((len(zips), width), np.nan)
        grid[zip_pos, month_pos] = history[LOG_PRICE].to_numpy()
        _, metro_pos = np.unique(history[METRO].to_numpy(), return_inverse=True)
        metro_of_zip = np.zeros(len(zips), dtype="int64")
        metro_of_zip[zip_pos] = metro_pos  # a zip's latest metro where it ever changed
        metro = _metro_index(grid, metro_of_zip)[metro_of_zip]
        columns = [grid]
        columns += [_lagged_change(grid, k) for k in MOMENTUM]
        columns += [_lagged_change(metro, k) for k in METRO_MOMENTUM]
        for stat in self.stats:
            stat_grid = np.full_like(grid, np.nan)
            stat_grid[zip_pos, month_pos] = history[stat].to_numpy()
            columns.append(_rolling_mean(stat_grid, SMOOTHING))
        # Only known (zip, month) cells are anchors, in key order (zip, then month).
        order = np.lexsort((month_pos, zip_pos))
        zp, mp = zip_pos[order], month_pos[order]
        self.keys = zips[zp] * MONTH_SPAN + (mp + first)
        self.values = np.stack([col[zp, mp] for col in columns], axis=1)
        self.last_month = int(history[MONTH].max())

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, zips: np.ndarray, cutoffs: np.ndarray) -> Match:
        """For each row, the zip's latest known month at or before its cutoff."""
        zips = np.asarray(zips, dtype="int64")
        cutoffs = np.asarray(cutoffs, dtype="int64")
        if not len(self.keys):
            return Match.none(len(zips), self.names)
        pos = np.searchsorted(self.keys, zips * MONTH_SPAN + cutoffs, side="right") - 1
        pos_ok = np.maximum(pos, 0)
        found = (pos >= 0) & (self.keys[pos_ok] // MONTH_SPAN == zips)
        month = np.where(found, self.keys[pos_ok] % MONTH_SPAN, -1)
        values = self.values[pos_ok]  # a new array: blanked in place, not copied once more
        values[~found] = np.nan
        return Match(month.astype("int64"), values, self.names)

    def first_month(self, zips: np.ndarray) -> np.ndarray:
        """Each zip's first known month index (-1 for a zip the table does not know)."""
        zips = np.asarray(zips, dtype="int64")
        if not len(self.keys):
            return np.full(len(zips), -1, dtype="int64")
        pos = np.minimum(np.searchsorted(self.keys, zips * MONTH_SPAN), len(self.keys) - 1)
        found = self.keys[pos] // MONTH_SPAN == zips
        return np.where(found, self.keys[pos] % MONTH_SPAN, -1)


def month_key(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def sample_cutoffs(
    months: np.ndarray, first_known: np.ndarray, max_offset: int, uniform: np.ndarray
) -> np.ndarray:
    """Training rows are anchored as served: the history ends 1..max_offset months before the
    row (uniform; never before the zip's first known month, so a row with any earlier price is
    anchored), and the anchor is the zip's last known month by then. A row with no earlier
    price (its zip's first month, or a zip never seen before) gets a cutoff with no anchor.
    `uniform`: one draw in [0, 1) per row -- taken by the caller, so a row draws the same
    cutoff whichever part of the rows it is anchored with (housing_core/dask_training.py)."""
    months = np.asarray(months, dtype="int64")
    reach = np.where(first_known >= 0, months - first_known, 0)
    span = np.clip(reach, 1, max_offset)
    return months - 1 - np.floor(uniform * span).astype("int64")
