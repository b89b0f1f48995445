"""What the dashboard explores, answered from the bundle's own data (no database, no Dagster).

The bundle carries every zip's months (`series_by_zip.parquet`: actual prices of every split, the
model's predictions with their bands on the holdout months) and the holdout rows as a client sends
them (`holdout_by_zip.parquet`), both sorted by zip code in row groups of whole zips. The API
keeps them on disk and reads the one row group a zip lies in, so its memory does not grow with a
bundle's zips x months. What is small and asked for on every visit (the catalog, the error report,
where each zip lies) is computed in one pass over the files when the bundle is loaded; a metro's
series and the map read the files again on first use and are kept.
Bundles published before carried the same data as two whole tables (`history.parquet`,
`holdout.parquet`): they are rewritten into this layout when loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property, lru_cache
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from housing_core import bundle, zip_map
from housing_core import contract as c
from housing_core.splits import HOLDOUT, SPLIT

BANDS = ["lower_80", "upper_80", "lower_95", "upper_95"]
SCORED = ["prediction", *BANDS]
WORST_ZIPS = 25
HISTOGRAM_BINS = 41
# Rows per row group, in whole zips: one zip's read decodes about this many rows. Smaller groups
# read faster but each adds its columns' metadata, which the API keeps for as long as it serves.
ROW_GROUP_ROWS = 8192
# Rows a pass over a whole file reads at once (whole row groups): fewer, larger steps for what
# pandas does per step, at about a megabyte per column.
PASS_ROWS = 1 << 17


def month(value: pd.Timestamp) -> str:
    return value.strftime("%Y-%m")


def _floats(values) -> list[float | None]:
    return [None if v != v else float(v) for v in values]  # NaN -> null


# --- the files ------------------------------------------------------------------------------


def by_zip(frame: pd.DataFrame, row_group_rows: int = ROW_GROUP_ROWS) -> bytes:
    """`frame` as Parquet sorted by zip code and date, each row group whole zips of about
    `row_group_rows` rows. Only the zip code carries statistics (a reader filtering on it skips
    the other groups); the other columns' would only grow the metadata a reader keeps."""
    frame = frame.sort_values(c.KEYS, kind="stable").reset_index(drop=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    zips = frame[c.ZIPCODE].to_numpy()
    bounds = [0]
    for first in np.flatnonzero(zips[1:] != zips[:-1]) + 1:  # each zip's first row
        if first - bounds[-1] >= row_group_rows:
            bounds.append(int(first))
    bounds.append(len(frame))
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, write_statistics=[c.ZIPCODE]) as writer:
        for start, end in pairwise(bounds):
            writer.write_table(table.slice(start, end - start), row_group_size=max(end - start, 1))
    return sink.getvalue().to_pybytes()


def files(history: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, bytes]:
    """The bundle's explorer files from every split's prices (`history`) and the holdout rows with
    the model's predictions (`holdout`): a zip's series is then one read."""
    scored = holdout[[*c.KEYS, *SCORED]]
    series = history.merge(scored, on=c.KEYS, how="left")
    return {bundle.SERIES_BY_ZIP: by_zip(series), bundle.HOLDOUT_BY_ZIP: by_zip(holdout)}


def position(zips: np.ndarray, zipcode: int) -> int | None:
    """Where `zipcode` is in the sorted, unique `zips`; None if it is not there."""
    i = int(np.searchsorted(zips, zipcode))
    return i if i < len(zips) and zips[i] == zipcode else None


class ByZip:
    """A by-zip Parquet file read a zip at a time: its footer parsed once and, per zip, the row
    group and rows it lies in (a few numbers per zip)."""

    def __init__(self, copy: bundle.LocalCopy):
        self.copy = copy  # the file lives as long as its reader
        self.metadata = pq.read_metadata(copy.file)
        zips, groups, offsets = [], [], []
        for group, table in self.groups([c.ZIPCODE]):
            values = table.column(c.ZIPCODE).to_numpy()
            if not len(values):
                continue
            firsts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
            zips.append(values[firsts])
            groups.append(np.full(len(firsts), group, dtype=np.int32))
            offsets.append(np.r_[firsts, len(values)].astype(np.int64))
        self.zips = np.concatenate(zips) if zips else np.array([], dtype=np.int64)
        self._group = np.concatenate(groups) if groups else np.array([], dtype=np.int32)
        self._start = np.concatenate([o[:-1] for o in offsets]) if offsets else self._group
        self._end = np.concatenate([o[1:] for o in offsets]) if offsets else self._group
        if np.any(np.diff(self.zips) <= 0):
            raise bundle.BundleError(f"{copy.name} is not sorted by zip code in whole zips")

    def _file(self) -> pq.ParquetFile:
        # One reader per call over the shared open file: requests run on many threads, and
        # positional reads need no lock; the parsed footer is shared too.
        return pq.ParquetFile(self.copy.file, metadata=self.metadata)

    def group(self, group: int, columns: list[str] | None = None) -> pa.Table:
        with self._file() as f:
            return f.read_row_group(group, columns=columns, use_threads=False)

    def groups(self, columns: list[str] | None = None) -> Iterator[tuple[int, pa.Table]]:
        """Every row group in turn: a pass over the file holds one group at a time."""
        with self._file() as f:
            for group in range(f.num_row_groups):
                yield group, f.read_row_group(group, columns=columns, use_threads=False)

    def chunks(self, columns: list[str] | None = None) -> Iterator[pa.Table]:
        """The whole file in runs of consecutive row groups of up to `PASS_ROWS` rows (whole
        zips, as every group is)."""
        run: list[int] = []
        size = 0
        with self._file() as f:
            for group in range(f.num_row_groups):
                rows = self.metadata.row_group(group).num_rows
                if run and size + rows > PASS_ROWS:
                    yield f.read_row_groups(run, columns=columns, use_threads=False)
                    run, size = [], 0
                run.append(group)
                size += rows
            if run:
                yield f.read_row_groups(run, columns=columns, use_threads=False)
        # Arrow's allocator keeps what a pass freed for reuse; the API would carry it as RSS.
        pa.default_memory_pool().release_unused()

    def groups_of(self, zipcodes: np.ndarray) -> list[int]:
        """The row groups holding these zips (each one the file holds)."""
        return [int(g) for g in self._group[np.searchsorted(self.zips, zipcodes)]]

    def rows(self, zipcode: int, columns: list[str] | None = None) -> pd.DataFrame | None:
        """The zip's rows in date order; None for a zip the file does not hold."""
        i = position(self.zips, zipcode)
        if i is None:
            return None
        start, end = int(self._start[i]), int(self._end[i])
        return self.group(int(self._group[i]), columns).slice(start, end - start).to_pandas()


