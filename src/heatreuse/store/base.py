"""The store interface shared by both backends: URL parsing, records, the write algorithm.

One :class:`Store` interface, two backends (:mod:`heatreuse.store.sqlite`, the
embedded default, and :mod:`heatreuse.store.postgres`). Everything that decides
*what* is stored (deduplication, conflict detection, rollup maintenance,
retention horizon, migrations bookkeeping, reads into DataFrames) lives here so
that both backends behave identically; a backend only supplies the primitives
that move rows (:class:`Store` abstract methods).

Logical data model (the physical layout is in :mod:`heatreuse.store.schema`):

* a *reading* is ``(site_id, point_id, ts, value)`` with primary key
  ``(site_id, point_id, ts)``; ``ts`` is stored as integer microseconds since
  1970-01-01T00:00:00Z (``ts_us``), ``value`` as an IEEE double in the SI unit
  the point id names (``hx.supply_temp_c``). Physically ``(site_id, point_id)``
  is normalised into a ``series`` table with an integer ``series_id``, which
  keeps the raw table narrow and makes a year of one point one index range.
* rollups per 1 min, 15 min and 1 h bucket (``count, min, max, sum, first,
  last`` with the timestamps of first and last) are maintained *at ingest* in
  the same transaction as the raw insert, only from newly inserted rows. The
  hourly rollup is also kept packed per series and UTC day (``rollup_1h_day``,
  see :mod:`heatreuse.store.rollups`); hourly reads come from those blocks, so a
  year of a point is 365 row fetches instead of 8,760.

References
----------
SQLite WAL and ``synchronous``: https://www.sqlite.org/wal.html,
https://www.sqlite.org/pragma.html#pragma_synchronous. PostgreSQL binary COPY:
https://www.postgresql.org/docs/15/sql-copy.html (section "Binary Format").
"""

from __future__ import annotations

import abc
import datetime as dt
import enum
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from heatreuse.errors import StoreError, StoreNotFoundError, StoreVersionError
from heatreuse.locations import StoreURL, redact_url
from heatreuse.rawtext import MAX_RAW_PAYLOAD_BYTES, bounded_text, capped_payload
from heatreuse.store import blocks, rollups

Resolution = Literal["raw", "1min", "15min", "1h"]
Agg = Literal["mean", "min", "max", "sum", "count", "first", "last", "delta"]

#: Meta key holding the raw retention horizon [µs since epoch]; writes older are refused.
RAW_HORIZON_META_KEY = "store.raw_horizon_us"
#: Meta key prefix of each rollup's retention horizon (``store.rollup_horizon_us.1min``).
ROLLUP_HORIZON_META_PREFIX = "store.rollup_horizon_us."
#: Meta key of the hot window [d]: :meth:`Store.seal` seals whole UTC days older than it.
HOT_WINDOW_META_KEY = "store.hot_window_days"
#: Hot window when none is set [d]: late and duplicate readings of these days stay rows.
DEFAULT_HOT_WINDOW_DAYS = 2.0
#: ``site_facts`` fact: the first reading the store accepted for a site [µs since epoch].
FIRST_READING_FACT = "first_reading_us"

_STATS_COLUMNS = ("series_id", "bucket_us", "n", "vmin", "vmax", "vsum")
_STATS_INT = ("series_id", "bucket_us", "n")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_US_PER_DAY = 86_400_000_000
_EPOCH = pd.Timestamp(0, tz="UTC")


# --------------------------------------------------------------------------- URLs


# (heatreuse_home, default_store_url, StoreURL, parse_store_url live in heatreuse.locations)


# --------------------------------------------------------------------------- records


class QuarantineReason(enum.StrEnum):
    """Reason codes of the quarantine table (``quarantine.reason``)."""

    UNKNOWN_POINT = "unknown_point"
    UNPARSEABLE = "unparseable"
    WRONG_TYPE = "wrong_type"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    TS_FUTURE = "ts_future"
    TS_BEFORE_SITE = "ts_before_site"
    DUPLICATE_CONFLICT = "duplicate_conflict"
    BEFORE_RETENTION = "before_retention"
    DEVICE_EXCEPTION = "device_exception"
    STORE_REFUSED = "store_refused"
    IMPLAUSIBLE_DECODE = "implausible_decode"
    UNKNOWN_UNIT_CODE = "unknown_unit_code"
    OTHER = "other"


#: Longest text kept in the label columns of a quarantine row [characters]; longer
#: text is cut with a note (see :func:`heatreuse.rawtext.bounded_text`).
QUARANTINE_SOURCE_CHARS = 512
QUARANTINE_POINT_CHARS = 256
QUARANTINE_REASON_CHARS = 64
QUARANTINE_DETAIL_CHARS = 2000
#: Characters of a stored raw payload read back by :meth:`Store.iter_quarantine` (the
#: capped form of a payload is at most about 4 x MAX_RAW_PAYLOAD_BYTES; rows written
#: before payloads were capped are cut here) [characters].
QUARANTINE_READ_CHARS = 4 * MAX_RAW_PAYLOAD_BYTES + 256


@dataclass(frozen=True)
class Conflict:
    """A reading that was *not* stored because it contradicts what is stored.

    Attributes
    ----------
    point_id
        The point.
    ts_us
        Timestamp [µs since epoch, UTC].
    new_value
        The value that came (and was not stored).
    stored_value
        The value already stored for the same key (or earlier in the same batch);
        ``None`` for ``reason == "before_retention"``.
    reason
        ``"duplicate_conflict"`` (same key, different value) or
        ``"before_retention"`` (older than the raw retention horizon, where a
        duplicate can no longer be recognised and would corrupt the rollups).
    """

    point_id: str
    ts_us: int
    new_value: float
    stored_value: float | None
    reason: str = QuarantineReason.DUPLICATE_CONFLICT.value

    @property
    def ts(self) -> pd.Timestamp:
        """The timestamp as a tz-aware UTC :class:`pandas.Timestamp`."""
        return pd.Timestamp(self.ts_us, unit="us", tz="UTC")

    def to_quarantine(self, site_id: str, source: str) -> QuarantineRecord:
        """Make the quarantine record for this conflict (raw payload = the new value)."""
        detail = (
            f"stored value {self.stored_value!r}, new value {self.new_value!r}"
            if self.reason == QuarantineReason.DUPLICATE_CONFLICT
            else f"timestamp older than the raw retention horizon; value {self.new_value!r}"
        )
        return QuarantineRecord(
            site_id=site_id,
            source=source,
            reason=self.reason,
            raw_payload=repr(self.new_value),
            detail=detail,
            point_id=self.point_id,
            ts_us=self.ts_us,
        )


@dataclass(frozen=True)
class WriteResult:
    """Outcome of one :meth:`Store.write_readings` call.

    ``inserted + duplicates + len(conflicts)`` equals the number of readings given.

    Attributes
    ----------
    inserted
        New readings stored (and added to the rollups).
    duplicates
        Readings already stored with the identical value (or repeated identically
        within the batch): idempotent, not stored again.
    conflicts
        Readings refused: same key with a different value, or older than the raw
        retention horizon. The first value stored wins; nothing is overwritten.
    """

    inserted: int
    duplicates: int
    conflicts: tuple[Conflict, ...] = ()

    @property
    def total(self) -> int:
        """Number of readings given."""
        return self.inserted + self.duplicates + len(self.conflicts)


