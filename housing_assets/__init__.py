"""The Dagster code location of the housing price platform (definitions in definitions.py)."""

from housing_assets.lib.threads import configure_openmp

configure_openmp()  # before any module here imports XGBoost (lib/threads.py says why)
