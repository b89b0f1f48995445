"""The explore endpoints the dashboard reads: answered from the bundle's own data."""

import numpy as np
import pytest

from housing_core import bundle
from tests.serving.conftest import assert_close, make_client


def test_catalog_lists_every_metro_and_zip_of_the_bundle(client, holdout):
    catalog = client.get("/v1/explore/catalog").json()
    zips = {z for m in catalog["metros"] for z in m["zipcodes"]}
    assert zips >= {f"{z:05d}" for z in holdout["zipcode"].unique()}
    assert {m["code"] for m in catalog["metros"]} == set(holdout["city"].unique())
    assert catalog["holdout"] == {
        "first": holdout["date"].min().strftime("%Y-%m"),
        "last": holdout["date"].max().strftime("%Y-%m"),
    }


def test_zip_series_has_actuals_everywhere_and_predictions_on_the_holdout(
    client, holdout, holdout_predictions
):
    zipcode = int(holdout["zipcode"].iloc[0])
    series = client.get("/v1/explore/series", params={"zipcode": zipcode}).json()
    points = series["points"]
    assert series["level"] == "zipcode" and series["key"] == f"{zipcode:05d}"
    assert [p["month"] for p in points] == sorted(p["month"] for p in points)
    scored = [p for p in points if p["prediction"] is not None]
    assert {p["split"] for p in scored} == {"holdout"}
    expected = holdout_predictions[holdout_predictions["zipcode"] == zipcode].sort_values("date")
    assert_close([p["prediction"] for p in scored], expected["prediction"])
    assert_close([p["actual"] for p in scored], expected["price"])
    assert all(p["lower_95"] <= p["lower_80"] <= p["upper_80"] <= p["upper_95"] for p in scored)
    assert {p["split"] for p in points} == {"train", "eval", "holdout"}


def test_metro_series_is_the_mean_over_its_zips(client, holdout_predictions):
    metro = holdout_predictions["city"].iloc[0]
    points = client.get("/v1/explore/series", params={"metro": metro}).json()["points"]
    rows = holdout_predictions[holdout_predictions["city"] == metro]
    expected = rows.groupby(rows["date"].dt.strftime("%Y-%m"))["prediction"].mean()
    got = {p["month"]: p["prediction"] for p in points if p["prediction"] is not None}
    assert list(got) == list(expected.index)
    assert_close(list(got.values()), expected.to_numpy())


def test_a_holdout_row_scores_to_its_published_prediction(judged_client, holdout_predictions):
    first = holdout_predictions.iloc[5]
    month = first["date"].strftime("%Y-%m")
    row = judged_client.get(
        "/v1/explore/row", params={"zipcode": int(first["zipcode"]), "month": month}
    ).json()
    assert row["zipcode"] == first["zipcode"] and row["date"].startswith(month)
    scored = judged_client.post("/v1/predict", json={"rows": [row]}).json()["predictions"][0]
    assert_close(scored["prediction"], first["prediction"])


def test_errors_report_agrees_with_the_holdout_predictions(client, holdout_predictions):
    report = client.get("/v1/explore/errors").json()
    ape = (
        (holdout_predictions["prediction"] - holdout_predictions["price"]).abs()
        / holdout_predictions["price"]
        * 100
    )
    assert report["rows"] == len(holdout_predictions)
    assert_close(report["mape"], ape.mean())
    mapes = [m["mape"] for m in report["by_metro"]]
    assert mapes == sorted(mapes, reverse=True)
    assert sum(m["rows"] for m in report["by_metro"]) == len(holdout_predictions)
    assert sum(report["residuals"]["counts"]) == len(holdout_predictions)
    worst = report["worst_zipcodes"][0]
    zip_ape = ape.groupby(holdout_predictions["zipcode"]).mean()
    assert_close(worst["mape"], zip_ape.max())
    assert np.all(np.diff(report["residuals"]["bin_edges_pct"]) > 0)


@pytest.mark.parametrize(
    ("params", "status", "text"),
    [
        ({}, 422, "exactly one of zipcode or metro"),
        ({"zipcode": 75013, "metro": "DAL"}, 422, "exactly one of zipcode or metro"),
        ({"zipcode": 99949}, 404, "zipcode 99949 is not in bundle"),
        ({"metro": "XYZ"}, 404, "metro XYZ is not in bundle"),
        ({"zipcode": 12}, 422, "greater than or equal to 501"),
    ],
)
def test_series_refuses_bad_selections_with_a_message(client, params, status, text):
    response = client.get("/v1/explore/series", params=params)
    assert response.status_code == status
    assert text in response.json()["detail"][0]["message"]


def test_row_outside_the_holdout_is_a_404_and_a_bad_month_a_422(client, holdout):
    zipcode = int(holdout["zipcode"].iloc[0])
    missing = client.get("/v1/explore/row", params={"zipcode": zipcode, "month": "2015-06"})
    assert missing.status_code == 404 and "no holdout row" in missing.json()["detail"][0]["message"]
    for month in ("June 2015", "2015-13", "0000-01", "2015-00"):  # schemathesis found the last two
        bad = client.get("/v1/explore/row", params={"zipcode": zipcode, "month": month})
        assert bad.status_code == 422 and "month" in bad.json()["detail"][0]["message"], month


def test_a_bundle_without_explorer_data_still_predicts_but_explore_says_why(store, holdout):
    local = bundle.LocalStore(store)
    files = {k: v for k, v in bundle.load(local).files.items() if k in bundle.FILES}
    bundle.publish(local, "2022-01-v9", files)
    with make_client(store) as client:
        assert client.get("/v1/ready").json()["model_version"] == "2022-01-v9"
        response = client.get("/v1/explore/catalog")
        assert response.status_code == 404
        assert "carries no explorer data" in response.json()["detail"][0]["message"]


def test_map_places_every_zip_with_the_measures_its_series_shows(client, holdout_predictions):
    import zipcodes

    answer = client.get("/v1/explore/map").json()
    catalog = client.get("/v1/explore/catalog").json()
    points = {p["zipcode"]: p for p in answer["zipcodes"]}
    assert answer["unplaced"] == [] and len(points) == len(answer["zipcodes"])
    assert set(points) == {z for m in catalog["metros"] for z in m["zipcodes"]}
    assert all(-125 < p["longitude"] < -66 and 24 < p["latitude"] < 50 for p in points.values())
    real = next(p for p in points.values() if p["located"] == "centroid")
    usps = zipcodes.matching(real["zipcode"])[0]
    assert (real["longitude"], real["latitude"]) == (float(usps["long"]), float(usps["lat"]))

    zipcode, point = next(iter(points.items()))
    series = client.get("/v1/explore/series", params={"zipcode": zipcode}).json()["points"]
    actual = [p for p in series if p["actual"] is not None]
    assert_close(point["price"], actual[-1]["actual"])
    assert point["price_month"] == actual[-1]["month"]
    known = [p["actual"] for p in actual if p["split"] != "holdout"][-1]
    last_prediction = [p["prediction"] for p in series if p["prediction"] is not None][-1]
    assert_close(point["predicted_change_pct"], (last_prediction / known - 1) * 100)
    rows = holdout_predictions[holdout_predictions["zipcode"] == int(zipcode)]
    assert_close(
        point["mape"], ((rows["prediction"] - rows["price"]).abs() / rows["price"]).mean() * 100
    )
