"""``heatreuse compare``: a metered period measured against the model.

``heatreuse compare SITE.yaml --period 2026-01 [--weather FILE] [--store URL] [--json]
[--out DIR] [--step 60s]``
    Replays the engine with the measured IT power, the heat the customer took and its
    return temperature (the period's weather from ``--weather`` or the site's own),
    sets recovered heat, supply temperature, backup and rejected heat and ERF per day
    beside the measurements and attributes the variance to control, sizing,
    workload, demand and metering with evidence (largest first). ``--period`` takes
    the forms of ``sla report``. ``--json`` prints ``{"days", "totals",
    "attribution", ...}``; ``--out DIR`` writes that JSON and an HTML page with a
    chart per day.

Logic lives in :mod:`heatreuse.services.compare` and
:mod:`heatreuse.planning.replay`; this module only parses and prints. Heavy modules
are imported inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from heatreuse.cli.options import SITE_ARG, STORE_OPT


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{float(value):,.{digits}f}"


def compare(
    site_file: Path = SITE_ARG,
    period: str = typer.Option(
        ...,
        "--period",
        help="YYYY-MM (local month), YYYY (contract year) or YYYY-MM-DD..YYYY-MM-DD.",
    ),
    weather: str | None = typer.Option(
        None,
        "--weather",
        help="Weather for the model's demand: an EPW/TMY3/CSV file, pvlib:NAME or dwd-try:NN "
        "(default: the site's location.weather, a reference year).",
    ),
    store: str | None = STORE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the JSON and an HTML page with a chart per day here."
    ),
    step: str = typer.Option("60s", "--step", help="Engine step of the replay (e.g. 60s, 5min)."),
) -> None:
    """Measured against the model: replay a period and attribute the variance to causes."""
    from heatreuse.planning.study import parse_step_s
    from heatreuse.services.compare import compare_period, comparison_json, write_outputs
    from heatreuse.site import load_site

    site = load_site(site_file)
    step_s = parse_step_s(step) or 60
    result = compare_period(site, period, store, weather=weather, step_s=step_s)
    paths = write_outputs(result, out) if out is not None else {}
    if as_json:
        typer.echo(comparison_json(result))
        return
    _print(result, paths)


def _print(result: Any, paths: dict[str, Path]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from heatreuse.cli.output import make_console

    console = make_console()
    t = result.totals
    console.print(
        f"[bold]{escape(result.site_id)}[/]: measured against the model, {result.period_label} "
        f"({t['hours_compared']} of {t['hours_in_period']} h with measurements, days in "
        f"{result.timezone})"
    )
    console.print(
        f"recovered heat: model {_num(t.get('heat_delivered_model_kwh'))} kWh, replay "
        f"{_num(t.get('heat_delivered_replay_kwh'))} kWh, measured "
        f"{_num(t.get('heat_delivered_measured_kwh'))} kWh; variance (model - measured) "
        f"[bold]{_num(t['variance_heat_kwh'])} kWh[/], unexplained "
        f"{_num(t['unexplained_heat_kwh'])} kWh"
    )
    a_table = Table(title="Variance by cause (largest first)", title_justify="left")
    a_table.add_column("cause", style="bold")
    a_table.add_column(escape("heat [kWh]"), justify="right")
    a_table.add_column("of variance", justify="right")
    a_table.add_column("evidence")
    for a in result.attribution:
        share = a.get("share_of_variance_fraction")
        a_table.add_row(
            a["cause"],
            _num(a["heat_kwh"]),
            "n/a" if share is None else f"{share:.0%}",
            escape("\n".join(a["evidence"])),
        )
    a_table.add_row(
        "unexplained", _num(t["unexplained_heat_kwh"]), "", escape(t["unexplained_note"])
    )
    console.print(a_table)

    d_table = Table(title="Per day: measured / replay / model", title_justify="left")
    for col in (
        "day",
        "h",
        "recovered [kWh]",
        "supply [C]",
        "backup [kWh]",
        "rejected [kWh]",
        "ERF",
    ):
        d_table.add_column(
            escape(col), justify="left" if col == "day" else "right", no_wrap=col == "day"
        )
    for d in result.days:
        d_table.add_row(
            d["date"],
            f"{d['hours_compared']}/{d['hours']}",
            " / ".join(
                _num(d.get(f"heat_delivered_{s}_kwh")) for s in ("measured", "replay", "model")
            ),
            " / ".join(
                _num(d.get(f"supply_temp_{s}_c"), 1) for s in ("measured", "replay", "model")
            ),
            " / ".join(
                _num(d.get(f"backup_heat_{s}_kwh")) for s in ("measured", "replay", "model")
            ),
            " / ".join(
                _num(d.get(f"heat_rejected_{s}_kwh")) for s in ("measured", "replay", "model")
            ),
            " / ".join(_num(d.get(f"erf_{s}"), 3) for s in ("measured", "replay", "model")),
        )
    console.print(d_table)
    console.print("[bold]model inputs[/]")
    for i in result.inputs:
        kind = "[green]measured[/]" if i["measured"] else "[blue]model[/]"
        console.print(f"  {kind} {escape(i['input'])}: {escape(i['source'])}", highlight=False)
    for n in result.notes:
        console.print(f"[dim]note: {escape(n)}[/]", highlight=False)
    for name, path in paths.items():
        console.print(f"wrote {name}: {escape(str(path))}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the root app."""
    app.command("compare")(compare)
