"""What `housing run` / `housing train` show while Dagster runs in their process.

Dagster's own console logger prints every event with run ids, pids and -- for a failed step --
the stack trace. The CLI replaces it (for the runs it executes) with `housing_console`, which
turns the same records into:
- a progress bar per run: its steps, the step at work and, inside it, what the step reports
  through `lib.progress` (tuning trial n/N with the best score so far, months cleaned);
- one line per warning or error a step logs (`--verbose`: every line the steps log);
- nothing for a failed step: its error is in the command's summary, once, without a traceback;
- nothing at all once the user pressed Ctrl-C: the command says it stopped, in one line.

On a terminal the bars redraw in place (tqdm); in a pipe or a CI log each step and each report
is one plain line instead.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

from housing_assets.defs.loggers import interrupt_error
from housing_core import progress


class Console:
    """The terminal of one command: plain lines through `say`, bars while runs execute."""

    def __init__(
        self, out: TextIO | None = None, *, verbose: bool = False, bars: bool | None = None
    ):
        self.out = out or sys.stdout
        self.verbose = verbose
        self.bars = self.out.isatty() if bars is None else bars
        self.interrupted = False
        self._run: tqdm | None = None
        self._inner: tqdm | None = None
        self._steps_done = 0
        self._step = ""
        self._started = 0.0  # when the step at work started
        self._reported: dict[str, int] = {}  # task -> last `done` printed (plain mode)

    def say(self, msg: str) -> None:
        if self.bars and self._run is not None:
            tqdm.write(msg, file=self.out)
        else:
            print(msg, file=self.out, flush=True)

    # -- a Dagster run in this process -------------------------------------------------------
    @contextmanager
    def run(self, title: str, steps: int) -> Iterator[None]:
        """Show one run of `steps` steps for its duration."""
        self._steps_done, self._step = 0, ""
        if self.bars:
            self._run = tqdm(
                total=steps, desc=f"  {title}", unit="step", file=self.out, leave=False,
                bar_format="{desc} {bar:20} {n_fmt}/{total_fmt} steps [{elapsed}] {postfix}",
            )  # fmt: skip
        try:
            with progress.watching(self.step_report):
                yield
        finally:
            self._close_inner()
            if self._run is not None:
                self._run.close()
                self._run = None

    def step_started(self, step: str) -> None:
        self._step = step
        self._close_inner()
        if self._run is not None:
            self._run.set_postfix_str(step)
        elif self.verbose:
            self.say(f"    {step} ...")

    def step_finished(self, step: str, seconds: float | None = None) -> None:
        self._steps_done += 1
        if self._run is not None:
            self._run.update(1)
        elif seconds is not None and seconds >= 5:  # plain mode: the steps that took a while
            self.say(f"    {step} done in {seconds:.0f}s")

    def step_report(self, step: progress.Step) -> None:
        """A step's own progress (lib.progress): a second bar under the run's, or a line."""
        if self.interrupted:
            return
        if self.bars:
            if self._inner is None or self._inner.desc != f"    {step.task}":
                self._close_inner()
                self._inner = tqdm(
                    total=step.total, desc=f"    {step.task}", unit=step.unit or "it",
                    file=self.out, leave=False, position=1,
                    bar_format="{desc} {bar:20} {n_fmt}/{total_fmt} " + (step.unit or "")
                    + " {postfix}",
                )  # fmt: skip
            self._inner.n = step.done
            self._inner.set_postfix_str(step.note, refresh=True)
            return
        # plain lines: every trial; other tasks once, when done
        if (step.unit == "trials" or step.done == step.total) and self._reported.get(
            step.task
        ) != step.done:
            note = f": {step.note}" if step.note else ""
            self.say(f"    {step.task} {step.done}/{step.total} {step.unit}{note}")
            self._reported[step.task] = step.done

    def _close_inner(self) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None

    # -- Dagster's log records -----------------------------------------------------------------
    def record(self, record: logging.LogRecord) -> None:
        if self.interrupted:
            return
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        if event is not None:
            if event.is_step_start:
                self._started = time.perf_counter()
                self.step_started(step)
            elif event.is_step_success:
                self.step_finished(step, time.perf_counter() - self._started)
            elif event.is_step_failure and interrupt_error(event):
                self.interrupted = True
            return  # other events (and failures: the summary names them) are the UI's business
        message = str(meta.get("orig_message", record.getMessage())).strip()
        if message.startswith(f"Dependencies for step {step} failed"):
            # A step a failed blocking check held back (a gate): the summary says why.
            self.say(f"    {step} skipped: {message.split(': ', 1)[-1]}")
            return
        if record.levelno >= logging.WARNING:
            level = "error" if record.levelno >= logging.ERROR else "warning"
            self.say(f"    {level} in {step or 'run'}: {message}")
        elif self.verbose:
            self.say(f"    {step or 'run'}: {message}")
