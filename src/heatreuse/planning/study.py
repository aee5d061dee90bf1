"""The feasibility study: weather -> demand -> simulation -> matrix, comparison, sweep -> files.

:func:`run_study` is what ``heatreuse plan`` runs. It writes to ``out_dir``:

* ``summary.json``: every figure with its unit in its key name
  (``heat_demand_kwh``, ``heat_delivered_kwh``, ``pue``, ``erf``,
  ``capex_eur``, ``payback_years``, ...), the heat-demand matrix, the model
  comparison and the sweep frontier when asked, the emission factors with
  source and year, the assumptions with their sources, and which figures are
  estimates;
* ``hourly.parquet``: the simulation at hourly resolution (means of the
  steps; ``mode`` the highest-priority mode of the hour, ``mode_flags`` all
  modes seen), plus the customer's required supply temperature and the air
  temperature;
* ``report.html``: the self-contained report (:mod:`heatreuse.planning.report`);
* with a sweep: ``sweep.parquet`` (one row per grid point) and ``sweep.html``.

The study covers the weather's year (one full year of hours is required:
a typical year or a CSV year). The main run uses ``step_s`` (default 60 s);
the sweep runs hourly unless a step is given explicitly.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heatreuse import __version__
from heatreuse.errors import SimulationError, WeatherError
from heatreuse.planning import compare as compare_mod
from heatreuse.planning import economics, matrix
from heatreuse.planning.compare import REUSE_MODELS, ModelRun
from heatreuse.planning.economics import site_capex
from heatreuse.planning.figures import emission_factor_sources, study_figures
from heatreuse.planning.matrix import DemandProfile, KindDemand, demand_matrix, kind_demands
from heatreuse.planning.sweep import (
    Progress,
    SweepResult,
    check_applicable,
    parse_sweep_specs,
    run_sweep,
)
from heatreuse.simulation import SimulationResult, prepare, result_from_outputs, run_kernel
from heatreuse.simulation.demand import ASSUMPTIONS, customer_demand, site_weather
from heatreuse.site.model import CUSTOMER_KINDS, PoolCustomer, Site
from heatreuse.weather import check_full_year, load_weather

#: Default step of the main run [s] (the engine's default).
DEFAULT_STEP_S = 60
#: Default step of sweeps [s].
DEFAULT_SWEEP_STEP_S = 3600

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|min|m|h)?\s*$", re.IGNORECASE)
_UNIT_S = {None: 1.0, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}


def parse_step_s(text: str | int | None) -> int | None:
    """Parse a step such as ``60s``, ``60``, ``15min``, ``1h`` into seconds (None stays None).

    Raises
    ------
    SimulationError
        Not a duration, or not a whole number of seconds 1..3600 dividing an hour.
    """
    if text is None:
        return None
    if isinstance(text, int):
        seconds = float(text)
    else:
        m = _DURATION.match(str(text))
        if not m:
            raise SimulationError(
                f"--step: expected a duration such as 60s, 15min or 1h, got {text!r}"
            )
        unit = m.group(2).lower() if m.group(2) else None
        seconds = float(m.group(1)) * _UNIT_S[unit]
    if not seconds.is_integer() or not 1 <= seconds <= 3600 or 3600 % int(seconds):
        raise SimulationError(
            f"--step: expected whole seconds from 1 s to 1 h that divide an hour (e.g. 60s, "
            f"300s, 15min, 1h), got {text!r} = {seconds:g} s"
        )
    return int(seconds)


def load_study_weather(site: Site, spec: str | None, year: int | None = None) -> pd.DataFrame:
    """Weather for the study: ``spec`` (paths relative to the working directory) or the site's.

    Raises
    ------
    WeatherError
        Unknown source or file, unreadable, gaps, not one full year of hours,
        missing values.
    """
    if spec is None or not str(spec).strip():
        weather = site_weather(site, year)
    else:
        weather = load_weather(str(spec).strip(), year=year)
    check_full_year(weather)
    for col in weather.columns:
        values = weather[col].to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            first = weather.index[~np.isfinite(values)][0]
            raise WeatherError(
                f"weather {weather.attrs.get('source', spec)!r}: column {col!r} has missing "
                f"values, first at {first}"
            )
    return weather


def _study_index(weather: pd.DataFrame, step_s: int) -> pd.DatetimeIndex | None:
    if step_s == 3600:
        return None
    idx = pd.DatetimeIndex(weather.index)
    return pd.date_range(
        idx[0],
        idx[-1] + pd.Timedelta(hours=1),
        freq=pd.Timedelta(seconds=step_s),
        inclusive="left",
        name="time",
    )


def hourly_frame(result: SimulationResult, demand: pd.DataFrame) -> pd.DataFrame:
    """The run at hourly resolution (means; ``mode`` max, ``mode_flags`` OR over the hour)."""
    frame = result.frame
    k = int(3600 // result.step_s)
    n = len(frame) // k * k
    index = pd.DatetimeIndex(frame.index[:n:k], name="time")
    out: dict[str, np.ndarray] = {}
    for col in frame.columns:
        values = frame[col].to_numpy()[:n]
        if col == "mode":
            out[col] = values.reshape(-1, k).max(axis=1).astype(np.int8)
        elif col == "mode_flags":
            out[col] = np.bitwise_or.reduce(values.reshape(-1, k), axis=1).astype(np.uint8)
        else:
            out[col] = values.astype(np.float64).reshape(-1, k).mean(axis=1)
    hourly = pd.DataFrame(out, index=index)
    for col in ("supply_temp_required_c", "air_temp_c"):
        if col in demand.columns:
            hourly[col] = (
                demand[col].astype(np.float64).resample("h").mean().reindex(index).to_numpy()
            )
    if "operating" in demand.columns:
        hourly["operating"] = (
            demand["operating"].astype(bool).resample("h").max().reindex(index).to_numpy()
        )
    return hourly


@dataclass(frozen=True)
class StudyResult:
    """Everything a study computed and the files it wrote."""

    summary: dict[str, Any]
    result: SimulationResult
    hourly: pd.DataFrame
    matrix: list[DemandProfile]
    comparison: list[ModelRun]
    sweep: SweepResult | None
    paths: dict[str, Path] = field(default_factory=dict)


def _pool_demand_assumptions(site: Site) -> list[dict[str, Any]]:
    """What a pool's demand answers to (the weather, or not), for the assumptions table."""
    c = site.customer
    if not isinstance(c, PoolCustomer):
        return []
    if not c.indoor:
        value = (
            "outdoor pool: evaporation, convection (wind), long-wave radiation to the sky and "
            "solar gain follow the weather"
        )
    elif c.hall_heating:
        ua = (
            f"{c.hall_envelope_ua_w_per_k:g} W/K"
            if c.hall_envelope_ua_w_per_k is not None
            else f"{ASSUMPTIONS.pool_hall_ua_w_per_k_per_water_m2:g} W/K per m2 of water (estimate)"
        )
        value = (
            "indoor pool with its hall: pool water at fixed hall conditions, plus outdoor air to "
            "dehumidify the hall (follows outdoor temperature and humidity; heat recovery "
            f"{c.hall_heat_recovery_fraction:g}) and the hall envelope ({ua}) to outdoors"
        )
    else:
        value = (
            "indoor pool water only (hall_heating: false): the hall is kept at fixed air "
            "conditions by others, so the demand does not depend on the weather (only the "
            "mains-water season)"
        )
    return [
        {
            "name": "pool demand model",
            "value": value,
            "source": "VDI 2089-1 (2010) evaporation and outdoor-air dehumidification; "
            "EN ISO 13789 transmission; heatreuse.simulation.demand",
            "estimate": c.indoor and c.hall_heating and c.hall_envelope_ua_w_per_k is None,
        }
    ]


