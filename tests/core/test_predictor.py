"""`Predictor.predict_raw`: the one scoring path, on the in-process model (housing_harness/tiny.py)."""

import json

import numpy as np
import pandas as pd
import pytest

from housing_core import bundle, evaluation
from housing_core import contract as c
from housing_core import features as F
from housing_core.predictor import TOP_CONTRIBUTIONS, Predictor


@pytest.fixture(scope="module")
def served(tiny, tmp_path_factory) -> Predictor:
    """The published bundle, loaded as the API loads it (freshest history)."""
    store = tiny.publish(tmp_path_factory.mktemp("predictor") / "serving")
    return Predictor.from_bundle(bundle.load(bundle.LocalStore(store)))


def as_records(frame: pd.DataFrame) -> list[dict]:
    rows = frame[c.COLUMNS].astype(object).where(frame[c.COLUMNS].notna(), None)
    return rows.to_dict("records")


def test_records_and_frames_become_the_same_rows(tiny):
    frame = tiny.holdout.head(50)
    a, b = F.Rows.from_frame(frame), F.Rows.from_records(as_records(frame))
    np.testing.assert_array_equal(a.numeric, b.numeric)  # NaN where the other has NaN
    np.testing.assert_array_equal(a.months, b.months)
    assert a.zips == b.zips and a.metros == b.metros
    assert len(F.Rows.from_records([])) == 0


def test_not_reported_zeros_score_as_missing_values(tiny, served):
    """HouseTS's 0.0 = "not reported": a client sending raw zeros gets the answer a cleaned row
    with NaN gets -- the rule is applied inside the predictor, not by each caller."""
    rows = tiny.holdout.head(20).copy()
    zeros, missing = rows.copy(), rows.copy()
    # A zero median_dom or home value is unreported; a zero population blanks the census block.
    zeros[["median_dom", "Median Home Value", "Total Population"]] = 0.0
    missing[["median_dom", *c.CENSUS_COLUMNS]] = np.nan
    got = served.predict_raw(F.Rows.from_frame(zeros))
    want = served.predict_raw(F.Rows.from_frame(missing))
    np.testing.assert_allclose(got["prediction"], want["prediction"], rtol=1e-12)
    # ...and the values were read: dropping them changes the answer.
    assert not np.allclose(
        got["prediction"], served.predict_raw(F.Rows.from_frame(rows))["prediction"]
    )


def test_each_row_is_scored_alone(tiny, served):
    rows = tiny.holdout.head(40)
    order = np.random.default_rng(0).permutation(len(rows))
    whole = served.predict(rows)
    shuffled = served.predict(rows.iloc[order])
    pd.testing.assert_frame_equal(shuffled.loc[whole.index], whole)
    one = served.predict(rows.iloc[[7]])
    pd.testing.assert_frame_equal(one, whole.iloc[[7]])


def test_intervals_nest_around_the_prediction(tiny, served):
    out = served.predict_raw(F.Rows.from_frame(tiny.holdout))
    assert (out["lower_95"] <= out["lower_80"]).all() and (
        out["lower_80"] < out["prediction"]
    ).all()
    assert (out["prediction"] < out["upper_80"]).all() and (
        out["upper_80"] <= out["upper_95"]
    ).all()
    # The freshest history is the month before each holdout row.
    assert (out["horizon"] == 1).all()


def test_explain_adds_ranked_contributions_without_changing_the_answer(tiny, served):
    rows = F.Rows.from_frame(tiny.holdout.head(5))
    plain, explained = served.predict_raw(rows), served.predict_raw(rows, explain=True)
    assert "contributions" not in plain
    np.testing.assert_array_equal(plain["prediction"], explained["prediction"])
    for per_row in explained["contributions"]:
        assert len(per_row) == TOP_CONTRIBUTIONS
        sizes = [abs(x["contribution"]) for x in per_row]
        assert sizes == sorted(sizes, reverse=True)
        assert {x["feature"] for x in per_row} <= set(served.state.features)


def test_a_higher_list_price_change_raises_the_prediction_on_average(tiny, served):
    """Directional: the zip's list price rising between anchor and target month is the model's
    main signal of a rising sale price."""
    rows = tiny.holdout
    base = served.predict(rows)["prediction"]
    raised = served.predict(rows.assign(median_list_price=rows["median_list_price"] * 1.10))
    assert (raised["prediction"] / base).mean() > 1.0


def test_an_unseen_zip_is_flagged_and_scored_on_the_cold_path(tiny, served):
    rows = tiny.holdout.head(3).assign(zipcode=99_901)
    out = served.predict(rows)
    assert out["unseen_zip"].all() and out["anchor_month"].isna().all()
    assert out["horizon"].isna().all() and (out["prediction"] > 0).all()


def test_the_judged_holdout_metrics_are_what_the_bundle_reports(tiny):
    """The bundle's metrics.json is the evaluation report of the holdout predictions it ships."""
    shipped = json.loads(tiny.files["metrics.json"])
    assert shipped["model"]["mape"] == pytest.approx(
        evaluation.report(tiny.holdout_predictions)["model"]["mape"]
    )
    assert shipped["baselines"]["persistence"]["baseline"]["mape"] > shipped["model"]["mape"]
