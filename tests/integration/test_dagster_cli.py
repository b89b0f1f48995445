"""Dagster's own CLI works from the repository root with no project variable set: `dg check defs`
and `dagster definitions validate` load the code location and the root dagster.yaml's instance.

They run as a user would, in a subprocess with no HOUSING_* or DAGSTER_* variable, so the
instance stores under the default home (<root>/.housing/dagster), as `housing run` does."""

import json
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


def test_an_asset_scaffolded_with_dg_is_loaded_with_the_rest(tmp_path):
    """`dg scaffold defs dagster.asset <domain>/<file>.py` writes under housing_assets/defs, and
    the code location loads it with no list to edit: `dg list defs` shows it beside the others.
    On a copy of the project (the scaffold writes into the package)."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "dagster.yaml", "workspace.yaml"):
        (project / name).write_bytes((REPO / name).read_bytes())
    for package in ("housing_core", "housing_assets"):
        subprocess.run(["cp", "-r", str(REPO / package), str(project)], check=True)
    env = {**_clean_env(), "PYTHONPATH": str(project), "HOUSING_HOME": str(tmp_path / "home")}

    def dg_cli(*args: str) -> str:
        done = subprocess.run(
            [str(BIN / "dg"), *args], cwd=project, env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        return done.stdout

    dg_cli("scaffold", "defs", "dagster.asset", "ingestion/scaffolded_probe.py")
    assert (project / "housing_assets/defs/ingestion/scaffolded_probe.py").exists()
    listed = json.loads(dg_cli("list", "defs", "--json"))
    keys = {asset["asset_key"] for asset in listed["assets"]}
    assert "scaffolded_probe" in keys and {"raw_monthly", "forecaster", "zip_forecasts"} <= keys
    assert "forecast_after_retrain" in {sensor["name"] for sensor in listed["sensors"]}
