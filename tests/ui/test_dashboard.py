"""Every dashboard page through Streamlit's own test harness, against a real API on loopback."""

import json

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from housing_core import live_performance
from housing_core.storage import LocalStore
from housing_harness.live import scored
from tests.serving.test_monitoring_api import publish_report
from tests.ui.conftest import APP, free_port, running_api


def open_page(monkeypatch, url: str, page: str | None = None) -> AppTest:
    monkeypatch.setenv("HOUSING_UI_API_URL", url)
    at = AppTest.from_file(APP, default_timeout=60)
    if page:
        at.query_params["page"] = page
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    found = [m for m in at.metric if m.label == label]
    assert found, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return found[0].value


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("vega_lite_chart")]


def test_overview_is_the_model_card_of_the_live_model(monkeypatch, api_url):
    model = httpx.get(f"{api_url}/v1/model").json()
    at = open_page(monkeypatch, api_url)
    assert metric(at, "Live model") == model["version"]
    assert metric(at, "Vintage") == model["vintage"]
    assert metric(at, "Holdout MAPE") == f"{model['holdout_metrics']['mape']:.2f}%"
    assert metric(at, "Holdout MAE") == f"${model['holdout_metrics']['mae']:,.0f}"
    table = at.dataframe[0].value
    assert list(table["predictor"]) == ["model", *sorted(model["baselines"])]
    assert table["MAPE"].str.endswith("%").all() and table["MAE"].str.startswith("$").all()
    text = " ".join(m.value for m in at.markdown)
    assert f"{model['interval_coverage']['80'] * 100:.1f}%" in text
    assert metric(at, "History through") == model["history_until"]
    horizons = at.dataframe[1].value
    assert list(horizons["horizon"]) == list(model["by_horizon"])
    assert list(horizons["horizon"])[:2] == ["1-3", "4-6"]  # horizon order, not text order
    first = next(iter(model["by_horizon"].values()))
    assert horizons["model"].iloc[0] == f"{first['model']['mape']:.2f}%"
    assert not at.error and not at.warning


def test_overview_bars_get_a_band_each_so_their_labels_cannot_overlap(monkeypatch, api_url):
    at = open_page(monkeypatch, api_url)
    (bars,) = [s for s in chart_specs(at) if s["encoding"]["y"].get("field") == "predictor"]
    # Streamlit's default autosize "fit" squeezed a fixed total height (axis and title
    # included) into ~12 px per bar; a step per bar and a width-only fit keep them readable.
    assert bars["height"] == {"step": 30}
    assert bars["autosize"]["type"] == "fit-x"


def test_explorer_selections_change_the_rendered_series(monkeypatch, api_url):
    at = open_page(monkeypatch, api_url, "explorer")
    first_title = chart_specs(at)[0]["title"]
    assert "mean over" in first_title
    metros = at.selectbox(key="explorer_metro").options
    at.selectbox(key="explorer_metro").select(metros[1]).run()
    assert not at.exception
    second_title = chart_specs(at)[0]["title"]
    assert second_title != first_title and metros[1].split(" (")[0] in second_title

    zips = at.selectbox(key="explorer_zip").options
    at.selectbox(key="explorer_zip").select(zips[1]).run()
    assert chart_specs(at)[0]["title"].startswith(f"Zip code {zips[1]}")
    series = httpx.get(f"{api_url}/v1/explore/series", params={"zipcode": zips[1]}).json()
    last_actual = [p["actual"] for p in series["points"] if p["actual"] is not None][-1]
    assert metric(at, "Last actual") == f"${last_actual:,.0f}"
    shown = int(metric(at, "Holdout months shown"))
    assert shown == sum(p["prediction"] is not None for p in series["points"])

    # A month range before the holdout leaves no predictions to score.
    months = at.select_slider(key="explorer_months").options
    at.select_slider(key="explorer_months").set_range(months[0], months[12]).run()
    assert not at.exception
    assert any("No holdout months" in c.value for c in at.caption)


