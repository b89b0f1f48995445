"""The HouseTS data contract: the one place that says what a row of zip x month data is.

Loaders, cleaning rules, expectation checks and (later) the API request schema all read it, so a
column renamed here is renamed everywhere. No Dagster imports: the serving image uses this module.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

# --- columns, in the order the published HouseTS CSV has them -----------------------------------

MARKET_PRICE_STATS = ["median_sale_price", "median_list_price", "median_ppsf", "median_list_ppsf"]
MARKET_COUNT_STATS = ["homes_sold", "pending_sales", "new_listings", "inventory"]
MARKET_OTHER_STATS = [
    "median_dom",
    "avg_sale_to_list",
    "sold_above_list",
    "off_market_in_two_weeks",
]
MARKET_STATS = MARKET_PRICE_STATS + MARKET_COUNT_STATS + MARKET_OTHER_STATS
RATIO_COLUMNS = ["avg_sale_to_list", "sold_above_list", "off_market_in_two_weeks"]
POI_COLUMNS = [
    "bank",
    "bus",
    "hospital",
    "mall",
    "park",
    "restaurant",
    "school",
    "station",
    "supermarket",
]
CENSUS_COLUMNS = [
    "Total Population",
    "Median Age",
    "Per Capita Income",
    "Total Families Below Poverty",
    "Total Housing Units",
    "Median Rent",
    "Median Home Value",
    "Total Labor Force",
    "Unemployed Population",
    "Total School Age Population",
    "Total School Enrollment",
    "Median Commute Time",
]
TARGET = "price"
DATE, ZIPCODE, YEAR, CITY, CITY_FULL = "date", "zipcode", "year", "city", "city_full"
KEYS = [ZIPCODE, DATE]

COLUMNS: list[str] = [
    DATE,
    *MARKET_STATS,
    CITY,
    ZIPCODE,
    YEAR,
    *POI_COLUMNS,
    *CENSUS_COLUMNS,
    TARGET,
    CITY_FULL,
]
assert len(COLUMNS) == 39, len(COLUMNS)

NUMERIC_COLUMNS = [c for c in COLUMNS if c not in (DATE, CITY, CITY_FULL, ZIPCODE, YEAR)]
# Canonical in-memory dtypes after loading. zipcode stays an integer as in the published file
# (leading zeros are a display concern: `format_zip`).
DTYPES: dict[str, str] = {
    DATE: "datetime64[ns]",
    CITY: "object",
    CITY_FULL: "object",
    ZIPCODE: "int64",
    YEAR: "int64",
    **{c: "float64" for c in NUMERIC_COLUMNS},
}

# --- metros --------------------------------------------------------------------------------------

METROS: dict[str, str] = {
    "ATL": "Atlanta-Sandy Springs-Alpharetta",
    "ATX": "Austin-Round Rock-Georgetown",
    "BOS": "Boston-Cambridge-Newton",
    "BWI": "Baltimore-Columbia-Towson",
    "CHI": "Chicago-Naperville-Elgin",
    "CIN": "Cincinnati",
    "CLT": "Charlotte-Concord-Gastonia",
    "DAL": "Dallas-Fort Worth-Arlington",
    "DC": "DC_Metro",
    "DEN": "Denver-Aurora-Lakewood",
    "DET": "Detroit-Warren-Dearborn",
    "HOU": "Houston-The Woodlands-Sugar Land",
    "LA": "Los Angeles-Long Beach-Anaheim",
    "LV": "Las Vegas-Henderson-Paradise",
    "MIA": "Miami-Fort Lauderdale-Pompano Beach",
    "MSP": "Minneapolis-St. Paul-Bloomington",
    "NY": "New York-Newark-Jersey City",
    "ORL": "Orlando-Kissimmee-Sanford",
    "PDX": "Portland-Vancouver-Hillsboro",
    "PGH": "Pittsburgh",
    "PHL": "Philadelphia-Camden-Wilmington",
    "PHX": "Phoenix-Mesa-Chandler",
    "RIV": "Riverside-San Bernardino-Ontario",
    "SA": "San Antonio-New Braunfels",
    "SAC": "Sacramento-Roseville-Folsom",
    "SD": "San Diego-Chula Vista-Carlsbad",
    "SEA": "Seattle-Tacoma-Bellevue",
    "SF": "San Francisco-Oakland-Berkeley",
    "STL": "St. Louis",
    "TPA": "Tampa-St. Petersburg-Clearwater",
}
# Earlier OMB delineations under which some metros appear in older HouseTS vintages; cleaning maps
# each to the canonical name above.
METRO_ALIASES: dict[str, str] = {
    "Atlanta-Sandy Springs-Roswell": "ATL",
    "Austin-Round Rock": "ATX",
    "Miami-Fort Lauderdale-West Palm Beach": "MIA",
    "Phoenix-Mesa-Scottsdale": "PHX",
    "Sacramento--Roseville--Arden-Arcade": "SAC",
    "San Diego-Carlsbad": "SD",
    "San Francisco-Oakland-Hayward": "SF",
    "Washington-Arlington-Alexandria": "DC",
    "Los Angeles-Long Beach-Santa Ana": "LA",
}

# --- source layouts: the declared column mapping -------------------------------------------------
# The published HouseTS file has exactly COLUMNS. Other real files (the original publisher's
# per-metro panels) carry a subset plus a few columns of their own. `conform` maps any of them
# onto the contract by these rules, and only these:
#   * required: the keys, the target, and a metro -- `city` (code) and/or `city_full` (name), or a
#     `metro` column holding a code, a name or an alias. With a `metro` column, `city` is the town;
#   * every other contract column is optional: missing -> all NaN ("not reported", recorded in
#     `attrs[NOT_REPORTED]`), except `year`, derived from `date`;
#   * extra columns: KEPT_EXTRAS stay (with their dtype), any other is dropped and named in
#     `attrs[DROPPED]`.
METRO = "metro"
REQUIRED = [*KEYS, TARGET]
METRO_COLUMNS = [METRO, CITY, CITY_FULL]  # at least one of them is required
OPTIONAL = [col for col in NUMERIC_COLUMNS if col != TARGET]
KEPT_EXTRAS: dict[str, str] = {"longitude": "float64", "latitude": "float64", "state": "object"}
NOT_REPORTED = "housing_not_reported"  # frame.attrs key: optional columns the source lacked
DROPPED = "housing_dropped_columns"  # frame.attrs key: source columns outside the contract

# --- plausible ranges ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    rule: str


# The target is a smoothed index, so it never sits at distressed-sale lows; monthly medians do
# (Detroit 2013 sold homes for ~$3.5k, which is real, not an outlier).
PRICE_RANGE = Range(10_000, 20_000_000, "price index between $10k and $20M")
SALE_RANGE = Range(1_000, 20_000_000, "median sale/list prices between $1k and $20M")
PPSF_RANGE = Range(0.5, 5_000, "price per square foot between $0.50 and $5,000")
RANGES: dict[str, Range] = {
    TARGET: PRICE_RANGE,
    "median_sale_price": SALE_RANGE,
    "median_list_price": SALE_RANGE,
    "median_ppsf": PPSF_RANGE,
    "median_list_ppsf": PPSF_RANGE,
    **{c: Range(0, 50_000, "monthly counts are non-negative") for c in MARKET_COUNT_STATS},
    "median_dom": Range(0, 3_650, "days on market between 0 and 10 years"),
    **{c: Range(0, 2, "ratios within [0, 2]") for c in RATIO_COLUMNS},
    **{c: Range(0, 100_000, "POI counts are non-negative") for c in POI_COLUMNS},
    "Median Age": Range(0, 120, "ages within [0, 120]"),
    **{
        c: Range(0, 10_000_000, "census counts and amounts are non-negative")
        for c in CENSUS_COLUMNS
        if c != "Median Age"
    },
}
# The published file's reference pipeline dropped list prices above $19M as outliers; our
# cleaning treats anything outside RANGES as an outlier cell instead of dropping the whole row.
FIRST_MONTH = "2012-03"
EXPECTED_ZIPS_FULL = 6_226  # 884,092 rows / 142 months in the published dataset


class ContractError(ValueError):
    """Data that breaks the contract: message names the column, row or partition."""


def month_key(ts: pd.Timestamp) -> str:
    return f"{ts.year:04d}-{ts.month:02d}"


def month_end(key: str) -> pd.Timestamp:
    """'2012-03' -> Timestamp('2012-03-31'), the HouseTS convention for `date`."""
    return pd.Period(key, freq="M").to_timestamp(how="end").normalize()


def format_zip(zipcode: int) -> str:
    return f"{int(zipcode):05d}"


def schema_problems(df: pd.DataFrame) -> list[str]:
    """Every way `df`'s columns or dtypes differ from the contract (its columns plus, optionally,
    the kept extras), as readable sentences."""
    problems = []
    missing = [c for c in COLUMNS if c not in df.columns]
    extra = [c for c in df.columns if c not in COLUMNS and c not in KEPT_EXTRAS]
    if missing:
        problems.append(f"missing columns: {missing}")
    if extra:
        problems.append(f"unexpected columns: {extra}")
    for col, dtype in {**DTYPES, **KEPT_EXTRAS}.items():
        if col in df.columns and str(df[col].dtype) != dtype:
            problems.append(f"column {col!r} has dtype {df[col].dtype}, contract says {dtype}")
    return problems


def coerce(
    df: pd.DataFrame, *, source: str, dtypes: dict[str, str] = DTYPES
) -> tuple[pd.DataFrame, list[str]]:
    """Cast a freshly read frame to the contract's dtypes (or `dtypes`) where the values allow it.

    Returns the frame and the problems found. A column that cannot be cast (text in a numeric
    column, an unparseable date) is left as read and reported, never coerced to NaN: the raw
    asset keeps what the source delivered and the blocking contract check names the problem.
    """
    out = df.copy()
    problems = []
    for col, dtype in dtypes.items():
        if col not in out.columns or str(out[col].dtype) == dtype:
            continue
        values = out[col]
        if dtype.startswith("datetime64"):
            parsed = pd.to_datetime(values, errors="coerce")
        elif dtype == "object":
            out[col] = values.astype(object)
            continue
        else:
            parsed = pd.to_numeric(values, errors="coerce")
        bad = parsed.isna() & values.notna()
        if dtype == "int64":
            bad |= parsed.isna() | (parsed % 1 != 0)
        if bad.any():
            rows = [int(i) for i in values.index[bad][:5]]
            examples = [str(v) for v in values[bad][:3]]
            problems.append(
                f"{source}: column {col!r} has values {examples} not castable to "
                f"{dtype} (rows {rows})"
            )
            continue
        out[col] = parsed.astype(dtype)
    ordered = [col for col in COLUMNS if col in out.columns]
    return out[ordered + [col for col in out.columns if col not in COLUMNS]], problems


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in DTYPES.items()})[COLUMNS]


UNREADABLE = "housing_unreadable"  # frame.attrs key: why a month's file could not be read


def unreadable_frame(reason: str) -> pd.DataFrame:
    """A month whose file exists but cannot be read (corrupt, truncated): no rows, and the reason
    in `attrs` (kept in the raw Parquet file) for the blocking contract check to report."""
    frame = empty_frame()
    frame.attrs[UNREADABLE] = reason
    return frame


def unreadable_reason(frame: pd.DataFrame) -> str | None:
    return frame.attrs.get(UNREADABLE)


def conform(df: pd.DataFrame, *, source: str) -> tuple[pd.DataFrame, list[str]]:
    """A frame as a source delivered it, mapped onto the contract's columns (rules above) and cast
    where castable (`coerce`): contract columns in order, then the kept extras.

    Raises ContractError naming `source` and the column when a key, the target or every metro
    column is missing. The exact HouseTS layout comes back as `coerce` returns it, without attrs.
    """
    _require(df, source)
    dropped = [col for col in df.columns if col not in (*DTYPES, *KEPT_EXTRAS, METRO)]
    if METRO in df.columns and CITY in df.columns:
        dropped.append(CITY)  # the town: `metro` is the metro
    out = _with_metro(df.drop(columns=dropped) if dropped else df, source)
    not_reported = [col for col in OPTIONAL if col not in out.columns]
    if not_reported:
        out = out.assign(**dict.fromkeys(not_reported, np.nan))
    out, problems = coerce(out, source=source, dtypes={**DTYPES, **KEPT_EXTRAS})
    if YEAR not in out.columns:
        out[YEAR] = _year_of(out[DATE])
    order = [*COLUMNS, *(col for col in KEPT_EXTRAS if col in out.columns)]
    if list(out.columns) != order:
        out = out[order]
    if not_reported:
        out.attrs[NOT_REPORTED] = not_reported
    if dropped:
        out.attrs[DROPPED] = dropped
    return out, problems


def _require(df: pd.DataFrame, source: str) -> None:
    missing = [col for col in REQUIRED if col not in df.columns]
    if not any(col in df.columns for col in METRO_COLUMNS):
        missing.append(f"a metro ({' / '.join(METRO_COLUMNS)})")
    if missing:
        unknown = [col for col in df.columns if col not in (*DTYPES, *KEPT_EXTRAS, METRO)]
        hint = f" (columns outside the contract: {unknown})" if unknown else ""
        raise ContractError(f"{source}: missing required column(s) {missing}{hint}")


def metro_code(values: pd.Series) -> pd.Series:
    """The metro code of each value that is a code, a canonical name or a known alias; else NaN."""
    lookup = {**{code: code for code in METROS}, **METRO_ALIASES}
    lookup.update({name: code for code, name in METROS.items()})
    return values.map(lookup)


def _with_metro(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Both `city` and `city_full` from whichever metro column the source has. The HouseTS layout
    (both present) is left alone: cleaning maps its names to the canonical ones."""
    if METRO not in df.columns and CITY in df.columns and CITY_FULL in df.columns:
        return df
    column = next(col for col in METRO_COLUMNS if col in df.columns)
    values = df[column]
    code = metro_code(values)
    if values.notna().any() and code.isna().all():
        examples = [str(v) for v in values.dropna().unique()[:3]]
        raise ContractError(
            f"{source}: no usable metro column: {column!r} holds no known metro code, name or "
            f"alias (e.g. {examples}); the metros are {sorted(METROS)}"
        )
    out = df.drop(columns=[METRO], errors="ignore")
    # An unknown metro keeps its value as code and name (cleaning counts it, as for HouseTS rows).
    out[CITY] = code.fillna(values)
    if CITY_FULL not in out.columns:
        out[CITY_FULL] = values.map(METROS).fillna(values)  # a name or alias stays as delivered
    return out


def _year_of(dates: pd.Series) -> pd.Series:
    """`year` from `date`; float (failing the contract check) where a date is missing or unparsed,
    a problem the check names through the date column."""
    if not pd.api.types.is_datetime64_any_dtype(dates):
        return pd.Series(np.nan, index=dates.index)
    years = dates.dt.year
    return years.astype("int64") if years.notna().all() else years.astype("float64")


def not_reported_columns(frame: pd.DataFrame) -> list[str]:
    return list(frame.attrs.get(NOT_REPORTED, []))


def dropped_columns(frame: pd.DataFrame) -> list[str]:
    return list(frame.attrs.get(DROPPED, []))


def allowed_layouts() -> list[list[str]]:
    """The column lists a conformed frame may have: the contract, then any of the kept extras."""
    extras = list(KEPT_EXTRAS)
    return [
        [*COLUMNS, *subset]
        for n in range(len(extras) + 1)
        for subset in itertools.combinations(extras, n)
    ]


def all_zero_market(df: pd.DataFrame) -> pd.Series:
    """Rows whose market stats are all 0.0: HouseTS's 'not reported' month for that zip."""
    return (df[MARKET_STATS].fillna(0) == 0).all(axis=1)
