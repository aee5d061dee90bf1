"""Fleet planning: many candidate sites, each with its sizing grid, ranked by one stated metric.

A fleet file lists candidate site files (paths relative to the fleet file)
with optional per-site sweeps and weather::

    schema_version: 1
    fleet:
      id: north-2026
      name: Candidate sites, northern Germany
    ranking:
      metric: npv_eur              # see RANK_METRICS
      sla_feasible_first: true     # points that keep the SLA rank above all others
    step_s: 3600                   # simulation step of every run [s]
    sweep:                         # default grid for sites without their own
      tank_volume_m3: "10:40:10"   # START:STOP:STEP, or a list of values
    sites:
      - file: pool.yaml
        sweep:
          tank_volume_m3: [4, 10, 20]
          it_power_kw: "40:80:20"
      - file: district_preheat.yaml
        weather: dwd-try:03        # instead of the site's location.weather
      - file: greenhouse.yaml
        sweep: {}                  # the site as designed: one run

Every site x grid point is one task of :func:`heatreuse.planning.sweep.sweep_point`
(the same task the sizing sweep of ``heatreuse plan`` runs), handed to a
:class:`~heatreuse.planning.sweep.SweepExecutor`: a local process pool, or Dask
distributed (:mod:`heatreuse.planning.dask_executor`). The result is one row per
site and point with its figures (units in the column names), the SLA estimate
(:mod:`heatreuse.planning.feasibility`) and its rank.

Ranking: points that keep the SLA estimate first (unless
``sla_feasible_first: false``), then by the metric, highest first; a point
whose metric does not exist (NaN) ranks after every point that has one.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError

from heatreuse.errors import FleetConfigError, HeatreuseError, SiteConfigError
from heatreuse.planning.feasibility import SLA_COLUMNS
from heatreuse.planning.sweep import (
    MAX_GRID_POINTS,
    POINT_COLUMNS,
    SWEEP_PARAMETERS,
    Progress,
    SweepContext,
    SweepExecutor,
    pareto_frontier,
    parse_range,
    parse_values,
)
from heatreuse.site.base import SiteModel
from heatreuse.site.model import Site
from heatreuse.units import SECONDS_PER_HOUR

#: Largest fleet file read [bytes].
MAX_FLEET_FILE_BYTES = 262_144
#: Most candidate sites in one fleet file.
MAX_FLEET_SITES = 10_000
#: Most site x point tasks in one fleet run.
MAX_FLEET_TASKS = 1_000_000
HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True)
class RankMetric:
    """A metric the fleet can be ranked by (higher is better).

    Attributes
    ----------
    column
        Column of the result frame (unit in the name).
    description
        What it is, with its unit.
    """

    column: str
    description: str


#: Metrics a fleet can be ranked by, by name (the name is the column).
RANK_METRICS: dict[str, RankMetric] = {
    m.column: m
    for m in (
        RankMetric(
            "npv_eur",
            "net present value over the plant's life [EUR] (estimate: capex, opex, energy, "
            "heat sales at the site's tariffs and discount rate)",
        ),
        RankMetric(
            "heat_delivered_per_capex_kwh_per_eur",
            "waste heat delivered in a year per EUR of capex [kWh/EUR]",
        ),
        RankMetric("heat_delivered_kwh", "waste heat delivered in a year [kWh]"),
        RankMetric("avoided_emissions_kg", "avoided CO2 in a year [kg]"),
        RankMetric("demand_coverage_fraction", "share of the customer's demand covered [-]"),
        RankMetric("erf", "energy reuse factor (ISO/IEC 30134-6) [-]"),
    )
}

#: First columns of the fleet frame, before the sizing parameters and the figures.
ID_COLUMNS: tuple[str, ...] = ("rank", "site_id", "site_file", "customer_kind", "point_index")


# --------------------------------------------------------------------------- the file
SweepValues = str | Annotated[list[float], Field(min_length=1, max_length=MAX_GRID_POINTS)] | float


class _FleetModel(SiteModel):
    """Frozen, no unknown fields; numbers finite and plausible for the unit in their name."""


class FleetInfo(_FleetModel):
    """Who the fleet is."""

    id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]
    name: Annotated[str, Field(max_length=256)] | None = None


class RankingSpec(_FleetModel):
    """How the fleet's points are ranked."""

    metric: str = "npv_eur"
    sla_feasible_first: bool = True


