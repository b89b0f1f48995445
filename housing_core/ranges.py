"""Request rows against the contract's plausible ranges: the rule the API answers 422 with and
the registered MLflow model (housing_core/pyfunc.py) applies too -- one rule, here, below both."""

from __future__ import annotations

import numpy as np

from housing_core import contract as c
from housing_core import features as F

# 0.0 is HouseTS's "not reported" for market stats and census fields: allowed, read as missing.
ZERO_ALLOWED = set(c.MARKET_STATS) | set(c.CENSUS_COLUMNS)


class InputError(ValueError):
    """Values that break the contract: carries per-row details for a 422 answer."""

    def __init__(self, details: list[dict]):
        super().__init__("; ".join(d["message"] for d in details[:5]))
        self.details = details


_RANGE_COLUMNS = list(c.RANGES)
_LOW = np.array([c.RANGES[k].low for k in _RANGE_COLUMNS])
_HIGH = np.array([c.RANGES[k].high for k in _RANGE_COLUMNS])
_ZERO_OK = np.array([k in ZERO_ALLOWED for k in _RANGE_COLUMNS])


_RANGE_POSITIONS = [F.NUMERIC_POSITION[k] for k in _RANGE_COLUMNS]


def check_ranges(rows: F.Rows) -> None:
    """422-worthy values: outside the contract's plausible ranges (not-reported zeros allowed)."""
    values = rows.numeric[:, _RANGE_POSITIONS]
    with np.errstate(invalid="ignore"):
        bad = ((values < _LOW) | (values > _HIGH)) & ~(_ZERO_OK & (values == 0))
    if not bad.any():
        return
    details = []
    for row, j in np.argwhere(bad)[:20]:
        rule = c.RANGES[_RANGE_COLUMNS[j]]
        details.append(
            {
                "row": int(row),
                "field": _RANGE_COLUMNS[j],
                "message": f"{_RANGE_COLUMNS[j]}={values[row, j]:g} breaks the rule: {rule.rule}",
            }
        )
    raise InputError(details)
