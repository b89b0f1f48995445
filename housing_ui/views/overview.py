"""Overview: the live model's card -- holdout metrics, baselines, horizons, lineage -- and what
the promotion gate decided about every model trained since."""

import pandas as pd
import streamlit as st

from housing_ui import charts
from housing_ui.charts import money, percent
from housing_ui.client import Api


def page(api: Api, model: dict) -> None:
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
        if model.get("trained_through"):
            st.caption(
                f"Serves the tuned model refit on every month through "
                f"**{model['trained_through']}**, holdout included; the holdout metrics are the "
                "estimate from the model before that final refit."
            )
    registry = model["registered_model"]
    st.caption(
        f"Trained {model['trained_at'][:19].replace('T', ' ')} UTC · loaded by the API "
        f"{model['loaded_at'][:19].replace('T', ' ')} UTC · MLflow "
        f"`{registry.get('registered_model')}` v{registry.get('version')} · data "
        f"`{model['data_fingerprint']}` · {model['code_version']}"
    )
    gate_section(gate_verdicts(api.base_url))


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


@st.cache_data(ttl=20, show_spinner=False)
def gate_verdicts(base_url: str) -> dict:
    """The gate's verdicts change when a model is trained: a short cache."""
    return Api(base_url).get("/v1/gate")


def verdict_rows(answer: dict) -> pd.DataFrame:
    """Newest first: one row per judged model, a rejection with its reasons."""
    rows = [
        {
            "decided": v["decided_at"][:16].replace("T", " "),
            "vintage": v["vintage"],
            "MLflow version": v["model_version"],
            "verdict": "REJECTED" if v["verdict"] == "rejected" else "promoted",
            "holdout MAPE": percent(v["model_mape"]),
            "reason": "; ".join(v["reasons"]) or "beats every baseline and the champion",
        }
        for v in reversed(answer["verdicts"])
    ]
    return pd.DataFrame(rows, columns=["decided", "vintage", "MLflow version", "verdict",
                                       "holdout MAPE", "reason"])  # fmt: skip


def gate_section(answer: dict) -> None:
    if not answer["verdicts"] and not answer["unreadable"]:
        return
    st.subheader("Promotion gate verdicts")
    table = verdict_rows(answer)
    rejected = int((table["verdict"] == "REJECTED").sum())
    st.caption(
        f"{len(table)} model(s) judged, {rejected} rejected: a rejected model stays registered in "
        "MLflow and never serves. A training run that crashed before the gate has no verdict "
        "here; in Dagster a rejection is the failed run tagged `housing/gate=rejected`."
    )
    st.dataframe(table, hide_index=True, width="stretch")
    for broken in answer["unreadable"]:
        st.caption(f"unreadable verdict record {broken['record']}: {broken['error']}")
