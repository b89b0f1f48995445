"""`housing`: the platform's command line.

housing run        generate/ingest every month -> checks -> cleaned data (the main job)
housing generate   write the synthetic panel as monthly files or one HouseTS CSV
housing dev        the Dagster UI on this project's instance (dagster dev)
housing mlflow     the MLflow UI on this project's tracking store
housing serve      the prediction API (FastAPI + uvicorn) on the published bundle
housing ui         the dashboard (Streamlit) over the API
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

from housing_assets.settings import DEFAULT_SCALE, DEFAULT_SEED, Settings, project_root

DAGSTER_PORT = 3000
MLFLOW_PORT = 5000
API_PORT = 8000
UI_PORT = 8501


def _say(msg: str) -> None:
    print(msg, flush=True)


def _prepare_dagster_env(settings: Settings) -> None:
    """This process's own Dagster instance and logging, set up once at start-up (the CLI's only
    writes to its environment): dagster.yaml at the project root reads its storage location
    from HOUSING_DAGSTER_STORAGE."""
    os.environ.setdefault("DAGSTER_HOME", str(project_root()))
    os.environ["HOUSING_DAGSTER_STORAGE"] = str(settings.dagster_home)
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    # Keep the CLI readable: Dagster's preview/beta warnings are for developers, not for a run.
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import logging

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for noisy in ("mlflow", "alembic", "optuna"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _launch(command: list[str], env: dict[str, str], *, override: bool = True) -> None:
    """Replace this process with `command`, its environment this one's plus `env` (the only
    place the CLI hands settings to another program; `override=False`: the caller's win)."""
    child = {**os.environ, **env} if override else {**env, **os.environ}
    os.execvpe(command[0], command, child)


def _settings(args) -> Settings:
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


def cmd_run(args) -> int:
    settings = _settings(args)
    _prepare_dagster_env(settings)
    import dagster as dg

    from housing_assets.definitions import build_definitions
    from housing_assets.runner import ingest, register_months, train

    started = time.perf_counter()
    defs = build_definitions(settings)
    source = defs.resources["source"]
    _say(f"[1/{3 if args.no_train else 4}] source: {source.describe()}")
    months = select_months(source.months(), args.months)
    if not months:
        _say("no months to ingest")
        return 2
    steps = 3 if args.no_train else 4
    with dg.DagsterInstance.get() as instance:
        new = register_months(instance, months)
        _say(
            f"[2/{steps}] {len(months)} month(s) {months[0]}..{months[-1]} ({len(new)} new partitions)"
        )
        _say(f"[3/{steps}] ingest + great-expectations checks + cleaning")
        outcome = ingest(defs, instance, months, say=_say)
        trained = None
        if not args.no_train:
            if outcome.quarantined:
                _say(
                    f"[4/{steps}] not training: {len(outcome.quarantined)} month(s) quarantined (see below)"
                )
            else:
                _say(f"[4/{steps}] model lineage for vintage {args.vintage}")
                trained = train(
                    defs, instance, args.vintage, _tuning_config(args, settings), say=_say
                )
    elapsed = time.perf_counter() - started
    _summary(settings, outcome, trained, elapsed)
    return 1 if outcome.quarantined or (trained is not None and not trained.published) else 0


def _tuning_config(args, settings: Settings) -> dict:
    full = settings.scale >= 0.99
    return {
        "n_trials": args.trials or (30 if full else 12),
        "sample_fraction": args.tune_sample or (0.35 if full else 0.5),
        "timeout_s": 900.0 if full else 150.0,
    }


def _summary(settings: Settings, outcome, trained, elapsed: float) -> None:
    _say("")
    _say(f"done in {elapsed:.1f}s: {len(outcome.ingested)} month(s) ingested and cleaned")
    for check, text in outcome.warnings.items():
        _say(f"  warning  {check}: {text}")
    for month, why in outcome.quarantined.items():
        _say(f"  FAILED   {month} quarantined by the blocking contract check:\n{why}")
    if trained is not None:
        _model_summary(settings, trained)
    _say(f"  data:     {settings.data_dir}/<asset>/<partition>.parquet|json")
    _say(f"  runs:     {', '.join(r[:8] for r in outcome.run_ids)} in {settings.dagster_home}")
    _say(f"  Dagster:  uv run housing dev     ->  http://127.0.0.1:{DAGSTER_PORT}")
    _say(f"  MLflow:   uv run housing mlflow  ->  http://127.0.0.1:{MLFLOW_PORT}")


