"""Monitoring routes: the bundle timeline and the drift reports the pipeline publishes."""

import io
import json

import numpy as np
import pandas as pd
import pytest

from housing_core import bundle, drift
from tests.serving.conftest import API_KEY, make_client, republish

LIVE = "2022-01-v1"  # the test bundle carries no MLflow version: its model version is its own


def publish_report(
    store, month: str, shift: float, champion: str = LIVE, legacy=False, rendered=False
) -> dict:
    """A report as `champion` scored it; `legacy`: in the old reports/drift/<month> layout;
    `rendered`: with the page the pipeline renders (plots and all), else a one-line stand-in."""
    r = np.random.default_rng(0)
    reference = pd.DataFrame({"inventory": r.normal(0, 1, 500), "median_dom": r.normal(0, 1, 500)})
    current = reference + shift
    predictions = r.lognormal(12, 0.2, 500), r.lognormal(12 + shift / 10, 0.2, 500)
    report = drift.compare(
        reference,
        current,
        ["inventory", "median_dom"],
        reference_prediction=predictions[0],
        prediction=predictions[1],
        actual=None,
        champion_mape=4.0,
    ) | {"month": month, "champion": champion}
    local = bundle.LocalStore(store)
    folder = "reports/drift" if legacy else f"reports/drift/v{champion}"
    local.write(f"{folder}/{month}.json", json.dumps(report).encode())
    page = (
        drift.html(month, report, reference, current, *predictions, champion)
        if rendered
        else f"<!doctype html><h1>Drift by {champion}</h1>"
    )
    local.write(f"{folder}/{month}.html", page.encode())
    return report


def test_models_timeline_lists_every_bundle_and_the_live_one(store):
    with make_client(store) as client:
        (only,) = client.get("/v1/models").json()["models"]
        assert only["live"] and only["trigger"] == "manual" and only["holdout_mape"] > 0
        republish(store, "2022-01-v2")
        models = client.get("/v1/models").json()["models"]
    assert {m["version"]: m["live"] for m in models} == {"2022-01-v1": False, "2022-01-v2": True}


def test_drift_overview_and_reports(store):
    with make_client(store) as client:
        assert client.get("/v1/drift").json() == {
            "champion": LIVE,
            "live": True,
            "champions": [],
            "months": [],
            "unreadable": [],
        }
        calm = publish_report(store, "2022-02", 0.0)
        rough = publish_report(store, "2022-01", 2.0)
        months = client.get("/v1/drift").json()["months"]
        assert [m["month"] for m in months] == ["2022-01", "2022-02"]
        assert months[0]["status"] == rough["status"] == "error" and months[1]["status"] == "ok"
        psi = {f["feature"]: f["psi"] for f in rough["features"]}
        assert months[0]["psi"] == psi and min(psi.values()) > 1
        # Each feature's score over its own threshold, as the report judged it (>1: drifting).
        severity = {f["feature"]: f["severity"] for f in rough["features"]}
        assert months[0]["severity"] == severity and min(severity.values()) > 1
        assert max(months[1]["severity"].values()) < 1
        assert calm["share_drifting"] == months[1]["share_drifting"] == 0
        full = client.get("/v1/drift/2022-01").json()
        assert full["reasons"] == rough["reasons"]
        page = client.get("/v1/drift/2022-01/report")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        missing = client.get("/v1/drift/2023-05")
        assert missing.status_code == 404
        assert f"no drift report for 2023-05 scored by model v{LIVE}" in missing.text
        assert client.get("/v1/drift/2023-13").status_code == 422


