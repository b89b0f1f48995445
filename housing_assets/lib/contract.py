"""The HouseTS data contract: the one place that says what a row of zip x month data is.

Loaders, cleaning rules, expectation checks and (later) the API request schema all read it, so a
column renamed here is renamed everywhere. No Dagster imports: the serving image uses this module.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """Every way `df`'s columns or dtypes differ from the contract, as readable sentences."""
    problems = []
    missing = [c for c in COLUMNS if c not in df.columns]
    extra = [c for c in df.columns if c not in COLUMNS]
    if missing:
        problems.append(f"missing columns: {missing}")
    if extra:
        problems.append(f"unexpected columns: {extra}")
    for col, dtype in DTYPES.items():
        if col in df.columns and str(df[col].dtype) != dtype:
            problems.append(f"column {col!r} has dtype {df[col].dtype}, contract says {dtype}")
    return problems


def coerce(df: pd.DataFrame, *, source: str) -> tuple[pd.DataFrame, list[str]]:
    """Cast a freshly read frame to the contract's dtypes where the values allow it.

    Returns the frame and the problems found. A column that cannot be cast (text in a numeric
    column, an unparseable date) is left as read and reported, never coerced to NaN: the raw
    asset keeps what the source delivered and the blocking contract check names the problem.
    """
    out = df.copy()
    problems = []
    for col, dtype in DTYPES.items():
        if col not in out.columns or str(out[col].dtype) == dtype:
            continue
        values = out[col]
        if col == DATE:
            parsed = pd.to_datetime(values, errors="coerce")
        elif col in (CITY, CITY_FULL):
            out[col] = values.astype(object)
            continue
        else:
            parsed = pd.to_numeric(values, errors="coerce")
        bad = parsed.isna() & values.notna()
        if col in (ZIPCODE, YEAR):
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


def all_zero_market(df: pd.DataFrame) -> pd.Series:
    """Rows whose market stats are all 0.0: HouseTS's 'not reported' month for that zip."""
    return (df[MARKET_STATS].fillna(0) == 0).all(axis=1)
