"""What a published forecaster is: its JSON, its bands as of its last month, every zip's
forecast for the next 1..24 months, its backtest and provenance -- written as one manifested
publication (`bundle.FORECAST`), read back verified. No Dagster, no MLflow: the API reads it."""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from housing_core import bundle
from housing_core import contract as c
from housing_core.forecast import intervals as I
from housing_core.forecast import model as M
from housing_core.forecast.panel import Panel

LEVELS = ("80", "95")
HISTORY_MONTHS = 60  # of actual prices published beside the forecasts, for the fan charts
FORECAST_COLUMNS = [
    "zipcode", "metro", "origin", "month", "step", "last_price", "forecast",
    "lower_80", "upper_80", "lower_95", "upper_95",
]  # fmt: skip


@dataclass(frozen=True)
class ForecasterArtifact:
    """The `forecaster` asset's value: the fitted forecaster and how it was chosen."""

    forecaster: dict  # M.Forecaster.to_dict()
    validation_mape: float  # the tuned setting's rolling-origin validation error, %
    trials: int
    history: tuple[str, str]  # first and last month it was fit on
    mlflow_run_id: str | None = None
    registered_version: str | None = None

    def model(self) -> M.Forecaster:
        return M.Forecaster.from_dict(self.forecaster)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> ForecasterArtifact:
        data = json.loads(text)
        data["history"] = tuple(data["history"])
        return cls(**data)


@dataclass(frozen=True)
class Bands:
    """Band half-widths per step (in `intervals.scale` units) as known at month `as_of`."""

    as_of: str
    half: dict[str, list[float]]
    floor: float = I.SCALE_FLOOR

    @classmethod
    def of(cls, pool: I.Pool, as_of: int, months: list[str]) -> Bands:
        q = pool.quantiles(as_of=as_of)
        return cls(months[as_of], {lv: [float(x) for x in q[lv]] for lv in LEVELS})

    def bounds(self, centre: np.ndarray, change: np.ndarray, step: int) -> dict[str, np.ndarray]:
        unit = self.floor * np.sqrt(step) + np.abs(change)
        out = {}
        for lv in LEVELS:
            width = self.half[lv][step - 1] * unit
            out[f"lower_{lv}"], out[f"upper_{lv}"] = np.exp(centre - width), np.exp(centre + width)
        return out


def forecasts(
    examples: M.Examples, model: M.Forecaster, bands: Bands, origin: int, steps: int
) -> pd.DataFrame:
    """Every zip with a price at month `origin`: its forecast for origin+1 .. origin+steps."""
    panel = examples.panel
    anchor = np.log(panel.price[origin])
    has = np.isfinite(anchor)
    if not has.any():
        raise ValueError(f"no zip has a price in {panel.months[origin]}: nothing to forecast from")
    change = model.predict(examples.X[examples.rows_at(origin)])
    start = pd.Period(panel.months[origin], "M")
    frames = []
    for h in range(1, steps + 1):
        centre = anchor + change[:, h - 1]
        frames.append(
            pd.DataFrame(
                {
                    "zipcode": panel.zips,
                    "metro": panel.metros,
                    "origin": panel.months[origin],
                    "month": str(start + h),
                    "step": h,
                    "last_price": panel.price[origin],
                    "forecast": np.exp(centre),
                    **bands.bounds(centre, change[:, h - 1], h),
                }
            )[has]
        )
    return pd.concat(frames, ignore_index=True)[FORECAST_COLUMNS]


def history(panel: Panel, months: int = HISTORY_MONTHS) -> pd.DataFrame:
    """The last `months` months of every zip: its price and the Redfin stats the signals read
    (zipcode, metro, month, price, stats...): what a landed month extends to forecast again."""
    start = max(panel.n_months - months, 0)
    grids = {"price": panel.price, **panel.stats}
    frames = []
    for name, grid in grids.items():
        wide = pd.DataFrame(grid[start:], index=panel.months[start:], columns=panel.zips)
        frames.append(
            wide.rename_axis(index="month", columns="zipcode").stack(future_stack=True).rename(name)
        )
    long = pd.concat(frames, axis=1).reset_index().dropna(subset=["price"])
    metro = dict(zip(panel.zips, panel.metros, strict=True))
    return long.assign(metro=long["zipcode"].map(metro))[
        ["zipcode", "metro", "month", *grids]
    ].reset_index(drop=True)


def panel_of(past: pd.DataFrame) -> Panel:
    """A published history back as a panel (months as their first days, metro as city_full)."""
    rows = past.rename(columns={"metro": c.CITY_FULL}).assign(
        **{c.DATE: pd.to_datetime(past["month"])}
    )
    return Panel.from_rows(rows.drop(columns="month"))


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def model_files(artifact: ForecasterArtifact, bands: Bands) -> dict[str, bytes]:
    """What the forecaster is: its fit and its bands (the registered model carries just these)."""
    return {
        bundle.FORECASTER: artifact.to_json().encode(),
        bundle.BANDS: json.dumps(asdict(bands), indent=1).encode(),
    }


def files(
    artifact: ForecasterArtifact,
    bands: Bands,
    table: pd.DataFrame,
    backtest: dict,
    provenance: dict,
    past: pd.DataFrame | None = None,
) -> dict[str, bytes]:
    out = {
        **model_files(artifact, bands),
        bundle.FORECASTS: _parquet(table),
        bundle.BACKTEST: json.dumps(backtest, indent=1, default=float).encode(),
        bundle.PROVENANCE: json.dumps(provenance, indent=1).encode(),
    }
    if past is not None:
        out[bundle.HISTORY] = _parquet(past)
    return out


@dataclass
class PublishedForecast:
    version: str
    forecasts: pd.DataFrame
    bands: Bands
    backtest: dict
    provenance: dict
    history: pd.DataFrame  # empty when the publication carries none

    @classmethod
    def load(cls, store: bundle.Store, version: str | None = None) -> PublishedForecast:
        return cls.of(bundle.load(store, version, kind=bundle.FORECAST))

    @classmethod
    def of(cls, found: bundle.Bundle) -> PublishedForecast:
        """A verified publication's files, decoded."""
        bands = json.loads(found.files[bundle.BANDS])
        return cls(
            found.version,
            pd.read_parquet(io.BytesIO(found.files[bundle.FORECASTS])),
            Bands(bands["as_of"], bands["half"], bands["floor"]),
            json.loads(found.files[bundle.BACKTEST]),
            json.loads(found.files[bundle.PROVENANCE]),
            pd.read_parquet(io.BytesIO(found.files[bundle.HISTORY]))
            if bundle.HISTORY in found.files
            else pd.DataFrame(columns=["zipcode", "metro", "month", "price"]),
        )
