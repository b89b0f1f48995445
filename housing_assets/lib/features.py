"""Raw HouseTS rows -> model features: the ONE place, used by training and by the API.

No Dagster, no pickle: the fitted state is a plain JSON document (`FeatureState.to_json`), so the
serving image rebuilds exactly the features the model was trained on.

  * date parts: year, month, quarter;
  * zipcode frequency: share of train rows per zip (0 for a zip never seen -> flagged);
  * metro target encoding: smoothed mean log price per metro, fitted on TRAIN rows only; the
    train rows themselves get out-of-fold values (folds grouped by zipcode, so a zip's other
    months cannot leak its own price level into its encoding); unseen metro -> global mean;
  * the zip's own price history: its last known price before the prediction month and how many
    months ago that was (the reference pipeline never used it, not even as a baseline). Training
    rows get a random lag of 1-24 months from the panel itself; served rows get the last price
    the state knows (all rows before the holdout), exactly the information a user has then;
  * missing values stay NaN (XGBoost learns where to send them), never 0;
  * `median_sale_price` is dropped by default (the reference pipeline's leakage rule).

Targets: `log_price` (log of the price index) or `log_ratio` (log of price over an anchor: the
zip's last known price, else the month's median list price, else the census home value, else the
metro level). Trees cannot extrapolate a price level they never saw -- why a level model's holdout
error doubles after the 2020-22 boom -- but they can predict the change from a known level.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from housing_assets.lib import contract as c

LEAKAGE_DROP = ["median_sale_price"]
DATE_PARTS = ["year", "month", "quarter"]
ENCODED = ["zip_frequency", "metro_encoding"]
HISTORY = ["lag_log_price", "lag_months", "list_vs_lag"]
MAX_LAG = 24
TARGETS = ("log_price", "log_ratio")
SPLIT_COLUMN = "split"
FOLDS = 5


def base_columns(drop: list[str] = LEAKAGE_DROP) -> list[str]:
    return [col for col in c.NUMERIC_COLUMNS if col != c.TARGET and col not in drop]


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
    zip_history: dict[str, list[float]] = field(
        default_factory=dict
    )  # zip -> [month index, log price]
    history_until: str | None = None
    version: int = 2

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureState:
        return cls(**json.loads(text))


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


def month_index(dates: pd.Series) -> np.ndarray:
    d = pd.to_datetime(dates)
    return (d.dt.year * 12 + d.dt.month - 1).to_numpy()


def last_known(history: pd.DataFrame) -> dict[str, list[float]]:
    """Each zip's latest month and log price in `history`."""
    latest = history.sort_values(c.DATE).groupby(c.ZIPCODE).tail(1)
    return {
        c.format_zip(z): [int(m), float(np.log(p))]
        for z, m, p in zip(
            latest[c.ZIPCODE], month_index(latest[c.DATE]), latest[c.TARGET], strict=True
        )
    }


