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
import datetime as dt
import functools
import gzip
import hashlib
import io
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from housing_core import contract as c
from housing_core.synthetic import SyntheticMonths, SyntheticSpec, generate_months

MONTH_IN_NAME = re.compile(r"(\d{4}-\d{2})\.(csv|csv\.gz|parquet)$")
TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
ANY_MONTH = re.compile(r"(?<!\d)\d{4}-\d{1,2}(?!\d)")  # a name that looks meant for a month
EARLIEST_YEAR = 1990  # HouseTS begins 2012-03; older Redfin history exists, nothing before 1990


@dataclass(frozen=True)
class LandingLimits:
    """What one delivered monthly file may cost to read. A HouseTS month is ~2 MB of CSV (6k zips
    of ~300-byte rows), so both limits are generous; beyond them the month fails, named, before
    pandas holds anything. The single-table layout (the whole published file) is not limited."""

    max_file_bytes: int = 256 << 20  # after decompression
    max_line_bytes: int = 64 << 10

    def describe_file(self) -> str:
        return f"{self.max_file_bytes >> 20} MB"

    def describe_line(self) -> str:
        return f"{self.max_line_bytes >> 10} KB"


@dataclass(frozen=True)
class Landing:
    """What a landing directory (or S3 prefix) holds, every entry accounted for: month -> its
    file name(s); the names refused, each with its reason (a delivery gone wrong: warned about);
    and the names that are not data, each saying so (a README, a hidden file, a sub-folder:
    listed, not warned about). A month with two files is kept with both, so loading it fails
    naming both (nothing is ingested for it) instead of one being picked by sort order."""

    files: dict[str, list[str]]
    refused: list[str] = field(default_factory=list)
    not_data: list[str] = field(default_factory=list)

    @classmethod
    def index(
        cls, names: Iterable[str], today: dt.date | None = None, folders: Iterable[str] = ()
    ) -> Landing:
        today = today or dt.datetime.now(dt.UTC).date()
        files: dict[str, list[str]] = {}
        refused: list[str] = []
        not_data = [
            f"{name}/: a folder (month files are read from the landing area itself)"
            for name in sorted(folders)
        ]
        for name in sorted(names):
            base = name.rsplit("/", 1)[-1]
            if base.startswith("."):
                not_data.append(f"{name}: a hidden file")
                continue
            if not base.endswith(TABLE_SUFFIXES):
                if ANY_MONTH.search(base):
                    refused.append(
                        f"{name}: named for a month, but not a table this platform reads "
                        f"(a month is {' / '.join(TABLE_SUFFIXES)}, in lower case)"
                    )
                else:
                    not_data.append(f"{name}: not a table ({' / '.join(TABLE_SUFFIXES)})")
                continue
            match = MONTH_IN_NAME.search(base)
            if not match:
                refused.append(f"{name}: no YYYY-MM month in its name (e.g. 2012-03.csv)")
                continue
            month = match.group(1)
            problem = month_name_problem(month, today)
            if problem:
                refused.append(f"{name}: {problem}")
                continue
            files.setdefault(month, []).append(name)
        return cls(files, refused, not_data)

    def months(self) -> list[str]:
        return sorted(self.files)

    def only_file(self, month: str, where: str) -> str:
        """The one file of `month`; a ContractError naming every file when there are several."""
        names = self.files.get(month)
        if not names:
            raise c.ContractError(f"{where}: no file for month {month}")
        if len(names) > 1:
            raise c.ContractError(
                f"{where}: month {month} has {len(names)} files ({', '.join(names)}); "
                f"nothing was ingested for {month}: keep exactly one and it lands on the next run"
            )
        return names[0]


