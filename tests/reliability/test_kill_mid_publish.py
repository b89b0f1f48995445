"""A process killed with SIGKILL in the middle of publishing a bundle leaves the previous bundle
served, and the next run publishes cleanly.

The victim is a real child process running the project's `bundle.publish`; a test-only wrapper
inside it stops at a chosen point of the publish's write order (taken from the code by recording
a publish, not guessed), drops a marker file and sleeps; the test then SIGKILLs it. Contract
(bundle.py): files first, then MANIFEST.json, then `current`; a bundle without a manifest is
incomplete and refused; `versions()` lists exactly the bundles whose manifest was written.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from housing_core import bundle
from tests.cloud.conftest import bucket, s3_env, s3_server  # noqa: F401  (fixtures)
from tests.conftest import REPO
from tests.serving.conftest import API_KEY, make_client, records

KILLED = "2022-01-v2"  # the publish that gets killed
ADMIN = {"X-API-Key": API_KEY}

# The child: publishes `version` (files from a directory) with the real code path, stopping at
# the k-th write, either just after it returned ("after") or inside it, once the temp file is
# complete but before its rename ("inside"; LocalStore only). It then waits to be killed.
CHILD = r"""
import os, sys, time
from pathlib import Path
from housing_core import bundle

location, version, source, marker, mode, k = sys.argv[1:7]
k = int(k)
files = {p.name: p.read_bytes() for p in sorted(Path(source).iterdir())}
store = bundle.store_for(location)

def stop(key):
    Path(marker).write_text(key)
    time.sleep(600)

if mode == "after":
    class StopAfterWrite:
        def __init__(self, inner):
            self.inner, self.writes = inner, 0
        def __getattr__(self, name):
            return getattr(self.inner, name)
        def write(self, key, data):
            self.inner.write(key, data)
            self.writes += 1
            if self.writes == k:
                stop(key)
    store = StopAfterWrite(store)
else:
    real_replace, renames, root = os.replace, [0], os.path.realpath(location)
    def replace(src, dst, *args, **kwargs):
        if os.path.realpath(dst).startswith(root + os.sep):
            renames[0] += 1
            if renames[0] == k:
                stop(os.path.relpath(os.path.realpath(dst), root))
        return real_replace(src, dst, *args, **kwargs)
    os.replace = replace

bundle.publish(store, version, files)
print("publish finished: the kill never landed", flush=True)
"""


class Recorder:
    """A store that only records the keys written, in order."""

    def __init__(self):
        self.keys: list[str] = []

    def write(self, key: str, data: bytes) -> None:
        self.keys.append(key)


def write_order(version: str, files: dict[str, bytes]) -> list[str]:
    recorder = Recorder()
    bundle.publish(recorder, version, files)
    return recorder.keys


def stop_point(point: str, order: list[str], version: str) -> tuple[str, int, str]:
    """(mode, k, key of the k-th write) for a named point of the publish's write order."""
    manifest = f"bundles/{version}/{bundle.MANIFEST}"
    files = [k for k in order if k.startswith(f"bundles/{version}/") and k != manifest]
    mode, k = {
        "after-some-files": ("after", len(files) // 2),
        "all-files-no-manifest": ("after", order.index(manifest)),
        "manifest-no-pointer": ("after", order.index(bundle.POINTER)),
        "inside-manifest-write": ("inside", order.index(manifest) + 1),
        "inside-pointer-write": ("inside", order.index(bundle.POINTER) + 1),
    }[point]
    return mode, k, order[k - 1]


def with_provenance(files: dict[str, bytes], version: str, attempt: str) -> dict[str, bytes]:
    files = dict(files)
    provenance = json.loads(files["provenance.json"])
    files["provenance.json"] = json.dumps(provenance | {"version": version, "attempt": attempt})
    files["provenance.json"] = files["provenance.json"].encode()
    return files


def widened(files: dict[str, bytes]) -> dict[str, bytes]:
    """The same model with 3x wider intervals: a leftover of it would show in the API."""
    conformal = json.loads(files["conformal.json"])

    def scale(value):
        if isinstance(value, dict):
            return {k: scale(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scale(v) for v in value]
        return value * 3 if isinstance(value, float) else value

    conformal["quantiles"] = scale(conformal["quantiles"])
    return {**files, "conformal.json": json.dumps(conformal).encode()}


def publish_and_kill(tmp_path: Path, location: str, files: dict[str, bytes], mode: str, k: int):
    """Run the real publish of KILLED in a child, SIGKILL it at the stop; return the stop's key."""
    source = tmp_path / "killed-files"
    source.mkdir()
    for name, data in files.items():
        (source / name).write_bytes(data)
    marker, log = tmp_path / "stopped", tmp_path / "child.log"
    args = [location, KILLED, str(source), str(marker), mode, str(k)]
    with log.open("w") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args], cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text()):
            if child.poll() is not None:
                pytest.fail(f"the publisher exited {child.returncode}:\n{log.read_text()[-3000:]}")
            assert time.monotonic() < deadline, "the publisher never reached its stop"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert "publish finished" not in log.read_text()
    return marker.read_text()


@pytest.fixture
def v1(request, tiny, tmp_path) -> tuple[str, bundle.Bundle]:
    """(location, the in-process model's bundle) with that bundle published there as the champion."""
    built = tiny.publish(tmp_path / "built")
    published = bundle.load(bundle.LocalStore(built))
    if request.param == "local":
        location = str(tmp_path / "serving")
        shutil.copytree(built, location)
    else:
        location = f"s3://{request.getfixturevalue('bucket')}/serving"
        bundle.publish(bundle.store_for(location), published.version, published.files)
    assert bundle.current_version(bundle.store_for(location)) == published.version
    return location, published


