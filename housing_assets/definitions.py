"""The Dagster code location: every asset, check and job under `housing_assets/defs` (a file
added there, by hand or with `dg scaffold defs`, is loaded with the rest), the sensors at the
environment's intervals, and the environment's resources."""

from __future__ import annotations

import functools
import warnings

import dagster as dg

import housing_assets.defs
from housing_assets.defs import loggers
from housing_assets.defs.monitoring import alerts as monitoring_alerts
from housing_assets.defs.monitoring import sensors as monitoring_sensors
from housing_assets.resources.environment import resources_for
from housing_core.settings import Settings


@functools.cache
def domain_definitions() -> dg.Definitions:
    """The assets, checks and jobs of every module under `housing_assets.defs`, found by
    Dagster's package loader (each object once, whichever modules import it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # the loader's: this is the use it has
        return dg.load_definitions_from_package_module(housing_assets.defs)


def build_definitions(settings: Settings, resources: dict | None = None) -> dg.Definitions:
    """`resources` replaces entries of the environment's set (tests: a smaller tuning budget)."""
    resources = {**resources_for(settings), **(resources or {})}
    intervals = resources["sensor_intervals"]
    found = domain_definitions()
    return dg.Definitions(
        assets=found.assets,
        asset_checks=found.asset_checks,
        jobs=found.jobs,
        sensors=[
            *monitoring_sensors.sensors(intervals),
            monitoring_alerts.alert_sensor(intervals.alert_seconds),
            monitoring_alerts.losing_sensor(intervals.alert_seconds),
        ],
        resources=resources,
        # Dagster's console stays available by name; a run naming neither gets Dagster's default.
        loggers={"console": dg.colored_console_logger, loggers.LOGGER: loggers.housing_console},
    )


defs = build_definitions(Settings.from_env())
