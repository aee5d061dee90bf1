"""``heatreuse sla``: the heat-delivery SLA report and OpenSLO v1 export/import.

Commands
--------
``heatreuse sla report SITE.yaml --period 2026-01 [--store URL] [--json] [--fail-on-breach]``
    Evaluate the SLA from the store. Periods are in the site's local time zone:
    ``YYYY-MM`` (calendar month; the contract year to date follows when the SLA
    period is ``contract_year`` or ``both``), ``YYYY`` (contract year starting
    that year) or ``YYYY-MM-DD..YYYY-MM-DD`` (local days, inclusive). Prints
    tables; ``--json`` prints the figures of the requested period as one JSON
    object on stdout (keys with units, e.g. ``valid_min``,
    ``attainment_fraction``, ``burn_rate_1h``, ``interruptions``, ``breaches``)
    with the contract-year report under ``contract_year`` (or null).
    Each period has a verdict: ``met``, ``breached`` (the data present proves
    a breach) or ``unknown`` (too little data to say: ``data_coverage_fraction``
    below ``contract.sla.min_data_coverage_fraction``, the period before
    monitoring started, or broken only by missing data counted as bad);
    ``breached`` beside it says what the contract's terms count. A sealed period
    (``heatreuse ledger update`` seals closed ones) is read from its seal in the
    ledger; when recomputing it from the store now differs, the report says so.
    Exit code 0 also when the SLA is breached (a report is not an error);
    with ``--fail-on-breach`` a reported period whose verdict is ``breached``
    exits 4.
``heatreuse sla seal SITE.yaml --period 2026-01|2026 [--reseal --reason TEXT]``
    Seal one closed period into the ledger now (``ledger update`` seals closed
    periods by itself once data came after their end, or 48 h after it). A
    period already sealed is re-sealed only with ``--reseal --reason``: a new
    entry naming the old one; refused when the store holds less data for the
    period than the seal (data deleted), nothing appended when the result is the
    same.
``heatreuse sla export SITE.yaml [--out FILE]``
    The SLA as OpenSLO v1 YAML (stdout or FILE).
``heatreuse sla import FILE.yaml``
    Read OpenSLO v1 YAML and print the equivalent ``contract.sla`` section.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from heatreuse.cli.options import SITE_ARG, STORE_OPT
from heatreuse.cli.output import Table, make_console
from heatreuse.errors import SLABreachedError, SLAError

if TYPE_CHECKING:  # the SLA engine (pandas) is imported by the commands that use it
    from heatreuse.sla import SlaReport

#: Exit code of ``sla report --fail-on-breach`` when a reported period is breached.
EXIT_BREACH = SLABreachedError.exit_code

console = make_console()
sla_app = typer.Typer(
    help="Heat-delivery SLA: report from the store and its seals, seal, OpenSLO v1 export/import.",
    no_args_is_help=True,
)


NOW_OPT = typer.Option(
    None,
    "--now",
    help="Evaluation time, ISO 8601 with offset (default: the current time).",
    show_default=False,
)


def _parse_now(text: str | None) -> dt.datetime | None:
    """``--now`` as an aware datetime; a naive or unreadable one is a user error."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise SLAError(
            f"--now: expected ISO 8601 with offset (2026-02-01T00:00Z), got {text!r}"
        ) from None
    if when.tzinfo is None:
        raise SLAError(f"--now: {text!r} has no UTC offset; add 'Z' or '+01:00' (never guessed)")
    return when


def _pct(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x * 100:.{digits}f} %"


def _num(x: float | None, fmt: str = ".2f") -> str:
    if x is None:
        return "n/a"
    return format(x, fmt)


