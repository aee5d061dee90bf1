"""``heatreuse changes``: changes to the plant under the two-person rule, and break-glass.

Commands
--------
``heatreuse changes request SITE.yaml --kind setpoint --target supply_setpoint_c --value 45
--reason TEXT --by NAME [--expires 4h] [--json]``
    Records the request (who, the exact command with its bounds from the site file, why,
    expiry) and prints its id and hash. ``--break-glass`` executes it at once instead
    (the RACI's ``automation_override`` people only; flagged for review).
``heatreuse changes approve SITE.yaml ID --hash H --by NAME [--twin HOST:PORT | --modbus
HOST:PORT --register TARGET=ADDR[:UNIT[:SCALE]] | --mqtt URL]``
    A second user approves that exact request; with an executor it runs at once: write,
    read back, compare, record (exit 1 when the read-back differs or the write failed).
``heatreuse changes execute SITE.yaml ID --by NAME [executor]``: run an approved request.
``heatreuse changes reject SITE.yaml ID --reason TEXT --by NAME``
``heatreuse changes override SITE.yaml --kind K --target T --value V --reason TEXT --by NAME
[executor]``: break-glass (same as ``request --break-glass``).
``heatreuse changes review SITE.yaml ID --note TEXT --by NAME``: clear a break-glass flag.
``heatreuse changes list SITE.yaml [--state S] [--flagged] [--json]``, ``changes show
SITE.yaml ID [--json]``.

``--by NAME`` names the store user who acts (``heatreuse users add``); the RACI's person
ids are user names. Logic lives in :mod:`heatreuse.services.changes`; heavy modules are
imported inside the commands.
"""

from __future__ import annotations

import getpass
import json
import socket
from pathlib import Path
from typing import Any

import typer

from heatreuse.cli.options import (
    MQTT_CA_OPT,
    MQTT_CERT_OPT,
    MQTT_KEY_OPT,
    MQTT_PASSWORD_FILE_OPT,
    SITE_ARG,
    STORE_OPT,
)
from heatreuse.errors import HeatreuseError

changes_app = typer.Typer(
    help="Changes to the plant: request, approve (a second person), execute, break-glass.",
    no_args_is_help=True,
)

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
BY_OPT = typer.Option(..., "--by", help="The store user who acts (recorded in the audit trail).")
KIND_OPT = typer.Option(
    ...,
    "--kind",
    help="setpoint, reject_override, pump_mode, functional_test, sla_edit, maintenance_window "
    "(silences: `silences add`; role grants: `users grant`).",
)
TARGET_OPT = typer.Option(
    ...,
    "--target",
    help="What changes: supply_setpoint_c, loop_setpoint_c, heat_reject_override, "
    "pump.<id>.mode; functional_test: reject_path or backup_takeover.",
)
VALUE_OPT = typer.Option(
    "",
    "--value",
    help="The value: a number, auto/on/off, a test duration (functional_test), or JSON.",
)
REASON_OPT = typer.Option(..., "--reason", help="Why (recorded with the request).")
EXPIRES_OPT = typer.Option("4h", "--expires", help="The request lapses after this: 30m, 4h, 2d.")
TWIN_OPT = typer.Option(
    None, "--twin", help="Execute on the twin's control port HOST:PORT.", show_default=False
)
TWIN_TOKEN_OPT = typer.Option(
    None,
    "--twin-token-file",
    help="The twin's control token file (default: $HEATREUSE_TWIN_TOKEN, then the file the "
    "twin wrote for its port).",
    show_default=False,
)
MODBUS_OPT = typer.Option(
    None, "--modbus", help="Execute by Modbus TCP write at HOST:PORT.", show_default=False
)
REGISTER_OPT = typer.Option(
    None,
    "--register",
    help="Modbus: TARGET=ADDRESS[:UNIT[:SCALE]] (holding register; repeat).",
    show_default=False,
)
MQTT_OPT = typer.Option(
    None,
    "--mqtt",
    help="Execute by MQTT command at this broker URL (PREFIX/cmd/TARGET, read back "
    "PREFIX/state/TARGET).",
    show_default=False,
)
MQTT_PREFIX_OPT = typer.Option(
    None, "--mqtt-prefix", help="MQTT topic prefix (default heatreuse/SITE_ID).", show_default=False
)


