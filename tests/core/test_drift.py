"""Drift math on hand-made distributions."""

import numpy as np
import pandas as pd
import pytest

from housing_core import contract as c
from housing_core import drift


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
    """median_dom x3 among 30 features was no reason at all: only the share of drifting
    features counted (1 of 30 is under the 20% warning line)."""
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
    moved = report["features"][0]["score"]
    assert report["reasons"] == [
        f"median_dom moved {moved:.2f} IQR > 1.00; one feature this far off is enough"
    ]


def test_empty_inputs_are_refused():
    with pytest.raises(ValueError, match="both sides"):
        drift.psi(np.array([]), np.array([1.0]))


def test_the_synthetic_2022_regime_change_is_drift_the_report_sees():
    from housing_core import contract as c
    from housing_core.cleaning import CleaningReport, not_reported_to_missing
    from housing_core.features import base_columns
    from housing_core.synthetic import SyntheticSpec, generate_panel

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


def _restaurant_like(r: np.random.Generator, n: int) -> np.ndarray:
    """A POI-count shape (as housing_core/synthetic.py draws restaurants): many zips with 0-3, a long tail
    in the hundreds."""
    return r.poisson(11 * np.exp(2.0 * r.normal(0, 1, n))).astype(float)


def _year_of(zips: np.ndarray) -> np.ndarray:
    """A reference year of the same zips: a month is those zips again, as in the panel."""
    return np.tile(zips, 12)


