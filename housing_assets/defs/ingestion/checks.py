"""Great-expectations checks on every monthly partition (suites in housing_core/expectations.py)."""

from collections.abc import Mapping

import dagster as dg
import pandas as pd

from housing_assets.defs.ingestion.assets import accepted_source, cleaned_monthly, raw_monthly
from housing_assets.defs.ingestion.partitions import months
from housing_assets.defs.month_checks import latest_materializations
from housing_assets.resources.io_manager import ParquetIOManager
from housing_assets.resources.month_frames import MonthFrames
from housing_assets.resources.revisions import ACCEPT_TAG, RevisionPolicy
from housing_assets.resources.source import HouseTSSource
from housing_core import contract as c
from housing_core import revisions
from housing_core.cleaning import clean_month
from housing_core.expectations import (
    ERROR,
    Finding,
    Outcome,
    sound_yardstick,
    validate_cleaned,
    validate_contract,
    validate_ranges,
    validate_reported,
)


def _result(
    context: dg.AssetCheckExecutionContext,
    outcome: Outcome,
    severity: dg.AssetCheckSeverity,
    **extra,
) -> dg.AssetCheckResult:
    """The check's result for the run, plus one evaluation per partition when a run covers many.

    Dagster attributes a check result to a partition only when the run has exactly one; in a
    single run over a range we log an evaluation per month ourselves, so the UI shows which
    month failed and why, partition by partition.
    """
    failed = sorted(set(outcome.failed_months(ERROR) + outcome.failed_months("WARN")))
    keys = list(context.partition_keys)
    if len(keys) > 1:
        _log_month_evaluations(context, outcome, severity, keys)
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
            **extra,
        },
    )


def _log_month_evaluations(
    context: dg.AssetCheckExecutionContext,
    outcome: Outcome,
    severity: dg.AssetCheckSeverity,
    months: list[str],
) -> None:
    """Log each month's evaluation, pointing at the month's latest materialization.

    The check's Partitions tab (GraphQL `partitionStatuses`) counts a month Passed or Failed only
    while its latest evaluation targets the month's latest materialization (Dagster's
    `AssetCheckPartitionInfo.is_current`); one with no target reads as stale, i.e. Missing.
    `log_event` stores them one at a time: a single batch would need Dagster's internal event API
    and buys little (benchmarks/check_evaluations.py measures both).
    """
    check_key = context.check_specs[0].key
    targets = latest_materializations(context.instance, check_key.asset_key, months)
    for month in months:
        findings = outcome.month_findings(month)
        # Dagster stores a check evaluation logged here; its annotation does not list the type.
        context.op_execution_context.log_event(
            dg.AssetCheckEvaluation(  # type: ignore[arg-type]
                asset_key=check_key.asset_key,
                check_name=check_key.name,
                passed=not findings,
                severity=severity,
                partition=month,
                target_materialization_data=targets.get(month),
                description="; ".join(findings)[:2000] if findings else "all expectations hold",
                metadata={
                    "findings": dg.MetadataValue.md("\n".join(f"- {f}" for f in findings) or "none")
                },
            )
        )


def _failure_summary(outcome: Outcome, failed: list[str], detailed: int = 3) -> str:
    """Which months fail and, for the first few, why -- for many, which rules: the line a run's
    failure (or warning) shows."""
    head = f"{len(failed)} of {len(outcome.months)} month(s) fail: "
    if len(failed) > detailed:
        months = ", ".join(failed[:12]) + (" ..." if len(failed) > 12 else "")
        rules = ", ".join(f.rule for f in outcome.findings)
        return (f"{head}{months}; rules: {rules}")[:2000]
    reasons = [f"{m}: {outcome.month_brief(m)}" for m in failed]
    return (head + "; ".join(reasons))[:2000]


@dg.asset_check(asset=raw_monthly, partitions_def=months, blocking=True)
def raw_contract(
    context: dg.AssetCheckExecutionContext,
    raw_monthly: MonthFrames,
    io_manager: dg.ResourceParam[ParquetIOManager],
    source: HouseTSSource,
) -> dg.AssetCheckResult:
    """Contract columns and dtypes (plus only the kept extras), non-null valid keys, dates inside their month, prices plausible next to the month before, and every column the month before reported still reported (blocks cleaning)."""
    yardsticks = Yardsticks(io_manager, source)
    previous = {}  # the month before each month not delivered in this run
    for month in raw_monthly:
        before = _month_before(month)
        if before not in raw_monthly and (frame := yardsticks.month(before)) is not None:
            previous[month] = frame
    return _result(context, validate_contract(raw_monthly, previous), dg.AssetCheckSeverity.ERROR)


def _month_before(month: str) -> str:
    return str(pd.Period(month, "M") - 1)


class Yardsticks:
    """What a run's first month is judged against: the month before as accepted (cleaned), else
    as the source delivers it. In a backfill split into runs the month before a run's first
    month is another run's, which may still be ingesting it; its delivery serves instead, only
    if it is itself sound and plausible next to its own month before, as a rejected month is
    never the yardstick within a run either."""

    def __init__(self, io_manager: ParquetIOManager, source: HouseTSSource):
        self.io_manager, self.source = io_manager, source
        self._delivered: set[str] | None = None

    def month(self, month: str) -> pd.DataFrame | None:
        accepted = self.accepted(month)
        if accepted is not None:
            return accepted
        delivered = self.delivered(month)
        if delivered is None:
            return None
        earlier = _month_before(month)
        its_own = self.accepted(earlier)
        its_own = self.delivered(earlier) if its_own is None else its_own
        return delivered if sound_yardstick(delivered, its_own) else None

    def accepted(self, month: str) -> pd.DataFrame | None:
        frame = self.io_manager.stored("cleaned_monthly", month)
        return frame if frame is not None and len(frame) else None

    def delivered(self, month: str) -> pd.DataFrame | None:
        if self._delivered is None:
            self._delivered = set(self.source.months())
        if month not in self._delivered:
            return None
        return self.source.load_months([month])[month].frame


