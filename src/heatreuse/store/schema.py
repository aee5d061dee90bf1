"""Versioned schema of the store (component ``"store"``), one statement list per dialect.

Applied on open by :meth:`heatreuse.store.base.Store.apply_migrations`
(idempotent; the ``schema_version`` table records ``(component, version)``).
Other components (the ledger) keep their own migration lists under their own
component name in the same ``schema_version`` table.

Tables (identical columns and keys in both dialects):

``series``
    ``series_id`` (integer key) for each ``(site_id, point_id)``.
``readings``
    ``series_id, ts_us, value``; primary key ``(series_id, ts_us)``; SQLite
    ``WITHOUT ROWID`` so the table *is* the index (a point's time range is one
    contiguous scan). ``ts_us``: µs since 1970-01-01 UTC (BIGINT).
``rollup_1min``, ``rollup_15min``, ``rollup_1h``
    ``series_id, bucket_us, n, vmin, vmax, vsum, first_ts_us, first_value,
    last_ts_us, last_value``; primary key ``(series_id, bucket_us)``.
``rollup_1h_day``
    ``series_id, block_us, data``; primary key ``(series_id, block_us)``: the
    hourly rollup packed per series and UTC day (24 slots of
    :data:`heatreuse.store.rollups.SLOT_DTYPE`, empty slots ``n = 0``), written
    with ``rollup_1h`` in the same transaction; the read path for hourly data.
``quarantine``
    rejected inputs with source, raw payload, reason and detail.
``meta``
    key-value state for components (``key, value, updated_at_us``).
``site_facts``
    recorded facts of a site (``site_id, fact, value_us, updated_at_us``),
    primary key ``(site_id, fact)``. ``first_reading_us``: the first reading
    the store ever accepted for the site, written with the readings (only ever
    moved earlier, never by retention): when monitoring started.
``readings_v``
    a view of ``readings`` with ``site_id`` and ``point_id`` for ad-hoc SQL.

Watch and respond (migration 4; times are µs since epoch UTC like the rest):

``alerts``
    one row per alert instance (a label set during one active run): ``fingerprint``,
    ``labels`` and ``annotations`` (JSON), ``rule``, ``severity``, ``equipment``,
    ``state`` (``firing``/``resolved``), ``active_at_us``, ``started_at_us``,
    ``resolved_at_us``, ``value``, ``muted_by`` (silence or inhibition at firing),
    ``acked_by``/``acked_at_us``/``ack_comment``, ``incident_id``, ``action_id``;
    unique ``(site_id, fingerprint, active_at_us)`` (re-running detection upserts).
``silences``
    ``(site_id, id)``: matchers (JSON list of ``NAME=VALUE`` strings), start, end,
    author, comment; ``expired_by``/``expired_at_us``/``expire_comment``.
``incidents``, ``incident_events``
    alerts grouped into incidents; the timeline (``kind``: fired, resolved, notified,
    escalated, acked, note) with ``actor`` and ``detail`` (JSON); an event is unique
    per ``(incident_id, dedup_key)``.
``actions``
    corrective actions: rule, equipment, owner (JSON list of person ids), opened,
    due, status, linked alert ids (JSON list), summary.
``detect_state``
    per site: the last evaluated minute and the active (pending/firing) alerts to
    restore (JSON).
``audit``
    who, what, when, why of every ack, silence and escalation step; append-only
    (triggers refuse UPDATE and DELETE); ``heatreuse ledger update`` folds its rows
    into the ledger as ``audit`` entries.

Pilot to routine (migration 5):

``maintenance_records``
    one row per maintenance task done: ``site_id``, ``task_id`` (an id of the site's
    maintenance schedule), ``done_at_us``, ``done_by``, ``note``, ``recorded_at_us``;
    each also appends an ``audit`` row (``maintenance.done``).
``drill_records``
    one row per drill kept as evidence (``heatreuse drill --record``): ``drilled_at_us``,
    ``recorded_by``, ``verdict``, ``summary`` and ``evidence`` (JSON: the drill report's
    summary), ``recorded_at_us``; each also appends an ``audit`` row (``drill.record``).

People and permissions (migration 6; logic in :mod:`heatreuse.services.people`):

``users``
    ``id``, unique ``name``, ``password_hash`` (argon2id, PHC string), ``created_at_us``,
    ``disabled_at_us``, ``last_login_us``, ``failed_logins`` (consecutive),
    ``locked_until_us``.
``role_grants``
    ``(user_id, site_id, role)`` with ``granted_by``, ``granted_at_us``.
``devices``
    ingest principals: ``id``, ``site_id``, ``name`` (unique per site), ``created_at_us``,
    ``disabled_at_us``.
``tokens``
    ``id`` (public, printed in listings), ``user_id`` or ``device_id``, ``site_id``
    (devices), ``scope``, ``digest`` (HMAC-SHA256 of the token with the server secret:
    never the token), ``created_at_us``, ``expires_at_us``, ``revoked_at_us``,
    ``last_used_us``.
``login_attempts``
    every login attempt: ``user_name``, ``address``, ``at_us``, ``ok``, ``reason``
    (rate limiting and lockout count these).

Changes to the plant, two-person rule (migration 8; logic in
:mod:`heatreuse.services.changes`):

``change_requests``
    ``id`` (text, ``cr-`` + 10 hex digits), ``site_id``, ``kind``, ``command`` (canonical
    JSON: target, value, bounds), ``reason``, ``requested_by``, ``requested_at_us``,
    ``expires_at_us``, ``request_hash`` (SHA-256 of the canonical request), ``state``
    (requested, approved, executed, failed, rejected, expired, overridden),
    ``approved_by``/``approved_at_us``, ``executed_at_us``, ``result`` (JSON: written
    value, read-back value, ok, executor), ``break_glass``, ``flagged_for_review``,
    ``reviewed_by``/``reviewed_at_us``/``review_note``, ``address`` (where the request
    came from). Every step also appends an ``audit`` row.
"""

