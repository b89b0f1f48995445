"""Accuracy on real HouseTS data: the model against persistence and the reference way, by horizon.

    uv run python benchmarks/real_data.py [--trials 12] [--json out.json]

Data (skipped, said so, when absent): ../shared/data/housets_dc_panel_2012_2021.csv (a real panel,
40 DC-metro zips, publisher's layout, vintage 2020-01) and ../shared/data/housets_sample.csv
(random real rows: the cold-start case, reference split 2022-01). Each runs the platform's own
code path: the file source's column mapping, cleaning, the vintage's splits, housing_core/training.py with
`housing run`'s default tuning budget (12 trials on half the train rows), housing_core/evaluation.py.

Rows printed:
  * holdout as a vintage is judged (every row anchored on the history before the holdout);
  * DC "fresh history": the same holdout, each row anchored on the month before it -- what the
    monthly history refresh serves -- against persistence from the previous month.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from housing_core import evaluation, horizons, metrics, training, tuning
from housing_core import features as F
from housing_core import splits as S
from housing_core.cleaning import clean_month
from housing_core.predictor import Predictor
from housing_core.sources import FilePanelSource

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CASES = {
    "DC panel": (DATA / "housets_dc_panel_2012_2021.csv", "2020-01"),
    "HouseTS sample": (DATA / "housets_sample.csv", "2022-01"),
}
GOALS = {
    "DC panel": "<= 0.75 x persistence overall, <= persistence per bucket",
    "DC panel, fresh history": "<= persistence from the previous month",
    "HouseTS sample": "<= 11% (the reference way: 13.45% published)",
}


def load(path: Path) -> pd.DataFrame:
    source = FilePanelSource(path)
    loads = source.load_months(source.months())
    return pd.concat([clean_month(load.frame)[0] for load in loads.values()], ignore_index=True)


def fit(rows: pd.DataFrame, trials: int, seed: int) -> Predictor:
    state = F.fit(rows[rows[S.SPLIT] == S.TRAIN])
    settings = tuning.TuningSettings(
        n_trials=trials, timeout_s=None, seed=seed, sample_fraction=0.5, nthread=1
    )
    model = training.train(rows, state, settings)
    return Predictor(model.booster, state, model.conformal, F.anchor_table(rows.iloc[:0], state))


def summarize(preds: pd.DataFrame) -> dict:
    rep = evaluation.report(preds)
    out = {
        "rows": rep["rows"],
        "mape": rep["model"]["mape"],
        "coverage": rep["coverage"],
        "baselines": {n: b["baseline"]["mape"] for n, b in rep["baselines"].items() if b["rows"]},
        "model_on_persistence_rows": rep["baselines"]["persistence"]["model_on_same_rows"]["mape"]
        if rep["baselines"]["persistence"]["rows"]
        else None,
        "by_horizon": {
            label: {
                "rows": e["rows"],
                "mape": e["model"]["mape"],
                "persistence": e["baselines"]["persistence"]["baseline"]["mape"]
                if e["baselines"]["persistence"]["rows"]
                else None,
                "reference": e["baselines"]["reference"]["baseline"]["mape"],
                "coverage": e["coverage"],
            }
            for label, e in rep["by_horizon"].items()
        },
    }
    return out


def fresh(rows: pd.DataFrame, predictor: Predictor) -> dict:
    """The holdout served from every month before each row (anchor = the previous month)."""
    holdout = rows[rows[S.SPLIT] == S.HOLDOUT].reset_index(drop=True)
    served = predictor.with_anchors(F.anchor_table(rows, predictor.state)).predict(holdout)
    y = holdout["price"].to_numpy()
    ok = served["horizon"].to_numpy() == 1
    return {
        "rows": int(ok.sum()),
        "mape": metrics.regression(y[ok], served["prediction"].to_numpy()[ok])["mape"],
        "persistence": metrics.regression(y[ok], served["anchor_price"].to_numpy()[ok])["mape"],
        "coverage": {
            lv: metrics.coverage(
                y[ok],
                served[f"lower_{lv}"].to_numpy()[ok],
                served[f"upper_{lv}"].to_numpy()[ok],
            )
            for lv in ("80", "95")
        },
    }


def run(trials: int, seed: int) -> dict:
    results = {}
    for name, (path, vintage) in CASES.items():
        if not path.exists():
            print(f"{name}: {path} not found -- skipped", flush=True)
            continue
        started = time.perf_counter()
        rows = S.assign(load(path), S.Windows(vintage))
        predictor = fit(rows, trials, seed)
        results[name] = {
            "vintage": vintage,
            **summarize(evaluation.predictions(rows, predictor)),
            "seconds": round(time.perf_counter() - started, 1),
        }
        if name == "DC panel":
            results[f"{name}, fresh history"] = {"vintage": vintage, **fresh(rows, predictor)}
        print(f"{name}: done in {results[name]['seconds']}s", flush=True)
    return results


def _pct(value) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.2f}%"


def table(results: dict) -> str:
    lines = [
        "| data | rows | model MAPE | persistence | reference way | model / persistence | "
        "cover 80 / 95 | goal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        persistence = r.get("persistence", r.get("baselines", {}).get("persistence"))
        ours = r.get("model_on_persistence_rows") or r["mape"]
        ratio = f"{ours / persistence:.2f}" if persistence else "–"
        cover = f"{r['coverage']['80']:.1%} / {r['coverage']['95']:.1%}"
        lines.append(
            f"| {name} (vintage {r['vintage']}) | {r['rows']:,} | {_pct(r['mape'])} | "
            f"{_pct(persistence)} | {_pct(r.get('baselines', {}).get('reference'))} | {ratio} | "
            f"{cover} | {GOALS[name]} |"
        )
    for name, r in results.items():
        if "by_horizon" not in r:
            continue
        lines += [
            "",
            f"{name}, by months since the zip's last known price:",
            "",
            "| horizon | rows | model MAPE | persistence | reference way | cover 80 / 95 |",
            "|---|---|---|---|---|---|",
        ]
        for label in horizons.LABELS:
            b = r["by_horizon"].get(label)
            if b:
                lines.append(
                    f"| {label} | {b['rows']:,} | {_pct(b['mape'])} | {_pct(b['persistence'])} | "
                    f"{_pct(b['reference'])} | {b['coverage']['80']:.0%} / {b['coverage']['95']:.0%} |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = run(args.trials, args.seed)
    if not results:
        print("no real data found: nothing measured")
        return 2
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
