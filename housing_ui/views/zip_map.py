"""Map: every zip code where it lies, coloured by price, predicted change or holdout error.

A click on a zip (or picking it from the list) selects it here and in the Explorer: the
Explorer's metro and zip pickers are set, and one button opens it there.
"""

import pandas as pd
import streamlit as st

from housing_ui.charts import money, percent
from housing_ui.client import Api
from housing_ui.common import fetch, metro_label
from housing_ui.map_chart import LOCATED, MEASURES, SELECTION, zip_map_chart

ALL_METROS = "All metros"
CHART, PICKED = "zip_map", "map_zip"  # session-state keys of the map and of the zip list


def page(api: Api, model: dict) -> None:
    st.title("Map")
    answer = fetch(api.base_url, model["version"], "/v1/explore/map")
    catalog = fetch(api.base_url, model["version"], "/v1/explore/catalog")
    points = pd.DataFrame(answer["zipcodes"])
    if points.empty:
        st.info("No zip code of this bundle could be placed on the map.")
        return
    labels = {m["code"]: metro_label(m) for m in catalog["metros"]}
    left, right = st.columns([3, 2])
    with left:
        measure = st.radio("Colour by", list(MEASURES), horizontal=True, key="map_measure")
    with right:
        chosen = st.selectbox("Metro", [ALL_METROS, *labels.values()], key="map_metro")
    national = chosen == ALL_METROS
    shown = points if national else points[points["metro"].map(labels) == chosen]
    # Vega-Lite cannot size a projection's height from its width, so the element's own aspect
    # ratio does, capped by the window: the map fills wide screens and stays on one screen.
    st.html(
        f"<style>.st-key-{CHART} {{aspect-ratio: 1.55; max-height: 80vh; min-height: 420px}}</style>"
    )
    st.altair_chart(
        zip_map_chart(shown, measure, national=national, selected=st.session_state.get(PICKED)),
        key=CHART,
        on_select=lambda: picked_on_map(labels, points),
        selection_mode=SELECTION,
        width="stretch",
        height="stretch",
    )
    st.caption(caption(shown, answer["unplaced"]))
    metro_of = dict(zip(points["zipcode"], points["metro"], strict=True))
    zipcode = st.selectbox(
        "Zip code",
        sorted(metro_of),
        index=None,
        placeholder="Click a zip code on the map, or type one",
        format_func=lambda z: f"{z} · {labels.get(metro_of[z], metro_of[z])}",
        key=PICKED,
        on_change=lambda: select(st.session_state[PICKED], labels, points),
    )
    if zipcode is not None:
        details(points[points["zipcode"] == zipcode].iloc[0])


def picked_on_map(labels: dict[str, str], points: pd.DataFrame) -> None:
    picked = st.session_state[CHART]["selection"][SELECTION]
    if picked:  # a click on empty ground clears the selection: keep the last zip
        st.session_state[PICKED] = picked[0]["zipcode"]
        select(picked[0]["zipcode"], labels, points)


def select(zipcode: str | None, labels: dict[str, str], points: pd.DataFrame) -> None:
    """The Explorer's pickers follow the map's selection."""
    if zipcode is None:
        return
    metro = points.loc[points["zipcode"] == zipcode, "metro"].iloc[0]
    st.session_state["explorer_metro"] = labels[metro]
    st.session_state["explorer_zip"] = zipcode


def open_explorer() -> None:
    st.session_state["page"] = "Explorer"


def details(point: pd.Series) -> None:
    cols = st.columns(4)
    cols[0].metric("Last price", money(point["price"]), help=f"as of {point['price_month']}")
    change = point["predicted_change_pct"]
    cols[1].metric(
        "Predicted change",
        "–" if pd.isna(change) else f"{change:+.1f}%",
        help="Last holdout prediction against the last price known before the holdout.",
    )
    cols[2].metric("Holdout MAPE", percent(point["mape"]))
    cols[3].metric("Position", point["located"], help=LOCATED[point["located"]])
    st.button(f"Open {point['zipcode']} in the Explorer →", on_click=open_explorer, key="map_open")


def caption(shown: pd.DataFrame, unplaced: list[str]) -> str:
    counts = shown["located"].value_counts()
    parts = [f"{n:,} at {LOCATED[how]}" for how, n in counts.items()]
    text = f"{len(shown):,} zip codes: {', '.join(parts)}. State outlines from the Census Bureau (2017)."
    if unplaced:
        text += f" Not placed (unknown prefix): {', '.join(unplaced[:10])}."
    return text
