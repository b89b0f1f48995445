"""What the dashboard explores, answered from the bundle's own data (no database, no Dagster).

The bundle carries every split's actual prices (`history.parquet`) and the holdout rows with
the model's predictions (`holdout.parquet`). Aggregates that every dashboard visit asks for
(errors by metro, month and zip) are computed once, when the bundle is loaded.
"""

from __future__ import annotations

from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from housing_core import contract as c
from housing_core import zip_map
from housing_core.splits import SPLIT

BANDS = ["lower_80", "upper_80", "lower_95", "upper_95"]
WORST_ZIPS = 25
HISTOGRAM_BINS = 41


def month(value: pd.Timestamp) -> str:
    return value.strftime("%Y-%m")


def _floats(values) -> list[float | None]:
    return [None if v != v else float(v) for v in values]  # NaN -> null


class Explorer:
    def __init__(self, history: pd.DataFrame, holdout: pd.DataFrame):
        self.history = history.sort_values([c.ZIPCODE, c.DATE]).reset_index(drop=True)
        self.holdout = holdout.reset_index(drop=True)
        self.holdout["ape"] = (
            (self.holdout["prediction"] - self.holdout[c.TARGET]).abs()
            / self.holdout[c.TARGET]
            * 100
        )
        self._zip_rows = self.history.groupby(c.ZIPCODE).indices
        self._holdout_at = {
            (int(z), d.to_period("M")): i
            for i, (z, d) in enumerate(
                zip(self.holdout[c.ZIPCODE], self.holdout[c.DATE], strict=True)
            )
        }
        self.errors = self._errors()
        self.catalog = self._catalog()
        self.metro_series = lru_cache(maxsize=64)(self._metro_series)

    # --- catalog ----------------------------------------------------------------------------

    def _catalog(self) -> dict:
        zips = self.history.groupby(c.CITY)[c.ZIPCODE].unique()
        holdout = self.holdout[c.DATE]
        return {
            "metros": [
                {
                    "code": code,
                    "name": c.METROS.get(code, code),
                    "zipcodes": [c.format_zip(z) for z in sorted(zips[code])],
                }
                for code in sorted(zips.index, key=lambda k: c.METROS.get(k, k))
            ],
            "first_month": month(self.history[c.DATE].min()),
            "last_month": month(self.history[c.DATE].max()),
            "holdout": {"first": month(holdout.min()), "last": month(holdout.max())},
        }

    @cached_property
    def map(self) -> dict:
        """Every zip with a position and the measures the map colours by (built on first use:
        the bundled zip list is read once per process, and not cheaply)."""
        points, unplaced = zip_map.zip_points(self.history, self.holdout)
        return {"zipcodes": points, "unplaced": unplaced}

    # --- series -----------------------------------------------------------------------------

    def zip_series(self, zipcode: int) -> list[dict] | None:
        positions = self._zip_rows.get(zipcode)
        if positions is None:
            return None
        history = self.history.iloc[positions]
        scored = self.holdout[self.holdout[c.ZIPCODE] == zipcode]
        return self._points(history, scored)

    def _metro_series(self, metro: str) -> list[dict] | None:
        history = self.history[self.history[c.CITY] == metro]
        if history.empty:
            return None
        # A metro's level: the mean over its zips, month by month (bands: mean of zip bounds).
        actual = history.groupby(c.DATE)[c.TARGET].mean().rename(c.TARGET).reset_index()
        actual[SPLIT] = history.groupby(c.DATE)[SPLIT].first().to_numpy()
        scored = (
            self.holdout[self.holdout[c.CITY] == metro]
            .groupby(c.DATE)[["prediction", *BANDS]]
            .mean()
            .reset_index()
        )
        return self._points(actual, scored)

    @staticmethod
    def _points(history: pd.DataFrame, scored: pd.DataFrame) -> list[dict]:
        merged = history[[c.DATE, c.TARGET, SPLIT]].merge(
            scored[[c.DATE, "prediction", *BANDS]], on=c.DATE, how="left"
        )
        columns = {k: _floats(merged[k]) for k in [c.TARGET, "prediction", *BANDS]}
        return [
            {
                "month": month(d),
                "split": s,
                "actual": columns[c.TARGET][i],
                "prediction": columns["prediction"][i],
                "lower_80": columns["lower_80"][i],
                "upper_80": columns["upper_80"][i],
                "lower_95": columns["lower_95"][i],
                "upper_95": columns["upper_95"][i],
            }
            for i, (d, s) in enumerate(zip(merged[c.DATE], merged[SPLIT], strict=True))
        ]

    # --- one row, as a client would send it ----------------------------------------------------

    def row(self, zipcode: int, when: pd.Period) -> dict | None:
        i = self._holdout_at.get((zipcode, when))
        if i is None:
            return None
        record = self.holdout.iloc[i]
        out: dict = {}
        for col in c.COLUMNS:
            value = record[col]
            if col == c.DATE:
                out[col] = value.strftime("%Y-%m-%d")
            elif col in (c.ZIPCODE, c.YEAR):
                out[col] = int(value)
            elif col in (c.CITY, c.CITY_FULL):
                out[col] = None if pd.isna(value) else str(value)
            else:
                out[col] = None if pd.isna(value) else float(value)
        return out

    # --- errors ------------------------------------------------------------------------------

    def _errors(self) -> dict:
        h = self.holdout
        error_pct = (h["prediction"] - h[c.TARGET]) / h[c.TARGET] * 100
        by_metro = (
            h.assign(abs_error=(h["prediction"] - h[c.TARGET]).abs())
            .groupby(c.CITY)
            .agg(mape=("ape", "mean"), mae=("abs_error", "mean"), rows=("ape", "size"))
            .sort_values("mape", ascending=False)
        )
        by_month = h.groupby(c.DATE)["ape"].agg(["mean", "size"])
        by_zip = (
            h.groupby(c.ZIPCODE)
            .agg(mape=("ape", "mean"), rows=("ape", "size"), metro=(c.CITY, "first"))
            .sort_values("mape", ascending=False)
            .head(WORST_ZIPS)
        )
        limit = float(np.nanpercentile(error_pct.abs(), 99)) or 1.0
        counts, edges = np.histogram(error_pct.clip(-limit, limit), bins=HISTOGRAM_BINS)
        return {
            "rows": len(h),
            "mape": float(h["ape"].mean()),
            "by_metro": [
                {
                    "metro": code,
                    "name": c.METROS.get(code, code),
                    "mape": float(r.mape),
                    "mae": float(r.mae),
                    "rows": int(r.rows),
                }
                for code, r in by_metro.iterrows()
            ],
            "by_month": [
                {"month": month(d), "mape": float(r["mean"]), "rows": int(r["size"])}
                for d, r in by_month.iterrows()
            ],
            "worst_zipcodes": [
                {
                    "zipcode": c.format_zip(z),
                    "metro": r.metro,
                    "mape": float(r.mape),
                    "rows": int(r.rows),
                }
                for z, r in by_zip.iterrows()
            ],
            "residuals": {
                "bin_edges_pct": [float(e) for e in edges],
                "counts": [int(n) for n in counts],
                "clipped_at_pct": limit,
            },
        }
