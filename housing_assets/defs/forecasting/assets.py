"""Forecasting per vintage: the forecaster tuned and fit on the months before the holdout, its
rolling-origin backtest on the holdout (gated), and the published forecasts of every zip."""

import time
from typing import Any

import dagster as dg
import mlflow
import pandas as pd
from pydantic import Field

from housing_assets.defs.owners import ML
from housing_assets.defs.training.partitions import vintages
from housing_assets.resources.mlflow_tracking import PIP_REQUIREMENTS, MlflowTracking
from housing_assets.resources.serving_store import ServingStore
from housing_core import bundle, plots, progress
from housing_core import splits as S
from housing_core.forecast import backtest, live, publishing, pyfunc, tuning
from housing_core.forecast import intervals as I
from housing_core.forecast import model as M
from housing_core.forecast import protocol as P
from housing_core.forecast import signals as SG
from housing_core.forecast.panel import Panel

GROUP = "forecasting"
# What every forecasting asset shares: one partition per vintage, the vintage's splits as input.
PER_VINTAGE: dict[str, Any] = {
    "partitions_def": vintages,
    "group_name": GROUP,
    "ins": {"splits": dg.AssetIn()},
    "owners": ML,
    "code_version": "1",  # bump when the asset's logic (or the lib code it calls) changes
}


class ForecastConfig(dg.Config):
    trials: int = Field(default=24, ge=1, description="Optuna trials on rolling-origin folds.")
    window: int | None = Field(
        default=12, description="Input window in months (the benchmark's 12); None: two years."
    )
    seed: int = Field(default=0, description="TPE sampler seed.")


def _panel(rows: pd.DataFrame) -> Panel:
    return Panel.from_rows(rows)


def _example(rows: pd.DataFrame, panel: Panel) -> pd.DataFrame:
    """The registered model's input example: two zips' last 14 months (enough for its signals)."""
    last = pd.Period(panel.months[-1], "M")
    recent = rows["date"].dt.to_period("M") > last - 14
    return rows[recent & rows["zipcode"].isin(panel.zips[:2])]


@dg.asset(**PER_VINTAGE, kinds={"optuna", "mlflow"})
def forecaster(
    context: dg.AssetExecutionContext,
    config: ForecastConfig,
    splits: pd.DataFrame,
    mlflow_tracking: MlflowTracking,
) -> publishing.ForecasterArtifact:
    """Every zip's price 1-24 months ahead from its history: tuned by Optuna on rolling-origin folds of the train + eval months, fit on them only (the holdout is never read), logged to MLflow with one nested run per trial."""
    vintage = context.partition_key
    history = splits[splits[S.SPLIT] != S.HOLDOUT]
    panel = _panel(history)
    eval_start = history.loc[history[S.SPLIT] == S.EVAL, "date"].min().strftime("%Y-%m")
    examples = M.Examples(panel, SG.compute(panel, config.window))
    tags = {"vintage": vintage, "dagster_partition": vintage, "dagster_run_id": context.run_id}
    started = time.perf_counter()
    with (
        mlflow_tracking.parent_run(context, tags, name=f"vintage {vintage}"),
        mlflow.start_run(
            run_name=f"forecaster-{vintage}", nested=True, tags={**tags, "model": "forecaster"}
        ) as run,
    ):
        mlflow.log_params({"trials": config.trials, "window": config.window, "seed": config.seed})

        def log_trial(number: int, params: M.Params, value: float, best: float) -> None:
            with mlflow.start_run(run_name=f"forecast-trial-{number}", nested=True, tags=tags):
                mlflow.log_params(params.as_dict())
                mlflow.log_metric("validation_mape", value)
            context.log.info(
                f"forecast trial {number}/{config.trials}: validation MAPE {value:.3f}% "
                f"(best {best:.3f}%)"
            )
            progress.report(
                "forecast tuning", number, config.trials, unit="trials",
                note=f"best validation MAPE {best:.2f}%",
            )  # fmt: skip

        params, study = tuning.tune(
            examples, panel.index(eval_start), panel.n_months, config.trials, config.seed, log_trial
        )
        model = M.fit(examples, panel.n_months - 1, params)
        mlflow.log_params({f"best_{k}": v for k, v in params.as_dict().items()})
        mlflow.log_metric("validation_mape", study.best_value)
        mlflow.log_dict(model.to_dict(), bundle.FORECASTER)
        run_id = run.info.run_id
    artifact = publishing.ForecasterArtifact(
        model.to_dict(), float(study.best_value), config.trials,
        (panel.months[0], panel.months[-1]), run_id,
    )  # fmt: skip
    context.add_output_metadata(
        {
            "validation_mape": round(study.best_value, 3),
            "best_params": dg.MetadataValue.json(params.as_dict()),
            "trials": config.trials,
            "fit_on": f"{panel.months[0]}..{panel.months[-1]}",
            "zips": len(panel.zips),
            "members": len(model.members),
            "mlflow_run_id": run_id,
            "seconds": round(time.perf_counter() - started, 1),
        }
    )
    return artifact