def month_name_problem(month: str, today: dt.date) -> str | None:
    """Why 'YYYY-MM' taken from a file name is not a month we can ingest, or None."""
    year, number = int(month[:4]), int(month[5:])
    if not 1 <= number <= 12:
        return f"'{month}' is not a month (MM must be 01-12)"
    if year < EARLIEST_YEAR:
        return f"'{month}' is before {EARLIEST_YEAR}"
    if (year, number) > (today.year, today.month):
        return f"'{month}' is in the future (today is {today:%Y-%m})"
    return None


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

    def iter_months(self, months: Iterable[str]) -> Iterator[MonthLoad]:
        """The requested months one at a time, for a reader that keeps one month in memory.
        Default: all at once (a single table is read whole anyway); sources that hold months
        apart (monthly files, the synthetic panel) load each when it is reached."""
        yield from self.load_months(list(months)).values()

    def describe(self) -> str:
        return type(self).__name__

    def refused(self) -> list[str]:
        """Delivered files that were not taken as months, each with the reason (a landing area's
        misnamed files); shown by the new-data sensor and `housing run`."""
        return []

    def not_data(self) -> list[str]:
        """A landing area's entries that are not data (a README, a hidden file, a folder), each
        saying what it is: listed by `housing run` and the new-data sensor, never warned about."""
        return []

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


def _read_table(data, suffix: str, name: str, limits: LandingLimits | None = None) -> pd.DataFrame:
    """`data`: a path or a BytesIO. Raises ContractError naming the file when it cannot be read,
    was cut short, or (with `limits`) is larger or has longer lines than a month can have."""
    try:
        if limits is not None:
            data = _within_limits(data, suffix, name, limits)
            suffix = ".csv" if suffix == ".csv.gz" else suffix
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


BLOCK = 1 << 20


def _within_limits(data, suffix: str, name: str, limits: LandingLimits):
    """Check a monthly file against `limits` reading one block at a time, so an oversized file,
    a decompression bomb or a file without newlines fails fast at a bounded cost. Returns what
    the reader should read: the same path, or the decompressed bytes of a .csv.gz."""
    if suffix == ".parquet":
        _parquet_within_limits(data, name, limits)
        return data
    if suffix == ".csv.gz":
        source = data.open("rb") if isinstance(data, Path) else data
        with gzip.open(source, "rb") as stream:
            out = io.BytesIO()
            for block in _scanned(_blocks(stream), name, limits):
                out.write(block)
        if isinstance(data, Path):
            source.close()
        out.seek(0)
        return out
    handle = data.open("rb") if isinstance(data, Path) else data
    try:
        for _ in _scanned(_blocks(handle), name, limits):
            pass
    finally:
        if isinstance(data, Path):
            handle.close()
        else:
            handle.seek(0)
    return data


def _blocks(handle) -> Iterator[bytes]:
    return iter(lambda: handle.read(BLOCK), b"")


def _scanned(blocks: Iterable[bytes], name: str, limits: LandingLimits) -> Iterator[bytes]:
    """Yield `blocks` while checking the total size and the longest line."""
    total = 0
    run = 0  # length of the line still open at the end of the previous block
    for block in blocks:
        total += len(block)
        if total > limits.max_file_bytes:
            raise c.ContractError(
                f"{name}: larger than {limits.describe_file()} (a month of HouseTS is ~2 MB); "
                f"not read: split it by month or raise the source's max_file_mb"
            )
        first = block.find(b"\n")
        if first < 0:
            run += len(block)
            longest = run
        else:
            last = block.rfind(b"\n")
            inner = max(map(len, block[first + 1 : last].split(b"\n")), default=0)
            longest = max(run + first, inner)
            run = len(block) - last - 1
            longest = max(longest, run)
        if longest > limits.max_line_bytes:
            raise c.ContractError(
                f"{name}: a line longer than {limits.describe_line()} within the first "
                f"{total:,} bytes (a HouseTS row is ~300 bytes): not a row-per-line CSV; not read"
            )
        yield block


