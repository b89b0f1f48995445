"""`housing dev`'s supervisor (cli/servers.supervise): a stop never waits on `dg dev` for ever."""

import os
import signal
import subprocess
import sys
import time

from housing_assets.cli.servers import KILL_AFTER, stop_bound_s

STUBBORN = (
    "import signal, time\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('child up', flush=True)\n"
    "time.sleep(600)\n"
)
SUPERVISOR = (
    "import os, sys\n"
    "from housing_assets.cli.servers import supervise\n"
    "print('code', supervise([sys.executable, '-c', sys.argv[1]], dict(os.environ), grace_s=0.5),"
    " flush=True)\n"
)


def test_ctrl_c_stops_a_child_that_ignores_it_within_the_grace_periods():
    # A child that ignores SIGINT and SIGTERM stands for a `dg dev` that hangs on shutdown.
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, STUBBORN],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "child up"
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole group
        started = time.monotonic()
        out, _ = proc.communicate(timeout=20)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "code 0" in out  # asked to stop, and stopped
    # A grace to exit, SIGTERM (ignored), half a grace, SIGKILL; nothing is left after it.
    assert KILL_AFTER * 0.5 <= took < stop_bound_s(0.5) + 5, f"took {took:.1f} s"
    time.sleep(0.2)
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return
    raise AssertionError("a process of the supervised group outlived the stop")
