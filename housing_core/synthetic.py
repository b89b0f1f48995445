"""A deterministic, HouseTS-shaped synthetic panel: the platform's embedded default data.

Every number that shapes it is named below and was tuned against a real HouseTS sample with
`benchmarks/calibrate_synthetic.py` (KS distance per column, key price correlations).
The market follows the US cycle the real data shows: post-2012 recovery, the 2020-22 boom, the
2022-23 rate shock (prices flatten, days on market and inventory jump: a regime change drift
monitoring must see). Cleaning gets work too: old metro names, exact duplicates, outlier cells.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from housing_core import contract as c

# code -> (3-digit zip prefixes, share of zips, typical price 2012-14) -- from the public sample.
METRO_PROFILE: dict[str, tuple[str, int, int]] = {
    "ATL": ("300 301 302 303 305 306 310", 100, 127_000),
    "ATX": ("786 787", 34, 250_000),
    "BOS": ("014 017 018 019 020 021 022 023 024 025 027 030 032 038", 137, 310_000),
    "BWI": ("207 210 211 212 216 217", 67, 300_000),
    "CHI": ("463 464 479 531 600 601 602 603 604 605 606 607 608", 178, 173_000),
    "CIN": ("410 450 451 452 470 473", 73, 116_000),
    "CLT": ("280 281 282 286 290 297", 46, 132_000),
    "DAL": ("750 751 752 754 760 761 762 764", 124, 131_000),
    "DC": ("200 201 206 207 208 209 217 220 221 222 223 225 226 227 254", 142, 338_000),
    "DEN": ("800 801 802 804 806 808", 57, 260_000),
    "DET": ("480 481 482 483 484 487 488", 83, 120_000),
    "HOU": ("770 773 774 775 776 778", 95, 140_000),
    "LA": ("900 902 904 906 907 908 910 911 912 913 914 915 916 917 926 927 928 935", 158, 458_000),
    "LV": ("890 891", 32, 158_000),
    "MIA": ("330 331 333 334", 78, 230_000),
    "MSP": ("540 547 550 551 553 554 560 563", 84, 205_000),
    "NY": (
        "070 071 072 073 074 075 076 077 078 079 080 085 087 088 100 101 103 104 105 106 107 "
        "108 109 110 111 112 113 114 115 117 119 125 183 184",
        368,
        400_000,
    ),
    "ORL": ("321 327 328 347", 49, 150_000),
    "PDX": ("970 971 972 986", 38, 230_000),
    "PGH": ("150 151 152 153 154 156 159 160 161 162", 154, 105_000),
    "PHL": ("080 081 083 180 189 190 191 193 194 197 198 219", 150, 197_000),
    "PHX": ("850 851 852 853", 62, 190_000),
    "RIV": ("917 922 923 924 925 928", 74, 200_000),
    "SA": ("780 781 782 786 788", 53, 150_000),
    "SAC": ("956 957 958 961", 55, 253_000),
    "SD": ("919 920 921", 46, 450_000),
    "SEA": ("980 981 982 983 984 985", 85, 280_000),
    "SF": ("940 941 943 944 945 946 947 948 949", 85, 650_000),
    "STL": ("620 622 625 626 630 631 633", 100, 130_000),
    "TPA": ("335 336 337 346", 55, 144_000),
}
# Rows of these metros before 2015 carry the pre-2015 OMB name, as older HouseTS vintages do.
OLD_NAMES = {code: name for name, code in c.METRO_ALIASES.items()}
OLD_NAME_UNTIL_YEAR = 2014

# POI category -> (median intensity, log spread, yearly growth)
POI_PROFILE = {
    "bank": (4.0, 1.6, 0.010),
    "bus": (0.22, 1.6, 0.020),
    "hospital": (1.2, 1.6, 0.015),
    "mall": (0.45, 1.5, 0.005),
    "park": (20.0, 1.4, 0.010),
    "restaurant": (11.0, 2.0, 0.025),
    "school": (24.0, 1.25, 0.005),
    "station": (0.55, 2.1, 0.010),
    "supermarket": (4.0, 1.55, 0.015),
}
SHARE_NOT_REPORTED_MARKET = 0.004
SHARE_CENSUS_NEVER_REPORTED = 0.06
SHARE_CENSUS_MISSING_YEAR = 0.018
SHARE_DUPLICATES = 0.0005
SHARE_OUTLIER_CELLS = 0.0003
# The metro cycle (yearly log growth): recovery, then the 2020-22 boom ramping in from BOOM_START.
# With the zip dynamics below, persistence's holdout error by horizon at vintage 2020-01 is within
# 15% of the real DC panel's (benchmarks/calibrate_synthetic.py --dynamics).
RECOVERY_GROWTH, BOOM_GROWTH = 0.04, 0.14
BOOM_START, BOOM_RAMP_YEARS = 2020.4, 0.7
PRICE_SEASON = 0.004  # amplitude of the index's seasonal swing (log): real indexes are smoothed
# Zip dynamics, calibrated against the real DC panel (benchmarks/calibrate_synthetic.py).
GROWTH_PERSISTENCE = 0.88  # monthly AR(1) of a zip's own growth rate
GROWTH_SHOCK_SD = 0.002  # -> sd of a zip's 6-month change beyond its metro's ~0.023
LIST_OFFSET_SD, LIST_DRIFT_SD = 0.15, 0.18  # log(list / price): per zip, and drifting
SALE_OFFSET_SD, SALE_DRIFT_SD = 0.12, 0.12
MIX_PERSISTENCE = 0.7  # monthly AR(1) of the listing-mix drift
TIGHTNESS_DOM, TIGHTNESS_SALE_TO_LIST = 8.0, 1.0  # response to a zip's own growth rate


@dataclass(frozen=True)
class SyntheticSpec:
    seed: int = 7
    scale: float = 1.0  # fraction of the full ~6,226 zips
    first_month: str = c.FIRST_MONTH
    last_month: str = "2023-12"


MAX_SCALE = 8.0  # ~50k zips; past ~2x the metros borrow spare 3-digit prefixes (`_zips`)


def n_zips(scale: float) -> int:
    if not 0 < scale <= MAX_SCALE:
        raise ValueError(f"scale must be in (0, {MAX_SCALE:g}], got {scale}")
    return max(len(METRO_PROFILE), round(c.EXPECTED_ZIPS_FULL * scale))


def generate_panel(
    spec: SyntheticSpec = SyntheticSpec(), progress: Callable[[str], None] | None = None
) -> pd.DataFrame:
    """The full panel, rows sorted by (date, zipcode), in the contract's columns and dtypes."""
    panel = generate_months(spec, progress)
    (progress or (lambda _msg: None))("synthetic panel: assembling rows")
    return pd.concat([panel.month(m) for m in panel.keys], ignore_index=True)


