"""Monthly history refresh: same model, fresher anchors, republished under the bundle rules."""

import json

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from housing_core import anchors as A
from housing_core import bundle, horizons, refresh
from housing_core import features as F
from housing_core.cleaning import clean_month
from housing_core.predictor import Predictor


@pytest.fixture(scope="module")
def cleaned(small_panel):
    months = small_panel["date"].dt.strftime("%Y-%m")
    return pd.concat([clean_month(g)[0] for _, g in small_panel.groupby(months)], ignore_index=True)


def _publish(store, cleaned: pd.DataFrame, until: str) -> F.FeatureState:
    """A real (tiny) model published with history through `until`."""
    known = cleaned[cleaned["date"].dt.strftime("%Y-%m") <= until]
    state = F.fit(known)
    X = F.matrix(F.Rows.from_frame(known), state, F.no_anchors(len(known), state))
    booster = xgb.train({"nthread": 1}, xgb.DMatrix(X, label=np.zeros(len(known))), 3)
    residuals = np.random.default_rng(0).normal(0, 0.02, 200)
    conformal = horizons.conformal(residuals, np.array(["1-3"] * 200, dtype=object))
    files = {
        "model.json": bytes(booster.save_raw("json")),
        "feature_state.json": state.to_json().encode(),
        "schema.json": b"{}",
        "conformal.json": json.dumps(conformal).encode(),
        "metrics.json": b"{}",
        "provenance.json": json.dumps({"version": "2022-01-v1", "vintage": "2022-01"}).encode(),
        bundle.ANCHORS: A.keep_recent(A.inputs(known, state.stats)).to_parquet(index=False),
    }
    bundle.publish(store, "2022-01-v1", files)
    return state


def _month(cleaned, key):
    return cleaned[cleaned["date"].dt.strftime("%Y-%m") == key]


def test_a_landed_month_republishes_the_same_model_with_fresher_anchors(tmp_path, cleaned):
    store = bundle.LocalStore(tmp_path)
    _publish(store, cleaned, "2021-12")
    before = bundle.load(store)
    done = refresh.refresh(store, _month(cleaned, "2022-01"))
    assert done.published and done.previous == "2022-01-v1"
    assert done.version.startswith("2022-01-v1.h2022-01-") and done.history_until == "2022-01"
    assert done.zips_updated == cleaned["zipcode"].nunique()
    after = bundle.load(store)
    assert after.version == done.version == bundle.current_version(store)
    assert after.files["model.json"] == before.files["model.json"]
    provenance = after.json("provenance.json")
    assert provenance["model_version"] == "2022-01-v1"
    assert provenance["history_until"] == "2022-01"
    february = _month(cleaned, "2022-02")
    served = Predictor.from_bundle(after).predict(february)
    assert set(served["anchor_month"]) == {"2022-01"} and set(served["horizon"]) == {1.0}
    stale = Predictor.from_bundle(before).predict(february)
    assert set(stale["anchor_month"]) == {"2021-12"} and set(stale["horizon"]) == {2.0}


def test_the_same_month_again_publishes_nothing(tmp_path, cleaned):
    store = bundle.LocalStore(tmp_path)
    _publish(store, cleaned, "2021-12")
    first = refresh.refresh(store, _month(cleaned, "2022-01"))
    again = refresh.refresh(store, _month(cleaned, "2022-01"))
    assert not again.published and again.version == first.version
    assert bundle.versions(store) == sorted(["2022-01-v1", first.version])


def test_a_refresh_never_puts_back_a_model_replaced_meanwhile(tmp_path, cleaned):
    store = bundle.LocalStore(tmp_path)
    _publish(store, cleaned, "2021-12")
    published = bundle.load(store)
    files = {k: v for k, v in published.files.items() if k != bundle.MANIFEST}
    bundle.publish(store, "2022-01-v2", files)  # a retrain lands while the refresh writes
    with pytest.raises(bundle.BundleError, match="replaced"):
        bundle.publish(store, "2022-01-v1.h2022-01-x", files, replaces="2022-01-v1")
    assert bundle.current_version(store) == "2022-01-v2"


class _RetrainLandsMidRefresh(bundle.LocalStore):
    """A real store where another process publishes `v2` just as a refresh writes its manifest."""

    def write(self, key: str, data: bytes) -> None:
        if (
            key.endswith(bundle.MANIFEST)
            and ".h" in key
            and bundle.current_version(self) != "2022-01-v2"
        ):
            published = bundle.load(self)
            files = {k: v for k, v in published.files.items() if k != bundle.MANIFEST}
            bundle.publish(bundle.LocalStore(self.root), "2022-01-v2", files)
        super().write(key, data)


def test_a_refresh_that_loses_the_race_to_a_retrain_leaves_it_serving_and_says_so(
    tmp_path, cleaned
):
    store = _RetrainLandsMidRefresh(tmp_path)
    _publish(store, cleaned, "2021-12")
    done = refresh.refresh(store, _month(cleaned, "2022-01"))
    assert not done.published and done.superseded_by == "2022-01-v2"
    assert done.version == "2022-01-v2" and done.previous == "2022-01-v1"
    assert bundle.current_version(store) == "2022-01-v2"


def test_refresh_without_a_published_bundle_says_so(tmp_path, cleaned):
    with pytest.raises(bundle.BundleError, match="nothing to refresh"):
        refresh.refresh(bundle.LocalStore(tmp_path), _month(cleaned, "2022-01"))
