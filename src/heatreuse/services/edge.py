"""The edge agent of a site (``heatreuse edge``): collect locally, buffer first, forward.

Local inputs (the site's MQTT broker and/or its Modbus devices) write into the
:class:`~heatreuse.telemetry.edge.EdgeBuffer` (a local SQLite file) before
anything is acknowledged; the :class:`~heatreuse.telemetry.edge.Forwarder`
sends the buffer in order to a central ``heatreuse serve`` and advances its
watermark after each acknowledgement. A broken link only makes the buffer
grow; it is replayed in order when the link returns, and the upstream stores
each reading once (see :mod:`heatreuse.telemetry.edge`).

Upstream (``--upstream``, :func:`parse_upstream`)
-------------------------------------------------
=====================================  ===============================================
``http://HOST:PORT`` (or ``https``)    ``POST`` to the push endpoint of ``heatreuse serve
                                       --http`` (``/api/v1/sites/<site>/readings``
                                       appended unless given); acknowledged by ``200``
``mqtt://[USER@]HOST[:PORT][/PREFIX]``  QoS 1 ``PUBLISH`` to ``PREFIX/batch`` on the
                                       broker that ``heatreuse serve --mqtt`` subscribes
                                       to; ``PORT`` defaults to 1883, ``PREFIX`` to
                                       serve's default ``heatreuse/<site id>`` (give
                                       serve's ``--topic-prefix`` if it has one);
                                       acknowledged by the broker's PUBACK
``mqtts://[USER@]HOST[:PORT][/PREFIX]``  the same over TLS (port 8883; the broker's CA
                                       with ``--upstream-ca``)
=====================================  ===============================================

The upstream's password comes from ``--upstream-password-file`` (or
``HEATREUSE_UPSTREAM_PASSWORD``); the URL is parsed by the one broker-URL
parser, :func:`heatreuse.services.addresses.parse_broker_url`.

This module wires the adapters: the batch topic comes from
:class:`heatreuse.telemetry.mqtt.TopicLayout` (the layout ``serve`` subscribes
to) and is handed to :class:`heatreuse.telemetry.edge.MqttTransport`, so the
edge publishes exactly the batch payload ``serve`` parses. An MQTT upstream on
the local ``--mqtt`` broker whose batch topic lies below the local topic
prefix is refused: the agent would buffer its own batches again (a loop).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from heatreuse.errors import AddressError, IngestError
from heatreuse.locations import redact_url
from heatreuse.mqttconf import MqttConnection, as_connection
from heatreuse.services.addresses import BrokerFiles, parse_broker_url
from heatreuse.services.lifecycle import run_until_signal
from heatreuse.services.serve import LoopThread
from heatreuse.site import Site, expand_points
from heatreuse.telemetry.edge import (
    EdgeBuffer,
    Forwarder,
    HttpTransport,
    MqttTransport,
    Transport,
    read_rejects,
    readings_url,
)

log = logging.getLogger(__name__)


def default_buffer_path(site_id: str) -> Path:
    """``$HEATREUSE_HOME/edge-<site>.db``."""
    from heatreuse.store import heatreuse_home

    return heatreuse_home() / f"edge-{site_id}.db"


UPSTREAM_FORMS = (
    "the HTTP endpoint of a heatreuse serve (http://HOST:PORT) or the MQTT broker it "
    "subscribes to (mqtt://[USER@]HOST:PORT/TOPIC-PREFIX or mqtts://...; port 1883 (8883) and "
    "prefix heatreuse/<site id> if left out)"
)
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Upstream:
    """Where an edge agent forwards to (:func:`parse_upstream`).

    Attributes
    ----------
    scheme
        ``http`` (also for https) or ``mqtt``.
    url
        HTTP: the push endpoint; MQTT: ``mqtt[s]://[USER@]HOST:PORT/<batch topic>``
        (never the password).
    host, port
        The MQTT broker (empty and 0 for HTTP).
    connection
        The MQTT broker with credentials and TLS (None for HTTP).
    topic_prefix
        The site prefix ``serve`` subscribes to (MQTT; empty for HTTP).
    batch_topic
        ``<topic_prefix>/batch`` (MQTT; empty for HTTP).
    """

    scheme: Literal["http", "mqtt"]
    url: str
    host: str = ""
    port: int = 0
    topic_prefix: str = ""
    batch_topic: str = ""
    connection: MqttConnection | None = None


def parse_upstream(upstream: str, site_id: str, files: BrokerFiles | None = None) -> Upstream:
    """Parse ``--upstream`` (see the module docstring for the forms).

    Parameters
    ----------
    upstream
        What the user typed.
    site_id
        The site (default topic prefix, HTTP endpoint).
    files
        ``--upstream-password-file``, ``--upstream-ca``, ... (MQTT only).

    Raises
    ------
    IngestError
        Another scheme, no host, a bad port, a query or fragment, a topic
        prefix with ``+``/``#``, bad credentials options: one line naming
        ``--upstream``, what is expected and what came.
    """
    from heatreuse.telemetry.mqtt import TopicLayout

    text = upstream.strip()
    scheme = text.partition("://")[0].lower() if "://" in text else ""
    if scheme in ("http", "https"):
        if files is not None and files.any_given():
            raise IngestError(
                "--upstream-password-file/-ca/-cert/-key apply to an MQTT upstream "
                f"(mqtt:// or mqtts://); got {redact_url(upstream)!r}"
            )
        return Upstream("http", readings_url(text, site_id))
    if scheme not in ("mqtt", "mqtts"):
        got = f"scheme {scheme!r} in {redact_url(upstream)!r}" if scheme else repr(upstream)
        raise IngestError(f"--upstream: expected {UPSTREAM_FORMS}; got {got}")
    try:
        conn = parse_broker_url(text, "--upstream", files, allow_prefix=True)
    except AddressError as exc:
        raise IngestError(str(exc)) from None
    try:
        layout = TopicLayout(site_id, conn.topic_prefix)
    except IngestError as exc:
        raise IngestError(f"--upstream {redact_url(upstream)!r}: {exc}") from None
    return Upstream(
        "mqtt",
        f"{conn.url}/{layout.batch_topic}",
        host=conn.host,
        port=conn.port,
        topic_prefix=layout.base,
        batch_topic=layout.batch_topic,
        connection=conn,
    )


def _same_broker(a: tuple[str, int], b: tuple[str, int]) -> bool:
    def norm(host: str) -> str:
        h = host.lower().strip("[]")
        return "loopback" if h in _LOOPBACK else h

    return a[1] == b[1] and norm(a[0]) == norm(b[0])


@dataclass(frozen=True)
class EdgeConfig:
    """What ``heatreuse edge`` runs.

    Attributes
    ----------
    upstream
        ``http://HOST:PORT`` of the central ``heatreuse serve`` (or its readings
        endpoint), or ``mqtt://HOST[:PORT][/TOPIC-PREFIX]`` of its broker
        (:func:`parse_upstream`).
    buffer_path
        The local buffer file (None: :func:`default_buffer_path`).
    upstream_files
        ``--upstream-password-file``, ``--upstream-ca``, ... of an MQTT upstream.
    upstream_token
        HTTP upstream: the edge's device token (:func:`read_upstream_token`); a 401
        stops forwarding with a clear error (the buffer keeps the readings).
    mqtt
        Local broker: a :class:`heatreuse.mqttconf.MqttConnection` or a plain
        ``(host, port)``; None for no local MQTT.
    modbus_poll
        Poll the site's Modbus devices.
    modbus_default
        ``(host, port)`` for devices without a host in the site file.
    modbus_poll_interval_s
        Overrides the devices' poll interval [s].
    topic_prefix
        The site's MQTT topic prefix (None: ``heatreuse/<site>``).
    client_id
        MQTT client id (persistent session); default ``heatreuse-edge-<site>``.
    session_expiry_s
        How long the broker keeps the session while the agent is down [s].
    batch_size
        Readings per upstream request or MQTT message.
    upstream_timeout_s
        Longest wait for the upstream's acknowledgement of a batch (HTTP
        answer, PUBACK) [s].
    upstream_connect_wait_s
        MQTT upstream: longest wait for the broker connection before a send
        counts as failed [s].
    min_backoff_s, max_backoff_s
        Retry interval bounds of the forwarder [s].
    stop_timeout_s
        Longest a graceful stop waits per path [s].
    """

    upstream: str
    buffer_path: Path | None = None
    upstream_files: BrokerFiles | None = None
    upstream_token: str | None = None
    mqtt: MqttConnection | tuple[str, int] | None = None
    modbus_poll: bool = False
    modbus_default: tuple[str, int] | None = None
    modbus_poll_interval_s: float | None = None
    topic_prefix: str | None = None
    client_id: str | None = None
    session_expiry_s: int = 7 * 86_400
    batch_size: int = 2000
    upstream_timeout_s: float = 30.0
    upstream_connect_wait_s: float = 5.0
    min_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    stop_timeout_s: float = 30.0


class EdgeAgent:
    """Store-and-forward agent of one site (``start()``/``stop()``)."""

    def __init__(self, site: Site, config: EdgeConfig) -> None:
        self.site = site
        self.config = config
        self.upstream = parse_upstream(config.upstream, site.id, config.upstream_files)
        self._check_no_loop()
        self.url = self.upstream.url
        self.buffer: EdgeBuffer | None = None
        self.forwarder: Forwarder | None = None
        self.subscriber: Any = None
        self.poller: Any = None
        self._loop: LoopThread | None = None
        self._started = False

    def start(self) -> None:
        """Open the buffer, start the local inputs and the forwarder (returns at once)."""
        if self._started:
            return
        self._started = True
        path = self.config.buffer_path or default_buffer_path(self.site.id)
        transport = self._transport()
        if isinstance(transport, MqttTransport):
            transport.open()  # a refused user or a failed TLS handshake stops here (exit 2)
        self.buffer = EdgeBuffer(path)
        self.forwarder = Forwarder(
            self.buffer,
            transport,
            batch_size=self.config.batch_size,
            min_backoff_s=self.config.min_backoff_s,
            max_backoff_s=self.config.max_backoff_s,
        )
        self.forwarder.start()
        if self.config.mqtt is not None:
            from heatreuse.telemetry.mqtt import MqttSettings, MqttSubscriber, TopicLayout

            layout = TopicLayout(self.site.id, self.config.topic_prefix)
            local = as_connection(self.config.mqtt)
            assert local is not None
            self.subscriber = MqttSubscriber(
                layout,
                self.buffer,
                MqttSettings(
                    host=local.host,
                    port=local.port,
                    connection=local,
                    client_id=self.config.client_id or f"heatreuse-edge-{self.site.id}",
                    session_expiry_s=self.config.session_expiry_s,
                    availability_topic=layout.service_status_topic("edge"),
                ),
            )
            self.subscriber.start()
        if self.config.modbus_poll:
            from heatreuse.telemetry.modbus import ModbusPoller, device_targets

            host_port = self.config.modbus_default or (None, None)
            targets = device_targets(
                expand_points(self.site),
                default_host=host_port[0],
                default_port=host_port[1],
                poll_interval_s=self.config.modbus_poll_interval_s,
            )
            if targets:
                self._loop = LoopThread(f"edge-modbus-{self.site.id}")
                self._loop.start()
                self.poller = ModbusPoller(targets, self.buffer)
                self._loop.submit(self.poller.run())
        log.info(
            "heatreuse edge: site %s buffering to %s, forwarding to %s",
            self.site.id,
            path,
            self.url,
        )

    def _check_no_loop(self) -> None:
        """Refuse an MQTT upstream that the agent's own local subscription would receive."""
        from heatreuse.telemetry.mqtt import TopicLayout

        up = self.upstream
        if up.scheme != "mqtt" or self.config.mqtt is None:
            return
        local = TopicLayout(self.site.id, self.config.topic_prefix)
        broker = as_connection(self.config.mqtt)
        assert broker is not None
        same = _same_broker((up.host, up.port), (broker.host, broker.port))
        if same and up.batch_topic.startswith(local.base + "/"):
            raise IngestError(
                f"--upstream {self.config.upstream}: publishes to {up.batch_topic}, which this "
                f"agent's own --mqtt subscription {local.subscription} on the same broker would "
                f"buffer again (a loop); expected an upstream topic prefix outside "
                f"{local.base}/, e.g. mqtt://{up.host}:{up.port}/central/{self.site.id}"
            )

    def _transport(self) -> Transport:
        """The upstream link: HTTP push or MQTT publish to serve's batch topic."""
        cfg = self.config
        up = self.upstream
        if up.scheme == "http":
            return HttpTransport(up.url, cfg.upstream_timeout_s, token=cfg.upstream_token)
        local_id = cfg.client_id or f"heatreuse-edge-{self.site.id}"
        return MqttTransport(
            up.host,
            up.port,
            up.batch_topic,
            connection=up.connection,
            client_id=f"{local_id}-upstream",
            timeout_s=cfg.upstream_timeout_s,
            connect_wait_s=cfg.upstream_connect_wait_s,
            reconnect_max_delay_s=max(1, round(cfg.max_backoff_s)),
        )

    def wait_ready(self, timeout_s: float = 10.0) -> bool:
        """Block until the MQTT subscriber (if any) is subscribed."""
        if self.subscriber is None:
            return True
        return bool(self.subscriber.wait_connected(timeout_s))

    def stats(self) -> dict[str, Any]:
        """Buffer, forwarder and input state."""
        return {
            "site_id": self.site.id,
            "buffer_pending": self.buffer.pending() if self.buffer is not None else 0,
            "buffer_rejects": self.buffer.rejects() if self.buffer is not None else 0,
            "watermark": self.buffer.watermark() if self.buffer is not None else 0,
            "forwarder": self.forwarder.as_dict() if self.forwarder is not None else None,
            "mqtt": self.subscriber.stats() if self.subscriber is not None else None,
            "modbus": self.poller.stats() if self.poller is not None else None,
        }

    def stop(self) -> bool:
        """Stop inputs (buffering what they received), then the forwarder; close the buffer."""
        if not self._started:
            return True
        ok = True
        if self.subscriber is not None:
            ok = self.subscriber.stop(self.config.stop_timeout_s) and ok
        if self.poller is not None and self._loop is not None:
            self._loop.call(self.poller.request_stop)
            ok = self._loop.join(self.config.stop_timeout_s) and ok
        if self.forwarder is not None:
            self.forwarder.stop(self.config.stop_timeout_s)
        if self.buffer is not None:
            self.buffer.close()
        self._started = False
        return ok

    def run_until_signal(self, on_ready: Callable[[EdgeAgent], None] | None = None) -> int:
        """Start, wait for SIGTERM/SIGINT (main thread), stop; return the exit code (0 ok)."""

        def start() -> None:
            self.start()
            if on_ready is not None:
                on_ready(self)

        return run_until_signal("edge", start, self.stop)


