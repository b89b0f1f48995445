"""A bundle scores before it serves: one whose files were edited after publication with its
manifest recomputed (so every checksum matches) is refused when it cannot score its example rows
as it did when published, or cannot describe itself; the previous model keeps answering."""

import json

import pytest

from housing_core import bundle, publishing
from housing_harness.hostile import empty_bands, republish_edited
from tests.serving.conftest import API_KEY, make_client, records


def _narrow_bands(files):
    conformal = json.loads(files[bundle.CONFORMAL])
    for levels in conformal["quantiles"].values():
        for level, (lo, hi) in levels.items():
            levels[level] = [lo / 2, hi / 2]
    files[bundle.CONFORMAL] = json.dumps(conformal).encode()


def _provenance_without_windows(files):
    provenance = json.loads(files[bundle.PROVENANCE])
    del provenance["windows"]
    files[bundle.PROVENANCE] = json.dumps(provenance).encode()


def _other_model(files):
    model = json.loads(files[bundle.MODEL])
    model["learner"]["learner_model_param"]["base_score"] = "[5E-2]"
    files[bundle.MODEL] = json.dumps(model).encode()


@pytest.mark.parametrize(
    "edit, said",
    [
        (empty_bands, "cannot score its example rows"),
        (_narrow_bands, "answers its example rows otherwise"),
        (_other_model, "answers its example rows otherwise"),  # a booster of another base score
        (_provenance_without_windows, "cannot describe itself"),
    ],
    ids=["empty interval table", "altered interval table", "another booster", "provenance key"],
)
def test_a_bundle_that_cannot_score_as_published_is_refused_and_the_old_model_serves(
    store, holdout, edit, said
):
    with make_client(store) as client:
        assert client.get("/v1/ready").json()["model_version"] == "2022-01-v1"
        republish_edited(store, "2022-01-v2", edit)
        answer = client.post("/v1/admin/reload", headers={"X-API-Key": API_KEY}).json()
        assert answer["swapped"] is False and answer["model_version"] == "2022-01-v1"
        assert said in answer["error"] and "2022-01-v2" in answer["error"], answer["error"]
        predicted = client.post("/v1/predict", json={"rows": records(holdout.head(1))})
        assert predicted.status_code == 200 and predicted.json()["model_version"] == "2022-01-v1"
        assert client.get("/v1/model").status_code == 200


def test_a_bundle_republished_with_another_history_records_its_answers_again(store, tiny):
    """A history refresh changes the anchor a row is priced from: the republished bundle's
    example answers follow, so it is served (refresh and the tests publish through the same
    `publishing.with_anchors`)."""
    local = bundle.LocalStore(store)
    files = {k: v for k, v in bundle.load(local).files.items() if k != bundle.MANIFEST}
    assert bundle.SMOKE in files
    before = files[bundle.ANCHORS]
    older = tiny.splits[tiny.splits["date"] < tiny.splits["date"].max()]
    from housing_core import anchors as A
    from housing_core import features as F

    state = F.FeatureState.from_json(files[bundle.FEATURE_STATE].decode())
    history = A.keep_recent(A.inputs(older, state.stats)).to_parquet(index=False)
    assert history != before
    bundle.publish(local, "2022-01-v1.h", publishing.with_anchors(files, history))
    with make_client(store) as client:
        assert client.get("/v1/ready").json()["model_version"] == "2022-01-v1.h"


def test_a_refused_bundle_is_logged_once_while_the_poller_retries_it(store, caplog):
    """The poller retries the pointer every few seconds: the same refusal used to be logged on
    every poll, burying everything else in the API's output."""
    import logging

    with make_client(store) as client:
        holder = client.app.state.runtime.holder
        republish_edited(store, "2022-01-v2", empty_bands)
        with caplog.at_level(logging.ERROR, logger="housing_serving"):
            for _ in range(3):
                assert holder.refresh() is False
            republish_edited(store, "2022-01-v3", empty_bands)
            assert holder.refresh() is False
        refusals = [r.getMessage() for r in caplog.records if "refusing" in r.getMessage()]
        assert len(refusals) == 2, refusals
        assert "bundle 2022-01-v2" in refusals[0] and "bundle 2022-01-v3" in refusals[1]
        assert holder.current.version == "2022-01-v1"
