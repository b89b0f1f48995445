"""The dashboard's Forecast page through Streamlit's test harness, against a real API on loopback."""

import httpx
import pytest

from tests.serving.test_forecast_api import publish_forecast
from tests.ui.conftest import running_api
from tests.ui.test_dashboard import chart_specs, metric, open_page


@pytest.fixture(scope="module")
def forecast_api(tiny, tmp_path_factory):
    store = tiny.publish(tmp_path_factory.mktemp("forecast-ui") / "serving")
    publish_forecast(store)
    with running_api(store) as url:
        yield url


def test_the_fan_chart_and_metrics_show_the_published_forecast(monkeypatch, forecast_api):
    catalog = httpx.get(f"{forecast_api}/v1/forecast").json()
    at = open_page(monkeypatch, forecast_api, "forecast")
    metro = sorted(catalog["metros"])[0]
    average = httpx.get(
        f"{forecast_api}/v1/forecast/metro/{metro}", params={"months": 12, "history": 36}
    ).json()
    end, last = average["points"][-1], average["history"][-1]
    assert metric(at, f"Price in {catalog['origin']}") == f"${last['price']:,.0f}"
    assert metric(at, f"Forecast for {end['month']}") == f"${end['forecast']:,.0f}"
    fan = [s for s in chart_specs(at) if "layer" in s and len(s["layer"]) == 5]
    assert fan, "no fan chart"
    # The scorecard is the backtest the gate judged.
    assert "Scorecard" in " ".join(h.value for h in at.subheader)
    text = " ".join(c.value for c in at.caption)
    assert f"Forecaster **{catalog['model_version']}**" in text

    # A zip: its own line, and 24 months when asked.
    zipcode = str(catalog["metros"][metro][0]).zfill(5)
    at.selectbox(key="forecast_zip").set_value(zipcode).run()
    at.slider(key="forecast_months").set_value(24).run()
    assert not at.exception, [e.value for e in at.exception]
    one = httpx.get(f"{forecast_api}/v1/forecast/{zipcode}", params={"months": 24}).json()
    assert metric(at, f"Forecast for {one['points'][-1]['month']}") == (
        f"${one['points'][-1]['forecast']:,.0f}"
    )


def test_without_a_published_forecaster_the_page_says_why(monkeypatch, api_url):
    at = open_page(monkeypatch, api_url, "forecast")
    assert any("No forecasts are published" in i.value for i in at.info)
    assert not at.error


def test_a_publication_without_past_prices_still_draws_its_fan(tmp_path, monkeypatch, tiny):
    """Publications made before they carried history: the fan starts at the first forecast."""
    from housing_core import bundle

    store = tiny.publish(tmp_path / "serving")
    published = publish_forecast(store)
    local = bundle.LocalStore(store)
    files = dict(bundle.load(local, published.version, kind=bundle.FORECAST).files)
    del files["history.parquet"]
    bundle.publish(local, "2022-01-f2", files, kind=bundle.FORECAST)
    with running_api(store) as url:
        at = open_page(monkeypatch, url, "forecast")
    assert [s for s in chart_specs(at) if "layer" in s and len(s["layer"]) == 5]
