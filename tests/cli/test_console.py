"""The CLI's console over real in-process Dagster runs: steps and progress as lines (a pipe) or
bars (a terminal), one line per warning, no stack trace, silence after Ctrl-C."""

import io

import dagster as dg
import pytest

from housing_assets import runner
from housing_assets.cli.console import Console
from housing_assets.defs import loggers
from housing_core import progress


@dg.asset
def counted(context: dg.AssetExecutionContext) -> int:
    for done in range(1, 4):
        progress.report("tuning", done, 3, unit="trials", note=f"best ≈ {5 - done}.00%")
    context.log.warning("2 rows look odd")
    context.log.info("a detail only --verbose shows")
    return 3


@dg.asset
def broken(counted: int) -> int:
    raise ValueError("the step's own error")


@dg.asset
def stopped(counted: int) -> int:
    raise KeyboardInterrupt  # what Ctrl-C raises inside a step


def _defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[counted, broken, stopped],
        jobs=[
            dg.define_asset_job("fine", selection=["counted"]),
            dg.define_asset_job("fails", selection=["counted", "broken"]),
            dg.define_asset_job("interrupted", selection=["counted", "stopped"]),
        ],
        loggers={loggers.LOGGER: loggers.housing_console},
    )


def _run(job: str, console: Console):
    with dg.DagsterInstance.ephemeral() as instance, loggers.listening(console):
        return runner._run(_defs(), job, instance, {}, title=job)


def test_in_a_pipe_each_trial_and_warning_is_one_plain_line():
    out = io.StringIO()
    result = _run("fine", Console(out, bars=False))
    assert result.success
    lines = out.getvalue().splitlines()
    assert lines == [
        "    tuning 1/3 trials: best ≈ 4.00%",
        "    tuning 2/3 trials: best ≈ 3.00%",
        "    tuning 3/3 trials: best ≈ 2.00%",
        "    warning in counted: 2 rows look odd",
    ]


def test_verbose_adds_the_steps_info_lines():
    out = io.StringIO()
    _run("fine", Console(out, bars=False, verbose=True))
    assert "    counted: a detail only --verbose shows" in out.getvalue().splitlines()
    assert "    counted ..." in out.getvalue().splitlines()


def test_on_a_terminal_bars_show_the_steps_and_the_trials():
    out = io.StringIO()
    _run("fine", Console(out, bars=True))
    text = out.getvalue()
    assert "  fine" in text and "steps" in text
    assert "3/3 trials" in text and "best ≈ 2.00%" in text
    assert "warning in counted: 2 rows look odd" in text


def test_a_failed_step_prints_no_stack_trace():
    out = io.StringIO()
    result = _run("fails", Console(out, bars=False))
    assert not result.success
    assert "Traceback" not in out.getvalue() and "the step's own error" not in out.getvalue()
    assert "the step's own error" in runner._step_errors(result)  # the summary's, once


def test_ctrl_c_in_a_step_raises_interrupted_and_prints_nothing_more():
    out = io.StringIO()
    console = Console(out, bars=False)
    with pytest.raises(runner.Interrupted) as stopped_run:
        _run("interrupted", console)
    assert console.interrupted and stopped_run.value.run_id
    assert "Traceback" not in out.getvalue() and "KeyboardInterrupt" not in out.getvalue()


def test_a_connection_close_interrupted_by_ctrl_c_prints_no_traceback():
    """CI caught one: Ctrl-C landed while SQLAlchemy closed a pooled SQLite connection, and its
    pool logged the interrupt with a traceback under the CLI's one-line `interrupted:`. Run in a
    fresh interpreter, where logging is configured as the CLI leaves it (not as pytest does)."""
    import subprocess
    import sys

    script = """
import logging, sys
from housing_assets.cli import quiet_connection_close
if sys.argv[1] == "quiet":
    quiet_connection_close()
try:
    raise KeyboardInterrupt
except KeyboardInterrupt:
    logging.getLogger("sqlalchemy.pool").error("Exception closing connection", exc_info=True)
"""

    def stderr(mode: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", script, mode], capture_output=True, text=True, check=True
        )
        return done.stderr

    assert "Traceback" in stderr("default")  # what the user saw
    assert stderr("quiet") == ""
