"""Raw HouseTS rows -> model features: the ONE place, used by training and by the API.

No Dagster, no pickle: the fitted state is a plain JSON document (`FeatureState.to_json`) and the
zip history a small table (`lib/anchors.py`), so the serving image rebuilds exactly the features
the model was trained on.

The target is the log change from an anchor level. A row whose zip has a known price before its
month is ANCHORED on that price (`horizon` = months since it) and its features describe what
changed since: the zip's and metro's momentum before the anchor, their trends carried over the
horizon, and each market stat now against its smoothed level then. A row without one (an unseen
zip: the COLD path) is anchored on the month's median list price, else the census home value,
else the metro's level; its anchored features are missing and the trees route it apart.

  * the row's own stats (`median_sale_price` dropped by default: the reference leakage rule);
  * date parts: month, quarter (not the year: see DATE_PARTS);
  * zipcode frequency: share of train rows per zip (0 for a zip never seen -> flagged);
  * metro target encoding: smoothed mean log price per metro, fitted on TRAIN rows only; the
    train rows themselves get out-of-fold values (folds grouped by zipcode);
  * anchored features (above); missing values stay NaN (XGBoost learns where to send them).

Trees cannot extrapolate a price level they never saw -- why a level model's error doubles after
the 2020-22 boom -- but they can predict a change from a known level.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from housing_assets.lib import anchors as A
from housing_assets.lib import contract as c
from housing_assets.lib.cleaning import CleaningReport, not_reported_in_place

LEAKAGE_DROP = ["median_sale_price"]
# Calendar month and quarter, not the year: a change model that knows the year learns "2021 means
# boom" and carries it into every later month (on the synthetic panel that tripled its error
# through the 2022-23 rate shock); the anchor and momentum say where the market is instead.
DATE_PARTS = ["month", "quarter"]
ENCODED = ["zip_frequency", "metro_encoding"]
LEVELS = ["home_value_vs_list"]  # where the cold path's two level estimates disagree
TRENDS = {"trend_1": ("mom_1", 1), "trend_3": ("mom_3", 3), "trend_12": ("mom_12", 12)}
METRO_TRENDS = {"metro_trend_3": ("metro_mom_3", 3), "metro_trend_12": ("metro_mom_12", 12)}
MAX_OFFSET = 24  # training rows are anchored 1..24 months back, as a 24-month holdout is served
TARGETS = ("log_price", "log_ratio")
SPLIT_COLUMN = "split"
FOLDS = 5
STATE_VERSION = 3  # 3: anchored on the zip's history (anchors.parquet beside the state)


def base_columns(drop: list[str] = LEAKAGE_DROP) -> list[str]:
    return [col for col in c.NUMERIC_COLUMNS if col != c.TARGET and col not in drop]


def anchored_columns(stats: list[str]) -> list[str]:
    return [
        "horizon",
        *A.FEATURES,
        *TRENDS,
        *METRO_TRENDS,
        "list_vs_anchor",
        "anchor_list_gap",
        *(f"change_{s}" for s in stats),
    ]


@dataclass
class FeatureState:
    target: str
    smoothing: float
    zip_frequency: dict[str, float]
    metro_encoding: dict[str, float]
    global_mean: float
    features: list[str]
    dropped: list[str]
    fitted_on: dict = field(default_factory=dict)
    stats: list[str] = field(default_factory=list)  # market stats whose changes are features
    max_offset: int = MAX_OFFSET
    version: int = STATE_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureState:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict) -> FeatureState:
        if data.get("version") != STATE_VERSION:
            raise ValueError(
                f"feature state version {data.get('version')} was written by another release "
                f"(this one reads version {STATE_VERSION}): retrain the vintage"
            )
        return cls(**data)


def _log_price(df: pd.DataFrame) -> np.ndarray:
    return np.log(df[c.TARGET].to_numpy(dtype="float64"))


def _metro_means(metros: pd.Series, log_price: np.ndarray, smoothing: float, prior: float) -> dict:
    stats = (
        pd.DataFrame({"m": metros.to_numpy(), "y": log_price})
        .groupby("m")["y"]
        .agg(["sum", "count"])
    )
    encoded = (stats["sum"] + smoothing * prior) / (stats["count"] + smoothing)
    return {str(k): float(v) for k, v in encoded.items()}


month_index = A.month_index


def fit(
    train: pd.DataFrame,
    *,
    target: str = "log_ratio",
    smoothing: float = 20.0,
    drop: list[str] = LEAKAGE_DROP,
    max_offset: int = MAX_OFFSET,
) -> FeatureState:
    """Fit the encoders on train rows only."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if train.empty:
        raise ValueError("cannot fit feature state on an empty train split")
    y = _log_price(train)
    prior = float(y.mean())
    zips = train[c.ZIPCODE].map(c.format_zip)
    freq = zips.value_counts(normalize=True)
    stats = A.stats_used(list(drop))
    return FeatureState(
        target=target,
        smoothing=smoothing,
        zip_frequency={str(k): float(v) for k, v in freq.sort_index().items()},
        metro_encoding=_metro_means(train[c.CITY], y, smoothing, prior),
        global_mean=prior,
        features=[
            *base_columns(drop),
            *DATE_PARTS,
            *ENCODED,
            *LEVELS,
            *anchored_columns(stats),
        ],
        dropped=list(drop),
        fitted_on={
            "rows": len(train),
            "first_date": train[c.DATE].min().strftime("%Y-%m-%d"),
            "last_date": train[c.DATE].max().strftime("%Y-%m-%d"),
        },
        stats=stats,
        max_offset=max_offset,
    )


