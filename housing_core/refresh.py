"""Advance a published bundle's zip history with newly cleaned months -- no retraining.

The model predicts the change from each zip's last known price, so the freshest price it can be
anchored on is worth more than any retrain: on the real DC panel, carrying forward last month's
price misses by 0.8%, last year's by 4.6%. Every landed month therefore republishes the champion
with the same model and a history that now ends with that month: a new version
`<model version>.h<YYYY-MM>-<content hash>`, written by `bundle.publish` under the same manifest
and checksum rules as a trained bundle, so readers (the API) pick it up like any new bundle.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass

import pandas as pd

from housing_core import anchors as A
from housing_core import bundle, publishing
from housing_core import features as F


@dataclass(frozen=True)
class Refresh:
    version: str  # the bundle now current (unchanged when nothing was new)
    previous: str
    history_until: str
    zips_updated: int
    published: bool
    superseded_by: str | None = None  # a model that went live while this refresh wrote


def history_of(published: bundle.Bundle) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(published.files[bundle.ANCHORS]))


def model_version(provenance: dict, fallback: str) -> str:
    """The version of the trained model a (possibly refreshed) bundle serves."""
    return provenance.get("model_version", fallback)


def refreshed_version(base: str, history: pd.DataFrame, data: bytes) -> str:
    until = A.month_key(int(history[A.MONTH].max()))
    return f"{base}.h{until}-{hashlib.sha256(data).hexdigest()[:8]}"


def refresh(store: bundle.Store, rows: pd.DataFrame) -> Refresh:
    """Merge `rows` (cleaned HouseTS rows of one or more months) into the current bundle's
    history and publish the result; a no-op when the history already holds exactly them."""
    current = bundle.current_version(store)
    if current is None:
        raise bundle.BundleError(f"no bundle published to {store.describe()}: nothing to refresh")
    published = bundle.load(store, current)
    state = F.FeatureState.from_json(published.files[bundle.FEATURE_STATE].decode())
    old = history_of(published)
    merged = A.keep_recent(A.merge_inputs(old, A.inputs(rows, state.stats)))
    until = A.month_key(int(merged[A.MONTH].max()))
    if merged.equals(old):
        return Refresh(current, current, until, 0, published=False)
    data = merged.to_parquet(index=False)
    provenance = published.json(bundle.PROVENANCE)
    base = model_version(provenance, current)
    version = refreshed_version(base, merged, data)
    changed = merged.merge(old, how="left", indicator=True)
    zips = int(changed.loc[changed["_merge"] == "left_only", A.ZIP].nunique())
    provenance.update(
        {
            "version": version,
            "model_version": base,
            "history_until": until,
            "history_refreshed_from": current,
            "history_refreshed_at": pd.Timestamp.now(tz="UTC").isoformat(),
        }
    )
    files = publishing.with_anchors(
        {name: data for name, data in published.files.items() if name != bundle.MANIFEST}, data
    )
    files[bundle.PROVENANCE] = json.dumps(provenance, indent=1).encode()
    try:
        bundle.publish(store, version, files, replaces=current)
    except bundle.Superseded as lost:
        # The new model's own refresh takes these months (the drift sensor's recompute run):
        # folding them into the model it replaced would put that model back.
        return Refresh(str(lost.current), current, until, 0, False, superseded_by=lost.current)
    return Refresh(version, current, until, zips, published=True)
