"""The bundle the real Dagster lineage published (the session's `trained` fixture), served: the
other serving tests use the in-process model of housing_harness/tiny.py; this one proves the two paths meet."""

import shutil

import numpy as np
import pandas as pd
import pytest

from housing_core import bundle
from housing_core import features as F
from housing_core.predictor import Predictor
from housing_core.splits import HOLDOUT, SPLIT
from tests.conftest import PUBLISHED
from tests.serving.conftest import assert_close, make_client, publish_with_history, records


@pytest.mark.slow
def test_the_lineage_bundle_serves_its_final_refit_anchored_as_the_lineage_judged(
    trained, tmp_path
):
    settings, _, _, outcome = trained
    store = tmp_path / "serving"
    shutil.copytree(settings.serving_dir, store)
    rows = PUBLISHED["splits"]
    with make_client(store) as client:
        info = client.get("/v1/model").json()
        assert info["version"] == outcome.bundle_version == "2022-01-v1"
        # The card's estimate is the evaluated model's holdout; the served one learned through
        # the newest month.
        assert info["holdout_metrics"]["mape"] == pytest.approx(outcome.metrics["mape"])
        assert info["trained_through"] == rows["date"].max().strftime("%Y-%m") == "2023-12"
        assert info["final_refit"]["rows"] == len(rows)
    publish_with_history(store, rows[rows[SPLIT] != HOLDOUT], "2022-01-v1.judged")
    holdout = rows[rows[SPLIT] == HOLDOUT].reset_index(drop=True)
    with make_client(store) as client:
        body = client.post("/v1/predict", json={"rows": records(holdout)}).json()
    got = pd.DataFrame(body["predictions"])
    judged = PUBLISHED["holdout_predictions"]
    assert len(got) == len(judged) == len(holdout)
    # Anchored exactly as the lineage judged the holdout...
    assert_close(got["horizon"], judged["horizon"])
    # ... but scored by the bundle's booster, the final refit, not the evaluated model.
    served = bundle.load(bundle.LocalStore(store))
    refit = Predictor.from_bundle(served).predict(holdout)
    assert_close(got["prediction"], refit["prediction"])
    assert_close(got["interval_95"].str[1], refit["upper_95"])
    assert not np.allclose(got["prediction"], judged["prediction"], rtol=1e-6)
    assert served.files["model.json"] != outcome.model.model_json.encode()  # the evaluated one
    assert (
        F.FeatureState.from_json(served.files["feature_state.json"].decode()).fitted_on["last_date"]
        < "2020-01-01"
    )  # the encoders stay the train-fitted ones the lineage checked
