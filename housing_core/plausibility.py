"""Is a month's price level believable next to the month before it? House prices move a few
percent a month; a delivery whose prices jumped 40% (a unit change, a shuffled or x10 column, a
poisoned re-delivery) passes every per-row range check, so it is judged against the previous
month, per zip and per metro. Only `price` (the target) is judged: what the model learns from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from housing_core import contract as c


@dataclass(frozen=True)
class JumpRules:
    zip_jump: float = 0.4  # a zip's price moving more than this in one month is a jump ...
    zip_share: float = 0.10  # ... and more than this share of the month's zips jumping fails it
    metro_jump: float = 0.2  # a metro's median one-month move beyond this fails the month
    min_zips: int = 5  # a metro (or month) with fewer zips in both months is not judged


def price_jumps(
    current: pd.DataFrame, previous: pd.DataFrame, rules: JumpRules = JumpRules()
) -> list[str]:
    """Why `current`'s prices are implausible next to `previous` (empty: plausible)."""

    def prices(frame: pd.DataFrame) -> pd.DataFrame:
        known = frame[[c.ZIPCODE, c.CITY, c.TARGET]].dropna()
        known = known[known[c.TARGET] > 0]
        return known.drop_duplicates(c.ZIPCODE).set_index(c.ZIPCODE)

    now, before = prices(current), prices(previous)
    both = now.join(before[[c.TARGET]], rsuffix="_before", how="inner")
    if len(both) < rules.min_zips:
        return []
    ratio = both[c.TARGET] / both[f"{c.TARGET}_before"]
    found = []
    jumped = ratio[(ratio - 1).abs() > rules.zip_jump]
    if len(jumped) > rules.zip_share * len(ratio):
        examples = ", ".join(
            f"{c.format_zip(z)} x{r:.2f}" for z, r in jumped.sort_values().iloc[[0, -1]].items()
        )
        found.append(
            f"{len(jumped):,} of {len(ratio):,} zips' price moved more than "
            f"{rules.zip_jump:.0%} in one month (e.g. {examples})"
        )
    by_metro = ratio.groupby(both[c.CITY])
    for metro, moves in by_metro:
        if len(moves) < rules.min_zips:
            continue
        median = float(np.median(moves))
        if abs(median - 1) > rules.metro_jump:
            found.append(
                f"metro {metro}: median price x{median:.2f} in one month over {len(moves)} zips "
                f"(more than {rules.metro_jump:.0%})"
            )
    return found
