"""Train one vintage: tune on train/eval, calibrate intervals on eval, refit on train + eval.

Every row is anchored the way it will be served. Eval rows are predicted from the history known
when eval starts (the train months), exactly as the holdout is predicted from the months before
it. Training rows are anchored as if the history ended 1..`max_offset` months before them (drawn
per row, seeded; small panels draw several times). A row with no earlier price -- a zip's first
month, or most rows of a sparse sample -- trains the cold path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Protocol

import numpy as np
import pandas as pd
import xgboost as xgb

from housing_core import anchors as A
from housing_core import contract as c
from housing_core import features as F
from housing_core import horizons, metrics, tuning
from housing_core import splits as S
from housing_core.splits import EVAL, HOLDOUT, TRAIN
from housing_core.threads import ThreadBudget
from housing_core.tuning import TuningSettings  # a field below is named `tuning`

MIN_EXAMPLES = 100_000  # a small panel is anchored several times over, up to MAX_DRAWS
MAX_DRAWS = 4
MAX_WEIGHTED_HORIZON = 24
WEIGHT_POWER = 1.0


@dataclass
class TrainedModel:
    booster: xgb.Booster  # refit on train + eval: judged on the holdout (`final_refit` serves)
    rounds: int
    tuning: tuning.TuningResult
    conformal: dict  # horizons.conformal(): log-scale bounds per horizon bucket
    eval_metrics: dict[str, float]  # of the train-only model: what calibrated the intervals
    importance: dict[str, float]
    # What it was fitted with; the final refit reuses it.
    settings: TuningSettings | None = None


@dataclass(frozen=True)
class MlflowRef:
    """Where MLflow holds a trained model: its parent run and registered version."""

    run_id: str
    registered_model: str
    version: str


@dataclass(frozen=True)
class ModelArtifact:
    """A trained model as the `tuned_model` asset stores it: the booster in XGBoost's own JSON
    format, its interval quantiles, the tuning outcome, and where MLflow holds it. A plain JSON
    document (nothing pickled), rebuilt with `from_json`."""

    model_json: str
    conformal: dict
    best_params: dict
    rounds: int
    eval_metrics: dict[str, float]
    importance: dict[str, float]
    mlflow: MlflowRef
    settings: dict = field(default_factory=dict)  # tuning.TuningSettings; {} from older releases

    @classmethod
    def of(cls, model: TrainedModel, mlflow: MlflowRef) -> ModelArtifact:
        return cls(
            model_json=bytes(model.booster.save_raw("json")).decode(),
            conformal=model.conformal,
            best_params=model.tuning.best_params,
            rounds=model.rounds,
            eval_metrics=model.eval_metrics,
            importance=model.importance,
            mlflow=mlflow,
            settings=asdict(model.settings) if model.settings else {},
        )

    def tuning_settings(self) -> tuning.TuningSettings:
        """The settings it was fitted with (defaults for what an older artifact did not record)."""
        known = {f.name for f in fields(tuning.TuningSettings)}
        return tuning.TuningSettings(**{k: v for k, v in self.settings.items() if k in known})

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelArtifact:
        data = json.loads(text)
        return cls(**{**data, "mlflow": MlflowRef(**data["mlflow"])})


@dataclass
class Examples:
    X: np.ndarray
    y: np.ndarray
    horizon: np.ndarray

    def subset(self, rows: np.ndarray) -> Examples:
        return Examples(self.X[rows], self.y[rows], self.horizon[rows])

    def dmatrix(self, state: F.FeatureState, rows: np.ndarray | None = None) -> xgb.DMatrix:
        """A matrix to predict on or evaluate with."""
        pick = slice(None) if rows is None else rows
        return xgb.DMatrix(
            self.X[pick],
            label=self.y[pick],
            weight=horizon_weight(self.horizon[pick]),
            missing=np.nan,
            feature_names=state.features,
        )

    def fit_matrix(
        self, state: F.FeatureState, settings: tuning.TuningSettings, rows: np.ndarray | None = None
    ) -> xgb.DMatrix:
        """A matrix to fit on (hist): a QuantileDMatrix holds each value as a one-byte bin, where
        a DMatrix holds its own 8-byte copy of every value *and*, once fitting starts, the same
        bins: about 8 bytes less per value, the refit's largest saving at scale. Same cuts,
        same model bytes (XGBoost 3.x on CPU; tests/core/test_training_examples.py)."""
        pick = slice(None) if rows is None else rows
        return xgb.QuantileDMatrix(
            self.X[pick],
            label=self.y[pick],
            weight=horizon_weight(self.horizon[pick]),
            missing=np.nan,
            feature_names=state.features,
            max_bin=settings.max_bin,
        )


@dataclass(frozen=True)
class TuningExamples:
    """What tuning fits (the train sample) and stops on (the eval rows), with what their
    matrices need: a worker process builds its own matrices from it (XGBoost's do not travel)."""

    train: Examples
    evaluation: Examples
    state: F.FeatureState
    settings: TuningSettings

    def matrices(self) -> tuple[xgb.DMatrix, xgb.DMatrix]:
        """The matrices `train` tunes on in process, value for value."""
        return self.train.fit_matrix(self.state, self.settings), self.evaluation.dmatrix(self.state)


class Tuner(Protocol):
    """Tunes on `data` elsewhere than in this process: on a Dask cluster's workers sharing one
    study (housing_core/dask_training.DaskTuning)."""

    def __call__(
        self,
        data: TuningExamples,
        *,
        storage: str,
        study_name: str,
        on_trial: Callable[[tuning.TrialResult], None] | None,
    ) -> tuning.TuningResult: ...


def horizon_weight(horizon: np.ndarray) -> np.ndarray:
    """Changes grow with the horizon; without weights the long horizons' large errors drown the
    short ones, which fresh monthly history serves most. Cold rows weigh like the longest."""
    h = np.where(np.isnan(horizon), MAX_WEIGHTED_HORIZON, horizon)
    return 1.0 / np.clip(h, 1, MAX_WEIGHTED_HORIZON) ** WEIGHT_POWER


def draws_for(n_rows: int) -> int:
    return int(np.clip(np.ceil(MIN_EXAMPLES / max(n_rows, 1)), 1, MAX_DRAWS))


@dataclass(frozen=True)
class Within:
    """Rows that are a part of a larger set: each row's position in the whole, and the whole's
    row count. Draws belong to the whole (how many, and each row's cutoff), so a part -- whole
    metros, built on a Dask worker -- anchors every row exactly as the whole would."""

    positions: np.ndarray
    rows: int


def _drawn(
    rows: pd.DataFrame,
    state: F.FeatureState,
    history: A.AnchorTable,
    seed: int,
    floor: int | None = None,
    stream: tuple[int, ...] = (),
    metro_encoding: np.ndarray | None = None,
    within: Within | None = None,
) -> Examples:
    """Rows anchored at sampled cutoffs, never before `floor` (default: the zip's first known
    month), stacked over `draws_for` draws."""
    base = F.Rows.from_frame(rows)
    zips = base.zip_numbers()
    earliest = history.first_month(zips) if floor is None else np.full(len(rows), floor)
    whole = len(rows) if within is None else within.rows
    parts = []
    for draw in range(draws_for(whole)):
        rng = np.random.default_rng([seed, draw, *stream])
        uniform = rng.random(whole) if within is None else rng.random(whole)[within.positions]
        cutoffs = A.sample_cutoffs(base.months, earliest, state.max_offset, uniform)
        match = history.lookup(zips, cutoffs)
        parts.append(
            Examples(
                F.matrix(base, state, match, metro_encoding),
                F.target(rows, state, match),
                F.horizon(base, match),
            )
        )
    return Examples(
        *(np.concatenate([getattr(p, k) for p in parts]) for k in ("X", "y", "horizon"))
    )


def training_examples(
    rows: pd.DataFrame,
    state: F.FeatureState,
    history: A.AnchorTable,
    seed: int,
    metro_encoding: np.ndarray | None = None,
    within: Within | None = None,
) -> Examples:
    """Rows anchored as if the history ended 1..max_offset months before each (see module doc).
    `within`: these rows are a part of that larger set, drawn as the whole would draw them."""
    return _drawn(rows, state, history, seed, metro_encoding=metro_encoding, within=within)


def sampled_examples(
    rows: pd.DataFrame,
    state: F.FeatureState,
    history: A.AnchorTable,
    seed: int,
    metro_encoding: np.ndarray,
    sample: np.ndarray,
) -> Examples:
    """`training_examples(...).subset(sample)` for a sorted `sample` of its example positions,
    building only the sampled rows' examples: tuning fits a capped sample, and at scale the
    rest of the train rows' examples would be most of the step's memory and time."""
    n, draws = len(rows), draws_for(len(rows))
    if len(sample) == n * draws:
        return training_examples(rows, state, history, seed, metro_encoding)
    picked = np.unique(sample % n)
    subset = rows.take(picked)
    subset.index = pd.RangeIndex(len(subset))
    built = training_examples(
        subset, state, history, seed, metro_encoding[picked], Within(picked, n)
    )
    # Built draw by draw over `picked`: each example's position among the whole's examples,
    # ascending, as the sorted sample is.
    position = (np.arange(draws)[:, None] * n + picked[None, :]).ravel()
    return built.subset(np.flatnonzero(np.isin(position, sample, assume_unique=True)))


def served_examples(rows: pd.DataFrame, state: F.FeatureState, history: A.AnchorTable) -> Examples:
    """Rows anchored as a served request is: on the latest month of `history` before each."""
    base = F.Rows.from_frame(rows)
    match = F.served_anchors(base, history)
    return Examples(
        F.matrix(base, state, match), F.target(rows, state, match), F.horizon(base, match)
    )


def calibration_examples(
    eval_rows: pd.DataFrame, state: F.FeatureState, known: A.AnchorTable, seed: int
) -> Examples:
    """Eval rows served from every origin inside the eval window, not only its first month: the
    history ends 1..max_offset months before each row but never before eval starts, so each
    horizon's residuals come from the whole window (a train-only model has seen none of them)."""
    eval_start = int(A.month_index(eval_rows[c.DATE]).min())
    return _drawn(eval_rows, state, known, seed, floor=eval_start - 1, stream=(1,))


class Refit(Protocol):
    """Fits `rounds` rounds of `params` on the training examples of `rows`, anchored on their own
    history with `encoding` as each row's metro encoding and drawn with `seed`: `InProcess`, or
    on a Dask cluster's workers (housing_core/dask_training.DaskRefit)."""

    def __call__(
        self,
        rows: pd.DataFrame,
        state: F.FeatureState,
        encoding: np.ndarray,
        seed: int,
        params: dict,
        rounds: int,
        settings: TuningSettings,
    ) -> xgb.Booster: ...


@dataclass(frozen=True)
class InProcess:
    """The refit in this process (the default): examples built here, fitted within the run's
    thread budget."""

    threads: ThreadBudget | None = None

    def __call__(
        self,
        rows: pd.DataFrame,
        state: F.FeatureState,
        encoding: np.ndarray,
        seed: int,
        params: dict,
        rounds: int,
        settings: TuningSettings,
    ) -> xgb.Booster:
        history = F.anchor_table(rows, state)
        examples = training_examples(rows, state, history, seed, encoding)
        del history  # memory: the fit below holds the examples' matrix as well
        matrix = examples.fit_matrix(state, settings)
        return tuning.fit(params, rounds, matrix, settings, self.threads)


def train(
    splits: pd.DataFrame,
    state: F.FeatureState,
    settings: tuning.TuningSettings,
    *,
    storage: str | None = None,  # tuning.open_storage
    study_name: str = "housing",
    on_trial: Callable[[tuning.TrialResult], None] | None = None,
    say: Callable[[str], None] = lambda _m: None,
    threads: ThreadBudget | None = None,
    refit: Refit | None = None,
    tuner: Tuner | None = None,
) -> TrainedModel:
    """`threads`: the run's thread budget (default: this process's CPUs, one run). `refit`: where
    the train + eval refit runs (default: here). `tuner`: where tuning runs (default: here, on
    `storage`; a tuner needs a URL its workers share). Calibration runs here either way."""
    known_rows, (n_train, n_eval) = S.stacked(splits, (TRAIN, EVAL))
    train_rows = S.part(known_rows, 0, n_train)
    eval_rows = S.part(known_rows, n_train, n_train + n_eval)
    train_history = F.anchor_table(train_rows, state)  # what is known when eval starts
    oof = F.out_of_fold_metro_encoding(train_rows, state, settings.seed)
    train_examples = _example_count(len(train_rows))
    sample = tuning.sample_rows(
        train_examples, settings.sample_fraction, settings.seed, settings.max_tuning_examples
    )
    train_ex = sampled_examples(train_rows, state, train_history, settings.seed, oof, sample)
    eval_ex = served_examples(eval_rows, state, train_history)
    # Every boosting round of every trial scores the early-stopping rows: past the cap they
    # cost more than the tuning rows themselves (5x scale: 0.75 M eval rows) and tell no more.
    stopping = tuning.sample_rows(len(eval_ex.y), 1.0, settings.seed, settings.max_tuning_examples)
    say(
        f"tuning on {len(sample):,} anchored train examples ({draws_for(len(train_rows))} per "
        f"row), early stopping on {len(stopping):,} of {len(eval_rows):,} eval rows served from "
        "the train history"
    )
    d_eval = eval_ex.dmatrix(state)
    if tuner is None:
        result = tuning.tune(
            train_ex.fit_matrix(state, settings),
            d_eval if len(stopping) == len(eval_ex.y) else eval_ex.dmatrix(state, stopping),
            settings,
            storage=storage,
            study_name=study_name,
            on_trial=on_trial,
            threads=threads,
        )
    elif storage is None:
        raise ValueError("tuning elsewhere needs a study storage its workers share")
    else:
        data = TuningExamples(train_ex, eval_ex.subset(stopping), state, settings)
        result = tuner(data, storage=storage, study_name=study_name, on_trial=on_trial)
    say(f"tuned with {result.nthread} XGBoost thread(s) per trial")
    rounds = result.best_iteration + 1

    if result.best_booster is not None:
        say("calibrating intervals with the best trial's model (it never saw an eval row)")
        train_only = result.best_booster
    else:  # the best trial ran in an earlier process (a resumed study): fit its twin
        say(f"calibrating intervals: best params on all train examples, {rounds} rounds")
        every = training_examples(train_rows, state, train_history, settings.seed, oof)
        train_only = tuning.fit(
            result.best_params, rounds, every.fit_matrix(state, settings), settings, threads
        )
        del every
    del train_ex, train_history, sample  # what the refit below no longer needs: memory
    eval_log_price = np.log(eval_rows[c.TARGET].to_numpy())
    eval_pred = train_only.predict(d_eval) + (eval_log_price - eval_ex.y)  # + the anchor level
    known_history = F.anchor_table(known_rows, state)
    calib = calibration_examples(eval_rows, state, known_history, settings.seed)
    residuals = calib.y - train_only.predict(calib.dmatrix(state))
    conformal = horizons.conformal(residuals, horizons.bucket(calib.horizon))

    # Train rows keep their out-of-fold encoding; eval rows get the train-fitted one, as served.
    eval_encoding = eval_rows[c.CITY].map(state.metro_encoding).fillna(state.global_mean)
    oof_all = np.concatenate([oof, eval_encoding.to_numpy(dtype="float64")])
    eval_metrics = metrics.regression(eval_rows[c.TARGET], np.exp(eval_pred))
    # More data supports proportionally more rounds at the same learning rate.
    refit_examples = _example_count(len(known_rows))
    refit_rounds = round(rounds * refit_examples / train_examples)
    say(f"refitting on train + eval ({refit_examples:,} examples, {refit_rounds} rounds)")
    if refit is None:
        all_ex = training_examples(known_rows, state, known_history, settings.seed + 1, oof_all)
        # Memory: the fit below holds the examples and their matrix; the rows are no longer needed.
        del known_history, calib, known_rows, train_rows, eval_rows
        final = tuning.fit(
            result.best_params, refit_rounds, all_ex.fit_matrix(state, settings), settings, threads
        )
    else:
        del known_history, calib, train_rows, eval_rows
        final = refit(
            known_rows,
            state,
            oof_all,
            settings.seed + 1,
            result.best_params,
            refit_rounds,
            settings,
        )
    gain = {k: float(v) for k, v in final.get_score(importance_type="total_gain").items()}  # type: ignore[arg-type]  # total_gain is one float per feature
    total = sum(gain.values()) or 1.0
    importance = {k: v / total for k, v in sorted(gain.items(), key=lambda kv: -kv[1])}
    return TrainedModel(
        final,
        refit_rounds,
        result,
        conformal,
        eval_metrics,
        importance,
        settings,
    )


@dataclass(frozen=True)
class FinalRefit:
    """The published model: the evaluated model's parameters refit on every month through the
    newest, holdout included. Nothing judges it -- its estimate is the evaluated model's holdout."""

    booster: xgb.Booster
    rounds: int  # scaled from the train + eval refit by examples, like that refit from tuning
    evaluated_rounds: int
    rows: int
    examples: int
    first_month: str
    last_month: str  # the newest month it learned from

    def describe(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "booster"}


def _example_count(n_rows: int) -> int:
    return n_rows * draws_for(n_rows)


def final_refit(
    splits: pd.DataFrame,
    state: F.FeatureState,
    params: dict,
    evaluated_rounds: int,
    settings: tuning.TuningSettings,
    threads: ThreadBudget | None = None,
    refit: Refit | None = None,
) -> FinalRefit:
    """Refit on train + eval + holdout with the tuned `params`: the holdout months are the newest,
    and a model that never learns them serves a year behind the data. `evaluated_rounds` were
    fitted on the train + eval examples; the final model gets them scaled by its examples.
    `refit`: where it runs (default: `InProcess`).

    The encoders stay the train-fitted `state` (the one `encoders_fit_on_train_only` checks and
    the bundle ships): train rows keep their out-of-fold metro encoding, eval and holdout rows
    get the train-fitted one, exactly as `train`'s refit encodes its eval rows and as served."""
    rows, counts = S.stacked(splits, (TRAIN, EVAL, HOLDOUT))
    if not all(counts):
        raise ValueError("final refit needs train, eval and holdout rows")
    n_train = counts[0]
    later = rows[c.CITY].iloc[n_train:]
    encoding = np.concatenate(
        [
            F.out_of_fold_metro_encoding(S.part(rows, 0, n_train), state, settings.seed),
            later.map(state.metro_encoding).fillna(state.global_mean).to_numpy(dtype="float64"),
        ]
    )
    fitted_on = _example_count(n_train + counts[1])
    n_examples = _example_count(len(rows))
    rounds = max(1, round(evaluated_rounds * n_examples / fitted_on))
    # Every price known through the newest month is the history its examples anchor on.
    fit = refit or InProcess(threads)
    booster = fit(rows, state, encoding, settings.seed + 2, params, rounds, settings)
    return FinalRefit(
        booster,
        rounds,
        evaluated_rounds,
        len(rows),
        n_examples,
        rows[c.DATE].min().strftime("%Y-%m"),
        rows[c.DATE].max().strftime("%Y-%m"),
    )
