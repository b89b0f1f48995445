"""Commands that start a long-running program in this process's place: the Dagster UI, the
MLflow UI, the API and the dashboard."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from housing_assets.cli.common import launch, prepare_dagster_env, say, settings_for
from housing_assets.settings import project_root


def cmd_dev(args) -> int:
    settings = settings_for(args)
    prepare_dagster_env(settings)
    import dagster as dg

    from housing_assets.defs.ingestion.partitions import ensure_pool_limits

    with dg.DagsterInstance.get() as instance:
        ensure_pool_limits(instance)
    root = project_root()
    os.chdir(root)
    # `dg dev` from the root: the project's code location ([tool.dg] in pyproject.toml) on the
    # instance of dagster.yaml (DAGSTER_HOME) -- what plain `dagster dev` did, minus its warning
    # that `dg dev` supersedes it.
    command = ["dg", "dev", "-p", str(args.port)]
    say(f"Dagster UI on http://127.0.0.1:{args.port} (instance: {settings.dagster_home})")
    # The code location reads its settings from the environment (settings.py).
    child = {"HOUSING_HOME": str(settings.home), "HOUSING_SOURCE": settings.source,
             "HOUSING_SCALE": str(settings.scale), "HOUSING_SEED": str(settings.seed)}  # fmt: skip
    launch(command, child)  # replaces this process: Ctrl-C reaches dagster directly
    return 0


def cmd_mlflow(args) -> int:
    settings = settings_for(args)
    store = settings.mlflow_dir / "mlflow.db"
    command = [
        "mlflow",
        "ui",
        "--backend-store-uri",
        f"sqlite:///{store}",
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--workers",
        "1",
    ]
    say(f"MLflow UI on http://127.0.0.1:{args.port} (store: {store})")
    launch(command, {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}, override=False)
    return 0


def cmd_serve(args) -> int:
    from housing_serving.settings import ServingSettings

    store = ServingSettings().store  # HOUSING_SERVING_STORE, else <HOUSING_HOME>/serving
    from housing_serving.protocol import uvicorn_command

    command = uvicorn_command(args.host, args.port)
    say(f"API on http://{args.host}:{args.port}/docs (store: {store})")
    launch(command, {"HOUSING_SERVING_STORE": store})
    return 0


def ui_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The dashboard's exact entry command (also what its container runs)."""
    app = Path(__file__).resolve().parents[2] / "housing_ui" / "app.py"
    return [
        sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port), "--server.address", host,
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip


def cmd_ui(args) -> int:
    from housing_ui.settings import UiSettings

    api = args.api or UiSettings().api_url
    say(f"dashboard on http://{args.host}:{args.port} (API: {api}; start it with `housing serve`)")
    launch(ui_command(args.port, args.host), {"HOUSING_UI_API_URL": api})
    return 0
