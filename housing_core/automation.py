"""What the sensors decide, as plain functions (the sensors only gather facts and act on these).

Ingest: a month is ingested when it first appears, and again only when its content fingerprint
changes. The cursor remembers, per month, the fingerprint last ingested and a generation number;
run keys carry both, so a restarted daemon, two ticks in a row or a file rewritten with the same
bytes never request a second run, and A -> B -> A still re-ingests the third time.

Retrain: after the champion's data window, retrain when drift or performance decay crosses its
threshold or enough new months have accumulated; otherwise say exactly why not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from housing_core.drift_reports import span
from housing_core.live_performance import losing_streak

# Dagster's tags for a single run over a range of partitions (a single-run backfill).
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def stretches(order: Sequence[str], wanted: Iterable[str]) -> list[tuple[str, str]]:
    """Contiguous stretches of `wanted` in partition order, as (first, last) pairs: what one run
    each covers."""
    wanted = set(wanted)
    out: list[list[str]] = []
    previous_in = False
    for key in order:
        if key in wanted:
            if previous_in:
                out[-1].append(key)
            else:
                out.append([key])
        previous_in = key in wanted
    return [(s[0], s[-1]) for s in out]


def after_failure(
    first: str, last: str, order: Sequence[str], blocked: Collection[str] | None
) -> list[tuple[str, str]]:
    """THE policy for a failed ingest run over first..last, for `housing run` and the sensor
    alike. Returns the ranges to run again, once:

    - the blocking contract check named the months that broke it (`blocked`): those are
      quarantined (their findings are on record) and the other months run again, one run per
      contiguous stretch;
    - the run failed without naming months (a crash, `blocked` None): every month runs again
      alone, so a month that breaks something fails on its own and the others land.
    """
    position = {m: i for i, m in enumerate(order)}
    if first not in position or last not in position:
        return []
    months = order[position[first] : position[last] + 1]
    if blocked is None:
        return [(m, m) for m in months]
    return stretches(order, [m for m in months if m not in set(blocked)])


@dataclass(frozen=True)
class InFlight:
    """A run that writes monthly data, as far as telling whether two of them overlap needs."""

    run_id: str
    started: float | None  # its start time (None: not started yet)
    first: str | None = None  # its months, first..last (None: it names none)
    last: str | None = None

    def covers(self, month: str) -> bool:
        return self.first is not None and self.last is not None and self.first <= month <= self.last

    def before(self, other: InFlight) -> bool:
        """Started first; of two runs started in the same instant, the smaller run id."""
        if self.started is None or other.started is None:
            return False
        return (self.started, self.run_id) < (other.started, other.run_id)


def overlapping_runs(
    months: Iterable[str], me: InFlight, others: Iterable[InFlight]
) -> dict[str, list[str]]:
    """Run id -> the months of `months` it covers, for each of `others` that started before `me`:
    the runs `me` must not write beside. Only the later of two overlapping runs is told to stop,
    so one always goes on. 'YYYY-MM' keys compare in calendar order."""
    wanted = sorted(set(months))
    out = {}
    for other in others:
        if other.before(me) and (shared := [m for m in wanted if other.covers(m)]):
            out[other.run_id] = shared
    return out


def describe_overlaps(clashes: dict[str, list[str]]) -> str:
    """The line a run stopped by `overlapping_runs` fails with."""
    parts = [f"{span(months)} (run {run_id})" for run_id, months in clashes.items()]
    return (
        f"another run is still writing month(s) of this run: {'; '.join(parts)}. Nothing was "
        "written; run these months again once it has finished (a run whose process died is "
        "failed by run monitoring)"
    )


@dataclass(frozen=True)
class IngestRequest:
    month: str
    run_key: str
    reason: str


@dataclass(frozen=True)
class IngestRun:
    """One run over a contiguous stretch of requested months (one month: a partition run)."""

    first: str
    last: str
    months: tuple[str, ...]
    run_key: str
    reason: str


def batch_runs(requests: list[IngestRequest], order: list[str]) -> list[IngestRun]:
    """Contiguous requested months (in partition order) become one run each: a landing area
    that receives a year at once gets one single-run backfill, not twelve runs."""
    by_month = {r.month: r for r in requests}
    position = {m: i for i, m in enumerate(order)}
    return [
        _run([by_month[m] for m in order[position[a] : position[b] + 1]])
        for a, b in stretches(order, by_month)
    ]


def _run(stretch: list[IngestRequest]) -> IngestRun:
    if len(stretch) == 1:
        r = stretch[0]
        return IngestRun(r.month, r.month, (r.month,), r.run_key, r.reason)
    digest = hashlib.sha256("|".join(r.run_key for r in stretch).encode()).hexdigest()[:12]
    reasons = sorted({r.reason for r in stretch})
    return IngestRun(
        stretch[0].month,
        stretch[-1].month,
        tuple(r.month for r in stretch),
        f"ingest-{stretch[0].month}..{stretch[-1].month}-{digest}",
        " + ".join(reasons),
    )


@dataclass(frozen=True)
class FailedBatch:
    """A failed run over several months, as the sensor finds it in the instance."""

    run_key: str
    first: str
    last: str
    blocked: tuple[str, ...] | None = None  # months its contract check named; None: a crash


def retry_failed_batches(
    failed: list[FailedBatch], already_retried: set[str], order: list[str], busy: set[str]
) -> list[IngestRun]:
    """Each failed multi-month run, handled once by `after_failure`.

    `busy`: months this tick requests anyway (their content changed): not requested twice."""
    position = {m: i for i, m in enumerate(order)}
    runs = []
    for batch in failed:
        if batch.run_key in already_retried:
            continue
        why = (
            f"retry alone: batch {batch.first}..{batch.last} failed"
            if batch.blocked is None
            else f"retry without {', '.join(batch.blocked)} (quarantined): "
            f"batch {batch.first}..{batch.last} failed"
        )
        for a, b in after_failure(batch.first, batch.last, order, batch.blocked):
            inside = order[position[a] : position[b] + 1]
            for x, y in stretches(order, (m for m in inside if m not in busy)):
                key = f"{batch.run_key}/alone-{x}" if x == y else f"{batch.run_key}/{x}..{y}"
                runs.append(IngestRun(x, y, tuple(order[position[x] : position[y] + 1]), key, why))
    return runs


def held_months(runs: Iterable[tuple[Sequence[str], bool]]) -> list[str]:
    """Months whose newest ingest run failed: quarantined by a blocking check, or a run that
    crashed. `runs`: (months covered, failed) newest first. Until a corrected file lands (or a
    revision is accepted) nothing changes for them, so an idle tick must name them, not say
    "none new or changed" as if all were well."""
    newest: dict[str, bool] = {}
    for covered, failed in runs:
        for month in covered:
            newest.setdefault(month, failed)
    return sorted(m for m, failed in newest.items() if failed)


@dataclass
class IngestPlan:
    cursor: dict[str, list]  # month -> [fingerprint, generation]
    add_partitions: list[str] = field(default_factory=list)
    requests: list[IngestRequest] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)

    split: list[str] = field(default_factory=list)  # failed batch runs already retried alone

    def cursor_json(self) -> str:
        return json.dumps({"months": self.cursor, "split": sorted(self.split)}, sort_keys=True)


def read_cursor(text: str | None) -> dict[str, list] | None:
    """None: the sensor never ran (first tick)."""
    return None if not text else json.loads(text)["months"]


def read_split(text: str | None) -> set[str]:
    """Failed batch runs the sensor already retried one month at a time."""
    return set(json.loads(text).get("split", [])) if text else set()


def plan_ingest(
    fingerprints: dict[str, str],
    cursor: dict[str, list] | None,
    partitions: set[str],
    materialized: set[str],
) -> IngestPlan:
    """`materialized`: months already ingested (on the first tick they are adopted, not re-run:
    a platform whose data `housing run` loaded does not re-ingest everything when sensors start)."""
    first_tick = cursor is None
    state = dict(cursor or {})
    plan = IngestPlan(cursor=state)
    plan.add_partitions = sorted(m for m in fingerprints if m not in partitions)
    for month in sorted(fingerprints):
        digest = fingerprints[month]
        seen = state.get(month)
        if seen is None and first_tick and month in materialized:
            state[month] = [digest, 0]
            plan.adopted.append(month)
            continue
        if seen is None:
            generation, reason = 0, "new month"
        elif seen[0] != digest:
            generation, reason = seen[1] + 1, "changed content"
        else:
            continue
        state[month] = [digest, generation]
        plan.requests.append(
            IngestRequest(month, f"ingest-{month}-g{generation}-{digest[:12]}", reason)
        )
    return plan


@dataclass(frozen=True)
class RetrainRules:
    every_months: int = 6  # retrain once this many months arrived after the champion's window
    on_drift_status: str = "error"  # a month's drift verdict that triggers retraining
    mape_ratio: float = 1.5  # month MAPE / champion holdout MAPE that triggers retraining
    holdout_months: int = 12  # the new vintage holds out the latest year, for the gate
    cooldown_months: int = 3  # months of new data between two retrainings that reached the gate
    max_retries: int = 3  # a retraining that crashed before the gate is retried this many times
    retry_backoff_minutes: float = 10.0  # before the first retry; doubled for each next one
    losing_months: int = 2  # landed months in a row the champion lost to persistence live
    # ... after which persistence answers in its place until it wins a month (off: it keeps
    # answering, alerted, while its retraining runs)
    fallback_to_baseline: bool = False


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reason: str
    trigger: str | None = None  # drift | performance | new-data
    vintage: str | None = None


@dataclass(frozen=True)
class Attempt:
    """A retraining the sensor started, as the run record tells it."""

    run_id: str
    data_until: str  # the newest month of data when it started
    in_flight: bool
    reached_gate: bool  # the promotion gate was evaluated (passed or blocked): it counts
    ended_at: float | None = None  # epoch seconds
    error: str = ""  # why a crash failed (the first step error)

    @property
    def crashed(self) -> bool:
        return not self.in_flight and not self.reached_gate


def gated(attempts: list[Attempt]) -> Attempt | None:
    """The newest attempt that reached the gate (`attempts` newest first): the cooldown's."""
    return next((a for a in attempts if a.reached_gate), None)


