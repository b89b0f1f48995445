"""Scaling curve: ingest + checks, training, the whole main job and the API, by synthetic scale.

    uv run python benchmarks/scaling.py                        # scales 0.25,1,2,5 (over 1 h)
    uv run python benchmarks/scaling.py --scales 0.25,1 --stages ingest,training --json a.json
    uv run python benchmarks/scaling.py --from a.json b.json --plot docs/scaling.png
    uv run python benchmarks/scaling.py --scales 0.05 --stages ingest,training --dask local:2

Per scale, every stage is a fresh process on an empty HOUSING_HOME, so a figure includes
interpreter start, imports, the Dagster instance and MLflow's first database setup:
  ingest    `housing run --scale S --no-train`   (raw -> checks -> cleaned, every month)
  training  `housing train` on that home           (splits -> features -> tuning -> publish)
  main      `housing run --scale S` on another empty home (the whole main job)
  api       benchmarks/api_latency.py on the training stage's bundle (single-row p50/p99 at one
            connection, the 10,000-row batch)
Peak RSS is the kernel's ru_maxrss of the stage's process (os.wait4: that process and the
children it waited for). The machine is shared: the 1-minute load average is recorded before and
after every stage. Cost per row is wall seconds per million panel rows, relative to scale 1.
Targets at 5x (~4.4 M rows) on 2 cores: main job <= 20 min, peak RSS <= 12 GB, cost per row
<= 1.5x scale 1's.

With --dask local:N (or a scheduler's tcp://host:port) the training stage runs twice on copies of
the one ingested home, each a fresh process: in process, then with HOUSING_DASK set (the refits on
the cluster, docs/scale-out.md). Side by side: wall time, holdout MAPE, the stage's peak RSS (the
process and the workers it started), the driver's own peak by the end of the refits and each
worker's (VmHWM, from the refit steps' materializations: each such step starts its own local
cluster; later steps of the driver may peak higher, which only the stage's figure shows).

With --policies FILE (run_all.py --scaling passes benchmarks/cost_only_policies.yaml) every stage
runs under that HOUSING_POLICIES, so a model the default gate would hold back still reaches its
publish step (the final refit, the largest) and the API; the default policy's verdict on each
published model is then computed from its bundle's holdout metrics and reported beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import host

from housing_harness.cli_output import holdout_mape

REPO = Path(__file__).resolve().parents[1]
MONTHS = 142  # 2012-03 .. 2023-12
STAGES = ("ingest", "training", "main")
DASK_STAGE = "training-dask"  # the training stage again with HOUSING_DASK (--dask)
DASK_SETTINGS = ("HOUSING_DASK", "HOUSING_DASK_WORKER_MEMORY")
REFIT_STEPS = ("tuned_model", "serving_bundle")  # the steps whose refits run on the cluster
TARGETS = {"main_wall_s": 20 * 60, "peak_rss_mb": 12 * 1024, "cost_vs_1x": 1.5}


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def rows_at(scale: float) -> int:
    sys.path.insert(0, str(REPO))
    from housing_core.synthetic import n_zips

    return n_zips(scale) * MONTHS


def stage(
    name: str,
    command: list[str],
    home: Path,
    scale: float,
    policies: Path | None = None,
    dask: dict[str, str] | None = None,
) -> dict:
    """Run one stage as a fresh process on `home`; wall time, peak RSS, load around it.
    HOUSING_SCALE: `housing train` takes the scale (and so its tuning budget) from settings.
    `dask`: HOUSING_DASK* settings for it (otherwise scale-out is off, whatever this shell has)."""
    env = {**os.environ, "HOUSING_HOME": str(home), "HOUSING_SCALE": str(scale)}
    for setting in DASK_SETTINGS:
        env.pop(setting, None)
    env.update(dask or {})
    if policies is not None:
        env["HOUSING_POLICIES"] = str(policies)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("DAGSTER_HOME", None)
    load_before = load_average()
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    code = os.waitstatus_to_exitcode(status)
    # Exit 1 with "NOT PUBLISHED": the run finished and the promotion gate kept the model back
    # (a verdict about the model, not a failed stage): its figures stand.
    held = code == 1 and "NOT PUBLISHED" in text
    if code != 0 and not held:
        raise SystemExit(f"{name} failed (exit {code}):\n{text[-4000:]}")
    mape = holdout_mape(text)
    published = code == 0 and name != "ingest"
    return {
        "stage": name,
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "load_before": load_before,
        "load_after": load_average(),
        **({"holdout_mape": float(mape)} if mape else {}),
        **({"published": False} if held else {}),
        **({"default_gate": default_gate(home)} if published and policies is not None else {}),
    }


def default_gate(home: Path) -> dict:
    """The default promotion policy's verdict on the model `home` published (first model of a
    fresh home: no champion to compare with), from its bundle's holdout metrics."""
    sys.path.insert(0, str(REPO))
    from housing_core import bundle, gate
    from housing_core.storage import store_for

    store = store_for(home / "serving")
    version = bundle.current_version(store)
    if version is None:
        raise SystemExit(f"{home}: the stage exited 0 but published no bundle")
    (metrics,) = bundle.read_verified(store, version, ("metrics.json",)).values()
    verdict = gate.decide(json.loads(metrics), gate.GatePolicy(), None, None)
    return {"passed": verdict.passed, "reasons": verdict.reasons}


