"""In-process Dagster runs of the ingestion assets on a real (ephemeral) instance."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from housing_assets.definitions import build_definitions
from housing_assets.defs.ingestion.checks import run_level
from housing_assets.defs.monitoring.run_history import check_evaluations
from housing_assets.runner import ingest, register_months
from housing_core.automation import RANGE_END, RANGE_START, stretches
from housing_core.settings import Settings
from tests.conftest import PUBLISHER_LACKS, frames_by_month, publisher_layout

MONTHS = ["2019-11", "2019-12", "2020-01", "2020-02"]


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def _defs(tmp_path: Path, source: str = "synthetic") -> dg.Definitions:
    return build_definitions(Settings(home=tmp_path, source=source, scale=0.01, seed=3))


def _evaluations(result) -> dict[str, dg.AssetCheckEvaluation]:
    """Each check's run-level evaluation (a range run also holds one per month)."""
    evaluations = result.get_asset_check_evaluations()
    return {name: run_level(evaluations, name) for name in {e.check_name for e in evaluations}}


def test_range_run_materializes_every_partition_and_evaluates_checks(tmp_path, instance):
    defs = _defs(tmp_path)
    register_months(instance, MONTHS)
    result = defs.resolve_job_def("ingest").execute_in_process(
        instance=instance, tags={RANGE_START: MONTHS[0], RANGE_END: MONTHS[-1]}
    )
    assert result.success
    for asset in ("raw_monthly", "cleaned_monthly"):
        materialized = instance.get_materialized_partitions(dg.AssetKey(asset))
        assert materialized == set(MONTHS)
        for month in MONTHS:
            assert (tmp_path / "data" / asset / f"{month}.parquet").exists()
    checks = _evaluations(result)
    assert checks["raw_contract"].passed and checks["cleaned_expectations"].passed
    assert checks["raw_contract"].metadata["months_checked"].value == 4
    cleaned = pd.read_parquet(tmp_path / "data" / "cleaned_monthly" / "2020-01.parquet")
    assert not cleaned.duplicated(subset=["zipcode", "date"]).any()
    meta = instance.get_latest_materialization_event(
        dg.AssetKey("cleaned_monthly")
    ).asset_materialization.metadata
    assert meta["rows_in"].value >= meta["rows_out"].value > 0


def _month_metadata(instance, asset: str, month: str) -> dict:
    [record] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[month]), limit=1
    ).records
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


def test_a_range_run_records_each_months_own_row_count(tmp_path, instance, small_panel):
    """One run over four months writes four materializations: each carries its own month's
    row count (and cleaning counts), the run's totals only under `run_*` names."""
    landing = tmp_path / "landing"
    landing.mkdir()
    keep = {"2019-11": None, "2019-12": 7, "2020-01": 20, "2020-02": None}  # rows kept per month
    for month, frame in frames_by_month(small_panel).items():
        if month in keep:
            frame.head(keep[month]).to_parquet(landing / f"{month}.parquet", index=False)
    defs = _defs(tmp_path / "home", source=str(landing))
    register_months(instance, MONTHS)
    result = defs.resolve_job_def("ingest").execute_in_process(
        instance=instance, tags={RANGE_START: MONTHS[0], RANGE_END: MONTHS[-1]}
    )
    assert result.success
    data = tmp_path / "home" / "data"
    raw_total = 0
    for month in MONTHS:
        raw = _month_metadata(instance, "raw_monthly", month)
        stored = len(pd.read_parquet(data / "raw_monthly" / f"{month}.parquet"))
        assert raw["dagster/row_count"] == stored == (keep[month] or stored)
        raw_total += stored
        cleaned = _month_metadata(instance, "cleaned_monthly", month)
        stored = len(pd.read_parquet(data / "cleaned_monthly" / f"{month}.parquet"))
        assert cleaned["dagster/row_count"] == cleaned["rows_out"] == stored
        assert cleaned["rows_in"] == raw["dagster/row_count"]
        assert raw["content_fingerprint"] == raw["content_fingerprints"][month]
    assert _month_metadata(instance, "raw_monthly", "2019-12")["dagster/row_count"] == 7
    assert _month_metadata(instance, "raw_monthly", "2019-11")["run_rows"] == raw_total
    assert _month_metadata(instance, "cleaned_monthly", "2020-01")["run_rows_in"] == raw_total


def test_single_partition_run_attributes_the_check_to_that_partition(tmp_path, instance):
    defs = _defs(tmp_path)
    register_months(instance, MONTHS)
    result = defs.resolve_job_def("ingest").execute_in_process(
        instance=instance, partition_key="2020-02"
    )
    assert result.success
    evaluation = _evaluations(result)["raw_contract"]
    assert evaluation.partition == "2020-02"


