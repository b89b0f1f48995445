"""`housing generate`: the synthetic panel as monthly files or one HouseTS CSV."""

from __future__ import annotations

from pathlib import Path

from housing_assets.cli.common import say
from housing_assets.cli.run import select_months


def cmd_generate(args) -> int:
    from housing_core.synthetic import SyntheticSpec, generate_panel

    spec = SyntheticSpec(seed=args.seed, scale=1.0 if args.full else args.scale)
    panel = generate_panel(spec, progress=say)
    out = Path(args.out)
    if args.single_file:
        out.parent.mkdir(parents=True, exist_ok=True)
        panel.assign(date=panel["date"].dt.strftime("%Y-%m-%d")).to_csv(out, index=False)
        say(f"wrote {len(panel):,} rows to {out}")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    groups = list(panel.groupby(panel["date"].dt.strftime("%Y-%m"), sort=True))
    wanted = set(select_months([m for m, _ in groups], args.months, args.until))
    groups = [(m, part) for m, part in groups if m in wanted]
    if not groups:
        say(f"no months match --months {args.months} --until {args.until}")
        return 2
    for i, (month, part) in enumerate(groups, 1):
        target = out / f"{month}.{args.format}"
        if args.format == "parquet":
            part.to_parquet(target, index=False)
        else:
            part.assign(date=part["date"].dt.strftime("%Y-%m-%d")).to_csv(target, index=False)
        if i % 24 == 0 or i == len(groups):
            say(f"  wrote {i}/{len(groups)} monthly files")
    rows = sum(len(part) for _, part in groups)
    say(f"wrote {rows:,} rows as {len(groups)} monthly {args.format} files in {out}")
    return 0
