"""The registered MLflow model is the API's `Predictor`: logged to a real (SQLite) tracking store
and loaded back with `mlflow.pyfunc.load_model`, it prices HouseTS rows exactly as the bundle
does (the `mlflow models serve` subprocess test is in tests/integration/test_mlflow_serve.py)."""

import mlflow
import numpy as np
import pandas as pd
import pytest

from housing_core import pyfunc


@pytest.fixture(scope="module")
def logged(tiny, tmp_path_factory):
    """The tiny model's pyfunc, logged and registered, loaded back from the registry."""
    home = tmp_path_factory.mktemp("mlflow")
    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    try:
        experiment = mlflow.create_experiment("tiny", artifact_location=str(home / "artifacts"))
        with mlflow.start_run(experiment_id=experiment):
            info = pyfunc.log_model(
                {name: tiny.files[name] for name in pyfunc.FILES},
                tiny.holdout.head(3),
                registered_model_name="tiny-price",
                pip_requirements=["xgboost>=3.0"],
            )
        yield info, mlflow.pyfunc.load_model("models:/tiny-price/1")
    finally:
        mlflow.set_tracking_uri(None)


def test_the_loaded_pyfunc_prices_rows_like_the_published_predictor(tiny, logged):
    _, model = logged
    holdout = tiny.holdout
    got = model.predict(pyfunc.requests(holdout))
    expected = tiny.published_predictor().predict(holdout)
    assert len(got) == len(holdout)
    for column in ("lower_80", "upper_80", "lower_95", "upper_95", "horizon"):
        np.testing.assert_allclose(got[column], expected[column], rtol=1e-12)
    np.testing.assert_allclose(got["price"], expected["prediction"], rtol=1e-12)
    assert got["anchor_month"].tolist() == expected["anchor_month"].tolist()
    assert (got["lower_95"] <= got["lower_80"]).all() and (got["upper_80"] <= got["upper_95"]).all()
    assert ((got["lower_80"] <= got["price"]) & (got["price"] <= got["upper_80"])).all()


def test_the_signature_takes_the_apis_request_fields(logged):
    info, model = logged
    inputs = model.metadata.get_input_schema()
    required = {col.name for col in inputs.inputs if col.required}
    assert {"date", "zipcode", "city", "median_list_price"} <= required
    assert not {"price", "city_full", "year"} & required
    assert info.signature.outputs.input_names()[:5] == [
        "price",
        "lower_80",
        "upper_80",
        "lower_95",
        "upper_95",
    ]


def test_months_optional_fields_and_unreported_stats_are_accepted(tiny, logged):
    _, model = logged
    rows = pyfunc.requests(tiny.holdout.head(2)).drop(columns=["price", "city_full", "year"])
    as_months = rows.assign(date=rows["date"].str.slice(0, 7), median_dom=np.nan)
    got = model.predict(as_months)
    expected = tiny.published_predictor().predict(tiny.holdout.head(2).assign(median_dom=np.nan))
    np.testing.assert_allclose(got["price"], expected["prediction"], rtol=1e-12)


def test_rows_the_api_refuses_are_refused(tiny, logged):
    _, model = logged
    rows = pyfunc.requests(tiny.holdout.head(1))
    with pytest.raises(Exception, match="median_list_price"):
        model.predict(rows.assign(median_list_price=-5.0))
    with pytest.raises(Exception, match="zipcode"):
        model.predict(rows.drop(columns=["zipcode"]))


def test_a_missing_statistic_column_is_not_a_silent_default(tiny, logged):
    """A required statistic absent from the request is refused by the signature (the API's
    schema requires it too), rather than scored as if it were not reported."""
    _, model = logged
    rows = pyfunc.requests(tiny.holdout.head(1))
    with pytest.raises(Exception, match="median_dom"):
        model.predict(pd.DataFrame(rows.drop(columns=["median_dom"])))


def test_the_logged_dataset_schema_is_the_one_mlflow_infers(tiny):
    """log_datasets fills the dataset's schema from the dtypes (MLflow's own inference walks
    every value: seconds per vintage); it must say exactly what MLflow's would."""
    from housing_assets.resources.mlflow_tracking import frame_schema

    rows = tiny.splits.assign(flag=tiny.splits["price"] > 3e5)
    assert rows.isna().any().any() and not rows.isna().all().any()  # required and optional
    assert frame_schema(rows) == mlflow.data.from_pandas(rows).schema
