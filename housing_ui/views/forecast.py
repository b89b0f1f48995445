"""Forecast: a zip's (or a metro's average zip's) price for the next 1-24 months as a fan chart,
and the scorecard the forecaster was published on (its holdout backtest)."""

import pandas as pd
import streamlit as st

from housing_ui import charts
from housing_ui.charts import money, money_short, percent
from housing_ui.client import Api, ApiRefused

METRO_MEAN = "Metro average (mean over its zips)"
HISTORY = 36


@st.cache_data(ttl=5, show_spinner=False)
def forecast_catalog(base_url: str) -> dict:
    """Short-lived, as the live model is: a newly published forecaster shows up within seconds."""
    return Api(base_url).get("/v1/forecast")


@st.cache_data(ttl=3600, show_spinner=False, max_entries=512)
def forecast_of(base_url: str, version: str, path: str, months: int) -> dict:
    """A publication never changes: its version is part of the cache key."""
    del version
    return Api(base_url).get(path, months=months, history=HISTORY)


def page(api: Api, model: dict) -> None:
    del model  # the forecaster is published on its own (the price model's page is Overview)
    st.title("Forecast")
    try:
        catalog = forecast_catalog(api.base_url)
    except ApiRefused as exc:
        st.info(
            f"**No forecasts are published.** {exc}. A vintage's forecaster is published when "
            "its holdout backtest beats carrying the last price forward (`uv run housing run` "
            "prints the verdict)."
        )
        return
    st.caption(
        f"Forecaster **{catalog['model_version']}** (vintage {catalog['vintage']}): every zip "
        f"from its price in **{catalog['origin']}**, 1–{catalog['horizon']} months ahead."
    )
    metros = sorted(catalog["metros"])
    left, middle, right = st.columns([2, 2, 3])
    with left:
        metro = st.selectbox("Metro", metros, key="forecast_metro")
    with middle:
        zips = [str(z).zfill(5) for z in catalog["metros"][metro]]
        where = st.selectbox("Zip code", [METRO_MEAN, *zips], key="forecast_zip")
    with right:
        months = st.slider("Months ahead", 1, catalog["horizon"], 12, key="forecast_months")
    path = f"/v1/forecast/metro/{metro}" if where == METRO_MEAN else f"/v1/forecast/{where}"
    answer = forecast_of(api.base_url, catalog["model_version"], path, months)
    ahead = pd.DataFrame(answer["points"])
    past = pd.DataFrame(answer["history"], columns=["month", "price"])  # may be empty
    title = (
        f"{metro}: {answer['summary']}" if where == METRO_MEAN else f"Zip code {where} ({metro})"
    )
    st.altair_chart(charts.fan_chart(past, ahead, title), width="stretch")
    last, end = (past["price"].iloc[-1] if not past.empty else None), ahead.iloc[-1]
    cols = st.columns(4)
    cols[0].metric(f"Price in {catalog['origin']}", money(last))
    change = (end["forecast"] / last - 1) * 100 if last else None
    cols[1].metric(f"Forecast for {end['month']}", money(end["forecast"]), percent(change, 1))
    cols[2].metric("80% band", f"{money_short(end['lower_80'])} – {money_short(end['upper_80'])}")
    cols[3].metric("95% band", f"{money_short(end['lower_95'])} – {money_short(end['upper_95'])}")
    st.download_button(
        "Download this forecast (CSV)",
        ahead.to_csv(index=False),
        file_name=f"forecast-{where if where != METRO_MEAN else metro}.csv",
        mime="text/csv",
    )
    scorecard(catalog["backtest"])


def scorecard(backtest: dict) -> None:
    """What the forecaster was published on: its holdout backtest, by horizon bucket."""
    st.subheader("Scorecard: the holdout backtest")
    order = ["1-3", "4-6", "7-12", "13-24"]
    buckets = backtest.get("by_bucket", {})
    coverage = backtest.get("coverage", {})
    rows = [
        {
            "months ahead": label,
            "points": buckets[label]["points"],
            "forecaster": percent(buckets[label]["model"]),
            "persistence": percent(buckets[label]["persistence"]),
            "drift": percent(buckets[label]["drift"]),
            "80% band covers": percent(coverage.get(label, {}).get("80"), 0),
            "95% band covers": percent(coverage.get(label, {}).get("95"), 0),
        }
        for label in order
        if label in buckets
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    overall = backtest["overall"]
    st.caption(
        f"Every origin of the holdout, every month ahead with a known price: MAPE "
        f"{percent(overall['model'])} against persistence's {percent(overall['persistence'])} "
        f"and drift's {percent(overall['drift'])}. Published only because it beats persistence "
        "overall and at every horizon."
    )
    if "by_step" in backtest:
        st.altair_chart(charts.backtest_chart(backtest["by_step"]), width="stretch")
