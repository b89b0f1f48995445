"""How many threads a run's fits may take: the environment's side of housing_core/threads.py's budget."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field

from housing_core.threads import FitSlots, ThreadBudget


class ThreadBudgetResource(dg.ConfigurableResource):
    """The CPUs are read where the run executes (its affinity and cgroup quota), not where the
    definitions were built: a prod run is its own task with its own quota."""

    concurrent_runs: int = Field(
        default=1, ge=1, description="Runs that may train or score at once on this machine."
    )
    override: int | None = Field(
        default=None, ge=1, description="Threads for every fit (HOUSING_THREADS)."
    )
    slots_dir: str | None = Field(
        default=None,
        description="Where runs fitting on this machine register (housing_core/threads.FitSlots); "
        "None: assume all `concurrent_runs` are fitting.",
    )

    def budget(self) -> ThreadBudget:
        running = FitSlots(self.slots_dir).active if self.slots_dir else None
        return ThreadBudget.detect(self.concurrent_runs, self.override, running=running)

    @contextmanager
    def fitting(self) -> Iterator[ThreadBudget]:
        """The budget of a step that fits, counted among the runs fitting while it does."""
        if not self.slots_dir:
            yield self.budget()
            return
        with FitSlots(self.slots_dir).held():
            yield self.budget()
