"""``heatreuse mqtt credentials``: per-principal MQTT users and topic ACLs for Mosquitto.

``heatreuse mqtt credentials SITE.yaml --out DIR [--edge NAME ...] [--topic-prefix P]
[--rotate] [--revoke-edge NAME ...] [--ha-discovery] [--show-passwords]``
    Writes ``DIR/mosquitto.passwd`` (Mosquitto 2 ``$7$`` PBKDF2-SHA512 hashes),
    ``DIR/mosquitto.acl`` and ``DIR/credentials/<principal>.cred`` (mode 0600)
    for the site's principals ``serve-<site>`` (read), ``twin-<site>`` and
    ``edge-<site>-<name>`` (write), each limited to the site's topic prefix
    (see :mod:`heatreuse.services.mqtt_access`). Passwords are printed only
    with ``--show-passwords``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from heatreuse.cli.options import SITE_ARG

mqtt_app = typer.Typer(
    help="MQTT broker access: per-principal credentials and topic ACLs for Mosquitto.",
    no_args_is_help=True,
)


@mqtt_app.command("credentials")
def credentials(
    site_file: Path = SITE_ARG,
    out: Path = typer.Option(
        ...,
        "--out",
        help="Folder for mosquitto.passwd, mosquitto.acl and credentials/ (shared by the sites "
        "of one broker: other sites' entries are kept).",
        show_default=False,
    ),
    edge: list[str] | None = typer.Option(
        None,
        "--edge",
        help="Edge name (user edge-<site>-<NAME>), repeatable; default gw1 for a site without "
        "edges in DIR.",
        show_default=False,
    ),
    topic_prefix: str | None = typer.Option(
        None,
        "--topic-prefix",
        help="The site's topic prefix (default heatreuse/<site id>, as serve's and the twin's).",
        show_default=False,
    ),
    rotate: bool = typer.Option(False, "--rotate", help="New passwords for all of the site."),
    revoke_edge: list[str] | None = typer.Option(
        None,
        "--revoke-edge",
        help="Remove this edge's user, ACL and credentials file (repeatable).",
        show_default=False,
    ),
    ha_discovery: bool = typer.Option(
        False,
        "--ha-discovery",
        help="Also let the twin publish its Home Assistant discovery configs.",
    ),
    show_passwords: bool = typer.Option(
        False, "--show-passwords", help="Print the passwords (default: only in the .cred files)."
    ),
) -> None:
    """Write Mosquitto's password and ACL files and a credentials file per principal."""
    from heatreuse.services.mqtt_access import site_edges, write_credentials
    from heatreuse.site import load_site

    site = load_site(site_file)
    edges = list(edge or [])
    if not edges and not revoke_edge and not site_edges(out, site.id):
        edges = ["gw1"]
    report = write_credentials(
        site,
        out,
        edges=edges,
        prefix=topic_prefix,
        rotate=rotate,
        revoke_edges=list(revoke_edge or []),
        ha_discovery=ha_discovery,
    )
    typer.echo(f"MQTT principals of site {site.id} (topic prefix {report.prefix}/):")
    for p in report.principals:
        line = f"  {p.action:<8} {p.name}: {p.access or '-'}"
        if p.cred_file is not None:
            line += f"; credentials {p.cred_file}"
        if show_passwords and p.password:
            line += f"; password {p.password}"
        typer.echo(line)
    typer.echo(
        f"wrote {report.passwd_file} (password_file) and {report.acl_file} (acl_file); "
        f"credentials in {report.out_dir / 'credentials'} (mode 0600)\n"
        "Mosquitto (mosquitto.conf; the files must be readable by the broker's user):\n"
        "  allow_anonymous false\n"
        f"  password_file {report.passwd_file.resolve()}\n"
        f"  acl_file {report.acl_file.resolve()}\n"
        "  listener 8883\n"
        "  certfile /etc/mosquitto/certs/server.pem\n"
        "  keyfile /etc/mosquitto/certs/server.key\n"
        "then reload the broker (kill -HUP) and pass each principal its file, e.g.\n"
        f"  heatreuse serve {site_file} --mqtt mqtts://BROKER:8883 --mqtt-ca CA.pem "
        f"--mqtt-password-file {report.out_dir / 'credentials'}/serve-{site.id}.cred"
    )


def register(app: typer.Typer) -> None:
    """Add ``mqtt`` to the CLI."""
    app.add_typer(mqtt_app, name="mqtt")
