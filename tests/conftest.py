import os
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(
    os.environ.get("HOUSETS_SAMPLE", REPO.parent / "shared" / "data" / "housets_sample.csv")
)

# GE reports usage analytics unless told not to; tests never talk to the network.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
warnings.filterwarnings("ignore", module="dagster")


INGESTION_ASSETS = ("raw_monthly", "cleaned_monthly")
LINEAGE_ASSETS = (
    "splits",
    "feature_state",
    "tuned_model",
    "holdout_predictions",
    "holdout_metrics",
    "serving_bundle",
)
ALL_ASSETS = {*INGESTION_ASSETS, *LINEAGE_ASSETS}


@pytest.fixture(scope="session")
def sample_path() -> Path:
    if not SAMPLE.exists():
        pytest.skip(f"real HouseTS sample not available at {SAMPLE}")
    return SAMPLE


@pytest.fixture(scope="session")
def small_panel():
    from housing_assets.lib.synthetic import SyntheticSpec, generate_panel

    return generate_panel(SyntheticSpec(seed=3, scale=0.01))


def frames_by_month(panel):
    return {
        m: f.reset_index(drop=True) for m, f in panel.groupby(panel["date"].dt.strftime("%Y-%m"))
    }