def anchor_table(history: pd.DataFrame, state: FeatureState) -> A.AnchorTable:
    """The zip history a model reads, built from cleaned rows (every price known then)."""
    return A.AnchorTable(A.inputs(history, state.stats), state.stats)


def out_of_fold_metro_encoding(
    train: pd.DataFrame, state: FeatureState, seed: int = 0
) -> np.ndarray:
    """Metro encoding for the train rows, each computed without its own zip's rows."""
    zips = train[c.ZIPCODE].to_numpy()
    unique = np.unique(zips)
    fold_of_zip = np.random.default_rng(seed).permutation(len(unique)) % FOLDS
    fold = fold_of_zip[np.searchsorted(unique, zips)]
    y = _log_price(train)
    out = np.empty(len(train))
    for k in range(FOLDS):
        inside = fold == k
        means = _metro_means(
            train[c.CITY][~inside], y[~inside], state.smoothing, float(y[~inside].mean())
        )
        out[inside] = train[c.CITY][inside].map(means).fillna(state.global_mean).to_numpy()
    return out


NUMERIC_COLUMNS = list(c.NUMERIC_COLUMNS)
NUMERIC_POSITION = {name: j for j, name in enumerate(NUMERIC_COLUMNS)}


@dataclass(frozen=True)
class Rows:
    """What features need from raw rows, as numpy arrays.

    Training frames and API request records both become `Rows`, so every line from here to the
    model input is shared: serving cannot drift from training, and a one-row request pays for no
    pandas machinery (that overhead was most of the API's latency).
    """

    numeric: np.ndarray  # float64, (n, len(c.NUMERIC_COLUMNS)); a column the source lacks is NaN
    months: np.ndarray  # int64 absolute month index: year * 12 + month - 1
    zips: list[str]  # five-digit keys
    metros: list  # city codes as given (unknown codes fall back, never fail)

    def __len__(self) -> int:
        return len(self.zips)

    def column(self, name: str) -> np.ndarray:
        return self.numeric[:, NUMERIC_POSITION[name]]

    def zip_numbers(self) -> np.ndarray:
        return np.fromiter((int(z) for z in self.zips), dtype="int64", count=len(self.zips))

    def with_numeric(self, numeric: np.ndarray) -> Rows:
        return Rows(numeric, self.months, self.zips, self.metros)

    def readable(self) -> Rows:
        """HouseTS zeros that mean "not reported" become missing, by the function cleaning
        applies before training (idempotent on cleaned rows)."""
        numeric = self.numeric.copy()
        not_reported_in_place(numeric, NUMERIC_COLUMNS, CleaningReport())
        return self.with_numeric(numeric)

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> Rows:
        numeric = np.full((len(df), len(c.NUMERIC_COLUMNS)), np.nan)
        present = [col for col in c.NUMERIC_COLUMNS if col in df.columns]
        numeric[:, [NUMERIC_POSITION[col] for col in present]] = df[present].to_numpy(
            dtype="float64"
        )
        return cls(numeric, month_index(df[c.DATE]), _zip_keys(df), df[c.CITY].tolist())

    @classmethod
    def from_records(cls, records: Sequence[Mapping]) -> Rows:
        """Rows from dicts keyed by contract names (an API request): `date` is a date or
        timestamp, a missing or None number is NaN; no DataFrame on this path (a one-row request
        would pay more for pandas than for the model)."""
        numeric = np.array(
            [[r.get(k) for k in NUMERIC_COLUMNS] for r in records], dtype="float64"
        ).reshape(len(records), len(NUMERIC_COLUMNS))
        months = np.array(
            [r[c.DATE].year * 12 + r[c.DATE].month - 1 for r in records], dtype="int64"
        )
        zips = [f"{int(r[c.ZIPCODE]):05d}" for r in records]
        return cls(numeric, months, zips, [r[c.CITY] for r in records])


