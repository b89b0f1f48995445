"""The HouseTS source as a Dagster resource: synthetic by default, files or S3 by configuration."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import dagster as dg
from pydantic import Field

from housing_core import contract as c
from housing_core.sources import (
    FilePanelSource,
    LandingLimits,
    MonthLoad,
    PanelSource,
    S3PanelSource,
    SyntheticPanelSource,
)
from housing_core.synthetic import MAX_SCALE, SyntheticSpec, n_zips


class HouseTSSource(dg.ConfigurableResource):
    """Base: every implementation lists its months and loads any of them."""

    def panel(self) -> PanelSource:
        raise NotImplementedError

    def months(self) -> list[str]:
        return self.panel().months()

    def load_months(self, months: Iterable[str]) -> dict[str, MonthLoad]:
        return self.panel().load_months(months)

    def iter_months(self, months: Iterable[str]) -> Iterator[MonthLoad]:
        """The months one at a time (`PanelSource.iter_months`)."""
        return self.panel().iter_months(months)

    def fingerprints(self) -> dict[str, str]:
        return self.panel().fingerprints()

    def refused(self) -> list[str]:
        """Delivered files not taken as months, each with its reason."""
        return self.panel().refused()

    def not_data(self) -> list[str]:
        """A landing area's entries that are not data, each saying what it is."""
        return self.panel().not_data()

    def is_landing_area(self) -> bool:
        """Months arrive here as separate files or objects (what the new-data sensor watches)."""
        return False

    def expected_rows_per_month(self) -> int | None:
        """Zips per month when the source knows it; checks fall back to the median month."""
        return None

    def describe(self) -> str:
        return self.panel().describe()


class SyntheticSource(HouseTSSource):
    """The embedded default: a seeded HouseTS-shaped panel, no download needed."""

    seed: int = Field(default=7, description="Random seed; the same seed gives the same panel.")
    scale: float = Field(
        default=0.25, gt=0, le=MAX_SCALE, description="Zips as a multiple of HouseTS's ~6,226."
    )
    first_month: str = Field(default=c.FIRST_MONTH, description="First month, YYYY-MM.")
    last_month: str = Field(default="2023-12", description="Last month, YYYY-MM.")

    def panel(self) -> PanelSource:
        return SyntheticPanelSource(
            SyntheticSpec(self.seed, self.scale, self.first_month, self.last_month)
        )

    def expected_rows_per_month(self) -> int | None:
        return n_zips(self.scale)


class LandingLimitsMixin(dg.ConfigurableResource):
    max_file_mb: int = Field(
        default=LandingLimits.max_file_bytes >> 20,
        gt=0,
        description="A monthly file larger than this (after decompression) fails its month.",
    )
    max_line_kb: int = Field(
        default=LandingLimits.max_line_bytes >> 10,
        gt=0,
        description="A monthly file with a longer line fails its month (not a row-per-line CSV).",
    )

    def limits(self) -> LandingLimits:
        return LandingLimits(self.max_file_mb << 20, self.max_line_kb << 10)


class FileSource(HouseTSSource, LandingLimitsMixin):
    """A local HouseTS CSV/Parquet file, or a directory of monthly files (2012-03.csv, ...)."""

    path: str = Field(description="File or directory path.")

    def panel(self) -> PanelSource:
        return FilePanelSource(self.path, self.limits())

    def is_landing_area(self) -> bool:
        from pathlib import Path

        return Path(self.path).expanduser().is_dir()


class S3Source(HouseTSSource, LandingLimitsMixin):
    """s3://bucket/key for one file, s3://bucket/prefix/ for monthly objects."""

    uri: str = Field(description="s3:// URI; AWS_ENDPOINT_URL_S3 points boto3 at a local server.")

    def panel(self) -> PanelSource:
        return S3PanelSource(self.uri, limits=self.limits())

    def is_landing_area(self) -> bool:
        return not self.uri.endswith((".csv", ".csv.gz", ".parquet"))


def source_from_setting(source: str, *, seed: int, scale: float) -> HouseTSSource:
    if source == "synthetic":
        return SyntheticSource(seed=seed, scale=scale)
    if source.startswith("s3://"):
        return S3Source(uri=source)
    return FileSource(path=source)
