"""When the platform retrains by itself (and with what tuning budget), and when a month's data
counts as drifted."""

from dataclasses import fields

import dagster as dg
from pydantic import Field

from housing_core.automation import RetrainRules
from housing_core.drift import Thresholds

_RULES = RetrainRules()  # the one source of each rule's default


class RetrainPolicy(dg.ConfigurableResource):
    every_months: int = Field(
        default=_RULES.every_months, ge=1, description="Retrain after this many new months."
    )
    on_drift_status: str = Field(
        default=_RULES.on_drift_status,
        description="Drift verdict (warn|error) of a new month that retrains.",
    )
    mape_ratio: float = Field(
        default=_RULES.mape_ratio,
        gt=1,
        description="Month MAPE / champion holdout MAPE that retrains.",
    )
    holdout_months: int = Field(
        default=_RULES.holdout_months,
        ge=1,
        description="Latest months the new vintage holds out for the gate.",
    )
    cooldown_months: int = Field(
        default=_RULES.cooldown_months,
        ge=0,
        description="Months of new data between two retrainings that reached the gate "
        "(a crash does not count).",
    )
    max_retries: int = Field(
        default=_RULES.max_retries,
        ge=0,
        description="Retries of a retraining that crashed before the gate.",
    )
    retry_backoff_minutes: float = Field(
        default=_RULES.retry_backoff_minutes,
        ge=0,
        description="Wait before the first retry; doubled for each next one.",
    )
    losing_months: int = Field(
        default=_RULES.losing_months,
        ge=1,
        description="Landed months in a row the champion lost to persistence live that retrain.",
    )
    fallback_to_baseline: bool = Field(
        default=_RULES.fallback_to_baseline,
        description="After losing_months lost in a row, the API serves persistence (flagged in "
        "every answer) until the champion wins a month or another model goes live.",
    )
    n_trials: int = Field(default=12, ge=1, description="Tuning trials of a sensor-started run.")
    sample_fraction: float = Field(
        default=1.0, gt=0, le=1, description="Share of train rows a sensor-started run tunes on."
    )
    forecast_trials: int = Field(
        default=24, ge=1, description="Forecaster tuning trials after a sensor-started retraining."
    )

    def rules(self) -> RetrainRules:
        return RetrainRules(**{f.name: getattr(self, f.name) for f in fields(RetrainRules)})

    def run_config(self) -> dict:
        tuning = {"n_trials": self.n_trials, "sample_fraction": self.sample_fraction}
        return {"ops": {"tuned_model": {"config": tuning}}}

    def forecast_run_config(self) -> dict:
        return {"ops": {"forecaster": {"config": {"trials": self.forecast_trials}}}}


_DRIFT = Thresholds()


class DriftPolicy(dg.ConfigurableResource):
    """When a month's drift report is WARN or ERROR (housing_core/drift.py)."""

    feature_psi: float = Field(
        default=_DRIFT.feature_psi,
        gt=0,
        description="A feature's missing share drifts above this PSI (the floor: a champion's "
        "calibration may raise it per feature).",
    )
    single_feature_psi: float = Field(
        default=_DRIFT.single_feature_psi,
        gt=0,
        description="One feature's missing share above this is an ERROR (the floor).",
    )
    feature_wasserstein: float = Field(
        default=_DRIFT.feature_wasserstein,
        gt=0,
        description="A feature drifts when its Wasserstein-1 move (reference IQRs) is above "
        "this (the floor: a champion's calibration may raise it per feature).",
    )
    single_feature_wasserstein: float = Field(
        default=_DRIFT.single_feature_wasserstein,
        gt=0,
        description="One feature moved beyond this is an ERROR (the floor).",
    )
    share_warn: float = Field(
        default=_DRIFT.share_warn, ge=0, le=1, description="Share of drifting features: WARN."
    )
    share_error: float = Field(default=_DRIFT.share_error, ge=0, le=1, description="... ERROR.")
    prediction_psi_warn: float = Field(
        default=_DRIFT.prediction_psi_warn, gt=0, description="PSI of the predictions: WARN."
    )
    prediction_psi_error: float = Field(
        default=_DRIFT.prediction_psi_error, gt=0, description="... ERROR."
    )
    mape_ratio_warn: float = Field(
        default=_DRIFT.mape_ratio_warn,
        gt=0,
        description="Month MAPE / champion holdout MAPE: WARN.",
    )
    mape_ratio_error: float = Field(default=_DRIFT.mape_ratio_error, gt=0, description="... ERROR.")
    recompute_months: int = Field(
        default=6,
        ge=0,
        description="When a new champion goes live, the latest cleaned months whose drift "
        "reports are recomputed for it (months after its data window always are).",
    )

    def thresholds(self) -> Thresholds:
        return Thresholds(**{f.name: getattr(self, f.name) for f in fields(Thresholds)})


class SensorIntervals(dg.ConfigurableResource):
    """How often the daemon evaluates each sensor: the floor on how soon a landed month is seen,
    a retrain decided, a new champion's drift recomputed or a failure alerted. An environment
    trades latency for load on its instance (a test or a demo ticks every few seconds)."""

    new_data_seconds: int = Field(
        default=30, ge=1, description="new_source_months: how often the source is fingerprinted."
    )
    retrain_seconds: int = Field(
        default=60, ge=1, description="retrain_on_drift_or_new_data: how often it decides."
    )
    drift_recompute_seconds: int = Field(
        default=60, ge=1, description="drift_for_live_champion: how often it looks for a new model."
    )
    alert_seconds: int = Field(
        default=30, ge=1, description="alert_on_failure: how often failed runs are alerted."
    )


class ForecastPolicy(dg.ConfigurableResource):
    """When published forecasts are losing: live error against the backtest they passed on."""

    live_error_factor: float = Field(
        default=1.5,
        gt=1,
        description="Warn when a horizon bucket's live MAPE exceeds the backtest's by this factor.",
    )
    min_points: int = Field(
        default=30, ge=1, description="A bucket is judged once it holds this many scored points."
    )
