"""The production storage config on a real Postgres (Debian's postgresql, a throwaway cluster)."""

from pathlib import Path

import dagster as dg
import yaml

from housing_assets.definitions import build_definitions
from housing_assets.runner import register_months
from housing_core.settings import Settings

REPO = Path(__file__).resolve().parents[2]


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
    postgres.create_database("dagster")
    storage["postgres"]["postgres_db"]["port"] = postgres.port
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