class FleetSiteSpec(_FleetModel):
    """One candidate site: its file (relative to the fleet file) and what to vary."""

    file: Annotated[str, Field(min_length=1, max_length=4096)]
    weather: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    sweep: dict[str, SweepValues] | None = None


class FleetFile(_FleetModel):
    """The fleet file (schema version 1)."""

    schema_version: Literal[1] = 1
    fleet: FleetInfo
    ranking: RankingSpec = RankingSpec()
    step_s: Annotated[int, Field(ge=1, le=3600)] = 3600
    year: Annotated[int, Field(ge=1900, le=2200)] | None = None
    sweep: dict[str, SweepValues] = Field(default_factory=dict)
    sites: Annotated[list[FleetSiteSpec], Field(min_length=1, max_length=MAX_FLEET_SITES)]


@dataclass(frozen=True)
class FleetSite:
    """A candidate site, loaded and checked.

    Attributes
    ----------
    site
        The validated site model.
    file
        Its site file.
    weather
        Weather spec to use (paths made absolute), or None for the site's own.
    axes
        Sizing parameter -> values (empty: the site as designed, one run).
    """

    site: Site
    file: Path
    weather: str | None
    axes: dict[str, list[float]]

    @property
    def points(self) -> list[dict[str, float]]:
        """The grid (Cartesian product of the axes); one empty point without axes."""
        from heatreuse.planning.sweep import grid_points

        return grid_points(self.axes) if self.axes else [{}]


@dataclass(frozen=True)
class Fleet:
    """A fleet file, loaded and checked (:func:`load_fleet`)."""

    id: str
    name: str | None
    file: Path
    step_s: int
    year: int | None
    metric: str
    sla_feasible_first: bool
    sites: tuple[FleetSite, ...]

    @property
    def n_tasks(self) -> int:
        """Site x point runs."""
        return sum(len(s.points) for s in self.sites)


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "<top>"


#: Union member names pydantic puts into error locations (not fields of the file).
_UNION_TAGS = ("str", "list[float]", "float", "constrained-str", "constrained-list")


def _validation_problems(exc: ValidationError, lines: Any, file: str) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(
            p for p in err["loc"] if not (isinstance(p, str) and p in ("str", "list[float]"))
        )
        where = f"{file}:{lines.line_of(loc)}: {_dotted(loc)}"
        kind = err["type"]
        got = err.get("input")
        if kind == "missing":
            problems.append(f"{where}: required field missing")
        elif kind == "extra_forbidden":
            problems.append(f"{where}: unknown field")
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            shown = "" if isinstance(got, dict | list) or got is None else f"; got {got!r}"
            problems.append(f"{where}: {msg}{shown}")
    return problems


def _axes(
    values: Mapping[str, str | list[float] | float],
    path: tuple[str | int, ...],
    lines: Any,
    file: str,
    problems: list[str],
) -> dict[str, list[float]]:
    """Sizing axes from a fleet file's ``sweep`` mapping; problems collected, not raised."""
    axes: dict[str, list[float]] = {}
    for name, spec in values.items():
        at = f"{file}:{lines.line_of((*path, name))}: {_dotted((*path, name))}"
        if name not in SWEEP_PARAMETERS:
            known = ", ".join(sorted(SWEEP_PARAMETERS))
            problems.append(f"{at}: unknown sizing parameter; expected one of: {known}")
            continue
        if not isinstance(spec, str | list):
            # YAML 1.1 reads an unquoted 2:40:2 as the base-60 integer 9602
            problems.append(
                f'{at}: expected "START:STOP:STEP" in quotes (unquoted, YAML reads 2:40:2 as '
                f"the base-60 number 9602) or a list of values such as [4, 10, 20]; got {spec:g}"
            )
            continue
        try:
            if isinstance(spec, str):
                axes[name] = [float(v) for v in parse_range(name, spec, at)]
            else:
                axes[name] = [float(v) for v in parse_values(name, spec, at)]
        except HeatreuseError as exc:
            problems.append(str(exc))
    return axes


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+-]*:")


def _weather_spec(spec: str | None, base: Path) -> str | None:
    """A weather spec with a relative file path made relative to the fleet file."""
    if spec is None:
        return None
    text = spec.strip()
    if _SCHEME.match(text) or Path(text).is_absolute():
        return text
    return str((base / text).resolve())


