"""Published forecasts, kept current and held to account as months land.

`advance` extends the published history with the landed month(s) and forecasts every zip again
from the newest month with the same forecaster and bands (no refit, as the price model's history
refresh): the API then answers from the freshest price. `score` compares what was forecast
earlier for a landed month with what happened, by horizon; `verdict` warns when live error runs
past the backtest's by the policy's factor -- what a forecast publisher owes its users.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from housing_core import bundle, horizons
from housing_core import contract as c
from housing_core.forecast import model as M
from housing_core.forecast import publishing
from housing_core.forecast import signals as S
from housing_core.forecast.panel import STATS

ISSUED = "forecasts/issued"  # every origin's table, kept to score it when its months land


def issued_key(origin: str) -> str:
    return f"{ISSUED}/{origin}.parquet"


def record_issued(store: bundle.Store, table: pd.DataFrame) -> str:
    origin = str(table["origin"].iat[0])
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    store.write(issued_key(origin), buffer.getvalue())
    return origin


@dataclass(frozen=True)
class Advanced:
    version: str
    origin: str
    table: pd.DataFrame
    published: bool  # False: the publication already forecast from these months


def history_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Cleaned HouseTS rows in the published history's layout."""
    month = pd.to_datetime(rows[c.DATE]).dt.to_period("M").astype(str)
    out = rows.assign(month=month, metro=rows.get(c.CITY_FULL, "all"))
    return out[["zipcode", "metro", "month", c.TARGET, *(s for s in STATS if s in rows)]]


ATTEMPTS = 3  # publications that may replace the live one while a month advances it


def advance(store: bundle.Store, rows: pd.DataFrame) -> Advanced:
    """Republish the live forecaster's publication forecasting from the newest of `rows`' months.
    A forecaster published meanwhile is advanced in turn: the landed month belongs in whichever
    publication serves, and the one it replaced is never put back."""
    for _ in range(ATTEMPTS - 1):
        try:
            return _advance(store, rows)
        except bundle.Superseded:
            continue
    return _advance(store, rows)


def _advance(store: bundle.Store, rows: pd.DataFrame) -> Advanced:
    current = bundle.current_version(store, bundle.FORECAST)
    if current is None:
        raise bundle.BundleError(f"no forecaster published to {store.describe()}")
    found = bundle.load(store, current, kind=bundle.FORECAST)
    live = publishing.PublishedForecast.of(found)
    new = history_rows(rows)
    merged = pd.concat([live.history[~live.history["month"].isin(set(new["month"]))], new])
    months = sorted(merged["month"].unique())[-publishing.HISTORY_MONTHS :]
    merged = merged[merged["month"].isin(months)].sort_values(["month", "zipcode"])
    origin = months[-1]
    before = live.history.sort_values(["month", "zipcode"]).reset_index(drop=True)
    if merged.reset_index(drop=True).equals(before):  # these months were forecast from already
        return Advanced(current, live.provenance["origin"], live.forecasts, published=False)
    art = publishing.ForecasterArtifact.from_json(found.files[bundle.FORECASTER].decode())
    model = art.model()
    panel = publishing.panel_of(merged)
    examples = M.Examples(panel, S.compute(panel, model.window), model.horizon)
    table = publishing.forecasts(examples, model, live.bands, panel.n_months - 1, model.horizon)
    base = live.provenance.get("trained_version", current)
    version = f"{base}.m{origin}"
    provenance = {**live.provenance, "version": version, "origin": origin, "trained_version": base}
    files = publishing.files(
        art, live.bands, table, live.backtest, provenance, publishing.history(panel)
    )
    bundle.publish(store, version, files, kind=bundle.FORECAST, replaces=current)
    return Advanced(version, origin, table, published=True)


def score(store: bundle.Store, rows: pd.DataFrame, month: str) -> pd.DataFrame:
    """Every forecast issued before `month` for `month`, beside the price that landed."""
    actual = history_rows(rows).set_index("zipcode")[c.TARGET]
    period = pd.Period(month, "M")
    frames = []
    for h in range(1, M.HORIZON + 1):
        key = issued_key(str(period - h))
        if not store.exists(key):
            continue
        issued = pd.read_parquet(io.BytesIO(store.read(key)))
        issued = issued[issued["month"] == month]
        frames.append(issued.assign(actual=issued["zipcode"].map(actual)))
    if not frames:
        return pd.DataFrame()
    points = pd.concat(frames, ignore_index=True).dropna(subset=["actual"])
    return points.assign(persistence=points["last_price"])


def scorecard(points: pd.DataFrame) -> dict:
    """Live MAPE of the forecasts and of persistence, and band coverage, per horizon bucket."""
    if points.empty:
        return {"points": 0, "by_bucket": {}}
    buckets = horizons.bucket(points["step"].to_numpy())
    out: dict = {"points": len(points), "origins": int(points["origin"].nunique()), "by_bucket": {}}
    for label in horizons.LABELS:
        part = points[buckets == label]
        if part.empty:
            continue
        y = part["actual"].to_numpy()
        out["by_bucket"][label] = {
            "points": len(part),
            "model": float(np.mean(np.abs(part["forecast"] - y) / y) * 100),
            "persistence": float(np.mean(np.abs(part["persistence"] - y) / y) * 100),
            "coverage_80": float(
                part["actual"].between(part["lower_80"], part["upper_80"]).mean() * 100
            ),
            "coverage_95": float(
                part["actual"].between(part["lower_95"], part["upper_95"]).mean() * 100
            ),
        }
    return out


def verdict(card: dict, backtest: dict, factor: float, min_points: int) -> list[str]:
    """Buckets whose live error exceeds the backtest's by more than `factor`."""
    reasons = []
    for label, live in card["by_bucket"].items():
        judged = backtest.get("by_bucket", {}).get(label)
        if judged is None or live["points"] < min_points:
            continue
        if live["model"] > factor * judged["model"]:
            reasons.append(
                f"{label} months: live MAPE {live['model']:.2f}% > {factor:g} x the backtest's "
                f"{judged['model']:.2f}% ({live['points']} points)"
            )
    return reasons
