"""Asset storage: one object per partition, written atomically -- Parquet for tables, JSON for
documents (fitted encoders, model metadata, metrics), so everything stored is inspectable.

`base_dir` is a local directory or an `s3://bucket/prefix`; keys read the same in both:
`<asset>/<partition>.parquet|json` (e.g. `cleaned_monthly/2022-01.parquet`).

Two kinds of partitioned assets:
- Monthly assets (and any partitions a single run may cover as a range) hand over and receive a
  mapping {partition key: value}, whether a run covers one partition or many, so single-run
  backfills store every partition separately and downstream code never special-cases "exactly
  one upstream partition". Tables are received as `MonthFrames` (read from the store when
  accessed, month_frames.py) and may be handed over as one (a `MonthSpill`'s).
- Vintage assets (`value_partitions`: one partition per run) hand over and receive the value
  itself, typed: a DataFrame, a JSON document (dict), or a class with `to_json()` and a
  `from_json()` classmethod (`FeatureState`, `ModelArtifact`, `Publication`), rebuilt from the
  type the consumer declares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import dagster as dg
import pandas as pd
from pydantic import Field

from housing_assets.resources.month_frames import MonthFrames, from_parquet, to_parquet
from housing_core.storage import store_for

SUFFIXES = (".parquet", ".json")


class Available(MonthFrames):
    """{partition: value} of the upstream partitions that exist, and `missing`: those that were
    never materialized (a quarantined month, or one registered while this run started). Only a
    consumer that declares this type gets it -- it trains on what is healthy and reports the gaps;
    any other consumer of several partitions still fails on a missing one, naming it."""


class ParquetIOManager(dg.ConfigurableIOManager):
    base_dir: str = Field(
        description="Directory or s3://bucket/prefix under which <asset>/<partition>.<ext> live."
    )
    value_partitions: list[str] = Field(
        default=["vintage"],
        description="Dynamic partitions (by name) materialized one per run: their assets exchange "
        "the partition's value, not a {partition: value} dict.",
    )

    def _per_value(self, partitions_def) -> bool:
        return getattr(partitions_def, "name", None) in self.value_partitions

    def _store(self):
        return store_for(self.base_dir)

    @staticmethod
    def _key(asset_key: dg.AssetKey, partition: str | None, suffix: str) -> str:
        path = "/".join(asset_key.path)
        return f"{path}/{partition}{suffix}" if partition else f"{path}{suffix}"

    def _where(self, key: str) -> str:
        return f"{self._store().describe()}/{key}"

    def _existing(self, store, asset_key: dg.AssetKey, partition: str | None) -> str | None:
        for suffix in SUFFIXES:
            key = self._key(asset_key, partition, suffix)
            if store.exists(key):
                return key
        return None

    def stored(self, asset: str, partition: str):
        """One stored partition's value, or None if it was never written (for a check that
        compares a month with the one before)."""
        store = self._store()
        key = self._existing(store, dg.AssetKey(asset), partition)
        return None if key is None else _decode(key, store.read(key))

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        store = self._store()
        if context.has_asset_partitions and self._per_value(context.asset_partitions_def):
            partition = context.asset_partition_key  # raises if a run covers several
            key = self._key(context.asset_key, partition, _suffix(obj))
            store.write(key, _encode(obj))
            context.add_output_metadata({"path": dg.MetadataValue.path(self._where(key))})
        elif context.has_asset_partitions:
            keys = list(context.asset_partition_keys)
            if not isinstance(obj, Mapping) or sorted(obj) != sorted(keys):
                got = sorted(obj) if isinstance(obj, Mapping) else type(obj).__name__
                raise TypeError(
                    f"{context.asset_key.to_user_string()}: expected one frame per partition {keys}, got {got}"
                )
            for partition in keys:
                if isinstance(obj, MonthFrames):  # already Parquet: stored as is, one at a time
                    key = self._key(context.asset_key, partition, ".parquet")
                    store.write(key, obj.encoded(partition))
                    continue
                key = self._key(context.asset_key, partition, _suffix(obj[partition]))
                store.write(key, _encode(obj[partition]))
            folder = self._where("/".join(context.asset_key.path))  # <asset>/ holds every partition
            context.add_output_metadata(
                {"partitions_written": len(keys), "path": dg.MetadataValue.path(folder)}
            )
        else:
            key = self._key(context.asset_key, None, _suffix(obj))
            store.write(key, _encode(obj))
            context.add_output_metadata({"path": dg.MetadataValue.path(self._where(key))})

    def load_input(self, context: dg.InputContext):
        asset_key, store = context.asset_key, self._store()
        if context.has_asset_partitions and self._per_value(context.asset_partitions_def):
            partition = context.asset_partition_key
            key = self._existing(store, asset_key, partition)
            if key is None:
                raise FileNotFoundError(
                    f"{asset_key.to_user_string()} partition {partition} was never materialized "
                    f"(nothing at {self._where(self._key(asset_key, partition, '.*'))})"
                )
            return _decode(key, store.read(key), _declared(context))
        if context.has_asset_partitions:
            found: dict[str, str] = {}
            missing = []
            tolerate = context.dagster_type.typing_type is Available
            for partition in context.asset_partition_keys:
                key = self._existing(store, asset_key, partition)
                if key is None and tolerate:
                    missing.append(partition)
                    continue
                if key is None:
                    raise FileNotFoundError(
                        f"{asset_key.to_user_string()} partition {partition} was never materialized "
                        f"(nothing at {self._where(self._key(asset_key, partition, '.*'))})"
                    )
                found[partition] = key
            if _wants_dict(context) or any(not k.endswith(".parquet") for k in found.values()):
                # A consumer that declares a dict gets one (Dagster checks the type): every
                # partition decoded now, as before months were read on access.
                return {p: _decode(k, store.read(k)) for p, k in found.items()}
            # Tables: read on access, one at a time (a range run's months are the whole panel).
            months = Available if tolerate else MonthFrames
            return months(lambda p: store.read(found[p]), found, missing)
        key = self._existing(store, asset_key, None)
        if key is None:
            raise FileNotFoundError(
                f"{asset_key.to_user_string()} was never materialized "
                f"({self._where(self._key(asset_key, None, '.*'))})"
            )
        return _decode(key, store.read(key))


def _wants_dict(context: dg.InputContext) -> bool:
    """Does the consumer declare a plain `dict` (or `dict[...]`), which Dagster type-checks?"""
    typing_type = context.dagster_type.typing_type
    return typing_type is dict or getattr(typing_type, "__origin__", None) is dict


def _declared(context: dg.InputContext) -> type | None:
    """The type the consumer declares (an asset's parameter annotation, or `python_type=` of
    `Definitions.load_asset_value`), when it can be rebuilt from JSON."""
    typing_type = context.dagster_type.typing_type
    return typing_type if hasattr(typing_type, "from_json") else None


def _suffix(value) -> str:
    if isinstance(value, pd.DataFrame):
        return ".parquet"
    if isinstance(value, dict) or hasattr(value, "to_json"):
        return ".json"
    raise TypeError(
        f"can store DataFrames (Parquet), dicts and documents with to_json() (JSON), "
        f"not {type(value).__name__}"
    )


def _encode(value) -> bytes:
    if isinstance(value, pd.DataFrame):
        return to_parquet(value)
    if not isinstance(value, dict):
        return value.to_json().encode()
    return json.dumps(value, indent=1, sort_keys=True, default=_jsonable).encode()


def _decode(key: str, data: bytes, declared: type | None = None):
    if key.endswith(".parquet"):
        return from_parquet(data)
    if declared is not None and hasattr(declared, "from_json"):
        return declared.from_json(data.decode())
    return json.loads(data)


def _jsonable(value):
    """numpy scalars and timestamps in metadata-like documents."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
