"""Fargate task sizes from the data's size: the CPU units and memory (MiB) a Dagster run or an API
task needs for a panel of so many rows.

The memory is the measured one. MEASURED holds each process's peak RSS by panel size as
`benchmarks/scaling.py` recorded it (`benchmarks/results/scaling.json`; a test keeps the two
equal). For each kind of task the peak is a line in the panel's cleaned rows,

    peak(rows) = a + b * rows

with b the least-squares slope through the measured points and a the smallest intercept that
leaves no measured point above the line. A task gets peak(rows) * HEADROOM, rounded up to the
smallest valid Fargate size (FARGATE) with at least its floor's CPU and memory. A run's floor
is the instance's fixed `run_resources` (deploy/dagster.yaml), the size of a run that names none
and the one production runs were proven in; the API's is the stack's default ApiMemory.

Each kind, and which measured peak it follows:

* TRAINING (`train` and `forecast` runs): the training stage, `housing train` on an ingested
  home -- tuning, the refits and the bundle. The forecaster's one measured point (2.3 GB at 1x,
  benchmarks/forecast_scale.py) is below training's.
* MONTHLY (ingest, ingest-and-monitor and drift runs): a whole-panel ingest plus the API's peak,
  as such a run cleans months and scores them with the champion's bundle. Below the run floor at
  every measured scale.
* API: the server with the bundle loaded (explorer data included), its per-row term counted
  twice: while a new bundle loads and is proven the old one keeps serving
  (housing_serving/model_holder.py), so a swap holds both.

The sizes are for training in the step's process; with HOUSING_DASK the driver still holds the
panel (docs/scale-out.md), so they hold there too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Kind = Literal["training", "monthly", "api"]


@dataclass(frozen=True)
class Measured:
    """One scale of the scaling record: peak RSS in MiB (ru_maxrss) of each stage's process."""

    scale: float
    rows: int  # the panel's rows at this scale
    ingest: int
    training: int
    api: int  # the API server with the trained bundle loaded


MEASURED: tuple[Measured, ...] = (
    Measured(scale=0.25, rows=220_952, ingest=984, training=1_008, api=471),
    Measured(scale=1.0, rows=884_092, ingest=1_434, training=2_645, api=919),
    Measured(scale=2.0, rows=1_768_184, ingest=1_739, training=4_779, api=1_521),
    Measured(scale=5.0, rows=4_420_460, ingest=2_470, training=10_935, api=3_294),
)
FULL_SCALE_ROWS = next(m.rows for m in MEASURED if m.scale == 1.0)

# One measurement per scale on one 2-core machine: a quarter on top for what it cannot show --
# another host's allocator, more XGBoost threads (each with its own histograms) on more vCPUs.
HEADROOM = 1.25

# Fargate's valid task sizes: CPU units -> the memory values (MiB) each allows (AWS's "Task CPU
# and memory" table for Linux; 8 and 16 vCPU need platform version 1.4.0 or later).
FARGATE: tuple[tuple[int, tuple[int, ...]], ...] = (
    (256, (512, 1024, 2048)),
    (512, tuple(range(1024, 4096 + 1, 1024))),
    (1024, tuple(range(2048, 8192 + 1, 1024))),
    (2048, tuple(range(4096, 16384 + 1, 1024))),
    (4096, tuple(range(8192, 30720 + 1, 1024))),
    (8192, tuple(range(16384, 61440 + 1, 4096))),
    (16384, tuple(range(32768, 122880 + 1, 8192))),
)


@dataclass(frozen=True, order=True)
class TaskSize:
    memory: int  # MiB
    cpu: int  # CPU units, 1024 = 1 vCPU

    def __str__(self) -> str:
        return f"{self.cpu / 1024:g} vCPU / {self.memory / 1024:g} GiB"


RUN_FLOOR = TaskSize(memory=8192, cpu=2048)
API_FLOOR = TaskSize(memory=2048, cpu=1024)
FLOORS: dict[Kind, TaskSize] = {"training": RUN_FLOOR, "monthly": RUN_FLOOR, "api": API_FLOOR}


def _points(kind: Kind) -> list[tuple[int, int]]:
    """(rows, peak MiB) of each measured scale for this kind of task."""
    if kind == "training":
        return [(m.rows, m.training) for m in MEASURED]
    if kind == "monthly":
        return [(m.rows, m.ingest + m.api) for m in MEASURED]
    return [(m.rows, m.api) for m in MEASURED]


