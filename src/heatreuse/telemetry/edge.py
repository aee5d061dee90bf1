"""Store and forward at a site: a local SQLite buffer and an in-order HTTP forwarder.

The edge agent (``heatreuse edge``) writes every reading it receives (local
MQTT, Modbus) to :class:`EdgeBuffer` *first*; only then is the reading
acknowledged to its source. :class:`Forwarder` sends the buffer upstream in
batches, in order, to the HTTP push endpoint of a ``heatreuse serve``
(``POST /api/v1/sites/{site}/readings``, see :mod:`heatreuse.telemetry.http`).

Buffer file (SQLite, WAL, ``synchronous=FULL``)::

    edge_readings(seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- monotonically increasing
                  point TEXT, ts_json TEXT, value_json TEXT, source TEXT, received_at_us INTEGER)
    edge_state(key TEXT PRIMARY KEY, value TEXT)           -- 'acked_seq': the watermark
    edge_rejects(id INTEGER PRIMARY KEY AUTOINCREMENT, source, reason, raw_payload,
                 detail, point_id, received_at_us)        -- payloads that never became readings

Guarantees
----------
* Order: batches are the rows ``seq > acked_seq`` in ``seq`` order.
* The watermark ``acked_seq`` advances (in the same transaction that deletes
  the forwarded rows) only after the upstream answered 200, i.e. after the
  upstream store committed.
* On a broken link (connection refused, timeout, 5xx) the batch is retried
  with exponential backoff, unchanged, while new readings keep being buffered.
* A reading is sent again only if the agent dies (or the link breaks) after
  the upstream committed a batch and before the 200 reached the agent: at most
  the one in-flight batch. The upstream deduplicates by (point, timestamp), so
  it is stored once.
* Readings are buffered as received (point key, timestamp and value as JSON);
  validation and quarantine happen upstream. Payloads that are not readings
  at all (e.g. unreadable MQTT messages) are kept in ``edge_rejects`` and
  logged.

References
----------
SQLite ``AUTOINCREMENT`` (https://www.sqlite.org/autoinc.html: rowids never
reused) and WAL durability (https://www.sqlite.org/pragma.html#pragma_synchronous).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heatreuse.errors import IngestError
from heatreuse.telemetry.validate import RawReading

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
        The SQLite file (created with its directory).
    synchronous
        ``FULL`` (default: every commit is on disk before the source is
        acknowledged) or ``NORMAL`` (survives a process crash, not power loss).
    """

    def __init__(self, path: str | Path, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if synchronous.upper() not in ("FULL", "NORMAL"):
            raise IngestError(f"edge buffer: synchronous must be FULL or NORMAL, got {synchronous}")
        try:
            self._conn = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            for ddl in _DDL:
                self._conn.execute(ddl)
        except sqlite3.Error as exc:
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

    def reject(
        self,
        source: str,
        raw: str,
        reason: str = "unparseable",
        detail: str = "",
        point_id: str | None = None,
    ) -> None:
        """Keep something that never became a reading (committed on return)."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO edge_rejects (source, reason, raw_payload, detail, point_id, "
                "received_at_us) VALUES (?, ?, ?, ?, ?, ?)",
                (source, reason, raw, detail, point_id, time.time_ns() // 1000),
            )
        log.warning("edge: kept a rejected payload from %s (%s): %s", source, reason, detail)

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
    """Send the buffer upstream in order; advance the watermark after each 200.

    Parameters
    ----------
    buffer
        The edge buffer.
    url
        The push endpoint (:func:`readings_url`).
    batch_size
        Readings per request.
    timeout_s
        Request timeout [s].
    min_backoff_s, max_backoff_s
        Retry interval bounds after a failure [s] (doubling).
    sleep
        Injectable wait function ``sleep(seconds, stop_event)``.
    """

    def __init__(
        self,
        buffer: EdgeBuffer,
        url: str,
        *,
        batch_size: int = 2000,
        timeout_s: float = 30.0,
        min_backoff_s: float = 0.5,
        max_backoff_s: float = 60.0,
        sleep: Callable[[float, threading.Event], None] | None = None,
    ) -> None:
        import httpx

        if batch_size < 1:
            raise IngestError(f"edge forwarder: batch_size must be >= 1, got {batch_size}")
        self.buffer = buffer
        self.url = url
        self.batch_size = int(batch_size)
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep or (lambda s, ev: ev.wait(s) and None)
        self._client = httpx.Client(timeout=timeout_s)
        self.stats = ForwarderStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def send_one(self) -> int:
        """Send the next batch; return the readings acknowledged (0: nothing to send).

        Raises
        ------
        IngestError
            The upstream did not accept the batch (connection failure, timeout,
            non-200 answer); the watermark did not move.
        """
        import httpx

        batch = self.buffer.next_batch(self.batch_size)
        if batch is None:
            return 0
        try:
            resp = self._client.post(
                self.url, content=batch.body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise IngestError(
                f"edge forwarder: POST {self.url} (seq {batch.first_seq}..{batch.last_seq}) "
                f"failed: {type(exc).__name__}: {exc}"
            ) from None
        if resp.status_code != 200:
            raise IngestError(
                f"edge forwarder: POST {self.url} (seq {batch.first_seq}..{batch.last_seq}): "
                f"expected 200, got {resp.status_code}: {resp.text[:300]}"
            )
        self.buffer.acknowledge(batch.last_seq)
        self.stats.batches_sent += 1
        self.stats.readings_sent += batch.count
        return batch.count

    def run(self) -> None:
        """Forward until :meth:`stop`: drain, wait for new readings, retry with backoff."""
        backoff = self.min_backoff_s
        while not self._stop.is_set():
            try:
                sent = self.send_one()
            except IngestError as exc:
                st = self.stats
                st.failures += 1
                st.consecutive_failures += 1
                st.last_error = str(exc)
                st.link_up = False
                if st.consecutive_failures == 1:
                    log.error("%s; buffering and retrying with backoff", exc)
                else:
                    log.debug("%s (failure %d in a row)", exc, st.consecutive_failures)
                self._sleep(backoff, self._stop)
                backoff = min(backoff * 2.0, self.max_backoff_s)
                continue
            except sqlite3.Error as exc:
                log.error("edge forwarder: buffer error %s; retrying", exc)
                self._sleep(backoff, self._stop)
                backoff = min(backoff * 2.0, self.max_backoff_s)
                continue
            if self.stats.consecutive_failures:
                log.info(
                    "edge forwarder: upstream %s recovered after %d failure(s)",
                    self.url,
                    self.stats.consecutive_failures,
                )
                self.stats.consecutive_failures = 0
                self.stats.last_error = ""
            self.stats.link_up = True
            backoff = self.min_backoff_s
            if sent == 0:
                self.buffer.wait_for_readings(0.5)

    def start(self) -> None:
        """Run in a background thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="edge-forwarder", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the current request (its batch is resent next time if unacknowledged)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._client.close()

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
