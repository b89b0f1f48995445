"""The new-data sensor watching an S3 landing prefix (ETags as fingerprints)."""

import boto3
import dagster as dg
import pytest

from housing_assets.definitions import build_definitions
from housing_core.settings import Settings
from tests.automation.daemon import InProcessDaemon
from tests.conftest import frames_by_month


@pytest.mark.slow
def test_the_sensor_ingests_new_and_changed_objects_once(bucket, tmp_path, small_panel):
    s3 = boto3.client("s3")
    months = frames_by_month(small_panel)

    def drop(month: str, frame) -> None:
        s3.put_object(
            Bucket=bucket, Key=f"landing/{month}.parquet", Body=frame.to_parquet(index=False)
        )

    drop("2019-11", months["2019-11"])
    drop("2019-12", months["2019-12"])
    defs = build_definitions(Settings(home=tmp_path, source=f"s3://{bucket}/landing/"))
    assert defs.resources["source"].is_landing_area()
    with dg.instance_for_test() as instance:
        daemon = InProcessDaemon(defs, instance)
        (first,) = daemon.tick("new_source_months").run_requests
        assert first.tags["housing/months"] == "2019-11..2019-12"
        assert daemon.tick("new_source_months").run_requests == []
        drop("2019-12", months["2019-12"])  # the same bytes again: same ETag
        assert daemon.tick("new_source_months").run_requests == []
        corrected = months["2019-12"].copy()  # one zip corrected (a rewritten column is held)
        corrected.loc[0, "inventory"] += 1
        drop("2019-12", corrected)
        drop("2020-01", months["2020-01"])
        tick = daemon.tick("new_source_months")
        (run,) = tick.run_requests  # contiguous: one run for both
        assert run.tags["housing/months"] == "2019-12..2020-01"
        assert run.tags["housing/trigger"] == "changed content + new month"
        assert all(result.success for result in tick.results)
        assert instance.get_materialized_partitions(dg.AssetKey("cleaned_monthly")) == {
            "2019-11",
            "2019-12",
            "2020-01",
        }
