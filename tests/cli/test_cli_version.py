"""`housing --version` names the installed release, as a user reporting a problem is asked to."""

import tomllib
from pathlib import Path

import pytest

from housing_assets.cli import build_parser


def test_version_names_the_release_in_pyproject(capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["--version"])
    assert done.value.code == 0
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert capsys.readouterr().out.strip() == f"housing {project['version']}"
