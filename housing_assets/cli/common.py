"""What every command shares: output, settings from the environment plus flags, the in-process
Dagster instance, and handing over to another program."""

from __future__ import annotations

import os
import warnings

from housing_core.settings import Settings, project_root

DAGSTER_PORT = 3000
MLFLOW_PORT = 5000
API_PORT = 8000
UI_PORT = 8501

# Exit codes: 0 done; 1 done, but the outcome is incomplete (a month quarantined or failed, the
# gate blocked the model); the others mean nothing was attempted, or the user stopped it.
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2  # a flag or a combination of flags that cannot work (also argparse's code)
EXIT_SOURCE = 3  # the source cannot be read: missing path, no monthly files, unreadable
EXIT_SETTINGS = 4  # an environment variable (HOUSING_*) holds a value that is not allowed
EXIT_PORT = 5  # a server command cannot listen where asked: the port is taken or not ours
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


class CliError(Exception):
    """A user mistake: printed as one line, `error: <message>`, exiting with `code`. The message
    names the fix."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def say(msg: str) -> None:
    print(msg, flush=True)


def writable_home(settings: Settings) -> None:
    """The commands that keep state write under HOUSING_HOME: refuse before any work when it
    cannot be written, rather than fail half-way with the OS's traceback."""
    import tempfile

    try:
        settings.home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.home, prefix=".probe-"):
            pass
    except OSError as exc:
        raise CliError(
            f"HOUSING_HOME={settings.home} cannot be written ({exc.strerror}): set HOUSING_HOME "
            "to a directory you can write",
            EXIT_SETTINGS,
        ) from None


def port_free(host: str, port: int) -> None:
    """A server command checks its port before it prints its banner: a taken port is one line
    and EXIT_PORT, whichever program would have failed to bind it. (Another process may still
    take the port in the instant between; that one fails as the server itself reports.)"""
    import socket

    try:
        socket.create_server((host, port)).close()  # SO_REUSEADDR, as the servers set it
    except OSError as exc:
        raise CliError(
            f"cannot listen on {host}:{port} ({os.strerror(exc.errno) if exc.errno else exc}): "
            "stop what uses it, or pick "
            "another port with --port",
            EXIT_PORT,
        ) from None


def tool(name: str) -> str:
    """A program installed in this environment: the one next to this interpreter, so that
    `.venv/bin/housing` works without the environment on PATH (as `uv run` puts it)."""
    import sys
    from pathlib import Path

    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def prepare_dagster_env(settings: Settings) -> None:
    """This process's own Dagster instance and logging, set up once at start-up (the CLI's only
    writes to its environment): dagster.yaml at the project root keeps the instance's storage
    in the settings' Dagster home (housing_assets/instance.py), so HOUSING_HOME is pinned here
    for this process and the ones it starts."""
    os.environ.setdefault("DAGSTER_HOME", str(project_root()))
    os.environ["HOUSING_HOME"] = str(settings.home)
    writable_home(settings)
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
    """The environment's settings with the command's flags applied. A bad HOUSING_* variable is
    EXIT_SETTINGS, a bad flag EXIT_USAGE, each one line naming the variable or flag."""
    from pydantic import ValidationError

    try:
        settings = Settings.from_env()
    except ValidationError as exc:
        raise CliError(_invalid(exc, lambda f: f"HOUSING_{f.upper()}"), EXIT_SETTINGS) from None
    changes: dict[str, object] = {}
    if getattr(args, "full", False):
        changes["scale"] = 1.0
    elif getattr(args, "scale", None) is not None:
        changes["scale"] = args.scale
    if getattr(args, "seed", None) is not None:
        changes["seed"] = args.seed
    if getattr(args, "source", None):
        changes["source"] = args.source
    if dask := getattr(args, "dask", None):
        changes["dask"] = f"local:{dask}" if dask.isdigit() else dask
    try:
        return settings.with_(**changes)
    except ValidationError as exc:
        raise CliError(_invalid(exc, lambda f: f"--{f.replace('_', '-')}")) from None


def _invalid(exc, name) -> str:
    """pydantic's errors as one line: `--scale: must be greater than 0 (got -1.0)`."""
    parts = []
    for e in exc.errors():
        field = ".".join(str(x) for x in e["loc"]) or "settings"
        got = f" (got {e['input']!r})" if "input" in e and not isinstance(e["input"], dict) else ""
        parts.append(
            f"{name(field) if e['loc'] else field}: {e['msg'].removeprefix('Value error, ')}{got}"
        )
    return "; ".join(parts)
