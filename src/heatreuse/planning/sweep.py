"""Sizing sweeps: a grid of plant and compute parameters, run in parallel, with a Pareto frontier.

``--sweep tank_volume_m3=2:40:2 --sweep it_power_kw=20:200:20`` gives the
Cartesian grid of both axes (20 x 10 = 200 site-years). The site and demand
are prepared once (:func:`heatreuse.simulation.prepare`); each grid point
only changes kernel parameters (:meth:`KernelInputs.with_params`) and runs
the compiled kernel, so a point costs one kernel run. The task is
:func:`sweep_point`; an executor decides where tasks run: in worker processes
(:class:`LocalExecutor`, a :class:`concurrent.futures.ProcessPoolExecutor`
with one process per local core by default, points in chunks; the parent
runs the first point itself so the kernel is compiled or loaded from numba's
cache before workers fork) or on Dask distributed
(``heatreuse.planning.dask_executor``, used by ``heatreuse plan-fleet``).

Ranges are ``START:STOP:STEP`` with STOP included when the steps land on it
(``2:40:2`` is 2, 4, ..., 40). Parameters are listed in
:data:`SWEEP_PARAMETERS`; names carry their units.

The frontier: points for which no other point has at least the same demand
coverage at no more cost and is strictly better in one of them (Pareto set,
maximise ``demand_coverage_fraction``, minimise ``capex_eur`` by default).
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from heatreuse.errors import SimulationError
from heatreuse.planning.economics import capex_breakdown
from heatreuse.planning.feasibility import sla_estimate
from heatreuse.planning.figures import study_figures
from heatreuse.simulation import KernelInputs, SimulationResult, prepare, run_kernel
from heatreuse.site.model import Site
from heatreuse.units import SECONDS_PER_HOUR, W_PER_KW

#: Largest grid a sweep accepts (points).
MAX_GRID_POINTS = 100_000
HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True)
class SweepParameter:
    """A parameter that a sweep can vary.

    Attributes
    ----------
    name
        Name on the command line (unit in the name).
    kernel_name
        The simulation's tunable parameter (:data:`heatreuse.simulation.TUNABLE_PARAMS`).
    to_kernel
        Factor from the command-line unit to the kernel's SI unit.
    description
        What it is.
    min_exclusive, max_inclusive
        Valid values: ``> min_exclusive`` (or ``>= 0`` when None) and ``<= max_inclusive``.
    needs
        Plant component the parameter sizes (``heat_reject``, ``backup_boiler``,
        ``heat_pump``), or None.
    """

    name: str
    kernel_name: str
    to_kernel: float
    description: str
    min_exclusive: float | None = 0.0
    max_inclusive: float | None = None
    needs: str | None = None


#: Parameters a sweep can vary, by command-line name.
SWEEP_PARAMETERS: dict[str, SweepParameter] = {
    p.name: p
    for p in (
        SweepParameter("tank_volume_m3", "tank_volume_m3", 1.0, "buffer tank volume [m3]"),
        SweepParameter("it_power_kw", "it_nameplate_power_w", W_PER_KW, "IT nameplate power [kW]"),
        SweepParameter(
            "heat_capture_fraction",
            "heat_capture_fraction",
            1.0,
            "share of IT heat captured to water [-]",
            max_inclusive=1.0,
        ),
        SweepParameter(
            "pipe_length_m", "pipe_length_m", 1.0, "pipe length to the customer [m]", None
        ),
        SweepParameter("hx_ua_kw_per_k", "hx_ua_w_per_k", W_PER_KW, "heat exchanger UA [kW/K]"),
        SweepParameter(
            "dry_cooler_capacity_kw",
            "dry_cooler_capacity_w",
            W_PER_KW,
            "dry cooler capacity [kW]",
            None,
            needs="heat_reject",
        ),
        SweepParameter(
            "backup_capacity_kw",
            "backup_capacity_w",
            W_PER_KW,
            "backup boiler capacity [kW]",
            None,
            needs="backup_boiler",
        ),
        SweepParameter(
            "heat_pump_max_heat_kw",
            "heat_pump_max_heat_w",
            W_PER_KW,
            "heat pump heating capacity [kW]",
            None,
            needs="heat_pump",
        ),
    )
}

#: Figures kept for every grid point (besides the parameters).
POINT_COLUMNS: tuple[str, ...] = (
    "heat_demand_kwh",
    "heat_delivered_kwh",
    "demand_coverage_fraction",
    "heat_rejected_kwh",
    "backup_heat_kwh",
    "unmet_heat_kwh",
    "pipe_loss_kwh",
    "it_energy_kwh",
    "total_energy_kwh",
    "heat_pump_electricity_kwh",
    "throttled_h",
    "balance_residual_fraction",
    "pue",
    "erf",
    "avoided_emissions_kg",
    "capex_eur",
    "opex_eur_per_year",
    "energy_cost_eur_per_year",
    "heat_revenue_eur_per_year",
    "net_cash_flow_eur_per_year",
    "payback_years",
    "npv_eur",
)

Progress = Callable[[int, int], None]


def _known() -> str:
    return ", ".join(sorted(SWEEP_PARAMETERS))


def parameter(name: str) -> SweepParameter:
    """The sweep parameter ``name``; SimulationError naming it and listing the known ones."""
    try:
        return SWEEP_PARAMETERS[name]
    except KeyError:
        raise SimulationError(
            f"--sweep: unknown parameter {name!r}; known parameters: {_known()}"
        ) from None


def parse_range(name: str, text: str, where: str | None = None) -> np.ndarray:
    """Values of ``START:STOP:STEP`` (STOP included when reached), checked for ``name``.

    ``where`` names the place in messages (default ``--sweep NAME=TEXT``).

    Raises
    ------
    SimulationError
        Not three numbers, a step <= 0, STOP before START, too many points, or
        values outside the parameter's range.
    """
    p = parameter(name)
    where = where or f"--sweep {name}={text}"
    parts = text.split(":")
    if len(parts) != 3:
        raise SimulationError(f"{where}: expected START:STOP:STEP such as 2:40:2, got {text!r}")
    try:
        start, stop, step = (float(x) for x in parts)
    except ValueError:
        raise SimulationError(
            f"{where}: expected three numbers START:STOP:STEP, got {text!r}"
        ) from None
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise SimulationError(f"{where}: expected finite numbers, got {text!r}")
    if step <= 0:
        raise SimulationError(f"{where}: STEP must be > 0, got {step:g}")
    if stop < start:
        raise SimulationError(f"{where}: STOP ({stop:g}) must not be below START ({start:g})")
    n = math.floor((stop - start) / step + 1e-9) + 1
    if n > MAX_GRID_POINTS:
        raise SimulationError(f"{where}: {n} values, more than the limit of {MAX_GRID_POINTS}")
    values = np.round(start + step * np.arange(n), 10)
    _check_bounds(p, values, where)
    return values


def parse_values(name: str, values: Sequence[float], where: str | None = None) -> np.ndarray:
    """An explicit list of values for ``name`` (sorted, duplicates dropped), checked.

    Raises
    ------
    SimulationError
        Empty, not finite, too many, or outside the parameter's range.
    """
    p = parameter(name)
    where = where or f"--sweep {name}"
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise SimulationError(f"{where}: expected at least one value")
    if not np.isfinite(arr).all():
        raise SimulationError(f"{where}: expected finite numbers, got {list(values)!r}")
    if arr.size > MAX_GRID_POINTS:
        raise SimulationError(
            f"{where}: {arr.size} values, more than the limit of {MAX_GRID_POINTS}"
        )
    out = np.unique(arr)
    _check_bounds(p, out, where)
    return out


def _check_bounds(p: SweepParameter, values: np.ndarray, where: str) -> None:
    """Raise when the smallest or largest of ``values`` (ascending) is outside ``p``'s range."""
    low = p.min_exclusive
    if low is not None and values[0] <= low:
        raise SimulationError(f"{where}: {p.description} must be > {low:g}, got {values[0]:g}")
    if low is None and values[0] < 0:
        raise SimulationError(f"{where}: {p.description} must be >= 0, got {values[0]:g}")
    if p.max_inclusive is not None and values[-1] > p.max_inclusive:
        raise SimulationError(
            f"{where}: {p.description} must be <= {p.max_inclusive:g}, got {values[-1]:g}"
        )


