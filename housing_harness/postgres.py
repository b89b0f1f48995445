"""A throwaway PostgreSQL server on loopback (Debian's postgresql binaries), for the tests that
need the production database: Dagster's storage, a shared Optuna study."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from housing_harness.loopback import HOST, free_port

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
USER = "housing"


@dataclass(frozen=True)
class Postgres:
    port: int

    def create_database(self, name: str) -> str:
        """A new database; its SQLAlchemy URL (trust authentication: no password)."""
        import psycopg2

        connection = psycopg2.connect(host=HOST, port=self.port, user=USER, dbname="postgres")
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        connection.cursor().execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return f"postgresql://{USER}@{HOST}:{self.port}/{name}"


@contextmanager
def throwaway_postgres() -> Iterator[Postgres]:
    """A server in a fresh data directory, stopped and deleted on exit. Needs BINARIES."""
    bin_dir = Path(BINARIES[-1])
    as_owner: list[str] = []
    # Outside pytest's private tmp dir: the postgres user must be able to reach it.
    data = Path(tempfile.mkdtemp(prefix="housing-pg-"))
    if os.getuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        shutil.chown(data, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*as_owner, str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {data} -c listen_addresses={HOST}"
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
        yield Postgres(port)
    finally:
        subprocess.run(
            [*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        shutil.rmtree(data, ignore_errors=True)
