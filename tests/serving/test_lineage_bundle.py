"""The bundle the real Dagster lineage published (the session's `trained` fixture), served: the
other serving tests use the in-process model of tests/tiny.py; this one proves the two paths meet."""

import shutil

import pandas as pd
import pytest

from housing_assets.lib.splits import HOLDOUT, SPLIT
from tests.conftest import PUBLISHED
from tests.serving.conftest import assert_close, make_client, publish_with_history, records


@pytest.mark.slow
def test_the_lineage_bundle_serves_exactly_what_the_lineage_judged(trained, tmp_path):
    settings, _, _, outcome = trained
    store = tmp_path / "serving"
    shutil.copytree(settings.serving_dir, store)
    rows = PUBLISHED["splits"]
    with make_client(store) as client:
        info = client.get("/v1/model").json()
        assert info["version"] == outcome.bundle_version == "2022-01-v1"
        assert info["holdout_metrics"]["mape"] == pytest.approx(outcome.metrics["mape"])
    publish_with_history(store, rows[rows[SPLIT] != HOLDOUT], "2022-01-v1.judged")
    holdout = rows[rows[SPLIT] == HOLDOUT].reset_index(drop=True)
    with make_client(store) as client:
        body = client.post("/v1/predict", json={"rows": records(holdout)}).json()
    got = pd.DataFrame(body["predictions"])
    judged = PUBLISHED["holdout_predictions"]
    assert len(got) == len(judged) == len(holdout)
    assert_close(got["prediction"], judged["prediction"])
    assert_close(got["interval_95"].str[1], judged["upper_95"])
    assert_close(got["horizon"], judged["horizon"])
