import numpy as np
import pandas as pd
import pytest

from housing_core import contract as c
from housing_core.cleaning import (
    CleaningReport,
    clean_month,
    drop_duplicate_keys,
    normalize_metro_names,
    not_reported_to_missing,
    outliers_to_missing,
)
from tests.conftest import PUBLISHER_LACKS, publisher_layout


@pytest.fixture
def rows(small_panel):
    one_month = small_panel[small_panel["date"] == "2016-06-30"]
    return one_month.drop_duplicates(subset=c.KEYS).head(6).reset_index(drop=True).copy()


def test_old_metro_names_map_to_one_canonical_name(rows):
    rows.loc[0, ["city", "city_full"]] = ["SF", "San Francisco-Oakland-Hayward"]
    rows.loc[1, ["city", "city_full"]] = ["SF", "San Francisco-Oakland-Berkeley"]
    report = CleaningReport()
    out = normalize_metro_names(rows, report)
    assert out.loc[0, "city_full"] == out.loc[1, "city_full"] == "San Francisco-Oakland-Berkeley"
    assert report.metro_names_normalized >= 1


def test_alias_repairs_unknown_code_and_unknown_metro_is_counted_not_dropped(rows):
    rows.loc[0, ["city", "city_full"]] = ["??", "Phoenix-Mesa-Scottsdale"]
    rows.loc[1, ["city", "city_full"]] = ["XYZ", "Nowhere"]
    report = CleaningReport()
    out = normalize_metro_names(rows, report)
    assert out.loc[0, "city"] == "PHX" and out.loc[0, "city_full"] == "Phoenix-Mesa-Chandler"
    assert (out.loc[1, "city"], out.loc[1, "city_full"]) == ("XYZ", "Nowhere")
    assert report.unknown_metro_rows == 1
    assert len(out) == len(rows)


def test_duplicates_keep_exactly_one_copy(rows):
    doubled = pd.concat([rows, rows.iloc[[2, 2]]], ignore_index=True)
    report = CleaningReport()
    out = drop_duplicate_keys(doubled, report)
    assert report.duplicates_dropped == 2
    assert len(out) == len(rows)
    assert (out["zipcode"] == rows.loc[2, "zipcode"]).sum() == 1  # kept, not dropped entirely


def test_not_reported_zeros_become_missing(rows):
    rows.loc[0, c.MARKET_STATS] = 0.0
    rows.loc[1, "median_sale_price"] = 0.0
    rows.loc[1, "sold_above_list"] = 0.0  # a genuine zero share: stays
    rows.loc[2, c.CENSUS_COLUMNS] = 0.0
    report = CleaningReport()
    out = not_reported_to_missing(rows, report)
    assert out.loc[0, c.MARKET_STATS].isna().all()
    assert np.isnan(out.loc[1, "median_sale_price"]) and out.loc[1, "sold_above_list"] == 0.0
    assert out.loc[2, c.CENSUS_COLUMNS].isna().all()
    assert report.market_rows_not_reported == 1
    assert report.zero_cells_to_missing == 1
    assert report.census_rows_not_reported == 1


def test_outlier_cells_become_missing_and_bad_targets_drop_the_row(rows):
    rows.loc[0, "median_list_price"] = 25_000_000.0
    rows.loc[1, "avg_sale_to_list"] = 3.5
    rows.loc[2, "price"] = 500.0
    report = CleaningReport()
    out = outliers_to_missing(rows, report)
    assert np.isnan(out.loc[0, "median_list_price"]) and np.isnan(out.loc[1, "avg_sale_to_list"])
    assert report.outlier_cells == {"median_list_price": 1, "avg_sale_to_list": 1}
    assert report.target_outlier_rows_dropped == 1
    assert len(out) == len(rows) - 1


def test_clean_month_counts_add_up(small_panel):
    month = small_panel[small_panel["date"].dt.strftime("%Y-%m") == "2013-05"]
    out, report = clean_month(month)
    assert report.rows_in == len(month)
    assert (
        report.rows_out
        == len(out)
        == report.rows_in - report.duplicates_dropped - report.target_outlier_rows_dropped
    )
    assert not out.duplicated(subset=c.KEYS).any()
    assert set(out["city_full"]) <= set(c.METROS.values())


def test_clean_month_refuses_rows_that_break_the_contract(rows):
    with pytest.raises(c.ContractError, match="missing columns"):
        clean_month(rows.drop(columns=["price"]))


def test_reports_add_up():
    a = CleaningReport(rows_in=3, outlier_cells={"x": 1})
    b = CleaningReport(rows_in=4, outlier_cells={"x": 2, "y": 1})
    total = a.add(b)
    assert total.rows_in == 7 and total.outlier_cells == {"x": 3, "y": 1}
    assert total.as_metadata()["outlier_cells_total"] == 4


def test_kept_extras_pass_through_cleaning_with_their_dtypes(rows):
    frame, _ = c.conform(publisher_layout(rows), source="panel.csv")
    out, _ = clean_month(frame)
    assert list(out.columns) == [*c.COLUMNS, "longitude", "latitude", "state"]
    assert out[["longitude", "latitude", "state"]].dtypes.astype(str).tolist() == [
        "float64",
        "float64",
        "object",
    ]
    assert (out["state"] == "Virginia").all() and (out["latitude"] == 38.8).all()
    assert out[PUBLISHER_LACKS].isna().all().all()
