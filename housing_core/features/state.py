"""The fitted feature state: what is learned from TRAIN rows only (encoders, the anchor-level
stats), stored as plain JSON; and the leakage check on it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from housing_core import anchors as A
from housing_core import contract as c

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


def log_prices(df: pd.DataFrame) -> np.ndarray:
    return np.log(df[c.TARGET].to_numpy(dtype="float64"))


def _metro_means(metros: pd.Series, log_price: np.ndarray, smoothing: float, prior: float) -> dict:
    stats = (
        pd.DataFrame({"m": metros.to_numpy(), "y": log_price})
        .groupby("m")["y"]
        .agg(["sum", "count"])
    )
    encoded = (stats["sum"] + smoothing * prior) / (stats["count"] + smoothing)
    return {str(k): float(v) for k, v in encoded.items()}


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
    y = log_prices(train)
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
    y = log_prices(train)
    out = np.empty(len(train))
    for k in range(FOLDS):
        inside = fold == k
        means = _metro_means(
            train[c.CITY][~inside], y[~inside], state.smoothing, float(y[~inside].mean())
        )
        out[inside] = train[c.CITY][inside].map(means).fillna(state.global_mean).to_numpy()
    return out


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
