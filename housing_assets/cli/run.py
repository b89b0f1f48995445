"""`housing run`: the main job -- months in, checks, cleaned data, one model lineage, a bundle."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from housing_assets.cli.common import (
    DAGSTER_PORT,
    EXIT_INCOMPLETE,
    MLFLOW_PORT,
    CliError,
    prepare_dagster_env,
    say,
    settings_for,
    writable_home,
)
from housing_assets.cli.interrupts import ctrl_c_for_this_process
from housing_core.settings import Settings


class HomeBusy(RuntimeError):
    """Another `housing run` holds this home."""


WAIT_NOTE_EVERY_S = 60.0
FORECAST_TRIALS = 24  # the forecaster's Optuna budget: seconds at the default scale


@contextmanager
def home_lock(home: Path, *, wait: bool = False, say=say, poll_s: float = 0.5):
    """One `housing run` per HOUSING_HOME at a time: runs execute in this process, not through
    the instance's run queue, so this lock is what keeps two of them from writing the same
    months, model version and bundle. The OS releases it when the process dies (even killed).
    `wait`: queue behind the holder, saying so (and again every minute); otherwise refuse."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "run.lock"
    with open(path, "a+") as handle:
        started = time.monotonic()
        noted = None
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                if not wait:
                    raise HomeBusy(
                        f"another `housing run` is using {home} (pid {holder}); wait for it "
                        "(run again without --no-wait), or set HOUSING_HOME to another directory"
                    ) from None
                waited = time.monotonic() - started
                if noted is None or waited - noted >= WAIT_NOTE_EVERY_S:
                    say(
                        f"waiting for another `housing run` on {home} (pid {holder}) to finish"
                        f"{f' ({waited:.0f}s so far)' if noted is not None else ''}; "
                        "Ctrl-C to give up, --no-wait to refuse instead"
                    )
                    noted = waited
                time.sleep(poll_s)
        if noted is not None:
            say(f"the home is free after {time.monotonic() - started:.0f}s: starting")
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cmd_run(args) -> int:
    return _locked(args, _run)


def cmd_train(args) -> int:
    return _locked(args, _train_only)


def _locked(args, work) -> int:
    """`work(args, settings, console)` holding the home's lock (waiting for it unless --no-wait)."""
    settings = settings_for(args)
    writable_home(settings)
    try:
        with home_lock(settings.home, wait=not args.no_wait), ctrl_c_for_this_process():
            return _with_console(args, lambda console: work(args, settings, console))
    except HomeBusy as exc:
        raise CliError(str(exc)) from None


def _with_console(args, work) -> int:
    from housing_assets.cli.console import Console
    from housing_assets.defs import loggers

    with _terminal() as out:
        console = Console(out, verbose=args.verbose)
        with loggers.listening(console):
            return work(console)


