"""Temporal splits by vintage: the month the holdout starts.

Vintage 2022-01 with the default windows reproduces the reference split exactly: train before
2020-01, eval 2020-01..2021-12, holdout from 2022-01 on. Other vintages shift the windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from housing_core import contract as c

TRAIN, EVAL, HOLDOUT = "train", "eval", "holdout"
SPLIT = "split"


@dataclass(frozen=True)
class Windows:
    vintage: str
    eval_months: int = 24
    train_months: int | None = None  # None: everything before the eval window
    holdout_months: int | None = None  # None: everything from the vintage on

    @property
    def holdout_start(self) -> pd.Timestamp:
        return pd.Period(self.vintage, "M").to_timestamp()

    @property
    def eval_start(self) -> pd.Timestamp:
        return (pd.Period(self.vintage, "M") - self.eval_months).to_timestamp()

    @property
    def train_start(self) -> pd.Timestamp | None:
        if self.train_months is None:
            return None
        return (pd.Period(self.vintage, "M") - self.eval_months - self.train_months).to_timestamp()

    @property
    def holdout_end(self) -> pd.Timestamp | None:
        if self.holdout_months is None:
            return None
        return (pd.Period(self.vintage, "M") + self.holdout_months).to_timestamp()


def uncovered(months: list[str], windows: Windows) -> list[str]:
    """The splits that `months` ('YYYY-MM') leave empty, described with their window."""
    stamps = [pd.Period(m, "M").to_timestamp() for m in months]
    start, evals, hold = windows.train_start, windows.eval_start, windows.holdout_start
    end = windows.holdout_end
    empty = []
    if not any((start is None or t >= start) and t < evals for t in stamps):
        empty.append(f"train (before {evals:%Y-%m})")
    if not any(evals <= t < hold for t in stamps):
        empty.append(f"eval ({evals:%Y-%m}..{hold - pd.offsets.MonthBegin():%Y-%m})")
    if not any(t >= hold and (end is None or t < end) for t in stamps):
        empty.append(f"holdout (from {hold:%Y-%m})")
    return empty


def assign(panel: pd.DataFrame, windows: Windows) -> pd.DataFrame:
    """The panel's rows that fall in a window, with a `split` column; others are left out."""
    if windows.eval_months < 1:
        raise ValueError("eval window must be at least one month")
    date = panel[c.DATE]
    split = pd.Series(pd.NA, index=panel.index, dtype="object")
    split[date < windows.eval_start] = TRAIN
    if windows.train_start is not None:
        split[date < windows.train_start] = pd.NA
    split[(date >= windows.eval_start) & (date < windows.holdout_start)] = EVAL
    split[date >= windows.holdout_start] = HOLDOUT
    if windows.holdout_end is not None:
        split[date >= windows.holdout_end] = pd.NA
    out = panel.copy(
        deep=False
    )  # shares the columns: a copy of the panel is the run's largest allocation
    out[SPLIT] = split
    kept = split.notna().to_numpy()
    if kept.all() and out.index.equals(pd.RangeIndex(len(out))):
        return out  # every row in a window (the default windows): nothing to copy
    return out[kept].reset_index(drop=True)


def stacked(splits: pd.DataFrame, names: tuple[str, ...]) -> tuple[pd.DataFrame, list[int]]:
    """The rows of the `names` splits stacked in that order, index 0..n-1 (what `pd.concat` of
    each part would give), and each part's row count. One copy of the rows, not one per part
    plus their concatenation (at scale, the largest allocations of training), and none at all
    when those rows already are one block in that order -- the splits asset's rows are in month
    order -- as then this is a view of `splits` (not to be written to). `part` slices one part
    out, also without copying."""
    rank = splits[SPLIT].map({name: i for i, name in enumerate(names)}).to_numpy(dtype="float64")
    keep = np.flatnonzero(~np.isnan(rank))
    order = keep[np.argsort(rank[keep], kind="stable")]
    counts = [int(n) for n in np.bincount(rank[keep].astype("int64"), minlength=len(names))]
    if len(order) and order[-1] - order[0] == len(order) - 1:  # one block, in order: a view
        return part(splits, int(order[0]), int(order[-1]) + 1), counts
    out = splits.take(order)
    out.index = pd.RangeIndex(len(out))
    return out, counts


def part(rows: pd.DataFrame, start: int, stop: int) -> pd.DataFrame:
    """Rows `start:stop` of a `stacked` frame, indexed 0..n-1, as a view (not to be written to)."""
    out = rows.iloc[start:stop]
    out.index = pd.RangeIndex(stop - start)
    return out


def summary(splits: pd.DataFrame) -> dict[str, dict]:
    out = {}
    for name in (TRAIN, EVAL, HOLDOUT):
        part = splits[splits[SPLIT] == name]
        out[name] = {
            "rows": len(part),
            "first_month": part[c.DATE].min().strftime("%Y-%m") if len(part) else None,
            "last_month": part[c.DATE].max().strftime("%Y-%m") if len(part) else None,
            "metros": int(part[c.CITY].nunique()),
            "zips": int(part[c.ZIPCODE].nunique()),
        }
    return out


def problems(splits: pd.DataFrame) -> list[str]:
    """Why these splits are not a valid temporal split (empty list when they are)."""
    found = []
    parts = {name: splits.loc[splits[SPLIT] == name, c.DATE] for name in (TRAIN, EVAL, HOLDOUT)}
    for name, dates in parts.items():
        if dates.empty:
            found.append(f"{name} split is empty")
    if found:
        return found
    if not parts[TRAIN].max() < parts[EVAL].min():
        found.append(
            f"train ends {parts[TRAIN].max():%Y-%m} but eval starts {parts[EVAL].min():%Y-%m}"
        )
    if not parts[EVAL].max() < parts[HOLDOUT].min():
        found.append(
            f"eval ends {parts[EVAL].max():%Y-%m} but holdout starts {parts[HOLDOUT].min():%Y-%m}"
        )
    return found


def missing_months(splits: pd.DataFrame) -> list[str]:
    """Months between the first and the last month of `splits` without a single row: gaps a
    vintage trained or was judged across (a quarantined month, say). A window that merely starts
    later or ends sooner is not a gap."""
    if splits.empty:
        return []
    present = set(splits[c.DATE].dt.strftime("%Y-%m"))
    span = pd.period_range(min(present), max(present), freq="M").strftime("%Y-%m")
    return [m for m in span if m not in present]


def fingerprint(splits: pd.DataFrame) -> str:
    """A short content hash of the rows a vintage trains and evaluates on."""
    import hashlib

    hashed = pd.util.hash_pandas_object(splits[[c.ZIPCODE, c.DATE, c.TARGET, SPLIT]], index=False)
    return hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()[:16]
