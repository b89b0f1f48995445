"""The production storage config on a real Postgres (Debian's postgresql, a throwaway cluster)."""

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import dagster as dg
import pytest
import yaml

from housing_assets.definitions import build_definitions
from housing_assets.runner import register_months
from housing_core.settings import Settings
from housing_harness.loopback import free_port

REPO = Path(__file__).resolve().parents[2]
BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


@pytest.fixture
def postgres(tmp_path):
    if not BINARIES:
        pytest.skip("no PostgreSQL server here (apt-get install postgresql)")
    bin_dir = Path(BINARIES[-1])
    as_owner: list[str] = []
    # Outside pytest's private tmp dir: the postgres user must be able to reach it.
    data = Path(tempfile.mkdtemp(prefix="housing-pg-"))
    if os.getuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        shutil.chown(data, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*as_owner, str(bin_dir / "initdb"), "-D", str(data), "-U", "housing", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    # -l: the server logs to a file; capturing pg_ctl's output would wait on the pipe the
    # server inherits, forever.
    subprocess.run(
        [*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
         str(data / "server.log"), "-w", "start"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )  # fmt: skip
    try:
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=port, user="housing", dbname="postgres"
        )
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        connection.cursor().execute("CREATE DATABASE dagster")
        connection.close()
        yield port
    finally:
        subprocess.run(
            [*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        shutil.rmtree(data, ignore_errors=True)


def test_runs_and_materializations_persist_in_the_production_storage(
    postgres, tmp_path, monkeypatch
):
    for name, value in {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_USER": "housing",
        "DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
        "DAGSTER_PG_DB": "dagster",
    }.items():
        monkeypatch.setenv(name, value)
    production = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    storage = production["storage"]
    storage["postgres"]["postgres_db"]["port"] = postgres
    home = tmp_path / "instance"
    home.mkdir()
    # The production storage and coordinator; runs execute here instead of in ECS tasks.
    (home / "dagster.yaml").write_text(
        yaml.safe_dump({"storage": storage, "telemetry": {"enabled": False}})
    )
    defs = build_definitions(Settings(home=tmp_path / "housing", scale=0.01))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        register_months(instance, ["2015-01"])
        result = defs.resolve_job_def("ingest").execute_in_process(
            instance=instance, partition_key="2015-01"
        )
        assert result.success
        run_id = result.run_id
    with dg.DagsterInstance.from_config(str(home)) as again:  # a new process would see the same
        assert again.get_run_by_id(run_id).is_success
        assert again.get_materialized_partitions(dg.AssetKey("cleaned_monthly")) == {"2015-01"}
        assert "2015-01" in again.get_dynamic_partitions("month")