@dg.asset_check(asset=raw_monthly, partitions_def=months, blocking=True)
def raw_revisions(
    context: dg.AssetCheckExecutionContext,
    raw_monthly: MonthFrames,
    io_manager: dg.ResourceParam[ParquetIOManager],
    revision_policy: RevisionPolicy,
    source: HouseTSSource,
) -> dg.AssetCheckResult:
    """A re-delivered past month changes the accepted (cleaned) version only within the revision policy's bounds, or when an operator accepts it (blocks cleaning); a month from another source (seed, scale, file, landing area) replaces it as a new dataset."""
    rules = revision_policy.rules()
    accepted_by_operator = accepted_months(context.op_execution_context.run.tags)
    delivered_by = source.describe()
    recorded, held, replaced = {}, [], {}
    for month in sorted(raw_monthly):  # one month in memory at a time
        raw = raw_monthly[month]
        accepted = io_manager.stored("cleaned_monthly", month)
        if accepted is None or not len(raw) or c.schema_problems(raw):
            continue  # a new month, or one the contract check fails anyway
        previous_source = accepted_source(context.instance, month)
        if previous_source not in (delivered_by, None):
            replaced[month] = previous_source
            continue
        revision = revisions.diff(accepted, clean_month(raw)[0], rules)
        if revision.unchanged:
            continue
        found = revisions.beyond_bounds(revision, rules)
        verdict = "accepted by operator" if month in accepted_by_operator else "held for review"
        recorded[month] = {**revision.as_metadata(), "verdict": verdict if found else "correction"}
        if found and month not in accepted_by_operator:
            held.append(Finding(
                "revision_within_bounds",
                ERROR,
                {month: revision.rows_changed + revision.rows_added + revision.rows_removed},
                [f"{month}: {'; '.join(found)}; the accepted version stays in use -- after review "
                 f"accept it with `housing run --months {month} --accept-revisions {month}` "
                 f"(or a run tagged {ACCEPT_TAG}={month})"],
            ))  # fmt: skip
    outcome = Outcome("revisions", sorted(raw_monthly), held, 1)
    return _result(
        context,
        outcome,
        dg.AssetCheckSeverity.ERROR,
        revisions=dg.MetadataValue.json(recorded),
        months_revised=len(recorded),
        # month -> the source it was accepted from, now replaced by another dataset wholesale
        months_from_another_source=dg.MetadataValue.json(replaced),
        accepted_by_operator=dg.MetadataValue.json(sorted(accepted_by_operator & set(recorded))),
    )


def accepted_months(tags: Mapping[str, str]) -> set[str]:
    """The months a run's operator accepted the revision of (tag `housing/accept-revisions`)."""
    return {m.strip() for m in tags.get(ACCEPT_TAG, "").split(",") if m.strip()}


@dg.asset_check(asset=raw_monthly, partitions_def=months)
def raw_columns_reported(
    context: dg.AssetCheckExecutionContext, raw_monthly: MonthFrames
) -> dg.AssetCheckResult:
    """Names, per month, the optional contract columns the source did not report (all missing; warns)."""
    return _result(context, validate_reported(raw_monthly), dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=raw_monthly, partitions_def=months)
def raw_plausible_values(
    context: dg.AssetCheckExecutionContext,
    raw_monthly: MonthFrames,
    source: HouseTSSource,
) -> dg.AssetCheckResult:
    """Prices, ratios, counts and ages within the contract's ranges; row count near the zips expected (warns)."""
    expected = source.expected_rows_per_month() or int(
        pd.Series([len(f) for f in raw_monthly.values()]).median()
    )
    return _result(context, validate_ranges(raw_monthly, expected), dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=cleaned_monthly, partitions_def=months, blocking=True)
def cleaned_expectations(
    context: dg.AssetCheckExecutionContext, cleaned_monthly: MonthFrames
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


QUARANTINING = (raw_contract, raw_revisions)  # the blocking checks that name months


def _failed(evaluations) -> list:
    found = (run_level(evaluations, check.check_key.name) for check in QUARANTINING)
    return [e for e in found if e is not None and not e.passed]


def blocked_months(evaluations) -> list[str] | None:
    """The months a failed run's blocking contract or revision check named (what
    `after_failure` quarantines); None when neither failed, i.e. the run failed for another
    reason."""
    months = sorted({m for e in _failed(evaluations) for m in e.metadata["failed_months"].value})
    return months or None


def findings(evaluations) -> dict[str, list[str]]:
    """Month -> the contract and revision findings a failed run recorded for it."""
    out: dict[str, list[str]] = {}
    for evaluation in _failed(evaluations):
        for month, lines in evaluation.metadata["findings_by_month"].value.items():
            out.setdefault(month, []).extend(lines)
    return out
