"""Zip positions for the dashboard's map: the source's own, the USPS centroid, or between the
real neighbours of a made-up zip."""

import itertools

import pandas as pd
import pytest
import zipcodes

from housing_core import bundle, publishing, zip_map
from housing_core.explorer import Explorer


def usps(zipcode: str) -> tuple[float, float]:
    entry = zipcodes.matching(zipcode)[0]
    return float(entry["long"]), float(entry["lat"])


def test_a_real_zip_is_at_its_usps_centroid():
    assert zip_map.locate(30012) == (*usps("30012"), zip_map.CENTROID)


@pytest.mark.parametrize("prefix", [300, 787, 941])
def test_a_made_up_zip_lies_between_its_real_neighbours(prefix):
    real = [int(e["zip_code"]) for e in zipcodes.similar_to(str(prefix)) if e["lat"]]
    gaps = [(a, b) for a, b in itertools.pairwise(real) if b - a > 1]
    below, above = gaps[0]
    lon, lat, how = zip_map.locate(below + 1)
    (lon0, lat0), (lon1, lat1) = usps(f"{below:05d}"), usps(f"{above:05d}")
    assert how == zip_map.INTERPOLATED
    assert min(lon0, lon1) <= lon <= max(lon0, lon1) and min(lat0, lat1) <= lat <= max(lat0, lat1)
    assert (lon, lat) != (lon0, lat0) or (lon0, lat0) == (lon1, lat1)


def test_a_prefix_without_any_real_zip_is_not_placed():
    assert zip_map.locate(213_01) is None  # 213xx is not a USPS prefix


def frames(**extra) -> tuple[pd.DataFrame, pd.DataFrame]:
    dates = pd.to_datetime(["2021-11-01", "2021-12-01", "2022-01-01"])
    history = pd.DataFrame(
        {
            "zipcode": [30012] * 3 + [21301] * 3,
            "date": [*dates, *dates],
            "city": ["ATL"] * 3 + ["BWI"] * 3,
            "price": [100.0, 110.0, 121.0, 50.0, 50.0, 55.0],
            "split": ["train", "eval", "holdout"] * 2,
            **extra,
        }
    )
    holdout = history[history["split"] == "holdout"].assign(prediction=[132.0, 44.0])
    holdout["ape"] = (holdout["prediction"] - holdout["price"]).abs() / holdout["price"] * 100
    return history, holdout


def test_measures_and_an_unplaceable_zip():
    points, unplaced = zip_map.zip_points(*frames())
    assert unplaced == ["21301"]
    (point,) = points
    assert point["zipcode"] == "30012" and point["located"] == zip_map.CENTROID
    assert point["price"] == 121.0 and point["price_month"] == "2022-01"
    assert point["predicted_change_pct"] == pytest.approx(20.0)  # 132 against 110
    assert point["mape"] == pytest.approx(11 / 121 * 100)


def test_the_sources_own_coordinates_win_over_the_centroid():
    points, unplaced = zip_map.zip_points(
        *frames(longitude=[-84.0] * 3 + [-76.6] * 3, latitude=[33.7] * 3 + [39.3] * 3)
    )
    assert unplaced == []
    assert [(p["longitude"], p["latitude"], p["located"]) for p in points] == [
        (-76.6, 39.3, "source"),
        (-84.0, 33.7, "source"),
    ]


def test_a_sources_coordinates_ride_along_in_the_bundle_to_the_map(tiny):
    rows = tiny.splits.assign(longitude=-77.1, latitude=38.8)  # as the DC panel delivers them
    files = publishing.explorer_files(rows, tiny.holdout_predictions)
    series, holdout = (bundle.LocalCopy.holding(n, files[n]) for n in bundle.EXPLORER_FILES)
    points = Explorer(series, holdout).map["zipcodes"]
    assert len(points) == rows["zipcode"].nunique()
    assert {(p["longitude"], p["latitude"], p["located"]) for p in points} == {
        (-77.1, 38.8, "source")
    }