def _with_ape(scored: pd.DataFrame) -> pd.DataFrame:
    return scored.assign(
        ape=(scored["prediction"] - scored[c.TARGET]).abs() / scored[c.TARGET] * 100
    )


class Explorer:
    def __init__(self, series: bundle.LocalCopy, holdout: bundle.LocalCopy):
        self._series = ByZip(series)
        self._holdout = ByZip(holdout)
        pairs, dates, scored = [], [], []
        for table in self._series.chunks(
            [c.ZIPCODE, c.CITY, c.DATE, c.TARGET, SPLIT, "prediction"]
        ):
            frame = table.to_pandas()
            pairs.append(frame[[c.CITY, c.ZIPCODE]].dropna(subset=[c.CITY]).drop_duplicates())
            dates.append(frame[c.DATE].agg(["min", "max"]))
            scored.append(frame[frame[SPLIT] == HOLDOUT].drop(columns=SPLIT))
        metros = pd.concat(pairs)
        self._metro_groups = {
            metro: sorted(set(self._series.groups_of(zips.to_numpy())))
            for metro, zips in metros.groupby(c.CITY)[c.ZIPCODE]
        }
        self.catalog = _catalog(metros, pd.concat(dates), pd.concat(scored)[c.DATE])
        self.errors = _errors(_with_ape(pd.concat(scored, ignore_index=True)))
        self.metro_series = lru_cache(maxsize=64)(self._metro_series)

    @classmethod
    def from_frames(cls, history: pd.DataFrame, holdout: pd.DataFrame) -> Explorer:
        """The explorer of the two whole tables bundles carried before (rewritten by zip)."""
        tables = files(history, holdout)
        series, scored = (bundle.LocalCopy.holding(n, tables[n]) for n in bundle.EXPLORER_FILES)
        return cls(series, scored)

    @cached_property
    def map(self) -> dict:
        """Every zip with a position and the measures the map colours by (built on first use:
        the bundled zip list is read once per process, and not cheaply). A zip's measures are
        its own rows', so a pass over the file builds it a few row groups at a time."""
        points, unplaced = [], []
        for table in self._series.chunks():
            history = table.to_pandas()
            scored = _with_ape(history[history[SPLIT] == HOLDOUT])
            found, lost = zip_map.zip_points(history, scored)
            points += found
            unplaced += lost
        return {"zipcodes": points, "unplaced": unplaced}

    # --- series -----------------------------------------------------------------------------

    def zip_series(self, zipcode: int) -> list[dict] | None:
        rows = self._series.rows(zipcode, [c.DATE, c.TARGET, SPLIT, *SCORED])
        return None if rows is None else _points(rows)

    def _metro_series(self, metro: str) -> list[dict] | None:
        groups = self._metro_groups.get(metro)
        if not groups:
            return None
        columns = [c.CITY, c.DATE, c.TARGET, SPLIT, *SCORED]
        rows = pd.concat(self._series.group(g, columns).to_pandas() for g in groups)
        history = rows[rows[c.CITY] == metro]
        # A metro's level: the mean over its zips, month by month (bands: mean of zip bounds).
        actual = history.groupby(c.DATE)[c.TARGET].mean().rename(c.TARGET).reset_index()
        actual[SPLIT] = history.groupby(c.DATE)[SPLIT].first().to_numpy()
        scored = history[history[SPLIT] == HOLDOUT].groupby(c.DATE)[SCORED].mean().reset_index()
        return _points(actual.merge(scored, on=c.DATE, how="left"))

    # --- one row, as a client would send it ----------------------------------------------------

    def row(self, zipcode: int, when: pd.Period) -> dict | None:
        rows = self._holdout.rows(zipcode, c.COLUMNS)
        if rows is None:
            return None
        rows = rows[rows[c.DATE].dt.to_period("M") == when]
        if rows.empty:
            return None
        record = rows.iloc[-1]
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


def _points(merged: pd.DataFrame) -> list[dict]:
    columns = {k: _floats(merged[k]) for k in [c.TARGET, *SCORED]}
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


# --- catalog and errors ------------------------------------------------------------------------


def _catalog(pairs: pd.DataFrame, dates: pd.Series, holdout: pd.Series) -> dict:
    zips = pairs.groupby(c.CITY)[c.ZIPCODE].unique()
    return {
        "metros": [
            {
                "code": code,
                "name": c.METROS.get(code, code),
                "zipcodes": [c.format_zip(z) for z in sorted(zips[code])],
            }
            for code in sorted(zips.index, key=lambda k: c.METROS.get(k, k))
        ],
        "first_month": month(dates.min()),
        "last_month": month(dates.max()),
        "holdout": {"first": month(holdout.min()), "last": month(holdout.max())},
    }


def _errors(h: pd.DataFrame) -> dict:
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
