"""``heatreuse store info|retention|compact|init|export``: the telemetry store itself.

``heatreuse store info [--store URL] [--json]``
    Schema version, sites, points, rows per table, the time range of raw data, the
    retention horizons, and per site when monitoring started and which SLA periods
    are sealed (with their verdict) and which are not; the database's size and its
    bytes per reading held (raw readings in rows and in sealed blocks).
``heatreuse store compact [--store URL] [--hot-days N] [--now ISO] [--json]``
    Seal the raw readings of whole UTC days older than the hot window into compressed
    blocks (:meth:`heatreuse.store.Store.seal`), then give the freed space back to the
    file system (SQLite ``VACUUM``; PostgreSQL ``VACUUM FULL`` of the readings and
    rollup tables, ``VACUUM`` of the others). ``--hot-days`` also records the hot
    window for later sealing (``heatreuse serve`` seals daily, ``heatreuse ingest``
    after an import). Reads give the same results before and after.
``heatreuse store retention [--store URL] [--raw-days N] [--rollup-days RES=DAYS ...]
[--quarantine-days N] [--now ISO] [--force] [--json]``
    Delete raw readings, rollups and quarantine rows older than their retention
    (:meth:`heatreuse.store.Store.apply_retention`), for every site in the store.
    Horizons count back from ``--now`` (default: the current time). Nothing is
    deleted for a table without a horizon. Raw and 1-min data of an SLA month that
    is not sealed is kept: the command refuses (exit 2, naming the months) unless
    ``--force`` (:mod:`heatreuse.services.retention`). ``heatreuse serve`` runs the
    same on a schedule (``--retention-*`` options), sealing closed months first and
    keeping what still blocks.
``heatreuse store init [URL] [--json]``
    Create the store (SQLite: the file with mode 0600 in a folder made 0700;
    PostgreSQL: the schema and tables) or migrate an older one. Every command that
    only reads refuses a URL without a store (exit 2) instead of creating one.
``heatreuse store export SITE.yaml --start ISO --end ISO --out DIR [--store URL] [--json]``
    A site's raw readings as ``DIR/readings.parquet`` (the long format ``heatreuse
    ingest`` reads: the export round-trips) and its hourly rollups as
    ``DIR/rollup_1h.parquet``, for pandas or DuckDB (:mod:`heatreuse.services.history`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer

from heatreuse.cli.options import SITE_ARG, STORE_OPT
from heatreuse.cli.output import Table, make_console
from heatreuse.errors import HeatreuseError

console = make_console()
store_app = typer.Typer(
    help="The telemetry store: create, what it holds, retention, compaction.",
    no_args_is_help=True,
)

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
    from heatreuse.services.retention import sla_periods_overview

    with opened_store(store) as opened:
        summary = opened.summary()
        summary["history"] = opened.sealed_summary()
        summary["sla_periods"] = sla_periods_overview(opened)
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
    history = summary["history"]
    table.add_row(
        "readings held (rows + sealed)",
        f"{history['readings']:,} ({history['sealed_readings']:,} sealed in "
        f"{history['sealed_blocks']:,} blocks; hot window {history['hot_window_days']:g} d)",
    )
    bpr = history["bytes_per_reading"]
    table.add_row(
        "database size",
        f"{history['database_bytes']:,} bytes"
        + ("" if bpr is None else f" ({bpr:.2f} bytes per reading)"),
    )
    table.add_row("raw retention horizon", summary["raw_horizon"] or "none")
    for name, when in summary["retention_horizons"].items():
        if name != "raw":
            table.add_row(f"{name} retention horizon", when)
    console.print(table)
    for site, periods in summary["sla_periods"].items():
        console.print(_periods_table(site, periods))


def _periods_table(site: str, periods: dict[str, Any]) -> Table:
    """Sealed and unsealed SLA periods of one site (the last 24 sealed ones listed)."""
    tz = periods["timezone"]
    table = Table(
        title=f"SLA periods of {site} (local months in {tz or 'UTC: no SLA in its ledger yet'}); "
        f"monitoring started {periods['monitoring_start'] or 'never (no reading accepted)'}",
        title_justify="left",
    )
    table.add_column("period")
    table.add_column("state")
    table.add_column("verdict")
    table.add_column("data coverage", justify="right")
    sealed = periods["sealed"]
    if len(sealed) > 24:
        table.add_row(f"({len(sealed) - 24} earlier sealed periods)", "sealed", "", "")
    for p in sealed[-24:]:
        cov = p["data_coverage_fraction"]
        colour = {"met": "green", "breached": "red"}.get(str(p["verdict"]), "yellow")
        table.add_row(
            str(p["period"]),
            f"sealed (entry {p['index']}"
            + (f", seal {p['seal_number']})" if p["seal_number"] != 1 else ")"),
            f"[{colour}]{p['verdict']}[/]",
            "n/a" if cov is None else f"{cov * 100:.1f} %",
        )
    for p in periods["unsealed"]:
        table.add_row(str(p["period"]), f"[yellow]{p['state']}[/]", "-", "-")
    if not sealed and not periods["unsealed"]:
        table.add_row("(none)", "", "", "")
    return table


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
    force: bool = typer.Option(
        False,
        "--force",
        help="Delete raw and 1-min data of SLA months that are not sealed too (their "
        "verdict then reads 'unknown'); without it such a deletion is refused.",
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
    from heatreuse.services.retention import apply_retention_guarded

    with opened_store(store) as opened:
        res, blocks = apply_retention_guarded(
            opened,
            raw_days=raw_days,
            rollup_days=rollups,
            quarantine_days=quarantine_days,
            now=now,
            force=force,
        )
    out = {
        "raw_deleted": res.raw_deleted,
        "rollups_deleted": res.rollups_deleted,
        "quarantine_deleted": res.quarantine_deleted,
        "forced_unsealed_periods": [
            {"site_id": b.site_id, "period": b.period, "tables": list(b.tables)} for b in blocks
        ],
    }
    if blocks:
        make_console(stderr=True).print(
            "[yellow]--force: deleted data of SLA periods that are not sealed: "
            + "; ".join(b.describe() for b in blocks)
            + " (their verdict now reads 'unknown')[/]",
            highlight=False,
        )
    if as_json:
        typer.echo(json.dumps(out, sort_keys=True))
        return
    parts = [f"{res.raw_deleted:,} raw reading(s)"]
    parts += [f"{n:,} {r} rollup row(s)" for r, n in res.rollups_deleted.items()]
    parts.append(f"{res.quarantine_deleted:,} quarantine row(s)")
    console.print("deleted " + ", ".join(parts), highlight=False)


@store_app.command("compact")
def compact_cmd(
    store: str | None = STORE_OPT,
    hot_days: float | None = typer.Option(
        None,
        "--hot-days",
        help="Hot window [d]: whole UTC days older than this are sealed; also recorded as "
        "the store's hot window for later sealing. Default: the recorded one (else 2).",
        show_default=False,
        min=0.0,
    ),
    now: str | None = typer.Option(
        None,
        "--now",
        help="Reference time (ISO 8601 with offset); default the current time.",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Seal history older than the hot window into compressed blocks and give space back."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.store.base import HOT_WINDOW_META_KEY

    with opened_store(store) as opened:
        if hot_days is not None:
            opened.set_meta(HOT_WINDOW_META_KEY, repr(float(hot_days)))
        res = opened.compact(now=now, hot_days=hot_days)
    out = {
        "days_sealed": res.days_sealed,
        "readings_sealed": res.readings_sealed,
        "readings": res.readings,
        "bytes_before": res.bytes_before,
        "bytes_after": res.bytes_after,
        "bytes_per_reading": None
        if res.bytes_per_reading is None
        else round(res.bytes_per_reading, 3),
    }
    if as_json:
        typer.echo(json.dumps(out, sort_keys=True))
        return
    console.print(
        f"sealed {res.readings_sealed:,} reading(s) in {res.days_sealed:,} series-day block(s); "
        f"database {res.bytes_before:,} -> {res.bytes_after:,} bytes"
        + (
            ""
            if res.bytes_per_reading is None
            else f" ({res.bytes_per_reading:.2f} bytes per reading, {res.readings:,} readings)"
        ),
        highlight=False,
    )


@store_app.command("init")
def init_cmd(
    url: str | None = typer.Argument(
        None,
        help="Store URL: sqlite:///PATH or postgresql://...[?schema=NAME] "
        "(default sqlite:///$HEATREUSE_HOME/heatreuse.db).",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Create a store at URL (or migrate an older one); read commands never create one."""
    from heatreuse.store import init_store

    res = init_store(url)
    if as_json:
        typer.echo(json.dumps(res, sort_keys=True))
        return
    if res["action"] == "created":
        text = f"created a heatreuse store at {res['url']} (was: {res['found']})"
    elif res["action"] == "migrated":
        text = (
            f"migrated the store at {res['url']} from schema version {res['schema_version_before']}"
        )
    else:
        text = f"the store at {res['url']} exists; nothing to do"
    console.print(f"{text}; schema version {res['schema_version']}", highlight=False, markup=False)


@store_app.command("export")
def export_cmd(
    site_file: Path = SITE_ARG,
    start: str = typer.Option(
        ..., "--start", help="From (ISO date = 00:00 UTC, or date-time with offset)."
    ),
    end: str = typer.Option(..., "--end", help="Until, exclusive (same forms as --start)."),
    out: Path = typer.Option(..., "--out", help="Folder for the Parquet files."),
    store: str | None = STORE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Export a site's raw readings (long format, re-ingestable) and hourly rollups as Parquet."""
    from heatreuse.services.history import export_site_history
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.twin import parse_time_utc
    from heatreuse.site import load_site

    site = load_site(site_file)
    t0, t1 = parse_time_utc(start, "--start"), parse_time_utc(end, "--end")
    with opened_store(store) as opened:
        rep = export_site_history(site, opened, t0, t1, out)
    if as_json:
        typer.echo(json.dumps(rep.to_dict(), sort_keys=True))
        return
    console.print(
        f"exported {rep.readings:,} reading(s) of {rep.points} point(s) and "
        f"{rep.rollup_rows:,} hourly rollup row(s) of {rep.site_id} to {out}",
        highlight=False,
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``store info|retention|compact|init|export`` to the root app."""
    app.add_typer(store_app, name="store")
