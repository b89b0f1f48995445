"""Regression metrics and split-conformal quantiles (per horizon bucket: housing_core/horizons.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

LEVELS = (0.80, 0.95)


def regression(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, MAPE (in %), median APE (in %) and R² over the rows where both are finite.

    scikit-learn computes all but the median APE, which it lacks. Its MAPE is a fraction: x 100
    here. Where the old hand-written formulas were defined they agree to the last bit
    (tests/core/test_metrics.py). They differ only for a zero actual, which the target's range
    ($10k-$20M, housing_core/contract.py) never lets through: scikit-learn divides by machine epsilon.
    """
    # Imported here: the API imports this module (through housing_core/horizons.py) without scikit-learn.
    from sklearn.metrics import (
        mean_absolute_error,
        mean_absolute_percentage_error,
        r2_score,
        root_mean_squared_error,
    )

    y, p = np.asarray(y, dtype="float64"), np.asarray(p, dtype="float64")
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok], p[ok]
    if len(y) == 0:
        return {
            "n": 0,
            "mae": np.nan,
            "rmse": np.nan,
            "mape": np.nan,
            "median_ape": np.nan,
            "r2": np.nan,
        }
    # R² is undefined (NaN) for one row or a constant actual: force_finite=False keeps
    # scikit-learn from reporting 1.0 / 0.0 there, and one row is answered before it warns.
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = float(r2_score(y, p, force_finite=False)) if len(y) > 1 else np.nan
    return {
        "n": len(y),
        "mae": float(mean_absolute_error(y, p)),
        "rmse": float(root_mean_squared_error(y, p)),
        "mape": float(mean_absolute_percentage_error(y, p) * 100),
        "median_ape": float(np.median(np.abs(p - y) / np.abs(y)) * 100),
        "r2": r2 if np.isfinite(r2) else np.nan,
    }


def by_group(frame: pd.DataFrame, group: str, actual: str, predicted: str) -> pd.DataFrame:
    rows = {key: regression(part[actual], part[predicted]) for key, part in frame.groupby(group)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(group).reset_index()


def conformal_quantiles(log_residuals: np.ndarray, levels=LEVELS) -> dict[str, list[float]]:
    """Split-conformal bounds on the log scale from absolute residuals (Lei et al.): the
    ceil((n + 1) * level)-th smallest |r|, so [p * exp(-q), p * exp(q)] covers ~level of new rows.

    Symmetric on purpose: eval residuals of a price model carry the eval period's bias (the
    2020-21 boom), and asymmetric quantiles would shift every interval by it; on the 2022-23
    holdout that halved coverage, while the symmetric bounds land near nominal.
    """
    r = np.asarray(log_residuals, dtype="float64")
    a = np.sort(np.abs(r[np.isfinite(r)]))
    n = len(a)
    if n < 20:
        raise ValueError(f"need at least 20 calibration residuals, got {n}")
    out = {}
    for level in levels:
        # Order statistic with the (n + 1) finite-sample correction.
        k = min(n, int(np.ceil((n + 1) * level)))
        out[f"{round(level * 100)}"] = [-float(a[k - 1]), float(a[k - 1])]
    return out


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    y = np.asarray(actual, dtype="float64")
    return float(((y >= lower) & (y <= upper)).mean())
