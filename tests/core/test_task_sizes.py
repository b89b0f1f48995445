"""Fargate task sizes from the panel's rows: valid Fargate sizes only, never below the floors,
enough for every measured peak, and the measured table equal to the scaling record."""

import itertools
import json
from pathlib import Path

import pytest

from housing_core import task_sizes as T

REPO = Path(__file__).resolve().parents[2]
ROWS = [0, 1, 50_000, 220_952, 884_092, 1_768_184, 4_420_460, 8_840_920, 17_681_840, 30_000_000]
KINDS = ("training", "monthly", "api")


def valid_fargate(size: T.TaskSize) -> bool:
    """AWS's table for Linux tasks, written out independently of T.FARGATE."""
    gib = size.memory / 1024
    allowed = {
        256: gib in (0.5, 1, 2),
        512: gib in (1, 2, 3, 4),
        1024: gib in (2, 3, 4, 5, 6, 7, 8),
        2048: gib.is_integer() and 4 <= gib <= 16,
        4096: gib.is_integer() and 8 <= gib <= 30,
        8192: gib.is_integer() and 16 <= gib <= 60 and gib % 4 == 0,
        16384: gib.is_integer() and 32 <= gib <= 120 and gib % 8 == 0,
    }
    return allowed.get(size.cpu, False)


@pytest.mark.parametrize("kind", KINDS)
def test_every_size_is_a_valid_fargate_size_that_grows_with_the_rows(kind):
    sizes = [T.task_size(rows, kind) for rows in ROWS]
    assert all(valid_fargate(s) for s in sizes), sizes
    assert all(a.memory <= b.memory and a.cpu <= b.cpu for a, b in itertools.pairwise(sizes))
    assert all(s.memory >= T.needed_mib(r, kind) for s, r in zip(sizes, ROWS, strict=True))


def test_runs_never_get_less_than_the_size_they_were_launched_with_before():
    for kind in ("training", "monthly"):
        assert T.task_size(0, kind) == T.TaskSize(memory=8192, cpu=2048)
    assert T.task_size(0, "api") == T.TaskSize(memory=2048, cpu=1024)


def test_each_measured_peak_fits_its_task_with_the_headroom():
    for m in T.MEASURED:
        for kind, peak in (("training", m.training), ("monthly", m.ingest + m.api)):
            assert T.peak_line(kind)(m.rows) >= peak
            assert T.task_size(m.rows, kind).memory >= peak * T.HEADROOM
        # the API holds two bundles while it swaps: more than its measured (one-bundle) peak
        assert T.task_size(m.rows, "api").memory >= m.api * T.HEADROOM


def test_the_5x_panel_trains_in_a_larger_task_than_the_old_fixed_one():
    """The measured 10.7 GB training peak at 5x leaves no room in 8 GiB."""
    size = T.task_size(4_420_460, "training")
    assert size == T.TaskSize(memory=14336, cpu=2048)
    assert T.task_size(884_092, "training") == T.RUN_FLOOR


def test_past_the_largest_fargate_task_a_size_is_refused():
    with pytest.raises(ValueError, match="no Fargate task has"):
        T.task_size(200_000_000, "training")


def test_more_memory_than_one_cpu_allows_takes_the_next_cpu():
    assert T.fargate_size(8193, T.API_FLOOR) == T.TaskSize(memory=9216, cpu=2048)
    assert T.fargate_size(30721, T.RUN_FLOOR) == T.TaskSize(memory=32768, cpu=8192)


@pytest.mark.parametrize("memory", T.API_MEMORY_CHOICES)
def test_the_rows_an_api_size_handles_get_that_size_or_smaller(memory):
    size = T.fargate_size(memory, T.API_FLOOR)
    rows = T.rows_handled(size, "api")
    assert T.task_size(rows, "api") <= size < T.task_size(rows + 1_000, "api")


def test_the_measured_table_is_the_scaling_record():
    record = json.loads((REPO / "benchmarks/results/scaling.json").read_text())
    from_record = [
        T.Measured(
            scale=s["scale"],
            rows=s["rows"],
            ingest=s["stages"]["ingest"]["peak_rss_mb"],
            training=s["stages"]["training"]["peak_rss_mb"],
            api=s["api"]["server_peak_rss_mb"],
        )
        for s in record["scales"]
    ]
    assert list(T.MEASURED) == from_record
