import numpy as np
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


def test_conformal_needs_enough_residuals():
    with pytest.raises(ValueError, match="at least 20"):
        metrics.conformal_quantiles(np.zeros(5))
