"""Bundles are never unpickled and never read outside their folder; a bundle that breaks these
rules is refused and the previous model keeps serving."""

import hashlib
import json
import pickle
from pathlib import Path

import pytest

from housing_assets.resources.serving_store import ServingStore
from housing_core import bundle
from housing_serving.model_holder import ModelHolder
from tests.conftest import REPO
from tests.security.sources import api_sources, unsafe_deserialization
from tests.serving.conftest import API_KEY, make_client

# --- b. bundles: never unpickled, never read outside their folder -------------------------------


@pytest.mark.parametrize(
    "snippet",
    [
        "import pickle",
        "import cloudpickle as cp",
        "from joblib import load",
        "model = torch.load(path)",
        "arr = np.load(f, allow_pickle=True)",
        "frame = pd.read_pickle(path)",
        "m = mlflow.pyfunc.load_model(uri)",
        "cfg = yaml.load(text, Loader=yaml.Loader)",
        "mod = __import__('pickle')",
    ],
)
def test_the_unpickling_detector_catches_each_form(snippet):
    assert unsafe_deserialization(snippet), snippet


def test_the_unpickling_detector_ignores_prose_and_safe_loaders():
    source = '"""Nothing is ever unpickled: no pickle, no joblib."""\n'
    source += "booster.load_model(raw)\narr = np.load(f)\ndoc = json.loads(s)\n"
    assert unsafe_deserialization(source) == []


def test_nothing_on_the_bundle_load_path_can_unpickle():
    sources = api_sources()
    loaded = {p.relative_to(REPO).as_posix() for p in sources}
    # The API reads bundles: the loader, the model and its history are among what it imports.
    assert {"housing_core/bundle.py", "housing_core/predictor.py"} <= loaded
    found = {
        str(p.relative_to(REPO)): hits
        for p in sources
        if (hits := unsafe_deserialization(p.read_text()))
    }
    assert not found, found


def _fake_files(tag: str) -> dict[str, bytes]:
    return {name: json.dumps({"file": name, "tag": tag}).encode() for name in bundle.FILES}


def _pickle_trap(marker: Path) -> bytes:
    """Bytes that create `marker` when unpickled: proof of whether anything unpickled them."""

    class Trap:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    return pickle.dumps(Trap())


class SpyStore(bundle.LocalStore):
    def __init__(self, root):
        super().__init__(root)
        self.reads: list[str] = []

    def read(self, key: str) -> bytes:
        self.reads.append(key)
        return super().read(key)


def _rewrite_manifest(store: bundle.LocalStore, version: str, extra: dict[str, bytes]) -> None:
    """What an attacker with write access to the store could do: list more files, checksums right."""
    key = f"bundles/{version}/{bundle.MANIFEST}"
    manifest = json.loads(store.read(key))
    manifest["files"].update(
        {name: hashlib.sha256(data).hexdigest() for name, data in extra.items()}
    )
    store.write(key, json.dumps(manifest).encode())


def test_the_pickle_trap_is_live(tmp_path):
    pickle.loads(_pickle_trap(tmp_path / "fired"))
    assert (tmp_path / "fired").exists()


def test_a_pickle_beside_a_bundle_is_never_opened(tmp_path):
    store = SpyStore(tmp_path / "store")
    bundle.publish(store, "v1", _fake_files("a"))
    (tmp_path / "store/bundles/v1/model.pkl").write_bytes(_pickle_trap(tmp_path / "fired"))
    loaded = bundle.load(store)
    assert set(loaded.files) == set(bundle.FILES)
    assert not any(key.endswith(".pkl") for key in store.reads), store.reads
    assert not (tmp_path / "fired").exists()


@pytest.mark.parametrize(
    "name", ["../../../outside.json", "x/../../../../outside.json", "/outside.json", "model.pkl"]
)
def test_a_manifest_naming_files_outside_the_bundle_is_refused_before_reading(tmp_path, name):
    outside = tmp_path / "outside.json"
    outside.write_bytes(b'{"secret": "must not be read"}')
    store = SpyStore(tmp_path / "store")
    bundle.publish(store, "v1", _fake_files("a"))
    _rewrite_manifest(store, "v1", {name: outside.read_bytes()})
    store.reads.clear()
    with pytest.raises(bundle.BundleError, match="unknown files"):
        bundle.load(store)
    assert store.reads == ["current", "bundles/v1/MANIFEST.json"]


def test_a_manifest_missing_a_required_file_is_refused(tmp_path):
    store = bundle.LocalStore(tmp_path)
    bundle.publish(store, "v1", _fake_files("a"))
    manifest = json.loads(store.read("bundles/v1/MANIFEST.json"))
    del manifest["files"]["model.json"]
    store.write("bundles/v1/MANIFEST.json", json.dumps(manifest).encode())
    with pytest.raises(bundle.BundleError, match=r"lacks \['model\.json'\]"):
        bundle.load(store)


@pytest.mark.parametrize("version", ["../escape", "..", "a/b", ".hidden", "v1\n", ""])
def test_a_version_outside_bundles_is_refused(tmp_path, version):
    store = bundle.LocalStore(tmp_path / "store")
    with pytest.raises(bundle.BundleError, match="invalid bundle version"):
        bundle.publish(store, version or "x y", _fake_files("a"))
    assert bundle.current_version(store) is None


def test_a_current_pointer_leading_out_of_bundles_is_refused_and_the_old_model_kept(tmp_path):
    root = tmp_path / "store"
    store = bundle.LocalStore(root)
    bundle.publish(store, "v1", _fake_files("a"))
    # A complete, checksum-valid bundle outside bundles/, and `current` pointing at it.
    escape = bundle.LocalStore(root / "escape")
    for name, data in _fake_files("evil").items():
        escape.write(name, data)
    manifest = {
        "version": "x",
        "files": {n: bundle.sha256(d) for n, d in _fake_files("evil").items()},
    }
    escape.write(bundle.MANIFEST, json.dumps(manifest).encode())
    store.write(bundle.POINTER, b"../escape")
    with pytest.raises(bundle.BundleError, match=r"invalid bundle version '\.\./escape'"):
        bundle.load(store)
    holder = ModelHolder(store)
    assert holder.refresh() is False and "invalid bundle version" in holder.last_error
    # The sensors read the champion's provenance without loading it: the same refusal.
    with pytest.raises(bundle.BundleError, match="invalid bundle version"):
        ServingStore(root=str(root)).champion_provenance()


def test_the_api_serves_beside_a_pickle_and_refuses_a_manifest_listing_one(store, tmp_path):
    fired = tmp_path / "fired"
    trap = _pickle_trap(fired)
    (store / "bundles/2022-01-v1/model.pkl").write_bytes(trap)
    local = bundle.LocalStore(store)
    files = dict(bundle.load(local).files)
    bundle.publish(local, "2022-01-v2", files)
    (store / "bundles/2022-01-v2/model.pkl").write_bytes(trap)
    _rewrite_manifest(local, "2022-01-v2", {"model.pkl": trap})
    local.write(bundle.POINTER, b"2022-01-v1")
    with make_client(store) as client:
        assert client.get("/v1/ready").json()["model_version"] == "2022-01-v1"
        local.write(bundle.POINTER, b"2022-01-v2")
        answer = client.post("/v1/admin/reload", headers={"X-API-Key": API_KEY}).json()
        assert answer["swapped"] is False and answer["model_version"] == "2022-01-v1"
        assert "unknown files ['model.pkl']" in answer["error"]
    assert not fired.exists()
