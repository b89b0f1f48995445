from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from housing_core import tuning
from housing_core.settings import Settings


def _data(seed: int, n: int = 600):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = X[:, 0] * 2 + np.sin(X[:, 1]) + rng.normal(scale=0.1, size=n)
    return xgb.DMatrix(X, label=y)


SETTINGS = tuning.TuningSettings(
    n_trials=3, timeout_s=60, seed=1, max_rounds=200, early_stopping_rounds=10, nthread=1
)


@pytest.mark.slow
def test_tuning_is_seeded_and_reports_every_trial():
    seen = []
    a = tuning.tune(_data(0), _data(1), SETTINGS, on_trial=seen.append)
    b = tuning.tune(_data(0), _data(1), SETTINGS)
    assert a.best_params == b.best_params
    assert len(seen) == 3 and all(t.state in ("COMPLETE", "PRUNED") for t in seen)
    assert 0 < a.best_iteration < 200


STORAGES = {  # the local default (settings.py), and an RDB URL as production's Postgres
    "journal": "journal:///{tmp}/optuna/studies.journal",
    "sqlite": "sqlite:///{tmp}/studies.db",
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", STORAGES)
def test_an_interrupted_study_resumes_from_storage(tmp_path, kind):
    storage = STORAGES[kind].format(tmp=tmp_path)
    first = tuning.tune(_data(0), _data(1), SETTINGS, storage=storage, study_name="s")
    more = tuning.TuningSettings(**{**SETTINGS.__dict__, "n_trials": 5})
    second = tuning.tune(_data(0), _data(1), more, storage=storage, study_name="s")
    assert first.resumed_trials == 0 and len(first.trials) == 3
    assert second.resumed_trials == 3 and len(second.trials) == 2
    assert second.best_value <= first.best_value


@pytest.mark.slow
@pytest.mark.parametrize("kind", STORAGES)
def test_trials_a_killed_run_left_running_are_failed_and_do_not_count(tmp_path, kind):
    """A run killed mid-trial leaves that trial RUNNING in the stored study forever: on resume
    it is marked FAIL, reported, and the budget still buys `n_trials` real trials."""
    import optuna

    url = STORAGES[kind].format(tmp=tmp_path)
    storage = tuning.open_storage(url)
    study = optuna.create_study(study_name="s", storage=storage, direction="minimize")
    study.ask()  # a trial begun by a process that was then killed
    result = tuning.tune(_data(0), _data(1), SETTINGS, storage=url, study_name="s")
    assert result.orphaned_trials == 1 and result.resumed_trials == 0
    assert len(result.trials) == 3
    reopened = tuning.open_storage(url)  # what the next process reads
    states = [t.state for t in optuna.load_study(study_name="s", storage=reopened).trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 1
    assert optuna.trial.TrialState.RUNNING not in states


def test_studies_persist_in_a_file_journal_by_default(tmp_path):
    import optuna

    url = Settings(home=tmp_path / "home").optuna_storage_url
    assert url.startswith(tuning.JOURNAL) and url.endswith("studies.journal")
    storage = tuning.open_storage(url)
    assert isinstance(storage, optuna.storages.JournalStorage)
    assert Path(url.removeprefix(tuning.JOURNAL)).parent.is_dir()  # made for the journal
    assert tuning.open_storage("postgresql://db/optuna") == "postgresql://db/optuna"
    assert tuning.open_storage(None) is None


def test_a_local_cluster_tunes_on_a_database_file_its_workers_share(tmp_path):
    from housing_core import shared_tuning

    local = Settings(home=tmp_path / "home", dask="local:2").optuna_storage_url
    assert local == f"sqlite:///{tmp_path / 'home' / 'data' / 'optuna' / 'studies.db'}"
    assert shared_tuning.shareable(local)
    # A scheduler's workers may be on other machines: only a URL they reach would do (prod's).
    remote = Settings(home=tmp_path / "home", dask="tcp://scheduler:8786").optuna_storage_url
    assert remote.startswith(tuning.JOURNAL) and not shared_tuning.shareable(remote)


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


@pytest.mark.slow
def test_a_journal_lock_dies_with_the_process_that_held_it(tmp_path):
    """A run SIGKILLed while appending to the journal left Optuna's lock file behind, and the
    next run waited out its 30 s grace period. The kernel lock goes with its holder: held, it
    excludes; its holder killed, it is free at once."""
    import signal
    import subprocess
    import sys

    journal = str(tmp_path / "studies.journal")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from housing_core.tuning import KernelLock; "
            f"KernelLock({journal!r}).acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = tuning.KernelLock(journal)
        assert lock.acquire(blocking=False) is False  # a real lock: another process holds it
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        assert lock.acquire(blocking=False) is True
        lock.release()
    finally:
        holder.kill()
        holder.wait()


def test_the_journal_is_written_under_the_kernel_lock(tmp_path):
    """The journal storage locks through KernelLock (its `.flock` file), not Optuna's lock file
    that a killed writer leaves behind, and leaves the lock free after writing."""
    import optuna

    journal = tmp_path / "studies.journal"
    optuna.create_study(study_name="s", storage=tuning.open_storage(f"{tuning.JOURNAL}{journal}"))
    assert journal.stat().st_size > 0
    assert (tmp_path / "studies.journal.flock").exists()
    assert not (tmp_path / "studies.journal.lock").exists()
    assert tuning.KernelLock(str(journal)).acquire(blocking=False) is True
