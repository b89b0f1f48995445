"""End to end: a champion from data to 2021, then 2022-01..2022-12 dropped into the landing area
one month at a time, with both sensors evaluated after each and every decision checked against
the rules restated here. Reduced scale and trials; the same loop through a real daemon, with bad
months among the good, is tests/automation/test_operator_scenario.py."""

import contextlib
import json
import time

import dagster as dg
import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from housing_assets.definitions import build_definitions
from housing_assets.resources.automation import RetrainPolicy
from housing_assets.runner import forecast, ingest, register_months, train
from housing_core import bundle, drift_reports
from housing_core.automation import RetrainRules
from housing_core.cleaning import clean_month
from housing_core.settings import Settings
from housing_core.synthetic import SyntheticSpec, generate_panel
from housing_harness.loopback import serve_in_thread
from housing_serving.app import create_app
from housing_serving.settings import ServingSettings
from tests.automation.daemon import InProcessDaemon
from tests.conftest import TUNING, frames_by_month

# The whole automation loop over a simulated year (~90 s): the end-to-end tier.
pytestmark = pytest.mark.slow

POLICY = RetrainPolicy(
    n_trials=2,
    forecast_trials=4,
    every_months=6,
    mape_ratio=1.5,
    holdout_months=12,
    cooldown_months=3,
)
RULES = RetrainRules(
    every_months=6, on_drift_status="error", mape_ratio=1.5, holdout_months=12, cooldown_months=3
)


def months_between(a: str, b: str) -> int:
    (ya, ma), (yb, mb) = map(int, a.split("-")), map(int, b.split("-"))
    return (yb - ya) * 12 + mb - ma


def expected_decision(
    champion: dict, cleaned: list[str], reports: dict, last_attempt: str | None
) -> bool:
    """The rules, restated independently of housing_core/automation.py: should this tick retrain?"""
    until = champion["windows"]["holdout"]["last"]
    new = [m for m in cleaned if m > until]
    if not new or any(m not in reports for m in new):
        return False
    year, month = map(int, new[-1].split("-"))
    index = year * 12 + month - 1 - (RULES.holdout_months - 1)
    vintage = f"{index // 12}-{index % 12 + 1:02d}"
    if vintage <= champion["vintage"]:
        return False
    if last_attempt and months_between(last_attempt, new[-1]) < RULES.cooldown_months:
        return False
    decay = any((reports[m]["mape_ratio"] or 0) > RULES.mape_ratio for m in new)
    drift = any(reports[m]["status"] == RULES.on_drift_status for m in new)
    return decay or drift or len(new) >= RULES.every_months


def forecast_origin(api: str) -> str | None:
    return httpx.get(f"{api}/v1/forecast").json().get("origin")


def history_served(api: str) -> str | None:
    return httpx.get(f"{api}/v1/model").json().get("history_until")


