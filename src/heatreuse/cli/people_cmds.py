"""People and permissions: ``users``, ``tokens``, ``devices``, ``audit``, ``access``.

Commands
--------
``heatreuse users add NAME --role ROLE --site SITE_ID [--password-stdin] [--by NAME]``
``[--reason TEXT]``
    grants the role at once while the site has under two admins (set-up); after that a
    role above viewer adds the user as viewer and files a role_grant change request.
``heatreuse users grant NAME --role ROLE --site SITE_ID --reason TEXT --by ADMIN``
    files a role_grant change request (two-person rule; a second admin approves it).
``heatreuse users list [--json]``, ``heatreuse users disable NAME``
``heatreuse tokens create --user NAME [--scope read|write|display] [--expires 30d]``
    prints the token once (store keeps only its HMAC).
``heatreuse tokens list [--json]``, ``heatreuse tokens revoke ID``
``heatreuse devices add SITE.yaml NAME`` prints the device token once.
``heatreuse audit list SITE.yaml [--since ISO] [--json]``
``heatreuse access review [--site SITE] [--json] [--sign-off --by NAME]``

Writers open the store with ``create=True``; readers never create one. Every change is
an audit entry (:mod:`heatreuse.services.people`); ``heatreuse ledger update`` folds
them into the signed ledger. Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

import typer

from heatreuse.cli.options import SITE_ARG, STORE_OPT
from heatreuse.errors import HeatreuseError

users_app = typer.Typer(help="People: add, list, disable.", no_args_is_help=True)
tokens_app = typer.Typer(
    help="API tokens: create (shown once), list, revoke.", no_args_is_help=True
)
devices_app = typer.Typer(help="Ingest devices (edges) and their tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail: who changed what, when, why.", no_args_is_help=True)
access_app = typer.Typer(help="Access review: who holds what.", no_args_is_help=True)

JSON_OPT = typer.Option(False, "--json", help="Print a JSON list of objects.")
BY_OPT = typer.Option(
    None,
    "--by",
    help="Who is acting (recorded in the audit trail; default: $USER).",
    show_default=False,
)


def _by(by: str | None) -> str:
    return by or os.environ.get("USER") or "cli"


def _echo_json(items: Any) -> None:
    typer.echo(json.dumps(items, indent=2, allow_nan=False))


def _table(items: list[dict[str, Any]], cols: list[str]) -> None:
    if not items:
        typer.echo("(none)")
        return
    rows = [[("-" if i.get(c) in (None, "", []) else str(i.get(c))) for c in cols] for i in items]
    widths = [max(len(c), *(len(r[k]) for r in rows)) for k, c in enumerate(cols)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


# --------------------------------------------------------------------------- users
@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="User name."),
    role: str = typer.Option(..., "--role", help="Role on the site (viewer ... admin)."),
    site: str = typer.Option(..., "--site", help="The site id the role applies to."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    by: str | None = BY_OPT,
    reason: str | None = typer.Option(
        None,
        "--reason",
        help="Why the role is needed (a role above viewer on a site with two admins is a "
        "role grant request: a second admin approves it).",
    ),
    expires: str = typer.Option("4h", "--expires", help="A role grant request lapses after this."),
    store: str | None = STORE_OPT,
) -> None:
    """Add a user with an argon2id password and a role on one site.

    Until the site has had two admins (setting it up: the first admin, the second) the
    role is granted at once. After that (even if one is disabled later), viewer is
    granted at once and any other role is a role grant under the two-person rule: the
    user is added as viewer and the grant filed as a change request of ``--by`` (an
    admin, with ``--reason``) for another admin to approve.
    """
    from heatreuse.services import access, changes, people
    from heatreuse.store import using_store

    access.check_role(role)

    def refuse(admins: list[str]) -> HeatreuseError:
        return HeatreuseError(
            f"--role {role}: site {site!r} has been set up with two admins (now: "
            f"{', '.join(admins) or 'none'}), so a role above viewer is a role grant under the "
            "two-person rule; give --by ADMIN (who requests it) and --reason TEXT: the user is "
            "added as viewer and the grant is filed for a second admin to approve (nothing "
            "was changed)"
        )

    asked = by is not None and bool((reason or "").strip())
    with using_store(store, create=True) as s:
        need, admins = people.role_grants_need_approval(s, site)
    if role != "viewer" and need and not asked:
        raise refuse(admins)  # before the password prompt
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != password:
            raise HeatreuseError("the two passwords differ; nothing was changed")
    with using_store(store, create=True) as s, s.transaction() as tx:
        # decided and done in one transaction: two `users add` at once cannot both see
        # a site in set-up (both refusals and the grant roll back as one)
        s.lock(tx, f"role_grants:{site}")
        need, admins = people.role_grants_need_approval(s, site)
        if role == "viewer" or not need:
            info = people.add_user(s, name, password, role, site, by=_by(by))
            people.note_site_admins(s, site)
            typer.echo(f"user {info['name']} added: {info['role']} on site {info['site_id']}")
            return
        if not asked or by is None or reason is None:
            raise refuse(admins)
        people.add_user(s, name, password, "viewer", site, by=by)
        c = changes.request_role_grant(s, name, role, site, reason, by=by, expires=expires)
    typer.echo(
        f"user {name} added: viewer on site {site}; role grant {role} filed as change request "
        f"{c['id']} (not granted yet); another admin approves it with: heatreuse changes "
        f"approve {site} {c['id']} --hash {c['request_hash']} --by OTHER_ADMIN"
    )


@users_app.command("grant")
def users_grant(
    name: str = typer.Argument(..., help="User name."),
    role: str = typer.Option(..., "--role", help="Role to grant (viewer ... admin)."),
    site: str = typer.Option(..., "--site", help="The site id the role applies to."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded with the request)."),
    expires: str = typer.Option("4h", "--expires", help="The request lapses after this."),
    by: str = typer.Option(..., "--by", help="The admin who requests the grant."),
    store: str | None = STORE_OPT,
) -> None:
    """Request a role grant: a second admin approves it (`heatreuse changes approve`)."""
    from heatreuse.services import changes
    from heatreuse.store import using_store

    with using_store(store, create=True) as s:
        c = changes.request_role_grant(s, name, role, site, reason, by=by, expires=expires)
    typer.echo(
        f"role grant {role} on {site} to {name}: change request {c['id']} filed (not granted "
        f"yet); a second admin approves it with: heatreuse changes approve {site} {c['id']} "
        f"--hash {c['request_hash']} --by OTHER_ADMIN"
    )


@users_app.command("list")
def users_list(json_out: bool = JSON_OPT, store: str | None = STORE_OPT) -> None:
    """Every user with roles per site and state."""
    from heatreuse.services import people
    from heatreuse.store import using_store

    with using_store(store) as s:
        items = people.list_users(s)
    if json_out:
        _echo_json(items)
    else:
        _table(items, ["name", "roles", "disabled", "last_login", "locked_until"])


@users_app.command("disable")
def users_disable(
    name: str = typer.Argument(..., help="User name."),
    by: str | None = BY_OPT,
    store: str | None = STORE_OPT,
) -> None:
    """Disable a user: logins and tokens are refused from now on."""
    from heatreuse.services import people
    from heatreuse.store import using_store

    with using_store(store, create=True) as s:
        changed = people.disable_user(s, name, by=_by(by))
    typer.echo(f"user {name} disabled" if changed else f"user {name} was already disabled")


# --------------------------------------------------------------------------- tokens
@tokens_app.command("create")
def tokens_create(
    user: str = typer.Option(..., "--user", help="Whose token."),
    scope: str = typer.Option("read", "--scope", help="read, write or display."),
    expires: str = typer.Option("30d", "--expires", help="Lifetime: 12h, 30d, ... or never."),
    by: str | None = BY_OPT,
    store: str | None = STORE_OPT,
) -> None:
    """Create an API token; it is printed once and never stored."""
    from heatreuse.services import people
    from heatreuse.store import using_store

    secret = people.load_token_secret(create=True)
    with using_store(store, create=True) as s:
        token, info = people.create_token(
            s, user, scope=scope, expires=expires, by=_by(by), secret=secret
        )
    typer.echo(token)
    typer.echo(
        f"token {info['id']} for {user} (scope {scope}, expires {info['expires'] or 'never'}); "
        "copy it now: it is not shown again",
        err=True,
    )


@tokens_app.command("list")
def tokens_list(json_out: bool = JSON_OPT, store: str | None = STORE_OPT) -> None:
    """Every token (never the token itself) with owner, scope, state, last use."""
    from heatreuse.services import people
    from heatreuse.store import using_store

    with using_store(store) as s:
        items = people.list_tokens(s)
    if json_out:
        _echo_json(items)
    else:
        _table(items, ["id", "owner", "kind", "scope", "state", "expires", "last_used"])


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: str = typer.Argument(..., help="The token id (see `tokens list`)."),
    by: str | None = BY_OPT,
    store: str | None = STORE_OPT,
) -> None:
    """Revoke a token at once."""
    from heatreuse.services import people
    from heatreuse.store import using_store

    with using_store(store, create=True) as s:
        changed = people.revoke_token(s, token_id, by=_by(by))
    typer.echo(f"token {token_id} revoked" if changed else f"token {token_id} was already revoked")


# --------------------------------------------------------------------------- devices
@devices_app.command("add")
def devices_add(
    site_file: Path = SITE_ARG,
    name: str = typer.Argument(..., help="Device (edge) name, unique per site."),
    by: str | None = BY_OPT,
    store: str | None = STORE_OPT,
) -> None:
    """Add an ingest device of the site; prints its token once."""
    from heatreuse.services import people
    from heatreuse.site import load_site
    from heatreuse.store import using_store

    site = load_site(site_file)
    secret = people.load_token_secret(create=True)
    with using_store(store, create=True) as s:
        token, info = people.add_device(s, site.id, name, by=_by(by), secret=secret)
    typer.echo(token)
    typer.echo(
        f"device {name} of site {site.id} (token {info['id']}); give the edge this token with "
        "--upstream-token-file FILE or $HEATREUSE_UPSTREAM_TOKEN; it is not shown again",
        err=True,
    )


# --------------------------------------------------------------------------- audit, access
@audit_app.command("list")
def audit_list(
    site_file: Path = SITE_ARG,
    since: str | None = typer.Option(
        None, "--since", help="Only entries at or after this ISO time.", show_default=False
    ),
    json_out: bool = JSON_OPT,
    store: str | None = STORE_OPT,
) -> None:
    """The site's audit entries, oldest first."""
    from heatreuse.services import people
    from heatreuse.site import load_site
    from heatreuse.store import using_store

    site = load_site(site_file)
    with using_store(store) as s:
        items = people.list_audit(s, site.id, since)
    if json_out:
        _echo_json(items)
    else:
        _table(items, ["id", "at", "actor", "action", "target", "reason"])


