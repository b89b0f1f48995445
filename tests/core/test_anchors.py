import numpy as np
import pandas as pd
import pytest

from housing_core import anchors as A


def _history(rows):
    """rows: (zip, 'YYYY-MM', price[, metro]) -> history inputs with one stat, list price."""
    frame = pd.DataFrame(
        {
            "zipcode": [r[0] for r in rows],
            "date": pd.to_datetime([f"{r[1]}-01" for r in rows]) + pd.offsets.MonthEnd(0),
            "price": [float(r[2]) for r in rows],
            "city": [r[3] if len(r) > 3 else "DAL" for r in rows],
            "median_list_price": [float(r[2]) * 1.1 for r in rows],
        }
    )
    return A.inputs(frame, ["median_list_price"])


def _month(key: str) -> int:
    year, month = key.split("-")
    return int(year) * 12 + int(month) - 1


def _series(zipcode, first, prices, metro="DAL"):
    months = pd.period_range(first, periods=len(prices), freq="M").strftime("%Y-%m")
    return [(zipcode, m, p, metro) for m, p in zip(months, prices, strict=True)]


def test_momentum_is_the_log_change_over_the_months_before_the_anchor():
    prices = 100 * np.exp(0.01 * np.arange(14))
    table = A.AnchorTable(_history(_series(1, "2020-01", prices)), ["median_list_price"])
    match = table.lookup(np.array([1]), np.array([_month("2021-02")]))
    assert match.month[0] == _month("2021-02")
    assert match.column("anchor_log_price")[0] == pytest.approx(np.log(prices[13]))
    for k in A.MOMENTUM:
        assert match.column(f"mom_{k}")[0] == pytest.approx(0.01 * k)


def test_features_at_a_month_never_read_a_later_month():
    prices = list(100 + np.arange(20.0))
    early = A.AnchorTable(_history(_series(1, "2020-01", prices)), ["median_list_price"])
    changed = prices[:12] + [p * 3 for p in prices[12:]]  # later months wildly different
    late = A.AnchorTable(_history(_series(1, "2020-01", changed)), ["median_list_price"])
    cutoff = np.array([_month("2020-12")])
    np.testing.assert_array_equal(
        early.lookup(np.array([1]), cutoff).values, late.lookup(np.array([1]), cutoff).values
    )


def test_lookup_takes_the_latest_known_month_at_or_before_the_cutoff():
    rows = [(1, "2020-01", 100), (1, "2020-05", 110), (2, "2020-03", 300)]
    table = A.AnchorTable(_history(rows), ["median_list_price"])
    match = table.lookup(
        np.array([1, 1, 1, 2, 3]),
        np.array([_month(m) for m in ("2020-04", "2020-05", "2019-12", "2021-01", "2021-01")]),
    )
    assert match.month.tolist() == [_month("2020-01"), _month("2020-05"), -1, _month("2020-03"), -1]
    assert np.isnan(match.values[[2, 4]]).all()  # before the zip's first month; unknown zip
    assert match.found.tolist() == [True, True, False, True, False]


def test_smoothed_stat_is_the_mean_of_the_known_months_in_the_window():
    rows = [(1, m, 100) for m in ("2020-01", "2020-02", "2020-04")]
    table = A.AnchorTable(_history(rows), ["median_list_price"])
    match = table.lookup(np.array([1]), np.array([_month("2020-04")]))
    assert match.column("smooth_median_list_price")[0] == pytest.approx(np.log(110.0))
    assert np.isnan(match.column("mom_1")[0])  # 2020-03 unknown: no one-month change


def test_metro_momentum_is_a_chained_mean_robust_to_zips_joining():
    steady = _series(1, "2020-01", 100 * np.exp(0.02 * np.arange(13)))
    newcomer = _series(
        2, "2020-10", [900, 900 * np.exp(0.02), 900 * np.exp(0.04), 900 * np.exp(0.06)]
    )
    table = A.AnchorTable(_history(steady + newcomer), ["median_list_price"])
    match = table.lookup(np.array([1]), np.array([_month("2021-01")]))
    # A mean of levels would jump with the $900 zip; the chained mean of changes does not.
    assert match.column("metro_mom_3")[0] == pytest.approx(0.06)
    assert match.column("metro_mom_12")[0] == pytest.approx(0.24)


def test_sampled_cutoffs_stay_between_the_zips_first_month_and_the_row():
    months = np.full(10_000, 500)
    first = np.where(np.arange(10_000) % 2 == 0, 490, -1)
    cutoffs = A.sample_cutoffs(months, first, 24, np.random.default_rng(0).random(10_000))
    seen = cutoffs[first >= 0]
    assert seen.min() == 490 and seen.max() == 499  # 1..10 months back, never before the zip
    assert (cutoffs[first < 0] == 499).all()  # no history: any cutoff finds no anchor
    wide = A.sample_cutoffs(
        np.full(5000, 500), np.full(5000, 100), 24, np.random.default_rng(1).random(5000)
    )
    assert wide.min() == 476 and wide.max() == 499


def test_merge_replaces_a_redelivered_month_and_keep_recent_trims_per_zip():
    old = _history(_series(1, "2020-01", range(100, 130)))
    new = _history([(1, "2022-06", 500), (1, "2022-07", 501)])
    merged = A.keep_recent(A.merge_inputs(old, new), months=24)
    assert len(merged) == 24 and merged[A.MONTH].max() == _month("2022-07")
    again = A.merge_inputs(merged, _history([(1, "2022-07", 777)]))
    assert np.exp(
        again.loc[again[A.MONTH] == _month("2022-07"), A.LOG_PRICE]
    ).item() == pytest.approx(777)
    assert len(again) == len(merged)


def test_rows_without_a_price_are_not_history():
    frame = pd.DataFrame(
        {
            "zipcode": [1, 1],
            "date": pd.to_datetime(["2020-01-31", "2020-02-29"]),
            "price": [100.0, np.nan],
            "city": ["DAL", "DAL"],
        }
    )
    history = A.inputs(frame, ["median_list_price"])
    assert history[A.MONTH].tolist() == [_month("2020-01")]
    assert history["median_list_price"].isna().all()  # a column the source lacks: not reported
