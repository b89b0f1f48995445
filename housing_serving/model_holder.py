"""The live model: loaded from the serving store, verified, swapped atomically.

A request takes one reference to the current `PublishedModel` and uses it to the end, so a swap
never changes the model under an in-flight request. A bundle that fails verification (missing
manifest, checksum mismatch, unreadable model) is refused with a log line and the previous
model keeps serving.
"""

from __future__ import annotations

import logging
import threading

from housing_core import bundle
from housing_core.published import PublishedModel
from housing_serving.cards import model_card

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


class ModelHolder:
    what = "model"

    def __init__(self, store: bundle.Store):
        self.store = store
        self._current: PublishedModel | None = None
        self._lock = threading.Lock()  # one load at a time; readers never wait
        self.last_error: str | None = None  # the whole reason: the log and the admin routes
        self.refused: str | None = None  # the version refused last (None once one serves)

    @property
    def current(self) -> PublishedModel | None:
        return self._current

    def load(self, version: str | None = None) -> PublishedModel:
        """Load, verify and prove a bundle before it may serve: its checksums (bundle.load), its
        example rows scored as at publication (`smoke`) and its model card; any failure is a
        `bundle.BundleError` naming it, and the current model keeps serving."""
        loaded = PublishedModel.load(self.store, version)
        loaded.smoke()
        try:
            model_card(loaded)
        except (KeyError, TypeError, ValueError) as exc:
            raise bundle.BundleError(
                f"bundle {loaded.version} cannot describe itself (/v1/model): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        _ = loaded.explorer  # built before the swap: no request pays for the dashboard's indices
        return loaded

    def target(self) -> str | None:
        """The version the store's pointer names."""
        return bundle.current_version(self.store)

    def unavailable(self) -> str:
        """Why nothing serves, in words for anyone who asks (`/v1/ready` is public): never a
        path inside the server or a native trace; those are in the log and `/v1/admin/reload`."""
        if self.last_error is None:
            return f"no {self.what} is published yet: `housing run` trains and publishes one"
        if self.refused:
            bundle_named = f"the published {self.what} {self.refused}"
        else:
            bundle_named = f"the {self.what} store"
        return (
            f"{bundle_named} could not be loaded and nothing else is being served; the server "
            "log (and /v1/admin/reload, with the admin key) says why"
        )

    def describe(self, loaded) -> str:
        return f"vintage {loaded.provenance['vintage']}, holdout MAPE {loaded.holdout_mape:.2f}%"

    def refresh(self) -> bool:
        """Follow `current`; returns True when a new model went live."""
        with self._lock:
            target = None
            try:
                target = self.target()
                if target is None or (
                    self._current is not None and self._current.version == target
                ):
                    return False
                loaded = self.load(target)
            except REFUSED as exc:
                said_already = (self.refused, self.last_error) == (target, str(exc))
                self.last_error = str(exc)
                self.refused = target  # None: the store itself could not be read
                if said_already:  # the poller retries every few seconds; the log says it once
                    return False
                kept = self._current.version if self._current else "none"
                log.error(
                    "refusing %s from %s: %s (still serving %s)",
                    self.what,
                    self.store.describe(),
                    exc,
                    kept,
                )
                return False
            previous = self._current
            self._current = loaded  # a single reference assignment: atomic for readers
            self.last_error = self.refused = None
            log.info(
                "%s swapped: %s -> %s (%s) from %s",
                self.what,
                previous.version if previous else "none",
                loaded.version,
                self.describe(loaded),
                self.store.describe(),
            )
            return True
