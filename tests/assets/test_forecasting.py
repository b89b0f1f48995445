"""The forecasting group of a vintage, materialized in process: tuned and fit on the months before
the holdout, backtested on it, gated, published atomically and registered in MLflow."""

import dagster as dg
import mlflow
import pandas as pd
import pytest

from housing_assets.runner import forecast, train
from housing_core import bundle
from housing_core.forecast import backtest, publishing
from tests.conftest import FORECASTING_ASSETS, TUNING, build_lineage

pytestmark = pytest.mark.slow

TRIALS = 4


def test_the_gate_decides_publication_on_the_synthetic_turn(trained):
    """The synthetic panel's 2022 turn: whatever the gate says, it says it from the backtest's
    own numbers, and a held-back forecaster leaves nothing published."""
    settings, defs, inst, _ = trained
    outcome = forecast(defs, inst, "2022-01", TRIALS, say=lambda _: None)
    rep = outcome.backtest
    assert rep is not None and rep["points"] > 0
    reasons = backtest.verdict(rep)
    assert rep["refused"] == reasons
    store = bundle.LocalStore(settings.serving_dir)
    if reasons:
        assert outcome.published is None and all(r in outcome.gate for r in reasons)
        assert bundle.current_version(store, bundle.FORECAST) is None
    else:
        assert outcome.published is not None
        assert bundle.current_version(store, bundle.FORECAST) == outcome.version
    # Fit only on the months before the holdout: the artifact says so, and so does its history.
    art = defs.load_asset_value(
        "forecaster", python_type=publishing.ForecasterArtifact, partition_key="2022-01",
        instance=inst,
    )  # fmt: skip
    assert art.history[1] == "2021-12" and art.forecaster["trained_through"] == "2021-12"


@pytest.mark.real_data
def test_real_dc_panel_publishes_a_forecaster_that_beats_persistence(tmp_path, dc_panel_path):
    """The issue's "done when" on the development panel: `housing run --source <panel>`'s path
    publishes a forecaster that passed its backtest gate, registered with its alias."""
    settings, defs, inst, handle = build_lineage(tmp_path, source=str(dc_panel_path))
    try:
        train(defs, inst, "2020-01", TUNING, say=lambda _: None)
        outcome = forecast(defs, inst, "2020-01", TRIALS, say=lambda _: None)
        materialized = {
            key: inst.get_materialized_partitions(dg.AssetKey(key)) for key in FORECASTING_ASSETS
        }
    finally:
        handle.__exit__(None, None, None)
    assert outcome.published is not None, outcome.gate
    assert all(parts == {"2020-01"} for parts in materialized.values()), materialized
    rep = backtest.ordered(outcome.backtest)
    assert rep["overall"]["model"] < rep["overall"]["persistence"]
    assert list(rep["by_bucket"]) == ["1-3", "4-6", "7-12", "13-24"]
    for label, part in rep["by_bucket"].items():
        assert part["model"] < part["persistence"], label

    store = bundle.LocalStore(settings.serving_dir)
    published = publishing.PublishedForecast.load(store)
    assert published.version == outcome.version == "2020-01-f1"
    table = published.forecasts
    assert table["zipcode"].nunique() == 40 and set(table["step"]) == set(range(1, 25))
    assert (table["origin"] == "2021-12").all() and table["month"].min() == "2022-01"
    assert (table["lower_95"] <= table["lower_80"]).all()
    assert ((table["lower_80"] < table["forecast"]) & (table["forecast"] < table["upper_80"])).all()
    assert (table["upper_80"] <= table["upper_95"]).all()
    # Bands widen with the horizon: a zip's 24-month band is wider than its 1-month band.
    width = (table["upper_80"] - table["lower_80"]) / table["forecast"]
    by_step = width.groupby(table["step"]).median()
    assert by_step[24] > 3 * by_step[1]

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{settings.mlflow_dir / 'mlflow.db'}")
    version = client.get_model_version_by_alias("housing-price-forecast", "forecast-champion")
    assert str(version.version) == published.provenance["registered_version"]
    run = client.get_run(published.provenance["mlflow_run_id"])
    assert run.data.metrics["backtest_model_mape"] == pytest.approx(rep["overall"]["model"])
    trials = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    assert len(trials) == TRIALS

    # The registered model answers from the histories it is given as the published table does
    # (given the metro's zips: metro momentum and breadth are read from the rows it receives).
    model = mlflow.pyfunc.load_model("models:/housing-price-forecast@forecast-champion")
    rows = pd.read_parquet(settings.data_dir / "splits" / "2020-01.parquet")
    answer = model.predict(rows.assign(date=rows["date"].dt.strftime("%Y-%m-%d")))
    columns = ["zipcode", "step", "forecast", "lower_80", "upper_95"]
    pd.testing.assert_frame_equal(
        answer.sort_values(["zipcode", "step"])[columns].reset_index(drop=True),
        table.sort_values(["zipcode", "step"])[columns].reset_index(drop=True),
    )
