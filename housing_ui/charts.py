"""Altair charts for the dashboard: pure functions of plain frames, testable without Streamlit."""

from __future__ import annotations

import altair as alt
import pandas as pd

MONEY_AXIS = alt.Axis(format="$,.0f", title=None)
LABELS = alt.Axis(labelOverlap=False, labelLimit=260)  # every category named, none cut short
ACTUAL, PREDICTED = "#1f4e79", "#d9822b"
BAR_STEP = 30  # px per bar of a horizontal bar chart
FIT_WIDTH = alt.AutoSizeParams(type="fit-x", contains="padding")
# A month axis names its year: "Apr 2021", never a bare month name a reader cannot place.
MONTHS = alt.Axis(format="%b %Y", labelOverlap="greedy", title=None)
# A measure's ticks at a readable precision (a one-point chart ticked its value: 5.030382).
FIGURES = alt.Axis(format=",.3~f")
SERIES = alt.Scale(  # one legend for the lines and bands of a price chart
    domain=["actual", "predicted", "80% band", "95% band"],
    range=[ACTUAL, PREDICTED, "#f0c9a0", "#f8e6d2"],  # the bands as drawn: lighter, lightest
)


def money(value: float | None) -> str:
    return "–" if value is None or value != value else f"${value:,.0f}"


def money_short(value: float | None) -> str:
    """$133k / $1.25M: for tight spots such as a metric holding an interval."""
    if value is None or value != value:
        return "–"
    return f"${value / 1e6:,.2f}M" if abs(value) >= 1e6 else f"${value / 1e3:,.0f}k"


def percent(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}%"


def series_chart(
    points: pd.DataFrame, holdout_first: str, title: str
) -> alt.LayerChart | alt.FacetChart:
    """Actual vs predicted by month, 95%/80% bands, the holdout window shaded."""
    frame = points.assign(date=pd.to_datetime(points["month"]))
    base = alt.Chart(frame).encode(x=alt.X("date:T", axis=MONTHS))
    start = pd.Timestamp(holdout_first)
    shade = (
        alt.Chart(pd.DataFrame({"start": [start], "end": [frame["date"].max()]}))
        .mark_rect(color="#f2efe8", opacity=0.9)
        .encode(x=alt.X("start:T", axis=MONTHS), x2="end:T")
    )
    label = (
        alt.Chart(pd.DataFrame({"date": [start], "text": ["holdout →"]}))
        .mark_text(align="left", dx=4, dy=-6, color="#8a7f6a")
        .encode(x=alt.X("date:T", axis=MONTHS), y=alt.value(10), text="text:N")
    )
    scored = base.transform_filter("isValid(datum.prediction)")
    band95 = _series(
        scored.mark_area(opacity=0.8).encode(
            y=alt.Y("lower_95:Q", axis=MONEY_AXIS), y2="upper_95:Q"
        ),
        "95% band",
    )
    band80 = _series(
        scored.mark_area(opacity=0.8).encode(y="lower_80:Q", y2="upper_80:Q"), "80% band"
    )
    tooltip = [
        alt.Tooltip("month:N", title="month"),
        alt.Tooltip("actual:Q", format="$,.0f"),
        alt.Tooltip("prediction:Q", format="$,.0f"),
        alt.Tooltip("lower_80:Q", format="$,.0f", title="80% low"),
        alt.Tooltip("upper_80:Q", format="$,.0f", title="80% high"),
        alt.Tooltip("split:N"),
    ]
    actual = _series(
        base.mark_line(strokeWidth=2).encode(
            y=alt.Y("actual:Q", axis=MONEY_AXIS, scale=alt.Scale(zero=False)), tooltip=tooltip
        ),
        "actual",
    )
    predicted = _series(
        scored.mark_line(strokeDash=[5, 3], strokeWidth=2).encode(
            y="prediction:Q", tooltip=tooltip
        ),
        "predicted",
    )
    points_layer = base.mark_point(opacity=0, size=60).encode(y="actual:Q", tooltip=tooltip)
    return alt.layer(shade, label, band95, band80, actual, predicted, points_layer).properties(
        title=title, height=360
    )


def _series(layer: alt.Chart, name: str) -> alt.Chart:
    """`layer` coloured as `name` in the price charts' shared legend."""
    legend = alt.Legend(title=None, orient="top", symbolOpacity=1)
    return layer.transform_calculate(series=f"'{name}'").encode(
        color=alt.Color("series:N", scale=SERIES, legend=legend)
    )


