"""Every benchmark in one run: a JSON result and a markdown table (the docs' Performance table).

    uv run python benchmarks/run_all.py                  # all of it (~25 min on 2 cores)
    uv run python benchmarks/run_all.py --quick          # smaller inputs, shorter loads (~6 min)
    uv run python benchmarks/run_all.py --only api-latency,hot-swap
    uv run python benchmarks/run_all.py --update-docs  # also put the table into docs/performance.md
    uv run python benchmarks/run_all.py --scaling --update-docs   # the scaling curve (> 1 h)

Benchmarks, in order (later ones use the bundle the first one publishes, in a fresh home):
  main-default  `housing run` end to end at the default scale (main_job.py)
  ingest-full   the full-scale panel (884,092 rows) ingested and checked (main_job.py)
  training      full-scale training, ours vs the reference pipeline's way (training.py)
  api-latency   single-row and 10k-row /v1/predict on uvicorn (api_latency.py)
  hot-swap      60 s of mixed load with a model swap halfway (hot_swap.py)
  dashboard     each page and interaction of the Streamlit app (dashboard.py)
  busy-machine  `housing run` quiet and beside a CPU-bound neighbour, 2 threads vs the thread
                budget (busy_machine.py; the sample run is skipped when ../shared is absent)

Not in the suite: loop_latency.py (a landed month through a real daemon and API to a retrained
model: ~10 min, most of it waiting on sensor intervals and run start-ups; run it on its own), and
the scaling curve (scaling.py: ingest, training, main job and API at synthetic scales 0.25, 1, 2
and 5; over an hour), opt-in with --scaling: it writes benchmarks/results/scaling.json|md and
docs/scaling.png, and with --update-docs the scaling table of docs/performance.md. `--scaling --scales 0.25,1`
measures fewer scales; `--scaling --from-results` redraws table and plot from scaling.json (a
record assembled from separate scaling.py runs with its --from).

Each runs as its own process; its wall time and peak memory (the largest process it ran,
from the kernel's rusage) are recorded beside its own figures. A full run's results go to
benchmarks/results/latest.json and latest.md (tracked: docs/performance.md quotes them); a --quick or
--only run's to benchmarks/results/local/ (ignored), so it never overwrites the record. A failing
benchmark is recorded as failed with its output's tail, and the others still run.
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
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import busy_machine  # noqa: E402  (its table's wording, shared)
import host  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
PERFORMANCE_PAGE = REPO / "docs" / "performance.md"
START, END = "<!-- performance:start -->", "<!-- performance:end -->"
SCALING = ("<!-- scaling:start -->", "<!-- scaling:end -->")
SCALING_PLOT = REPO / "docs" / "scaling.png"


def plan(home: Path, quick: bool) -> dict[str, list[str]]:
    """name -> the benchmark's command line (its --json is added when it runs)."""
    scripts = {
        "main-default": ["main_job.py", "--only", "main-default", "--home", str(home)],
        "ingest-full": ["main_job.py", "--only", "ingest-default" if quick else "ingest-full"],
        "training": ["training.py", "--data", "sample" if quick else "full"],
        "api-latency": ["api_latency.py", "--home", str(home), "--seconds", "5" if quick else "15"],
        "hot-swap": ["hot_swap.py", "--home", str(home), "--seconds", "20" if quick else "60"],
        "dashboard": ["dashboard.py", "--home", str(home)],
        "busy-machine": ["busy_machine.py", *(["--quick"] if quick else [])],
    }
    bench = REPO / "benchmarks"
    return {name: [sys.executable, str(bench / s[0]), *s[1:]] for name, s in scripts.items()}


def run(name: str, command: list[str], out: Path) -> dict:
    """Run one benchmark, echoing its output; wall time, peak RSS and its JSON result."""
    print(f"\n=== {name}: {' '.join(Path(c).name if '/' in c else c for c in command)}", flush=True)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*command, "--json", str(out)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        print(f"  [{name}] {line}", end="", flush=True)
        tail = [*tail, line.rstrip()][-40:]
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    record = {
        "benchmark": name,
        "ok": proc.returncode == 0 and out.exists(),
        "wall_s": round(time.perf_counter() - started, 1),
        # ru_maxrss of a waited child covers it and the descendants it waited for: the largest
        # single process the benchmark ran (e.g. `housing run`, or the uvicorn server).
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
    }
    if record["ok"]:
        record["result"] = json.loads(out.read_text())
    else:
        record["exit_code"] = proc.returncode
        record["output_tail"] = tail
        print(f"  [{name}] FAILED (exit {proc.returncode})", flush=True)
    return record


