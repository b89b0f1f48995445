"""Optuna-tuned XGBoost: seeded TPE, early stopping on eval, pruning, resumable stored study.

The reference way (15 trials of 200-800 trees on all rows, no early stopping, no pruning) spends
most of its time on trees that do not help and on trials that are clearly lost. Here every trial
stops when the eval error stops improving, hopeless trials are pruned against the median of
earlier ones at the same boosting round, tuning may run on a sample of the train rows, and the
final model is refit once on train + eval with the best parameters.
"""

from __future__ import annotations

import fcntl
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import optuna
import xgboost as xgb

from housing_core import progress
from housing_core.threads import ThreadBudget

EVAL_METRIC = "mae"  # on the log scale: ~ relative error, what MAPE users care about


@dataclass
class TuningSettings:
    n_trials: int = 20
    # The budget is trials: the same data and settings give the same study and model however
    # busy the machine. A wall-clock cap (seconds, for new trials) is an opt-in guard.
    timeout_s: float | None = None
    seed: int = 42
    sample_fraction: float = 1.0  # share of train rows used while tuning (the refit uses all)
    # At most this many examples tune (None: no cap): past it a trial learns no better
    # parameters, only slower -- at 5x scale, 35% of the train examples was 0.9 M per trial.
    # Full scale tunes on 205k (35% of 585k), below it: the cap changes nothing up to ~1.2x.
    max_tuning_examples: int | None = 250_000
    max_rounds: int = 2000
    early_stopping_rounds: int = 50
    # None: the thread budget (housing_core/threads.py) decides per fit from its rows; an int pins it.
    nthread: int | None = None
    max_bin: int = 256


@dataclass
class TrialResult:
    number: int
    params: dict
    value: float | None
    best_iteration: int | None
    state: str
    seconds: float


@dataclass
class TuningResult:
    best_params: dict
    best_iteration: int
    best_value: float
    trials: list[TrialResult] = field(default_factory=list)
    resumed_trials: int = 0
    # Trials a killed earlier run left RUNNING, marked FAIL when the study was resumed (workers
    # sharing a study: failed by heartbeat while they ran); they do not count toward `n_trials`.
    orphaned_trials: int = 0
    # The best trial's model cut at its best round, when that trial ran in this process (a
    # resumed study's best may come from an earlier one): trained on the tuning rows only.
    best_booster: xgb.Booster | None = None
    nthread: int = 1  # threads each trial used


