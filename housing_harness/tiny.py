"""A tiny trained model and its published bundle, built in-process from the library in about a
second: no Dagster instance, no MLflow, no Optuna storage. Serving, UI and unit tests score
against it; the real Dagster lineage stays covered by the tests that need it (`trained`).

It goes through the same code the lineage does -- synthetic panel, cleaning, splits, feature
state, `training.train`, `evaluation.predictions`, `publishing.bundle_files`, `bundle.publish` --
with one tuning trial and few boosting rounds, so it is a real model, just a weak one. Unlike the
lineage it publishes the evaluated booster (no final refit), so the API must answer exactly what
its holdout was judged with.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from housing_core import bundle, evaluation, publishing, training, tuning
from housing_core import features as F
from housing_core import splits as S
from housing_core.cleaning import clean_month
from housing_core.predictor import Predictor
from housing_core.synthetic import SyntheticSpec, generate_panel

VINTAGE = "2022-01"
VERSION = f"{VINTAGE}-v1"
SETTINGS = tuning.TuningSettings(
    n_trials=1, timeout_s=None, seed=0, max_rounds=40, early_stopping_rounds=10, nthread=1
)


@dataclass(frozen=True)
class TinyModel:
    splits: pd.DataFrame  # cleaned rows with their `split`
    state: F.FeatureState
    model: training.TrainedModel
    holdout_predictions: pd.DataFrame  # served from the history before the holdout
    files: dict[str, bytes]  # the bundle as published

    @property
    def holdout(self) -> pd.DataFrame:
        rows = self.splits
        return rows[rows[S.SPLIT] == S.HOLDOUT].reset_index(drop=True)

    def published_predictor(self) -> Predictor:
        """The bundle's model as the API loads it (zip history through the last month)."""
        return Predictor.from_bundle(bundle.Bundle(VERSION, self.files))

    def publish(self, root: Path, version: str = VERSION) -> Path:
        """Publish the bundle into a local serving store at `root`; returns `root`."""
        bundle.publish(bundle.LocalStore(root), version, self.files)
        return root


@functools.cache
def tiny_model(seed: int = 3) -> TinyModel:
    """30 zips (one per metro) x 142 months, vintage 2022-01. Cached per process: treat as
    read-only."""
    panel = generate_panel(SyntheticSpec(seed=seed, scale=0.001))
    cleaned, _ = clean_month(panel)  # row-wise rules: the whole panel at once, as per month
    rows = S.assign(cleaned, S.Windows(VINTAGE, 24, None, None))
    state = F.fit(rows[rows[S.SPLIT] == S.TRAIN])
    model = training.train(rows, state, SETTINGS)
    model_json = bytes(model.booster.save_raw("json"))
    judged = Predictor.from_model_json(
        model_json, state, model.conformal, F.anchor_table(rows[rows[S.SPLIT] != S.HOLDOUT], state)
    )
    preds = evaluation.predictions(rows, judged)
    provenance = publishing.provenance(
        VERSION,
        VINTAGE,
        rows,
        publishing.served_history(rows, state),
        {"run_id": "none", "registered_model": "housing-price", "version": "1"},
        run_id="none",
        trigger_reason="built by housing_harness/tiny.py",
        trained_at="2026-01-01T00:00:00+00:00",
        code="tests (in-process)",
    )
    files = publishing.bundle_files(
        rows,
        state,
        model_json,
        model.conformal,
        preds,
        evaluation.report(preds),
        provenance,
    )
    return TinyModel(rows, state, model, preds, files)
