"""The live forecasts: the published forecaster's table of every zip's next months, verified on
load, indexed by zip and metro, swapped atomically like the price model (model_holder.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from housing_core import bundle
from housing_core.forecast.publishing import PublishedForecast
from housing_serving.model_holder import ModelHolder

BOUNDS = ("lower_80", "upper_80", "lower_95", "upper_95")


@dataclass
class LiveForecast:
    """A publication with its per-zip and per-metro answers precomputed."""

    published: PublishedForecast
    by_zip: dict[int, pd.DataFrame]
    metros: dict[str, pd.DataFrame]
    past_by_zip: dict[int, pd.DataFrame]
    past_by_metro: dict[str, pd.DataFrame]

    @property
    def version(self) -> str:
        return self.published.version

    @property
    def provenance(self) -> dict:
        return self.published.provenance

    @property
    def horizon(self) -> int:
        return int(self.published.forecasts["step"].max())

    @property
    def origin(self) -> str:
        return str(self.published.provenance["origin"])

    @classmethod
    def of(cls, published: PublishedForecast) -> LiveForecast:
        table = published.forecasts.sort_values(["zipcode", "step"])
        by_zip = {int(z): part.reset_index(drop=True) for z, part in table.groupby("zipcode")}
        # A metro's line is its average zip (mean of the zips' forecasts and bounds): a
        # summary of what the zips are expected to do, not a metro price index.
        metros = {
            str(m): part.groupby("step", as_index=False).agg(
                month=("month", "first"),
                zips=("zipcode", "nunique"),
                last_price=("last_price", "mean"),
                forecast=("forecast", "mean"),
                **{b: (b, "mean") for b in BOUNDS},
            )
            for m, part in table.groupby("metro")
        }
        past = published.history.dropna(subset=["price"]).sort_values(["zipcode", "month"])
        past_by_zip = {int(z): part[["month", "price"]] for z, part in past.groupby("zipcode")}
        past_by_metro = {
            str(m): part.groupby("month", as_index=False)["price"].mean()
            for m, part in past.groupby("metro")
        }
        return cls(published, by_zip, metros, past_by_zip, past_by_metro)

    def catalog(self) -> dict:
        """Metros and their zips with a forecast, the origin, horizon and the backtest."""
        table = self.published.forecasts
        metros = table.groupby("metro")["zipcode"].unique()
        return {
            "model_version": self.version,
            "vintage": str(self.provenance["vintage"]),
            "origin": self.origin,
            "horizon": self.horizon,
            "metros": {str(m): sorted(int(z) for z in zips) for m, zips in metros.items()},
            "backtest": self.published.backtest,
        }


class ForecastHolder(ModelHolder):
    what = "forecaster"

    def load(self, version: str | None = None) -> LiveForecast:  # type: ignore[override]
        return LiveForecast.of(PublishedForecast.load(self.store, version))

    def target(self) -> str | None:
        return bundle.current_version(self.store, bundle.FORECAST)

    def describe(self, loaded) -> str:
        backtest = loaded.published.backtest["overall"]
        return (
            f"vintage {loaded.provenance['vintage']}, from {loaded.origin}, backtest MAPE "
            f"{backtest['model']:.2f}% vs persistence {backtest['persistence']:.2f}%"
        )


def points(part: pd.DataFrame, months: int) -> list[dict]:
    rows = part[part["step"] <= months]
    cols = ["month", "step", "forecast", *BOUNDS]
    return [
        {
            k: (v if isinstance(v, str) else float(v) if k != "step" else int(v))
            for k, v in r.items()
        }
        for r in rows[cols].to_dict(orient="records")
    ]


def past(frame: pd.DataFrame | None, months: int) -> list[dict]:
    if frame is None or months == 0:
        return []
    return [
        {"month": str(m), "price": float(p)} for m, p in frame.tail(months).itertuples(index=False)
    ]
