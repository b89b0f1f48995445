import pandas as pd
import pytest

from housing_assets.lib import contract as c


def test_contract_has_the_39_housets_columns_in_published_order(sample_path):
    header = pd.read_csv(sample_path, nrows=0).columns.tolist()
    assert header == c.COLUMNS


def test_column_groups_partition_the_schema():
    grouped = [*c.MARKET_STATS, *c.POI_COLUMNS, *c.CENSUS_COLUMNS, c.TARGET]
    keys = [c.DATE, c.CITY, c.ZIPCODE, c.YEAR, c.CITY_FULL]
    assert sorted(grouped + keys) == sorted(c.COLUMNS)
    assert len(set(grouped)) == len(grouped)


def test_thirty_metros_with_aliases_pointing_at_known_codes():
    assert len(c.METROS) == 30
    assert set(c.METRO_ALIASES.values()) <= set(c.METROS)
    assert not set(c.METRO_ALIASES) & set(c.METROS.values())


@pytest.mark.parametrize(
    ("key", "expected"), [("2012-03", "2012-03-31"), ("2020-02", "2020-02-29")]
)
def test_month_end(key, expected):
    assert c.month_end(key) == pd.Timestamp(expected)


def test_coerce_casts_castable_values(small_panel):
    as_text = small_panel.head(20).astype(str)
    frame, problems = c.coerce(as_text, source="t")
    assert problems == []
    assert c.schema_problems(frame) == []
    pd.testing.assert_frame_equal(
        frame, small_panel.head(20).reset_index(drop=True), check_exact=False
    )


def test_coerce_reports_uncastable_column_with_rows_and_keeps_values(small_panel):
    bad = small_panel.head(10).reset_index(drop=True).copy()
    bad["price"] = bad["price"].astype(object)
    bad.loc[3, "price"] = "n/a"
    frame, problems = c.coerce(bad, source="feed.csv")
    assert len(problems) == 1
    assert "feed.csv" in problems[0] and "'price'" in problems[0] and "rows [3]" in problems[0]
    assert frame.loc[3, "price"] == "n/a"  # nothing silently turned into NaN


def test_schema_problems_names_missing_and_retyped_columns(small_panel):
    frame = small_panel.drop(columns=["inventory"]).astype({"zipcode": "float64"})
    problems = c.schema_problems(frame)
    assert any("missing columns: ['inventory']" in p for p in problems)
    assert any("'zipcode'" in p and "float64" in p for p in problems)


def test_all_zero_market_rows():
    frame = pd.DataFrame({col: [0.0, 1.0] for col in c.MARKET_STATS})
    assert c.all_zero_market(frame).tolist() == [True, False]