def _zip_keys(rows: pd.DataFrame) -> list[str]:
    return [f"{int(z):05d}" for z in rows[c.ZIPCODE].to_numpy()]


def served_anchors(rows: Rows, table: A.AnchorTable) -> A.Match:
    """A served row's anchor: its zip's latest known month strictly before the row's month."""
    return table.lookup(rows.zip_numbers(), rows.months - 1)


def no_anchors(n: int, state: FeatureState) -> A.Match:
    """Every row on the cold path."""
    return A.Match.none(n, A.feature_names(state.stats))


def horizon(rows: Rows, match: A.Match) -> np.ndarray:
    """Months from the anchor to the row (NaN for a cold row)."""
    return np.where(match.found, rows.months - match.month, np.nan).astype("float64")


def _metro_lookup(rows: Rows, state: FeatureState) -> np.ndarray:
    return np.array(
        [state.metro_encoding.get(m, state.global_mean) for m in rows.metros], dtype="float64"
    )


def _log_list_price(rows: Rows) -> np.ndarray:
    return A.transform("median_list_price", rows.column("median_list_price"))


def _log_home_value(rows: Rows) -> np.ndarray:
    return A.transform("Median Home Value", rows.column("Median Home Value"))


def derived_columns(
    rows: Rows, state: FeatureState, match: A.Match, metro_encoding: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Every feature that is not a raw column of the row, by name."""
    h = horizon(rows, match)
    anchor = match.column("anchor_log_price")
    month = rows.months % 12 + 1
    out = {
        "year": rows.months // 12,
        "month": month,
        "quarter": (month - 1) // 3 + 1,
        "zip_frequency": np.array([state.zip_frequency.get(z, 0.0) for z in rows.zips]),
        "metro_encoding": _metro_lookup(rows, state) if metro_encoding is None else metro_encoding,
        "horizon": h,
        "list_vs_anchor": _log_list_price(rows) - anchor,
        "anchor_list_gap": match.column("smooth_median_list_price") - anchor,
        "home_value_vs_list": _log_home_value(rows) - _log_list_price(rows),
    }
    for name in A.FEATURES:
        out[name] = match.column(name)
    for name, (momentum, months) in {**TRENDS, **METRO_TRENDS}.items():
        out[name] = match.column(momentum) / months * h
    for stat in state.stats:
        now = A.transform(stat, rows.column(stat))
        out[f"change_{stat}"] = now - match.column(f"smooth_{stat}")
    return out


@lru_cache(maxsize=8)
def _column_plan(features: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, list]:
    """Where each feature comes from: (raw output columns, their raw input columns, the derived
    ones as (output column, name))."""
    raw = [(j, NUMERIC_POSITION[n]) for j, n in enumerate(features) if n in NUMERIC_POSITION]
    derived = [(j, n) for j, n in enumerate(features) if n not in NUMERIC_POSITION]
    return (
        np.array([j for j, _ in raw], dtype="int64"),
        np.array([k for _, k in raw], dtype="int64"),
        derived,
    )


def matrix(
    rows: Rows, state: FeatureState, match: A.Match, metro_encoding: np.ndarray | None = None
) -> np.ndarray:
    """The model's input matrix: float32, columns in `state.features` order."""
    derived = derived_columns(rows, state, match, metro_encoding)
    raw_out, raw_in, derived_out = _column_plan(tuple(state.features))
    out = np.empty((len(rows), len(state.features)), dtype="float32")
    out[:, raw_out] = rows.numeric[:, raw_in]
    for j, name in derived_out:
        out[:, j] = derived[name]
    return out


def build(
    df: pd.DataFrame,
    state: FeatureState,
    match: A.Match,
    metro_encoding: np.ndarray | None = None,
) -> pd.DataFrame:
    """The model's input matrix as a frame (feature names as columns, the rows' index)."""
    missing = [
        col
        for col in [*base_columns(state.dropped), c.DATE, c.ZIPCODE, c.CITY]
        if col not in df.columns
    ]
    if missing:
        raise c.ContractError(f"cannot build features: missing columns {missing}")
    X = matrix(Rows.from_frame(df), state, match, metro_encoding)
    return pd.DataFrame(X, columns=state.features, index=df.index)


def flag_arrays(rows: Rows, state: FeatureState) -> tuple[np.ndarray, np.ndarray]:
    """(unseen_zip, unseen_metro) as boolean arrays."""
    return (
        np.array([z not in state.zip_frequency for z in rows.zips], dtype=bool),
        np.array([m not in state.metro_encoding for m in rows.metros], dtype=bool),
    )


def flags(df: pd.DataFrame, state: FeatureState) -> pd.DataFrame:
    unseen_zip, unseen_metro = flag_arrays(Rows.from_frame(df), state)
    return pd.DataFrame({"unseen_zip": unseen_zip, "unseen_metro": unseen_metro}, index=df.index)


def cold_level(rows: Rows, state: FeatureState) -> np.ndarray:
    """An unseen zip's level: the median of the logs of its median list price, its census home
    value and its metro's encoded level, of those known. Either of the first two alone is ~0.26
    log sd from the price on the real sample, and a single mistyped or unrepresentative month
    ($8.6M list price for a $2.7M zip) would carry a prediction with it; the median of three
    drops the odd one out."""
    known = np.column_stack(
        [_log_list_price(rows), _log_home_value(rows), _metro_lookup(rows, state)]
    )
    return np.nanmedian(np.where(np.isfinite(known), known, np.nan), axis=1)


def log_level(rows: Rows, state: FeatureState, match: A.Match) -> np.ndarray:
    """The log level the target is relative to (0 for the log_price target): the zip's anchor
    price, else the cold level."""
    if state.target == "log_price":
        return np.zeros(len(rows))
    anchor = match.column("anchor_log_price")
    if match.found.all():
        return anchor
    return np.where(np.isnan(anchor), cold_level(rows, state), anchor)


def target(df: pd.DataFrame, state: FeatureState, match: A.Match) -> np.ndarray:
    """What the model learns for training rows: their log price relative to `log_level`."""
    return _log_price(df) - log_level(Rows.from_frame(df), state, match)


def to_price(prediction: np.ndarray, rows: Rows, state: FeatureState, match: A.Match) -> np.ndarray:
    """Model output (log scale, relative to the anchor level) -> price in dollars."""
    return np.exp(np.asarray(prediction, dtype="float64") + log_level(rows, state, match))


def leak_problems(state: FeatureState, rows: pd.DataFrame, eval_start: pd.Timestamp) -> list[str]:
    """Why `state` cannot have been fitted on exactly the rows dated before `eval_start`.

    Refits the encoders on those rows and compares: any encoding that differs saw other rows.
    """
    before = rows[rows[c.DATE] < eval_start]
    if before.empty:
        return [f"no rows dated before {eval_start:%Y-%m-%d} to fit on"]
    refit = fit(before, target=state.target, smoothing=state.smoothing, drop=state.dropped)
    found = []
    last = state.fitted_on.get("last_date", "")
    if not last or last >= eval_start.strftime("%Y-%m-%d"):
        found.append(
            f"fitted on rows up to {last or '?'}, the eval window starts {eval_start:%Y-%m-%d}"
        )
    if state.fitted_on.get("rows") != len(before):
        found.append(
            f"fitted on {state.fitted_on.get('rows')} rows; {len(before)} rows precede the eval window"
        )
    gap = _max_gap(state.metro_encoding, refit.metro_encoding)
    if gap > 1e-9:
        found.append(f"metro encoding differs from a pre-eval refit by up to {gap:.4g}")
    if _max_gap(state.zip_frequency, refit.zip_frequency) > 1e-12:
        found.append("zip frequencies differ from a pre-eval refit")
    return found


def _max_gap(a: dict, b: dict) -> float:
    if set(a) != set(b):
        return float("inf")
    return max((abs(a[k] - b[k]) for k in a), default=0.0)
