import numpy as np
import pytest

from housing_core import horizons, metrics


def test_buckets_by_months_since_the_anchor():
    labels = horizons.bucket(np.array([1, 3, 4, 12, 13, 24, 25, 140, np.nan]))
    assert labels.tolist() == ["1-3", "1-3", "4-6", "7-12", "13-24", "13-24", "25+", "25+", "cold"]
    assert horizons.key("25+") == "h25_plus" and horizons.key("1-3") == "h1_3"
    stored = {"13-24": 3, "4-6": 2, "cold": 4, "1-3": 1}  # as a key-sorting JSON store returns it
    assert list(horizons.ordered(stored)) == ["1-3", "4-6", "13-24", "cold"]


def test_each_bucket_gets_its_own_bounds_and_a_small_bucket_borrows_from_a_longer_horizon():
    rng = np.random.default_rng(0)
    short, long = rng.normal(0, 0.01, 500), rng.normal(0, 0.08, 500)
    few = rng.normal(0, 0.03, 5)
    residuals = np.concatenate([short, long, few])
    labels = np.array(["1-3"] * 500 + ["13-24"] * 500 + ["4-6"] * 5, dtype=object)
    calibrated = horizons.conformal(residuals, labels)
    q = calibrated["quantiles"]
    assert q["1-3"]["80"][1] == pytest.approx(np.quantile(np.abs(short), 0.8), rel=0.05)
    assert q["13-24"]["80"][1] > 5 * q["1-3"]["80"][1]
    assert calibrated["borrowed_from"]["4-6"] == "13-24"  # 5 rows: too few of its own
    assert calibrated["borrowed_from"]["cold"] == "13-24"  # never seen: the widest bucket
    assert calibrated["calibration_rows"]["4-6"] == 5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_intervals_cover_near_nominal_per_bucket(seed):
    rng = np.random.default_rng(seed)
    scale = {"1-3": 0.01, "13-24": 0.08}
    n = 10_000
    labels = np.array(["1-3"] * n + ["13-24"] * n, dtype=object)
    sd = np.array([scale[b] for b in labels])
    calibrated = horizons.conformal(rng.standard_t(5, 2 * n) * sd, labels)
    prediction = np.full(2 * n, 300_000.0)
    actual = prediction * np.exp(rng.standard_t(5, 2 * n) * sd)
    for level, nominal in (("80", 0.80), ("95", 0.95)):
        lower, upper = horizons.intervals(prediction, labels, calibrated)[level]
        for bucket in scale:
            inside = labels == bucket
            covered = metrics.coverage(actual[inside], lower[inside], upper[inside])
            assert covered == pytest.approx(nominal, abs=0.03)
