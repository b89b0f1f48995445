"""Compare the synthetic panel with the real HouseTS sample, column by column.

    uv run python benchmarks/calibrate_synthetic.py [--sample ../shared/data/housets_sample.csv]

Prints the two-sample KS distance per numeric column and the correlation of `price` with the
three price-like columns on both. Aim: median KS <= 0.10, each correlation within 0.05.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from housing_assets.lib import contract as c
from housing_assets.lib.sources import read_housets_csv
from housing_assets.lib.synthetic import SyntheticSpec, generate_panel

CORR_COLUMNS = ["median_list_price", "median_sale_price", "Median Home Value"]
DEFAULT_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "housets_sample.csv"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=SyntheticSpec.seed)
    args = parser.parse_args(argv)
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