def cluster_memory(home: Path) -> dict:
    """What the refit steps of the training run on `home` recorded of the cluster: per step, the
    driver's peak RSS and each worker's (MB), the workers lost, and the trials per worker when
    tuning ran there; `run`: the driver's peak over the whole run (its last step's)."""
    sys.path.insert(0, str(REPO))
    import dagster as dg

    out = {}
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        for step in REFIT_STEPS:
            event = instance.get_latest_materialization_event(dg.AssetKey(step))
            meta = (
                event.asset_materialization.metadata
                if event and event.asset_materialization
                else {}
            )
            if "dask_workers_peak_rss_mb" not in meta:
                raise SystemExit(f"{home}: {step} did not refit on the Dask cluster")
            out[step] = {
                "driver_peak_rss_mb": meta["driver_peak_rss_mb"].value,
                "workers_peak_rss_mb": sorted(meta["dask_workers_peak_rss_mb"].value.values()),
                "examples_by_worker": sorted(meta["dask_examples_by_worker"].value.values()),
                "workers_lost": meta["dask_workers_lost"].value,
            }
            if "process_peak_rss_mb" in meta:
                out["run"] = {"driver_peak_rss_mb": meta["process_peak_rss_mb"].value}
            if "dask_trials_by_worker" in meta:
                out[step]["trials_by_worker"] = meta["dask_trials_by_worker"].value
    return out


def housing(*args: str) -> list[str]:
    return [sys.executable, "-m", "housing_assets.cli", *args]


