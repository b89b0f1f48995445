"""MLflow's model-from-code entry for the registered forecaster (`forecast.pyfunc.log_model`)."""

import mlflow

from housing_core.forecast.pyfunc import ForecastModel

mlflow.models.set_model(ForecastModel())
