"""How many threads a run's fits may take: the environment's side of lib/threads.py's budget."""

import dagster as dg
from pydantic import Field

from housing_assets.lib.threads import ThreadBudget


class ThreadBudgetResource(dg.ConfigurableResource):
    """The CPUs are read where the run executes (its affinity and cgroup quota), not where the
    definitions were built: a prod run is its own task with its own quota."""

    concurrent_runs: int = Field(
        default=1, ge=1, description="Runs that may train or score at once on this machine."
    )
    override: int | None = Field(
        default=None, ge=1, description="Threads for every fit (HOUSING_THREADS)."
    )

    def budget(self) -> ThreadBudget:
        return ThreadBudget.detect(self.concurrent_runs, self.override)