def machine() -> dict:
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpu": host.cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024**2, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "commit": commit or "unknown",
        "load_generator": "wrk" if shutil.which("wrk") else "httpx",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


# --- the table ---------------------------------------------------------------------------------


def _gb(mb: float) -> str:
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def rows(record: dict) -> list[tuple[str, str, str]]:
    """(benchmark, result, peak memory) lines for one benchmark's record."""
    name, r = record["benchmark"], record.get("result")
    if not record["ok"]:
        return [(name, f"**failed** (exit {record.get('exit_code')})", "-")]
    if name in ("main-default", "ingest-full"):
        (case,) = r
        what = {
            "main-default": "`housing run`, default scale: ingest → train → publish",
            "ingest-default": "ingest + checks, default scale",
            "ingest-full": "ingest + checks, full scale (884,092 rows)",
        }[case["case"]]
        mape = f", holdout MAPE {case['holdout_mape']}%" if case["holdout_mape"] != "-" else ""
        return [
            (what, f"{case['wall_s']} s, {case['months']} months{mape}", _gb(case["peak_rss_mb"]))
        ]
    if name == "training":
        out = []
        for m in r:
            label = "ours" if m["method"] == "ours" else "the reference pipeline's way"
            h = m["holdout"]
            out.append((
                f"training on {m['data']} data ({m['train_rows']:,} train rows): {label}",
                f"{m['train_s']} s tuning + fit, holdout MAPE {h['mape']:.2f}%",
                _gb(m["peak_rss_mb"]),
            ))  # fmt: skip
        return out
    if name == "api-latency":
        out = [
            (
                f"API single-row `/v1/predict`, {s['connections']} connection(s)",
                f"{s['requests_per_s']:,.0f} req/s, p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms",
                _gb(r["server_peak_rss_mb"]) + " (server)",
            )
            for s in r["single_row"]
        ]
        out.append((
            "API 10,000-row `/v1/predict`",
            f"median {r['batch_10k_median_ms']:.0f} ms ({r['batch_10k_sizes']})",
            _gb(r["server_peak_rss_mb"]) + " (server)",
        ))  # fmt: skip
        return out
    if name == "hot-swap":
        return [(
            f"API under {r['seconds']:.0f} s of mixed load, model swapped halfway",
            f"{r['failed_requests']} failed of {r['requests']:,} ({r['requests_per_s']:,.0f} req/s); "
            f"p99 {r['p99_ms_before_swap']} ms before, {r['p99_ms_2s_after_swap']} ms in the 2 s "
            f"after the swap; new model answering {r['new_model_first_answer_s_after_swap']} s "
            f"after it was published",
            f"{r['rss_mb_before_swap']:.0f} → {r['rss_mb_end']:.0f} MB (server, before → end)",
        )]  # fmt: skip
    if name == "dashboard":
        pages = [i for i in r["interactions"] if i["interaction"].startswith("open ")]
        rest = [i for i in r["interactions"] if not i["interaction"].startswith("open ")]
        first = pages[0]
        others = pages[1:]
        return [
            (
                "dashboard: open the overview (cold process / warm)",
                f"{first['cold_s']} s / {first['warm_s']} s",
                f"{_gb(r['dashboard_peak_rss_mb'])} (app)",
            ),
            (
                "dashboard: open each other page (cold / warm)",
                f"{min(i['cold_s'] for i in others)}–{max(i['cold_s'] for i in others)} s / "
                f"{min(i['warm_s'] for i in others)}–{max(i['warm_s'] for i in others)} s",
                "",
            ),
            *(
                (f"dashboard: {i['interaction']}", f"{i['cold_s']} s / {i['warm_s']} s", "")
                for i in rest
            ),
        ]
    if name == "busy-machine":
        out = []
        for case in (c for c in r if c["busy"]):
            quiet = next(
                q for q in r
                if not q["busy"] and (q["data"], q["variant"]) == (case["data"], case["variant"])
            )  # fmt: skip
            what = (
                "`housing run --source` the sample" if case["data"] == "sample" else "`housing run`"
            )
            out.append((
                f"{what}, {case['variant']} ({case['threads']} threads): quiet / one CPU-bound neighbour",
                f"{busy_machine.wall(quiet)} (CPU {quiet['cpu_s']} s) / {busy_machine.wall(case)} "
                f"(CPU {case['cpu_s']} s): {busy_machine.slowdown(case)}",
                "-",
            ))  # fmt: skip
        return out
    return [(name, json.dumps(r)[:120], "-")]


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, "
        f"{m['os']}, Python {m['python']} (commit `{m['commit']}`; API load from "
        f"`{m['load_generator']}`). Reproduce: `{report['command']}`.",
        "",
        "| benchmark | result | peak memory |",
        "|---|---|---|",
    ]
    for record in report["benchmarks"]:
        lines += [f"| {a} | {b} | {c} |" for a, b, c in rows(record)]
    return "\n".join(lines) + "\n"


