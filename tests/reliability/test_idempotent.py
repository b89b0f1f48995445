"""Re-materializing the same partitions is idempotent: same bytes, same data version, same frames.

The ingestion assets run on a real (temporary) Dagster instance with the project's own
definitions and resources (synthetic source, Parquet IO manager under a temp data root).
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from housing_assets.definitions import build_definitions
from housing_assets.defs.ingestion.assets import frame_fingerprint
from housing_assets.runner import register_months
from housing_core.automation import RANGE_END, RANGE_START
from housing_core.settings import Settings
from tests.conftest import INGESTION_ASSETS, REPO

MONTHS = ["2019-11", "2019-12", "2020-01"]


def _settings(home: Path) -> Settings:
    return Settings(home=home, source="synthetic", scale=0.01, seed=3)


def _materialize(defs: dg.Definitions, instance, first: str, last: str):
    """One ingest run: a single partition, or a partition range in one run (a backfill)."""
    job = defs.resolve_job_def("ingest")
    if first == last:
        result = job.execute_in_process(instance=instance, partition_key=first)
    else:
        result = job.execute_in_process(
            instance=instance, tags={RANGE_START: first, RANGE_END: last}
        )
    assert result.success
    return result


def _stored(data_dir: Path, months: list[str]) -> dict[str, Path]:
    """The IO manager's objects: <asset>/<partition>.parquet under the data root."""
    return {
        f"{asset}/{m}": data_dir / asset / f"{m}.parquet"
        for asset in INGESTION_ASSETS
        for m in months
    }


def _fingerprints(paths: dict[str, Path]) -> dict[str, str]:
    return {key: hashlib.sha256(path.read_bytes()).hexdigest() for key, path in paths.items()}


def _data_versions(result) -> dict[str, str]:
    """(asset/partition) -> the data version Dagster recorded on the materialization."""
    out = {}
    for event in result.get_asset_materialization_events():
        m = event.event_specific_data.materialization
        out[f"{m.asset_key.to_user_string()}/{m.partition}"] = m.tags["dagster/data_version"]
    return out


def _values(defs: dg.Definitions, instance, months: list[str]) -> dict[str, pd.DataFrame]:
    """What a downstream asset receives: loaded through the IO manager, one frame per month."""
    out = {}
    for asset in INGESTION_ASSETS:
        for m in months:
            value = defs.load_asset_value(asset, partition_key=m, instance=instance)
            out[f"{asset}/{m}"] = value[m]
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("first", "last"),
    [("2020-01", "2020-01"), (MONTHS[0], MONTHS[-1])],
    ids=["one-month", "three-month-range"],
)
def test_rematerializing_the_same_partitions_is_idempotent(tmp_path, first, last):
    settings = _settings(tmp_path)
    defs = build_definitions(settings)
    months = MONTHS[MONTHS.index(first) : MONTHS.index(last) + 1]
    paths = _stored(settings.data_dir, months)
    with dg.instance_for_test() as instance:
        register_months(instance, defs.resources["source"].months())

        first_run = _materialize(defs, instance, first, last)
        bytes_before = _fingerprints(paths)
        inodes_before = {key: path.stat().st_ino for key, path in paths.items()}
        versions_before = _data_versions(first_run)
        values_before = _values(defs, instance, months)

        second_run = _materialize(defs, instance, first, last)
        # Really written again (a new file renamed into place), not skipped.
        assert second_run.run_id != first_run.run_id
        assert all(path.stat().st_ino != inodes_before[key] for key, path in paths.items())
        for asset in INGESTION_ASSETS:
            latest = instance.get_latest_materialization_event(dg.AssetKey(asset))
            assert latest.run_id == second_run.run_id
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) == set(months)

        assert _fingerprints(paths) == bytes_before
        versions_after = _data_versions(second_run)
        assert set(versions_before) == set(paths)  # every partition reports a data version
        assert versions_after == versions_before
        values_after = _values(defs, instance, months)
        assert set(values_after) == set(values_before)
        for key, frame in values_after.items():
            assert len(frame) > 0, key
            pd.testing.assert_frame_equal(frame, values_before[key])
        # Every materialization records each month's content fingerprint: the same both times,
        # equal to the stored frame's, distinct between months.
        recorded = _recorded_fingerprints(second_run)
        assert recorded == _recorded_fingerprints(first_run)
        assert recorded == {key: frame_fingerprint(f) for key, f in values_after.items()}
        assert len(set(recorded.values())) == len(recorded)


def _recorded_fingerprints(result) -> dict[str, str]:
    """(asset/partition) -> the content fingerprint its materialization's metadata records."""
    out = {}
    for event in result.get_asset_materialization_events():
        m = event.event_specific_data.materialization
        by_month = m.metadata["content_fingerprints"].value
        out[f"{m.asset_key.to_user_string()}/{m.partition}"] = by_month[m.partition]
    return out


@pytest.mark.slow
def test_the_fingerprint_follows_the_content_not_the_run(tmp_path):
    """The same month written by a one-month run and by a range run records one fingerprint;
    another seed (other content) records another."""
    seen = {}
    for name, seed, first in (
        ("single", 3, "2020-01"),
        ("range", 3, "2019-12"),
        ("other", 4, "2020-01"),
    ):
        defs = build_definitions(_settings(tmp_path / name).with_(seed=seed))
        with dg.instance_for_test() as instance:
            register_months(instance, defs.resources["source"].months())
            seen[name] = _recorded_fingerprints(_materialize(defs, instance, first, "2020-01"))
    for asset in INGESTION_ASSETS:
        key = f"{asset}/2020-01"
        assert seen["single"][key] == seen["range"][key], key
        assert seen["other"][key] != seen["single"][key], key


CHILD = """
import hashlib, json, sys
from pathlib import Path
import dagster as dg
from housing_assets.definitions import build_definitions
from housing_assets.runner import register_months
from tests.reliability.test_idempotent import _materialize, _settings

home, first, last = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
settings = _settings(home)
defs = build_definitions(settings)
with dg.instance_for_test() as instance:
    register_months(instance, defs.resources["source"].months())
    _materialize(defs, instance, first, last)
out = {
    str(p.relative_to(settings.data_dir).with_suffix("")): hashlib.sha256(p.read_bytes()).hexdigest()
    for p in settings.data_dir.rglob("*.parquet")
}
print("FINGERPRINTS " + json.dumps(out))
"""


@pytest.mark.slow
def test_another_process_with_another_hash_seed_writes_the_same_bytes(tmp_path):
    """A re-materialization normally runs in a new run process: its bytes must not depend on
    the process (hash seeds, set order), nor on the run's shape (a range or one partition)."""
    settings = _settings(tmp_path / "here")
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        register_months(instance, defs.resources["source"].months())
        _materialize(defs, instance, MONTHS[0], MONTHS[-1])  # a range here, one month there
    here = _fingerprints(_stored(settings.data_dir, [MONTHS[-1]]))

    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "there"), MONTHS[-1], MONTHS[-1]],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    (line,) = [x for x in child.stdout.splitlines() if x.startswith("FINGERPRINTS ")]
    there = json.loads(line.removeprefix("FINGERPRINTS "))
    assert there == here
