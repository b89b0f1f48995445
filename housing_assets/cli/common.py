"""What every command shares: output, settings from the environment plus flags, the in-process
Dagster instance, and handing over to another program."""

from __future__ import annotations

import os
import warnings

from housing_assets.settings import Settings, project_root

DAGSTER_PORT = 3000
MLFLOW_PORT = 5000
API_PORT = 8000
UI_PORT = 8501


def say(msg: str) -> None:
    print(msg, flush=True)


def prepare_dagster_env(settings: Settings) -> None:
    """This process's own Dagster instance and logging, set up once at start-up (the CLI's only
    writes to its environment): dagster.yaml at the project root keeps the instance's storage
    in the settings' Dagster home (housing_assets/instance.py), so HOUSING_HOME is pinned here
    for this process and the ones it starts."""
    os.environ.setdefault("DAGSTER_HOME", str(project_root()))
    os.environ["HOUSING_HOME"] = str(settings.home)
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    # Keep the CLI readable: Dagster's preview/beta warnings are for developers, not for a run.
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import logging

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for noisy in ("mlflow", "alembic", "optuna"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def launch(command: list[str], env: dict[str, str], *, override: bool = True) -> None:
    """Replace this process with `command`, its environment this one's plus `env` (the only
    place the CLI hands settings to another program; `override=False`: the caller's win)."""
    child = {**os.environ, **env} if override else {**env, **os.environ}
    os.execvpe(command[0], command, child)


def settings_for(args) -> Settings:
    settings = Settings.from_env()
    changes = {}
    if getattr(args, "full", False):
        changes["scale"] = 1.0
    elif getattr(args, "scale", None) is not None:
        changes["scale"] = args.scale
    if getattr(args, "seed", None) is not None:
        changes["seed"] = args.seed
    if getattr(args, "source", None):
        changes["source"] = args.source
    return settings.with_(**changes)
