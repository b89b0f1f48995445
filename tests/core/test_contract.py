import pandas as pd
import pytest

from housing_core import contract as c
from tests.conftest import PUBLISHER_LACKS, publisher_layout


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


# --- the declared column mapping (conform) -------------------------------------------------------


@pytest.fixture
def month(small_panel):
    rows = small_panel[small_panel["date"] == "2016-06-30"]
    return rows.head(8).reset_index(drop=True)


def test_housets_layout_is_unchanged_by_the_mapping(small_panel):
    frame, problems = c.conform(small_panel, source="housets.csv")
    assert problems == [] and frame.attrs == {}
    pd.testing.assert_frame_equal(frame, c.coerce(small_panel, source="housets.csv")[0])
    pd.testing.assert_frame_equal(frame, small_panel)


def test_publisher_layout_maps_metro_keeps_extras_and_records_what_is_missing(month):
    frame, problems = c.conform(publisher_layout(month), source="panel.csv")
    assert problems == [] and c.schema_problems(frame) == []
    assert list(frame.columns) == [*c.COLUMNS, "longitude", "latitude", "state"]
    assert frame["city"].tolist() == month["city"].tolist()  # the code, not the town
    assert frame["city_full"].tolist() == month["city_full"].tolist()
    assert (frame["state"] == "Virginia").all() and (frame["longitude"] == -77.1).all()
    assert c.not_reported_columns(frame) == PUBLISHER_LACKS
    assert frame[PUBLISHER_LACKS].isna().all().all()
    assert c.dropped_columns(frame) == ["city"]  # the town
    pd.testing.assert_frame_equal(frame[["median_dom", "price"]], month[["median_dom", "price"]])


def test_year_is_derived_from_the_date(month):
    frame, problems = c.conform(month.drop(columns=["year"]), source="f.csv")
    assert problems == [] and frame["year"].dtype == "int64"
    assert (frame["year"] == 2016).all()
    assert c.not_reported_columns(frame) == []


def test_unknown_extra_column_is_dropped_and_named(month):
    frame, _ = c.conform(month.assign(walk_score=50, county="Fairfax"), source="f.csv")
    assert list(frame.columns) == c.COLUMNS
    assert c.dropped_columns(frame) == ["walk_score", "county"]


@pytest.mark.parametrize(
    ("given", "code", "name"),
    [
        ({"metro": "DC_Metro"}, "DC", "DC_Metro"),
        ({"metro": "DC"}, "DC", "DC_Metro"),
        ({"metro": "Washington-Arlington-Alexandria"}, "DC", "Washington-Arlington-Alexandria"),
        ({"city": "DC"}, "DC", "DC_Metro"),
        ({"city_full": "DC_Metro"}, "DC", "DC_Metro"),
        ({"metro": "DC", "city": "Arlington"}, "DC", "DC_Metro"),
        ({"metro": "Gotham", "city": "Arlington"}, "NY", "New York-Newark-Jersey City"),
    ],
)
def test_metro_from_whichever_column_the_source_has(month, given, code, name):
    frame = month.drop(columns=["city", "city_full"]).assign(**given)
    if given.get("metro") == "Gotham":  # one known metro makes the column usable; unknown stays
        frame.loc[0, "metro"] = "NY"
    out, _ = c.conform(frame, source="f.csv")
    assert (out.loc[0, "city"], out.loc[0, "city_full"]) == (code, name)
    if given.get("metro") == "Gotham":
        assert (out.loc[1, "city"], out.loc[1, "city_full"]) == ("Gotham", "Gotham")


@pytest.mark.parametrize("column", ["zipcode", "date", "price"])
def test_missing_key_or_target_names_the_file_and_the_column(month, column):
    with pytest.raises(c.ContractError, match=rf"feed/2016-06\.csv: missing .*'{column}'"):
        c.conform(month.drop(columns=[column]), source="feed/2016-06.csv")


def test_missing_metro_names_the_file_and_the_columns_it_looked_for(month):
    with pytest.raises(
        c.ContractError, match=r"f\.csv: missing .*metro \(metro / city / city_full\)"
    ):
        c.conform(month.drop(columns=["city", "city_full"]), source="f.csv")


def test_a_town_as_the_only_metro_column_is_refused(month):
    towns = month.drop(columns=["city_full"]).assign(city="Springfield")
    with pytest.raises(
        c.ContractError, match=r"f\.csv: no usable metro column: 'city'.*Springfield"
    ):
        c.conform(towns, source="f.csv")


def test_schema_allows_only_the_kept_extras_with_their_dtypes(month):
    assert c.schema_problems(month.assign(longitude=-77.0, state="VA")) == []
    assert c.schema_problems(month.assign(county="Fairfax")) == ["unexpected columns: ['county']"]
    problems = c.schema_problems(month.assign(latitude="north"))
    assert problems == ["column 'latitude' has dtype object, contract says float64"]
