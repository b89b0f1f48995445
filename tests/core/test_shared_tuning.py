"""Tuning workers sharing one Optuna study in a database (housing_core/shared_tuning.py): one
worker runs the trials one process runs; two Dask workers on one Postgres study run at the same
time and stop at exactly the budget; a worker killed mid-trial loses that trial to the heartbeat
check, and another worker runs it again."""

import multiprocessing
import time
from dataclasses import replace

import numpy as np
import optuna
import pytest
import xgboost as xgb

from housing_assets.resources.dask_cluster import DaskCluster
from housing_core import dask_training, shared_tuning, training, tuning

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


@pytest.mark.slow
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


@pytest.mark.slow
def test_two_dask_workers_share_one_postgres_study_and_stop_at_exactly_the_budget(postgres, tiny):
    url = postgres.create_database("two_workers")
    # Trials long enough to overlap (no early stopping), and more than two per worker.
    settings = replace(SETTINGS, n_trials=7, max_rounds=150, early_stopping_rounds=150)
    with DaskCluster(address="local:2", worker_memory="1GiB").client() as client:
        client.wait_for_workers(2)
        tuner = dask_training.DaskTuning(client, FAST)
        model = training.train(
            tiny.splits, tiny.state, settings, storage=url, study_name="v", tuner=tuner
        )
    trials = _trials(url, "v")
    states = [t.state for t in trials]
    assert sum(s in tuning.COUNTED for s in states) == settings.n_trials == len(trials)
    assert State.FAIL not in states and State.RUNNING not in states
    by_worker: dict[str, list] = {}
    for t in trials:
        by_worker.setdefault(t.user_attrs["worker"], []).append(t)
    assert len(by_worker) == 2 and set(by_worker) == set(tuner.trials_by_worker)
    first, second = by_worker.values()
    assert any(
        a.datetime_start < b.datetime_complete and b.datetime_start < a.datetime_complete
        for a in first
        for b in second
    ), "the two workers never ran trials at the same time"
    assert len(model.tuning.trials) == settings.n_trials and model.tuning.orphaned_trials == 0
    assert model.tuning.best_booster is not None and model.rounds > 0


def _victim(url: str) -> None:
    """A worker whose first trial never ends by itself (no round limit that would stop it)."""
    endless = replace(SETTINGS, max_rounds=10**9, early_stopping_rounds=10**9)
    shared_tuning.work(_data(0), _data(1), endless, url=url, study_name="s", heartbeat=FAST)


def _running(url: str, within: float) -> optuna.trial.FrozenTrial:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        running = [t for t in _trials(url, "s") if t.state == State.RUNNING]
        # Its params are written after the worker attribute: wait for both, so it is mid-trial.
        if running and "worker" in running[0].user_attrs and running[0].params:
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
    assert killed.params and trials[killed.number].params == killed.params
    assert rerun.state in tuning.COUNTED and rerun.params == killed.params
    assert rerun.user_attrs["worker"] == survivor.worker
    assert result.orphaned_trials == 1 and len(result.trials) == SETTINGS.n_trials
