"""MLflow's model-from-code entry for the registered model (`pyfunc.log_model` logs this file):
MLflow runs it when it loads the model, instead of unpickling an object."""

import mlflow

from housing_core.pyfunc import HousingPriceModel

mlflow.models.set_model(HousingPriceModel())