def _summary_table(reports: list[SlaReport]) -> Table:
    first = reports[0]
    table = Table(
        title=f"SLA {first.site_id}: supply {first.band_min_temp_c:g}-{first.band_max_temp_c:g} C "
        f"({first.measured_point}, {first.slice_rule}), target {_pct(first.target_fraction)}",
        title_justify="left",
    )
    table.add_column("figure", style="bold")
    for r in reports:
        table.add_column(r.period_label + ("" if r.binding else " (info)"), justify="right")

    def row(name: str, values: list[str]) -> None:
        table.add_row(name, *values)

    row("period start (UTC)", [r.period_start.strftime("%Y-%m-%d %H:%M") for r in reports])
    row("evaluated until (UTC)", [r.evaluated_until.strftime("%Y-%m-%d %H:%M") for r in reports])
    row("valid min", [f"{r.valid_min:,}" for r in reports])
    row("good min", [f"{r.good_min:,}" for r in reports])
    row("bad min", [f"{r.bad_min:,}" for r in reports])
    counted = "counted bad" if first.missing_data == "bad" else "excluded"
    row(f"unknown min ({counted})", [f"{r.unknown_min:,}" for r in reports])
    row("excluded min: closed", [f"{r.excluded_closed_min:,}" for r in reports])
    row("excluded min: maintenance", [f"{r.excluded_maintenance_min:,}" for r in reports])
    if any(r.excluded_unmonitored_min for r in reports):
        row(
            "excluded min: unmonitored",
            [f"{r.excluded_unmonitored_min:,}" for r in reports],
        )
    row(
        "attainment",
        [
            (
                "[red]"
                if r.attainment_fraction is not None and r.attainment_fraction < r.target_fraction
                else ""
            )
            + _pct(r.attainment_fraction)
            for r in reports
        ],
    )
    row(
        "data coverage",
        [
            ("[yellow]" if _low(r) else "")
            + _pct(r.data_coverage_fraction, 2)
            + f" (>= {r.min_data_coverage_fraction:.0%})"
            for r in reports
        ],
    )
    row("error budget min (allowed)", [f"{r.error_budget_allowed_min:,.1f}" for r in reports])
    row("error budget min (used)", [f"{r.error_budget_used_min:,}" for r in reports])
    row(
        "error budget min (left)",
        [
            ("[red]" if r.error_budget_left_min < 0 else "")
            + f"{r.error_budget_left_min:,.1f} ({_pct(r.error_budget_left_fraction, 1)})"
            for r in reports
        ],
    )
    from heatreuse.sla.evaluate import BURN_WINDOWS_MIN

    for window in BURN_WINDOWS_MIN:  # a sealed report keeps none: n/a
        if any(r.burn_rates for r in reports):
            row(f"burn rate {window}", [_num(r.burn_rate(window)) for r in reports])
    row(
        "alert",
        [
            "[red]PAGE" if r.page_alert else ("[yellow]ticket" if r.ticket_alert else "none")
            for r in reports
        ],
    )
    row("interruptions", [str(len(r.interruptions)) for r in reports])
    row(
        "breaches (contract terms)",
        [("[red]" if r.breaches else "[green]") + str(len(r.breaches)) for r in reports],
    )
    row("verdict", [_verdict_text(r) for r in reports])
    row(
        "source",
        [f"sealed, entry {r.sealed.get('index')}" if r.sealed else "store, now" for r in reports],
    )
    return table


def _low(r: SlaReport) -> bool:
    cov = r.data_coverage_fraction
    return cov is not None and cov < r.min_data_coverage_fraction


def _verdict_text(r: SlaReport) -> str:
    colour = {"met": "green", "breached": "red"}.get(r.verdict, "yellow")
    label = r.verdict.upper() if r.verdict != "met" else "met" + ("" if r.complete else " so far")
    return f"[{colour}]{label}[/]"


def _interruption_table(r: SlaReport) -> Table:
    limit = f", max {r.max_interruption_h:g} h" if r.max_interruption_h else ""
    table = Table(title=f"Interruptions, {r.period_label}{limit}", title_justify="left")
    table.add_column("start (UTC)", no_wrap=True)
    table.add_column("end (UTC)", no_wrap=True)
    for col in ("duration [min]", "span [min]", "lowest [C]", "highest [C]", "no data [min]"):
        table.add_column(escape(col), justify="right")
    table.add_column("breach")
    for i in r.interruptions:
        table.add_row(
            i.start.strftime("%Y-%m-%d %H:%M"),
            i.end.strftime("%m-%d %H:%M"),
            str(i.duration_min),
            str(i.span_min),
            _num(i.min_temp_c, ".1f"),
            _num(i.max_temp_c, ".1f"),
            str(i.unknown_min),
            "[red]yes" if i.exceeds_max_interruption else "",
        )
    return table


def _breach_table(r: SlaReport) -> Table:
    table = Table(title=f"Breaches, {r.period_label}", title_justify="left")
    table.add_column("kind")
    table.add_column("detail")
    for b in r.breaches:
        table.add_row(b.kind, b.detail)
    return table


