"""``heatreuse serve`` (ingest), ``heatreuse edge`` (store and forward) and ``edge-rejects``."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import typer

from heatreuse.cli.options import (
    MQTT_CA_OPT,
    MQTT_CERT_OPT,
    MQTT_HELP,
    MQTT_KEY_OPT,
    MQTT_PASSWORD_FILE_OPT,
    SITE_ARG,
    STORE_OPT,
)
from heatreuse.errors import HeatreuseError

TOPIC_PREFIX_OPT = typer.Option(
    None,
    "--topic-prefix",
    help="The site's MQTT topic prefix (default heatreuse/<site id>, as the twin's): "
    "PREFIX/<point topic>, PREFIX/batch (see heatreuse.telemetry.mqtt).",
    show_default=False,
)
MODBUS_POLL_OPT = typer.Option(
    False, "--modbus-poll", help="Poll the Modbus devices of the site's points section."
)
MODBUS_OPT = typer.Option(
    None,
    "--modbus",
    help="HOST:PORT of Modbus devices that have no host in the site file (implies --modbus-poll).",
    show_default=False,
)
POLL_OPT = typer.Option(
    None,
    "--poll-interval",
    help="Override the Modbus poll interval of every device [s].",
    show_default=False,
)
CLIENT_ID_OPT = typer.Option(
    None,
    "--client-id",
    help="MQTT client id (names the persistent session on the broker).",
    show_default=False,
)
LOG_OPT = typer.Option("info", "--log-level", help="debug, info, warning or error.")


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


SITES_SERVE_ARG = typer.Argument(
    ...,
    help="The site YAML file; several files (or a folder: its *.yaml) run a central serve "
    "of a fleet: one store, one HTTP listener, each site's readings to its own pipeline.",
    show_default=False,
)


def _site_files(paths: list[Path]) -> list[Path]:
    """The site files given: a folder stands for its ``*.yaml``/``*.yml`` files (sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
            if not found:
                raise HeatreuseError(f"{p}: a folder without site files (*.yaml)")
            out.extend(found)
        else:
            out.append(p)
    return out


def serve(
    site_files: list[Path] = SITES_SERVE_ARG,
    store: str | None = STORE_OPT,
    mqtt: str | None = typer.Option(
        None, "--mqtt", help="Subscribe to this " + MQTT_HELP, show_default=False
    ),
    mqtt_password_file: Path | None = MQTT_PASSWORD_FILE_OPT,
    mqtt_ca: Path | None = MQTT_CA_OPT,
    mqtt_cert: Path | None = MQTT_CERT_OPT,
    mqtt_key: Path | None = MQTT_KEY_OPT,
    http: str = typer.Option(
        "127.0.0.1:8080",
        "--http",
        help="Listen HOST:PORT of the HTTP API (/api/v1, docs at /api/v1/docs), the readings "
        "push, /healthz and /metrics ('off': none).",
    ),
    modbus_poll: bool = MODBUS_POLL_OPT,
    modbus: str | None = MODBUS_OPT,
    poll_interval_s: float | None = POLL_OPT,
    topic_prefix: str | None = TOPIC_PREFIX_OPT,
    client_id: str | None = CLIENT_ID_OPT,
    retention_raw_days: float | None = typer.Option(
        None,
        "--retention-raw-days",
        help="Daily job: delete raw readings older than this many days [d] (rollups stay).",
        show_default=False,
    ),
    retention_quarantine_days: float | None = typer.Option(
        None,
        "--retention-quarantine-days",
        help="Daily job: delete quarantine rows received more than this many days ago [d].",
        show_default=False,
    ),
    retention_rollup_days: list[str] | None = typer.Option(
        None,
        "--retention-rollup-days",
        help="RES=DAYS, repeatable (1min=90): daily job deleting rollups of resolution RES "
        "older than DAYS [d]. Keep 1h for the evidence period: the ledger is built from it.",
        show_default=False,
    ),
    http_max_body_bytes: int = typer.Option(
        8 * 1024 * 1024,
        "--http-max-body-bytes",
        help="Largest HTTP push request body [bytes]; larger ones get 413 before they are read.",
        min=1,
    ),
    stall_after_s: float = typer.Option(
        120.0,
        "--stall-after-s",
        help="/healthz answers 503 'stalled' when an MQTT message is unacknowledged or a "
        "store write runs longer than this [s].",
        min=0.001,
    ),
    allow_anonymous_ingest: bool = typer.Option(
        False,
        "--allow-anonymous-ingest",
        help="Accept HTTP readings without a device token (loopback labs only; logged as a "
        "warning). Default: 401 without a token from `heatreuse devices add`.",
    ),
    log_level: str = LOG_OPT,
) -> None:
    """Run the site's ingest service (MQTT, Modbus, HTTP into one store) until SIGTERM.

    With several site files (a fleet's central serve) the HTTP push, the API and the MQTT
    subscriptions (one per site prefix heatreuse/<site id>) serve every site; the live
    watch runs for a single site only.
    """
    from heatreuse.cli.store_cmds import parse_rollup_days
    from heatreuse.services.addresses import BrokerFiles, parse_broker_url, parse_host_port
    from heatreuse.services.serve import IngestService, ServeConfig
    from heatreuse.site import load_site
    from heatreuse.threads import limit_malloc_arenas

    limit_malloc_arenas()  # before the server's threads: a flat heap over days
    _logging(log_level)
    sites = [load_site(f) for f in _site_files(site_files)]
    site = sites[0]
    files = BrokerFiles(mqtt_password_file, mqtt_ca, mqtt_cert, mqtt_key)
    broker = parse_broker_url(mqtt, "--mqtt", files) if mqtt else None
    if broker is None and files.any_given():
        raise HeatreuseError("--mqtt-password-file/-ca/-cert/-key need --mqtt (the broker)")
    config = ServeConfig(
        store_url=store,
        mqtt=broker,
        http=None if http.strip().lower() == "off" else parse_host_port(http, "--http", 8080),
        modbus_poll=modbus_poll or modbus is not None,
        modbus_default=parse_host_port(modbus, "--modbus", 502) if modbus else None,
        modbus_poll_interval_s=poll_interval_s,
        topic_prefix=topic_prefix,
        client_id=client_id,
        retention_raw_days=retention_raw_days,
        retention_quarantine_days=retention_quarantine_days,
        retention_rollup_days=parse_rollup_days(retention_rollup_days, "--retention-rollup-days"),
        http_max_body_bytes=http_max_body_bytes,
        allow_anonymous_ingest=allow_anonymous_ingest,
        stall_after_s=stall_after_s,
    )
    from heatreuse.api.app import app_for_service

    service = IngestService(site, config, app_factory=app_for_service, more_sites=sites[1:])

    def ready(svc: IngestService) -> None:
        parts = []
        if broker is not None:
            prefix = topic_prefix or f"heatreuse/{site.id}"
            if len(sites) > 1:
                prefix = "heatreuse/<site id>"
            parts.append(f"mqtt {broker.url} ({prefix}/#)")
        if config.http:
            parts.append(f"http http://{config.http[0]}:{config.http[1]}")
        if svc.poller is not None:
            parts.append(f"modbus {len(svc.poller.pollers)} device(s)")
        print(
            f"heatreuse serve: site {site.id} ready: {', '.join(parts) or 'no inputs'}"
            if len(sites) == 1
            else f"heatreuse serve: {len(sites)} sites ready: {', '.join(parts) or 'no inputs'}",
            file=sys.stderr,
            flush=True,
        )

    code = service.run_until_signal(on_ready=ready)
    if code:
        raise typer.Exit(code)


def edge(
    site_file: Path = SITE_ARG,
    upstream: str = typer.Option(
        ...,
        "--upstream",
        help="The central heatreuse serve: its HTTP endpoint (http://central:8080) or the MQTT "
        "broker it subscribes to, mqtt://[USER@]HOST:PORT/TOPIC-PREFIX or mqtts://... (port "
        "1883/8883 and prefix heatreuse/<site id> if left out; batches go to "
        "TOPIC-PREFIX/batch). Password with --upstream-password-file or "
        "$HEATREUSE_UPSTREAM_PASSWORD.",
        show_default=False,
    ),
    upstream_password_file: Path | None = typer.Option(
        None,
        "--upstream-password-file",
        help="MQTT upstream: file holding the password, or the credentials file of "
        "`heatreuse mqtt credentials`.",
        show_default=False,
    ),
    upstream_ca: Path | None = typer.Option(
        None, "--upstream-ca", help="mqtts upstream: PEM CA of the broker.", show_default=False
    ),
    upstream_cert: Path | None = typer.Option(
        None, "--upstream-cert", help="mqtts upstream: client certificate.", show_default=False
    ),
    upstream_key: Path | None = typer.Option(
        None, "--upstream-key", help="mqtts upstream: client key.", show_default=False
    ),
    upstream_token_file: Path | None = typer.Option(
        None,
        "--upstream-token-file",
        help="HTTP upstream: file holding the device token of `heatreuse devices add` "
        "(default: $HEATREUSE_UPSTREAM_TOKEN).",
        show_default=False,
    ),
    buffer: Path | None = typer.Option(
        None,
        "--buffer",
        help="Local buffer file (default $HEATREUSE_HOME/edge-<site>.db).",
        show_default=False,
    ),
    mqtt: str | None = typer.Option(
        None, "--mqtt", help="Subscribe to this local " + MQTT_HELP, show_default=False
    ),
    mqtt_password_file: Path | None = MQTT_PASSWORD_FILE_OPT,
    mqtt_ca: Path | None = MQTT_CA_OPT,
    mqtt_cert: Path | None = MQTT_CERT_OPT,
    mqtt_key: Path | None = MQTT_KEY_OPT,
    modbus_poll: bool = MODBUS_POLL_OPT,
    modbus: str | None = MODBUS_OPT,
    poll_interval_s: float | None = POLL_OPT,
    topic_prefix: str | None = TOPIC_PREFIX_OPT,
    client_id: str | None = CLIENT_ID_OPT,
    batch_size: int = typer.Option(2000, "--batch-size", help="Readings per upstream request."),
    log_level: str = LOG_OPT,
) -> None:
    """Run the site's edge agent: buffer locally first, forward upstream in order."""
    from heatreuse.services.addresses import BrokerFiles, parse_broker_url, parse_host_port
    from heatreuse.services.edge import EdgeAgent, EdgeConfig, read_upstream_token
    from heatreuse.site import load_site

    _logging(log_level)
    if mqtt is None and not modbus_poll and modbus is None:
        raise HeatreuseError(
            "edge: no local source given; expected --mqtt HOST:PORT and/or --modbus-poll "
            "(or --modbus HOST:PORT), so that the agent has readings to buffer and forward"
        )
    site = load_site(site_file)
    files = BrokerFiles(mqtt_password_file, mqtt_ca, mqtt_cert, mqtt_key)
    if mqtt is None and files.any_given():
        raise HeatreuseError("--mqtt-password-file/-ca/-cert/-key need --mqtt (the local broker)")
    config = EdgeConfig(
        upstream=upstream,
        upstream_files=BrokerFiles(
            upstream_password_file, upstream_ca, upstream_cert, upstream_key
        ),
        upstream_token=read_upstream_token(upstream_token_file),
        buffer_path=buffer,
        mqtt=parse_broker_url(mqtt, "--mqtt", files) if mqtt else None,
        modbus_poll=modbus_poll or modbus is not None,
        modbus_default=parse_host_port(modbus, "--modbus", 502) if modbus else None,
        modbus_poll_interval_s=poll_interval_s,
        topic_prefix=topic_prefix,
        client_id=client_id,
        batch_size=batch_size,
    )
    agent = EdgeAgent(site, config)

    def ready(a: EdgeAgent) -> None:
        print(
            f"heatreuse edge: site {site.id} ready: forwarding to {a.url}",
            file=sys.stderr,
            flush=True,
        )

    code = agent.run_until_signal(on_ready=ready)
    if code:
        raise typer.Exit(code)


def edge_rejects(
    site_file: Path = SITE_ARG,
    buffer: Path | None = typer.Option(
        None,
        "--buffer",
        help="The edge agent's buffer file (default $HEATREUSE_HOME/edge-<site>.db).",
        show_default=False,
    ),
    reason: str | None = typer.Option(
        None, "--reason", help="Only this reason (e.g. unparseable).", show_default=False
    ),
    limit: int = typer.Option(50, "--limit", help="At most this many rows, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON on stdout."),
) -> None:
    """List payloads the edge agent kept locally because they never became readings."""
    from rich.text import Text

    from heatreuse.cli.output import Table, make_console
    from heatreuse.services.edge import list_edge_rejects
    from heatreuse.site import load_site

    site = load_site(site_file)
    result = list_edge_rejects(site, buffer, limit=limit, reason=reason)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    rows = result["rejects"]
    table = Table(
        title=f"Edge rejects of site {site.id}"
        + (f", reason {reason}" if reason else "")
        + f" ({len(rows)} of {result['total']} shown, limit {limit})",
        title_justify="left",
        caption=f"buffer {result['buffer']}",
        caption_justify="left",
    )
    for col in ("received", "source", "reason", "point", "raw", "detail"):
        table.add_column(col, overflow="fold")
    for r in rows:  # Text: payloads are shown as they came, never read as rich markup
        table.add_row(
            *(
                Text(str(v))
                for v in (
                    r["received_at"],
                    r["source"],
                    r["reason"],
                    r["point"] or "",
                    r["raw"][:200],
                    r["detail"],
                )
            )
        )
    make_console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``edge`` and ``edge-rejects`` to the CLI."""
    app.command("serve")(serve)
    app.command("edge")(edge)
    app.command("edge-rejects")(edge_rejects)
