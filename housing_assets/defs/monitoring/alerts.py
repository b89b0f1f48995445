"""An alert for every failed run, saying which kind of failure it was: a month quarantined by
the contract check, a model the promotion gate blocked, or a crash (with the step and error)."""

import dagster as dg

from housing_assets.defs.ingestion import checks
from housing_assets.defs.monitoring.run_history import check_evaluations, first_error
from housing_assets.defs.monitoring.sensors import live_model_version
from housing_assets.resources.alerts import AlertNotifier
from housing_assets.resources.automation import RetrainPolicy
from housing_assets.resources.revisions import ACCEPT_TAG
from housing_assets.resources.serving_store import ServingStore
from housing_core import live_performance
from housing_core.alerts import Alert
from housing_core.automation import RANGE_END, RANGE_START


def classify(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Alert:
    """The alert a failed run deserves, with the fix as the platform runs (under the daemon:
    its sensors ingest and retrain, so the fix never asks for a `housing run` beside them)."""
    evaluations = check_evaluations(instance, run.run_id)
    where = run.tags.get("dagster/partition") or "..".join(
        filter(None, (run.tags.get(RANGE_START), run.tags.get(RANGE_END)))
    )
    scope = f"{run.job_name} {where}".strip()
    base = {"run_id": run.run_id, "job": run.job_name}
    gate = next((e for e in evaluations if e.check_name == "promotion_gate"), None)
    if gate is not None and not gate.passed:
        return Alert.compose(
            "gate_blocked",
            f"Model not published: {scope}",
            f"The promotion gate blocked the model of {scope}: {gate.description}.",
            _champion_fix(gate.metadata),
            details={"vintage": run.tags.get("dagster/partition"), "verdict": gate.description},
            **base,
        )
    months = checks.blocked_months(evaluations)
    if months:
        found = checks.findings(evaluations)
        why = "; ".join(f"{m}: {' / '.join(found.get(m, []))}" for m in months)
        return Alert.compose(
            "quarantined",
            f"{len(months)} month(s) quarantined: {', '.join(months)}",
            f"{scope}: nothing was ingested for {', '.join(months)} (a past month keeps its "
            f"accepted version). {why}",
            _quarantine_fix(months, found),
            details={"months": months, "findings": {m: found.get(m, []) for m in months}},
            **base,
        )
    error = first_error(instance, run.run_id) or "no step failed (the run itself did)"
    return Alert.compose(
        "run_failed",
        f"Run failed: {scope}",
        f"{scope} failed: {error}",
        f"Fix the cause, then re-execute run {run.run_id[:8]} from failure in the Dagster UI.",
        details={"error": error},
        **base,
    )


def _champion_fix(facts: dict) -> str:
    """A champion that loses to a baseline on the same rows is no comfort: say so."""
    held = facts.get("champion_beats_baselines")
    if held is not None and held.value is False:
        return (
            "The champion keeps serving although it loses to a baseline on the same rows too; "
            "every verdict, with the champion's figures, is on GET /v1/gate."
        )
    return "The champion keeps serving; every verdict is on GET /v1/gate."


def _quarantine_fix(months: list[str], found: dict[str, list[str]]) -> str:
    """A held revision is accepted by a run tagged for it; any other finding needs a corrected
    file, which the new-data sensor picks up by itself."""
    listed = ",".join(months)
    if all(all(f.startswith("revision_within_bounds") for f in found.get(m, [])) for m in months):
        return (
            f"After review, accept it: launch ingest for {listed} in the Dagster UI with tag "
            f"{ACCEPT_TAG}={listed}."
        )
    return f"Deliver a corrected file for {listed}; the new-data sensor ingests it by itself."


def alert_on_failure(context: dg.RunFailureSensorContext, alerts: AlertNotifier):
    """Send an alert (HOUSING_ALERT_WEBHOOK_URL) for each failed run: quarantine, gate block or crash."""
    notifier = alerts.notifier()
    alert = classify(context.instance, context.dagster_run)
    if notifier is None:
        context.log.warning(f"{alert.title} (no HOUSING_ALERT_WEBHOOK_URL: not sent)")
        return dg.SkipReason(f"not sent, no webhook configured: {alert.title}")
    notifier.send(alert)  # AlertNotDelivered fails the tick: visible, and retried next tick
    context.log.info(f"alert sent: {alert.title}")
    return None


def alert_champion_losing(
    context: dg.SensorEvaluationContext,
    serving_store: ServingStore,
    retrain_policy: RetrainPolicy,
    alerts: AlertNotifier,
):
    """One alert when the live champion has lost to persistence in `losing_months` landed months
    in a row (its live records), naming the months; again only when the streak grows or another
    champion starts one."""
    champion = serving_store.champion_provenance()
    if champion is None:
        return dg.SkipReason("no champion published yet")
    model = live_model_version(champion)
    records, _ = live_performance.read(serving_store.store(), model)
    streak = live_performance.losing_streak(records)
    if len(streak) < retrain_policy.losing_months:
        return dg.SkipReason(
            f"champion v{model}: {len(records)} live month(s), lost the latest {len(streak)} "
            f"in a row (alert at {retrain_policy.losing_months})"
        )
    said = f"{model}:{','.join(streak)}"
    if context.cursor == said:
        return dg.SkipReason(f"already alerted: champion v{model} lost {', '.join(streak)}")
    last = next(r for r in records if r["month"] == streak[-1])
    alert = Alert.compose(
        "champion_losing",
        f"Champion v{model} losing to persistence",
        f"The serving model v{model} lost to persistence live in {', '.join(streak)}: "
        f"{streak[-1]} MAPE {last['mape']:.2f}% vs persistence {last['persistence_mape']:.2f}% "
        f"on {last['anchored_rows']:,} rows.",
        (
            "Persistence answers in its place (flagged) until it wins a month; "
            if retrain_policy.fallback_to_baseline
            else ""
        )
        + "The retraining sensor trains a new vintage and the gate decides; GET /v1/live has "
        "every month.",
        run_id="",
        job="live_performance",
        details={"model_version": model, "months": streak, "latest": last},
    )
    context.update_cursor(said)
    notifier = alerts.notifier()
    if notifier is None:
        context.log.warning(f"{alert.title} (no HOUSING_ALERT_WEBHOOK_URL: not sent)")
        return dg.SkipReason(f"not sent, no webhook configured: {alert.title}")
    notifier.send(alert)  # AlertNotDelivered fails the tick (the cursor is not kept): retried
    context.log.info(f"alert sent: {alert.title}")
    return None


def alert_sensor(seconds: int) -> dg.SensorDefinition:
    """`alert_on_failure`, evaluated every `seconds` (policies: `sensors.alert_seconds`)."""
    return dg.run_failure_sensor(
        name="alert_on_failure",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=seconds,
        description=(
            "Posts an alert to HOUSING_ALERT_WEBHOOK_URL for each failed run, classified as a "
            "quarantined month, a gate block or a crash (logged and skipped when no webhook is "
            "set)."
        ),
    )(alert_on_failure)


def losing_sensor(seconds: int) -> dg.SensorDefinition:
    """`alert_champion_losing`, evaluated every `seconds` (policies: `sensors.alert_seconds`)."""
    return dg.sensor(
        name="alert_champion_losing",
        minimum_interval_seconds=seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Posts an alert to HOUSING_ALERT_WEBHOOK_URL when the live champion lost to "
            "persistence in RetrainPolicy.losing_months landed months in a row, naming them "
            "(logged and skipped when no webhook is set)."
        ),
    )(alert_champion_losing)
