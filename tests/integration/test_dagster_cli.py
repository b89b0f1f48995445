"""Dagster's own CLI works from the repository root with no project variable set: `dg check defs`
and `dagster definitions validate` load the code location and the root dagster.yaml's instance.

They run as a user would, in a subprocess with no HOUSING_* or DAGSTER_* variable, so the
instance stores under the default home (<root>/.housing/dagster), as `housing run` does."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Two code-location loads in fresh processes (~10-20 s each on 2 cores): the end-to-end tier.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("HOUSING_", "DAGSTER_"))}


def _run(*command: str) -> str:
    before = set(REPO.iterdir())
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=REPO,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "HOUSING_DAGSTER_STORAGE" not in out
    # Nothing of the instance lands in the repository itself (Dagster's temporary home is gone).
    assert set(REPO.iterdir()) - before <= {REPO / ".housing"}, set(REPO.iterdir()) - before
    return out


def test_dg_check_defs_from_the_root():
    out = _run("dg", "check", "defs")
    assert "All definitions loaded successfully" in out


def test_dagster_definitions_validate_from_the_root():
    out = _run("dagster", "definitions", "validate")
    assert "Validation successful for code location housing" in out
    assert "All code locations passed validation" in out
