"""The promotion gate's per-horizon verdicts, on hand-made holdout reports."""

from housing_assets.defs.training.checks import bucket_verdicts


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
