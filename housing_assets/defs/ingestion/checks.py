"""Great-expectations checks on every monthly partition (suites in lib/expectations.py)."""

import dagster as dg
import pandas as pd

from housing_assets.defs.ingestion.assets import cleaned_monthly, raw_monthly
from housing_assets.defs.ingestion.partitions import months
from housing_assets.lib.expectations import (
    ERROR,
    Outcome,
    validate_cleaned,
    validate_contract,
    validate_ranges,
    validate_reported,
)
from housing_assets.resources.io_manager import ParquetIOManager
from housing_assets.resources.source import HouseTSSource


def _result(
    context: dg.AssetCheckExecutionContext, outcome: Outcome, severity: dg.AssetCheckSeverity
) -> dg.AssetCheckResult:
    """The check's result for the run, plus one evaluation per partition when a run covers many.

    Dagster attributes a check result to a partition only when the run has exactly one; in a
    single run over a range we log an evaluation per month ourselves, so the UI shows which
    month failed and why, partition by partition.
    """
    failed = sorted(set(outcome.failed_months(ERROR) + outcome.failed_months("WARN")))
    keys = list(context.partition_keys)
    check_key = context.check_specs[0].key
    if len(keys) > 1:
        for month in keys:
            findings = outcome.month_findings(month)
            context.op_execution_context.log_event(
                dg.AssetCheckEvaluation(
                    asset_key=check_key.asset_key,
                    check_name=check_key.name,
                    passed=not findings,
                    severity=severity,
                    partition=month,
                    description="; ".join(findings)[:2000] if findings else "all expectations hold",
                    metadata={
                        "findings": dg.MetadataValue.md(
                            "\n".join(f"- {f}" for f in findings) or "none"
                        )
                    },
                )
            )
    return dg.AssetCheckResult(
        passed=not failed,
        severity=severity,
        description=(
            _failure_summary(outcome, failed)
            if failed
            else f"{len(outcome.months)} month(s) pass {outcome.expectations} expectations"
        ),
        metadata={
            "months_checked": len(outcome.months),
            "failed_months": dg.MetadataValue.json(failed),
            "findings_by_month": dg.MetadataValue.json(
                {m: outcome.month_findings(m) for m in failed}
            ),
            "expectations": outcome.expectations,
            "findings": dg.MetadataValue.md(outcome.markdown()),
            "by_month": dg.MetadataValue.md(outcome.month_table()),
            "violating_rows": sum(f.total for f in outcome.findings),
        },
    )


def _failure_summary(outcome: Outcome, failed: list[str], detailed: int = 3) -> str:
    """Which months fail and, for the first few, why -- for many, which rules: the line a run's
    failure (or warning) shows."""
    head = f"{len(failed)} of {len(outcome.months)} month(s) fail: "
    if len(failed) > detailed:
        months = ", ".join(failed[:12]) + (" ..." if len(failed) > 12 else "")
        rules = ", ".join(f.rule for f in outcome.findings)
        return (f"{head}{months}; rules: {rules}")[:2000]
    reasons = [f"partition {m}: {' | '.join(outcome.month_findings(m))}" for m in failed]
    return (head + "; ".join(reasons))[:2000]


@dg.asset_check(asset=raw_monthly, partitions_def=months, blocking=True)
def raw_contract(
    context: dg.AssetCheckExecutionContext,
    raw_monthly: dict[str, pd.DataFrame],
    io_manager: dg.ResourceParam[ParquetIOManager],
) -> dg.AssetCheckResult:
    """Contract columns and dtypes (plus only the kept extras), non-null valid keys, dates inside their month, prices plausible next to the month before (blocks cleaning)."""
    previous = {}  # the month before each month not delivered in this run: as accepted
    for month in raw_monthly:
        before = str(pd.Period(month, "M") - 1)
        if before not in raw_monthly:
            frame = io_manager.stored("cleaned_monthly", before)
            if frame is not None and len(frame):
                previous[month] = frame
    return _result(context, validate_contract(raw_monthly, previous), dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset=raw_monthly, partitions_def=months)
def raw_columns_reported(
    context: dg.AssetCheckExecutionContext, raw_monthly: dict[str, pd.DataFrame]
) -> dg.AssetCheckResult:
    """Names, per month, the optional contract columns the source did not report (all missing; warns)."""
    return _result(context, validate_reported(raw_monthly), dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=raw_monthly, partitions_def=months)
def raw_plausible_values(
    context: dg.AssetCheckExecutionContext,
    raw_monthly: dict[str, pd.DataFrame],
    source: HouseTSSource,
) -> dg.AssetCheckResult:
    """Prices, ratios, counts and ages within the contract's ranges; row count near the zips expected (warns)."""
    expected = source.expected_rows_per_month() or int(
        pd.Series([len(f) for f in raw_monthly.values()]).median()
    )
    return _result(context, validate_ranges(raw_monthly, expected), dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=cleaned_monthly, partitions_def=months, blocking=True)
def cleaned_expectations(
    context: dg.AssetCheckExecutionContext, cleaned_monthly: dict[str, pd.DataFrame]
) -> dg.AssetCheckResult:
    """Unique (zipcode, date), no value outside the plausible ranges, target and metro present."""
    return _result(context, validate_cleaned(cleaned_monthly), dg.AssetCheckSeverity.ERROR)


def run_level(evaluations, check_name: str):
    """A run's own evaluation of a check: unattributed (partition None) in a range run, the one
    partition's otherwise (our per-month evaluations of a range run are left aside)."""
    found = [e for e in evaluations if e.check_name == check_name]
    unattributed = [e for e in found if e.partition is None]
    if unattributed:
        return unattributed[0]
    return found[0] if len(found) == 1 else None


def blocked_months(evaluations) -> list[str] | None:
    """The months a failed run's blocking contract check named (what `after_failure` quarantines);
    None when it did not fail, i.e. the run failed for another reason."""
    evaluation = run_level(evaluations, raw_contract.check_key.name)
    if evaluation is None or evaluation.passed:
        return None
    return list(evaluation.metadata["failed_months"].value) or None


def findings(evaluations) -> dict[str, list[str]]:
    """Month -> the contract findings a failed run recorded for it."""
    evaluation = run_level(evaluations, raw_contract.check_key.name)
    if evaluation is None or evaluation.passed:
        return {}
    return dict(evaluation.metadata["findings_by_month"].value)