def assumptions(site: Site, weather: pd.DataFrame) -> list[dict[str, Any]]:
    """The assumptions behind the study with their sources (for summary and report)."""
    ef = site.contract.emission_factors
    t = site.contract.tariffs
    rows: list[dict[str, Any]] = [
        {
            "name": "weather",
            "value": str(weather.attrs.get("source", site.location.weather)),
            "source": "typical-year or CSV weather file "
            + (f"(station {weather.attrs['station']})" if weather.attrs.get("station") else ""),
            "estimate": False,
        },
        *_pool_demand_assumptions(site),
        {
            "name": "grid emission factor",
            "value": f"{ef.grid.value_kg_per_kwh} kg CO2/kWh ({ef.grid.basis or 'basis n/a'})",
            "source": f"{ef.grid.source}, {ef.grid.year}",
            "estimate": False,
        },
        {
            "name": "displaced fuel emission factor",
            "value": f"{ef.displaced_fuel.value_kg_per_kwh} kg CO2/kWh {ef.displaced_fuel_kind} "
            f"({ef.displaced_fuel.basis or 'basis n/a'})",
            "source": f"{ef.displaced_fuel.source}, {ef.displaced_fuel.year}",
            "estimate": False,
        },
        {
            "name": "displaced plant efficiency",
            "value": f"{ef.reference_efficiency_fraction}",
            "source": "site file; take the high end (1.0 is the most conservative), WBCSD (2023) "
            "Guidance on Avoided Emissions",
            "estimate": False,
        },
        {
            "name": "avoided emissions method",
            "value": "Q_delivered EF_fuel / eta_ref - (W_heat_pump + W_pumps) EF_grid; all pump "
            "electricity charged to the reuse",
            "source": "WBCSD (2023) Guidance on Avoided Emissions; GHG Protocol Scope 2 (2015)",
            "estimate": True,
        },
        {
            "name": "KPIs",
            "value": "PUE excludes upgrade-only heat-pump electricity; ERF reused energy = heat "
            "delivered - heat-pump electricity",
            "source": "ISO/IEC 30134-2, -6; The Green Grid WP#29 (ERE); EnEfG section 11",
            "estimate": False,
        },
        {
            "name": "prices",
            "value": f"electricity {t.electricity_eur_per_kwh} EUR/kWh, heat sale "
            f"{t.heat_sale_eur_per_kwh} EUR/kWh, backup fuel {t.backup_fuel_eur_per_kwh} EUR/kWh, "
            f"opex {t.opex_eur_per_year} EUR/a, discount rate {t.discount_rate_fraction}",
            "source": "site file contract.tariffs",
            "estimate": True,
        },
        {
            "name": "economic lifetime",
            "value": f"{economics.LIFETIME_YEARS} years",
            "source": "estimate; VDI 2067-1 service lives of pumps, exchangers, tanks",
            "estimate": True,
        },
        {
            "name": "heat exchanger approach (fit verdict)",
            "value": f"{matrix.HX_APPROACH_K} K",
            "source": "estimate: plate heat exchangers run at 2-5 K approach",
            "estimate": True,
        },
        {
            "name": "fit thresholds",
            "value": f"temperature share {matrix.TEMP_SHARE_MINOR}/{matrix.TEMP_SHARE_MAJOR}, "
            f"summer/winter {matrix.SEASON_RATIO_MINOR}, size {matrix.SIZE_RATIO_MINOR}/"
            f"{matrix.SIZE_RATIO_MAJOR}, reuse {matrix.REUSE_FRACTION_MINOR}/"
            f"{matrix.REUSE_FRACTION_MAJOR}, tolerance {matrix.TOLERANCE_MINOR_H} h",
            "source": "planning judgement (heatreuse.planning.matrix)",
            "estimate": True,
        },
        {
            "name": "compared customers",
            "value": "default customers sized so their mean demand equals the recoverable heat",
            "source": "heatreuse.simulation.demand.DEFAULT_CUSTOMER_TEMPLATES (sources in its "
            "comments)",
            "estimate": True,
        },
        {
            "name": "backup reject model",
            "value": "no customer; dry cooler of the site (or one sized to nameplate x capture); "
            "capex = heat-exchanger tie-in only",
            "source": "heatreuse.planning.compare",
            "estimate": True,
        },
    ]
    for name, value in asdict(ASSUMPTIONS).items():
        rows.append(
            {
                "name": f"demand model: {name}",
                "value": value,
                "source": "heatreuse.simulation.demand.DemandAssumptions (sources in its "
                "docstring)",
                "estimate": True,
            }
        )
    return rows


