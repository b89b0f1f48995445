import numpy as np
import pandas as pd
import pytest

from housing_assets.lib import contract as c
from housing_assets.lib import features as F
from housing_assets.lib import splits as S
from housing_assets.lib.cleaning import clean_month


@pytest.fixture(scope="module")
def rows(small_panel):
    cleaned = [
        clean_month(g)[0] for _, g in small_panel.groupby(small_panel["date"].dt.strftime("%Y-%m"))
    ]
    return S.assign(pd.concat(cleaned, ignore_index=True), S.Windows("2022-01"))


@pytest.fixture(scope="module")
def train(rows):
    return rows[rows[S.SPLIT] == S.TRAIN].reset_index(drop=True)


@pytest.fixture(scope="module")
def state(train):
    return F.fit(train)


def test_state_is_fitted_on_train_rows_only(state, train):
    assert state.fitted_on == {
        "rows": len(train),
        "first_date": "2012-03-31",
        "last_date": "2019-12-31",
    }
    assert set(state.metro_encoding) == set(train["city"])
    assert sum(state.zip_frequency.values()) == pytest.approx(1.0)


def test_leakage_column_dropped_and_column_order_fixed(state, rows):
    X = F.build(rows.head(50), state)
    assert "median_sale_price" not in X.columns and "price" not in X.columns
    assert list(X.columns) == state.features
    assert X.dtypes.eq(np.float32).all()


def test_missing_values_stay_missing(state, train):
    sample = train.head(5).copy()
    sample.loc[0, "median_list_price"] = np.nan
    X = F.build(sample, state)
    assert np.isnan(X.loc[0, "median_list_price"])


def test_unseen_zip_and_metro_use_fallbacks_and_are_flagged(state, train):
    sample = train.head(3).copy()
    sample.loc[0, "zipcode"] = 99_999
    sample.loc[1, "city"] = "ZZZ"
    X, flags = F.build(sample, state), F.flags(sample, state)
    assert X.loc[0, "zip_frequency"] == 0.0
    assert X.loc[1, "metro_encoding"] == pytest.approx(state.global_mean)
    assert flags["unseen_zip"].tolist() == [True, False, False]
    assert flags["unseen_metro"].tolist() == [False, True, False]


def test_out_of_fold_encoding_never_uses_the_rows_own_zip(state, train):
    oof = F.out_of_fold_metro_encoding(train, state)
    in_fold = train["city"].map(state.metro_encoding).to_numpy()
    assert oof.shape == (len(train),)
    assert not np.allclose(oof, in_fold)
    # Same zip -> same fold -> one value per zip and month-invariant.
    per_zip = pd.Series(oof).groupby(train["zipcode"].to_numpy()).nunique()
    assert (per_zip == 1).all()


def test_json_round_trip_gives_identical_features(state, rows):
    again = F.FeatureState.from_json(state.to_json())
    pd.testing.assert_frame_equal(F.build(rows, state), F.build(rows, again))


@pytest.mark.parametrize("target", F.TARGETS)
def test_target_and_to_price_invert_each_other(train, target):
    state = F.fit(train, target=target)
    y = F.target(train, state)
    np.testing.assert_allclose(F.to_price(y, train, state), train["price"], rtol=1e-9)


def test_leak_detection(rows, train):
    eval_start = rows.loc[rows[S.SPLIT] == S.EVAL, "date"].min()
    honest = F.fit(train)
    assert F.leak_problems(honest, rows, eval_start) == []
    leaky = F.fit(rows[rows[S.SPLIT] != S.HOLDOUT])  # fitted on train + eval
    problems = F.leak_problems(leaky, rows, eval_start)
    assert any("eval window starts 2020-01-31" in p for p in problems)
    assert any("metro encoding differs" in p for p in problems)


def test_missing_input_columns_are_named(state, train):
    with pytest.raises(c.ContractError, match="inventory"):
        F.build(train.drop(columns=["inventory"]).head(3), state)


def _toy(zips, dates, prices):
    n = len(zips)
    return pd.DataFrame(
        {"zipcode": zips, "date": pd.to_datetime(dates), "price": prices, "city": ["DAL"] * n}
    )


def test_history_lags_look_strictly_back_within_24_months():
    history = _toy(
        [1] * 30, pd.date_range("2018-01-31", periods=30, freq="ME"), np.arange(30) + 100.0
    )
    rows = history.tail(5)
    lags = F.history_lags(rows, history, seed=0)
    assert lags["lag_months"].between(1, F.MAX_LAG).all()
    expected = 100.0 + (rows.index.to_numpy() - lags["lag_months"].to_numpy())  # price[i - lag]
    np.testing.assert_allclose(np.exp(lags["lag_log_price"]), expected)


def test_history_lags_are_missing_when_the_zip_has_no_earlier_price():
    history = _toy([1, 2], ["2020-01-31", "2020-01-31"], [100.0, 200.0])
    lags = F.history_lags(history, history, seed=0)
    assert lags["lag_log_price"].isna().all() and lags["lag_months"].isna().all()


def test_state_lags_use_the_last_known_price_only_for_later_months():
    history = _toy([1, 1, 2], ["2021-11-30", "2021-12-31", "2021-06-30"], [100.0, 110.0, 300.0])
    state = F.FeatureState(
        "log_ratio", 20.0, {}, {}, 12.0, [], [], zip_history=F.last_known(history)
    )
    rows = _toy([1, 1, 2, 3], ["2022-03-31", "2021-12-31", "2022-01-31", "2022-01-31"], [1.0] * 4)
    lags = F.state_lags(rows, state)
    np.testing.assert_allclose(np.exp(lags["lag_log_price"].to_numpy()[[0, 2]]), [110.0, 300.0])
    assert lags["lag_months"].tolist()[0] == 3 and lags["lag_months"].tolist()[2] == 7
    assert np.isnan(lags["lag_log_price"].to_numpy()[1])  # same month as the history: no look-back
    assert np.isnan(lags["lag_log_price"].to_numpy()[3])  # unseen zip


def test_zip_history_comes_from_the_given_history_not_the_holdout(rows, train):
    known = rows[rows[S.SPLIT] != S.HOLDOUT]
    state = F.fit(train, history=known)
    assert state.history_until == "2021-12-31"
    eval_start = rows.loc[rows[S.SPLIT] == S.EVAL, "date"].min()
    assert F.leak_problems(state, rows, eval_start) == []
    leaky = F.fit(train, history=rows)
    assert any("into the holdout" in p for p in F.leak_problems(leaky, rows, eval_start))
