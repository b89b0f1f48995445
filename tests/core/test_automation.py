"""The sensors' decisions as plain functions."""

from housing_core.automation import (
    Attempt,
    FailedBatch,
    InFlight,
    IngestRequest,
    RetrainDecision,
    RetrainRules,
    after_failure,
    batch_runs,
    describe_overlaps,
    held_months,
    overlapping_runs,
    plan_ingest,
    plan_retrain,
    read_cursor,
    retry_failed_batches,
    with_retries,
)


def test_new_months_are_requested_once_and_the_cursor_remembers_them():
    plan = plan_ingest({"2022-01": "aaa", "2022-02": "bbb"}, {}, set(), set())
    assert plan.add_partitions == ["2022-01", "2022-02"]
    assert [(r.month, r.reason) for r in plan.requests] == [
        ("2022-01", "new month"),
        ("2022-02", "new month"),
    ]
    again = plan_ingest(
        {"2022-01": "aaa", "2022-02": "bbb"},
        read_cursor(plan.cursor_json()),
        {"2022-01", "2022-02"},
        set(),
    )
    assert again.requests == [] and again.add_partitions == []


def test_changed_content_reingests_with_a_new_run_key_even_back_to_old_bytes():
    cursor = plan_ingest({"2022-01": "aaa"}, {}, set(), set()).cursor
    first_key = "ingest-2022-01-g0-aaa"
    changed = plan_ingest({"2022-01": "bbb"}, cursor, {"2022-01"}, set())
    (request,) = changed.requests
    assert request.reason == "changed content" and request.run_key == "ingest-2022-01-g1-bbb"
    back = plan_ingest({"2022-01": "aaa"}, changed.cursor, {"2022-01"}, set())
    (request,) = back.requests
    assert request.run_key == "ingest-2022-01-g2-aaa" != first_key


def test_first_tick_adopts_months_already_ingested():
    plan = plan_ingest({"2021-12": "x", "2022-01": "y"}, None, {"2021-12"}, {"2021-12"})
    assert plan.adopted == ["2021-12"]
    assert [r.month for r in plan.requests] == ["2022-01"]
    # Adoption happens on the first tick only: later, a month without a cursor entry is new.
    later = plan_ingest({"2021-11": "w"}, {}, set(), {"2021-11"})
    assert [r.month for r in later.requests] == ["2021-11"]


RULES = RetrainRules(
    every_months=6, on_drift_status="error", mape_ratio=1.5, holdout_months=3, cooldown_months=3
)


def report(status="ok", mape_ratio=1.0):
    return {
        "status": status,
        "reasons": [f"{status} reason"],
        "mape": 4.0 * mape_ratio,
        "mape_ratio": mape_ratio,
    }


def decide(months, reports, vintage="2021-10", until="2021-12", last_attempt=None):
    return plan_retrain("2021-10-v1", vintage, until, months, reports, RULES, last_attempt)


def test_no_new_months_or_missing_reports_never_retrain():
    assert not decide(["2021-11", "2021-12"], {}).retrain
    waiting = decide(["2022-01"], {})
    assert (
        not waiting.retrain
        and "waiting for drift reports of champion 2021-10-v1 for 2022-01" in waiting.reason
    )


def test_quiet_months_retrain_only_when_enough_have_accumulated():
    months = [f"2022-{m:02d}" for m in range(1, 7)]
    reports = {m: report() for m in months}
    five = decide(months[:5], {m: reports[m] for m in months[:5]})
    assert not five.retrain and "5 new month(s)" in five.reason
    six = decide(months, reports)
    assert six.retrain and six.trigger == "new-data" and six.vintage == "2022-04"


def test_drift_error_or_mape_decay_retrains_at_once_and_warn_does_not():
    assert not decide(["2022-01"], {"2022-01": report("warn", 1.2)}).retrain
    drifted = decide(["2022-01"], {"2022-01": report("error", 1.2)})
    assert drifted.retrain and drifted.trigger == "drift" and drifted.vintage == "2021-11"
    decayed = decide(["2022-01"], {"2022-01": report("warn", 1.6)})
    assert decayed.retrain and decayed.trigger == "performance" and "1.60x" in decayed.reason