def _address() -> str:
    """Where a CLI action comes from: the OS user and host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"cli {user}@{socket.gethostname()}"


def _value(text: str) -> Any:
    t = text.strip()
    try:
        return json.loads(t)
    except ValueError:
        return t


def _registers(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        target, sep, spec = item.partition("=")
        if not sep or not target or not spec:
            raise HeatreuseError(f"--register {item!r}: expected TARGET=ADDRESS[:UNIT[:SCALE]]")
        out[target.strip()] = spec.strip()
    return out


def _executor(
    site_id: str,
    twin: str | None,
    twin_token_file: Path | None,
    modbus: str | None,
    register: list[str] | None,
    mqtt: str | None,
    mqtt_prefix: str | None,
    mqtt_files: tuple[Path | None, Path | None, Path | None, Path | None] = (None,) * 4,
) -> Any:
    from heatreuse.services.addresses import BrokerFiles
    from heatreuse.services.changes import make_executor

    files = BrokerFiles(*mqtt_files)
    if files.any_given() and not mqtt:
        raise HeatreuseError("--mqtt-password-file/-ca/-cert/-key need --mqtt (the broker)")
    return make_executor(
        mqtt_files=files,
        twin=twin,
        twin_token_file=twin_token_file,
        modbus=modbus,
        registers=_registers(register),
        mqtt=mqtt,
        mqtt_prefix=mqtt_prefix,
        site_id=site_id,
    )


def _site(site_file: Path) -> Any:
    """The site file; a bare site id (no such file) for role grants."""
    from heatreuse.services.changes import SiteId
    from heatreuse.site import load_site

    if not site_file.exists() and site_file.suffix not in (".yaml", ".yml") and site_file.name:
        return SiteId(str(site_file))
    return load_site(site_file)


def _show(c: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(c, indent=2, allow_nan=False))
        return
    line = f"change {c['id']} ({c['kind']} {c['target']} = {json.dumps(c['value'])}): {c['state']}"
    typer.echo(line)
    if c["state"] == "requested":
        typer.echo(f"  hash {c['request_hash']}")
        typer.echo(f"  expires {c['expires_at']}; a second person approves it with:")
        typer.echo(
            f"  heatreuse changes approve SITE.yaml {c['id']} --hash {c['request_hash']} "
            "--by NAME [--twin HOST:PORT]"
        )
    res = c.get("result")
    if res:
        typer.echo(
            f"  {res.get('executor')}: wrote {json.dumps(res.get('written'))}, read back "
            f"{json.dumps(res.get('read_back'))}: {'ok' if res.get('ok') else 'FAILED'}"
            + (f" ({res['error']})" if res.get("error") else "")
        )
    if c.get("flagged_for_review"):
        typer.echo(f"  break-glass: flagged for review (heatreuse changes review ... {c['id']})")


def _exit_on_failure(c: dict[str, Any]) -> None:
    if c["state"] == "failed":
        raise typer.Exit(1)


@changes_app.command("request")
def changes_request(
    site_file: Path = SITE_ARG,
    kind: str = KIND_OPT,
    target: str = TARGET_OPT,
    value: str = VALUE_OPT,
    reason: str = REASON_OPT,
    by: str = BY_OPT,
    expires: str = EXPIRES_OPT,
    break_glass: bool = typer.Option(
        False,
        "--break-glass",
        help="Execute at once (automation_override people only); flagged for review.",
    ),
    twin: str | None = TWIN_OPT,
    twin_token_file: Path | None = TWIN_TOKEN_OPT,
    modbus: str | None = MODBUS_OPT,
    register: list[str] | None = REGISTER_OPT,
    mqtt: str | None = MQTT_OPT,
    mqtt_prefix: str | None = MQTT_PREFIX_OPT,
    mqtt_password_file: Path | None = MQTT_PASSWORD_FILE_OPT,
    mqtt_ca: Path | None = MQTT_CA_OPT,
    mqtt_cert: Path | None = MQTT_CERT_OPT,
    mqtt_key: Path | None = MQTT_KEY_OPT,
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Request a change (the exact command with bounds, why, expiry); prints id and hash."""
    from heatreuse.services import changes
    from heatreuse.store import using_store

    site = _site(site_file)
    if break_glass:
        ex = _executor(
            site.id,
            twin,
            twin_token_file,
            modbus,
            register,
            mqtt,
            mqtt_prefix,
            (mqtt_password_file, mqtt_ca, mqtt_cert, mqtt_key),
        )
        if ex is None:
            raise HeatreuseError(
                "--break-glass executes at once: expected --twin, --modbus or --mqtt"
            )
        with using_store(store, create=True) as s:
            c = changes.override(
                site,
                s,
                kind,
                target,
                _value(value),
                reason,
                by=by,
                executor=ex,
                address=_address(),
            )
        _show(c, as_json)
        _exit_on_failure(c)
        return
    with using_store(store, create=True) as s:
        c = changes.request_change(
            site,
            s,
            kind,
            target,
            _value(value),
            reason,
            by=by,
            expires=expires,
            address=_address(),
        )
    _show(c, as_json)


