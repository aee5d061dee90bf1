"""``heatreuse ledger``, ``heatreuse kpi``, ``heatreuse export eed``, ``heatreuse report monthly``.

Commands
--------
``heatreuse ledger update SITE.yaml [--store URL] [--checkpoints DIR] [--key FILE]``
    Build the reuse ledger from the store (idempotent: only complete hours after the
    watermark; changed hours as corrections), seal the SLA periods that have closed
    (``sla_seal`` entries: verdict and evidence) and sign a checkpoint.
``heatreuse ledger export SITE.yaml --out DIR [--store URL]``
    Write the export folder that ``heatreuse verify DIR`` checks.
``heatreuse kpi SITE.yaml --period 2026-01|2026 [--store URL] [--json]``
    PUE (as is and EnEfG), ERF, ERE, REF, CUE, WUE, CER and the EnEfG targets.
``heatreuse export eed SITE.yaml --year 2026 --out DIR [--store URL]``
    EU EED data-centre report (JSON and CSV).
``heatreuse report monthly SITE.yaml --period 2026-01 --out DIR [--store URL]``
    The monthly report: one self-contained HTML page and a PDF.

Logic lives in :mod:`heatreuse.services.ledger`; this module only parses and prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from heatreuse.cli.options import SITE_ARG, STORE_OPT
from heatreuse.cli.output import Table, make_console

console = make_console()
ledger_app = typer.Typer(help="Reuse ledger: build from the store, export.", no_args_is_help=True)
export_app = typer.Typer(help="Regulatory exports (EU EED).", no_args_is_help=True)
report_app = typer.Typer(help="Reports (monthly performance review).", no_args_is_help=True)

CP_OPT = typer.Option(
    None,
    "--checkpoints",
    help="Checkpoint folder outside the database (default $HEATREUSE_HOME/checkpoints/<site>).",
)


@ledger_app.command("update")
def update_cmd(
    site_file: Path = SITE_ARG,
    store: str | None = STORE_OPT,
    checkpoints: Path | None = CP_OPT,
    key: Path | None = typer.Option(
        None, "--key", help="Ed25519 signing key (default $HEATREUSE_HOME/keys/<site>.key)."
    ),
    recheck_h: int = typer.Option(
        48, "--recheck-h", min=0, help="Already-ledgered hours re-checked for late data [h]."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Build the ledger from the store (idempotent) and sign a checkpoint."""
    from heatreuse.services.ledger import update_ledger
    from heatreuse.site import load_site

    site = load_site(site_file)
    result = update_ledger(
        site, store, checkpoint_dir=checkpoints, key_path=key, recheck_hours=recheck_h
    )
    if json_output:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    table = Table(title=f"ledger update {site.id}", show_header=False)
    table.add_column("item", style="bold")
    table.add_column("value")
    table.add_row("entries appended", str(result.appended))
    table.add_row("hourly intervals", str(result.intervals))
    table.add_row("corrections", str(result.corrections))
    table.add_row("config entries", ", ".join(result.config_entries) or "-")
    table.add_row("log size", str(result.tree_size))
    table.add_row("watermark (UTC)", str(result.watermark))
    table.add_row("checkpoint", str(result.checkpoint_path))
    table.add_row("root (base64)", str(result.root_hash_b64))
    for seal in result.seals:
        table.add_row(
            "SLA sealed",
            f"{seal['period']}: {seal['verdict']} (entry {seal['index']})",
        )
    for note in result.notes:
        table.add_row("note", note)
    console.print(table)


@ledger_app.command("export")
def export_cmd(
    site_file: Path = SITE_ARG,
    out: Path = typer.Option(..., "--out", help="Export folder (created)."),
    store: str | None = STORE_OPT,
    checkpoints: Path | None = CP_OPT,
) -> None:
    """Write entries, checkpoints, public key and totals for `heatreuse verify DIR`."""
    from heatreuse.services.ledger import export_ledger
    from heatreuse.site import load_site

    site = load_site(site_file)
    path = export_ledger(site, out, store, checkpoint_dir=checkpoints)
    console.print(f"ledger export written to {path}; check it with: heatreuse verify {path}")


