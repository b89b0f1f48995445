"""The loop harness stops everything it started: a process that left its group (a run worker in a
session of its own, an orphan) is found by the home it carries and stopped too."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from housing_harness.loop import LoopHome, LoopProcesses, carrying_home

# A child that starts a grandchild in a new session (out of reach of a process-group signal),
# writes its pid, and sleeps.
ESCAPE = (
    "import subprocess, sys, time; "
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], "
    "start_new_session=True); "
    "open(sys.argv[1], 'w').write(str(p.pid)); time.sleep(600)"
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_stop_ends_the_group_and_whatever_escaped_it(tmp_path):
    loop = LoopHome(tmp_path / "home", scale=0.01)
    pid_file = tmp_path / "grandchild.pid"
    with LoopProcesses(loop, tmp_path / "logs") as procs:
        child = procs.start("escaper", [sys.executable, "-c", ESCAPE, str(pid_file)])
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, procs.log("escaper")
            time.sleep(0.05)
        grandchild = int(pid_file.read_text())
        assert os.getsid(grandchild) != os.getsid(child.pid)  # out of the group's reach
        assert set(carrying_home(loop.home)) >= {child.pid, grandchild}
    assert child.poll() is not None
    deadline = time.monotonic() + 10
    while _alive(grandchild):  # it is re-parented to init, which reaps it
        assert time.monotonic() < deadline, f"pid {grandchild} outlived the loop"
        time.sleep(0.05)
    assert carrying_home(loop.home) == []


def test_a_home_marks_only_its_own_processes(tmp_path):
    mine = LoopHome(tmp_path / "a", scale=0.01)
    other = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={**os.environ, "HOUSING_HOME": str(tmp_path / "ab")},  # a prefix is not a match
    )
    try:
        assert other.pid not in carrying_home(mine.home)
        assert other.pid in carrying_home(tmp_path / "ab")
    finally:
        other.kill()
        other.wait()
