"""Where drift reports live: one per (champion model version, month).

A drift report says how month M looks *to one model*; a report scored by a superseded champion
says nothing about the live one. So reports are keyed by the champion's MLflow model version
(not the bundle version: a history refresh republishes the same model under a new bundle version
and must not invalidate its drift):

    reports/drift/v<model version>/<month>.json|html

Re-ingesting a month under the same champion replaces that champion's report for the month: the
report is a pure function of (month data, model), so the older one describes data that no longer
exists; each verdict stays on its Dagster materialization as history.

The earlier layout, `reports/drift/<month>.json|html`, is read in place (no migration): such a
report names the model that scored it in its `champion` field, so it counts as that model's
report when no new-layout report exists for the month.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from housing_core.storage import Store

ROOT = "reports/drift"
MONTH = re.compile(r"[1-9]\d{3}-(0[1-9]|1[0-2])")
MODEL_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_model_version(model_version: str) -> str:
    if not MODEL_VERSION.fullmatch(model_version):
        raise ValueError(f"invalid model version {model_version!r}: refusing it")
    return model_version


def key(model_version: str, month: str, suffix: str) -> str:
    """The report's key for this champion's view of `month` (`suffix`: json or html)."""
    if not MONTH.fullmatch(month):
        raise ValueError(f"invalid month {month!r}: expected YYYY-MM")
    return f"{ROOT}/v{check_model_version(model_version)}/{month}.{suffix}"


def _legacy_champion(store: Store, month: str) -> str | None:
    """The model that scored the old-layout report of `month` (None: no such report, or one
    that cannot be read -- `unreadable_legacy` names those)."""
    legacy = f"{ROOT}/{month}.json"
    if not store.exists(legacy):
        return None
    try:
        return str(json.loads(store.read(legacy))["champion"])
    except (ValueError, KeyError, TypeError):
        return None


def unreadable_legacy(store: Store) -> dict[str, str]:
    """Old-layout reports whose scoring model cannot be read, with why: they belong to no
    champion, so a reader lists them as unreadable rather than dropping them."""
    _, legacy = _layout(store)
    out = {}
    for _month, k in sorted(legacy.items()):
        try:
            json.loads(store.read(k))["champion"]
        except (ValueError, KeyError, TypeError) as exc:
            out[k] = f"{type(exc).__name__}: {exc}"[:300]
    return out


def read(store: Store, model_version: str, month: str, suffix: str = "json") -> bytes | None:
    """This champion's report of `month`, or None when it has none (yet)."""
    new = key(model_version, month, suffix)
    if store.exists(new):
        return store.read(new)
    legacy = f"{ROOT}/{month}.{suffix}"
    if _legacy_champion(store, month) == model_version and store.exists(legacy):
        return store.read(legacy)
    return None


def _layout(store: Store) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Months per model version in the new layout; old-layout report keys by month."""
    scored: dict[str, set[str]] = {}
    legacy: dict[str, str] = {}
    for k in store.list(ROOT):
        rest = k[len(ROOT) + 1 :]
        if not rest.endswith(".json"):
            continue
        parts = rest[: -len(".json")].split("/")
        if len(parts) == 2 and parts[0].startswith("v") and MONTH.fullmatch(parts[1]):
            scored.setdefault(parts[0][1:], set()).add(parts[1])
        elif len(parts) == 1 and MONTH.fullmatch(parts[0]):
            legacy[parts[0]] = k
    return scored, legacy


def report_keys(store: Store, model_version: str) -> dict[str, str]:
    """Every month this champion has a JSON report for, with its key (old layout included)."""
    scored, legacy = _layout(store)
    out = {m: key(model_version, m, "json") for m in scored.get(model_version, set())}
    for month, k in legacy.items():
        if month not in out and _legacy_champion(store, month) == model_version:
            out[month] = k
    return dict(sorted(out.items()))


def champions(store: Store) -> list[str]:
    """Every model version that has drift reports (new or old layout), sorted."""
    scored, legacy = _layout(store)
    found = set(scored)
    for month in legacy:
        champion = _legacy_champion(store, month)
        if champion is not None:
            found.add(champion)
    return sorted(found)


def months_to_recompute(
    cleaned: Sequence[str], data_until: str, have: Iterable[str], recent: int
) -> list[str]:
    """The cleaned months a newly live champion needs reports for and lacks: the `recent` latest
    ones (what the drift view shows) and every month after its data window (what the retrain
    decision reads)."""
    ordered = sorted(cleaned)
    wanted = set(ordered[-recent:] if recent > 0 else []) | {m for m in ordered if m > data_until}
    return sorted(wanted - set(have))


def span(months: Sequence[str]) -> str:
    """`2022-03..2022-05` for a run of months, `2022-03` for one, comma-joined stretches."""
    ordered = sorted(months)
    out: list[list[str]] = []
    for m in ordered:
        if out and _next(out[-1][-1]) == m:
            out[-1].append(m)
        else:
            out.append([m])
    return ", ".join(s[0] if len(s) == 1 else f"{s[0]}..{s[-1]}" for s in out)


def _next(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:])
    return f"{year + mon // 12}-{mon % 12 + 1:02d}"
