"""What ``heatreuse validate`` and ``heatreuse site show`` do, without typer.

:mod:`heatreuse.cli.site_cmds` registers these as typer commands; the console script
also runs them directly for the plain command lines ``heatreuse validate FILE`` and
``heatreuse site show FILE`` (:data:`heatreuse.cli.main.FAST_COMMANDS`), so those start
without importing typer (issue 16). Nothing here may import typer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from heatreuse.cli.output import Table, make_console
from heatreuse.errors import SiteConfigError

if TYPE_CHECKING:  # the model (pydantic) loads with the file
    from heatreuse.site import Site
    from heatreuse.site.template import TemplateCheck

console = make_console()


def validate_site(site_file: Path) -> None:
    """``heatreuse validate``: check a site file and its template; print one OK line.

    Raises
    ------
    SiteConfigError
        Every problem of the file, or every deviation from a required template item.
    """
    from heatreuse.site import load_site

    site = load_site(site_file)
    check = template_check(site, site_file) if site.template is not None else None
    console.print(
        f"[green]OK[/] {site_file}: site '{site.id}' ({site.site.name}), customer "
        f"'{site.customer.kind}', {site.compute.nameplate_it_power_w / 1000:g} kW IT nameplate"
    )
    if check is not None:
        print_template_check(check, site_file)


def show_site(site_file: Path) -> None:
    """``heatreuse site show``: print a readable summary of a site file."""
    from heatreuse.site import load_site

    site = load_site(site_file)
    for table in summary_tables(site):
        console.print(table)


def _kv_table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left", min_width=60)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in rows:
        table.add_row(key, value)
    return table


def summary_tables(site: Site) -> list[Table]:
    """Readable summary of a site as rich tables (what ``site show`` prints)."""
    c, p, cu, k = site.compute, site.plant, site.customer, site.contract
    it_w = c.nameplate_it_power_w
    tables = [
        _kv_table(
            f"Site {site.id}",
            [
                ("name", site.site.name),
                (
                    "location",
                    f"{site.location.name} ({site.location.latitude_deg:.3f}, "
                    f"{site.location.longitude_deg:.3f}), {site.location.timezone}",
                ),
                ("weather", site.location.weather),
                ("commissioning", str(site.site.commissioning_date or "not set")),
            ],
        ),
        _kv_table(
            "Compute",
            [
                (
                    "racks",
                    ", ".join(
                        f"{r.id} {r.count}x{r.nameplate_power_w / 1000:g} kW" for r in c.racks
                    ),
                ),
                ("IT nameplate", f"{it_w / 1000:g} kW"),
                ("utilisation", c.utilisation.kind),
                (
                    "cooling",
                    f"{c.cooling.architecture}, {c.cooling.heat_capture_fraction:.0%} "
                    f"captured to water, {c.cooling.coolant_supply_temp_c:g}/"
                    f"{c.cooling.coolant_return_temp_c:g} C (throttle above "
                    f"{c.cooling.max_coolant_return_temp_c:g} C)",
                ),
            ],
        ),
        _kv_table(
            "Thermal plant",
            [
                (
                    "heat exchanger",
                    f"UA {p.heat_exchanger.ua_w_per_k:g} W/K"
                    if p.heat_exchanger.ua_w_per_k
                    else f"effectiveness {p.heat_exchanger.effectiveness_fraction:g}",
                ),
                (
                    "buffer tank",
                    f"{p.buffer_tank.volume_m3:g} m3, {p.buffer_tank.layers} layers, "
                    f"max {p.buffer_tank.max_temp_c:g} C",
                ),
                (
                    "pumps",
                    ", ".join(
                        f"{x.id} ({x.role}, {x.rated_flow_m3_per_h:g} m3/h, {x.rated_power_w:g} W)"
                        for x in p.pumps
                    ),
                ),
                ("heat pump", f"{p.heat_pump.max_heat_w / 1000:g} kW" if p.heat_pump else "none"),
                (
                    "backup boiler",
                    f"{p.backup_boiler.capacity_w / 1000:g} kW {p.backup_boiler.fuel}"
                    if p.backup_boiler
                    else "none",
                ),
                (
                    "reject path",
                    f"dry cooler {p.heat_reject.dry_cooler_capacity_w / 1000:g} kW"
                    if p.heat_reject
                    else "none",
                ),
                ("pipe", f"{p.pipe.length_m:g} m, DN {p.pipe.inner_diameter_m * 1000:.0f} mm"),
            ],
        ),
        _kv_table(
            f"Heat customer ({cu.kind})",
            [
                ("name", cu.name),
                ("supply band", f"{cu.supply_band.min_temp_c:g}-{cu.supply_band.max_temp_c:g} C"),
                (
                    "operating hours",
                    "24/7"
                    if cu.operating_hours.always
                    else f"{cu.operating_hours.open_hours_per_week_h():g} h/week",
                ),
                ("interruption tolerance", f"{cu.interruption_tolerance_h:g} h"),
            ],
        ),
        _kv_table(
            "Contract",
            [
                (
                    "SLA",
                    f"{site.sla_band.min_temp_c:g}-{site.sla_band.max_temp_c:g} C for "
                    f"{k.sla.target_fraction:.2%} of operating time, period {k.sla.period}",
                ),
                (
                    "max interruption",
                    f"{k.sla.max_interruption_h:g} h" if k.sla.max_interruption_h else "none",
                ),
                (
                    "min heat per day",
                    f"{k.sla.min_heat_per_day_kwh:g} kWh"
                    if k.sla.min_heat_per_day_kwh is not None
                    else "none",
                ),
                (
                    "grid factor",
                    f"{k.emission_factors.grid.value_kg_per_kwh:g} kg/kWh "
                    f"({k.emission_factors.grid.source}, {k.emission_factors.grid.year})",
                ),
                (
                    "displaced fuel",
                    f"{k.emission_factors.displaced_fuel.value_kg_per_kwh:g} "
                    f"kg/kWh {k.emission_factors.displaced_fuel_kind}, reference efficiency "
                    f"{k.emission_factors.reference_efficiency_fraction:g}",
                ),
            ],
        ),
    ]
    o = site.ownership
    names = {x.id: x.name for x in o.people}
    raci = Table(title="Ownership (RACI)", title_justify="left", min_width=60)
    raci.add_column("activity", no_wrap=True)  # the row's name: never cut
    for col in ("R", "A", "C", "I"):
        raci.add_column(col)
    for activity in ("design_change", "maintenance_signoff", "automation_override"):
        e = getattr(o, activity)
        raci.add_row(
            activity,
            ", ".join(names[i] for i in e.responsible),
            names[e.accountable],
            ", ".join(names[i] for i in e.consulted),
            ", ".join(names[i] for i in e.informed),
        )
    for route in o.alarms:
        match = ", ".join(f"{k}={v}" for k, v in route.match.items()) or "all"
        raci.add_row(
            escape(f"alarms [{match}]"), ", ".join(names[i] for i in route.receivers), "", "", ""
        )
    tables.append(raci)
    return tables


def template_check(site: Site, site_file: Path) -> TemplateCheck | None:
    """Check a site against its template (``validate``); ``None`` without a template.

    Raises
    ------
    SiteConfigError
        A deviation from a required item: every deviation listed, errors first (exit 2).
    """
    from heatreuse.site.template import check_loaded_site

    check = check_loaded_site(site, site_file)
    if check is not None and check.errors:
        raise SiteConfigError(check.messages(str(site_file)))
    return check


def print_template_check(check: TemplateCheck, site_file: Path) -> None:
    """Print a passed template check: the template, the schedule, each warning."""
    own = "its own maintenance schedule" if check.own_schedule else "the template's schedule"
    console.print(
        f"follows {check.label}: no deviation from required items, {len(check.warnings)} from "
        f"recommended ones; {own}",
        highlight=False,
    )
    for line in check.messages(str(site_file)):
        console.print(f"warning: {line}", highlight=False, markup=False, soft_wrap=True)
