import numpy as np
import pandas as pd
import pytest

from housing_assets.lib import metrics


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


def test_persistence_uses_each_zips_latest_price():
    history = pd.DataFrame(
        {
            "zipcode": [1, 1, 2],
            "date": pd.to_datetime(["2019-01-31", "2019-12-31", "2018-06-30"]),
            "price": [10.0, 12.0, 50.0],
        }
    )
    target = pd.DataFrame({"zipcode": [1, 2, 3]})
    np.testing.assert_array_equal(
        metrics.persistence_baseline(history, target), [12.0, 50.0, np.nan]
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conformal_intervals_cover_near_nominal(seed):
    rng = np.random.default_rng(seed)
    truth_scale = 0.08
    calibration = rng.standard_t(5, 4000) * truth_scale
    q = metrics.conformal_quantiles(calibration)
    prediction = np.full(20_000, 300_000.0)
    actual = prediction * np.exp(rng.standard_t(5, 20_000) * truth_scale)
    for level, nominal in (("80", 0.80), ("95", 0.95)):
        lower, upper = metrics.intervals(prediction, q)[level]
        assert metrics.coverage(actual, lower, upper) == pytest.approx(nominal, abs=0.02)


def test_conformal_needs_enough_residuals():
    with pytest.raises(ValueError, match="at least 20"):
        metrics.conformal_quantiles(np.zeros(5))
