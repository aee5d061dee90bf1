"""``heatreuse ingest``, ``heatreuse points list|export``, ``heatreuse quarantine list``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from heatreuse.cli.options import SITE_ARG, STORE_OPT
from heatreuse.cli.output import Table, make_console
from heatreuse.errors import HeatreuseError

if TYPE_CHECKING:  # the ingest pipeline (pandas, pyarrow) is imported by the commands using it
    from heatreuse.services.ingest import FileIngestReport
    from heatreuse.site.points import Point, SitePoints

console = make_console()
err_console = make_console(stderr=True)
points_app = typer.Typer(help="The site's point registry.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Readings the ingest pipeline rejected.", no_args_is_help=True)


def ingest(
    site_file: Path = SITE_ARG,
    file: Path = typer.Argument(
        ...,
        help="Readings file: .csv, .csv.gz or .parquet (long or wide format).",
        show_default=False,
    ),
    store: str | None = STORE_OPT,
    not_before: str | None = typer.Option(
        None,
        "--not-before",
        help="Accept readings from this time on (ISO date = 00:00 UTC, or date-time with "
        "offset); default the site's commissioning date. For backfilling older history.",
        show_default=False,
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Import a CSV or Parquet readings file into the store (idempotent)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from heatreuse.services.ingest import ingest_file, opened_store, parse_not_before
    from heatreuse.site import load_site

    site = load_site(site_file)
    since = parse_not_before(not_before)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn()
        if file.name.lower().endswith((".csv", ".csv.gz"))
        else MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=False,
    )
    task: list[TaskID] = []

    def on_open(total: int, unit: str) -> None:
        task.append(progress.add_task(f"ingest {file.name}", total=total))

    def on_progress(done: int) -> None:
        if task:
            progress.update(task[0], completed=done)

    with opened_store(store, create=True) as opened, progress:
        report = ingest_file(
            site, file, opened, not_before=since, on_open=on_open, progress=on_progress
        )
    _print_report(report)


def _print_report(report: FileIngestReport) -> None:
    r = report.result
    table = Table(
        title=f"{report.path} ({report.file_format}, {report.layout} format)",
        title_justify="left",
        show_header=True,
    )
    table.add_column("outcome")
    table.add_column("readings", justify="right")
    table.add_row("received", f"{r.received:,}")
    table.add_row("[green]accepted (new)[/]", f"{r.accepted:,}")
    table.add_row("duplicates (already stored)", f"{r.duplicates:,}")
    for reason, n in sorted(r.quarantined.items()):
        table.add_row(f"[yellow]quarantined: {reason}[/]", f"{n:,}")
    table.add_row("quarantined total", f"{r.quarantined_total:,}")
    if r.skipped_empty_cells:
        table.add_row("empty cells (no reading)", f"{r.skipped_empty_cells:,}")
    console.print(table)
    console.print(
        f"{r.received:,} readings in {report.duration_s:.2f} s "
        f"({report.readings_per_s:,.0f} readings/s)"
        + (
            "; see `heatreuse quarantine list` for the rejected ones" if r.quarantined_total else ""
        ),
        highlight=False,
    )


def _modbus_cells(sp: SitePoints, p: Point) -> list[str]:
    """Device, table, address, type, word order (32-bit types) and scale source of a point."""
    reg = p.source.modbus
    if reg is None:
        return ["", "", "", "", "", ""]
    order = (reg.word_order or sp.device(reg.device).word_order) if reg.width == 2 else "-"
    return [reg.device, reg.table, str(reg.address), reg.type, order, reg.scale_source()]


def points_list(
    site_file: Path = SITE_ARG,
    modbus: bool = typer.Option(
        False,
        "--modbus",
        help="The Modbus register map: only points with a register, one column per field.",
    ),
) -> None:
    """List the site's points: id, kind, unit, range, interval, Brick class, Modbus register.

    A Modbus register reads ``DEVICE TABLE ADDRESS TYPE [WORD ORDER], scale: SOURCE``:
    the register table (holding: function 3, input: function 4), the word order
    of 32-bit values (the register's or its device's) and where the scale
    comes from (a fixed factor and raw unit, or the unit-code register the
    device announces its unit in). ``--modbus`` lists the register map alone,
    one column per field. MQTT topics (below the site prefix) default to the id
    with '/' for '.'; the full registry is in ``heatreuse points export
    SITE.yaml --brick``.
    """
    from heatreuse.site import expand_points, load_site

    site = load_site(site_file)
    sp = expand_points(site)
    if modbus:
        rows = [p for p in sp.points if p.source.modbus is not None]
        table = Table(
            title=f"Modbus register map of site {site.id} ({len(rows)} points)",
            title_justify="left",
        )
        table.add_column("id", no_wrap=True)
        for col in ("device", "table", "addr", "type", "word order", "scale"):
            table.add_column(col, overflow="fold")
        for p in rows:
            table.add_row(p.id, *_modbus_cells(sp, p))
        console.print(table)
        return
    table = Table(title=f"Points of site {site.id} ({len(sp.points)})", title_justify="left")
    table.add_column("id", no_wrap=True)
    for col in ("kind", "unit", "range", "every", "brick class", "modbus"):
        table.add_column(col, overflow="fold")
    for p in sp.points:
        cells = _modbus_cells(sp, p)
        register = ""
        if p.source.modbus is not None:
            dev, tab, addr, typ, order, scale = cells
            words = f" {order}" if order != "-" else ""
            register = f"{dev} {tab} {addr} {typ}{words}, scale: {scale}"
        table.add_row(
            p.id,
            p.kind,
            p.unit,
            f"{p.min_value:g}..{p.max_value:g}",
            f"{p.sample_interval_s:g} s",
            p.brick_class,
            register,
        )
    console.print(table)


def points_export(
    site_file: Path = SITE_ARG,
    brick: bool = typer.Option(False, "--brick", help="Export as a Brick model (Turtle)."),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Write to this file (default: standard output).",
        show_default=False,
    ),
) -> None:
    """Export the site's point registry (``--brick``: Brick Turtle)."""
    from heatreuse.site import load_site

    if not brick:
        raise HeatreuseError("points export: choose a format; the only one is --brick (Turtle)")
    from heatreuse.site import expand_points
    from heatreuse.telemetry.brick import brick_turtle

    site = load_site(site_file)
    text = brick_turtle(expand_points(site), site.site.name)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HeatreuseError(f"{out}: cannot write: {exc.strerror or exc}") from None
    err_console.print(f"wrote {out} ({len(text):,} bytes)", highlight=False)


