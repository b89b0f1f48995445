"""Small PNG plots for MLflow artifacts and Dagster metadata (rendered inline as markdown)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


def inline(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def importance(shares: dict[str, float], top: int = 15) -> bytes:
    items = list(shares.items())[:top][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(items) + 1))
    ax.barh([k for k, _ in items], [v for _, v in items], color="#3b6ea8")
    ax.set_xlabel("share of total gain")
    ax.set_title("Feature importance")
    return _png(fig)


def residuals(actual: np.ndarray, predicted: np.ndarray, title: str) -> bytes:
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    rel = (predicted - actual) / actual * 100
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.scatter(actual, rel, s=3, alpha=0.3, color="#3b6ea8")
    left.axhline(0, color="black", lw=0.8)
    left.set_xscale("log")
    left.set_xlabel("actual price ($)")
    left.set_ylabel("error (%)")
    left.set_ylim(-60, 60)
    right.hist(np.clip(rel, -60, 60), bins=60, color="#3b6ea8")
    right.set_xlabel("error (%)")
    fig.suptitle(title)
    return _png(fig)


def metro_mape(per_metro: list[dict]) -> bytes:
    frame = pd.DataFrame(per_metro).sort_values("mape")
    fig, ax = plt.subplots(figsize=(6, 0.22 * len(frame) + 1))
    ax.barh(frame["city"], frame["mape"], color="#3b6ea8")
    ax.set_xlabel("holdout MAPE (%)")
    return _png(fig)


def drift_severity(features: list[dict], top: int = 20) -> bytes:
    """Each feature's score over its own drift threshold (PSI, or Wasserstein for counts), so the
    two statistics share one axis: beyond 1 it drifts."""
    items = features[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(items) + 1.2))
    colors = ["#c62828" if f["drifting"] else "#3b6ea8" for f in items]
    labels = [
        f"{f['feature']} ({'W1' if f['statistic'] == 'wasserstein' else 'PSI'})" for f in items
    ]
    ax.barh(labels, [f["severity"] for f in items], color=colors)
    ax.axvline(1.0, color="#555", linestyle="--", linewidth=1)
    ax.set_xlabel("score / its drift threshold (dashed: drifts beyond 1)")
    ax.set_title("Per-feature drift")
    return _png(fig)


def distributions(
    reference: np.ndarray, current: np.ndarray, title: str, log: bool = False
) -> bytes:
    a = np.asarray(reference, dtype="float64")
    b = np.asarray(current, dtype="float64")
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if log:
        a, b = np.log10(a[a > 0]), np.log10(b[b > 0])
    fig, ax = plt.subplots(figsize=(5, 2.6))
    if len(a) and len(b):
        edges = np.histogram_bin_edges(np.concatenate([a, b]), bins=40).tolist()
        ax.hist(a, bins=edges, density=True, alpha=0.5, label="reference", color="#3b6ea8")
        ax.hist(b, bins=edges, density=True, alpha=0.5, label="this month", color="#d9822b")
        ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_yticks([])
    if log:
        ax.set_xlabel("log10")
    return _png(fig)


def horizon_mape(by_horizon: dict) -> bytes:
    """Grouped bars per horizon bucket: the model next to persistence and the reference way."""
    labels = list(by_horizon)
    series = {
        "model": [by_horizon[b]["model"]["mape"] for b in labels],
        "persistence": [_baseline_mape(by_horizon[b], "persistence") for b in labels],
        "reference way": [_baseline_mape(by_horizon[b], "reference") for b in labels],
    }
    colors = {"model": "#3b6ea8", "persistence": "#9aa5b1", "reference way": "#d9a441"}
    x = np.arange(len(labels))
    width = 0.26
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + (i - 1) * width, values, width, label=name, color=colors[name])
    ax.set_xticks(x, [f"{b}\n({by_horizon[b]['rows']:,} rows)" for b in labels], fontsize=8)
    ax.set_xlabel("months since the zip's last known price")
    ax.set_ylabel("holdout MAPE (%)")
    ax.legend(fontsize=8, frameon=False)
    return _png(fig)


def _baseline_mape(entry: dict, name: str) -> float:
    b = entry["baselines"].get(name)
    return b["baseline"]["mape"] if b and b["rows"] else np.nan


def forecast_steps(by_step: dict[str, dict]) -> bytes:
    """MAPE by months ahead: the forecaster against persistence and drift (its backtest)."""
    colors = {"model": "#3b6ea8", "persistence": "#9aa5b1", "drift": "#d9a441"}
    names = {"model": "forecaster", "persistence": "persistence", "drift": "drift"}
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for key, series in by_step.items():
        steps = sorted(int(h) for h in series)
        ax.plot(steps, [series[h] for h in steps], marker="o", markersize=3,
                label=names.get(key, key), color=colors.get(key))  # fmt: skip
    ax.set_xlabel("months ahead")
    ax.set_ylabel("backtest MAPE (%)")
    ax.legend(fontsize=8, frameon=False)
    return _png(fig)