def _landing_with_broken_month(tmp_path, small_panel, broken: str) -> Path:
    landing = tmp_path / "landing"
    landing.mkdir()
    for month, frame in frames_by_month(small_panel).items():
        if month in MONTHS:
            if month == broken:  # the target under another name: no month without its target
                frame = frame.rename(columns={"price": "prise"})
            frame.to_parquet(landing / f"{month}.parquet", index=False)
    return landing


@pytest.mark.slow
def test_broken_partition_is_blocked_and_the_other_months_proceed(tmp_path, instance, small_panel):
    landing = _landing_with_broken_month(tmp_path, small_panel, broken="2020-01")
    defs = _defs(tmp_path / "home", source=str(landing))
    register_months(instance, MONTHS)
    outcome = ingest(defs, instance, MONTHS, say=lambda _: None)

    assert list(outcome.quarantined) == ["2020-01"]
    why = outcome.quarantined["2020-01"]
    assert "2020-01.parquet: missing required column(s) ['price']" in why and "prise" in why
    assert outcome.ingested == ["2019-11", "2019-12", "2020-02"]
    cleaned = instance.get_materialized_partitions(dg.AssetKey("cleaned_monthly"))
    assert cleaned == {"2019-11", "2019-12", "2020-02"}
    assert not (tmp_path / "home" / "data" / "cleaned_monthly" / "2020-01.parquet").exists()
    # The failure is on record against the broken partition itself, readable in the UI.
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("raw_monthly"), "raw_contract"), limit=10
    )
    latest = {}
    for record in sorted(history, key=lambda r: r.id):
        if record.partition:
            latest[record.partition] = record.status.value
    assert latest == {
        "2019-11": "SUCCEEDED",
        "2019-12": "SUCCEEDED",
        "2020-01": "FAILED",
        "2020-02": "SUCCEEDED",
    }


def test_stretches_follow_partition_order():
    order = ["a", "b", "c", "d", "e"]
    assert stretches(order, ["a", "b", "d", "e"]) == [("a", "b"), ("d", "e")]
    assert stretches(order, ["c"]) == [("c", "c")]
    assert stretches(order, []) == []


def test_a_broken_month_run_alone_is_quarantined_too(tmp_path, instance, small_panel):
    landing = _landing_with_broken_month(tmp_path, small_panel, broken="2020-01")
    defs = _defs(tmp_path / "home", source=str(landing))
    register_months(instance, MONTHS)
    outcome = ingest(defs, instance, ["2020-01"], say=lambda _: None)
    assert list(outcome.quarantined) == ["2020-01"] and outcome.ingested == []


def test_a_month_the_source_lacks_fails_loudly_naming_it(tmp_path, instance):
    defs = _defs(tmp_path)
    register_months(instance, ["2031-01"])
    said = []
    outcome = ingest(defs, instance, ["2031-01"], say=said.append)
    # A failure that names no month (not a contract finding): the month runs alone once more,
    # fails again, and is reported with its error -- not ingested, not dropped silently.
    assert outcome.ingested == [] and list(outcome.failed) == ["2031-01"]
    assert "no data for month 2031-01" in outcome.failed["2031-01"]
    assert any("each month runs alone" in line for line in said), said


@pytest.mark.slow
def test_real_sample_ingests_through_the_file_source_and_passes_every_check(
    tmp_path, instance, sample_path
):
    defs = _defs(tmp_path, source=str(sample_path))
    months = defs.resources["source"].months()
    assert len(months) == 142
    register_months(instance, months)
    outcome = ingest(defs, instance, months, say=lambda _: None)
    assert outcome.quarantined == {}
    # A random sample has ~20 rows a month, unevenly: only the row-count expectation may warn.
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("raw_monthly"), "raw_plausible_values"), limit=200
    )
    (run_level,) = [r for r in history if r.partition is None]
    findings = run_level.event.dagster_event.event_specific_data.metadata["findings"].value
    rules = {line.split("|")[1].strip() for line in findings.splitlines()[2:]}
    assert rules == {"column_values_to_be_between[rows_vs_expected]"}
    assert instance.get_materialized_partitions(dg.AssetKey("cleaned_monthly")) == set(months)
    rows = sum(
        len(pd.read_parquet(p)) for p in (tmp_path / "data" / "cleaned_monthly").glob("*.parquet")
    )
    assert rows == 2862  # the real sample has no duplicates or implausible targets to drop


