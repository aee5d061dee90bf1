"""Use case: plan a fleet of candidate sites on Dask (``heatreuse plan-fleet``).

Loads and checks the fleet file and every site file it lists before anything
starts (all problems at once, with file and line), prepares each site's
weather, demand and kernel inputs in this process, then runs every site x
sizing point as a Dask task (:class:`heatreuse.planning.dask_executor.DaskExecutor`)
on the scheduler given, or on a ``LocalCluster`` of this machine's cores
started for the run (loopback only, no dashboard) and stopped after it. Writes
``fleet.parquet``, ``fleet.html`` and ``summary.json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from heatreuse.errors import ClusterError
from heatreuse.planning.fleet import FleetResult, load_fleet, run_fleet, write_fleet_outputs
from heatreuse.planning.sweep import Progress, default_workers
from heatreuse.services.addresses import parse_host_port

#: How long to wait for a scheduler to answer, and for it to have a worker [s].
CONNECT_TIMEOUT_S = 10.0
WORKER_WAIT_S = 30.0
#: Where the LocalCluster's HTTP servers listen (loopback, any free port).
LOOPBACK_ANY_PORT = "127.0.0.1:0"


def scheduler_address(text: str) -> str:
    """``tcp://HOST:PORT`` (or ``tls://``) checked; ``HOST:PORT`` gets ``tcp://``.

    Raises
    ------
    AddressError
        Not HOST:PORT, or another protocol.
    """
    t = text.strip()
    scheme, sep, rest = t.partition("://")
    if not sep:
        scheme, rest = "tcp", t
    if scheme not in ("tcp", "tls"):
        raise ClusterError(
            f"--scheduler: expected tcp://HOST:PORT such as tcp://127.0.0.1:8786, got {text!r}"
        )
    host, port = parse_host_port(rest, "--scheduler")
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A connected ``distributed.Client``: to ``scheduler``, or to a new LocalCluster.

    The LocalCluster has ``workers`` single-threaded worker processes (default:
    the local cores), listens on 127.0.0.1 only and serves no dashboard; it is
    closed with the client.

    Raises
    ------
    ClusterError
        The scheduler does not answer within :data:`CONNECT_TIMEOUT_S`, has no
        worker within :data:`WORKER_WAIT_S`, or its workers run another heatreuse.
    """
    import distributed

    from heatreuse.planning.dask_executor import check_worker_versions

    dist: Any = distributed  # untyped library: calls through Any

    cluster: Any = None
    client: Any
    if scheduler is not None:
        address = scheduler_address(scheduler)
        try:
            client = dist.Client(address, timeout=f"{CONNECT_TIMEOUT_S:g}s")
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"--scheduler {address}: no Dask scheduler answers there ({exc}); start one "
                "with `dask scheduler` and workers with `dask worker ADDRESS`, or leave out "
                "--scheduler to run on this machine"
            ) from None
    else:
        n = workers if workers is not None else default_workers()
        # no dashboard; the HTTP servers (health, metrics) that scheduler and workers
        # start anyway listen on loopback at a free port, not on all interfaces at :8787
        cluster = dist.LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False, "dashboard_address": LOOPBACK_ANY_PORT},
            worker_dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = dist.Client(cluster)
    try:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            raise ClusterError(
                f"--scheduler {client.scheduler.address}: the scheduler has no worker after "
                f"{WORKER_WAIT_S:g} s; start one with `dask worker {client.scheduler.address}`"
            ) from None
        check_worker_versions(client)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def plan_fleet(
    fleet_file: str | Path,
    out_dir: str | Path,
    *,
    sweeps: Sequence[str] = (),
    scheduler: str | None = None,
    workers: int | None = None,
    metric: str | None = None,
    progress: Progress | None = None,
) -> tuple[FleetResult, dict[str, Path]]:
    """Plan the fleet in ``fleet_file`` on Dask and write the ranked results to ``out_dir``.

    Parameters
    ----------
    fleet_file
        The fleet YAML file (:mod:`heatreuse.planning.fleet`).
    out_dir
        Output folder.
    sweeps
        ``PARAM=START:STOP:STEP`` strings: every site uses this grid instead of
        the file's.
    scheduler
        ``tcp://HOST:PORT`` of a running Dask scheduler; None starts a LocalCluster.
    workers
        LocalCluster worker processes (default: local cores); ignored with a scheduler.
    metric
        Ranking metric instead of the file's.
    progress
        ``progress(done, total)`` as tasks finish.

    Returns
    -------
    tuple
        The result and the paths written.

    Raises
    ------
    HeatreuseError
        Fleet or site files invalid (FleetConfigError), weather unusable
        (WeatherError), scheduler unreachable (ClusterError), bad ``--scheduler``
        (AddressError).
    """
    from heatreuse.planning.dask_executor import DaskExecutor
    from heatreuse.planning.fleet import prepare_site

    if scheduler is not None:
        scheduler_address(scheduler)  # a typo fails before any work
    fleet = load_fleet(fleet_file, sweeps=list(sweeps) or None, metric=metric)
    t0 = time.perf_counter()
    contexts = [prepare_site(fleet, entry) for entry in fleet.sites]
    prepare_s = time.perf_counter() - t0
    with dask_client(scheduler, workers) as client:
        result = run_fleet(fleet, DaskExecutor(client), progress=progress, contexts=contexts)
    result = dataclasses.replace(result, prepare_s=prepare_s)
    paths = write_fleet_outputs(result, Path(out_dir))
    return result, paths
