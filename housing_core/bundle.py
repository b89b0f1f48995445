"""The serving bundle: everything the API needs to predict, published atomically.

Layout in a serving store (a local directory today, an S3 prefix with the cloud work):

    bundles/<version>/model.json          XGBoost's own JSON model format
    bundles/<version>/feature_state.json  fitted encoders (housing_core/features.py)
    bundles/<version>/schema.json         input contract: columns, dtypes, ranges
    bundles/<version>/conformal.json      interval quantiles on the log scale, per horizon bucket
    bundles/<version>/anchors.parquet     each zip's recent history (housing_core/anchors.py): what a
                                          prediction is anchored on; refreshed every month
    bundles/<version>/metrics.json        holdout metrics and baselines
    bundles/<version>/provenance.json     vintage, MLflow run/version, data fingerprint, code version
    bundles/<version>/series_by_zip.parquet   zip x month actual prices of every split, with the
                                          model's holdout predictions (for the dashboard)
    bundles/<version>/holdout_by_zip.parquet  holdout rows as sent to the model, with its predictions
                                          (both sorted by zip code, row groups of whole zips:
                                          the API reads them a zip at a time, housing_core/explorer.py)
    bundles/<version>/history.parquet     the same two tables whole, as bundles published before
    bundles/<version>/holdout.parquet     carried them (still served: rewritten by zip when loaded)
    bundles/<version>/reference.parquet   drift reference: a sample of the last pre-holdout year
    bundles/<version>/evaluated_model.json  the model the holdout judged, before its final refit
                                          (model.json): what the gate compares a challenger with
    bundles/<version>/MANIFEST.json       sha256 of every file above -- written LAST
    current                               the live version -- flipped only after the manifest
    forecasts/<version>/...               the forecaster's own publication (`FORECAST`): its
                                          JSON, bands, every zip's forecasts, its backtest
    forecasts/current                     the live forecaster, flipped the same way

A reader follows `current`, and refuses a bundle whose manifest is missing (half-written), lists
a file outside the names above (`../x`, `model.pkl`) or whose files do not match their
checksums (tampered). Nothing is ever unpickled. The explorer's tables are verified like the rest
but kept as local files rather than in memory (`LocalCopy`): they grow with zips x months.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

# The stores live in storage.py; bundle.LocalStore etc. stay importable from here.
from housing_core.storage import LocalStore, S3Store, Store, store_for  # noqa: F401

# Every file name a publication holds is named here once; the modules that write and read them
# use these names.
MANIFEST = "MANIFEST.json"
ANCHORS = "anchors.parquet"
POINTER = "current"
MODEL = "model.json"
FEATURE_STATE = "feature_state.json"
SCHEMA = "schema.json"
CONFORMAL = "conformal.json"
METRICS = "metrics.json"
PROVENANCE = "provenance.json"
HISTORY = "history.parquet"
HOLDOUT = "holdout.parquet"
SERIES_BY_ZIP = "series_by_zip.parquet"
HOLDOUT_BY_ZIP = "holdout_by_zip.parquet"
REFERENCE = "reference.parquet"
DRIFT_CALIBRATION = "drift_calibration.json"
FORECASTER = "forecaster.json"
BANDS = "bands.json"
FORECASTS = "forecasts.parquet"
BACKTEST = "backtest.json"
FILES = (MODEL, FEATURE_STATE, SCHEMA, CONFORMAL, METRICS, PROVENANCE, ANCHORS)
# What the dashboard explores (optional: a bundle without them still serves predictions).
EXPLORER_FILES = (SERIES_BY_ZIP, HOLDOUT_BY_ZIP)
# The same data as bundles published before carried it: whole tables, in no particular order.
EARLIER_EXPLORER_FILES = (HISTORY, HOLDOUT)
# What drift reports compare a new month against (optional for the same reason).
DRIFT_FILES = (REFERENCE, DRIFT_CALIBRATION)
# The model the holdout judged, when model.json is its final refit (optional: older bundles
# served the evaluated model itself).
EVALUATED_MODEL = "evaluated_model.json"
# A few rows of the newest month and what the published model answered for them: a loaded
# bundle must answer the same before it serves (optional: older bundles were published without).
SMOKE = "smoke.parquet"
SMOKE_OUTPUTS = ("prediction", "lower_80", "upper_80", "lower_95", "upper_95")
KNOWN_FILES = (
    *FILES,
    *EXPLORER_FILES,
    *EARLIER_EXPLORER_FILES,
    *DRIFT_FILES,
    EVALUATED_MODEL,
    SMOKE,
)
# A version is one folder name under bundles/: no separators, no leading dot (so no `..`).
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class Kind:
    """What is published under one folder of the store, with its own `current` pointer."""

    folder: str
    pointer: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    on_disk: tuple[str, ...] = ()  # kept as local copies when loaded, not in memory

    @property
    def known(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


NOWCAST = Kind(
    "bundles",
    POINTER,
    FILES,
    (*EXPLORER_FILES, *EARLIER_EXPLORER_FILES, *DRIFT_FILES, EVALUATED_MODEL, SMOKE),
    on_disk=(*EXPLORER_FILES, *EARLIER_EXPLORER_FILES),
)
# The forecaster's publication (housing_core/forecast/publishing.py): published apart from the nowcast
# model, so a forecaster its backtest holds back never stops a nowcast model (nor the reverse).
FORECAST = Kind(
    "forecasts",
    "forecasts/current",
    (FORECASTER, BANDS, FORECASTS, BACKTEST, PROVENANCE),
    (HISTORY,),
)


class BundleError(RuntimeError):
    """A bundle that must not be served: missing, incomplete or not matching its manifest."""


class Superseded(BundleError):
    """A conditional publish found `current` moved to another version while it wrote."""

    def __init__(self, version: str, replaces: str, current: str | None):
        super().__init__(
            f"bundle {version} written but not made current: {current} replaced {replaces} "
            "meanwhile"
        )
        self.current = current


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_version(version: str) -> str:
    if not VERSION.fullmatch(version):
        raise BundleError(f"invalid bundle version {version!r}: refusing it")
    return version


def publish(
    store: Store,
    version: str,
    files: dict[str, bytes],
    *,
    replaces: str | None = None,
    kind: Kind = NOWCAST,
) -> dict:
    """Write a complete bundle, then its manifest, then flip `current`. Returns the manifest.

    With `replaces`, `current` is flipped only if it still names that version (a history refresh
    must not put back an older model that a retrain replaced while it was writing)."""
    check_version(version)
    missing = [name for name in kind.required if name not in files]
    if missing:
        raise BundleError(f"bundle {version} lacks {missing}")
    unknown = sorted(set(files) - set(kind.known))
    if unknown:
        raise BundleError(f"bundle {version}: unknown files {unknown}")
    names = [*kind.required, *(name for name in kind.optional if name in files)]
    for name in names:
        store.write(f"{kind.folder}/{version}/{name}", files[name])
    manifest = {"version": version, "files": {name: sha256(files[name]) for name in names}}
    store.write(f"{kind.folder}/{version}/{MANIFEST}", json.dumps(manifest, indent=1).encode())
    if replaces is not None and (now := current_version(store, kind)) != replaces:
        raise Superseded(version, replaces, now)
    store.write(kind.pointer, version.encode())
    return manifest


def current_version(store: Store, kind: Kind = NOWCAST) -> str | None:
    if not store.exists(kind.pointer):
        return None
    return store.read(kind.pointer).decode().strip() or None


class LocalCopy:
    """A bundle file on this machine's disk, open for reads in parts (`file`: positional reads, safe
    from many threads at once). Its name is removed as soon as it is open, so the data lasts
    exactly as long as a reference to the copy (a swapped-out model keeps its own until its last
    request ends) and nothing is left behind however the process ends (a server stopped by
    SIGTERM runs no exit handlers). The store's own files are never touched."""

    def __init__(self, fill: Callable[[Path], object], name: str, version: str = "unpublished"):
        """`fill` writes the file at the path it is given."""
        fd, path = tempfile.mkstemp(prefix=f"housing-{version}-", suffix=f"-{name}")
        os.close(fd)
        try:
            fill(Path(path))
            self.file = pa.OSFile(path)
        finally:
            os.unlink(path)
        self.name = name
        self.size = self.file.size()
        weakref.finalize(self, self.file.close)

    @classmethod
    def holding(cls, name: str, data: bytes, version: str = "unpublished") -> LocalCopy:
        return cls(lambda path: path.write_bytes(data), name, version)

    def read(self) -> bytes:
        return self.file.read_at(self.size, 0)

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for offset in range(0, self.size, 1 << 20):
            digest.update(self.file.read_at(1 << 20, offset))
        return digest.hexdigest()