@contextmanager
def _terminal():
    """A stream of its own onto this command's stdout, taken before any Dagster run starts.

    A run executed in this process captures the process's stdout for its compute logs: file
    descriptor 1 points at a log file for the run's duration, and a `tail -F` of that file copies
    it back to the terminal, polling once a second, killed when the run ends: what the console
    wrote through descriptor 1 meanwhile arrived late, or not at all if the tail was killed
    first. The console writes through a duplicate of the descriptor, which no capture
    redirects, so progress and summary reach the terminal as they are written."""
    try:
        fd = os.dup(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # no real descriptor (a test's StringIO)
        yield sys.stdout
        return
    sys.stdout.flush()
    out = os.fdopen(fd, "w", buffering=1, encoding=sys.stdout.encoding, errors="replace")
    try:
        yield out
    finally:
        out.close()


def _platform(settings: Settings) -> tuple:
    """This process's Dagster instance environment, the definitions and their resources."""
    prepare_dagster_env(settings)
    from housing_assets.definitions import build_definitions
    from housing_assets.resources.environment import resources_for

    return build_definitions(settings), resources_for(settings)


def _run(args, settings: Settings, console) -> int:
    say = console.say
    started = time.perf_counter()
    defs, resources = _platform(settings)
    import dagster as dg

    from housing_assets.runner import IngestOutcome, ingest, register_months

    source = resources["source"]
    steps = 3 if args.no_train else 4
    say(f"[1/{steps}] source: {source.describe()}")
    for reason in source.refused():
        say(f"  ignored {reason}")
    for what in source.not_data():
        say(f"  not data: {what}")
    available = source.months()
    months = select_months(available, args.months)
    if not months:
        raise CliError(
            f"{_months_arg(args)} selects no month of {source.describe()} "
            f"({_span(available)}): pick months it has, e.g. --months {available[-1][:4]}"
        )
    with dg.DagsterInstance.get() as instance:
        cleaned = set(instance.get_materialized_partitions(dg.AssetKey("cleaned_monthly")))
        if not args.no_train:
            _require_splits(args, sorted(set(months) | cleaned), "--no-train")
        from housing_assets.liveness import fail_dead_runs

        for run_id in fail_dead_runs(instance):  # e.g. a killed earlier `housing run`
            say(f"  marked run {run_id[:8]} failed: its process is gone (killed?)")
        ledger = Ledger(settings)
        fingerprints = source.fingerprints()
        unchanged = [] if args.reingest else ledger.unchanged(months, fingerprints, cleaned)
        todo = [m for m in months if m not in set(unchanged)]
        new = register_months(instance, months)
        say(
            f"[2/{steps}] {len(months)} month(s) {_span(months)}: {len(todo)} to ingest "
            f"({len(new)} new partitions), {len(unchanged)} unchanged since ingested"
            + (" (skipped; --reingest ingests them again)" if unchanged else "")
        )
        say(f"[3/{steps}] ingest + great-expectations checks + cleaning")
        if todo:
            accept = select_months(todo, args.accept_revisions) if args.accept_revisions else []
            if accept:
                say(f"  accepting reviewed revisions of {', '.join(accept)}")
            outcome = ingest(defs, instance, todo, say=say, accept_revisions=accept)
            ledger.record({m: fingerprints[m] for m in outcome.ingested if m in fingerprints})
        else:
            say("  nothing new or changed to ingest")
            outcome = IngestOutcome(months=[])
        trained = None
        if not args.no_train:
            if outcome.quarantined or outcome.failed:
                lost = len(outcome.quarantined) + len(outcome.failed)
                say(f"[4/{steps}] not training: {lost} month(s) quarantined or failed (see below)")
            else:
                say(f"[4/{steps}] model lineage for vintage {args.vintage}")
                from housing_core.sources import release_source_caches

                release_source_caches()  # training reads cleaned months, never the source
                trained = _train(args, settings, defs, instance, say)
    elapsed = time.perf_counter() - started
    skipped = f", {len(unchanged)} unchanged (skipped)" if unchanged else ""
    _summary(settings, outcome, trained, elapsed, say, skipped)
    incomplete = outcome.quarantined or outcome.failed
    return EXIT_INCOMPLETE if incomplete or (trained and not trained.published) else 0


def _train_only(args, settings: Settings, console) -> int:
    say = console.say
    started = time.perf_counter()
    defs, _ = _platform(settings)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        cleaned = sorted(instance.get_materialized_partitions(dg.AssetKey("cleaned_monthly")))
        if not cleaned:
            raise CliError(
                f"nothing is ingested in {settings.home}: run `housing run --no-train` first"
            )
        _require_splits(args, cleaned, "`housing run --no-train --months ...`", ingested=True)
        say(f"vintage {args.vintage} on the {len(cleaned)} ingested month(s) {_span(cleaned)}")
        trained = _train(args, settings, defs, instance, say)
    say("")
    say(f"done in {time.perf_counter() - started:.1f}s")
    _model_summary(settings, trained, say)
    return 0 if trained.published else EXIT_INCOMPLETE


def _require_splits(args, months: list[str], fix: str, *, ingested: bool = False) -> None:
    """Refuse, before any work, a vintage whose train, eval or holdout window has no month."""
    from housing_core import splits as S

    empty = S.uncovered(months, S.Windows(args.vintage))
    if not empty:
        return
    what = "the ingested months" if ingested else f"{_months_arg(args)} (with what is ingested)"
    action = (
        f"ingest them with {fix}" if ingested else f"add those months, or ingest only with {fix}"
    )
    raise CliError(
        f"vintage {args.vintage} needs months in every split, and {what} leaves "
        f"{' and '.join(empty)} empty: {action}"
    )


def _train(args, settings: Settings, defs, instance, say):
    from housing_assets.runner import train

    trained = train(defs, instance, args.vintage, _tuning_config(args, settings), say=say)
    if not args.no_forecast:
        from housing_assets.runner import forecast

        trained.forecast = forecast(defs, instance, args.vintage, FORECAST_TRIALS, say=say)
    return trained


def _span(months: list[str]) -> str:
    return "none" if not months else months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"


class Ledger:
    """What `housing run` ingested, month -> the source's fingerprint of it then (the same
    fingerprints the new-data sensor compares). A month is skipped when it is cleaned and its
    fingerprint is unchanged; switching the source, seed, scale or data location changes every
    fingerprint or the ledger's key, so everything is ingested again. One JSON file in the
    home, replaced atomically."""

    def __init__(self, settings: Settings):
        self.path = settings.home / "ingested.json"
        self.key = settings.data_location
        known = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.months: dict[str, str] = (
            known.get("months", {}) if known.get("data") == self.key else {}
        )

    def unchanged(self, months, fingerprints: dict[str, str], cleaned: set[str]) -> list[str]:
        return [
            m for m in months
            if m in cleaned and m in fingerprints and self.months.get(m) == fingerprints[m]
        ]  # fmt: skip

    def record(self, ingested: dict[str, str]) -> None:
        self.months.update(ingested)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"data": self.key, "months": self.months}, sort_keys=True))
        os.replace(tmp, self.path)


def _months_arg(args) -> str:
    return f"--months {args.months}" if args.months else "the source"


