import numpy as np
import pytest
import xgboost as xgb

from housing_assets.lib import tuning


def _data(seed: int, n: int = 600):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = X[:, 0] * 2 + np.sin(X[:, 1]) + rng.normal(scale=0.1, size=n)
    return xgb.DMatrix(X, label=y)


SETTINGS = tuning.TuningSettings(
    n_trials=3, timeout_s=60, seed=1, max_rounds=200, early_stopping_rounds=10, nthread=1
)


def test_tuning_is_seeded_and_reports_every_trial():
    seen = []
    a = tuning.tune(_data(0), _data(1), SETTINGS, on_trial=seen.append)
    b = tuning.tune(_data(0), _data(1), SETTINGS)
    assert a.best_params == b.best_params
    assert len(seen) == 3 and all(t.state in ("COMPLETE", "PRUNED") for t in seen)
    assert 0 < a.best_iteration < 200


def test_an_interrupted_study_resumes_from_storage(tmp_path):
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    first = tuning.tune(_data(0), _data(1), SETTINGS, storage=storage, study_name="s")
    more = tuning.TuningSettings(**{**SETTINGS.__dict__, "n_trials": 5})
    second = tuning.tune(_data(0), _data(1), more, storage=storage, study_name="s")
    assert first.resumed_trials == 0 and len(first.trials) == 3
    assert second.resumed_trials == 3 and len(second.trials) == 2
    assert second.best_value <= first.best_value


def test_trials_a_killed_run_left_running_are_failed_and_do_not_count(tmp_path):
    """A run killed mid-trial leaves that trial RUNNING in the stored study forever: on resume
    it is marked FAIL, reported, and the budget still buys `n_trials` real trials."""
    import optuna

    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="minimize")
    study.ask()  # a trial begun by a process that was then killed
    result = tuning.tune(_data(0), _data(1), SETTINGS, storage=storage, study_name="s")
    assert result.orphaned_trials == 1 and result.resumed_trials == 0
    assert len(result.trials) == 3
    states = [t.state for t in optuna.load_study(study_name="s", storage=storage).trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 1
    assert optuna.trial.TrialState.RUNNING not in states


def test_sampling_keeps_order_and_size():
    rows = tuning.sample_rows(1000, 0.25, seed=3)
    assert len(rows) == 250 and (np.diff(rows) > 0).all()
    assert (tuning.sample_rows(10, 1.0, 0) == np.arange(10)).all()


def test_the_tuning_cap_bounds_the_sample_and_changes_nothing_below_it():
    # Below the cap the sample is the one the fraction alone draws (full scale is, byte for byte).
    assert (tuning.sample_rows(1000, 0.25, 3, cap=250) == tuning.sample_rows(1000, 0.25, 3)).all()
    capped = tuning.sample_rows(1000, 0.25, 3, cap=100)
    assert len(capped) == 100 and (np.diff(capped) > 0).all() and capped.max() < 1000
    assert len(tuning.sample_rows(1000, 1.0, 3, cap=300)) == 300  # all rows, capped
    assert (tuning.sample_rows(50, 1.0, 3, cap=300) == np.arange(50)).all()
    with pytest.raises(ValueError, match="at least 1"):
        tuning.sample_rows(10, 1.0, 0, cap=0)
