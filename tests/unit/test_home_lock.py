"""One `housing run` per home: the second is refused with the holder's pid, and a killed holder
releases the lock (the OS drops it with the process)."""

import os
import signal
import subprocess
import sys

import pytest

from housing_assets.cli import main
from housing_assets.cli.run import HomeBusy, home_lock

HOLD = """
import sys, time
from pathlib import Path
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
    assert main(["run", "--no-train", "--scale", "0.01"]) == 2
    out = capsys.readouterr().out
    assert f"another `housing run` is using {tmp_path}" in out
    assert not (tmp_path / "dagster").exists()  # refused before touching anything


def test_a_killed_holder_releases_the_home(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with home_lock(tmp_path):
        assert (tmp_path / "run.lock").read_text().strip() == str(os.getpid())