def _partition_evaluations(instance, check: str) -> dict[str, dg.AssetCheckEvaluation]:
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("raw_monthly"), check), limit=50
    )
    return {
        r.partition: r.event.dagster_event.event_specific_data
        for r in sorted(history, key=lambda r: r.id)
        if r.partition
    }


def test_a_partial_source_passes_the_contract_and_the_warning_names_what_it_lacks(
    tmp_path, instance, small_panel
):
    landing = tmp_path / "landing"
    landing.mkdir()
    by_month = frames_by_month(small_panel)
    for month in MONTHS[:3]:
        publisher_layout(by_month[month]).to_csv(landing / f"{month}.csv", index=False)
    by_month[MONTHS[3]].to_csv(landing / f"{MONTHS[3]}.csv", index=False)  # the full layout
    defs = _defs(tmp_path / "home", source=str(landing))
    register_months(instance, MONTHS)
    outcome = ingest(defs, instance, MONTHS, say=lambda _: None)

    assert outcome.quarantined == {} and outcome.ingested == MONTHS
    assert "median_ppsf" in outcome.warnings["raw_columns_reported"]
    contract = _partition_evaluations(instance, "raw_contract")
    assert all(contract[m].passed for m in MONTHS)
    reported = _partition_evaluations(instance, "raw_columns_reported")
    assert reported[MONTHS[3]].passed
    for month in MONTHS[:3]:
        evaluation = reported[month]
        assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
        named = [
            col for col in PUBLISHER_LACKS if f"column_reported[{col}]" in evaluation.description
        ]
        assert named == PUBLISHER_LACKS, evaluation.description
    # What was not reported is stored with the raw month (the check reads it back from Parquet).
    raw = pd.read_parquet(tmp_path / "home" / "data" / "raw_monthly" / f"{MONTHS[0]}.parquet")
    assert raw.attrs["housing_not_reported"] == PUBLISHER_LACKS
    cleaned = pd.read_parquet(
        tmp_path / "home" / "data" / "cleaned_monthly" / f"{MONTHS[0]}.parquet"
    )
    assert cleaned[["longitude", "latitude", "state"]].notna().all().all()


# What the webserver's Partitions tab of an asset check asks (`AssetCheckPartitionHealthQuery`
# in dagster-webserver's bundle), for dynamic (key-list) partitions; months in no list are Missing.
PARTITION_HEALTH = """
query AssetCheckPartitionHealthQuery($assetKey: AssetKeyInput!, $checkName: String!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode {
      assetCheckOrError(checkName: $checkName) {
        ... on AssetCheck {
          partitionStatuses {
            ... on AssetCheckDefaultPartitionStatuses {
              succeededPartitions
              failedPartitions
              inProgressPartitions
              skippedPartitions
              executionFailedPartitions
            }
          }
        }
      }
    }
  }
}
"""


def _partitions_tab(instance, *checks: str) -> dict[str, dict[str, list[str]]]:
    """Check -> status -> months, as the webserver answers the tab's query for raw_monthly."""
    from dagster._core.test_utils import in_process_test_workspace
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster_graphql.test.utils import execute_dagster_graphql

    origin = LoadableTargetOrigin(module_name="housing_assets.definitions", attribute="defs")
    tabs = {}
    # Entered like the webserver enters each request's context (it loads dynamic partitions).
    with in_process_test_workspace(instance, origin) as context, context:
        for check in checks:
            result = execute_dagster_graphql(
                context,
                PARTITION_HEALTH,
                {"assetKey": {"path": ["raw_monthly"]}, "checkName": check},
            )
            statuses = result.data["assetNodeOrError"]["assetCheckOrError"]["partitionStatuses"]
            tabs[check] = {name: sorted(keys) for name, keys in statuses.items()}
    return tabs


def test_a_range_runs_checks_show_passed_and_failed_per_month_in_the_partitions_tab(
    tmp_path, instance, small_panel
):
    """Three months lack optional columns (the warning check fails them), one reports them all:
    the check's Partitions tab counts 3 Failed and 1 Passed, none Missing."""
    landing = tmp_path / "landing"
    landing.mkdir()
    by_month = frames_by_month(small_panel)
    for month in MONTHS[:3]:
        publisher_layout(by_month[month]).to_csv(landing / f"{month}.csv", index=False)
    by_month[MONTHS[3]].to_csv(landing / f"{MONTHS[3]}.csv", index=False)
    defs = _defs(tmp_path / "home", source=str(landing))
    register_months(instance, MONTHS)
    outcome = ingest(defs, instance, MONTHS, say=lambda _: None)
    assert len(outcome.run_ids) == 1 and outcome.ingested == MONTHS  # one run over the range

    tabs = _partitions_tab(instance, "raw_columns_reported", "raw_contract")
    none: list[str] = []
    assert tabs["raw_columns_reported"] == {
        "succeededPartitions": MONTHS[3:],
        "failedPartitions": MONTHS[:3],
        "inProgressPartitions": none,
        "skippedPartitions": none,
        "executionFailedPartitions": none,
    }
    assert tabs["raw_contract"]["succeededPartitions"] == MONTHS