def metro_mape_chart(by_metro: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(by_metro)
        .mark_bar(color=PREDICTED)
        .encode(
            x=alt.X("mape:Q", title="holdout MAPE (%)"),
            y=alt.Y("name:N", sort="-x", title=None, axis=LABELS),
            tooltip=[
                alt.Tooltip("name:N", title="metro"),
                alt.Tooltip("mape:Q", format=".2f", title="MAPE %"),
                alt.Tooltip("mae:Q", format="$,.0f", title="MAE"),
                alt.Tooltip("rows:Q", format=","),
            ],
        )
        .properties(height=max(200, 24 * len(by_metro)))
    )


def residual_chart(residuals: dict) -> alt.LayerChart | alt.FacetChart:
    """The holdout's errors as a histogram; errors beyond `clipped_at_pct` fill the two end
    bins, which say so."""
    edges = residuals["bin_edges_pct"]
    frame = pd.DataFrame({"from": edges[:-1], "to": edges[1:], "rows": residuals["counts"]})
    limit = residuals.get("clipped_at_pct")
    ends = pd.DataFrame(
        {
            "at": [(edges[0] + edges[1]) / 2, (edges[-2] + edges[-1]) / 2],
            "rows": [residuals["counts"][0], residuals["counts"][-1]],
            "text": [f"≤ -{limit:g}%", f"≥ +{limit:g}%"] if limit else ["", ""],
        }
    )
    labels = (
        alt.Chart(ends).mark_text(dy=-8, color="#555").encode(x="at:Q", y="rows:Q", text="text:N")
    )
    bars = (
        alt.Chart(frame.assign(zero=0))
        .mark_rect(color=ACTUAL)
        .encode(
            x=alt.X("from:Q", title="prediction error (% of actual)"),
            x2="to:Q",
            y=alt.Y("rows:Q", title="holdout rows"),
            y2="zero:Q",
            tooltip=[
                alt.Tooltip("from:Q", format=".1f"),
                alt.Tooltip("to:Q", format=".1f"),
                "rows:Q",
            ],
        )
    )
    return alt.layer(bars, labels).properties(height=260)


def month_error_chart(by_month: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(by_month.assign(date=pd.to_datetime(by_month["month"])))
        .mark_line(point=True, color=PREDICTED)
        .encode(
            x=alt.X("date:T", title=None),
            y=alt.Y("mape:Q", title="MAPE (%)", scale=alt.Scale(zero=False)),
            tooltip=["month:N", alt.Tooltip("mape:Q", format=".2f"), "rows:Q"],
        )
        .properties(height=260)
    )


def contribution_chart(contributions: list[dict]) -> alt.Chart:
    """SHAP contributions on the log scale, shown as approximate % of price."""
    frame = pd.DataFrame(contributions)
    frame["effect_pct"] = frame["contribution"] * 100
    frame["direction"] = frame["effect_pct"].map(lambda v: "raises" if v >= 0 else "lowers")
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("effect_pct:Q", title="effect on price (≈ %)"),
            y=alt.Y(
                "feature:N",
                sort=alt.EncodingSortField("effect_pct", op="max", order="descending"),
                title=None,
                axis=LABELS,
            ),
            color=alt.Color(
                "direction:N",
                scale=alt.Scale(domain=["raises", "lowers"], range=["#2e7d32", "#c62828"]),
                legend=None,
            ),
            tooltip=["feature:N", alt.Tooltip("effect_pct:Q", format="+.2f")],
        )
        .properties(height=max(160, 30 * len(frame)))
    )


def model_vs_baselines_chart(table: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(table)
        .mark_bar()
        .encode(
            x=alt.X("mape:Q", title="holdout MAPE (%)"),
            y=alt.Y("predictor:N", sort="x", title=None, axis=LABELS),
            color=alt.condition(
                alt.datum.predictor == "model", alt.value(PREDICTED), alt.value("#9aa5b1")
            ),
            tooltip=["predictor:N", alt.Tooltip("mape:Q", format=".2f")],
        )
        # A fixed height was the whole chart's under Streamlit's autosize "fit" (axis and title
        # included): four bars got ~12 px each and their labels overlapped. A band per bar, and
        # only the width fitted to the container.
        .properties(height=alt.Step(BAR_STEP), autosize=FIT_WIDTH)
    )


