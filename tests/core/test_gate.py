"""The promotion gate's decision (housing_core/gate.py), on hand-made holdout reports."""

import json

import pytest

from housing_core import bundle, evaluation, metrics, publishing, training
from housing_core.gate import (
    GatePolicy,
    bucket_verdicts,
    champion_on_same_rows,
    coverage_verdicts,
    decide,
)
from housing_harness.tiny import SETTINGS


def _entry(rows: int, ours: float, persistence: float) -> dict:
    return {
        "rows": rows,
        "baselines": {
            "persistence": {
                "rows": rows,
                "baseline": {"mape": persistence},
                "model_on_same_rows": {"mape": ours},
            },
            "reference": {  # a baseline with no rows in this bucket is not judged
                "rows": 0,
                "baseline": {"mape": float("nan")},
                "model_on_same_rows": {"mape": float("nan")},
            },
        },
    }


def test_a_bucket_that_loses_to_a_baseline_blocks_and_is_named():
    report = {"by_horizon": {"1-3": _entry(120, 0.5, 1.0), "13-24": _entry(480, 9.5, 9.1)}}
    reasons, notes = bucket_verdicts(report, min_rows=30)
    assert reasons == [
        "horizon 13-24 months: MAPE 9.50% does not beat the persistence baseline 9.10% on 480 rows"
    ]
    assert notes == []


def test_a_bucket_too_small_to_judge_is_noted_not_blocking():
    report = {"by_horizon": {"4-6": _entry(3, 9.8, 4.4), "25+": _entry(146, 8.2, 34.4)}}
    reasons, notes = bucket_verdicts(report, min_rows=30)
    assert reasons == []
    assert notes == ["horizon 4-6: 3 rows with a persistence baseline, too few to judge"]


def _report(mape: float, persistence: float) -> dict:
    entry = _entry(500, mape, persistence)
    return {"model": {"mape": mape}, "baselines": entry["baselines"], "by_horizon": {"1-3": entry}}


def test_the_decision_names_every_reason_and_keeps_the_figures():
    policy = GatePolicy()
    assert decide(_report(4.0, 5.0), policy, None, None).passed  # no champion: baselines only
    worse = decide(_report(4.0, 5.0), policy, "2021-01-v3", 3.2)
    assert not worse.passed
    assert worse.description == (
        "MAPE 4.00% is worse than champion 2021-01-v3 (3.20%) by more than 0.5 points"
    )
    assert worse.facts["champion_mape_same_rows"] == 3.2 and worse.facts["model_mape"] == 4.0
    within = decide(_report(4.0, 5.0), policy, "2021-01-v3", 3.6)  # within 0.5 points
    assert within.passed and within.description == (
        "promoted: holdout MAPE 4.00% beats every baseline (persistence 5.00%); champion "
        "2021-01-v3 3.60% on the same rows"
    )
    losing = decide(_report(6.0, 5.0), policy, None, None)
    assert losing.reasons[0].startswith("MAPE 6.00% does not beat the persistence baseline")
    assert len(losing.reasons) == 2  # overall and the 1-3 bucket
    lenient = GatePolicy(must_beat_baselines=False)
    assert decide(_report(6.0, 5.0), lenient, None, None).passed


def test_the_champion_is_held_to_the_baselines_on_the_same_rows():
    """A champion that loses to persistence too is named on the verdict; a challenger better
    than it everywhere replaces it, its own losses kept as notes (unless the policy says no)."""
    losing_champion = _report(5.5, 5.0)["baselines"]
    better = decide(_report(5.2, 5.0), GatePolicy(), "v3", 5.5, champion_baselines=losing_champion)
    assert better.passed and better.facts["replaces_losing_champion"] is True
    assert better.facts["champion_beats_baselines"] is False
    assert better.notes[0] == (
        "champion v3 does not beat the baselines on the same rows either: 5.50% against "
        "persistence 5.00% on 500 rows"
    )
    assert better.notes[1].startswith("waived, the champion loses by more: MAPE 5.20% does not")
    strict = GatePolicy(replace_losing_champion=False)
    kept = decide(_report(5.2, 5.0), strict, "v3", 5.5, champion_baselines=losing_champion)
    assert not kept.passed and kept.reasons[0].startswith("MAPE 5.20% does not beat")
    assert "does not beat the baselines on the same rows either" in kept.notes[0]
    # Worse than the losing champion anywhere: rejected, and the champion's loss still said.
    worse = decide(_report(5.6, 5.0), GatePolicy(), "v3", 5.5, champion_baselines=losing_champion)
    assert not worse.passed and "either" in worse.notes[0]
    # A champion that wins is no excuse.
    winning = _report(4.0, 5.0)["baselines"]
    held = decide(_report(5.2, 5.0), GatePolicy(), "v3", 4.0, champion_baselines=winning)
    assert not held.passed and held.facts["champion_beats_baselines"] is True


def test_a_champion_that_cannot_be_compared_is_a_note_not_a_verdict():
    verdict = decide(
        _report(4.0, 5.0), GatePolicy(), "old-v1", None, "published by an older release"
    )
    assert verdict.passed and verdict.notes == ["published by an older release"]


