"""The Dagster code location of the housing price platform (definitions in definitions.py)."""

from housing_core.threads import configure_openmp

configure_openmp()  # before any module here imports XGBoost (housing_core/threads.py says why)