def parse_sweep_specs(specs: Sequence[str]) -> dict[str, np.ndarray]:
    """Parse ``NAME=START:STOP:STEP`` strings into axes (name -> values), in order given."""
    axes: dict[str, np.ndarray] = {}
    for spec in specs:
        if "=" not in spec:
            raise SimulationError(
                f"--sweep {spec!r}: expected PARAM=START:STOP:STEP such as tank_volume_m3=2:40:2"
            )
        name, text = (s.strip() for s in spec.split("=", 1))
        if name in axes:
            raise SimulationError(f"--sweep: parameter {name!r} given more than once")
        axes[name] = parse_range(name, text)
    total = math.prod(len(v) for v in axes.values()) if axes else 0
    if total > MAX_GRID_POINTS:
        raise SimulationError(
            f"--sweep: the grid has {total} points, more than the limit of {MAX_GRID_POINTS}"
        )
    return axes


def check_applicable(site: Site, axes: Mapping[str, Sequence[float] | np.ndarray]) -> None:
    """Raise SimulationError when a parameter sizes plant the site does not have."""
    for name in axes:
        p = parameter(name)
        if p.needs is not None and getattr(site.plant, p.needs) is None:
            raise SimulationError(
                f"--sweep {name}: the site has no plant.{p.needs} to size; add one to the site "
                "file or sweep another parameter"
            )