def test_the_drift_page_loads_nothing_from_elsewhere_and_its_policy_says_so(store):
    """A strict Content-Security-Policy on the one HTML report the API serves: the page needs
    nothing but its inline style and data: images, so a script slipped into it would not run."""
    import re

    publish_report(store, "2022-01", 2.0, rendered=True)
    with make_client(store) as client:
        page = client.get("/v1/drift/2022-01/report")
    policy = dict(
        p.strip().split(" ", 1) for p in page.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'" and policy["img-src"] == "data:"
    assert policy["frame-ancestors"] == "'none'" and "script-src" not in policy
    sources = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in page.text.lower()


def test_an_unreadable_stored_file_is_listed_as_such_and_the_routes_answer(store):
    """One tampered bundle and one malformed report: the others are still listed, the broken
    ones are named with the reason, and nothing answers 500."""
    republish(store, "2022-01-v2")
    (store / "bundles" / "2022-01-v1" / "provenance.json").write_text('{"vintage": "x"}')
    publish_report(store, "2022-02", 0.0)
    (store / "reports" / "drift" / f"v{LIVE}" / "2022-03.json").write_text('{"month": "2022-03"')
    (store / "reports" / "drift" / "2021-12.json").write_text("[1, 2")  # old layout, broken
    with make_client(store) as client:
        timeline = client.get("/v1/models")
        reports = client.get("/v1/drift")
        one = client.get("/v1/drift/2022-03")
    assert timeline.status_code == 200 and reports.status_code == 200
    assert [m["version"] for m in timeline.json()["models"]] == ["2022-01-v2"]
    (broken,) = timeline.json()["unreadable"]
    assert broken["version"] == "2022-01-v1" and "checksum" in broken["error"]
    assert [m["month"] for m in reports.json()["months"]] == ["2022-02"]
    bad, old = reports.json()["unreadable"]
    assert bad["report"] == "2022-03.json" and "JSONDecodeError" in bad["error"]
    assert old["report"] == "2021-12.json" and "JSONDecodeError" in old["error"]
    assert one.status_code == 503 and "unreadable" in one.json()["detail"][0]["message"]


def test_drift_shows_the_live_champions_view_and_another_on_request(store):
    """Reports of a superseded model stay readable by name but never mix into the live view; an
    old-layout report counts for the model it names."""
    publish_report(store, "2022-01", 2.0, champion="7")  # a superseded model: drifted
    publish_report(store, "2022-01", 0.0)  # the live one: calm
    publish_report(store, "2022-02", 0.0, legacy=True)  # old layout, scored by the live model
    publish_report(store, "2021-12", 0.0, champion="7", legacy=True)  # old layout, model 7
    with make_client(store) as client:
        live = client.get("/v1/drift").json()
        old = client.get("/v1/drift", params={"champion": "7"}).json()
        one = client.get("/v1/drift/2022-01").json()
        old_one = client.get("/v1/drift/2022-01", params={"champion": "7"}).json()
        page = client.get("/v1/drift/2022-01/report", params={"champion": "7"})
        unknown = client.get("/v1/drift", params={"champion": "9"})
        unknown_month = client.get("/v1/drift/2022-01", params={"champion": "9"})
        bad = client.get("/v1/drift", params={"champion": "../x"})
        live_missing = client.get("/v1/drift/2021-12")
    assert live["champion"] == LIVE and live["live"] and live["champions"] == [LIVE, "7"]
    assert [(m["month"], m["status"]) for m in live["months"]] == [
        ("2022-01", "ok"),
        ("2022-02", "ok"),
    ]
    assert old["champion"] == "7" and not old["live"]
    assert [(m["month"], m["status"]) for m in old["months"]] == [
        ("2021-12", "ok"),
        ("2022-01", "error"),
    ]
    assert one["champion"] == LIVE and one["status"] == "ok"
    assert old_one["champion"] == "7" and old_one["status"] == "error"
    assert page.headers["x-drift-champion"] == "7" and "Drift by 7" in page.text
    for response in (unknown, unknown_month):
        assert response.status_code == 404
        message = response.json()["detail"][0]["message"]
        assert "no drift reports for model version '9'" in message and "2022-01-v1, 7" in message
    assert bad.status_code == 422
    assert live_missing.status_code == 404 and f"scored by model v{LIVE}" in live_missing.text


def test_unknown_paths_and_methods_answer_in_the_error_envelope(store):
    with make_client(store) as client:
        for response, status in (
            (client.get("/v1/nope"), 404),
            (client.delete("/v1/predict"), 405),
        ):
            assert response.status_code == status
            (entry,) = response.json()["detail"]
            assert set(entry) == {"row", "field", "message"} and entry["message"]


def record_verdict(store, version: str, passed: bool, reasons: list[str], at: str) -> None:
    from housing_core import verdicts

    doc = verdicts.document(
        vintage="2022-01",
        model_version=version,
        passed=passed,
        reasons=reasons,
        notes=[],
        model_mape=4.2,
        champion="2022-01-v1",
        run_id=f"run-{version}",
        decided_at=at,
    )
    bundle.LocalStore(store).write(f"reports/{verdicts.report_name('2022-01', version)}", doc)


def test_gate_lists_rejected_models_with_their_reason_next_to_promoted_ones(store):
    """A rejected model never becomes a bundle, so the timeline cannot show it; the gate's verdicts are their own list, a rejection with its reason."""
    with make_client(store) as client:
        assert client.get("/v1/gate").json() == {"verdicts": [], "unreadable": []}
        record_verdict(
            store, "2", False, ["does not beat persistence in 1-3"], "2026-01-02T00:00:00+00:00"
        )
        record_verdict(store, "1", True, [], "2026-01-01T00:00:00+00:00")
        bundle.LocalStore(store).write("reports/gate/2022-01-v3.json", b'{"verdict": "maybe"')
        answer = client.get("/v1/gate").json()
        models = client.get("/v1/models").json()["models"]
    first, second = answer["verdicts"]
    assert (first["model_version"], first["verdict"], first["reasons"]) == ("1", "promoted", [])
    assert second["verdict"] == "rejected" and second["reasons"] == [
        "does not beat persistence in 1-3"
    ]
    assert second["run_id"] == "run-2" and second["model_mape"] == 4.2
    (bad,) = answer["unreadable"]
    assert bad["record"] == "2022-01-v3.json" and "JSONDecodeError" in bad["error"]
    assert len(models) == 1  # the bundle timeline is unchanged: only what was published


def test_live_lists_the_champions_months_against_persistence_and_its_losing_streak(store):
    from housing_core import live_performance as live
    from housing_harness.live import scored

    local = bundle.LocalStore(store)
    for month, (model_error, anchor_error) in {
        "2022-07": (0.01, 0.03),  # won
        "2022-08": (0.05, 0.02),  # lost
        "2022-09": (0.04, 0.01),  # lost
    }.items():
        live.write(local, live.record(scored(30, model_error, anchor_error), month, LIVE, "b"))
    live.write(local, live.record(scored(30, 0.05, 0.0), "2022-08", "another-model", "b"))
    local.write(f"reports/live/v{LIVE}/2022-10.json", b"{cut")
    with make_client(store) as client:
        answer = client.get("/v1/live").json()
    assert answer["champion"] == LIVE
    assert [m["month"] for m in answer["months"]] == ["2022-07", "2022-08", "2022-09"]
    assert [m["losing"] for m in answer["months"]] == [False, True, True]
    assert answer["months"][1]["mape"] == pytest.approx(5.0)
    assert answer["losing_streak"] == ["2022-08", "2022-09"]
    assert answer["unreadable"][0]["record"] == "2022-10.json"


def test_a_losing_champion_gives_way_to_persistence_flagged_until_it_wins(store, holdout, tiny):
    """The policy's fallback: while the live record says the champion lost its months in a
    row, every answer says persistence serves and each row with zip history is its zip's last
    price; a record about another model, or a month won, puts the model back."""
    from housing_core import live_performance as live
    from housing_harness.live import scored
    from tests.serving.conftest import records

    local = bundle.LocalStore(store)
    lost = [live.record(scored(30, 0.05, 0.01), m, LIVE, "b") for m in ("2022-08", "2022-09")]
    rows = records(holdout.head(20))
    rows[0]["zipcode"] = 501  # a zip the model never saw: no persistence to give
    with make_client(store) as client:

        def ask() -> dict:
            client.post("/v1/admin/reload", headers={"X-API-Key": API_KEY})
            return client.post("/v1/predict", json={"rows": rows}).json()

        model = ask()
        assert model["served_by"] == "model"
        live.write_fallback(local, live.fallback(lost, LIVE, losing_months=2))
        fallen = ask()
        assert fallen["served_by"] == "persistence"
        assert client.get("/v1/live").json()["fallback"]["months"] == ["2022-08", "2022-09"]
        assert fallen["predictions"][0]["prediction"] == model["predictions"][0]["prediction"]
        assert "persistence" not in fallen["predictions"][0]["flags"]
        for was, now in zip(model["predictions"][1:], fallen["predictions"][1:], strict=True):
            assert "persistence" in now["flags"] and now["prediction"] != was["prediction"]
            move = now["prediction"] / was["prediction"]
            assert now["interval_80"] == pytest.approx([b * move for b in was["interval_80"]])
        csv = client.post("/v1/predict/csv", files={"file": ("r.csv", _csv(holdout.head(3)))})
        assert set(pd.read_csv(io.StringIO(csv.text))["served_by"]) == {"persistence"}
        # Persistence itself: each zip's price in its anchor month, as the panel has it.
        panel = tiny.splits.assign(month=tiny.splits["date"].dt.strftime("%Y-%m"))
        price = panel.set_index(["zipcode", "month"])["price"]
        for row, now in zip(rows[1:], fallen["predictions"][1:], strict=True):
            assert now["prediction"] == pytest.approx(price[row["zipcode"], now["anchor_month"]])
        live.write_fallback(local, live.fallback(lost, "another-model", losing_months=2))
        assert ask()["served_by"] == "model"
        won = [*lost, live.record(scored(30, 0.01, 0.05), "2022-10", LIVE, "b")]
        live.write_fallback(local, live.fallback(won, LIVE, losing_months=2))
        assert ask()["served_by"] == "model"


def _csv(frame: pd.DataFrame) -> bytes:
    out = frame.drop(columns=["split"], errors="ignore").copy()
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    return out.to_csv(index=False).encode()