HORIZON_COLORS = alt.Scale(
    domain=["model", "persistence", "reference way"], range=[PREDICTED, "#9aa5b1", "#d9a441"]
)


def horizon_chart(long: pd.DataFrame) -> alt.Chart:
    """Holdout MAPE per horizon bucket: the model beside persistence and the reference way."""
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("horizon:N", sort=None, title="months since the zip's last known price"),
            xOffset=alt.XOffset("predictor:N", sort=list(HORIZON_COLORS.domain)),
            y=alt.Y("mape:Q", title="holdout MAPE (%)"),
            color=alt.Color("predictor:N", scale=HORIZON_COLORS, title=None),
            tooltip=["horizon:N", "predictor:N", alt.Tooltip("mape:Q", format=".2f")],
        )
        .properties(height=220)
    )


STATUS_COLORS = alt.Scale(  # "trained": a month the model learned from, reported but not judged
    domain=["ok", "warn", "error", "trained"], range=["#2e7d32", "#ef6c00", "#c62828", "#757575"]
)


def drift_heatmap(long: pd.DataFrame, value: str, title: str, threshold: float) -> alt.Chart:
    """`value` per feature (rows) and month (columns); cells past `threshold` drift and the
    darkest drift most."""
    return (
        alt.Chart(long)
        .mark_rect()
        .encode(
            x=alt.X("month:O", title=None),
            y=alt.Y("feature:N", title=None, sort="-x", axis=LABELS),
            color=alt.Color(
                f"{value}:Q",
                title=title,
                scale=alt.Scale(
                    scheme="orangered", domain=[0, max(threshold * 2, 0.01)], clamp=True
                ),
            ),
            tooltip=["month:O", "feature:N", alt.Tooltip(f"{value}:Q", format=".3f")],
        )
        .properties(height=max(200, 18 * long["feature"].nunique()))
    )


def drift_timeline(months: pd.DataFrame, models: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """Share of drifting features and prediction PSI by month; retraining events as rules."""
    long = months.melt(
        id_vars=["month", "status"],
        value_vars=["share_drifting", "prediction_psi"],
        var_name="measure",
        value_name="value",
    )
    lines = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("month:O", title=None),
            y=alt.Y("value:Q", title=None, axis=FIGURES),
            color=alt.Color("measure:N", title=None),
            tooltip=["month:O", "measure:N", alt.Tooltip("value:Q", format=".3f"), "status:N"],
        )
    )
    status = (
        alt.Chart(months)
        .mark_square(size=90, yOffset=0)
        .encode(
            x="month:O",
            y=alt.value(8),
            color=alt.Color("status:N", scale=STATUS_COLORS, title="verdict"),
            tooltip=["month:O", "status:N"],
        )
    )
    layers = [lines, status]
    events = models.dropna(subset=["data_until"])
    events = events[events["data_until"].isin(months["month"])]
    if not events.empty:
        layers.append(
            alt.Chart(events)
            .mark_rule(strokeDash=[4, 3], color="#555")
            .encode(
                x="data_until:O",
                tooltip=["version:N", "trigger:N", "trigger_reason:N", "live:N"],
            )
        )
    return alt.layer(*layers).properties(height=280)


def retrain_chart(models: pd.DataFrame) -> alt.Chart:
    """Each published bundle: when (by the data it had) and why it was trained."""
    frame = models.assign(
        label=models["version"] + models["live"].map({True: " (live)", False: ""})
    )
    return (
        alt.Chart(frame)
        .mark_circle(size=160)
        .encode(
            x=alt.X("data_until:O", title="data up to"),
            y=alt.Y("holdout_mape:Q", title="holdout MAPE (%)", scale=alt.Scale(zero=False)),
            color=alt.Color("trigger:N", title="trained because"),
            tooltip=[
                "label:N",
                "vintage:N",
                "trigger:N",
                "trigger_reason:N",
                alt.Tooltip("holdout_mape:Q", format=".2f"),
            ],
        )
        .properties(height=220)
    )