@pytest.mark.real_data
def test_dc_panel_in_the_publisher_layout_ingests(tmp_path, instance, dc_panel_path):
    defs = _defs(tmp_path, source=str(dc_panel_path))
    months = ["2020-01", "2020-02", "2020-03"]
    register_months(instance, months)
    outcome = ingest(defs, instance, months, say=lambda _: None)
    assert outcome.quarantined == {} and outcome.ingested == months
    assert set(outcome.warnings) == {"raw_columns_reported"}
    for month in months:
        cleaned = pd.read_parquet(tmp_path / "data" / "cleaned_monthly" / f"{month}.parquet")
        assert cleaned["zipcode"].nunique() == len(cleaned) == 40
        assert set(cleaned["city"]) == {"DC"} and set(cleaned["city_full"]) == {"DC_Metro"}
        assert cleaned["longitude"].between(-79, -76).all()
        assert cleaned["latitude"].between(38, 40).all()
        assert set(cleaned["state"]) == {"District of Columbia", "Maryland", "Virginia"}


@pytest.mark.slow
def test_a_month_whose_prices_jumped_is_quarantined_against_the_stored_month_before(
    tmp_path, instance, small_panel
):
    """Prices x1.4 in one month passed every check. Judged against the month before as it was
    accepted (stored, from an earlier run), the month is quarantined naming the jump."""
    landing = tmp_path / "landing"
    landing.mkdir()
    by_month = frames_by_month(small_panel)
    for month in MONTHS:
        frame = by_month[month]
        if month == "2020-01":
            frame = frame.assign(price=frame["price"] * 1.4)
        frame.to_parquet(landing / f"{month}.parquet", index=False)
    defs = _defs(tmp_path / "home", source=str(landing))
    register_months(instance, MONTHS)
    first = ingest(defs, instance, MONTHS[:2], say=lambda _: None)
    assert first.ingested == MONTHS[:2] and not first.quarantined
    second = ingest(defs, instance, ["2020-01"], say=lambda _: None)
    assert list(second.quarantined) == ["2020-01"]
    why = second.quarantined["2020-01"]
    assert "price_plausible_month_over_month" in why
    assert "zips' price moved more than 40% in one month" in why
    assert not (tmp_path / "home" / "data" / "cleaned_monthly" / "2020-01.parquet").exists()


@pytest.mark.slow
def test_a_month_that_lost_a_column_is_quarantined_and_its_correction_lands_unasked(
    tmp_path, instance, small_panel
):
    """A month delivered without `median_list_price` got in with a drowned warning, and the
    corrected file was then held as a revision needing a manual accept. Now the month is
    quarantined naming the column, and the corrected re-delivery is a new month: it lands."""
    landing = tmp_path / "landing"
    landing.mkdir()
    by_month = frames_by_month(small_panel)
    for month in MONTHS[:2]:
        by_month[month].to_parquet(landing / f"{month}.parquet", index=False)
    by_month["2020-01"].drop(columns=["median_list_price"]).to_parquet(
        landing / "2020-01.parquet", index=False
    )
    defs = _defs(tmp_path / "home", source=str(landing))
    register_months(instance, MONTHS[:3])
    first = ingest(defs, instance, MONTHS[:3], say=lambda _: None)
    assert first.ingested == MONTHS[:2] and list(first.quarantined) == ["2020-01"]
    why = first.quarantined["2020-01"]
    assert "columns_still_reported" in why and "median_list_price was reported for" in why
    by_month["2020-01"].to_parquet(landing / "2020-01.parquet", index=False)  # corrected
    second = ingest(defs, instance, ["2020-01"], say=lambda _: None)
    assert second.ingested == ["2020-01"] and not second.quarantined
    assert _cleaned(tmp_path, "2020-01")["median_list_price"].notna().any()


def _cleaned(tmp_path: Path, month: str) -> pd.DataFrame:
    return pd.read_parquet(tmp_path / "home" / "data" / "cleaned_monthly" / f"{month}.parquet")


