import numpy as np
import pandas as pd
import pytest

from housing_core import contract as c
from housing_core import splits as S


@pytest.fixture(scope="module")
def panel(small_panel):
    return small_panel.drop_duplicates(subset=["zipcode", "date"])


def _bounds(out, name):
    part = out[out[S.SPLIT] == name]["date"]
    return part.min().strftime("%Y-%m"), part.max().strftime("%Y-%m")


def test_reference_vintage_reproduces_the_reference_split(panel):
    out = S.assign(panel, S.Windows("2022-01"))
    assert _bounds(out, S.TRAIN) == ("2012-03", "2019-12")
    assert _bounds(out, S.EVAL) == ("2020-01", "2021-12")
    assert _bounds(out, S.HOLDOUT) == ("2022-01", "2023-12")
    assert len(out) == len(panel)
    assert S.problems(out) == []


@pytest.mark.parametrize(
    ("vintage", "eval_months", "train_months", "holdout_months", "expected"),
    [
        (
            "2021-07",
            24,
            None,
            None,
            {
                "train": ("2012-03", "2019-06"),
                "eval": ("2019-07", "2021-06"),
                "holdout": ("2021-07", "2023-12"),
            },
        ),
        (
            "2023-01",
            12,
            36,
            None,
            {
                "train": ("2019-01", "2021-12"),
                "eval": ("2022-01", "2022-12"),
                "holdout": ("2023-01", "2023-12"),
            },
        ),
        (
            "2019-01",
            6,
            None,
            3,
            {
                "train": ("2012-03", "2018-06"),
                "eval": ("2018-07", "2018-12"),
                "holdout": ("2019-01", "2019-03"),
            },
        ),
    ],
)
def test_other_vintages_shift_the_windows(
    panel, vintage, eval_months, train_months, holdout_months, expected
):
    out = S.assign(panel, S.Windows(vintage, eval_months, train_months, holdout_months))
    assert {name: _bounds(out, name) for name in expected} == expected
    assert S.problems(out) == []


def test_a_vintage_past_the_data_has_empty_windows_and_says_so(panel):
    out = S.assign(panel, S.Windows("2030-01"))
    assert S.problems(out) == ["eval split is empty", "holdout split is empty"]


def test_overlapping_windows_are_reported():
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2019-12-31", "2019-12-31", "2022-01-31"]),
            "split": [S.TRAIN, S.EVAL, S.HOLDOUT],
        }
    )
    assert S.problems(frame) == ["train ends 2019-12 but eval starts 2019-12"]


def test_summary_counts_rows_metros_and_months(panel):
    summary = S.summary(S.assign(panel, S.Windows("2022-01")))
    assert summary["eval"]["first_month"] == "2020-01" and summary["eval"]["metros"] == 30
    assert sum(part["rows"] for part in summary.values()) == len(panel)


def test_fingerprint_changes_with_the_data(panel):
    out = S.assign(panel, S.Windows("2022-01"))
    changed = out.copy()
    changed.loc[0, "price"] += 1
    assert S.fingerprint(out) == S.fingerprint(out.copy())
    assert S.fingerprint(out) != S.fingerprint(changed)


def test_missing_months_are_the_gaps_inside_the_window_not_its_edges():
    frame = pd.DataFrame(
        {c.DATE: pd.to_datetime(["2019-01-31", "2019-02-28", "2019-05-31", "2019-06-30"])}
    )
    assert S.missing_months(frame) == ["2019-03", "2019-04"]
    assert S.missing_months(frame.iloc[:2]) == []
    assert S.missing_months(frame.iloc[:0]) == []


def test_uncovered_names_the_splits_a_month_selection_leaves_empty():
    windows = S.Windows("2022-01")
    assert S.uncovered(["2019-01", "2019-02"], windows) == [
        "eval (2020-01..2021-12)",
        "holdout (from 2022-01)",
    ]
    assert S.uncovered(["2019-12", "2020-01", "2022-01"], windows) == []
    assert S.uncovered(["2022-05"], windows) == [
        "train (before 2020-01)",
        "eval (2020-01..2021-12)",
    ]


def test_stacked_parts_equal_concatenating_each_part_in_any_row_order():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            S.SPLIT: rng.choice([S.TRAIN, S.EVAL, S.HOLDOUT], size=200),
            "x": rng.normal(size=200),
            "name": [f"z{i}" for i in range(200)],
        },
        index=rng.permutation(200) + 1000,  # neither ordered nor from 0
    )
    names = (S.TRAIN, S.EVAL)
    rows, counts = S.stacked(frame, names)
    expected = pd.concat([frame[frame[S.SPLIT] == n] for n in names], ignore_index=True)
    pd.testing.assert_frame_equal(rows, expected)
    assert counts == [int((frame[S.SPLIT] == n).sum()) for n in names]
    evals = S.part(rows, counts[0], counts[0] + counts[1])
    pd.testing.assert_frame_equal(evals, frame[frame[S.SPLIT] == S.EVAL].reset_index(drop=True))
    assert np.shares_memory(evals["x"].to_numpy(), rows["x"].to_numpy())  # a view, no copy