from __future__ import annotations

from heatreuse.store import rollups
from heatreuse.store.base import FIRST_READING_FACT, Migration, SQLSession, now_us

#: Bootstrap statement (both dialects), run before any migration.
SCHEMA_VERSION_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "component TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL, "
    "applied_at_us BIGINT NOT NULL, PRIMARY KEY (component, version))"
)


def _rollup_ddl(table: str, dialect: str) -> str:
    real = "REAL" if dialect == "sqlite" else "DOUBLE PRECISION"
    suffix = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return (
        f"CREATE TABLE {table} ("
        "series_id INTEGER NOT NULL, bucket_us BIGINT NOT NULL, n INTEGER NOT NULL, "
        f"vmin {real} NOT NULL, vmax {real} NOT NULL, vsum {real} NOT NULL, "
        f"first_ts_us BIGINT NOT NULL, first_value {real} NOT NULL, "
        f"last_ts_us BIGINT NOT NULL, last_value {real} NOT NULL, "
        f"PRIMARY KEY (series_id, bucket_us)){suffix}"
    )


_VIEW = (
    "CREATE VIEW readings_v AS SELECT s.site_id, s.point_id, r.ts_us, r.value "
    "FROM readings r JOIN series s ON s.series_id = r.series_id"
)

_V1_SQLITE = (
    "CREATE TABLE series (series_id INTEGER PRIMARY KEY, site_id TEXT NOT NULL, "
    "point_id TEXT NOT NULL, UNIQUE (site_id, point_id))",
    "CREATE TABLE readings (series_id INTEGER NOT NULL, ts_us BIGINT NOT NULL, "
    "value REAL NOT NULL, PRIMARY KEY (series_id, ts_us)) WITHOUT ROWID",
    _rollup_ddl("rollup_1min", "sqlite"),
    _rollup_ddl("rollup_15min", "sqlite"),
    _rollup_ddl("rollup_1h", "sqlite"),
    "CREATE TABLE quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "received_at_us BIGINT NOT NULL, site_id TEXT NOT NULL, source TEXT NOT NULL, "
    "point_id TEXT, ts_us BIGINT, raw_payload TEXT NOT NULL, reason TEXT NOT NULL, "
    "detail TEXT NOT NULL)",
    "CREATE INDEX quarantine_site_time ON quarantine (site_id, received_at_us)",
    "CREATE INDEX quarantine_site_reason ON quarantine (site_id, reason, received_at_us)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at_us BIGINT NOT NULL)",
    _VIEW,
)

_V1_POSTGRES = (
    "CREATE TABLE series (series_id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
    "site_id TEXT NOT NULL, point_id TEXT NOT NULL, UNIQUE (site_id, point_id))",
    "CREATE TABLE readings (series_id INTEGER NOT NULL, ts_us BIGINT NOT NULL, "
    "value DOUBLE PRECISION NOT NULL, PRIMARY KEY (series_id, ts_us))",
    _rollup_ddl("rollup_1min", "postgresql"),
    _rollup_ddl("rollup_15min", "postgresql"),
    _rollup_ddl("rollup_1h", "postgresql"),
    "CREATE TABLE quarantine (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
    "received_at_us BIGINT NOT NULL, site_id TEXT NOT NULL, source TEXT NOT NULL, "
    "point_id TEXT, ts_us BIGINT, raw_payload TEXT NOT NULL, reason TEXT NOT NULL, "
    "detail TEXT NOT NULL)",
    "CREATE INDEX quarantine_site_time ON quarantine (site_id, received_at_us)",
    "CREATE INDEX quarantine_site_reason ON quarantine (site_id, reason, received_at_us)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at_us BIGINT NOT NULL)",
    _VIEW,
)

