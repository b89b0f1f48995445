"""Progress of long work inside an asset (tuning trials, months cleaned, files published), for
whoever is watching.

An asset calls `report(...)`; nothing happens unless a watcher is installed for the current
process. `housing run` installs one that draws progress bars (its Dagster runs execute in its own
process); in `dagster dev` and in tests nobody watches, and the assets' own log lines are the
record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """`done` of `total` units of `task` (e.g. 7 of 12 "trials" of "tuning"); `note` says the
    state worth seeing, e.g. the best score so far, already formatted."""

    task: str
    done: int
    total: int
    unit: str = ""
    note: str = ""


Watcher = Callable[[Step], None]
_watcher: Watcher | None = None


def report(task: str, done: int, total: int, *, unit: str = "", note: str = "") -> None:
    if _watcher is not None:
        _watcher(Step(task, done, total, unit, note))


@contextmanager
def watching(watcher: Watcher) -> Iterator[None]:
    """Send this process's progress reports to `watcher` for the duration."""
    global _watcher
    previous, _watcher = _watcher, watcher
    try:
        yield
    finally:
        _watcher = previous
