"""The registered forecaster: a zip's monthly history in, its next 1..24 months out.

Logged as a model from code (`pyfunc_code.py`), loading only JSON (the forecaster and its
bands), as the nowcast model is (housing_core/pyfunc.py). Pipeline-only: the API reads the published
forecasts instead (housing_core/forecast/publishing.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from housing_core import bundle as B
from housing_core import contract as c
from housing_core.forecast import model as M
from housing_core.forecast import publishing
from housing_core.forecast import signals as S
from housing_core.forecast.panel import STATS, Panel
from housing_core.pyfunc import log_from_code

FILES = (B.FORECASTER, B.BANDS)
CODE = Path(__file__).with_name("pyfunc_code.py")


class ForecastModel(PythonModel):
    """HouseTS rows (zipcode, date, price; city_full and the Redfin stats where known) -> every
    zip's forecast from the rows' last month, 1..horizon months ahead, with 80/95% bands."""

    def load_context(self, context) -> None:
        art = publishing.ForecasterArtifact.from_json(
            Path(context.artifacts[B.FORECASTER]).read_text()
        )
        self.model = art.model()
        bands = json.loads(Path(context.artifacts[B.BANDS]).read_text())
        self.bands = publishing.Bands(bands["as_of"], bands["half"], bands["floor"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return forecast_rows(self.model, self.bands, model_input)


def forecast_rows(model: M.Forecaster, bands: publishing.Bands, rows: pd.DataFrame) -> pd.DataFrame:
    frame = rows.assign(**{c.DATE: pd.to_datetime(rows[c.DATE].astype(str).str.slice(0, 7))})
    panel = Panel.from_rows(frame)
    examples = M.Examples(panel, S.compute(panel, model.window), model.horizon)
    return publishing.forecasts(examples, model, bands, panel.n_months - 1, model.horizon)


def log_model(
    files: dict[str, bytes],
    example_rows: pd.DataFrame,
    *,
    registered_model_name: str | None,
    pip_requirements: list[str],
) -> mlflow.models.model.ModelInfo:
    """Log (and register) the forecaster in the active run; `example_rows`: a zip's history."""
    art = publishing.ForecasterArtifact.from_json(files[B.FORECASTER].decode())
    raw = json.loads(files[B.BANDS])
    bands = publishing.Bands(raw["as_of"], raw["half"], raw["floor"])
    columns = [
        col for col in (c.ZIPCODE, c.DATE, c.TARGET, c.CITY_FULL, *STATS) if col in example_rows
    ]
    example = example_rows[columns].assign(**{c.DATE: example_rows[c.DATE].dt.strftime("%Y-%m-%d")})
    answer = forecast_rows(art.model(), bands, example)
    return log_from_code(
        "forecaster",
        CODE,
        {name: files[name] for name in FILES},
        example,
        mlflow.models.infer_signature(example, answer),
        registered_model_name=registered_model_name,
        pip_requirements=pip_requirements,
    )
