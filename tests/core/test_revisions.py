"""A re-delivered month, diffed against the accepted version by (zipcode, date)."""

import numpy as np
import pandas as pd
import pytest

from housing_core.revisions import RevisionRules, beyond_bounds, diff
from housing_core.synthetic import SyntheticSpec, generate_panel

RULES = RevisionRules()


@pytest.fixture(scope="module")
def month() -> pd.DataFrame:
    panel = generate_panel(SyntheticSpec(seed=3, scale=0.01))
    frame = panel[panel["date"] == panel["date"].max()].reset_index(drop=True)
    assert len(frame) > 50
    return frame


def test_the_same_content_in_another_row_order_is_no_revision(month):
    revision = diff(month, month.sample(frac=1.0, random_state=0), RULES)
    assert revision.unchanged and revision.columns_changed == []
    assert beyond_bounds(revision, RULES) == []


def test_shuffled_prices_are_beyond_bounds_naming_the_share_and_example_zips(month):
    rng = np.random.default_rng(0)
    shuffled = month.assign(price=rng.permutation(month["price"].to_numpy()))
    revision = diff(month, shuffled, RULES)
    assert revision.columns_changed == ["price"]
    assert revision.rows_changed >= revision.price_moved > 0.9 * len(month)
    assert revision.rows_added == revision.rows_removed == 0
    [why] = beyond_bounds(revision, RULES)
    assert f"{revision.price_moved:,} of {len(month):,} zips' price moved more than 0.5%" in why
    biggest = revision.examples[0].split(" ")[0]
    assert biggest in why and len(revision.examples) == 5


def test_a_correction_of_two_rows_is_within_bounds_and_counted(month):
    fixed = month.copy()
    fixed.loc[[3, 7], "median_dom"] += 1.0
    fixed.loc[[7], "price"] *= 1.03
    revision = diff(month, fixed, RULES)
    assert revision.rows_changed == 2 and revision.price_moved == 1
    assert revision.columns_changed == ["median_dom", "price"]
    assert revision.price_move_max == pytest.approx(0.03, abs=1e-4)
    assert beyond_bounds(revision, RULES) == []
    meta = revision.as_metadata()
    assert meta["rows_changed"] == 2 and meta["columns_changed"] == ["median_dom", "price"]


def test_a_column_rewritten_beyond_bounds_is_named_with_its_share(month):
    revised = month.assign(median_dom=month["median_dom"] + 1)
    [why] = beyond_bounds(diff(month, revised, RULES), RULES)
    assert why.startswith("columns changed in more than 5% of rows: median_dom ")


def test_missing_values_on_both_sides_are_no_change(month):
    with_gaps = month.assign(median_dom=np.nan)
    assert diff(with_gaps, with_gaps.copy(), RULES).unchanged


def test_rows_removed_beyond_bounds_say_how_many(month):
    fewer = month.iloc[10:]
    revision = diff(month, fewer, RULES)
    assert revision.rows_removed == 10 and revision.rows_added == 0
    assert f"10 of {len(month):,} rows removed" in beyond_bounds(revision, RULES)


@pytest.mark.parametrize(("factor", "blocked"), [(1.004, False), (1.006, True)])
def test_the_price_tolerance_is_the_rule(month, factor, blocked):
    scaled = month.assign(price=month["price"] * factor)
    assert bool(beyond_bounds(diff(month, scaled, RULES), RULES)) is blocked


@pytest.mark.parametrize(
    ("spec", "accepted"),
    [
        ("2019-12", ["2019-12"]),
        ("2019", ["2019-11", "2019-12"]),
        ("2019-12,2020-01", ["2019-12", "2020-01"]),
    ],
)
def test_housing_run_accepts_the_revisions_its_flag_names(spec, accepted):
    """`--accept-revisions` reads like `--months`: a month, a prefix or a list, of the months
    this run ingests (what becomes the run's `housing/accept-revisions` tag)."""
    from housing_assets.cli import build_parser
    from housing_assets.cli.run import select_months

    args = build_parser().parse_args(["run", "--accept-revisions", spec])
    todo = ["2019-11", "2019-12", "2020-01"]
    assert select_months(todo, args.accept_revisions) == accepted
    assert build_parser().parse_args(["run"]).accept_revisions == ""


def test_the_run_tag_names_the_accepted_months():
    from housing_assets.defs.ingestion.checks import accepted_months
    from housing_assets.resources.revisions import ACCEPT_TAG

    assert accepted_months({ACCEPT_TAG: "2019-12, 2020-01"}) == {"2019-12", "2020-01"}
    assert accepted_months({}) == set()
