"""Every command the README and the docs show is run as written, or is listed here with why it
cannot be.

The pages are parsed (tests/docs/readme.py): each ```bash block's commands and the commands
written inline (`uv run …`, `curl …`). Each must match one rule of HOW; a command that matches
none fails `test_every_readme_command_is_classified` (fast tier), so a command added to the README
is either run by `test_the_readme_commands_work_as_written` (slow tier) or listed with a reason.

They run as a user runs them, from the root of a checkout (a directory of links to this one, so
`.housing/`, `.housing-demo/` and `rows.csv` land in a temporary directory), through `uv run`
with this environment (no sync). The only changes to the text, each for time or a shared machine:
a synthetic panel at 1% scale (`--scale 0.01` added to `housing run` on the synthetic source,
`--scale 0.05` read as 0.01) with 2 tuning trials unless the command says how many; servers on a
free port (`--port N` added; `localhost:8000` read as the API's port)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from housing_harness.loopback import free_port, http_ok, wait_for
from tests.docs.readme import Command, all_commands, block_commands, inline_commands

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Rule:
    kind: str  # run | server | env | ci | elsewhere | not-here
    why: str = ""  # for elsewhere (the test file that runs it) and not-here
    health: str = ""  # for a server: the path that answers 200 once it is up
    marker: str = ""  # for elsewhere, when not `uv run` words: what that test file must contain


SERVERS = {
    "serve": "/v1/ready",
    "ui": "/_stcore/health",
    "mlflow": "/health",
    "dev": "/server_info",
}
AWS = "needs an AWS account, a VPC, a database and a certificate; the template is linted by tests/deploy"
HOW: list[tuple[str, Rule]] = [  # first match wins
    (r"export HOUSING_\w+=\S+( HOUSING_\w+=\S+)*", Rule("env")),
    (r"uv run housing (serve|ui|mlflow|dev)( &)?", Rule("server")),
    (r"uv run housing (run|generate|export-rows)( .*)?", Rule("run")),
    (r"uv run dg launch .*", Rule("run")),
    (r"uv run python -c .*", Rule("run")),
    (r"uv run python -m housing_core\.task_sizes", Rule("run")),
    (r"MLFLOW_TRACKING_URI=\S+ uv run mlflow models serve .*--env-manager local.*", Rule("elsewhere",
        "tests/integration/test_mlflow_serve.py", marker='"mlflow", "models", "serve"')),
    (r"curl .*localhost:5001/invocations .*dataframe_records.*", Rule("elsewhere",
        "tests/integration/test_mlflow_serve.py", marker='/invocations", json={"dataframe_records"')),
    (r"curl .*", Rule("run")),
    (r"uv run pytest( -m slow -n auto)?", Rule("ci", "the test suite itself: .ci/run runs both tiers")),
    (r"uv sync --frozen --compile-bytecode", Rule("ci", "CI's install: .ci/run runs it")),
    (r"uv run dg check defs", Rule("elsewhere", "tests/integration/test_dagster_cli.py")),
    (r"uv run dagster definitions validate", Rule("elsewhere", "tests/integration/test_dagster_cli.py")),
    (r"uv run (dg|dagster) dev", Rule("not-here", "the webserver and daemon `housing dev` starts "
        "here (it execs `dg dev`); loading the code location from the root is test_dagster_cli.py")),
    (r"uv run mkdocs serve", Rule("elsewhere", "tests/docs/test_site.py", marker='"mkdocs", "build"')),
    (r"uv run python benchmarks/run_all\.py( --update-docs)?", Rule("not-here", "the benchmark suite: ~25 min")),
    (r"uv run python benchmarks/run_all\.py --scaling( --update-docs)?", Rule("not-here",
        "the scaling curve: four scales up to 4.4 M rows, over an hour")),
    (r"uv run python benchmarks/calibrate_synthetic\.py .*", Rule("not-here",
        "full-scale panel and real data from ../shared against the synthetic one: minutes")),
    (r"uv run python benchmarks/real_data\.py", Rule("not-here", "trains on the real files in ../shared: minutes")),
    (r"uv run python benchmarks/forecast_scale\.py", Rule("not-here",
        "the forecaster on the full-scale synthetic panel: ~1 min, 2.3 GB")),
    (r"uv run python benchmarks/forecast_serving\.py", Rule("not-here", "builds and loads "
        "publications of up to 30,000 zips: ~15 s; tests/serving/test_forecast_api.py has the lookups")),
    (r"uv run python benchmarks/forecast_protocol\.py", Rule("elsewhere",
        "tests/core/test_forecast_protocol.py", marker='"benchmarks/forecast_protocol.py"')),
    (r"uv run python benchmarks/refit_value\.py( \[--seed N\])?", Rule("not-here",
        "ten retrains on the real DC panel in ../shared: ~4 min")),
    (r"uv run python benchmarks/hostile_requests\.py", Rule("not-here", "a load benchmark: minutes")),
    (r"uv run python benchmarks/live_loop\.py --source \S+ --history-until \S+", Rule("not-here",
        "a daemon, the API and 24 landed months: ~10 min, and the DC file lives in ../shared")),
    (r"uv run python benchmarks/drift_calibration\.py", Rule("not-here", "replays the real DC "
        "panel and a synthetic one: ~15 s, and the DC file lives in ../shared")),
    (r"uv run python benchmarks/drift_statistics\.py", Rule("not-here", "generates three synthetic "
        "panels and reads the real DC panel in ../shared: ~1 min; tests/core/test_drift.py has "
        "the cases")),
    (r"uv run python benchmarks/loop_latency\.py( --quick)?", Rule("not-here", "a real daemon, "
        "API and sensor-started retraining on a temporary home: ~5 min quick, ~10 min default")),
    (r"HOUSING_HOME=\$\(mktemp -d\) HOUSING_POLICIES=benchmarks/cost_only_policies\.yaml uv run python "
     r"benchmarks/memory_trace\.py -- uv run housing run --scale 5", Rule("not-here",
        "the main job at 5x scale: 4.4 M rows, ~13 min and ~11 GB")),
    (r"uv run python docs/screenshots\.py", Rule("not-here", "Chromium over every dashboard page; "
        "the browser test (tests/ui/test_browser.py) drives the same pages")),
    (r"HOUSING_DASK=local:2 uv run housing train", Rule("not-here", "ingested months and a "
        "2-worker cluster: minutes; tests/core/test_dask_cluster.py refits through the same resource")),
    (r"HOUSING_DASK=tcp://\S+ uv run housing run", Rule("not-here", "needs a running Dask scheduler")),
    (r"uv run python benchmarks/scaling\.py .*--dask \S+( --dask-memory \S+)?", Rule("not-here",
        "in-process against Dask training, side by side: ~25 min up to 2x")),
    (r"P=.*", Rule("not-here", AWS)),
    (r"aws .*", Rule("not-here", AWS)),
    (r"for t in api ui dagster; do docker build .*", Rule("not-here", "needs a Docker engine and "
        "ECR; tests/deploy/test_lean_images.py builds each image's environment and runs its command")),
    (r"bash deploy/compose/make-env\.sh && docker compose up --build", Rule("not-here",
        "needs a Docker engine; tests/deploy lints the compose file and runs make-env.sh")),
    (r"python3 deploy/compose/pin_images\.py .*", Rule("not-here", "asks image registries for "
        "digests, and none answers here")),
]  # fmt: skip


def classify(command: Command) -> Rule | None:
    text = command.foreground_text if command.background else command.text
    for pattern, rule in HOW:
        if re.fullmatch(pattern, text, flags=re.S):
            return rule
    return None


def readme_commands() -> list[Command]:
    # An inline command that a block also shows is run there (`uv run housing dev` in the demo).
    return all_commands()


def test_every_readme_command_is_classified():
    commands = readme_commands()
    assert len(commands) > 30, "the README parser lost the commands"
    unknown = [f"{c.where}: {c.text[:120]}" for c in commands if classify(c) is None]
    assert not unknown, "add each to tests/docs/test_readme.py HOW (run it, or say why not):\n" + (
        "\n".join(unknown)
    )
    used = {p for p, _ in HOW for c in commands if re.fullmatch(p, c.foreground_text, flags=re.S)}
    assert [p for p, _ in HOW if p not in used] == [], "a rule no README command needs any more"


def test_what_is_run_elsewhere_is_run_there():
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    for command in readme_commands():
        rule = classify(command)
        if rule and rule.kind == "ci":
            assert command.text in ci, f"{command.text} is not a line of .ci/run"
        elif rule and rule.kind == "elsewhere" and rule.marker:
            assert rule.marker in (REPO / rule.why).read_text(), command
        elif rule and rule.kind == "elsewhere":
            words = command.text.removeprefix("uv run ").split()
            assert ", ".join(f'"{w}"' for w in words) in (REPO / rule.why).read_text(), command


def test_the_readme_parser_keeps_a_command_whole():
    text = '```bash\nP="a \\\n  b"   # c\ncurl -d \'{\n  "x": 1 # not a comment\n}\'\nfor t in a b; do   # loop\n  echo $t\ndone\nrun &  # bg\n```\nsay `uv run\nhousing ui` and `uv run housing ui`\n'
    got = block_commands(text)
    assert [c.text for c in got] == [
        'P="a\n  b"',
        "curl -d '{\n  \"x\": 1 # not a comment\n}'",
        "for t in a b; do echo $t; done",
        "run &",
    ]
    assert got[-1].background and got[-1].foreground_text == "run"
    assert [c.text for c in inline_commands(text)] == ["uv run housing ui"]


# --- running them --------------------------------------------------------------------------


def checkout(where: Path) -> Path:
    """A directory that looks like the repository's root: links to its files."""
    where.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in {".housing", ".housing-demo", ".venv", ".git", "rows.csv"}:
            (where / entry.name).symlink_to(entry)
    return where