def generate_months(
    spec: SyntheticSpec = SyntheticSpec(), progress: Callable[[str], None] | None = None
) -> SyntheticMonths:
    """The panel of `generate_panel`, byte for byte, kept as one (zips x months) array per
    column: a month's rows are built when asked for, so a reader of one month at a time never
    holds the panel a second time as rows (and their sort copies)."""
    say = progress or (lambda _msg: None)
    rng = np.random.default_rng(spec.seed)
    months = pd.period_range(spec.first_month, spec.last_month, freq="M")
    zips = _zips(rng, n_zips(spec.scale))
    say(f"synthetic panel: {len(zips):,} zips x {len(months)} months (seed {spec.seed})")
    t = _Time(months)
    price, premium, growth = _prices(rng, zips, t)
    cols = {"price": price}
    cols.update(_market(rng, price, growth, t))
    del growth
    cols.update(_poi(rng, len(zips), t))
    cols.update(_census(rng, price, premium, t))
    panel = SyntheticMonths(zips, months, cols)
    panel.corrupt(rng)
    return panel


class SyntheticMonths:
    """The generated panel by month. Rows of a month are sorted by zipcode (the panel's
    (date, zipcode) order); `corrupt` plants the feed's defects at the row positions the whole
    sorted panel would have (row i of the panel is month i // zips, position i % zips)."""

    def __init__(self, zips: pd.DataFrame, months: pd.PeriodIndex, cols: dict[str, np.ndarray]):
        self.order = np.argsort(zips[c.ZIPCODE].to_numpy(), kind="stable")
        self.zipcodes = zips[c.ZIPCODE].to_numpy().astype("int64")[self.order]
        self.cities = zips[c.CITY].to_numpy(dtype=object)[self.order]
        self.names = np.array([c.METROS[k] for k in self.cities], dtype=object)
        self.old_names = self.names.copy()
        for code, old in OLD_NAMES.items():
            self.old_names[self.cities == code] = old
        self.months = months
        self.keys = [str(m) for m in months]
        self.dates = months.to_timestamp(how="end").normalize()
        # Zip-major float64 arrays, rows in zipcode order: a month is one column of each.
        self.cols = {k: np.asarray(cols.pop(k), dtype="float64")[self.order] for k in list(cols)}
        self.duplicated = np.zeros((len(self.order), len(months)), dtype=bool)

    def __len__(self) -> int:
        return len(self.order) * len(self.months)

    def _cells(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = len(self.order)
        return rows % z, rows // z

    def corrupt(self, rng: np.random.Generator) -> None:
        """What real feeds contain: a few exact duplicate rows and some outlier cells."""
        n = len(self)
        bad = rng.choice(n, size=max(1, int(n * SHARE_OUTLIER_CELLS)), replace=False)
        sixth = max(1, len(bad) // 6)
        # A mistyped list price: just over the plausible ceiling, as such typos usually are.
        self.cols["median_list_price"][self._cells(bad[:sixth])] = rng.uniform(
            2.05e7, 3e7, sixth
        ).round(-3)
        self.cols["avg_sale_to_list"][self._cells(bad[sixth : 3 * sixth])] = 3.5
        self.cols["median_ppsf"][self._cells(bad[3 * sixth :])] *= 60.0
        # An exact copy follows its row (the panel's stable sort by (date, zipcode)).
        dup = rng.choice(n, size=max(1, int(n * SHARE_DUPLICATES)), replace=False)
        self.duplicated[self._cells(dup)] = True

    def month(self, key: str) -> pd.DataFrame:
        """One month's rows, in the contract's columns and dtypes, index 0..n-1."""
        j = self.keys.index(key)
        rows = np.repeat(np.arange(len(self.order)), 1 + self.duplicated[:, j])
        year = int(self.months[j].year)
        data = {k: v[rows, j] for k, v in self.cols.items()}
        data[c.DATE] = np.repeat(self.dates[j : j + 1].to_numpy(), len(rows))
        data[c.ZIPCODE] = self.zipcodes[rows]
        data[c.CITY] = self.cities[rows]
        data[c.YEAR] = np.full(len(rows), year, dtype="int64")
        data[c.CITY_FULL] = (self.old_names if year <= OLD_NAME_UNTIL_YEAR else self.names)[rows]
        return pd.DataFrame(data)[c.COLUMNS]


class _Time:
    """Calendar helpers over the panel's months (shape (T,) arrays)."""

    def __init__(self, months: pd.PeriodIndex):
        self.months = months
        self.year = months.year.to_numpy()
        self.moy = months.month.to_numpy()
        self.t_years = (months - pd.Period("2012-03", "M")).map(lambda d: d.n).to_numpy() / 12.0
        ym = self.year + (self.moy - 1) / 12
        self.boom = np.clip((ym - BOOM_START) / BOOM_RAMP_YEARS, 0, 1) * (ym < 2022.5)
        self.shock = np.clip((ym - 2022.45) / 0.4, 0, 1)
        self.season = np.sin(2 * np.pi * (self.moy - 3) / 12)  # peaks in June


def _zips(rng: np.random.Generator, total: int) -> pd.DataFrame:
    codes = list(METRO_PROFILE)
    weights = np.array([METRO_PROFILE[k][1] for k in codes], dtype=float)
    raw = weights / weights.sum() * (total - len(codes))
    counts = 1 + np.floor(raw).astype(int)
    for i in np.argsort(-(raw - np.floor(raw)))[: total - counts.sum()]:
        counts[i] += 1
    used: set[int] = set()
    taken = {int(p) for profile in METRO_PROFILE.values() for p in profile[0].split()}
    spares = iter(p for p in range(10, 1000) if p not in taken)
    rows = []
    for code, n in zip(codes, counts, strict=True):
        prefixes = [int(p) for p in METRO_PROFILE[code][0].split()]
        pool = np.array([p * 100 + d for p in prefixes for d in range(1, 100)])
        pool = pool[~np.isin(pool, list(used))]
        while len(pool) < n:  # beyond ~2x scale: the next spare prefix joins the metro
            spare = next(spares)
            pool = np.concatenate([pool, [spare * 100 + d for d in range(1, 100)]])
        chosen = rng.choice(pool, size=n, replace=False)
        used.update(int(z) for z in chosen)
        rows += [(int(z), code) for z in chosen]
    return pd.DataFrame(rows, columns=[c.ZIPCODE, c.CITY])


def _prices(rng, zips: pd.DataFrame, t: _Time) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth index-like price per zip: metro cycle + persistent zip premium + slow drift."""
    codes = list(METRO_PROFILE)
    metro_idx = zips[c.CITY].map({k: i for i, k in enumerate(codes)}).to_numpy()
    m = len(codes)
    base = np.log([METRO_PROFILE[k][2] for k in codes])
    g_recovery = rng.normal(RECOVERY_GROWTH, 0.018, m)
    g_boom = rng.normal(BOOM_GROWTH, 0.04, m)
    g_shock = rng.normal(-0.01, 0.03, m)
    dt = np.diff(t.t_years, prepend=t.t_years[0])
    rate = (
        g_recovery[:, None] * (1 - t.boom - t.shock)[None, :]
        + g_boom[:, None] * t.boom[None, :]
        + g_shock[:, None] * t.shock[None, :]
    )
    metro_log = base[:, None] + np.cumsum(rate * dt[None, :], axis=1)
    z, steps = len(zips), len(t.months)
    premium = rng.normal(0.0, 0.5, z)
    slope = rng.normal(0.0, 0.012, z)
    # A zip's own growth rate wanders (AR(1)) and accumulates into its level: the index is smooth
    # and has momentum, as real HouseTS prices do (month-over-month changes correlate ~0.86 with
    # the previous month's, within a metro, on the real DC panel).
    growth = np.zeros((z, steps))
    shocks = rng.normal(0.0, GROWTH_SHOCK_SD, (z, steps))
    for j in range(1, steps):
        growth[:, j] = GROWTH_PERSISTENCE * growth[:, j - 1] + shocks[:, j]
    own = np.cumsum(growth, axis=1)
    log_price = (
        metro_log[metro_idx]
        + premium[:, None]
        + slope[:, None] * t.t_years[None, :]
        + own
        + PRICE_SEASON * t.season[None, :]
    )
    return np.exp(log_price), premium, growth


def _sticky_noise(rng, shape: tuple[int, int], sd: float, persistence: float) -> np.ndarray:
    """AR(1) noise with stationary standard deviation `sd`: what sells in a zip this month
    resembles what sold last month (the listing mix), so the gap between a zip's median list
    price and its index drifts slowly instead of jumping independently every month."""
    z, steps = shape
    out = np.empty(shape)
    out[:, 0] = rng.normal(0, sd, z)
    innovation = sd * np.sqrt(1 - persistence**2)
    for j in range(1, steps):
        out[:, j] = persistence * out[:, j - 1] + rng.normal(0, innovation, z)
    return out


def _market(rng, price: np.ndarray, growth: np.ndarray, t: _Time) -> dict[str, np.ndarray]:
    z, steps = price.shape
    activity = np.exp(rng.normal(np.log(52), 1.2, z))[:, None]
    cycle = 1 + 0.15 * t.boom - 0.28 * t.shock
    season = 1 + 0.22 * t.season
    mean_sold = activity * (season * cycle)[None, :]
    homes_sold = rng.poisson(mean_sold).astype(float)
    pending = rng.poisson(mean_sold * 1.05).astype(float)
    pending[rng.random((z, steps)) < 0.05] = 0.0
    new_listings = rng.poisson(activity * (1.2 * season * (1 - 0.15 * t.shock))[None, :])
    supply = (1.0 - 0.45 * t.boom + 0.5 * t.shock) * (1 - 0.12 * t.season)
    inventory = rng.poisson(activity * 0.95 * supply[None, :] * rng.lognormal(0, 0.35, (z, 1)))
    dom_center = np.log(48) - 0.15 * t.season - 0.55 * t.boom + 0.35 * t.shock
    dom_sd = 0.35 + 1.2 / np.sqrt(mean_sold + 1)
    # A zip whose own prices are rising sells faster and closer to (or above) asking: the weak
    # lead of market tightness on price changes that real panels show.
    median_dom = np.round(
        np.exp(dom_center[None, :] - TIGHTNESS_DOM * growth + dom_sd * rng.normal(0, 1, (z, steps)))
    )
    sale_to_list = rng.normal(
        (0.973 + 0.045 * t.boom - 0.012 * t.shock)[None, :] + TIGHTNESS_SALE_TO_LIST * growth,
        0.022,
        (z, steps),
    )
    p_above = np.clip(0.2 + 0.35 * t.boom - 0.05 * t.shock + 0.04 * t.season, 0.02, 0.95)
    p_above = np.clip(p_above[None, :] * np.exp(rng.normal(0, 0.6, (z, 1))), 0.01, 0.97)
    above = rng.binomial(homes_sold.astype(int), np.broadcast_to(p_above, (z, steps)))
    sold_above = np.divide(above, homes_sold, out=np.zeros_like(homes_sold), where=homes_sold > 0)
    p_fast = np.clip(
        rng.normal((0.28 + 0.25 * t.boom - 0.1 * t.shock)[None, :], 0.08, (z, steps))
        + rng.normal(0, 0.15, (z, 1)),
        0.01,
        0.99,
    )
    fast = rng.binomial(pending.astype(int), p_fast)
    off_market = np.divide(fast, pending, out=np.zeros_like(pending), where=pending > 0)
    noise_sd = 0.07 + 0.45 / np.sqrt(homes_sold + 1)
    # Real HouseTS medians sit far from the index and wander: log(list / price) has sd ~0.26
    # (sample) to ~0.35 (DC panel), half of it a persistent offset per zip.
    sale = price * np.exp(
        rng.normal(0, SALE_OFFSET_SD, (z, 1))
        + _sticky_noise(rng, (z, steps), SALE_DRIFT_SD, MIX_PERSISTENCE)
        + rng.standard_t(6, (z, steps)) * noise_sd * 0.8
    )
    listp = price * np.exp(
        0.045
        + rng.normal(0, LIST_OFFSET_SD, (z, 1))
        + _sticky_noise(rng, (z, steps), LIST_DRIFT_SD, MIX_PERSISTENCE)
        + rng.standard_t(6, (z, steps)) * noise_sd * 0.7
    )
    sqft = np.exp(rng.normal(np.log(1750), 0.22, z))[:, None]
    ppsf = sale / sqft * np.exp(rng.normal(0, 0.05, (z, steps)))
    list_ppsf = listp / sqft * np.exp(rng.normal(0, 0.05, (z, steps)))
    out = {
        "median_sale_price": np.round(sale, -2),
        "median_list_price": np.round(listp, -2),
        "median_ppsf": ppsf,
        "median_list_ppsf": list_ppsf,
        "homes_sold": homes_sold,
        "pending_sales": pending,
        "new_listings": new_listings.astype(float),
        "inventory": inventory.astype(float),
        "median_dom": median_dom,
        "avg_sale_to_list": sale_to_list,
        "sold_above_list": sold_above,
        "off_market_in_two_weeks": off_market,
    }
    # Thin markets go unreported more often; HouseTS writes such months as all-zero rows.
    p_missing = SHARE_NOT_REPORTED_MARKET * 3 * np.exp(-mean_sold / 20)
    gone = (rng.random((z, steps)) < p_missing) | (homes_sold == 0)
    for key in out:
        out[key] = np.where(gone, 0.0, out[key])
    return out


def _poi(rng, z: int, t: _Time) -> dict[str, np.ndarray]:
    urban = rng.normal(0, 1, z)
    years = (t.year - t.year[0]).astype(float)
    out = {}
    for cat, (median, spread, growth) in POI_PROFILE.items():
        idio = rng.normal(0, 1, z)
        lam = median * np.exp(spread * (0.6 * urban + 0.8 * idio))
        base = rng.poisson(lam).astype(float)
        out[cat] = np.floor(base[:, None] * (1 + growth * years)[None, :] + 0.5)
    return out


def _census(rng, price: np.ndarray, premium: np.ndarray, t: _Time) -> dict[str, np.ndarray]:
    """ACS-style covariates: one value per zip and year, lagging the market by a year or two."""
    z, _ = price.shape
    years = np.unique(t.year)
    col_of_year = np.searchsorted(years, t.year)
    small = rng.random(z) < 0.2
    pop0 = np.exp(np.where(small, rng.normal(7.6, 1.3, z), rng.normal(9.95, 0.62, z)))
    growth = rng.normal(0.008, 0.01, z)
    ys = (years - years[0]).astype(float)
    pop = np.round(pop0[:, None] * (1 + growth[:, None]) ** ys[None, :])
    wobble = lambda sd: np.exp(rng.normal(0, sd, (z, len(years))))  # noqa: E731
    ratio = lambda lo, hi: rng.uniform(lo, hi, z)[:, None]  # noqa: E731
    labor = np.round(pop * ratio(0.47, 0.58) * wobble(0.01))
    unemployed_rate = np.exp(rng.normal(np.log(0.06), 0.7, z))[:, None] * wobble(0.15)
    yearly_price = np.stack([price[:, t.year == y].mean(axis=1) for y in years], axis=1)
    lagged_price = np.concatenate([yearly_price[:, :1] * 0.92, yearly_price[:, :-1]], axis=1)
    home_value = np.minimum(
        lagged_price * 0.93 * np.exp(rng.normal(0, 0.3, (z, 1))) * wobble(0.04), 2_000_001
    )
    income = np.exp(np.log(28_500) + 0.45 * premium + rng.normal(0, 0.38, z))[:, None]
    yearly = {
        "Total Population": pop,
        "Median Age": np.round(
            np.clip(rng.normal(38.5, 6.5, z), 16, 80)[:, None] + 0.1 * ys[None, :], 1
        ),
        "Per Capita Income": np.round(income * 1.025 ** ys[None, :] * wobble(0.03)),
        "Total Families Below Poverty": np.round(pop * ratio(0.975, 1.0)),
        "Total Housing Units": np.round(pop * ratio(0.3, 0.5)),
        "Median Rent": np.round(
            980
            * np.exp(0.35 * premium + rng.normal(0, 0.27, z))[:, None]
            * 1.03 ** ys[None, :]
            * wobble(0.03)
        ),
        "Median Home Value": np.round(home_value, -2),
        "Total Labor Force": labor,
        "Unemployed Population": np.round(labor * unemployed_rate),
        "Total School Age Population": np.round(pop * ratio(0.93, 0.99)),
        "Total Commute": None,
        "Median Commute Time": np.round(pop * ratio(0.38, 0.5)),
    }
    yearly.pop("Total Commute")
    yearly["Total School Enrollment"] = yearly["Total School Age Population"]
    unreported = (rng.random(z) < SHARE_CENSUS_NEVER_REPORTED)[:, None] | (
        rng.random((z, len(years))) < SHARE_CENSUS_MISSING_YEAR
    )
    return {k: np.where(unreported, 0.0, v)[:, col_of_year] for k, v in yearly.items()}