def quarantine_list(
    site_file: Path = SITE_ARG,
    store: str | None = STORE_OPT,
    reason: str | None = typer.Option(
        None, "--reason", help="Only this reason (e.g. out_of_range).", show_default=False
    ),
    limit: int = typer.Option(50, "--limit", help="At most this many rows, newest first.", min=1),
    offset: int = typer.Option(
        0, "--offset", help="Skip the newest N rows (next page: --offset OFFSET+LIMIT).", min=0
    ),
    every: bool = typer.Option(
        False, "--all", help="Every row (streamed page by page; --limit is ignored)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="One JSON object per row (JSON Lines), streamed."
    ),
) -> None:
    """List quarantined readings with reason, source and raw payload.

    Raw payloads are kept capped: the first 4 KiB with the size and SHA-256 of
    the whole payload (the ``raw`` column notes it); ``--json`` gives those as
    fields. Output is streamed: memory stays small however many rows there are.
    """
    import json

    from rich.text import Text

    from heatreuse.services.ingest import iter_quarantine, opened_store
    from heatreuse.site import load_site

    site = load_site(site_file)
    page_rows = 200
    with opened_store(store) as opened:
        rows = iter_quarantine(
            site, opened, reason=reason, limit=None if every else limit, offset=offset
        )
        if as_json:
            for r in rows:
                typer.echo(json.dumps(r, ensure_ascii=True))
            return
        shown = 0
        page: list[dict[str, object]] = []

        def flush_page() -> None:
            first = offset + shown - len(page) + 1
            title = (
                f"Quarantine of site {site.id}"
                + (f", reason {reason}" if reason else "")
                + (f" (rows {first}-{offset + shown}" if page else " (no rows")
                + ("" if every else f", limit {limit}")
                + ")"
            )
            table = Table(title=title, title_justify="left")
            for col in ("received", "ts", "point", "reason", "source", "raw", "detail"):
                table.add_column(col, overflow="fold")
            for r in page:  # Text: payloads are shown as they came, never read as markup
                table.add_row(
                    Text(_cell(r["received_at"] or "", 40)),
                    Text(_cell(r["ts"] or "", 40)),
                    Text(_cell(r["point"], 100)),
                    Text(_cell(r["reason"], 40)),
                    Text(_cell(r["source"], 120)),
                    Text(_raw_cell(r)),
                    Text(_cell(r["detail"], 400)),
                )
            console.print(table)
            page.clear()

        for r in rows:
            page.append(r)
            shown += 1
            if len(page) >= page_rows:
                flush_page()
        if page or not shown:
            flush_page()
        if not every and shown == limit:
            console.print(f"more may follow: --offset {offset + shown} (or --all)", highlight=False)


def _cell(value: object, max_chars: int) -> str:
    """A table cell: escaped (no control characters reach the terminal), bounded."""
    from heatreuse.rawtext import bounded_text

    return bounded_text(str(value), max_chars)


def _raw_cell(row: dict[str, object]) -> str:
    from heatreuse.rawtext import escape_unsafe

    raw = str(row["raw"])
    text = escape_unsafe(raw[:200]) + ("..." if len(raw) > 200 else "")
    notes = []
    if row.get("raw_escaped"):
        notes.append("escaped")
    if row.get("raw_truncated"):
        size = row.get("raw_size_bytes")
        sha = row.get("raw_sha256")
        notes.append(
            "first bytes of "
            + (f"{size:,} bytes" if isinstance(size, int) else "a longer payload")
            + (f", sha256 {str(sha)[:16]}..." if sha else "")
        )
    return text + (f" [{'; '.join(notes)}]" if notes else "")


def register(app: typer.Typer) -> None:
    """Add ``ingest``, ``points list|export`` and ``quarantine list`` to the root app."""
    app.command("ingest")(ingest)
    points_app.command("list")(points_list)
    points_app.command("export")(points_export)
    quarantine_app.command("list")(quarantine_list)
    app.add_typer(points_app, name="points")
    app.add_typer(quarantine_app, name="quarantine")
