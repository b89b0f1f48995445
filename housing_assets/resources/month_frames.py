"""Months handed between monthly assets one at a time: memory bounded by a month, not the panel.

A range run covers every month (142 at once on a first ingest, 4.4 M rows at 5x scale). Held as
DataFrames, the producing asset, its IO manager, each check and the next asset would each keep
the whole panel; as Parquet bytes read back on access, each keeps the month it is looking at.

- `MonthSpill`: where a producing asset writes each month as it is made (a temporary directory,
  removed with the last reference to it); its `frames()` is the asset's output.
- `MonthFrames`: a read-only {month: DataFrame} mapping whose frames are decoded from Parquet
  bytes on every access (never cached): what the IO manager hands to consumers, and what a spill
  hands to the IO manager (which stores the bytes without decoding them).
"""

from __future__ import annotations

import io
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import pandas as pd


def to_parquet(frame: pd.DataFrame) -> bytes:
    """The stored form of a table (its attrs travel in Parquet's pandas metadata)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    release_arrow_memory()
    return buffer.getvalue()


def from_parquet(data: bytes) -> pd.DataFrame:
    frame = pd.read_parquet(io.BytesIO(data))
    release_arrow_memory()
    return frame


def release_arrow_memory() -> None:
    """Arrow's allocator (mimalloc) keeps what an encode or decode freed, for reuse, for the life
    of the process: after a large decode, close to half of what stays resident is Arrow's free
    memory. In a run that reads the splits in every step, that grows with every step until the
    fit itself has no room; handed back, it does not."""
    import pyarrow as pa  # loaded by the Parquet call before this

    pa.default_memory_pool().release_unused()


class MonthFrames(Mapping[str, pd.DataFrame]):
    """{month: frame}, each frame decoded from `read(month)` when it is accessed. `missing`: the
    months asked for that were never materialized (see `io_manager.Available`)."""

    def __init__(
        self,
        read: Callable[[str], bytes],
        months: Iterable[str],
        missing: Iterable[str] = (),
    ):
        self._read = read
        self._months = list(months)
        self._known = set(self._months)
        self.missing = sorted(missing)

    def encoded(self, month: str) -> bytes:
        """The month's Parquet bytes, as stored (no decode)."""
        if month not in self._known:
            raise KeyError(month)
        return self._read(month)

    def __getitem__(self, month: str) -> pd.DataFrame:
        return from_parquet(self.encoded(month))

    def __contains__(self, month: object) -> bool:
        return month in self._known

    def __iter__(self) -> Iterator[str]:
        return iter(self._months)

    def __len__(self) -> int:
        return len(self._months)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} months, {len(self.missing)} missing)"


class MonthSpill:
    """Months written one by one to a private temporary directory, read back as `MonthFrames`.
    The directory goes when neither the spill nor any `MonthFrames` of it is referenced."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="housing-months-"))
        self._months: list[str] = []
        weakref.finalize(self, shutil.rmtree, self.dir, True)

    def put(self, month: str, frame: pd.DataFrame) -> None:
        if month in self._months:
            raise ValueError(f"month {month} was already written to this spill")
        (self.dir / f"{month}.parquet").write_bytes(to_parquet(frame))
        self._months.append(month)

    def _read(self, month: str) -> bytes:
        return (self.dir / f"{month}.parquet").read_bytes()

    def frames(self) -> MonthFrames:
        return MonthFrames(self._read, self._months)
