"""Watch and respond: ``detect``, ``rules``, ``alerts``, ``silences``, ``incidents``, ``actions``.

Commands
--------
``heatreuse detect SITE.yaml [--start ISO] [--end ISO] [--store URL] [--json]``
    Run the fault rules over the stored history and record alerts, incidents and
    corrective actions (idempotent: minutes already evaluated are skipped). ``--json``
    prints the alerts that fired or resolved in this run.
``heatreuse rules list SITE.yaml [--json]``
    Every rule: what it checks, its parameters with units, enabled, severity.
``heatreuse alerts list SITE.yaml [--state firing|resolved|all] [--store URL] [--json]``
``heatreuse alerts ack SITE.yaml ALERT_ID --by NAME [--comment TEXT]``
``heatreuse silences add SITE.yaml --match KEY=VALUE... --duration 2h --by NAME --comment TEXT``
    (over 4 h: files a change request for a second person to approve)
``heatreuse silences list SITE.yaml``, ``heatreuse silences expire SITE.yaml ID --by NAME``
``heatreuse incidents list SITE.yaml``, ``heatreuse incidents show SITE.yaml ID``
``heatreuse actions list SITE.yaml``

``--json`` prints a list of objects. Acks, silences and their expiry are written with
an audit row that ``heatreuse ledger update`` folds into the signed ledger. Commands
that only read never create a store. Logic lives in :mod:`heatreuse.services.monitoring`;
heavy modules are imported inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from heatreuse.cli.options import SITE_ARG, STORE_OPT

console = Console()
rules_app = typer.Typer(help="Fault rules and their parameters.", no_args_is_help=True)
alerts_app = typer.Typer(
    help="Alerts recorded by detection: list, acknowledge.", no_args_is_help=True
)
silences_app = typer.Typer(help="Silences: mute matching alerts for a while.", no_args_is_help=True)
incidents_app = typer.Typer(
    help="Incidents: alerts grouped, with a timeline.", no_args_is_help=True
)
actions_app = typer.Typer(help="Corrective actions for repeating faults.", no_args_is_help=True)

JSON_OPT = typer.Option(False, "--json", help="Print a JSON list of objects.")
BY_OPT = typer.Option(..., "--by", help="Who is acting (recorded in the audit trail).")


def _echo_json(items: list[dict[str, Any]]) -> None:
    typer.echo(json.dumps(items, indent=2, allow_nan=False))


def _text(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _print(table: Table) -> None:
    console.print(table, highlight=False)


def _row(table: Table, *cells: str) -> None:
    """A table row of literal text (user input and labels may hold brackets)."""
    table.add_row(*(escape(c) for c in cells))


def _labels_text(labels: dict[str, str]) -> str:
    keep = ("point", "equipment", "stage", "window", "pair")
    return ", ".join(f"{k}={labels[k]}" for k in keep if labels.get(k))


def _alerts_table(title: str, alerts: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("id", "rule", "severity", "state", "labels", "started (UTC)", "resolved (UTC)"):
        table.add_column(col)
    table.add_column("note")
    for a in alerts:
        note = []
        if a["muted_by"]:
            note.append(a["muted_by"])
        if a["acked_by"]:
            note.append(f"acked by {a['acked_by']}")
        if a["incident_id"] is not None:
            note.append(f"incident {a['incident_id']}")
        if a["action_id"] is not None:
            note.append(f"action {a['action_id']}")
        _row(
            table,
            str(a["id"]),
            a["rule"],
            a["severity"],
            a["state"],
            _labels_text(a["labels"]),
            _text(a["started_at"]),
            _text(a["resolved_at"]),
            "; ".join(note) or "-",
        )
    return table


# --------------------------------------------------------------------------- detect
def detect_cmd(
    site_file: Path = SITE_ARG,
    start: str | None = typer.Option(
        None,
        "--start",
        help="First minute to evaluate (ISO 8601 with offset, or a date = 00:00 UTC); "
        "default: where the last run stopped, else the first stored reading.",
        show_default=False,
    ),
    end: str | None = typer.Option(
        None,
        "--end",
        help="End of the range (exclusive); default: the last complete minute.",
        show_default=False,
    ),
    store: str | None = STORE_OPT,
    as_json: bool = typer.Option(
        False, "--json", help="Print the alerts that fired or resolved in this run (JSON list)."
    ),
) -> None:
    """Run the fault rules over stored history; record alerts, incidents and actions."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.monitoring import alert_dict, detect
    from heatreuse.site import load_site

    site = load_site(site_file)
    with opened_store(store, create=True) as opened:
        summary = detect(site, opened, start, end)
        rows = opened.list_alerts(site.id, ids=list(summary.alert_ids))
    alerts = [alert_dict(r) for r in rows]
    if as_json:
        _echo_json(alerts)
        return
    table = Table(title=f"detect {site.id}", show_header=False, title_justify="left")
    table.add_column("item", style="bold")
    table.add_column("value")
    table.add_row("evaluated (UTC)", f"{_text(summary.start)} .. {_text(summary.end)}")
    table.add_row("minutes", f"{summary.minutes:,}")
    table.add_row("alerts fired", str(summary.fired))
    table.add_row("alerts resolved", str(summary.resolved))
    table.add_row("muted (silence/inhibition)", str(summary.muted))
    table.add_row("incidents opened", str(summary.incidents_opened))
    table.add_row("corrective actions opened", str(summary.actions_opened))
    table.add_row("firing now", str(summary.firing_now))
    for note in summary.notes:
        _row(table, "note", note)
    _print(table)
    if alerts:
        _print(_alerts_table("alerts of this run", alerts))


