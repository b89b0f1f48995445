"""Drift math on hand-made distributions."""

import numpy as np
import pandas as pd
import pytest

from housing_assets.lib import drift


def rng():
    return np.random.default_rng(0)


def test_identical_distributions_have_psi_and_ks_near_zero():
    r = rng()
    a, b = r.normal(0, 1, 20_000), r.normal(0, 1, 20_000)
    assert drift.psi(a, b) < 0.01
    assert drift.ks(a, b) < 0.03
    assert drift.psi(a, a) == pytest.approx(0.0, abs=1e-12)


def test_a_shifted_distribution_crosses_the_threshold_and_grows_with_the_shift():
    r = rng()
    a = r.normal(0, 1, 20_000)
    small, large = drift.psi(a, r.normal(0.2, 1, 20_000)), drift.psi(a, r.normal(1.0, 1, 20_000))
    assert small < drift.Thresholds().feature_psi < large
    assert drift.ks(a, r.normal(1.0, 1, 20_000)) > 0.3


def test_psi_matches_the_formula_on_a_hand_computed_case():
    # Reference deciles of 0..999; current puts half of its mass in the lowest decile.
    reference = np.arange(1000, dtype=float)
    current = np.concatenate([np.full(500, 10.0), np.linspace(100, 999, 500)])
    p = np.full(10, 0.1)
    q = np.array([0.5] + [0.5 / 9] * 9)
    expected = float(np.sum((q - p) * np.log(q / p)))
    assert drift.psi(reference, current) == pytest.approx(expected, rel=0.05)


def test_values_that_stop_being_reported_are_drift():
    r = rng()
    a = r.normal(0, 1, 10_000)
    b = a.copy()
    b[: len(b) // 2] = np.nan
    assert drift.psi(a, b) > drift.Thresholds().feature_psi
    assert drift.ks(a, b) < 0.05  # the reported half looks the same: KS alone would miss it


def test_compare_reports_status_and_reasons():
    r = rng()
    features = ["a", "b", "c", "d"]
    reference = pd.DataFrame({f: r.normal(0, 1, 5_000) for f in features})
    same = pd.DataFrame({f: r.normal(0, 1, 2_000) for f in features})
    moved = same.assign(a=same["a"] + 2, b=same["b"] + 2)
    pred_ref, pred = r.lognormal(12, 0.3, 5_000), r.lognormal(12, 0.3, 2_000)
    calm = drift.compare(
        reference, same, features, reference_prediction=pred_ref, prediction=pred,
        actual=pred * 1.03, champion_mape=4.0,
    )  # fmt: skip
    assert calm["status"] == "ok" and calm["reasons"] == [] and calm["share_drifting"] == 0
    assert calm["mape"] == pytest.approx(100 * (1 - 1 / 1.03), rel=1e-6)
    rough = drift.compare(
        reference, moved, features, reference_prediction=pred_ref, prediction=pred * 1.5,
        actual=pred, champion_mape=4.0,
    )  # fmt: skip
    assert rough["status"] == "error"
    assert set(rough["drifting_features"]) == {"a", "b"}
    assert any("50% of features drift" in reason for reason in rough["reasons"])
    assert any("prediction PSI" in reason for reason in rough["reasons"])
    assert any("12.50x the champion's holdout" in reason for reason in rough["reasons"])
    text = drift.markdown("2022-06", rough)
    assert "ERROR" in text and "| a |" in text


def test_one_feature_far_off_is_an_error_on_its_own():
    """median_dom x3 (PSI 2.5) among 30 features was no reason at all: only the share of
    drifting features counted (1 of 30 is under the 20% warning line)."""
    r = rng()
    features = [f"f{i}" for i in range(29)] + ["median_dom"]
    reference = pd.DataFrame({f: r.lognormal(3, 0.5, 5_000) for f in features})
    current = pd.DataFrame({f: r.lognormal(3, 0.5, 2_000) for f in features})
    current["median_dom"] *= 3
    pred_ref, pred = r.lognormal(12, 0.3, 5_000), r.lognormal(12, 0.3, 2_000)
    report = drift.compare(
        reference, current, features, reference_prediction=pred_ref, prediction=pred,
        actual=None, champion_mape=4.0,
    )  # fmt: skip
    assert report["share_drifting"] == pytest.approx(1 / 30)
    assert report["status"] == "error"
    psi = report["features"][0]["psi"]
    assert report["reasons"] == [
        f"median_dom PSI {psi:.2f} > 1.0 (one feature this far off is enough)"
    ]


def test_empty_inputs_are_refused():
    with pytest.raises(ValueError, match="both sides"):
        drift.psi(np.array([]), np.array([1.0]))


def test_the_synthetic_2022_regime_change_is_drift_the_report_sees():
    from housing_assets.lib import contract as c
    from housing_assets.lib.cleaning import CleaningReport, not_reported_to_missing
    from housing_assets.lib.features import base_columns
    from housing_assets.lib.synthetic import SyntheticSpec, generate_panel

    panel = not_reported_to_missing(
        generate_panel(SyntheticSpec(seed=7, scale=0.05)), CleaningReport()
    )
    month = panel[c.DATE].dt.strftime("%Y-%m")
    reference = panel[(month >= "2021-01") & (month <= "2021-12")]
    features = base_columns()

    def drifting(m: str) -> float:
        current = panel[month == m]
        return np.mean([drift.psi(reference[f], current[f]) > 0.25 for f in features])

    calm = drifting("2021-12")  # the last month of the reference year itself
    shocked = drifting("2023-06")  # after the 2022 rate shock
    assert calm < 0.1 < shocked, (calm, shocked)
    dom = {
        m: drift.psi(reference["median_dom"], panel.loc[month == m, "median_dom"])
        for m in ("2021-12", "2023-06")
    }
    assert dom["2023-06"] > drift.Thresholds().feature_psi > dom["2021-12"], dom