def test_losing_to_persistence_live_two_months_in_a_row_retrains_first():
    """The champion's live error is what users meet: two landed months lost to persistence in a
    row retrain, naming them, before any drift reason; a month won in between resets it."""
    months = ["2022-01", "2022-02", "2022-03"]
    quiet = {m: report() for m in months}

    def live(*verdicts):
        return [
            {"month": m, "losing": v, "mape": 5.0, "persistence_mape": 2.0}
            for m, v in zip(months, verdicts, strict=True)
        ]

    lost = plan_retrain("2021-10-v1", "2021-10", "2021-12", months, quiet, RULES,
                        live=live(False, True, True))  # fmt: skip
    assert lost.retrain and lost.trigger == "live-loss"
    assert lost.reason.startswith(
        "the champion lost to persistence live in 2022-02, 2022-03: 2022-03 MAPE 5.00% vs "
        "persistence 2.00%"
    )
    for verdicts in [(True, False, True), (False, False, True), (True, None, None)]:
        kept = plan_retrain("2021-10-v1", "2021-10", "2021-12", months, quiet, RULES,
                            live=live(*verdicts))  # fmt: skip
        assert not kept.retrain, verdicts
    # A month too thin to judge neither breaks nor extends a streak.
    thin = plan_retrain("2021-10-v1", "2021-10", "2021-12", months, quiet, RULES,
                        live=live(True, None, True))  # fmt: skip
    assert thin.retrain and "2022-01, 2022-03" in thin.reason


def test_a_vintage_not_after_the_champions_is_never_requested():
    # Champion vintage 2022-01 (data to 2022-02), one new month: 2022-03 - 2 = 2022-01, not newer.
    d = plan_retrain(
        "2022-01-v2", "2022-01", "2022-02", ["2022-03"], {"2022-03": report("error")}, RULES
    )
    assert not d.retrain and "too few" in d.reason


def test_a_cooldown_spaces_retraining_attempts():
    reports = {m: report("error") for m in ("2022-01", "2022-02", "2022-03", "2022-04")}
    months = sorted(reports)
    hold = decide(months[:2], reports, last_attempt="2022-01")
    assert not hold.retrain and "cooldown" in hold.reason and "1 of 3 months" in hold.reason
    assert "the last retraining that reached the gate" in hold.reason
    assert decide(months, reports, last_attempt="2022-01").retrain


def crash(n: int, ended_at: float) -> Attempt:
    return Attempt(f"crash{n}xxxxx", "2022-04", False, False, ended_at, "tuned_model: OOM")


GATED = Attempt("gated0xxxxx", "2022-01", False, True, 0.0)
GO = RetrainDecision(True, "drift error in 2022-04: psi", "drift", "2021-05")


def test_a_crash_does_not_count_toward_the_cooldown_and_is_retried_with_backoff():
    rules = RetrainRules(max_retries=2, retry_backoff_minutes=10)
    assert with_retries(GO, [GATED], rules, now=1e6) == (GO, 0)  # no crash: as decided
    t0 = 1_000_000.0
    early, n = with_retries(GO, [crash(1, t0), GATED], rules, now=t0 + 60)
    assert not early.retrain and n == 1
    assert early.reason == (
        "run crash1xx crashed before the gate (tuned_model: OOM); retry 1 of 2 in 9 min "
        "(drift error in 2022-04: psi)"
    )
    due, n = with_retries(GO, [crash(1, t0), GATED], rules, now=t0 + 601)
    assert due.retrain and n == 1 and due.vintage == "2021-05"
    assert due.reason.startswith("retry 1 of 2 after run crash1xx crashed before the gate")
    # The second retry waits twice as long; after max_retries crashes it stops and says why.
    second, _ = with_retries(GO, [crash(2, t0), crash(1, t0 - 9), GATED], rules, now=t0 + 601)
    assert not second.retrain and "retry 2 of 2 in 10 min" in second.reason
    stop, _ = with_retries(GO, [crash(3, t0), crash(2, t0), crash(1, t0)], rules, now=t0 + 1e6)
    assert not stop.retrain and stop.reason.startswith("3 retrainings in a row crashed")


def test_the_cooldown_counts_only_attempts_that_reached_the_gate():
    from housing_core.automation import gated

    assert gated([crash(1, 0.0), GATED]) is GATED  # the crash is skipped
    assert gated([crash(1, 0.0)]) is None


def test_contiguous_months_are_batched_into_one_run_each_stretch():
    order = ["2021-11", "2021-12", "2022-01", "2022-02", "2022-03"]
    requests = [IngestRequest(m, f"k-{m}", "new month") for m in ("2022-03", "2021-11", "2021-12")]
    runs = batch_runs(requests, order)
    assert [(r.first, r.last, r.months) for r in runs] == [
        ("2021-11", "2021-12", ("2021-11", "2021-12")),
        ("2022-03", "2022-03", ("2022-03",)),
    ]
    assert runs[1].run_key == "k-2022-03"  # a single month keeps its own key
    again = batch_runs(list(reversed(requests)), order)
    assert [r.run_key for r in again] == [r.run_key for r in runs]  # deterministic keys


