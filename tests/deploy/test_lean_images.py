"""Each image target's environment, built with the Dockerfile's own `uv sync` flags, holds only
what the target needs and runs the target's command: the API scores without Dagster, MLflow,
Optuna, great-expectations or Streamlit; the dashboard starts without the pipeline.

No Docker engine here: the environment is what the image's `RUN uv sync` lines install, built
with the same flags from the same lock into a fresh directory (from uv's cache: ~5 s each)."""

import os
import re
import shutil
import subprocess

import httpx
import pytest

from housing_harness.loopback import free_port, http_ok, stop, wait_for
from tests.conftest import REPO
from tests.deploy.test_deploy import dockerfile_commands, with_port
from tests.serving.conftest import records

PIPELINE = ["dagster", "mlflow", "optuna", "great_expectations", "sklearn"]
LEAN = {"api": [*PIPELINE, "streamlit", "altair"], "ui": PIPELINE}


def sync_flags() -> dict[str, list[str]]:
    """target -> the flags of its last `RUN uv sync` (the one that installs the project)."""
    flags, target = {}, None
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if m := re.match(r"FROM \S+ AS (\S+)", line):
            target = m.group(1)
        elif (
            target
            and (m := re.match(r"RUN uv sync (.*)$", line))
            and "--no-install-project" not in m.group(1)  # not the dependencies-only layer
        ):
            flags[target] = m.group(1).split()
    return flags


def build_env(target: str, where) -> dict[str, str]:
    flags = sync_flags()[target]
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env["UV_PROJECT_ENVIRONMENT"] = str(where)
    subprocess.run(
        [shutil.which("uv"), "sync", "--quiet", *flags], cwd=REPO, env=env, check=True, timeout=600
    )
    env["PATH"] = f"{where / 'bin'}{os.pathsep}{env['PATH']}"
    return env


def test_every_image_installs_the_core_plus_its_own_group():
    flags = sync_flags()
    assert flags["api"] == ["--frozen", "--no-default-groups"]
    assert flags["ui"] == ["--frozen", "--no-default-groups", "--group", "ui"]
    assert flags["dagster"] == ["--frozen", "--no-default-groups", "--group", "pipeline"]


@pytest.mark.parametrize("target", ["api", "ui"])
def test_a_lean_image_has_none_of_the_pipeline_and_its_command_serves(target, tiny, tmp_path):
    venv = tmp_path / f"venv-{target}"
    env = build_env(target, venv)
    python = str(venv / "bin" / "python")
    present = subprocess.run(
        [
            python,
            "-c",
            "import importlib.util, sys; "
            "print(','.join(m for m in sys.argv[1:] if importlib.util.find_spec(m)))",
            *LEAN[target],
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert present == "", f"the {target} image would install {present}"

    command = dockerfile_commands()[target]
    command[0] = str(venv / "bin" / command[0])
    port = free_port()
    if target == "api":
        command = with_port(command, "8000", port)
        env["HOUSING_SERVING_STORE"] = str(tiny.publish(tmp_path / "serving"))
        check = http_ok(f"http://127.0.0.1:{port}/v1/ready")
    else:
        command = with_port(command, "8501", port)
        check = http_ok(f"http://127.0.0.1:{port}/_stcore/health")
    env["HOUSING_HOME"] = str(tmp_path / "home")
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_for(
            check,
            what=f"the {target} command in its lean environment",
            timeout=120,
            process=process,
        )
        if target == "api":
            rows = tiny.holdout.head(5)
            body = httpx.post(
                f"http://127.0.0.1:{port}/v1/predict",
                json={"rows": records(rows), "explain": True},
                timeout=30,
            ).json()
            served = [p["prediction"] for p in body["predictions"]]
            assert served == pytest.approx(
                tiny.published_predictor().predict(rows)["prediction"].tolist()
            )
            assert all(len(p["contributions"]) == 8 for p in body["predictions"])
            # The map's zip positions come from a core dependency: the API image has them.
            placed = httpx.get(f"http://127.0.0.1:{port}/v1/explore/map", timeout=30).json()
            assert len(placed["zipcodes"]) == tiny.splits["zipcode"].nunique()
            # /docs loads its Swagger UI files from a core dependency too, not from a CDN.
            page = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=30).text
            script = re.search(r'src="(/docs/assets/[^"]+\.js)"', page)
            assert script, page
            asset = httpx.get(f"http://127.0.0.1:{port}{script.group(1)}", timeout=30)
            assert asset.status_code == 200 and "SwaggerUIBundle" in asset.text
    finally:
        stop(process, timeout=20)
