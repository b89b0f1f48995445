"""A published model, loaded: the one type everything that reads a bundle works with.

The API serves it, the Dagster side compares against it (drift reports, batch scoring) and the
dashboard explores it. It owns what a bundle's files mean; how they are stored and verified is
`bundle.py`'s business. Parts only some readers need (the drift reference, the explorer's
indices) are parsed on first use: the API warms the explorer before a swap so no request pays
for it, a drift run never builds it.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from housing_core import bundle
from housing_core.explorer import Explorer
from housing_core.predictor import Predictor


@dataclass(frozen=True, eq=False)
class PublishedModel:
    published: bundle.Bundle  # the verified files
    predictor: Predictor
    provenance: dict
    metrics: dict
    schema: dict
    loaded_at: float = field(default_factory=time.time)

    @classmethod
    def load(cls, store: bundle.Store, version: str | None = None) -> PublishedModel:
        """Load and verify a bundle (the current one by default); `bundle.BundleError` if it
        must not be served."""
        return cls.from_bundle(bundle.load(store, version))

    @classmethod
    def from_bundle(cls, published: bundle.Bundle) -> PublishedModel:
        return cls(
            published=published,
            predictor=Predictor.from_bundle(published),
            provenance=published.json(bundle.PROVENANCE),
            metrics=published.json(bundle.METRICS),
            schema=published.json(bundle.SCHEMA),
        )

    @property
    def version(self) -> str:
        """The bundle's version (what `current` names)."""
        return self.published.version

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
        """The last month of data the model saw (its holdout's end), YYYY-MM."""
        return self.provenance["windows"]["holdout"]["last"]

    @property
    def trained_through(self) -> str:
        """The last month the served booster learned from, YYYY-MM: its final refit's, else the
        end of its eval window (a model never refit learned from train and eval only)."""
        return self.provenance.get("trained_through") or self.provenance["windows"]["eval"]["last"]

    def _frame(self, name: str) -> pd.DataFrame | None:
        data = self.published.files.get(name)
        return None if data is None else pd.read_parquet(io.BytesIO(data))

    def smoke(self) -> None:
        """Score the example rows shipped in the bundle and compare with what it answered when it
        was published: `bundle.BundleError`, naming what differs, if it cannot score or scores
        otherwise (a bundle whose files were edited and re-manifested, a truncated interval
        table). A bundle published without them is served on its checksums alone."""
        frame = self._frame(bundle.SMOKE)
        if frame is None:
            return
        expected = [f"expected_{output}" for output in bundle.SMOKE_OUTPUTS]
        try:
            got = self.predictor.predict(frame.drop(columns=expected))
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise bundle.BundleError(
                f"bundle {self.version} cannot score its example rows: {type(exc).__name__}: {exc}"
            ) from exc
        for output in bundle.SMOKE_OUTPUTS:
            if not np.allclose(
                got[output].to_numpy(dtype=float),
                frame[f"expected_{output}"].to_numpy(dtype=float),
                rtol=1e-6,
                equal_nan=True,
            ):
                raise bundle.BundleError(
                    f"bundle {self.version} answers its example rows otherwise than when it was "
                    f"published ({output}): its files changed after publication"
                )

    @cached_property
    def reference(self) -> pd.DataFrame | None:
        """The drift reference (a sample of the last pre-holdout year); None in an old bundle."""
        return self._frame(bundle.REFERENCE)

    @cached_property
    def drift_calibration(self) -> dict | None:
        """Drift thresholds learned from the history before the holdout; None in a bundle
        published without (too little history, or before calibration): reports then judge by
        the policy's thresholds."""
        data = self.published.files.get(bundle.DRIFT_CALIBRATION)
        return None if data is None else json.loads(data)

    @cached_property
    def explorer(self) -> Explorer | None:
        """The dashboard's data; None for a bundle published without it (it still serves)."""
        series, holdout = (self.published.local(name) for name in bundle.EXPLORER_FILES)
        if series is not None and holdout is not None:
            return Explorer(series, holdout)
        history, holdout = (self._frame(name) for name in bundle.EARLIER_EXPLORER_FILES)
        return (
            None if history is None or holdout is None else Explorer.from_frames(history, holdout)
        )
