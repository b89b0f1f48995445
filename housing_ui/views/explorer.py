"""Explorer: a metro's or a zip code's actual prices against the model's holdout predictions."""

import pandas as pd
import streamlit as st

from housing_ui import charts
from housing_ui.charts import money, percent
from housing_ui.client import Api
from housing_ui.common import fetch, metro_picker

METRO_MEAN = "All zip codes (metro mean)"


def page(api: Api, model: dict) -> None:
    st.title("Explorer")
    catalog = fetch(api.base_url, model["version"], "/v1/explore/catalog")
    left, middle = st.columns(2)
    with left:
        metro = metro_picker(catalog, "explorer_metro")
    with middle:
        zipcode = st.selectbox("Zip code", [METRO_MEAN, *metro["zipcodes"]], key="explorer_zip")
    months = pd.period_range(catalog["first_month"], catalog["last_month"], freq="M").astype(str)
    first, last = st.select_slider(
        "Months", options=list(months), value=(months[0], months[-1]), key="explorer_months"
    )
    params = (("metro", metro["code"]),) if zipcode == METRO_MEAN else (("zipcode", zipcode),)
    series = fetch(api.base_url, model["version"], "/v1/explore/series", params)
    points = pd.DataFrame(series["points"])
    points = points[(points["month"] >= first) & (points["month"] <= last)]
    if points.empty:
        st.info("No months in this range.")
        return
    title = (
        f"{metro['name']}: mean over {len(metro['zipcodes'])} zip codes"
        if zipcode == METRO_MEAN
        else f"Zip code {zipcode} ({metro['name']})"
    )
    st.altair_chart(
        charts.series_chart(points, catalog["holdout"]["first"], title), width="stretch"
    )
    scored = points.dropna(subset=["prediction", "actual"])
    if scored.empty:
        st.caption("No holdout months in this range: predictions are shown for the holdout only.")
        return
    ape = (scored["prediction"] - scored["actual"]).abs() / scored["actual"] * 100
    inside80 = scored["actual"].between(scored["lower_80"], scored["upper_80"])
    cols = st.columns(4)
    cols[0].metric("Holdout months shown", len(scored))
    cols[1].metric("MAPE in range", percent(ape.mean()))
    cols[2].metric("Inside the 80% band", f"{inside80.mean() * 100:.0f}%")
    cols[3].metric("Last actual", money(points["actual"].dropna().iloc[-1]))
    st.download_button(
        "Download these months (CSV)",
        points.to_csv(index=False),
        file_name=f"series-{series['key']}.csv",
        mime="text/csv",
    )