def load_fleet(
    path: str | Path,
    *,
    sweeps: Sequence[str] | None = None,
    metric: str | None = None,
) -> Fleet:
    """Load, validate and resolve a fleet file and every site file it lists.

    Parameters
    ----------
    path
        The fleet YAML file.
    sweeps
        ``PARAM=START:STOP:STEP`` strings from the command line: when given,
        every site uses this grid instead of the file's.
    metric
        Ranking metric instead of the file's ``ranking.metric``.

    Returns
    -------
    Fleet

    Raises
    ------
    FleetConfigError
        Every problem at once, one per line as ``FILE:LINE: field.path: what was
        expected; got what came``: malformed YAML, unknown or missing fields,
        unknown metric or sizing parameter, bad ranges, a site file that is
        missing or invalid (its own problems with its own file and line), a
        parameter that sizes plant a site lacks, two sites with one id, too
        many tasks.
    """
    from heatreuse.planning.sweep import check_applicable, parse_sweep_specs
    from heatreuse.site import load_site
    from heatreuse.site.loader import parse_yaml_with_lines

    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_FLEET_FILE_BYTES + 1)
    except FileNotFoundError:
        raise FleetConfigError(f"{p}: no such fleet file") from None
    except IsADirectoryError:
        raise FleetConfigError(f"{p}: is a directory; expected a fleet YAML file") from None
    except OSError as exc:
        raise FleetConfigError(f"{p}: cannot read the fleet file ({exc.strerror})") from None
    if len(raw) > MAX_FLEET_FILE_BYTES:
        raise FleetConfigError(
            f"{p}: expected a fleet file of at most {MAX_FLEET_FILE_BYTES:,} bytes; got more"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FleetConfigError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    file = str(p)
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise FleetConfigError(f"{file}:1: the file is empty; expected a fleet description")
    try:
        data, lines = parse_yaml_with_lines(text, file)
    except SiteConfigError as exc:
        raise FleetConfigError(exc.problems) from None
    if not isinstance(data, dict):
        raise FleetConfigError(
            f"{file}:1: expected a mapping with fleet, sites (and optionally ranking, step_s, "
            f"year, sweep), got {type(data).__name__}"
        )
    try:
        spec = FleetFile.model_validate(data)
    except ValidationError as exc:
        raise FleetConfigError(_validation_problems(exc, lines, file)) from None

    problems: list[str] = []
    chosen = metric if metric is not None else spec.ranking.metric
    if chosen not in RANK_METRICS:
        where = (
            "--rank-by"
            if metric is not None
            else (f"{file}:{lines.line_of(('ranking', 'metric'))}: ranking.metric")
        )
        problems.append(
            f"{where}: unknown metric {chosen!r}; expected one of: {', '.join(RANK_METRICS)}"
        )
    cli_axes: dict[str, list[float]] | None = None
    if sweeps:
        try:
            cli_axes = {
                k: [float(x) for x in v] for k, v in parse_sweep_specs(list(sweeps)).items()
            }
        except HeatreuseError as exc:
            problems.append(str(exc))
    default_axes = _axes(spec.sweep, ("sweep",), lines, file, problems)
    base = p.resolve().parent
    sites: list[FleetSite] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(spec.sites):
        where = f"{file}:{lines.line_of(('sites', i, 'file'))}: sites[{i}]"
        if cli_axes is not None:
            axes = cli_axes
        elif entry.sweep is not None:
            axes = _axes(entry.sweep, ("sites", i, "sweep"), lines, file, problems)
        else:
            axes = default_axes
        site_path = Path(entry.file)
        if not site_path.is_absolute():
            site_path = base / site_path
        try:
            site = load_site(site_path)
        except SiteConfigError as exc:
            problems.append(f"{where}.file: site file {entry.file!r} is not usable:")
            problems.extend(f"  {line}" for line in exc.problems)
            continue
        if site.id in seen:
            problems.append(
                f"{where}.file: site id {site.id!r} again (first in {seen[site.id]}); each "
                "candidate site once"
            )
            continue
        seen[site.id] = entry.file
        try:
            check_applicable(site, axes)
        except HeatreuseError as exc:
            problems.append(f"{where} ({site.id}): {exc}")
            continue
        sites.append(
            FleetSite(
                site=site,
                file=site_path,
                weather=_weather_spec(entry.weather, base),
                axes=axes,
            )
        )
    if not problems:
        n_tasks = sum(math.prod(len(v) for v in s.axes.values()) for s in sites)
        if n_tasks > MAX_FLEET_TASKS:
            problems.append(
                f"{file}: {n_tasks:,} site x point runs, more than the limit of "
                f"{MAX_FLEET_TASKS:,}; narrow the sweeps"
            )
    if problems:
        raise FleetConfigError(problems)
    return Fleet(
        id=spec.fleet.id,
        name=spec.fleet.name,
        file=p,
        step_s=spec.step_s,
        year=spec.year,
        metric=chosen,
        sla_feasible_first=spec.ranking.sla_feasible_first,
        sites=tuple(sites),
    )


# --------------------------------------------------------------------------- ranking
def rank_frame(frame: pd.DataFrame, metric: str, sla_feasible_first: bool = True) -> pd.DataFrame:
    """Sort the fleet's rows best first and number them (``rank`` 1..n).

    Rows that keep the SLA estimate (``sla_feasible``) come first when
    ``sla_feasible_first``; within that, by ``metric`` highest first, rows
    without a value (NaN) last; ties keep the site order of the fleet file.
    ``site_best`` marks each site's best row.
    """
    if metric not in RANK_METRICS:
        raise HeatreuseError(
            f"ranking: unknown metric {metric!r}; expected one of {list(RANK_METRICS)}"
        )
    values = frame[metric].to_numpy(dtype=np.float64)
    keys: list[np.ndarray] = [np.arange(len(frame)), -np.nan_to_num(values, nan=-np.inf)]
    keys.append(~np.isfinite(values))
    if sla_feasible_first:
        keys.append(~frame["sla_feasible"].to_numpy(dtype=bool))
    order = np.lexsort(keys)  # last key is primary
    ranked = frame.iloc[order].reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    ranked["site_best"] = ~ranked["site_id"].duplicated()
    return ranked


# --------------------------------------------------------------------------- running
@dataclass(frozen=True)
class FleetResult:
    """A ranked fleet run.

    Attributes
    ----------
    fleet
        The fleet that ran.
    frame
        One row per site and point, best first: ``rank``, ``site_id``,
        ``site_file``, ``customer_kind``, ``point_index``, every sizing
        parameter (the value used, swept or the site's own, in the parameter's
        unit; NaN where the site has no such plant), the figures of
        :data:`~heatreuse.planning.sweep.POINT_COLUMNS`,
        ``heat_delivered_per_capex_kwh_per_eur``, the SLA estimate
        (:data:`~heatreuse.planning.feasibility.SLA_COLUMNS`), ``on_frontier``
        (the site's Pareto frontier of capex vs demand coverage) and
        ``site_best``.
    prepare_s, elapsed_s
        Wall time of weather, demand and setup for all sites, and of the runs [s].
    workers
        Workers the runs used.
    site_years
        Simulated site-years.
    executor
        What ran them (``local`` or ``dask``) and where.
    tasks_per_worker
        Runs per worker address, when the executor reports it.
    """

    fleet: Fleet
    frame: pd.DataFrame
    prepare_s: float
    elapsed_s: float
    workers: int
    site_years: float
    executor: str
    tasks_per_worker: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: the fleet, the metric, run figures and each site's best point."""
        best = self.frame[self.frame["site_best"]].replace({np.nan: None})
        cols = [c for c in self.frame.columns if c not in ("site_best",)]
        return {
            "fleet_id": self.fleet.id,
            "fleet_name": self.fleet.name,
            "fleet_file": str(self.fleet.file),
            "rank_metric": self.fleet.metric,
            "rank_metric_description": RANK_METRICS[self.fleet.metric].description,
            "sla_feasible_first": self.fleet.sla_feasible_first,
            "sites": len(self.fleet.sites),
            "points": len(self.frame),
            "step_s": self.fleet.step_s,
            "site_years": self.site_years,
            "prepare_s": self.prepare_s,
            "elapsed_s": self.elapsed_s,
            "site_years_per_s": self.site_years / self.elapsed_s if self.elapsed_s > 0 else None,
            "workers": self.workers,
            "executor": self.executor,
            "tasks_per_worker": self.tasks_per_worker,
            "sla_feasible_points": int(self.frame["sla_feasible"].sum()),
            "best_per_site": best[cols].to_dict(orient="records"),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }


def prepare_site(fleet: Fleet, entry: FleetSite) -> SweepContext:
    """Weather, demand and kernel inputs of one candidate site (its context for the tasks).

    Raises
    ------
    WeatherError
        The weather cannot be read or is not one full year.
    """
    from heatreuse.planning.study import load_study_weather
    from heatreuse.simulation import prepare
    from heatreuse.simulation.demand import customer_demand

    weather = load_study_weather(entry.site, entry.weather, fleet.year)
    demand = customer_demand(entry.site, weather)
    return SweepContext(prepare(entry.site, demand, fleet.step_s), entry.site)


def _sizing_value(ctx: SweepContext, name: str) -> float:
    p = SWEEP_PARAMETERS[name]
    if p.needs is not None and getattr(ctx.site.plant, p.needs) is None:
        return math.nan
    return ctx.inputs.param(p.kernel_name) / p.to_kernel


def run_fleet(
    fleet: Fleet,
    executor: SweepExecutor,
    *,
    progress: Progress | None = None,
    contexts: Sequence[SweepContext] | None = None,
) -> FleetResult:
    """Run every site x point of ``fleet`` on ``executor`` and rank the rows.

    Parameters
    ----------
    fleet
        From :func:`load_fleet`.
    executor
        Where the tasks run (:class:`~heatreuse.planning.sweep.LocalExecutor`,
        :class:`~heatreuse.planning.dask_executor.DaskExecutor`).
    progress
        Called as ``progress(done, total)`` while tasks finish.
    contexts
        Already prepared contexts, one per site in order (default:
        :func:`prepare_site` for each, in this process).

    Returns
    -------
    FleetResult
    """
    t0 = time.perf_counter()
    ctxs = list(contexts) if contexts is not None else [prepare_site(fleet, s) for s in fleet.sites]
    prepare_s = time.perf_counter() - t0
    jobs = [(ctx, entry.points) for ctx, entry in zip(ctxs, fleet.sites, strict=True)]
    t1 = time.perf_counter()
    rows = executor.run(jobs, progress)
    elapsed = time.perf_counter() - t1
    frames = []
    site_years = 0.0
    for ctx, entry, site_rows in zip(ctxs, fleet.sites, rows, strict=True):
        f = pd.DataFrame(site_rows)
        f.insert(0, "site_id", entry.site.id)
        f.insert(1, "site_file", str(entry.file))
        f.insert(2, "customer_kind", entry.site.customer.kind)
        f.insert(3, "point_index", np.arange(len(f)))
        for name in SWEEP_PARAMETERS:
            if name not in f.columns:
                f[name] = _sizing_value(ctx, name)
        f["on_frontier"] = pareto_frontier(
            f["capex_eur"].to_numpy(), f["demand_coverage_fraction"].to_numpy()
        )
        frames.append(f)
        site_years += (
            len(f) * ctx.inputs.n_steps * ctx.inputs.step_s / SECONDS_PER_HOUR / HOURS_PER_YEAR
        )
    frame = pd.concat(frames, ignore_index=True)
    capex = frame["capex_eur"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_eur = np.where(capex > 0, frame["heat_delivered_kwh"].to_numpy() / capex, np.nan)
    frame["heat_delivered_per_capex_kwh_per_eur"] = per_eur
    order = [
        *ID_COLUMNS[1:],
        *SWEEP_PARAMETERS,
        *POINT_COLUMNS,
        "heat_delivered_per_capex_kwh_per_eur",
        *SLA_COLUMNS,
        "on_frontier",
    ]
    frame = frame[order]
    ranked = rank_frame(frame, fleet.metric, fleet.sla_feasible_first)
    kind = getattr(executor, "kind", "local")
    per_worker = dict(getattr(executor, "tasks_per_worker", {}) or {})
    return FleetResult(
        fleet=fleet,
        frame=ranked,
        prepare_s=prepare_s,
        elapsed_s=elapsed,
        workers=executor.workers,
        site_years=site_years,
        executor=str(kind),
        tasks_per_worker=per_worker,
    )


def write_fleet_outputs(result: FleetResult, out_dir: Path) -> dict[str, Path]:
    """Write ``fleet.parquet``, ``fleet.html`` and ``summary.json`` to ``out_dir``.

    Raises
    ------
    HeatreuseError
        The folder cannot be created.
    """
    import json

    from heatreuse.planning.fleet_report import render_fleet_page

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HeatreuseError(f"--out {str(out_dir)!r}: cannot create the folder: {exc}") from None
    paths = {
        "table": out_dir / "fleet.parquet",
        "report": out_dir / "fleet.html",
        "summary": out_dir / "summary.json",
    }
    result.frame.to_parquet(paths["table"], index=False)
    paths["report"].write_text(render_fleet_page(result), encoding="utf-8")
    paths["summary"].write_text(
        json.dumps(result.summary(), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    return paths