def predict(api, rows) -> dict:
    response = api.post("/v1/predict", json={"rows": rows})
    assert response.status_code == 200, response.text
    return response.json()


CASES = [
    ("local", "after-some-files", "same"),
    ("local", "all-files-no-manifest", "same"),
    ("local", "manifest-no-pointer", "same"),
    ("local", "inside-manifest-write", "same"),
    ("local", "inside-pointer-write", "same"),
    ("local", "all-files-no-manifest", "new"),
    ("local", "manifest-no-pointer", "new"),
    ("s3", "after-some-files", "same"),
    ("s3", "all-files-no-manifest", "same"),
    ("s3", "manifest-no-pointer", "same"),
]


@pytest.mark.parametrize(
    ("v1", "point", "next_name"),
    CASES,
    ids=["-".join(case) for case in CASES],
    indirect=["v1"],
)
def test_a_publish_killed_midway_keeps_the_champion_and_the_next_run_publishes_cleanly(
    v1, point, next_name, tmp_path, tiny
):
    location, champion = v1
    store = bundle.store_for(location)
    rows = records(tiny.holdout.head(5))

    killed_files = widened(with_provenance(champion.files, KILLED, "killed"))
    order = write_order(KILLED, killed_files)
    manifest_key = f"bundles/{KILLED}/{bundle.MANIFEST}"
    # The contract the stop points rely on: every file, then the manifest, then the pointer.
    assert order[-2:] == [manifest_key, bundle.POINTER]
    assert sorted(order[:-2]) == sorted(f"bundles/{KILLED}/{n}" for n in killed_files)
    mode, k, stop_key = stop_point(point, order, KILLED)
    manifest_written = (
        k > order.index(manifest_key) if mode == "after" else point.endswith("pointer-write")
    )

    with make_client(location) as api:  # the API serving v1 while the publish runs
        before = predict(api, rows)
        assert before["model_version"] == champion.version
        assert api.get("/v1/ready").json()["model_version"] == champion.version

        assert publish_and_kill(tmp_path, location, killed_files, mode, k) == stop_key

        # The store: `current` still names v1, which loads and verifies.
        assert bundle.current_version(store) == champion.version
        assert bundle.load(store).files == champion.files
        if manifest_written:  # complete but never promoted: listed and loadable, not live
            assert bundle.versions(store) == sorted([champion.version, KILLED])
            assert bundle.load(store, KILLED).json("provenance.json")["attempt"] == "killed"
        else:  # half-written: not listed, and loading it explicitly is refused
            assert bundle.versions(store) == [champion.version]
            with pytest.raises(bundle.BundleError, match=f"bundle {KILLED} has no manifest"):
                bundle.load(store, KILLED)
        if mode == "inside":  # the interrupted write left only a hidden temp file behind
            target = Path(location) / stop_key
            leftovers = list(target.parent.glob(f".{target.name}.*.tmp"))
            assert len(leftovers) == 1, leftovers
            assert not any(Path(key).name.startswith(".") for key in store.list("bundles"))
            if stop_key == bundle.POINTER:
                assert leftovers[0].read_bytes() == KILLED.encode()  # complete, never renamed

        # The running API follows `current`: nothing to swap, still serving v1.
        reload = api.post("/v1/admin/reload", headers=ADMIN).json()
        assert reload == {"swapped": False, "model_version": champion.version, "error": None}
        assert predict(api, rows) == before

        # An API started after the crash serves v1 too and lists only complete bundles.
        with make_client(location) as fresh:
            assert predict(fresh, rows) == before
            listed = {m["version"]: m["live"] for m in fresh.get("/v1/models").json()["models"]}
            expected = {champion.version: True} | ({KILLED: False} if manifest_written else {})
            assert listed == expected

        # The next run: the normal, in-process publish. The asset names a bundle after its
        # vintage and MLflow version, so a retried step reuses the killed name (over its
        # leftovers) and a fresh train run takes a new one; both must come out clean. Its file
        # set differs from the killed one (no drift reference), so a leftover would show.
        version = KILLED if next_name == "same" else "2022-01-v3"
        next_files = with_provenance(champion.files, version, "clean")
        del next_files["reference.parquet"]
        manifest = bundle.publish(store, version, next_files)

        assert bundle.current_version(store) == version
        assert manifest["files"] == {n: bundle.sha256(d) for n, d in next_files.items()}
        on_disk = json.loads(store.read(f"bundles/{version}/{bundle.MANIFEST}"))
        assert on_disk == manifest
        loaded = bundle.load(store)
        assert loaded.version == version and loaded.files == next_files
        assert loaded.json("provenance.json")["attempt"] == "clean"
        expected_versions = {champion.version, version} | ({KILLED} if manifest_written else set())
        assert bundle.versions(store) == sorted(expected_versions)
        if next_name == "new" and not manifest_written:
            with pytest.raises(bundle.BundleError, match="has no manifest"):
                bundle.load(store, KILLED)

        reload = api.post("/v1/admin/reload", headers=ADMIN).json()
        assert reload == {"swapped": True, "model_version": version, "error": None}
        after = predict(api, rows)
        assert after["model_version"] == version
        # Same model and intervals as v1: the killed attempt's 3x-wider conformal is not served.
        assert after["predictions"] == before["predictions"]
