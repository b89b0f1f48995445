"""The instance's event log (housing_assets/instance.py, `EventLogStorage`) keeps exactly what
Dagster's own SQLite event log keeps, writes a batch all or nothing, and still wakes the
webserver's live view of a run."""

import sqlite3
import threading
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from housing_assets.defs.ingestion.checks import _result
from housing_assets.instance import EventLogStorage
from housing_core.expectations import Finding, Outcome

REPO = Path(__file__).resolve().parents[1]
MONTHS = ["2020-01", "2020-02", "2020-03"]
months = dg.StaticPartitionsDefinition(MONTHS)


@dg.asset(partitions_def=months, backfill_policy=dg.BackfillPolicy.single_run())
def monthly(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    for month in context.partition_keys:
        context.add_asset_metadata({"month": month}, partition_key=month)
    return dg.MaterializeResult()


@dg.asset_check(asset=monthly, partitions_def=months)
def per_month(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """A range run's per-month verdicts, logged as the ingestion checks log theirs."""
    outcome = Outcome(
        "per_month",
        list(context.partition_keys),
        [Finding("judged", "WARN", {"2020-02": 1}, ["2020-02 judged"])],
        1,
    )
    return _result(context, outcome, dg.AssetCheckSeverity.WARN)


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """The project's instance (the root dagster.yaml), under a temporary home."""
    monkeypatch.setenv("HOUSING_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(REPO))
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    with dg.DagsterInstance.get() as instance:
        yield instance


def _range_run(instance: dg.DagsterInstance) -> str:
    job = dg.Definitions(
        assets=[monthly], asset_checks=[per_month]
    ).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance,
        tags={"dagster/asset_partition_range_start": MONTHS[0],
              "dagster/asset_partition_range_end": MONTHS[-1]},
    )  # fmt: skip
    assert result.success
    return result.run_id


def _tables(directory: Path, run_id: str) -> dict[str, list[tuple]]:
    """Every row the event log keeps for the run, without storage ids and insert times."""
    run = sqlite3.connect(directory / f"{run_id}.db")
    index = sqlite3.connect(directory / "index.db")
    query = {
        "run events": (run, "SELECT event, dagster_event_type, asset_key, partition, step_key "
                            "FROM event_logs ORDER BY id"),
        "index events": (index, "SELECT run_id, event, dagster_event_type, asset_key, partition "
                                "FROM event_logs ORDER BY id"),
        "check executions": (index, "SELECT asset_key, check_name, partition, run_id, "
                                    "execution_status, evaluation_event FROM "
                                    "asset_check_executions ORDER BY id"),
        "asset keys": (index, "SELECT asset_key FROM asset_keys ORDER BY asset_key"),
        "event tags": (index, "SELECT asset_key, key, value FROM asset_event_tags "
                              "ORDER BY event_id, key"),
    }  # fmt: skip
    return {name: conn.execute(sql).fetchall() for name, (conn, sql) in query.items()}


def test_it_keeps_what_dagsters_event_log_keeps(instance, tmp_path):
    storage = instance.event_log_storage
    assert isinstance(storage, EventLogStorage)
    run_id = _range_run(instance)

    # The same events, stored one by one by Dagster's own SQLite event log.
    records = instance.get_records_for_run(run_id, limit=10_000).records
    theirs = tmp_path / "dagster-own"
    stock = SqliteEventLogStorage(str(theirs))
    stock.register_instance(instance)
    for record in records:
        stock.store_event(record.event_log_entry)

    ours = _tables(Path(storage._base_dir), run_id)
    assert ours == _tables(theirs, run_id)
    statuses = {row[2]: row[4] for row in ours["check executions"] if row[2] is not None}
    assert statuses == {"2020-01": "SUCCEEDED", "2020-02": "FAILED", "2020-03": "SUCCEEDED"}
    assert len([r for r in ours["index events"] if r[2] == "ASSET_MATERIALIZATION"]) == 3


def test_a_range_runs_materializations_are_stored_as_one_batch(instance, monkeypatch):
    batches = []
    store_batch = EventLogStorage.store_event_batch

    def spy(self, events):
        batches.append([e.dagster_event_type.value for e in events])
        return store_batch(self, events)

    monkeypatch.setattr(EventLogStorage, "store_event_batch", spy)
    _range_run(instance)
    assert ["ASSET_MATERIALIZATION"] * 3 in batches
    assert instance.get_materialized_partitions(monthly.key) == set(MONTHS)


def test_a_batch_is_written_whole_or_not_at_all(instance, monkeypatch):
    run_id = _range_run(instance)
    storage = instance.event_log_storage
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    again = [r.event_log_entry._replace(run_id="replayed") for r in records]

    real = SqliteEventLogStorage._store_asset_event
    calls = []

    def fail_on_the_third(self, conn, event, event_id):
        calls.append(event)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(self, conn, event, event_id)

    monkeypatch.setattr(SqliteEventLogStorage, "_store_asset_event", fail_on_the_third)
    with pytest.raises(OSError, match="disk full"):
        storage.store_event_batch(again)
    assert instance.get_records_for_run("replayed").records == []  # not the first two either
    index = sqlite3.connect(Path(storage._base_dir) / "index.db")
    assert index.execute(
        "SELECT count(*) FROM event_logs WHERE run_id = 'replayed'"
    ).fetchone() == (0,)

    monkeypatch.setattr(SqliteEventLogStorage, "_store_asset_event", real)
    storage.store_event_batch(again)  # what Dagster does next: the batch again, stored
    assert len(instance.get_records_for_run("replayed").records) == 3


def test_a_run_being_watched_sees_each_new_event(instance):
    """The webserver tails a running run by watching its file change (Dagster's watchdog on the
    run's .db): each stored event must reach the file, not wait in a held connection."""
    run_id = _range_run(instance)
    storage = instance.event_log_storage
    last = instance.get_records_for_run(run_id, limit=10_000).cursor
    seen, arrived = [], threading.Event()

    def callback(entry, cursor):
        seen.append(entry)
        arrived.set()

    storage.watch(run_id, last, callback)
    try:
        instance.report_engine_event("one more", instance.get_run_by_id(run_id))
        assert arrived.wait(10), "the watcher never saw the new event"
        assert [e.message for e in seen] == ["one more"]
    finally:
        storage.end_watch(run_id, callback)


def test_the_batch_size_is_set_unless_the_environment_sets_it(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("HOUSING_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(REPO))
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "7")
    with dg.DagsterInstance.get():
        assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == "7"
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE")
    with dg.DagsterInstance.get():
        assert int(os.environ["DAGSTER_EVENT_BATCH_SIZE"]) > 0