def test_months_missing_inside_the_window_are_noted_then_block_beyond_the_policy():
    """A vintage trains on the months that passed their checks; the gate decides on the gaps."""
    policy = GatePolicy(max_missing_months=2)
    some = decide(_report(4.0, 5.0), policy, None, None, missing_months=["2019-03", "2020-07"])
    assert some.passed and some.notes == [
        "trained and judged without 2019-03, 2020-07 (quarantined?)"
    ]
    assert some.facts["missing_months"] == 2
    many = decide(_report(4.0, 5.0), policy, None, None, missing_months=["a", "b", "c"])
    assert many.description == "3 months missing inside the data window (a, b, c); at most 2 may be"
    assert decide(_report(4.0, 5.0), policy, None, None).facts["missing_months"] == 0


def _covered(rows: int, c80: float, c95: float) -> dict:
    return {**_entry(rows, 1.0, 2.0), "coverage": {"80": c80, "95": c95}}


def test_intervals_that_break_their_promise_at_short_horizons_block_longer_ones_are_noted():
    """The real DC panel's intervals cover 73% / 92% at 1-3 months but 7% / 15% at 13-24 (a boom
    two years past calm calibration data): the short buckets are judged, the long one reported."""
    dc = {
        "by_horizon": {
            "13-24": _covered(480, 0.07, 0.15),  # stored order is not horizon order
            "1-3": _covered(120, 0.73, 0.92),
            "4-6": _covered(120, 0.81, 0.90),
        }
    }
    reasons, notes = coverage_verdicts(dc, GatePolicy())
    assert reasons == []
    assert notes == ["interval coverage 80 / 95 reported, not judged: 13-24 7% / 15% (480 rows)"]

    narrow = {"by_horizon": {"1-3": _covered(120, 0.416, 0.661), "4-6": _covered(12, 0.2, 0.3)}}
    reasons, notes = coverage_verdicts(narrow, GatePolicy())
    assert reasons == [
        "horizon 1-3 months: the 80% interval covers 41.6% of 120 rows, below 65%",
        "horizon 1-3 months: the 95% interval covers 66.1% of 120 rows, below 85%",
    ]
    assert notes == ["interval coverage 80 / 95 reported, not judged: 4-6 20% / 30% (12 rows)"]
    assert coverage_verdicts(narrow, GatePolicy(coverage_max_horizon=0))[0] == []
    assert coverage_verdicts(narrow, GatePolicy(min_coverage_80=0.4, min_coverage_95=0.6)) == (
        [],
        ["interval coverage 80 / 95 reported, not judged: 4-6 20% / 30% (12 rows)"],
    )


def test_a_coverage_shortfall_warns_by_default_and_blocks_when_the_policy_says_so():
    report = _report(4.0, 5.0)
    report["by_horizon"]["1-3"]["coverage"] = {"80": 0.5, "95": 0.9}
    shortfall = "horizon 1-3 months: the 80% interval covers 50.0% of 500 rows, below 65%"
    warned = decide(report, GatePolicy(), None, None)
    assert warned.passed and warned.facts["coverage_shortfalls"] == 1
    assert warned.notes == [f"warning: {shortfall} (coverage_blocks is off)"]
    blocking = GatePolicy(must_beat_baselines=False, coverage_blocks=True)
    assert decide(report, blocking, None, None).description == shortfall


@pytest.mark.slow
def test_the_champion_is_compared_by_its_evaluated_model_not_its_final_refit(tiny, tmp_path):
    """A bundle serves its model refit through the newest month, which may have learned the
    challenger's holdout rows; the gate scores the champion's evaluated model, shipped beside it."""
    store = bundle.LocalStore(tmp_path)
    m = tiny.model
    refit = training.final_refit(tiny.splits, tiny.state, m.tuning.best_params, m.rounds, SETTINGS)
    judged = tiny.holdout_predictions
    files = publishing.bundle_files(
        tiny.splits,
        tiny.state,
        bytes(refit.booster.save_raw("json")),
        m.conformal,
        judged,
        json.loads(tiny.files["metrics.json"]),
        json.loads(tiny.files["provenance.json"]),
        evaluated_model_json=tiny.files["model.json"],
    )
    assert files["model.json"] != files[bundle.EVALUATED_MODEL] == tiny.files["model.json"]
    bundle.publish(store, "refit-v1", files)
    score = champion_on_same_rows(store, "refit-v1", tiny.splits, judged)
    champion = score.mape
    holdout = tiny.holdout
    assert score.note is None
    # Held to the challenger's baselines on the same rows: here the champion is the challenger.
    assert score.baselines == evaluation.baseline_comparisons(judged)
    assert champion == pytest.approx(
        metrics.regression(holdout["price"], judged["prediction"])["mape"]
    )
    # Scored by the refit booster it would have looked better: it learned these rows.
    without = {**files}
    del without[bundle.EVALUATED_MODEL]
    bundle.publish(store, "refit-only", without)
    in_sample = champion_on_same_rows(store, "refit-only", tiny.splits).mape
    assert in_sample < champion


def test_a_long_reason_is_shortened_on_the_tag_only():
    from housing_core import verdicts

    tags = verdicts.run_tags(False, "x" * 5000)
    assert tags[verdicts.GATE_TAG] == "rejected"
    assert len(tags[verdicts.REASON_TAG]) == verdicts.MAX_TAG_CHARS
    assert tags[verdicts.REASON_TAG].endswith("...")
