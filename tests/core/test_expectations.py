import pandas as pd
import pytest

from housing_core import contract as c
from housing_core.cleaning import clean_month
from housing_core.expectations import (
    ERROR,
    WARN,
    validate_cleaned,
    validate_contract,
    validate_ranges,
    validate_reported,
)
from tests.conftest import PUBLISHER_LACKS, frames_by_month, publisher_layout


@pytest.fixture
def frames(small_panel):
    return {m: f.copy() for m, f in list(frames_by_month(small_panel).items())[:6]}


def test_sound_months_pass_the_contract(frames):
    outcome = validate_contract(frames)
    assert outcome.passed, outcome.markdown()
    assert outcome.expectations > 40
    assert outcome.months == sorted(frames)


def test_missing_column_fails_only_its_month_and_names_the_column(frames):
    broken = sorted(frames)[2]
    frames[broken] = frames[broken].drop(columns=["median_dom"])
    outcome = validate_contract(frames)
    assert outcome.failed_months(ERROR) == [broken]
    assert "median_dom" in outcome.markdown()
    assert broken in outcome.month_table()


def test_text_in_numeric_column_fails_with_the_offending_value(frames):
    broken = sorted(frames)[1]
    frame = frames[broken].astype({"price": object})
    frame.loc[4, "price"] = "call us"
    frames[broken] = frame
    outcome = validate_contract(frames)
    assert outcome.failed_months(ERROR) == [broken]
    assert "call us" in outcome.markdown()


def test_rows_dated_outside_their_partition_fail(frames):
    first = sorted(frames)[0]
    frames[first].loc[0:2, "date"] = pd.Timestamp("2019-01-31")
    outcome = validate_contract(frames)
    assert outcome.failed_months(ERROR) == [first]
    finding = next(f for f in outcome.findings if "date_month" in f.rule)
    assert finding.month_counts == {first: 3}


def test_null_keys_and_empty_months_fail(frames):
    months = sorted(frames)
    frames[months[1]] = frames[months[1]].iloc[0:0]
    frames[months[3]].loc[0, "date"] = pd.NaT
    outcome = validate_contract(frames)
    assert outcome.failed_months(ERROR) == [months[1], months[3]]


def test_range_violations_are_warnings_with_counts_and_examples(frames):
    month = sorted(frames)[0]
    frame = frames[month]
    frame.loc[0, "avg_sale_to_list"] = 7.0
    frame.loc[1, "Median Age"] = 150.0
    frame.loc[2, "median_sale_price"] = 0.0  # HouseTS "not reported": not a violation
    outcome = validate_ranges(frames, expected_rows=len(frame))
    assert outcome.failed_months(ERROR) == []
    assert outcome.failed_months(WARN) == [month]
    rules = {f.rule: f for f in outcome.findings}
    assert rules["column_values_to_be_between[avg_sale_to_list]"].month_counts == {month: 1}
    assert "Median Age=150" in rules["column_values_to_be_between[Median Age]"].examples[0]
    assert not any("median_sale_price" in r for r in rules)


def test_row_count_far_from_expected_warns(frames):
    outcome = validate_ranges(frames, expected_rows=10 * len(next(iter(frames.values()))))
    assert any("rows_vs_expected" in f.rule for f in outcome.findings)
    assert outcome.failed_months(WARN) == sorted(frames)


def test_cleaned_data_passes_and_duplicates_fail(frames):
    cleaned = {m: clean_month(f)[0] for m, f in frames.items()}
    assert validate_cleaned(cleaned).passed
    month = sorted(cleaned)[0]
    cleaned[month] = pd.concat([cleaned[month], cleaned[month].head(2)], ignore_index=True)
    outcome = validate_cleaned(cleaned)
    assert outcome.failed_months(ERROR) == [month]
    assert any(f.rule.startswith("compound_columns_to_be_unique") for f in outcome.findings)


@pytest.mark.slow
def test_real_sample_passes_every_suite(sample_path):
    from housing_core.sources import FilePanelSource

    source = FilePanelSource(sample_path)
    raw = {m: load.frame for m, load in source.load_months(source.months()).items()}
    assert validate_contract(raw).passed
    assert validate_ranges(raw, expected_rows=None).passed
    assert validate_cleaned({m: clean_month(f)[0] for m, f in raw.items()}).passed
    assert sum(len(f) for f in raw.values()) == 2862
    assert set(pd.concat(raw.values())["city"]) == set(c.METROS)


@pytest.fixture
def partial(frames):
    """The same months as a partial source delivers them, conformed to the contract."""
    return {m: c.conform(publisher_layout(f), source=f"{m}.csv")[0] for m, f in frames.items()}


