"""Tuning trials spread over several processes that share one Optuna study in a database
(Postgres in production, an SQLite file on one machine).

Each worker runs Optuna's loop against the shared study until it holds `n_trials` COMPLETE or
PRUNED trials across all workers -- exactly that many. Optuna's MaxTrialsCallback stops a worker
once enough trials have ended, but a trial another worker is still running then ends too, one
over. So before Optuna starts a trial the worker claims a slot: under a lock the workers share
(a Postgres advisory lock, a kernel file lock for SQLite) it counts the trials that ended or are
running, goes on only if they are fewer than `n_trials`, and lets the lock go once its new trial
is stored, where the next count sees it.

A dead worker is told from a slow one by Optuna's heartbeats: a running trial records one every
`interval_s`; a trial silent for `grace_s` is failed by whichever worker looks next and queued
again with its parameters (up to `max_retry` times). Never the single-process sweep
(`tuning.fail_orphaned_trials`): a RUNNING trial here may be another worker's, alive. A worker
finding every free slot held by running trials waits for them to end or go stale.

Each worker samples with its own seed (seed + its index): one seed would propose the same
parameters on every worker. Worker 0 samples as `tuning.tune` does, so one worker runs exactly
the trials one process would.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import optuna
import xgboost as xgb

from housing_core import progress, tuning
from housing_core.tuning import TrialResult, TuningResult, TuningSettings

State = optuna.trial.TrialState
POSTGRES = ("postgresql://", "postgresql+psycopg2://")


@dataclass(frozen=True)
class Heartbeat:
    """How workers on one study tell a dead worker's trial from a slow one (module doc)."""

    interval_s: int = 10
    grace_s: int = 60
    max_retry: int = 2
    poll_s: float = 1.0  # how often a worker waiting for a free slot looks again


def shareable(url: str | None) -> bool:
    """Whether workers can share the study at `url`: a database whose lock they can take."""
    return url is not None and url.startswith((*POSTGRES, tuning.SQLITE))


def storage(url: str, heartbeat: Heartbeat) -> optuna.storages.RDBStorage:
    tuning.open_storage(url)  # a local file's directory
    with warnings.catch_warnings():  # heartbeats are experimental in Optuna's terms
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url,
            heartbeat_interval=heartbeat.interval_s,
            grace_period=heartbeat.grace_s,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=heartbeat.max_retry
            ),
        )


