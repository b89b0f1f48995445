"""What the Dagster daemon does with a sensor tick, in process: evaluate it with its stored cursor,
apply its partition requests, skip run keys it already launched, and execute its runs."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg


@dataclass
class Tick:
    sensor: str
    skipped: str | None
    run_requests: list[dg.RunRequest]
    results: list = field(default_factory=list)


class InProcessDaemon:
    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance):
        self.defs, self.instance = defs, instance
        self.cursors: dict[str, str | None] = {}
        self.launched: set[str] = set()
        self.ticks: list[Tick] = []

    def restart(self) -> None:
        """A new daemon process: cursors persist (in the instance), in-memory state does not."""
        self.launched = {
            r.tags["dagster/run_key"]
            for r in self.instance.get_runs()
            if "dagster/run_key" in r.tags
        }

    def tick(self, name: str, execute: bool = True) -> Tick:
        sensor = self.defs.resolve_sensor_def(name)
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursors.get(name),
            resources=self.defs.resources,
            definitions=self.defs,
        )
        # Called directly, a sensor is not checked for setting its cursor twice in one tick; the
        # real daemon fails such a tick (SensorResult.cursor after context.update_cursor), so
        # the same is refused here.
        result = sensor(context)
        if isinstance(result, dg.SensorResult) and result.cursor is not None:
            assert context.cursor == self.cursors.get(name), f"{name} set its cursor twice"
        if isinstance(result, dg.SkipReason):
            self.cursors[name] = context.cursor
            tick = Tick(name, result.skip_message, [])
        else:
            assert isinstance(result, dg.SensorResult), result
            self.cursors[name] = result.cursor if result.cursor is not None else context.cursor
            for request in result.dynamic_partitions_requests or []:
                self.instance.add_dynamic_partitions(
                    request.partitions_def_name, list(request.partition_keys)
                )
            fresh = [r for r in result.run_requests or [] if r.run_key not in self.launched]
            tick = Tick(name, None, fresh)
            for request in fresh:
                self.launched.add(request.run_key)
                if execute:
                    tick.results.append(self.execute(request))
        self.ticks.append(tick)
        return tick

    def execute(self, request: dg.RunRequest):
        return self.defs.resolve_job_def(request.job_name).execute_in_process(
            instance=self.instance,
            partition_key=request.partition_key,
            run_config=request.run_config or {},
            tags={**request.tags, "dagster/run_key": request.run_key},
            raise_on_error=False,
        )
