"""Where each zip code of a bundle lies, and the measures the dashboard's map colours it by.

Coordinates, best first:
  * `source`: the longitude/latitude the source itself carried (the HouseTS per-metro panels do;
    the bundle's history keeps them, see `publishing.explorer_files`), the zip's median;
  * `centroid`: the zip's centroid in the USPS list bundled by the `zipcodes` package (MIT; its
    data is compiled into the wheel, so no network and no data file to fetch);
  * `interpolated`: the synthetic panel draws each metro's real 3-digit prefixes with made-up last
    two digits, so many of its zips are not in the USPS list. Such a zip is placed between the
    real zips numbered just below and above it in the same prefix (the same sectional centre:
    the same part of the same metro), by how far its number lies from each; beyond the prefix's
    first or last real zip it takes that zip's position. The map says these are approximate.
Points can coincide: the USPS list gives a town's PO-box codes its post office's position (at
full synthetic scale 6,226 zips fall on ~4,970 distinct points).
A zip whose prefix has no real zip at all is left off the map and listed as unplaced.
"""

from __future__ import annotations

import bisect
from functools import cache

import numpy as np
import pandas as pd

from housing_core import contract as c
from housing_core.splits import HOLDOUT, SPLIT

LONGITUDE, LATITUDE = "longitude", "latitude"
SOURCE, CENTROID, INTERPOLATED = "source", "centroid", "interpolated"


@cache
def _prefix(prefix: int) -> tuple[list[int], dict[int, tuple[float, float]]]:
    """A 3-digit prefix's real zips in order and their (longitude, latitude). Read per prefix
    (a few hundred per bundle): cheaper than materializing all ~42,000 entries."""
    import zipcodes  # only the explore route's map needs it

    where: dict[int, tuple[float, float]] = {}
    for entry in zipcodes.similar_to(f"{prefix:03d}"):
        lon, lat = float(entry["long"] or 0), float(entry["lat"] or 0)
        if lon and lat:  # a few military / PO-box-only codes carry no position
            where[int(entry["zip_code"])] = (lon, lat)
    return sorted(where), where


def locate(zipcode: int) -> tuple[float, float, str] | None:
    """(longitude, latitude, how) from the bundled USPS list; None if its prefix has no real zip."""
    real, where = _prefix(zipcode // 100)
    if zipcode in where:
        return (*where[zipcode], CENTROID)
    if not real:
        return None
    i = bisect.bisect_left(real, zipcode)
    below, above = real[max(i - 1, 0)], real[min(i, len(real) - 1)]
    if below == above:  # beyond the prefix's first or last real zip
        nearest = below if abs(zipcode - below) <= abs(zipcode - above) else above
        return (*where[nearest], INTERPOLATED)
    share = (zipcode - below) / (above - below)
    (lon0, lat0), (lon1, lat1) = where[below], where[above]
    return lon0 + share * (lon1 - lon0), lat0 + share * (lat1 - lat0), INTERPOLATED


def _source_positions(history: pd.DataFrame) -> pd.DataFrame:
    if LONGITUDE not in history or LATITUDE not in history:
        return pd.DataFrame(columns=[LONGITUDE, LATITUDE])
    return history.groupby(c.ZIPCODE)[[LONGITUDE, LATITUDE]].median().dropna()


def zip_points(history: pd.DataFrame, holdout: pd.DataFrame) -> tuple[list[dict], list[str]]:
    """One point per zip with a position: its metro, last actual price, the change the model
    predicts over the holdout (last holdout prediction against the last price known before it)
    and its holdout MAPE; and the zips that could not be placed."""
    actual = history.dropna(subset=[c.TARGET])
    last = actual.groupby(c.ZIPCODE).tail(1).set_index(c.ZIPCODE)
    before = actual[actual[SPLIT] != HOLDOUT].groupby(c.ZIPCODE)[c.TARGET].last()
    scored = holdout.sort_values(c.DATE).groupby(c.ZIPCODE)
    final_prediction = scored["prediction"].last()
    change = (final_prediction / before.reindex(final_prediction.index) - 1) * 100
    mape = scored["ape"].mean()
    metro = history.groupby(c.ZIPCODE)[c.CITY].first()
    source = _source_positions(history)

    points, unplaced = [], []
    for zipcode, code in metro.items():
        z = int(zipcode)
        if z in source.index:
            position: tuple[float, float, str] | None = (
                float(source.at[z, LONGITUDE]),
                float(source.at[z, LATITUDE]),
                SOURCE,
            )
        else:
            position = locate(z)
        if position is None:
            unplaced.append(c.format_zip(z))
            continue
        points.append(
            {
                "zipcode": c.format_zip(z),
                "metro": code,
                "name": c.METROS.get(code, code),
                "longitude": round(position[0], 5),
                "latitude": round(position[1], 5),
                "located": position[2],
                "price": _number(last[c.TARGET].get(z)),
                "price_month": _month(last[c.DATE].get(z)),
                "predicted_change_pct": _number(change.get(z)),
                "mape": _number(mape.get(z)),
            }
        )
    return points, unplaced


def _number(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _month(value) -> str | None:
    return None if value is None or pd.isna(value) else value.strftime("%Y-%m")
