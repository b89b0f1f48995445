"""Drift thresholds as a check: WARN and ERROR severities come from the report's verdict."""

import dagster as dg

from housing_assets.defs.ingestion.partitions import months
from housing_assets.defs.monitoring.assets import drift_report, live_performance
from housing_assets.defs.monitoring.forecasts import forecast_scorecard
from housing_assets.defs.month_checks import latest_materializations
from housing_assets.resources.automation import ForecastPolicy
from housing_core import drift
from housing_core.forecast import live

QUIET = ("ok", drift.TRAINED)


def _quiet(months: int, trained: list[str]) -> str:
    if not trained:
        return f"{months} month(s) within thresholds"
    judged = months - len(trained)
    return (
        f"{judged} month(s) within thresholds; {len(trained)} the model was trained on, not judged"
    )


@dg.asset_check(asset=drift_report, partitions_def=months)
def drift_within_thresholds(
    context: dg.AssetCheckExecutionContext, drift_report: dict
) -> dg.AssetCheckResult:
    """Share of drifting features, prediction PSI and MAPE decay within their thresholds."""
    bad = {m: r for m, r in sorted(drift_report.items()) if r["status"] not in QUIET}
    trained = [m for m, r in drift_report.items() if r["status"] == drift.TRAINED]
    worst = "error" if any(r["status"] == "error" for r in bad.values()) else "warn"
    severity = dg.AssetCheckSeverity.ERROR if worst == "error" else dg.AssetCheckSeverity.WARN
    check_key = context.check_specs[0].key
    if len(drift_report) > 1:  # one evaluation per month, so the UI shows which month and why
        targets = latest_materializations(
            context.instance, check_key.asset_key, sorted(drift_report)
        )
        for month, report in sorted(drift_report.items()):
            # Dagster stores a check evaluation logged here; its annotation does not list the type.
            context.op_execution_context.log_event(
                dg.AssetCheckEvaluation(  # type: ignore[arg-type]
                    asset_key=check_key.asset_key,
                    check_name=check_key.name,
                    passed=report["status"] in QUIET,
                    severity=(
                        dg.AssetCheckSeverity.ERROR
                        if report["status"] == "error"
                        else dg.AssetCheckSeverity.WARN
                    ),
                    partition=month,
                    target_materialization_data=targets.get(month),
                    description="; ".join(report["reasons"]) or "within thresholds",
                )
            )
    return dg.AssetCheckResult(
        passed=not bad,
        severity=severity,
        description=(
            "; ".join(f"{m}: {r['status']} ({'; '.join(r['reasons'])})" for m, r in bad.items())[
                :2000
            ]
            or _quiet(len(drift_report), trained)
        ),
        metadata={
            "months": len(drift_report),
            "statuses": dg.MetadataValue.json({m: r["status"] for m, r in drift_report.items()}),
        },
    )


@dg.asset_check(asset=forecast_scorecard, partitions_def=months)
def live_forecast_error(
    context: dg.AssetCheckExecutionContext,
    forecast_scorecard: dict,
    forecast_policy: ForecastPolicy,
) -> dg.AssetCheckResult:
    """Live forecast error per horizon bucket within the policy's factor of the backtest's (a warning: the operator decides whether to retrain)."""
    reasons = {
        month: live.verdict(
            card,
            {"by_bucket": card["backtest"]},
            forecast_policy.live_error_factor,
            forecast_policy.min_points,
        )
        for month, card in sorted(forecast_scorecard.items())
    }
    bad = {m: r for m, r in reasons.items() if r}
    scored = sum(card["points"] for card in forecast_scorecard.values())
    return dg.AssetCheckResult(
        passed=not bad,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(f"{m}: {'; '.join(r)}" for m, r in bad.items())[:2000]
        or f"{scored:,} forecast(s) scored, every judged bucket within "
        f"{forecast_policy.live_error_factor:g}x the backtest",
        metadata={"points": scored, "reasons": dg.MetadataValue.json(bad)},
    )


@dg.asset_check(asset=live_performance, partitions_def=months)
def champion_beats_persistence_live(live_performance: dict) -> dg.AssetCheckResult:
    """The served model's live error on each landed month below persistence's on the same rows (a warning naming each month it lost: the gate's bar, held to the champion once it serves)."""
    lost = {m: r for m, r in sorted(live_performance.items()) if r["losing"]}
    judged = [m for m, r in live_performance.items() if r["losing"] is not None]
    return dg.AssetCheckResult(
        passed=not lost,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(
            f"{m}: MAPE {r['mape']:.2f}% vs persistence {r['persistence_mape']:.2f}% "
            f"({r['anchored_rows']:,} rows) -- the champion lost"
            for m, r in lost.items()
        )[:2000]
        or f"the champion beat persistence in {len(judged)} judged month(s)",
        metadata={"lost": dg.MetadataValue.json(sorted(lost)), "judged": len(judged)},
    )