@changes_app.command("approve")
def changes_approve(
    site_file: Path = SITE_ARG,
    change_id: str = typer.Argument(..., help="The request id (cr-...)."),
    hash_hex: str = typer.Option(..., "--hash", help="The request's hash (approve exactly it)."),
    by: str = BY_OPT,
    twin: str | None = TWIN_OPT,
    twin_token_file: Path | None = TWIN_TOKEN_OPT,
    modbus: str | None = MODBUS_OPT,
    register: list[str] | None = REGISTER_OPT,
    mqtt: str | None = MQTT_OPT,
    mqtt_prefix: str | None = MQTT_PREFIX_OPT,
    mqtt_password_file: Path | None = MQTT_PASSWORD_FILE_OPT,
    mqtt_ca: Path | None = MQTT_CA_OPT,
    mqtt_cert: Path | None = MQTT_CERT_OPT,
    mqtt_key: Path | None = MQTT_KEY_OPT,
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Approve a request by its hash (a second person); executes it when an executor is given."""
    from heatreuse.services import changes
    from heatreuse.store import using_store

    site = _site(site_file)
    ex = _executor(
        site.id,
        twin,
        twin_token_file,
        modbus,
        register,
        mqtt,
        mqtt_prefix,
        (mqtt_password_file, mqtt_ca, mqtt_cert, mqtt_key),
    )
    with using_store(store, create=True) as s:
        c = changes.approve_change(
            site, s, change_id, hash_hex, by=by, executor=ex, address=_address()
        )
    _show(c, as_json)
    _exit_on_failure(c)


@changes_app.command("execute")
def changes_execute(
    site_file: Path = SITE_ARG,
    change_id: str = typer.Argument(..., help="The approved request's id."),
    by: str = BY_OPT,
    twin: str | None = TWIN_OPT,
    twin_token_file: Path | None = TWIN_TOKEN_OPT,
    modbus: str | None = MODBUS_OPT,
    register: list[str] | None = REGISTER_OPT,
    mqtt: str | None = MQTT_OPT,
    mqtt_prefix: str | None = MQTT_PREFIX_OPT,
    mqtt_password_file: Path | None = MQTT_PASSWORD_FILE_OPT,
    mqtt_ca: Path | None = MQTT_CA_OPT,
    mqtt_cert: Path | None = MQTT_CERT_OPT,
    mqtt_key: Path | None = MQTT_KEY_OPT,
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Execute an approved request: write, read back, compare, record."""
    from heatreuse.services import changes
    from heatreuse.store import using_store

    site = _site(site_file)
    ex = _executor(
        site.id,
        twin,
        twin_token_file,
        modbus,
        register,
        mqtt,
        mqtt_prefix,
        (mqtt_password_file, mqtt_ca, mqtt_cert, mqtt_key),
    )
    with using_store(store, create=True) as s:
        c = changes.execute_change(site, s, change_id, by=by, executor=ex, address=_address())
    _show(c, as_json)
    _exit_on_failure(c)


@changes_app.command("reject")
def changes_reject(
    site_file: Path = SITE_ARG,
    change_id: str = typer.Argument(..., help="The request id."),
    reason: str = typer.Option(..., "--reason", help="Why it is refused."),
    by: str = BY_OPT,
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Refuse (or, as its requester, withdraw) a pending request."""
    from heatreuse.services import changes
    from heatreuse.store import using_store

    site = _site(site_file)
    with using_store(store, create=True) as s:
        c = changes.reject_change(site, s, change_id, reason, by=by, address=_address())
    _show(c, as_json)


@changes_app.command("override")
def changes_override(
    site_file: Path = SITE_ARG,
    kind: str = KIND_OPT,
    target: str = TARGET_OPT,
    value: str = VALUE_OPT,
    reason: str = REASON_OPT,
    by: str = BY_OPT,
    twin: str | None = TWIN_OPT,
    twin_token_file: Path | None = TWIN_TOKEN_OPT,
    modbus: str | None = MODBUS_OPT,
    register: list[str] | None = REGISTER_OPT,
    mqtt: str | None = MQTT_OPT,
    mqtt_prefix: str | None = MQTT_PREFIX_OPT,
    mqtt_password_file: Path | None = MQTT_PASSWORD_FILE_OPT,
    mqtt_ca: Path | None = MQTT_CA_OPT,
    mqtt_cert: Path | None = MQTT_CERT_OPT,
    mqtt_key: Path | None = MQTT_KEY_OPT,
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Break-glass: execute a plant command at once (RACI automation_override); flagged."""
    changes_request(
        site_file=site_file,
        kind=kind,
        target=target,
        value=value,
        reason=reason,
        by=by,
        expires="4h",
        break_glass=True,
        twin=twin,
        twin_token_file=twin_token_file,
        modbus=modbus,
        register=register,
        mqtt=mqtt,
        mqtt_prefix=mqtt_prefix,
        mqtt_password_file=mqtt_password_file,
        mqtt_ca=mqtt_ca,
        mqtt_cert=mqtt_cert,
        mqtt_key=mqtt_key,
        store=store,
        as_json=as_json,
    )


@changes_app.command("review")
def changes_review(
    site_file: Path = SITE_ARG,
    change_id: str = typer.Argument(..., help="The break-glass change's id."),
    note: str = typer.Option(..., "--note", help="The review's finding."),
    by: str = BY_OPT,
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Review a break-glass override (someone else with facilities or security)."""
    from heatreuse.services import changes
    from heatreuse.store import using_store

    site = _site(site_file)
    with using_store(store, create=True) as s:
        c = changes.review(site, s, change_id, note, by=by, address=_address())
    _show(c, as_json)


@changes_app.command("list")
def changes_list(
    site_file: Path = SITE_ARG,
    state: str | None = typer.Option(
        None,
        "--state",
        help="Only this state (requested, approved, executed, ...).",
        show_default=False,
    ),
    flagged: bool = typer.Option(False, "--flagged", help="Only break-glass changes to review."),
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """The site's change requests, oldest first."""
    from heatreuse.services import changes
    from heatreuse.store import using_store

    site = _site(site_file)
    with using_store(store) as s:
        items = changes.list_changes(site, s, state=state, flagged=flagged)
    if as_json:
        typer.echo(json.dumps(items, indent=2, allow_nan=False))
        return
    if not items:
        typer.echo("(none)")
        return
    for c in items:
        flag = " [review]" if c["flagged_for_review"] else ""
        typer.echo(
            f"{c['id']}  {c['state']:<10} {c['kind']} {c['target']} = {json.dumps(c['value'])}  "
            f"by {c['requested_by']}"
            + (f", approved by {c['approved_by']}" if c["approved_by"] else "")
            + f"  {c['requested_at']}{flag}"
        )


@changes_app.command("show")
def changes_show(
    site_file: Path = SITE_ARG,
    change_id: str = typer.Argument(..., help="The request id."),
    store: str | None = STORE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """One request with its hash, state and result."""
    from heatreuse.services import changes
    from heatreuse.store import using_store

    site = _site(site_file)
    with using_store(store) as s:
        c = changes.show_change(site, s, change_id)
    _show(c, as_json)


def register(app: typer.Typer) -> None:
    """Add ``changes``."""
    if any(g.name == "changes" for g in app.registered_groups):
        return
    app.add_typer(changes_app, name="changes")
