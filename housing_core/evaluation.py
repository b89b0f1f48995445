"""Holdout evaluation: metrics overall, per horizon bucket, per metro and per month, next to
baselines on the same rows, and the empirical coverage of the prediction intervals.

The holdout is predicted as it would have been served on the day it started: every row anchored
on the history before the holdout (never on a holdout month), whatever the predictor was given.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from housing_core import contract as c
from housing_core import features as F
from housing_core import horizons, metrics, reference
from housing_core import splits as S
from housing_core.predictor import Predictor
from housing_core.splits import EVAL, HOLDOUT, SPLIT, TRAIN
from housing_core.threads import ThreadBudget

BASELINES = {
    "persistence": "baseline_persistence",  # the zip's anchor price, carried forward
    "list_price": "baseline_list_price",  # the month's median list price
    "reference": "baseline_reference",  # the reference pipeline's level model (housing_core/reference.py)
}
BUCKET = "horizon_bucket"


def predictions(
    splits: pd.DataFrame, predictor: Predictor, *, threads: ThreadBudget | None = None
) -> pd.DataFrame:
    holdout = splits[splits[SPLIT] == HOLDOUT].reset_index(drop=True)
    if holdout.empty:
        raise ValueError("the holdout split is empty: nothing to evaluate")
    history, (n_train, _) = S.stacked(splits, (TRAIN, EVAL))  # a view, when in month order
    served = predictor.with_anchors(F.anchor_table(history, predictor.state))
    out = holdout[[c.ZIPCODE, c.DATE, c.CITY, c.CITY_FULL, c.TARGET]].copy()
    out = out.join(served.predict(holdout))
    out[BUCKET] = horizons.bucket(out["horizon"].to_numpy())
    out["baseline_persistence"] = out["anchor_price"].to_numpy()
    out["baseline_list_price"] = holdout["median_list_price"].to_numpy()
    out["baseline_reference"] = reference.predict(
        S.part(history, 0, n_train), holdout, predictor.state, threads=threads
    )
    return out


def _coverage(frame: pd.DataFrame) -> dict[str, float]:
    levels = sorted({col.split("_")[1] for col in frame.columns if col.startswith("lower_")})
    return {
        lv: metrics.coverage(frame[c.TARGET], frame[f"lower_{lv}"], frame[f"upper_{lv}"])
        for lv in levels
    }


def baseline_comparisons(preds: pd.DataFrame) -> dict:
    """Per baseline with a column in `preds`: its rows, its metrics and the model's on them."""
    out = {}
    for name, col in BASELINES.items():
        if col not in preds:
            continue
        rows = preds[col].notna()
        out[name] = {
            "rows": int(rows.sum()),
            "baseline": metrics.regression(preds.loc[rows, c.TARGET], preds.loc[rows, col]),
            "model_on_same_rows": metrics.regression(
                preds.loc[rows, c.TARGET], preds.loc[rows, "prediction"]
            ),
        }
    return out


def by_horizon(preds: pd.DataFrame) -> dict:
    """Per horizon bucket present: rows, model metrics, coverage and baselines on those rows."""
    out = {}
    for label in horizons.LABELS:
        part = preds[preds[BUCKET] == label]
        if part.empty:
            continue
        out[label] = {
            "rows": len(part),
            "model": metrics.regression(part[c.TARGET], part["prediction"]),
            "coverage": _coverage(part),
            "baselines": baseline_comparisons(part),
        }
    return out


def report(preds: pd.DataFrame) -> dict:
    y, p = preds[c.TARGET], preds["prediction"]
    out: dict[str, Any] = {
        "rows": len(preds),
        "model": metrics.regression(y, p),
        "coverage": _coverage(preds),
        "baselines": baseline_comparisons(preds),
        "by_horizon": by_horizon(preds),
    }
    per_metro = metrics.by_group(preds, c.CITY, c.TARGET, "prediction")
    cover = preds.groupby(c.CITY).apply(_coverage, include_groups=False)
    for level in out["coverage"]:
        per_metro[f"coverage_{level}"] = per_metro[c.CITY].map(lambda m, lv=level: cover[m][lv])
    out["per_metro"] = per_metro.sort_values("mape").to_dict(orient="records")
    month = preds[c.DATE].dt.strftime("%Y-%m").rename("month")
    out["per_month"] = metrics.by_group(
        preds.assign(month=month), "month", c.TARGET, "prediction"
    ).to_dict(orient="records")
    return out


