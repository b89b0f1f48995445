"""Dagster resources (housing_assets/resources): policies, month frames."""
