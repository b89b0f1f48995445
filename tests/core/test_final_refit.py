"""The final refit (housing_core/training.py): the evaluated parameters refit on every month, holdout
included -- what a bundle serves once the gate passed. On the tiny model (about a second)."""

import json
from dataclasses import replace

import pytest

from housing_core import splits as S
from housing_core import training
from housing_harness.tiny import SETTINGS


@pytest.fixture(scope="module")
def refit(tiny):
    m = tiny.model
    return training.final_refit(tiny.splits, tiny.state, m.tuning.best_params, m.rounds, SETTINGS)


def test_it_learns_every_month_through_the_newest_with_rounds_scaled_by_examples(tiny, refit):
    rows = tiny.splits
    assert refit.rows == len(rows)
    assert (refit.first_month, refit.last_month) == (
        rows["date"].min().strftime("%Y-%m"),
        rows["date"].max().strftime("%Y-%m"),
    )
    assert refit.last_month > rows.loc[rows[S.SPLIT] == S.EVAL, "date"].max().strftime("%Y-%m")
    assert refit.examples == len(rows) * training.draws_for(len(rows))
    known = int((rows[S.SPLIT] != S.HOLDOUT).sum())
    fitted_on = known * training.draws_for(known)
    assert refit.evaluated_rounds == tiny.model.rounds
    assert refit.rounds == round(tiny.model.rounds * refit.examples / fitted_on)
    assert refit.rounds > refit.evaluated_rounds  # more months, more rounds
    assert refit.booster.num_boosted_rounds() == refit.rounds


def test_it_reuses_the_tuned_parameters_and_is_another_booster(tiny, refit):
    config = json.loads(refit.booster.save_config())
    tree = config["learner"]["gradient_booster"]["tree_train_param"]
    params = tiny.model.tuning.best_params
    assert int(tree["max_depth"]) == params["max_depth"]
    assert float(tree["learning_rate"]) == pytest.approx(params["learning_rate"])
    assert refit.booster.save_raw("json") != tiny.model.booster.save_raw("json")


def test_it_is_deterministic(tiny, refit):
    again = training.final_refit(
        tiny.splits, tiny.state, tiny.model.tuning.best_params, tiny.model.rounds, SETTINGS
    )
    assert again.booster.save_raw("json") == refit.booster.save_raw("json")


def test_without_a_holdout_there_is_nothing_to_refit_on(tiny):
    rows = tiny.splits[tiny.splits[S.SPLIT] != S.HOLDOUT]
    with pytest.raises(ValueError, match="train, eval and holdout"):
        training.final_refit(rows, tiny.state, {}, 10, SETTINGS)


def test_the_artifact_carries_the_settings_the_refit_reuses(tiny):
    ref = training.MlflowRef("run", "housing-price-xgb", "1")
    artifact = training.ModelArtifact.of(tiny.model, ref)
    back = training.ModelArtifact.from_json(artifact.to_json())
    assert back.tuning_settings() == SETTINGS
    # An artifact written before the settings were recorded refits with the defaults.
    old = json.loads(artifact.to_json())
    del old["settings"]
    assert training.ModelArtifact.from_json(json.dumps(old)).tuning_settings() == (
        training.tuning.TuningSettings()
    )
    # A setting a later release dropped is ignored, not a crash.
    newer = replace(back, settings={**back.settings, "thread_budget": 3})
    assert newer.tuning_settings() == SETTINGS
