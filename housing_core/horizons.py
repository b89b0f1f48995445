"""Horizon buckets: how far a prediction reaches past the zip's last known price.

Error grows with the horizon (a month ahead of a smooth index is easy, two years ahead is not), so
metrics, the promotion gate and the prediction intervals are all per bucket. A row without an
anchor (an unseen zip) is the `cold` bucket.
"""

from __future__ import annotations

import numpy as np

from housing_core import metrics

BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("1-3", 1, 3),
    ("4-6", 4, 6),
    ("7-12", 7, 12),
    ("13-24", 13, 24),
    ("25+", 25, np.inf),
)
COLD = "cold"
LABELS = [*(name for name, _, _ in BUCKETS), COLD]
MIN_CALIBRATION_ROWS = 20


def key(label: str) -> str:
    """A bucket as a metric/metadata-safe name: '1-3' -> 'h1_3', '25+' -> 'h25_plus'."""
    return label if label == COLD else "h" + label.replace("-", "_").replace("+", "_plus")


def ordered(by_bucket: dict) -> dict:
    """A per-bucket mapping in horizon order (JSON stores may sort '13-24' before '4-6')."""
    return {label: by_bucket[label] for label in LABELS if label in by_bucket}


def bucket(horizon: np.ndarray) -> np.ndarray:
    """Bucket label per row (object array); NaN horizon -> `cold`."""
    h = np.asarray(horizon, dtype="float64")
    out = np.full(len(h), COLD, dtype=object)
    for name, low, high in BUCKETS:
        out[(h >= low) & (h <= high)] = name
    return out


def conformal(log_residuals: np.ndarray, labels: np.ndarray) -> dict:
    """Split-conformal log-scale bounds per bucket (`metrics.conformal_quantiles`).

    A bucket with fewer than MIN_CALIBRATION_ROWS residuals borrows from the nearest longer
    horizon that has enough (a longer horizon is never more certain), and `cold` -- rarely seen
    in calibration when every zip has history -- from the widest bucket: wider, never narrower.
    """
    r = np.asarray(log_residuals, dtype="float64")
    labels = np.asarray(labels, dtype=object)
    own = {}
    rows = {}
    for name in LABELS:
        part = r[(labels == name) & np.isfinite(r)]
        rows[name] = len(part)
        if len(part) >= MIN_CALIBRATION_ROWS:
            own[name] = metrics.conformal_quantiles(part)
    if not own:
        own["all"] = metrics.conformal_quantiles(r)  # raises when even the pool is too small
    widest = max(own.values(), key=lambda q: q["95"][1])
    quantiles, source = {}, {}
    ordered = [name for name, _, _ in BUCKETS]
    for i, name in enumerate(LABELS):
        if name in own:
            quantiles[name], source[name] = own[name], name
            continue
        longer = [b for b in ordered[i + 1 :] if b in own] if name != COLD else []
        donor = longer[0] if longer else max(own, key=lambda b: own[b]["95"][1])
        quantiles[name], source[name] = (own[donor] if longer else widest), donor
    return {"quantiles": quantiles, "calibration_rows": rows, "borrowed_from": source}


def intervals(
    prediction: np.ndarray, labels: np.ndarray, calibrated: dict
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per level, (lower, upper) arrays: each row gets its own bucket's bounds."""
    p = np.asarray(prediction, dtype="float64")
    quantiles = calibrated["quantiles"]
    names = list(quantiles)
    position = {name: i for i, name in enumerate(names)}
    row_bucket = np.fromiter((position[b] for b in labels), dtype="int64", count=len(labels))
    out = {}
    for level in quantiles[names[0]]:
        lo = np.array([quantiles[n][level][0] for n in names])[row_bucket]
        hi = np.array([quantiles[n][level][1] for n in names])[row_bucket]
        out[level] = (p * np.exp(lo), p * np.exp(hi))
    return out