def test_what_if_edits_change_the_prediction_and_explain_it(monkeypatch, api_url):
    at = open_page(monkeypatch, api_url, "what-if")
    before = metric(at, "Model, real row")
    assert metric(at, "Model, what-if") == before  # nothing edited yet
    price_box = next(n for n in at.number_input if n.label.startswith("Median list price"))
    price_box.set_value(price_box.value * 1.5).run()
    assert not at.exception
    after = metric(at, "Model, what-if")
    assert after != before
    assert int(after.strip("$").replace(",", "")) > int(before.strip("$").replace(",", ""))
    bars = chart_specs(at)[-1]
    assert bars["encoding"]["x"]["field"] == "effect_pct"
    assert any("largest here" in c.value for c in at.caption)


def test_every_model_feature_has_a_name_a_reader_understands(tiny):
    """SHAP bars were labelled with column names (`trend_1`)."""
    from housing_ui.feature_labels import label

    names = [label(f) for f in tiny.state.features]
    assert not [n for n in names if "_" in n], names
    assert label("trend_1") == "the zip's 1-month price trend, carried forward"
    assert label("change_median_dom") == "days on market since the last known month"


def _axes(spec: dict):
    """Every (encoding channel, definition) of a Vega-Lite spec, layers included."""
    for part in [spec, *spec.get("layer", [])]:
        yield from ((k, d) for k, d in part.get("encoding", {}).items() if isinstance(d, dict))


@pytest.mark.parametrize("page", ["explorer", "forecast"])
def test_a_date_axis_names_the_year(monkeypatch, api_url, page):
    """At 1600 px the explorer's axis read "April October April ..." with no year."""
    at = open_page(monkeypatch, api_url, page)
    temporal = [
        d
        for spec in chart_specs(at)
        for channel, d in _axes(spec)
        if channel in ("x", "y") and d.get("type") == "temporal"
    ]
    if page == "explorer":
        assert temporal
    for encoding in temporal:
        assert "%Y" in encoding["axis"]["format"], encoding


def test_the_price_chart_has_a_legend_for_its_lines_and_bands(monkeypatch, api_url):
    at = open_page(monkeypatch, api_url, "explorer")
    series = chart_specs(at)[0]
    colours = [d for _, d in _axes(series) if d.get("field") == "series"]
    assert colours and colours[0]["scale"]["domain"] == [
        "actual",
        "predicted",
        "80% band",
        "95% band",
    ]


def test_errors_page_matches_the_api_report(monkeypatch, api_url):
    report = httpx.get(f"{api_url}/v1/explore/errors").json()
    at = open_page(monkeypatch, api_url, "errors")
    assert metric(at, "Holdout MAPE") == f"{report['mape']:.2f}%"
    assert metric(at, "Holdout rows") == f"{report['rows']:,}"
    assert metric(at, "Hardest metro") == report["by_metro"][0]["name"].split("-")[0]
    assert len(chart_specs(at)) == 3
    worst = at.dataframe[0].value
    assert list(worst["zipcode"]) == [z["zipcode"] for z in report["worst_zipcodes"]]


def test_drift_page_without_reports_says_how_to_get_them(monkeypatch, api_url):
    at = open_page(monkeypatch, api_url, "drift")
    version = httpx.get(f"{api_url}/v1/model").json()["version"]
    live = httpx.get(f"{api_url}/v1/model").json()["model_version"]
    said = " ".join(i.value for i in at.info)
    assert f"No month has landed with prices since model v{live} went live" in said
    assert f"No drift reports of model v{live} yet" in said and version in said
    table = at.dataframe[0].value
    assert list(table["version"]) == [version] and table["trigger"].iloc[0] == "manual"