def fan_chart(
    history: pd.DataFrame, forecast: pd.DataFrame, title: str
) -> alt.LayerChart | alt.FacetChart:
    """A fan chart: actual prices up to the origin, then the forecast with its 80% and 95% bands
    (joined at the last actual price, where the forecast starts)."""
    past = history.assign(date=pd.to_datetime(history["month"]))
    ahead = forecast.assign(date=pd.to_datetime(forecast["month"]))
    if not past.empty:  # the fan opens from the last known price
        last = past.iloc[-1]
        start = {"date": last["date"], "month": last["month"], "forecast": last["price"]}
        start |= {b: last["price"] for b in ("lower_80", "upper_80", "lower_95", "upper_95")}
        ahead = pd.concat([pd.DataFrame([start]), ahead], ignore_index=True)
    y = alt.Y("price:Q", axis=MONEY_AXIS, scale=alt.Scale(zero=False))
    tooltip = [
        alt.Tooltip("month:N", title="month"),
        alt.Tooltip("forecast:Q", format="$,.0f"),
        alt.Tooltip("lower_80:Q", format="$,.0f", title="80% low"),
        alt.Tooltip("upper_80:Q", format="$,.0f", title="80% high"),
        alt.Tooltip("lower_95:Q", format="$,.0f", title="95% low"),
        alt.Tooltip("upper_95:Q", format="$,.0f", title="95% high"),
    ]
    actual = (
        alt.Chart(past)
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X("date:T", axis=MONTHS),
            y=y,
            tooltip=["month:N", alt.Tooltip("price:Q", format="$,.0f")],
        )
    )
    actual = _series(actual, "actual")
    base = alt.Chart(ahead).encode(x=alt.X("date:T", axis=MONTHS))
    band95 = _series(
        base.mark_area(opacity=0.8).encode(
            y=alt.Y("lower_95:Q", axis=MONEY_AXIS, scale=alt.Scale(zero=False)), y2="upper_95:Q"
        ),
        "95% band",
    )
    band80 = _series(
        base.mark_area(opacity=0.8).encode(y="lower_80:Q", y2="upper_80:Q"), "80% band"
    )
    line = _series(
        base.mark_line(strokeDash=[5, 3], strokeWidth=2).encode(y="forecast:Q", tooltip=tooltip),
        "predicted",
    )
    hover = base.mark_point(opacity=0, size=60).encode(y="forecast:Q", tooltip=tooltip)
    return alt.layer(band95, band80, actual, line, hover).properties(title=title, height=360)


def backtest_chart(by_step: dict[str, dict]) -> alt.Chart:
    """Backtest MAPE by months ahead: the forecaster against persistence and drift."""
    names = {"model": "forecaster", "persistence": "persistence", "drift": "drift"}
    long = pd.DataFrame(
        [
            {"months ahead": int(h), "predictor": names.get(k, k), "mape": v}
            for k, series in by_step.items()
            for h, v in series.items()
        ]
    )
    colors = alt.Scale(
        domain=["forecaster", "persistence", "drift"], range=[PREDICTED, "#9aa5b1", "#1f4e79"]
    )
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("months ahead:Q"),
            y=alt.Y("mape:Q", title="backtest MAPE (%)"),
            color=alt.Color("predictor:N", scale=colors, title=None),
            tooltip=["months ahead:Q", "predictor:N", alt.Tooltip("mape:Q", format=".2f")],
        )
        .properties(height=240)
    )


def live_chart(months: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """The champion's live MAPE and persistence's on the same rows, by landed month; the months
    it lost marked in red."""
    judged = months.dropna(subset=["mape"])
    long = judged.melt(
        id_vars=["month"],
        value_vars=["mape", "persistence_mape"],
        var_name="measure",
        value_name="MAPE",
    ).replace({"measure": {"mape": "the model", "persistence_mape": "persistence"}})
    lines = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("month:O", title=None),
            y=alt.Y("MAPE:Q", title="MAPE (%)", axis=FIGURES),
            color=alt.Color("measure:N", title=None),
            tooltip=["month:O", "measure:N", alt.Tooltip("MAPE:Q", format=".2f")],
        )
    )
    lost = (
        alt.Chart(judged[judged["losing"] == True])  # noqa: E712 - the column holds None too
        .mark_point(shape="triangle-down", size=120, color="#c62828", filled=True)
        .encode(x="month:O", y="mape:Q", tooltip=["month:O", alt.Tooltip("mape:Q", format=".2f")])
    )
    return alt.layer(lines, lost).properties(height=260)
