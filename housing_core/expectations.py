"""Great Expectations suites generated from the data contract, validated once per partition range.

Validating 142 monthly partitions one by one costs ~0.4 s each in GE's per-run overhead; instead
the months of a run are stacked into one frame with a `_month` column and validated together,
and every failing row is attributed back to its month through GE's
`unexpected_index_column_names`, so findings still read per partition. GE's pandas engine copies
the whole batch for each expectation's row filter, so column expectations run on narrow
per-column batches (the full 884k-row panel validates in seconds, not minutes).

Suites:
  * contract (blocking): the contract's columns in order (plus only the kept extras) and dtypes
    per month, non-null keys, valid zip codes, every row's date inside its partition's month;
  * columns reported (warning): the optional columns a partial source did not report, per month
    (the sources record them when they conform a file; no GE needed for that);
  * ranges (warning): plausible values from the contract, with HouseTS's 0.0 = "not reported"
    read as missing (an all-missing, not-reported column has nothing implausible); row count per
    month near the expected number of zips;
  * cleaned (blocking): unique (zipcode, date) and no value outside the plausible ranges.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd

from housing_core import contract as c
from housing_core.plausibility import price_jumps

MONTH = "_month"
MISSING = "<missing>"
ERROR, WARN = "ERROR", "WARN"
MAX_EXAMPLES = 5


@dataclass
class Finding:
    rule: str
    severity: str
    month_counts: dict[str, int]
    examples: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.month_counts.values())


@dataclass
class Outcome:
    suite: str
    months: list[str]
    findings: list[Finding]
    expectations: int

    def failed_months(self, severity: str = ERROR) -> list[str]:
        bad = {m for f in self.findings if f.severity == severity for m in f.month_counts}
        return sorted(bad)

    @property
    def passed(self) -> bool:
        return not self.failed_months(ERROR) and not self.failed_months(WARN)

    def markdown(self, limit: int = 25) -> str:
        if not self.findings:
            return f"All {self.expectations} expectations of `{self.suite}` hold on {len(self.months)} month(s)."
        lines = ["| rule | severity | rows | months | examples |", "|---|---|---|---|---|"]
        for f in sorted(self.findings, key=lambda f: (f.severity != ERROR, -f.total))[:limit]:
            months = sorted(f.month_counts)
            shown = ", ".join(months[:6]) + (
                f" (+{len(months) - 6} more)" if len(months) > 6 else ""
            )
            examples = "; ".join(f.examples[:3]).replace("|", "/")
            lines.append(f"| {f.rule} | {f.severity} | {f.total:,} | {shown} | {examples} |")
        return "\n".join(lines)

    def month_findings(self, month: str) -> list[str]:
        """What fails in one month, one readable line per rule."""
        lines = []
        for f in self.findings:
            if month in f.month_counts:
                example = next((e for e in f.examples if e.startswith(f"{month}:")), "")
                detail = f" e.g. {example.removeprefix(f'{month}:').strip()}" if example else ""
                lines.append(f"{f.rule} ({f.month_counts[month]:,} rows, {f.severity}){detail}")
        return lines

    def month_brief(self, month: str, names: int = 3) -> str:
        """What fails in one month in one short line: rules of one kind with the same row count
        are one entry naming their first few targets ("column_reported: a, b, c and 21 more")."""
        groups: dict[tuple[str, int, str], list[str]] = {}
        for f in self.findings:
            if month in f.month_counts:
                kind, _, target = f.rule.partition("[")
                key = (kind, f.month_counts[month], f.severity)
                groups.setdefault(key, []).append(target.rstrip("]"))
        parts = []
        for (kind, rows, severity), targets in groups.items():
            shown = ", ".join(t for t in targets[:names] if t)
            more = f" and {len(targets) - names} more" if len(targets) > names else ""
            label = f"{kind}: {shown}{more}" if shown else kind
            parts.append(
                f"{label} ({rows:,} rows{' each' if len(targets) > 1 else ''}, {severity})"
            )
        return "; ".join(parts)

    def month_table(self) -> str:
        """One line per failing month: which rules, how many rows."""
        per_month = {
            m: self.month_findings(m) for m in self.failed_months(ERROR) + self.failed_months(WARN)
        }
        if not per_month:
            return "No month has findings."
        rows = ["| month | findings |", "|---|---|"]
        rows += [f"| {m} | {'; '.join(v)} |" for m, v in sorted(per_month.items())]
        return "\n".join(rows)


# --- suites ----------------------------------------------------------------------------------


def _gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    import great_expectations.expectations as gxe

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    return gx, gxe


@cache
def _validation(name: str, column: str | None = None):
    """One GE validation definition per suite (and per column for the per-column suites)."""
    gx, gxe = _gx()
    ctx = _context()
    label = f"{name}:{column}" if column else name
    suite = gx.ExpectationSuite(name=label)
    factory = _SUITES[name]
    for expectation in factory(gxe, column) if column else factory(gxe):
        suite.add_expectation(expectation)
    suite = ctx.suites.add(suite)
    asset = ctx.data_sources.get("frames").add_dataframe_asset(label)
    batch = asset.add_batch_definition_whole_dataframe("all")
    return ctx.validation_definitions.add(
        gx.ValidationDefinition(name=label, data=batch, suite=suite)
    )


@cache
def _context():
    gx, _ = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    # Progress bars would flood the run logs once per expectation run.
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    ctx.data_sources.add_pandas("frames")
    return ctx


def _schema_suite(gxe):
    layouts = ["|".join(layout) for layout in c.allowed_layouts()]
    yield gxe.ExpectColumnValuesToBeInSet(column="columns", value_set=layouts)
    for col, dtype in c.DTYPES.items():
        yield gxe.ExpectColumnValuesToBeInSet(column=f"dtype:{col}", value_set=[dtype])
    for col, dtype in c.KEPT_EXTRAS.items():
        yield gxe.ExpectColumnValuesToBeInSet(column=f"dtype:{col}", value_set=[dtype, MISSING])


def _keys_suite(gxe):
    for col in c.KEYS:
        yield gxe.ExpectColumnValuesToNotBeNull(column=col)
    yield gxe.ExpectColumnValuesToBeBetween(column=c.ZIPCODE, min_value=501, max_value=99_950)
    yield gxe.ExpectColumnPairValuesToBeEqual(column_A="date_month", column_B="partition_month")


def _range_suite(gxe, column: str):
    rule = c.RANGES[column]
    yield gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=rule.low, max_value=rule.high, meta={"rule": rule.rule}
    )


def _row_count_suite(gxe):
    yield gxe.ExpectColumnValuesToBeBetween(column="rows_vs_expected", min_value=0.9, max_value=1.1)


def _unique_keys_suite(gxe):
    yield gxe.ExpectCompoundColumnsToBeUnique(column_list=c.KEYS)
    for col in c.KEYS:
        yield gxe.ExpectColumnValuesToNotBeNull(column=col)


def _present_suite(gxe, column: str):
    yield gxe.ExpectColumnValuesToNotBeNull(column=column)


# name -> a generator of expectations (given the gx expectations module, and a column for some)
_SUITES: dict[str, Callable[..., Iterator]] = {
    "schema": _schema_suite,
    "keys": _keys_suite,
    "range": _range_suite,
    "row_count": _row_count_suite,
    "unique_keys": _unique_keys_suite,
    "present": _present_suite,
}


def _run_at(
    name: str, frame: pd.DataFrame, severity: str, id_columns: list[str], column: str | None = None
) -> tuple[list[tuple[int, Finding]], int]:
    """Findings of suite `name` on `frame`, each with its expectation's position in the suite."""
    validation = _validation(name, column)
    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": id_columns}
    result = validation.run(batch_parameters={"dataframe": frame}, result_format=result_format)
    findings = []
    for position, r in enumerate(result.results):
        if r.success:
            continue
        cfg = r.expectation_config
        target = (
            cfg.kwargs.get("column")
            or cfg.kwargs.get("column_list")
            or (f"{cfg.kwargs.get('column_A')} == {cfg.kwargs.get('column_B')}")
        )
        rule = f"{cfg.type.removeprefix('expect_')}[{target}]"
        if r.exception_info.get("raised_exception"):
            msg = r.exception_info.get("exception_message") or "expectation raised"
            counts = frame[MONTH].astype(str).value_counts(sort=False)
            findings.append((position, Finding(rule, severity, counts.to_dict(), [msg])))
            continue
        rows = r.result.get("unexpected_index_list") or []
        counts = Counter(str(row[MONTH]) for row in rows)
        examples = [_example(row) for row in rows[:MAX_EXAMPLES]]
        findings.append((position, Finding(rule, severity, dict(counts), examples)))
    return findings, len(validation.suite.expectations)


