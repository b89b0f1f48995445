"""What a re-delivered past month changes in the history the model learns from.

A month that was ingested before and arrives again with other content is a revision of history:
it is compared, key by key ((zipcode, date)), with the version accepted earlier (the stored
cleaned month: what training and serving read) -- rows added and removed, per column the share
of rows whose value changed, and for the target `price` the share of zips whose price moved
more than a tolerance and how far. Small corrections pass and are recorded; a revision beyond
the policy's bounds is held for review (an operator accepts it explicitly), because a shuffled
or rescaled re-delivery passes every per-row check and would silently rewrite years of data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from housing_core import contract as c

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class RevisionRules:
    price_tolerance: float = 0.005  # a zip's price moving more than this (relative) has moved ...
    max_price_moved_share: float = 0.02  # ... and more than this share of zips moving blocks
    max_column_changed_share: float = 0.05  # any other column changed in more rows than this blocks
    max_row_change_share: float = 0.02  # rows added or removed, as a share of the accepted rows


@dataclass
class Revision:
    """How `new` differs from the accepted version of one month."""

    rows_before: int
    rows_after: int
    rows_added: int
    rows_removed: int
    rows_changed: int  # rows present in both with at least one value changed
    column_changed_share: dict[str, float] = field(default_factory=dict)  # changed columns only
    prices_compared: int = 0
    price_moved: int = 0  # zips whose price moved more than the tolerance
    price_move_median: float = 0.0  # median |relative move| of those zips
    price_move_max: float = 0.0
    examples: list[str] = field(default_factory=list)  # zips whose price moved, e.g. "10001 x1.31"

    @property
    def unchanged(self) -> bool:
        return not (self.rows_added or self.rows_removed or self.rows_changed)

    @property
    def columns_changed(self) -> list[str]:
        return sorted(self.column_changed_share)

    @property
    def price_moved_share(self) -> float:
        return self.price_moved / self.prices_compared if self.prices_compared else 0.0

    def as_metadata(self) -> dict:
        out = asdict(self)
        out["columns_changed"] = self.columns_changed
        out["price_moved_share"] = round(self.price_moved_share, 4)
        return out


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    keyed = frame.drop_duplicates(c.KEYS).set_index(c.KEYS)
    return keyed.sort_index()


def _differs(before: pd.Series, after: pd.Series) -> np.ndarray:
    """Row-wise: did the value change? Missing on both sides is no change."""
    both_missing = before.isna().to_numpy() & after.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(before) and pd.api.types.is_numeric_dtype(after):
        a = before.to_numpy(dtype="float64")
        b = after.to_numpy(dtype="float64")
        same = np.isclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True)
    else:
        same = (before.astype(object) == after.astype(object)).to_numpy(dtype=bool)
    return ~(same | both_missing)


def diff(accepted: pd.DataFrame, new: pd.DataFrame, rules: RevisionRules) -> Revision:
    """How `new` revises `accepted` (both one month's rows in the contract's columns)."""
    before, after = _keyed(accepted), _keyed(new)
    common = before.index.intersection(after.index)
    b, a = before.loc[common], after.loc[common]
    changed_rows = np.zeros(len(common), dtype=bool)
    shares = {}
    for col in [x for x in before.columns if x in after.columns]:
        changed = _differs(b[col], a[col])
        changed_rows |= changed
        if changed.any():
            shares[col] = round(float(changed.mean()), 4)
    revision = Revision(
        rows_before=len(before),
        rows_after=len(after),
        rows_added=len(after.index.difference(before.index)),
        rows_removed=len(before.index.difference(after.index)),
        rows_changed=int(changed_rows.sum()),
        column_changed_share=shares,
    )
    _price_moves(revision, b[c.TARGET], a[c.TARGET], rules.price_tolerance)
    return revision


def _price_moves(revision: Revision, before: pd.Series, after: pd.Series, tol: float) -> None:
    known = before.notna() & after.notna() & (before > 0)
    ratio = (after[known] / before[known]).droplevel(c.DATE)
    moved = ratio[(ratio - 1).abs() > tol]
    revision.prices_compared = int(known.sum())
    revision.price_moved = len(moved)
    if len(moved):
        size = (moved - 1).abs()
        revision.price_move_median = round(float(size.median()), 4)
        revision.price_move_max = round(float(size.max()), 4)
        biggest = size.sort_values(ascending=False).index[:MAX_EXAMPLES]
        revision.examples = [f"{c.format_zip(z)} x{moved[z]:.3f}" for z in biggest]


def beyond_bounds(revision: Revision, rules: RevisionRules) -> list[str]:
    """Why the revision needs an operator's review (empty: a small correction, accepted)."""
    found = []
    if revision.price_moved_share > rules.max_price_moved_share:
        found.append(
            f"{revision.price_moved:,} of {revision.prices_compared:,} zips' {c.TARGET} moved "
            f"more than {rules.price_tolerance:.1%} (median move {revision.price_move_median:.1%}, "
            f"largest {revision.price_move_max:.1%}; e.g. {', '.join(revision.examples)})"
        )
    others = {
        col: share
        for col, share in revision.column_changed_share.items()
        if col != c.TARGET and share > rules.max_column_changed_share
    }
    if others:
        shown = ", ".join(f"{col} {share:.0%}" for col, share in sorted(others.items()))
        found.append(
            f"columns changed in more than {rules.max_column_changed_share:.0%} of rows: {shown}"
        )
    base = max(revision.rows_before, 1)
    for what, n in (("added", revision.rows_added), ("removed", revision.rows_removed)):
        if n / base > rules.max_row_change_share:
            found.append(f"{n:,} of {revision.rows_before:,} rows {what}")
    return found
