"""The thread budget: how many threads XGBoost (or any OpenMP/BLAS user) may take -- decided here.

OpenMP threads spin at every boosting round's barrier. When the cores are taken -- two runs at
once on 2 cores, the API, the daemon, a test suite, or a Fargate task's fractional vCPU quota --
a second thread makes a fit slower, not faster: 945 train rows x 500 rounds took 52.8 s with
nthread=2 against 5.0 s with nthread=1 on a busy 2-core machine (issue 15). So a fit gets

    HOUSING_THREADS, when set (the one override, read by housing_assets/settings.py); else
    1 for inputs under SMALL_INPUT_ROWS, where a second thread costs more than it gives; else
    the CPUs this process may use (affinity, cgroup quota) divided among the runs that may
    train or score at the same time (dagster.yaml's max_concurrent_runs locally), at least 1.

Scoring (lib/predictor.py: the API, batch scoring, the holdout) always uses SCORING_THREADS:
a request is far below the small-input size, and throughput comes from workers, not threads.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# Below this many rows a second thread does not pay. benchmarks/thread_crossover.py (hist,
# depth 6, 40 features; fastest of 2-3, 1 vs 2 threads interleaved) on this 2-core Xeon,
# 2026-12-03, while other jobs kept the load average at 2-15: 500 rows 0.65x (load ~2),
# 1,000 rows 0.19x, 2,000 rows 0.10x, 1,000 rows at load 13: 0.05x -- two threads lost at every
# size tried, and no idle-machine crossover could be measured that day. At 585k rows two
# threads gave 1.95x on an idle machine (stack notes). 8,000 keeps every small panel (the
# HouseTS sample tunes on ~1,900 examples and refits on < 6,000) at one thread whatever the
# CPUs; re-measure on an idle machine before lowering it.
SMALL_INPUT_ROWS = 8_000
SCORING_THREADS = 1


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


@dataclass(frozen=True)
class ThreadBudget:
    """`cpus` usable by this process, shared by `concurrent` runs; `override` wins outright."""

    cpus: float
    concurrent: int = 1
    override: int | None = None

    def __post_init__(self):
        override = 1 if self.override is None else self.override
        if self.cpus <= 0 or self.concurrent < 1 or override < 1:
            raise ValueError(f"invalid thread budget {self}")

    @classmethod
    def detect(
        cls, concurrent: int = 1, override: int | None = None, root: Path = CGROUP_ROOT
    ) -> ThreadBudget:
        return cls(usable_cpus(root), concurrent, override)

    @property
    def share(self) -> int:
        """Threads one run may take on a large input: its share of the CPUs, at least 1."""
        return max(1, math.floor(self.cpus / self.concurrent))

    def for_rows(self, rows: int) -> int:
        """Threads for a fit (or a prediction) over `rows` rows."""
        if self.override is not None:
            return self.override
        return 1 if rows < SMALL_INPUT_ROWS else self.share
