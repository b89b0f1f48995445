"""Where the local Dagster instance keeps runs, event logs and compute logs: <HOUSING_HOME>/dagster.

dagster.yaml cannot give a location a default: `base_dir: {env: VAR}` fails whenever VAR is unset,
which made Dagster's own CLI (`dagster dev`, `dagster definitions validate`, `dg dev`, `dg check
defs`) unusable without a project-only variable. These are Dagster's SQLite storage, local artifact
storage and compute-log manager with `base_dir` optional: left out, it is the settings' Dagster
home (HOUSING_HOME's `dagster/`, default `.housing/dagster`; settings.py). So every command that
reads the root dagster.yaml -- `housing run`, `housing dev`, `dg dev`, `dagster dev` -- uses one
instance, under the home the environment names.

Each process resolves the directory itself (the webserver, the daemon and run workers rebuild the
instance from its class and config), from the same environment.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
from dagster._core.storage.root import LocalArtifactStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage

from housing_assets.settings import Settings

_BASE_DIR = dg.Field(
    dg.StringSource,
    is_required=False,
    description="Default: <HOUSING_HOME>/dagster (housing_assets/settings.py).",
)


def storage_dir(config: dict[str, Any]) -> str:
    """The configured `base_dir`, else the Dagster home of the environment's settings."""
    return config.get("base_dir") or str(Settings.from_env().dagster_home)


class HomeSqliteStorage(DagsterSqliteStorage):
    """Runs, event logs and schedules in SQLite under `base_dir` (default: the home's)."""

    @classmethod
    def config_type(cls):
        return {"base_dir": _BASE_DIR}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls.from_local(storage_dir(config_value), inst_data=inst_data)


class HomeArtifactStorage(LocalArtifactStorage):
    """Files written by runs under `base_dir` (default: the home's)."""

    @classmethod
    def config_type(cls):
        return {"base_dir": _BASE_DIR}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(storage_dir(config_value), inst_data=inst_data)


class HomeComputeLogManager(LocalComputeLogManager):
    """Each step's stdout/stderr under `base_dir` (default: the home's)."""

    @classmethod
    def config_type(cls):
        return {**super().config_type(), "base_dir": _BASE_DIR}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **{**config_value, "base_dir": storage_dir(config_value)})