@dataclass(frozen=True)
class QuarantineRecord:
    """A rejected input kept with its reason (one row of the ``quarantine`` table).

    Attributes
    ----------
    site_id
        The site.
    source
        Where it came from, e.g. ``"mqtt:site/a/points"``,
        ``"modbus:10.0.0.5:502/1/40001"``, ``"file:/data/meter.csv:17"``.
    reason
        A :class:`QuarantineReason` value (any short string is accepted).
    raw_payload
        The payload as received: text or bytes. The store keeps it in the form
        of :func:`heatreuse.rawtext.capped_payload`: as it came when it is
        clean text of at most :data:`~heatreuse.rawtext.MAX_RAW_PAYLOAD_BYTES`,
        else its first bytes (escaped) after a header with the size and SHA-256
        of the whole payload. Read back, it is that stored text.
    detail
        Human-readable explanation: what was expected, what came.
    point_id
        The point, when known.
    ts_us
        The reading's timestamp [µs since epoch, UTC], when known.
    received_at_us
        When it was received [µs since epoch, UTC]; now if ``None`` when written.
    id
        Row id, set when read back.
    stored_chars
        Length of the stored ``raw_payload`` text, set when read back by
        :meth:`Store.iter_quarantine` (which reads at most
        :data:`QUARANTINE_READ_CHARS` of it) [characters].

    Every text field is made storable when written: a lone surrogate or NUL
    can never make the write fail, and labels are bounded
    (:data:`QUARANTINE_SOURCE_CHARS`, ...).
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
    stored_chars: int | None = None

    @property
    def received_at(self) -> pd.Timestamp | None:
        """``received_at_us`` as a tz-aware UTC timestamp."""
        if self.received_at_us is None:
            return None
        return pd.Timestamp(self.received_at_us, unit="us", tz="UTC")


# --------------------------------------------------------------------------- watch and respond
def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class AlertRecord:
    """One alert instance: a label set during one active run (a row of ``alerts``).

    Times are µs since epoch UTC. ``state`` is ``firing`` or ``resolved`` (pending
    alerts live in the detection state only). ``value`` is the rule's observed value
    when the alert fired, in ``annotations['value_unit']``. ``muted_by`` says which
    silence or inhibition muted it when it fired (a muted alert opens no incident).
    ``incident_id`` or ``action_id`` say where it went.
    """

    site_id: str
    fingerprint: str
    labels: Mapping[str, str]
    state: str
    active_at_us: int
    started_at_us: int | None = None
    resolved_at_us: int | None = None
    value: float | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    muted_by: str | None = None
    acked_by: str | None = None
    acked_at_us: int | None = None
    ack_comment: str | None = None
    incident_id: int | None = None
    action_id: int | None = None
    id: int | None = None

    @property
    def rule(self) -> str:
        """The rule that raised it."""
        return str(self.labels.get("rule", ""))

    @property
    def severity(self) -> str:
        """``info``, ``warning`` or ``critical``."""
        return str(self.labels.get("severity", ""))

    @property
    def equipment(self) -> str:
        """The equipment label (``site`` for site-wide alerts, ``""`` when absent)."""
        return str(self.labels.get("equipment", ""))


_ALERT_COLS = (
    "id, site_id, fingerprint, labels, state, active_at_us, started_at_us, resolved_at_us, "
    "value, annotations, muted_by, acked_by, acked_at_us, ack_comment, incident_id, action_id"
)


def _opt_int(x: Any) -> int | None:
    return None if x is None else int(x)


def _alert_from_row(r: Sequence[Any]) -> AlertRecord:
    return AlertRecord(
        id=int(r[0]),
        site_id=str(r[1]),
        fingerprint=str(r[2]),
        labels=json.loads(r[3]),
        state=str(r[4]),
        active_at_us=int(r[5]),
        started_at_us=_opt_int(r[6]),
        resolved_at_us=_opt_int(r[7]),
        value=None if r[8] is None else float(r[8]),
        annotations=json.loads(r[9]),
        muted_by=r[10],
        acked_by=r[11],
        acked_at_us=_opt_int(r[12]),
        ack_comment=r[13],
        incident_id=_opt_int(r[14]),
        action_id=_opt_int(r[15]),
    )


@dataclass(frozen=True)
class SilenceRecord:
    """A stored silence: mutes alerts matching all ``matchers`` between start and end.

    ``matchers`` are Alertmanager matcher strings (``rule=stale_feed``,
    ``equipment=~pump_.*``); ``expired_*`` are set when someone ended it early.
    """

    site_id: str
    id: str
    matchers: tuple[str, ...]
    starts_at_us: int
    ends_at_us: int
    created_by: str
    comment: str
    created_at_us: int
    expired_by: str | None = None
    expired_at_us: int | None = None
    expire_comment: str | None = None


_SILENCE_COLS = (
    "site_id, id, matchers, starts_at_us, ends_at_us, created_by, comment, created_at_us, "
    "expired_by, expired_at_us, expire_comment"
)


def _silence_from_row(r: Sequence[Any]) -> SilenceRecord:
    return SilenceRecord(
        site_id=str(r[0]),
        id=str(r[1]),
        matchers=tuple(json.loads(r[2])),
        starts_at_us=int(r[3]),
        ends_at_us=int(r[4]),
        created_by=str(r[5]),
        comment=str(r[6]),
        created_at_us=int(r[7]),
        expired_by=r[8],
        expired_at_us=_opt_int(r[9]),
        expire_comment=r[10],
    )


@dataclass(frozen=True)
class IncidentRecord:
    """Alerts of one site that fired together (a row of ``incidents``).

    ``status`` is ``firing`` while a member alert fires, else ``resolved``
    (``resolved_at_us``: when its last member resolved).
    """

    site_id: str
    opened_at_us: int
    status: str
    severity: str
    title: str
    resolved_at_us: int | None = None
    acked_by: str | None = None
    acked_at_us: int | None = None
    id: int | None = None


_INCIDENT_COLS = (
    "id, site_id, opened_at_us, resolved_at_us, status, severity, title, acked_by, acked_at_us"
)


def _incident_from_row(r: Sequence[Any]) -> IncidentRecord:
    return IncidentRecord(
        id=int(r[0]),
        site_id=str(r[1]),
        opened_at_us=int(r[2]),
        resolved_at_us=_opt_int(r[3]),
        status=str(r[4]),
        severity=str(r[5]),
        title=str(r[6]),
        acked_by=r[7],
        acked_at_us=_opt_int(r[8]),
    )


@dataclass(frozen=True)
class IncidentEvent:
    """One line of an incident's timeline.

    ``kind``: ``fired``, ``resolved``, ``notified``, ``escalated``, ``acked`` or
    ``note``; ``dedup_key`` makes recording the same event twice a no-op.
    """

    incident_id: int
    at_us: int
    kind: str
    dedup_key: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    alert_id: int | None = None
    actor: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class ActionRecord:
    """A corrective action: a rule that keeps firing on one piece of equipment.

    ``owner``: person ids from the site's RACI; ``status`` ``open`` or ``done``;
    ``alert_ids``: the alerts behind it.
    """

    site_id: str
    rule: str
    equipment: str
    owner: tuple[str, ...]
    opened_at_us: int
    due_at_us: int
    status: str
    alert_ids: tuple[int, ...]
    summary: str
    closed_at_us: int | None = None
    id: int | None = None


_ACTION_COLS = (
    "id, site_id, rule, equipment, owner, opened_at_us, due_at_us, status, alert_ids, summary, "
    "closed_at_us"
)


def _action_from_row(r: Sequence[Any]) -> ActionRecord:
    return ActionRecord(
        id=int(r[0]),
        site_id=str(r[1]),
        rule=str(r[2]),
        equipment=str(r[3]),
        owner=tuple(json.loads(r[4])),
        opened_at_us=int(r[5]),
        due_at_us=int(r[6]),
        status=str(r[7]),
        alert_ids=tuple(int(x) for x in json.loads(r[8])),
        summary=str(r[9]),
        closed_at_us=_opt_int(r[10]),
    )


@dataclass(frozen=True)
class AuditRecord:
    """Who did what, when and why (a row of the append-only ``audit`` table).

    ``action``: ``alert.ack``, ``silence.add``, ``silence.expire``,
    ``escalation.step``; ``target``: what it acted on (``alert 17``, ``silence
    3f2a...``, ``incident 4``); ``detail``: JSON-ready facts (matchers, times, people).
    """

    site_id: str
    at_us: int
    actor: str
    action: str
    target: str
    reason: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True)
class MaintenanceRecord:
    """A maintenance task done (a row of ``maintenance_records``).

    ``task_id``: an id of the site's maintenance schedule; ``done_at_us``: when the work
    was done [µs since epoch, UTC]; ``done_by``: who did it; ``note``: what was found.
    """

    site_id: str
    task_id: str
    done_at_us: int
    done_by: str
    note: str
    recorded_at_us: int
    id: int | None = None


@dataclass(frozen=True)
class DrillRecord:
    """A drill kept as evidence (a row of ``drill_records``, ``heatreuse drill --record``).

    ``verdict``: the drill's (``pass``, ``degraded``, ``fail``; ``mixed`` for a set);
    ``summary``: its one-line result; ``evidence``: JSON-ready summary of the report.
    """

    site_id: str
    drilled_at_us: int
    recorded_by: str
    verdict: str
    summary: str
    evidence: Mapping[str, Any]
    recorded_at_us: int
    id: int | None = None


@dataclass(frozen=True)
class RetentionResult:
    """Rows deleted by :meth:`Store.apply_retention`."""

    raw_deleted: int = 0
    rollups_deleted: dict[str, int] = field(default_factory=dict)
    quarantine_deleted: int = 0


@dataclass(frozen=True)
class SealResult:
    """What :meth:`Store.seal` / :meth:`Store.compact` did.

    Attributes
    ----------
    days_sealed
        (series, UTC day) blocks written.
    readings_sealed
        Readings moved from rows into blocks.
    bytes_before, bytes_after
        Size of the whole database before and after [bytes] (``compact`` only; else 0).
    readings
        Readings the store holds after (rows plus sealed).
    """

    days_sealed: int = 0
    readings_sealed: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    readings: int = 0

    @property
    def bytes_per_reading(self) -> float | None:
        """Whole database per reading held, after [bytes]; ``None`` when empty."""
        return self.bytes_after / self.readings if self.readings and self.bytes_after else None


@dataclass(frozen=True)
class Migration:
    """One schema step of a component (``"store"``, ``"ledger"``, ...).

    Attributes
    ----------
    version
        1, 2, 3, ... per component; applied in order, each once.
    description
        One line, stored in ``schema_version``.
    sqlite, postgresql
        The statements for each dialect, run in one transaction with the
        ``schema_version`` row.
    backfill
        Optional data step run after the statements, in the same transaction
        (e.g. filling a new derived table from existing rows).
    """

    version: int
    description: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]
    backfill: Callable[[SQLSession], None] | None = None


# --------------------------------------------------------------------------- helpers


def store_not_found(parsed: StoreURL, found: str) -> StoreNotFoundError:
    """The :class:`~heatreuse.errors.StoreNotFoundError` of ``parsed`` (password masked)."""
    return StoreNotFoundError(redact_url(parsed.url), found)


def now_us() -> int:
    """Current time [µs since epoch, UTC]."""
    return int(dt.datetime.now(dt.UTC).timestamp() * 1_000_000)


def to_epoch_us(when: Any, what: str = "timestamp") -> int:
    """Convert a tz-aware datetime / Timestamp / ISO string / int µs to µs since epoch.

    Naive datetimes and strings without offset are refused (house rule 4: time
    series are UTC, never guessed).
    """
    if isinstance(when, bool):
        raise StoreError(f"{what}: expected a tz-aware timestamp or int µs, got {when!r}")
    if isinstance(when, int | np.integer):
        return int(when)
    try:
        ts = pd.Timestamp(when)
    except (ValueError, TypeError) as exc:
        raise StoreError(f"{what}: expected a tz-aware timestamp, got {when!r}") from exc
    if pd.isna(ts):
        raise StoreError(f"{what}: expected a timestamp, got NaT")
    if ts.tzinfo is None:
        raise StoreError(
            f"{what}: expected a tz-aware timestamp (UTC), got naive {when!r}; "
            "add a UTC offset (e.g. '2026-01-01T00:00Z')"
        )
    return int((ts - _EPOCH) // pd.Timedelta(1, "us"))


def ts_array_us(ts: Any) -> npt.NDArray[np.int64]:
    """Convert timestamps (int µs array, datetime64 array, tz-aware DatetimeIndex) to int64 µs."""
    if isinstance(ts, pd.DatetimeIndex | pd.Series) and isinstance(ts.dtype, pd.DatetimeTZDtype):
        return np.asarray(ts.tz_convert("UTC").as_unit("us").asi8, dtype=np.int64)
    if isinstance(ts, pd.DatetimeIndex | pd.Series):
        raise StoreError("timestamps: expected tz-aware UTC timestamps, got naive ones")
    arr = np.asarray(ts)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[us]").astype(np.int64)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise StoreError("timestamps: expected integer µs since epoch, got non-integer floats")
        return arr.astype(np.int64)
    raise StoreError(
        f"timestamps: expected int µs since epoch or datetime64, got dtype {arr.dtype}"
    )


def to_sql_params(sql: str, dialect: str) -> str:
    """Translate ``?`` placeholders to the dialect (psycopg uses ``%s`` and needs ``%%``)."""
    if dialect == "postgresql":
        return sql.replace("%", "%%").replace("?", "%s")
    return sql


class SQLSession(abc.ABC):
    """A transaction on the store's connection, for components with their own tables.

    SQL uses ``?`` placeholders in both dialects (translated for PostgreSQL; a
    literal ``?`` in SQL text is therefore not supported; use a parameter).
    """

    dialect: str

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; return its rows (empty list when it returns none)."""

    @abc.abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""

    @property
    @abc.abstractmethod
    def rowcount(self) -> int:
        """Rows affected by the last :meth:`execute`."""


@dataclass
class _Batch:
    """A normalised, sorted batch (internal)."""

    point_names: list[str]
    codes: npt.NDArray[np.int64]
    ts_us: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


def _normalise_batch(point_ids: Any, ts_us: Any, values: Any) -> _Batch:
    ts = ts_array_us(ts_us)
    vals = np.asarray(values, dtype=np.float64)
    if ts.ndim != 1 or vals.ndim != 1:
        raise StoreError("write_readings: ts_us and values must be 1-D")
    n = len(ts)
    if len(vals) != n:
        raise StoreError(f"write_readings: {n} timestamps but {len(vals)} values")
    if isinstance(point_ids, str):
        names = [point_ids]
        codes = np.zeros(n, dtype=np.int64)
    else:
        if isinstance(point_ids, pd.Categorical | pd.CategoricalIndex):
            cat = pd.Categorical(point_ids)
            codes = np.asarray(cat.codes, dtype=np.int64)
            names = [str(c) for c in cat.categories]
        else:
            codes_raw, uniques = pd.factorize(np.asarray(point_ids, dtype=object), sort=False)
            codes = np.asarray(codes_raw, dtype=np.int64)
            names = list(uniques)
        if len(codes) != n:
            raise StoreError(f"write_readings: {n} timestamps but {len(codes)} point ids")
        if n and codes.min() < 0:
            raise StoreError("write_readings: a point id is missing (None/NaN)")
    for name in names:
        if not isinstance(name, str) or not name:
            raise StoreError(f"write_readings: point id {name!r} is not a non-empty string")
    bad = ~np.isfinite(vals)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise StoreError(
            f"write_readings: value of point {names[codes[i]]!r} at ts_us={int(ts[i])} is "
            f"{vals[i]!r}; expected a finite number (quarantine non-finite values as "
            "'not_finite' before writing)"
        )
    return _Batch(names, codes, ts, vals)


# --------------------------------------------------------------------------- the interface


