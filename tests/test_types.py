"""mypy is clean on every package: the code location, the API, the dashboard and the harness ([tool.mypy] files)."""

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_mypy_finds_no_error_in_any_package():
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Success: no issues found" in proc.stdout
