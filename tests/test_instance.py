"""The root dagster.yaml needs no variable: its storage follows HOUSING_HOME (default .housing)."""

from pathlib import Path

import dagster as dg
import pytest

REPO = Path(__file__).resolve().parents[1]


@dg.asset
def one() -> int:
    return 1


@pytest.mark.parametrize("dagster_home", ["root", "temporary"])
def test_runs_logs_and_files_land_in_the_home(tmp_path, monkeypatch, dagster_home):
    """`housing run` sets DAGSTER_HOME to the root; `dagster dev` / `dg dev` without it use a
    temporary home configured from the root's dagster.yaml. Both store under the home."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOUSING_HOME", str(home))
    monkeypatch.delenv("HOUSING_DAGSTER_STORAGE", raising=False)
    if dagster_home == "root":
        monkeypatch.setenv("DAGSTER_HOME", str(REPO))
        instance = dg.DagsterInstance.get()
    else:
        temporary = tmp_path / ".tmp_dagster_home"
        temporary.mkdir()
        # What Dagster's CLI builds when DAGSTER_HOME is unset (dagster/_cli/utils.py).
        from dagster._core.instance.ref import InstanceRef

        ref = InstanceRef.from_dir(str(temporary), config_dir=str(REPO))
        instance = dg.DagsterInstance.from_ref(ref)
    with instance:
        result = dg.materialize([one], instance=instance)
        assert result.success
        assert instance.get_run_by_id(result.run_id) is not None
        logs = Path(instance.compute_log_manager.get_captured_local_path(["step"], "out"))
    storage = home / "dagster"
    assert (storage / "history" / "runs.db").exists()
    assert (storage / "history" / "runs" / f"{result.run_id}.db").exists()
    assert (storage / "storage" / "one").exists()  # the default IO manager's artifact storage
    assert logs.is_relative_to(storage)
    assert not list(REPO.glob("history")) and not list(REPO.glob("storage"))


def test_an_explicit_base_dir_still_wins(tmp_path, monkeypatch):
    from housing_assets.instance import storage_dir

    monkeypatch.setenv("HOUSING_HOME", str(tmp_path / "home"))
    assert storage_dir({}) == str(tmp_path / "home" / "dagster")
    assert storage_dir({"base_dir": "/srv/dagster"}) == "/srv/dagster"
