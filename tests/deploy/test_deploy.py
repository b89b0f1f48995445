"""Deployment files: linted, the Dagster instance configs valid, and every image's exact entry
command started from the installed project until it answers its health check (no Docker here)."""

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from housing_harness.loopback import free_port, http_ok, stop, wait_for

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "command",
    [
        ("hadolint", "Dockerfile"),
        ("cfn-lint", "deploy/cloudformation.yaml"),
        (
            "check-jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            ".github/workflows/deploy.yml",
        ),
        ("check-jsonschema", "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"),
        # Actions pinned by commit, least-privilege permissions, no credentials left in .git, no
        # ${{ }} spliced into scripts. Offline: the audits that ask GitHub's API are left out.
        ("zizmor", "--offline", ".github/workflows/"),
    ],
    ids=["hadolint", "cfn-lint", "workflow-schema", "compose-schema", "zizmor"],
)
def test_deployment_files_pass_their_linters(command):
    result = run(str(BIN / command[0]), *command[1:])
    assert result.returncode == 0, result.stdout + result.stderr


INSTANCE_ENV = {
    "DAGSTER_PG_HOST": "db",
    "DAGSTER_PG_USER": "housing",
    "DAGSTER_PG_PASSWORD": "secret",
    "DAGSTER_PG_DB": "dagster",
    "HOUSING_BUCKET": "housing",
    "AWS_ENDPOINT_URL_S3": "http://minio:9000",
}


@pytest.mark.parametrize("folder", [".", "deploy", "deploy/compose"])
def test_instance_configs_are_valid(folder, monkeypatch):
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config

    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)
    config, _ = dagster_instance_config(str(REPO / folder))
    assert ("custom" if folder == "." else "postgres") in config["storage"]
    specs = [config["storage"]["custom"]] if folder == "." else []
    for section in ("compute_logs", "local_artifact_storage", "run_coordinator", "run_launcher"):
        if section in config:
            specs.append(config[section])
    for spec in specs:
        cls = getattr(importlib.import_module(spec["module"]), spec["class"])
        result = process_config(cls.config_type(), spec.get("config") or {})
        assert result.success, (spec["class"], [e.message for e in result.errors])
    if folder == "deploy":
        assert config["run_launcher"]["class"] == "EcsRunLauncher"
    # A killed run is failed and the queue moves on (tests/integration/test_dagster_dev.py).
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_monitoring"]["max_runtime_seconds"] > 0
    # Runs writing monthly data queue behind each other (tests/integration/test_dagster_dev.py).
    assert config["concurrency"]["pools"] == {"granularity": "run", "default_limit": 1}


def dockerfile_commands() -> dict[str, list[str]]:
    """target -> its CMD, exactly as written in the Dockerfile."""
    commands, target = {}, None
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if m := re.match(r"FROM \S+ AS (\S+)", line):
            target = m.group(1)
        elif line.startswith("CMD ") and target:
            commands[target] = json.loads(line[4:])
    return commands


def with_port(command: list[str], old: str, new: int) -> list[str]:
    assert old in command, command
    return [
        str(new) if part == old else ("127.0.0.1" if part == "0.0.0.0" else part)
        for part in command
    ]


def test_every_image_target_has_a_command():
    assert set(dockerfile_commands()) == {"api", "ui", "dagster"}


def test_the_api_image_runs_the_apis_one_entry_command():
    from housing_serving.protocol import uvicorn_command

    assert dockerfile_commands()["api"] == uvicorn_command("0.0.0.0", 8000)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["api", "ui", "dagster"])
def test_each_image_command_starts_and_answers_its_health_check(target, tiny, tmp_path):
    command = dockerfile_commands()[target]
    command[0] = str(BIN / command[0]) if (BIN / command[0]).exists() else shutil.which(command[0])
    port = free_port()
    env = {**os.environ, "HOUSING_HOME": str(tmp_path)}
    if target == "api":
        command = with_port(command, "8000", port)
        env["HOUSING_SERVING_STORE"] = str(tiny.publish(tmp_path / "serving"))
        check = http_ok(f"http://127.0.0.1:{port}/v1/health")
    elif target == "ui":
        command = with_port(command, "8501", port)
        check = http_ok(f"http://127.0.0.1:{port}/_stcore/health")
    else:  # the code location, with the image's HOUSING_ENV=prod and its locations
        command = with_port(command, "4000", port)
        env.update(
            HOUSING_ENV="prod",
            HOUSING_DATA_URI="s3://housing/data",
            HOUSING_SERVING_URI="s3://housing/serving",
            MLFLOW_TRACKING_URI="http://127.0.0.1:9",
            HOUSING_OPTUNA_URL=f"sqlite:///{tmp_path}/optuna.db",
        )

        def check() -> bool:
            probe = subprocess.run(
                [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port)],
                capture_output=True,
                timeout=30,
            )
            return probe.returncode == 0

    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        # Generous: the Dagster code server took over 90 s to answer on a loaded 2-core machine.
        wait_for(check, what=f"the {target} image command", timeout=240, process=process)
    finally:
        stop(process, timeout=20)


def test_compose_and_cloudformation_agree_on_the_public_ports():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    # Published on loopback only (tests/deploy/test_secure_defaults.py checks every port).
    assert "127.0.0.1:8000:8000" in compose["services"]["api"]["ports"]
    assert "127.0.0.1:8501:8501" in compose["services"]["ui"]["ports"]
    template = (REPO / "deploy/cloudformation.yaml").read_text()
    assert "Port: 8000" in template and "Port: 8501" in template
