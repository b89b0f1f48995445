"""Where a step may scale out: nowhere (the default), a Dask cluster the step starts on this
machine, or a running Dask scheduler. Dagster calls Dask inside the step (this resource), not as
its executor: the asset graph, its IO and its checks stay as they are, and only the work a step
hands to the cluster (housing_core/dask_training.py) runs on its workers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from housing_core.settings import check_dask, dask_local_workers

if TYPE_CHECKING:
    from distributed import Client


class DaskCluster(dg.ConfigurableResource):
    """HOUSING_DASK as a resource: `client()` yields None when scale-out is off."""

    address: str | None = Field(
        default=None,
        description="None: off; local:N: N single-threaded workers on this machine, started and "
        "closed by the step; tcp://host:port: a running scheduler (HOUSING_DASK).",
    )
    worker_memory: str = Field(
        default="auto",
        description="Memory limit of each local:N worker, e.g. 4GiB (HOUSING_DASK_WORKER_MEMORY).",
    )

    @property
    def enabled(self) -> bool:
        return check_dask(self.address) is not None

    @contextmanager
    def client(self) -> Iterator[Client | None]:
        """A client for the duration of the block. A local cluster is closed when the block
        ends, however it ends (no worker outlives a failed step); a running scheduler's cluster
        is only disconnected from."""
        target = check_dask(self.address)  # config set in the UI is checked like the variable
        if target is None:
            yield None
            return
        from distributed import Client, LocalCluster

        workers = dask_local_workers(target)
        if workers is None:
            with Client(target) as client:
                yield client
            return
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,  # parallelism is the workers', as XGBoost's nthread=1 fits
                processes=True,
                memory_limit=self.worker_memory,
                # Any free port: two runs on one machine would race for Dask's fixed 8787 (the
                # scheduler serves HTTP whether or not the dashboard is installed).
                dashboard_address=":0",
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
