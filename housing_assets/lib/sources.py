"""Where HouseTS rows come from: the synthetic panel, local files, or S3 -- one interface.

A source answers two questions: which months do you have (`months`), and give me these months
(`load_months`, one frame per month, as delivered but mapped onto the contract's columns and cast
where castable: `contract.conform`, so a partial file such as a publisher's per-metro panel loads
too). Layouts understood by the file and S3 sources:
  * one big table: the published HouseTS CSV (optionally .gz) or a Parquet file;
  * a directory (prefix) of monthly files named like `2012-03.csv` / `housets_2012-03.parquet`.
No Dagster imports: the same readers serve the CLI, tests and (later) batch clients.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

import pandas as pd

from housing_assets.lib import contract as c
from housing_assets.lib.synthetic import SyntheticSpec, generate_panel

MONTH_IN_NAME = re.compile(r"(\d{4}-\d{2})\.(csv|csv\.gz|parquet)$")
TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


class MonthLoad:
    """One month as delivered: the frame plus what could not be cast to the contract."""

    def __init__(self, month: str, frame: pd.DataFrame, problems: list[str]):
        self.month, self.frame, self.problems = month, frame, problems

    @classmethod
    def unreadable(cls, month: str, error: c.ContractError) -> MonthLoad:
        """The file exists but cannot be read, or lacks a required column: the blocking contract
        check fails this month, naming the file, while the other months of the run proceed."""
        return cls(month, c.unreadable_frame(str(error)), [str(error)])

    @classmethod
    def read(cls, month: str, reader: Callable[[], pd.DataFrame], name: str) -> MonthLoad:
        """One month's file or object `name`, read by `reader` and conformed to the contract."""
        try:
            frame, problems = c.conform(reader(), source=name)
        except c.ContractError as exc:
            return cls.unreadable(month, exc)
        return cls(month, frame, problems)


class PanelSource(ABC):
    @abstractmethod
    def months(self) -> list[str]:
        """Available months as sorted 'YYYY-MM' keys."""

    @abstractmethod
    def load_months(self, months: Iterable[str]) -> dict[str, MonthLoad]:
        """The requested months; raises ContractError naming a month the source lacks."""

    def describe(self) -> str:
        return type(self).__name__

    def fingerprints(self) -> dict[str, str]:
        """Month -> a fingerprint of its content as delivered: a new month, or a month whose
        fingerprint changed, is what the new-data sensor ingests. Default: the source's own
        description (a seeded synthetic month never changes)."""
        return {m: self.describe() for m in self.months()}


def read_housets_csv(path_or_buffer, *, source: str | None = None) -> pd.DataFrame:
    """Read a HouseTS CSV and conform it to the contract, failing loudly on uncastable values."""
    name = source or str(path_or_buffer)
    frame, problems = c.conform(pd.read_csv(path_or_buffer), source=name)
    if problems:
        raise c.ContractError("; ".join(problems))
    return frame


def _read_table(data, suffix: str, name: str) -> pd.DataFrame:
    """`data`: a path or a BytesIO. Raises ContractError naming the file when it cannot be read
    or was cut short."""
    try:
        if suffix == ".parquet":
            return pd.read_parquet(data)
        if suffix == ".csv":
            _refuse_truncated_csv(*_first_and_last_line(data), name)
            return pd.read_csv(data)
        return pd.read_csv(data, compression="gzip")
    except c.ContractError:
        raise
    except Exception as exc:  # re-raised with the file named; nothing is swallowed
        raise c.ContractError(f"{name}: cannot be read as {suffix} ({exc})") from exc


TAIL_BYTES = 1 << 16  # far longer than any HouseTS row