def kpi_cmd(
    site_file: Path = SITE_ARG,
    period: str = typer.Option(..., "--period", help="2026 (year), 2026-01 (month), UTC."),
    store: str | None = STORE_OPT,
    checkpoints: Path | None = CP_OPT,
    json_output: bool = typer.Option(False, "--json", help="Print all figures as JSON."),
    csv_file: Path | None = typer.Option(
        None, "--csv", help="Also write all figures as CSV (key,value rows) to this file."
    ),
) -> None:
    """KPIs of a period from the ledger, with the EnEfG targets."""
    from heatreuse.ledger.kpis import kpi_csv
    from heatreuse.services.ledger import kpi_report
    from heatreuse.site import load_site

    site = load_site(site_file)
    result = kpi_report(site, period, store, checkpoint_dir=checkpoints)
    if csv_file is not None:
        csv_file.write_text(kpi_csv(result), encoding="utf-8")
    if json_output:
        typer.echo(json.dumps(result, indent=2, allow_nan=False))
        return
    basis = result["kpi_basis"]
    table = Table(
        title=f"KPIs {site.id} {result['period']} (UTC; {basis['hours_used']} of "
        f"{basis['hours_in_period']} h, {basis['hours_with_estimates']} with estimates)"
    )
    for col in ("KPI", "value", "unit", "note"):
        table.add_column(col)
    for name, k in result["kpis"].items():
        v = k.get("value")
        table.add_row(
            name, "missing" if v is None else f"{v:.4f}", k.get("unit", ""), str(k.get("note", ""))
        )
    console.print(table)
    enefg = result["enefg"]
    t2 = Table(title=f"EnEfG section 11 ({enefg.get('category')} site)")
    for col in ("KPI", "target", "value", "status", "due from"):
        t2.add_column(col)
    for t in enefg.get("targets", []):
        v = t["value"]
        t2.add_row(
            t["kpi"],
            f"{t['comparison']} {t['target']}",
            "n/a" if v is None else f"{v:.4f}",
            t["status"],
            t["due_from"],
        )
    console.print(t2)
    console.print(str(enefg.get("scope_note", "")))
    totals = result["totals"]
    heat = totals.get("quantities", {}).get("heat_delivered")
    if heat:
        console.print(
            f"heat delivered {heat['kwh']:.1f} kWh (metered {heat['metered_kwh']:.1f}, "
            f"estimated {heat['estimated_kwh']:.1f}); avoided CO2 "
            f"{totals['avoided_co2']['kg']:.1f} kg; method "
            f"{', '.join(result['method_versions'])}"
        )


@export_app.command("eed")
def eed_cmd(
    site_file: Path = SITE_ARG,
    year: int = typer.Option(..., "--year", help="Reporting year (calendar year, UTC)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    store: str | None = STORE_OPT,
    checkpoints: Path | None = CP_OPT,
) -> None:
    """EU EED data-centre report fields (JSON and CSV); missing ones listed with why."""
    from heatreuse.services.ledger import export_eed
    from heatreuse.site import load_site

    site = load_site(site_file)
    json_path, csv_path = export_eed(site, year, out, store, checkpoint_dir=checkpoints)
    console.print(f"EED report written: {json_path} and {csv_path}")


@report_app.command("monthly")
def monthly_cmd(
    site_file: Path = SITE_ARG,
    period: str = typer.Option(..., "--period", help="Month YYYY-MM (UTC)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    store: str | None = STORE_OPT,
    checkpoints: Path | None = CP_OPT,
) -> None:
    """The monthly performance report: self-contained HTML and PDF."""
    from heatreuse.services.ledger import monthly_report
    from heatreuse.site import load_site

    site = load_site(site_file)
    html_path, pdf_path = monthly_report(site, period, out, store, checkpoint_dir=checkpoints)
    console.print(f"monthly report written: {html_path} and {pdf_path}")


def register(app: typer.Typer) -> None:
    """Register ``ledger``, ``kpi``, ``export`` and ``report`` on the root app."""
    app.add_typer(ledger_app, name="ledger")
    app.command("kpi")(kpi_cmd)
    app.add_typer(export_app, name="export")
    app.add_typer(report_app, name="report")
