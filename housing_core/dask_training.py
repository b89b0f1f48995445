"""A refit on a Dask cluster: the training examples are built where the rows live, and XGBoost
trains on them there (xgboost.dask); the booster comes back as a plain `xgb.Booster`, so the
bundle, the booster JSON and the Predictor are those of the in-process path.

The driver cuts the rows into parts of whole metros, gives each worker about as many rows
(largest metro first, to the worker holding the fewest), and scatters each part to its worker.
There the part builds its own anchor table and examples with training.py's code. Whole metros,
not just whole zips: an anchor's metro momentum is the chained mean over every zip of the metro
(anchors._metro_index), so a metro split across parts would give its zips other features. A
zip counts for the metro of its latest row, as the anchor table counts it. Each part knows its
rows' positions in the whole (`training.Within`), so it draws exactly the whole's cutoffs: the
examples are the in-process examples, only spread over the workers.

Tuning, when the study lives in a database the workers can reach (`DaskTuning`): the tuning
examples are broadcast to every worker once, and each runs a tuning worker on the shared study
(housing_core/shared_tuning.py).

What stays on the driver in this increment: the rows themselves (the splits asset's frame), the
metro encoding (its out-of-fold priors need every train row), and calibration.

No Dagster here; Dask is imported when a refit runs (the API never loads this module).
"""

from __future__ import annotations

import operator
import resource
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xgboost as xgb

from housing_core import contract as c
from housing_core import features as F
from housing_core import shared_tuning, training, tuning

if TYPE_CHECKING:
    import dask.array as da
    from distributed import Client, Future
    from xgboost.dask import DaskDMatrix

COLUMNS = [c.ZIPCODE, c.DATE, c.CITY, *c.NUMERIC_COLUMNS]  # what examples are built from


@dataclass(frozen=True)
class Part:
    """Whole metros' rows as one worker builds their examples: the rows (the columns examples
    read), each row's metro encoding, and where the rows sit in the whole."""

    rows: pd.DataFrame
    encoding: np.ndarray
    within: training.Within


def metro_of_zip(rows: pd.DataFrame) -> pd.Series:
    """Each row's metro as its zip's anchors count it: the metro of the zip's latest row."""
    latest = rows.sort_values(c.DATE, kind="stable").groupby(c.ZIPCODE)[c.CITY].last()
    return rows[c.ZIPCODE].map(latest)


def plan(rows: pd.DataFrame, workers: list[str]) -> dict[str, list[np.ndarray]]:
    """Worker -> the row positions of each metro it builds: whole metros, rows balanced
    (each metro, largest first, goes to the worker holding the fewest rows so far)."""
    metro = metro_of_zip(rows).to_numpy()
    names, inverse, sizes = np.unique(metro.astype(str), return_inverse=True, return_counts=True)
    load = dict.fromkeys(workers, 0)
    out: dict[str, list[np.ndarray]] = {w: [] for w in workers}
    for m in sorted(range(len(names)), key=lambda m: (-sizes[m], names[m])):
        worker = min(workers, key=lambda w: (load[w], workers.index(w)))
        out[worker].append(np.flatnonzero(inverse == m))
        load[worker] += int(sizes[m])
    return out


def split(rows: pd.DataFrame, encoding: np.ndarray, positions: np.ndarray) -> Part:
    kept = [col for col in COLUMNS if col in rows.columns]
    part = rows[kept].take(positions)
    part.index = pd.RangeIndex(len(part))
    return Part(part, encoding[positions], training.Within(positions, len(rows)))


def part_examples(
    part: Part, state: F.FeatureState, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, weight) of a part's rows, anchored on the part's own history (runs on a worker)."""
    history = F.anchor_table(part.rows, state)
    ex = training.training_examples(part.rows, state, history, seed, part.encoding, part.within)
    return ex.X, ex.y, training.horizon_weight(ex.horizon)


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, the high-water mark of its own address
    space. Not ru_maxrss: Linux carries that over fork and exec, so a worker process would
    report the memory of the process that started it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def workers_peak_rss_mb(client: Client) -> dict[str, float]:
    """Each worker's peak resident memory since it started."""
    return dict(client.run(peak_rss_mb))


@dataclass
class OnWorkers:
    """Training examples as the workers hold them: X, y and weight as Dask arrays, one chunk
    per part, in the order of `positions` (each part's rows in the whole)."""

    X: da.Array
    y: da.Array
    weight: da.Array
    positions: list[np.ndarray]
    futures: list[Future]  # each part's X, on the worker that built it