def _first_and_last_line(data) -> tuple[bytes, bytes]:
    """The header and the last line of a CSV without reading the rest (a single-table source
    can be the whole 884k-row HouseTS file). A BytesIO is left at its start for the reader."""
    handle = data.open("rb") if isinstance(data, Path) else data
    try:
        header = handle.readline()
        handle.seek(0, io.SEEK_END)
        handle.seek(max(0, handle.tell() - TAIL_BYTES))
        tail = handle.read().rstrip(b"\r\n")
    finally:
        if isinstance(data, Path):
            handle.close()
        else:
            handle.seek(0)
    return header, tail[tail.rfind(b"\n") + 1 :]


def _refuse_truncated_csv(header: bytes, last: bytes, name: str) -> None:
    """pandas fills a short last line with NaN; a file cut mid-row (an interrupted upload or
    copy) must fail instead. A gzip or Parquet file cut short cannot be decoded at all."""
    if not header.strip() or last == header.rstrip(b"\r\n"):
        return  # empty, or a header only
    fields = [next(csv.reader([line.decode("utf-8", "replace")])) for line in (header, last)]
    if len(fields[1]) < len(fields[0]):
        raise c.ContractError(
            f"{name}: truncated: its last line has {len(fields[1])} of {len(fields[0])} fields "
            f"(the file ends mid-row)"
        )


def _suffix(name: str) -> str:
    return ".csv.gz" if name.endswith(".csv.gz") else Path(name).suffix


def split_by_month(frame: pd.DataFrame, source: str) -> dict[str, pd.DataFrame]:
    """A single table's months, each conformed; a missing key, target or metro fails the whole
    table loudly, naming `source` and the column."""
    frame, problems = c.conform(frame, source=source)
    if problems and any("'date'" in p for p in problems):
        raise c.ContractError(
            f"{source}: a single-table source needs a parseable 'date' column; {problems}"
        )
    keys = frame[c.DATE].dt.strftime("%Y-%m")
    out = {}
    for key, part in frame.groupby(keys, sort=True):
        out[key] = part.reset_index(drop=True)
        out[key].attrs = dict(frame.attrs)  # what the table did not report, for every month
    return out


class SyntheticPanelSource(PanelSource):
    def __init__(self, spec: SyntheticSpec):
        self.spec = spec

    def months(self) -> list[str]:
        return [
            str(p) for p in pd.period_range(self.spec.first_month, self.spec.last_month, freq="M")
        ]

    def load_months(self, months: Iterable[str]) -> dict[str, MonthLoad]:
        by_month = _synthetic_by_month(self.spec)
        return {m: MonthLoad(m, _pick(by_month, m, self.describe()), []) for m in months}

    def describe(self) -> str:
        return f"synthetic(seed={self.spec.seed}, scale={self.spec.scale})"


@lru_cache(maxsize=2)
def _synthetic_by_month(spec: SyntheticSpec) -> dict[str, pd.DataFrame]:
    panel = generate_panel(spec)
    keys = panel[c.DATE].dt.strftime("%Y-%m").to_numpy()
    # Rows are month-major, so each month is one contiguous slice.
    bounds = pd.Series(range(len(keys))).groupby(keys).agg(["min", "max"])
    return {m: panel.iloc[lo : hi + 1].reset_index(drop=True) for m, (lo, hi) in bounds.iterrows()}


def _pick(by_month: dict[str, pd.DataFrame], month: str, source: str) -> pd.DataFrame:
    if month not in by_month:
        raise c.ContractError(f"{source}: no data for month {month}")
    return by_month[month]