def fit(
    train: pd.DataFrame,
    *,
    target: str = "log_ratio",
    smoothing: float = 20.0,
    drop: list[str] = LEAKAGE_DROP,
    history: pd.DataFrame | None = None,
) -> FeatureState:
    """Fit the encoders on train rows only; the zip history comes from `history` (default: train),
    which may extend up to the holdout -- prices observed before it are known at prediction time."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if train.empty:
        raise ValueError("cannot fit feature state on an empty train split")
    y = _log_price(train)
    prior = float(y.mean())
    zips = train[c.ZIPCODE].map(c.format_zip)
    freq = zips.value_counts(normalize=True)
    return FeatureState(
        target=target,
        smoothing=smoothing,
        zip_frequency={str(k): float(v) for k, v in freq.sort_index().items()},
        metro_encoding=_metro_means(train[c.CITY], y, smoothing, prior),
        global_mean=prior,
        features=[*base_columns(drop), *DATE_PARTS, *ENCODED, *HISTORY],
        dropped=list(drop),
        fitted_on={
            "rows": len(train),
            "first_date": train[c.DATE].min().strftime("%Y-%m-%d"),
            "last_date": train[c.DATE].max().strftime("%Y-%m-%d"),
        },
        zip_history=last_known(train if history is None else history),
        history_until=(train if history is None else history)[c.DATE].max().strftime("%Y-%m-%d"),
    )


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


def history_lags(rows: pd.DataFrame, history: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """For training rows: the zip's price 1..MAX_LAG months earlier (lag drawn per row, seeded),
    taken from `history` -- the same kind of information a served row gets from the state."""
    lag = np.random.default_rng(seed).integers(1, MAX_LAG + 1, len(rows))
    wanted = pd.DataFrame(
        {c.ZIPCODE: rows[c.ZIPCODE].to_numpy(), "m": month_index(rows[c.DATE]) - lag}
    )
    known = pd.DataFrame(
        {
            c.ZIPCODE: history[c.ZIPCODE].to_numpy(),
            "m": month_index(history[c.DATE]),
            "lag_log_price": np.log(history[c.TARGET].to_numpy()),
        }
    ).drop_duplicates([c.ZIPCODE, "m"])
    found = wanted.merge(known, on=[c.ZIPCODE, "m"], how="left")["lag_log_price"].to_numpy()
    return pd.DataFrame(
        {"lag_log_price": found, "lag_months": np.where(np.isnan(found), np.nan, lag)},
        index=rows.index,
    )


NUMERIC_POSITION = {name: j for j, name in enumerate(c.NUMERIC_COLUMNS)}


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

    def with_numeric(self, numeric: np.ndarray) -> Rows:
        return Rows(numeric, self.months, self.zips, self.metros)

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> Rows:
        numeric = np.full((len(df), len(c.NUMERIC_COLUMNS)), np.nan)
        present = [col for col in c.NUMERIC_COLUMNS if col in df.columns]
        numeric[:, [NUMERIC_POSITION[col] for col in present]] = df[present].to_numpy(
            dtype="float64"
        )
        return cls(numeric, month_index(df[c.DATE]), _zip_keys(df), df[c.CITY].tolist())


def as_rows(rows: pd.DataFrame | Rows) -> Rows:
    return rows if isinstance(rows, Rows) else Rows.from_frame(rows)


def _zip_keys(rows: pd.DataFrame) -> list[str]:
    return [f"{int(z):05d}" for z in rows[c.ZIPCODE].to_numpy()]


def _lag_arrays(
    rows: Rows, state: FeatureState, lags: pd.DataFrame | tuple | None
) -> tuple[np.ndarray, np.ndarray]:
    """(lag_log_price, lag_months): given as a frame (training), else from the state (serving)."""
    if lags is None:
        return state_lag_arrays(rows, state)
    if isinstance(lags, pd.DataFrame):
        return (
            lags["lag_log_price"].to_numpy(dtype="float64"),
            lags["lag_months"].to_numpy(dtype="float64"),
        )
    return lags


def state_lag_arrays(rows: Rows, state: FeatureState) -> tuple[np.ndarray, np.ndarray]:
    unknown = (np.nan, np.nan)
    last = np.array(
        [state.zip_history.get(z, unknown) for z in rows.zips], dtype="float64"
    ).reshape(-1, 2)
    months = rows.months - last[:, 0]
    usable = months >= 1
    return np.where(usable, last[:, 1], np.nan), np.where(usable, months, np.nan)


def state_lags(rows: pd.DataFrame, state: FeatureState) -> pd.DataFrame:
    """For served rows: the last price the state knows for the zip, if it predates the row."""
    lag_log, lag_months = state_lag_arrays(as_rows(rows), state)
    return pd.DataFrame({"lag_log_price": lag_log, "lag_months": lag_months}, index=rows.index)


def _metro_lookup(rows: Rows, state: FeatureState) -> np.ndarray:
    return np.array(
        [state.metro_encoding.get(m, state.global_mean) for m in rows.metros], dtype="float64"
    )


def matrix(
    rows: Rows,
    state: FeatureState,
    metro_encoding: np.ndarray | None = None,
    lags: pd.DataFrame | tuple | None = None,
) -> np.ndarray:
    """The model's input matrix: float32, columns in `state.features` order."""
    lag_log, lag_months = _lag_arrays(rows, state, lags)
    month = rows.months % 12 + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        list_price = rows.column("median_list_price")
        list_log = np.where(list_price > 0, np.log(list_price), np.nan)
    derived = {
        "year": rows.months // 12,
        "month": month,
        "quarter": (month - 1) // 3 + 1,
        "zip_frequency": [state.zip_frequency.get(z, 0.0) for z in rows.zips],
        "metro_encoding": _metro_lookup(rows, state) if metro_encoding is None else metro_encoding,
        "lag_log_price": lag_log,
        "lag_months": lag_months,
        "list_vs_lag": list_log - lag_log,
    }
    out = np.empty((len(rows), len(state.features)), dtype="float32")
    for j, name in enumerate(state.features):
        position = NUMERIC_POSITION.get(name)
        out[:, j] = (
            rows.numeric[:, position]
            if position is not None
            else np.asarray(derived[name], dtype="float64")
        )
    return out


