-- Databases beside Dagster's own (POSTGRES_DB=dagster): MLflow's backend and Optuna's studies.
CREATE DATABASE mlflow;
CREATE DATABASE optuna;