def _count_report(reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    r = rng()
    pred_ref, pred = r.lognormal(12, 0.3, len(reference)), r.lognormal(12, 0.3, len(current))
    return drift.compare(
        reference, current, list(reference.columns), reference_prediction=pred_ref,
        prediction=pred, actual=None, champion_mape=4.0,
    )  # fmt: skip


def test_an_off_by_one_move_of_a_count_is_not_drift_although_decile_psi_says_so():
    """A year of growth moves every zip with 2 restaurants to 3: the decile bin (1, 2] empties and
    the share floor blows PSI up; every zip moved by one unit, which is no drift."""
    tail = _restaurant_like(rng(), 2_000)
    # 0, 1 and 2 restaurants in 12%, 9% and 10% of the zips: deciles 2 and 3 end at 1 and 2, so
    # the bin (1, 2] holds exactly the zips with 2.
    zips = np.concatenate([[0.0] * 72, [1.0] * 54, [2.0] * 60, tail[tail >= 3][:414]])
    month = np.where(zips == 2, 3.0, zips)
    reference = pd.DataFrame({"restaurant": _year_of(zips)})
    assert drift.psi(reference["restaurant"].to_numpy(), month) > drift.Thresholds().feature_psi
    report = _count_report(reference, pd.DataFrame({"restaurant": month}))
    [feature] = report["features"]
    assert feature["statistic"] == "wasserstein" and feature["score"] == feature["wasserstein"]
    assert feature["score"] == pytest.approx(np.mean(zips == 2) / drift.count_scale(zips))
    assert not feature["drifting"] and report["status"] == "ok", report["reasons"]


def test_a_large_shift_of_a_count_is_drift_and_far_enough_is_an_error():
    r = rng()
    zips = _restaurant_like(r, 600)
    reference = pd.DataFrame({"restaurant": _year_of(zips)})
    half = r.random(len(zips)) < 0.5
    doubled = _count_report(reference, pd.DataFrame({"restaurant": np.where(half, 2 * zips, zips)}))
    assert doubled["drifting_features"] == ["restaurant"]
    assert doubled["features"][0]["score"] < drift.Thresholds().single_feature_wasserstein
    assert doubled["status"] == "warn" or doubled["share_drifting"] == 1.0
    tripled = _count_report(reference, pd.DataFrame({"restaurant": 3 * zips}))
    w = tripled["features"][0]["score"]
    assert w > drift.Thresholds().single_feature_wasserstein
    assert tripled["status"] == "error"
    assert tripled["reasons"][0] == (
        f"restaurant moved {w:.2f} IQR > 1.00; one feature this far off is enough"
    )


def test_wasserstein_is_the_mass_times_the_distance_in_reference_iqrs():
    # Half the zips at 0, half at 2 (IQR 2); the 2s move to 3: half the mass moves one unit.
    reference = np.array([0.0] * 50 + [2.0] * 50)
    current = np.array([0.0] * 50 + [3.0] * 50)
    assert drift.count_scale(reference) == 2.0
    assert drift.wasserstein(reference, current) == pytest.approx(0.5 / 2)
    assert drift.wasserstein(reference, reference) == 0.0


def test_an_emptied_value_and_an_iqr_of_zero_stay_finite():
    """Every zip without a bus stop gets one: the reference's only value is empty in the month.
    PSI's floor makes that 9.2; the Wasserstein distance is one stop, in units of one stop (the
    floor of the scale when the IQR is 0) - large, finite and exactly what happened."""
    reference, current = np.zeros(1_000), np.ones(300)
    assert drift.count_scale(reference) == 1.0
    assert drift.wasserstein(reference, current) == pytest.approx(1.0)
    assert np.isfinite(drift.psi(reference, current))
    report = _count_report(pd.DataFrame({"bus": reference}), pd.DataFrame({"bus": current}))
    assert report["features"][0]["drifting"] and report["status"] == "error"


def test_a_count_that_stops_being_reported_is_drift():
    zips = _restaurant_like(rng(), 400)
    month = zips.copy()
    month[::2] = np.nan
    report = _count_report(
        pd.DataFrame({"school": _year_of(zips)}), pd.DataFrame({"school": month})
    )
    [feature] = report["features"]
    assert feature["missing_current"] == 0.5 and feature["missing_psi"] > 1.0
    assert feature["drifting"] and report["status"] == "error"
    assert any("school missing 0% -> 50%" in reason for reason in report["reasons"])


def test_continuous_features_are_judged_by_their_move_in_their_own_iqr():
    """A continuous feature's scale is its IQR, however small (a ratio near 1 has an IQR of a
    few hundredths), never the one-count floor of a count."""
    r = rng()
    reference = pd.DataFrame({f: r.lognormal(3, 0.5, 5_000) for f in ("median_dom", "x")})
    reference["avg_sale_to_list"] = r.normal(0.99, 0.02, 5_000)
    reference["restaurant"] = _restaurant_like(r, 5_000)
    month = reference.sample(600, random_state=3).reset_index(drop=True)
    month["median_dom"] *= 1.6
    month["avg_sale_to_list"] += 0.03  # a bidding-war spring: +3 points of sale-to-list
    report = _count_report(reference, month)
    by_name = {f["feature"]: f for f in report["features"]}
    for name in ("median_dom", "x", "avg_sale_to_list"):
        f = by_name[name]
        ref, cur = reference[name].to_numpy(), month[name].to_numpy()
        assert f["statistic"] == "wasserstein" and f["score"] == drift.wasserstein(ref, cur, 0.0)
        assert f["scale"] == pytest.approx(np.subtract(*np.quantile(ref, [0.75, 0.25])))
    assert by_name["median_dom"]["drifting"] and by_name["avg_sale_to_list"]["drifting"]
    assert not by_name["x"]["drifting"]
    assert by_name["restaurant"]["scale"] >= 1.0
    # Sorted by severity (score over its own threshold), largest first.
    assert [f["severity"] for f in report["features"]] == sorted(
        (f["severity"] for f in report["features"]), reverse=True
    )


def test_the_reports_say_which_statistic_judged_each_feature():
    r = rng()
    reference = pd.DataFrame({"median_dom": r.lognormal(3, 0.5, 2_000)})
    reference["restaurant"] = _restaurant_like(r, 2_000)
    month = reference.sample(300, random_state=4).reset_index(drop=True)
    report = _count_report(reference, month)
    text = drift.markdown("2022-01", report)
    assert "| restaurant | Wasserstein / IQR |" in text
    assert "| median_dom | Wasserstein / IQR |" in text
    pred = r.lognormal(12, 0.3, 300)
    page = drift.html("2022-01", report, reference, month, pred, pred, "v1")
    assert "<td>median_dom</td><td>Wasserstein / IQR</td>" in page


def _small_panel(r, months: int = 84, zips: int = 40) -> pd.DataFrame:
    """A 40-zip market: each zip's level, a seasonal swing, month-to-month noise, and prices
    that rise 0.5% a month -- the normal life of a small panel."""
    level = r.lognormal(3.3, 0.4, zips)
    price = r.lognormal(13, 0.3, zips)
    frames = []
    for i, month in enumerate(pd.period_range("2015-01", periods=months, freq="M")):
        season = 1 + 0.25 * np.sin(2 * np.pi * i / 12)
        frames.append(pd.DataFrame({
            c.DATE: month.to_timestamp(how="end").normalize(),
            "median_dom": level * season * r.lognormal(0, 0.15, zips),
            "homes_sold": r.poisson(6 * season, zips).astype(float),
            c.TARGET: price * 1.005**i * r.lognormal(0, 0.02, zips),
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def _replayed(panel, start: str, calibration, edit=lambda f: f) -> list[str]:
    month = panel[c.DATE].dt.strftime("%Y-%m")
    first = str(pd.Period(start, "M") - drift.REFERENCE_MONTHS)
    reference = panel[(month >= first) & (month < start)]
    statuses = []
    for m in sorted(set(month[month >= start])):
        current = edit(panel[month == m])
        statuses.append(drift.compare(
            reference, current, ["median_dom", "homes_sold"],
            reference_prediction=reference[c.TARGET].to_numpy(),
            prediction=current[c.TARGET].to_numpy(),
            actual=None, champion_mape=1.0, calibration=calibration,
        )["status"])  # fmt: skip
    return statuses


def test_calibration_on_the_panels_own_history_quiets_its_normal_months():
    """On a 40-zip panel, seasonal swings, sampling noise and a steady price trend crossed the
    fixed thresholds in normal months; thresholds learned from the history before the holdout
    keep those months quiet, and a broken feed (median_dom x3) is still an ERROR each month."""
    r = rng()
    panel = _small_panel(r)
    month = panel[c.DATE].dt.strftime("%Y-%m")
    calibration = drift.calibrate(panel[month < "2020-01"], ["median_dom", "homes_sold"])
    assert calibration["comparisons"] == 24 * 12
    fixed = _replayed(panel, "2020-01", None)
    calibrated = _replayed(panel, "2020-01", calibration)
    assert calibrated.count("error") == 0 and calibrated.count("error") < fixed.count("error")
    broken = _replayed(
        panel, "2020-01", calibration, lambda f: f.assign(median_dom=f["median_dom"] * 3)
    )
    assert broken == ["error"] * len(broken)
    floor = drift.Thresholds()
    for bars in calibration["features"].values():  # never below the policy
        assert bars["drift"] >= floor.feature_wasserstein
        assert bars["alone"] >= floor.single_feature_wasserstein


def test_a_history_too_short_to_replay_is_not_calibrated():
    panel = _small_panel(rng(), months=drift.REFERENCE_MONTHS + drift.CALIBRATION_GAPS - 1)
    assert drift.calibrate(panel, ["median_dom"]) is None


def test_the_merged_cdf_distance_is_scipys_wasserstein():
    from scipy import stats

    r = rng()
    for a, b in [
        (r.poisson(3, 1_000).astype(float), r.poisson(4, 300).astype(float)),  # ties
        (r.lognormal(0, 1, 500), r.lognormal(0.3, 1, 700)),
        (np.array([1.0]), np.array([1.0, 5.0])),
    ]:
        assert drift._w1(np.sort(a), np.sort(b)) == pytest.approx(
            stats.wasserstein_distance(a, b), rel=1e-12
        )


FEATURES = ["median_dom", "homes_sold", "steady_a", "steady_b", "steady_c"]


def _judged_with_the_month_before(panel, start: str, calibration, edit) -> list[dict]:
    """Each month from `start` (edited by `edit(frame, months since start)`) judged as the
    drift report judges it: against the reference year before `start` and the month before."""
    month = panel[c.DATE].dt.strftime("%Y-%m")
    first = str(pd.Period(start, "M") - drift.REFERENCE_MONTHS)
    reference = panel[(month >= first) & (month < start)]
    previous = panel[month == str(pd.Period(start, "M") - 1)]
    reports = []
    for k, m in enumerate(sorted(set(month[month >= start]))):
        current = edit(panel[month == m].copy(), k)
        reports.append(drift.compare(
            reference, current, FEATURES,
            reference_prediction=reference[c.TARGET].to_numpy(),
            prediction=current[c.TARGET].to_numpy(),
            actual=None, champion_mape=1.0, calibration=calibration, previous=previous,
        ))  # fmt: skip
        previous = current
    return reports


def test_a_market_that_walks_beyond_its_history_warns_and_a_jump_there_is_an_error():
    """A bidding war lifts a feature a little every month until it is further from the
    reference than any normal month went: the move is real and gradual, so a WARN that says so
    (the live error says whether the model suffers). The same distance reached in one month --
    a broken feed -- is an ERROR."""
    r = rng()
    panel = _small_panel(r)
    for name in FEATURES[2:]:  # steady features beside them, as a real month has
        panel[name] = r.normal(0, 1, len(panel))
    month = panel[c.DATE].dt.strftime("%Y-%m")
    calibration = drift.calibrate(panel[month < "2020-01"], FEATURES)
    bars = calibration["features"]["median_dom"]
    assert bars["step_alone"] >= drift.Thresholds().feature_wasserstein

    def walking(frame, k):  # a day and a half longer on the market every month
        return frame.assign(median_dom=frame["median_dom"] + 1.5 * k)

    walked = _judged_with_the_month_before(panel, "2020-01", calibration, walking)
    beyond = [r for r in walked if r["features"][0]["score"] > bars["alone"]]
    assert len(beyond) >= 3  # the walk did go beyond the calibrated ERROR bar
    for report in beyond:
        f = next(f for f in report["features"] if f["feature"] == "median_dom")
        assert f["step"] <= f["step_alone"]
        assert report["status"] == "warn", report["reasons"]
        assert any("median_dom moved" in r and "month by month" in r for r in report["reasons"])

    def jumped(frame, k):  # the walk's last distance reached at once, in one month
        return (
            frame.assign(median_dom=frame["median_dom"] + 1.5 * (len(walked) - 1))
            if k == 6
            else frame
        )

    reports = _judged_with_the_month_before(panel, "2020-01", calibration, jumped)
    assert reports[6]["status"] == "error"
    assert any("since the month before" in r for r in reports[6]["reasons"])
    assert [r["status"] for r in reports[:6]].count("error") == 0


def test_a_feature_that_jumps_back_toward_the_reference_is_a_warn_not_an_error():
    """The run-up ends at once: still beyond the ERROR bar, a long way from the month before,
    but toward the reference -- the market turning (or a feed mended), not a feed breaking."""
    r = rng()
    panel = _small_panel(r)
    for name in FEATURES[2:]:
        panel[name] = r.normal(0, 1, len(panel))
    month = panel[c.DATE].dt.strftime("%Y-%m")
    calibration = drift.calibrate(panel[month < "2020-01"], FEATURES)

    def turning(frame, k):  # 1.5 days more each month, then back 40% of the way in one month
        shift = 1.5 * k if k <= 15 else 1.5 * 15 * 0.6
        return frame.assign(median_dom=frame["median_dom"] + shift)

    reports = _judged_with_the_month_before(panel, "2020-01", calibration, turning)
    f = next(f for f in reports[16]["features"] if f["feature"] == "median_dom")
    assert f["score"] > f["alone"] and f["step"] > f["step_alone"] and f["returning"]
    assert reports[16]["status"] == "warn", reports[16]["reasons"]
    assert any("on its way back" in r for r in reports[16]["reasons"])
