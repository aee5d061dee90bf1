"""Store and forward at a site: a local SQLite buffer and an in-order forwarder (HTTP or MQTT).

The edge agent (``heatreuse edge``) writes every reading it receives (local
MQTT, Modbus) to :class:`EdgeBuffer` *first*; only then is the reading
acknowledged to its source. :class:`Forwarder` sends the buffer upstream in
batches, in order, through a :class:`Transport`:

* :class:`HttpTransport`: ``POST`` to the HTTP push endpoint of a ``heatreuse
  serve`` (``/api/v1/sites/{site}/readings``, see :mod:`heatreuse.telemetry.http`);
  acknowledged = the answer ``200``, sent after the upstream store committed.
* :class:`MqttTransport`: ``PUBLISH`` with QoS 1 (MQTT 5) of the batch body to
  the batch topic ``PREFIX/batch`` that ``heatreuse serve --mqtt`` subscribes
  to (see :mod:`heatreuse.telemetry.mqtt`; the body is exactly its batch
  payload ``{"readings": [{"point_id", "ts", "value"}, ...]}``); acknowledged =
  the broker's PUBACK with a success reason code.

The forwarder loop (order, watermark, backoff, counters) is the same for both;
a transport only sends one batch and either returns (acknowledged) or raises
:class:`~heatreuse.errors.IngestError` (not acknowledged: retried).

Buffer file (SQLite, WAL, ``synchronous=FULL``)::

    edge_readings(seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- monotonically increasing
                  point TEXT, ts_json TEXT, value_json TEXT, source TEXT, received_at_us INTEGER)
    edge_state(key TEXT PRIMARY KEY, value TEXT)           -- 'acked_seq': the watermark
    edge_rejects(id INTEGER PRIMARY KEY AUTOINCREMENT, source, reason, raw_payload,
                 detail, point_id, received_at_us)        -- payloads that never became readings

Guarantees
----------
* Order: batches are the rows ``seq > acked_seq`` in ``seq`` order; a batch
  that was not acknowledged is resent unchanged before anything newer, and
  only one batch is in flight at a time.
* The watermark ``acked_seq`` advances (in the same transaction that deletes
  the forwarded rows) only after the transport's acknowledgement.
* On a broken link (connection refused or lost, timeout, 5xx, a refusing
  PUBACK) the batch is retried with exponential backoff while new readings
  keep being buffered.
* A reading is sent again only if the agent dies (or the link breaks) after
  the upstream took a batch and before its acknowledgement reached the agent:
  at most the one in-flight batch. The upstream deduplicates by
  (point, timestamp), so it is stored once (counted as a duplicate).
* Readings are buffered as received (point key, timestamp and value as JSON);
  validation and quarantine happen upstream. Payloads that are not readings
  at all (e.g. unreadable MQTT messages) are kept in ``edge_rejects`` and
  logged (``heatreuse edge-rejects`` lists them, :func:`read_rejects`), and so
  are readings with hostile text fields
  (:func:`heatreuse.telemetry.validate.reading_field_problems`: a point key
  too long or with a control character or lone surrogate, ...): the upstream
  refuses those whole (HTTP 422), so buffering one would block the forwarder.
  Kept payloads are capped like the central quarantine
  (:func:`heatreuse.rawtext.capped_payload`: first bytes, size, SHA-256).

Why a PUBACK is enough (MQTT upstream)
--------------------------------------
The PUBACK only says the *broker* took the batch, not that ``heatreuse serve``
stored it. No reading is lost end to end all the same, because the other half
of the path is acknowledged after commit too: ``serve``'s subscriber
(:class:`heatreuse.telemetry.mqtt.MqttSubscriber`) subscribes to ``PREFIX/#``
with QoS 1 under a fixed client id with ``clean_start=False`` and a session
expiry interval, so the broker keeps its subscription and queues QoS 1
messages for it while it is down; and it uses manual acknowledgements,
sending its PUBACK only after the store committed (and ``store.flush``), so a
crash of ``serve`` makes the broker redeliver. Each hop is therefore
at-least-once and hands over only after the next hop holds the batch, and the
duplicates this can produce (a batch resent after a lost PUBACK, a
redelivery to ``serve``) are absorbed by the store's (point, timestamp)
idempotency. A PUBACK with reason *No matching subscribers* (0x10, MQTT 5
section 3.4.2.1: nobody, not even an offline persistent session, subscribes to
the batch topic, i.e. ``serve`` never connected with that prefix or its
session expired) is treated as a failure: the watermark stays and the batch
is retried. What the broker must provide: a session expiry and a queue for
offline sessions long and large enough for ``serve``'s outages (Mosquitto:
``persistent_client_expiration``, ``max_queued_messages`` (default 1000
messages) and ``persistence true`` to survive a broker restart); a message the
broker drops after its PUBACK is outside what the edge can see.

References
----------
SQLite ``AUTOINCREMENT`` (https://www.sqlite.org/autoinc.html: rowids never
reused) and WAL durability (https://www.sqlite.org/pragma.html#pragma_synchronous);
MQTT Version 5.0, OASIS Standard, 7 March 2019, sections 3.3 (PUBLISH), 3.4
(PUBACK, reason codes), 4.3.2 (QoS 1) and 4.6 (message ordering); paho-mqtt 2.x
``Client.publish`` / ``on_publish``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from heatreuse.errors import IngestError, MqttConnectionError, UpstreamAuthError
from heatreuse.locations import create_private_file
from heatreuse.mqttconf import MqttConnection, is_fatal_refusal, try_first_connect
from heatreuse.rawtext import bounded_text, capped_payload
from heatreuse.telemetry.validate import RawReading, reading_field_problems

log = logging.getLogger(__name__)

_DDL = (
    "CREATE TABLE IF NOT EXISTS edge_readings ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " point TEXT NOT NULL, ts_json TEXT NOT NULL, value_json TEXT NOT NULL,"
    " source TEXT NOT NULL, received_at_us INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS edge_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS edge_rejects ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, reason TEXT NOT NULL,"
    " raw_payload TEXT NOT NULL, detail TEXT NOT NULL, point_id TEXT,"
    " received_at_us INTEGER NOT NULL)",
)
WATERMARK_KEY = "acked_seq"


def _json(value: Any) -> str:
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return json.dumps(text.replace("+00:00", "Z"))
    return json.dumps(value, default=str, allow_nan=True)


@dataclass(frozen=True)
class BufferedBatch:
    """Rows of the buffer to forward: ``first_seq..last_seq`` and the JSON body."""

    first_seq: int
    last_seq: int
    count: int
    body: bytes


class EdgeBuffer:
    """The local store-and-forward buffer (see the module docstring).

    Implements the reading-sink interface of the MQTT and Modbus adapters
    (``ingest``, ``reject``). Thread-safe.

    Parameters
    ----------
    path
        The SQLite file (created with mode 0600, its folder with 0700, when missing).
    synchronous
        ``FULL`` (default: every commit is on disk before the source is
        acknowledged) or ``NORMAL`` (survives a process crash, not power loss).
    """

    def __init__(self, path: str | Path, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        if synchronous.upper() not in ("FULL", "NORMAL"):
            raise IngestError(f"edge buffer: synchronous must be FULL or NORMAL, got {synchronous}")
        try:
            # owner-only: SQLite gives the -wal and -shm files the mode of this file
            create_private_file(self.path)
            self._conn = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            for ddl in _DDL:
                self._conn.execute(ddl)
        except (sqlite3.Error, OSError) as exc:
            raise IngestError(f"edge buffer {self.path}: cannot open ({exc})") from exc
        self._lock = threading.Lock()
        self._added = threading.Condition(self._lock)
        self._appended = 0

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()

    # ----------------------------------------------------------------- sink interface
    def ingest(self, readings: Sequence[RawReading]) -> int:
        """Append readings (committed on return); returns the number appended."""
        now_us = time.time_ns() // 1000
        rows = []
        for r in readings:
            if not isinstance(r.point, str) or not r.point:
                # an item without a point key cannot be pushed upstream (422): keep it here
                self.reject(
                    r.source,
                    r.raw if r.raw is not None else repr(r),
                    "unparseable",
                    "expected a reading with point_id, ts and value",
                )
                continue
            problems = reading_field_problems(r.point, r.ts, r.value)
            if problems:
                # the upstream refuses such a reading with 422: keep it here, never forward it
                self.reject(
                    r.source,
                    r.raw if r.raw is not None else repr(r),
                    "unparseable",
                    "; ".join(f"{name}: {problem}" for name, problem in problems),
                )
                continue
            rows.append((r.point, _json(r.ts), _json(r.value), r.source, now_us))
        if not rows:
            return 0
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO edge_readings (point, ts_json, value_json, source, "
                    "received_at_us) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self._appended += len(rows)
            self._added.notify_all()
        return len(rows)

    @property
    def appended(self) -> int:
        """Readings appended since the buffer was opened."""
        with self._lock:
            return self._appended

    def reject(
        self,
        source: str,
        raw: str | bytes,
        reason: str = "unparseable",
        detail: str = "",
        point_id: str | None = None,
    ) -> None:
        """Keep something that never became a reading (committed on return).

        ``raw`` (text or bytes) is kept capped and escaped, the labels bounded
        (as in the central quarantine), so no payload can make this fail.
        """
        row = (
            bounded_text(str(source), 512),
            bounded_text(str(reason), 64),
            capped_payload(raw),
            bounded_text(str(detail), 2000),
            None if point_id is None else bounded_text(str(point_id), 256),
            time.time_ns() // 1000,
        )
        with self._lock:
            self._conn.execute(
                "INSERT INTO edge_rejects (source, reason, raw_payload, detail, point_id, "
                "received_at_us) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
        log.warning("edge: kept a rejected payload from %s (%s): %s", row[0], row[1], row[3])

    # ----------------------------------------------------------------- forwarding side
    def watermark(self) -> int:
        """Highest seq the upstream acknowledged (0: none)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT value FROM edge_state WHERE key = ?", (WATERMARK_KEY,)
            ).fetchone()
        return int(row[0]) if row else 0

    def pending(self) -> int:
        """Readings buffered and not yet acknowledged upstream."""
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*) FROM edge_readings").fetchone()
        return int(row[0])

    def rejects(self) -> int:
        """Payloads kept in ``edge_rejects``."""
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*) FROM edge_rejects").fetchone()
        return int(row[0])

    def next_batch(self, max_readings: int) -> BufferedBatch | None:
        """The oldest unacknowledged readings as a push-request body, or None."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, point, ts_json, value_json FROM edge_readings "
                "WHERE seq > COALESCE((SELECT CAST(value AS INTEGER) FROM edge_state "
                "WHERE key = ?), 0) ORDER BY seq LIMIT ?",
                (WATERMARK_KEY, int(max_readings)),
            ).fetchall()
        if not rows:
            return None
        items = ",".join(
            '{"point_id":' + json.dumps(p) + ',"ts":' + t + ',"value":' + v + "}"
            for _, p, t, v in rows
        )
        body = ('{"readings":[' + items + "]}").encode()
        return BufferedBatch(first_seq=rows[0][0], last_seq=rows[-1][0], count=len(rows), body=body)

    def acknowledge(self, last_seq: int) -> None:
        """Advance the watermark to ``last_seq`` and drop the forwarded rows (one transaction)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO edge_state (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (WATERMARK_KEY, str(int(last_seq))),
                )
                self._conn.execute("DELETE FROM edge_readings WHERE seq <= ?", (int(last_seq),))
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def wait_for_readings(self, timeout_s: float) -> None:
        """Block until something is appended or the timeout passed."""
        with self._added:
            seen = self._appended
            self._added.wait_for(lambda: self._appended != seen, timeout=timeout_s)


