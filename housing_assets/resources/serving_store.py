"""Where published bundles live, and the policy for publishing a new one."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from housing_assets.lib import bundle


class ServingStore(dg.ConfigurableResource):
    """A local directory holding bundles/<version>/ and the `current` pointer."""

    root: str = Field(description="Directory of the serving store.")

    def store(self) -> bundle.LocalStore:
        return bundle.LocalStore(self.root)

    def champion_metrics(self) -> dict | None:
        """Holdout metrics of the bundle being served, None when nothing is published yet."""
        store = self.store()
        if bundle.current_version(store) is None:
            return None
        return bundle.load(store).json("metrics.json")


class PromotionPolicy(dg.ConfigurableResource):
    """When a newly trained model may replace the champion."""

    max_mape_regression: float = Field(
        default=0.5,
        description="Largest allowed holdout MAPE increase over the champion, in percentage points.",
    )
    must_beat_baselines: bool = Field(default=True, description="Beat persistence and list price.")
