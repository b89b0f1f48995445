"""Stores, bundles and the asset IO manager on S3 (a local server over HTTP, real boto3)."""

import json

import pandas as pd
import pytest

from housing_core import bundle
from housing_core.storage import S3Store, store_for
from tests.cloud.conftest import keys


def test_s3_store_round_trip_and_missing_keys(bucket):
    store = store_for(f"s3://{bucket}/serving")
    assert isinstance(store, S3Store) and store.describe() == f"s3://{bucket}/serving"
    store.write("reports/drift/2022-01.json", b'{"a": 1}')
    store.write("reports/drift/2022-02.json", b'{"a": 2}')
    assert store.read("reports/drift/2022-01.json") == b'{"a": 1}'
    assert store.exists("reports/drift/2022-02.json") and not store.exists("nope")
    assert store.list("reports/drift") == [
        "reports/drift/2022-01.json",
        "reports/drift/2022-02.json",
    ]
    assert keys(bucket) == [
        "serving/reports/drift/2022-01.json",
        "serving/reports/drift/2022-02.json",
    ]
    with pytest.raises(FileNotFoundError, match="nope does not exist"):
        store.read("nope")


def files(tag: str) -> dict[str, bytes]:
    return {name: json.dumps({"file": name, "tag": tag}).encode() for name in bundle.FILES}


def test_bundles_publish_manifest_and_pointer_last_on_s3(bucket):
    store = store_for(f"s3://{bucket}/serving")
    bundle.publish(store, "2022-01-v1", files("a"))
    assert bundle.current_version(store) == "2022-01-v1"
    assert keys(bucket, "serving/bundles/2022-01-v1/") == sorted(
        f"serving/bundles/2022-01-v1/{n}" for n in (*bundle.FILES, bundle.MANIFEST)
    )
    assert bundle.load(store).json("metrics.json")["tag"] == "a"
    store.write("bundles/2022-01-v1/model.json", b"tampered")
    with pytest.raises(bundle.BundleError, match="checksum"):
        bundle.load(store)


class FailingManifest(S3Store):
    """S3 that fails (after the client's retries) when the manifest is written."""

    def write(self, key: str, data: bytes) -> None:
        if key.endswith(bundle.MANIFEST):
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="s3 (injected fault)")
        super().write(key, data)


def test_a_fault_during_publication_leaves_the_old_bundle_current_and_nothing_half_visible(bucket):
    uri = f"s3://{bucket}/serving"
    bundle.publish(store_for(uri), "2022-01-v1", files("old"))
    with pytest.raises(Exception, match="injected fault"):
        bundle.publish(FailingManifest(uri), "2022-01-v2", files("new"))
    store = store_for(uri)
    assert bundle.current_version(store) == "2022-01-v1"
    assert bundle.load(store).json("metrics.json")["tag"] == "old"
    assert "2022-01-v2" not in bundle.versions(store)  # no manifest: not a bundle
    with pytest.raises(bundle.BundleError, match="no manifest"):
        bundle.load(store, "2022-01-v2")


def test_partitioned_assets_round_trip_through_the_io_manager_with_readable_keys(bucket, tmp_path):
    import dagster as dg

    from housing_assets.resources.io_manager import ParquetIOManager

    months = dg.StaticPartitionsDefinition(["2022-01", "2022-02"])

    @dg.asset(partitions_def=months, backfill_policy=dg.BackfillPolicy.single_run())
    def monthly(context: dg.AssetExecutionContext) -> dict:
        return {k: pd.DataFrame({"month": [k], "x": [1.5]}) for k in context.partition_keys}

    @dg.asset(partitions_def=months, backfill_policy=dg.BackfillPolicy.single_run())
    def summary(context: dg.AssetExecutionContext, monthly: dict) -> dict:
        return {k: {"rows": len(v), "month": v["month"].iloc[0]} for k, v in monthly.items()}

    io = ParquetIOManager(base_dir=f"s3://{bucket}/data")
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [monthly, summary],
            resources={"io_manager": io},
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": "2022-01",
                "dagster/asset_partition_range_end": "2022-02",
            },
        )
    assert result.success
    assert keys(bucket, "data/") == [
        "data/monthly/2022-01.parquet",
        "data/monthly/2022-02.parquet",
        "data/summary/2022-01.json",
        "data/summary/2022-02.json",
    ]
    stored = json.loads(store_for(f"s3://{bucket}/data").read("summary/2022-02.json"))
    assert stored == {"rows": 1, "month": "2022-02"}


def test_s3_keeps_the_store_contract(bucket):
    """The same contract as a directory (tests/core/test_storage.py), over HTTP to moto."""
    from tests.core.test_storage import contract

    contract(store_for(f"s3://{bucket}/prefix"))
    contract(store_for(f"s3://{bucket}"))  # at the bucket's root