@dataclass(frozen=True)
class ClusterFit:
    """One refit on the cluster: where its examples lived (worker -> examples XGBoost trained
    there) and the peak memory of each worker and of this process once it was fitted."""

    examples_by_worker: dict[str, int]
    workers_peak_rss_mb: dict[str, float]
    driver_peak_rss_mb: float
    # Workers that left while it ran: a worker over its memory limit is restarted by its nanny
    # under a new address (a peak above only says how close the others came).
    workers_lost: list[str] = field(default_factory=list)

    def metadata(self) -> dict:
        return {
            "refit_on": f"dask: {len(self.examples_by_worker)} worker(s)",
            "dask_examples_by_worker": self.examples_by_worker,
            "dask_workers_lost": len(self.workers_lost),
            # The step's own process: what scale-out is meant to keep small as data grows.
            "driver_peak_rss_mb": round(self.driver_peak_rss_mb),
            "dask_workers_peak_rss_mb": {
                w: round(mb) for w, mb in sorted(self.workers_peak_rss_mb.items())
            },
        }


@dataclass
class DaskRefit:
    """`training.Refit` on the cluster behind `client`; each call is recorded in `fits`."""

    client: Client
    say: Callable[[str], None] = lambda _m: None
    fits: list[ClusterFit] = field(default_factory=list)

    def examples(
        self, rows: pd.DataFrame, state: F.FeatureState, encoding: np.ndarray, seed: int
    ) -> OnWorkers:
        """Each part scattered to its worker and its examples built there (`plan`)."""
        import dask
        import dask.array as da
        from distributed import wait

        client = self.client
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise RuntimeError(f"the Dask cluster at {client.scheduler.address} has no workers")
        draws = training.draws_for(len(rows))
        positions: list[np.ndarray] = []
        placed: list[str] = []  # the worker of each part
        columns: tuple[list[Future], ...] = ([], [], [])  # X, y, weight: a future per part
        for worker, metros in plan(rows, workers).items():
            for part in metros:
                scattered = client.scatter(split(rows, encoding, part), workers=[worker])
                # Every task pinned to the worker holding the part: none is moved (or stolen)
                # to another, so no part is copied there.
                built = client.submit(
                    part_examples, scattered, state, seed, workers=[worker], pure=False
                )
                for k, column in enumerate(columns):
                    column.append(
                        client.submit(operator.getitem, built, k, workers=[worker], pure=False)
                    )
                positions.append(part)
                placed.append(worker)

        def array(futures: list[Future], shape: Callable[[int], tuple], dtype: str) -> da.Array:
            sizes = [len(p) * draws for p in positions]
            chunks = []
            for f, n, worker in zip(futures, sizes, placed, strict=True):
                # The chunk's own task stays with its part too: left free, a busy scheduler
                # may run it on the other worker and copy the part there, and each worker's
                # quantile sketch -- so the model -- would depend on the machine's load.
                with dask.annotate(workers=[worker], allow_other_workers=False):
                    chunks.append(da.from_delayed(f, shape(n), dtype=dtype))
            # So does each chunk of the concatenation (a task of its own per chunk; the second
            # element of its key is its place along the rows, the part's).
            with dask.annotate(workers=lambda key: [placed[key[1]]], allow_other_workers=False):
                return da.concatenate(chunks)

        width = len(state.features)
        X, y, weight = (
            array(columns[0], lambda n: (n, width), "float32"),
            array(columns[1], lambda n: (n,), "float64"),
            array(columns[2], lambda n: (n,), "float64"),
        )
        # Computed here, not by XGBoost: an optimized graph fuses the chunk tasks and drops their
        # worker restrictions. And all of it before XGBoost gathers the parts: it packs each
        # part's X, y and weight in a task the scheduler places by load as well as by where the
        # data are, so a worker still busy building would see its finished parts packed -- and
        # trained -- on the idle one. Once all are built, where the data are decides.
        X, y, weight = self.client.persist([X, y, weight], optimize_graph=False)
        wait([X, y, weight])
        return OnWorkers(X, y, weight, positions, columns[0])

    def __call__(
        self,
        rows: pd.DataFrame,
        state: F.FeatureState,
        encoding: np.ndarray,
        seed: int,
        params: dict,
        rounds: int,
        settings: tuning.TuningSettings,
    ) -> xgb.Booster:
        from xgboost import dask as dxgb

        started = set(self.client.scheduler_info()["workers"])
        built = self.examples(rows, state, encoding, seed)
        matrix = dxgb.DaskQuantileDMatrix(
            self.client,
            built.X,
            built.y,
            weight=built.weight,
            missing=np.nan,
            feature_names=list(state.features),
            max_bin=settings.max_bin,
        )
        placement = self._placement(built, matrix)
        self.say(
            f"examples built on {len(placement)} Dask worker(s): "
            + ", ".join(f"{w} {n:,}" for w, n in sorted(placement.items()))
        )
        # Each worker fits with its own thread count (xgboost.dask reads it from the worker:
        # 1 for a local:N cluster); the rest are the in-process fit's parameters.
        booster_params = tuning.booster_params(params, replace(settings, nthread=1))
        del booster_params["nthread"]
        out = dxgb.train(self.client, booster_params, matrix, num_boost_round=max(1, rounds))
        peaks = workers_peak_rss_mb(self.client)
        lost = sorted(started - set(self.client.scheduler_info()["workers"]))
        if lost:
            self.say(f"{len(lost)} Dask worker(s) left during the refit: {', '.join(lost)}")
        self.fits.append(ClusterFit(placement, peaks, peak_rss_mb(), lost))
        return out["booster"]

    def _placement(self, built: OnWorkers, matrix: DaskDMatrix) -> dict[str, int]:
        """Examples per worker as XGBoost will train on them: the parts its matrix found on
        each worker (a part is trained where the scheduler says it is, wherever it was built).
        `worker_map` and `partition_order` are the matrix's own record of that, public
        attributes though not documented ones: tests/core/test_dask_cluster.py reads this."""
        draws = len(built.y) // sum(len(p) for p in built.positions)
        sizes = [len(p) * draws for p in built.positions]
        return {
            worker: sum(sizes[matrix.partition_order[part.key]] for part in parts)
            for worker, parts in matrix.worker_map.items()
        }


