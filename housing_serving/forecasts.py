"""The live forecasts: the published forecaster's table of every zip's next months, verified on
load, indexed by zip and metro, swapped atomically like the price model (model_holder.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from housing_core import bundle, explorer
from housing_core.forecast.publishing import PublishedForecast
from housing_serving.model_holder import ModelHolder

BOUNDS = ("lower_80", "upper_80", "lower_95", "upper_95")


@dataclass(frozen=True)
class ZipRows:
    """A table's rows found by zip code without a frame per zip: the rows sorted by zip and where
    each zip's run starts, looked up by binary search. A frame per zip costs more than the table
    itself, and building them most of a load (benchmarks/forecast_serving.py)."""

    rows: pd.DataFrame
    zips: np.ndarray  # sorted, unique
    bounds: np.ndarray  # zip i's rows are rows[bounds[i]:bounds[i + 1]]

    @classmethod
    def of(cls, rows: pd.DataFrame, zipcodes: np.ndarray) -> ZipRows:
        """`rows` sorted by zip code; `zipcodes`: each row's."""
        zips, starts = np.unique(zipcodes, return_index=True)
        return cls(rows.reset_index(drop=True), zips, np.append(starts, len(rows)))

    def get(self, zipcode: int) -> pd.DataFrame | None:
        i = explorer.position(self.zips, zipcode)
        if i is None:
            return None
        return self.rows.iloc[self.bounds[i] : self.bounds[i + 1]]

    def __contains__(self, zipcode: object) -> bool:
        return isinstance(zipcode, int | np.integer) and self.get(int(zipcode)) is not None

    def __getitem__(self, zipcode: int) -> pd.DataFrame:
        part = self.get(zipcode)
        if part is None:
            raise KeyError(zipcode)
        return part


def _compact(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Repeated strings (months, metros, the origin) held once each, as categories."""
    return frame.astype({col: "category" for col in columns if col in frame})


@dataclass
class LiveForecast:
    """A publication with its per-zip and per-metro answers ready."""

    published: PublishedForecast
    by_zip: ZipRows
    metros: dict[str, pd.DataFrame]
    past_by_zip: ZipRows
    past_by_metro: dict[str, pd.DataFrame]
    zips_by_metro: dict[str, list[int]]

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
        table = _compact(
            published.forecasts.sort_values(["zipcode", "step"], kind="stable"),
            ["month", "metro", "origin"],
        )
        by_zip = ZipRows.of(table, table["zipcode"].to_numpy())
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
            for m, part in table.groupby("metro", observed=True)
        }
        past = published.history.dropna(subset=["price"]).sort_values(
            ["zipcode", "month"], kind="stable"
        )
        past_by_zip = ZipRows.of(
            _compact(past[["month", "price"]], ["month"]), past["zipcode"].to_numpy()
        )
        past_by_metro = {
            str(m): part.groupby("month", as_index=False)["price"].mean()
            for m, part in past.groupby("metro")
        }
        zips = table.groupby("metro", observed=True)["zipcode"].unique()
        zips_by_metro = {str(m): sorted(int(z) for z in found) for m, found in zips.items()}
        # The publication keeps the forecasts as served (compact, sorted) and no second copy
        # of the history: the answers above hold what it is asked for.
        kept = replace(published, forecasts=table, history=published.history.iloc[:0])
        return cls(kept, by_zip, metros, past_by_zip, past_by_metro, zips_by_metro)

    def catalog(self) -> dict:
        """Metros and their zips with a forecast, the origin, horizon and the backtest."""
        return {
            "model_version": self.version,
            "vintage": str(self.provenance["vintage"]),
            "origin": self.origin,
            "horizon": self.horizon,
            "metros": self.zips_by_metro,
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
