"""`housing run`: the main job -- months in, checks, cleaned data, one model lineage, a bundle."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from housing_assets.cli.common import (
    DAGSTER_PORT,
    MLFLOW_PORT,
    prepare_dagster_env,
    say,
    settings_for,
)
from housing_assets.settings import Settings


class HomeBusy(RuntimeError):
    """Another `housing run` holds this home."""


WAIT_NOTE_EVERY_S = 60.0


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
    settings = settings_for(args)
    try:
        with home_lock(settings.home, wait=not args.no_wait):
            return _run(args, settings)
    except HomeBusy as exc:
        say(f"error: {exc}")
        return 2


def _run(args, settings: Settings) -> int:
    prepare_dagster_env(settings)
    import dagster as dg

    from housing_assets.definitions import build_definitions, resources_for
    from housing_assets.lib import splits as S
    from housing_assets.runner import ingest, register_months, train

    started = time.perf_counter()
    defs = build_definitions(settings)
    resources = resources_for(settings)
    source = resources["source"]
    say(f"[1/{3 if args.no_train else 4}] source: {source.describe()}")
    for reason in source.refused():
        say(f"  ignored {reason}")
    months = select_months(source.months(), args.months)
    if not months:
        say("no months to ingest")
        return 2
    steps = 3 if args.no_train else 4
    with dg.DagsterInstance.get() as instance:
        if not args.no_train:
            cleaned = instance.get_materialized_partitions(dg.AssetKey("cleaned_monthly"))
            empty = S.uncovered(sorted(set(months) | set(cleaned)), S.Windows(args.vintage))
            if empty:
                say(
                    f"error: vintage {args.vintage} needs months in every split, and "
                    f"{_months_arg(args)} (with what is ingested) leaves {' and '.join(empty)} "
                    "empty: add those months, or ingest only with --no-train"
                )
                return 2
        from housing_assets.liveness import fail_dead_runs

        for run_id in fail_dead_runs(instance):  # e.g. a killed earlier `housing run`
            say(f"  marked run {run_id[:8]} failed: its process is gone (killed?)")
        new = register_months(instance, months)
        say(
            f"[2/{steps}] {len(months)} month(s) {months[0]}..{months[-1]} ({len(new)} new partitions)"
        )
        say(f"[3/{steps}] ingest + great-expectations checks + cleaning")
        outcome = ingest(defs, instance, months, say=say)
        trained = None
        if not args.no_train:
            if outcome.quarantined or outcome.failed:
                lost = len(outcome.quarantined) + len(outcome.failed)
                say(f"[4/{steps}] not training: {lost} month(s) quarantined or failed (see below)")
            else:
                say(f"[4/{steps}] model lineage for vintage {args.vintage}")
                repaired = resources["mlflow_tracking"].reconcile_champion(
                    resources["serving_store"].store()
                )
                if repaired:  # a publish that crashed between `current` and the alias
                    say(f"  {repaired}")
                trained = train(
                    defs, instance, args.vintage, _tuning_config(args, settings), say=say
                )
    elapsed = time.perf_counter() - started
    _summary(settings, outcome, trained, elapsed)
    incomplete = outcome.quarantined or outcome.failed
    return 1 if incomplete or (trained is not None and not trained.published) else 0


def _months_arg(args) -> str:
    return f"--months {args.months}" if args.months else "the source"


def _tuning_config(args, settings: Settings) -> dict:
    full = settings.scale >= 0.99
    return {
        "n_trials": args.trials or (30 if full else 12),
        "sample_fraction": args.tune_sample or (0.35 if full else 0.5),
        "timeout_s": 900.0 if full else 150.0,
    }


def _summary(settings: Settings, outcome, trained, elapsed: float) -> None:
    say("")
    say(f"done in {elapsed:.1f}s: {len(outcome.ingested)} month(s) ingested and cleaned")
    for check, text in outcome.warnings.items():
        say(f"  warning  {check}: {text}")
    for month, why in outcome.quarantined.items():
        say(f"  FAILED   {month} quarantined by the blocking contract check:\n{why}")
    errors: dict[str, list[str]] = {}
    for month, error in outcome.failed.items():
        errors.setdefault(error, []).append(month)
    for error, months in errors.items():  # one line per distinct error, not per month
        say(f"  FAILED   {', '.join(months)} (each run alone, once):\n    {error}")
    if trained is not None:
        _model_summary(settings, trained)
    say(f"  data:     {settings.data_dir}/<asset>/<partition>.parquet|json")
    say(f"  runs:     {', '.join(r[:8] for r in outcome.run_ids)} in {settings.dagster_home}")
    say(f"  Dagster:  uv run housing dev     ->  http://127.0.0.1:{DAGSTER_PORT}")
    say(f"  MLflow:   uv run housing mlflow  ->  http://127.0.0.1:{MLFLOW_PORT}")


def _model_summary(settings: Settings, trained) -> None:
    m = trained.metrics
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