def crashes_in_a_row(attempts: list[Attempt]) -> list[Attempt]:
    """The newest attempts that crashed before the gate, up to the last one that did not."""
    out = []
    for attempt in attempts:
        if not attempt.crashed:
            break
        out.append(attempt)
    return out


def with_retries(
    decision: RetrainDecision, attempts: list[Attempt], rules: RetrainRules, now: float
) -> tuple[RetrainDecision, int]:
    """A decision to retrain, held back while crashed attempts back off, and the attempt's
    number (0 = first; n = the n-th retry after n crashes in a row). A crash never counts toward
    the cooldown; after `max_retries` crashes the sensor stops and says why."""
    crashes = crashes_in_a_row(attempts)
    if not decision.retrain or not crashes:
        return decision, 0
    last = crashes[0]
    what = f"run {last.run_id[:8]} crashed before the gate ({last.error or 'no error recorded'})"
    if len(crashes) > rules.max_retries:
        return RetrainDecision(
            False,
            f"{len(crashes)} retrainings in a row crashed; the last: {what}. Not retrying: fix "
            "the cause, then launch the vintage by hand (a success resets the count)",
        ), len(crashes)
    wait_s = rules.retry_backoff_minutes * 60 * 2 ** (len(crashes) - 1)
    due = (last.ended_at or now) + wait_s
    if now < due:
        return RetrainDecision(
            False,
            f"{what}; retry {len(crashes)} of {rules.max_retries} in {(due - now) / 60:.0f} min "
            f"({decision.reason})",
        ), len(crashes)
    return RetrainDecision(
        True,
        f"retry {len(crashes)} of {rules.max_retries} after {what}: {decision.reason}",
        decision.trigger,
        decision.vintage,
    ), len(crashes)