def api(home: Path, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "api.json"
        script = str(REPO / "benchmarks" / "api_latency.py")
        command = [sys.executable, script, "--home", str(home), "--seconds", str(seconds)]
        proc = subprocess.run(
            [*command, "--concurrency", "1", "--json", str(out)],
            cwd=REPO,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        if proc.returncode != 0:
            raise SystemExit(f"api latency failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        r = json.loads(out.read_text())
    (single,) = r["single_row"]
    return {
        "p50_ms": single["p50_ms"],
        "p99_ms": single["p99_ms"],
        "requests_per_s": single["requests_per_s"],
        "batch_10k_median_ms": r["batch_10k_median_ms"],
        "server_peak_rss_mb": r["server_peak_rss_mb"],
        "generator": r["generator"],
    }


def measure(
    scale: float,
    stages: list[str],
    api_seconds: float | None,
    policies: Path | None = None,
    dask: str | None = None,
    worker_memory: str | None = None,
) -> dict:
    """`worker_memory`: the Dask stage's worker memory limit. A `local:N` stage tunes on its
    workers too (its study in a database file of its home); a scheduler's only with a shared
    HOUSING_OPTUNA_URL, in prod."""
    rows = rows_at(scale)
    print(f"scale {scale:g}: {rows:,} rows", flush=True)
    record: dict = {"scale": scale, "rows": rows, "stages": {}}
    with tempfile.TemporaryDirectory(prefix=f"housing-scaling-{scale:g}-") as tmp:
        home = Path(tmp) / "staged"
        home.mkdir()
        commands = {
            "ingest": housing("run", "--scale", str(scale), "--no-train"),
            "training": housing("train"),
        }
        twin = Path(tmp) / "staged-dask"
        for name in [s for s in ("ingest", "training") if s in stages]:
            if name == "training" and dask:  # the same months, its own study, MLflow and bundle
                shutil.copytree(home, twin)
            record["stages"][name] = stage(name, commands[name], home, scale, policies)
            print(f"  {name}: {record['stages'][name]}", flush=True)
        if dask and "training" in stages:
            settings = {"HOUSING_DASK": dask}
            if worker_memory:
                settings["HOUSING_DASK_WORKER_MEMORY"] = worker_memory
            run = stage(DASK_STAGE, commands["training"], twin, scale, policies, dask=settings)
            record["stages"][DASK_STAGE] = {
                **run,
                "dask": " ".join(f"{k}={v}" for k, v in settings.items()),
                "cluster": cluster_memory(twin),
            }
            print(f"  {DASK_STAGE}: {record['stages'][DASK_STAGE]}", flush=True)
        trained = record["stages"].get("training", {})
        if "training" in stages and api_seconds and trained.get("published", True):
            record["api"] = api(home, api_seconds)
            print(f"  api: {record['api']}", flush=True)
        if "main" in stages:
            fresh = Path(tmp) / "main"
            fresh.mkdir()
            main = stage("main", housing("run", "--scale", str(scale)), fresh, scale, policies)
            record["stages"]["main"] = main
            print(f"  main: {main}", flush=True)
    return record


# --- report ------------------------------------------------------------------------------------


def per_million(record: dict, name: str) -> float | None:
    s = record["stages"].get(name)
    return None if s is None else s["wall_s"] / (record["rows"] / 1e6)


def _gb(mb: float) -> str:
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def markdown(report: dict) -> str:
    records = report["scales"]
    base = next((r for r in records if r["scale"] == 1.0), None)
    lines = [
        "| scale | rows | stage | wall | peak RSS | s per M rows (vs 1×) | CPU s | load avg before → after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        for name in STAGES:
            s = r["stages"].get(name)
            if s is None:
                continue
            cost = per_million(r, name)
            ref = per_million(base, name) if base else None
            relative = f" ({cost / ref:.2f}×)" if ref else ""
            mape = f", MAPE {s['holdout_mape']:.2f}%" if "holdout_mape" in s else ""
            if s.get("published") is False:
                mape += " (gate held it back)"
            elif s.get("default_gate", {}).get("passed") is False:
                mape += " (the default gate would hold it back)"
            cpu = f"{s['cpu_s']:.0f}" if "cpu_s" in s else "-"
            peak = _gb(s["peak_rss_mb"]) + (f" ({s['peak_note']})" if "peak_note" in s else "")
            lines.append(
                f"| {r['scale']:g} | {r['rows']:,} | {name} | {s['wall_s']:.0f} s{mape} | "
                f"{peak} | {cost:.0f}{relative} | {cpu} | "
                f"{s['load_before']} → {s['load_after']} |"
            )
    if "policies" in report:
        lines += ["", f"Every stage ran with `HOUSING_POLICIES={report['policies']}`. "
                  "The default promotion policy's verdict on each published model:", ""]  # fmt: skip
        for r in records:
            for name in STAGES:
                verdict = r["stages"].get(name, {}).get("default_gate")
                if verdict is not None:
                    said = "promote" if verdict["passed"] else "; ".join(verdict["reasons"])
                    lines.append(f"- scale {r['scale']:g}, {name}: {said}")
    if any(DASK_STAGE in r["stages"] for r in records):
        lines += ["", dask_table(records)]
    lines += ["", "| scale | API single-row p50 / p99 | 10,000-row batch | server peak RSS |"]
    lines.append("|---|---|---|---|")
    for r in records:
        a = r.get("api")
        if a:
            lines.append(
                f"| {r['scale']:g} | {a['p50_ms']} / {a['p99_ms']} ms | "
                f"{a['batch_10k_median_ms']:.0f} ms | {_gb(a['server_peak_rss_mb'])} |"
            )
    return "\n".join(lines) + "\n"


def dask_table(records: list[dict]) -> str:
    """The training stage in process and on the Dask cluster, side by side."""
    lines = [
        "| scale | rows | training | wall | holdout MAPE | peak RSS (the stage: driver and "
        "workers) | driver peak: the refits / the whole run | worker peaks: train + eval refit "
        "/ final refit | workers lost | tuning |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        here, there = r["stages"].get("training"), r["stages"].get(DASK_STAGE)
        if not (here and there):
            continue
        on = there["dask"] if "=" in there["dask"] else f"HOUSING_DASK={there['dask']}"
        for label, s in (("in process", here), (on, there)):
            mape = f"{s['holdout_mape']:.2f}%" if "holdout_mape" in s else "-"
            cluster = s.get("cluster")
            steps = [cluster[step] for step in REFIT_STEPS] if cluster else []
            if cluster:
                refits = _gb(max(step["driver_peak_rss_mb"] for step in steps))
                run = cluster.get("run", {}).get("driver_peak_rss_mb")
                driver = f"{refits} / {_gb(run) if run else '-'}"
                workers = " / ".join(
                    ", ".join(_gb(mb) for mb in step["workers_peak_rss_mb"]) for step in steps
                )
                lost = str(sum(step.get("workers_lost", 0) for step in steps))
                trials = steps[0].get("trials_by_worker")
                tuning = (
                    f"on the workers ({', '.join(str(n) for n in sorted(trials.values()))})"
                    if trials
                    else "in the driver"
                )
            else:
                driver = f"{_gb(s['peak_rss_mb'])} (the process)"
                workers, lost, tuning = "-", "-", "in process"
            lines.append(
                f"| {r['scale']:g} | {r['rows']:,} | {label} | {s['wall_s']:.0f} s | {mape} | "
                f"{_gb(s['peak_rss_mb'])} | {driver} | {workers} | {lost} | {tuning} |"
            )
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = report["scales"]
    fig, (wall, rss) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, color in zip(STAGES, ("#3b6ea8", "#d08c2e", "#4a9a5b"), strict=True):
        points = [(r["rows"] / 1e6, r["stages"][name]) for r in records if name in r["stages"]]
        if not points:
            continue
        x = [p[0] for p in points]
        wall.plot(x, [p[1]["wall_s"] / 60 for p in points], "o-", color=color, label=name)
        rss.plot(x, [p[1]["peak_rss_mb"] / 1024 for p in points], "o-", color=color, label=name)
    wall.axhline(TARGETS["main_wall_s"] / 60, ls="--", color="grey", lw=1)
    wall.text(0.01, TARGETS["main_wall_s"] / 60, " main-job target at 5×", va="bottom",
              fontsize=8, transform=wall.get_yaxis_transform())  # fmt: skip
    rss.axhline(TARGETS["peak_rss_mb"] / 1024, ls="--", color="grey", lw=1)
    rss.text(0.01, TARGETS["peak_rss_mb"] / 1024, " peak RSS target", va="bottom",
             fontsize=8, transform=rss.get_yaxis_transform())  # fmt: skip
    for ax, label in ((wall, "wall time (min)"), (rss, "peak RSS (GB)")):
        ax.set_xlabel("panel rows (millions)")
        ax.set_ylabel(label)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        for r in records:
            ax.annotate(f"{r['scale']:g}×", (r["rows"] / 1e6, 0), fontsize=7, ha="center",
                        xytext=(0, 2), textcoords="offset points")  # fmt: skip
    wall.legend()
    m = report["machine"]
    fig.suptitle(f"Scaling on {host_line(m)} ({m['date']}): each stage a fresh process", size=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="0.25,1,2,5", help="comma-separated synthetic scales")
    parser.add_argument("--stages", default=",".join(STAGES), help="of ingest,training,main")
    parser.add_argument("--api-seconds", type=float, default=10, help="0: no API stage")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--plot", type=Path, help="write the PNG plot here")
    parser.add_argument(
        "--policies", type=Path,
        help="HOUSING_POLICIES for every stage (e.g. benchmarks/cost_only_policies.yaml)",
    )  # fmt: skip
    parser.add_argument(
        "--dask", metavar="HOUSING_DASK",
        help="also train with HOUSING_DASK set to this (local:N or tcp://host:port), side by side",
    )  # fmt: skip
    parser.add_argument(
        "--dask-memory", metavar="SIZE",
        help="HOUSING_DASK_WORKER_MEMORY for the Dask stage (e.g. 1.2GB): each worker's limit",
    )  # fmt: skip
    parser.add_argument(
        "--from", dest="sources", type=Path, nargs="+",
        help="measure nothing: table and plot from these earlier --json results, merged by scale",
    )  # fmt: skip
    args = parser.parse_args()
    stages = args.stages.split(",")
    if unknown := sorted(set(stages) - set(STAGES)):
        parser.error(f"unknown stage(s) {unknown}; known: {', '.join(STAGES)}")
    if args.dask:
        sys.path.insert(0, str(REPO))
        from housing_core.settings import check_dask

        try:
            check_dask(args.dask)
        except ValueError as error:
            parser.error(f"--dask: {error}")
        if "training" not in stages:
            parser.error("--dask compares the training stage: include it in --stages")
    if args.sources:
        report = merged([json.loads(p.read_text()) for p in args.sources])
    else:
        policies = args.policies.resolve() if args.policies else None
        report = {"machine": machine(), "scales": []}
        if policies is not None:
            inside = policies.is_relative_to(REPO)
            report["policies"] = str(policies.relative_to(REPO) if inside else policies)
        for scale in sorted(float(s) for s in args.scales.split(",")):
            report["scales"].append(
                measure(
                    scale,
                    stages,
                    args.api_seconds,
                    policies,
                    args.dask,
                    args.dask_memory,
                )
            )
            if args.json:  # kept as it goes: a run cut short keeps its finished scales
                args.json.write_text(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print("\n" + markdown(report))
    if args.plot:
        plot(report, args.plot)
        print(f"plot: {args.plot}")
    return 0


def machine() -> dict:
    return {
        "cpu": host.cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def host_line(machine: dict) -> str:
    """'AMD EPYC, 2 cores'; records from before the CPU was recorded say so."""
    cpu = machine.get("cpu", "a CPU the record does not name")
    return f"{cpu}, {machine['cores']} cores"


def merged(reports: list[dict]) -> dict:
    """One report from several runs: per scale, each stage (and the API) from the latest run
    that measured it; the machine line of the latest run."""
    by_scale: dict[float, dict] = {}
    for report in reports:
        for r in report["scales"]:
            into = by_scale.setdefault(
                r["scale"], {"scale": r["scale"], "rows": r["rows"], "stages": {}}
            )
            into["stages"].update(r["stages"])
            if "api" in r:
                into["api"] = r["api"]
    merged = {"machine": reports[-1]["machine"], "scales": [by_scale[k] for k in sorted(by_scale)]}
    policies = {r.get("policies") for r in reports}  # None: the default policies
    if len(policies) > 1:
        raise SystemExit(f"--from: these runs used different HOUSING_POLICIES ({policies})")
    if (used := policies.pop()) is not None:
        merged["policies"] = used
    return merged


if __name__ == "__main__":
    sys.exit(main())
