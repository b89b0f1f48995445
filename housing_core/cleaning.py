"""Cleaning rules from raw HouseTS rows to the modelling panel, each one counted.

Rules (applied in this order, every count reported):
  1. metro names   -- map every known `city_full` spelling to one canonical name per `city` code;
  2. duplicates    -- exact (zipcode, date) repeats keep ONE copy (the reference pipeline's
                      keep=False dropped every copy, losing the zip-month entirely);
  3. not reported  -- HouseTS writes "no data" as 0.0: all-zero market rows, impossible zero
                      prices / days on market, and all-zero census blocks become NaN;
  4. outliers      -- cells outside the contract's plausible ranges become NaN (the row stays);
                      rows whose *target* is implausible are dropped, since they cannot train.
The kept extras of a partial source (longitude, latitude, state: see `contract.KEPT_EXTRAS`) pass
through every rule unchanged, so maps can use them downstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from housing_core import contract as c

# Market stats for which 0.0 can only mean "not reported" (a zero price or a zero-day median).
ZERO_MEANS_MISSING = [*c.MARKET_PRICE_STATS, "median_dom", "avg_sale_to_list"]


@dataclass
class CleaningReport:
    rows_in: int = 0
    metro_names_normalized: int = 0
    unknown_metro_rows: int = 0
    duplicates_dropped: int = 0
    market_rows_not_reported: int = 0
    zero_cells_to_missing: int = 0
    census_rows_not_reported: int = 0
    outlier_cells: dict[str, int] = field(default_factory=dict)
    target_outlier_rows_dropped: int = 0
    rows_out: int = 0

    def add(self, other: CleaningReport) -> CleaningReport:
        for name, value in vars(other).items():
            if isinstance(value, dict):
                mine = getattr(self, name)
                for k, v in value.items():
                    mine[k] = mine.get(k, 0) + v
            else:
                setattr(self, name, getattr(self, name) + value)
        return self

    def as_metadata(self) -> dict[str, int]:
        flat = {k: v for k, v in vars(self).items() if not isinstance(v, dict)}
        flat["outlier_cells_total"] = sum(self.outlier_cells.values())
        return flat


def normalize_metro_names(df: pd.DataFrame, report: CleaningReport) -> pd.DataFrame:
    canonical = df[c.CITY].map(c.METROS)
    alias_code = df[c.CITY_FULL].map(c.METRO_ALIASES)
    # A known alias fixes a missing/unknown code too; an unknown code keeps its name, counted.
    code = df[c.CITY].where(canonical.notna(), alias_code)
    new_name = code.map(c.METROS)
    unknown = new_name.isna()
    report.unknown_metro_rows += int(unknown.sum())
    new_name = new_name.where(~unknown, df[c.CITY_FULL])
    report.metro_names_normalized += int((new_name != df[c.CITY_FULL]).sum())
    out = df.copy()
    out[c.CITY] = code.where(~unknown, df[c.CITY])
    out[c.CITY_FULL] = new_name
    return out


def drop_duplicate_keys(df: pd.DataFrame, report: CleaningReport) -> pd.DataFrame:
    dup = df.duplicated(subset=c.KEYS, keep="first")
    report.duplicates_dropped += int(dup.sum())
    return df.loc[~dup]


NOT_REPORTED_COLUMNS = [*c.MARKET_STATS, *c.CENSUS_COLUMNS]


def not_reported_to_missing(df: pd.DataFrame, report: CleaningReport) -> pd.DataFrame:
    """HouseTS's 0.0 = "not reported" becomes NaN (rule 3), on a frame."""
    values = df[NOT_REPORTED_COLUMNS].to_numpy(dtype="float64", copy=True)
    not_reported_in_place(values, NOT_REPORTED_COLUMNS, report)
    out = df.copy()
    out[NOT_REPORTED_COLUMNS] = values
    return out


def not_reported_in_place(values: np.ndarray, columns: list[str], report: CleaningReport) -> None:
    """Rule 3 on a float matrix whose columns are named by `columns`, in place.

    The one implementation: cleaning applies it to frames before training and the API to every
    request's numeric matrix, so the two can never read a zero differently.
    """
    pos = {name: j for j, name in enumerate(columns)}
    market = [pos[k] for k in c.MARKET_STATS]
    all_zero = (np.nan_to_num(values[:, market]) == 0).all(axis=1)
    report.market_rows_not_reported += int(all_zero.sum())
    if all_zero.any():
        values[np.ix_(all_zero, market)] = np.nan
    for col in ZERO_MEANS_MISSING:
        report.zero_cells_to_missing += _zero_to_nan(values[:, pos[col]])
    census_missing = values[:, pos["Total Population"]] == 0
    report.census_rows_not_reported += int(census_missing.sum())
    if census_missing.any():
        values[np.ix_(census_missing, [pos[k] for k in c.CENSUS_COLUMNS])] = np.nan
    report.zero_cells_to_missing += _zero_to_nan(values[:, pos["Median Home Value"]])


def _zero_to_nan(column: np.ndarray) -> int:
    """Zeros -> NaN in a view of a matrix column; how many there were."""
    zero = column == 0
    column[zero] = np.nan
    return int(zero.sum())


_CELL_RULES = [col for col in c.RANGES if col != c.TARGET]  # outlier cells become NaN
_CELL_LOW = np.array([c.RANGES[col].low for col in _CELL_RULES])
_CELL_HIGH = np.array([c.RANGES[col].high for col in _CELL_RULES])


def outliers_to_missing(df: pd.DataFrame, report: CleaningReport) -> pd.DataFrame:
    """Cells outside their column's range -> NaN; rows whose target is outside its range dropped.
    One comparison over the matrix of ranged columns (all float64 by the contract): per column,
    three Series operations cost the same a month whatever its size."""
    out = df.copy()
    values = out[_CELL_RULES].to_numpy(dtype="float64")
    bad = (values < _CELL_LOW) | (values > _CELL_HIGH)  # NaN is never bad
    for j in np.flatnonzero(bad.any(axis=0)):
        col = _CELL_RULES[j]
        report.outlier_cells[col] = report.outlier_cells.get(col, 0) + int(bad[:, j].sum())
        out.loc[bad[:, j], col] = np.nan
    target_rule = c.RANGES[c.TARGET]
    bad_target = ~out[c.TARGET].between(target_rule.low, target_rule.high)
    report.target_outlier_rows_dropped += int(bad_target.sum())
    return out.loc[~bad_target]


def clean_month(df: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """All rules on one month of contract-conformant raw rows."""
    problems = c.schema_problems(df)
    if problems:
        raise c.ContractError("cannot clean rows that break the contract: " + "; ".join(problems))
    report = CleaningReport(rows_in=len(df))
    out = normalize_metro_names(df, report)
    out = drop_duplicate_keys(out, report)
    out = not_reported_to_missing(out, report)
    out = outliers_to_missing(out, report)
    out = out.sort_values(c.KEYS[::-1], kind="stable").reset_index(drop=True)
    report.rows_out = len(out)
    return out, report
