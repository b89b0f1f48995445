"""Drift reports keyed by (champion model version, month), the old layout read in place, and
which months a new champion needs recomputed."""

import json

import pytest

from housing_core import drift_reports as dr
from housing_core.automation import RetrainRules, plan_retrain
from housing_core.storage import LocalStore


def put(store, key, champion, status="ok"):
    store.write(key, json.dumps({"champion": champion, "status": status}).encode())


def test_each_champion_reads_only_its_own_reports_and_old_layout_counts_for_its_model(tmp_path):
    store = LocalStore(tmp_path)
    put(store, dr.key("3", "2022-01", "json"), "3")
    put(store, dr.key("4", "2022-01", "json"), "4", "error")
    put(store, "reports/drift/2021-12.json", "3")  # old layout, scored by model 3
    put(store, "reports/drift/2022-01.json", "3")  # shadowed by the new layout for model 3
    store.write("reports/drift/2021-11.json", b"{broken")
    assert dr.key("3", "2022-01", "html") == "reports/drift/v3/2022-01.html"
    assert json.loads(dr.read(store, "4", "2022-01"))["status"] == "error"
    assert dr.read(store, "4", "2021-12") is None and dr.read(store, "3", "2021-12") is not None
    assert list(dr.report_keys(store, "3")) == ["2021-12", "2022-01"]
    assert dr.report_keys(store, "3")["2022-01"] == "reports/drift/v3/2022-01.json"
    assert dr.champions(store) == ["3", "4"]
    assert list(dr.unreadable_legacy(store)) == ["reports/drift/2021-11.json"]


@pytest.mark.parametrize("bad", ["../x", "", "a/b"])
def test_a_model_version_that_is_not_a_path_segment_is_refused(bad):
    with pytest.raises(ValueError, match="invalid model version"):
        dr.key(bad, "2022-01", "json")


@pytest.mark.parametrize(
    ("recent", "have", "expected"),
    [
        (3, [], ["2022-02", "2022-03", "2022-04"]),  # the 3 latest, the window's after included
        (0, [], ["2022-03", "2022-04"]),
        (6, ["2021-12", "2022-03"], ["2022-01", "2022-02", "2022-04"]),
        (6, ["2021-12", "2022-01", "2022-02", "2022-03", "2022-04"], []),
    ],
)
def test_months_to_recompute(recent, have, expected):
    cleaned = ["2021-12", "2022-01", "2022-02", "2022-03", "2022-04"]
    assert dr.months_to_recompute(cleaned, "2022-02", have, recent) == expected


def test_span_names_stretches_across_year_ends():
    assert (
        dr.span(["2022-05", "2021-12", "2022-01", "2022-03"])
        == "2021-12..2022-01, 2022-03, 2022-05"
    )


def test_retrain_waits_naming_the_live_model_and_its_missing_months():
    months = ["2022-01", "2022-02", "2022-03", "2022-05"]
    decision = plan_retrain(
        "b",
        "2021-01",
        "2021-12",
        months,
        {"2022-01": {"status": "ok"}},
        RetrainRules(),
        model_version="3",
    )
    assert not decision.retrain
    assert "waiting for drift reports of model v3 for 2022-02..2022-03, 2022-05" in decision.reason