_V2_SQLITE = (
    f"CREATE TABLE {rollups.HOUR_BLOCK_TABLE} (series_id INTEGER NOT NULL, "
    "block_us BIGINT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (series_id, block_us)) "
    "WITHOUT ROWID",
)
_V2_POSTGRES = (
    f"CREATE TABLE {rollups.HOUR_BLOCK_TABLE} (series_id INTEGER NOT NULL, "
    "block_us BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (series_id, block_us))",
)


def backfill_hour_blocks(tx: SQLSession) -> None:
    """Pack the stored ``rollup_1h`` rows into ``rollup_1h_day`` (migration 2), series by series."""
    table = rollups.ROLLUP_TABLES[rollups.HOUR_BLOCK_RESOLUTION][0]
    cols = ", ".join(rollups.COLUMNS)
    for (sid,) in tx.execute(f"SELECT DISTINCT series_id FROM {table} ORDER BY series_id"):
        rows = tx.execute(
            f"SELECT {cols} FROM {table} WHERE series_id = ? ORDER BY bucket_us", (int(sid),)
        )
        columns = dict(zip(rollups.COLUMNS, zip(*rows, strict=True), strict=True))
        packed = rollups.pack_hour_blocks(rollups.RollupRows.from_columns(columns), {})
        tx.executemany(rollups.UPSERT_HOUR_BLOCK, list(zip(*packed, strict=True)))


_V3 = (
    "CREATE TABLE site_facts (site_id TEXT NOT NULL, fact TEXT NOT NULL, "
    "value_us BIGINT NOT NULL, updated_at_us BIGINT NOT NULL, PRIMARY KEY (site_id, fact))",
)


def backfill_first_readings(tx: SQLSession) -> None:
    """Record each site's first reading from what the store holds (migration 3).

    The earliest of the raw readings and the first reading kept in each rollup
    (``first_ts_us``). A store that already deleted data by retention yields the
    earliest reading left; set ``contract.sla.monitoring_start`` in the site file
    when monitoring began earlier.
    """
    first: dict[str, int] = {}
    for sid, site in tx.execute("SELECT series_id, site_id FROM series ORDER BY series_id"):
        found: list[int] = []
        rows = tx.execute("SELECT MIN(ts_us) FROM readings WHERE series_id = ?", (int(sid),))
        if rows and rows[0][0] is not None:
            found.append(int(rows[0][0]))
        for table, _ in rollups.ROLLUP_TABLES.values():
            rows = tx.execute(
                f"SELECT first_ts_us FROM {table} WHERE series_id = ? ORDER BY bucket_us LIMIT 1",
                (int(sid),),
            )
            if rows:
                found.append(int(rows[0][0]))
        if found:
            first[str(site)] = min(min(found), first.get(str(site), min(found)))
    tx.executemany(
        "INSERT INTO site_facts (site_id, fact, value_us, updated_at_us) VALUES (?, ?, ?, ?)",
        [(site, FIRST_READING_FACT, us, now_us()) for site, us in sorted(first.items())],
    )


