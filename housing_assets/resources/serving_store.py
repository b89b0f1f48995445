"""Where published bundles live, and the policy for publishing a new one."""

from __future__ import annotations

import json

import dagster as dg
from pydantic import Field

from housing_assets.lib import bundle


class ServingStore(dg.ConfigurableResource):
    """A directory or s3://bucket/prefix holding bundles/<version>/ and the `current` pointer."""

    root: str = Field(description="Directory or s3://bucket/prefix of the serving store.")

    def store(self) -> bundle.Store:
        return bundle.store_for(self.root)

    def has_champion(self) -> bool:
        return bundle.current_version(self.store()) is not None

    def champion_provenance(self) -> dict | None:
        """The served bundle's provenance (version, vintage, windows) without loading the model."""
        store = self.store()
        version = bundle.current_version(store)
        if version is None:
            return None
        bundle.check_version(version)  # the pointer names a folder under bundles/, nothing else
        return json.loads(store.read(f"bundles/{version}/provenance.json"))

    def champion(self) -> Champion | None:
        """The served bundle, verified and loaded; None when nothing is published yet."""
        store = self.store()
        version = bundle.current_version(store)
        return None if version is None else Champion(bundle.load(store, version))

    def write_report(self, name: str, data: bytes) -> str:
        """reports/<name> in the store (drift reports: read by the API and the retrain sensor)."""
        key = f"reports/{name}"
        self.store().write(key, data)
        return f"{self.store().describe()}/{key}"

    def read_report(self, name: str) -> bytes | None:
        try:
            return self.store().read(f"reports/{name}")
        except FileNotFoundError:
            return None


class PromotionPolicy(dg.ConfigurableResource):
    """When a newly trained model may replace the champion."""

    max_mape_regression: float = Field(
        default=0.5,
        description="Largest allowed holdout MAPE increase over the champion, in percentage points.",
    )
    must_beat_baselines: bool = Field(
        default=True,
        description="Beat persistence, list price and the reference way, overall and per horizon bucket.",
    )
    min_bucket_rows: int = Field(
        default=30,
        ge=1,
        description="A horizon bucket with fewer holdout rows is reported, not judged.",
    )


class Champion:
    """The bundle being served, ready to score and to be compared against (drift, batch)."""

    def __init__(self, published: bundle.Bundle):
        import io

        import pandas as pd

        from housing_assets.lib.predictor import Predictor

        self.version = published.version
        self.provenance = published.json("provenance.json")
        self.metrics = published.json("metrics.json")
        self.predictor = Predictor.from_bundle(published)
        self.reference = (
            pd.read_parquet(io.BytesIO(published.files["reference.parquet"]))
            if "reference.parquet" in published.files
            else None
        )

    @property
    def model_version(self) -> str:
        """The trained model's version: monthly history refreshes republish it under new bundle
        versions (`<model version>.h<month>-<hash>`), the model stays the same."""
        return self.provenance.get("model_version", self.version)

    @property
    def holdout_mape(self) -> float:
        return float(self.metrics["model"]["mape"])

    @property
    def data_until(self) -> str:
        """The last month of data the champion saw (its holdout's end), YYYY-MM."""
        return self.provenance["windows"]["holdout"]["last"]