# --------------------------------------------------------------------------- rules
@rules_app.command("list")
def rules_list_cmd(site_file: Path = SITE_ARG, as_json: bool = JSON_OPT) -> None:
    """Every fault rule: what it checks, parameters with units, enabled, severity."""
    from heatreuse.services.monitoring import rules_catalogue
    from heatreuse.site import load_site

    rules = rules_catalogue(load_site(site_file))
    if as_json:
        _echo_json(rules)
        return
    table = Table(title="fault rules (site file: monitoring.rules)", title_justify="left")
    for col in ("rule", "checks", "parameters", "enabled", "severity"):
        table.add_column(col, overflow="fold")
    for r in rules:
        params = "\n".join(
            f"{p['name']} = {p['value']}" + (f" {p['unit']}" if p["unit"] not in ("", "1") else "")
            for p in r["parameters"]
        )
        table.add_row(
            escape(r["rule"]),
            escape(r["checks"]),
            escape(params),
            "yes" if r["enabled"] else "no",
            r["severity"],
        )
    _print(table)


# --------------------------------------------------------------------------- alerts
@alerts_app.command("list")
def alerts_list_cmd(
    site_file: Path = SITE_ARG,
    state: str = typer.Option("firing", "--state", help="firing, resolved or all."),
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Alerts recorded for the site (default: firing now)."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.monitoring import list_alerts
    from heatreuse.site import load_site

    site = load_site(site_file)
    with opened_store(store) as opened:
        alerts = list_alerts(site, opened, state)
    if as_json:
        _echo_json(alerts)
        return
    _print(_alerts_table(f"alerts {site.id} ({state})", alerts))


@alerts_app.command("ack")
def alerts_ack_cmd(
    site_file: Path = SITE_ARG,
    alert_id: str = typer.Argument(..., help="The alert id (`heatreuse alerts list`)."),
    by: str = BY_OPT,
    comment: str = typer.Option("", "--comment", help="Why / what is being done."),
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Acknowledge an alert (stops its incident's escalation; audited)."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.monitoring import ack_alert
    from heatreuse.site import load_site

    site = load_site(site_file)
    with opened_store(store) as opened:
        alert = ack_alert(site, opened, alert_id, by, comment)
    if as_json:
        _echo_json([alert])
        return
    console.print(
        f"alert {alert['id']} ({alert['rule']}) acknowledged by {alert['acked_by']} at "
        f"{alert['acked_at']}; audit row {alert['audit_id']}",
        highlight=False,
        markup=False,
    )


# --------------------------------------------------------------------------- silences
def _silences_table(title: str, items: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("id", "matchers", "starts (UTC)", "ends (UTC)", "state", "by", "comment"):
        table.add_column(col, overflow="fold")
    for s in items:
        _row(
            table,
            s["id"],
            ", ".join(s["matchers"]),
            s["starts_at"],
            s["ends_at"],
            s["state"] + (f" (by {s['expired_by']})" if s["expired_by"] else ""),
            s["created_by"],
            s["comment"],
        )
    return table


@silences_app.command("add")
def silences_add_cmd(
    site_file: Path = SITE_ARG,
    match: list[str] = typer.Option(
        ...,
        "--match",
        help="KEY=VALUE (also KEY!=VALUE, KEY=~REGEX, KEY!~REGEX); repeat for more.",
    ),
    duration: str = typer.Option(..., "--duration", help="How long: 30m, 2h, 1d."),
    by: str = BY_OPT,
    comment: str = typer.Option(..., "--comment", help="Why (recorded in the audit trail)."),
    start: str | None = typer.Option(
        None, "--start", help="Start (ISO 8601 with offset); default now.", show_default=False
    ),
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Mute alerts matching every --match for --duration (audited).

    Over 4 h it needs a second person: a change request is filed instead (printed with
    its id and hash; `heatreuse changes approve` adds the silence).
    """
    from heatreuse.services.changes import add_silence_or_request
    from heatreuse.services.ingest import opened_store
    from heatreuse.site import load_site

    site = load_site(site_file)
    with opened_store(store, create=True) as opened:
        out = add_silence_or_request(site, opened, match, duration, by, comment, start=start)
    if "change" in out:
        c = out["change"]
        if as_json:
            _echo_json([c])
            return
        console.print(
            f"silences over 4 h need a second person: change request {c['id']} filed (nothing "
            f"is muted yet); approve it with: heatreuse changes approve {site_file} {c['id']} "
            f"--hash {c['request_hash']} --by OTHER_USER",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        return
    silence = out["silence"]
    if as_json:
        _echo_json([silence])
        return
    console.print(
        f"silence {silence['id']} ({', '.join(silence['matchers'])}) from "
        f"{silence['starts_at']} to {silence['ends_at']}; audit row {silence['audit_id']}",
        highlight=False,
        markup=False,
    )


@silences_app.command("list")
def silences_list_cmd(
    site_file: Path = SITE_ARG, store: str | None = STORE_OPT, as_json: bool = JSON_OPT
) -> None:
    """Every silence of the site with its state (pending, active, expired)."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.monitoring import list_silences
    from heatreuse.site import load_site

    site = load_site(site_file)
    with opened_store(store) as opened:
        items = list_silences(site, opened)
    if as_json:
        _echo_json(items)
        return
    _print(_silences_table(f"silences {site.id}", items))


@silences_app.command("expire")
def silences_expire_cmd(
    site_file: Path = SITE_ARG,
    silence_id: str = typer.Argument(..., help="The silence id (`heatreuse silences list`)."),
    by: str = BY_OPT,
    comment: str = typer.Option("", "--comment", help="Why it ends early."),
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """End a silence now (audited)."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.monitoring import expire_silence
    from heatreuse.site import load_site

    site = load_site(site_file)
    with opened_store(store) as opened:
        silence = expire_silence(site, opened, silence_id, by, comment)
    if as_json:
        _echo_json([silence])
        return
    console.print(
        f"silence {silence['id']} expired by {silence['expired_by']} at "
        f"{silence['expired_at']}; audit row {silence['audit_id']}",
        highlight=False,
        markup=False,
    )


# --------------------------------------------------------------------------- incidents
@incidents_app.command("list")
def incidents_list_cmd(
    site_file: Path = SITE_ARG, store: str | None = STORE_OPT, as_json: bool = JSON_OPT
) -> None:
    """Incidents of the site, oldest first."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.monitoring import list_incidents
    from heatreuse.site import load_site

    site = load_site(site_file)
    with opened_store(store) as opened:
        items = list_incidents(site, opened)
    if as_json:
        _echo_json(items)
        return
    table = Table(title=f"incidents {site.id}", title_justify="left")
    for col in ("id", "status", "severity", "opened (UTC)", "resolved (UTC)", "alerts", "title"):
        table.add_column(col, overflow="fold")
    table.add_column("acked by")
    for i in items:
        _row(
            table,
            str(i["id"]),
            i["status"],
            i["severity"],
            i["opened_at"],
            _text(i["resolved_at"]),
            f"{i['alerts']} ({', '.join(i['rules'])})",
            i["title"],
            _text(i["acked_by"]),
        )
    _print(table)


@incidents_app.command("show")
def incidents_show_cmd(
    site_file: Path = SITE_ARG,
    incident_id: str = typer.Argument(..., help="The incident id (`heatreuse incidents list`)."),
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """One incident: alerts, timeline, SLA impact and a post-incident template."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.monitoring import show_incident
    from heatreuse.site import load_site

    site = load_site(site_file)
    with opened_store(store) as opened:
        inc = show_incident(site, opened, incident_id)
    if as_json:
        _echo_json([inc])
        return
    console.print(
        f"incident {inc['id']} [{inc['status']}, {inc['severity']}] {inc['title']}\n"
        f"opened {inc['opened_at']}, resolved {_text(inc['resolved_at'])}, acked by "
        f"{_text(inc['acked_by'])}",
        highlight=False,
        markup=False,
    )
    table = Table(title="timeline (UTC)", title_justify="left")
    for col in ("at", "event", "alert", "who", "detail"):
        table.add_column(col, overflow="fold")
    for e in inc["timeline"]:
        d = e["detail"]
        text = d.get("summary") or d.get("comment") or d.get("text") or ""
        if e["kind"] in ("notified", "escalated"):
            text = f"step {d['step'] + 1} ({d['role']}): {', '.join(d['targets'])}"
        elif not text:
            text = d.get("rule", "")
        _row(table, e["at"], e["kind"], _text(e["alert_id"]), _text(e["actor"]), text)
    _print(table)
    _print(_alerts_table("alerts", inc["alerts_detail"]))
    pm = inc["postmortem"]
    console.print(
        "post-incident review\n"
        f"  impact on heat delivery: {pm['impact']}\n"
        f"  cause: {pm['cause']}\n" + "".join(f"  action: {a}\n" for a in pm["actions"]),
        highlight=False,
        markup=False,
    )


# --------------------------------------------------------------------------- actions
@actions_app.command("list")
def actions_list_cmd(
    site_file: Path = SITE_ARG, store: str | None = STORE_OPT, as_json: bool = JSON_OPT
) -> None:
    """Corrective actions opened for repeating faults (owner from the RACI)."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.monitoring import list_actions
    from heatreuse.site import load_site

    site = load_site(site_file)
    with opened_store(store) as opened:
        items = list_actions(site, opened)
    if as_json:
        _echo_json(items)
        return
    table = Table(title=f"corrective actions {site.id}", title_justify="left")
    for col in ("id", "status", "rule", "equipment", "owner", "opened", "due", "alerts", "summary"):
        table.add_column(col, overflow="fold")
    for a in items:
        _row(
            table,
            str(a["id"]),
            a["status"],
            a["rule"],
            _text(a["equipment"]),
            ", ".join(a["owner"]),
            a["opened_at"],
            a["due_at"],
            ", ".join(str(i) for i in a["alert_ids"]),
            a["summary"],
        )
    _print(table)


def register(app: typer.Typer) -> None:
    """Add ``detect``, ``rules``, ``alerts``, ``silences``, ``incidents``, ``actions``."""
    if any(cmd.name == "detect" for cmd in app.registered_commands):
        return
    app.command("detect")(detect_cmd)
    app.add_typer(rules_app, name="rules")
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(silences_app, name="silences")
    app.add_typer(incidents_app, name="incidents")
    app.add_typer(actions_app, name="actions")
