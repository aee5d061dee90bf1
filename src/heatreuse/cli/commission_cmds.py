"""``heatreuse commission``: the commissioning checklist against stored data.

``heatreuse commission SITE.yaml [--store URL] [--start ISO --end ISO] [--out DIR]
[--json] [--functional [--twin HOST:PORT --by NAME]] [--no-record] [--checkpoints DIR]
[--key FILE]``
    Checks that every registry point reports at its interval, values lie in range,
    sensor pairs agree, the heat meter's balance closes within its EN 1434 error and
    pumps show flow when they report running; measures the baselines the fault rules
    need (HX UA vs flow, pump power/speed, delta-T at design load) and appends them with
    the items as a ``commissioning`` entry to the signed ledger (unless
    ``--no-record``). ``--out DIR`` writes the report (HTML and PDF); ``--json`` prints
    the items ``[{"item", "status", "evidence"}]``. Exit code 1 when an item failed.
    ``--functional``: the reject-path and backup takeover tests as ``functional_test``
    change requests (two-person rule) against the twin: ``--by`` files them, a second
    person approves them with ``heatreuse changes approve ... --twin`` (which runs them),
    and the next ``commission --functional`` reports their results with evidence.

Logic lives in :mod:`heatreuse.services.commissioning`; heavy modules are imported
inside the command.
"""

from __future__ import annotations

from pathlib import Path

import typer

from heatreuse.cli.options import SITE_ARG, STORE_OPT


def commission(
    site_file: Path = SITE_ARG,
    store: str | None = STORE_OPT,
    start: str | None = typer.Option(
        None, "--start", help="First instant checked (ISO; a bare date is 00:00 UTC)."
    ),
    end: str | None = typer.Option(
        None, "--end", help="End of the period (exclusive; default: now; start: 3 days before)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the report (HTML and PDF) here."),
    as_json: bool = typer.Option(
        False, "--json", help='Print the items as JSON [{"item", "status", "evidence"}].'
    ),
    functional: bool = typer.Option(
        False,
        "--functional",
        help="The supervised reject-path and backup takeover tests, as functional_test change "
        "requests (two-person rule) run against the twin: results on record are items; with "
        "--twin and --by, approved ones run now and missing ones are requested.",
    ),
    twin: str | None = typer.Option(
        None, "--twin", help="The twin's control port HOST:PORT (--functional).", show_default=False
    ),
    twin_token_file: Path | None = typer.Option(
        None, "--twin-token-file", help="The twin's control token file.", show_default=False
    ),
    by: str | None = typer.Option(
        None,
        "--by",
        help="The store user who requests (or runs approved) functional tests.",
        show_default=False,
    ),
    record: bool = typer.Option(
        True, "--record/--no-record", help="Append the result to the signed ledger."
    ),
    checkpoints: Path | None = typer.Option(
        None,
        "--checkpoints",
        help="Checkpoint folder outside the database (default $HEATREUSE_HOME/checkpoints/<site>).",
    ),
    key: Path | None = typer.Option(
        None, "--key", help="Ed25519 signing key (default $HEATREUSE_HOME/keys/<site>.key)."
    ),
) -> None:
    """Commissioning checklist and baselines from stored data, recorded in the ledger."""
    from heatreuse.services.commissioning import (
        functional_items,
        items_json,
        record_commissioning,
        run_commissioning,
        write_report,
    )
    from heatreuse.site import load_site
    from heatreuse.store import open_store

    site = load_site(site_file)
    executor = None
    if twin:
        from heatreuse.services.changes import make_executor

        executor = make_executor(twin=twin, twin_token_file=twin_token_file)
    st = open_store(store)
    try:
        tests = (
            functional_items(site, st, since=start, executor=executor, by=by)
            if functional
            else None
        )
        result = run_commissioning(
            site, st, start, end, functional=functional, functional_results=tests
        )
        recorded = (
            record_commissioning(
                site, result, st.url, checkpoint_dir=checkpoints, key_path=key, store=st
            )
            if record
            else None
        )
    finally:
        st.close()
    index = None if recorded is None else int(recorded["index"])
    paths = write_report(result, out, index) if out is not None else None
    if as_json:
        typer.echo(items_json(result))
    else:
        _print(result, index, paths)
    if not result.passed:
        raise typer.Exit(1)


def _print(result: object, index: int | None, paths: tuple[Path, Path] | None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from heatreuse.services.commissioning import CommissioningResult

    assert isinstance(result, CommissioningResult)
    console = Console()
    verdict = "[green]PASSED[/]" if result.passed else "[red]NOT PASSED[/]"
    console.print(
        f"[bold]{escape(result.site_id)}[/] commissioning {verdict}: "
        f"{result.period_start.isoformat()} .. {result.period_end.isoformat()}",
        highlight=False,
    )
    table = Table(show_lines=True)
    table.add_column("item", style="bold")
    table.add_column("status")
    table.add_column("evidence")
    colour = {"pass": "green", "fail": "red", "skipped": "dim"}
    for it in result.items:
        st = it["status"]
        table.add_row(it["item"], f"[{colour[st]}]{st}[/]", escape(it["evidence"]))
    console.print(table)
    ua = result.baselines.get("hx_ua_w_per_k")
    console.print(
        f"baselines: HX UA {ua if ua is not None else 'n/a'} W/K (flow-normalised), delta-T at "
        f"design load {result.baselines.get('delta_t_design_load_k')} K",
        highlight=False,
    )
    if index is not None:
        console.print(f"recorded: ledger entry {index}", highlight=False)
    else:
        console.print("not recorded in the ledger (--no-record)", highlight=False)
    if paths is not None:
        for p in paths:
            console.print(f"wrote {escape(str(p))}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``commission`` to the root app."""
    app.command("commission")(commission)
