"""The dashboard: `housing ui` (streamlit run housing_ui/app.py). Talks only to the API over HTTP.

Pages (sidebar, or `?page=` in the URL): overview (the model card), explorer, what-if, errors,
drift. API answers are cached per model version, so a page revisit costs no request and a new
champion invalidates everything at once.
"""

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from housing_ui import charts
from housing_ui.charts import money, money_short, percent
from housing_ui.client import Api, ApiRefused, ApiUnavailable

PAGES = ["Overview", "Explorer", "What-if", "Errors", "Drift"]
METRO_MEAN = "All zip codes (metro mean)"
WHAT_IF_FIELDS = {  # field: (label, step, display format)
    "median_list_price": ("Median list price ($)", 5_000.0, "%.0f"),
    "median_dom": ("Median days on market", 1.0, "%.0f"),
    "inventory": ("Inventory (homes for sale)", 1.0, "%.0f"),
    "new_listings": ("New listings", 1.0, "%.0f"),
    "homes_sold": ("Homes sold", 1.0, "%.0f"),
    "sold_above_list": ("Share sold above list (0–1)", 0.01, "%.2f"),
}


@st.cache_data(ttl=5, show_spinner=False)
def live_model(base_url: str) -> dict:
    """Short-lived: a new champion shows up within seconds."""
    return Api(base_url).get("/v1/model")


@st.cache_data(ttl=3600, show_spinner=False, max_entries=512)
def fetch(base_url: str, version: str, path: str, params: tuple = ()) -> dict:
    """Explorer data never changes within a model version: `version` is part of the key."""
    del version  # only part of the cache key
    return Api(base_url).get(path, **dict(params))


def banner(exc: Exception) -> None:
    if isinstance(exc, ApiUnavailable) and exc.no_model:
        st.warning(
            f"**No model is loaded.** {exc}. Publish one with `uv run housing run`; the API picks "
            "it up by itself."
        )
    else:
        st.error(
            f"**API unreachable.** {exc}. Start it with `uv run housing serve`, or point "
            "HOUSING_UI_API_URL at it."
        )


# --- pages ---------------------------------------------------------------------------------------


def overview(api: Api, model: dict) -> None:
    st.title("Model card")
    m, baselines = model["holdout_metrics"], model["baselines"]
    best = min(baselines.items(), key=lambda kv: kv[1]["mape"])
    cols = st.columns(6)
    cols[0].metric("Live model", model["version"])
    cols[1].metric("Vintage", model["vintage"])
    cols[5].metric("History through", model.get("history_until") or "–")
    cols[2].metric(
        "Holdout MAPE",
        percent(m["mape"]),
        delta=f"{m['mape'] - best[1]['mape']:+.2f} pts vs {best[0]}",
        delta_color="inverse",
    )
    cols[3].metric("Holdout MAE", money(m["mae"]))
    cols[4].metric("Holdout R²", f"{m['r2']:.3f}")

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Holdout accuracy next to the baselines")
        table = pd.DataFrame(
            [
                {"predictor": name, **metrics}
                for name, metrics in [("model", m), *sorted(baselines.items())]
            ]
        )
        st.dataframe(
            table.assign(
                MAE=table["mae"].map(money),
                RMSE=table["rmse"].map(money),
                MAPE=table["mape"].map(percent),
                **{"median APE": table["median_ape"].map(percent)},
                R2=table["r2"].map(lambda v: f"{v:.3f}"),
                rows=table["n"].map(lambda v: f"{int(v):,}"),
            )[["predictor", "MAE", "RMSE", "MAPE", "median APE", "R2", "rows"]],
            hide_index=True,
            width="stretch",
        )
        st.altair_chart(charts.model_vs_baselines_chart(table), width="stretch")
        horizon_section(model.get("by_horizon") or {})
    with right:
        st.subheader("Intervals")
        for level, covered in sorted(model["interval_coverage"].items()):
            st.write(f"**{level}% interval** covers **{covered * 100:.1f}%** of holdout prices")
        st.subheader("Windows")
        windows = pd.DataFrame(
            [
                {"split": k, "first": v["first"], "last": v["last"], "rows": f"{v['rows']:,}"}
                for k, v in model["training_window"].items()
            ]
        )
        order = {"train": 0, "eval": 1, "holdout": 2}
        st.dataframe(
            windows.sort_values("split", key=lambda s: s.map(order)),
            hide_index=True,
            width="stretch",
        )
    registry = model["registered_model"]
    st.caption(
        f"Trained {model['trained_at'][:19].replace('T', ' ')} UTC · loaded by the API "
        f"{model['loaded_at'][:19].replace('T', ' ')} UTC · MLflow "
        f"`{registry.get('registered_model')}` v{registry.get('version')} · data "
        f"`{model['data_fingerprint']}` · {model['code_version']}"
    )


