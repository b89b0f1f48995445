"""Compare the synthetic panel with real HouseTS data: its columns, and its dynamics.

    uv run python benchmarks/calibrate_synthetic.py [--sample ../shared/data/housets_sample.csv]
    uv run python benchmarks/calibrate_synthetic.py --dynamics [--dc ../shared/data/housets_dc_panel_2012_2021.csv]

Columns (against the random real sample): the two-sample KS distance per numeric column and the
correlation of `price` with the three price-like columns. Aim: median KS <= 0.10, each
correlation within 0.05.

Dynamics (against the real DC panel, what accuracy depends on): at vintage 2020-01 with a 24-month
holdout, persistence's MAPE per horizon bucket and the model's MAPE over persistence's, the model
trained by the platform's own path on each (benchmarks/real_data.py). Aim: every synthetic figure
within +-30% of the real one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from housing_core import contract as c
from housing_core.sources import read_housets_csv
from housing_core.synthetic import SyntheticSpec, generate_panel

CORR_COLUMNS = ["median_list_price", "median_sale_price", "Median Home Value"]
DEFAULT_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "housets_sample.csv"
DEFAULT_DC = DEFAULT_SAMPLE.with_name("housets_dc_panel_2012_2021.csv")
VINTAGE, HOLDOUT_MONTHS = "2020-01", 24
TOLERANCE = 0.30


def _by_bucket(rows, trials: int) -> dict[str, tuple[float, float]]:
    """Bucket -> (persistence MAPE, model MAPE / persistence MAPE) on the vintage's holdout."""
    import real_data

    from housing_core import evaluation

    rep = evaluation.report(evaluation.predictions(rows, real_data.fit(rows, trials, seed=42)))
    out = {}
    for label, entry in rep["by_horizon"].items():
        b = entry["baselines"]["persistence"]
        if b["rows"]:
            out[label] = (
                b["baseline"]["mape"],
                b["model_on_same_rows"]["mape"] / b["baseline"]["mape"],
            )
    return out


def dynamics(dc_path: Path, scale: float, seed: int, trials: int) -> int:
    import pandas as pd
    import real_data

    from housing_core import splits as S
    from housing_core.cleaning import clean_month

    if not dc_path.exists():
        print(f"real DC panel not found at {dc_path}; nothing to compare against")
        return 2
    windows = S.Windows(VINTAGE, holdout_months=HOLDOUT_MONTHS)
    real = _by_bucket(S.assign(real_data.load(dc_path), windows), trials)
    panel = generate_panel(SyntheticSpec(seed=seed, scale=scale))
    months = panel[c.DATE].dt.strftime("%Y-%m")
    cleaned = pd.concat([clean_month(g)[0] for _, g in panel.groupby(months)], ignore_index=True)
    synth = _by_bucket(S.assign(cleaned, windows), trials)
    print(
        f"vintage {VINTAGE}, {HOLDOUT_MONTHS}-month holdout; synthetic scale {scale}, seed {seed}"
    )
    print(f"{'horizon':>8s} {'persistence MAPE':>24s} {'model / persistence':>24s}")
    print(f"{'':>8s} {'real':>7s} {'synth':>7s} {'gap':>8s} {'real':>7s} {'synth':>7s} {'gap':>8s}")
    worst = 0.0
    for label in real:
        if label not in synth:
            continue
        (rp, rr), (sp, sr) = real[label], synth[label]
        gaps = (sp / rp - 1, sr / rr - 1)
        worst = max(worst, *map(abs, gaps))
        print(
            f"{label:>8s} {rp:6.2f}% {sp:6.2f}% {gaps[0]:+7.0%} {rr:7.2f} {sr:7.2f} {gaps[1]:+7.0%}"
        )
    verdict = "within" if worst <= TOLERANCE else "OUTSIDE"
    print(f"\nlargest gap: {worst:.0%} ({verdict} the +-{TOLERANCE:.0%} aim)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=SyntheticSpec.seed)
    parser.add_argument(
        "--dynamics", action="store_true", help="compare dynamics with the DC panel"
    )
    parser.add_argument("--dc", type=Path, default=DEFAULT_DC)
    parser.add_argument("--trials", type=int, default=12)
    args = parser.parse_args(argv)
    if args.dynamics:
        return dynamics(args.dc, min(args.scale, 0.1), args.seed, args.trials)
    if not args.sample.exists():
        print(f"real sample not found at {args.sample}; nothing to compare against")
        return 2
    real = read_housets_csv(args.sample)
    synth = generate_panel(SyntheticSpec(seed=args.seed, scale=args.scale))
    # Both are spread evenly over 2012-03..2023-12, so whole-panel distributions compare directly.
    rows = []
    for col in c.NUMERIC_COLUMNS:
        ks = stats.ks_2samp(real[col].to_numpy(), synth[col].to_numpy()).statistic
        rows.append((col, ks))
    print(f"{'column':32s} {'KS':>6s}")
    for col, ks in rows:
        flag = "  <-- above 0.10" if ks > 0.10 else ""
        print(f"{col:32s} {ks:6.3f}{flag}")
    median_ks = float(np.median([ks for _, ks in rows]))
    print(f"\nmedian KS over {len(rows)} numeric columns: {median_ks:.3f} (aim <= 0.10)")
    print(f"\n{'corr(price, x)':32s} {'real':>7s} {'synth':>7s} {'diff':>7s}")
    worst = 0.0
    for col in CORR_COLUMNS:
        r = real[[c.TARGET, col]].corr().iloc[0, 1]
        s = synth[[c.TARGET, col]].corr().iloc[0, 1]
        worst = max(worst, abs(r - s))
        print(f"{col:32s} {r:7.3f} {s:7.3f} {s - r:+7.3f}")
    print(f"\nlargest correlation gap: {worst:.3f} (aim <= 0.05)")
    print(
        f"rows: real {len(real):,}, synthetic {len(synth):,} (scale {args.scale}, seed {args.seed})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