def _tuning_config(args, settings: Settings) -> dict:
    """The budget is trials, never seconds: two runs on the same data publish the same model."""
    full = settings.scale >= 0.99
    return {
        "n_trials": args.trials or (30 if full else 12),
        "sample_fraction": args.tune_sample or (0.35 if full else 0.5),
    }


def _summary(settings: Settings, outcome, trained, elapsed: float, say, skipped: str = "") -> None:
    say("")
    say(f"done in {elapsed:.1f}s: {len(outcome.ingested)} month(s) ingested and cleaned{skipped}")
    for check, text in outcome.warnings.items():
        say(f"  warning  {check}: {text}")
    for month, why in outcome.quarantined.items():
        say(f"  FAILED   {month} quarantined by a blocking check:\n{why}")
    errors: dict[str, list[str]] = {}
    for month, error in outcome.failed.items():
        errors.setdefault(error, []).append(month)
    for error, months in errors.items():  # one line per distinct error, not per month
        say(f"  FAILED   {', '.join(months)} (each run alone, once):\n    {error}")
    if trained is not None:
        _model_summary(settings, trained, say)
    say(f"  data:     {settings.data_dir}/<asset>/<partition>.parquet|json")
    if outcome.run_ids:
        say(f"  runs:     {_run_list(outcome.run_ids)} in {settings.dagster_home}")
    say(f"  Dagster:  uv run housing dev     ->  http://127.0.0.1:{DAGSTER_PORT}")
    say(f"  MLflow:   uv run housing mlflow  ->  http://127.0.0.1:{MLFLOW_PORT}")


def _run_list(run_ids: list[str]) -> str:
    shown = ", ".join(r[:8] for r in run_ids[:5])
    return shown if len(run_ids) <= 5 else f"{shown} and {len(run_ids) - 5} more"


def _model_summary(settings: Settings, trained, say) -> None:
    m = trained.metrics
    if trained.trials:
        t = trained.trials
        pruned = f", {t['pruned']} pruned early" if t.get("pruned") else ""
        resumed = (
            f" (+{t['resumed']} from an earlier run of this study)" if t.get("resumed") else ""
        )
        say(
            f"  tuning: {t['new']} trial(s) run{pruned}{resumed}; best eval log-MAE {t['best']:.4f}"
        )
    if "mape" in m:
        say(
            f"  holdout ({trained.vintage} on): MAPE {m['mape']:.2f}%  MAE ${m['mae']:,.0f}  R² {m['r2']:.4f}"
        )
        say(
            f"    baselines on the same rows: persistence MAPE {m['baseline_persistence_mape']:.2f}%, "
            f"the reference way {m['baseline_reference_mape']:.2f}%, "
            f"median list price {m['baseline_list_price_mape']:.2f}%"
        )
        say(f"    interval coverage: 80% -> {m['coverage_80']:.1%}, 95% -> {m['coverage_95']:.1%}")
        for line in _horizon_lines(m):
            say(line)
    if trained.model is not None:
        ref = trained.model.mlflow
        say(f"    MLflow run {ref.run_id[:12]}, registered version {ref.version}")
    if trained.published:
        say(
            f"  bundle:   {settings.serving_dir}/bundles/{trained.bundle_version} (current; MLflow alias champion)"
        )
    else:
        say(f"  NOT PUBLISHED: the promotion gate blocked it: {trained.gate}")
    for warning in trained.warnings:
        say(f"  gate {warning}")
    if trained.forecast is not None:
        _forecast_summary(settings, trained.forecast, say)


def _forecast_summary(settings: Settings, outcome, say) -> None:
    rep = outcome.backtest
    if rep is not None:
        from housing_core.forecast.backtest import ordered

        rep = ordered(rep)
        o = rep["overall"]
        say(
            f"  forecast backtest ({outcome.vintage} on, 1-24 months ahead, {rep['points']:,} "
            f"points): MAPE {o['model']:.2f}%  persistence {o['persistence']:.2f}%  "
            f"drift {o['drift']:.2f}%"
        )
        for label, part in rep["by_bucket"].items():
            cover = rep["coverage"].get(label, {})
            say(
                f"      {label:>5s}: MAPE {part['model']:5.2f}%  persistence "
                f"{part['persistence']:5.2f}%  ({part['points']:,} points, 80% band covers "
                f"{cover.get('80', float('nan')):.0f}%)"
            )
    if outcome.published:
        p = outcome.published
        say(
            f"  forecasts: {settings.serving_dir}/forecasts/{p['version']} (current; from "
            f"{p['origin']}; MLflow {p['registered_model']} v{p['registered_version']}, alias "
            "forecast-champion)"
        )
    else:
        say(f"  FORECASTS NOT PUBLISHED: the backtest gate held them back: {outcome.gate}")


def _horizon_lines(m: dict) -> list[str]:
    """MAPE by months since the zip's last known price, next to persistence (holdout metadata)."""
    lines = []
    from housing_core import horizons

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