def horizon_rows(by_horizon: dict) -> pd.DataFrame:
    """One row per horizon bucket: rows, MAPE of the model and the baselines, coverage."""

    def baseline(entry: dict, name: str) -> float | None:
        b = entry["baselines"].get(name)
        return b["baseline"]["mape"] if b and b["rows"] else None

    return pd.DataFrame(
        [
            {
                "horizon": label,
                "rows": entry["rows"],
                "model": entry["model"]["mape"],
                "persistence": baseline(entry, "persistence"),
                "reference way": baseline(entry, "reference"),
                "cover 80": entry["coverage"].get("80"),
                "cover 95": entry["coverage"].get("95"),
            }
            for label, entry in by_horizon.items()
        ]
    )


def horizon_section(by_horizon: dict) -> None:
    if not by_horizon:
        return
    st.subheader("By months since the zip's last known price")
    st.caption(
        "Each prediction starts from the zip's last known price; error grows with the months "
        "since. `cold` rows have no history (an unseen zip)."
    )
    table = horizon_rows(by_horizon)
    shown = table.assign(
        rows=table["rows"].map(lambda v: f"{int(v):,}"),
        **{
            name: table[name].map(lambda v: "–" if pd.isna(v) else percent(v))
            for name in ("model", "persistence", "reference way")
        },
        **{
            name: table[name].map(lambda v: "–" if pd.isna(v) else f"{v:.0%}")
            for name in ("cover 80", "cover 95")
        },
    )
    st.dataframe(shown, hide_index=True, width="stretch")
    long = table.melt(
        id_vars="horizon",
        value_vars=["model", "persistence", "reference way"],
        var_name="predictor",
        value_name="mape",
    ).dropna()
    st.altair_chart(charts.horizon_chart(long), width="stretch")


def _metro_picker(catalog: dict, key: str) -> dict:
    metros = catalog["metros"]
    names = [f"{m['name']} ({m['code']})" for m in metros]
    chosen = st.selectbox("Metro", names, key=key)
    return metros[names.index(chosen)]


def explorer(api: Api, model: dict) -> None:
    st.title("Explorer")
    catalog = fetch(api.base_url, model["version"], "/v1/explore/catalog")
    left, middle = st.columns(2)
    with left:
        metro = _metro_picker(catalog, "explorer_metro")
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


def what_if(api: Api, model: dict) -> None:
    st.title("What-if")
    catalog = fetch(api.base_url, model["version"], "/v1/explore/catalog")
    holdout = catalog["holdout"]
    months = list(pd.period_range(holdout["first"], holdout["last"], freq="M").astype(str))
    c1, c2, c3 = st.columns(3)
    with c1:
        metro = _metro_picker(catalog, "whatif_metro")
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
    cols = st.columns(len(WHAT_IF_FIELDS))
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
    st.subheader("Why this price: the largest feature contributions (SHAP)")
    st.altair_chart(charts.contribution_chart(after["contributions"]), width="stretch")


def errors(api: Api, model: dict) -> None:
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


@st.cache_data(ttl=20, show_spinner=False)
def monitoring(base_url: str) -> tuple[dict, dict]:
    """Drift reports and the bundle timeline change as months arrive: a short cache."""
    api = Api(base_url)
    return api.get("/v1/drift"), api.get("/v1/models")


def drift(api: Api, model: dict) -> None:
    st.title("Drift")
    reports, timeline = monitoring(api.base_url)
    models = pd.DataFrame(timeline["models"])
    months = pd.DataFrame(reports["months"])
    if months.empty:
        st.info(
            "No drift reports yet. They are written for every month that arrives after a "
            f"champion is published (the live model is {model['version']}); see the README's "
            "Automation section to watch it happen."
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
        st.subheader("PSI per feature and month")
        long = (
            pd.DataFrame(list(months["psi"]), index=months["month"])
            .rename_axis("month")
            .reset_index()
            .melt(id_vars="month", var_name="feature", value_name="psi")
        )
        st.altair_chart(charts.psi_heatmap(long), width="stretch")
        st.subheader("Drift over time, with retraining events")
        st.altair_chart(charts.drift_timeline(months, models), width="stretch")
        with st.expander(f"The full report for {chosen}"):
            st.markdown(f"[Open it on its own]({api.base_url}/v1/drift/{chosen}/report)")
            components.html(api.text(f"/v1/drift/{chosen}/report"), height=700, scrolling=True)
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


VIEWS = {
    "Overview": overview,
    "Explorer": explorer,
    "What-if": what_if,
    "Errors": errors,
    "Drift": drift,
}


def main() -> None:
    st.set_page_config(page_title="Housing prices", page_icon="🏠", layout="wide")
    api = Api.from_env()
    wanted = st.query_params.get("page", "overview").lower()
    slugs = [p.lower() for p in PAGES]
    page = st.sidebar.radio(
        "Page", PAGES, index=slugs.index(wanted) if wanted in slugs else 0, key="page"
    )
    st.query_params["page"] = page.lower()
    st.sidebar.caption(f"API: {api.base_url}")
    try:
        model = live_model(api.base_url)
        st.sidebar.success(f"Live model **{model['version']}**")
        VIEWS[page](api, model)
    except ApiUnavailable as exc:
        st.title(page)
        banner(exc)
    except ApiRefused as exc:
        st.warning(f"The API refused a request: {exc}")


main()
