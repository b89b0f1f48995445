"""The backtest of a vintage's forecaster on its holdout months, and the gate it must pass.

Every origin from the month before the holdout on, every step 1..24 whose target month is in the
data, scored against persistence and drift per horizon bucket, with the bands' coverage. The gate
publishes a forecaster only if it beats persistence overall and in every bucket holding at least
`min_points` points: a forecast worse than "no change" is worse than no forecast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from housing_core import horizons
from housing_core.forecast import protocol as P

MIN_POINTS = 30
COLUMNS = ("model", "persistence", "drift")


def report(points: pd.DataFrame) -> dict:
    """Overall and per-bucket MAPE of the forecaster and the baselines, coverage, per-step MAPE."""
    if points.empty:
        raise ValueError("forecast backtest: no point to score (no holdout month with a price)")
    buckets = horizons.bucket(points["step"].to_numpy())
    out: dict = {"points": len(points), "origins": int(points["origin"].nunique())}
    out["overall"] = {col: P.scores(points, col)["mape"] for col in COLUMNS}
    out["coverage"] = P.coverage(points)
    out["by_bucket"] = {}
    for label in horizons.LABELS:
        part = points[buckets == label]
        if len(part):
            out["by_bucket"][label] = {
                "points": len(part),
                **{col: P.scores(part, col)["mape"] for col in COLUMNS},
            }
    out["by_step"] = {col: P.scores(points, col)["mape_by_step"] for col in COLUMNS}
    return out


def ordered(rep: dict) -> dict:
    """The report with its buckets in horizon order again (a JSON store sorts '13-24' first)."""
    return {**rep, "by_bucket": horizons.ordered(rep["by_bucket"])}


def verdict(rep: dict, min_points: int = MIN_POINTS) -> list[str]:
    """Why the forecaster must not be published; empty when it may."""
    reasons = []
    overall = rep["overall"]
    if not overall["model"] < overall["persistence"]:
        reasons.append(
            f"overall MAPE {overall['model']:.2f}% is not below persistence's "
            f"{overall['persistence']:.2f}%"
        )
    for label, part in rep["by_bucket"].items():
        if part["points"] >= min_points and not part["model"] < part["persistence"]:
            reasons.append(
                f"{label} months: MAPE {part['model']:.2f}% is not below persistence's "
                f"{part['persistence']:.2f}% ({part['points']} points)"
            )
    return reasons


def markdown(rep: dict) -> str:
    lines = [
        "| months ahead | points | forecaster | persistence | drift | 80% / 95% bands cover |",
        "|---|---|---|---|---|---|",
    ]
    cover = rep["coverage"]
    for label, part in rep["by_bucket"].items():
        c = cover.get(label, {})
        lines.append(
            f"| {label} | {part['points']:,} | {part['model']:.2f}% | {part['persistence']:.2f}% "
            f"| {part['drift']:.2f}% | {c.get('80', np.nan):.0f}% / {c.get('95', np.nan):.0f}% |"
        )
    o = rep["overall"]
    lines.append(
        f"| all | {rep['points']:,} | **{o['model']:.2f}%** | {o['persistence']:.2f}% | "
        f"{o['drift']:.2f}% | {cover['overall']['80']:.0f}% / {cover['overall']['95']:.0f}% |"
    )
    return "\n".join(lines)