def report(
    site_file: Path = SITE_ARG,
    period: str = typer.Option(
        ...,
        "--period",
        help="YYYY-MM (local month), YYYY (contract year) or YYYY-MM-DD..YYYY-MM-DD.",
    ),
    store: str | None = typer.Option(
        None, "--store", help="Store URL (default: the embedded SQLite store)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON on stdout."),
    fail_on_breach: bool = typer.Option(
        False,
        "--fail-on-breach",
        help=f"Exit {EXIT_BREACH} when any reported period's verdict is breached.",
    ),
    now: str | None = NOW_OPT,
) -> None:
    """Evaluate the heat-delivery SLA from the store for a period."""
    from heatreuse.services.sla import sla_report
    from heatreuse.site import load_site

    site = load_site(site_file)
    reports = sla_report(site, store, period, now=_parse_now(now))
    if as_json:
        data = reports[0].to_dict()
        year = next((r for r in reports[1:] if r.period_kind == "contract_year"), None)
        data["contract_year"] = year.to_dict() if year is not None else None
        data["breached_any"] = any(r.breached for r in reports)
        data["verdict_breached_any"] = any(r.verdict == "breached" for r in reports)
        typer.echo(json.dumps(data, indent=2))
    else:
        console.print(_summary_table(reports))
        for r in reports:
            if r.interruptions and (r is reports[0] or len(r.interruptions) <= 20):
                console.print(_interruption_table(r))
            if r.breaches:
                console.print(_breach_table(r))
            if r.heat_method:
                console.print(f"[dim]{r.period_label}: daily heat from {r.heat_method}[/]")
            for m in r.maintenance:
                state = "excluded" if m.excluded else "[red]NOT excluded (announced too late)[/]"
                console.print(
                    f"maintenance {m.start:%Y-%m-%d %H:%M}..{m.end:%Y-%m-%d %H:%M} UTC, notice "
                    f"{m.notice_given_h:g} h of {m.notice_required_h:g} h: {state}"
                )
            for note in r.notes:
                console.print(f"[dim]{r.period_label}: {note}[/]")
        for r in reports:
            console.print(
                f"SLA {r.period_label}: verdict {_verdict_text(r)}, data coverage "
                f"{_pct(r.data_coverage_fraction, 2)}, attainment {_pct(r.attainment_fraction)}"
                + (" [red](contract terms broken)[/]" if r.breached else ""),
                highlight=False,
            )
            for reason in r.verdict_reasons:
                console.print(f"  {reason}", highlight=False, markup=False)
    breached = [r for r in reports if r.verdict == "breached"]
    if fail_on_breach and breached:
        raise SLABreachedError(
            "SLA breached (--fail-on-breach): "
            + "; ".join(
                f"{r.period_label}: " + ", ".join(sorted({b.kind for b in r.breaches}))
                for r in breached
            )
        )


def seal(
    site_file: Path = SITE_ARG,
    period: str = typer.Option(
        ..., "--period", help="YYYY-MM (local month) or YYYY (contract year starting then)."
    ),
    store: str | None = STORE_OPT,
    reseal: bool = typer.Option(
        False, "--reseal", help="Replace an existing seal by a new entry that names it."
    ),
    reason: str | None = typer.Option(
        None, "--reason", help="Why the sealed result is replaced (required with --reseal)."
    ),
    checkpoints: Path | None = typer.Option(
        None,
        "--checkpoints",
        help="Checkpoint folder outside the database (default $HEATREUSE_HOME/checkpoints/<site>).",
    ),
    key: Path | None = typer.Option(
        None, "--key", help="Ed25519 signing key (default $HEATREUSE_HOME/keys/<site>.key)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    now: str | None = NOW_OPT,
) -> None:
    """Seal a closed SLA period into the ledger (or re-seal it with a reason)."""
    from heatreuse.services.ledger import SealRequest, update_ledger
    from heatreuse.site import load_site

    site = load_site(site_file)
    result = update_ledger(
        site,
        store,
        now=_parse_now(now),
        checkpoint_dir=checkpoints,
        key_path=key,
        intervals=False,
        seal=SealRequest(period, reseal=reseal, reason=reason),
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    for s in result.seals:
        cov = s["data_coverage_fraction"]
        console.print(
            f"sealed SLA {s['period']} of {site.id}: verdict {s['verdict']}, data coverage "
            f"{_pct(cov, 2)}, ledger entry {s['index']}"
            + (
                f" (seal {s['seal_number']}, replaces entry {s['supersedes_index']})"
                if s["supersedes_index"] is not None
                else ""
            ),
            highlight=False,
        )
    for note in result.notes:
        console.print(note, highlight=False, markup=False)
    console.print(f"checkpoint {result.checkpoint_path}", highlight=False)


def export(
    site_file: Path = SITE_ARG,
    out: Path | None = typer.Option(None, "--out", help="Write to this file instead of stdout."),
) -> None:
    """Export the site's SLA as OpenSLO v1 YAML."""
    from heatreuse.site import load_site
    from heatreuse.sla import SlaDefinition, export_openslo

    text = export_openslo(SlaDefinition.from_site(load_site(site_file)))
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")


def import_(
    openslo_file: Path = typer.Argument(..., help="OpenSLO v1 YAML file.", show_default=False),
) -> None:
    """Read OpenSLO v1 YAML and print the equivalent site YAML ``contract.sla`` section."""
    try:
        text = openslo_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SLAError(f"{openslo_file}: cannot read ({exc.strerror})") from None
    from heatreuse.sla import import_openslo, sla_terms_yaml

    typer.echo(sla_terms_yaml(import_openslo(text, str(openslo_file))), nl=False)


def register(app: typer.Typer) -> None:
    """Add ``sla report``, ``sla export`` and ``sla import`` to the root app."""
    if not sla_app.registered_commands:
        sla_app.command("report")(report)
        sla_app.command("seal")(seal)
        sla_app.command("export")(export)
        sla_app.command("import")(import_)
    if not any(g.typer_instance is sla_app for g in app.registered_groups):
        app.add_typer(sla_app, name="sla")
