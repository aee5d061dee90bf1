"""MQTT ingest adapter: topic layout and JSON parsing (pure), and a paho-mqtt 2 subscriber.

Topic layout
------------
Every topic of a site lives below its *site prefix* ``PREFIX``, by default
``heatreuse/<site id>`` (configurable, e.g. one prefix per test run or per
tenant; the same default and meaning as the twin's ``--topic-prefix``, see
:mod:`heatreuse.telemetry.twin_points`):

===================================  =========================================================
topic                                payload
===================================  =========================================================
``PREFIX/<point topic>``             one reading: ``{"ts": "2026-01-10T06:00:00Z", "value": 41.2}``;
                                     ``<point topic>`` is the point's ``source.mqtt_topic``, by
                                     default its id with ``.`` replaced by ``/``
                                     (``hx/secondary_supply_temp_c``, ``pump/p-primary/status``)
``PREFIX/batch``                     many readings: ``{"readings": [{"point_id": "hx.heat_power_w",
                                     "ts": "...", "value": 1234.5}, ...]}``; ``point_id`` is a
                                     canonical id or any source key of the registry
``PREFIX/availability``              availability of the publisher (twin, gateway): retained
                                     ``online`` / ``offline`` (also its last will); not a
                                     reading. ``PREFIX/status`` is accepted as a synonym.
``PREFIX/_<service>/status``         availability of heatreuse's own services (retained
                                     ``online``/``offline``, last will): ``_ingest`` for
                                     ``heatreuse serve``, ``_edge`` for ``heatreuse edge``
===================================  =========================================================

``ts`` is ISO 8601 with ``Z`` or an offset (naive times are refused, never
guessed) or epoch seconds (UTC); ``value`` a number in the point's unit (status
points 0/1 or ``true``/``false``). Extra keys in a reading object are ignored.
Meter registers should be published with QoS 1; other points may use QoS 0.
The subscriber subscribes to ``PREFIX/#`` with QoS 1. Point topics must not be
``batch``, ``availability``, ``status`` or start with ``_``.

Delivery guarantee
------------------
The subscriber connects with MQTT 5, a fixed client id, ``clean_start=False``
and a session expiry interval, so the broker keeps the subscription and queues
QoS 1 messages while the subscriber is down and delivers them on restart. It
uses paho's manual acknowledgements: the network thread only queues messages;
a writer thread parses a group of them, hands the readings to the sink (the
:class:`~heatreuse.telemetry.validate.Ingestor`, which returns after the store
committed), calls the ``durable`` hook (e.g. ``store.flush``), and only then
sends the PUBACKs, in arrival order. A reading is therefore acknowledged only
once it is durably stored; a crash before that makes the broker redeliver it
(stored once: duplicates are idempotent). Payloads that cannot be read
(not UTF-8, not JSON, wrong shape) are quarantined with reason ``unparseable``
and source ``mqtt:<topic>``, then acknowledged: never dropped silently.
Reconnects use paho's exponential backoff (``reconnect_delay_set``).

No single message can stop ingest. When the sink raises for a group with an
error that is not a :class:`~heatreuse.errors.StoreError` (the sink's sign of
an outage), the group is stored message by message; a message that still
fails is handed to ``sink.reject`` with reason ``store_refused`` (its payload,
the error as detail) and acknowledged, and the others are stored and
acknowledged as usual. Only when the sink cannot even take that reject (or
raises :class:`~heatreuse.errors.StoreError`) is the store taken to be down:
what was stored so far is acknowledged, the rest stays unacknowledged and is
retried with backoff (nothing is lost). :meth:`MqttSubscriber.stats` reports
``pending_acks`` and ``oldest_unacked_age_s`` so a health check can tell a
stalled writer from an idle one.

Connection
----------
Credentials and TLS come from :class:`heatreuse.mqttconf.MqttConnection`
(``MqttSettings.connection``), which sets up the paho client. :meth:`MqttSubscriber.start`
opens the first connection itself: a failed TLS handshake, or a broker that
refuses the CONNECT for good (bad user name or password, not authorised), is
raised as :class:`~heatreuse.errors.MqttConnectionError` naming the broker and
the user instead of being retried; a broker that cannot be reached yet is
retried in the background.

This module parses and subscribes; it does not know about stores, HTTP,
files or Modbus (services wire them).

References
----------
MQTT Version 5.0, OASIS Standard, 7 March 2019, sections 3.1.2.4 (Clean
Start), 3.1.2.11.2 (Session Expiry Interval), 3.3.4 and 4.6 (PUBACK order);
paho-mqtt 2.x ``Client(manual_ack=True)`` / ``Client.ack``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from heatreuse.errors import IngestError, MqttConnectionError, StoreError
from heatreuse.mqttconf import MqttConnection, is_fatal_refusal, try_first_connect
from heatreuse.rawtext import bounded_text
from heatreuse.telemetry.validate import RawReading

log = logging.getLogger(__name__)

#: Topic levels below the site prefix that are not point topics.
BATCH_LEVEL = "batch"
AVAILABILITY_LEVEL = "availability"
STATUS_LEVEL = "status"
RESERVED_LEVELS = (BATCH_LEVEL, AVAILABILITY_LEVEL, STATUS_LEVEL)
#: Availability payloads.
ONLINE = "online"
OFFLINE = "offline"

MessageKind = Literal["point", "batch", "availability", "service", "foreign"]


# --------------------------------------------------------------------------- layout
def default_site_prefix(site_id: str) -> str:
    """Default topic prefix of a site: ``heatreuse/<site id>``."""
    return f"heatreuse/{site_id}"


@dataclass(frozen=True)
class TopicLayout:
    """The topics of one site (see the module docstring).

    Parameters
    ----------
    site_id
        The site id.
    prefix
        The site's topic prefix (may contain ``/``); None: ``heatreuse/<site id>``.
    """

    site_id: str
    prefix: str | None = None

    def __post_init__(self) -> None:
        text = self.base
        if not text or any(c in text for c in "#+\x00") or text.startswith("$"):
            raise IngestError(
                f"MQTT topic prefix {text!r}: expected a non-empty topic without '#', '+' or "
                "NUL that does not start with '$'"
            )

    @property
    def base(self) -> str:
        """The site prefix (``heatreuse/<site>`` by default), without a trailing ``/``."""
        return (
            self.prefix if self.prefix is not None else default_site_prefix(self.site_id)
        ).rstrip("/")

    @property
    def subscription(self) -> str:
        """The subscription filter covering the site: ``PREFIX/#``."""
        return f"{self.base}/#"

    @property
    def batch_topic(self) -> str:
        """``PREFIX/batch``."""
        return f"{self.base}/{BATCH_LEVEL}"

    @property
    def availability_topic(self) -> str:
        """``PREFIX/availability`` (the publisher's availability)."""
        return f"{self.base}/{AVAILABILITY_LEVEL}"

    def point_topic(self, mqtt_topic: str) -> str:
        """Topic of one point, from its topic suffix (``Point.mqtt_topic``)."""
        return f"{self.base}/{mqtt_topic.strip('/')}"

    def service_status_topic(self, service: str) -> str:
        """Availability topic of a heatreuse service, ``PREFIX/_<service>/status``."""
        return f"{self.base}/_{service}/{STATUS_LEVEL}"

    def classify(self, topic: str) -> tuple[MessageKind, str]:
        """Kind of a topic and its suffix below ``PREFIX/``."""
        head = self.base + "/"
        if not topic.startswith(head):
            return "foreign", topic
        suffix = topic[len(head) :]
        if suffix == BATCH_LEVEL:
            return "batch", suffix
        if suffix in (AVAILABILITY_LEVEL, STATUS_LEVEL):
            return "availability", suffix
        if suffix.startswith("_"):
            return "service", suffix
        return "point", suffix


