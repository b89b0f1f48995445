"""A prediction request's body, from bytes to validated rows, at a cost bounded by the body.

Validating a whole body in one pass costs memory per *error*, not per byte: 10,000 empty rows
(30 KB) make 360,000 "missing field" errors and ~370 MB; a few hundred KB froze the event loop
for seconds and 32 MB killed the process. So, in order:

1. **Structural bounds** on the raw bytes (C-speed counts, no parsing): a row is a JSON object,
   so more `{` than `max_rows + 1` is too many rows (413); more `:` than a row's fields allow is
   too many keys (422). Both are counted outside strings (an id may hold `{` or `:`), so they
   are exact for any valid request: the row schema nests no objects.
2. **One validating pass** (`PredictRequest`, rows `FailFast`): as fast as before for a valid
   body, and it stops at the first invalid row.
3. Only for an invalid body, **errors located** for the client: the envelope parsed, then the
   rows validated in chunks of `CHUNK`; the first chunk with errors ends it and at most
   `MAX_ERRORS` are reported, each naming its row. Memory stays bounded by a chunk.

A CSV upload (`parse_csv`) becomes the same rows -- one dict per line, header names as keys, an
empty cell as null -- and goes through the same row schema, so both routes accept and refuse
exactly the same values with the same messages (text cells are parsed as pydantic parses a JSON
string: "75013" is a zip code, "" is not a date).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from housing_serving.schemas import OPTIONAL, HouseTSRow, PredictRequest, ValidRow
from housing_serving.service import InputError

CHUNK = 256
MAX_ERRORS = 50
FIELDS_PER_ROW = len(HouseTSRow.__annotations__)  # the contract's columns and `id`
COLONS_PER_ROW = FIELDS_PER_ROW  # one per key: strings are left out of the count
STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')  # a JSON string literal, escapes included

ALLOWED = frozenset(HouseTSRow.__annotations__)
REQUIRED = [name for name in HouseTSRow.__annotations__ if name not in OPTIONAL | {"id"}]


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: list[dict[str, Any]] = Field(min_length=1)
    explain: bool = False


_ROWS = TypeAdapter(list[ValidRow])


def check_shape(body: bytes, max_rows: int) -> None:
    """Refuse a body whose rows or keys exceed what any valid request has, before parsing."""
    objects, colons = body.count(b"{"), body.count(b":")
    if objects - 1 > max_rows or colons > (objects + 1) * COLONS_PER_ROW:
        # Over a bound: counted again outside strings, where an id may hold either character.
        # No copy of the body: each string's characters are counted where they lie.
        inside_objects = inside_colons = 0
        for string in STRINGS.finditer(body):
            start, end = string.span()
            inside_objects += body.count(b"{", start, end)
            inside_colons += body.count(b":", start, end)
        objects, colons = objects - inside_objects, colons - inside_colons
    if objects - 1 > max_rows:
        raise HTTPException(
            413, detail=f"more than {max_rows:,} rows; the limit is {max_rows:,} per request"
        )
    if colons > (objects + 1) * COLONS_PER_ROW:
        raise HTTPException(
            422,
            detail=f"too many fields: a row has at most {FIELDS_PER_ROW} "
            "(the contract's columns and `id`)",
        )


def _invalid(errors: list[Any], offset: int | None = 0) -> RequestValidationError:
    """The first MAX_ERRORS errors, located in the request (`rows`, its index, the field)."""
    located = []
    for err in errors[:MAX_ERRORS]:
        loc = tuple(err.get("loc", ()))
        if offset is not None and loc and isinstance(loc[0], int):
            loc = ("rows", loc[0] + offset, *loc[1:])
        located.append({**err, "loc": loc})
    return RequestValidationError(located)


def parse(body: bytes, max_rows: int) -> PredictRequest:
    """Bytes -> validated request; `HTTPException` 413/422 or `RequestValidationError` if not."""
    check_shape(body, max_rows)
    try:
        parsed = PredictRequest.model_validate_json(body)
    except ValidationError as exc:  # FailFast: one row's errors at most
        raise located_errors(body) or _invalid(exc.errors(include_url=False), None) from None
    if len(parsed.rows) > max_rows:  # the shape check counts objects; this is the exact count
        raise HTTPException(
            413, detail=f"{len(parsed.rows):,} rows; the limit is {max_rows:,} per request"
        )
    return parsed


def located_errors(body: bytes) -> RequestValidationError | None:
    """Up to MAX_ERRORS errors of an invalid body, each naming its row and field (None if the
    chunks find none: the caller reports the one-pass errors)."""
    try:
        envelope = _Envelope.model_validate_json(body)
    except ValidationError as exc:
        return _invalid(exc.errors(include_url=False), offset=None)
    return row_errors(envelope.rows)


def row_errors(rows: list[dict[str, Any]]) -> RequestValidationError | None:
    """The first chunk's errors among `rows`, located, or None if every row is valid."""
    for start in range(0, len(rows), CHUNK):
        try:
            _ROWS.validate_python(rows[start : start + CHUNK])
        except ValidationError as exc:
            return _invalid(exc.errors(include_url=False), offset=start)
    return None