class Files(Mapping[str, bytes]):
    """A loaded bundle's verified files by name: most held in memory, its kind's `on_disk` as local
    copies read when asked for (a republication still reads them whole; the API never does)."""

    def __init__(self, held: dict[str, bytes], copies: dict[str, LocalCopy]):
        self.held = held
        self.copies = copies

    def __getitem__(self, name: str) -> bytes:
        if name in self.copies:
            return self.copies[name].read()
        return self.held[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*self.held, *self.copies])

    def __len__(self) -> int:
        return len(self.held) + len(self.copies)


@dataclass
class Bundle:
    version: str
    files: Mapping[str, bytes]

    def json(self, name: str) -> dict:
        return json.loads(self.files[name])

    def local(self, name: str) -> LocalCopy | None:
        """A file as a local copy (None if the bundle lacks it): the one loaded with the bundle,
        else one written from the bytes of a bundle assembled in memory."""
        if isinstance(self.files, Files) and name in self.files.copies:
            return self.files.copies[name]
        data = self.files.get(name)
        return None if data is None else LocalCopy.holding(name, data, self.version)


def versions(store: Store, kind: Kind = NOWCAST) -> list[str]:
    """Every complete bundle (its manifest written), by name."""
    keys = store.list(kind.folder)
    return sorted(k.split("/")[1] for k in keys if k.endswith(f"/{MANIFEST}"))


