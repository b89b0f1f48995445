"""Parquet storage for assets: one file per partition, written atomically.

Partitioned assets hand over (and receive) a dict {partition key: DataFrame}, whether a run
covers one month or all of them, so single-run backfills of partition ranges store every
partition separately and downstream code never special-cases "exactly one upstream partition".
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field


class ParquetIOManager(dg.ConfigurableIOManager):
    base_dir: str = Field(description="Directory under which <asset>/<partition>.parquet live.")

    def _path(self, asset_key: dg.AssetKey, partition: str | None) -> Path:
        root = Path(self.base_dir).joinpath(*asset_key.path)
        return root / f"{partition}.parquet" if partition else root.with_suffix(".parquet")

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
                _write_atomic(obj[key], self._path(context.asset_key, key))
            context.add_output_metadata(
                {
                    "partitions_written": len(keys),
                    "path": dg.MetadataValue.path(
                        str(self._path(context.asset_key, keys[0]).parent)
                    ),
                }
            )
        else:
            path = self._path(context.asset_key, None)
            _write_atomic(obj, path)
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext):
        key = context.asset_key
        if context.has_asset_partitions:
            out = {}
            for partition in context.asset_partition_keys:
                path = self._path(key, partition)
                if not path.exists():
                    raise FileNotFoundError(
                        f"{key.to_user_string()} partition {partition} was never materialized ({path})"
                    )
                out[partition] = pd.read_parquet(path)
            return out
        path = self._path(key, None)
        if not path.exists():
            raise FileNotFoundError(f"{key.to_user_string()} was never materialized ({path})")
        return pd.read_parquet(path)


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write beside the target, then rename: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