ORDER = ["2019-01", "2019-02", "2019-03", "2019-04", "2019-05", "2019-06"]


def test_after_failure_quarantines_named_months_and_reruns_the_rest_together():
    assert after_failure("2019-01", "2019-06", ORDER, ["2019-03"]) == [
        ("2019-01", "2019-02"),
        ("2019-04", "2019-06"),
    ]
    assert after_failure("2019-02", "2019-04", ORDER, ["2019-02", "2019-04"]) == [
        ("2019-03", "2019-03")
    ]
    assert after_failure("2019-01", "2019-02", ORDER, ["2019-01", "2019-02"]) == []


def test_after_a_crash_every_month_runs_alone():
    assert after_failure("2019-02", "2019-04", ORDER, None) == [
        ("2019-02", "2019-02"),
        ("2019-03", "2019-03"),
        ("2019-04", "2019-04"),
    ]
    assert after_failure("2018-12", "2019-02", ORDER, None) == []  # a range no longer known


def test_failed_batches_are_retried_once_by_the_same_policy():
    named = FailedBatch("ingest-a", "2019-01", "2019-06", ("2019-03",))
    crashed = FailedBatch("ingest-b", "2019-01", "2019-02", None)
    runs = retry_failed_batches([named, crashed], set(), ORDER, busy={"2019-05"})
    assert [(r.first, r.last, r.run_key) for r in runs] == [
        ("2019-01", "2019-02", "ingest-a/2019-01..2019-02"),
        ("2019-04", "2019-04", "ingest-a/alone-2019-04"),  # 2019-05 runs anyway this tick
        ("2019-06", "2019-06", "ingest-a/alone-2019-06"),
        ("2019-01", "2019-01", "ingest-b/alone-2019-01"),
        ("2019-02", "2019-02", "ingest-b/alone-2019-02"),
    ]
    assert runs[0].months == ("2019-01", "2019-02")
    assert runs[0].reason.startswith("retry without 2019-03 (quarantined)")
    assert runs[-1].reason.startswith("retry alone")
    assert retry_failed_batches([named, crashed], {"ingest-a", "ingest-b"}, ORDER, set()) == []


def test_a_month_is_held_while_its_newest_ingest_failed():
    newest_first = [
        (["2022-02"], False),  # the corrected file of 2022-02 landed and passed
        (["2022-01", "2022-02", "2022-03"], True),  # the batch that quarantined two of them
        (["2021-12"], True),  # a re-delivery that crashed, never retried ...
        (["2021-12"], False),  # ... after the month's first ingest passed: the newest decides
    ]
    assert held_months(newest_first) == ["2021-12", "2022-01", "2022-03"]
    assert held_months([]) == []


def test_of_two_overlapping_runs_only_the_later_one_stops():
    early = InFlight("run-a", 100.0, "2020-01", "2020-06")
    late = InFlight("run-b", 101.0, "2020-05", "2020-12")
    months = ["2020-05", "2020-06", "2020-07"]
    assert overlapping_runs(months, late, [early]) == {"run-a": ["2020-05", "2020-06"]}
    assert overlapping_runs(["2020-01", "2020-05"], early, [late]) == {}
    # Started in the same instant: the run id decides, so exactly one of them stops.
    twin = InFlight("run-0", 101.0, "2020-07", "2020-07")
    assert overlapping_runs(months, late, [twin]) == {"run-0": ["2020-07"]}
    assert overlapping_runs(["2020-07"], twin, [late]) == {}
    # Disjoint months, a run not yet started, a run naming no months: nothing to wait for.
    others = [
        InFlight("run-c", 50.0, "2021-01", "2021-06"),
        InFlight("run-d", None, "2020-01", "2020-12"),
        InFlight("run-e", 50.0),
    ]
    assert overlapping_runs(months, late, others) == {}


def test_a_run_stopped_for_an_overlap_names_the_months_and_the_other_run():
    line = describe_overlaps({"run-a": ["2020-05", "2020-06"], "run-0": ["2020-08"]})
    assert "2020-05..2020-06 (run run-a); 2020-08 (run run-0)" in line
    assert line.startswith("another run is still writing month(s) of this run")