def _parquet_within_limits(data, name: str, limits: LandingLimits) -> None:
    import pyarrow.parquet as pq

    size = data.stat().st_size if isinstance(data, Path) else data.getbuffer().nbytes
    meta = pq.ParquetFile(data).metadata
    if not isinstance(data, Path):
        data.seek(0)
    unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if max(size, unpacked) > limits.max_file_bytes:
        raise c.ContractError(
            f"{name}: {max(size, unpacked) >> 20} MB of data, more than "
            f"{limits.describe_file()} (a month of HouseTS is ~2 MB); not read"
        )


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
        return {load.month: load for load in self.iter_months(months)}

    def iter_months(self, months: Iterable[str]) -> Iterator[MonthLoad]:
        panel = _synthetic_months(self.spec)
        for m in months:
            if m not in panel.keys:
                raise c.ContractError(f"{self.describe()}: no data for month {m}")
            yield MonthLoad(m, panel.month(m), [])

    def describe(self) -> str:
        return f"synthetic(seed={self.spec.seed}, scale={self.spec.scale})"


@lru_cache(maxsize=1)
def _synthetic_months(spec: SyntheticSpec) -> SyntheticMonths:
    """Generated once per process: the (zips x months) arrays, not the panel's rows."""
    return generate_months(spec)


def release_source_caches() -> None:
    """Forget the panels this process keeps for its next read (the synthetic arrays, ~1.2 GB at
    5x scale; a single-file source's months): `housing run` calls it once ingest is done, so
    training does not carry them."""
    _synthetic_months.cache_clear()
    _single_table_by_month.cache_clear()


def _pick(by_month: dict[str, pd.DataFrame], month: str, source: str) -> pd.DataFrame:
    if month not in by_month:
        raise c.ContractError(f"{source}: no data for month {month}")
    return by_month[month]


class FilePanelSource(PanelSource):
    """A local HouseTS file (CSV / CSV.gz / Parquet) or a directory of monthly files."""

    def __init__(self, path: str | Path, limits: LandingLimits | None = None):
        self.path = Path(path).expanduser()
        self.limits = limits or LandingLimits()
        if not self.path.exists():
            raise c.ContractError(f"source path {self.path} does not exist")

    def describe(self) -> str:
        return f"file({self.path})"

    def _landing(self) -> Landing:
        entries = list(self.path.iterdir())
        return Landing.index(
            (p.name for p in entries if p.is_file()),
            folders=(p.name for p in entries if not p.is_file()),
        )

    def months(self) -> list[str]:
        if self.path.is_dir():
            months = self._landing().months()
            if not months:
                raise c.ContractError(
                    f"{self.path}: no monthly files named like 2012-03.csv/.parquet"
                )
            return months
        return sorted(_single_table_by_month(self.path, self.path.stat().st_mtime_ns))

    def refused(self) -> list[str]:
        return self._landing().refused if self.path.is_dir() else []

    def not_data(self) -> list[str]:
        return self._landing().not_data if self.path.is_dir() else []

    def fingerprints(self) -> dict[str, str]:
        """sha256 of each monthly file's bytes (an empty landing directory has none yet); a
        month with several files gets a digest of all of them, so removing one is a change."""
        if self.path.is_file():
            digest = _file_digest(self.path, *_stamp(self.path))
            return {m: digest for m in self.months()}
        out = {}
        for month, names in self._landing().files.items():
            digests = [_file_digest(self.path / n, *_stamp(self.path / n)) for n in names]
            out[month] = digests[0] if len(digests) == 1 else _combined(names, digests)
        return out

    def load_months(self, months: Iterable[str]) -> dict[str, MonthLoad]:
        if self.path.is_file():
            by_month = _single_table_by_month(self.path, self.path.stat().st_mtime_ns)
            return {m: MonthLoad(m, _pick(by_month, m, self.describe()), []) for m in months}
        return {load.month: load for load in self.iter_months(months)}

    def iter_months(self, months: Iterable[str]) -> Iterator[MonthLoad]:
        if self.path.is_file():
            yield from super().iter_months(months)
            return
        landing = self._landing()
        for m in months:
            if m not in landing.files:
                raise c.ContractError(f"{self.describe()}: no file for month {m}")
            try:
                path = self.path / landing.only_file(m, str(self.path))
            except c.ContractError as exc:
                yield MonthLoad.unreadable(m, exc)
                continue
            reader = functools.partial(
                _read_table, path, _suffix(path.name), str(path), self.limits
            )
            yield MonthLoad.read(m, reader, str(path))