def horizon_metrics(rep: dict) -> dict[str, float]:
    """Flat per-bucket figures: model, persistence and reference-way MAPE, 80/95 coverage."""
    out = {}
    for label, entry in rep["by_horizon"].items():
        key = horizons.key(label)
        out[f"{key}_rows"] = float(entry["rows"])
        out[f"{key}_mape"] = entry["model"]["mape"]
        for name in ("persistence", "reference"):
            b = entry["baselines"].get(name)
            if b and b["rows"]:
                out[f"{key}_{name}_mape"] = b["baseline"]["mape"]
        for level, value in entry["coverage"].items():
            out[f"{key}_coverage_{level}"] = value
    return {k: float(v) for k, v in out.items() if np.isfinite(v)}


def summary_metrics(rep: dict) -> dict[str, float]:
    """The report's headline figures, flat (Dagster metadata, the CLI's summary): model MAPE,
    MAE, RMSE, median APE, R², coverage, each baseline's MAPE, and per horizon bucket."""
    m = rep["model"]
    out = {name: m[name] for name in ("mape", "mae", "rmse", "median_ape", "r2")}
    out.update({f"coverage_{k}": v for k, v in rep["coverage"].items()})
    out.update({f"baseline_{n}_mape": b["baseline"]["mape"] for n, b in rep["baselines"].items()})
    out.update(horizon_metrics(rep))
    return out


def markdown(rep: dict) -> str:
    m = rep["model"]
    lines = [
        "| on the same rows | rows | model MAPE | baseline MAPE | model MAE | baseline MAE |",
        "|---|---|---|---|---|---|",
        f"| all holdout rows | {rep['rows']:,} | {m['mape']:.2f}% | – | ${m['mae']:,.0f} | – |",
    ]
    for name, b in rep["baselines"].items():
        lines.append(
            f"| {name} baseline | {b['rows']:,} | {b['model_on_same_rows']['mape']:.2f}% | "
            f"{b['baseline']['mape']:.2f}% | ${b['model_on_same_rows']['mae']:,.0f} | ${b['baseline']['mae']:,.0f} |"
        )
    lines.append("")
    lines.append(
        f"RMSE ${m['rmse']:,.0f} · median APE {m['median_ape']:.2f}% · R² {m['r2']:.4f} · "
        + " · ".join(f"{lv}% interval coverage {v:.1%}" for lv, v in rep["coverage"].items())
    )
    lines += ["", horizon_table(rep)]
    return "\n".join(lines)


def _mape(entry: dict, name: str) -> str:
    b = entry["baselines"].get(name)
    return f"{b['baseline']['mape']:.2f}%" if b and b["rows"] else "–"


def horizon_table(rep: dict) -> str:
    """MAPE by months since the anchor, next to every baseline on the same bucket's rows."""
    lines = [
        "| horizon (months) | rows | model MAPE | persistence | reference way | list price | cover 80 | cover 95 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, entry in rep.get("by_horizon", {}).items():
        cov = entry["coverage"]
        lines.append(
            f"| {label} | {entry['rows']:,} | {entry['model']['mape']:.2f}% | "
            f"{_mape(entry, 'persistence')} | {_mape(entry, 'reference')} | "
            f"{_mape(entry, 'list_price')} | {cov.get('80', np.nan):.0%} | {cov.get('95', np.nan):.0%} |"
        )
    return "\n".join(lines)


def metro_table(rep: dict) -> str:
    rows = [
        "| metro | rows | MAPE | MAE | R² | cover 80 | cover 95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rep["per_metro"]:
        rows.append(
            f"| {r[c.CITY]} | {r['n']:,} | {r['mape']:.2f}% | ${r['mae']:,.0f} | {r['r2']:.3f} | "
            f"{r.get('coverage_80', np.nan):.0%} | {r.get('coverage_95', np.nan):.0%} |"
        )
    return "\n".join(rows)