def load(store: Store, version: str | None = None, kind: Kind = NOWCAST) -> Bundle:
    """Load and verify a bundle (the current one by default)."""
    version = version or current_version(store, kind)
    if version is None:
        raise BundleError(f"no bundle has been published to {store.describe()}")
    listed = _manifest(store, version, kind)
    # Only the known file names are ever read: a manifest cannot point outside the bundle
    # (`../`, absolute paths) nor make a reader open anything else (`model.pkl`).
    unknown = sorted(set(listed) - set(kind.known))
    if unknown:
        raise BundleError(f"bundle {version}: manifest lists unknown files {unknown}, refusing it")
    missing = [name for name in kind.required if name not in listed]
    if missing:
        raise BundleError(f"bundle {version}: manifest lacks {missing}, refusing it")
    held: dict[str, bytes] = {}
    copies: dict[str, LocalCopy] = {}
    for name, digest in listed.items():
        key = f"{kind.folder}/{version}/{name}"
        try:
            if name in kind.on_disk:
                copy = LocalCopy(functools.partial(store.copy_to, key), name, version)
                found = copy.sha256()
                copies[name] = copy
            else:
                data = store.read(key)
                found = sha256(data)
                held[name] = data
        except FileNotFoundError as exc:
            raise BundleError(f"bundle {version} is missing {name}") from exc
        if found != digest:
            raise BundleError(f"bundle {version}: {name} does not match its manifest checksum")
    return Bundle(version, Files(held, copies))


def read_verified(
    store: Store, version: str, names: tuple[str, ...], kind: Kind = NOWCAST
) -> dict[str, bytes]:
    """Some of a bundle's files, each checked against its manifest (a listing that must not read
    every model): `BundleError` if the manifest is missing or a file does not match."""
    listed = _manifest(store, version, kind)
    out = {}
    for name in names:
        if name not in listed:
            raise BundleError(f"bundle {version}: manifest lacks {name}")
        data = store.read(f"{kind.folder}/{version}/{name}")
        if sha256(data) != listed[name]:
            raise BundleError(f"bundle {version}: {name} does not match its manifest checksum")
        out[name] = data
    return out


def _manifest(store: Store, version: str, kind: Kind = NOWCAST) -> dict:
    """The manifest's {file: sha256}, or `BundleError` (missing: incomplete; not a manifest)."""
    check_version(version)
    try:
        manifest = json.loads(store.read(f"{kind.folder}/{version}/{MANIFEST}"))
    except FileNotFoundError as exc:
        raise BundleError(f"bundle {version} has no manifest: incomplete, refusing it") from exc
    except ValueError as exc:
        raise BundleError(f"bundle {version}: malformed manifest, refusing it") from exc
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(listed, dict):
        raise BundleError(f"bundle {version}: malformed manifest, refusing it")
    return listed
