import os
import warnings
from pathlib import Path

import pandas as pd
import pytest

from housing_core import contract as c

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(
    os.environ.get("HOUSETS_SAMPLE", REPO.parent / "shared" / "data" / "housets_sample.csv")
)
# The original publisher's layout: 40 DC-metro zips, 2012-03..2021-12, 17 columns.
DC_PANEL = Path(
    os.environ.get(
        "HOUSETS_DC_PANEL", REPO.parent / "shared" / "data" / "housets_dc_panel_2012_2021.csv"
    )
)

# GE reports usage analytics unless told not to; tests never talk to the network.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
warnings.filterwarnings("ignore", module="dagster")

# Cross-cutting suites, selectable with -m whatever tier a test is in: a folder's tests carry its
# marker, and `e2e` marks the tests that run the platform end to end through real processes.
FOLDER_MARKERS = {"security": "security", "reliability": "reliability", "integration": "e2e"}
E2E = {
    "test_simulation.py",
    "test_operator_scenario.py",
    "test_prod_end_to_end.py",
    "test_readme.py::test_the_readme_commands_work_as_written",
}


def pytest_collection_modifyitems(items):
    for item in items:
        parts = Path(item.fspath).relative_to(REPO / "tests").parts
        if parts[0] in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[parts[0]])
        name = Path(item.fspath).name
        if name in E2E or f"{name}::{item.originalname}" in E2E:
            item.add_marker("e2e")


INGESTION_ASSETS = ("raw_monthly", "cleaned_monthly")
LINEAGE_ASSETS = (
    "splits",
    "feature_state",
    "tuned_model",
    "holdout_predictions",
    "holdout_metrics",
    "serving_bundle",
)
FORECASTING_ASSETS = ("forecaster", "forecast_backtest", "published_forecast")
MONITORING_ASSETS = (
    "drift_report",
    "batch_predictions",
    "served_history",
    "zip_forecasts",
    "forecast_scorecard",
    "live_performance",
)
ALL_ASSETS = {*INGESTION_ASSETS, *LINEAGE_ASSETS, *FORECASTING_ASSETS, *MONITORING_ASSETS}


@pytest.fixture(scope="session")
def sample_path() -> Path:
    if not SAMPLE.exists():
        pytest.skip(f"real HouseTS sample not available at {SAMPLE}")
    return SAMPLE


@pytest.fixture(scope="session")
def dc_panel_path() -> Path:
    if not DC_PANEL.exists():
        pytest.skip(f"DC-metro panel in the publisher's layout not available at {DC_PANEL}")
    return DC_PANEL


# What the publisher's per-metro panels leave out of the 39 HouseTS columns (besides `year`).
PUBLISHER_LACKS = [
    "median_ppsf",
    "median_list_ppsf",
    "sold_above_list",
    "off_market_in_two_weeks",
    *c.POI_COLUMNS,
    *(col for col in c.CENSUS_COLUMNS if col != "Total Population"),
]


def publisher_layout(frame: pd.DataFrame) -> pd.DataFrame:
    """HouseTS rows as the publisher's per-metro panel has them: `city` the town, `metro` the metro
    name, longitude/latitude/state added, no POI, most census columns, ppsf or `year`."""
    out = frame.drop(columns=[*PUBLISHER_LACKS, c.YEAR, c.CITY])
    out = out.rename(columns={c.CITY_FULL: "metro"})
    out.insert(1, "city", "Springfield")
    out.insert(2, "state", "Virginia")
    return out.assign(longitude=-77.1, latitude=38.8)


@pytest.fixture(scope="session")
def tiny():
    """The in-process model and bundle of housing_harness/tiny.py (about a second): for tests that need
    a real published model but not the Dagster lineage that builds one (`trained`)."""
    from housing_harness.tiny import tiny_model

    return tiny_model()


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the session (housing_harness/postgres.py): each test
    creates its own database on it."""
    from housing_harness.postgres import BINARIES, throwaway_postgres

    if not BINARIES:
        pytest.skip("no PostgreSQL server here (apt-get install postgresql)")
    with throwaway_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def small_panel():
    from housing_core.synthetic import SyntheticSpec, generate_panel

    return generate_panel(SyntheticSpec(seed=3, scale=0.01))


def frames_by_month(panel):
    return {
        m: f.reset_index(drop=True) for m, f in panel.groupby(panel["date"].dt.strftime("%Y-%m"))
    }


PUBLISHED: dict = {}  # asset -> frame, as materialized by the run that published the bundle
TUNING = {"n_trials": 3, "sample_fraction": 1.0}  # a trial budget: same trials however busy


def build_lineage(home: Path, source: str = "synthetic"):
    """Ingest every month and return (settings, defs, instance, handle); close handle when done."""
    import dagster as dg

    from housing_assets.definitions import build_definitions
    from housing_assets.runner import ingest, register_months
    from housing_core.settings import Settings

    settings = Settings(home=home, source=source, scale=0.01, seed=3)
    defs = build_definitions(settings)
    handle = dg.instance_for_test()
    instance = handle.__enter__()
    months = defs.resources["source"].months()
    register_months(instance, months)
    ingest(defs, instance, months, say=lambda _: None)
    return settings, defs, instance, handle


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A small panel trained once for the session: vintage 2022-01 published to its serving store."""
    from housing_assets.runner import train

    settings, defs, instance, handle = build_lineage(tmp_path_factory.mktemp("trained-home"))
    outcome = train(defs, instance, "2022-01", TUNING, say=lambda _: None)
    assert outcome.published, outcome.gate
    # Later tests may retrain this vintage (the gate test does): keep what was published now.
    for asset in ("splits", "holdout_predictions"):
        PUBLISHED[asset] = pd.read_parquet(settings.data_dir / asset / "2022-01.parquet")
    yield settings, defs, instance, outcome
    handle.__exit__(None, None, None)