@dg.asset(**PER_VINTAGE, kinds={"pandas"})
def forecast_backtest(
    context: dg.AssetExecutionContext,
    splits: pd.DataFrame,
    forecaster: publishing.ForecasterArtifact,
    mlflow_tracking: MlflowTracking,
) -> dict:
    """The forecaster on its vintage's holdout: every origin from the month before it, every step 1-24 with a known price, against persistence and drift per horizon bucket, with its bands' coverage."""
    panel = _panel(splits)
    model = forecaster.model()
    start = panel.index(context.partition_key)
    examples = M.Examples(panel, SG.compute(panel, model.window), model.horizon)
    pool = I.calibration_pool(examples, model, start, P.CALIBRATION_FOLDS)
    origins = list(range(start - 1, panel.n_months - 1))
    points = P.forecast_points(examples, model, origins, model.horizon, pool)
    rep = backtest.report(points.dropna(subset=["actual"]))
    rep["refused"] = backtest.verdict(rep)
    png = plots.forecast_steps(rep["by_step"])
    if forecaster.mlflow_run_id:
        with mlflow_tracking.resume_run(forecaster.mlflow_run_id):
            flat = {f"backtest_{k}_mape": v for k, v in rep["overall"].items()}
            for label, part in rep["by_bucket"].items():
                flat[f"backtest_h{label.replace('-', '_')}_mape"] = part["model"]
            flat["backtest_coverage_80"] = rep["coverage"]["overall"]["80"]
            flat["backtest_coverage_95"] = rep["coverage"]["overall"]["95"]
            mlflow.log_metrics(flat)
            mlflow.log_dict(rep, "forecast_backtest.json")
    context.add_output_metadata(
        {
            "mape": round(rep["overall"]["model"], 3),
            "persistence_mape": round(rep["overall"]["persistence"], 3),
            "drift_mape": round(rep["overall"]["drift"], 3),
            "coverage_80": round(rep["coverage"]["overall"]["80"], 1),
            "coverage_95": round(rep["coverage"]["overall"]["95"], 1),
            "points": rep["points"],
            "origins": rep["origins"],
            "by_horizon": dg.MetadataValue.md(
                backtest.markdown(rep) + "\n\n" + plots.inline(png, "MAPE by months ahead")
            ),
        }
    )
    return rep


@dg.asset(**PER_VINTAGE, kinds={"json", "parquet"})
def published_forecast(
    context: dg.AssetExecutionContext,
    splits: pd.DataFrame,
    forecaster: publishing.ForecasterArtifact,
    forecast_backtest: dict,
    serving_store: ServingStore,
    mlflow_tracking: MlflowTracking,
) -> dict:
    """The backtested forecaster refit on every month (same settings), its bands and every zip's forecast for the next 1-24 months, published atomically and registered in MLflow (alias forecast-champion); runs only once the backtest gate passed."""
    panel = _panel(splits)
    tested = forecaster.model()
    examples = M.Examples(panel, SG.compute(panel, tested.window), tested.horizon)
    final = M.fit(examples, panel.n_months - 1, tested.params)
    pool = I.calibration_pool(examples, final, panel.n_months, P.CALIBRATION_FOLDS)
    bands = publishing.Bands.of(pool, panel.n_months - 1, panel.months)
    table = publishing.forecasts(examples, final, bands, panel.n_months - 1, final.horizon)
    refit = publishing.ForecasterArtifact(
        final.to_dict(), forecaster.validation_mape, forecaster.trials,
        (panel.months[0], panel.months[-1]), forecaster.mlflow_run_id,
    )  # fmt: skip
    store = serving_store.store()
    vintage = context.partition_key
    version = f"{vintage}-f{len([v for v in bundle.versions(store, bundle.FORECAST) if v.startswith(vintage)]) + 1}"
    if forecaster.mlflow_run_id is None:
        raise ValueError("the forecaster names no MLflow run to register from: rematerialize it")
    with mlflow_tracking.resume_run(forecaster.mlflow_run_id):
        info = pyfunc.log_model(
            publishing.model_files(refit, bands),
            _example(splits, panel),
            registered_model_name=mlflow_tracking.forecast_model,
            pip_requirements=PIP_REQUIREMENTS,
        )
    provenance = {
        "version": version,
        "vintage": vintage,
        "origin": panel.months[-1],
        "fit_on": [panel.months[0], panel.months[-1]],
        "registered_model": mlflow_tracking.forecast_model,
        "registered_version": str(info.registered_model_version),
        "mlflow_run_id": forecaster.mlflow_run_id,
        "dagster_run_id": context.run_id,
        "params": final.params.as_dict(),
    }
    past = publishing.history(panel)
    files = publishing.files(refit, bands, table, forecast_backtest, provenance, past)
    bundle.publish(store, version, files, kind=bundle.FORECAST)
    live.record_issued(store, table)  # scored against each of its months as they land
    mlflow_tracking.set_forecast_champion(str(info.registered_model_version))
    context.add_output_metadata(
        {
            "version": version,
            "origin": panel.months[-1],
            "zips": int(table["zipcode"].nunique()),
            "rows": len(table),
            "registered_version": provenance["registered_version"],
            "store": f"{store.describe()}/forecasts/{version}",
        }
    )
    return provenance
