"""Where the local Dagster instance keeps runs, event logs and compute logs: <HOUSING_HOME>/dagster.

dagster.yaml cannot give a location a default: `base_dir: {env: VAR}` fails whenever VAR is unset,
which made Dagster's own CLI (`dagster dev`, `dagster definitions validate`, `dg dev`, `dg check
defs`) unusable without a project-only variable. These are Dagster's SQLite storage, local artifact
storage and compute-log manager with `base_dir` optional: left out, it is the settings' Dagster
home (HOUSING_HOME's `dagster/`, default `.housing/dagster`; settings.py). So every command that
reads the root dagster.yaml -- `housing run`, `housing dev`, `dg dev`, `dagster dev` -- uses one
instance, under the home the environment names.

Each process resolves the directory itself (the webserver, the daemon and run workers rebuild the
instance from its class and config), from the same environment.

The event log is Dagster's SQLite one writing in fewer transactions (`EventLogStorage`): a first
ingest stores a check evaluation per month and check, and written one commit at a time they cost
more than the ingest itself (docs/decisions/overrides.md).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
from dagster._core.storage.root import LocalArtifactStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from sqlalchemy.pool import NullPool

from housing_core.settings import Settings

# The upstream release the subclasses below were verified on (tests/test_overrides.py;
# docs/decisions/overrides.md says what each buys and how to re-verify it).
UPSTREAM_VERSION = ("dagster", "1.13.27")

_BASE_DIR = dg.Field(
    dg.StringSource,
    is_required=False,
    description="Default: <HOUSING_HOME>/dagster (housing_core/settings.py).",
)


def storage_dir(config: dict[str, Any]) -> str:
    """The configured `base_dir`, else the Dagster home of the environment's settings."""
    return config.get("base_dir") or str(Settings.from_env().dagster_home)


# Dagster groups the events of a range run's materializations (and of a run's planned
# materializations) into batches only when this is set; the event log below writes a batch in one
# transaction per file. An explicit setting in the environment wins.
EVENT_BATCH_SIZE = "500"


class EventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, one transaction per file for each event or batch of events.

    Dagster's own builds an SQLAlchemy engine for every connection and opens a connection, with
    its own transaction, for every statement group: an asset check's evaluation takes three (its
    run's file, then twice the index), a materialization two, and each costs a commit and the WAL
    checkpoint of a closing connection: on a first ingest, with a check evaluation per month, the
    event log cost more than the data work (benchmarks record it).

    Here each file's engine is built once (the last `ENGINES` files kept), and everything one
    `store_event` -- or one `store_event_batch` -- writes to a file goes through one connection,
    committed when the event (batch) is stored, the run's file first: the same rows, atomically
    per file. Connections still close after each write (nothing stays open: the webserver sees a
    run's file change, as it watches for, and a wiped instance leaves no stale handle).
    """

    ENGINES = 32

    def __init__(self, base_dir: str, inst_data: Any = None):
        self._engines: OrderedDict[str, sa.Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._tables: set[str] = set()  # index tables known to exist (tables are never dropped)
        self._held = threading.local()  # this thread's open {shard: (connection, transaction)}
        super().__init__(base_dir, inst_data=inst_data)

    def _engine(self, shard: str) -> sa.Engine:
        with self._engines_lock:
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = sa.create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=NullPool,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                )
            self._engines[shard] = engine
            while len(self._engines) > self.ENGINES:
                self._engines.popitem(last=False)[1].dispose()
            return engine

    def _ready(self, shard: str) -> sa.Engine:
        """The file's engine, its tables created the first time this storage uses it."""
        engine = self._engine(shard)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        return engine

    def has_table(self, table_name: str) -> bool:
        # Dagster asks before every check evaluation it stores (`supports_asset_checks`), each
        # time through a new engine.
        if table_name not in self._tables:
            engine = self._engine(INDEX_SHARD_NAME)
            with engine.connect() as conn:
                if engine.dialect.has_table(conn, table_name):
                    self._tables.add(table_name)
        return table_name in self._tables

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        held = getattr(self._held, "files", None)
        if held is not None:  # inside one event's (batch's) writes: its connection to the file
            if shard not in held:
                conn = self._ready(shard).connect()
                held[shard] = (conn, conn.begin())
            yield held[shard][0]
            return
        with self._db_lock, self._ready(shard).connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _one_transaction_per_file(self) -> Iterator[None]:
        if getattr(self._held, "files", None) is not None:
            yield
            return
        with self._db_lock:
            held: dict[str, tuple[sa.Connection, sa.RootTransaction]] = {}
            self._held.files = held
            try:
                yield
            except BaseException:
                for _, transaction in held.values():
                    transaction.rollback()
                raise
            else:
                for _, transaction in held.values():  # in the order opened: the run's file first
                    transaction.commit()
            finally:
                self._held.files = None
                for conn, _ in held.values():
                    conn.close()

    def store_event(self, event: EventLogEntry) -> None:
        with self._one_transaction_per_file():
            super().store_event(event)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        with self._one_transaction_per_file():
            for event in events:
                super().store_event(event)

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._dispose_engines()
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


class HomeSqliteStorage(DagsterSqliteStorage):
    """Runs, event logs and schedules in SQLite under `base_dir` (default: the home's); the event
    log is `EventLogStorage` (the same files and tables, written in fewer transactions)."""

    def __init__(self, base_dir: str, inst_data: Any = None):
        super().__init__(base_dir, inst_data=inst_data)
        self._event_log_storage = EventLogStorage(self._event_log_storage._base_dir)
        os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)

    @classmethod
    def config_type(cls):
        return {"base_dir": _BASE_DIR}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls.from_local(storage_dir(config_value), inst_data=inst_data)


class HomeArtifactStorage(LocalArtifactStorage):
    """Files written by runs under `base_dir` (default: the home's)."""

    @classmethod
    def config_type(cls):
        return {"base_dir": _BASE_DIR}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(storage_dir(config_value), inst_data=inst_data)


class HomeComputeLogManager(LocalComputeLogManager):
    """Each step's stdout/stderr under `base_dir` (default: the home's)."""

    @classmethod
    def config_type(cls):
        return {**super().config_type(), "base_dir": _BASE_DIR}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **{**config_value, "base_dir": storage_dir(config_value)})
