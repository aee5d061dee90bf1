"""``heatreuse plan``: the feasibility study of a site (logic in :mod:`heatreuse.services.plan`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from heatreuse.cli.output import Table, make_console

if TYPE_CHECKING:  # planning (pandas, numba) is imported by the command that uses it
    from rich.progress import Progress

    from heatreuse.planning import StudyResult

console = make_console()


class _SweepBar:
    """A rich progress bar started on the first callback (after the workers are up)."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._progress is None:
            from rich.progress import (  # only a sweep shows a bar
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("site-years"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("sweep", total=total)
        self._progress.update(self._task, completed=done)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.0%}"


def _num(x: Any, digits: int = 0) -> str:
    return "n/a" if x is None else f"{float(x):,.{digits}f}"


def _print_study(study: StudyResult) -> None:
    s = study.summary
    verdict = s["fit_verdict"]
    color = {"good": "green", "fair": "yellow", "poor": "red"}.get(verdict, "white")
    console.print(
        f"[bold]{s['site_id']}[/]: {s['customer_kind']} '{s['customer_name']}' -> fit "
        f"[bold {color}]{verdict}[/]"
    )
    for reason in s["fit_reasons"]:
        console.print(f"  - {reason}")

    t = Table(title="Key figures (one year; money, CO2 and demand are estimates)")
    t.add_column("figure")
    t.add_column("value", justify="right")
    for key, label, fmt in (
        ("heat_demand_kwh", "heat demand [kWh]", _num),
        ("heat_delivered_kwh", "waste heat delivered [kWh]", _num),
        ("demand_coverage_fraction", "demand covered", _pct),
        ("heat_rejected_kwh", "heat rejected [kWh]", _num),
        ("backup_heat_kwh", "backup heat [kWh]", _num),
        ("pipe_loss_kwh", "pipe losses [kWh]", _num),
        ("pue", "PUE", lambda x: _num(x, 3)),
        ("erf", "ERF", lambda x: _num(x, 3)),
        ("avoided_emissions_kg", "avoided CO2 [kg]", _num),
        ("capex_eur", "capex [EUR]", _num),
        ("opex_eur_per_year", "opex [EUR/a]", _num),
        ("payback_years", "simple payback [years]", lambda x: "never" if x is None else _num(x, 1)),
    ):
        t.add_row(escape(label), fmt(s.get(key)))  # "[kWh]" is a unit, not rich markup
    console.print(t)

    if len(study.matrix) > 1:
        m = Table(title="Heat-demand matrix")
        for head in ("customer", "annual [MWh]", "needs p95 [C]", "open [h/wk]", "verdict", "key"):
            m.add_column(escape(head))
        for p in study.matrix:
            reason = p.fit.key_reason()
            m.add_row(
                p.kind + (" (site)" if p.is_site_customer else ""),
                _num(p.heat_demand_kwh / 1000.0),
                _num(p.required_supply_temp_p95_c),
                _num(p.operating_hours_per_week_h),
                p.fit.verdict,
                reason.text if reason else "",
            )
        console.print(m)

    if study.comparison:
        c = Table(title="Reuse models compared")
        for col in (
            "model",
            "delivered [MWh]",
            "covered",
            "rejected [MWh]",
            "backup [MWh]",
            "ERF",
            "PUE",
            "CO2 [t]",
            "capex [EUR]",
            "payback [a]",
        ):
            c.add_column(escape(col))
        for run in study.comparison:
            r = run.row
            c.add_row(
                r["label"],
                _num(r["heat_delivered_kwh"] / 1000.0),
                _pct(r["demand_coverage_fraction"]),
                _num(r["heat_rejected_kwh"] / 1000.0),
                _num(r["backup_heat_kwh"] / 1000.0),
                _num(r["erf"], 3),
                _num(r["pue"], 3),
                _num((r["avoided_emissions_kg"] or 0.0) / 1000.0, 1),
                _num(r["capex_eur"]),
                "never" if r["payback_years"] is None else _num(r["payback_years"], 1),
            )
        console.print(c)
        console.print("key risks:")
        for run in study.comparison:
            console.print(f"  - {run.row['label']}: {run.row['key_risk']}")

    if study.sweep is not None:
        sw = study.sweep
        console.print(
            f"sweep: {len(sw.frame)} points ({sw.site_years:.0f} site-years) at {sw.step_s} s "
            f"in {sw.elapsed_s:.1f} s on {sw.workers} worker(s)"
        )
        f = Table(title=f"Frontier: {sw.benefit_column} vs {sw.cost_column}")
        for name in sw.axes:
            f.add_column(name)
        f.add_column("covered")
        f.add_column("capex [EUR]")
        for _, row in sw.frontier.iterrows():
            f.add_row(
                *(f"{row[n]:g}" for n in sw.axes),
                _pct(row["demand_coverage_fraction"]),
                _num(row["capex_eur"]),
            )
        console.print(f)

    for name, path in study.paths.items():
        console.print(f"wrote {name}: {escape(str(path))}")


def plan(
    site_file: Path = typer.Argument(..., help="The site YAML file.", show_default=False),
    out: Path = typer.Option(..., "--out", help="Output folder for summary.json, report.html..."),
    weather: str | None = typer.Option(
        None,
        "--weather",
        help="Weather: pvlib:723170TYA.CSV, dwd-try:NN, or an EPW/TMY3/CSV path "
        "(default: the site's location.weather).",
    ),
    step: str | None = typer.Option(
        None, "--step", help="Step, e.g. 60s, 15min, 1h (default 60s; sweeps hourly)."
    ),
    compare: bool = typer.Option(
        False, "--compare-models", help="Compare the five reuse models; matrix for every kind."
    ),
    sweep: list[str] | None = typer.Option(
        None,
        "--sweep",
        help="PARAM=START:STOP:STEP, repeatable (e.g. tank_volume_m3=2:40:2).",
    ),
    year: int | None = typer.Option(
        None,
        "--year",
        help="Calendar year the typical year is stamped onto (default: the year of the "
        "site's commissioning_date, else 2025).",
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Sweep worker processes (default: local cores)."
    ),
) -> None:
    """Feasibility study: demand matrix, simulation, reuse models, sizing sweep, report."""
    from heatreuse.services.plan import plan_site

    bar = _SweepBar()
    try:
        study = plan_site(
            site_file,
            out,
            weather=weather,
            step=step,
            compare_models=compare,
            sweeps=sweep or [],
            year=year,
            workers=workers,
            progress=bar,
        )
    finally:
        bar.close()
    _print_study(study)


def plan_fleet(
    fleet_file: Path = typer.Argument(
        ..., help="The fleet YAML file (candidate site files, sweeps).", show_default=False
    ),
    out: Path = typer.Option(..., "--out", help="Output folder: fleet.parquet, fleet.html..."),
    sweep: list[str] | None = typer.Option(
        None,
        "--sweep",
        help="PARAM=START:STOP:STEP, repeatable; every site uses this grid instead of the file's.",
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="A running Dask scheduler, tcp://HOST:PORT (default: a LocalCluster on this "
        "machine's cores).",
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="LocalCluster worker processes (default: local cores)."
    ),
    rank_by: str | None = typer.Option(
        None, "--rank-by", help="Ranking metric instead of the file's ranking.metric."
    ),
) -> None:
    """Plan a fleet: every candidate site x sizing point as a Dask task, ranked."""
    from heatreuse.planning.fleet import RANK_METRICS
    from heatreuse.services.fleet_plan import plan_fleet as run

    bar = _SweepBar()
    try:
        result, paths = run(
            fleet_file,
            out,
            sweeps=sweep or [],
            scheduler=scheduler,
            workers=workers,
            metric=rank_by,
            progress=bar,
        )
    finally:
        bar.close()
    fleet = result.fleet
    metric = fleet.metric
    console.print(
        f"[bold]{fleet.id}[/]: {len(fleet.sites)} sites, {len(result.frame)} points "
        f"({result.site_years:.0f} site-years at {fleet.step_s} s) in {result.elapsed_s:.1f} s "
        f"on {result.workers} worker(s) ({result.executor}), "
        f"{result.site_years / max(result.elapsed_s, 1e-9):.1f} site-years/s"
    )
    console.print(f"ranked by {metric}: {RANK_METRICS[metric].description}")
    t = Table(title="Best point of each site")
    heads = ("rank", "site_id", "tank_volume_m3", "it_power_kw", metric, "sla_in_band", "sla_ok")
    for head in heads:
        t.add_column(head)
    digits = 3 if metric.endswith("fraction") or metric == "erf" else 0
    for _, r in result.frame[result.frame["site_best"]].iterrows():
        in_band = float(r["sla_in_band_fraction"])
        t.add_row(
            str(int(r["rank"])),
            str(r["site_id"]),
            _num(r["tank_volume_m3"], 1),
            _num(r["it_power_kw"], 0),
            _num(r[metric], digits),
            "unknown" if math.isnan(in_band) else f"{in_band:.1%}",
            "yes" if r["sla_feasible"] else "no",
        )
    console.print(t)
    for name, path in paths.items():
        console.print(f"wrote {name}: {path}")


def register(app: typer.Typer) -> None:
    """Add ``plan`` and ``plan-fleet`` to the root app."""
    app.command("plan")(plan)
    app.command("plan-fleet")(plan_fleet)