class Store(abc.ABC):
    """The time-series and system-of-record store (one site or a fleet).

    Open with :func:`heatreuse.store.open_store`; use as a context manager or
    call :meth:`close`. Opened with ``create=True`` (writers), the store is created if
    missing and migrated; otherwise it must exist at the newest schema version
    (:meth:`require_schema`) and opening writes nothing. A store object is
    thread-safe (calls are serialised by a lock); open several for parallelism.
    It keeps no state in memory between calls: counters belong to the service.

    Timestamps go in as int µs since epoch UTC (``ts_us``), datetime64 arrays
    or tz-aware ``DatetimeIndex``; come out as tz-aware UTC.

    **Durability.** Every write method commits before it returns. On
    PostgreSQL a commit is durable (``synchronous_commit=on``). On SQLite the
    default ``synchronous=NORMAL`` in WAL mode makes a commit survive a crash
    of the process, but the last commits may be lost on power loss / OS crash
    until the WAL is synced; :meth:`flush` syncs it (cheap, call it once per
    group of writes before acknowledging, e.g. MQTT QoS 1 PUBACKs), or open
    with ``?synchronous=full`` to sync at every commit.
    """

    dialect: str = ""

    def __init__(self, parsed: StoreURL) -> None:
        self._parsed = parsed
        self._lock = threading.RLock()
        self._closed = False
        self._depth = 0  # nesting of _transaction (0: none open)
        self._session: SQLSession  # set by the backend

    # ---- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL the store was opened with."""
        return self._parsed.url

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._close()

    def flush(self) -> None:
        """Make every committed write durable on stable storage (see class docstring)."""
        with self._lock:
            self._check_open()
            self._flush()

    def lock(self, tx: SQLSession, key: str) -> None:
        """Serialise, across connections and processes, the transactions that take ``key``
        (held until ``tx`` ends): a read-then-write of a counter such as a login's.

        PostgreSQL: a transaction-scoped advisory lock; SQLite: the write transaction
        already holds the database's write lock.
        """
        with self._lock:
            self._check_open()
            self._lock_site(tx, f"__lock__:{key}")

    def limit_cache(self, cache_mib: float) -> None:
        """Cap the connection's own page cache [MiB] (a reader of many connections).

        SQLite keeps up to 64 MiB of pages per connection (:data:`~heatreuse.store.sqlite.PRAGMAS`);
        a pool of readers over a memory-mapped file needs far less each. PostgreSQL:
        nothing to do (the server's shared buffers are shared).
        """
        with self._lock:
            self._check_open()
            self._limit_cache(cache_mib)

    def _limit_cache(self, cache_mib: float) -> None:
        return None

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"store {self.url!r}: used after close()")

    # ---- backend primitives ------------------------------------------------------

    @abc.abstractmethod
    def _close(self) -> None: ...

    @abc.abstractmethod
    def _flush(self) -> None: ...

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[SQLSession]:
        """Begin, yield the session, commit or roll back; nested calls join the open one."""
        if self._depth:
            self._depth += 1
            try:
                yield self._session
            finally:
                self._depth -= 1
            return
        with self._begin(write) as session:
            self._depth = 1
            try:
                yield session
            finally:
                self._depth = 0

    @abc.abstractmethod
    def _begin(self, write: bool) -> Any:
        """Context manager of the outermost transaction: begin, yield the
        :class:`SQLSession`, commit on success, roll back on an exception."""

    @abc.abstractmethod
    def _lock_site(self, tx: SQLSession, site_id: str) -> None:
        """Serialise writers of one site for the rest of the transaction."""

    @abc.abstractmethod
    def _fetch_existing(
        self,
        tx: SQLSession,
        series_ids: npt.NDArray[np.int64],
        lo_us: npt.NDArray[np.int64],
        hi_us: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Stored readings with ``lo <= ts <= hi`` per series, sorted by (series, ts)."""

    @abc.abstractmethod
    def _insert_readings(
        self,
        tx: SQLSession,
        sid: npt.NDArray[np.int64],
        ts: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> None:
        """Insert rows known to be new (plain insert: a clash is a bug and raises)."""

    @abc.abstractmethod
    def _replace_rollup(
        self, tx: SQLSession, table: str, rows: rollups.RollupRows, replaced: rollups.RollupRows
    ) -> None:
        """Delete the ``replaced`` keys, then bulk-insert ``rows`` (plain insert)."""

    @abc.abstractmethod
    def _fetch_pairs(
        self, tx: SQLSession, sql: str, params: tuple[int, ...]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Run a query returning (BIGINT, DOUBLE) rows (``?`` int params) as two arrays.

        The query has no ORDER BY; the result is sorted by the first column.
        """

    @abc.abstractmethod
    def _fetch_rollup(
        self,
        tx: SQLSession,
        table: str,
        series_ids: Sequence[int],
        lo_us: Sequence[int],
        hi_us: Sequence[int],
    ) -> rollups.RollupRows:
        """Rollup rows with ``lo[k] <= bucket < hi[k]`` of each series ``series_ids[k]``.

        Sorted by (series, bucket).
        """

    # ---- generic SQL access (for components with their own tables) ---------------

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[SQLSession]:
        """Run statements in one transaction (committed on exit, rolled back on error).

        For components that keep their tables in the store (the ledger). SQL
        uses ``?`` placeholders; check :attr:`dialect` for dialect-specific SQL.
        Create tables through :meth:`apply_migrations`.
        """
        with self._lock:
            self._check_open()
            with self._transaction(write) as tx:
                yield tx

    def apply_migrations(self, component: str, migrations: Sequence[Migration]) -> int:
        """Apply a component's pending migrations (idempotent); return the version now.

        Each migration runs with its ``schema_version`` row in one transaction.
        Raises :class:`~heatreuse.errors.StoreError` if the database is at a
        version newer than the newest migration given (a newer heatreuse wrote it).
        """
        versions = [m.version for m in migrations]
        if versions != list(range(1, len(versions) + 1)):
            raise StoreError(
                f"migrations of {component!r}: expected versions 1..{len(versions)} in order, "
                f"got {versions}"
            )
        with self.transaction() as tx:
            self._lock_site(tx, f"__migrations__:{component}")
            current = self._schema_version(tx, component)
            if current > len(migrations):
                raise StoreError(
                    f"store {self.url!r}: component {component!r} is at schema version "
                    f"{current}, newer than this heatreuse knows ({len(migrations)}); upgrade "
                    "heatreuse"
                )
            for m in migrations[current:]:
                for stmt in m.sqlite if self.dialect == "sqlite" else m.postgresql:
                    tx.execute(stmt)
                if m.backfill is not None:
                    m.backfill(tx)
                tx.execute(
                    "INSERT INTO schema_version (component, version, description, applied_at_us)"
                    " VALUES (?, ?, ?, ?)",
                    (component, m.version, m.description, now_us()),
                )
            return max(current, len(migrations))

    def require_schema(self, component: str, migrations: Sequence[Migration]) -> int:
        """Check, without writing, that a component is at the newest schema version.

        What a store opened for use (not creation) does instead of migrating: a
        migration is a write, and one run by a reader while an older heatreuse still
        writes the store would leave tables that the older writer does not maintain.

        Returns
        -------
        int
            The version (``len(migrations)``).

        Raises
        ------
        heatreuse.errors.StoreVersionError
            The component is at an older version (the message says to run ``heatreuse
            store init URL``, which migrates) or at a newer one (upgrade heatreuse).
        """
        newest = len(migrations)
        with self.transaction(write=False) as tx:
            current = self._schema_version(tx, component)
        shown = redact_url(self.url)
        if current > newest:
            raise StoreVersionError(
                f"store {shown!r}: component {component!r} is at schema version {current}, "
                f"newer than this heatreuse knows ({newest}); upgrade heatreuse",
                component,
                current,
                newest,
            )
        if current < newest:
            import shlex

            raise StoreVersionError(
                f"store {shown!r}: component {component!r} is at schema version {current}; "
                f"this heatreuse reads version {newest}. Commands that only read do not "
                f"migrate: run `heatreuse store init {shlex.quote(shown)}` to migrate it "
                "(stop heatreuse writers of an older version first), or start a writer "
                "(`heatreuse serve`, `heatreuse ingest`), which migrates on open",
                component,
                current,
                newest,
            )
        return current

    def schema_version(self, component: str = "store") -> int:
        """Schema version of a component (0 when none applied)."""
        with self.transaction(write=False) as tx:
            return self._schema_version(tx, component)

    @staticmethod
    def _schema_version(tx: SQLSession, component: str) -> int:
        rows = tx.execute(
            "SELECT MAX(version) FROM schema_version WHERE component = ?", (component,)
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    # ---- meta key-value -----------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """Read a value of the ``meta`` key-value table (e.g. ``ledger.watermark_us``)."""
        with self.transaction(write=False) as tx:
            rows = tx.execute("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else default

    def set_meta(self, key: str, value: str) -> None:
        """Write a value of the ``meta`` table (insert or replace); committed on return."""
        with self.transaction() as tx:
            self._set_meta(tx, key, value)

    @staticmethod
    def _set_meta(tx: SQLSession, key: str, value: str) -> None:
        tx.execute(
            "INSERT INTO meta (key, value, updated_at_us) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "updated_at_us = excluded.updated_at_us",
            (key, str(value), now_us()),
        )

    # ---- series ---------------------------------------------------------------------

    def _series_ids(
        self, tx: SQLSession, site_id: str, point_ids: Sequence[str], create: bool
    ) -> dict[str, int]:
        """Map point ids of a site to series ids, creating missing ones if ``create``."""
        found: dict[str, int] = {}
        uniq = list(dict.fromkeys(point_ids))
        chunk = 500
        for i in range(0, len(uniq), chunk):
            part = uniq[i : i + chunk]
            marks = ",".join("?" * len(part))
            rows = tx.execute(
                "SELECT point_id, series_id FROM series WHERE site_id = ? "
                f"AND point_id IN ({marks})",
                (site_id, *part),
            )
            found.update({str(p): int(s) for p, s in rows})
        missing = [p for p in uniq if p not in found]
        if missing and create:
            tx.executemany(
                "INSERT INTO series (site_id, point_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(site_id, p) for p in missing],
            )
            return self._series_ids(tx, site_id, point_ids, create=False)
        return found

    def list_sites(self) -> list[str]:
        """Sites that have at least one series, sorted."""
        with self.transaction(write=False) as tx:
            rows = tx.execute("SELECT DISTINCT site_id FROM series ORDER BY site_id")
        return [str(r[0]) for r in rows]

    def list_points(self, site_id: str) -> list[str]:
        """Point ids of a site that were ever written, sorted."""
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT point_id FROM series WHERE site_id = ? ORDER BY point_id", (site_id,)
            )
        return [str(r[0]) for r in rows]

    def summary(self) -> dict[str, Any]:
        """What the store holds: URL (without password), schema version, sites, series,
        rows per table, first/last raw timestamp (ISO UTC), the retention horizons and
        each site's recorded first reading (when its monitoring started)."""
        tables = (
            "readings",
            *(t for t, _ in rollups.ROLLUP_TABLES.values()),
            rollups.HOUR_BLOCK_TABLE,
            blocks.SEALED_TABLE,
            "quarantine",
        )
        with self.transaction(write=False) as tx:
            sids = [int(r[0]) for r in tx.execute("SELECT series_id FROM series")]
            first: list[int] = []
            last: list[int] = []
            for sid in sids:  # per series: index lookups, not a scan of the raw table
                bounds = self._raw_bounds(tx, sid)
                if bounds is not None:
                    first.append(bounds[0])
                    last.append(bounds[1])
            rows = {t: int(tx.execute(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in tables}
            horizon = tx.execute("SELECT value FROM meta WHERE key = ?", (RAW_HORIZON_META_KEY,))
            version = self._schema_version(tx, "store")

        def iso(us: int | None) -> str | None:
            if us is None:
                return None
            return pd.Timestamp(us, unit="us", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")

        sites = self.list_sites()
        started = {site: self.first_reading(site) for site in sites}
        return {
            "url": redact_url(self.url),
            "schema_version": version,
            "sites": sites,
            "series": len(sids),
            "rows": rows,
            "raw_first": iso(min(first)) if first else None,
            "raw_last": iso(max(last)) if last else None,
            "raw_horizon": iso(int(horizon[0][0])) if horizon else None,
            "retention_horizons": {
                k: iso(int(v.value // 1000)) for k, v in sorted(self.retention_horizons().items())
            },
            "first_reading": {
                site: None if t is None else iso(int(t.value // 1000))
                for site, t in started.items()
            },
        }

    def extent(self, site_id: str, point_id: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """First and last raw timestamp of a point (UTC), or ``None`` without raw data."""
        with self.transaction(write=False) as tx:
            ids = self._series_ids(tx, site_id, [point_id], create=False)
            if point_id not in ids:
                return None
            bounds = self._raw_bounds(tx, ids[point_id])
        if bounds is None:
            return None
        return (
            pd.Timestamp(bounds[0], unit="us", tz="UTC"),
            pd.Timestamp(bounds[1], unit="us", tz="UTC"),
        )

    @staticmethod
    def _raw_bounds(tx: SQLSession, series_id: int) -> tuple[int, int] | None:
        """First and last raw timestamp of a series over rows and sealed blocks [µs]."""
        found: list[tuple[int, int]] = []
        for sql in (
            "SELECT MIN(ts_us), MAX(ts_us) FROM readings WHERE series_id = ?",
            f"SELECT MIN(first_ts_us), MAX(last_ts_us) FROM {blocks.SEALED_TABLE} "
            "WHERE series_id = ?",
        ):
            got = tx.execute(sql, (int(series_id),))
            if got and got[0][0] is not None:
                found.append((int(got[0][0]), int(got[0][1])))
        if not found:
            return None
        return min(f[0] for f in found), max(f[1] for f in found)

    # ---- site facts -------------------------------------------------------------------

    @staticmethod
    def _record_first_reading(tx: SQLSession, site_id: str, ts_us: int) -> None:
        """Move the site's first-reading fact earlier when ``ts_us`` precedes it."""
        rows = tx.execute(
            "SELECT value_us FROM site_facts WHERE site_id = ? AND fact = ?",
            (site_id, FIRST_READING_FACT),
        )
        if not rows:
            tx.execute(
                "INSERT INTO site_facts (site_id, fact, value_us, updated_at_us) "
                "VALUES (?, ?, ?, ?)",
                (site_id, FIRST_READING_FACT, ts_us, now_us()),
            )
        elif ts_us < int(rows[0][0]):
            tx.execute(
                "UPDATE site_facts SET value_us = ?, updated_at_us = ? "
                "WHERE site_id = ? AND fact = ?",
                (ts_us, now_us(), site_id, FIRST_READING_FACT),
            )

    def first_reading(self, site_id: str) -> pd.Timestamp | None:
        """The first reading the store ever accepted for a site (UTC), or ``None``.

        A recorded fact (``site_facts``), written with the readings and only ever
        moved earlier: retention deleting the data does not move it, so it says
        when monitoring of the site started, not what the store holds today.
        """
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT value_us FROM site_facts WHERE site_id = ? AND fact = ?",
                (site_id, FIRST_READING_FACT),
            )
        if not rows:
            return None
        return pd.Timestamp(int(rows[0][0]), unit="us", tz="UTC")

    def last_reading(self, site_id: str) -> pd.Timestamp | None:
        """The newest reading the store holds for a site (UTC), or ``None``.

        The newest raw timestamp over the site's series (one index lookup per series);
        where retention deleted a series' raw data, the ``last_ts`` of its newest
        hourly rollup bucket. ``None`` when the store holds nothing of the site.
        """
        best: int | None = None
        hour_table = rollups.ROLLUP_TABLES["1h"][0]
        with self.transaction(write=False) as tx:
            sids = [
                int(r[0])
                for r in tx.execute("SELECT series_id FROM series WHERE site_id = ?", (site_id,))
            ]
            for sid in sids:
                bounds = self._raw_bounds(tx, sid)
                hi = [(bounds[1],)] if bounds is not None else []
                if not hi:
                    hi = tx.execute(
                        f"SELECT MAX(last_ts_us) FROM {hour_table} WHERE series_id = ?", (sid,)
                    )
                if hi and hi[0][0] is not None:
                    best = int(hi[0][0]) if best is None else max(best, int(hi[0][0]))
        return None if best is None else pd.Timestamp(best, unit="us", tz="UTC")

    def retention_horizons(self) -> dict[str, pd.Timestamp]:
        """Where retention has cut each table (``raw``, ``1min``, ...), as UTC instants.

        Data before a horizon was deleted (or never kept); tables retention never
        touched are absent.
        """
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT key, value FROM meta WHERE key = ? OR key LIKE ?",
                (RAW_HORIZON_META_KEY, ROLLUP_HORIZON_META_PREFIX + "%"),
            )
        out: dict[str, pd.Timestamp] = {}
        for key, value in rows:
            name = "raw" if key == RAW_HORIZON_META_KEY else key[len(ROLLUP_HORIZON_META_PREFIX) :]
            out[str(name)] = pd.Timestamp(int(value), unit="us", tz="UTC")
        return out

    def has_data_in(
        self, site_id: str, table: Literal["raw", "1min"], start: Any, end: Any
    ) -> bool:
        """True when the site has raw readings (or 1-min rollups) with ``start <= ts < end``."""
        lo, hi = to_epoch_us(start, "start"), to_epoch_us(end, "end")
        if hi <= lo:
            return False
        with self.transaction(write=False) as tx:
            sids = [
                int(r[0])
                for r in tx.execute("SELECT series_id FROM series WHERE site_id = ?", (site_id,))
            ]
            sql = (
                "SELECT 1 FROM readings WHERE series_id = ? AND ts_us >= ? AND ts_us < ? LIMIT 1"
                if table == "raw"
                else f"SELECT 1 FROM {rollups.ROLLUP_TABLES['1min'][0]} WHERE series_id = ? "
                "AND bucket_us >= ? AND bucket_us < ? LIMIT 1"
            )
            if any(tx.execute(sql, (sid, lo, hi)) for sid in sids):
                return True
            if table == "1min":
                horizon = self._rollup_horizon(tx, "1min")
                lo = lo if horizon is None else max(lo, horizon)
            for sid in sids:
                for _, blob in zip(*self._fetch_sealed(tx, sid, lo, hi), strict=True):
                    ts, _ = blocks.decode_block(blob)
                    if table == "1min":
                        ts = rollups.bucket_start_us(ts, rollups.US_PER_MIN)
                    if bool(np.any((ts >= lo) & (ts < hi))):
                        return True
            return False

    def earliest(self, site_id: str, table: Literal["raw", "1min"]) -> pd.Timestamp | None:
        """The site's earliest raw reading (or 1-min bucket) the store holds, rows and
        sealed blocks alike (UTC), or ``None``."""
        found: list[int] = []
        with self.transaction(write=False) as tx:
            sids = [
                int(r[0])
                for r in tx.execute("SELECT series_id FROM series WHERE site_id = ?", (site_id,))
            ]
            horizon = self._rollup_horizon(tx, "1min") if table == "1min" else None
            for sid in sids:
                if table == "raw":
                    bounds = self._raw_bounds(tx, sid)
                    if bounds is not None:
                        found.append(bounds[0])
                    continue
                got = tx.execute(
                    f"SELECT MIN(bucket_us) FROM {rollups.ROLLUP_TABLES['1min'][0]} "
                    "WHERE series_id = ?",
                    (sid,),
                )
                if got and got[0][0] is not None:
                    found.append(int(got[0][0]))
                lo = -(2**62) if horizon is None else horizon
                first = tx.execute(
                    f"SELECT data FROM {blocks.SEALED_TABLE} WHERE series_id = ? "
                    "AND last_ts_us >= ? ORDER BY day_us LIMIT 1",
                    (sid, lo),
                )
                if first:
                    ts, _ = blocks.decode_block(bytes(first[0][0]))
                    bucket = rollups.bucket_start_us(ts, rollups.US_PER_MIN)
                    bucket = bucket[bucket >= lo]
                    if len(bucket):
                        found.append(int(bucket[0]))
        return pd.Timestamp(min(found), unit="us", tz="UTC") if found else None

    def count_readings(
        self,
        site_id: str,
        point_id: str | None = None,
        start: Any = None,
        end: Any = None,
    ) -> int:
        """Number of raw readings of a site (or one point) with ``start <= ts < end``."""
        lo = to_epoch_us(start, "start") if start is not None else -(2**62)
        hi = to_epoch_us(end, "end") if end is not None else 2**62
        with self.transaction(write=False) as tx:
            if point_id is None:
                rows = tx.execute(
                    "SELECT COUNT(*) FROM readings r JOIN series s ON s.series_id = r.series_id "
                    "WHERE s.site_id = ? AND r.ts_us >= ? AND r.ts_us < ?",
                    (site_id, lo, hi),
                )
                sids = [
                    int(r[0])
                    for r in tx.execute(
                        "SELECT series_id FROM series WHERE site_id = ?", (site_id,)
                    )
                ]
            else:
                ids = self._series_ids(tx, site_id, [point_id], create=False)
                if point_id not in ids:
                    return 0
                rows = tx.execute(
                    "SELECT COUNT(*) FROM readings WHERE series_id = ? AND ts_us >= ? "
                    "AND ts_us < ?",
                    (ids[point_id], lo, hi),
                )
                sids = [ids[point_id]]
            total = int(rows[0][0])
            for sid in sids:
                # whole blocks inside the range count by their n; the (at most two)
                # blocks at its ends are decoded
                got = tx.execute(
                    f"SELECT SUM(n) FROM {blocks.SEALED_TABLE} WHERE series_id = ? "
                    "AND first_ts_us >= ? AND last_ts_us < ?",
                    (sid, lo, hi),
                )
                total += int(got[0][0] or 0) if got else 0
                ends = tx.execute(
                    f"SELECT data FROM {blocks.SEALED_TABLE} WHERE series_id = ? "
                    "AND last_ts_us >= ? AND first_ts_us < ? AND NOT "
                    "(first_ts_us >= ? AND last_ts_us < ?)",
                    (sid, lo, hi, lo, hi),
                )
                for (blob,) in ends:
                    ts, _ = blocks.decode_block(bytes(blob))
                    total += int(np.count_nonzero((ts >= lo) & (ts < hi)))
        return total

    # ---- writes ---------------------------------------------------------------------

    def write_readings(
        self,
        site_id: str,
        point_ids: str | Sequence[str] | npt.ArrayLike,
        ts_us: Any,
        values: npt.ArrayLike,
        *,
        quarantine_source: str | None = None,
    ) -> WriteResult:
        """Write a columnar batch of readings of one site; committed on return.

        Parameters
        ----------
        site_id
            The site.
        point_ids
            One point id for the whole batch, or one per reading (list, object
            array or ``pandas.Categorical``; categorical is fastest).
        ts_us
            Timestamps [µs since 1970-01-01 UTC] as ints, or datetime64 /
            tz-aware ``DatetimeIndex``.
        values
            Values [the SI unit the point id names]; must be finite (validation
            quarantines NaN/inf upstream; a non-finite value raises
            :class:`~heatreuse.errors.StoreError` and nothing is written).
        quarantine_source
            If given, conflicts are also written to the quarantine table (reason
            ``duplicate_conflict`` / ``before_retention``) *in the same
            transaction*, with this source, so that none is lost on a crash.

        Returns
        -------
        WriteResult
            ``inserted`` new readings, ``duplicates`` (same key, same value:
            idempotent), ``conflicts`` (same key with a different value, first
            value wins and is kept; or older than the raw retention horizon).

        Notes
        -----
        One transaction: writers of the same site are serialised, stored keys in
        the batch's time range per point are read, the batch is classified in
        numpy, new rows are bulk-inserted, and the 1 min / 15 min / 1 h rollups
        of the new rows only are aggregated in numpy and merged with the stored
        rows of the same buckets (count, sum, min, max, and first/last by
        timestamp, so late and out-of-order data merge correctly). "Durable"
        means committed; see the class docstring for what survives power loss.
        """
        batch = _normalise_batch(point_ids, ts_us, values)
        n = len(batch.ts_us)
        if n == 0:
            return WriteResult(0, 0, ())
        with self._lock:
            self._check_open()
            with self._transaction(write=True) as tx:
                self._lock_site(tx, site_id)
                result = self._write_locked(tx, site_id, batch, quarantine_source)
        return result

    def _write_locked(
        self, tx: SQLSession, site_id: str, b: _Batch, quarantine_source: str | None
    ) -> WriteResult:
        ids = self._series_ids(tx, site_id, b.point_names, create=True)
        sid_of_code = np.asarray([ids[p] for p in b.point_names], dtype=np.int64)
        name_of_sid = {ids[p]: p for p in b.point_names}
        sid = sid_of_code[b.codes]
        ts, vals = b.ts_us, b.values
        # sort by (series, ts); lexsort is stable, so the first occurrence in the batch wins
        if len(b.point_names) == 1:
            order = None if bool(np.all(ts[1:] > ts[:-1])) else np.argsort(ts, kind="stable")
        else:
            order = np.lexsort((ts, sid))
        if order is not None:
            sid, ts, vals = sid[order], ts[order], vals[order]

        n = len(ts)
        conflicts: list[Conflict] = []

        # older than the raw retention horizon: refused (duplicates undetectable there)
        too_old = np.zeros(n, dtype=bool)
        horizon_rows = tx.execute("SELECT value FROM meta WHERE key = ?", (RAW_HORIZON_META_KEY,))
        if horizon_rows:
            too_old = ts < int(horizon_rows[0][0])
            for i in np.flatnonzero(too_old).tolist():
                conflicts.append(
                    Conflict(
                        name_of_sid[int(sid[i])],
                        int(ts[i]),
                        float(vals[i]),
                        None,
                        QuarantineReason.BEFORE_RETENTION.value,
                    )
                )

        # runs of equal keys (repeats within the batch are adjacent after the sort)
        new_key = np.ones(n, dtype=bool)
        new_key[1:] = (sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])
        run_id = np.cumsum(new_key) - 1
        run_start = np.flatnonzero(new_key)
        ref = vals[run_start]  # the value that wins per key: stored, else first in batch
        run_stored = np.zeros(len(run_start), dtype=bool)

        # against stored rows: per series, the batch's [min, max] range
        brk = np.flatnonzero(sid[1:] != sid[:-1]) + 1
        starts = np.r_[0, brk]
        ends = np.r_[brk, n]
        ex_sid, ex_ts, ex_val = self._fetch_existing(tx, sid[starts], ts[starts], ts[ends - 1])
        # sealed days in the batch's range are compared against their blocks
        sealed_days: set[tuple[int, int]] = set()
        for s0, e0 in zip(starts.tolist(), ends.tolist(), strict=True):
            s_id = int(sid[s0])
            days, blobs = self._fetch_sealed(tx, s_id, int(ts[s0]), int(ts[e0 - 1]) + 1)
            if not blobs:
                continue
            sealed_days.update((s_id, d) for d in days)
            st, sv, _ = blocks.decode_blocks(blobs)
            ex_sid = np.concatenate((ex_sid, np.full(len(st), s_id, np.int64)))
            ex_ts = np.concatenate((ex_ts, st))
            ex_val = np.concatenate((ex_val, sv))
        if len(ex_sid):
            for s0, e0 in zip(starts.tolist(), ends.tolist(), strict=True):
                sel = ex_sid == sid[s0]
                if not sel.any():
                    continue
                e_ts, e_val = ex_ts[sel], ex_val[sel]
                b_ts = ts[s0:e0]
                pos = np.searchsorted(b_ts, e_ts)  # leftmost: the start of the key's run
                ok = pos < len(b_ts)
                hit = np.zeros(len(e_ts), dtype=bool)
                hit[ok] = b_ts[pos[ok]] == e_ts[ok]
                runs = run_id[s0 + pos[hit]]
                run_stored[runs] = True
                ref[runs] = e_val[hit]

        is_new = new_key & ~run_stored[run_id] & ~too_old
        rest = ~is_new & ~too_old
        ref_row = ref[run_id]
        same_value = vals == ref_row
        duplicates = int(np.count_nonzero(rest & same_value))
        for i in np.flatnonzero(rest & ~same_value).tolist():
            conflicts.append(
                Conflict(name_of_sid[int(sid[i])], int(ts[i]), float(vals[i]), float(ref_row[i]))
            )
        keep = is_new

        if not keep.all():
            sid, ts, vals = sid[keep], ts[keep], vals[keep]
        inserted = len(ts)
        reseal: dict[int, list[int]] = {}
        if inserted and sealed_days:
            # a late reading for a sealed day: reopen the day, write, seal it again
            day_of = blocks.day_start_us(ts)
            for key in set(zip(sid.tolist(), day_of.tolist(), strict=True)) & sealed_days:
                reseal.setdefault(key[0], []).append(key[1])
            for s_id, days_of in reseal.items():
                self._unseal_days(tx, s_id, days_of)
        if inserted:
            self._insert_readings(tx, sid, ts, vals)
            self._record_first_reading(tx, site_id, int(ts.min()))
            for table, width_us in rollups.ROLLUP_TABLES.values():
                agg = rollups.aggregate(sid, ts, vals, width_us)
                # per series: stored rows of the bucket range the batch touches
                rb = np.flatnonzero(agg.series_id[1:] != agg.series_id[:-1]) + 1
                r0 = np.r_[0, rb]
                r1 = np.r_[rb, len(agg)] - 1
                old = self._fetch_rollup(
                    tx,
                    table,
                    agg.series_id[r0].tolist(),
                    agg.bucket_us[r0].tolist(),
                    (agg.bucket_us[r1] + 1).tolist(),
                )
                merged, replaced = rollups.merge(agg, old)
                self._replace_rollup(tx, table, merged, replaced)
                if width_us == rollups.US_PER_HOUR:
                    self._write_hour_blocks(tx, merged)
        for s_id, days_of in reseal.items():
            self._seal_days(tx, s_id, days_of)
        if quarantine_source is not None and conflicts:
            received = now_us()
            self._insert_quarantine(
                tx,
                [
                    _replace_received(c.to_quarantine(site_id, quarantine_source), received)
                    for c in conflicts
                ],
            )
        return WriteResult(inserted, duplicates, tuple(conflicts))

    @staticmethod
    def _fetch_hour_blocks(
        tx: SQLSession, series_ids: Sequence[int], lo_block_us: int, hi_block_us: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[bytes]]:
        """Packed hourly blocks with ``lo <= block_us < hi`` of each series, sorted."""
        sids: list[int] = []
        blocks: list[int] = []
        blobs: list[bytes] = []
        for s in sorted(series_ids):
            rows = tx.execute(
                f"SELECT block_us, data FROM {rollups.HOUR_BLOCK_TABLE} WHERE series_id = ? "
                "AND block_us >= ? AND block_us < ? ORDER BY block_us",
                (int(s), int(lo_block_us), int(hi_block_us)),
            )
            sids.extend([int(s)] * len(rows))
            blocks.extend([r[0] for r in rows])
            blobs.extend([r[1] for r in rows])
        return np.asarray(sids, dtype=np.int64), np.asarray(blocks, dtype=np.int64), blobs

    def _write_hour_blocks(self, tx: SQLSession, rows: rollups.RollupRows) -> None:
        """Fold merged hourly rows into their packed day blocks (same transaction)."""
        if not len(rows):
            return
        sids, blocks = rollups.block_keys(rows)
        stored: dict[tuple[int, int], bytes] = {}
        brk = np.flatnonzero(sids[1:] != sids[:-1]) + 1
        for s0, e0 in zip(np.r_[0, brk].tolist(), np.r_[brk, len(sids)].tolist(), strict=True):
            got = self._fetch_hour_blocks(
                tx, [int(sids[s0])], int(blocks[s0]), int(blocks[e0 - 1]) + 1
            )
            stored.update(
                zip(zip(got[0].tolist(), got[1].tolist(), strict=True), got[2], strict=True)
            )
        packed = rollups.pack_hour_blocks(rows, stored)
        tx.executemany(rollups.UPSERT_HOUR_BLOCK, list(zip(*packed, strict=True)))

    def _read_hour_rows(
        self, tx: SQLSession, series_ids: Sequence[int], lo_us: int, hi_us: int
    ) -> rollups.RollupRows:
        """Hourly rollup rows of the series with ``lo_us <= bucket < hi_us``, from the blocks."""
        lo_block = int(
            rollups.bucket_start_us(np.asarray([lo_us], np.int64), rollups.HOUR_BLOCK_US)[0]
        )
        sids, blocks, blobs = self._fetch_hour_blocks(tx, series_ids, lo_block, hi_us)
        return rollups.unpack_hour_blocks(sids, blocks, blobs, lo_us, hi_us)

    def write_frame(
        self, site_id: str, frame: pd.DataFrame, *, quarantine_source: str | None = None
    ) -> WriteResult:
        """Write a wide DataFrame (tz-aware UTC index, one column per point id).

        NaN cells are skipped (absent readings); see :meth:`write_readings`.
        """
        if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
            raise StoreError(
                "write_frame: expected a tz-aware UTC DatetimeIndex, got "
                f"{type(frame.index).__name__} (tz={getattr(frame.index, 'tz', None)})"
            )
        ts = ts_array_us(frame.index)
        parts_p: list[npt.NDArray[np.int64]] = []
        parts_t: list[npt.NDArray[np.int64]] = []
        parts_v: list[npt.NDArray[np.float64]] = []
        names = [str(c) for c in frame.columns]
        for k, col in enumerate(frame.columns):
            v = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
            ok = ~np.isnan(v)
            parts_p.append(np.full(int(ok.sum()), k, dtype=np.int64))
            parts_t.append(ts[ok])
            parts_v.append(v[ok])
        if not names:
            return WriteResult(0, 0, ())
        codes = pd.Categorical.from_codes(np.concatenate(parts_p), categories=pd.Index(names))
        return self.write_readings(
            site_id,
            codes,
            np.concatenate(parts_t),
            np.concatenate(parts_v),
            quarantine_source=quarantine_source,
        )

    # ---- quarantine -----------------------------------------------------------------

    def _insert_quarantine(self, tx: SQLSession, records: Sequence[QuarantineRecord]) -> None:
        tx.executemany(
            "INSERT INTO quarantine (received_at_us, site_id, source, point_id, ts_us, "
            "raw_payload, reason, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.received_at_us,
                    r.site_id,
                    bounded_text(str(r.source), QUARANTINE_SOURCE_CHARS),
                    None
                    if r.point_id is None
                    else bounded_text(str(r.point_id), QUARANTINE_POINT_CHARS),
                    r.ts_us,
                    capped_payload(r.raw_payload),
                    bounded_text(str(r.reason), QUARANTINE_REASON_CHARS),
                    bounded_text(str(r.detail), QUARANTINE_DETAIL_CHARS),
                )
                for r in records
            ],
        )

    def write_quarantine(self, records: Sequence[QuarantineRecord]) -> int:
        """Store rejected inputs; committed on return. Returns the number written.

        Raw payloads are capped and every text field is made storable (see
        :class:`QuarantineRecord`), so a hostile payload cannot make this fail.
        """
        if not records:
            return 0
        received = now_us()
        recs = [_replace_received(r, received) for r in records]
        with self.transaction() as tx:
            self._insert_quarantine(tx, recs)
        return len(recs)

    def list_quarantine(
        self,
        site_id: str,
        reason: str | None = None,
        since: Any = None,
        limit: int = 1000,
    ) -> list[QuarantineRecord]:
        """Quarantined inputs of a site, newest first (optionally one reason, since a time).

        The rows of :meth:`iter_quarantine` as a list (``raw_payload`` read up to
        :data:`QUARANTINE_READ_CHARS`).
        """
        return list(self.iter_quarantine(site_id, reason=reason, since=since, limit=limit))

    def iter_quarantine(
        self,
        site_id: str,
        reason: str | None = None,
        since: Any = None,
        limit: int | None = None,
        offset: int = 0,
        page_rows: int = 500,
    ) -> Iterator[QuarantineRecord]:
        """Stream quarantined inputs of a site, newest first, in pages.

        Parameters
        ----------
        site_id
            The site.
        reason
            Only this reason code.
        since
            Only rows received at or after this time.
        limit
            At most this many rows (None: all).
        offset
            Skip this many rows first (the newest ones).
        page_rows
            Rows fetched per query; memory stays bounded by one page whatever
            the number of rows (each text column is read at most
            :data:`QUARANTINE_READ_CHARS` long, so rows stored before payloads
            were capped cannot blow it up either).

        Notes
        -----
        Pages follow each other by key (``received_at_us``, ``id``), each in its
        own short read transaction: the writers are not held up while a caller
        consumes the rows, and rows quarantined meanwhile (newer) do not shift
        the pages.
        """
        if limit is not None and limit < 0:
            raise StoreError(f"iter_quarantine: limit must be >= 0, got {limit}")
        if offset < 0:
            raise StoreError(f"iter_quarantine: offset must be >= 0, got {offset}")
        n = QUARANTINE_READ_CHARS
        base = (
            "SELECT id, received_at_us, site_id, substr(source, 1, ?), "
            "substr(point_id, 1, ?), ts_us, substr(raw_payload, 1, ?), "
            "substr(reason, 1, ?), substr(detail, 1, ?), length(raw_payload) "
            "FROM quarantine WHERE site_id = ?"
        )
        params: list[Any] = [n, n, n, n, n, site_id]
        if reason is not None:
            base += " AND reason = ?"
            params.append(str(reason))
        if since is not None:
            base += " AND received_at_us >= ?"
            params.append(to_epoch_us(since, "since"))
        left = limit
        key: tuple[int, int] | None = None
        skip = int(offset)
        while left is None or left > 0:
            size = page_rows if left is None else min(page_rows, left)
            sql = base
            page_params = list(params)
            if key is not None:
                sql += " AND (received_at_us < ? OR (received_at_us = ? AND id < ?))"
                page_params += [key[0], key[0], key[1]]
            sql += " ORDER BY received_at_us DESC, id DESC LIMIT ? OFFSET ?"
            page_params += [int(size), skip]
            with self.transaction(write=False) as tx:
                rows = tx.execute(sql, page_params)
            skip = 0
            for r in rows:
                yield QuarantineRecord(
                    id=int(r[0]),
                    received_at_us=int(r[1]),
                    site_id=str(r[2]),
                    source=str(r[3]),
                    point_id=None if r[4] is None else str(r[4]),
                    ts_us=None if r[5] is None else int(r[5]),
                    raw_payload=str(r[6]),
                    reason=str(r[7]),
                    detail=str(r[8]),
                    stored_chars=int(r[9]),
                )
            if len(rows) < size:
                return
            key = (int(rows[-1][1]), int(rows[-1][0]))
            if left is not None:
                left -= len(rows)

    def count_quarantine(self, site_id: str, since: Any = None) -> dict[str, int]:
        """Quarantined inputs of a site per reason code."""
        sql = "SELECT reason, COUNT(*) FROM quarantine WHERE site_id = ?"
        params: list[Any] = [site_id]
        if since is not None:
            sql += " AND received_at_us >= ?"
            params.append(to_epoch_us(since, "since"))
        sql += " GROUP BY reason ORDER BY reason"
        with self.transaction(write=False) as tx:
            rows = tx.execute(sql, params)
        return {str(r[0]): int(r[1]) for r in rows}

    # ---- watch and respond: alerts, silences, incidents, actions, audit ------------------
    # (the logic that decides what to write is in heatreuse.services.monitoring; these
    # methods move rows and join a transaction the caller opened with ``transaction()``)

    def upsert_alert(self, rec: AlertRecord) -> int:
        """Insert an alert instance or update it (same site, fingerprint and ``active_at``).

        State, times and annotations are replaced; acknowledgement is kept; ``value``,
        ``muted_by``, ``incident_id`` and ``action_id`` are kept unless given. Returns
        its id.
        """
        labels, notes = _json(dict(rec.labels)), _json(dict(rec.annotations))
        with self.transaction() as tx:
            rows = tx.execute(
                "UPDATE alerts SET state = ?, started_at_us = ?, resolved_at_us = ?, "
                "value = COALESCE(?, value), "
                "annotations = ?, muted_by = COALESCE(?, muted_by), "
                "incident_id = COALESCE(?, incident_id), action_id = COALESCE(?, action_id) "
                "WHERE site_id = ? AND fingerprint = ? AND active_at_us = ? RETURNING id",
                (
                    rec.state,
                    rec.started_at_us,
                    rec.resolved_at_us,
                    rec.value,
                    notes,
                    rec.muted_by,
                    rec.incident_id,
                    rec.action_id,
                    rec.site_id,
                    rec.fingerprint,
                    rec.active_at_us,
                ),
            )
            if not rows:
                rows = tx.execute(
                    "INSERT INTO alerts (site_id, fingerprint, labels, rule, severity, "
                    "equipment, state, active_at_us, started_at_us, resolved_at_us, value, "
                    "annotations, muted_by, incident_id, action_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        rec.site_id,
                        rec.fingerprint,
                        labels,
                        rec.rule,
                        rec.severity,
                        rec.equipment,
                        rec.state,
                        rec.active_at_us,
                        rec.started_at_us,
                        rec.resolved_at_us,
                        rec.value,
                        notes,
                        rec.muted_by,
                        rec.incident_id,
                        rec.action_id,
                    ),
                )
        return int(rows[0][0])

    def set_alert_links(
        self, site_id: str, alert_id: int, incident_id: int | None, action_id: int | None
    ) -> None:
        """Record where an alert went: its incident or its corrective action."""
        with self.transaction() as tx:
            tx.execute(
                "UPDATE alerts SET incident_id = ?, action_id = ? WHERE site_id = ? AND id = ?",
                (incident_id, action_id, site_id, int(alert_id)),
            )

    def list_alerts(
        self,
        site_id: str,
        *,
        state: str | None = None,
        start: Any = None,
        end: Any = None,
        rule: str | None = None,
        equipment: str | None = None,
        incident_id: int | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[AlertRecord]:
        """Alert instances of a site, oldest first.

        ``state``: ``firing`` or ``resolved`` (None: both); ``start``/``end``: those
        active during ``[start, end)`` (fired before ``end``, not resolved before
        ``start``); ``rule``, ``equipment``, ``incident_id``, ``ids``: exact filters.
        """
        sql = f"SELECT {_ALERT_COLS} FROM alerts WHERE site_id = ?"
        params: list[Any] = [site_id]
        if state is not None:
            sql += " AND state = ?"
            params.append(state)
        if end is not None:
            sql += " AND COALESCE(started_at_us, active_at_us) < ?"
            params.append(to_epoch_us(end, "end"))
        if start is not None:
            sql += " AND (resolved_at_us IS NULL OR resolved_at_us >= ?)"
            params.append(to_epoch_us(start, "start"))
        if rule is not None:
            sql += " AND rule = ?"
            params.append(rule)
        if equipment is not None:
            sql += " AND equipment = ?"
            params.append(equipment)
        if incident_id is not None:
            sql += " AND incident_id = ?"
            params.append(int(incident_id))
        if ids is not None:
            if not ids:
                return []
            sql += f" AND id IN ({','.join('?' * len(ids))})"
            params += [int(i) for i in ids]
        sql += " ORDER BY COALESCE(started_at_us, active_at_us), id"
        with self.transaction(write=False) as tx:
            rows = tx.execute(sql, params)
        return [_alert_from_row(r) for r in rows]

    def get_alert(self, site_id: str, alert_id: int) -> AlertRecord | None:
        """One alert instance by id, or ``None``."""
        found = self.list_alerts(site_id, ids=[int(alert_id)])
        return found[0] if found else None

    def ack_alert(self, site_id: str, alert_id: int, by: str, at_us: int, comment: str) -> None:
        """Record who acknowledged an alert, when and why."""
        with self.transaction() as tx:
            tx.execute(
                "UPDATE alerts SET acked_by = ?, acked_at_us = ?, ack_comment = ? "
                "WHERE site_id = ? AND id = ?",
                (by, int(at_us), comment, site_id, int(alert_id)),
            )

    def add_silence(self, rec: SilenceRecord) -> None:
        """Store a new silence (its id must be new for the site)."""
        with self.transaction() as tx:
            tx.execute(
                f"INSERT INTO silences ({_SILENCE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rec.site_id,
                    rec.id,
                    _json(list(rec.matchers)),
                    rec.starts_at_us,
                    rec.ends_at_us,
                    rec.created_by,
                    rec.comment,
                    rec.created_at_us,
                    rec.expired_by,
                    rec.expired_at_us,
                    rec.expire_comment,
                ),
            )

    def list_silences(self, site_id: str) -> list[SilenceRecord]:
        """Every silence of a site (expired ones too), by start time."""
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {_SILENCE_COLS} FROM silences WHERE site_id = ? "
                "ORDER BY starts_at_us, created_at_us, id",
                (site_id,),
            )
        return [_silence_from_row(r) for r in rows]

    def expire_silence(
        self, site_id: str, silence_id: str, by: str, at_us: int, comment: str
    ) -> None:
        """End a silence at ``at_us`` (its end moves there if later) and record who and why."""
        with self.transaction() as tx:
            tx.execute(
                "UPDATE silences SET expired_by = ?, expired_at_us = ?, expire_comment = ?, "
                "ends_at_us = CASE WHEN ends_at_us > ? THEN ? ELSE ends_at_us END "
                "WHERE site_id = ? AND id = ?",
                (by, int(at_us), comment, int(at_us), int(at_us), site_id, silence_id),
            )

    def insert_incident(self, rec: IncidentRecord) -> int:
        """Open an incident (or find the one opened at the same instant); returns its id."""
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO incidents (site_id, opened_at_us, resolved_at_us, status, severity, "
                "title, acked_by, acked_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (site_id, opened_at_us) DO NOTHING",
                (
                    rec.site_id,
                    rec.opened_at_us,
                    rec.resolved_at_us,
                    rec.status,
                    rec.severity,
                    rec.title,
                    rec.acked_by,
                    rec.acked_at_us,
                ),
            )
            rows = tx.execute(
                "SELECT id FROM incidents WHERE site_id = ? AND opened_at_us = ?",
                (rec.site_id, rec.opened_at_us),
            )
        return int(rows[0][0])

    def update_incident(self, rec: IncidentRecord) -> None:
        """Write an incident's status, severity, resolution and acknowledgement."""
        if rec.id is None:
            raise StoreError("update_incident: the record has no id")
        with self.transaction() as tx:
            tx.execute(
                "UPDATE incidents SET resolved_at_us = ?, status = ?, severity = ?, title = ?, "
                "acked_by = ?, acked_at_us = ? WHERE site_id = ? AND id = ?",
                (
                    rec.resolved_at_us,
                    rec.status,
                    rec.severity,
                    rec.title,
                    rec.acked_by,
                    rec.acked_at_us,
                    rec.site_id,
                    rec.id,
                ),
            )

    def list_incidents(
        self,
        site_id: str,
        *,
        start: Any = None,
        end: Any = None,
        status: str | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[IncidentRecord]:
        """Incidents of a site, oldest first (``start``/``end``: open during that range)."""
        sql = f"SELECT {_INCIDENT_COLS} FROM incidents WHERE site_id = ?"
        params: list[Any] = [site_id]
        if end is not None:
            sql += " AND opened_at_us < ?"
            params.append(to_epoch_us(end, "end"))
        if start is not None:
            sql += " AND (resolved_at_us IS NULL OR resolved_at_us >= ?)"
            params.append(to_epoch_us(start, "start"))
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        if ids is not None:
            if not ids:
                return []
            sql += f" AND id IN ({','.join('?' * len(ids))})"
            params += [int(i) for i in ids]
        sql += " ORDER BY opened_at_us, id"
        with self.transaction(write=False) as tx:
            rows = tx.execute(sql, params)
        return [_incident_from_row(r) for r in rows]

    def get_incident(self, site_id: str, incident_id: int) -> IncidentRecord | None:
        """One incident by id, or ``None``."""
        found = self.list_incidents(site_id, ids=[int(incident_id)])
        return found[0] if found else None

    def latest_incident(self, site_id: str) -> IncidentRecord | None:
        """The most recently opened incident of a site, or ``None``."""
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {_INCIDENT_COLS} FROM incidents WHERE site_id = ? "
                "ORDER BY opened_at_us DESC, id DESC LIMIT 1",
                (site_id,),
            )
        return _incident_from_row(rows[0]) if rows else None

    def add_incident_event(self, ev: IncidentEvent) -> bool:
        """Add a timeline event; False when one with the same ``dedup_key`` exists."""
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO incident_events (incident_id, at_us, kind, alert_id, actor, detail, "
                "dedup_key) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (incident_id, dedup_key) DO NOTHING",
                (
                    int(ev.incident_id),
                    int(ev.at_us),
                    ev.kind,
                    ev.alert_id,
                    ev.actor,
                    _json(dict(ev.detail)),
                    ev.dedup_key,
                ),
            )
            return tx.rowcount > 0

    def list_incident_events(self, incident_id: int) -> list[IncidentEvent]:
        """An incident's timeline in time order."""
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT id, incident_id, at_us, kind, alert_id, actor, detail, dedup_key "
                "FROM incident_events WHERE incident_id = ? ORDER BY at_us, id",
                (int(incident_id),),
            )
        return [
            IncidentEvent(
                id=int(r[0]),
                incident_id=int(r[1]),
                at_us=int(r[2]),
                kind=str(r[3]),
                alert_id=_opt_int(r[4]),
                actor=r[5],
                detail=json.loads(r[6]),
                dedup_key=str(r[7]),
            )
            for r in rows
        ]

    def insert_action(self, rec: ActionRecord) -> int:
        """Open a corrective action (or find the identical one); returns its id."""
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO actions (site_id, rule, equipment, owner, opened_at_us, due_at_us, "
                "status, alert_ids, summary, closed_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (site_id, rule, equipment, opened_at_us) DO NOTHING",
                (
                    rec.site_id,
                    rec.rule,
                    rec.equipment,
                    _json(list(rec.owner)),
                    rec.opened_at_us,
                    rec.due_at_us,
                    rec.status,
                    _json(list(rec.alert_ids)),
                    rec.summary,
                    rec.closed_at_us,
                ),
            )
            rows = tx.execute(
                "SELECT id FROM actions WHERE site_id = ? AND rule = ? AND equipment = ? "
                "AND opened_at_us = ?",
                (rec.site_id, rec.rule, rec.equipment, rec.opened_at_us),
            )
        return int(rows[0][0])

    def update_action(self, rec: ActionRecord) -> None:
        """Write an action's status, linked alerts, due date and closing time."""
        if rec.id is None:
            raise StoreError("update_action: the record has no id")
        with self.transaction() as tx:
            tx.execute(
                "UPDATE actions SET status = ?, alert_ids = ?, due_at_us = ?, closed_at_us = ?, "
                "owner = ?, summary = ? WHERE site_id = ? AND id = ?",
                (
                    rec.status,
                    _json(list(rec.alert_ids)),
                    rec.due_at_us,
                    rec.closed_at_us,
                    _json(list(rec.owner)),
                    rec.summary,
                    rec.site_id,
                    rec.id,
                ),
            )

    def list_actions(
        self,
        site_id: str,
        *,
        status: str | None = None,
        rule: str | None = None,
        equipment: str | None = None,
        start: Any = None,
        end: Any = None,
    ) -> list[ActionRecord]:
        """Corrective actions of a site, oldest first (``start``/``end``: open during it)."""
        sql = f"SELECT {_ACTION_COLS} FROM actions WHERE site_id = ?"
        params: list[Any] = [site_id]
        for col, val in (("status", status), ("rule", rule), ("equipment", equipment)):
            if val is not None:
                sql += f" AND {col} = ?"
                params.append(val)
        if end is not None:
            sql += " AND opened_at_us < ?"
            params.append(to_epoch_us(end, "end"))
        if start is not None:
            sql += " AND (closed_at_us IS NULL OR closed_at_us >= ?)"
            params.append(to_epoch_us(start, "start"))
        sql += " ORDER BY opened_at_us, id"
        with self.transaction(write=False) as tx:
            rows = tx.execute(sql, params)
        return [_action_from_row(r) for r in rows]

    def get_detect_state(self, site_id: str) -> tuple[int, str] | None:
        """``(last evaluated minute [µs], active alerts JSON)`` of a site, or ``None``."""
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT last_minute_us, active FROM detect_state WHERE site_id = ?", (site_id,)
            )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def claim_detect_state(self, site_id: str, expected_last_minute_us: int | None) -> None:
        """Serialise detection of a site for the rest of the caller's transaction and check
        that nobody evaluated it since it read the state (compare-and-set).

        Raises
        ------
        heatreuse.errors.StoreError
            The stored last evaluated minute is not ``expected_last_minute_us`` (another
            detection of the site ran concurrently); the caller's transaction rolls back.
        """
        with self.transaction() as tx:
            self._lock_site(tx, f"__detect__:{site_id}")
            rows = tx.execute(
                "SELECT last_minute_us FROM detect_state WHERE site_id = ?", (site_id,)
            )
            got = int(rows[0][0]) if rows else None
            if got != expected_last_minute_us:

                def iso(us: int | None) -> str:
                    return (
                        "none" if us is None else pd.Timestamp(us, unit="us", tz="UTC").isoformat()
                    )

                raise StoreError(
                    f"detect {site_id!r}: another detection of this site ran at the same time "
                    f"(last evaluated minute {iso(got)}, expected {iso(expected_last_minute_us)}); "
                    "nothing of this block was recorded, run detect again"
                )

    def set_detect_state(self, site_id: str, last_minute_us: int, active_json: str) -> None:
        """Record the last evaluated minute and the active alerts (insert or replace)."""
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO detect_state (site_id, last_minute_us, active, updated_at_us) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (site_id) DO UPDATE SET "
                "last_minute_us = excluded.last_minute_us, active = excluded.active, "
                "updated_at_us = excluded.updated_at_us",
                (site_id, int(last_minute_us), active_json, now_us()),
            )

    def append_audit(self, rec: AuditRecord) -> int:
        """Append an audit row (the table refuses updates and deletes); returns its id."""
        with self.transaction() as tx:
            rows = tx.execute(
                "INSERT INTO audit (site_id, at_us, actor, action, target, reason, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    rec.site_id,
                    int(rec.at_us),
                    rec.actor,
                    rec.action,
                    rec.target,
                    rec.reason,
                    _json(dict(rec.detail)),
                ),
            )
        return int(rows[0][0])

    def list_audit(self, site_id: str, after_id: int = 0) -> list[AuditRecord]:
        """Audit rows of a site with ``id > after_id``, in id order."""
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT id, site_id, at_us, actor, action, target, reason, detail FROM audit "
                "WHERE site_id = ? AND id > ? ORDER BY id",
                (site_id, int(after_id)),
            )
        return [
            AuditRecord(
                id=int(r[0]),
                site_id=str(r[1]),
                at_us=int(r[2]),
                actor=str(r[3]),
                action=str(r[4]),
                target=str(r[5]),
                reason=str(r[6]),
                detail=json.loads(r[7]),
            )
            for r in rows
        ]

    # ---- pilot to routine: maintenance and drill records ---------------------------------

    def add_maintenance_record(self, rec: MaintenanceRecord) -> int:
        """Insert a maintenance record; returns its id."""
        with self.transaction() as tx:
            rows = tx.execute(
                "INSERT INTO maintenance_records (site_id, task_id, done_at_us, done_by, note, "
                "recorded_at_us) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    rec.site_id,
                    rec.task_id,
                    int(rec.done_at_us),
                    rec.done_by,
                    rec.note,
                    int(rec.recorded_at_us),
                ),
            )
        return int(rows[0][0])

    def list_maintenance_records(
        self, site_id: str, task_id: str | None = None
    ) -> list[MaintenanceRecord]:
        """Maintenance records of a site (optionally one task), oldest work first."""
        sql = (
            "SELECT id, site_id, task_id, done_at_us, done_by, note, recorded_at_us "
            "FROM maintenance_records WHERE site_id = ?"
        )
        params: list[Any] = [site_id]
        if task_id is not None:
            sql += " AND task_id = ?"
            params.append(task_id)
        with self.transaction(write=False) as tx:
            rows = tx.execute(sql + " ORDER BY done_at_us, id", params)
        return [
            MaintenanceRecord(
                id=int(r[0]),
                site_id=str(r[1]),
                task_id=str(r[2]),
                done_at_us=int(r[3]),
                done_by=str(r[4]),
                note=str(r[5]),
                recorded_at_us=int(r[6]),
            )
            for r in rows
        ]

    def add_drill_record(self, rec: DrillRecord) -> int:
        """Insert a drill record; returns its id."""
        with self.transaction() as tx:
            rows = tx.execute(
                "INSERT INTO drill_records (site_id, drilled_at_us, recorded_by, verdict, "
                "summary, evidence, recorded_at_us) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    rec.site_id,
                    int(rec.drilled_at_us),
                    rec.recorded_by,
                    rec.verdict,
                    rec.summary,
                    _json(dict(rec.evidence)),
                    int(rec.recorded_at_us),
                ),
            )
        return int(rows[0][0])

    def list_drill_records(self, site_id: str) -> list[DrillRecord]:
        """Drill records of a site, oldest drill first."""
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT id, site_id, drilled_at_us, recorded_by, verdict, summary, evidence, "
                "recorded_at_us FROM drill_records WHERE site_id = ? ORDER BY drilled_at_us, id",
                (site_id,),
            )
        return [
            DrillRecord(
                id=int(r[0]),
                site_id=str(r[1]),
                drilled_at_us=int(r[2]),
                recorded_by=str(r[3]),
                verdict=str(r[4]),
                summary=str(r[5]),
                evidence=json.loads(r[6]),
                recorded_at_us=int(r[7]),
            )
            for r in rows
        ]

    # ---- reads ------------------------------------------------------------------------

    def read_series(
        self,
        site_id: str,
        point_ids: str | Sequence[str],
        start: Any,
        end: Any,
        resolution: Resolution = "raw",
        agg: Agg = "mean",
        columns: Mapping[str, str] | None = None,
        max_rows: int | None = None,
    ) -> pd.DataFrame:
        """Read points as a wide DataFrame with a tz-aware UTC index, ``start <= ts < end``.

        Parameters
        ----------
        site_id, point_ids
            The site and one or more point ids; one column per point, named by
            the point id (which carries the unit, ``hx.supply_temp_c``) unless
            renamed through ``columns``.
        start, end
            Tz-aware timestamps, ISO strings with offset, or int µs.
        resolution
            ``"raw"`` or a rollup: ``"1min"``, ``"15min"``, ``"1h"``; the index
            is the bucket start for rollups.
        agg
            For rollups: ``mean`` (sum/count), ``min``, ``max``, ``sum``,
            ``count``, ``first``, ``last`` or ``delta`` (counter increase, see
            :meth:`read_rollup`). Ignored for raw data.
        columns
            Optional renaming ``{point_id: column_name}``.
        max_rows
            Raw only: each point's live readings stop after its first ``max_rows`` in
            time (an index lookup finds where), so a page of a dense range never
            fetches the whole range. The frame may hold more rows (other points,
            sealed history); its first ``max_rows`` rows of each point are exact.

        Returns
        -------
        pandas.DataFrame
            Index ``ts`` (UTC); rows where no point has data are absent; a point
            without data in the range is an all-NaN column.
        """
        pids = [point_ids] if isinstance(point_ids, str) else list(point_ids)
        if max_rows is not None and max_rows < 1:
            raise StoreError(f"read_series: max_rows {max_rows}; expected a positive count")
        lo, hi = to_epoch_us(start, "start"), to_epoch_us(end, "end")
        if resolution not in ("raw", *rollups.ROLLUP_TABLES):
            raise StoreError(
                f"read_series: resolution {resolution!r}; expected 'raw', "
                + ", ".join(repr(r) for r in rollups.ROLLUP_TABLES)
            )
        if agg not in rollups.AGGS:
            raise StoreError(f"read_series: agg {agg!r}; expected one of {list(rollups.AGGS)}")
        series: dict[str, pd.Series] = {}
        if resolution == "raw":
            with self.transaction(write=False) as tx:
                ids = self._series_ids(tx, site_id, pids, create=False)
                for p in pids:
                    if p in ids:
                        hi_p = hi
                        if max_rows is not None:  # the (max_rows+1)-th reading, if any
                            past = tx.execute(
                                "SELECT ts_us FROM readings WHERE series_id = ? AND ts_us >= ? "
                                "AND ts_us < ? ORDER BY ts_us LIMIT 1 OFFSET ?",
                                (ids[p], lo, hi, int(max_rows)),
                            )
                            if past:
                                hi_p = int(past[0][0])
                        t, v = self._fetch_pairs(
                            tx,
                            "SELECT ts_us, value FROM readings WHERE series_id = ? "
                            "AND ts_us >= ? AND ts_us < ?",
                            (ids[p], lo, hi_p),
                        )
                        st, sv = self._sealed_readings(tx, ids[p], lo, hi)
                        t, v = _merge_pairs(t, v, st, sv)
                    else:
                        t, v = np.empty(0, np.int64), np.empty(0, np.float64)
                    series[p] = pd.Series(v, index=_utc_index(t), name=p)
        elif agg == "delta":
            long = self.read_rollup(site_id, pids, start=lo, end=hi, resolution=resolution)
            for p in pids:
                part = long[long["point_id"] == p]
                series[p] = pd.Series(
                    part["delta"].to_numpy(dtype=np.float64), index=part.index, name=p
                )
        elif resolution == rollups.HOUR_BLOCK_RESOLUTION:
            with self.transaction(write=False) as tx:
                ids = self._series_ids(tx, site_id, pids, create=False)
                rows = self._read_hour_rows(tx, [ids[p] for p in pids if p in ids], lo, hi)
            values = rollups.agg_values(rows, agg)
            index = _utc_index(rows.bucket_us)
            for p in pids:
                # rows are sorted by series: each point is one slice
                sid = ids.get(p, -1)
                a = int(np.searchsorted(rows.series_id, sid, side="left"))
                b = int(np.searchsorted(rows.series_id, sid, side="right"))
                series[p] = pd.Series(values[a:b], index=index[a:b], name=p)
        else:
            table = rollups.ROLLUP_TABLES[resolution][0]
            expr = rollups.AGG_SQL[agg]
            with self.transaction(write=False) as tx:
                ids = self._series_ids(tx, site_id, pids, create=False)
                for p in pids:
                    if p in ids:
                        t, v = self._fetch_pairs(
                            tx,
                            f"SELECT bucket_us, {expr} FROM {table} WHERE series_id = ? "
                            "AND bucket_us >= ? AND bucket_us < ?",
                            (ids[p], lo, hi),
                        )
                        derived = self._sealed_rollups(tx, resolution, [ids[p]], lo, hi)
                        t, v = _merge_pairs(
                            t, v, derived.bucket_us, rollups.agg_values(derived, agg)
                        )
                    else:
                        t, v = np.empty(0, np.int64), np.empty(0, np.float64)
                    series[p] = pd.Series(v, index=_utc_index(t), name=p)
        frame = _combine(series, pids)
        if columns:
            frame = frame.rename(columns=dict(columns))
        return frame

    def read_rollup(
        self,
        site_id: str,
        point_ids: str | Sequence[str],
        start: Any,
        end: Any,
        resolution: Resolution = "1h",
        counter_rollover: Mapping[str, float] | None = None,
    ) -> pd.DataFrame:
        """Read rollup statistics in long form, buckets with ``start <= bucket < end``.

        ``counter_rollover`` maps point ids of counters to the register value at
        which they wrap to 0 [the point's unit] (see
        :attr:`heatreuse.site.points.Point.counter_rollover`).

        Returns
        -------
        pandas.DataFrame
            Index ``bucket_start`` (tz-aware UTC), sorted by point then time;
            columns ``point_id``, ``count``, ``min``, ``max``, ``sum``, ``mean``
            (= sum/count), ``first``, ``last``, ``first_ts``, ``last_ts`` (UTC),
            ``delta``, ``delta_since`` (UTC), ``counter_wrapped`` and
            ``counter_break``. Values are in the point's unit.

        Notes
        -----
        ``delta`` is meaningful for cumulative counters (meter registers): the
        increase over the bucket, ``last - last of the previous non-empty
        bucket`` (looked up before ``start`` too), or ``last - first`` when no
        earlier bucket exists. ``delta_since`` is the timestamp the delta counts
        from (the previous reading), so a delta that spans a data gap is visible.
        A fall of the counter is one register wrap when ``counter_rollover``
        explains it (``counter_wrapped``, the wrap is added back) and otherwise a
        reset, exchange or glitch (``counter_break``: ``delta`` is NaN); see
        :mod:`heatreuse.store.rollups`.
        """
        if resolution not in rollups.ROLLUP_TABLES:
            raise StoreError(
                f"read_rollup: resolution {resolution!r}; expected one of "
                f"{list(rollups.ROLLUP_TABLES)}"
            )
        pids = [point_ids] if isinstance(point_ids, str) else list(point_ids)
        lo, hi = to_epoch_us(start, "start"), to_epoch_us(end, "end")
        table = rollups.ROLLUP_TABLES[resolution][0]
        with self.transaction(write=False) as tx:
            ids = self._series_ids(tx, site_id, pids, create=False)
            sids = [ids[p] for p in pids if p in ids]
            if not sids:
                rows = rollups.empty_rows()
            elif resolution == rollups.HOUR_BLOCK_RESOLUTION:
                rows = self._read_hour_rows(tx, sids, lo, hi)
            else:
                rows = _concat_rows(
                    [
                        self._fetch_rollup(tx, table, sids, [lo] * len(sids), [hi] * len(sids)),
                        self._sealed_rollups(tx, resolution, sids, lo, hi),
                    ]
                )
            prev: dict[int, tuple[int, float]] = {}
            for s in sids:
                r = tx.execute(
                    f"SELECT last_ts_us, last_value FROM {table} WHERE series_id = ? "
                    "AND bucket_us < ? ORDER BY bucket_us DESC LIMIT 1",
                    (s, lo),
                )
                if r:
                    prev[s] = (int(r[0][0]), float(r[0][1]))
                sealed_prev = self._sealed_prev(tx, resolution, s, lo)
                if sealed_prev is not None and (s not in prev or sealed_prev[0] > prev[s][0]):
                    prev[s] = sealed_prev
        name_of = {ids[p]: p for p in pids if p in ids}
        wrap = {ids[p]: float(r) for p, r in (counter_rollover or {}).items() if p in ids}
        return rollups.to_frame(rows, name_of, prev, wrap)

    def _fetch_minute_stats(
        self, tx: SQLSession, series_ids: Sequence[int], lo_us: int, hi_us: int
    ) -> dict[str, npt.NDArray[Any]]:
        """``series_id, bucket_us, n, vmin, vmax, vsum`` of the 1-minute rollup rows with
        ``lo <= bucket < hi``, sorted by (series, bucket). A backend may override this
        with a query of just these columns."""
        table = rollups.ROLLUP_TABLES["1min"][0]
        k = len(series_ids)
        rows = self._fetch_rollup(tx, table, list(series_ids), [lo_us] * k, [hi_us] * k)
        return {c: getattr(rows, c) for c in _STATS_COLUMNS}

    def read_minute_stats(
        self, site_id: str, point_ids: str | Sequence[str], start: Any, end: Any
    ) -> pd.DataFrame:
        """1-minute count, mean, min and max per point with ``start <= bucket < end``.

        What the fault rules read (:meth:`heatreuse.monitoring.data.MinuteData.from_rollup`
        takes it): the same values as :meth:`read_rollup` at ``"1min"`` without first,
        last and counter deltas, which the rules do not use, so a week of a site's points
        is read several times faster.

        Returns
        -------
        pandas.DataFrame
            Index ``bucket_start`` (tz-aware UTC), sorted by point then time; columns
            ``point_id``, ``count``, ``mean`` (= sum/count), ``min``, ``max`` [the
            point's unit].
        """
        pids = [point_ids] if isinstance(point_ids, str) else list(point_ids)
        lo, hi = to_epoch_us(start, "start"), to_epoch_us(end, "end")
        with self.transaction(write=False) as tx:
            ids = self._series_ids(tx, site_id, pids, create=False)
            sids = sorted({ids[p] for p in pids if p in ids})
            if sids:
                cols = self._fetch_minute_stats(tx, sids, lo, hi)
                derived = self._sealed_rollups(tx, "1min", sids, lo, hi)
                if len(derived):
                    both = {
                        c: np.concatenate((np.asarray(cols[c]), getattr(derived, c)))
                        for c in _STATS_COLUMNS
                    }
                    order = np.lexsort((both["bucket_us"], both["series_id"]))
                    cols = {c: a[order] for c, a in both.items()}
            else:
                cols = {
                    c: np.empty(0, np.int64 if c in _STATS_INT else np.float64)
                    for c in _STATS_COLUMNS
                }
        name_of = {ids[p]: p for p in pids if p in ids}
        codes = np.searchsorted(np.asarray(sids, dtype=np.int64), cols["series_id"])
        names = pd.Categorical.from_codes(
            codes, dtype=pd.CategoricalDtype(categories=[name_of[s] for s in sids])
        )
        n = np.asarray(cols["n"], dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.asarray(cols["vsum"], dtype=np.float64) / n
        return pd.DataFrame(
            {
                "point_id": names,
                "count": n,
                "mean": mean,
                "min": np.asarray(cols["vmin"], dtype=np.float64),
                "max": np.asarray(cols["vmax"], dtype=np.float64),
            },
            index=_utc_index(np.asarray(cols["bucket_us"], dtype=np.int64), "bucket_start"),
        )

    # ---- sealed history ----------------------------------------------------------------

    @staticmethod
    def _fetch_sealed(
        tx: SQLSession, series_id: int, lo_us: int, hi_us: int
    ) -> tuple[list[int], list[bytes]]:
        """Sealed blocks of a series whose day overlaps ``[lo_us, hi_us)``, by day."""
        rows = tx.execute(
            f"SELECT day_us, data FROM {blocks.SEALED_TABLE} WHERE series_id = ? "
            "AND day_us > ? AND day_us < ? ORDER BY day_us",
            (int(series_id), int(lo_us) - blocks.DAY_US, int(hi_us)),
        )
        return [int(r[0]) for r in rows], [bytes(r[1]) for r in rows]

    def _sealed_readings(
        self, tx: SQLSession, series_id: int, lo_us: int, hi_us: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Sealed readings of a series with ``lo_us <= ts < hi_us``, sorted by time."""
        _, blobs = self._fetch_sealed(tx, series_id, lo_us, hi_us)
        ts, vals, _ = blocks.decode_blocks(blobs)
        if len(ts) and (ts[0] < lo_us or ts[-1] >= hi_us):
            keep = (ts >= lo_us) & (ts < hi_us)
            ts, vals = ts[keep], vals[keep]
        return ts, vals

    @staticmethod
    def _rollup_horizon(tx: SQLSession, resolution: str) -> int | None:
        rows = tx.execute(
            "SELECT value FROM meta WHERE key = ?", (ROLLUP_HORIZON_META_PREFIX + resolution,)
        )
        return int(rows[0][0]) if rows else None

    def _sealed_rollups(
        self, tx: SQLSession, resolution: str, series_ids: Sequence[int], lo_us: int, hi_us: int
    ) -> rollups.RollupRows:
        """Rollup rows derived from sealed blocks, buckets in ``[lo_us, hi_us)`` at or
        after the resolution's retention horizon, sorted by (series, bucket)."""
        width = rollups.ROLLUP_TABLES[resolution][1]
        horizon = self._rollup_horizon(tx, resolution)
        lo = lo_us if horizon is None else max(lo_us, horizon)
        parts: list[rollups.RollupRows] = []
        for sid in sorted(int(s) for s in series_ids):
            _, blobs = self._fetch_sealed(tx, sid, lo, hi_us)
            if not blobs:
                continue
            ts, vals, _ = blocks.decode_blocks(blobs)
            rows = rollups.aggregate(np.full(len(ts), sid, np.int64), ts, vals, width)
            keep = (rows.bucket_us >= lo) & (rows.bucket_us < hi_us)
            parts.append(rows if bool(keep.all()) else rollups.take(rows, keep))
        return _concat_rows(parts)

    def _sealed_prev(
        self, tx: SQLSession, resolution: str, series_id: int, lo_us: int
    ) -> tuple[int, float] | None:
        """``(last_ts_us, last_value)`` of the latest bucket before ``lo_us`` that sealed
        blocks hold (at or after the resolution's retention horizon), or None."""
        width = rollups.ROLLUP_TABLES[resolution][1]
        horizon = self._rollup_horizon(tx, resolution)
        got = tx.execute(
            f"SELECT day_us, data FROM {blocks.SEALED_TABLE} WHERE series_id = ? "
            "AND day_us < ? ORDER BY day_us DESC LIMIT 2",
            (int(series_id), int(lo_us)),
        )
        for _, data in got:
            ts, vals = blocks.decode_block(bytes(data))
            bucket = rollups.bucket_start_us(ts, width)
            ok = bucket < lo_us
            if horizon is not None:
                ok &= bucket >= horizon
            idx = np.flatnonzero(ok)
            if len(idx):
                return int(ts[idx[-1]]), float(vals[idx[-1]])
        return None

    def _seal_days(self, tx: SQLSession, series_id: int, days: Sequence[int]) -> tuple[int, int]:
        """Move the rows of whole UTC days of a series into sealed blocks (same transaction).

        Drops the days' rows of ``readings`` and of the 1 min / 15 min / 1 h rollup
        tables (reads derive them from the block; ``rollup_1h_day`` is kept). Returns
        (blocks written, readings sealed).
        """
        if not days:
            return 0, 0
        day_list = sorted({int(d) for d in days})
        t, v = self._fetch_pairs(
            tx,
            "SELECT ts_us, value FROM readings WHERE series_id = ? AND ts_us >= ? AND ts_us < ?",
            (int(series_id), day_list[0], day_list[-1] + blocks.DAY_US),
        )
        if not len(t):
            return 0, 0
        day_of = blocks.day_start_us(t)
        wanted = np.isin(day_of, np.asarray(day_list, dtype=np.int64))
        t, v, day_of = t[wanted], v[wanted], day_of[wanted]
        if not len(t):
            return 0, 0
        brk = np.flatnonzero(day_of[1:] != day_of[:-1]) + 1
        starts = np.r_[0, brk]
        ends = np.r_[brk, len(t)]
        rows: list[tuple[Any, ...]] = []
        ranges: list[tuple[int, int, int]] = []
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            day = int(day_of[a])
            blob = blocks.encode_block(t[a:b], v[a:b])
            rows.append((int(series_id), day, b - a, int(t[a]), int(t[b - 1]), blob))
            ranges.append((int(series_id), day, day + blocks.DAY_US))
        tx.executemany(
            f"INSERT INTO {blocks.SEALED_TABLE} (series_id, day_us, n, first_ts_us, "
            "last_ts_us, data) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        tx.executemany(
            "DELETE FROM readings WHERE series_id = ? AND ts_us >= ? AND ts_us < ?", ranges
        )
        for table, _ in rollups.ROLLUP_TABLES.values():
            tx.executemany(
                f"DELETE FROM {table} WHERE series_id = ? AND bucket_us >= ? AND bucket_us < ?",
                ranges,
            )
        return len(rows), len(t)

    def _unseal_days(
        self, tx: SQLSession, series_id: int, days: Sequence[int], materialize_only: bool = False
    ) -> None:
        """Put sealed days of a series back as rollup rows (and, unless
        ``materialize_only``, as raw rows); delete their blocks (same transaction)."""
        for day in sorted({int(d) for d in days}):
            got = tx.execute(
                f"SELECT data FROM {blocks.SEALED_TABLE} WHERE series_id = ? AND day_us = ?",
                (int(series_id), day),
            )
            if not got:
                continue
            ts, vals = blocks.decode_block(bytes(got[0][0]))
            sid = np.full(len(ts), int(series_id), dtype=np.int64)
            if not materialize_only:
                self._insert_readings(tx, sid, ts, vals)
            for res, (table, width) in rollups.ROLLUP_TABLES.items():
                rows = rollups.aggregate(sid, ts, vals, width)
                horizon = self._rollup_horizon(tx, res)
                if horizon is not None:
                    rows = rollups.take(rows, rows.bucket_us >= horizon)
                if len(rows):
                    self._replace_rollup(tx, table, rows, rollups.empty_rows())
            tx.execute(
                f"DELETE FROM {blocks.SEALED_TABLE} WHERE series_id = ? AND day_us = ?",
                (int(series_id), day),
            )

    def hot_window_days(self) -> float:
        """The hot window [d] (meta ``store.hot_window_days``, else 2 d)."""
        value = self.get_meta(HOT_WINDOW_META_KEY)
        return DEFAULT_HOT_WINDOW_DAYS if value is None else float(value)

    def seal(self, now: Any = None, hot_days: float | None = None) -> SealResult:
        """Seal the raw readings of whole UTC days older than the hot window into blocks.

        Parameters
        ----------
        now
            Reference time (tz-aware or µs); default the current time.
        hot_days
            The hot window [d]; default :meth:`hot_window_days`. Days ending before
            ``now - hot_days`` are sealed, one compressed block per series and day
            (:mod:`heatreuse.store.blocks`); younger readings stay rows, so late and
            duplicate readings are classified row-wise. A later reading for a sealed
            day is still accepted: the write reopens the day and seals it again.

        Returns
        -------
        SealResult
            Blocks written and readings moved. Reads are unchanged by sealing (raw
            ranges, rollups and counts merge blocks and rows); only the ``readings_v``
            view of ad-hoc SQL shows the rows alone.
        """
        ref = now_us() if now is None else to_epoch_us(now, "now")
        days_hot = self.hot_window_days() if hot_days is None else float(hot_days)
        if not days_hot >= 0:
            raise StoreError(f"seal: hot window {days_hot!r} d; expected >= 0 days")
        cutoff = int(blocks.day_start_us(np.asarray([ref - int(days_hot * _US_PER_DAY)]))[0])
        with self.transaction(write=False) as tx:
            series = [
                (int(a), str(b))
                for a, b in tx.execute("SELECT series_id, site_id FROM series ORDER BY series_id")
            ]
        n_days = n_read = 0
        chunk_us = 32 * blocks.DAY_US
        for sid, site in series:
            while True:
                with self._lock:
                    self._check_open()
                    with self._transaction(write=True) as tx:
                        self._lock_site(tx, site)
                        horizon = tx.execute(
                            "SELECT value FROM meta WHERE key = ?", (RAW_HORIZON_META_KEY,)
                        )
                        floor = int(horizon[0][0]) if horizon else -(2**62)
                        first = tx.execute(
                            "SELECT MIN(ts_us) FROM readings WHERE series_id = ? "
                            "AND ts_us >= ? AND ts_us < ?",
                            (sid, floor, cutoff),
                        )
                        if not first or first[0][0] is None:
                            break
                        lo = int(blocks.day_start_us(np.asarray([int(first[0][0])]))[0])
                        if lo < floor:  # the day straddling the raw horizon stays rows
                            lo += blocks.DAY_US
                            if lo >= cutoff:
                                break
                        hi = min(cutoff, lo + chunk_us)
                        t, _ = self._fetch_pairs(
                            tx,
                            "SELECT ts_us, value FROM readings WHERE series_id = ? "
                            "AND ts_us >= ? AND ts_us < ?",
                            (sid, lo, hi),
                        )
                        days = np.unique(blocks.day_start_us(t)).tolist()
                        d, r = self._seal_days(tx, sid, days)
                        n_days += d
                        n_read += r
                        if hi >= cutoff:
                            break
        return SealResult(n_days, n_read)

    def compact(self, now: Any = None, hot_days: float | None = None) -> SealResult:
        """:meth:`seal`, then give the freed space back to the file system.

        SQLite: ``VACUUM`` (rewrites the file; needs free disk space of about its
        size and blocks writers meanwhile) and a WAL checkpoint. PostgreSQL: ``VACUUM
        FULL`` of the readings and rollup tables (rewrites them under an exclusive
        lock) and ``VACUUM`` of the other tables.
        """
        before = self.database_bytes()
        result = self.seal(now=now, hot_days=hot_days)
        with self._lock:
            self._check_open()
            self._vacuum()
        after = self.database_bytes()
        return SealResult(
            result.days_sealed, result.readings_sealed, before, after, self.count_all_readings()
        )

    @abc.abstractmethod
    def _vacuum(self) -> None:
        """Give free pages back to the file system (outside a transaction)."""

    @abc.abstractmethod
    def database_bytes(self) -> int:
        """Size of the whole database (every table and index; the schema on PostgreSQL) [bytes]."""

    def count_all_readings(self) -> int:
        """Readings the store holds over all sites: rows plus sealed."""
        with self.transaction(write=False) as tx:
            rows = int(tx.execute("SELECT COUNT(*) FROM readings")[0][0])
            sealed = tx.execute(f"SELECT SUM(n) FROM {blocks.SEALED_TABLE}")
        return rows + (int(sealed[0][0]) if sealed and sealed[0][0] is not None else 0)

    def sealed_summary(self) -> dict[str, Any]:
        """Sealed blocks, the readings in them, their bytes, and the whole database's
        bytes per reading held (what ``heatreuse store info`` shows)."""
        with self.transaction(write=False) as tx:
            got = tx.execute(
                f"SELECT COUNT(*), SUM(n), SUM(LENGTH(data)) FROM {blocks.SEALED_TABLE}"
            )
        n_blocks = int(got[0][0]) if got else 0
        sealed = int(got[0][1] or 0) if got else 0
        data = int(got[0][2] or 0) if got else 0
        total = self.count_all_readings()
        size = self.database_bytes()
        return {
            "hot_window_days": self.hot_window_days(),
            "sealed_blocks": n_blocks,
            "sealed_readings": sealed,
            "sealed_data_bytes": data,
            "readings": total,
            "database_bytes": size,
            "bytes_per_reading": round(size / total, 3) if total else None,
        }

    # ---- retention ---------------------------------------------------------------------

    def apply_retention(
        self,
        raw_days: float | None = None,
        rollup_days: Mapping[str, float] | None = None,
        quarantine_days: float | None = None,
        now: Any = None,
    ) -> RetentionResult:
        """Delete raw readings, rollups and quarantine rows older than their retention.

        Parameters
        ----------
        raw_days
            Keep raw readings with ``ts >= now - raw_days`` [d]; ``None`` keeps all.
            The horizon is recorded (meta ``store.raw_horizon_us``); later writes
            older than it are refused as ``before_retention`` conflicts, since
            their duplicates could no longer be recognised.
        rollup_days
            Per resolution (``{"1min": 90, "15min": 400, "1h": 3650}``) [d].
        quarantine_days
            Keep quarantine rows received within this many days [d].
        now
            Reference time (tz-aware or µs); default the current time.

        Returns
        -------
        RetentionResult
            Rows deleted per table.
        """
        ref = now_us() if now is None else to_epoch_us(now, "now")
        rollup_days = dict(rollup_days or {})
        self.check_retention(raw_days, rollup_days, quarantine_days)
        raw_deleted = 0
        roll_deleted: dict[str, int] = {}
        q_deleted = 0
        with self.transaction() as tx:
            if raw_days is not None:
                horizon = ref - int(raw_days * _US_PER_DAY)
                # sealed days before the horizon: their rollups go back to the rollup
                # tables (kept by their own retention), the raw readings go; the day
                # straddling the horizon is reopened and cut row-wise below
                sealed_gone = 0
                for sid, day, n in tx.execute(
                    f"SELECT series_id, day_us, n FROM {blocks.SEALED_TABLE} WHERE day_us < ? "
                    "ORDER BY series_id, day_us",
                    (horizon,),
                ):
                    whole = int(day) + blocks.DAY_US <= horizon
                    self._unseal_days(tx, int(sid), [int(day)], materialize_only=whole)
                    sealed_gone += int(n) if whole else 0
                tx.execute("DELETE FROM readings WHERE ts_us < ?", (horizon,))
                raw_deleted = tx.rowcount + sealed_gone
                old = tx.execute("SELECT value FROM meta WHERE key = ?", (RAW_HORIZON_META_KEY,))
                if not old or int(old[0][0]) < horizon:
                    self._set_meta(tx, RAW_HORIZON_META_KEY, str(horizon))
            for res, days in rollup_days.items():
                table = rollups.ROLLUP_TABLES[res][0]
                cutoff = ref - int(days * _US_PER_DAY)
                tx.execute(f"DELETE FROM {table} WHERE bucket_us < ?", (cutoff,))
                roll_deleted[res] = tx.rowcount
                key = ROLLUP_HORIZON_META_PREFIX + res
                old = tx.execute("SELECT value FROM meta WHERE key = ?", (key,))
                if not old or int(old[0][0]) < cutoff:
                    self._set_meta(tx, key, str(cutoff))
                if res == rollups.HOUR_BLOCK_RESOLUTION:
                    self._cut_hour_blocks(tx, cutoff)
            if quarantine_days is not None:
                tx.execute(
                    "DELETE FROM quarantine WHERE received_at_us < ?",
                    (ref - int(quarantine_days * _US_PER_DAY),),
                )
                q_deleted = tx.rowcount
        return RetentionResult(raw_deleted, roll_deleted, q_deleted)

    @staticmethod
    def check_retention(
        raw_days: float | None = None,
        rollup_days: Mapping[str, float] | None = None,
        quarantine_days: float | None = None,
    ) -> None:
        """Refuse retention horizons :meth:`apply_retention` cannot apply.

        Raises
        ------
        StoreError
            An unknown rollup resolution or a negative (or NaN) number of days.
        """
        rollup_days = dict(rollup_days or {})
        for res in rollup_days:
            if res not in rollups.ROLLUP_TABLES:
                raise StoreError(
                    f"apply_retention: rollup resolution {res!r}; expected one of "
                    f"{list(rollups.ROLLUP_TABLES)}"
                )
        for name, days in [("raw_days", raw_days), ("quarantine_days", quarantine_days)] + [
            (f"rollup_days[{k}]", v) for k, v in rollup_days.items()
        ]:
            if days is not None and not days >= 0:
                raise StoreError(f"apply_retention: {name}={days!r}; expected >= 0 days")

    @staticmethod
    def _cut_hour_blocks(tx: SQLSession, cutoff_us: int) -> None:
        """Drop packed hourly blocks before ``cutoff_us``; empty the slots before it in the
        block that straddles it (so blocks and ``rollup_1h`` keep the same buckets)."""
        table = rollups.HOUR_BLOCK_TABLE
        tx.execute(f"DELETE FROM {table} WHERE block_us <= ?", (cutoff_us - rollups.HOUR_BLOCK_US,))
        for sid, block, data in tx.execute(
            f"SELECT series_id, block_us, data FROM {table} WHERE block_us < ?", (cutoff_us,)
        ):
            kept = rollups.clear_hour_slots_before(bytes(data), int(block), cutoff_us)
            if kept is None:
                tx.execute(
                    f"DELETE FROM {table} WHERE series_id = ? AND block_us = ?", (sid, block)
                )
            else:
                tx.execute(rollups.UPSERT_HOUR_BLOCK, (sid, block, kept))


def _replace_received(r: QuarantineRecord, received: int) -> QuarantineRecord:
    if r.received_at_us is not None:
        return r
    return QuarantineRecord(
        site_id=r.site_id,
        source=r.source,
        reason=str(r.reason),
        raw_payload=r.raw_payload,
        detail=r.detail,
        point_id=r.point_id,
        ts_us=r.ts_us,
        received_at_us=received,
    )


def _concat_rows(parts: Sequence[rollups.RollupRows]) -> rollups.RollupRows:
    """Rollup rows of disjoint keys, concatenated and sorted by (series, bucket)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return rollups.empty_rows()
    if len(parts) == 1:
        return parts[0]
    rows = rollups.RollupRows.from_columns(
        {c: np.concatenate([getattr(p, c) for p in parts]) for c in rollups.COLUMNS}
    )
    order = np.lexsort((rows.bucket_us, rows.series_id))
    return rollups.take(rows, order)


def _merge_pairs(
    t1: npt.NDArray[np.int64],
    v1: npt.NDArray[np.float64],
    t2: npt.NDArray[np.int64],
    v2: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Two time-sorted (ts, value) sets of disjoint keys, merged in time order."""
    if not len(t2):
        return t1, v1
    if not len(t1):
        return t2, v2
    t = np.concatenate((t1, t2))
    v = np.concatenate((v1, v2))
    if not bool(np.all(t[1:] > t[:-1])):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
    return t, v


def _utc_index(ts_us: npt.NDArray[np.int64], name: str = "ts") -> pd.DatetimeIndex:
    return pd.DatetimeIndex(
        pd.to_datetime(np.asarray(ts_us, dtype=np.int64), unit="us", utc=True), name=name
    )


def _combine(series: dict[str, pd.Series], order: list[str]) -> pd.DataFrame:
    """Outer-join per-point series on their UTC index (fast path when indexes agree)."""
    parts = [series[p] for p in dict.fromkeys(order)]
    nonempty = [s for s in parts if len(s)]
    if nonempty and all(s.index.equals(nonempty[0].index) for s in nonempty):
        index = nonempty[0].index
        data = {s.name: (s.to_numpy() if len(s) else np.full(len(index), np.nan)) for s in parts}
        frame = pd.DataFrame(data, index=index)
    elif nonempty:
        frame = pd.concat(parts, axis=1, join="outer").sort_index()
    else:
        frame = pd.DataFrame(
            {s.name: np.empty(0) for s in parts}, index=_utc_index(np.empty(0, np.int64))
        )
    frame.index.name = "ts"
    return frame
