"""Holdout evaluation: metrics overall / per metro / per month, baselines on the same rows,
and the empirical coverage of the conformal intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from housing_assets.lib import contract as c
from housing_assets.lib import metrics
from housing_assets.lib.predictor import Predictor
from housing_assets.lib.splits import HOLDOUT, SPLIT

BASELINES = {"persistence": "baseline_persistence", "list_price": "baseline_list_price"}


def predictions(splits: pd.DataFrame, predictor: Predictor) -> pd.DataFrame:
    holdout = splits[splits[SPLIT] == HOLDOUT].reset_index(drop=True)
    if holdout.empty:
        raise ValueError("the holdout split is empty: nothing to evaluate")
    history = splits[splits[SPLIT] != HOLDOUT]
    out = holdout[[c.ZIPCODE, c.DATE, c.CITY, c.CITY_FULL, c.TARGET]].copy()
    out = out.join(predictor.predict(holdout))
    out["baseline_persistence"] = metrics.persistence_baseline(history, holdout)
    out["baseline_list_price"] = holdout["median_list_price"].to_numpy()
    return out


def _coverage(frame: pd.DataFrame) -> dict[str, float]:
    levels = sorted({col.split("_")[1] for col in frame.columns if col.startswith("lower_")})
    return {
        lv: metrics.coverage(frame[c.TARGET], frame[f"lower_{lv}"], frame[f"upper_{lv}"])
        for lv in levels
    }


def report(preds: pd.DataFrame) -> dict:
    y, p = preds[c.TARGET], preds["prediction"]
    out = {
        "rows": len(preds),
        "model": metrics.regression(y, p),
        "coverage": _coverage(preds),
        "baselines": {},
    }
    for name, col in BASELINES.items():
        rows = preds[col].notna()
        out["baselines"][name] = {
            "rows": int(rows.sum()),
            "baseline": metrics.regression(y[rows], preds.loc[rows, col]),
            "model_on_same_rows": metrics.regression(y[rows], p[rows]),
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
