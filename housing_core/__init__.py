"""The domain library: the HouseTS contract, data, features, training, forecasting, bundles and
stores, in pandas, great-expectations, XGBoost and Optuna, with no Dagster. Used by the code
location (housing_assets), the API, the dashboard and the benchmarks; importing it changes
nothing in the process."""
