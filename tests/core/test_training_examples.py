"""How training anchors its rows: as served, never on the row's own month or a later one."""

import numpy as np
import pandas as pd
import pytest

from housing_core import anchors as A
from housing_core import features as F
from housing_core import splits as S
from housing_core import training
from housing_core.cleaning import clean_month


@pytest.fixture(scope="module")
def parts(small_panel):
    months = small_panel["date"].dt.strftime("%Y-%m")
    cleaned = pd.concat([clean_month(g)[0] for _, g in small_panel.groupby(months)])
    rows = S.assign(cleaned.reset_index(drop=True), S.Windows("2022-01"))
    train = rows[rows[S.SPLIT] == S.TRAIN].reset_index(drop=True)
    known = rows[rows[S.SPLIT] != S.HOLDOUT].reset_index(drop=True)
    evals = rows[rows[S.SPLIT] == S.EVAL].reset_index(drop=True)
    return train, known, evals, F.fit(train)


def test_training_rows_are_anchored_1_to_24_months_back_and_cold_only_without_history(parts):
    train, _, _, state = parts
    ex = training.training_examples(train, state, F.anchor_table(train, state), seed=0)
    draws = training.draws_for(len(train))
    assert len(ex.y) == draws * len(train)
    h = ex.horizon[~np.isnan(ex.horizon)]
    assert h.min() == 1 and h.max() == state.max_offset
    # Only a zip's first month has nothing earlier to anchor on.
    first_month = train.groupby("zipcode")["date"].transform("min") == train["date"]
    cold = np.isnan(ex.horizon).reshape(draws, len(train))
    assert (cold == first_month.to_numpy()).all()


def test_eval_rows_are_served_from_the_train_history_only(parts):
    train, _, evals, state = parts
    ex = training.served_examples(evals, state, F.anchor_table(train, state))
    months = A.month_index(evals["date"])
    anchor = months - ex.horizon
    assert (anchor == A.month_index(train["date"]).max()).all()  # the last train month


def test_calibration_origins_stay_inside_the_eval_window(parts):
    train, known, evals, state = parts
    ex = training.calibration_examples(evals, state, F.anchor_table(known, state), seed=0)
    months = np.tile(A.month_index(evals["date"]), training.draws_for(len(evals)))
    anchor = months - ex.horizon
    assert anchor.min() == A.month_index(train["date"]).max()  # never before eval starts
    assert ex.horizon.min() == 1 and (anchor < months).all()


@pytest.mark.parametrize("cap", [2_000, 20_000])
def test_tuning_builds_only_its_sample_and_gets_exactly_those_examples(parts, cap):
    """Several draws per row here: a sample that takes some rows in one draw only, and one that
    takes most rows in several."""
    train, _, _, state = parts
    history, encoding = F.anchor_table(train, state), F.out_of_fold_metro_encoding(train, state, 3)
    every = training.training_examples(train, state, history, 3, encoding)
    assert training.draws_for(len(train)) > 1 and len(every.y) > cap
    sample = training.tuning.sample_rows(len(every.y), 1.0, 3, cap)
    got = training.sampled_examples(train, state, history, 3, encoding, sample)
    want = every.subset(sample)
    assert len(got.y) == cap
    for k in ("X", "y", "horizon"):
        np.testing.assert_array_equal(getattr(got, k), getattr(want, k))


def test_weights_fall_with_the_horizon():
    w = training.horizon_weight(np.array([1.0, 2.0, 24.0, 60.0, np.nan]))
    assert w.tolist() == pytest.approx([1.0, 0.5, 1 / 24, 1 / 24, 1 / 24])


@pytest.mark.slow
@pytest.mark.parametrize("nthread", [1, 2])
def test_fitting_on_the_quantile_matrix_gives_the_dmatrix_model_byte_for_byte(parts, nthread):
    """Training fits on a QuantileDMatrix to spare memory; it must not change the model."""
    from dataclasses import replace

    from housing_core import tuning

    train, _, _, state = parts
    ex = training.training_examples(train, state, F.anchor_table(train, state), seed=0)
    settings = replace(tuning.TuningSettings(seed=0, max_rounds=30), nthread=nthread)
    params = {"max_depth": 6, "learning_rate": 0.1, "subsample": 0.8, "colsample_bytree": 0.8}
    sample = tuning.sample_rows(len(ex.y), 0.5, seed=0)
    for rows in (None, sample):
        plain = tuning.fit(params, 30, ex.dmatrix(state, rows), settings)
        quantile = tuning.fit(params, 30, ex.fit_matrix(state, settings, rows), settings)
        assert np.isnan(ex.X).any()  # missing values take part in the sketch
        assert plain.save_raw("json") == quantile.save_raw("json")
