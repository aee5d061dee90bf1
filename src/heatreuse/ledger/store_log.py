"""The ledger's append-only Merkle log inside the store database (SQLite or PostgreSQL).

Tables (same layout in both backends; PostgreSQL in the store's schema):

``ledger_log(log_id, idx, entry_type, entry, leaf_hash, appended_at)``
    One row per log entry; ``entry`` is the exact RFC 8785 canonical bytes (the
    Merkle leaf), primary key ``(log_id, idx)``. Append-only:

    * SQLite: ``BEFORE UPDATE`` / ``BEFORE DELETE`` triggers that ``RAISE(ABORT)``,
      and a ``BEFORE INSERT`` trigger refusing an index other than the next one.
    * PostgreSQL: row triggers refusing ``UPDATE`` and ``DELETE``, a statement
      trigger refusing ``TRUNCATE``, the same contiguity trigger, and
      ``REVOKE UPDATE, DELETE, TRUNCATE`` from ``PUBLIC`` and the current role.

    A database superuser can still drop the triggers and rewrite rows; that is
    caught by the signed checkpoints, which are written *outside* the database
    (:class:`~heatreuse.ledger.tlog.DirectoryCheckpointStore`, by default under
    ``$HEATREUSE_HOME/checkpoints/<site>/``).

``ledger_meta(log_id, key, value, updated_at)``
    Small key-value state of the ledger builder (the watermark: end of the last
    built hour), written in the same transaction as the entries it describes;
    ``signed_head`` is the signed checkpoint note of the size each signed append
    produced (:meth:`SqlLogStorage.signed_head`), so rows beyond it were not
    appended by a holder of the signing key.

Appends are serialised so indices have no gaps: SQLite ``BEGIN IMMEDIATE`` (one
writer), PostgreSQL ``pg_advisory_xact_lock`` on a key derived from the log id;
inside the lock the next index is checked against the caller's ``first_index``.

References
----------
RFC 9162 (Merkle log); SQLite "CREATE TRIGGER" (RAISE); PostgreSQL 15 documentation,
"CREATE TRIGGER", "REVOKE", "Advisory Locks".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from heatreuse.errors import LedgerConflictError, LedgerError, StoreError
from heatreuse.ledger.merkle import leaf_hash
from heatreuse.locations import create_private_file, heatreuse_home, parse_store_url

__all__ = [
    "LedgerDatabase",
    "SqlLogStorage",
    "default_home",
    "open_ledger_database",
]

_META_SIGNED_HEAD = "signed_head"
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_SQLITE_DDL = (
    """CREATE TABLE IF NOT EXISTS ledger_log (
        log_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        entry_type TEXT NOT NULL,
        entry BLOB NOT NULL,
        leaf_hash BLOB NOT NULL,
        appended_at TEXT NOT NULL,
        PRIMARY KEY (log_id, idx)
    )""",
    """CREATE TRIGGER IF NOT EXISTS ledger_log_no_update BEFORE UPDATE ON ledger_log
    BEGIN SELECT RAISE(ABORT, 'ledger_log is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER IF NOT EXISTS ledger_log_no_delete BEFORE DELETE ON ledger_log
    BEGIN SELECT RAISE(ABORT, 'ledger_log is append-only: DELETE refused'); END""",
    """CREATE TRIGGER IF NOT EXISTS ledger_log_contiguous BEFORE INSERT ON ledger_log
    WHEN NEW.idx <> (SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_log
                     WHERE log_id = NEW.log_id)
    BEGIN SELECT RAISE(ABORT, 'ledger_log: index is not the next one (no gaps allowed)'); END""",
    """CREATE TABLE IF NOT EXISTS ledger_meta (
        log_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (log_id, key)
    )""",
)

_PG_DDL = (
    """CREATE TABLE IF NOT EXISTS ledger_log (
        log_id text NOT NULL,
        idx bigint NOT NULL,
        entry_type text NOT NULL,
        entry bytea NOT NULL,
        leaf_hash bytea NOT NULL,
        appended_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (log_id, idx)
    )""",
    """CREATE OR REPLACE FUNCTION ledger_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger_log is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE OR REPLACE FUNCTION ledger_log_contiguous() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE nxt bigint;
    BEGIN
        EXECUTE format('SELECT COALESCE(MAX(idx) + 1, 0) FROM %I.%I WHERE log_id = $1',
                       TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO nxt USING NEW.log_id;
        IF NEW.idx <> nxt THEN
            RAISE EXCEPTION 'ledger_log: index % is not the next one (%): no gaps allowed',
                NEW.idx, nxt;
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE OR REPLACE TRIGGER ledger_log_no_update BEFORE UPDATE OR DELETE ON ledger_log
        FOR EACH ROW EXECUTE FUNCTION ledger_log_refuse()""",
    """CREATE OR REPLACE TRIGGER ledger_log_no_truncate BEFORE TRUNCATE ON ledger_log
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_log_refuse()""",
    """CREATE OR REPLACE TRIGGER ledger_log_contiguous BEFORE INSERT ON ledger_log
        FOR EACH ROW EXECUTE FUNCTION ledger_log_contiguous()""",
    "REVOKE UPDATE, DELETE, TRUNCATE ON ledger_log FROM PUBLIC",
    "REVOKE UPDATE, DELETE, TRUNCATE ON ledger_log FROM CURRENT_USER",
    """CREATE TABLE IF NOT EXISTS ledger_meta (
        log_id text NOT NULL,
        key text NOT NULL,
        value text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (log_id, key)
    )""",
)


def default_home() -> Path:
    """``$HEATREUSE_HOME``, default ``~/.local/share/heatreuse`` (heatreuse.locations)."""
    return heatreuse_home()


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _lock_key(log_id: str) -> int:
    digest = hashlib.sha256(b"heatreuse.ledger:" + log_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _entry_type(payload: bytes) -> str:
    match = re.search(rb'"type":"([^"\\]*)"', payload)
    return match.group(1).decode() if match else ""


class LedgerDatabase:
    """A connection to the ledger tables of a store database.

    Parameters
    ----------
    url
        ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or
        ``postgresql://user@host:port/db``; a ``schema=NAME`` query parameter (or
        the ``schema`` argument) selects the PostgreSQL schema (created if missing,
        with ``create``).
    schema
        PostgreSQL schema; overrides the URL's.
    create
        Create the database file (mode 0600, see
        :func:`heatreuse.locations.create_private_file`), the PostgreSQL schema and the
        ledger tables if missing (writers: ``ledger update``). Without it nothing is
        created or written by opening: the database must exist, and a database without
        ledger tables reads as an empty ledger (:attr:`has_tables` is False).

    Raises
    ------
    StoreError
        Unknown URL scheme, bad schema name, database not reachable, or (not
        creating) no database file.
    """

    def __init__(self, url: str, schema: str | None = None, *, create: bool = False) -> None:
        self.url = url
        parsed = parse_store_url(url)  # the store's own parser: same database, same rules
        self.backend: str = parsed.backend
        if parsed.backend == "sqlite":
            assert parsed.path is not None
            self.path = Path(parsed.path)
            target, uri = parsed.path, False
            if parsed.path != ":memory:":
                if create:
                    create_private_file(self.path)
                else:
                    target, uri = f"{self.path.resolve().as_uri()}?mode=rw", True
            try:
                self._sqlite = sqlite3.connect(target, isolation_level=None, timeout=30.0, uri=uri)
                self._sqlite.execute("PRAGMA busy_timeout = 30000")
                self._sqlite.execute("PRAGMA journal_mode = WAL")
            except sqlite3.Error as exc:
                raise StoreError(f"store URL {url!r}: cannot open {self.path} ({exc})") from exc
            self.schema = None
        else:
            import psycopg

            self.schema = schema or parsed.schema or "public"
            if not _SCHEMA_RE.match(self.schema):
                raise StoreError(
                    f"store URL {url!r}: schema must be a lower-case SQL identifier, "
                    f"got {self.schema!r}"
                )
            try:
                self._pg = psycopg.connect(parsed.conninfo or "", autocommit=True)
            except psycopg.Error as exc:
                raise StoreError(f"store URL {url!r}: cannot connect to PostgreSQL: {exc}") from exc
            if create:
                self._pg.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            self._pg.execute(f'SET search_path TO "{self.schema}"')
        if create:
            self.ensure_schema()
        self.has_tables: bool = self._tables_exist()

    # ------------------------------------------------------------------ plumbing
    def _tables_exist(self) -> bool:
        """Whether ``ledger_log`` and ``ledger_meta`` exist (read only)."""
        if self.backend == "sqlite":
            rows = self._sqlite.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' "
                "AND name IN ('ledger_log', 'ledger_meta')"
            ).fetchall()
        else:
            rows = self._pg.execute(
                "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname IN ('ledger_log', 'ledger_meta')",
                (self.schema,),
            ).fetchall()
        return int(rows[0][0]) == 2

    def _require_tables(self) -> None:
        if not self.has_tables:
            raise LedgerError(
                f"store {self.url!r} has no ledger tables and was opened for reading; "
                "`heatreuse ledger update SITE.yaml` creates them"
            )

    def ensure_schema(self) -> None:
        """Create the ledger tables, triggers and revokes (idempotent)."""
        if self.backend == "sqlite":
            for ddl in _SQLITE_DDL:
                self._sqlite.execute(ddl)
            return
        with self._pg.transaction():
            self._pg.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key("ddl"),))
            for ddl in _PG_DDL:
                self._pg.execute(ddl)

    def close(self) -> None:
        """Close the connection."""
        if self.backend == "sqlite":
            self._sqlite.close()
        else:
            self._pg.close()

    def __enter__(self) -> LedgerDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self, log_id: str) -> Iterator[Any]:
        """A serialised write transaction for ``log_id``; yields an execute function."""
        self._require_tables()
        if self.backend == "sqlite":
            con = self._sqlite
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con.execute
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            return
        with self._pg.transaction():
            self._pg.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(log_id),))
            yield self._pg.execute

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.backend == "sqlite":
            return list(self._sqlite.execute(sql, tuple(params)).fetchall())
        return list(self._pg.execute(sql.replace("?", "%s"), tuple(params)).fetchall())

    def execute_raw(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement outside the ledger API (tests of the append-only guard)."""
        if self.backend == "sqlite":
            self._sqlite.execute(sql, tuple(params))
        else:
            self._pg.execute(sql.replace("?", "%s"), tuple(params))

    # ------------------------------------------------------------------ log access
    def log_storage(self, log_id: str) -> SqlLogStorage:
        """The :class:`~heatreuse.ledger.tlog.LogStorage` of one log (one site)."""
        return SqlLogStorage(self, log_id)

    def get_meta(self, log_id: str, key: str) -> str | None:
        """A ledger meta value, or None."""
        if not self.has_tables:
            return None
        rows = self._query(
            "SELECT value FROM ledger_meta WHERE log_id = ? AND key = ?", (log_id, key)
        )
        return str(rows[0][0]) if rows else None

    def set_meta(self, log_id: str, values: Mapping[str, str]) -> None:
        """Set ledger meta values in their own serialised transaction."""
        with self._write(log_id) as run:
            self._upsert_meta(run, log_id, values)

    def _upsert_meta(self, run: Any, log_id: str, values: Mapping[str, str]) -> None:
        sql = (
            "INSERT INTO ledger_meta (log_id, key, value, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (log_id, key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at"
        )
        if self.backend == "postgresql":
            sql = sql.replace("?", "%s")
        for key, value in values.items():
            run(sql, (log_id, key, value, _now_iso()))


class SqlLogStorage:
    """Append-only :class:`~heatreuse.ledger.tlog.LogStorage` over ``ledger_log``.

    :meth:`stage_meta` queues meta values (e.g. the watermark) that the next
    :meth:`append_entries` writes in the same transaction as the entries.
    """

    def __init__(self, db: LedgerDatabase, log_id: str) -> None:
        if not log_id:
            raise LedgerError("ledger log id: expected a non-empty string (the site id)")
        self.db = db
        self.log_id = log_id
        self._staged: dict[str, str] = {}

    def stage_meta(self, values: Mapping[str, str]) -> None:
        """Queue meta values for the next append."""
        self._staged.update(values)

    def entry_count(self) -> int:
        if not self.db.has_tables:
            return 0
        rows = self.db._query(
            "SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_log WHERE log_id = ?", (self.log_id,)
        )
        return int(rows[0][0])

    def signed_head(self) -> str | None:
        """The signed checkpoint note stored by the last signed append, or None."""
        return self.db.get_meta(self.log_id, _META_SIGNED_HEAD)

    def append_entries(
        self, first_index: int, entries: Sequence[bytes], signed_note: str | None = None
    ) -> None:
        """Append atomically at ``first_index`` (refused unless it is the next index).

        ``signed_note``, the signed checkpoint of the size after this append, is
        stored as the signed head in the same transaction as the entries.
        """
        db = self.db
        insert = (
            "INSERT INTO ledger_log (log_id, idx, entry_type, entry, leaf_hash, appended_at) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
        now = _now_iso()
        rows = [
            (self.log_id, first_index + i, _entry_type(e), bytes(e), leaf_hash(bytes(e)), now)
            for i, e in enumerate(entries)
        ]
        with db._write(self.log_id) as run:
            nxt = run(
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_log WHERE log_id = "
                + ("?" if db.backend == "sqlite" else "%s"),
                (self.log_id,),
            ).fetchone()[0]
            if int(nxt) != first_index:
                raise LedgerConflictError(
                    f"ledger log {self.log_id!r}: append at index {first_index} refused, the "
                    f"log has {nxt} entries (another writer appended; reload and retry)"
                )
            if db.backend == "sqlite":
                db._sqlite.executemany(insert, rows)
            else:
                with db._pg.cursor() as cur:
                    cur.executemany(insert.replace("?", "%s"), rows)
            meta = dict(self._staged)
            if signed_note is not None:
                meta[_META_SIGNED_HEAD] = signed_note
            if meta:
                db._upsert_meta(run, self.log_id, meta)
        self._staged = {}

    def read_entries(self, start: int, stop: int) -> Sequence[bytes]:
        if not self.db.has_tables:
            return []
        rows = self.db._query(
            "SELECT idx, entry FROM ledger_log WHERE log_id = ? AND idx >= ? AND idx < ? "
            "ORDER BY idx",
            (self.log_id, start, stop),
        )
        out: list[bytes] = []
        for expected, (idx, entry) in enumerate(rows, start=start):
            if int(idx) != expected:
                raise LedgerError(
                    f"ledger log {self.log_id!r}: entry {expected} is missing from the "
                    f"database (next row has index {idx}): rows were deleted"
                )
            out.append(bytes(entry))
        return out


def open_ledger_database(
    url: str | None = None, schema: str | None = None, *, create: bool = False
) -> LedgerDatabase:
    """Open the ledger tables of the store at ``url``.

    Parameters
    ----------
    url
        Store URL; default ``sqlite:///$HEATREUSE_HOME/heatreuse.db``.
    schema
        PostgreSQL schema (default from the URL's ``schema`` parameter, else public).
    create
        Create what is missing (writers); see :class:`LedgerDatabase`.
    """
    if url is None:
        url = f"sqlite:///{default_home() / 'heatreuse.db'}"
    return LedgerDatabase(url, schema=schema, create=create)