def tune_on_worker(
    data: training.TuningExamples,
    url: str,
    study_name: str,
    heartbeat: shared_tuning.Heartbeat,
    index: int,
) -> shared_tuning.WorkerResult:
    """A Dask task: one tuning worker, fitting with the worker's threads unless pinned."""
    from distributed import get_worker

    settings = data.settings
    if settings.nthread is None:
        settings = replace(settings, nthread=get_worker().state.nthreads)
    train, evaluation = data.matrices()
    return shared_tuning.work(
        train,
        evaluation,
        settings,
        url=url,
        study_name=study_name,
        heartbeat=heartbeat,
        index=index,
    )


@dataclass
class DaskTuning:
    """`training.Tuner` on the cluster behind `client`: one tuning worker per Dask worker, on a
    study in a database they all reach. `trials_by_worker` records the latest tuning."""

    client: Client
    heartbeat: shared_tuning.Heartbeat = field(default_factory=shared_tuning.Heartbeat)
    say: Callable[[str], None] = lambda _m: None
    trials_by_worker: dict[str, int] = field(default_factory=dict)

    def __call__(
        self,
        data: training.TuningExamples,
        *,
        storage: str,
        study_name: str,
        on_trial: Callable[[tuning.TrialResult], None] | None,
    ) -> tuning.TuningResult:
        client, beat = self.client, self.heartbeat
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise RuntimeError(f"the Dask cluster at {client.scheduler.address} has no workers")
        before = shared_tuning.prepare(storage, study_name, data.settings, beat)
        scattered = client.scatter(data, broadcast=True)  # the examples reach each worker once
        # One loop per worker, preferably its own; a task whose worker died runs elsewhere.
        futures = [
            client.submit(
                tune_on_worker,
                scattered,
                storage,
                study_name,
                beat,
                index,
                workers=[worker],
                allow_other_workers=True,
                pure=False,
            )
            for index, worker in enumerate(workers)
        ]
        done: list[shared_tuning.WorkerResult] = client.gather(futures)
        self.trials_by_worker = {w.worker: len(w.trials) for w in done}
        self.say(
            f"tuned on {len(done)} Dask worker(s): "
            + ", ".join(f"{w} {n} trial(s)" for w, n in sorted(self.trials_by_worker.items()))
        )
        return shared_tuning.gather(
            storage, study_name, data.settings, beat, before, done, on_trial
        )


def metadata(refit: DaskRefit | None) -> dict:
    """What a step's materialization says of its latest refit on the cluster ({} when off)."""
    return refit.fits[-1].metadata() if refit is not None and refit.fits else {}


def tuning_metadata(tuner: DaskTuning | None) -> dict:
    """What a step's materialization says of its tuning on the cluster ({} when off)."""
    if tuner is None or not tuner.trials_by_worker:
        return {}
    return {
        "tuned_on": f"dask: {len(tuner.trials_by_worker)} worker(s)",
        "dask_trials_by_worker": tuner.trials_by_worker,
    }
