import json

import pytest

from housing_core import bundle


def _files(tag: str) -> dict[str, bytes]:
    return {name: json.dumps({"file": name, "tag": tag}).encode() for name in bundle.FILES}


def test_publish_then_load_round_trip(tmp_path):
    store = bundle.LocalStore(tmp_path)
    manifest = bundle.publish(store, "2022-01-v1", _files("a"))
    assert bundle.current_version(store) == "2022-01-v1"
    loaded = bundle.load(store)
    assert loaded.version == "2022-01-v1"
    assert loaded.json("metrics.json") == {"file": "metrics.json", "tag": "a"}
    assert set(manifest["files"]) == set(bundle.FILES)


def test_a_bundle_without_manifest_is_refused(tmp_path):
    store = bundle.LocalStore(tmp_path)
    for name, data in _files("half").items():
        store.write(f"bundles/v9/{name}", data)
    with pytest.raises(bundle.BundleError, match="no manifest"):
        bundle.load(store, "v9")


def test_a_tampered_file_is_refused(tmp_path):
    store = bundle.LocalStore(tmp_path)
    bundle.publish(store, "v1", _files("a"))
    (tmp_path / "bundles" / "v1" / "model.json").write_bytes(b"{}")
    with pytest.raises(bundle.BundleError, match=r"model\.json does not match"):
        bundle.load(store)


def test_a_failed_publish_leaves_the_current_bundle_in_place(tmp_path, monkeypatch):
    store = bundle.LocalStore(tmp_path)
    bundle.publish(store, "v1", _files("a"))
    original = store.write

    def failing_write(key, data):
        if key.endswith("metrics.json"):
            raise OSError("disk full")
        original(key, data)

    monkeypatch.setattr(store, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        bundle.publish(store, "v2", _files("b"))
    assert bundle.current_version(store) == "v1"
    assert bundle.load(store).json("metrics.json")["tag"] == "a"
    with pytest.raises(bundle.BundleError):
        bundle.load(store, "v2")


def test_incomplete_file_set_is_rejected_before_writing(tmp_path):
    store = bundle.LocalStore(tmp_path)
    files = _files("a")
    files.pop("schema.json")
    with pytest.raises(bundle.BundleError, match=r"schema\.json"):
        bundle.publish(store, "v1", files)
    assert bundle.current_version(store) is None


def test_nothing_published_is_a_clear_error(tmp_path):
    with pytest.raises(bundle.BundleError, match="no bundle has been published"):
        bundle.load(bundle.LocalStore(tmp_path))


def test_unknown_files_are_refused_and_explorer_files_are_checksummed(tmp_path):
    store = bundle.LocalStore(tmp_path)
    files = _files("a")
    with pytest.raises(bundle.BundleError, match="unknown files"):
        bundle.publish(store, "v1", {**files, "notes.txt": b"x"})
    manifest = bundle.publish(store, "v1", {**files, "history.parquet": b"PAR1"})
    assert "history.parquet" in manifest["files"] and "holdout.parquet" not in manifest["files"]
    assert bundle.load(store).files["history.parquet"] == b"PAR1"


def test_explorer_tables_are_checksummed_and_kept_on_disk_not_in_memory(tmp_path):
    store = bundle.LocalStore(tmp_path)
    tables = {bundle.SERIES_BY_ZIP: b"PAR1 series", bundle.HOLDOUT_BY_ZIP: b"PAR1 holdout"}
    files = {**_files("a"), **tables}
    bundle.publish(store, "v1", files)
    loaded = bundle.load(store)
    assert set(loaded.files.held) == set(bundle.FILES)
    assert {n: c.read() for n, c in loaded.files.copies.items()} == tables
    assert dict(loaded.files) == files  # a republication still reads them whole
    (tmp_path / "bundles" / "v1" / bundle.SERIES_BY_ZIP).write_bytes(b"PAR1 tampered")
    with pytest.raises(bundle.BundleError, match=r"series_by_zip\.parquet does not match"):
        bundle.load(store)
