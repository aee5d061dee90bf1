"""Sweep tasks on Dask distributed: every site x sizing point is one Dask task.

:class:`DaskExecutor` is a :class:`~heatreuse.planning.sweep.SweepExecutor`:
it runs exactly the task the local executor runs,
:func:`heatreuse.planning.sweep.sweep_point`, on the workers of a
``distributed.Client`` (a ``LocalCluster`` or a scheduler started with ``dask
scheduler``). Each site's :class:`~heatreuse.planning.sweep.SweepContext`
(prepared inputs, about 1 MB per site-year at hourly steps) is scattered to
every worker once, so tasks carry only their point. Workers need heatreuse
importable (the same version; :func:`check_worker_versions`), and load the
compiled kernel from numba's cache or compile it on their first task.

References
----------
Dask distributed, "Futures" (``Client.scatter``, ``Client.submit``,
``as_completed``): https://distributed.dask.org/en/stable/client.html
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from heatreuse.errors import ClusterError
from heatreuse.planning.sweep import Progress, SweepContext, SweepJob, SweepRows, sweep_point


def _task(point: Mapping[str, float], ctx: SweepContext) -> tuple[dict[str, Any], str]:
    """One site x point on a Dask worker: the sweep's task, and the worker that ran it."""
    from distributed import get_worker

    return sweep_point(ctx, point), str(get_worker().address)


def _heatreuse_version() -> str:
    import heatreuse

    return str(heatreuse.__version__)


def check_worker_versions(client: Any) -> None:
    """Refuse workers that run another heatreuse version than this process.

    Raises
    ------
    ClusterError
        Naming the workers and their versions.
    """
    import heatreuse

    versions = client.run(_heatreuse_version)
    other = {w: v for w, v in versions.items() if v != heatreuse.__version__}
    if other:
        shown = ", ".join(f"{w} has {v}" for w, v in sorted(other.items()))
        raise ClusterError(
            f"Dask workers run another heatreuse than this one ({heatreuse.__version__}): "
            f"{shown}; install the same version on every worker"
        )


class DaskExecutor:
    """Run sweep tasks on a connected ``distributed.Client``.

    Parameters
    ----------
    client
        A connected client; the caller owns it (and closes it).

    Attributes
    ----------
    kind
        ``"dask"`` plus the scheduler address, for reports.
    tasks_per_worker
        After :meth:`run`: tasks per worker address.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.kind = f"dask {client.scheduler.address}"
        self.tasks_per_worker: dict[str, int] = {}

    @property
    def workers(self) -> int:
        """Workers connected to the scheduler now."""
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def run(self, jobs: Sequence[SweepJob], progress: Progress | None = None) -> SweepRows:
        """Rows of every job's points, in order (see ``SweepExecutor``).

        Raises
        ------
        Exception
            The first task error, as raised on the worker (e.g. a
            :class:`~heatreuse.errors.SimulationError`); the other tasks are
            cancelled.
        """
        import distributed

        as_completed: Any = distributed.as_completed
        client = self.client
        run_id = uuid.uuid4().hex[:8]
        total = sum(len(points) for _, points in jobs)
        rows: list[list[dict[str, Any] | None]] = [[None] * len(points) for _, points in jobs]
        futures: dict[Any, tuple[int, int]] = {}
        scattered = []  # held until every task has run
        for j, (ctx, points) in enumerate(jobs):
            if not points:
                continue
            shared = client.scatter(ctx, broadcast=True, hash=False)
            scattered.append(shared)
            batch = client.map(
                _task,
                [dict(p) for p in points],
                ctx=shared,
                key=[f"heatreuse-sweep-{run_id}-{j}-{i}" for i in range(len(points))],
                pure=False,
            )
            futures.update({fut: (j, i) for i, fut in enumerate(batch)})
        done = 0
        per_worker: Counter[str] = Counter()
        if progress:
            progress(done, total)
        try:
            finished = as_completed(list(futures), with_results=True)
            for batch_done in finished.batches():
                for fut, (row, worker) in batch_done:
                    j, i = futures[fut]
                    rows[j][i] = row
                    per_worker[worker] += 1
                done += len(batch_done)
                if progress:
                    progress(done, total)
        except BaseException:
            client.cancel(list(futures))
            raise
        finally:
            client.cancel(scattered)
        self.tasks_per_worker = dict(per_worker)
        return [[r for r in job_rows if r is not None] for job_rows in rows]
