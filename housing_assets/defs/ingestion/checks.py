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
)
from housing_assets.resources.source import HouseTSSource


def _result(outcome: Outcome, severity: dg.AssetCheckSeverity) -> dg.AssetCheckResult:
    failed = outcome.failed_months(ERROR) + outcome.failed_months("WARN")
    failed = sorted(set(failed))
    return dg.AssetCheckResult(
        passed=not failed,
        severity=severity,
        description=(
            f"{len(failed)} of {len(outcome.months)} month(s) fail: {', '.join(failed[:12])}"
            if failed
            else f"{len(outcome.months)} month(s) pass {outcome.expectations} expectations"
        ),
        metadata={
            "months_checked": len(outcome.months),
            "failed_months": dg.MetadataValue.json(failed),
            "expectations": outcome.expectations,
            "findings": dg.MetadataValue.md(outcome.markdown()),
            "by_month": dg.MetadataValue.md(outcome.month_table()),
            "violating_rows": sum(f.total for f in outcome.findings),
        },
    )


@dg.asset_check(asset=raw_monthly, partitions_def=months, blocking=True)
def raw_contract(raw_monthly: dict[str, pd.DataFrame]) -> dg.AssetCheckResult:
    """Exact schema and dtypes, non-null valid keys, every date inside its partition's month (blocks cleaning)."""
    return _result(validate_contract(raw_monthly), dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset=raw_monthly, partitions_def=months)
def raw_plausible_values(
    raw_monthly: dict[str, pd.DataFrame], source: HouseTSSource
) -> dg.AssetCheckResult:
    """Prices, ratios, counts and ages within the contract's ranges; row count near the zips expected (warns)."""
    expected = source.expected_rows_per_month() or int(
        pd.Series([len(f) for f in raw_monthly.values()]).median()
    )
    return _result(validate_ranges(raw_monthly, expected), dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=cleaned_monthly, partitions_def=months, blocking=True)
def cleaned_expectations(cleaned_monthly: dict[str, pd.DataFrame]) -> dg.AssetCheckResult:
    """Unique (zipcode, date), no value outside the plausible ranges, target and metro present."""
    return _result(validate_cleaned(cleaned_monthly), dg.AssetCheckSeverity.ERROR)
