"""`housing`: the platform's command line.

housing run        generate/ingest new or changed months -> checks -> cleaned data -> a model
housing train      train one vintage on the months already ingested
housing generate   write the synthetic panel as monthly files or one HouseTS CSV
housing export-rows  ingested rows as a CSV for the API (`POST /v1/predict/csv`)
housing dev        the Dagster UI on this project's instance (dagster dev)
housing mlflow     the MLflow UI on this project's tracking store
housing serve      the prediction API (FastAPI + uvicorn) on the published bundle
housing ui         the dashboard (Streamlit) over the API
"""

from __future__ import annotations

import argparse
from importlib import metadata

from housing_assets.cli.common import (
    API_PORT,
    DAGSTER_PORT,
    EXIT_INTERRUPTED,
    EXIT_SOURCE,
    EXIT_USAGE,
    MLFLOW_PORT,
    UI_PORT,
    CliError,
    say,
)
from housing_assets.cli.export_rows import cmd_export_rows
from housing_assets.cli.generate import cmd_generate
from housing_assets.cli.run import cmd_run, cmd_train
from housing_assets.cli.servers import cmd_dev, cmd_mlflow, cmd_serve, cmd_ui
from housing_core.settings import DEFAULT_SCALE, DEFAULT_SEED


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line naming the fix (argparse's default prints the whole usage first)."""
        self.exit(EXIT_USAGE, f"error: {message} (see `{self.prog} --help`)\n")


def month(text: str) -> str:
    """An argparse type: YYYY-MM."""
    import re

    if not re.fullmatch(r"(19|20)\d\d-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month: use YYYY-MM, e.g. 2022-01")
    return text


def zip_codes(text: str) -> list[int]:
    """An argparse type: a comma-separated list of zip codes."""
    try:
        return [int(z) for z in text.split(",") if z.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of zip codes, e.g. 75025,75042"
        ) from None


def positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="housing", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--version", action="version", version=f"housing {metadata.version('housing-platform')}"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def data_options(p, *, with_source: bool = True):
        p.add_argument(
            "--scale",
            type=positive(float),
            default=None,
            help=f"synthetic zips as a multiple of ~6,226 (default {DEFAULT_SCALE}; up to 8)",
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

    def model_options(p):
        p.add_argument(
            "--vintage",
            type=month,
            default="2022-01",
            help="holdout start month (default 2022-01, the reference split)",
        )
        p.add_argument(
            "--trials",
            type=positive(int),
            default=None,
            help="Optuna trials (default 12; 30 at full scale)",
        )
        p.add_argument(
            "--tune-sample",
            type=positive(float),
            default=None,
            help="share of train rows used for tuning (default 0.5; 0.35 at full scale)",
        )
        p.add_argument(
            "--dask",
            default=None,
            metavar="N|ADDRESS",
            help="fit (and tune, with a shared study) on a Dask cluster: N local workers, or a "
            "scheduler's tcp:// address (HOUSING_DASK; default: in this process)",
        )
        p.add_argument(
            "--no-forecast",
            action="store_true",
            help="train the price model only: no forecaster, backtest or published forecasts",
        )
        p.add_argument(
            "--no-wait",
            action="store_true",
            help="refuse (exit 2) instead of waiting when another `housing run` uses this home",
        )
        p.add_argument(
            "-v", "--verbose", action="store_true", help="every line the Dagster steps log"
        )

    run = sub.add_parser("run", help="the main job, end to end")
    data_options(run)
    run.add_argument(
        "--months",
        default=None,
        help="only these months: a prefix (2019) or a list (2019-01,2019-02)",
    )
    model_options(run)
    run.add_argument("--no-train", action="store_true", help="stop after ingest and cleaning")
    run.add_argument(
        "--reingest",
        action="store_true",
        help="ingest every selected month again, even those whose source content is unchanged",
    )
    run.add_argument(
        "--accept-revisions",
        default="",
        metavar="MONTHS",
        help="re-delivered past months whose revision you reviewed, a prefix (2019) or a list "
        "(2019-03,2019-04): they replace the accepted version even beyond the revision "
        "policy's bounds",
    )
    run.set_defaults(func=cmd_run)

    train = sub.add_parser(
        "train", help="train one vintage on the months already ingested (no ingest)"
    )
    model_options(train)
    train.set_defaults(func=cmd_train)

    gen = sub.add_parser("generate", help="write the synthetic panel to files")
    gen.add_argument(
        "--out",
        required=True,
        help="directory for monthly files, or a .csv path with --single-file",
    )
    gen.add_argument(
        "--format",
        choices=["csv", "parquet"],
        default="parquet",
        help="monthly files' format (default parquet)",
    )
    gen.add_argument(
        "--single-file", action="store_true", help="one HouseTS-layout CSV, as published"
    )
    gen.add_argument(
        "--scale",
        type=positive(float),
        default=DEFAULT_SCALE,
        help=f"synthetic zips as a multiple of ~6,226 (default {DEFAULT_SCALE})",
    )
    gen.add_argument("--full", action="store_true", help="full scale: all ~6,226 zips (884k rows)")
    gen.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"seed (default {DEFAULT_SEED})"
    )
    gen.add_argument("--months", default=None, help="only these months: a prefix or a list")
    gen.add_argument("--until", type=month, default=None, help="only months up to YYYY-MM")
    gen.set_defaults(func=cmd_generate)

    rows = sub.add_parser(
        "export-rows", help="ingested rows as a CSV that the API's /v1/predict/csv takes"
    )
    rows.add_argument("--out", required=True, help="the CSV to write, e.g. rows.csv")
    rows.add_argument(
        "--month", type=month, default=None, help="an ingested month (default: the latest)"
    )
    rows.add_argument(
        "--zip",
        type=zip_codes,
        default=None,
        help="only these zip codes (a list: 75025,75042)",
    )
    rows.add_argument(
        "--n", type=positive(int), default=5, help="at most this many rows (default 5)"
    )
    rows.set_defaults(func=cmd_export_rows)

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


def quiet_connection_close() -> None:
    """SQLAlchemy logs, traceback and all, any exception raised while it closes a pooled
    connection and carries on; Ctrl-C can land exactly there (the instance's SQLite storage), and
    the interrupt is already reported once, as one line. The pool discards a connection whose close
    failed, so the message is all that is dropped."""
    import logging

    pool = logging.getLogger("sqlalchemy.pool")
    pool.addHandler(logging.NullHandler())
    pool.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Every user mistake ends here as one line and a distinct exit code (cli/common.py); a bug
    still shows its traceback."""
    args = build_parser().parse_args(argv)
    quiet_connection_close()
    try:
        return args.func(args)
    except CliError as exc:
        say(f"error: {exc}")
        return exc.code
    except KeyboardInterrupt as exc:
        run_id = getattr(exc, "run_id", None)  # runner.Interrupted: Ctrl-C inside a Dagster run
        run = f" run {run_id[:8]} is marked failed;" if run_id else ""
        say(f"\ninterrupted:{run} what finished is kept, `housing {args.command}` again resumes")
        return EXIT_INTERRUPTED
    except Exception as exc:
        from housing_core.contract import ContractError  # pandas: only when needed

        if not isinstance(exc, ContractError):
            raise  # a bug: its traceback is what a report needs
        say(f"error: {exc} (check --source / HOUSING_SOURCE)")  # the source itself is unusable
        return EXIT_SOURCE
