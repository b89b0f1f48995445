"""Figures in Dagster's UI at the precision a reader uses: 5.0304, not 5.030381985050457. The
exact values stay where they are computed from (the asset's value, MLflow, the stored reports)."""

from __future__ import annotations

from typing import Any

DIGITS = 4


def rounded(metadata: dict[str, Any], digits: int = DIGITS) -> dict[str, Any]:
    """Plain float entries rounded; everything else (ints, text, MetadataValue) as given."""
    return {
        key: round(value, digits) if isinstance(value, float) else value
        for key, value in metadata.items()
    }
