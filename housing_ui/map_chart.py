"""The zip-code map: points on longitude/latitude through a Vega-Lite projection, over the US
state outlines, with each metro's code at its centre.

No basemap tiles: the outlines ship in the package (static/us-states-10m.json, the Census
Bureau's 2017 boundaries as TopoJSON; notice beside it), so the map works offline (CI,
air-gapped deployments). A pure function of a plain frame, testable without Streamlit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import altair as alt
import pandas as pd

SELECTION = "zip"  # the Vega-Lite parameter a click fills; Streamlit reports it by this name
NO_VALUE = "#c8ccd2"
STATES = Path(__file__).parent / "static" / "us-states-10m.json"
LABEL_GAP = 1.6  # degrees: metro codes closer than this to a placed one go below their metro


@cache
def _states() -> dict:
    return json.loads(STATES.read_text())


def outlines() -> alt.Chart:
    """The US states, drawn under the points (no data of ours: nothing to hover or click)."""
    data = alt.Data(values=_states(), format=alt.DataFormat(type="topojson", feature="states"))
    return alt.Chart(data).mark_geoshape(fill="#f6f5f1", stroke="#c9c6bd", strokeWidth=0.6)


def label_offsets(centres: pd.DataFrame) -> list[int]:
    """A vertical offset per metro code: above its metro, or below when another code already
    sits within `LABEL_GAP` degrees above (the North-East's PHL, BWI, DC and NY collided)."""
    placed: list[tuple[float, float]] = []
    offsets = []
    for lon, lat in zip(centres["longitude"], centres["latitude"], strict=True):
        near = any(abs(lon - x) < LABEL_GAP * 1.5 and abs(lat - y) < LABEL_GAP for x, y in placed)
        offsets.append(14 if near else -12)
        if not near:
            placed.append((lon, lat))
    return offsets


@dataclass(frozen=True)
class Measure:
    column: str
    title: str
    fmt: str
    scheme: Literal["viridis", "redblue", "orangered"]
    mid: float | None = None  # a diverging scale's centre
    log: bool = False


MEASURES = {
    "Price": Measure("price", "last price", "$,.0f", "viridis", log=True),
    "Predicted change": Measure(
        "predicted_change_pct", "predicted change over the holdout (%)", "+.1f", "redblue", mid=0
    ),
    "Holdout error": Measure("mape", "holdout MAPE (%)", ".2f", "orangered"),
}
LOCATED = {
    "source": "the data's own coordinates",
    "centroid": "zip centroid",
    "interpolated": "approximate: between its real neighbours",
}


def _scale(measure: Measure, values: pd.Series) -> alt.Scale:
    if measure.log:
        return alt.Scale(type="log", scheme=measure.scheme)
    if measure.mid is not None:
        return alt.Scale(scheme=measure.scheme, domainMid=measure.mid)
    # An error scale saturates at the 95th percentile: a few outliers must not grey out the rest.
    top = float(values.quantile(0.95)) if values.notna().any() else 1.0
    return alt.Scale(scheme=measure.scheme, domain=[0, max(top, 1e-6)], clamp=True)


def _corners(points: pd.DataFrame) -> pd.DataFrame:
    """Invisible points just outside the data: the projection's fit gets a margin, and a single
    zip (a one-zip metro) gets an extent instead of a zero-size box."""
    lon, lat = points["longitude"], points["latitude"]
    pad_lon = max((lon.max() - lon.min()) * 0.05, 0.05)
    pad_lat = max((lat.max() - lat.min()) * 0.05, 0.05)
    return pd.DataFrame(
        {
            "longitude": [lon.min() - pad_lon, lon.max() + pad_lon],
            "latitude": [lat.min() - pad_lat, lat.max() + pad_lat],
        }
    )


def zip_map_chart(
    points: pd.DataFrame, measure: str, *, national: bool, selected: str | None = None
) -> alt.LayerChart | alt.FacetChart:
    """One point per zip coloured by `measure`; a click selects a zip (parameter `zip`)."""
    m = MEASURES[measure]
    frame = points.assign(
        value=points[m.column], position=points["located"].map(LOCATED).fillna("")
    )
    lon, lat = alt.Longitude("longitude:Q"), alt.Latitude("latitude:Q")
    tooltip = [
        alt.Tooltip("zipcode:N", title="zip"),
        alt.Tooltip("name:N", title="metro"),
        alt.Tooltip("value:Q", format=m.fmt, title=m.title),
        alt.Tooltip("price:Q", format="$,.0f", title="last price"),
        alt.Tooltip("price_month:N", title="as of"),
        alt.Tooltip("position:N", title="position"),
    ]
    size = 18 if national else 90
    pick = alt.selection_point(name=SELECTION, fields=["zipcode"], on="click")
    frame_layer = alt.Chart(_corners(frame)).mark_point(opacity=0).encode(lon, lat)
    missing = (
        alt.Chart(frame[frame["value"].isna()])
        .mark_circle(size=size, color=NO_VALUE)
        .encode(lon, lat, tooltip=tooltip)
    )
    dots = (
        alt.Chart(frame[frame["value"].notna()])
        .mark_circle(size=size, opacity=0.85)
        .encode(
            lon,
            lat,
            color=alt.Color(
                "value:Q",
                title=m.title,
                scale=_scale(m, frame["value"]),
                legend=alt.Legend(orient="bottom", gradientLength=320, format=m.fmt),
            ),
            tooltip=tooltip,
        )
        .add_params(pick)
    )
    layers: list[alt.Chart] = [frame_layer, missing, dots]
    if national:
        centres = frame.groupby("metro")[["longitude", "latitude"]].mean().reset_index()
        centres = centres.sort_values("latitude", ascending=False, ignore_index=True)
        centres["dy"] = label_offsets(centres)
        for dy, group in centres.groupby("dy"):
            layers.append(
                alt.Chart(group)
                .mark_text(dy=int(dy), fontSize=11, fontWeight="bold", color="#333")
                .encode(lon, lat, text="metro:N")
            )
        layers.insert(0, outlines())  # the whole country: the national view's extent anyway
    if selected is not None and (frame["zipcode"] == selected).any():
        layers.append(
            alt.Chart(frame[frame["zipcode"] == selected])
            .mark_point(size=size * 6, color="#111", strokeWidth=2.5, filled=False)
            .encode(lon, lat, tooltip=tooltip)
        )
    projection: Literal["albersUsa", "mercator"] = "albersUsa" if national else "mercator"
    return alt.layer(*layers).project(type=projection).properties(height="container")
