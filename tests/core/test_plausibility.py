"""Month-over-month price plausibility (housing_core/plausibility.py): a delivery whose prices jumped
passes every per-row range check, so it is judged against the month before."""

import numpy as np
import pandas as pd

from housing_core import contract as c
from housing_core.expectations import validate_contract
from housing_core.plausibility import JumpRules, price_jumps
from tests.conftest import frames_by_month


def month(n_zips: int = 40, metro: str = "DAL", level: float = 300_000.0, seed: int = 0):
    r = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            c.ZIPCODE: np.arange(75000, 75000 + n_zips),
            c.CITY: metro,
            c.TARGET: level * r.lognormal(0, 0.3, n_zips),
        }
    )


def test_ordinary_months_pass_and_a_metro_priced_x1_4_fails_naming_it():
    before = month()
    assert price_jumps(before.assign(price=before[c.TARGET] * 1.03), before) == []
    found = price_jumps(before.assign(price=before[c.TARGET] * 1.4), before)
    assert found == ["metro DAL: median price x1.40 in one month over 40 zips (more than 20%)"]


def test_many_zips_jumping_fail_even_when_the_metro_median_holds():
    before = month()
    now = before.copy()
    now.loc[: len(now) // 4, c.TARGET] *= 2.0  # a quarter of the zips doubled
    (finding,) = price_jumps(now, before)
    assert finding.startswith("11 of 40 zips' price moved more than 40% in one month (e.g. ")


def test_too_few_zips_in_common_are_not_judged():
    before = month(n_zips=4)
    assert price_jumps(before.assign(price=before[c.TARGET] * 3), before, JumpRules()) == []


def test_the_contract_quarantines_a_jumped_month_and_never_judges_by_it(small_panel):
    frames = dict(list(frames_by_month(small_panel).items())[90:94])
    poisoned, after = sorted(frames)[1:3]
    frames[poisoned] = frames[poisoned].assign(price=frames[poisoned][c.TARGET] * 1.4)
    outcome = validate_contract(frames)
    assert outcome.failed_months("ERROR") == [poisoned]  # `after` is not judged by it
    (finding,) = [f for f in outcome.findings if f.rule == "price_plausible_month_over_month"]
    assert all(note.startswith(f"{poisoned}: ") for note in finding.examples)
    assert any("median price x1.40 in one month" in note for note in finding.examples)
    assert after not in finding.month_counts
