"""The registered MLflow model: HouseTS rows in, prices with 80/95% intervals out.

It is the API's `Predictor`, loaded from the same files a bundle carries (`publishing.
predictor_files`), so `mlflow models serve` and `mlflow.pyfunc.load_model` answer exactly what the
API answers for a bundle with the same zip history. Logged as a model from code
(`pyfunc_code.py`): nothing is pickled, and loading imports `housing_assets`, so serve it from
the project's environment (`--env-manager local`).

Pipeline-only (MLflow): the API never imports this module.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from housing_core import bundle, ranges
from housing_core import contract as c
from housing_core import features as F
from housing_core.predictor import Predictor

FILES = (bundle.MODEL, bundle.FEATURE_STATE, bundle.CONFORMAL, bundle.ANCHORS)
CODE = Path(__file__).with_name("pyfunc_code.py")
# What a request may leave out, as in the API's request schema (housing_serving/schemas.py).
NOT_REQUIRED = {c.TARGET, c.CITY_FULL, c.YEAR}
OUTPUT = ["price", "lower_80", "upper_80", "lower_95", "upper_95", "anchor_month", "horizon"]


class HousingPriceModel(PythonModel):
    """A DataFrame of HouseTS rows (the API's request fields) -> price, interval bounds, the
    anchor month and horizon the price starts from, and the unseen zip / metro flags."""

    predictor: Predictor

    def load_context(self, context) -> None:
        files = {name: Path(context.artifacts[name]).read_bytes() for name in FILES}
        self.predictor = Predictor.from_bundle(bundle.Bundle("mlflow", files))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return predict(self.predictor, model_input)


def predict(predictor: Predictor, rows: pd.DataFrame) -> pd.DataFrame:
    """The predictor's answer for rows as MLflow hands them over (dates as text or timestamps;
    any day stands for its month, as in the API); contract ranges are checked as the API does."""
    rows = rows.assign(**{c.DATE: _months(rows[c.DATE])}).reset_index(drop=True)
    ranges.check_ranges(F.Rows.from_frame(rows))  # the API's rule (422 there)
    out = predictor.predict(rows).rename(columns={"prediction": "price"})
    return out[[*OUTPUT, "unseen_zip", "unseen_metro"]]


def _months(dates: pd.Series) -> pd.Series:
    """'2023-06', '2023-06-30' or a timestamp -> the month's first day."""
    text = dates.astype(str).str.slice(0, 7)
    return pd.to_datetime(text, format="%Y-%m")


def requests(rows: pd.DataFrame) -> pd.DataFrame:
    """Contract rows as a client sends them (`dataframe_records`): dates as 'YYYY-MM-DD' text."""
    out = rows[c.COLUMNS].reset_index(drop=True)
    return out.assign(**{c.DATE: out[c.DATE].dt.strftime("%Y-%m-%d")})


def signature(example: pd.DataFrame, answer: pd.DataFrame) -> mlflow.models.ModelSignature:
    """Inputs from the data contract (not inferred: a column the example happens to miss is
    still a float), outputs inferred from the answer to the example."""
    from mlflow.types import ColSpec, DataType, Schema

    kinds = {c.DATE: DataType.string, c.CITY: DataType.string, c.CITY_FULL: DataType.string}
    kinds |= {c.ZIPCODE: DataType.long, c.YEAR: DataType.long}
    inputs = Schema(
        [
            ColSpec(kinds.get(col, DataType.double), col, required=col not in NOT_REQUIRED)
            for col in c.COLUMNS
        ]
    )
    return mlflow.models.ModelSignature(
        inputs, mlflow.models.infer_signature(example, answer).outputs
    )


def log_model(
    files: dict[str, bytes],
    example_rows: pd.DataFrame,
    *,
    registered_model_name: str | None,
    pip_requirements: list[str],
) -> mlflow.models.model.ModelInfo:
    """Log (and register) the pyfunc in the active run; `files` as `publishing.predictor_files`
    writes them, `example_rows` a few contract rows (the input example)."""
    predictor = Predictor.from_bundle(bundle.Bundle("mlflow", files))
    example = requests(example_rows)
    return log_from_code(
        "model",
        CODE,
        {name: files[name] for name in FILES},
        example,
        signature(example, predict(predictor, example)),
        registered_model_name=registered_model_name,
        pip_requirements=pip_requirements,
    )


def log_from_code(
    name: str,
    code: Path,
    artifacts: dict[str, bytes],
    example: pd.DataFrame,
    model_signature: mlflow.models.ModelSignature,
    *,
    registered_model_name: str | None,
    pip_requirements: list[str],
) -> mlflow.models.model.ModelInfo:
    """Log a model from code (`code` sets the model; nothing pickled) with its `artifacts`, each
    written to a file for MLflow to copy, in the active run; registered when a name is given."""
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for artifact, data in artifacts.items():
            (Path(folder) / artifact).write_bytes(data)
            paths[artifact] = str(Path(folder) / artifact)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(code),
            artifacts=paths,
            input_example=example,
            signature=model_signature,
            pip_requirements=pip_requirements,
            registered_model_name=registered_model_name,
        )
