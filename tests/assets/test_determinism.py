"""The tuning budget is trials, not seconds, so the published model does not depend on
how busy the machine was. Two full `train` runs of the same data and settings, each in its own
home (own Optuna study, own MLflow), publish the same parameters and the same model file."""

import hashlib

import pytest

from housing_assets.runner import train
from housing_core import bundle
from tests.conftest import build_lineage

pytestmark = pytest.mark.slow

BUDGET = {"n_trials": 2, "sample_fraction": 1.0}  # trials only: no time limit


def _train_in(home):
    settings, defs, instance, handle = build_lineage(home)
    try:
        outcome = train(defs, instance, "2022-01", BUDGET, say=lambda _: None)
    finally:
        handle.__exit__(None, None, None)
    assert outcome.published, outcome.gate
    published = bundle.load(bundle.LocalStore(settings.serving_dir))
    return outcome, hashlib.sha256(published.files["model.json"]).hexdigest()


def test_two_runs_on_the_same_data_publish_the_same_model(tmp_path):
    first, first_sha = _train_in(tmp_path / "first")
    second, second_sha = _train_in(tmp_path / "second")
    assert first.model is not None and second.model is not None
    assert first.model.best_params == second.model.best_params
    assert first.model.rounds == second.model.rounds
    assert first_sha == second_sha
    assert first.metrics["mape"] == second.metrics["mape"]
