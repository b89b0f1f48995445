"""The code location's logger: `housing_console` hands the records of runs executed in this
process to whoever listens -- the CLI's console (housing_assets/cli/console.py), which draws
progress bars and prints one line per warning instead of Dagster's event lines and stack traces.

Runs whose config names no logger (everything `dagster dev` and the daemon launch) keep Dagster's
own console logger; the runner (housing_assets/runner.py) configures this one only while a
listener is active."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Protocol

import dagster as dg

LOGGER = "housing_console"
INTERRUPTS = {"KeyboardInterrupt", "DagsterExecutionInterruptedError"}


class Listener(Protocol):
    def record(self, record: logging.LogRecord) -> None: ...

    def run(self, title: str, steps: int) -> AbstractContextManager[None]: ...


_listener: Listener | None = None


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Runs started in this process meanwhile log to `listener` (see `run_config`)."""
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous


def run_config() -> dict | None:
    """The `loggers` entry for a run started now: this logger alone while someone listens,
    else None (the caller's own choice stands)."""
    return {"loggers": {LOGGER: {}}} if _listener is not None else None


def showing(title: str, steps: int) -> AbstractContextManager[None]:
    """Around a run executed in this process: the listener shows it (a progress bar)."""
    return _listener.run(title, steps) if _listener is not None else nullcontext()


def interrupt_error(event) -> bool:
    """A step failure that is the user's Ctrl-C, not an error of the step."""
    error = event.step_failure_data.error if event.step_failure_data else None
    return error is not None and error.cls_name in INTERRUPTS


class _ToListener(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if _listener is not None:
            _listener.record(record)


@dg.logger(None, description="Runs executed by `housing run`: its progress bars and warning lines.")
def housing_console(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger(LOGGER)
    logger.handlers = [_ToListener()]
    logger.setLevel(logging.DEBUG)  # step events are DEBUG records: they drive the bars
    logger.propagate = False
    return logger