def _v4(dialect: str) -> tuple[str, ...]:
    """Watch and respond: alerts, silences, incidents, actions, detection state, audit."""
    pg = dialect == "postgresql"
    key = (
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        if pg
        else "INTEGER PRIMARY KEY AUTOINCREMENT"
    )
    real = "DOUBLE PRECISION" if pg else "REAL"
    out = [
        f"CREATE TABLE alerts (id {key}, site_id TEXT NOT NULL, fingerprint TEXT NOT NULL, "
        "labels TEXT NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL, "
        "equipment TEXT NOT NULL, state TEXT NOT NULL, active_at_us BIGINT NOT NULL, "
        f"started_at_us BIGINT, resolved_at_us BIGINT, value {real}, "
        "annotations TEXT NOT NULL, muted_by TEXT, acked_by TEXT, acked_at_us BIGINT, "
        "ack_comment TEXT, incident_id BIGINT, action_id BIGINT, "
        "UNIQUE (site_id, fingerprint, active_at_us))",
        "CREATE INDEX alerts_site_state ON alerts (site_id, state, started_at_us)",
        "CREATE INDEX alerts_site_rule ON alerts (site_id, rule, equipment, started_at_us)",
        "CREATE INDEX alerts_incident ON alerts (incident_id)",
        "CREATE TABLE silences (site_id TEXT NOT NULL, id TEXT NOT NULL, "
        "matchers TEXT NOT NULL, starts_at_us BIGINT NOT NULL, ends_at_us BIGINT NOT NULL, "
        "created_by TEXT NOT NULL, comment TEXT NOT NULL, created_at_us BIGINT NOT NULL, "
        "expired_by TEXT, expired_at_us BIGINT, expire_comment TEXT, "
        "PRIMARY KEY (site_id, id))",
        f"CREATE TABLE incidents (id {key}, site_id TEXT NOT NULL, "
        "opened_at_us BIGINT NOT NULL, resolved_at_us BIGINT, status TEXT NOT NULL, "
        "severity TEXT NOT NULL, title TEXT NOT NULL, acked_by TEXT, acked_at_us BIGINT, "
        "UNIQUE (site_id, opened_at_us))",
        f"CREATE TABLE incident_events (id {key}, incident_id BIGINT NOT NULL, "
        "at_us BIGINT NOT NULL, kind TEXT NOT NULL, alert_id BIGINT, actor TEXT, "
        "detail TEXT NOT NULL, dedup_key TEXT NOT NULL, UNIQUE (incident_id, dedup_key))",
        f"CREATE TABLE actions (id {key}, site_id TEXT NOT NULL, rule TEXT NOT NULL, "
        "equipment TEXT NOT NULL, owner TEXT NOT NULL, opened_at_us BIGINT NOT NULL, "
        "due_at_us BIGINT NOT NULL, status TEXT NOT NULL, alert_ids TEXT NOT NULL, "
        "summary TEXT NOT NULL, closed_at_us BIGINT, "
        "UNIQUE (site_id, rule, equipment, opened_at_us))",
        "CREATE TABLE detect_state (site_id TEXT PRIMARY KEY, last_minute_us BIGINT NOT NULL, "
        "active TEXT NOT NULL, updated_at_us BIGINT NOT NULL)",
        f"CREATE TABLE audit (id {key}, site_id TEXT NOT NULL, at_us BIGINT NOT NULL, "
        "actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, "
        "reason TEXT NOT NULL, detail TEXT NOT NULL)",
        "CREATE INDEX audit_site ON audit (site_id, id)",
    ]
    if pg:
        out += [
            "CREATE OR REPLACE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit is append-only: % refused', TG_OP "
            "USING ERRCODE = 'insufficient_privilege'; END $$",
            "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse()",
            "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse()",
        ]
    else:
        out += [
            "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
            "BEGIN SELECT RAISE(ABORT, 'audit is append-only: UPDATE refused'); END",
            "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
            "BEGIN SELECT RAISE(ABORT, 'audit is append-only: DELETE refused'); END",
        ]
    return tuple(out)


def _v5(dialect: str) -> tuple[str, ...]:
    """Pilot to routine: maintenance records and drill records (evidence)."""
    key = (
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        if dialect == "postgresql"
        else "INTEGER PRIMARY KEY AUTOINCREMENT"
    )
    return (
        f"CREATE TABLE maintenance_records (id {key}, site_id TEXT NOT NULL, "
        "task_id TEXT NOT NULL, done_at_us BIGINT NOT NULL, done_by TEXT NOT NULL, "
        "note TEXT NOT NULL, recorded_at_us BIGINT NOT NULL)",
        "CREATE INDEX maintenance_site_task ON maintenance_records (site_id, task_id, done_at_us)",
        f"CREATE TABLE drill_records (id {key}, site_id TEXT NOT NULL, "
        "drilled_at_us BIGINT NOT NULL, recorded_by TEXT NOT NULL, verdict TEXT NOT NULL, "
        "summary TEXT NOT NULL, evidence TEXT NOT NULL, recorded_at_us BIGINT NOT NULL)",
        "CREATE INDEX drill_site_time ON drill_records (site_id, drilled_at_us)",
    )