def build(
    df: pd.DataFrame,
    state: FeatureState,
    metro_encoding: np.ndarray | None = None,
    lags: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The model's input matrix as a frame (feature names as columns, the rows' index)."""
    missing = [
        col
        for col in [*base_columns(state.dropped), c.DATE, c.ZIPCODE, c.CITY]
        if col not in df.columns
    ]
    if missing:
        raise c.ContractError(f"cannot build features: missing columns {missing}")
    X = matrix(Rows.from_frame(df), state, metro_encoding, lags)
    return pd.DataFrame(X, columns=state.features, index=df.index)


def flag_arrays(rows: Rows, state: FeatureState) -> tuple[np.ndarray, np.ndarray]:
    """(unseen_zip, unseen_metro) as boolean arrays."""
    return (
        np.array([z not in state.zip_frequency for z in rows.zips], dtype=bool),
        np.array([m not in state.metro_encoding for m in rows.metros], dtype=bool),
    )


def flags(df: pd.DataFrame, state: FeatureState) -> pd.DataFrame:
    unseen_zip, unseen_metro = flag_arrays(as_rows(df), state)
    return pd.DataFrame({"unseen_zip": unseen_zip, "unseen_metro": unseen_metro}, index=df.index)


def log_anchor(
    df: pd.DataFrame | Rows, state: FeatureState, lags: pd.DataFrame | tuple | None = None
) -> np.ndarray:
    """The log level the ratio target is relative to (0 for the log_price target): the month's
    median list price, else the zip's last known price, else the census home value, else the metro."""
    rows = as_rows(df)
    if state.target == "log_price":
        return np.zeros(len(rows))
    lag_log, _ = _lag_arrays(rows, state, lags)
    with np.errstate(divide="ignore", invalid="ignore"):
        list_price, home_value = rows.column("median_list_price"), rows.column("Median Home Value")
        candidates = [
            np.log(np.where(list_price > 0, list_price, np.nan)),
            lag_log,
            np.log(np.where(home_value > 0, home_value, np.nan)),
            _metro_lookup(rows, state),
        ]
    level = candidates[0].copy()
    for fallback in candidates[1:]:
        level = np.where(np.isnan(level), fallback, level)
    return level


def target(df: pd.DataFrame, state: FeatureState, lags: pd.DataFrame | None = None) -> np.ndarray:
    return _log_price(df) - log_anchor(df, state, lags)


def to_price(
    prediction: np.ndarray,
    df: pd.DataFrame | Rows,
    state: FeatureState,
    lags: pd.DataFrame | tuple | None = None,
) -> np.ndarray:
    """Model output (log scale, relative to the anchor) -> price in dollars."""
    return np.exp(np.asarray(prediction, dtype="float64") + log_anchor(df, state, lags))


def leak_problems(state: FeatureState, rows: pd.DataFrame, eval_start: pd.Timestamp) -> list[str]:
    """Why `state` cannot have been fitted on exactly the rows dated before `eval_start`.

    Refits the encoders on those rows and compares: any encoding that differs saw other rows.
    """
    before = rows[rows[c.DATE] < eval_start]
    holdout = (
        rows.loc[rows[SPLIT_COLUMN] == "holdout", c.DATE]
        if SPLIT_COLUMN in rows
        else pd.Series(dtype="datetime64[ns]")
    )
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
    if (
        len(holdout)
        and state.history_until
        and state.history_until >= holdout.min().strftime("%Y-%m-%d")
    ):
        found.append(f"zip price history runs to {state.history_until}, into the holdout")
    return found


def _max_gap(a: dict, b: dict) -> float:
    if set(a) != set(b):
        return float("inf")
    return max((abs(a[k] - b[k]) for k in a), default=0.0)
