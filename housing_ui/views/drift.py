"""Drift: the live champion's error against persistence as months land, each month's drift
report as it scored it (what explains that error), and the bundle timeline."""

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from housing_ui import charts
from housing_ui.client import Api


@st.cache_data(ttl=20, show_spinner=False)
def monitoring(base_url: str) -> tuple[dict, dict, dict]:
    """Live records, drift reports and the bundle timeline change as months arrive: a short
    cache."""
    api = Api(base_url)
    return api.get("/v1/live"), api.get("/v1/drift"), api.get("/v1/models")


def live_section(live: dict) -> None:
    st.subheader("Live error against persistence")
    months = pd.DataFrame(live["months"])
    if months.empty or months["mape"].isna().all():
        st.info(
            f"No month has landed with prices since model v{live['champion']} went live. Each "
            "one that does is scored here: what the model answered for it against its prices, "
            "and against persistence (each zip's last price carried forward)."
        )
        return
    latest = months.dropna(subset=["mape"]).iloc[-1]
    streak = live["losing_streak"]
    cols = st.columns(3)
    cols[0].metric(f"Live MAPE {latest['month']}", f"{latest['mape']:.2f}%")
    cols[1].metric("Persistence", f"{latest['persistence_mape']:.2f}%")
    cols[2].metric("Months lost in a row", f"{len(streak)}")
    if streak:
        st.warning(f"The champion lost to persistence in {', '.join(streak)}.")
    st.altair_chart(charts.live_chart(months), width="stretch")


def page(api: Api, model: dict) -> None:
    st.title("Drift")
    live, reports, timeline = monitoring(api.base_url)
    live_section(live)
    st.subheader("Drift reports")
    models = pd.DataFrame(timeline["models"])
    months = pd.DataFrame(reports["months"])
    scored_by = reports["champion"]
    st.caption(
        f"Reports scored by the live champion: model v{scored_by} (bundle {model['version']}). "
        "Reports of earlier champions stay readable through the API's `?champion=`."
    )
    if months.empty:
        st.info(
            f"No drift reports of model v{scored_by} yet. They are written for every month that "
            f"arrives after a champion is published (the live bundle is {model['version']}), and "
            "recomputed for the recent months when a new champion goes live; see the docs' "
            "Automation page (docs/automation.md) to watch it happen."
        )
    else:
        chosen = st.selectbox("Report month", list(months["month"])[::-1], key="drift_month")
        row = months.set_index("month").loc[chosen]
        cols = st.columns(4)
        cols[0].metric("Verdict", row["status"].upper())
        cols[1].metric("Features drifting", f"{row['share_drifting']:.0%}")
        cols[2].metric("Prediction PSI", f"{row['prediction_psi']:.3f}")
        cols[3].metric(
            "MAPE vs champion holdout",
            "–"
            if row["mape_ratio"] != row["mape_ratio"] or row["mape_ratio"] is None
            else f"×{row['mape_ratio']:.2f}",
        )
        for reason in row["reasons"] or ["within thresholds"]:
            st.markdown(f"- {reason}")
        # Severity (each feature's score over its own threshold: PSI, or Wasserstein-1 for
        # counts) where every report has it; reports from before the count statistic have PSI.
        severity = "severity" in months and all(bool(s) for s in months["severity"])
        value = "severity" if severity else "psi"
        st.subheader(
            "Drift per feature and month (score over its threshold; above 1 drifts)"
            if severity
            else "PSI per feature and month"
        )
        long = (
            pd.DataFrame(list(months[value]), index=months["month"])
            .rename_axis("month")
            .reset_index()
            .melt(id_vars="month", var_name="feature", value_name=value)
        )
        st.altair_chart(
            charts.drift_heatmap(long, value, "severity", 1.0)
            if severity
            else charts.drift_heatmap(long, value, "PSI", 0.25),
            width="stretch",
        )
        st.subheader("Drift over time, with retraining events")
        st.altair_chart(charts.drift_timeline(months, models), width="stretch")
        with st.expander(f"The full report for {chosen}"):
            path = f"/v1/drift/{chosen}/report?champion={scored_by}"
            st.markdown(f"[Open it on its own]({api.base_url}{path})")
            components.html(api.text(path), height=700, scrolling=True)
    st.subheader("Models published")
    st.altair_chart(charts.retrain_chart(models), width="stretch")
    st.dataframe(
        models[
            [
                "version",
                "vintage",
                "data_until",
                "trigger",
                "trigger_reason",
                "holdout_mape",
                "live",
            ]
        ],
        hide_index=True,
        width="stretch",
    )