def test_a_partial_source_passes_the_contract_with_its_kept_extras(partial):
    outcome = validate_contract(partial)
    assert outcome.passed, outcome.markdown()


def test_an_unknown_extra_column_or_a_missing_contract_column_fails_the_contract(partial):
    months = sorted(partial)
    partial[months[0]] = partial[months[0]].assign(county="Fairfax")
    partial[months[1]] = partial[months[1]].drop(columns=["bank"])
    outcome = validate_contract(partial)
    assert outcome.failed_months(ERROR) == months[:2]
    assert "county" in outcome.markdown() and "bank" in outcome.markdown()


def test_not_reported_columns_are_named_per_month_as_warnings(frames, partial):
    months = sorted(partial)
    mixed = {**partial, months[0]: frames[months[0]]}  # one month in the full HouseTS layout
    outcome = validate_reported(mixed)
    assert outcome.failed_months(ERROR) == []
    assert outcome.failed_months(WARN) == months[1:]
    assert outcome.month_findings(months[0]) == []
    named = outcome.month_findings(months[1])
    assert len(named) == len(PUBLISHER_LACKS)
    assert named[0].startswith("column_reported[median_ppsf]")
    rows = len(partial[months[1]])
    assert outcome.month_brief(months[1]) == (
        f"column_reported: median_ppsf, median_list_ppsf, sold_above_list and "
        f"{len(PUBLISHER_LACKS) - 3} more ({rows:,} rows each, WARN)"
    )
    assert outcome.month_brief(months[0]) == ""
    assert validate_reported(frames).passed


def test_all_missing_not_reported_columns_are_not_implausible(partial):
    outcome = validate_ranges(partial, expected_rows=len(next(iter(partial.values()))))
    assert outcome.passed, outcome.markdown()
    month = sorted(partial)[0]
    partial[month].loc[0, "median_dom"] = -3.0  # a reported column is still checked
    assert validate_ranges(partial, expected_rows=None).failed_months(WARN) == [month]


def test_cleaned_partial_months_keep_their_extras_and_pass(partial):
    cleaned = {m: clean_month(f)[0] for m, f in partial.items()}
    assert validate_cleaned(cleaned).passed
    assert all(list(f.columns[-3:]) == ["longitude", "latitude", "state"] for f in cleaned.values())


@pytest.mark.slow
def test_validating_in_chunks_of_months_reports_what_one_batch_does(frames, monkeypatch):
    """Checks stack months in chunks (memory bounded by a chunk, not the panel): a chunk of one
    month must find the same rules, row counts and first examples as one batch of all."""
    from housing_core import expectations

    months = sorted(frames)
    frames[months[1]].loc[0, "median_list_price"] = 9e9
    frames[months[4]].loc[1, "median_list_price"] = 8e9
    frames[months[4]].loc[2, c.ZIPCODE] = 12
    cleaned = {m: clean_month(f)[0] for m, f in frames.items()}

    def outcomes():
        return [
            (o.months, o.expectations, [(f.rule, f.month_counts, f.examples) for f in o.findings])
            for o in (
                validate_contract(frames),
                validate_ranges(frames, 30),
                validate_cleaned(cleaned),
            )
        ]

    whole = outcomes()
    monkeypatch.setattr(expectations, "CHUNK_ROWS", 1)
    assert outcomes() == whole
    assert any(findings for _, _, findings in whole)  # something to merge was found


def test_a_column_the_month_before_reported_and_this_month_lost_quarantines_the_month(frames):
    """A month delivered without `median_list_price` got in with a warning drowned among the
    columns a source never reports; it is now a blocking finding naming the column. The month
    after, with the column back, is not judged against the rejected month."""
    import numpy as np

    months = sorted(frames)
    before, lost = months[2], months[3]
    frames[lost] = frames[lost].assign(median_list_price=np.nan)
    outcome = validate_contract(frames)
    assert outcome.failed_months("ERROR") == [lost]
    (finding,) = [f for f in outcome.findings if f.rule == "columns_still_reported"]
    had = int(frames[before]["median_list_price"].notna().sum())
    assert finding.examples == [
        f"{lost}: median_list_price was reported for {had:,} of {len(frames[before]):,} zips "
        f"the month before and for none of this month's {len(frames[lost]):,}: the delivery "
        "lost a column"
    ]
    # Judged against the month before as accepted (stored) when it is not in the run.
    alone = validate_contract({lost: frames[lost]}, previous={lost: frames[before]})
    assert alone.failed_months("ERROR") == [lost]


def test_a_column_a_source_never_reports_does_not_block(frames):
    import numpy as np

    quiet = {m: f.assign(median_list_price=np.nan) for m, f in frames.items()}
    assert validate_contract(quiet).passed
