"""Where published bundles live, and the policy for publishing a new one."""

from __future__ import annotations

import json

import dagster as dg
from pydantic import Field

from housing_core import bundle, gate
from housing_core.published import PublishedModel


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

    def champion(self) -> PublishedModel | None:
        """The served bundle, verified and loaded; None when nothing is published yet."""
        store = self.store()
        version = bundle.current_version(store)
        return None if version is None else PublishedModel.load(store, version)

    def write_report(self, name: str, data: bytes) -> str:
        """reports/<name> in the store (drift reports: read by the API and the retrain sensor)."""
        key = f"reports/{name}"
        self.store().write(key, data)
        return f"{self.store().describe()}/{key}"


_GATE = gate.GatePolicy()  # the one source of each default


class PromotionPolicy(dg.ConfigurableResource):
    """When a newly trained model may replace the champion (housing_core/gate.py decides)."""

    max_mape_regression: float = Field(
        default=_GATE.max_mape_regression,
        description="Largest allowed holdout MAPE increase over the champion, in percentage points.",
    )
    must_beat_baselines: bool = Field(
        default=_GATE.must_beat_baselines,
        description="Beat persistence, list price and the reference way, overall and per horizon bucket.",
    )
    min_bucket_rows: int = Field(
        default=_GATE.min_bucket_rows,
        ge=1,
        description="A horizon bucket with fewer holdout rows is reported, not judged.",
    )
    max_missing_months: int = Field(
        default=_GATE.max_missing_months,
        ge=0,
        description="Months missing inside a vintage's data window (quarantined) it may skip.",
    )
    min_coverage_80: float = Field(
        default=_GATE.min_coverage_80,
        ge=0,
        le=1,
        description="Least share of holdout rows the 80% interval must cover, per judged bucket.",
    )
    min_coverage_95: float = Field(
        default=_GATE.min_coverage_95,
        ge=0,
        le=1,
        description="Least share of holdout rows the 95% interval must cover, per judged bucket.",
    )
    coverage_max_horizon: int = Field(
        default=_GATE.coverage_max_horizon,
        ge=0,
        description="Coverage is judged in horizon buckets up to this many months (0: never).",
    )
    coverage_blocks: bool = Field(
        default=_GATE.coverage_blocks,
        description="A coverage shortfall blocks promotion (default: a warning on the verdict).",
    )

    replace_losing_champion: bool = Field(
        default=_GATE.replace_losing_champion,
        description="A champion losing to a baseline on the same rows is replaced by a challenger better than it on every baseline's rows.",
    )

    def policy(self) -> gate.GatePolicy:
        return gate.GatePolicy(
            max_mape_regression=self.max_mape_regression,
            must_beat_baselines=self.must_beat_baselines,
            min_bucket_rows=self.min_bucket_rows,
            max_missing_months=self.max_missing_months,
            min_coverage_80=self.min_coverage_80,
            min_coverage_95=self.min_coverage_95,
            coverage_max_horizon=self.coverage_max_horizon,
            coverage_blocks=self.coverage_blocks,
            replace_losing_champion=self.replace_losing_champion,
        )
