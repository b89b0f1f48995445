"""The thread budget (housing_core/threads.py): CPUs from affinity and cgroup quota, shared by concurrent
runs, 1 for small inputs, HOUSING_THREADS over all of it -- and the fits that obey it."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
import yaml

from housing_assets.resources.environment import resources_for
from housing_core import threads, training, tuning
from housing_core.settings import LOCAL_CONCURRENT_RUNS, Settings, project_root
from housing_core.threads import SMALL_INPUT_ROWS, ThreadBudget

LARGE = SMALL_INPUT_ROWS * 10


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    ("files", "limit"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),  # cgroup v2: a Fargate-like 1.5 vCPU
        ({"cpu.max": "50000 100000\n"}, 0.5),
        ({"cpu.max": "max 100000\n"}, None),  # v2, unlimited
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),  # v1
        (
            {"cpu,cpuacct/cpu.cfs_quota_us": "25000", "cpu,cpuacct/cpu.cfs_period_us": "100000"},
            0.25,
        ),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),  # v1, none
        ({}, None),  # no cgroup files at all
    ],
)
def test_cgroup_quota_is_read_from_v2_and_v1_files(tmp_path, files, limit):
    assert threads.cgroup_cpu_limit(_write(tmp_path, files)) == limit


def test_usable_cpus_are_the_affinity_capped_by_the_quota(tmp_path):
    assert threads.usable_cpus(tmp_path, affinity={0, 1, 2, 3}) == 4
    _write(tmp_path, {"cpu.max": "150000 100000"})
    assert threads.usable_cpus(tmp_path, affinity={0, 1, 2, 3}) == 1.5
    assert threads.usable_cpus(tmp_path, affinity={3}) == 1  # pinned to one core: 1, quota or not


def test_a_run_fitting_alone_takes_every_cpu_and_runs_fitting_together_share(tmp_path):
    slots = threads.FitSlots(tmp_path / "slots")
    budget = ThreadBudget(cpus=2, concurrent=2, running=slots.active)
    assert budget.for_rows(LARGE) == 2  # nobody fitting yet counts as one run
    with slots.held():
        assert slots.active() == 1 and budget.for_rows(LARGE) == 2
        with slots.held():  # a second run starts fitting
            assert slots.active() == 2 and budget.for_rows(LARGE) == 1
        assert budget.for_rows(LARGE) == 2
    assert slots.active() == 0 and not list((tmp_path / "slots").iterdir())
    # Never more runs than may run at once, and small inputs still take one thread.
    crowded = ThreadBudget(cpus=8, concurrent=2, running=lambda: 5)
    assert crowded.for_rows(LARGE) == 4 and crowded.for_rows(10) == 1


def test_a_run_killed_while_fitting_no_longer_counts(tmp_path):
    import subprocess
    import sys

    directory = tmp_path / "slots"
    code = (
        "import sys, time; from housing_core.threads import FitSlots\n"
        f"with FitSlots({str(directory)!r}).held():\n"
        "    print('holding', flush=True); time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "holding"
        slots = threads.FitSlots(directory)
        assert slots.active() == 1
        child.kill()
        child.wait(timeout=10)
        assert slots.active() == 0  # the kernel dropped its lock: the stale file is removed
        assert not list(directory.glob("*.slot"))
    finally:
        child.kill()


def test_openmp_waits_passively_unless_the_environment_chose():
    env: dict[str, str] = {}
    threads.configure_openmp(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}
    chosen = {"OMP_WAIT_POLICY": "ACTIVE"}
    threads.configure_openmp(chosen)
    assert chosen == {"OMP_WAIT_POLICY": "ACTIVE"}
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"  # set when housing_assets was imported


def test_detect_reads_this_process_affinity(tmp_path):
    budget = ThreadBudget.detect(root=tmp_path)  # no quota files under tmp_path
    assert budget.cpus == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("budget", "rows", "expected"),
    [
        (ThreadBudget(cpus=8), LARGE, 8),
        (ThreadBudget(cpus=8, concurrent=2), LARGE, 4),  # shared by two runs
        (ThreadBudget(cpus=2, concurrent=2), LARGE, 1),  # this machine, dagster.yaml's 2 runs
        (ThreadBudget(cpus=2, concurrent=3), LARGE, 1),  # never 0
        (ThreadBudget(cpus=1.5), LARGE, 1),  # a fractional quota rounds down
        (ThreadBudget(cpus=8), SMALL_INPUT_ROWS - 1, 1),  # small input: 1 whatever the CPUs
        (ThreadBudget(cpus=8), SMALL_INPUT_ROWS, 8),
        (ThreadBudget(cpus=8, override=3), 10, 3),  # HOUSING_THREADS wins over every rule
        (ThreadBudget(cpus=1, concurrent=4, override=2), LARGE, 2),
    ],
)
def test_threads_per_fit(budget, rows, expected):
    assert budget.for_rows(rows) == expected


@pytest.mark.parametrize(
    "kwargs", [{"cpus": 0}, {"cpus": 2, "concurrent": 0}, {"cpus": 2, "override": 0}]
)
def test_a_nonsense_budget_is_refused(kwargs):
    with pytest.raises(ValueError, match="invalid thread budget"):
        ThreadBudget(**kwargs)


def test_housing_threads_reaches_the_runs_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("HOUSING_THREADS", "3")
    settings = Settings(home=tmp_path)
    assert settings.threads == 3
    budget = resources_for(settings)["threads"].budget()
    assert budget.override == 3 and budget.for_rows(10) == 3 and budget.for_rows(LARGE) == 3
    monkeypatch.setenv("HOUSING_THREADS", "0")
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Settings(home=tmp_path)


def test_without_the_override_runs_share_the_cpus_by_the_run_queue_limit(tmp_path, monkeypatch):
    monkeypatch.delenv("HOUSING_THREADS", raising=False)
    config = yaml.safe_load((project_root() / "dagster.yaml").read_text())
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == LOCAL_CONCURRENT_RUNS
    resource = resources_for(Settings(home=tmp_path))["threads"]
    budget = resource.budget()
    assert budget.override is None and budget.concurrent == LOCAL_CONCURRENT_RUNS
    assert budget.cpus == threads.usable_cpus()
    # Runs register while they fit, under the home: the CPUs go to the runs fitting now.
    with resource.fitting() as fitting:
        assert list((tmp_path / "fit-slots").glob("*.slot"))
        assert fitting.running is not None and fitting.running() == 1
        assert fitting.share == max(1, int(threads.usable_cpus()))
    assert not list((tmp_path / "fit-slots").glob("*.slot"))
    prod = Settings(
        home=tmp_path,
        env="prod",
        data_uri="s3://b/data",
        serving_uri="s3://b/serving",
        mlflow_uri="http://mlflow:5000",
        optuna_url="postgresql://db/optuna",
    )
    assert prod.concurrent_runs == 1  # each prod run is its own task with its own CPUs
    assert prod.fit_slots_dir is None


def _data(seed: int, rows: int = 400) -> xgb.DMatrix:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 4))
    return xgb.DMatrix(X, label=X[:, 0] + 0.1 * rng.normal(size=rows))


def _nthread(booster: xgb.Booster) -> int:
    return int(json.loads(booster.save_config())["learner"]["generic_param"]["nthread"])


# Few rounds: a 2-thread fit on a busy machine spins at every round's barrier (the issue).
SETTINGS = tuning.TuningSettings(n_trials=2, seed=1, max_rounds=10, early_stopping_rounds=5)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("budget", "expected"),
    [(ThreadBudget(cpus=8), 1), (ThreadBudget(cpus=8, override=2), 2)],  # 400 rows: small
)
def test_tuning_and_refit_take_their_threads_from_the_budget(budget, expected):
    result = tuning.tune(_data(0), _data(1), SETTINGS, threads=budget)
    assert result.nthread == expected
    assert result.best_booster is not None and _nthread(result.best_booster) == expected
    refit = tuning.fit(result.best_params, 5, _data(0), SETTINGS, threads=budget)
    assert _nthread(refit) == expected


def test_a_pinned_thread_count_wins_and_an_undecided_one_is_refused():
    pinned = tuning.TuningSettings(**{**SETTINGS.__dict__, "nthread": 2})
    assert tuning.with_threads(pinned, 10, ThreadBudget(cpus=8)).nthread == 2
    assert tuning.with_threads(SETTINGS, LARGE, ThreadBudget(cpus=8, concurrent=2)).nthread == 4
    with pytest.raises(ValueError, match="decide the thread count"):
        tuning.booster_params({}, SETTINGS)


@pytest.mark.slow
def test_the_thread_count_does_not_change_the_model(tiny):
    """XGBoost's hist method gives the same trees with 1 or 2 threads: byte for byte, not just
    within float tolerance. So the budget may differ between machines without changing models."""
    from housing_harness.tiny import SETTINGS as TINY

    settings = tuning.TuningSettings(**{**TINY.__dict__, "nthread": None, "max_rounds": 15})
    models = {
        n: training.train(tiny.splits, tiny.state, settings, threads=ThreadBudget(2, override=n))
        for n in (1, 2)
    }
    assert models[1].tuning.nthread == 1 and models[2].tuning.nthread == 2
    assert models[1].tuning.best_params == models[2].tuning.best_params
    assert bytes(models[1].booster.save_raw("json")) == bytes(models[2].booster.save_raw("json"))
