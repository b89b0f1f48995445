"""/v1/forecast: the published forecaster's table served per zip, per metro and in batches, with
clear 404/422/503 answers; a refused publication never replaces the one serving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from housing_core import bundle
from housing_core.forecast import intervals as I
from housing_core.forecast import model as M
from housing_core.forecast import publishing
from housing_core.forecast import signals as S
from housing_core.forecast.panel import Panel
from housing_serving.forecasts import ZipRows
from tests.core.test_forecast import rows as momentum_rows
from tests.serving.conftest import make_client


def publish_forecast(
    root, version: str = "2022-01-f1", months: int = 60
) -> publishing.PublishedForecast:
    panel = Panel.from_rows(momentum_rows(months, 6, seed=2))
    examples = M.Examples(panel, S.compute(panel, 12))
    model = M.fit(examples, panel.n_months - 1, M.Params())
    pool = I.calibration_pool(examples, model, panel.n_months, 2)
    bands = publishing.Bands.of(pool, panel.n_months - 1, panel.months)
    table = publishing.forecasts(examples, model, bands, panel.n_months - 1, model.horizon)
    artifact = publishing.ForecasterArtifact(
        model.to_dict(), 1.0, 1, (panel.months[0], panel.months[-1])
    )
    backtest = {"overall": {"model": 1.0, "persistence": 2.0, "drift": 1.5}}
    provenance = {"version": version, "vintage": "2022-01", "origin": panel.months[-1]}
    past = publishing.history(panel)
    files = publishing.files(artifact, bands, table, backtest, provenance, past)
    bundle.publish(bundle.LocalStore(root), version, files, kind=bundle.FORECAST)
    return publishing.PublishedForecast.load(bundle.LocalStore(root), version)


@pytest.fixture
def published(store):
    return publish_forecast(store)


def test_a_zip_forecast_is_its_published_rows(store, published):
    table = published.forecasts
    with make_client(store) as client:
        r = client.get("/v1/forecast/20001", params={"months": 6})
    assert r.status_code == 200, r.text
    body = r.json()
    mine = table[(table.zipcode == 20001) & (table.step <= 6)]
    assert body["zipcode"] == "20001" and body["metro"] == "DC"
    assert (
        body["origin"] == published.provenance["origin"] and body["model_version"] == "2022-01-f1"
    )
    assert [p["step"] for p in body["points"]] == [1, 2, 3, 4, 5, 6]
    assert [p["forecast"] for p in body["points"]] == pytest.approx(mine["forecast"].tolist())
    assert [p["upper_95"] for p in body["points"]] == pytest.approx(mine["upper_95"].tolist())
    first = body["points"][0]
    assert (
        first["lower_95"]
        < first["lower_80"]
        < first["forecast"]
        < first["upper_80"]
        < first["upper_95"]
    )


def test_the_catalog_and_a_zip_history(store, published):
    with make_client(store) as client:
        catalog = client.get("/v1/forecast").json()
        r = client.get("/v1/forecast/20002", params={"months": 1, "history": 12})
    assert catalog["metros"] == {"Austin": [20000, 20002, 20004], "DC": [20001, 20003, 20005]}
    assert catalog["horizon"] == 24 and catalog["origin"] == published.provenance["origin"]
    history = r.json()["history"]
    assert len(history) == 12 and history[-1]["month"] == published.provenance["origin"]
    past = published.history[published.history.zipcode == 20002]
    assert history[-1]["price"] == pytest.approx(float(past["price"].iloc[-1]))
    assert r.json()["points"][0]["month"] > history[-1]["month"]


def test_many_zips_and_a_metro(store, published):
    with make_client(store) as client:
        batch = client.post("/v1/forecast", json={"zipcodes": [20000, 20003, 20000], "months": 24})
        metro = client.get("/v1/forecast/metro/DC", params={"months": 3})
    assert batch.status_code == 200, batch.text
    got = batch.json()["forecasts"]
    assert [f["zipcode"] for f in got] == ["20000", "20003"] and len(got[0]["points"]) == 24
    assert metro.status_code == 200, metro.text
    table = published.forecasts
    dc = table[(table.metro == "DC") & (table.step == 3)]
    point = metro.json()["points"][-1]
    assert point["zips"] == 3 and point["forecast"] == pytest.approx(dc["forecast"].mean())


@pytest.mark.parametrize(
    "call, status, says",
    [
        (lambda c: c.get("/v1/forecast/90210"), 404, "zip 90210 has no forecast"),
        (lambda c: c.get("/v1/forecast/99999"), 422, "less than or equal to 99950"),
        (
            lambda c: c.get("/v1/forecast/20001", params={"months": 25}),
            422,
            "beyond what forecaster",
        ),
        (lambda c: c.get("/v1/forecast/20001", params={"months": 0}), 422, "months"),
        (lambda c: c.get("/v1/forecast/metro/Nowhere"), 404, "metro 'Nowhere' has no forecast"),
        (
            lambda c: c.post("/v1/forecast", json={"zipcodes": [20001, 12345, 23456]}),
            404,
            "2 zip(s) have no forecast in 2022-01-f1: 12345, 23456",
        ),
        (lambda c: c.post("/v1/forecast", json={"zipcodes": []}), 422, "zipcodes"),
        (lambda c: c.post("/v1/forecast", json={"zipcodes": [20001], "extra": 1}), 422, "extra"),
    ],
)
def test_bad_requests_get_a_clear_answer(store, published, call, status, says):
    with make_client(store) as client:
        r = call(client)
    assert r.status_code == status, r.text
    assert says in r.text


def test_no_forecast_published_is_404_saying_why(store):
    with make_client(store) as client:
        r = client.get("/v1/forecast/20001")
    assert r.status_code == 404
    assert "backtest beats persistence" in r.text


def test_a_tampered_publication_is_refused_and_the_live_one_keeps_serving(store, published):
    with make_client(store) as client:
        assert client.get("/v1/forecast/20001").status_code == 200
        publish_forecast(store, "2022-01-f2", months=72)
        local = bundle.LocalStore(store)
        local.write("forecasts/2022-01-f2/forecasts.parquet", b"not the published table")
        client.app.state.runtime.refresh()
        r = client.get("/v1/forecast/20001")
    assert r.status_code == 200 and r.json()["model_version"] == "2022-01-f1"


def test_zip_rows_find_each_zips_run_and_nothing_between_or_beyond():
    zips = np.array([501, 501, 20001, 20001, 20001, 99950])
    rows = ZipRows.of(pd.DataFrame({"step": [1, 2, 1, 2, 3, 1]}), zips)
    assert rows[20001]["step"].tolist() == [1, 2, 3] and rows[99950]["step"].tolist() == [1]
    assert rows[501]["step"].tolist() == [1, 2]
    for absent in (0, 502, 20000, 99951):
        assert absent not in rows and rows.get(absent) is None
        with pytest.raises(KeyError):
            rows[absent]
    assert "20001" not in rows  # zip codes are numbers here, as the routes parse them
