"""Raw rows as numpy arrays: what training frames and API records both become."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from housing_core import anchors as A
from housing_core import contract as c
from housing_core.cleaning import CleaningReport, not_reported_in_place

NUMERIC_COLUMNS = list(c.NUMERIC_COLUMNS)
NUMERIC_POSITION = {name: j for j, name in enumerate(NUMERIC_COLUMNS)}


@dataclass(frozen=True)
class Rows:
    """What features need from raw rows, as numpy arrays.

    Training frames and API request records both become `Rows`, so every line from here to the
    model input is shared: serving cannot drift from training, and a one-row request pays for no
    pandas machinery (that overhead was most of the API's latency).
    """

    numeric: np.ndarray  # float64, (n, len(c.NUMERIC_COLUMNS)); a column the source lacks is NaN
    months: np.ndarray  # int64 absolute month index: year * 12 + month - 1
    zips: list[str]  # five-digit keys
    metros: list  # city codes as given (unknown codes fall back, never fail)

    def __len__(self) -> int:
        return len(self.zips)

    def column(self, name: str) -> np.ndarray:
        return self.numeric[:, NUMERIC_POSITION[name]]

    def zip_numbers(self) -> np.ndarray:
        return np.fromiter((int(z) for z in self.zips), dtype="int64", count=len(self.zips))

    def with_numeric(self, numeric: np.ndarray) -> Rows:
        return Rows(numeric, self.months, self.zips, self.metros)

    def readable(self) -> Rows:
        """HouseTS zeros that mean "not reported" become missing, by the function cleaning
        applies before training (idempotent on cleaned rows)."""
        numeric = self.numeric.copy()
        not_reported_in_place(numeric, NUMERIC_COLUMNS, CleaningReport())
        return self.with_numeric(numeric)

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> Rows:
        numeric = np.full((len(df), len(c.NUMERIC_COLUMNS)), np.nan)
        for col in c.NUMERIC_COLUMNS:  # column by column: `df[cols].to_numpy()` makes two
            if col in df.columns:  # transient copies of the whole block
                numeric[:, NUMERIC_POSITION[col]] = df[col].to_numpy(dtype="float64")
        return cls(numeric, A.month_index(df[c.DATE]), _zip_keys(df), df[c.CITY].tolist())

    @classmethod
    def from_records(cls, records: Sequence[Mapping]) -> Rows:
        """Rows from dicts keyed by contract names (an API request): `date` is a date or
        timestamp, a missing or None number is NaN; no DataFrame on this path (a one-row request
        would pay more for pandas than for the model)."""
        numeric = np.array(
            [[r.get(k) for k in NUMERIC_COLUMNS] for r in records], dtype="float64"
        ).reshape(len(records), len(NUMERIC_COLUMNS))
        months = np.array(
            [r[c.DATE].year * 12 + r[c.DATE].month - 1 for r in records], dtype="int64"
        )
        zips = [f"{int(r[c.ZIPCODE]):05d}" for r in records]
        return cls(numeric, months, zips, [r[c.CITY] for r in records])


def _zip_keys(rows: pd.DataFrame) -> list[str]:
    return [f"{int(z):05d}" for z in rows[c.ZIPCODE].to_numpy()]