class Shell:
    """The README's commands from the checkout's root, with `uv run` on this environment."""

    def __init__(self, root: Path):
        self.root = root
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("HOUSING_", "DAGSTER_"))
        }
        self.env |= {"UV_PROJECT_ENVIRONMENT": sys.prefix, "UV_NO_SYNC": "1", "UV_FROZEN": "1"}
        self.env.pop("VIRTUAL_ENV", None)
        self.servers: dict[str, tuple[subprocess.Popen, str]] = {}
        self.api = ""

    def adapt(self, text: str) -> str:
        text = text.replace("--scale 0.05", "--scale 0.01")
        if text.startswith("uv run housing run"):
            if "--scale" not in text and "HOUSING_SOURCE" not in self.env:
                text += " --scale 0.01"
            if "--trials" not in text:
                text += " --trials 2"
        if text.startswith("curl"):
            assert self.api, "a curl before `housing serve`"
            text = re.sub(r"localhost:8000", self.api.removeprefix("http://"), text)
        return text

    def run(self, command: Command) -> str:
        text = self.adapt(command.text)
        if text.startswith("export "):
            for pair in text.removeprefix("export ").split():
                name, value = pair.split("=", 1)
                self.env[name] = value
            return ""
        started = time.monotonic()
        done = subprocess.run(
            ["bash", "-c", f"set -eo pipefail\n{text}"],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        said = done.stdout + done.stderr
        where = f"{command.where}: {text[:200]}\n{said[-3000:]}"
        assert done.returncode == 0, where
        if text.startswith("curl"):  # curl -s exits 0 on a 4xx: the body says it
            assert done.stdout.strip() and '"detail"' not in done.stdout, where
        print(f"{time.monotonic() - started:6.1f}s  {text[:100]}")
        return done.stdout

    def start(self, command: Command) -> None:
        """A server command in the background on a free port; `wait` for it to answer."""
        name = command.foreground_text.split()[3]
        port = free_port()
        text = f"{command.foreground_text} --port {port}"
        with open(self.root / f"{name}-{port}.log", "w") as log:  # the child keeps its copy
            process = subprocess.Popen(
                ["bash", "-c", f"exec {text}"],
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped whole, children too
            )
        url = f"http://127.0.0.1:{port}"
        self.servers[f"{name}@{self.env.get('HOUSING_HOME', '.housing')}"] = (process, url)
        if name == "serve":
            self.api = url
            self.env["HOUSING_UI_API_URL"] = url  # `housing ui` talks to this API
        self.pending = [*getattr(self, "pending", []), (process, url + SERVERS[name], text)]

    def wait(self) -> None:
        for process, url, text in getattr(self, "pending", []):
            started = time.monotonic()
            wait_for(http_ok(url), what=text, timeout=240, process=process)
            print(f"{time.monotonic() - started:6.1f}s  {text} answers {url}")
        self.pending = []

    def stop(self) -> None:
        """Each server's process group (uv, the server and its children): SIGTERM, then KILL."""
        for process, _ in self.servers.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self.servers = {}


@pytest.mark.slow
def test_the_readme_commands_work_as_written(tmp_path):
    assert shutil.which("uv"), "uv runs every README command"
    commands = readme_commands()
    rules = {c: classify(c) for c in commands}
    runnable = [c for c in commands if rules[c] and rules[c].kind in ("run", "server", "env")]
    # A block that exports its own HOUSING_HOME (the demo) is a session of its own; everything
    # else runs after the quick start, on its home, with `housing serve` up for the curls.
    own_home = {c.session for c in runnable if rules[c].kind == "env" and "HOUSING_HOME=" in c.text}
    main = Shell(checkout(tmp_path / "checkout"))
    demo = Shell(main.root)
    ran: list[Command] = []
    try:
        first, *rest = [c for c in runnable if c.session not in own_home]
        assert first.text == "uv run housing run", "the quick start comes first"
        main.run(first)
        ran.append(first)
        servers = [c for c in rest if rules[c].kind == "server"]
        if not any(c.foreground_text == "uv run housing serve" for c in servers):
            # The API section's curls need `housing serve`, which the demo block shows too.
            servers += [c for c in runnable if c.foreground_text == "uv run housing serve"][:1]
        for command in servers:
            main.start(command)
            ran.append(command)
        main.wait()
        for command in [c for c in rest if rules[c].kind != "server"]:
            main.run(command)
            ran.append(command)
        assert (main.root / "rows.csv").exists()
        assert (main.root / ".housing" / "data" / "batch_predictions" / "2022-01.parquet").exists()
        model = json.loads(main.run(Command("curl -s localhost:8000/v1/model", 0, None)))
        assert model["vintage"] == "2022-01"
        main.stop()

        for command in [c for c in runnable if c.session in own_home]:
            if rules[command].kind == "server":
                assert command.background, command
                demo.start(command)
            else:
                demo.run(command)
            ran.append(command)
        demo.wait()
        landing = main.root / demo.env["HOUSING_SOURCE"]
        assert (landing / "2022-01.parquet").exists(), sorted(landing.iterdir())[-3:]
    finally:
        main.stop()
        demo.stop()
    assert set(ran) == set(runnable)
