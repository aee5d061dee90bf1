"""``heatreuse fleet status|kpi``: many sites in one store.

``heatreuse fleet status [SITE.yaml ...] [--store URL] [--stale-after-min M] [--now ISO] [--json]``
    Per site: age of the newest reading (older than ``--stale-after-min``: "no data
    since ..."), heat delivered today and this month, SLA state of the current month
    (verdict and data coverage; the seal when sealed), alerts firing, age of the newest
    signed ledger checkpoint. Sites in the store without a site file are listed too,
    with what can be said without one (:mod:`heatreuse.services.fleet`).
``heatreuse fleet kpi SITE.yaml ... --period 2026-01 [--store URL] [--json]``
    Fleet totals summed from the sites' ledger energies; PUE, ERF, ERE, CUE recomputed
    from the sums (never averaged over sites).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from heatreuse.cli.options import STORE_OPT
from heatreuse.cli.output import Table, make_console

console = make_console()
fleet_app = typer.Typer(help="Many sites in one store: status, KPIs.", no_args_is_help=True)

SITES_ARG = typer.Argument(None, help="Site YAML files of the fleet.", show_default=False)


def _load(files: list[Path] | None) -> list:  # type: ignore[type-arg]
    from heatreuse.services.fleet import check_site_ids
    from heatreuse.site import load_site

    paths = list(files or [])
    sites = [load_site(p) for p in paths]
    check_site_ids(sites, [str(p) for p in paths])
    return sites


def _num(x: float | None, fmt: str = "{:,.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def _age(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


@fleet_app.command("status")
def status_cmd(
    site_files: list[Path] | None = SITES_ARG,
    store: str | None = STORE_OPT,
    stale_after_min: float = typer.Option(
        15.0, "--stale-after-min", help="A site without a reading for this long reads 'no data'."
    ),
    now: str | None = typer.Option(
        None,
        "--now",
        help="Reference time (ISO 8601 with offset); default now.",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Per site: last reading, heat today/month, SLA state, alerts firing, checkpoint age."""
    from heatreuse.errors import HeatreuseError
    from heatreuse.services.fleet import fleet_status
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.twin import parse_time_utc

    if stale_after_min <= 0:
        raise HeatreuseError(f"--stale-after-min: expected > 0, got {stale_after_min}")
    sites = _load(site_files)
    at = parse_time_utc(now, "--now") if now is not None else None
    with opened_store(store) as opened:
        res = fleet_status(sites, opened, now=at, stale_after_s=stale_after_min * 60.0)
    if as_json:
        typer.echo(json.dumps(res, indent=2, sort_keys=True))
        return
    table = Table(title=f"Fleet at {res['now']}", title_justify="left")
    for col in ("site", "health", "data", "heat today kWh", "heat month kWh", "SLA", "alerts"):
        table.add_column(col, justify="right" if "kWh" in col else "left")
    table.add_column("checkpoint age", justify="right")
    colours = {"ok": "green", "breached": "red", "no data": "red", "alerting": "yellow"}
    for r in res["sites"]:
        sla = r["sla"]
        sla_text = (
            "no site file"
            if sla is None
            else f"{sla['period']} {sla['verdict']}"
            + (
                ""
                if sla["data_coverage_fraction"] is None
                else f" ({sla['data_coverage_fraction'] * 100:.0f} % data)"
            )
            + (" sealed" if sla["sealed"] else "")
        )
        cp = r["checkpoint"]
        table.add_row(
            r["site_id"],
            f"[{colours.get(r['health'], 'yellow')}]{r['health']}[/]",
            r["data"]
            + (
                "" if r["last_reading_age_s"] is None else f" ({_age(r['last_reading_age_s'])} ago)"
            ),
            _num(r["heat_today_kwh"]),
            _num(r["heat_month_kwh"]),
            sla_text,
            ", ".join(r["alert_rules_firing"]) or "0",
            "no checkpoint" if cp is None else _age(cp["age_s"]),
        )
    console.print(table)


@fleet_app.command("kpi")
def kpi_cmd(
    site_files: list[Path] | None = SITES_ARG,
    period: str = typer.Option(..., "--period", help="YYYY, YYYY-MM or YYYY-MM-DD (UTC)."),
    store: str | None = STORE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Fleet KPIs: site energies summed, ratios recomputed from the sums."""
    from heatreuse.errors import HeatreuseError
    from heatreuse.services.fleet import fleet_kpi

    sites = _load(site_files)
    if not sites:
        raise HeatreuseError("fleet kpi: expected at least one SITE.yaml (the fleet's sites)")
    res = fleet_kpi(sites, period, store)
    if as_json:
        typer.echo(json.dumps(res, indent=2, sort_keys=True))
        return
    table = Table(title=f"Fleet KPIs {res['period']} (UTC)", title_justify="left")
    for col in ("site", "E_IT kWh", "E_DC kWh", "E_reuse kWh", "PUE", "ERF", "ERE"):
        table.add_column(col, justify="left" if col == "site" else "right")
    for r in res["sites"]:
        if r["status"] != "ok":
            table.add_row(r["site_id"], f"[yellow]{r['status']}[/]", "", "", "", "", "")
            continue
        table.add_row(
            r["site_id"],
            _num(r["it_energy_kwh"]),
            _num(r["total_energy_kwh"]),
            _num(r["reused_energy_kwh"]),
            _num(r["pue"], "{:.3f}"),
            _num(r["erf"], "{:.3f}"),
            _num(r["ere"], "{:.3f}"),
        )
    t, k = res["totals"], res["kpis"]
    table.add_row(
        "[bold]fleet[/]",
        _num(t["it_energy_kwh"]),
        _num(t["total_energy_kwh"]),
        _num(t["reused_energy_kwh"]),
        _num(k["pue"]["value"], "{:.3f}"),
        _num(k["erf"]["value"], "{:.3f}"),
        _num(k["ere"]["value"], "{:.3f}"),
    )
    console.print(table)
    console.print("fleet ratios from the summed energies, not averaged over sites", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``fleet status|kpi`` to the root app."""
    app.add_typer(fleet_app, name="fleet")