# --------------------------------------------------------------------------- rejects
@dataclass(frozen=True)
class EdgeReject:
    """One row of ``edge_rejects``: a payload that never became a reading.

    Attributes
    ----------
    id
        Row id (increasing with arrival).
    received_at_us
        When it was kept [µs since the epoch, UTC].
    source
        Where it came from (``mqtt:<topic>``, ``modbus:<device>:...``).
    reason
        Quarantine reason (``unparseable``, ...).
    raw
        The payload as kept (:func:`heatreuse.rawtext.capped_payload`: as
        received when it is clean text of at most 4 KiB, else a header with
        size and SHA-256, then the first bytes escaped).
    detail
        What was expected and what came.
    point_id
        The point, when known.
    """

    id: int
    received_at_us: int
    source: str
    reason: str
    raw: str
    detail: str
    point_id: str | None


def read_rejects(
    path: str | Path, *, limit: int = 50, reason: str | None = None
) -> tuple[int, list[EdgeReject]]:
    """Read the rejects of a buffer file, newest first (safe while the agent runs: WAL).

    Parameters
    ----------
    path
        The buffer file of an edge agent.
    limit
        At most this many rows.
    reason
        Only rows with this reason (None: all).

    Returns
    -------
    tuple
        (number of matching rows in the file, the newest ``limit`` of them).

    Raises
    ------
    IngestError
        The file does not exist or is not an edge buffer.
    """
    p = Path(path)
    if not p.is_file():
        raise IngestError(
            f"edge buffer {p}: no such file; expected the --buffer file of a heatreuse edge agent"
        )
    where, params = ("WHERE reason = ?", [reason]) if reason is not None else ("", [])
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
        try:
            total = int(
                conn.execute(f"SELECT COUNT(*) FROM edge_rejects {where}", params).fetchone()[0]
            )
            rows = conn.execute(
                "SELECT id, received_at_us, source, reason, raw_payload, detail, point_id "
                f"FROM edge_rejects {where} ORDER BY id DESC LIMIT ?",
                [*params, int(limit)],
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise IngestError(
            f"edge buffer {p}: expected an edge buffer with a table edge_rejects; "
            f"got an error reading it ({exc})"
        ) from None
    return total, [EdgeReject(*row) for row in rows]


# --------------------------------------------------------------------------- transports
def probe_tcp(host: str, port: int, timeout_s: float = 3.0) -> str | None:
    """Why a TCP connection to ``host:port`` cannot be made now, or None if it can.

    Used once at start to warn about an upstream that does not resolve or
    refuses; the forwarder buffers and retries either way.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return f"host {host!r} does not resolve ({getattr(exc, 'strerror', None) or exc})"
    reason = f"{host}:{port}: no address to connect to"
    for family, kind, proto, _name, addr in infos:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(timeout_s)
                sock.connect(addr)
            return None
        except ConnectionRefusedError:
            reason = f"{host}:{port} refuses connections"
        except TimeoutError:
            reason = f"{host}:{port} does not answer within {timeout_s:g} s"
        except OSError as exc:
            reason = f"{host}:{port}: {exc.strerror or exc}"
    return reason


def readings_url(upstream: str, site_id: str) -> str:
    """The push endpoint for an upstream given as base URL (or as the full endpoint).

    ``http://central:8080`` -> ``http://central:8080/api/v1/sites/<site>/readings``.

    Raises
    ------
    IngestError
        Not an http(s) URL.
    """
    url = upstream.strip()
    if not url.startswith(("http://", "https://")):
        raise IngestError(
            f"--upstream: expected the HTTP endpoint of a heatreuse serve such as "
            f"http://central:8080; got {upstream!r}"
        )
    if url.rstrip("/").endswith("/readings"):
        return url.rstrip("/")
    return f"{url.rstrip('/')}/api/v1/sites/{site_id}/readings"


class Transport(Protocol):
    """How a :class:`Forwarder` sends one batch upstream.

    ``send`` returns once the upstream acknowledged the batch and raises
    :class:`~heatreuse.errors.IngestError` otherwise; every such error is
    retryable (the forwarder resends the same batch after a backoff).
    """

    @property
    def url(self) -> str:
        """Where batches go (for logs and counters)."""

    def send(self, batch: BufferedBatch) -> None:
        """Send ``batch``; return only once the upstream acknowledged it."""

    def probe(self) -> str | None:
        """Why the upstream cannot be reached now (does not resolve, refuses), or None."""

    def close(self) -> None:
        """Release connections."""


class HttpTransport:
    """``POST`` a batch to the HTTP push endpoint of a ``heatreuse serve``; ok = ``200``.

    Parameters
    ----------
    url
        The push endpoint (:func:`readings_url`).
    timeout_s
        Request timeout [s].
    token
        The edge's device token (``heatreuse devices add``), sent as ``Authorization:
        Bearer``; a 401/403 answer raises :class:`~heatreuse.errors.UpstreamAuthError`.
    """

    def __init__(self, url: str, timeout_s: float = 30.0, token: str | None = None) -> None:
        import httpx

        # our own logging policy: state changes and summaries (Forwarder), not a line per POST
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self._url = url
        self._client = httpx.Client(timeout=timeout_s)
        self._headers = {"content-type": "application/json"}
        if token:
            self._headers["authorization"] = f"Bearer {token}"

    @property
    def url(self) -> str:
        """The push endpoint."""
        return self._url

    def send(self, batch: BufferedBatch) -> None:
        """POST the batch body; raise :class:`IngestError` unless the answer is 200."""
        import httpx

        try:
            resp = self._client.post(self._url, content=batch.body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise IngestError(
                f"edge forwarder: POST {self._url} (seq {batch.first_seq}..{batch.last_seq}) "
                f"failed: {type(exc).__name__}: {exc}"
            ) from None
        if resp.status_code in (401, 403):
            has = (
                "a device token that it refused"
                if "authorization" in self._headers
                else ("no device token")
            )
            raise UpstreamAuthError(
                f"edge forwarder: POST {self._url}: HTTP {resp.status_code}, the upstream "
                f"needs a device token of this site and the edge sent {has}; create one with "
                "`heatreuse devices add SITE.yaml NAME` on the server and give it with "
                "--upstream-token-file FILE or $HEATREUSE_UPSTREAM_TOKEN. Forwarding stopped; "
                "readings stay buffered."
            )
        if resp.status_code != 200:
            raise IngestError(
                f"edge forwarder: POST {self._url} (seq {batch.first_seq}..{batch.last_seq}): "
                f"expected 200, got {resp.status_code}: {resp.text[:300]}"
            )

    def probe(self, timeout_s: float = 3.0) -> str | None:
        """Can a TCP connection to the endpoint's host be made (:func:`probe_tcp`)?"""
        parts = urlsplit(self._url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return f"{self._url}: not a valid port"
        return probe_tcp(parts.hostname or "", port, timeout_s)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


#: PUBACK reason code "No matching subscribers" (MQTT 5.0 section 3.4.2.1).
NO_MATCHING_SUBSCRIBERS = 0x10


class MqttTransport:
    """``PUBLISH`` a batch with QoS 1 to one topic (MQTT 5, paho-mqtt 2); ok = successful PUBACK.

    The batch body is published as is: for ``heatreuse serve --mqtt`` the topic
    is its batch topic ``PREFIX/batch`` (the caller computes it). A PUBACK with
    a failure reason code or *No matching subscribers* is not an
    acknowledgement (see the module docstring).

    Parameters
    ----------
    host, port
        The upstream broker (without credentials; see ``connection``).
    topic
        The topic batches are published to.
    connection
        The upstream broker with credentials and TLS
        (:class:`heatreuse.mqttconf.MqttConnection`); when given, it replaces
        ``host`` and ``port``.
    client_id
        MQTT client id of the publisher (clean start, no session kept).
    timeout_s
        Longest wait for the PUBACK of a batch [s].
    connect_wait_s
        Longest wait for a connection before a send counts as failed [s].
    keepalive_s
        MQTT keep-alive [s].
    reconnect_min_delay_s, reconnect_max_delay_s
        paho's reconnect backoff bounds [s].

    Notes
    -----
    The connection is made by :meth:`open` (which raises
    :class:`~heatreuse.errors.MqttConnectionError` when TLS fails or the broker
    refuses the user for good) or on the first :meth:`send`, and remade by paho's
    network thread; every refused CONNECT is logged as an error naming the
    broker and the user. A batch whose PUBACK did not come (timeout, connection lost)
    stays in paho's outgoing queue and is resent by paho after a reconnect; a
    later :meth:`send` of the same batch (the forwarder resends it unchanged)
    waits for that copy instead of publishing another one.
    """

    def __init__(
        self,
        host: str,
        port: int,
        topic: str,
        *,
        client_id: str,
        connection: MqttConnection | None = None,
        timeout_s: float = 30.0,
        connect_wait_s: float = 5.0,
        keepalive_s: int = 30,
        reconnect_min_delay_s: int = 1,
        reconnect_max_delay_s: int = 30,
    ) -> None:
        from paho.mqtt.client import Client
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

        if not topic or any(c in topic for c in "#+\x00"):
            raise IngestError(
                f"edge forwarder: MQTT topic {topic!r}: expected a topic without '#', '+' or NUL"
            )
        self.broker = connection or MqttConnection(host, int(port), option="--upstream")
        self.host = self.broker.host
        self.port = self.broker.port
        self.topic = topic
        self.timeout_s = float(timeout_s)
        self.connect_wait_s = float(connect_wait_s)
        self.keepalive_s = int(keepalive_s)
        self._url = f"{self.broker.url}/{topic}"
        self._client = Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        self.broker.configure(self._client)
        self._client.reconnect_delay_set(
            max(1, int(reconnect_min_delay_s)),
            max(1, int(reconnect_min_delay_s), int(reconnect_max_delay_s)),
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._cond = threading.Condition()
        self._connected = False
        self._closed = False
        self._started = False
        self._last_error = ""
        self._connack = False  # the broker answered a CONNECT (accepted or refused)
        self._ever_connected = False
        self._refused: str | None = None  # a refusal retrying cannot cure, before any success
        self._reasons: dict[int, Any] = {}  # mid -> PUBACK reason code
        self._ignored: set[int] = set()  # mids of batches no longer waited for
        self._inflight: tuple[tuple[int, int], int] | None = None  # ((first, last) seq, mid)

    @property
    def url(self) -> str:
        """``mqtt[s]://[USER@]HOST:PORT/<topic>`` (never the password)."""
        return self._url

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        with self._cond:
            return self._connected

    # ----------------------------------------------------------------- paho callbacks
    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        with self._cond:
            self._connack = True
            if getattr(reason_code, "is_failure", False):
                message = self.broker.refusal_message(reason_code, "edge forwarder")
                self._last_error = message
                if is_fatal_refusal(reason_code) and not self._ever_connected:
                    self._refused = message
                log.error("%s; retrying with backoff", message)
            else:
                self._connected = True
                self._ever_connected = True
                self._last_error = ""
            self._cond.notify_all()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        with self._cond:
            if self._connected and not self._closed:
                self._last_error = f"connection lost ({reason_code})"
            elif not self._ever_connected and not self._connack and not self._closed:
                # closed before any CONNACK: a TLS port spoken to in plain MQTT, not a broker
                self._last_error = self.broker.no_connack_message(reason_code, "edge forwarder")
                self._refused = self._last_error
                self._connack = True
            self._connected = False
            self._cond.notify_all()

    def _on_publish(
        self, client: Any, userdata: Any, mid: int, reason_code: Any, properties: Any
    ) -> None:
        with self._cond:
            if mid in self._ignored:
                self._ignored.discard(mid)
            else:
                self._reasons[mid] = reason_code
            self._cond.notify_all()

    # ----------------------------------------------------------------- sending
    def _start(self) -> bool:
        """Connect (TCP and TLS now, the rest in paho's thread); False: unreachable, retrying.

        Raises
        ------
        MqttConnectionError
            The TLS handshake failed (tried again on the next call).
        """
        if self._started:
            return True
        self._client.connect_async(
            self.host, self.port, keepalive=self.keepalive_s, clean_start=True
        )
        try:
            reachable = try_first_connect(self._client, self.broker, "edge forwarder")
        except MqttConnectionError as exc:
            with self._cond:
                self._last_error = str(exc)
            raise
        self._started = True
        self._client.loop_start()
        return reachable

    def open(self, wait_s: float | None = None) -> None:
        """Connect now and wait for the broker's answer (a broker not reachable yet is fine).

        Raises
        ------
        MqttConnectionError
            The TLS handshake failed, the broker refused the user for good
            (bad user name or password, not authorised) or closed the
            connection without answering (e.g. a TLS port spoken to in plain MQTT).
        """
        if not self._start():
            return
        wait = self.connect_wait_s if wait_s is None else wait_s
        with self._cond:
            self._cond.wait_for(lambda: self._connack or self._closed, timeout=wait)
            refused = self._refused
        if refused is not None:
            self.close()
            raise MqttConnectionError(refused)

    def _fail(self, batch: BufferedBatch, what: str) -> IngestError:
        return IngestError(
            f"edge forwarder: PUBLISH {self.topic} to {self.broker.url} "
            f"(seq {batch.first_seq}..{batch.last_seq}) failed: {what}"
        )

    def send(self, batch: BufferedBatch) -> None:
        """Publish the batch (QoS 1) and wait for a successful PUBACK.

        Raises
        ------
        IngestError
            Not connected within ``connect_wait_s``, connection lost before
            the PUBACK, no PUBACK within ``timeout_s``, or a PUBACK with a
            failure reason or *No matching subscribers*.
        """
        from paho.mqtt.client import MQTT_ERR_NO_CONN, MQTT_ERR_SUCCESS, error_string

        try:
            self._start()
        except MqttConnectionError as exc:
            raise self._fail(batch, str(exc)) from None
        key = (batch.first_seq, batch.last_seq)
        with self._cond:
            if self._closed:
                raise self._fail(batch, "the forwarder is stopping")
            mid: int | None = None
            if self._inflight is not None:
                if self._inflight[0] == key:
                    mid = self._inflight[1]  # paho still holds (and resends) this copy
                else:  # not expected: the forwarder resends a failed batch unchanged
                    old = self._inflight[1]
                    if self._reasons.pop(old, None) is None:
                        self._ignored.add(old)
                    self._inflight = None
            acked = mid is not None and mid in self._reasons
            if not acked and not self._cond.wait_for(
                lambda: self._connected or self._closed, timeout=self.connect_wait_s
            ):
                raise self._fail(
                    batch, f"not connected to the broker ({self._last_error or 'connecting'})"
                )
            if self._closed:
                raise self._fail(batch, "the forwarder is stopping")
        if mid is None:
            # publish outside our lock: paho calls _on_publish holding its own lock
            info = self._client.publish(self.topic, batch.body, qos=1)
            if info.rc not in (MQTT_ERR_SUCCESS, MQTT_ERR_NO_CONN):  # NO_CONN: queued by paho
                raise self._fail(batch, f"not queued: {error_string(info.rc)}")
            mid = int(info.mid)
            with self._cond:
                self._inflight = (key, mid)
        deadline = time.monotonic() + self.timeout_s
        with self._cond:
            while mid not in self._reasons:
                if self._closed:
                    raise self._fail(batch, "the forwarder is stopping before the PUBACK")
                if not self._connected:
                    raise self._fail(
                        batch,
                        f"no PUBACK: {self._last_error or 'not connected'}; the batch is resent "
                        "after reconnecting",
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._fail(batch, f"no PUBACK within {self.timeout_s:g} s")
                self._cond.wait(min(left, 1.0))
            reason = self._reasons.pop(mid)
            self._inflight = None
        code = int(getattr(reason, "value", 0))
        if getattr(reason, "is_failure", False):
            raise self._fail(batch, f"the broker refused the batch: {reason} (0x{code:02x})")
        if code == NO_MATCHING_SUBSCRIBERS:
            raise self._fail(
                batch,
                f"no subscriber for {self.topic} on the broker (PUBACK 'No matching "
                "subscribers'); expected a heatreuse serve --mqtt with this topic prefix "
                "and a live persistent session; keeping the batch",
            )

    def probe(self, timeout_s: float = 3.0) -> str | None:
        """Can a TCP connection to the broker be made (:func:`probe_tcp`)?"""
        return probe_tcp(self.host, self.port, timeout_s)

    def close(self) -> None:
        """Disconnect (a batch waiting for its PUBACK is resent from the buffer next time)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._started:
            self._client.disconnect()
            self._client.loop_stop()


# --------------------------------------------------------------------------- forwarder
#: Interval of the forwarder's summary line at INFO [s].
SUMMARY_INTERVAL_S = 60.0


@dataclass
class ForwarderStats:
    """Counters of a forwarder (cumulative)."""

    batches_sent: int = 0
    readings_sent: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_error: str = ""
    link_up: bool = False


class Forwarder:
    """Send the buffer upstream in order; advance the watermark after each acknowledgement.

    Logging (one line per change, not per request): at start, a warning when
    the upstream does not resolve or refuses connections (the buffer keeps
    filling); a warning when the link goes down, an info line when it is up
    again; and about every ``summary_interval_s`` an info summary (readings
    received and forwarded, batches, failed attempts, pending, link state).
    Repeated failures are logged at debug level.

    Parameters
    ----------
    buffer
        The edge buffer.
    upstream
        A :class:`Transport`, or the HTTP push endpoint (:func:`readings_url`)
        for an :class:`HttpTransport`.
    batch_size
        Readings per batch.
    timeout_s
        Request timeout of the HTTP transport made from a URL [s].
    min_backoff_s, max_backoff_s
        Retry interval bounds after a failure [s] (doubling).
    sleep
        Injectable wait function ``sleep(seconds, stop_event)``.
    summary_interval_s
        Interval of the summary line [s].
    clock
        Monotonic time [s] for the summary interval (injectable).
    """

    def __init__(
        self,
        buffer: EdgeBuffer,
        upstream: str | Transport,
        *,
        batch_size: int = 2000,
        timeout_s: float = 30.0,
        min_backoff_s: float = 0.5,
        max_backoff_s: float = 60.0,
        sleep: Callable[[float, threading.Event], None] | None = None,
        summary_interval_s: float = SUMMARY_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if batch_size < 1:
            raise IngestError(f"edge forwarder: batch_size must be >= 1, got {batch_size}")
        self.buffer = buffer
        self.transport: Transport = (
            HttpTransport(upstream, timeout_s) if isinstance(upstream, str) else upstream
        )
        self.url = self.transport.url
        self.batch_size = int(batch_size)
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep or (lambda s, ev: ev.wait(s) and None)
        self.stats = ForwarderStats()
        self.summary_interval_s = float(summary_interval_s)
        self._clock = clock
        self._link: Literal["unknown", "up", "down"] = "unknown"
        self._down_since: dt.datetime | None = None
        self._summary_at = clock()
        self._summary_base = (0, 0, 0, buffer.appended)
        self._retry: BufferedBatch | None = None  # sent, not acknowledged: resent unchanged
        self._stop = threading.Event()
        #: Set when the upstream refused our credentials: forwarding stopped (see run).
        self.fatal_error: UpstreamAuthError | None = None
        self._thread: threading.Thread | None = None

    def send_one(self) -> int:
        """Send the next batch; return the readings acknowledged (0: nothing to send).

        A batch that failed is resent unchanged (same rows) before anything newer.

        Raises
        ------
        IngestError
            The upstream did not acknowledge the batch (connection failure,
            timeout, refusal); the watermark did not move.
        """
        batch = self._retry or self.buffer.next_batch(self.batch_size)
        if batch is None:
            return 0
        self._retry = batch
        self.transport.send(batch)
        self.buffer.acknowledge(batch.last_seq)
        self._retry = None
        self.stats.batches_sent += 1
        self.stats.readings_sent += batch.count
        return batch.count

    def probe_at_start(self) -> None:
        """Warn once when the upstream does not resolve or refuses (the buffer keeps filling)."""
        probe = getattr(self.transport, "probe", None)
        if probe is None:
            return
        reason = probe()
        if reason is None:
            log.info("edge forwarder: upstream %s answers; forwarding in order", self.url)
            return
        self._link = "down"
        self._down_since = dt.datetime.now(dt.UTC)
        self.stats.last_error = reason
        log.warning(
            "edge forwarder: upstream %s is not reachable at start (%s); readings are buffered "
            "in %s and forwarded in order when it answers",
            self.url,
            reason,
            self.buffer.path,
        )

    def _failed(self, exc: Exception) -> None:
        st = self.stats
        st.failures += 1
        st.consecutive_failures += 1
        st.last_error = str(exc) if isinstance(exc, IngestError) else f"{type(exc).__name__}: {exc}"
        st.link_up = False
        if self._link != "down":
            self._link = "down"
            self._down_since = dt.datetime.now(dt.UTC)
            log.warning(
                "%s; upstream link down: buffering and retrying with backoff (repeats at debug "
                "level)",
                st.last_error,
            )
        else:
            log.debug("%s (failure %d in a row)", st.last_error, st.consecutive_failures)

    def _succeeded(self) -> None:
        st = self.stats
        if self._link != "up":
            if self._link == "down":
                log.info(
                    "edge forwarder: upstream %s is up again after %d failed attempt(s) since "
                    "%s; replaying the buffer in order",
                    self.url,
                    st.consecutive_failures,
                    _clock_text(self._down_since),
                )
            else:
                log.info("edge forwarder: upstream %s acknowledged the first batch", self.url)
            self._link = "up"
            self._down_since = None
        st.consecutive_failures = 0
        st.last_error = ""
        st.link_up = True

    def summary(self) -> str:
        """The summary line since the last one (and start a new interval)."""
        st = self.stats
        sent0, batches0, failures0, appended0 = self._summary_base
        appended = self.buffer.appended
        now = self._clock()
        span = now - self._summary_at
        self._summary_at = now
        self._summary_base = (st.readings_sent, st.batches_sent, st.failures, appended)
        if self._link == "down":
            link = (
                f"upstream {self.url} down since {_clock_text(self._down_since)} "
                f"({st.consecutive_failures} failed attempts; last: {st.last_error})"
            )
        else:
            link = f"upstream {self.url} {self._link}"
        return (
            f"edge forwarder: last {span:.0f} s: {appended - appended0} readings buffered, "
            f"{st.readings_sent - sent0} forwarded in {st.batches_sent - batches0} batches, "
            f"{st.failures - failures0} failed attempts; {self.buffer.pending()} pending; {link}"
        )

    def _maybe_summary(self) -> None:
        if self._clock() - self._summary_at >= self.summary_interval_s:
            log.info("%s", self.summary())

    def run(self) -> None:
        """Forward until :meth:`stop`: drain, wait for new readings, retry with backoff."""
        self.probe_at_start()
        backoff = self.min_backoff_s
        while not self._stop.is_set():
            self._maybe_summary()
            try:
                sent = self.send_one()
            except UpstreamAuthError as exc:  # retrying cannot help: stop, say so loudly
                self._failed(exc)
                self.fatal_error = exc
                log.error("%s", exc)
                return
            except IngestError as exc:
                self._failed(exc)
                self._sleep(backoff, self._stop)
                backoff = min(backoff * 2.0, self.max_backoff_s)
                continue
            except sqlite3.Error as exc:
                log.error("edge forwarder: buffer error %s; retrying", exc)
                self._sleep(backoff, self._stop)
                backoff = min(backoff * 2.0, self.max_backoff_s)
                continue
            except Exception as exc:  # a transport bug must not end forwarding silently
                log.exception("edge forwarder: unexpected error; retrying")
                self._failed(exc)
                self._sleep(backoff, self._stop)
                backoff = min(backoff * 2.0, self.max_backoff_s)
                continue
            if sent:
                self._succeeded()
            backoff = self.min_backoff_s
            if sent == 0:
                self.buffer.wait_for_readings(0.5)

    def start(self) -> None:
        """Run in a background thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="edge-forwarder", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the current batch (resent next time if unacknowledged); close the link."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.transport.close()

    def as_dict(self) -> dict[str, Any]:
        """Counters as a dict."""
        st = self.stats
        return {
            "url": self.url,
            "link_up": st.link_up,
            "batches_sent": st.batches_sent,
            "readings_sent": st.readings_sent,
            "failures": st.failures,
            "consecutive_failures": st.consecutive_failures,
            "last_error": st.last_error,
        }


def _clock_text(when: dt.datetime | None) -> str:
    return "start" if when is None else when.strftime("%H:%M:%S UTC")
