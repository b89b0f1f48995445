"""`--dask` is HOUSING_DASK for one command: N local workers or a scheduler's address, a bad
value refused in one line naming the flag."""

import pytest

from housing_assets.cli import build_parser
from housing_assets.cli.common import CliError, settings_for


@pytest.mark.parametrize(
    ("flag", "setting"),
    [("2", "local:2"), ("tcp://scheduler:8786", "tcp://scheduler:8786"), ("local:3", "local:3")],
)
def test_the_flag_sets_the_cluster_for_the_command(monkeypatch, tmp_path, flag, setting):
    monkeypatch.setenv("HOUSING_HOME", str(tmp_path))
    monkeypatch.delenv("HOUSING_DASK", raising=False)
    for command in ("run", "train"):
        args = build_parser().parse_args([command, "--dask", flag])
        assert settings_for(args).dask == setting


def test_without_the_flag_the_environment_decides(monkeypatch, tmp_path):
    monkeypatch.setenv("HOUSING_HOME", str(tmp_path))
    monkeypatch.setenv("HOUSING_DASK", "local:4")
    assert settings_for(build_parser().parse_args(["run"])).dask == "local:4"


def test_a_bad_value_names_the_flag(monkeypatch, tmp_path):
    monkeypatch.setenv("HOUSING_HOME", str(tmp_path))
    with pytest.raises(CliError, match=r"^--dask: .*got 'two'"):
        settings_for(build_parser().parse_args(["run", "--dask", "two"]))
