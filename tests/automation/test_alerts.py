"""Alerts for failed runs, told apart: a crash (step and error), a model the promotion gate
blocked (the verdict), a month quarantined by the contract check (the months and findings).
Real runs on a real instance, the real run-failure sensor, and a local HTTP receiver taking the
webhook's POSTs."""

import dagster as dg
import pytest

from housing_assets.defs.monitoring.alerts import alert_sensor
from housing_assets.resources.alerts import AlertNotifier
from housing_core.alerts import AlertNotDelivered
from housing_harness.failed_runs import FAILING, GATE_VERDICT, crashing_train
from housing_harness.webhook import webhook_receiver


@pytest.fixture
def receiver():
    """http://127.0.0.1:<port>/hook records each POSTed JSON; /broken answers 500."""
    with webhook_receiver() as (url, received):
        yield url, received


def failed_run(instance, job, tags=None) -> tuple[dg.DagsterRun, dg.DagsterEvent]:
    result = job.execute_in_process(instance=instance, tags=tags or {}, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = instance.get_records_for_run(
        result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
    ).records[0]
    return run, failure.event_log_entry.dagster_event


def tick(instance, run, event, url):
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_failure",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=event,
        resources={"alerts": AlertNotifier(webhook_url=url)},
    ).for_run_failure()
    return alert_sensor(30)(context)


def test_each_kind_of_failure_is_alerted_as_what_it_is(receiver):
    url, received = receiver
    with dg.instance_for_test() as instance:
        runs = [
            failed_run(instance, crashing_train),
            failed_run(
                instance, FAILING.resolve_job_def("train"), {"dagster/partition": "2022-01"}
            ),
            failed_run(instance, FAILING.resolve_job_def("ingest")),
        ]
        for run, event in runs:
            tick(instance, run, event, f"{url}/hook")
    crash, blocked, quarantine = received
    assert crash["kind"] == "run_failed" and crash["job"] == "train"
    assert crash["text"] == (
        "train failed: tuned_model: MemoryError: killed while tuning Fix the cause, then "
        f"re-execute run {crash['run_id'][:8]} from failure in the Dagster UI."
    )
    assert blocked["kind"] == "gate_blocked" and blocked["details"]["vintage"] == "2022-01"
    assert blocked["text"] == (
        f"The promotion gate blocked the model of train 2022-01: {GATE_VERDICT}. The champion "
        "keeps serving although it loses to a baseline on the same rows too; every verdict, "
        "with the champion's figures, is on GET /v1/gate."
    )
    assert quarantine["kind"] == "quarantined" and quarantine["details"]["months"] == ["2016-05"]
    assert "date_month == partition_month: 1 of 62 rows" in quarantine["text"]
    assert quarantine["fix"] == (
        "Deliver a corrected file for 2016-05; the new-data sensor ingests it by itself."
    )
    for alert in received:  # what a chat receiver shows whole: the fix always at its end
        assert len(alert["text"]) <= 400 and alert["text"].endswith(alert["fix"]), alert
    assert {a["run_id"] for a in received} == {run.run_id for run, _ in runs}


def test_a_gate_block_says_whether_the_champion_holds_the_bar_it_was_refused_by():
    from housing_assets.defs.monitoring.alerts import _champion_fix

    calm = "The champion keeps serving; every verdict is on GET /v1/gate."
    assert _champion_fix({}) == calm  # no champion, or one not compared
    assert _champion_fix({"champion_beats_baselines": dg.MetadataValue.bool(True)}) == calm
    losing = _champion_fix({"champion_beats_baselines": dg.MetadataValue.bool(False)})
    assert "loses to a baseline on the same rows too" in losing


def test_an_undelivered_alert_fails_the_tick_and_no_webhook_only_logs(receiver):
    url, received = receiver
    with dg.instance_for_test() as instance:
        run, event = failed_run(instance, crashing_train)
        with pytest.raises(AlertNotDelivered, match="HTTP Error 500"):
            tick(instance, run, event, f"{url}/broken")
        skipped = tick(instance, run, event, None)
    assert isinstance(skipped, dg.SkipReason)
    assert skipped.skip_message == "not sent, no webhook configured: Run failed: train"
    assert received == []


def test_a_champion_losing_to_persistence_two_months_running_is_alerted_once(receiver, tmp_path):
    """The gate held challengers to a bar the serving champion then failed, and nothing said
    so. Two landed months lost in a row: one alert naming them; the next tick says nothing new;
    a third month lost is news again."""
    from housing_assets.defs.monitoring.alerts import losing_sensor
    from housing_assets.resources.automation import RetrainPolicy
    from housing_assets.resources.serving_store import ServingStore
    from housing_core import live_performance as live
    from housing_core.storage import LocalStore
    from housing_harness.live import scored
    from housing_harness.tiny import tiny_model

    url, received = receiver
    serving = tmp_path / "serving"
    tiny_model().publish(serving)
    store = LocalStore(serving)
    model = ServingStore(root=str(serving)).champion().model_version
    sensor = losing_sensor(60)

    def land(month: str, model_error: float) -> None:
        live.write(store, live.record(scored(30, model_error, 0.02), month, model, "b"))

    def tick(cursor=None):
        context = dg.build_sensor_context(
            cursor=cursor,
            resources={
                "serving_store": ServingStore(root=str(serving)),
                "retrain_policy": RetrainPolicy(),
                "alerts": AlertNotifier(webhook_url=f"{url}/hook"),
            },
        )
        result = sensor(context)
        return result, context.cursor

    land("2022-07", 0.01)  # won
    land("2022-08", 0.05)  # lost
    result, cursor = tick()
    assert isinstance(result, dg.SkipReason) and "lost the latest 1 in a row" in result.skip_message
    land("2022-09", 0.04)  # lost again: two in a row
    _, cursor = tick(cursor)
    [alert] = received
    assert alert["kind"] == "champion_losing" and alert["details"]["months"] == [
        "2022-08",
        "2022-09",
    ]
    assert "lost to persistence live in 2022-08, 2022-09" in alert["text"]
    assert "MAPE 4.00% vs persistence 2.00%" in alert["text"]
    assert len(alert["text"]) <= 400 and alert["text"].endswith(alert["fix"])
    again, cursor = tick(cursor)
    assert isinstance(again, dg.SkipReason) and again.skip_message.startswith("already alerted")
    land("2022-10", 0.06)
    tick(cursor)
    assert [a["details"]["months"][-1] for a in received] == ["2022-09", "2022-10"]
