"""The environment's policies file (HOUSING_POLICIES): one section per threshold resource."""

from __future__ import annotations

from pathlib import Path

from housing_assets.resources.automation import (
    DriftPolicy,
    ForecastPolicy,
    RetrainPolicy,
    SensorIntervals,
)
from housing_assets.resources.revisions import RevisionPolicy
from housing_assets.resources.serving_store import PromotionPolicy

POLICIES = {  # section of the policies file -> its resource
    "retrain": ("retrain_policy", RetrainPolicy),
    "gate": ("promotion_policy", PromotionPolicy),
    "drift": ("drift_policy", DriftPolicy),
    "revisions": ("revision_policy", RevisionPolicy),
    "sensors": ("sensor_intervals", SensorIntervals),
    "forecast": ("forecast_policy", ForecastPolicy),
}


def policies(path: Path | None) -> dict:
    """The threshold resources, from the environment's policies file (HOUSING_POLICIES) where it
    sets a value, else their defaults. An unknown section or key is an error naming it: a typo
    must not silently leave a default in force."""
    import yaml

    given = yaml.safe_load(path.read_text()) if path else {}
    given = given or {}
    if not isinstance(given, dict) or set(given) - set(POLICIES):
        raise ValueError(
            f"{path}: sections must be {sorted(POLICIES)}, got {sorted(given) if isinstance(given, dict) else type(given).__name__}"
        )
    out = {}
    for section, (name, resource) in POLICIES.items():
        values = given.get(section) or {}
        known = resource.model_fields  # type: ignore[attr-defined]  # pydantic's, on the class
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(
                f"{path}: unknown {section} setting(s) {unknown}; known: {sorted(known)}"
            )
        out[name] = resource(**values)
    return out