def test_drift_page_shows_reports_verdicts_and_the_timeline(monkeypatch, tiny, tmp_path):
    store = tiny.publish(tmp_path / "serving")
    with running_api(store) as url:
        live = httpx.get(f"{url}/v1/model").json()["model_version"]
        rough = publish_report(store, "2022-01", 2.0, champion=live)
        publish_report(store, "2022-02", 0.0, champion=live)
        publish_report(store, "2022-02", 3.0, champion=f"{live}-superseded")  # never shown
        publish_report(store, "2022-03", 3.0, champion=f"{live}-superseded")
        local = LocalStore(store)
        for month, model_error in (("2022-01", 0.05), ("2022-02", 0.04)):  # two lost in a row
            live_performance.write(
                local, live_performance.record(scored(30, model_error, 0.02), month, live, "b")
            )
        at = open_page(monkeypatch, url, "drift")
        assert metric(at, "Live MAPE 2022-02") == "4.00%" and metric(at, "Persistence") == "2.00%"
        assert metric(at, "Months lost in a row") == "2"
        assert "lost to persistence in 2022-01, 2022-02" in at.warning[0].value
        assert f"live champion: model v{live}" in " ".join(c.value for c in at.caption)
        assert at.selectbox(key="drift_month").options == ["2022-02", "2022-01"]
        assert at.selectbox(key="drift_month").value == "2022-02"
        assert metric(at, "Verdict") == "OK" and metric(at, "Features drifting") == "0%"
        at.selectbox(key="drift_month").select("2022-01").run()
        assert not at.exception
        assert metric(at, "Verdict") == "ERROR"
        shown = " ".join(m.value for m in at.markdown)
        assert all(reason in shown for reason in rough["reasons"])
        specs = chart_specs(at)
        assert len(specs) == 4  # live error, heatmap, timeline, models
        live_lines = specs[0]["layer"][0]
        assert live_lines["encoding"]["y"]["field"] == "MAPE"
        heatmap = next(s for s in specs if s.get("mark", {}).get("type") == "rect")
        # Each feature's score over its own threshold (PSI, or Wasserstein-1 for counts).
        assert heatmap["encoding"]["color"]["field"] == "severity"
        assert any("above 1 drifts" in h.value for h in at.subheader)


@pytest.mark.parametrize("page", ["overview", "map", "explorer", "what-if", "errors", "drift"])
def test_an_unreachable_api_shows_a_banner_not_a_trace(monkeypatch, page):
    at = open_page(monkeypatch, f"http://127.0.0.1:{free_port()}", page)
    assert len(at.error) == 1 and "API unreachable" in at.error[0].value
    assert "Traceback" not in at.error[0].value


def test_an_api_without_a_model_says_so(monkeypatch, empty_api_url):
    at = open_page(monkeypatch, empty_api_url)
    assert len(at.warning) == 1 and "No model is loaded" in at.warning[0].value
    assert "housing run" in at.warning[0].value


def test_overview_shows_rejected_models_with_their_reason(monkeypatch, tiny, tmp_path):
    """A model the gate rejected is listed as REJECTED with the gate's reason, next to
    the promoted one -- not hidden, and not mistaken for a crash (which has no verdict)."""
    from tests.serving.test_monitoring_api import record_verdict

    store = tiny.publish(tmp_path / "serving")
    record_verdict(store, "1", True, [], "2026-01-01T00:00:00+00:00")
    why = "does not beat persistence in 1-3 (5.10% vs 4.90%)"
    record_verdict(store, "2", False, [why], "2026-02-01T00:00:00+00:00")
    with running_api(store) as url:
        at = open_page(monkeypatch, url)
    [verdicts] = [d.value for d in at.dataframe if "verdict" in d.value.columns]
    assert list(verdicts["verdict"]) == ["REJECTED", "promoted"]  # newest first
    assert list(verdicts["MLflow version"]) == ["2", "1"]
    assert verdicts["reason"].iloc[0] == why
    captions = " ".join(c.value for c in at.caption)
    assert "2 model(s) judged, 1 rejected" in captions and "housing/gate=rejected" in captions
