"""The live model: loaded from the serving store, verified, swapped atomically.

A request takes one reference to the current `LoadedModel` and uses it to the end, so a swap
never changes the model under an in-flight request. A bundle that fails verification (missing
manifest, checksum mismatch, unreadable model) is refused with a log line and the previous
model keeps serving.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

from housing_assets.lib import bundle
from housing_assets.lib.predictor import Predictor
from housing_serving.explorer import Explorer

log = logging.getLogger("housing_serving")


def _store_errors() -> tuple[type[Exception], ...]:
    """An unreachable or failing S3 is a refused refresh (logged; the old model keeps serving)."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # a local-only install without boto3
        return ()
    return (BotoCoreError, ClientError)


STORE_ERRORS = _store_errors()
# What a refresh may meet and survive: the bundle is refused, the current model keeps serving.
REFUSED: tuple[type[Exception], ...] = (bundle.BundleError, OSError, ValueError, *STORE_ERRORS)


@dataclass(frozen=True)
class LoadedModel:
    predictor: Predictor
    version: str
    provenance: dict
    metrics: dict
    schema: dict
    explorer: Explorer | None = None  # the dashboard's data; None for a bundle without it
    loaded_at: float = field(default_factory=time.time)


class ModelHolder:
    def __init__(self, store: bundle.Store):
        self.store = store
        self._current: LoadedModel | None = None
        self._lock = threading.Lock()  # one load at a time; readers never wait
        self.last_error: str | None = None

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def load(self, version: str | None = None) -> LoadedModel:
        published = bundle.load(self.store, version)
        return LoadedModel(
            predictor=Predictor.from_bundle(published),
            version=published.version,
            provenance=published.json("provenance.json"),
            metrics=published.json("metrics.json"),
            schema=json.loads(published.files["schema.json"]),
            explorer=Explorer.from_bundle(published),
        )

    def refresh(self) -> bool:
        """Follow `current`; returns True when a new model went live."""
        with self._lock:
            try:
                target = bundle.current_version(self.store)
                if target is None or (
                    self._current is not None and self._current.version == target
                ):
                    return False
                loaded = self.load(target)
            except REFUSED as exc:
                self.last_error = str(exc)
                kept = self._current.version if self._current else "none"
                log.error(
                    "refusing bundle from %s: %s (still serving %s)",
                    self.store.describe(),
                    exc,
                    kept,
                )
                return False
            self._current = loaded  # a single reference assignment: atomic for readers
            self.last_error = None
            log.info("serving model %s", loaded.version)
            return True