class FilePanelSource(PanelSource):
    """A local HouseTS file (CSV / CSV.gz / Parquet) or a directory of monthly files."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise c.ContractError(f"source path {self.path} does not exist")

    def describe(self) -> str:
        return f"file({self.path})"

    def _monthly_files(self) -> dict[str, Path]:
        files = {}
        for p in sorted(self.path.iterdir()):
            match = MONTH_IN_NAME.search(p.name)
            if match:
                files[match.group(1)] = p
        if not files:
            raise c.ContractError(f"{self.path}: no monthly files named like 2012-03.csv/.parquet")
        return files

    def months(self) -> list[str]:
        if self.path.is_dir():
            return sorted(self._monthly_files())
        return sorted(_single_table_by_month(self.path, self.path.stat().st_mtime_ns))

    def fingerprints(self) -> dict[str, str]:
        """sha256 of each monthly file's bytes (an empty landing directory has none yet)."""
        if self.path.is_file():
            digest = _file_digest(self.path, *_stamp(self.path))
            return {m: digest for m in self.months()}
        files = {}
        for p in sorted(self.path.iterdir()):
            match = MONTH_IN_NAME.search(p.name)
            if match and p.is_file():
                files[match.group(1)] = _file_digest(p, *_stamp(p))
        return files

    def load_months(self, months: Iterable[str]) -> dict[str, MonthLoad]:
        if self.path.is_file():
            by_month = _single_table_by_month(self.path, self.path.stat().st_mtime_ns)
            return {m: MonthLoad(m, _pick(by_month, m, self.describe()), []) for m in months}
        files = self._monthly_files()
        out = {}
        for m in months:
            if m not in files:
                raise c.ContractError(f"{self.describe()}: no file for month {m}")
            path = files[m]
            out[m] = MonthLoad.read(
                m, functools.partial(_read_table, path, _suffix(path.name), str(path)), str(path)
            )
        return out


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


@lru_cache(maxsize=4096)
def _file_digest(path: Path, _size: int, _mtime_ns: int) -> str:
    """Content hash, cached per (path, size, mtime): unchanged files are not re-read each tick."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=2)
def _single_table_by_month(path: Path, _mtime_ns: int) -> dict[str, pd.DataFrame]:
    return split_by_month(_read_table(path, _suffix(path.name), str(path)), str(path))


class S3PanelSource(PanelSource):
    """`s3://bucket/prefix`: a single HouseTS object or a prefix of monthly objects.

    boto3 honours AWS_ENDPOINT_URL_S3, so the same code talks to AWS or a local S3 server.
    """

    def __init__(self, uri: str, client=None):
        if not uri.startswith("s3://"):
            raise c.ContractError(f"not an s3:// URI: {uri}")
        self.bucket, _, self.prefix = uri[5:].partition("/")
        self.uri = uri
        self._client = client

    @property
    def client(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def describe(self) -> str:
        return f"s3({self.uri})"

    def _objects(self) -> list[str]:
        keys = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def _is_single_object(self) -> bool:
        return self.prefix.endswith(TABLE_SUFFIXES)

    def _get(self, key: str) -> pd.DataFrame:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return _read_table(io.BytesIO(body), _suffix(key), f"s3://{self.bucket}/{key}")

    def _monthly_keys(self) -> dict[str, str]:
        return {m.group(1): k for k in self._objects() if (m := MONTH_IN_NAME.search(k))}

    def months(self) -> list[str]:
        if self._is_single_object():
            return sorted(split_by_month(self._get(self.prefix), self.uri))
        return sorted(self._monthly_keys())

    def fingerprints(self) -> dict[str, str]:
        """Each monthly object's ETag (the content hash S3 keeps for it)."""
        if self._is_single_object():
            etag = self.client.head_object(Bucket=self.bucket, Key=self.prefix)["ETag"]
            return {m: etag.strip('"') for m in self.months()}
        etags = {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                if match := MONTH_IN_NAME.search(obj["Key"]):
                    etags[match.group(1)] = obj["ETag"].strip('"')
        return etags

    def load_months(self, months: Iterable[str]) -> dict[str, MonthLoad]:
        if self._is_single_object():
            by_month = split_by_month(self._get(self.prefix), self.uri)
            return {m: MonthLoad(m, _pick(by_month, m, self.describe()), []) for m in months}
        keys = self._monthly_keys()
        out = {}
        for m in months:
            if m not in keys:
                raise c.ContractError(f"{self.describe()}: no object for month {m}")
            name = f"s3://{self.bucket}/{keys[m]}"
            out[m] = MonthLoad.read(m, functools.partial(self._get, keys[m]), name)
        return out
