"""Maintenance records: ``heatreuse maintenance add|list|due``.

Commands
--------
``heatreuse maintenance add SITE.yaml TASK --by NAME --note TEXT [--at ISO] [--store URL]``
    Record a task of the site's schedule as done (an audit entry: who, what, when, why).
``heatreuse maintenance list SITE.yaml [--task TASK] [--store URL] [--json]``
``heatreuse maintenance due SITE.yaml [--within DAYS] [--at ISO] [--store URL] [--json]``
    Every task with its status (overdue, alert, no_record, due, ok) and why.

The schedule is the site's ``maintenance_schedule`` or its template's. Logic lives in
:mod:`heatreuse.services.maintenance`; heavy modules are imported inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from heatreuse.cli.options import SITE_ARG, STORE_OPT

maintenance_app = typer.Typer(
    help="Maintenance records: add, list, what is due.", no_args_is_help=True
)
JSON_OPT = typer.Option(False, "--json", help="Print JSON.")


def _echo_json(items: Any) -> None:
    typer.echo(json.dumps(items, indent=2, allow_nan=False))


@maintenance_app.command("add")
def add_cmd(
    site_file: Path = SITE_ARG,
    task: str = typer.Argument(..., help="Task id of the site's maintenance schedule."),
    by: str = typer.Option(..., "--by", help="Who did the work (audit trail)."),
    note: str = typer.Option(..., "--note", help="What was done and found (audit: why)."),
    at: str | None = typer.Option(
        None,
        "--at",
        help="When it was done: YYYY-MM-DD (00:00 UTC) or date-time with offset; default now.",
        show_default=False,
    ),
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Record a maintenance task as done (with an audit entry)."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.maintenance import add_record
    from heatreuse.site import load_site

    site = load_site(site_file)
    with opened_store(store, create=True) as opened:
        rec = add_record(site, opened, task, by=by, note=note, done_at=at)
    if as_json:
        _echo_json(rec)
    else:
        typer.echo(f"recorded {rec['task']} done {rec['done_at']} by {rec['by']} (id {rec['id']})")


@maintenance_app.command("list")
def list_cmd(
    site_file: Path = SITE_ARG,
    task: str | None = typer.Option(None, "--task", help="Only this task.", show_default=False),
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Maintenance records of the site, oldest first."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.maintenance import list_records
    from heatreuse.site import load_site

    site = load_site(site_file)
    with opened_store(store) as opened:
        rows = list_records(site, opened, task)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        typer.echo("no maintenance recorded")
    for r in rows:
        typer.echo(f"{r['id']:>4}  {r['done_at']}  {r['task']:<22} {r['by']:<16} {r['note']}")


@maintenance_app.command("due")
def due_cmd(
    site_file: Path = SITE_ARG,
    within: float = typer.Option(30.0, "--within", help="Look-ahead [d]: due within it."),
    at: str | None = typer.Option(
        None, "--at", help="Evaluate at this time instead of now.", show_default=False
    ),
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Every task of the schedule: overdue, due now by an alert, never recorded, due, ok."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.maintenance import due_tasks
    from heatreuse.services.twin import parse_time_utc
    from heatreuse.site import load_site

    site = load_site(site_file)
    now = parse_time_utc(at, "--at") if at else None
    with opened_store(store) as opened:
        rows = [d.to_dict() for d in due_tasks(site, opened, now=now, within_d=within)]
    if as_json:
        _echo_json(rows)
        return
    for d in rows:
        typer.echo(f"{d['status']:<10} {d['task']:<22} due {d['due_at'] or '-':<21} {d['reason']}")


def register(app: typer.Typer) -> None:
    """Add ``maintenance`` to the main app."""
    if any(g.name == "maintenance" for g in app.registered_groups):
        return
    app.add_typer(maintenance_app, name="maintenance")
