import json

import numpy as np
import pandas as pd
import pytest

from housing_core import contract as c
from housing_core import features as F
from housing_core import splits as S
from housing_core.cleaning import clean_month


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


def _build(frame, state):
    return F.build(frame, state, F.no_anchors(len(frame), state))


def test_leakage_column_dropped_and_column_order_fixed(state, rows):
    X = _build(rows.head(50), state)
    assert "median_sale_price" not in X.columns and "price" not in X.columns
    assert list(X.columns) == state.features
    assert X.dtypes.eq(np.float32).all()


def test_missing_values_stay_missing(state, train):
    sample = train.head(5).copy()
    sample.loc[0, "median_list_price"] = np.nan
    X = _build(sample, state)
    assert np.isnan(X.loc[0, "median_list_price"])


def test_unseen_zip_and_metro_use_fallbacks_and_are_flagged(state, train):
    sample = train.head(3).copy()
    sample.loc[0, "zipcode"] = 99_999
    sample.loc[1, "city"] = "ZZZ"
    X, flags = _build(sample, state), F.flags(sample, state)
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
    history = F.anchor_table(rows[rows[S.SPLIT] != S.HOLDOUT], state)
    match = F.served_anchors(F.Rows.from_frame(rows), history)
    pd.testing.assert_frame_equal(F.build(rows, state, match), F.build(rows, again, match))


@pytest.mark.parametrize("target", F.TARGETS)
def test_target_and_to_price_invert_each_other(train, target):
    state = F.fit(train, target=target)
    cold = F.no_anchors(len(train), state)
    y = F.target(train, state, cold)
    np.testing.assert_allclose(
        F.to_price(y, F.Rows.from_frame(train), state, cold), train["price"], rtol=1e-9
    )


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
        _build(train.drop(columns=["inventory"]).head(3), state)


def _toy(zips, dates, prices, **extra):
    n = len(zips)
    return pd.DataFrame(
        {
            "zipcode": zips,
            "date": pd.to_datetime(dates),
            "price": prices,
            "city": ["DAL"] * n,
            **extra,
        }
    )


def test_served_rows_anchor_strictly_before_their_month():
    history = _toy([1, 1, 2], ["2021-11-30", "2021-12-31", "2021-06-30"], [100.0, 110.0, 300.0])
    state = F.fit(history)
    table = F.anchor_table(history, state)
    rows = F.Rows.from_frame(
        _toy([1, 1, 2, 3], ["2022-03-31", "2021-12-31", "2022-01-31", "2022-01-31"], [1.0] * 4)
    )
    match = F.served_anchors(rows, table)
    np.testing.assert_allclose(np.exp(match.column("anchor_log_price")[[0, 2]]), [110.0, 300.0])
    # The row's own month is never its anchor: 2021-12 anchors on 2021-11.
    assert np.exp(match.column("anchor_log_price")[1]) == pytest.approx(100.0)
    assert F.horizon(rows, match)[:3].tolist() == [3.0, 1.0, 7.0]
    assert np.isnan(F.horizon(rows, match)[3])  # unseen zip: the cold path


def test_anchored_target_is_the_change_from_the_anchor_and_inverts(rows, train):
    state = F.fit(train)
    history = rows[rows[S.SPLIT] != S.HOLDOUT]
    holdout = rows[rows[S.SPLIT] == S.HOLDOUT].head(200)
    match = F.served_anchors(F.Rows.from_frame(holdout), F.anchor_table(history, state))
    assert match.found.all()
    y = F.target(holdout, state, match)
    np.testing.assert_allclose(
        y, np.log(holdout["price"].to_numpy()) - match.column("anchor_log_price")
    )
    np.testing.assert_allclose(
        F.to_price(y, F.Rows.from_frame(holdout), state, match), holdout["price"], rtol=1e-9
    )


def test_cold_level_is_the_median_of_list_price_home_value_and_metro():
    state = F.fit(_toy([1, 2], ["2020-01-31", "2020-01-31"], [200_000.0, 200_000.0]))
    rows = _toy(
        [7, 8, 9],
        ["2022-01-31"] * 3,
        [1.0] * 3,
        median_list_price=[8_600_000.0, 300_000.0, np.nan],
        **{"Median Home Value": [np.nan, 250_000.0, np.nan]},
    )
    level = np.exp(F.log_level(F.Rows.from_frame(rows), state, F.no_anchors(3, state)))
    # A lone $8.6M list price is pulled to the metro; three estimates: the middle one; none: metro.
    assert level[0] == pytest.approx(np.sqrt(8_600_000.0 * 200_000.0), rel=1e-6)
    assert level[1] == pytest.approx(250_000.0, rel=1e-6)
    assert level[2] == pytest.approx(200_000.0, rel=1e-6)


def test_a_state_from_another_release_is_refused(state):
    old = {**json.loads(state.to_json()), "version": 2}
    with pytest.raises(ValueError, match="retrain"):
        F.FeatureState.from_dict(old)
