"""Tuning workers sharing one Optuna study in a database (housing_core/shared_tuning.py): one
worker runs the trials one process runs; a worker killed mid-trial loses that trial to the
heartbeat check, and another worker runs it again."""

import multiprocessing
import time
from dataclasses import replace

import numpy as np
import optuna
import pytest
import xgboost as xgb

from housing_core import shared_tuning, tuning

State = optuna.trial.TrialState
SETTINGS = tuning.TuningSettings(
    n_trials=3, timeout_s=120, seed=1, max_rounds=200, early_stopping_rounds=10, nthread=1
)
FAST = shared_tuning.Heartbeat(interval_s=1, grace_s=2, max_retry=1, poll_s=0.2)


def _data(seed: int, n: int = 600) -> xgb.DMatrix:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = X[:, 0] * 2 + np.sin(X[:, 1]) + rng.normal(scale=0.1, size=n)
    return xgb.DMatrix(X, label=y)


def _trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).trials


def test_one_worker_runs_the_trials_one_process_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    alone = tuning.tune(_data(0), _data(1), SETTINGS)
    before = shared_tuning.prepare(url, "s", SETTINGS, FAST)
    worker = shared_tuning.work(
        _data(0), _data(1), SETTINGS, url=url, study_name="s", heartbeat=FAST
    )
    shared = shared_tuning.gather(url, "s", SETTINGS, FAST, before, [worker])
    assert [t.params for t in shared.trials] == [t.params for t in alone.trials]
    assert shared.best_params == alone.best_params and shared.best_value == alone.best_value
    assert shared.best_booster is not None  # the worker's model of the best trial came back
    assert len(_trials(url, "s")) == SETTINGS.n_trials


def _victim(url: str) -> None:
    """A worker whose first trial never ends by itself (no round limit that would stop it)."""
    endless = replace(SETTINGS, max_rounds=10**9, early_stopping_rounds=10**9)
    shared_tuning.work(_data(0), _data(1), endless, url=url, study_name="s", heartbeat=FAST)


def _running(url: str, within: float) -> optuna.trial.FrozenTrial:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        running = [t for t in _trials(url, "s") if t.state == State.RUNNING]
        if running and "worker" in running[0].user_attrs:
            return running[0]
        time.sleep(0.1)
    raise AssertionError(f"no trial started within {within} s")


@pytest.mark.slow
def test_a_worker_killed_mid_trial_loses_it_to_the_heartbeat_and_another_reruns_it(postgres):
    url = postgres.create_database("killed_worker")
    before = shared_tuning.prepare(url, "s", SETTINGS, FAST)
    victim = multiprocessing.get_context("spawn").Process(target=_victim, args=(url,))
    victim.start()
    try:
        killed = _running(url, within=60)
        time.sleep(1.5)  # mid-trial, its heartbeat recorded
        victim.kill()
        victim.join(timeout=10)
    finally:
        victim.kill()
    assert victim.exitcode == -9
    survivor = shared_tuning.work(
        _data(0), _data(1), SETTINGS, url=url, study_name="s", heartbeat=FAST, index=1
    )
    result = shared_tuning.gather(url, "s", SETTINGS, FAST, before, [survivor])
    trials = _trials(url, "s")
    states = [t.state for t in trials]
    assert states.count(State.FAIL) == 1 and trials[killed.number].state == State.FAIL
    assert sum(s in tuning.COUNTED for s in states) == SETTINGS.n_trials
    assert State.RUNNING not in states and State.WAITING not in states
    (rerun,) = [
        t
        for t in trials
        if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == killed.number
    ]
    assert rerun.state in tuning.COUNTED and rerun.params == killed.params
    assert rerun.user_attrs["worker"] == survivor.worker
    assert result.orphaned_trials == 1 and len(result.trials) == SETTINGS.n_trials