@dataclass(frozen=True)
class Line:
    """peak(rows) = intercept + per_million * rows / 1e6, in MiB."""

    intercept: float
    per_million: float

    def __call__(self, rows: int) -> float:
        return self.intercept + self.per_million * rows / 1e6


def fit(points: list[tuple[int, int]]) -> Line:
    """The least-squares slope, lifted until no point lies above the line."""
    xs = [r / 1e6 for r, _ in points]
    ys = [float(p) for _, p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return Line(max(y - slope * x for x, y in zip(xs, ys, strict=True)), slope)


def peak_line(kind: Kind) -> Line:
    """The measured peak of this kind of task by rows; the API's with its per-row term twice."""
    line = fit(_points(kind))
    if kind == "api":
        return Line(line.intercept, 2 * line.per_million)
    return line


def needed_mib(rows: int, kind: Kind) -> int:
    """Memory this kind of task should have for `rows` cleaned rows: the peak with headroom."""
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    return math.ceil(peak_line(kind)(rows) * HEADROOM)


def fargate_size(memory_mib: int, floor: TaskSize) -> TaskSize:
    """The smallest valid Fargate size with at least `memory_mib` and the floor's CPU and memory
    (least memory first, then least CPU). Past the largest Fargate task nothing fits: that panel
    needs its training moved off one task (docs/scale-out.md), so it is refused, not launched to
    run out of memory."""
    need = max(memory_mib, floor.memory)
    fits = [
        TaskSize(memory, cpu)
        for cpu, memories in FARGATE
        if cpu >= floor.cpu
        for memory in memories
        if memory >= need
    ]
    if not fits:
        largest = FARGATE[-1][1][-1]
        raise ValueError(
            f"no Fargate task has {need} MiB (the largest has {largest}): scale out on Dask"
        )
    return min(fits)


def task_size(rows: int, kind: Kind) -> TaskSize:
    """The Fargate size of a `kind` task for a panel of `rows` cleaned rows."""
    return fargate_size(needed_mib(rows, kind), FLOORS[kind])


def rows_handled(size: TaskSize, kind: Kind) -> int:
    """The most cleaned rows a `kind` task of this size is meant for (0 when below even the line's
    intercept): the inverse of `needed_mib`."""
    line = peak_line(kind)
    return max(0, math.floor((size.memory / HEADROOM - line.intercept) / line.per_million * 1e6))


# The scales the docs' table shows: the measured ones and, past them, the line extrapolated.
TABLE_SCALES = (0.25, 1.0, 2.0, 5.0, 10.0)
API_MEMORY_CHOICES = (2048, 4096, 8192, 12288, 16384)  # deploy/cloudformation.yaml's ApiMemory


def markdown() -> str:
    """The docs' tables of what each task size handles (docs/deploy.md shows this output)."""
    kinds: tuple[Kind, ...] = ("training", "monthly", "api")
    lines = [
        "| scale | cleaned rows | training run (`train`, `forecast`) | monthly run (ingest, "
        "drift) | API task |",
        "|---|---|---|---|---|",
    ]
    measured_rows = {m.scale: m.rows for m in MEASURED}
    for scale in TABLE_SCALES:
        rows = measured_rows.get(scale, round(FULL_SCALE_ROWS * scale))
        cells = " | ".join(
            f"{task_size(rows, k)} ({needed_mib(rows, k) / 1024:.1f} GiB needed)" for k in kinds
        )
        note = "" if scale in measured_rows else " (extrapolated)"
        lines.append(f"| {scale:g}×{note} | {rows:,} | {cells} |")
    lines += ["", "| `ApiMemory` | API task | meant for up to |", "|---|---|---|"]
    for memory in API_MEMORY_CHOICES:
        size = fargate_size(memory, API_FLOOR)
        rows = rows_handled(size, "api")
        lines.append(
            f"| {memory} | {size} | {rows:,} cleaned rows ({rows / FULL_SCALE_ROWS:.1f}×) |"
        )
    fits = "; ".join(
        f"{k.replace('api', 'API')} {peak_line(k).intercept:.0f} MiB + {peak_line(k).per_million:.0f} MiB per million "
        "rows"
        for k in kinds
    )
    lines += ["", f"Peak lines, before the ×{HEADROOM:g} headroom: {fits}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