@access_app.command("review")
def access_review(
    site: str | None = typer.Option(None, "--site", help="Only this site id.", show_default=False),
    json_out: bool = JSON_OPT,
    sign_off: bool = typer.Option(
        False, "--sign-off", help="Record this review as an audit entry (needs --by)."
    ),
    by: str | None = typer.Option(None, "--by", help="The reviewer.", show_default=False),
    store: str | None = STORE_OPT,
) -> None:
    """Every user, token and device with roles, last use, expiry; stale or expired flagged."""
    from heatreuse.services import people
    from heatreuse.store import using_store

    if sign_off and not by:
        raise HeatreuseError("--sign-off: expected --by NAME (who reviewed), got none")
    with using_store(store, create=sign_off) as s:
        items = people.access_review(s, site_id=site)
        if sign_off:
            assert by is not None
            people.sign_off_review(s, items, by=by, site_id=site)
    if json_out:
        _echo_json(items)
    else:
        _table(items, ["kind", "name", "roles", "last_use", "expires", "flags"])
    if sign_off:
        typer.echo(f"review signed off by {by} (audit entry recorded)", err=True)


def register(app: typer.Typer) -> None:
    """Add ``users``, ``tokens``, ``devices``, ``audit``, ``access``."""
    if any(g.name == "users" for g in app.registered_groups):
        return
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(devices_app, name="devices")
    app.add_typer(audit_app, name="audit")
    app.add_typer(access_app, name="access")