def plan_retrain(
    champion: str,
    champion_vintage: str,
    data_until: str,
    cleaned_months: list[str],
    reports: dict[str, dict],
    rules: RetrainRules,
    last_attempt: str | None = None,
    model_version: str | None = None,
    live: Sequence[dict] = (),
) -> RetrainDecision:
    """`reports`: drift reports by month scored by the live champion -- `model_version`, named
    when reports are missing (any months; those after `data_until` count). A report scored by a
    superseded champion must not be passed: its verdict is about another model. `live`: the
    champion's live records (`live_performance`), month order: losing to persistence in
    `rules.losing_months` landed months in a row retrains first, since that is the error users
    meet; drift and decay only explain it.
    `last_attempt`: the latest month of data when the last retraining that reached the gate
    started (promoted or not; a crash does not count, see `with_retries`); a cooldown keeps a
    model whose error keeps rising from retraining every month."""
    new = sorted(m for m in cleaned_months if m > data_until)
    if not new:
        return RetrainDecision(False, f"champion {champion} has seen every month (to {data_until})")
    missing = [m for m in new if m not in reports]
    if missing:
        of = f"model v{model_version}" if model_version is not None else f"champion {champion}"
        return RetrainDecision(
            False, f"waiting for drift reports of {of} for {span(missing)} before deciding"
        )
    latest = new[-1]
    vintage = str(pd.Period(latest, "M") - (rules.holdout_months - 1))
    if vintage <= champion_vintage:
        return RetrainDecision(
            False,
            f"{len(new)} new month(s) after {data_until}: too few for a vintage after "
            f"{champion_vintage} with a {rules.holdout_months}-month holdout",
        )
    if last_attempt is not None:
        waited = (pd.Period(latest, "M") - pd.Period(last_attempt, "M")).n
        if waited < rules.cooldown_months:
            return RetrainDecision(
                False,
                f"cooldown: the last retraining that reached the gate started with data to "
                f"{last_attempt}; {waited} of {rules.cooldown_months} months of new data since",
            )
    lost = losing_streak([r for r in live if r["month"] > data_until])
    if len(lost) >= rules.losing_months:
        r = next(r for r in live if r["month"] == lost[-1])
        return RetrainDecision(
            True,
            f"the champion lost to persistence live in {', '.join(lost)}: {lost[-1]} MAPE "
            f"{r['mape']:.2f}% vs persistence {r['persistence_mape']:.2f}% (retrain after "
            f"{rules.losing_months} months lost in a row)",
            "live-loss",
            vintage,
        )
    decayed = [
        m
        for m in new
        if reports[m].get("mape_ratio") is not None and reports[m]["mape_ratio"] > rules.mape_ratio
    ]
    drifted = [m for m in new if reports[m]["status"] == rules.on_drift_status]
    if decayed:
        r = reports[decayed[-1]]
        return RetrainDecision(
            True,
            f"performance decay: {decayed[-1]} MAPE {r['mape']:.2f}% is {r['mape_ratio']:.2f}x the "
            f"champion's holdout (threshold {rules.mape_ratio}x)",
            "performance",
            vintage,
        )
    if drifted:
        reasons = "; ".join(reports[drifted[-1]]["reasons"])
        return RetrainDecision(
            True, f"drift {rules.on_drift_status} in {drifted[-1]}: {reasons}", "drift", vintage
        )
    if len(new) >= rules.every_months:
        return RetrainDecision(
            True,
            f"{len(new)} new months since {data_until} (retrain every {rules.every_months})",
            "new-data",
            vintage,
        )
    return RetrainDecision(
        False,
        f"{len(new)} new month(s) since {data_until} (< {rules.every_months}); no drift "
        f"{rules.on_drift_status} and no MAPE above {rules.mape_ratio}x the champion's holdout",
    )