def wait_until(condition, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def next_month(by_month: dict, month: str) -> list[dict]:
    """One clean row of the month after `month` as a client sends it, price left out (the last
    month has no successor in the panel: its row is moved a month on)."""
    following = str(pd.Period(month, "M") + 1)
    frame = clean_month(by_month.get(following, by_month[month]))[0].head(1)
    frame = frame.drop(columns=["price"]).assign(date=following, year=int(following[:4]))
    return json.loads(frame.to_json(orient="records"))


def test_new_months_flow_to_drift_reports_retraining_and_the_api(tmp_path):
    panel = generate_panel(SyntheticSpec(seed=5, scale=0.01))
    by_month = frames_by_month(panel)
    landing = tmp_path / "landing"
    landing.mkdir()
    history = sorted(m for m in by_month if m <= "2021-12")
    arriving = sorted(m for m in by_month if "2022-01" <= m <= "2022-12")
    assert len(arriving) == 12
    for month in history:
        by_month[month].to_parquet(landing / f"{month}.parquet", index=False)
    settings = Settings(home=tmp_path / "home", source=str(landing))
    defs = build_definitions(settings, resources={"retrain_policy": POLICY})
    store = bundle.LocalStore(settings.serving_dir)

    with dg.instance_for_test() as instance, contextlib.ExitStack() as stack:
        register_months(instance, history)
        ingest(defs, instance, history, say=lambda _: None)
        first = train(defs, instance, "2021-01", TUNING, say=lambda _: None)
        assert first.published, first.gate
        forecaster = forecast(defs, instance, "2021-01", 4, say=lambda _: None)
        assert forecaster.published, forecaster.gate
        daemon = InProcessDaemon(defs, instance)
        assert "adopted" in daemon.tick("new_source_months").skipped
        api = stack.enter_context(
            serve_in_thread(ServingSettings(store=str(settings.serving_dir), poll_seconds=0.2))
        )
        assert history_served(api) == "2021-12"

        decisions, last_attempt, forecaster_version = [], None, forecaster.version
        for month in arriving:
            by_month[month].to_parquet(landing / f"{month}.parquet", index=False)
            tick = daemon.tick("new_source_months")
            assert [(r.partition_key, r.job_name) for r in tick.run_requests] == [
                (month, "ingest_and_monitor")
            ]
            assert tick.results[0].success, month
            champion = json.loads(
                store.read(f"bundles/{bundle.current_version(store)}/provenance.json")
            )
            model = champion.get("model_version", champion["version"])
            report = json.loads(drift_reports.read(store, model, month) or b"null")
            assert report["month"] == month and report["status"] in {"ok", "warn", "error"}
            assert report["champion"] == model
            assert drift_reports.read(store, model, month, "html") is not None
            # The month reached the served history without a retrain, and the running API
            # anchors the next month's rows on it.
            assert champion["history_until"] == month
            assert wait_until(lambda m=month: history_served(api) == m), month
            answer = httpx.post(f"{api}/v1/predict", json={"rows": next_month(by_month, month)})
            assert answer.status_code == 200, answer.text
            row = answer.json()["predictions"][0]
            assert (row["anchor_month"], row["horizon"]) == (month, 1)
            # The month also advanced the published forecasts (the API serves them from it),
            # and the forecasts issued earlier for it were scored.
            assert wait_until(lambda m=month: forecast_origin(api) == m), month
            card = defs.resources["io_manager"].stored("forecast_scorecard", month)
            assert card["points"] > 0 and card["by_bucket"]["1-3"]["points"] > 0, month
            assert card["forecaster"].startswith(forecaster_version), card["forecaster"]
            cleaned = sorted(instance.get_materialized_partitions(dg.AssetKey("cleaned_monthly")))
            reports = {  # only the live model's view counts
                m: json.loads(raw)
                for m in cleaned
                if (raw := drift_reports.read(store, model, m)) is not None
            }
            should = expected_decision(champion, cleaned, reports, last_attempt)
            retrain = daemon.tick("retrain_on_drift_or_new_data")
            assert bool(retrain.run_requests) == should, (month, retrain.skipped)
            if retrain.run_requests:
                last_attempt = month
                (request,) = retrain.run_requests
                (result,) = retrain.results
                gate = [
                    e
                    for e in result.get_asset_check_evaluations()
                    if e.check_name == "promotion_gate"
                ]
                assert gate, f"{month}: the gate was not applied"
                published = bundle.current_version(store)
                assert published.startswith(request.partition_key) == gate[0].passed
                decisions.append(
                    (month, request.tags["housing/trigger"], gate[0].passed, published)
                )
                # The retrained vintage's forecaster follows, under its own gate.
                follow = daemon.tick("forecast_after_retrain")
                assert [(r.partition_key, r.job_name) for r in follow.run_requests] == [
                    (request.partition_key, "forecast")
                ], follow.skipped
                forecast_gate = [
                    e
                    for e in follow.results[0].get_asset_check_evaluations()
                    if e.check_name == "forecast_beats_persistence"
                ]
                assert forecast_gate, f"{month}: the forecaster's gate was not applied"
                live_forecaster = bundle.current_version(store, bundle.FORECAST)
                assert live_forecaster.startswith(request.partition_key) == forecast_gate[0].passed
                forecaster_version = live_forecaster.split(".m")[0]  # before any month advanced it
                assert daemon.tick("forecast_after_retrain").run_requests == []  # once
            else:
                assert retrain.skipped

        # Every arriving month ingested exactly once, each with its report and predictions.
        runs = [r for r in instance.get_runs() if r.job_name == "ingest_and_monitor"]
        assert sorted(r.tags["dagster/partition"] for r in runs) == arriving
        assert instance.get_materialized_partitions(dg.AssetKey("batch_predictions")) == set(
            arriving
        )
        # A year of scored forecasts: by December, forecasts issued up to 12 months before.
        last = defs.resources["io_manager"].stored("forecast_scorecard", "2022-12")
        assert last["origins"] == 12 and set(last["by_bucket"]) == {"1-3", "4-6", "7-12"}
        assert decisions, "a year of new data never retrained"
        assert any(d[2] for d in decisions), f"no retrained model passed the gate: {decisions}"

        expected = bundle.current_version(store)
        with TestClient(
            create_app(ServingSettings(store=str(settings.serving_dir), poll_seconds=0))
        ) as client:
            served = client.get("/v1/model").json()
            assert served["version"] == expected and served["history_until"] == arriving[-1]
        # The last promoted model still serves, its history refreshed month by month since.
        assert served["model_version"] == [d[3] for d in decisions if d[2]][-1]
        print("retraining decisions:", decisions)