def _model_summary(settings: Settings, trained) -> None:
    m = trained.metrics or {}
    if "mape" in m:
        _say(
            f"  holdout ({trained.vintage} on): MAPE {m['mape']:.2f}%  MAE ${m['mae']:,.0f}  R² {m['r2']:.4f}"
        )
        _say(
            f"    baselines on the same rows: persistence MAPE {m['baseline_persistence_mape']:.2f}%, "
            f"the reference way {m['baseline_reference_mape']:.2f}%, "
            f"median list price {m['baseline_list_price_mape']:.2f}%"
        )
        _say(f"    interval coverage: 80% -> {m['coverage_80']:.1%}, 95% -> {m['coverage_95']:.1%}")
        for line in _horizon_lines(m):
            _say(line)
    if trained.mlflow:
        _say(
            f"    MLflow run {trained.mlflow['mlflow_run_id'][:12]}, registered version {trained.mlflow['registered_version']}"
        )
    if trained.published:
        _say(
            f"  bundle:   {settings.serving_dir}/bundles/{trained.bundle_version} (current; MLflow alias champion)"
        )
    else:
        _say(f"  NOT PUBLISHED: the promotion gate blocked it: {trained.gate}")


def _horizon_lines(m: dict) -> list[str]:
    """MAPE by months since the zip's last known price, next to persistence (holdout metadata)."""
    lines = []
    from housing_assets.lib import horizons

    for label in horizons.LABELS:
        key = horizons.key(label)
        if f"{key}_mape" not in m:
            continue
        persistence = m.get(f"{key}_persistence_mape")
        versus = f"  persistence {persistence:5.2f}%" if persistence is not None else ""
        lines.append(
            f"      {label:>5s}: MAPE {m[f'{key}_mape']:5.2f}%{versus}  "
            f"({int(m[f'{key}_rows']):,} rows, 80% covers {m.get(f'{key}_coverage_80', 0):.0%})"
        )
    title = "    by horizon (months since the zip's last known price; cold = no history):"
    return [title, *lines] if lines else []


def select_months(months: list[str], spec: str | None, until: str | None = None) -> list[str]:
    """`spec`: a prefix (2019) or a comma list (2019-01,2019-02); `until`: last month kept."""
    if spec:
        months = (
            [m for m in months if m in set(spec.split(","))]
            if "," in spec
            else [m for m in months if m.startswith(spec)]
        )
    return [m for m in months if until is None or m <= until]


def cmd_generate(args) -> int:
    from housing_assets.lib.synthetic import SyntheticSpec, generate_panel

    spec = SyntheticSpec(seed=args.seed, scale=1.0 if args.full else args.scale)
    panel = generate_panel(spec, progress=_say)
    out = Path(args.out)
    if args.single_file:
        out.parent.mkdir(parents=True, exist_ok=True)
        panel.assign(date=panel["date"].dt.strftime("%Y-%m-%d")).to_csv(out, index=False)
        _say(f"wrote {len(panel):,} rows to {out}")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    groups = list(panel.groupby(panel["date"].dt.strftime("%Y-%m"), sort=True))
    wanted = set(select_months([m for m, _ in groups], args.months, args.until))
    groups = [(m, part) for m, part in groups if m in wanted]
    if not groups:
        _say(f"no months match --months {args.months} --until {args.until}")
        return 2
    for i, (month, part) in enumerate(groups, 1):
        target = out / f"{month}.{args.format}"
        if args.format == "parquet":
            part.to_parquet(target, index=False)
        else:
            part.assign(date=part["date"].dt.strftime("%Y-%m-%d")).to_csv(target, index=False)
        if i % 24 == 0 or i == len(groups):
            _say(f"  wrote {i}/{len(groups)} monthly files")
    rows = sum(len(part) for _, part in groups)
    _say(f"wrote {rows:,} rows as {len(groups)} monthly {args.format} files in {out}")
    return 0


def cmd_dev(args) -> int:
    settings = _settings(args)
    _prepare_dagster_env(settings)
    import dagster as dg

    from housing_assets.defs.ingestion.partitions import ensure_pool_limits

    with dg.DagsterInstance.get() as instance:
        ensure_pool_limits(instance)
    root = project_root()
    os.chdir(root)
    command = ["dagster", "dev", "-w", str(root / "workspace.yaml"), "-p", str(args.port)]
    _say(f"Dagster UI on http://127.0.0.1:{args.port} (instance: {settings.dagster_home})")
    # The code location reads its settings from the environment (settings.py).
    child = {"HOUSING_HOME": str(settings.home), "HOUSING_SOURCE": settings.source,
             "HOUSING_SCALE": str(settings.scale), "HOUSING_SEED": str(settings.seed)}  # fmt: skip
    _launch(command, child)  # replaces this process: Ctrl-C reaches dagster directly
    return 0