def search_space(trial: optuna.Trial) -> dict:
    return {
        "max_depth": trial.suggest_int("max_depth", 3, 10),
        "learning_rate": trial.suggest_float("learning_rate", 0.05, 0.3, log=True),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 50.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "gamma": trial.suggest_float("gamma", 1e-8, 1.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def with_threads(
    settings: TuningSettings, rows: int, threads: ThreadBudget | None = None
) -> TuningSettings:
    """`settings` with the thread count of a fit over `rows` rows decided: its pin if it has
    one, else the budget's (`threads`, or this process's CPUs when none is given)."""
    if settings.nthread is not None:
        return settings
    return replace(settings, nthread=(threads or ThreadBudget.detect()).for_rows(rows))


def booster_params(params: dict, settings: TuningSettings) -> dict:
    if settings.nthread is None:
        raise ValueError("decide the thread count first (with_threads)")
    return {
        "objective": "reg:squarederror",
        "eval_metric": EVAL_METRIC,
        "tree_method": "hist",
        "max_bin": settings.max_bin,
        "nthread": settings.nthread,
        "seed": settings.seed,
        **params,
    }


class _PruneOnEval(xgb.callback.TrainingCallback):
    """Reports the eval error to Optuna every 10 rounds and stops a trial the pruner gives up on."""

    def __init__(self, trial: optuna.Trial):
        self.trial = trial

    def after_iteration(self, model, epoch: int, evals_log) -> bool:
        if epoch % 10 == 0:
            self.trial.report(evals_log["eval"][EVAL_METRIC][-1], step=epoch)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned at round {epoch}")
        return False


COUNTED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)

JOURNAL = "journal:///"  # + a file path: Optuna's append-only file journal
SQLITE = "sqlite:///"  # + a file path: Optuna's RDB storage in SQLite


def open_storage(url: str | None) -> str | optuna.storages.BaseStorage | None:
    """Where a study persists: `journal:///<path>` -- Optuna's file journal, the local default
    (settings.py) -- or an SQLAlchemy URL for Optuna's RDB storage (Postgres in production);
    None keeps it in memory. A local file's directory is made here.

    Locally the journal: Optuna's SQLite storage writes every boosting report and re-reads the
    study for every pruning decision through SQLAlchemy, a third of a small tuning's time; the
    journal appends a line (fsynced, under a file lock, so runs may share it) and keeps the
    study in memory. Either resumes an interrupted study."""
    for local in (JOURNAL, SQLITE):
        if url is not None and url.startswith(local):
            Path(url.removeprefix(local)).parent.mkdir(parents=True, exist_ok=True)
    if url is None or not url.startswith(JOURNAL):
        return url
    from optuna.storages.journal import JournalFileBackend

    path = url.removeprefix(JOURNAL)
    # Optuna calls a lock's acquire() and release() only; its base class is not public API.
    backend = JournalFileBackend(path, lock_obj=KernelLock(path))  # type: ignore[arg-type]
    return optuna.storages.JournalStorage(backend)


class KernelLock:
    """The journal's write lock as a kernel lock (`flock`) on `<journal>.flock`: released by the
    kernel the moment its holder dies. Optuna's default lock is a file that a killed process
    leaves behind, and the next run waited out its 30 s grace period before taking it."""

    def __init__(self, journal: str):
        self.path = f"{journal}.flock"
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def fail_orphaned_trials(study: optuna.Study) -> int:
    """Mark FAIL the trials an interrupted run left RUNNING (its process was killed mid-trial:
    nothing will ever finish them); their number. One run tunes a vintage's study at a time (the
    vintage's training run), so a RUNNING trial seen when the study is loaded is an orphan.
    Workers sharing a study cannot tell so: they go by heartbeats (shared_tuning.py)."""
    orphans = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for trial in orphans:
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    return len(orphans)


def open_study(
    storage: str | optuna.storages.BaseStorage | None,
    study_name: str,
    settings: TuningSettings,
    *,
    sampler: optuna.samplers.BaseSampler | None = None,
) -> optuna.Study:
    """The study, created or loaded: seeded TPE (unless `sampler`), median pruning."""
    return optuna.create_study(
        study_name=study_name,
        storage=open_storage(storage) if isinstance(storage, str) else storage,
        load_if_exists=True,
        direction="minimize",
        sampler=sampler or optuna.samplers.TPESampler(seed=settings.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=50),
    )


@dataclass
class Objective:
    """Optuna's objective: fits one trial, records its result and keeps the model of the best
    trial this process ran (`kept`); `on_result` hears of every trial as it ends."""

    train: xgb.DMatrix
    evaluation: xgb.DMatrix
    settings: TuningSettings
    on_result: Callable[[TrialResult], None] = lambda _r: None
    results: list[TrialResult] = field(default_factory=list)
    kept: dict[int, xgb.Booster] = field(default_factory=dict)  # trial number -> model

    def __call__(self, trial: optuna.Trial) -> float:
        started = time.perf_counter()
        params = search_space(trial)
        try:
            booster = xgb.train(
                booster_params(params, self.settings),
                self.train,
                num_boost_round=self.settings.max_rounds,
                evals=[(self.evaluation, "eval")],
                early_stopping_rounds=self.settings.early_stopping_rounds,
                verbose_eval=False,
                callbacks=[_PruneOnEval(trial)],
            )
        except optuna.TrialPruned:
            seconds = time.perf_counter() - started
            self._ended(TrialResult(trial.number, params, None, None, "PRUNED", seconds))
            raise
        trial.set_user_attr("best_iteration", booster.best_iteration)
        value = float(booster.best_score)
        if not self.kept or value < min(r.value for r in self.results if r.value is not None):
            self.kept.clear()
            self.kept[trial.number] = booster[: booster.best_iteration + 1]
        seconds = time.perf_counter() - started
        self._ended(
            TrialResult(trial.number, params, value, booster.best_iteration, "COMPLETE", seconds)
        )
        return value

    def _ended(self, result: TrialResult) -> None:
        self.results.append(result)
        self.on_result(result)


def tune(
    train: xgb.DMatrix,
    evaluation: xgb.DMatrix,
    settings: TuningSettings,
    *,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str = "housing",
    on_trial: Callable[[TrialResult], None] | None = None,
    threads: ThreadBudget | None = None,
) -> TuningResult:
    """Run (or resume) the study until it holds `n_trials` finished trials or time runs out.
    `storage`: a URL (`open_storage`), an Optuna storage, or None (in memory)."""
    settings = with_threads(settings, train.num_row(), threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(storage, study_name, settings)
    orphaned = fail_orphaned_trials(study)
    finished = [t for t in study.trials if t.state in COUNTED]
    remaining = max(0, settings.n_trials - len(finished))
    objective = Objective(train, evaluation, settings)

    def reported(result: TrialResult) -> None:
        values = [t.value for t in finished if t.value is not None]
        values += [r.value for r in objective.results if r.value is not None]
        best = f"best eval error ≈ {math.expm1(min(values)):.2%}" if values else "none complete yet"
        done = len(finished) + len(objective.results)
        progress.report("tuning", done, settings.n_trials, unit="trials", note=best)
        if on_trial:
            on_trial(result)

    objective.on_result = reported
    if remaining:
        study.optimize(
            objective, n_trials=remaining, timeout=settings.timeout_s, gc_after_trial=True
        )
    return outcome(
        study,
        settings,
        objective.results,
        objective.kept,
        resumed=len(finished),
        orphaned=orphaned,
    )


def outcome(
    study: optuna.Study,
    settings: TuningSettings,
    results: list[TrialResult],
    kept: dict[int, xgb.Booster],
    *,
    resumed: int,
    orphaned: int,
) -> TuningResult:
    """The study's best trial, with the trials run here (`results`) and the best one's model
    when it is among `kept`."""
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(
            f"no tuning trial completed (of {len(study.trials)}); raise the time budget"
        )
    best = study.best_trial
    return TuningResult(
        best_params=dict(best.params),
        best_iteration=int(best.user_attrs["best_iteration"]),
        best_value=float(study.best_value),
        trials=results,
        resumed_trials=resumed,
        orphaned_trials=orphaned,
        best_booster=kept.get(best.number),
        nthread=int(settings.nthread or 1),
    )


def fit(
    params: dict,
    rounds: int,
    data: xgb.DMatrix,
    settings: TuningSettings,
    threads: ThreadBudget | None = None,
) -> xgb.Booster:
    settings = with_threads(settings, data.num_row(), threads)
    return xgb.train(
        booster_params(params, settings), data, num_boost_round=max(1, rounds), verbose_eval=False
    )


def sample_rows(n: int, fraction: float, seed: int, cap: int | None = None) -> np.ndarray:
    """Sorted positions of the tuning sample: `fraction` of `n`, at most `cap`."""
    if not 0 < fraction <= 1:
        raise ValueError(f"sample fraction must be in (0, 1], got {fraction}")
    if cap is not None and cap < 1:
        raise ValueError(f"tuning example cap must be at least 1, got {cap}")
    size = n if fraction == 1 else max(1, int(n * fraction))
    size = size if cap is None else min(size, cap)
    if size >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False))
