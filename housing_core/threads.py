"""The thread budget: how many threads XGBoost (or any OpenMP/BLAS user) may take -- decided here.

OpenMP threads spin at every boosting round's barrier. When the cores are taken -- two runs at
once on 2 cores, the API, the daemon, a test suite, or a Fargate task's fractional vCPU quota --
a second thread makes a fit slower, not faster, often by an order of magnitude. So a fit gets

    HOUSING_THREADS, when set (the one override, read by housing_core/settings.py); else
    1 for inputs under SMALL_INPUT_ROWS, where a second thread costs more than it gives; else
    the CPUs this process may use (affinity, cgroup quota) divided among the runs fitting on
    this machine right now (`FitSlots`), never more runs than may run at once (dagster.yaml's
    max_concurrent_runs locally), at least 1.

A run fitting alone takes every CPU: on idle cores a large fit runs close to twice as fast on
two. What makes that safe beside a busy neighbour is OpenMP's *passive* wait
(`OMP_WAIT_POLICY=PASSIVE`, set by `configure_openmp` before XGBoost loads): a thread waiting
at a barrier sleeps instead of spinning on a core another process needs, for a small cost on
an idle machine (benchmarks/busy_machine.py and thread_crossover.py measure both).

Scoring (housing_core/predictor.py: the API, batch scoring, the holdout) always uses SCORING_THREADS:
a request is far below the small-input size, and throughput comes from workers, not threads.
"""

from __future__ import annotations

import fcntl
import math
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# Below this many rows a second thread does not pay (benchmarks/thread_crossover.py: on a busy
# machine two threads lost at every small size tried). 8,000 keeps every small panel (the HouseTS
# sample's tuning and refit) at one thread whatever the CPUs; re-measure on an idle machine
# before lowering it.
SMALL_INPUT_ROWS = 8_000
SCORING_THREADS = 1
OPENMP_WAIT_POLICY = "PASSIVE"


def configure_openmp(environ: dict | None = None) -> None:
    """Waiting OpenMP threads sleep rather than spin (module doc), unless the environment already
    chose. libgomp reads the variable once, when it is loaded: housing_assets/__init__.py calls
    this before any of the platform's modules imports XGBoost."""
    env = os.environ if environ is None else environ
    env.setdefault("OMP_WAIT_POLICY", OPENMP_WAIT_POLICY)


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """The CPU quota of this cgroup in CPUs (1.5 = one and a half), or None when unlimited or
    unknown. cgroup v2: `cpu.max` ("<quota> <period>" or "max <period>"); cgroup v1:
    `cpu.cfs_quota_us` / `cpu.cfs_period_us` (quota -1 = unlimited), in `root` or its `cpu`
    or `cpu,cpuacct` controller directory."""
    v2 = root / "cpu.max"
    if v2.is_file():
        quota, _, period = v2.read_text().strip().partition(" ")
        if quota == "max":
            return None
        return _ratio(quota, period)
    for controller in (root, root / "cpu", root / "cpu,cpuacct"):
        quota_file = controller / "cpu.cfs_quota_us"
        period_file = controller / "cpu.cfs_period_us"
        if quota_file.is_file() and period_file.is_file():
            return _ratio(quota_file.read_text().strip(), period_file.read_text().strip())
    return None


def _ratio(quota: str, period: str) -> float | None:
    q, p = int(quota), int(period or 100_000)
    return q / p if q > 0 and p > 0 else None


def usable_cpus(root: Path = CGROUP_ROOT, affinity: set[int] | None = None) -> float:
    """CPUs this process may run on (its affinity mask), capped by its cgroup's quota."""
    cpus = affinity if affinity is not None else os.sched_getaffinity(0)
    limit = cgroup_cpu_limit(root)
    return float(len(cpus)) if limit is None else min(float(len(cpus)), limit)


class FitSlots:
    """The runs fitting on this machine right now: each holds an exclusive `flock` on its own
    file in `directory` while it fits. The kernel drops a lock when its holder dies, so a killed
    run never counts; its file is removed by the next count. A file is locked under a temporary
    name and only then renamed to `*.slot`, so a count never mistakes a new slot for a dead one."""

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)

    @contextmanager
    def held(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        pending, slot = self.directory / f"{name}.pending", self.directory / f"{name}.slot"
        with open(pending, "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            os.replace(pending, slot)
            try:
                yield
            finally:
                slot.unlink(missing_ok=True)

    def active(self) -> int:
        """Slots held by a live process (this one's included)."""
        count = 0
        for path in self.directory.glob("*.slot"):
            try:
                f = open(path)  # noqa: SIM115 -- closed below; a vanished slot is simply gone
            except FileNotFoundError:
                continue
            with f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    count += 1
                    continue
                path.unlink(missing_ok=True)  # nobody holds it: its run died
        return count


@dataclass(frozen=True)
class ThreadBudget:
    """`cpus` usable by this process, shared by the runs fitting now (`running`, when known)
    but by no more than `concurrent`; `override` wins outright."""

    cpus: float
    concurrent: int = 1
    override: int | None = None
    running: Callable[[], int] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        override = 1 if self.override is None else self.override
        if self.cpus <= 0 or self.concurrent < 1 or override < 1:
            raise ValueError(f"invalid thread budget {self}")

    @classmethod
    def detect(
        cls,
        concurrent: int = 1,
        override: int | None = None,
        root: Path = CGROUP_ROOT,
        running: Callable[[], int] | None = None,
    ) -> ThreadBudget:
        return cls(usable_cpus(root), concurrent, override, running)

    @property
    def share(self) -> int:
        """Threads one run may take on a large input: its share of the CPUs, at least 1."""
        runs = self.concurrent
        if self.running is not None:
            runs = min(runs, max(1, self.running()))
        return max(1, math.floor(self.cpus / runs))

    def for_rows(self, rows: int) -> int:
        """Threads for a fit (or a prediction) over `rows` rows."""
        if self.override is not None:
            return self.override
        return 1 if rows < SMALL_INPUT_ROWS else self.share
