"""The API scores with one XGBoost thread per worker process (housing_core/threads.py SCORING_THREADS):
throughput comes from workers, and one request never spins threads against the others."""

import json

from housing_core.threads import SCORING_THREADS
from tests.serving.conftest import make_client, records


def _nthread(booster) -> int:
    return int(json.loads(booster.save_config())["learner"]["generic_param"]["nthread"])


def test_the_served_model_scores_with_one_thread(store, holdout):
    assert SCORING_THREADS == 1
    with make_client(store) as client:
        body = client.post("/v1/predict", json={"rows": records(holdout.head(5))}).json()
        assert len(body["predictions"]) == 5
        model = client.app.state.runtime.holder.current
        assert model is not None and model.version == body["model_version"]
        # A model loaded from JSON comes with nthread 0 (all cores); the predictor pins it.
        assert _nthread(model.predictor.booster) == 1