def grid_points(axes: Mapping[str, Sequence[float] | np.ndarray]) -> list[dict[str, float]]:
    """Cartesian product of the axes: one dict per point (last axis varies fastest)."""
    names = list(axes)
    return [
        dict(zip(names, (float(v) for v in combo), strict=True))
        for combo in itertools.product(*(axes[n] for n in names))
    ]


def pareto_frontier(
    cost: Sequence[float] | np.ndarray, benefit: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Mask of Pareto-optimal points: minimise ``cost``, maximise ``benefit``.

    A point is on the frontier when no other point has cost <= and benefit >=
    with at least one strict. NaN points are never on it.
    """
    c = np.asarray(cost, dtype=np.float64)
    b = np.asarray(benefit, dtype=np.float64)
    mask = np.zeros(len(c), dtype=bool)
    ok = np.isfinite(c) & np.isfinite(b)
    order = [i for i in np.lexsort((-b, c)) if ok[i]]
    best = -np.inf
    last_cost = last_benefit = None
    for i in order:
        if b[i] > best:
            mask[i] = True
            best = b[i]
            last_cost, last_benefit = c[i], b[i]
        elif b[i] == last_benefit and c[i] == last_cost:
            mask[i] = True  # identical point: neither dominates the other
    return mask


# --------------------------------------------------------------------------- running
@dataclass(frozen=True, eq=False)
class SweepContext:
    """What every point of one site's sweep shares: the site and its prepared inputs.

    Built once per site in the parent; executors ship it to their workers once
    (a process pool's initializer, a Dask scatter) and every task is
    :func:`sweep_points` on it.
    """

    inputs: KernelInputs
    site: Site


_EMPTY = pd.DataFrame()


def sweep_point(ctx: SweepContext, point: Mapping[str, float]) -> dict[str, Any]:
    """The task of a sweep: run one grid point and return its row.

    Parameters
    ----------
    ctx
        The site and its prepared inputs.
    point
        Parameter name (:data:`SWEEP_PARAMETERS`) -> value in the name's unit;
        empty for the site as designed.

    Returns
    -------
    dict
        The point's parameters, the figures in :data:`POINT_COLUMNS` (NaN when
        a figure does not exist, e.g. no payback) and the SLA estimate in
        ``heatreuse.planning.feasibility.SLA_COLUMNS``
        (:func:`~heatreuse.planning.feasibility.sla_estimate`).
    """
    overrides = {
        SWEEP_PARAMETERS[n].kernel_name: v * SWEEP_PARAMETERS[n].to_kernel for n, v in point.items()
    }
    inputs = ctx.inputs.with_params(**overrides) if overrides else ctx.inputs
    out = run_kernel(inputs)
    result = SimulationResult(
        frame=_EMPTY,
        step_s=inputs.step_s,
        totals_j=out.totals_j,
        initial_state=out.state_in,
        final_state=out.state_out,
        stored_heat_start_j=out.stored_heat_start_j,
        stored_heat_end_j=out.stored_heat_end_j,
        site_id=inputs.site_id,
    )
    totals = result.totals()
    plant = ctx.site.plant
    hp_w = inputs.param("heat_pump_max_heat_w") if plant.heat_pump is not None else 0.0
    capex = capex_breakdown(
        ctx.site.contract.tariffs.capex,
        tank_volume_m3=inputs.param("tank_volume_m3"),
        pipe_length_m=inputs.param("pipe_length_m"),
        heat_pump_max_heat_w=hp_w,
    )
    figures = study_figures(ctx.site, totals, capex)
    row: dict[str, Any] = dict(point)
    merged = {**totals, **figures}
    for col in POINT_COLUMNS:
        value = merged.get(col)
        row[col] = float("nan") if value is None else float(value)
    row.update(sla_estimate(ctx.site, inputs, out.out))
    return row


def sweep_points(ctx: SweepContext, points: Sequence[Mapping[str, float]]) -> list[dict[str, Any]]:
    """Rows of several points of one site (:func:`sweep_point` each), in order."""
    return [sweep_point(ctx, p) for p in points]


#: A site's share of a run: its context and the points to run on it.
SweepJob = tuple[SweepContext, Sequence[Mapping[str, float]]]
#: Rows of a run: one list per job, in the order of its points.
SweepRows = list[list[dict[str, Any]]]


class SweepExecutor(Protocol):
    """Runs the points of one or more sites and returns their rows.

    :func:`run_sweep` and the fleet plan
    (:func:`heatreuse.planning.fleet.run_fleet`) hand their jobs to one; the
    task is always :func:`sweep_point`. :class:`LocalExecutor` runs in this
    process or a local process pool; ``heatreuse.planning.dask_executor``
    runs on Dask distributed.
    """

    @property
    def workers(self) -> int:
        """Workers the points run on (1: in this process)."""
        ...

    def run(self, jobs: Sequence[SweepJob], progress: Progress | None = None) -> SweepRows:
        """Rows of every job's points, in the order given (one list per job)."""
        ...


_CONTEXTS: tuple[SweepContext, ...] = ()


def _init_worker(contexts: tuple[SweepContext, ...]) -> None:
    global _CONTEXTS
    _CONTEXTS = contexts


def _run_chunk(job: int, points: list[Mapping[str, float]]) -> list[dict[str, Any]]:
    assert _CONTEXTS, "worker not initialised"
    return sweep_points(_CONTEXTS[job], points)


class LocalExecutor:
    """Points in this process, or in a local process pool (one process per core by default).

    The pool's processes receive the contexts once (initializer) and run
    chunks of points; the parent runs the very first point itself so the
    kernel is compiled (or loaded from numba's cache) before workers fork.

    Parameters
    ----------
    workers
        Worker processes; default :func:`default_workers`. 1, or fewer than 4
        points in all, runs in this process.
    """

    def __init__(self, workers: int | None = None) -> None:
        self._requested = workers if workers is not None else default_workers()
        self._used = 1

    @property
    def workers(self) -> int:
        """Workers the last run used."""
        return self._used

    def run(self, jobs: Sequence[SweepJob], progress: Progress | None = None) -> SweepRows:
        """Rows of every job's points (see :class:`SweepExecutor`)."""
        tasks = [(j, i) for j, (_, points) in enumerate(jobs) for i in range(len(points))]
        n = len(tasks)
        rows: list[list[dict[str, Any] | None]] = [[None] * len(points) for _, points in jobs]
        if n == 0:
            return [[] for _ in jobs]
        j0, i0 = tasks[0]
        rows[j0][i0] = sweep_point(jobs[j0][0], jobs[j0][1][i0])  # compiles before any fork
        done = 1
        rest = tasks[1:]
        n_workers = min(self._requested, n)
        if n_workers <= 1 or n < 4:
            self._used = 1
            if progress:
                progress(done, n)
            chunk = max(1, n // 100)
            for start in range(0, len(rest), chunk):
                for j, i in rest[start : start + chunk]:
                    rows[j][i] = sweep_point(jobs[j][0], jobs[j][1][i])
                done += len(rest[start : start + chunk])
                if progress:
                    progress(done, n)
        else:
            self._used = n_workers
            size = max(1, math.ceil(len(rest) / (n_workers * 8)))
            chunks: list[tuple[int, list[int]]] = []
            for j in range(len(jobs)):
                idx = [i for jj, i in rest if jj == j]
                chunks += [(j, idx[k : k + size]) for k in range(0, len(idx), size)]
            with ProcessPoolExecutor(
                max_workers=n_workers,
                mp_context=_mp_context(),
                initializer=_init_worker,
                initargs=(tuple(ctx for ctx, _ in jobs),),
            ) as pool:
                futures = {
                    pool.submit(_run_chunk, j, [jobs[j][1][i] for i in idx]): (j, idx)
                    for j, idx in chunks
                }
                if progress:
                    progress(done, n)
                for fut in as_completed(futures):
                    j, idx = futures[fut]
                    for i, row in zip(idx, fut.result(), strict=True):
                        rows[j][i] = row
                    done += len(idx)
                    if progress:
                        progress(done, n)
        return [[r for r in job_rows if r is not None] for job_rows in rows]


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep.

    Attributes
    ----------
    frame
        One row per grid point: the parameters (CLI names and units), the
        figures in :data:`POINT_COLUMNS`, and ``on_frontier``.
    axes
        Parameter name -> values.
    step_s
        Simulation step [s].
    elapsed_s
        Wall time of the runs [s].
    workers
        Worker processes used (1: in-process).
    cost_column, benefit_column
        The frontier's axes.
    """

    frame: pd.DataFrame
    axes: dict[str, list[float]]
    step_s: int
    elapsed_s: float
    workers: int
    site_years: float
    cost_column: str = "capex_eur"
    benefit_column: str = "demand_coverage_fraction"

    @property
    def frontier(self) -> pd.DataFrame:
        """Points on the Pareto frontier, by ascending cost."""
        return self.frame[self.frame["on_frontier"]].sort_values(self.cost_column)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description: axes, size, timing and the frontier points."""
        frontier = self.frontier.replace({np.nan: None})
        return {
            "parameters": {
                name: {
                    "values": values,
                    "description": SWEEP_PARAMETERS[name].description,
                }
                for name, values in self.axes.items()
            },
            "points": len(self.frame),
            "step_s": self.step_s,
            "site_years": self.site_years,
            "elapsed_s": self.elapsed_s,
            "site_years_per_s": self.site_years / self.elapsed_s if self.elapsed_s > 0 else None,
            "workers": self.workers,
            "frontier_cost_column": self.cost_column,
            "frontier_benefit_column": self.benefit_column,
            "frontier": frontier.to_dict(orient="records"),
        }


def default_workers() -> int:
    """Worker processes for a sweep: the local cores usable by this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _mp_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run_sweep(
    site: Site,
    demand: pd.DataFrame,
    axes: Mapping[str, Sequence[float] | np.ndarray],
    *,
    step_s: int = 3600,
    workers: int | None = None,
    progress: Progress | None = None,
    inputs: KernelInputs | None = None,
    cost_column: str = "capex_eur",
    benefit_column: str = "demand_coverage_fraction",
    executor: SweepExecutor | None = None,
) -> SweepResult:
    """Run every grid point and mark the Pareto frontier.

    Parameters
    ----------
    site
        The site (base values of everything not swept).
    demand
        The site customer's demand frame (UTC index).
    axes
        Parameter name -> values (e.g. from :func:`parse_sweep_specs`).
    step_s
        Simulation step [s]; default hourly.
    workers
        Worker processes; default one per local core. 1 runs in this process.
    progress
        Called as ``progress(done, total)`` after each finished chunk (first
        with ``done = 0`` once the workers are up).
    inputs
        Already prepared inputs for ``site`` and ``demand`` at ``step_s``.
    cost_column, benefit_column
        Frontier axes (minimise cost, maximise benefit).
    executor
        Where the points run; default :class:`LocalExecutor` with ``workers``
        (a Dask executor runs them on a cluster, see
        ``heatreuse.planning.dask_executor``).

    Returns
    -------
    SweepResult

    Raises
    ------
    SimulationError
        Unknown parameter (named, known ones listed), a parameter sizing
        plant the site lacks, an empty grid.
    """
    for name in axes:
        parameter(name)
    check_applicable(site, axes)
    points = grid_points(axes)
    if not points:
        raise SimulationError("--sweep: the grid is empty; give at least one PARAM=START:STOP:STEP")
    if cost_column not in POINT_COLUMNS or benefit_column not in POINT_COLUMNS:
        raise SimulationError(
            f"sweep frontier: expected columns from {list(POINT_COLUMNS)}, got "
            f"{cost_column!r}, {benefit_column!r}"
        )
    prepared = inputs if inputs is not None else prepare(site, demand, step_s)
    n = len(points)
    runner = executor if executor is not None else LocalExecutor(workers)
    t0 = time.perf_counter()
    (rows,) = runner.run([(SweepContext(prepared, site), points)], progress)
    elapsed = time.perf_counter() - t0
    frame = pd.DataFrame(rows)
    frame["on_frontier"] = pareto_frontier(
        frame[cost_column].to_numpy(), frame[benefit_column].to_numpy()
    )
    duration_h = prepared.n_steps * prepared.step_s / SECONDS_PER_HOUR
    return SweepResult(
        frame=frame,
        axes={k: [float(v) for v in vals] for k, vals in axes.items()},
        step_s=prepared.step_s,
        elapsed_s=elapsed,
        workers=runner.workers,
        site_years=n * duration_h / HOURS_PER_YEAR,
        cost_column=cost_column,
        benefit_column=benefit_column,
    )
