"""How often drift cries wolf, with the policy's fixed thresholds and with thresholds calibrated
on the data's own history (`drift.calibrate`):

    uv run python benchmarks/drift_calibration.py [--json out.json]

For each panel, a champion's view is replayed: holdout from `start`, the reference the 12 months
before it (sampled as a bundle's), calibration from every month before the holdout, and the 24
months from `start` judged one by one -- fixed thresholds against calibrated ones. Predictions
are stood in for by the price itself (a champion's predictions track it within a few percent):
prediction drift is then price-level drift. Panels:

* the real DC panel (../shared, 40 zips), holdout 2020-01: 2020-21 are normal months of a
  rising market, nothing injected -- every ERROR there is a false alarm;
* the same months with one change injected (median_dom x3; homes_sold x2 on every zip), which
  must still be caught in each month;
* the synthetic panel (scale 0.05), holdout 2022-01: its rate shock from 2022-07 is real drift.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
from drift_statistics import synthetic
from real_data import CASES, load

from housing_core import contract as c
from housing_core import drift
from housing_core.features import base_columns


def replay(panel: pd.DataFrame, start: str, edit=None) -> dict:
    month = panel[c.DATE].dt.strftime("%Y-%m")
    history = panel[month < start]
    features = [f for f in base_columns() if history[f].notna().any()]
    first = str(pd.Period(start, "M") - drift.REFERENCE_MONTHS)
    window = panel[(month >= first) & (month < start)]
    reference = window.sample(min(len(window), drift.REFERENCE_ROWS), random_state=0)
    calibration = drift.calibrate(history, features)
    judged = [str(p) for p in pd.period_range(start, periods=24, freq="M")]
    out: dict = {"features": len(features), "calibration": drift._calibration_summary(calibration)}
    for name, bars in (("fixed", None), ("calibrated", calibration)):
        statuses, drifting = Counter(), []
        for m in judged:
            current = panel[month == m]
            if current.empty:
                continue
            if edit is not None:
                current = edit(current)
            report = drift.compare(
                reference, current, features,
                reference_prediction=reference[c.TARGET].to_numpy(),
                prediction=current[c.TARGET].to_numpy(),
                actual=None, champion_mape=1.0, calibration=bars,
            )  # fmt: skip
            statuses[report["status"]] += 1
            drifting.append(report["drifting_features"])
        out[name] = {"statuses": dict(statuses), "drifting": drifting}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cases = {}
    dc_path = CASES["DC panel"][0]
    if dc_path.exists():
        dc = load(dc_path)
        cases["DC panel, 2020-21 as they were"] = replay(dc, "2020-01")
        cases["DC panel, median_dom x3"] = replay(
            dc, "2020-01", lambda f: f.assign(median_dom=f["median_dom"] * 3)
        )
        cases["DC panel, homes_sold x2"] = replay(
            dc, "2020-01", lambda f: f.assign(homes_sold=f["homes_sold"] * 2)
        )
    else:
        print(f"DC panel skipped: {dc_path} not found")
    cases["synthetic 0.05, 2022-23 (rate shock from 2022-07)"] = replay(
        synthetic(0.05, 7), "2022-01"
    )
    print("\n| months judged | fixed thresholds | calibrated |")
    print("|---|---|---|")
    for name, r in cases.items():
        fixed, calibrated = (
            ", ".join(f"{k} {v}" for k, v in sorted(r[x]["statuses"].items()))
            for x in ("fixed", "calibrated")
        )
        print(f"| {name} | {fixed} | {calibrated} |")
    for name, r in cases.items():
        print(f"\n{name}: calibration {r['calibration']}")
    if args.json:
        args.json.write_text(json.dumps(cases, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
