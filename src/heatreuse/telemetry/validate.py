"""The ingest pipeline: validate readings, store the good ones, quarantine the rest.

Every ingest path (file import, HTTP push, MQTT, Modbus, the edge agent) hands
its readings to one :class:`Ingestor`. Nothing is dropped silently: each reading
ends up *accepted* (stored), a *duplicate* (the same point, timestamp and value
is already stored or came earlier in the batch: counted, stored once) or
*quarantined* with the raw payload, its source and one reason from
:data:`REASONS`.

Checks, in this order (the first failing one is the reason):

=====================  =======================================================
reason                 when
=====================  =======================================================
``unparseable``        the payload or timestamp cannot be read (bad JSON,
                       missing field, a timestamp that is not ISO 8601 with an
                       offset, a naive timestamp, a non-finite epoch), or a
                       text field is hostile: a point key longer than
                       :data:`MAX_POINT_KEY_CHARS`, a timestamp longer than
                       :data:`MAX_TS_CHARS`, a control character (NUL, ...) or
                       a lone surrogate in either (the detail names the field)
``unknown_point``      the point id / source key is not in the registry
``wrong_type``         the value is not a number (text, null, list), a bool
                       for a non-status point, or a status other than 0/1
``not_finite``         NaN or +-inf
``out_of_range``       outside the point's physical ``[min_value, max_value]``
``ts_future``          more than ``max_future_s`` (300 s) ahead of the clock
``ts_before_site``     before ``not_before`` (default: the site's commissioning
                       date, 00:00 site-local time)
``duplicate_conflict`` same point and timestamp as a reading stored or earlier
                       in the batch, but a different value (the first one wins)
``before_retention``   older than the store's raw retention horizon (the store
                       can no longer tell a duplicate from a new reading)
``device_exception``   not a reading: a Modbus device answered a register read
                       with an exception response (raw payload
                       ``exception_code=N``; once per failure episode)
``store_refused``      the store raised an error other than an outage
                       (:class:`~heatreuse.errors.StoreError`) for this one
                       reading; it was isolated from its batch (bisection), the
                       rest of the batch stored, the error is the detail
``implausible_decode`` not a reading: Modbus registers that decode to no
                       physical value (a NaN, infinite or subnormal float32,
                       or a float32 out of range whose swapped-word reading
                       is in range: a wrong word order); raw payload the
                       registers; once per episode and register
``unknown_unit_code``  not a reading: a Modbus unit-code register holds a code
                       that is not in the device kind's code table (raw
                       payload the registers and code); the points it scales
                       are withheld until a known code comes; once per episode
=====================  =======================================================

Raw payloads are kept by the store in a capped, always storable form
(:func:`heatreuse.rawtext.capped_payload`: the first
:data:`~heatreuse.rawtext.MAX_RAW_PAYLOAD_BYTES` bytes, escaped where needed,
with the size and SHA-256 of the whole payload).

The reason names are those of :class:`heatreuse.store.base.QuarantineReason`.

Interface for adapters
----------------------
* :meth:`Ingestor.ingest` takes a sequence of :class:`RawReading` (point id or
  source key, timestamp as ISO 8601 text with offset / epoch seconds / aware
  ``datetime``, value, source label, raw payload text) -- for MQTT, Modbus,
  HTTP.
* :meth:`Ingestor.ingest_batch` takes a columnar :class:`ReadingBatch` (numpy
  arrays) -- the fast path for files and large batches. It is
  :meth:`Ingestor.check_batch` (the checks that need no store; may run in
  another thread, e.g. on the next chunk of a file) followed by
  :meth:`Ingestor.store_checked` (the store's checks, the write, the counters).
* :meth:`Ingestor.reject` quarantines something that never became a reading
  (an undecodable MQTT payload, a Modbus exception response).

Each call returns an :class:`IngestResult` only after the store committed, so
an adapter may acknowledge (MQTT QoS 1 PUBACK, HTTP 200) when the call
returns. A store error that is not a :class:`~heatreuse.errors.StoreError`
(an outage: connection lost, database locked, disk full; raised to the caller,
who retries) cannot block a batch: the batch is bisected until the failing
reading is alone, and that one is quarantined as ``store_refused``. If even
that quarantine write fails, the original error is raised (the store is
taken to be down). Calls are serialised by a lock: one ``Ingestor`` may be
shared by threads. Counters (:meth:`Ingestor.counters`,
:meth:`Ingestor.prometheus_text`) are cumulative over the Ingestor's life.

Timestamps inside are microseconds since the Unix epoch, UTC (``int64``).

References
----------
Prometheus text exposition format 0.0.4
(https://prometheus.io/docs/instrumenting/exposition_formats/).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from heatreuse.errors import IngestError, StoreError
from heatreuse.rawtext import bounded_text, preview, text_problem
from heatreuse.site import Site
from heatreuse.telemetry.registry import PointRegistry

log = logging.getLogger(__name__)

#: Quarantine reasons, in check order. Codes in arrays are ``index + 1`` (0 = ok).
REASONS: tuple[str, ...] = (
    "unparseable",
    "unknown_point",
    "wrong_type",
    "not_finite",
    "out_of_range",
    "ts_future",
    "ts_before_site",
    "duplicate_conflict",
    "before_retention",
    "device_exception",
    "store_refused",
    "implausible_decode",
    "unknown_unit_code",
)
OK = 0
UNPARSEABLE, UNKNOWN_POINT, WRONG_TYPE, NOT_FINITE, OUT_OF_RANGE = 1, 2, 3, 4, 5
TS_FUTURE, TS_BEFORE_SITE, DUPLICATE_CONFLICT, BEFORE_RETENTION = 6, 7, 8, 9
STORE_REFUSED = REASONS.index("store_refused") + 1
#: Longest point id / source key accepted [characters] (longer: ``unparseable``).
MAX_POINT_KEY_CHARS = 256
#: Longest timestamp text accepted [characters] (ISO 8601 needs at most about 35).
MAX_TS_CHARS = 64
#: Longest text accepted where a value belongs [characters] (text is ``wrong_type``
#: anyway; longer text is refused by the HTTP endpoint and the edge as hostile).
MAX_TEXT_VALUE_CHARS = 64
# What ISO 8601 date-times are written with (digits, separators, T/Z/W, offset signs).
_ISO_TEXT_RE = re.compile(r"[0-9TtZzW:.,+\- ]+")
#: Internal code: an exact duplicate inside the batch (counted, stored once).
_DUP_SAME = 100
#: Floor of the timestamp range when a site has no commissioning date [UTC].
DEFAULT_NOT_BEFORE = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US = 1_000_000
_KEY_MIX = np.int64(1_000_003)


def reason_code(reason: str) -> int:
    """Array code of a reason name (see :data:`REASONS`)."""
    try:
        return REASONS.index(reason) + 1
    except ValueError:
        raise IngestError(
            f"unknown quarantine reason {reason!r}; expected one of {REASONS}"
        ) from None


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True, slots=True)
class RawReading:
    """One reading as an adapter received it.

    Parameters
    ----------
    point
        Canonical point id or source key (``mqtt:...``, ``modbus:dev:addr``,
        ``file:column``; see :mod:`heatreuse.telemetry.registry`).
    ts
        ISO 8601 text with offset or ``Z``, epoch seconds (int/float, UTC), or
        an aware :class:`datetime.datetime`.
    value
        The value as received (numbers pass; text, None, lists do not).
    source
        Where it came from, e.g. ``mqtt:heatreuse/pool/rack/tank-a/it_power_w``,
        ``http:10.0.0.7``, ``modbus:heat-meter:8``.
    raw
        The raw payload text kept in quarantine; None: built from the fields.
    """

    point: str
    ts: Any
    value: Any
    source: str
    raw: str | None = None


@dataclass(frozen=True)
class ReadingBatch:
    """Columnar readings (the vectorised path).

    Parameters
    ----------
    point_keys
        Point id or source key per row.
    ts_us
        Timestamps [us since epoch, UTC], int64; any value where
        ``pre_reasons`` is non-zero.
    values
        Values [the point's unit], float64.
    source
        Source label; with ``rows`` the per-row label is ``f"{source}:{row}"``.
    pre_reasons
        Reason codes found while parsing (0 = parsed fine), int8, or None.
    rows
        Row numbers for the source label (e.g. file rows), or None.
    raw
        Raw text per row, or a function from row positions to raw texts, or
        None (built from key, timestamp, value).
    pre_details
        What was wrong, per row position with a non-zero ``pre_reasons``
        code (the field named, what was expected and what came); rows without
        one get the reason's generic detail.
    """

    point_keys: npt.NDArray[np.object_] | Sequence[str]
    ts_us: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    source: str
    pre_reasons: npt.NDArray[np.int8] | None = None
    rows: npt.NDArray[np.int64] | None = None
    raw: Sequence[str] | Callable[[npt.NDArray[np.int64]], Sequence[str]] | None = None
    pre_details: Mapping[int, str] | None = None

    def __len__(self) -> int:
        return len(self.ts_us)


@dataclass(frozen=True)
class QuarantineRecord:
    """A rejected reading as handed to ``store.write_quarantine``.

    Same fields as :class:`heatreuse.store.base.QuarantineRecord` (the
    pipeline cannot import the store: sibling layers), so the store takes it
    as is.
    """

    site_id: str
    source: str
    reason: str
    raw_payload: str | bytes
    detail: str = ""
    point_id: str | None = None
    ts_us: int | None = None
    received_at_us: int | None = None
    id: int | None = None


@dataclass(frozen=True)
class CheckedBatch:
    """A batch after :meth:`Ingestor.check_batch`, ready for :meth:`Ingestor.store_checked`.

    Attributes
    ----------
    batch
        The batch as given.
    labels
        Source label per row position.
    reason
        Reason code per row (0 = passed every check that needs no store), int16.
    idx
        Point index per row (into the registry's points; -1 = unknown).
    ts_us
        Timestamps [us since epoch, UTC], int64.
    values
        Values [the point's unit], float64.
    first_values
        For in-batch ``duplicate_conflict`` rows: the earlier value that wins.
    """

    batch: ReadingBatch
    labels: Callable[[npt.NDArray[np.int64]], Sequence[str]]
    reason: npt.NDArray[np.int16]
    idx: npt.NDArray[np.int64]
    ts_us: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    first_values: Mapping[int, float]


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class IngestResult:
    """Outcome of one ingest call (or of a whole file, merged).

    ``received == accepted + duplicates + sum(quarantined.values())``.
    """

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: Mapping[str, int] = field(default_factory=dict)
    skipped_empty_cells: int = 0

    @property
    def quarantined_total(self) -> int:
        """Readings quarantined, all reasons."""
        return sum(self.quarantined.values())

    def merge(self, other: IngestResult) -> IngestResult:
        """Sum of two results."""
        q = dict(self.quarantined)
        for k, v in other.quarantined.items():
            q[k] = q.get(k, 0) + v
        return IngestResult(
            received=self.received + other.received,
            accepted=self.accepted + other.accepted,
            duplicates=self.duplicates + other.duplicates,
            quarantined=q,
            skipped_empty_cells=self.skipped_empty_cells + other.skipped_empty_cells,
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return {
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "quarantined": dict(sorted(self.quarantined.items())),
            "quarantined_total": self.quarantined_total,
            "skipped_empty_cells": self.skipped_empty_cells,
        }


class IngestCounters:
    """Thread-safe cumulative counters of accepted / duplicate / quarantined readings."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received = 0
        self._accepted = 0
        self._duplicates = 0
        self._batches = 0
        self._quarantined: dict[str, int] = dict.fromkeys(REASONS, 0)

    def add(self, result: IngestResult) -> None:
        """Add one call's result."""
        with self._lock:
            self._batches += 1
            self._received += result.received
            self._accepted += result.accepted
            self._duplicates += result.duplicates
            for k, v in result.quarantined.items():
                self._quarantined[k] = self._quarantined.get(k, 0) + v

    def snapshot(self) -> dict[str, Any]:
        """Counters as a dict: batches, received, accepted, duplicates, quarantined{reason}."""
        with self._lock:
            return {
                "batches": self._batches,
                "received": self._received,
                "accepted": self._accepted,
                "duplicates": self._duplicates,
                "quarantined": dict(self._quarantined),
                "quarantined_total": sum(self._quarantined.values()),
            }

    def prometheus_text(self, site_id: str) -> str:
        """Counters in the Prometheus text exposition format 0.0.4."""
        snap = self.snapshot()
        site = site_id.replace("\\", "\\\\").replace('"', '\\"')
        lines = [
            "# HELP heatreuse_ingest_readings_total Readings seen by the ingest pipeline by "
            "outcome (accepted, duplicate, quarantined) and quarantine reason.",
            "# TYPE heatreuse_ingest_readings_total counter",
            f'heatreuse_ingest_readings_total{{site="{site}",outcome="accepted",reason=""}} '
            f"{snap['accepted']}",
            f'heatreuse_ingest_readings_total{{site="{site}",outcome="duplicate",reason=""}} '
            f"{snap['duplicates']}",
        ]
        for reason in sorted(snap["quarantined"]):
            lines.append(
                f'heatreuse_ingest_readings_total{{site="{site}",outcome="quarantined",'
                f'reason="{reason}"}} {snap["quarantined"][reason]}'
            )
        lines += [
            "# HELP heatreuse_ingest_batches_total Ingest calls (batches) completed.",
            "# TYPE heatreuse_ingest_batches_total counter",
            f'heatreuse_ingest_batches_total{{site="{site}"}} {snap["batches"]}',
        ]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the store
class ReadingStore(Protocol):
    """What the pipeline needs from :class:`heatreuse.store.base.Store`."""

    def write_readings(self, site_id: str, point_ids: Any, ts_us: Any, values: Any) -> Any:
        """Insert readings; return ``WriteResult(inserted, duplicates, conflicts)``."""

    def write_quarantine(self, records: Sequence[Any]) -> Any:
        """Store rejected readings (records with the fields of :class:`QuarantineRecord`)."""


# --------------------------------------------------------------------------- parsing
def parse_timestamp_us(ts: Any) -> int:
    """Parse one timestamp into microseconds since the epoch (UTC).

    Parameters
    ----------
    ts
        ISO 8601 text with an offset or ``Z``; epoch seconds (int or float,
        UTC); or an aware :class:`datetime.datetime`.

    Returns
    -------
    int
        Microseconds since 1970-01-01T00:00Z.

    Raises
    ------
    ValueError
        Naive timestamps (no offset: never guessed), unparseable text, text
        longer than :data:`MAX_TS_CHARS` or with any character an ISO 8601
        date-time is not written with (NUL and other control characters, lone
        surrogates, letters other than T/Z/W: ``datetime.fromisoformat``
        alone stops reading at a NUL and would accept ``"...Z\x00"``),
        non-finite numbers, other types.
    """
    if isinstance(ts, bool):
        raise ValueError(f"expected a timestamp, got a boolean {ts!r}")
    if isinstance(ts, dt.datetime):
        when = ts
    elif isinstance(ts, str):
        problem = ts_text_problem(ts)
        if problem is not None:
            raise ValueError(problem)
        try:
            when = dt.datetime.fromisoformat(ts.strip(" "))
        except ValueError:
            raise ValueError(
                f"expected an ISO 8601 timestamp with offset such as 2026-01-10T06:00:00Z, "
                f"got {preview(ts)}"
            ) from None
    elif isinstance(ts, int | float):
        if not math.isfinite(ts):
            raise ValueError(f"expected finite epoch seconds, got {ts!r}")
        return round(ts * _US)
    else:
        raise ValueError(f"expected a timestamp (ISO text or epoch seconds), got {ts!r}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(
            f"naive timestamp {ts!s}: a UTC offset or 'Z' is required (the time zone is never "
            "guessed)"
        )
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def ts_text_problem(ts: str) -> str | None:
    """Why timestamp text is refused before parsing, or None.

    Longer than :data:`MAX_TS_CHARS`, a control character or lone surrogate,
    or a character outside those ISO 8601 date-times are written with
    (digits, ``-:.,+``, space, ``T``, ``Z``, ``W``).
    """
    problem = text_problem(ts, MAX_TS_CHARS)
    if problem is not None:
        return f"expected an ISO 8601 timestamp with offset; the text {problem}"
    stripped = ts.strip(" ")
    if not stripped:
        return "expected an ISO 8601 timestamp with offset; got empty text"
    if _ISO_TEXT_RE.fullmatch(stripped) is None:
        bad = next(c for c in stripped if _ISO_TEXT_RE.fullmatch(c) is None)
        return (
            f"expected an ISO 8601 timestamp with offset such as 2026-01-10T06:00:00Z; "
            f"{preview(ts)} contains {bad!r} (U+{ord(bad):04X})"
        )
    return None


def point_key_problem(key: Any) -> str | None:
    """Why a point id / source key is refused before lookup, or None.

    Not text, empty, longer than :data:`MAX_POINT_KEY_CHARS`, or a control
    character or lone surrogate in it.
    """
    if not isinstance(key, str):
        return f"expected a point id (text), got {type(key).__name__}"
    if not key:
        return "expected a point id, got empty text"
    problem = text_problem(key, MAX_POINT_KEY_CHARS)
    return None if problem is None else f"expected a point id; the text {problem}"


def reading_field_problems(point: Any, ts: Any, value: Any) -> list[tuple[str, str]]:
    """Hostile text in the fields of one reading: ``[(field, problem), ...]``.

    What the HTTP endpoint refuses with 422 and the edge agent keeps as a
    reject instead of buffering (so that it never forwards what the upstream
    refuses): a bad point key (:func:`point_key_problem`), timestamp text that
    :func:`ts_text_problem` refuses, and text where the value belongs that is
    longer than :data:`MAX_TEXT_VALUE_CHARS` or holds a control character or a
    lone surrogate (a list or object there: longer than that as JSON). A
    well-formed but wrong reading (an unknown point, text
    as value, a timestamp that does not parse) is not hostile: it is
    quarantined with its reason.
    """
    out: list[tuple[str, str]] = []
    problem = point_key_problem(point)
    if problem is not None:
        out.append(("point_id", problem))
    if isinstance(ts, str):
        problem = text_problem(ts, MAX_TS_CHARS)
        if problem is not None:
            out.append(("ts", f"expected an ISO 8601 timestamp with offset; the text {problem}"))
    if isinstance(value, str):
        problem = text_problem(value, MAX_TEXT_VALUE_CHARS)
        if problem is not None:
            out.append(("value", f"expected a number; the text {problem}"))
    elif isinstance(value, list | dict):
        size = len(json.dumps(value, default=str))
        if size > MAX_TEXT_VALUE_CHARS:
            out.append(
                (
                    "value",
                    f"expected a number; got a JSON {type(value).__name__} of {size:,} "
                    f"characters (at most {MAX_TEXT_VALUE_CHARS} kept as a wrong_type reading)",
                )
            )
    return out


def format_ts_us(ts_us: int) -> str:
    """ISO 8601 UTC text of a microsecond timestamp (``...Z``)."""
    when = _EPOCH + dt.timedelta(microseconds=int(ts_us))
    return when.isoformat().replace("+00:00", "Z")


def _value_code(value: Any, status: bool | None) -> tuple[int, float]:
    """Classify a raw value: (reason code, float value)."""
    if isinstance(value, bool):
        if status:
            return OK, float(value)
        return WRONG_TYPE, math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return OK, float(value)
        except OverflowError:  # an integer beyond the float range
            return OUT_OF_RANGE, math.nan
    return WRONG_TYPE, math.nan


def _raw_text(reading: RawReading) -> str:
    if reading.raw is not None:
        return reading.raw
    try:
        return json.dumps(
            {"point_id": reading.point, "ts": reading.ts, "value": reading.value},
            default=str,
            allow_nan=True,
        )
    except (TypeError, ValueError):
        return repr(reading)


# --------------------------------------------------------------------------- the ingestor
class Ingestor:
    """Validate readings of one site, store the good ones, quarantine the rest.

    Parameters
    ----------
    site
        The site (its id, commissioning date and time zone are used).
    store
        A :mod:`heatreuse.store` store (``write_readings``, ``write_quarantine``).
    registry
        Point registry; default :meth:`PointRegistry.from_site`.
    clock
        Returns the current time, aware; default the system clock (UTC).
        Injectable so tests control "the future".
    max_future_s
        Readings more than this ahead of the clock are quarantined [s].
    not_before
        Earliest accepted timestamp (aware). Default: the commissioning date at
        00:00 site-local time, else :data:`DEFAULT_NOT_BEFORE`. Pass an earlier
        time explicitly to backfill history from before commissioning.
    """

    def __init__(
        self,
        site: Site,
        store: ReadingStore,
        registry: PointRegistry | None = None,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        max_future_s: float = 300.0,
        not_before: dt.datetime | None = None,
    ) -> None:
        self.site = site
        self.site_id = site.id
        self.store = store
        self.registry = registry if registry is not None else PointRegistry.from_site(site)
        self.clock: Callable[[], dt.datetime] = clock or (lambda: dt.datetime.now(dt.UTC))
        if not (max_future_s >= 0 and math.isfinite(max_future_s)):
            raise IngestError(f"max_future_s must be a finite number >= 0, got {max_future_s}")
        self.max_future_s = float(max_future_s)
        if not_before is None:
            cd = site.site.commissioning_date
            if cd is not None:
                not_before = dt.datetime.combine(
                    cd, dt.time(0, 0), tzinfo=ZoneInfo(site.location.timezone)
                )
            else:
                not_before = DEFAULT_NOT_BEFORE
        if not_before.tzinfo is None:
            raise IngestError(f"not_before {not_before} needs a time zone offset")
        self.not_before = not_before
        self.not_before_us = parse_timestamp_us(not_before)
        self._counters = IngestCounters()
        self._lock = threading.Lock()
        self._busy_since_s: float | None = None
        self._categories = pd.Index(list(self.registry.ids), dtype=object)
        #: Called (no arguments) after readings were committed; ``serve`` wakes its
        #: live monitoring with it. Must be quick and never block.
        self.on_commit: Callable[[], None] | None = None

    # ----------------------------------------------------------------- counters
    def counters(self) -> dict[str, Any]:
        """Cumulative counters (see :meth:`IngestCounters.snapshot`)."""
        return self._counters.snapshot()

    def prometheus_text(self) -> str:
        """Cumulative counters in Prometheus text format."""
        return self._counters.prometheus_text(self.site_id)

    def store_call_age_s(self) -> float | None:
        """How long the store write in progress has been running [s] (clock time); None: idle.

        A health check reads it to tell a stuck store from a slow one.
        """
        since = self._busy_since_s
        if since is None:
            return None
        return max(0.0, self.clock().timestamp() - since)

    @contextmanager
    def _store_call(self) -> Iterator[None]:
        """Hold the lock and mark a store call in progress (see :meth:`store_call_age_s`)."""
        with self._lock:
            self._busy_since_s = self.clock().timestamp()
            try:
                yield
            finally:
                self._busy_since_s = None

    # ----------------------------------------------------------------- entry points
    def ingest(self, readings: Sequence[RawReading]) -> IngestResult:
        """Validate and store readings from an adapter (MQTT, Modbus, HTTP).

        Returns after the store committed the accepted and the quarantined rows.
        """
        n = len(readings)
        keys = np.empty(n, dtype=object)
        ts_us = np.zeros(n, dtype=np.int64)
        values = np.full(n, np.nan, dtype=np.float64)
        pre = np.zeros(n, dtype=np.int8)
        details: dict[int, str] = {}
        get = self.registry.get
        resolve = self.registry.resolve
        # a batch names few points and few instants (an edge sends every point of a
        # scan at one time): each distinct key and timestamp text is checked once
        key_checks: dict[Any, tuple[str | None, bool | None]] = {}
        ts_texts: dict[str, int] = {}
        for i, r in enumerate(readings):
            key = r.point
            checked = key_checks.get(key) if isinstance(key, str) else None
            if checked is None:
                problem = point_key_problem(key)
                if problem is None:
                    pid = resolve(key)
                    point = get(pid) if pid is not None else None
                    checked = (None, None if point is None else point.kind == "status")
                else:
                    checked = (problem, None)
                if isinstance(key, str):
                    key_checks[key] = checked
            problem, status = checked
            if problem is not None:
                keys[i] = ""
                pre[i] = UNPARSEABLE
                if key != "":  # "": an item without a point key (generic detail)
                    details[i] = f"point_id: {problem}"
                continue
            keys[i] = key
            ts = r.ts
            text = type(ts) is str
            at = ts_texts.get(ts) if text else None
            if at is None:
                try:
                    at = parse_timestamp_us(ts)
                except (ValueError, OverflowError) as exc:
                    pre[i] = UNPARSEABLE
                    details[i] = f"{key}: ts: {exc}"
                    continue
                if text:
                    ts_texts[ts] = at
            ts_us[i] = at
            code, v = _value_code(r.value, status)
            if code == OK:
                values[i] = v
            elif status is not None:  # a known point (unknown ones are judged later)
                pre[i] = code
        batch = ReadingBatch(
            point_keys=keys,
            ts_us=ts_us,
            values=values,
            source="",
            pre_reasons=pre,
            raw=lambda rows: [_raw_text(readings[int(j)]) for j in rows],
            pre_details=details,
        )
        sources = [r.source for r in readings]
        return self._process(batch, lambda rows: [sources[int(j)] for j in rows])

    def ingest_batch(self, batch: ReadingBatch) -> IngestResult:
        """Validate and store a columnar batch (vectorised; the file path).

        The same as ``store_checked(check_batch(batch))``.
        """
        return self.store_checked(self.check_batch(batch))

    def check_batch(self, batch: ReadingBatch) -> CheckedBatch:
        """Run the checks that need no store on a columnar batch (first half of
        :meth:`ingest_batch`).

        Touches neither the store nor the counters, so it may run in another
        thread (e.g. on the next chunk of a file while the store writes this
        one); :meth:`store_checked` finishes the batch. The clock is read here:
        ``ts_future`` is judged against the time of the check.
        """
        if batch.rows is not None:
            rows_arr = batch.rows

            def labels(rows: npt.NDArray[np.int64]) -> list[str]:
                return [f"{batch.source}:{int(rows_arr[j])}" for j in rows]

        else:

            def labels(rows: npt.NDArray[np.int64]) -> list[str]:
                return [batch.source] * len(rows)

        return self._check(batch, labels)

    def store_checked(self, checked: CheckedBatch) -> IngestResult:
        """Store the good readings of a checked batch and quarantine the rest.

        The second half of :meth:`ingest_batch`: the store's duplicate and
        conflict checks run here, against what is stored now. Returns after
        the store committed.
        """
        return self._committed(self._store(checked))

    def _committed(self, result: IngestResult) -> IngestResult:
        """Tell :attr:`on_commit` (``serve``'s live monitoring) that readings were stored."""
        if result.accepted and self.on_commit is not None:
            try:
                self.on_commit()
            except Exception:  # a watcher's failure never fails ingest
                log.exception("ingest: the on_commit hook failed")
        return result

    def reject(
        self,
        source: str,
        raw: str | bytes,
        reason: str = "unparseable",
        detail: str = "",
        point_id: str | None = None,
    ) -> None:
        """Quarantine something that never became a reading (e.g. an undecodable payload).

        ``raw`` is the payload as received, text or bytes (the store keeps it
        capped, see :func:`heatreuse.rawtext.capped_payload`). Counted like a
        reading; committed when this returns.
        """
        code = reason_code(reason)
        record = QuarantineRecord(
            site_id=self.site_id,
            source=source,
            reason=REASONS[code - 1],
            raw_payload=raw,
            detail=detail,
            point_id=point_id,
        )
        with self._store_call():
            self._write_quarantine([record])
        self._counters.add(IngestResult(received=1, quarantined={record.reason: 1}))

    # ----------------------------------------------------------------- the core
    def _process(
        self, batch: ReadingBatch, labels: Callable[[npt.NDArray[np.int64]], Sequence[str]]
    ) -> IngestResult:
        return self._committed(self._store(self._check(batch, labels)))

    def _check(
        self, batch: ReadingBatch, labels: Callable[[npt.NDArray[np.int64]], Sequence[str]]
    ) -> CheckedBatch:
        """Checks that need no store: reasons per row (or ``_DUP_SAME``), in check order."""
        n = len(batch)
        empty_i = np.zeros(0, dtype=np.int64)
        if n == 0:
            return CheckedBatch(
                batch, labels, np.zeros(0, dtype=np.int16), empty_i, empty_i, np.zeros(0), {}
            )
        keys = batch.point_keys
        ts_us = np.asarray(batch.ts_us, dtype=np.int64)
        values = np.asarray(batch.values, dtype=np.float64)
        reason = (
            np.zeros(n, dtype=np.int16)
            if batch.pre_reasons is None
            else batch.pre_reasons.astype(np.int16, copy=True)
        )
        idx = self.registry.resolve_many(keys)
        reason[(reason == OK) & (idx < 0)] = UNKNOWN_POINT
        # a parse-time wrong_type for an unknown key is an unknown point
        reason[(reason == WRONG_TYPE) & (idx < 0)] = UNKNOWN_POINT
        ok = reason == OK
        safe_idx = np.where(idx >= 0, idx, 0)
        finite = np.isfinite(values)
        reason[ok & ~finite] = NOT_FINITE
        ok = reason == OK
        status = self.registry.is_status[safe_idx]
        bad_status = ok & status & (values != 0.0) & (values != 1.0)
        reason[bad_status] = WRONG_TYPE
        ok = reason == OK
        lo = self.registry.min_values[safe_idx]
        hi = self.registry.max_values[safe_idx]
        reason[ok & ((values < lo) | (values > hi))] = OUT_OF_RANGE
        ok = reason == OK
        now_us = parse_timestamp_us(self.clock())
        reason[ok & (ts_us > now_us + round(self.max_future_s * _US))] = TS_FUTURE
        ok = reason == OK
        reason[ok & (ts_us < self.not_before_us)] = TS_BEFORE_SITE
        self._mark_batch_duplicates(idx, ts_us, values, reason)
        stored: dict[int, float] = {}
        if np.any(reason == DUPLICATE_CONFLICT):
            stored.update(self._first_values(idx, ts_us, values, reason))
        return CheckedBatch(batch, labels, reason, idx, ts_us, values, stored)

    def _store(self, checked: CheckedBatch) -> IngestResult:
        """Write the rows a check left OK, quarantine the others; count.

        A store error other than :class:`~heatreuse.errors.StoreError` (which
        means the store is down: raised, the caller retries) is isolated: the
        batch is bisected and stored in halves until the failing reading is
        alone; that one is quarantined as ``store_refused`` (see the module
        docstring).
        """
        try:
            return self._store_once(checked)
        except StoreError:
            raise
        except Exception as exc:
            n = len(checked.batch)
            log.warning(
                "ingest: the store refused a batch of %d reading(s) (%s: %s); isolating the "
                "failing reading(s)",
                n,
                type(exc).__name__,
                bounded_text(str(exc), 300),
            )
            if n == 1:
                return self._dead_letter(checked, exc)
            half = n // 2
            left = self._store(_slice_checked(checked, 0, half))
            return left.merge(self._store(_slice_checked(checked, half, n)))

    def _dead_letter(self, checked: CheckedBatch, exc: Exception) -> IngestResult:
        """Quarantine the single reading of ``checked`` as ``store_refused``.

        Raises ``exc`` if the store refuses that too (then the store is down).
        """
        batch = checked.batch
        pos = np.zeros(1, dtype=np.int64)
        key = batch.point_keys[0]
        idx = int(checked.idx[0])
        point = self.registry.points[idx] if idx >= 0 else None
        try:
            raw = self._raws(batch, checked.reason, checked.ts_us, checked.values, pos)[0]
            source = checked.labels(pos)[0]
        except Exception:  # the raw text itself is what breaks: keep what is certain
            raw, source = repr(key), "unknown"
        ts_ok = int(checked.reason[0]) != UNPARSEABLE
        record = QuarantineRecord(
            site_id=self.site_id,
            source=source,
            reason=REASONS[STORE_REFUSED - 1],
            raw_payload=raw,
            detail=(
                f"the store refused this reading ({type(exc).__name__}: {exc}); it was "
                "isolated from its batch and the rest of the batch was stored"
            ),
            point_id=point.id if point is not None else (key if isinstance(key, str) else None),
            ts_us=int(checked.ts_us[0]) if ts_ok else None,
        )
        try:
            with self._store_call():
                self._write_quarantine([record])
        except Exception:
            raise exc from None
        result = IngestResult(received=1, quarantined={record.reason: 1})
        self._counters.add(result)
        return result

    def _store_once(self, checked: CheckedBatch) -> IngestResult:
        """Write the rows a check left OK and quarantine the others, in one transaction."""
        batch, labels = checked.batch, checked.labels
        n = len(batch)
        if n == 0:
            return IngestResult()
        idx, ts_us, values = checked.idx, checked.ts_us, checked.values
        reason = checked.reason.copy()  # a CheckedBatch stays as it was checked
        stored = dict(checked.first_values)
        ok = reason == OK
        dup_same = int(np.count_nonzero(reason == _DUP_SAME))
        write_pos = np.flatnonzero(ok)
        with self._store_call(), self._transaction():
            inserted, store_dups, refused, refused_code, refused_stored = self._write_readings(
                idx[write_pos], ts_us[write_pos], values[write_pos]
            )
            if len(refused):
                reason[write_pos[refused]] = refused_code
                stored.update({int(write_pos[j]): v for j, v in refused_stored.items()})
            bad_pos = np.flatnonzero((reason != OK) & (reason != _DUP_SAME))
            if len(bad_pos):
                self._write_quarantine(
                    self._records(batch, bad_pos, reason, idx, ts_us, values, labels, stored)
                )
        counts = np.bincount(reason[bad_pos], minlength=len(REASONS) + 1)
        quarantined = {
            REASONS[c - 1]: int(counts[c]) for c in range(1, len(REASONS) + 1) if counts[c]
        }
        result = IngestResult(
            received=n,
            accepted=inserted,
            duplicates=dup_same + store_dups,
            quarantined=quarantined,
        )
        self._counters.add(result)
        return result

    def _transaction(self) -> AbstractContextManager[Any]:
        """One store transaction around the readings and the quarantine rows of a batch
        (when the store offers nesting transactions), so a failing batch leaves nothing."""
        begin = getattr(self.store, "transaction", None)
        return begin() if callable(begin) else nullcontext()

    @staticmethod
    def _mark_batch_duplicates(
        idx: npt.NDArray[np.int64],
        ts_us: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        reason: npt.NDArray[np.int16],
    ) -> None:
        """Mark later rows with the same (point, ts) as an earlier good row.

        Same value: ``_DUP_SAME`` (a counted duplicate); different value:
        ``DUPLICATE_CONFLICT``. Hash-based screening first; the exact check
        runs only on the (usually empty) set of candidate rows.
        """
        ok_pos = np.flatnonzero(reason == OK)
        if len(ok_pos) < 2:
            return
        with np.errstate(over="ignore"):
            key = ts_us[ok_pos] * _KEY_MIX + idx[ok_pos]
        if not pd.Index(key).has_duplicates:
            return
        dup_keys = key[pd.Index(key).duplicated(keep=False)]
        cand = ok_pos[np.isin(key, dup_keys)]
        order = np.lexsort((cand, ts_us[cand], idx[cand]))  # by point, ts, then arrival
        c = cand[order]
        same = (idx[c][1:] == idx[c][:-1]) & (ts_us[c][1:] == ts_us[c][:-1])
        new_group = np.concatenate(([True], ~same))
        first = np.maximum.accumulate(np.where(new_group, np.arange(len(c)), 0))
        later = ~new_group
        rows = c[later]
        firsts = c[first[later]]
        reason[rows] = np.where(values[rows] == values[firsts], _DUP_SAME, DUPLICATE_CONFLICT)

    @staticmethod
    def _first_values(
        idx: npt.NDArray[np.int64],
        ts_us: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        reason: npt.NDArray[np.int16],
    ) -> dict[int, float]:
        """For in-batch conflicts: the value of the earlier reading that wins."""
        first: dict[tuple[int, int], float] = {}
        out: dict[int, float] = {}
        conf = np.flatnonzero(reason == DUPLICATE_CONFLICT)
        with np.errstate(over="ignore"):
            mix = ts_us * _KEY_MIX + idx
        for j in np.flatnonzero((reason == OK) & np.isin(mix, mix[conf])):
            first.setdefault((int(idx[j]), int(ts_us[j])), float(values[j]))
        for j in np.flatnonzero(reason == DUPLICATE_CONFLICT):
            k = (int(idx[j]), int(ts_us[j]))
            if k in first:
                out[int(j)] = first[k]
        return out

    def _raws(
        self,
        batch: ReadingBatch,
        reason: npt.NDArray[np.int16],
        ts_us: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        pos: npt.NDArray[np.int64],
    ) -> Sequence[str]:
        """Raw payload texts of the rows at ``pos``."""
        keys = batch.point_keys
        if batch.raw is None:
            return [
                json.dumps(
                    {
                        "point_id": str(keys[int(j)]),
                        "ts": format_ts_us(int(ts_us[j])) if reason[j] != UNPARSEABLE else None,
                        "value": float(values[j]),
                    },
                    allow_nan=True,
                )
                for j in pos
            ]
        if callable(batch.raw):
            return batch.raw(pos)
        return [batch.raw[int(j)] for j in pos]

    def _records(
        self,
        batch: ReadingBatch,
        pos: npt.NDArray[np.int64],
        reason: npt.NDArray[np.int16],
        idx: npt.NDArray[np.int64],
        ts_us: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        labels: Callable[[npt.NDArray[np.int64]], Sequence[str]],
        stored: Mapping[int, float],
    ) -> list[QuarantineRecord]:
        keys = batch.point_keys
        raws = self._raws(batch, reason, ts_us, values, pos)
        srcs = labels(pos)
        pre_details = batch.pre_details or {}
        out: list[QuarantineRecord] = []
        for k, j in enumerate(pos):
            code = int(reason[j])
            point = self.registry.points[int(idx[j])] if idx[j] >= 0 else None
            key = keys[int(j)]
            detail = pre_details.get(int(j)) if code == UNPARSEABLE else None
            out.append(
                QuarantineRecord(
                    site_id=self.site_id,
                    source=srcs[k],
                    reason=REASONS[code - 1],
                    raw_payload=raws[k],
                    detail=detail
                    if detail is not None
                    else self._detail(
                        code, point, key, int(ts_us[j]), float(values[j]), stored.get(int(j))
                    ),
                    point_id=point.id
                    if point is not None
                    else (str(key) if isinstance(key, str) and key else None),
                    ts_us=None if code == UNPARSEABLE else int(ts_us[j]),
                )
            )
        return out

    def _detail(
        self,
        code: int,
        point: Any,
        key: Any,
        ts_us: int,
        value: float,
        stored: float | None,
    ) -> str:
        """What was expected and what came, for one rejected reading."""
        if code == UNPARSEABLE:
            return (
                "expected a point id, an ISO 8601 timestamp with offset (or epoch seconds) "
                "and a number"
            )
        if code == UNKNOWN_POINT:
            return (
                f"unknown point or source key {bounded_text(str(key), 200)}; expected one of "
                "the site's points (heatreuse points list)"
            )
        if point is None:
            return REASONS[code - 1]
        if code == WRONG_TYPE:
            if point.kind == "status":
                return f"{point.id}: a status is 0 or 1 (or true/false); got {value!r}"
            return f"{point.id}: expected a number in {point.unit}; got a non-number"
        if code == NOT_FINITE:
            return f"{point.id}: expected a finite number; got {value!r}"
        if code == OUT_OF_RANGE:
            return (
                f"{point.id}: expected {point.min_value:g}..{point.max_value:g} {point.unit} "
                f"(physical range); got {value!r}"
            )
        if code == TS_FUTURE:
            return (
                f"{point.id}: timestamp {format_ts_us(ts_us)} is more than {self.max_future_s:g} s "
                f"ahead of the clock ({format_ts_us(parse_timestamp_us(self.clock()))})"
            )
        if code == TS_BEFORE_SITE:
            return (
                f"{point.id}: timestamp {format_ts_us(ts_us)} is before the site existed "
                f"(not before {format_ts_us(self.not_before_us)})"
            )
        if code == DUPLICATE_CONFLICT:
            return (
                f"{point.id} at {format_ts_us(ts_us)}: stored value {stored!r}, new value "
                f"{value!r} (the first value stored wins)"
            )
        if code == BEFORE_RETENTION:
            return (
                f"{point.id} at {format_ts_us(ts_us)}: older than the store's raw retention horizon"
            )
        return REASONS[code - 1]

    # ----------------------------------------------------------------- store calls
    def _write_readings(
        self,
        idx: npt.NDArray[np.int64],
        ts_us: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> tuple[int, int, npt.NDArray[np.int64], npt.NDArray[np.int16], dict[int, float]]:
        """Write good rows (unique (point, ts) after the in-batch check).

        Returns (inserted, duplicates, positions of refused rows, their reason
        codes, stored value per refused position).
        """
        empty = np.zeros(0, dtype=np.int64)
        if len(idx) == 0:
            return 0, 0, empty, np.zeros(0, dtype=np.int16), {}
        codes = pd.Categorical.from_codes(idx, categories=self._categories)
        res = self.store.write_readings(self.site_id, codes, ts_us, values)
        conflicts = tuple(res.conflicts)
        if not conflicts:
            return int(res.inserted), int(res.duplicates), empty, np.zeros(0, dtype=np.int16), {}
        where: dict[tuple[str, int], int] = {}
        ids = self.registry.ids
        c_ts = np.array([int(c.ts_us) for c in conflicts], dtype=np.int64)
        for jj in np.flatnonzero(np.isin(ts_us, c_ts)):
            where.setdefault((ids[int(idx[jj])], int(ts_us[jj])), int(jj))
        pos = np.empty(len(conflicts), dtype=np.int64)
        code = np.empty(len(conflicts), dtype=np.int16)
        stored: dict[int, float] = {}
        for n, c in enumerate(conflicts):
            j = where[(str(c.point_id), int(c.ts_us))]
            pos[n] = j
            code[n] = BEFORE_RETENTION if c.reason == "before_retention" else DUPLICATE_CONFLICT
            if c.stored_value is not None:
                stored[j] = float(c.stored_value)
        return int(res.inserted), int(res.duplicates), pos, code, stored

    def _write_quarantine(self, records: list[QuarantineRecord]) -> None:
        self.store.write_quarantine(records)


def _slice_checked(checked: CheckedBatch, lo: int, hi: int) -> CheckedBatch:
    """Rows ``lo:hi`` of a checked batch (for isolating a failing reading)."""
    b = checked.batch
    offset = np.int64(lo)
    raw: Sequence[str] | Callable[[npt.NDArray[np.int64]], Sequence[str]] | None
    if b.raw is None:
        raw = None
    elif callable(b.raw):
        whole = b.raw

        def raw(rows: npt.NDArray[np.int64]) -> Sequence[str]:
            return whole(np.asarray(rows, dtype=np.int64) + offset)

    else:
        raw = b.raw[lo:hi]
    labels = checked.labels

    def sliced_labels(rows: npt.NDArray[np.int64]) -> Sequence[str]:
        return labels(np.asarray(rows, dtype=np.int64) + offset)

    batch = ReadingBatch(
        point_keys=b.point_keys[lo:hi],
        ts_us=b.ts_us[lo:hi],
        values=b.values[lo:hi],
        source=b.source,
        pre_reasons=None if b.pre_reasons is None else b.pre_reasons[lo:hi],
        rows=None if b.rows is None else b.rows[lo:hi],
        raw=raw,
        pre_details=None
        if b.pre_details is None
        else {j - lo: d for j, d in b.pre_details.items() if lo <= j < hi},
    )
    return CheckedBatch(
        batch=batch,
        labels=sliced_labels,
        reason=checked.reason[lo:hi],
        idx=checked.idx[lo:hi],
        ts_us=checked.ts_us[lo:hi],
        values=checked.values[lo:hi],
        first_values={j - lo: v for j, v in checked.first_values.items() if lo <= j < hi},
    )