#: Environment variable holding the edge's device token (else --upstream-token-file).
UPSTREAM_TOKEN_ENV = "HEATREUSE_UPSTREAM_TOKEN"


def read_upstream_token(token_file: Path | None) -> str | None:
    """The device token from ``--upstream-token-file`` (first line) or the environment.

    Raises
    ------
    IngestError
        The file cannot be read or is empty.
    """
    import os

    if token_file is not None:
        try:
            text = Path(token_file).read_text().strip()
        except OSError as exc:
            raise IngestError(f"--upstream-token-file {token_file}: cannot read: {exc}") from None
        if not text:
            raise IngestError(
                f"--upstream-token-file {token_file}: expected the device token on the first "
                "line, got an empty file"
            )
        return text.splitlines()[0].strip()
    return os.environ.get(UPSTREAM_TOKEN_ENV, "").strip() or None


def list_edge_rejects(
    site: Site,
    buffer_path: Path | None = None,
    *,
    limit: int = 50,
    reason: str | None = None,
) -> dict[str, Any]:
    """Payloads the edge agent kept because they never became readings, newest first.

    Parameters
    ----------
    site
        The site (names the default buffer file).
    buffer_path
        The agent's buffer file (None: :func:`default_buffer_path`).
    limit
        At most this many rows (>= 1).
    reason
        Only this quarantine reason (e.g. ``unparseable``).

    Returns
    -------
    dict
        ``site_id``, ``buffer`` (path), ``total`` (matching rows in the file),
        ``rejects``: dicts with ``id``, ``received_at`` (ISO UTC), ``source``,
        ``reason``, ``point`` (or None), ``raw`` (the payload as kept: all of
        it when it is clean text of at most 4 KiB, else its first bytes),
        ``raw_size_bytes`` and ``raw_sha256`` (of the whole payload),
        ``raw_truncated``, ``raw_escaped`` (see
        :func:`heatreuse.rawtext.capped_payload`) and ``detail`` (what was
        expected, what came).

    Raises
    ------
    IngestError
        A limit below 1, an unknown reason, no such buffer file or not an
        edge buffer.
    """
    from heatreuse.rawtext import payload_facts
    from heatreuse.telemetry import format_ts_us
    from heatreuse.telemetry.validate import REASONS

    if limit < 1:
        raise IngestError(f"--limit: expected a positive number, got {limit}")
    if reason is not None and reason not in REASONS:
        raise IngestError(
            f"--reason: unknown quarantine reason {reason!r}; expected one of {', '.join(REASONS)}"
        )
    path = buffer_path or default_buffer_path(site.id)
    total, rows = read_rejects(path, limit=limit, reason=reason)
    out = []
    for r in rows:
        facts = payload_facts(r.raw)
        out.append(
            {
                "id": r.id,
                "received_at": format_ts_us(int(r.received_at_us)),
                "source": r.source,
                "reason": r.reason,
                "point": r.point_id,
                "raw": facts.text,
                "raw_size_bytes": facts.size_bytes,
                "raw_sha256": facts.sha256,
                "raw_truncated": facts.truncated,
                "raw_escaped": facts.form == "escaped",
                "detail": r.detail,
            }
        )
    return {"site_id": site.id, "buffer": str(path), "total": total, "rejects": out}