MAX_CSV_LINE = 64 * 1024


def _longest_line(body: bytes) -> int:
    """The longest line's length in bytes (the caller bounded the number of lines)."""
    longest, start = 0, 0
    while (end := body.find(b"\n", start)) != -1:
        longest, start = max(longest, end - start), end + 1
    return max(longest, len(body) - start)


def _decoded(lines: list[bytes]) -> Iterator[str]:
    for line in lines:
        yield line.decode("utf-8")


def _csv_error(message: str, row: int | None = None) -> InputError:
    return InputError([{"row": row, "field": None, "message": message}])


def parse_csv(body: bytes, max_rows: int) -> tuple[PredictRequest, list[Any]]:
    """A CSV upload -> the JSON route's validated request, and each row's id (its `id` cell, or
    its position). 413 beyond `max_rows`; 422 naming the line, column or value otherwise."""
    if body.count(b"\n") > 2 * (max_rows + 1):  # a line is a row (quoted newlines aside)
        raise HTTPException(
            413, detail=f"more than {max_rows:,} rows; the limit is {max_rows:,} per request"
        )
    longest = _longest_line(body)
    if longest > MAX_CSV_LINE:
        raise _csv_error(
            f"not a readable CSV: a line of {longest:,} bytes (a HouseTS row is ~300; the limit "
            f"is {MAX_CSV_LINE:,})"
        )
    raw = body.splitlines(keepends=True)
    if raw and raw[0].startswith(b"\xef\xbb\xbf"):
        raw[0] = raw[0][3:]  # a byte-order mark, as spreadsheets write it
    try:
        lines = [line for line in csv.reader(_decoded(raw), strict=True) if line]
    except csv.Error as exc:
        raise _csv_error(f"not a readable CSV: {exc}") from None
    except UnicodeDecodeError as exc:
        raise _csv_error(f"not a readable CSV: not UTF-8 text ({exc.reason})") from None
    del raw
    if not lines:
        raise _csv_error("not a readable CSV: the upload is empty")
    header, cells = [name.strip() for name in lines[0]], lines[1:]
    if not cells:
        raise _csv_error("the CSV has no rows")
    if len(cells) > max_rows:
        raise HTTPException(
            413, detail=f"{len(cells):,} rows; the limit is {max_rows:,} per request"
        )
    twice = sorted(name for name, n in Counter(header).items() if n > 1)
    if twice:
        raise _csv_error(f"columns appear more than once in the header: {twice}")
    missing = [name for name in REQUIRED if name not in header]
    unknown = [name for name in header if name not in ALLOWED]
    problems = []  # the JSON route refuses such rows too; here said once, for the header
    if missing:
        problems.append(f"missing columns {missing}")
    if unknown:
        problems.append(f"unknown columns {unknown} (allowed: the contract's and `id`)")
    if problems:
        raise _csv_error("; ".join(problems))
    width = len(header)
    rows = []
    for i, line in enumerate(cells):
        if len(line) != width:
            raise _csv_error(f"row {i}: {len(line)} cells; the header has {width} columns", row=i)
        rows.append(
            {
                name: (value if value.strip() else None)
                for name, value in zip(header, line, strict=True)
            }
        )
    del lines, cells
    try:
        parsed = PredictRequest.model_validate({"rows": rows})
    except ValidationError as exc:  # FailFast: one row's errors; locate up to MAX_ERRORS
        raise row_errors(rows) or _invalid(exc.errors(include_url=False), None) from None
    ids = [r.get("id") for r in parsed.rows] if "id" in header else list(range(len(rows)))
    return parsed, ids