def check_point_topics(layout: TopicLayout, topic_suffixes: Sequence[str]) -> None:
    """Refuse point topic suffixes that collide with the reserved topics.

    Raises
    ------
    IngestError
        A suffix equal to ``batch``, ``availability`` or ``status``, or starting with ``_``.
    """
    bad = [
        s for s in topic_suffixes if s in RESERVED_LEVELS or s.startswith("_") or not s.strip("/")
    ]
    if bad:
        raise IngestError(
            f"MQTT topics below {layout.base}/: point topic(s) {bad} collide with the reserved "
            f"topics {', '.join(RESERVED_LEVELS)} and '_*'; set source.mqtt_topic of those "
            "points to another suffix"
        )


# --------------------------------------------------------------------------- payloads
def point_payload(ts: str | float, value: float | bool) -> bytes:
    """Encode one reading for a point topic (``{"ts": ..., "value": ...}``)."""
    return json.dumps({"ts": ts, "value": value}, separators=(",", ":")).encode()


def batch_payload(readings: Sequence[tuple[str, str | float, float | bool]]) -> bytes:
    """Encode ``(point_id, ts, value)`` triples for the batch topic."""
    return json.dumps(
        {"readings": [{"point_id": p, "ts": t, "value": v} for p, t, v in readings]},
        separators=(",", ":"),
    ).encode()