def _revisions(instance, run_id: str) -> dict:
    """What the run's revision check recorded, month -> the revision and its verdict."""
    evaluation = run_level(check_evaluations(instance, run_id), "raw_revisions")
    return evaluation.metadata["revisions"].value


@pytest.mark.slow
def test_a_past_month_redelivered_with_other_prices_is_held_until_accepted(
    tmp_path, instance, small_panel
):
    """Re-delivered past months with shuffled prices are not re-ingested without question. A
    revision beyond the policy's bounds is quarantined naming the month, the column
    and example zips; the accepted version stays what training reads; a small correction is
    accepted and recorded; `--accept-revisions` (a run tag) accepts a reviewed one."""
    landing = tmp_path / "landing"
    landing.mkdir()
    by_month = frames_by_month(small_panel)
    for month in MONTHS[:2]:
        by_month[month].to_parquet(landing / f"{month}.parquet", index=False)
    defs = _defs(tmp_path / "home", source=str(landing))
    register_months(instance, MONTHS[:2])
    assert ingest(defs, instance, MONTHS[:2], say=lambda _: None).ingested == MONTHS[:2]
    accepted = _cleaned(tmp_path, "2019-12")

    # +3% on every price: each month-over-month move stays plausible, yet it rewrites history.
    revised = by_month["2019-12"].assign(price=by_month["2019-12"]["price"] * 1.03)
    revised.to_parquet(landing / "2019-12.parquet", index=False)
    held = ingest(defs, instance, ["2019-12"], say=lambda _: None)
    assert list(held.quarantined) == ["2019-12"]
    why = held.quarantined["2019-12"]
    assert "revision_within_bounds" in why and "zips' price moved more than 0.5%" in why
    assert "price_plausible_month_over_month" not in why  # only the revision check caught it
    assert "--accept-revisions 2019-12" in why
    pd.testing.assert_frame_equal(_cleaned(tmp_path, "2019-12"), accepted)
    # What training's `splits` receives through the IO manager: still the accepted version.
    read = defs.load_asset_value("cleaned_monthly", partition_key="2019-12", instance=instance)
    assert read["2019-12"]["price"].tolist() == accepted["price"].tolist()

    # A one-zip correction is within bounds: accepted, and recorded on the check.
    corrected = by_month["2019-12"].copy()
    corrected.loc[0, "price"] *= 1.05
    corrected.to_parquet(landing / "2019-12.parquet", index=False)
    fixed = ingest(defs, instance, ["2019-12"], say=lambda _: None)
    assert fixed.ingested == ["2019-12"] and not fixed.quarantined
    record = _revisions(instance, fixed.run_ids[0])["2019-12"]
    assert record["rows_changed"] == 1 and record["columns_changed"] == ["price"]
    assert record["verdict"] == "correction"
    assert (_cleaned(tmp_path, "2019-12")["price"] != accepted["price"]).sum() == 1
    version = _month_metadata(instance, "cleaned_monthly", "2019-12")  # the partition's history
    assert version["revision_rows_changed"] == 1
    assert version["revision_columns_changed"] == ["price"]

    # The reviewed +3% revision, accepted by the operator, replaces the accepted version.
    revised.to_parquet(landing / "2019-12.parquet", index=False)
    taken = ingest(defs, instance, ["2019-12"], say=lambda _: None, accept_revisions=["2019-12"])
    assert taken.ingested == ["2019-12"] and not taken.quarantined
    assert _revisions(instance, taken.run_ids[0])["2019-12"]["verdict"] == "accepted by operator"
    now = _cleaned(tmp_path, "2019-12").set_index("zipcode")["price"]
    before = accepted.set_index("zipcode")["price"]
    assert (now / before.loc[now.index]).round(6).eq(1.03).all()

    # Another landing area on the same home is another dataset: it replaces the month
    # wholesale, named on the check, and is not held as a revision.
    other = tmp_path / "other-landing"
    other.mkdir()
    by_month["2019-12"].assign(price=by_month["2019-12"]["price"] * 0.97).to_parquet(
        other / "2019-12.parquet", index=False
    )
    home = tmp_path / "home"
    swapped = ingest(_defs(home, source=str(other)), instance, ["2019-12"], say=lambda _: None)
    assert swapped.ingested == ["2019-12"] and not swapped.quarantined
    check = run_level(check_evaluations(instance, swapped.run_ids[0]), "raw_revisions")
    assert check.metadata["months_from_another_source"].value == {"2019-12": f"file({landing})"}
    assert _month_metadata(instance, "cleaned_monthly", "2019-12")["source"] == f"file({other})"
