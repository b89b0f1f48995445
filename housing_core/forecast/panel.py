"""A zip x month panel: the HouseTS long rows as months x zips grids, one per column."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from housing_core import contract as c

# The Redfin stats the forecaster reads; a panel without one of them (the DC file lacks a few)
# simply has no such grid, and the signals that need it are left out (housing_core/forecast/signals.py).
STATS = (
    "avg_sale_to_list",
    "median_dom",
    "pending_sales",
    "inventory",
    "homes_sold",
    "new_listings",
)
NO_METRO = "all"


@dataclass(frozen=True)
class Panel:
    months: list[str]  # 'YYYY-MM', contiguous, oldest first
    zips: np.ndarray  # int64, one per column
    metros: np.ndarray  # object, the zip's metro (city_full), one per column
    price: np.ndarray  # float64 months x zips; NaN where the zip has no row that month
    stats: dict[str, np.ndarray]

    @classmethod
    def from_rows(cls, rows: pd.DataFrame) -> Panel:
        """Pivot cleaned HouseTS rows; a zip-month given twice or a non-positive price is refused."""
        missing = [col for col in (c.ZIPCODE, c.DATE, c.TARGET) if col not in rows.columns]
        if missing:
            raise ValueError(f"forecast panel: rows lack column(s) {missing}")
        if rows.empty:
            raise ValueError("forecast panel: no rows")
        frame = rows.assign(_month=pd.to_datetime(rows[c.DATE]).dt.to_period("M"))
        doubled = frame.duplicated([c.ZIPCODE, "_month"], keep=False)
        if doubled.any():
            first = frame.loc[doubled, [c.ZIPCODE, "_month"]].iloc[0]
            raise ValueError(
                f"forecast panel: {int(doubled.sum())} rows repeat a zip-month, "
                f"e.g. zip {first[c.ZIPCODE]} in {first['_month']}"
            )
        bad = frame[c.TARGET].notna() & ~(frame[c.TARGET] > 0)
        if bad.any():
            row = frame.loc[bad].iloc[0]
            raise ValueError(
                f"forecast panel: {int(bad.sum())} non-positive prices, "
                f"e.g. zip {row[c.ZIPCODE]} in {row['_month']}: {row[c.TARGET]}"
            )
        periods = pd.period_range(frame["_month"].min(), frame["_month"].max(), freq="M")
        zips = np.sort(frame[c.ZIPCODE].unique()).astype("int64")

        def grid(column: str) -> np.ndarray:
            wide = frame.pivot(index="_month", columns=c.ZIPCODE, values=column)
            return wide.reindex(index=periods, columns=zips).to_numpy(dtype="float64")

        if c.CITY_FULL in frame.columns:
            metro = frame.groupby(c.ZIPCODE)[c.CITY_FULL].agg(lambda s: s.mode().iat[0])
            metros = metro.reindex(zips).fillna(NO_METRO).to_numpy(dtype=object)
        else:
            metros = np.full(len(zips), NO_METRO, dtype=object)
        stats = {s: grid(s) for s in STATS if s in frame.columns}
        return cls([str(p) for p in periods], zips, metros, grid(c.TARGET), stats)

    @property
    def n_months(self) -> int:
        return len(self.months)

    def head(self, n_months: int) -> Panel:
        """The first `n_months` months: what was known at the end of month n_months - 1."""
        return Panel(
            self.months[:n_months],
            self.zips,
            self.metros,
            self.price[:n_months],
            {k: v[:n_months] for k, v in self.stats.items()},
        )

    def index(self, month: str) -> int:
        try:
            return self.months.index(month)
        except ValueError:
            raise ValueError(
                f"month {month} is outside the panel ({self.months[0]}..{self.months[-1]})"
            ) from None
