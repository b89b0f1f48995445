"""One `housing run` per home: the second waits (saying for whom) or, with --no-wait, is refused
with the holder's pid; a killed holder releases the lock (the OS drops it with the process)."""

import os
import signal
import subprocess
import sys
import threading

import pytest

from housing_assets.cli import main
from housing_assets.cli.run import HomeBusy, home_lock

HOLD = """
import signal, sys, time
from pathlib import Path
signal.signal(signal.SIGTERM, signal.SIG_DFL)  # whatever the test runner's parent ignores
from housing_assets.cli.run import home_lock
with home_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"  # blocks until the lock is taken
    yield proc
    proc.kill()
    proc.wait()


def test_a_second_run_on_the_same_home_is_refused_naming_the_holder(
    tmp_path, holder, capsys, monkeypatch
):
    with pytest.raises(HomeBusy, match=f"pid {holder.pid}"), home_lock(tmp_path):
        pass
    monkeypatch.setenv("HOUSING_HOME", str(tmp_path))
    assert main(["run", "--no-train", "--no-wait", "--scale", "0.01"]) == 2
    out = capsys.readouterr().out
    assert f"another `housing run` is using {tmp_path}" in out
    assert not (tmp_path / "dagster").exists()  # refused before touching anything


def test_a_killed_holder_releases_the_home(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with home_lock(tmp_path):
        assert (tmp_path / "run.lock").read_text().strip() == str(os.getpid())


def test_a_second_run_waits_for_the_holder_and_says_so(tmp_path, holder):
    said, acquired = [], threading.Event()

    def second():
        with home_lock(tmp_path, wait=True, say=said.append, poll_s=0.05):
            acquired.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not acquired.wait(1.0)  # still held by the other process
    assert len(said) == 1 and f"(pid {holder.pid}) to finish" in said[0]
    holder.send_signal(signal.SIGTERM)
    holder.wait()
    assert acquired.wait(10)
    thread.join()
    assert said[-1].startswith("the home is free after")