def _run(
    name: str, frame: pd.DataFrame, severity: str, id_columns: list[str], column: str | None = None
) -> tuple[list[Finding], int]:
    findings, n = _run_at(name, frame, severity, id_columns, column)
    return [f for _, f in findings], n


class _Chunked:
    """Suite `name` (once per column of `columns`, or whole) run over a stream of chunks of
    whole months, findings merged as one run over all the rows reports them: each rule in the
    suite's order, its months' row counts, its first examples. Every stacked suite judges rows
    (or keys, which never span months), so whole-month chunks change no verdict -- and memory
    holds a chunk, not the panel."""

    def __init__(
        self, name: str, severity: str, id_columns: list[str], columns: list[str] | None = None
    ):
        self.name, self.severity, self.ids = name, severity, id_columns
        self.columns: list[str | None] = list(columns) if columns else [None]
        self.merged: dict[tuple[int, int], Finding] = {}
        self.expectations = 0

    def add(self, chunk: pd.DataFrame) -> None:
        # One small validation per column: GE's pandas engine copies every column of the batch
        # for each expectation's row filter, so narrow batches are ~10x faster.
        n = 0
        for i, col in enumerate(self.columns):
            frame = chunk[[*self.ids, col]] if col else chunk
            found, k = _run_at(self.name, frame, self.severity, self.ids, column=col)
            n += k
            for position, f in found:
                into = self.merged.setdefault((i, position), Finding(f.rule, f.severity, {}))
                for month, count in f.month_counts.items():
                    into.month_counts[month] = into.month_counts.get(month, 0) + count
                new = [e for e in f.examples if e not in into.examples]
                into.examples = (into.examples + new)[:MAX_EXAMPLES]
        self.expectations = n

    def result(self) -> tuple[list[Finding], int]:
        return [self.merged[k] for k in sorted(self.merged)], self.expectations