class AdvisoryLock:
    """A Postgres session lock named after the study: the server lets it go when its holder's
    connection ends, killed process included."""

    def __init__(self, url: str, name: str):
        import sqlalchemy

        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        self._connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self._text = sqlalchemy.text
        self._held = False

    def acquire(self) -> None:
        self._connection.execute(self._text("SELECT pg_advisory_lock(:k)"), {"k": self._key})
        self._held = True

    def release(self) -> None:
        if self._held:
            self._connection.execute(self._text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._held = False

    def close(self) -> None:
        self.release()
        self._connection.close()


class FileLock(tuning.KernelLock):
    """The SQLite file's kernel lock (workers on one machine)."""

    def close(self) -> None:
        self.release()


def claim_lock(url: str, study_name: str) -> AdvisoryLock | FileLock:
    if url.startswith(tuning.SQLITE):
        return FileLock(url.removeprefix(tuning.SQLITE))
    if url.startswith(POSTGRES):
        return AdvisoryLock(url, study_name)
    raise ValueError(f"workers cannot share a study at {url!r}: Postgres or SQLite only")


@dataclass
class Slots:
    """The trial budget the workers share (module doc)."""

    study: optuna.Study
    n_trials: int
    lock: AdvisoryLock | FileLock
    poll_s: float
    deadline: float | None  # time.monotonic() past which no trial starts

    def take(self) -> bool:
        """True holding the lock, with a slot free for the trial Optuna starts next; False once
        the study holds its trials or time is up."""
        while True:
            self.lock.acquire()
            ended, running = self.counts()
            if ended + running < self.n_trials:
                return True
            self.lock.release()
            if ended >= self.n_trials or self._late():
                return False
            time.sleep(self.poll_s)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(self.study)

    def counts(self) -> tuple[int, int]:
        trials = self.study.get_trials(deepcopy=False, states=(*tuning.COUNTED, State.RUNNING))
        running = sum(t.state == State.RUNNING for t in trials)
        return len(trials) - running, running

    def after_trial(self, study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        if not self.take():
            study.stop()

    def _late(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


@dataclass
class WorkerResult:
    worker: str  # host:pid
    trials: list[TrialResult]
    kept: dict[int, xgb.Booster]  # the best model among its trials
    nthread: int


def sampler(settings: TuningSettings, index: int) -> optuna.samplers.TPESampler:
    # Constant liar: a worker sampling while others run trials treats theirs as bad results,
    # instead of proposing parameters next to them.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=settings.seed + index, constant_liar=True)


def work(
    train: xgb.DMatrix,
    evaluation: xgb.DMatrix,
    settings: TuningSettings,
    *,
    url: str,
    study_name: str,
    heartbeat: Heartbeat,
    index: int = 0,
) -> WorkerResult:
    """One worker: trials on the shared study until it holds `n_trials` (module doc)."""
    settings = tuning.with_threads(settings, train.num_row())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = tuning.open_study(
        storage(url, heartbeat), study_name, settings, sampler=sampler(settings, index)
    )
    objective = tuning.Objective(train, evaluation, settings)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    lock = claim_lock(url, study_name)
    deadline = None if settings.timeout_s is None else time.monotonic() + settings.timeout_s
    slots = Slots(study, settings.n_trials, lock, heartbeat.poll_s, deadline)

    def claimed(trial: optuna.Trial) -> float:
        lock.release()  # the trial is stored: the next count sees it
        trial.set_user_attr("worker", worker)
        return objective(trial)

    try:
        if slots.take():
            study.optimize(
                claimed,
                n_trials=None,
                timeout=settings.timeout_s,
                callbacks=[slots.after_trial],
                gc_after_trial=True,
            )
    finally:
        lock.close()
    return WorkerResult(worker, objective.results, objective.kept, int(settings.nthread or 1))


@dataclass(frozen=True)
class Before:
    """The shared study as the driver found it, before its workers started."""

    ended: int  # COMPLETE or PRUNED: resumed
    failed: int


def prepare(url: str, study_name: str, settings: TuningSettings, heartbeat: Heartbeat) -> Before:
    """Create the study if new, and give each trial left RUNNING a heartbeat: one a process
    without heartbeats left (a killed `tuning.tune` on the same database) would otherwise hold
    its slot for ever; now it goes stale unless someone is really running it."""
    store = storage(url, heartbeat)
    study = tuning.open_study(store, study_name, settings)
    study_id = store.get_study_id_from_name(study_name)
    for trial in study.get_trials(deepcopy=False, states=(State.RUNNING,)):
        store.record_heartbeat(
            store.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        )
    trials = study.get_trials(deepcopy=False)
    return Before(
        sum(t.state in tuning.COUNTED for t in trials), sum(t.state == State.FAIL for t in trials)
    )


def gather(
    url: str,
    study_name: str,
    settings: TuningSettings,
    heartbeat: Heartbeat,
    before: Before,
    workers: list[WorkerResult],
    on_trial: Callable[[TrialResult], None] | None = None,
) -> TuningResult:
    """The study's outcome once its workers are done: their trials in the order Optuna
    numbered them, each reported to `on_trial`; `orphaned_trials`, those failed by heartbeat."""
    study = tuning.open_study(storage(url, heartbeat), study_name, settings)
    results = sorted((t for w in workers for t in w.trials), key=lambda t: t.number)
    for done, result in enumerate(results, start=before.ended + 1):
        progress.report("tuning", done, settings.n_trials, unit="trials")
        if on_trial:
            on_trial(result)
    kept = {n: b for w in workers for n, b in w.kept.items()}
    failed = len(study.get_trials(deepcopy=False, states=(State.FAIL,)))
    threads = max((w.nthread for w in workers), default=1)
    return tuning.outcome(
        study,
        replace(settings, nthread=threads),
        results,
        kept,
        resumed=before.ended,
        orphaned=failed - before.failed,
    )
