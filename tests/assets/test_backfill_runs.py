"""A backfill split into runs (HOUSING_BACKFILL_CHUNK) that write side by side
(HOUSING_BACKFILL_RUNS): each run judges its first month against the month before, which another
run may not have cleaned yet, and a run never writes months an earlier run still writes."""

from pathlib import Path

import dagster as dg
import pytest

from housing_assets.definitions import build_definitions
from housing_assets.runner import ingest, register_months
from housing_core.settings import Settings
from tests.conftest import frames_by_month

MONTHS = ["2019-11", "2019-12", "2020-01", "2020-02"]


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def _landing(tmp_path: Path, panel, factors: dict[str, float]) -> dg.Definitions:
    """Definitions over a landing area holding MONTHS, prices multiplied by `factors` per month."""
    landing = tmp_path / "landing"
    landing.mkdir()
    for month, frame in frames_by_month(panel).items():
        if month in MONTHS:
            frame = frame.assign(price=frame["price"] * factors.get(month, 1.0))
            frame.to_parquet(landing / f"{month}.parquet", index=False)
    return build_definitions(Settings(home=tmp_path / "home", source=str(landing)))


def test_a_runs_first_month_is_judged_against_a_month_before_no_run_has_cleaned_yet(
    tmp_path, instance, small_panel
):
    """The run over 2020-01..2020-02 starts while the run holding 2019-12 has not cleaned it:
    2020-01's x1.4 prices are judged against 2019-12 as delivered, and quarantined."""
    defs = _landing(tmp_path, small_panel, {"2020-01": 1.4})
    register_months(instance, MONTHS)
    outcome = ingest(defs, instance, MONTHS[2:], say=lambda _: None)
    assert list(outcome.quarantined) == ["2020-01"]
    assert "price_plausible_month_over_month" in outcome.quarantined["2020-01"]
    assert outcome.ingested == ["2020-02"]
    assert not (tmp_path / "home" / "data" / "cleaned_monthly" / "2019-12.parquet").exists()


def test_a_delivered_month_before_that_is_itself_implausible_is_no_yardstick(
    tmp_path, instance, small_panel
):
    """2019-12 delivered at twice its prices (its own run will quarantine it): 2020-01 is not
    judged against it, as within one run a rejected month judges no other."""
    defs = _landing(tmp_path, small_panel, {"2019-12": 2.0})
    register_months(instance, MONTHS)
    outcome = ingest(defs, instance, MONTHS[2:], say=lambda _: None)
    assert outcome.ingested == MONTHS[2:] and not outcome.quarantined