def update_docs(table: str, markers: tuple[str, str] = (START, END)) -> None:
    start, end = markers
    text = PERFORMANCE_PAGE.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"docs/performance.md lacks the {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    PERFORMANCE_PAGE.write_text(f"{head}{start}\n{table}{end}{tail}")


def scaling(scales: str | None, from_results: bool, docs: bool) -> int:
    """The opt-in scaling curve: scaling.py measured (or redrawn from its record), its table in
    results/scaling.md and, with `docs`, in docs/performance.md; its plot in docs/scaling.png."""
    import scaling as curve

    record = RESULTS / "scaling.json"
    command = [sys.executable, str(REPO / "benchmarks" / "scaling.py"), "--plot", str(SCALING_PLOT)]
    # Costs to the publish step at every scale; the default gate's verdict is reported beside them.
    command += ["--policies", str(REPO / "benchmarks" / "cost_only_policies.yaml")]
    if from_results:
        if not record.exists():
            raise SystemExit(f"--from-results: {record} does not exist (run --scaling first)")
        command += ["--from", str(record)]
    else:
        RESULTS.mkdir(parents=True, exist_ok=True)
        command += ["--json", str(record), *(["--scales", scales] if scales else [])]
    if subprocess.run(command, cwd=REPO).returncode != 0:
        return 1
    report = json.loads(record.read_text())
    m = report["machine"]
    table = (
        f"Measured {m['date']} on {curve.host_line(m)}, Python {m['python']}: "
        f"`uv run python benchmarks/run_all.py --scaling`; plot: `docs/scaling.png`.\n\n"
        + curve.markdown(report)
    )
    (RESULTS / "scaling.md").write_text(table)
    print(f"written: {record}, {RESULTS / 'scaling.md'}, {SCALING_PLOT}")
    if docs:
        update_docs(table, SCALING)
        print("docs/performance.md scaling table updated")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, shorter loads")
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--update-docs", action="store_true")
    parser.add_argument("--scaling", action="store_true", help="the scaling curve alone (> 1 h)")
    parser.add_argument("--scales", help="with --scaling: comma-separated scales (0.25,1,2,5)")
    parser.add_argument(
        "--from-results", action="store_true", help="with --scaling: redraw from scaling.json"
    )
    args = parser.parse_args()
    if args.scaling:
        if args.quick or args.only:
            parser.error("--scaling runs alone (no --quick, no --only)")
        return scaling(args.scales, args.from_results, args.update_docs)
    if args.scales or args.from_results:
        parser.error("--scales and --from-results go with --scaling")
    command = "uv run python benchmarks/run_all.py" + (" --quick" if args.quick else "")
    # Only a full run of every benchmark is the record (tracked, quoted in docs/performance.md); a quick or
    # partial run writes beside it, into an ignored folder, and never touches the docs.
    partial = args.quick or bool(args.only)
    if partial and args.update_docs:
        parser.error("--update-docs needs a full run (no --quick, no --only)")
    results = RESULTS / "local" if partial else RESULTS
    results.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="housing-benchmarks-") as tmp:
        home = Path(tmp) / "home"
        steps = plan(home, args.quick)
        wanted = args.only.split(",") if args.only else list(steps)
        unknown = sorted(set(wanted) - set(steps))
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; known: {', '.join(steps)}")
        if set(wanted) & {"api-latency", "hot-swap", "dashboard"} and "main-default" not in wanted:
            wanted = ["main-default", *wanted]  # they serve the bundle it publishes
        report = {"command": command, "machine": machine(), "benchmarks": []}
        for name in [n for n in steps if n in wanted]:
            report["benchmarks"].append(run(name, steps[name], Path(tmp) / f"{name}.json"))
            (results / "latest.json").write_text(json.dumps(report, indent=1))  # kept as it goes
    table = markdown(report)
    (results / "latest.md").write_text(table)
    print("\n" + table)
    print(f"written: {results / 'latest.json'}, {results / 'latest.md'}")
    if args.update_docs:
        update_docs(table)
        print("docs/performance.md Performance table updated")
    return 0 if all(r["ok"] for r in report["benchmarks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
