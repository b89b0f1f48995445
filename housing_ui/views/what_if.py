"""What-if: edit a real holdout row and see the API's prediction and its SHAP contributions move."""

import pandas as pd
import streamlit as st

from housing_ui import charts, feature_labels
from housing_ui.charts import money, money_short
from housing_ui.client import Api, ApiRefused
from housing_ui.common import fetch, metro_picker

WHAT_IF_FIELDS = {  # field: (label, step, display format)
    "median_list_price": ("Median list price ($)", 5_000.0, "%.0f"),
    "median_dom": ("Median days on market", 1.0, "%.0f"),
    "inventory": ("Inventory (homes for sale)", 1.0, "%.0f"),
    "new_listings": ("New listings", 1.0, "%.0f"),
    "homes_sold": ("Homes sold", 1.0, "%.0f"),
    "sold_above_list": ("Share sold above list (0–1)", 0.01, "%.2f"),
}


def page(api: Api, model: dict) -> None:
    st.title("What-if")
    catalog = fetch(api.base_url, model["version"], "/v1/explore/catalog")
    holdout = catalog["holdout"]
    months = list(pd.period_range(holdout["first"], holdout["last"], freq="M").astype(str))
    c1, c2, c3 = st.columns(3)
    with c1:
        metro = metro_picker(catalog, "whatif_metro")
    with c2:
        zipcode = st.selectbox("Zip code", metro["zipcodes"], key="whatif_zip")
    with c3:
        month = st.selectbox("Month", months, index=len(months) - 1, key="whatif_month")
    try:
        row = fetch(
            api.base_url,
            model["version"],
            "/v1/explore/row",
            (("zipcode", zipcode), ("month", month)),
        )
    except ApiRefused as exc:
        st.info(f"No data for this zip code and month: {exc}")
        return
    st.caption("Start from the real row; change any of these and the model answers at once.")
    edited = dict(row)
    # Three to a row: six abreast, the longer labels wrapped and pushed their inputs out of line.
    cols = [c for _ in range(2) for c in st.columns(3)]
    for col, (field, (label, step, shown)) in zip(cols, WHAT_IF_FIELDS.items(), strict=True):
        original = row.get(field)
        edited[field] = col.number_input(
            label,
            value=None if original is None else float(original),
            step=step,
            min_value=0.0,
            format=shown,
            key=f"whatif_{field}_{zipcode}_{month}",
        )
    try:
        answer = api.post("/v1/predict", {"rows": [row, edited], "explain": True})
    except ApiRefused as exc:
        st.warning(f"The API refused these inputs: {exc}")
        return
    before, after = answer["predictions"]
    cols = st.columns([1, 1, 1.3, 1])
    cols[0].metric("Model, real row", money(before["prediction"]))
    cols[1].metric(
        "Model, what-if",
        money(after["prediction"]),
        delta=f"{(after['prediction'] / before['prediction'] - 1) * 100:+.1f}%",
    )
    low, high = after["interval_80"]
    cols[2].metric("80% interval", f"{money_short(low)} – {money_short(high)}")
    cols[3].metric("Actual (reported)", money(row.get("price")))
    st.caption(
        f"95% interval {money(after['interval_95'][0])} – {money(after['interval_95'][1])}"
        + (f" · flags: {', '.join(after['flags'])}" if after["flags"] else "")
    )
    st.subheader("Why this price: the inputs that moved it most (SHAP)")
    named = [{**c, "feature": feature_labels.label(c["feature"])} for c in after["contributions"]]
    top = max(named, key=lambda c: abs(c["contribution"]))
    st.caption(
        f"Each bar is an input's push on this prediction, in % of price. The largest here: "
        f"{top['feature']} ({'raises' if top['contribution'] >= 0 else 'lowers'} it by about "
        f"{abs(top['contribution']) * 100:.1f}%). Most of a price comes from the zip's own last "
        "known price and trend; the market stats you edit above move it from there."
    )
    st.altair_chart(charts.contribution_chart(named), width="stretch")
