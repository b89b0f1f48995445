"""The map page through Streamlit's own test harness, against a real API on loopback: the points
drawn are the API's zips at their coordinates, the colour follows the chosen measure, and a
chosen zip becomes the Explorer's."""

import json

import httpx
import pandas as pd
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from housing_ui.map_chart import MEASURES
from tests.ui.conftest import APP


@pytest.fixture
def at(monkeypatch, api_url) -> AppTest:
    monkeypatch.setenv("HOUSING_UI_API_URL", api_url)
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params["page"] = "map"
    return ran(app.run())


def ran(app: AppTest) -> AppTest:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error and not app.warning
    return app


def the_map(app: AppTest) -> tuple[dict, list[tuple[dict, pd.DataFrame]]]:
    """The map's spec and each layer with the rows Streamlit sent for it."""
    (chart,) = app.get("vega_lite_chart")
    data = {d.name: convert_arrow_bytes_to_pandas_df(d.data.data) for d in chart.proto.datasets}
    spec = json.loads(chart.proto.spec)
    named = [layer for layer in spec["layer"] if "name" in layer.get("data", {})]
    return spec, [(layer, data[layer["data"]["name"]]) for layer in named]  # not the outlines


def drawn_points(app: AppTest) -> pd.DataFrame:
    """Every zip point drawn (coloured or grey): the circle layers."""
    _, layers = the_map(app)
    circles = [rows for layer, rows in layers if layer["mark"]["type"] == "circle"]
    return pd.concat(circles, ignore_index=True)


def coloured_layer(app: AppTest) -> tuple[dict, pd.DataFrame]:
    _, layers = the_map(app)
    (found,) = [(layer, rows) for layer, rows in layers if "color" in layer.get("encoding", {})]
    return found


def test_the_map_draws_every_zip_once_at_the_apis_coordinates(at, api_url):
    answer = httpx.get(f"{api_url}/v1/explore/map").json()
    drawn = drawn_points(at).set_index("zipcode").sort_index()
    expected = pd.DataFrame(answer["zipcodes"]).set_index("zipcode").sort_index()
    assert drawn.index.is_unique and list(drawn.index) == list(expected.index)
    assert len(drawn) == 30  # the tiny bundle: one zip per metro
    pd.testing.assert_series_equal(drawn["longitude"], expected["longitude"])
    pd.testing.assert_series_equal(drawn["latitude"], expected["latitude"])
    spec, _ = the_map(at)
    assert spec["projection"]["type"] == "albersUsa"
    assert spec["params"][0]["name"] == "zip"  # the click selection Streamlit reports
    assert "30 zip codes" in at.caption[0].value


@pytest.mark.parametrize("measure", list(MEASURES))
def test_the_colour_follows_the_chosen_measure(at, api_url, measure):
    ran(at.radio(key="map_measure").set_value(measure).run())
    layer, rows = coloured_layer(at)
    m = MEASURES[measure]
    color = layer["encoding"]["color"]
    assert color["field"] == "value" and color["title"] == m.title
    answer = pd.DataFrame(httpx.get(f"{api_url}/v1/explore/map").json()["zipcodes"])
    expected = answer.set_index("zipcode")[m.column].dropna().sort_index()
    got = rows.set_index("zipcode")["value"].sort_index()
    pd.testing.assert_series_equal(got, expected, check_names=False)
    assert color["scale"].get("type") == ("log" if m.log else None)
    assert color["scale"].get("domainMid") == m.mid


def test_a_metro_shows_only_its_zips_on_a_local_projection(at, api_url):
    metros = at.selectbox(key="map_metro").options
    ran(at.selectbox(key="map_metro").select(metros[2]).run())
    catalog = httpx.get(f"{api_url}/v1/explore/catalog").json()
    metro = next(m for m in catalog["metros"] if metros[2].endswith(f"({m['code']})"))
    assert set(drawn_points(at)["zipcode"]) == set(metro["zipcodes"])
    spec, _ = the_map(at)
    assert spec["projection"]["type"] == "mercator"


def test_a_chosen_zip_becomes_the_explorers(at, api_url):
    picker = at.selectbox(key="map_zip")
    assert picker.value is None and not at.button
    zipcode = picker.options[4].split(" · ")[0]
    ran(picker.select(picker.options[4]).run())
    point = next(
        p
        for p in httpx.get(f"{api_url}/v1/explore/map").json()["zipcodes"]
        if p["zipcode"] == zipcode
    )
    assert {m.label: m.value for m in at.metric}["Last price"] == f"${point['price']:,.0f}"
    _, layers = the_map(at)
    ring = [rows for layer, rows in layers if layer["mark"]["type"] == "point"]
    assert list(ring[-1]["zipcode"]) == [zipcode]  # the chosen zip is ringed on the map

    ran(at.button(key="map_open").click().run())
    assert at.title[0].value == "Explorer" and at.query_params["page"] == "explorer"
    assert at.selectbox(key="explorer_zip").value == zipcode
    assert at.selectbox(key="explorer_metro").value.endswith(f"({point['metro']})")
    title = json.loads(at.get("vega_lite_chart")[0].proto.spec)["title"]
    assert title.startswith(f"Zip code {zipcode}")


def test_the_national_map_draws_the_states_shipped_in_the_package(at):
    """It had no outlines: dots floating on white. They come from the wheel, not a CDN."""
    spec, _ = the_map(at)
    (outline,) = [layer for layer in spec["layer"] if layer["mark"]["type"] == "geoshape"]
    assert spec["layer"][0] == outline  # drawn first: under the points
    data = outline["data"]
    assert data["format"] == {"type": "topojson", "feature": "states"}
    assert len(data["values"]["objects"]["states"]["geometries"]) >= 50
    assert "url" not in data


def test_metro_codes_that_would_collide_go_below_their_metro():
    from housing_ui.map_chart import label_offsets

    centres = pd.DataFrame(  # NY, PHL, BWI, DC, and SEA far away, north first
        {
            "longitude": [-74.0, -75.2, -76.6, -77.0, -122.3],
            "latitude": [40.7, 40.0, 39.3, 38.9, 47.6],
        }
    )
    assert label_offsets(centres) == [-12, 14, -12, 14, -12]
