"""``heatreuse demo``: the end-to-end demo on the embedded default (SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from heatreuse.services.demo import DEMO_PERIOD, DEMO_SCENARIO, run_demo

console = Console()


def _q(kpis: dict[str, Any], name: str) -> float | None:
    quantity = kpis.get("totals", {}).get("quantities", {}).get(name)
    return None if quantity is None else float(quantity["kwh"])


def _fmt(value: float | None, unit: str, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f} {unit}".strip()


def demo(
    out: Path = typer.Option(
        Path("demo-out"), "--out", help="Folder for everything the demo writes."
    ),
    site_file: Path = typer.Option(None, "--site", help="Site file (default: examples/pool.yaml)."),
) -> None:
    """Plan -> run -> prove: a month of the pool site through twin, ingest, ledger, SLA, report."""
    with console.status("running the demo ...") as status:
        result = run_demo(out, site_file, step=lambda msg: status.update(msg))
    sla = result.sla
    kpis = result.kpis
    k = kpis.get("kpis", {})
    totals = kpis.get("totals", {})
    co2 = totals.get("avoided_co2", {})
    table = Table(
        title=f"heatreuse demo: site {result.site_id}, {DEMO_PERIOD}, drill {DEMO_SCENARIO}",
        title_justify="left",
        show_header=False,
    )
    table.add_column("what", style="bold")
    table.add_column("value")
    ing = result.ingest
    table.add_row(
        "readings",
        f"{result.readings_written:,} written by the twin, "
        f"{ing['accepted']:,} accepted, {ing['duplicates']:,} duplicates, "
        f"{ing['quarantined_total']:,} quarantined",
    )
    table.add_row("IT electricity", _fmt(_q(kpis, "it_electricity"), "kWh"))
    table.add_row(
        "heat delivered",
        _fmt(_q(kpis, "heat_delivered"), "kWh")
        + f" (meter uncertainty +/- {_fmt(totals.get('heat_delivered_uncertainty_kwh'), 'kWh')})",
    )
    table.add_row("backup heat", _fmt(_q(kpis, "backup_heat"), "kWh"))
    table.add_row("heat rejected", _fmt(_q(kpis, "heat_rejected"), "kWh"))
    table.add_row(
        "avoided CO2",
        _fmt(co2.get("kg"), "kg") + f", conservative "
        f"{_fmt(co2.get('conservative_kg'), 'kg')}; method "
        + ", ".join(kpis.get("method_versions", []) or ["?"]),
    )
    table.add_row(
        "PUE / ERF / ERE",
        " / ".join(_fmt(k.get(n, {}).get("value"), "", 3) for n in ("pue", "erf", "ere")),
    )
    if sla:
        att = sla.get("attainment_fraction")
        interruptions = sla.get("interruptions", [])
        longest = max((i.get("duration_min", 0) for i in interruptions), default=0)
        table.add_row(
            "SLA attainment",
            "n/a"
            if att is None
            else f"{att:.3%} (target {sla['target_fraction']:.1%}), "
            f"{len(interruptions)} interruption(s), longest {longest / 60:.1f} h",
        )
        cov = sla.get("data_coverage_fraction")
        sealed = sla.get("sealed") or {}
        table.add_row(
            "SLA verdict",
            f"{sla.get('verdict', 'unknown')}, data coverage "
            + ("n/a" if cov is None else f"{cov:.1%}")
            + (f"; sealed in the ledger, entry {sealed['index']}" if sealed else "; not sealed"),
        )
        breaches = sla.get("breaches", [])
        table.add_row(
            "SLA breaches",
            "; ".join(
                str(b.get("detail") or b.get("kind")) if isinstance(b, dict) else str(b)
                for b in breaches
            )
            or "none",
        )
    table.add_row(
        "ledger",
        f"{result.ledger['tree_size']} entries, checkpoint {result.ledger['checkpoint_path']}",
    )
    table.add_row(
        "verify",
        ("[green]OK[/] " if result.verify_ok else "[red]FAILED[/] ") + result.verify_summary,
    )
    console.print(table)
    console.print(
        f"monthly report : {result.report_html}\n"
        f"                 {result.report_pdf}\n"
        f"SLA report     : {result.sla_json}\n"
        f"ledger export  : {result.export_dir}  (check: heatreuse verify "
        f"{result.export_dir})\n"
        f"store          : sqlite:///{result.out_dir / 'heatreuse.db'}"
    )
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings_s.items())
    console.print(f"[dim]timings: {timing}[/]")
    if not result.verify_ok:
        raise typer.Exit(3)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root app."""
    app.command("demo")(demo)
