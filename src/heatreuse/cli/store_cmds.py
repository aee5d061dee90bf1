"""``heatreuse store info`` and ``heatreuse store retention``: the telemetry store itself.

``heatreuse store info [--store URL] [--json]``
    Schema version, sites, points, rows per table and the time range of raw data.
``heatreuse store retention [--store URL] [--raw-days N] [--rollup-days RES=DAYS ...]
[--quarantine-days N] [--now ISO] [--json]``
    Delete raw readings, rollups and quarantine rows older than their retention
    (:meth:`heatreuse.store.Store.apply_retention`), for every site in the store.
    Horizons count back from ``--now`` (default: the current time). Nothing is
    deleted for a table without a horizon. ``heatreuse serve`` runs the same on a
    schedule (``--retention-*`` options).
"""

from __future__ import annotations

import json
import re

import typer

from heatreuse.cli.options import STORE_OPT
from heatreuse.cli.output import Table, make_console
from heatreuse.errors import HeatreuseError

console = make_console()
store_app = typer.Typer(help="The telemetry store: what it holds, retention.", no_args_is_help=True)

_ROLLUP_DAYS_RE = re.compile(r"^\s*([0-9a-z]+)\s*=\s*([0-9]+(?:\.[0-9]*)?)\s*$")


def parse_rollup_days(items: list[str] | None, option: str = "--rollup-days") -> dict[str, float]:
    """Parse ``RES=DAYS`` items (``1min=90``) into ``{resolution: days}``.

    Raises
    ------
    HeatreuseError
        Naming the option, the item, what was expected and what came.
    """
    from heatreuse.store import ROLLUP_RESOLUTIONS

    out: dict[str, float] = {}
    for item in items or []:
        m = _ROLLUP_DAYS_RE.match(item)
        if m is None or m.group(1) not in ROLLUP_RESOLUTIONS:
            raise HeatreuseError(
                f"{option} {item!r}: expected RES=DAYS with RES one of "
                f"{', '.join(ROLLUP_RESOLUTIONS)} and DAYS a number >= 0 (e.g. 1min=90)"
            )
        if m.group(1) in out:
            raise HeatreuseError(f"{option}: resolution {m.group(1)!r} given twice")
        out[m.group(1)] = float(m.group(2))
    return out


@store_app.command("info")
def info_cmd(
    store: str | None = STORE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """What the store holds: schema version, sites, points and rows per table."""
    from heatreuse.services.ingest import opened_store

    with opened_store(store) as opened:
        summary = opened.summary()
    if as_json:
        typer.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    table = Table(title=f"Store {summary['url']}", title_justify="left")
    table.add_column("item")
    table.add_column("value", overflow="fold")
    table.add_row("schema version", str(summary["schema_version"]))
    table.add_row("sites", ", ".join(summary["sites"]) or "(none)")
    table.add_row("series (site, point)", f"{summary['series']:,}")
    for name, n in summary["rows"].items():
        table.add_row(f"rows in {name}", f"{n:,}")
    table.add_row("raw data from", summary["raw_first"] or "-")
    table.add_row("raw data to", summary["raw_last"] or "-")
    table.add_row("raw retention horizon", summary["raw_horizon"] or "none")
    console.print(table)


@store_app.command("retention")
def retention_cmd(
    store: str | None = STORE_OPT,
    raw_days: float | None = typer.Option(
        None, "--raw-days", help="Keep raw readings of the last N days.", show_default=False
    ),
    rollup_days: list[str] | None = typer.Option(
        None,
        "--rollup-days",
        help="RES=DAYS, repeatable: keep rollups of resolution RES (1min, 15min, 1h) for "
        "DAYS days. Keep 1h for the whole evidence period: the ledger is built from it.",
        show_default=False,
    ),
    quarantine_days: float | None = typer.Option(
        None,
        "--quarantine-days",
        help="Keep quarantine rows received in the last N days.",
        show_default=False,
    ),
    now: str | None = typer.Option(
        None,
        "--now",
        help="Reference time (ISO 8601 with offset); default the current time.",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Delete stored rows older than their retention (every site of the store)."""
    from heatreuse.services.ingest import opened_store

    rollups = parse_rollup_days(rollup_days)
    if raw_days is None and not rollups and quarantine_days is None:
        raise HeatreuseError(
            "store retention: nothing to do; expected at least one of --raw-days, "
            "--rollup-days RES=DAYS, --quarantine-days"
        )
    with opened_store(store) as opened:
        res = opened.apply_retention(
            raw_days=raw_days, rollup_days=rollups, quarantine_days=quarantine_days, now=now
        )
    out = {
        "raw_deleted": res.raw_deleted,
        "rollups_deleted": res.rollups_deleted,
        "quarantine_deleted": res.quarantine_deleted,
    }
    if as_json:
        typer.echo(json.dumps(out, sort_keys=True))
        return
    parts = [f"{res.raw_deleted:,} raw reading(s)"]
    parts += [f"{n:,} {r} rollup row(s)" for r, n in res.rollups_deleted.items()]
    parts.append(f"{res.quarantine_deleted:,} quarantine row(s)")
    console.print("deleted " + ", ".join(parts), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``store info|retention`` to the root app."""
    app.add_typer(store_app, name="store")