def _example(row: dict) -> str:
    parts = [f"{k}={_fmt(v)}" for k, v in row.items() if k != MONTH]
    return f"{row[MONTH]}: " + ", ".join(parts)


def _fmt(v) -> str:
    if isinstance(v, float | np.floating):
        return f"{v:.6g}"
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    return str(v)


CHUNK_ROWS = 300_000  # rows validated at once (whole months; at least one month)


def _chunks(
    frames: Mapping[str, pd.DataFrame], columns: list[str], sound_only: bool = False
) -> Iterator[pd.DataFrame]:
    """`columns` of every month (of those whose schema holds, with `sound_only`), stacked in
    chunks of whole months of about CHUNK_ROWS rows; each month is read once. An empty table
    when no month has rows (the suites still count their expectations)."""
    parts: list[pd.DataFrame] = []
    rows, sent = 0, False
    for m in frames:
        f = frames[m]
        if len(f) and not (sound_only and c.schema_problems(f)):
            parts.append(f[columns].assign(**{MONTH: m}))
            rows += len(f)
        del f
        if rows >= CHUNK_ROWS:
            yield pd.concat(parts, ignore_index=True)
            parts, rows, sent = [], 0, True
    if parts:
        yield pd.concat(parts, ignore_index=True)
    elif not sent:
        yield pd.DataFrame(columns=[*columns, MONTH])


# --- public API ---------------------------------------------------------------------------


class _Only(Mapping[str, pd.DataFrame]):
    """The months `keys` of `frames`, without touching a frame until it is asked for (frames
    may be read from storage on access: a dict comprehension would hold them all at once)."""

    def __init__(self, frames: Mapping[str, pd.DataFrame], keys: list[str]):
        self._frames, self._keys = frames, keys

    def __getitem__(self, month: str) -> pd.DataFrame:
        if month not in self._keys:
            raise KeyError(month)
        return self._frames[month]

    def __contains__(self, month: object) -> bool:
        return month in self._keys

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def schema_profile(frames: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, dict, dict]:
    """One row per month: its column list and each contract column's (and kept extra's) dtype
    ('<missing>' if absent); and, from the same single pass over the months, each month's row
    count and why it was unreadable (for the months that were)."""
    rows, counts, unreadable = [], {}, {}
    for month in frames:
        f = frames[month]
        row = {MONTH: month, "columns": "|".join(map(str, f.columns))}
        row.update(
            {
                f"dtype:{col}": str(f[col].dtype) if col in f.columns else MISSING
                for col in [*c.DTYPES, *c.KEPT_EXTRAS]
            }
        )
        rows.append(row)
        counts[month] = len(f)
        if reason := c.unreadable_reason(f):
            unreadable[month] = reason
    return pd.DataFrame(rows), counts, unreadable


