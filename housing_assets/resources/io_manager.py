"""Asset storage: one file per partition, written atomically -- Parquet for tables, JSON for
documents (fitted encoders, model metadata, metrics), so everything stored is inspectable.

Partitioned assets hand over (and receive) a dict {partition key: value}, whether a run covers
one partition or many, so single-run backfills of partition ranges store every partition
separately and downstream code never special-cases "exactly one upstream partition".
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field


class ParquetIOManager(dg.ConfigurableIOManager):
    base_dir: str = Field(description="Directory under which <asset>/<partition>.parquet live.")

    def _path(
        self, asset_key: dg.AssetKey, partition: str | None, suffix: str = ".parquet"
    ) -> Path:
        root = Path(self.base_dir).joinpath(*asset_key.path)
        return root / f"{partition}{suffix}" if partition else root.with_suffix(suffix)

    def _existing(self, asset_key: dg.AssetKey, partition: str | None) -> Path | None:
        for suffix in (".parquet", ".json"):
            path = self._path(asset_key, partition, suffix)
            if path.exists():
                return path
        return None

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        if context.has_asset_partitions:
            keys = list(context.asset_partition_keys)
            if not isinstance(obj, dict) or sorted(obj) != sorted(keys):
                got = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
                raise TypeError(
                    f"{context.asset_key.to_user_string()}: expected one frame per partition {keys}, got {got}"
                )
            for key in keys:
                _write_atomic(obj[key], self._path(context.asset_key, key, _suffix(obj[key])))
            context.add_output_metadata(
                {
                    "partitions_written": len(keys),
                    "path": dg.MetadataValue.path(
                        str(self._path(context.asset_key, keys[0]).parent)
                    ),
                }
            )
        else:
            path = self._path(context.asset_key, None, _suffix(obj))
            _write_atomic(obj, path)
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext):
        key = context.asset_key
        if context.has_asset_partitions:
            out = {}
            for partition in context.asset_partition_keys:
                path = self._existing(key, partition)
                if path is None:
                    raise FileNotFoundError(
                        f"{key.to_user_string()} partition {partition} was never materialized "
                        f"(nothing under {self._path(key, partition).parent})"
                    )
                out[partition] = _read(path)
            return out
        path = self._existing(key, None)
        if path is None:
            raise FileNotFoundError(
                f"{key.to_user_string()} was never materialized ({self._path(key, None)})"
            )
        return _read(path)


def _suffix(value) -> str:
    if isinstance(value, pd.DataFrame):
        return ".parquet"
    if isinstance(value, dict):
        return ".json"
    raise TypeError(f"can store DataFrames (Parquet) and dicts (JSON), not {type(value).__name__}")


def _read(path: Path):
    return pd.read_parquet(path) if path.suffix == ".parquet" else json.loads(path.read_text())


def _write_atomic(value, path: Path) -> None:
    """Write beside the target, then rename: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if isinstance(value, pd.DataFrame):
            value.to_parquet(tmp, index=False)
        else:
            Path(tmp).write_text(json.dumps(value, indent=1, sort_keys=True, default=_jsonable))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _jsonable(value):
    """numpy scalars and timestamps in metadata-like documents."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