def _v6(dialect: str) -> tuple[str, ...]:
    """People and permissions: users, role grants, devices, tokens, login attempts."""
    key = (
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        if dialect == "postgresql"
        else "INTEGER PRIMARY KEY AUTOINCREMENT"
    )
    return (
        f"CREATE TABLE users (id {key}, name TEXT NOT NULL UNIQUE, "
        "password_hash TEXT NOT NULL, created_at_us BIGINT NOT NULL, disabled_at_us BIGINT, "
        "last_login_us BIGINT, failed_logins INTEGER NOT NULL DEFAULT 0, "
        "locked_until_us BIGINT)",
        "CREATE TABLE role_grants (user_id BIGINT NOT NULL, site_id TEXT NOT NULL, "
        "role TEXT NOT NULL, granted_by TEXT NOT NULL, granted_at_us BIGINT NOT NULL, "
        "PRIMARY KEY (user_id, site_id, role))",
        "CREATE INDEX role_grants_site ON role_grants (site_id)",
        f"CREATE TABLE devices (id {key}, site_id TEXT NOT NULL, name TEXT NOT NULL, "
        "created_at_us BIGINT NOT NULL, disabled_at_us BIGINT, UNIQUE (site_id, name))",
        "CREATE TABLE tokens (id TEXT PRIMARY KEY, user_id BIGINT, device_id BIGINT, "
        "site_id TEXT, scope TEXT NOT NULL, digest TEXT NOT NULL UNIQUE, "
        "created_at_us BIGINT NOT NULL, expires_at_us BIGINT, revoked_at_us BIGINT, "
        "last_used_us BIGINT, CHECK ((user_id IS NULL) <> (device_id IS NULL)))",
        f"CREATE TABLE login_attempts (id {key}, user_name TEXT NOT NULL, "
        "address TEXT NOT NULL, at_us BIGINT NOT NULL, ok INTEGER NOT NULL, "
        "reason TEXT NOT NULL)",
        "CREATE INDEX login_attempts_address ON login_attempts (address, at_us)",
        "CREATE INDEX login_attempts_user ON login_attempts (user_name, at_us)",
    )


def _v8(dialect: str) -> tuple[str, ...]:
    """Changes to the plant: change requests of the two-person rule."""
    return (
        "CREATE TABLE change_requests (id TEXT PRIMARY KEY, site_id TEXT NOT NULL, "
        "kind TEXT NOT NULL, command TEXT NOT NULL, reason TEXT NOT NULL, "
        "requested_by TEXT NOT NULL, requested_at_us BIGINT NOT NULL, "
        "expires_at_us BIGINT NOT NULL, request_hash TEXT NOT NULL, state TEXT NOT NULL, "
        "approved_by TEXT, approved_at_us BIGINT, executed_at_us BIGINT, result TEXT, "
        "break_glass INTEGER NOT NULL DEFAULT 0, flagged_for_review INTEGER NOT NULL DEFAULT 0, "
        "reviewed_by TEXT, reviewed_at_us BIGINT, review_note TEXT, "
        "address TEXT NOT NULL DEFAULT '')",
        "CREATE INDEX change_requests_site ON change_requests (site_id, requested_at_us)",
    )


#: Migrations of the component ``"store"``.
STORE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="series, readings, rollups (1min, 15min, 1h), quarantine, meta",
        sqlite=_V1_SQLITE,
        postgresql=_V1_POSTGRES,
    ),
    Migration(
        version=2,
        description="rollup_1h_day: hourly rollups packed per series and UTC day",
        sqlite=_V2_SQLITE,
        postgresql=_V2_POSTGRES,
        backfill=backfill_hour_blocks,
    ),
    Migration(
        version=3,
        description="site_facts: recorded facts per site (first accepted reading)",
        sqlite=_V3,
        postgresql=_V3,
        backfill=backfill_first_readings,
    ),
    Migration(
        version=4,
        description="alerts, silences, incidents, incident_events, actions, detect_state, audit",
        sqlite=_v4("sqlite"),
        postgresql=_v4("postgresql"),
    ),
    Migration(
        version=5,
        description="maintenance_records, drill_records",
        sqlite=_v5("sqlite"),
        postgresql=_v5("postgresql"),
    ),
    Migration(
        version=6,
        description="users, role_grants, devices, tokens (HMAC only), login_attempts",
        sqlite=_v6("sqlite"),
        postgresql=_v6("postgresql"),
    ),
    # PLACEHOLDER: migration 7 belongs to another branch; when merging, keep that branch's
    # version 7 and drop this empty one (apply_migrations needs 1..N without gaps).
    Migration(
        version=7,
        description="reserved (migration 7 of another branch)",
        sqlite=(),
        postgresql=(),
    ),
    Migration(
        version=8,
        description="change_requests (two-person rule, break-glass)",
        sqlite=_v8("sqlite"),
        postgresql=_v8("postgresql"),
    ),
)
