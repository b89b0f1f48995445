import numpy as np
import pytest

from housing_core import metrics


def test_regression_metrics_on_known_values():
    m = metrics.regression(np.array([100.0, 200.0, 400.0]), np.array([110.0, 180.0, 400.0]))
    assert m["n"] == 3
    assert m["mae"] == pytest.approx(10.0)
    assert m["mape"] == pytest.approx((10 + 10 + 0) / 3)
    assert m["median_ape"] == pytest.approx(10.0)
    assert m["rmse"] == pytest.approx(np.sqrt((100 + 400) / 3))
    assert 0.9 < m["r2"] < 1


def test_non_finite_rows_are_ignored_not_zero_filled():
    m = metrics.regression(np.array([100.0, np.nan, 300.0]), np.array([100.0, 5.0, np.nan]))
    assert m["n"] == 1 and m["mape"] == 0.0


def hand_written(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The formulas housing_core/metrics.py used before it called scikit-learn, kept as the reference."""
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok], p[ok]
    err = p - y
    ape = np.abs(err) / np.abs(y)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return {
        "n": len(y),
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "mape": float(ape.mean() * 100),
        "median_ape": float(np.median(ape) * 100),
        "r2": float(1 - (err**2).sum() / ss_tot) if ss_tot > 0 else np.nan,
    }


@pytest.mark.parametrize("seed", range(20))
def test_scikit_learn_gives_the_hand_written_numbers_to_the_last_bit(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5_000))
    y = rng.lognormal(12, 0.6, n)  # prices around $160k
    p = y * np.exp(rng.normal(0, rng.uniform(0.01, 0.5), n))
    y[rng.random(n) < 0.05] = np.nan  # non-finite rows are dropped by both
    p[rng.random(n) < 0.05] = np.inf
    assert metrics.regression(y, p) == hand_written(y, p)


@pytest.mark.parametrize(
    "y, p",
    [
        ([100.0], [110.0]),  # one row
        ([100.0, 100.0, 100.0], [90.0, 100.0, 120.0]),  # constant actual
        ([100.0, 100.0], [100.0, 100.0]),  # constant and exact
    ],
    ids=["one-row", "constant", "constant-exact"],
)
def test_r2_is_undefined_where_it_always_was(y, p):
    m = metrics.regression(np.array(y), np.array(p))
    expected = hand_written(np.array(y), np.array(p))
    assert np.isnan(m.pop("r2")) and np.isnan(expected.pop("r2"))
    assert m == expected


def test_conformal_needs_enough_residuals():
    with pytest.raises(ValueError, match="at least 20"):
        metrics.conformal_quantiles(np.zeros(5))