def cmd_mlflow(args) -> int:
    settings = _settings(args)
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
    _say(f"MLflow UI on http://127.0.0.1:{args.port} (store: {store})")
    _launch(command, {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}, override=False)
    return 0


def cmd_serve(args) -> int:
    from housing_serving.settings import ServingSettings

    store = ServingSettings().store  # HOUSING_SERVING_STORE, else <HOUSING_HOME>/serving
    command = ["uvicorn", "housing_serving.main:app", "--host", args.host, "--port", str(args.port),
               "--workers", "1", "--no-access-log"]  # fmt: skip
    _say(f"API on http://{args.host}:{args.port}/docs (store: {store})")
    _launch(command, {"HOUSING_SERVING_STORE": store})
    return 0


def ui_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The dashboard's exact entry command (also what its container runs)."""
    app = Path(__file__).resolve().parents[1] / "housing_ui" / "app.py"
    return [
        sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port), "--server.address", host,
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip


def cmd_ui(args) -> int:
    from housing_ui.settings import UiSettings

    api = args.api or UiSettings().api_url
    _say(f"dashboard on http://{args.host}:{args.port} (API: {api}; start it with `housing serve`)")
    _launch(ui_command(args.port, args.host), {"HOUSING_UI_API_URL": api})
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="housing", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def data_options(p, *, with_source: bool = True):
        p.add_argument(
            "--scale",
            type=float,
            default=None,
            help=f"fraction of the ~6,226 synthetic zips (default {DEFAULT_SCALE})",
        )
        p.add_argument(
            "--full", action="store_true", help="full scale: all ~6,226 zips (884k rows)"
        )
        p.add_argument(
            "--seed", type=int, default=None, help=f"synthetic seed (default {DEFAULT_SEED})"
        )
        if with_source:
            p.add_argument(
                "--source",
                default=None,
                help="synthetic (default), a HouseTS CSV/Parquet file or monthly directory, or s3://...",
            )

    run = sub.add_parser("run", help="the main job, end to end")
    data_options(run)
    run.add_argument(
        "--months",
        default=None,
        help="only these months: a prefix (2019) or a list (2019-01,2019-02)",
    )
    run.add_argument(
        "--vintage",
        default="2022-01",
        help="holdout start month (default 2022-01, the reference split)",
    )
    run.add_argument(
        "--trials", type=int, default=None, help="Optuna trials (default 12; 30 with --full)"
    )
    run.add_argument(
        "--tune-sample",
        type=float,
        default=None,
        help="share of train rows used for tuning (default 0.5; 0.35 with --full)",
    )
    run.add_argument("--no-train", action="store_true", help="stop after ingest and cleaning")
    run.set_defaults(func=cmd_run)

    gen = sub.add_parser("generate", help="write the synthetic panel to files")
    gen.add_argument(
        "--out",
        required=True,
        help="directory for monthly files, or a .csv path with --single-file",
    )
    gen.add_argument("--format", choices=["csv", "parquet"], default="parquet")
    gen.add_argument(
        "--single-file", action="store_true", help="one HouseTS-layout CSV, as published"
    )
    gen.add_argument("--scale", type=float, default=DEFAULT_SCALE)
    gen.add_argument("--full", action="store_true")
    gen.add_argument("--seed", type=int, default=DEFAULT_SEED)
    gen.add_argument("--months", default=None, help="only these months: a prefix or a list")
    gen.add_argument("--until", default=None, help="only months up to YYYY-MM")
    gen.set_defaults(func=cmd_generate)

    dev = sub.add_parser(
        "dev", help="start the Dagster UI (dagster dev) on this project's instance"
    )
    data_options(dev)
    dev.add_argument("--port", type=int, default=DAGSTER_PORT)
    dev.set_defaults(func=cmd_dev)

    mlf = sub.add_parser("mlflow", help="start the MLflow UI on this project's tracking store")
    mlf.add_argument("--port", type=int, default=MLFLOW_PORT)
    mlf.set_defaults(func=cmd_mlflow)

    serve = sub.add_parser("serve", help="serve the published model over HTTP (FastAPI + uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=API_PORT)
    serve.set_defaults(func=cmd_serve)

    ui = sub.add_parser("ui", help="the dashboard (Streamlit) over the running API")
    ui.add_argument(
        "--api", default=None, help="the API's URL (default: HOUSING_UI_API_URL or :8000)"
    )
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=UI_PORT)
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