#: Figures that are estimates, and why (shown in summary and report).
ESTIMATES: dict[str, str] = {
    "heat_demand_kwh": "modelled from physics and a typical weather year, not metered",
    "heat_delivered_kwh": "simulated, not metered",
    "avoided_emissions_kg": "simulated heat and published factors (conservative method)",
    "capex_eur": "unit prices from the site file",
    "opex_eur_per_year": "price from the site file",
    "energy_cost_eur_per_year": "simulated electricity at the site file's price",
    "heat_revenue_eur_per_year": "simulated heat at the site file's price",
    "payback_years": "simple payback on estimated money figures",
    "npv_eur": "constant cash flow, no escalation",
}


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python, tuples -> lists."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    return value


def build_summary(
    site: Site,
    weather: pd.DataFrame,
    result: SimulationResult,
    *,
    year: int | None,
    profiles: list[DemandProfile],
    comparison: list[ModelRun],
    sweep: SweepResult | None,
) -> dict[str, Any]:
    """The summary dict (units in keys); see the module docstring."""
    totals = result.totals()
    figures = study_figures(site, totals, site_capex(site))
    index = pd.DatetimeIndex(result.frame.index)
    end = index[-1] + pd.Timedelta(seconds=result.step_s)
    summary: dict[str, Any] = {
        "heatreuse_version": __version__,
        "generated_at_utc": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "site_id": site.id,
        "site_name": site.site.name,
        "customer_kind": site.customer.kind,
        "customer_name": site.customer.name,
        "weather_source": str(weather.attrs.get("source", "")),
        "weather_year": year if year is not None else int(index[len(index) // 2].year),
        "period_start_utc": index[0].isoformat(),
        "period_end_utc": end.isoformat(),
        "step_s": result.step_s,
    }
    summary.update(totals)
    summary.update(figures)
    summary["capex_breakdown_eur"] = site_capex(site).as_dict()
    summary["emission_factors"] = emission_factor_sources(site)
    summary["matrix"] = [p.as_dict() for p in profiles]
    own = next(p for p in profiles if p.is_site_customer)
    summary["fit_verdict"] = own.fit.verdict
    summary["fit_reasons"] = [r.text for r in own.fit.reasons]
    if comparison:
        summary["comparison"] = [r.row for r in comparison]
    if sweep is not None:
        summary["sweep"] = sweep.summary()
    summary["assumptions"] = assumptions(site, weather)
    summary["estimates"] = ESTIMATES
    return _clean(summary)  # type: ignore[no-any-return]


def run_study(
    site: Site,
    out_dir: Path,
    *,
    weather: str | None = None,
    step_s: int | None = None,
    compare_models: bool = False,
    sweeps: list[str] | None = None,
    sweep_axes: Mapping[str, Any] | None = None,
    year: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> StudyResult:
    """Run the feasibility study and write its files to ``out_dir``.

    Parameters
    ----------
    site
        The site.
    out_dir
        Output folder (created if missing).
    weather
        Weather spec (``pvlib:...``, ``dwd-try:NN``, a path); default the site's
        ``location.weather``.
    step_s
        Step [s]; default 60 s for the main run, hourly for sweeps.
    compare_models
        Also build the matrix for every customer kind and compare the five reuse models.
    sweeps, sweep_axes
        ``PARAM=START:STOP:STEP`` strings, or already parsed axes.
    year
        Calendar year the typical year is stamped onto (default 2025).
    workers
        Sweep worker processes (default: local cores).
    progress
        Sweep progress callback ``(done, total)``.

    Returns
    -------
    StudyResult
    """
    axes = dict(sweep_axes) if sweep_axes is not None else parse_sweep_specs(sweeps or [])
    main_step = step_s or DEFAULT_STEP_S
    sweep_step = step_s or DEFAULT_SWEEP_STEP_S
    if axes:
        check_applicable(site, axes)
    wx = load_study_weather(site, weather, year)
    index = _study_index(wx, main_step)

    kinds = list(CUSTOMER_KINDS) if compare_models else []
    demands = kind_demands(site, wx, kinds, index)
    by_kind: dict[str, KindDemand] = {kd.kind: kd for kd in demands}
    own = by_kind[site.customer.kind]

    inputs = prepare(site, own.demand, main_step)
    result = result_from_outputs(inputs, run_kernel(inputs))

    comparison: list[ModelRun] = []
    if compare_models:
        comparison = compare_mod.compare_models(site, by_kind, step_s=main_step, site_result=result)
    totals_by_kind: dict[str, dict[str, float]] = {site.customer.kind: result.totals()}
    for run in comparison:
        if run.model != "backup_reject":
            totals_by_kind[run.model] = run.totals
    profiles = demand_matrix(site, demands, totals_by_kind)

    sweep: SweepResult | None = None
    if axes:
        if sweep_step == main_step:
            sweep_demand, sweep_inputs = own.demand, inputs
        else:
            sweep_demand = customer_demand(site, wx, _study_index(wx, sweep_step))
            sweep_inputs = prepare(site, sweep_demand, sweep_step)
        sweep = run_sweep(
            site,
            sweep_demand,
            axes,
            step_s=sweep_step,
            workers=workers,
            progress=progress,
            inputs=sweep_inputs,
        )

    summary = build_summary(
        site, wx, result, year=year, profiles=profiles, comparison=comparison, sweep=sweep
    )
    hourly = hourly_frame(result, own.demand)
    study = StudyResult(summary, result, hourly, profiles, comparison, sweep)
    paths = write_outputs(study, site, Path(out_dir))
    return StudyResult(summary, result, hourly, profiles, comparison, sweep, paths)


def write_outputs(study: StudyResult, site: Site, out_dir: Path) -> dict[str, Path]:
    """Write summary.json, hourly.parquet, report.html (and sweep files) to ``out_dir``."""
    from heatreuse.planning.report import render_report, render_sweep_page

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SimulationError(f"--out {str(out_dir)!r}: cannot create the folder: {exc}") from None
    paths = {
        "summary": out_dir / "summary.json",
        "hourly": out_dir / "hourly.parquet",
        "report": out_dir / "report.html",
    }
    paths["summary"].write_text(
        json.dumps(study.summary, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    study.hourly.to_parquet(paths["hourly"])
    if study.sweep is not None:
        paths["sweep"] = out_dir / "sweep.parquet"
        paths["sweep_report"] = out_dir / "sweep.html"
        study.sweep.frame.to_parquet(paths["sweep"])
        paths["sweep_report"].write_text(render_sweep_page(site, study.sweep), encoding="utf-8")
    paths["report"].write_text(render_report(site, study), encoding="utf-8")
    return paths


__all__ = [
    "DEFAULT_STEP_S",
    "DEFAULT_SWEEP_STEP_S",
    "ESTIMATES",
    "REUSE_MODELS",
    "StudyResult",
    "assumptions",
    "build_summary",
    "hourly_frame",
    "load_study_weather",
    "parse_step_s",
    "run_study",
    "write_outputs",
]
