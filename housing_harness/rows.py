"""Rows as a client sends them to the API."""

import json

import pandas as pd

from housing_core.splits import SPLIT


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as a JSON client sends them: dates as text, missing values as null."""
    out = frame.drop(columns=[SPLIT], errors="ignore").copy()
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    return json.loads(out.to_json(orient="records"))
