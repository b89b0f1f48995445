"""The promotion gate's verdict on each trained model, recorded where people look.

A model the gate rejects fails its Dagster run like a crash would (the blocking check stops the
bundle), so without a mark a rejection and a crash look alike in Dagster's run list and in the
dashboard. Every verdict is therefore written three ways: the MLflow version's `gate` tag, the
run's tags (`housing/gate`, `housing/gate_reason`: shown in Dagster's run list and filterable),
and a small document in the serving store's reports/gate/ that the API lists (`/v1/gate`). A run
that crashed before the gate has no verdict anywhere -- that is what tells the two apart.
"""

from __future__ import annotations

import json

GATE_TAG = "housing/gate"
REASON_TAG = "housing/gate_reason"
PROMOTED, REJECTED = "promoted", "rejected"
PREFIX = "gate"  # reports/gate/<vintage>-v<registered version>.json
MAX_TAG_CHARS = 1000  # a run tag is a label, not a report: the full reason is in the document


def run_tags(passed: bool, reason: str) -> dict[str, str]:
    """The Dagster run tags that mark a gate verdict."""
    text = reason if len(reason) <= MAX_TAG_CHARS else reason[: MAX_TAG_CHARS - 3] + "..."
    return {GATE_TAG: PROMOTED if passed else REJECTED, REASON_TAG: text}


def report_name(vintage: str, model_version: str) -> str:
    return f"{PREFIX}/{vintage}-v{model_version}.json"


def document(
    *,
    vintage: str,
    model_version: str,
    passed: bool,
    reasons: list[str],
    notes: list[str],
    model_mape: float,
    champion: str | None,
    run_id: str,
    decided_at: str,
) -> bytes:
    """The stored record of one verdict (what `/v1/gate` lists)."""
    return json.dumps(
        {
            "vintage": vintage,
            "model_version": str(model_version),
            "verdict": PROMOTED if passed else REJECTED,
            "reasons": reasons,
            "notes": notes,
            "model_mape": float(model_mape),
            "champion": champion,
            "run_id": run_id,
            "decided_at": decided_at,
        },
        indent=1,
        sort_keys=True,
    ).encode()


def model_card(
    vintage: str, windows: dict, rep: dict, passed: bool, verdict: str, notes: list[str]
) -> str:
    """A registered version's description (markdown, as MLflow's UI renders it): what it was
    trained and judged on, its holdout error against the baselines by horizon, how well its
    intervals kept their promise, and the gate's verdict in words."""
    from housing_core import evaluation

    spans = ", ".join(
        f"{name} {w['first']}..{w['last']} ({w['rows']:,} rows)"
        for name in ("train", "eval", "holdout")
        if (w := windows.get(name))
    )
    coverage = ", ".join(f"{lv}% band {v:.0%}" for lv, v in rep.get("coverage", {}).items())
    lines = [
        f"**Vintage {vintage}**: XGBoost tuned by Optuna (fit on train, scored on eval), refit "
        f"on train + eval, judged on the holdout; {spans}.",
        "",
        f"**Gate: {PROMOTED if passed else REJECTED}.** {verdict}",
        *([""] + [f"- {n}" for n in notes] if notes else []),
        "",
        f"Holdout interval coverage: {coverage}." if coverage else "",
        "",
        evaluation.horizon_table(rep),
    ]
    return "\n".join(lines)
