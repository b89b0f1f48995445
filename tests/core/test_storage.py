"""The key -> bytes stores every writer goes through (asset files, bundles, reports): one
contract for a directory and for S3 (the S3 side runs against moto's server in
tests/cloud/test_s3_storage.py with the same `contract`)."""

import os
import threading

import pytest

from housing_core.storage import LocalStore, S3Store, store_for


def contract(store) -> None:
    """What every caller relies on, whatever the store."""
    assert store.list("bundles") == [] and not store.exists("current")
    with pytest.raises(FileNotFoundError, match="current"):
        store.read("current")
    store.write("bundles/v1/model.json", b"{}")
    store.write("bundles/v1/MANIFEST.json", b"m")
    store.write("bundles/v10/model.json", b"x")
    store.write("current", b"v1")
    assert store.read("current") == b"v1" and store.exists("bundles/v1/model.json")
    store.write("current", b"v10")  # overwrite
    assert store.read("current") == b"v10"
    assert store.list("bundles") == [
        "bundles/v1/MANIFEST.json",
        "bundles/v1/model.json",
        "bundles/v10/model.json",
    ]
    assert store.list("bundles/v1") == ["bundles/v1/MANIFEST.json", "bundles/v1/model.json"]
    assert store.list("bundles/v1/") == store.list("bundles/v1")
    assert store.list("reports") == []
    store.write("empty", b"")
    assert store.exists("empty") and store.read("empty") == b""


def test_a_directory_keeps_the_store_contract(tmp_path):
    contract(LocalStore(tmp_path / "store"))


def test_local_writes_are_atomic_for_a_concurrent_reader(tmp_path):
    """A reader polling while a writer rewrites a key sees one whole version or the other,
    never a mix or a short read; no temp file is left or listed."""
    store = LocalStore(tmp_path)
    old, new = b"a" * 2_000_000, b"b" * 3_000_000
    store.write("model.json", old)
    seen, stop = set(), threading.Event()

    def read_all():
        while not stop.is_set():
            data = store.read("model.json")
            seen.add((len(data), data[:1], data[-1:]))

    reader = threading.Thread(target=read_all)
    reader.start()
    for _ in range(20):
        store.write("model.json", new)
        store.write("model.json", old)
    stop.set()
    reader.join()
    assert seen <= {(len(old), b"a", b"a"), (len(new), b"b", b"b")}, seen
    assert store.list("") == ["model.json"]
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_a_failed_local_write_leaves_the_previous_file_and_no_temp_file(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)
    store.write("current", b"v1")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        store.write("current", b"v2")
    monkeypatch.undo()
    assert store.read("current") == b"v1"
    assert sorted(os.listdir(tmp_path)) == ["current"]


def test_locations_pick_their_store():
    assert isinstance(store_for("/tmp/x"), LocalStore)
    s3 = store_for("s3://bucket/some/prefix/")
    assert isinstance(s3, S3Store) and (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    assert s3.describe() == "s3://bucket/some/prefix"
    for bad in ("s3://", "s3:///prefix"):
        with pytest.raises(ValueError, match="no bucket"):
            S3Store(bad)


def test_local_files_are_readable_by_other_users(tmp_path):
    """A bundle or report written by the pipeline's uid must be readable by the API's."""
    import stat

    store = LocalStore(tmp_path)
    store.write("bundles/v1/model.json", b"{}")
    assert stat.S_IMODE((tmp_path / "bundles/v1/model.json").stat().st_mode) == 0o644