def validate_contract(
    frames: Mapping[str, pd.DataFrame], previous: dict[str, pd.DataFrame] | None = None
) -> Outcome:
    """Blocking: schema and dtypes per month, then keys and dates on the months whose schema
    holds, then prices plausible next to the month before (in this run, or `previous`: month ->
    the stored cleaned month before it)."""
    months = sorted(frames)
    profile, rows_by_month, unreadable = schema_profile(frames)
    findings, n = _run("schema", profile, ERROR, [MONTH, "columns"])
    for f in findings:  # the profile's 'columns' value is long; say what differs instead
        f.examples = [f"{m}: {_schema_diff(frames[m])}" for m in sorted(f.month_counts)]
        f.examples = f.examples[:MAX_EXAMPLES]
    broken = {m for f in findings for m in f.month_counts}
    sound = _Only(frames, [m for m in rows_by_month if m not in broken and rows_by_month[m]])
    more: list[Finding] = []
    n_keys = 0
    if sound:  # keys and dates are only meaningful where the columns are right
        keys = _Chunked("keys", ERROR, [MONTH, c.ZIPCODE, c.DATE])
        for rows in _chunks(sound, c.KEYS):
            # Integer yyyymm codes: comparing strings would format every row's date.
            rows["date_month"] = rows[c.DATE].dt.year * 100 + rows[c.DATE].dt.month
            rows["partition_month"] = rows[MONTH].str.replace("-", "").astype("int64")
            keys.add(rows)
        more, n_keys = keys.result()
    if unreadable:
        notes = [f"{m}: {reason}" for m, reason in sorted(unreadable.items())]
        more.append(Finding("source_file_readable", ERROR, dict.fromkeys(unreadable, 1), notes))
    empty = [m for m, n_rows in rows_by_month.items() if n_rows == 0 and m not in unreadable]
    if empty:
        notes = [f"{m}: no rows delivered" for m in empty]
        more.append(Finding("month_has_rows", ERROR, dict.fromkeys(empty, 1), notes))
    for rule, judged in (
        ("price_plausible_month_over_month", _price_jumps(sound, previous or {})),
        ("columns_still_reported", _stopped_columns(sound, previous or {})),
    ):
        if judged:
            notes = [f"{m}: {reason}" for m, found in judged.items() for reason in found]
            counts = {m: len(found) for m, found in judged.items()}
            more.append(Finding(rule, ERROR, counts, notes))
    return Outcome("contract", months, findings + more, n + n_keys + 2)


def _with_month_before(
    sound: Mapping[str, pd.DataFrame], stored: dict[str, pd.DataFrame], rejected: Mapping
) -> Iterator[tuple[str, pd.DataFrame, pd.DataFrame | None]]:
    """Each month with the month before it as the yardstick: that month as delivered in this
    run if it was not `rejected` (filled by the caller as it goes), else as stored (`stored`:
    month -> the month before it, cleaned). A rejected month is never the yardstick of the next."""
    last: tuple[str, pd.DataFrame] | None = None  # each month is read once
    for month in sorted(sound):
        frame = sound[month]
        before = str(pd.Period(month, "M") - 1)
        if before in sound and before not in rejected:
            yardstick = last[1] if last and last[0] == before else sound[before]
        else:
            yardstick = stored.get(month)
        yield month, frame, yardstick
        last = (month, frame)


def sound_yardstick(frame: pd.DataFrame, before: pd.DataFrame | None) -> bool:
    """May a month not yet accepted be the month another is judged against? Only if the contract
    would not reject it for its schema or its prices next to `before` (its own month before)."""
    if not _sound(frame):
        return False
    return before is None or not _sound(before) or not price_jumps(frame, before)


def _sound(frame: pd.DataFrame) -> bool:
    return bool(len(frame)) and not c.unreadable_reason(frame) and not c.schema_problems(frame)


