"""Errors: where the holdout errors are -- by metro, month and zip code."""

import pandas as pd
import streamlit as st

from housing_ui import charts
from housing_ui.charts import percent
from housing_ui.client import Api
from housing_ui.common import fetch


def page(api: Api, model: dict) -> None:
    st.title("Errors")
    report = fetch(api.base_url, model["version"], "/v1/explore/errors")
    by_metro = pd.DataFrame(report["by_metro"])
    cols = st.columns(3)
    cols[0].metric("Holdout MAPE", percent(report["mape"]))
    cols[1].metric("Holdout rows", f"{report['rows']:,}")
    worst = by_metro.iloc[0]
    cols[2].metric(
        "Hardest metro",
        worst["name"].split("-")[0],
        delta=f"MAPE {percent(worst['mape'])}",
        delta_color="off",
        help=worst["name"],
    )
    left, right = st.columns(2)
    with left:
        st.subheader("MAPE by metro")
        st.altair_chart(charts.metro_mape_chart(by_metro), width="stretch")
    with right:
        st.subheader("Residual distribution")
        st.altair_chart(charts.residual_chart(report["residuals"]), width="stretch")
        st.subheader("Error by month")
        st.altair_chart(charts.month_error_chart(pd.DataFrame(report["by_month"])), width="stretch")
    st.subheader("Worst zip codes")
    worst_zips = pd.DataFrame(report["worst_zipcodes"])
    st.dataframe(
        worst_zips.assign(mape=worst_zips["mape"].map(percent)),
        hide_index=True,
        width="stretch",
    )