@dataclass(frozen=True)
class Rejection:
    """A message that never became readings (quarantined as ``unparseable``).

    ``raw`` is the payload: text, or the bytes when it is not UTF-8 (the
    store keeps it capped and escaped, see :func:`heatreuse.rawtext.capped_payload`).
    """

    source: str
    raw: str | bytes
    detail: str


@dataclass(frozen=True)
class ParsedMessage:
    """What one MQTT message carried.

    Attributes
    ----------
    kind
        ``point``, ``batch``, ``availability`` (ignored), ``service``
        or ``foreign`` (not a reading topic: ignored).
    readings
        Readings for the pipeline; malformed items of a batch are readings with
        an empty point key, so the pipeline quarantines them as ``unparseable``
        with their raw text.
    rejection
        Set when the payload as a whole cannot be read.
    """

    kind: MessageKind
    readings: tuple[RawReading, ...] = ()
    rejection: Rejection | None = None


def _raw_text(payload: bytes) -> tuple[str | None, str | bytes]:
    """(decoded text or None, what to keep in quarantine: the text, or the bytes)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None, payload
    return text, text


def parse_message(layout: TopicLayout, topic: str, payload: bytes) -> ParsedMessage:
    """Parse one MQTT message of the site (pure: no I/O).

    Parameters
    ----------
    layout
        The site's topic layout.
    topic
        The topic the message came on.
    payload
        The raw payload.

    Returns
    -------
    ParsedMessage
        Readings (point or batch topic), or a rejection naming the topic, what
        was expected and what came.
    """
    kind, suffix = layout.classify(topic)
    if kind in ("availability", "service", "foreign"):
        return ParsedMessage(kind=kind)
    source = f"mqtt:{topic}"
    text, raw = _raw_text(payload)
    if text is None:
        return ParsedMessage(
            kind, rejection=Rejection(source, raw, f"{topic}: payload is not UTF-8 text")
        )
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return ParsedMessage(
            kind,
            rejection=Rejection(source, raw, f"{topic}: expected a JSON object; not JSON ({exc})"),
        )
    if kind == "point":
        if not isinstance(doc, dict) or "ts" not in doc or "value" not in doc:
            got = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
            return ParsedMessage(
                kind,
                rejection=Rejection(
                    source,
                    raw,
                    f'{topic}: expected {{"ts": <ISO 8601 UTC>, "value": <number>}}; got {got}',
                ),
            )
        reading = RawReading(
            point=f"mqtt:{suffix}", ts=doc["ts"], value=doc["value"], source=source, raw=text
        )
        return ParsedMessage(kind, readings=(reading,))
    items = doc.get("readings") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        got = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        return ParsedMessage(
            kind,
            rejection=Rejection(
                source,
                raw,
                f'{topic}: expected {{"readings": [{{"point_id", "ts", "value"}}, ...]}}; '
                f"got {got}",
            ),
        )
    out: list[RawReading] = []
    append = out.append
    for item in items:
        try:
            append(RawReading(item["point_id"], item["ts"], item["value"], source))
        except (TypeError, KeyError):
            append(RawReading("", None, None, source, raw=json.dumps(item, default=str)))
    return ParsedMessage(kind, readings=tuple(out))


# --------------------------------------------------------------------------- transport
class ReadingSink(Protocol):
    """Where the subscriber hands readings (the Ingestor, the edge buffer)."""

    def ingest(self, readings: Sequence[RawReading]) -> Any:
        """Store readings; return only once they are committed."""

    def reject(
        self,
        source: str,
        raw: str | bytes,
        reason: str = "unparseable",
        detail: str = "",
        point_id: str | None = None,
    ) -> None:
        """Quarantine something that never became a reading; committed on return."""


@dataclass(frozen=True)
class MqttSettings:
    """Connection settings of a subscriber.

    Attributes
    ----------
    host, port
        The broker.
    client_id
        Fixed client id: the broker keeps the session (subscription, queued
        QoS 1 messages) under it.
    session_expiry_s
        How long the broker keeps the session while disconnected [s].
    keepalive_s
        MQTT keep-alive [s].
    receive_maximum
        Unacknowledged QoS 1 messages the broker may have in flight to us.
    reconnect_min_delay_s, reconnect_max_delay_s
        Exponential reconnect backoff bounds [s].
    max_group_messages
        Messages stored in one store transaction (then acknowledged together).
    availability_topic
        Retained ``online``/``offline`` of this subscriber (last will), or None.
    connection
        The broker with credentials and TLS; when given, its host and port are
        used instead of ``host`` and ``port``.
    connect_wait_s
        How long :meth:`MqttSubscriber.start` waits for the broker's answer to
        the first CONNECT [s].
    """

    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "heatreuse-ingest"
    session_expiry_s: int = 7 * 86_400
    keepalive_s: int = 30
    receive_maximum: int = 200
    reconnect_min_delay_s: int = 1
    reconnect_max_delay_s: int = 60
    max_group_messages: int = 200
    availability_topic: str | None = None
    connection: MqttConnection | None = None
    connect_wait_s: float = 10.0

    @property
    def broker(self) -> MqttConnection:
        """The broker: :attr:`connection`, or ``host``/``port`` without credentials."""
        return self.connection or MqttConnection(self.host, self.port)


@dataclass
class _Message:
    mid: int
    qos: int
    topic: str
    payload: bytes
    generation: int
    received_s: float = 0.0


@dataclass
class SubscriberStats:
    """Counters of a subscriber (cumulative)."""

    received_messages: int = 0
    acked_messages: int = 0
    stored_messages: int = 0
    readings: int = 0
    rejected_messages: int = 0
    ignored_messages: int = 0
    store_failures: int = 0
    dead_lettered_messages: int = 0
    connects: int = 0
    connected: bool = False
    last_error: str = ""


class MqttSubscriber:
    """Subscribe to a site's topics and hand readings to a sink; ack after commit.

    Parameters
    ----------
    layout
        The site's topic layout.
    sink
        Readings go to ``sink.ingest``, unreadable payloads to ``sink.reject``.
    settings
        Broker and session settings.
    durable
        Called after each committed group, before the PUBACKs (e.g.
        ``store.flush`` so a commit also survives power loss); None: nothing.
    clock
        Seconds on a steady clock, for the age of unacknowledged messages
        (default :func:`time.monotonic`; injectable for tests).

    Notes
    -----
    :meth:`start` returns at once; the connection is made (and remade, with
    backoff) by paho's network thread. :meth:`stop` stops accepting, stores and
    acknowledges everything received, publishes ``offline`` and disconnects,
    keeping the session on the broker.
    """

    def __init__(
        self,
        layout: TopicLayout,
        sink: ReadingSink,
        settings: MqttSettings | None = None,
        durable: Callable[[], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        from paho.mqtt.client import Client
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

        self.layout = layout
        self.sink = sink
        self.settings = settings or MqttSettings()
        self.durable = durable
        self.clock: Callable[[], float] = clock or time.monotonic
        self._client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        self.broker = self.settings.broker
        self.broker.configure(self._client)
        self._client.reconnect_delay_set(
            self.settings.reconnect_min_delay_s, self.settings.reconnect_max_delay_s
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        if self.settings.availability_topic:
            self._client.will_set(self.settings.availability_topic, OFFLINE, qos=1, retain=True)
        self._queue: deque[_Message] = deque()
        self._cond = threading.Condition()
        self._accepting = False
        self._stopping = False
        self._generation = 0
        self._abandoned = 0
        self._link_up = False
        self._stats = SubscriberStats()
        self._stats_lock = threading.Lock()
        self._connected = threading.Event()
        self._connack = threading.Event()
        self._refused: str | None = None
        self._starting = False  # start() waits for the first CONNACK
        self._writer: threading.Thread | None = None
        self._started = False

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Connect and start the writer thread; returns once the broker answered the CONNECT.

        A broker that cannot be reached yet is retried in the background (this
        returns at once).

        Raises
        ------
        MqttConnectionError
            The TLS handshake failed, the broker refused the CONNECT for good
            (bad user name or password, not authorised), or it closed the
            connection without answering (a TLS port spoken to in plain MQTT):
            retrying cannot help.
        """
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        if self._started:
            return
        self._started = True
        self._accepting = True
        self._stopping = False
        self._abandoned = 0
        self._connack.clear()
        self._refused = None
        self._starting = True
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = int(self.settings.session_expiry_s)
        props.ReceiveMaximum = int(self.settings.receive_maximum)
        self._client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=self.settings.keepalive_s,
            clean_start=False,
            properties=props,
        )
        try:
            reachable = try_first_connect(self._client, self.broker, "MQTT subscriber")
        except MqttConnectionError:
            self._started = False
            self._accepting = False
            self._starting = False
            raise
        self._writer = threading.Thread(
            target=self._writer_main, name=f"mqtt-writer-{self.layout.site_id}", daemon=True
        )
        self._writer.start()
        self._client.loop_start()
        answered = reachable and self._connack.wait(self.settings.connect_wait_s)
        self._starting = False
        if not reachable:
            return
        if not answered:
            log.warning(
                "MQTT %s: no answer to CONNECT within %g s; still trying",
                self.broker.url,
                self.settings.connect_wait_s,
            )
        elif self._refused is not None:
            message = self._refused
            self.stop(timeout_s=1.0)
            raise MqttConnectionError(message)

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until connected and subscribed (SUBACK received; True) or the timeout passed."""
        return self._connected.wait(timeout_s)

    @property
    def connected(self) -> bool:
        """True while connected and subscribed."""
        return self._connected.is_set()

    def pending(self) -> int:
        """Messages received and not yet stored."""
        with self._cond:
            return len(self._queue)

    def oldest_pending_age_s(self) -> float | None:
        """Age of the oldest message received and not yet acknowledged [s]; None: none."""
        with self._cond:
            if not self._queue:
                return None
            first = self._queue[0].received_s
        return max(0.0, self.clock() - first)

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop accepting, store and ack what was received, go offline, disconnect.

        Returns
        -------
        bool
            True when everything received was stored (False: the store kept
            failing until the timeout; those messages stay unacknowledged and
            the broker redelivers them to the next session).
        """
        if not self._started:
            return True
        self._accepting = False
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        drained = True
        if self._writer is not None:
            self._writer.join(timeout_s)
            drained = not self._writer.is_alive() and not self._queue and not self._abandoned
        if self.settings.availability_topic and self._connected.is_set():
            info = self._client.publish(
                self.settings.availability_topic, OFFLINE, qos=1, retain=True
            )
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2.0)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        with self._stats_lock:
            self._stats.connected = False
        self._started = False
        return drained

    def stats(self) -> dict[str, Any]:
        """Counters (received, stored, acked, rejected messages; readings; connects)."""
        with self._stats_lock:
            s = self._stats
            out = {
                "connected": self._connected.is_set(),
                "connects": s.connects,
                "received_messages": s.received_messages,
                "stored_messages": s.stored_messages,
                "acked_messages": s.acked_messages,
                "rejected_messages": s.rejected_messages,
                "ignored_messages": s.ignored_messages,
                "readings": s.readings,
                "store_failures": s.store_failures,
                "dead_lettered_messages": s.dead_lettered_messages,
                "last_error": s.last_error,
            }
        pending = self.pending()
        age = self.oldest_pending_age_s()
        out["pending_messages"] = pending
        out["pending_acks"] = pending
        out["oldest_unacked_age_s"] = None if age is None else round(age, 3)
        return out

    # ----------------------------------------------------------------- paho callbacks
    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        from paho.mqtt.subscribeoptions import SubscribeOptions

        if getattr(reason_code, "is_failure", False):
            message = self.broker.refusal_message(reason_code, "MQTT subscriber")
            with self._stats_lock:
                self._stats.last_error = message
            if is_fatal_refusal(reason_code) and self._starting:
                self._refused = message
                client.disconnect()  # no retry loop: start() raises this
            else:
                log.error("%s; retrying with backoff", message)
            self._connack.set()
            return
        self._connack.set()
        with self._stats_lock:
            if self._stats.last_error.startswith("MQTT subscriber: "):
                self._stats.last_error = ""  # a refusal that is over
        with self._cond:
            self._generation += 1
            self._link_up = True
        client.subscribe(
            self.layout.subscription,
            options=SubscribeOptions(
                qos=1,
                noLocal=True,  # not our own availability messages
                retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB,
            ),
        )
        if self.settings.availability_topic:
            client.publish(self.settings.availability_topic, ONLINE, qos=1, retain=True)
        with self._stats_lock:
            self._stats.connects += 1
        log.info(
            "MQTT connected to %s as %s (session present: %s); subscribing to %s",
            self.broker.url,
            self.settings.client_id,
            getattr(flags, "session_present", "?"),
            self.layout.subscription,
        )

    def _on_subscribe(
        self, client: Any, userdata: Any, mid: Any, reason_codes: Any, properties: Any
    ) -> None:
        failed = [rc for rc in reason_codes if getattr(rc, "is_failure", False)]
        if failed:
            log.error(
                "MQTT broker refused the subscription %s: %s", self.layout.subscription, failed
            )
            return
        with self._stats_lock:
            self._stats.connected = True
        self._connected.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if self._starting and not self._connack.is_set():
            # closed before any CONNACK: a TLS port spoken to in plain MQTT, not a broker, ...
            self._refused = self.broker.no_connack_message(reason_code, "MQTT subscriber")
            self._connack.set()
        was = self._connected.is_set()
        with self._cond:
            self._link_up = False
        self._connected.clear()
        with self._stats_lock:
            self._stats.connected = False
        if was and self._accepting:
            log.warning(
                "MQTT connection to %s lost (%s); reconnecting with backoff",
                self.broker.url,
                reason_code,
            )

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if not self._accepting:
            return  # not acknowledged: the broker redelivers it to the next session
        received_s = self.clock()
        with self._cond:
            self._queue.append(
                _Message(
                    int(message.mid),
                    int(message.qos),
                    str(message.topic),
                    bytes(message.payload),
                    self._generation,
                    received_s,
                )
            )
            self._cond.notify()
        with self._stats_lock:
            self._stats.received_messages += 1

    # ----------------------------------------------------------------- the writer
    def _writer_main(self) -> None:
        backoff_s = 0.2
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait(1.0)
                if not self._queue and self._stopping:
                    return
                group = [
                    self._queue[i]
                    for i in range(min(len(self._queue), self.settings.max_group_messages))
                ]
            done = 0
            exc: BaseException | None = None
            try:
                done = self._store_isolating(group)
            except _PartlyStored as part:
                done, exc = part.done, part.error
            except Exception as err:
                exc = err
            if done:
                with self._cond:
                    for _ in range(done):
                        self._queue.popleft()
                self._ack(group[:done])
            if exc is not None:
                with self._stats_lock:
                    first = self._stats.store_failures == 0 or not self._stats.last_error
                    self._stats.store_failures += 1
                    self._stats.last_error = bounded_text(f"{type(exc).__name__}: {exc}", 500)
                (log.error if first else log.debug)(
                    "MQTT ingest: storing %d message(s) failed (%s); not acknowledged, retrying "
                    "in %.1f s",
                    len(group) - done,
                    bounded_text(str(exc), 300),
                    backoff_s,
                )
                with self._cond:
                    if self._stopping:
                        # give up: unacknowledged messages are redelivered next session
                        self._abandoned += len(self._queue)
                        self._queue.clear()
                        return
                    self._cond.wait(backoff_s)
                backoff_s = min(backoff_s * 2.0, 30.0)
                continue
            if backoff_s > 0.2:
                log.info("MQTT ingest: store recovered")
                with self._stats_lock:
                    self._stats.last_error = ""
            backoff_s = 0.2

    def _store_isolating(self, group: list[_Message]) -> int:
        """Store a group; on an error that is not an outage, message by message.

        Returns the number of messages (from the start of ``group``) stored or
        dead-lettered; raises :class:`_PartlyStored` when the store turned out
        to be down after some of them.
        """
        try:
            self._store_group(group)
            return len(group)
        except StoreError:
            raise
        except Exception as exc:
            if len(group) == 1:
                self._dead_letter(group[0], exc)
                return 1
            log.warning(
                "MQTT ingest: storing %d message(s) failed (%s: %s); storing them one by one",
                len(group),
                type(exc).__name__,
                bounded_text(str(exc), 300),
            )
        done = 0
        for m in group:
            try:
                try:
                    self._store_group([m])
                except StoreError:
                    raise
                except Exception as exc:
                    self._dead_letter(m, exc)
            except Exception as exc:
                if done:
                    raise _PartlyStored(done, exc) from exc
                raise
            done += 1
        return done

    def _dead_letter(self, m: _Message, exc: Exception) -> None:
        """Hand a message the sink refused to ``sink.reject`` (``store_refused``).

        Raises when the sink cannot take that either (then it is down).
        """
        detail = bounded_text(
            f"{m.topic}: the store refused this message ({type(exc).__name__}: {exc}); it was "
            "kept here so that later messages are not blocked",
            1000,
        )
        self.sink.reject(f"mqtt:{m.topic}", m.payload, "store_refused", detail)
        if self.durable is not None:
            self.durable()
        with self._stats_lock:
            self._stats.dead_lettered_messages += 1
        log.error("MQTT ingest: %s", detail)

    def _store_group(self, group: list[_Message]) -> None:
        readings: list[RawReading] = []
        rejected = 0
        ignored = 0
        for m in group:
            parsed = parse_message(self.layout, m.topic, m.payload)
            if parsed.rejection is not None:
                r = parsed.rejection
                self.sink.reject(r.source, r.raw, "unparseable", r.detail)
                rejected += 1
                log.warning("MQTT ingest: quarantined an unreadable message: %s", r.detail)
            elif parsed.kind in ("point", "batch"):
                readings.extend(parsed.readings)
            else:
                ignored += 1
        if readings:
            self.sink.ingest(readings)
        if self.durable is not None:
            self.durable()
        with self._stats_lock:
            self._stats.stored_messages += len(group) - ignored
            self._stats.rejected_messages += rejected
            self._stats.ignored_messages += ignored
            self._stats.readings += len(readings)

    def _ack(self, group: list[_Message]) -> None:
        acked = 0
        with self._cond:
            generation = self._generation
            link_up = self._link_up
        for m in group:
            if m.qos == 0:
                continue
            if m.generation != generation or not link_up:
                continue  # stale: the broker redelivers it (stored once: idempotent)
            self._client.ack(m.mid, m.qos)
            acked += 1
        with self._stats_lock:
            self._stats.acked_messages += acked


class _PartlyStored(Exception):
    """The store failed after the first ``done`` messages of a group were stored."""

    def __init__(self, done: int, error: BaseException) -> None:
        super().__init__(str(error))
        self.done = done
        self.error = error


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true (True) or ``timeout_s`` passed (False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