def _price_jumps(
    sound: Mapping[str, pd.DataFrame], stored: dict[str, pd.DataFrame]
) -> dict[str, list[str]]:
    """Month -> why its prices are implausible next to the month before."""
    jumps: dict[str, list[str]] = {}
    for month, frame, before in _with_month_before(sound, stored, jumps):
        if before is not None and (found := price_jumps(frame, before)):
            jumps[month] = found
    return jumps


def reported_columns(frame: pd.DataFrame) -> set[str]:
    """The optional contract columns with at least one value in `frame`."""
    return {col for col in c.OPTIONAL if col in frame.columns and frame[col].notna().any()}


def _stopped_columns(
    sound: Mapping[str, pd.DataFrame], stored: dict[str, pd.DataFrame]
) -> dict[str, list[str]]:
    """Month -> each optional column the month before reported and this month has no value of:
    the source stopped sending it, which is a broken delivery. A column a source never reports
    is only a warning (`validate_reported`); one that vanishes from a month must not slip in
    among them."""
    stopped: dict[str, list[str]] = {}
    for month, frame, before in _with_month_before(sound, stored, stopped):
        if before is None or not len(frame):
            continue
        gone = sorted(reported_columns(before) - reported_columns(frame))
        if gone:
            stopped[month] = [
                f"{col} was reported for {int(before[col].notna().sum()):,} of {len(before):,} "
                f"zips the month before and for none of this month's {len(frame):,}: the "
                "delivery lost a column"
                for col in gone
            ]
    return stopped


def _schema_diff(f: pd.DataFrame) -> str:
    # Re-running the cast names the offending values and rows, not just the wrong dtype.
    _, cast_problems = c.coerce(f, source="values")
    problems = [p for p in c.schema_problems(f) if "dtype" not in p] + cast_problems
    return "; ".join(problems) if problems else "column order differs from the contract"


def validate_reported(frames: Mapping[str, pd.DataFrame]) -> Outcome:
    """Warnings: per month, each optional contract column the source did not report (all NaN,
    recorded by `contract.conform`), one finding per column listing its months."""
    findings: dict[str, Finding] = {}
    for month in sorted(frames):
        frame = frames[month]
        for col in c.not_reported_columns(frame):
            finding = findings.setdefault(col, Finding(f"column_reported[{col}]", WARN, {}))
            finding.month_counts[month] = len(frame)  # every row of the month lacks it
    return Outcome("columns_reported", sorted(frames), list(findings.values()), len(c.OPTIONAL))


def validate_ranges(frames: Mapping[str, pd.DataFrame], expected_rows: int | None) -> Outcome:
    """Warnings: implausible values (0.0 read as 'not reported') and unusual row counts."""
    ranges = _Chunked("range", WARN, [MONTH, c.ZIPCODE], list(c.RANGES))
    not_reported = [*c.MARKET_STATS, *c.CENSUS_COLUMNS]
    for rows in _chunks(frames, [c.ZIPCODE, *c.RANGES], sound_only=True):
        rows[not_reported] = rows[not_reported].replace(0.0, np.nan)
        ranges.add(rows)
    findings, n = ranges.result()
    if expected_rows:
        counts = pd.DataFrame({MONTH: list(frames), "rows": [len(frames[m]) for m in frames]})
        counts["rows_vs_expected"] = counts["rows"] / expected_rows
        more, n_count = _run("row_count", counts, WARN, [MONTH, "rows"])
        findings += more
        n += n_count
    return Outcome("ranges", sorted(frames), findings, n)


def validate_cleaned(frames: Mapping[str, pd.DataFrame]) -> Outcome:
    ids = [MONTH, c.ZIPCODE, c.DATE]
    suites = [
        _Chunked("unique_keys", ERROR, ids),
        _Chunked("range", ERROR, ids, list(c.RANGES)),
        _Chunked("present", ERROR, ids, [c.TARGET, c.CITY, c.CITY_FULL]),
    ]
    for rows in _chunks(frames, c.COLUMNS):
        suites[0].add(rows[ids])
        for suite in suites[1:]:
            suite.add(rows)
    (findings, n), (more, k), (present, j) = (suite.result() for suite in suites)
    return Outcome("cleaned", sorted(frames), findings + more + present, n + k + j)