def _combined(names: list[str], digests: list[str]) -> str:
    return hashlib.sha256(
        "\n".join(f"{n}:{d}" for n, d in zip(names, digests, strict=True)).encode()
    ).hexdigest()


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

    def __init__(self, uri: str, client=None, limits: LandingLimits | None = None):
        if not uri.startswith("s3://"):
            raise c.ContractError(f"not an s3:// URI: {uri}")
        self.bucket, _, self.prefix = uri[5:].partition("/")
        self.uri = uri
        self.limits = limits or LandingLimits()
        self._client = client

    @property
    def client(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def describe(self) -> str:
        return f"s3({self.uri})"

    def _objects(self) -> dict[str, dict]:
        """Key -> its listing entry (Size, ETag) under the prefix."""
        objects = {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            objects.update({o["Key"]: o for o in page.get("Contents", [])})
        return objects

    def _is_single_object(self) -> bool:
        return self.prefix.endswith(TABLE_SUFFIXES)

    def _get(self, key: str, limits: LandingLimits | None = None, size: int = 0) -> pd.DataFrame:
        """Read one object; with `limits`, an object listed as larger is refused before it is
        downloaded."""
        name = f"s3://{self.bucket}/{key}"
        if limits is not None and size > limits.max_file_bytes:
            raise c.ContractError(
                f"{name}: {size >> 20} MB, more than {limits.describe_file()} "
                f"(a month of HouseTS is ~2 MB); not downloaded"
            )
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return _read_table(io.BytesIO(body), _suffix(key), name, limits)

    def _landing(self, objects: dict[str, dict] | None = None) -> Landing:
        return Landing.index(objects if objects is not None else self._objects())

    def months(self) -> list[str]:
        if self._is_single_object():
            return sorted(split_by_month(self._get(self.prefix), self.uri))
        return self._landing().months()

    def refused(self) -> list[str]:
        return [] if self._is_single_object() else self._landing().refused

    def not_data(self) -> list[str]:
        return [] if self._is_single_object() else self._landing().not_data

    def fingerprints(self) -> dict[str, str]:
        """Each monthly object's ETag (the content hash S3 keeps for it)."""
        if self._is_single_object():
            etag = self.client.head_object(Bucket=self.bucket, Key=self.prefix)["ETag"]
            return {m: etag.strip('"') for m in self.months()}
        objects = self._objects()
        out = {}
        for month, keys in self._landing(objects).files.items():
            etags = [objects[k]["ETag"].strip('"') for k in keys]
            out[month] = etags[0] if len(etags) == 1 else _combined(keys, etags)
        return out

    def load_months(self, months: Iterable[str]) -> dict[str, MonthLoad]:
        if self._is_single_object():
            by_month = split_by_month(self._get(self.prefix), self.uri)
            return {m: MonthLoad(m, _pick(by_month, m, self.describe()), []) for m in months}
        objects = self._objects()
        landing = self._landing(objects)
        out = {}
        for m in months:
            if m not in landing.files:
                raise c.ContractError(f"{self.describe()}: no object for month {m}")
            try:
                key = landing.only_file(m, self.uri)
            except c.ContractError as exc:
                out[m] = MonthLoad.unreadable(m, exc)
                continue
            name = f"s3://{self.bucket}/{key}"
            reader = functools.partial(self._get, key, self.limits, objects[key].get("Size", 0))
            out[m] = MonthLoad.read(m, reader, name)
        return out
