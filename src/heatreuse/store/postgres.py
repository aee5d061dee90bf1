"""PostgreSQL 15 backend of the store (server / fleet), through psycopg 3.

Bulk paths use the binary COPY format, built and parsed with numpy structured
arrays (no per-row Python work) and sent in pieces of :data:`COPY_PIECE_ROWS`
rows (the server parses one piece while the next is encoded): new readings
are COPY'd straight into ``readings`` (the write holds a per-site advisory
lock and has already classified every row against the stored keys, so a clash
cannot happen and would raise); rollup rows, merged with the stored rows of the same buckets in
numpy (:func:`heatreuse.store.rollups.merge`), replace those rows (DELETE of the
few touched keys, then binary COPY), which is several times faster than
``INSERT ... ON CONFLICT DO UPDATE`` per row. Range reads fetch one packed
``bytea`` per query (``string_agg`` of ``int8send``/``float8send``) decoded with
``numpy.frombuffer``: PostgreSQL sends COPY TO output as one message per row,
which costs a Python iteration per row in psycopg.

References
----------
PostgreSQL 15 documentation, COPY, "Binary Format"
(https://www.postgresql.org/docs/15/sql-copy.html); advisory locks
(https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS);
psycopg 3 COPY (https://www.psycopg.org/psycopg3/docs/basic/copy.html).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql as pgsql

from heatreuse.errors import StoreError
from heatreuse.locations import StoreURL
from heatreuse.store import rollups
from heatreuse.store.base import SQLSession, Store, store_not_found, to_sql_params
from heatreuse.store.schema import SCHEMA_VERSION_DDL, STORE_MIGRATIONS

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
COPY_TRAILER = struct.pack("!h", -1)

_PG_TYPE = {"i4": ">i4", "i8": ">i8", "f8": ">f8"}

_ROLLUP_PG_TYPES = ("i4", "i8", "i4", "f8", "f8", "f8", "i8", "f8", "i8", "f8")
#: Rows per piece of a bulk COPY (:func:`iter_binary_copy`): about 2 MB of readings.
COPY_PIECE_ROWS = 65_536


def _row_dtype(types: Sequence[str]) -> np.dtype[Any]:
    fields: list[tuple[str, str]] = [("nf", ">i2")]
    for k, t in enumerate(types):
        fields += [(f"l{k}", ">i4"), (f"c{k}", _PG_TYPE[t])]
    return np.dtype(fields)


def _encode_rows(columns: Sequence[npt.NDArray[Any]], types: Sequence[str]) -> bytes:
    """The tuples of a binary COPY stream (no header, no trailer)."""
    dtype = _row_dtype(types)
    n = len(columns[0])
    arr = np.empty(n, dtype=dtype)
    arr["nf"] = len(types)
    for k, (col, t) in enumerate(zip(columns, types, strict=True)):
        arr[f"l{k}"] = 4 if t == "i4" else 8
        arr[f"c{k}"] = col
    return arr.tobytes()


def encode_binary_copy(columns: Sequence[npt.NDArray[Any]], types: Sequence[str]) -> bytes:
    """Encode columns as a PostgreSQL binary COPY stream (no NULLs).

    Parameters
    ----------
    columns
        Equal-length arrays.
    types
        ``"i4"`` (integer), ``"i8"`` (bigint) or ``"f8"`` (double precision) per column.
    """
    return COPY_HEADER + _encode_rows(columns, types) + COPY_TRAILER


def iter_binary_copy(
    columns: Sequence[npt.NDArray[Any]], types: Sequence[str], piece_rows: int = COPY_PIECE_ROWS
) -> Iterator[bytes]:
    """:func:`encode_binary_copy` in pieces of ``piece_rows`` rows (same bytes, joined).

    Written to the server piece by piece, the server parses one piece while the
    next is encoded, instead of waiting for the whole stream to be encoded.
    """
    yield COPY_HEADER
    n = len(columns[0])
    for i in range(0, n, max(1, piece_rows)):
        yield _encode_rows([c[i : i + piece_rows] for c in columns], types)
    yield COPY_TRAILER


def decode_binary_copy(data: bytes, types: Sequence[str]) -> list[npt.NDArray[Any]]:
    """Decode a binary COPY stream of fixed-width, non-NULL columns into native arrays.

    The inverse of :func:`encode_binary_copy` (for ``COPY ... TO STDOUT (FORMAT
    BINARY)`` output in tools and tests).
    """
    if len(data) < len(COPY_HEADER) + 2 or not data.startswith(COPY_HEADER[:11]):
        raise StoreError("PostgreSQL COPY: unexpected binary header")
    (ext,) = struct.unpack("!i", data[15:19])
    body = data[19 + ext : len(data) - 2]
    dtype = _row_dtype(types)
    arr = np.frombuffer(body, dtype=dtype)
    return [arr[f"c{k}"].astype(_PG_TYPE[t][1:]) for k, t in enumerate(types)]


class _Session(SQLSession):
    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.cur = conn.cursor()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if params:
            self.cur.execute(to_sql_params(sql, "postgresql"), tuple(params))
        else:
            self.cur.execute(sql)
        return self.cur.fetchall() if self.cur.description else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cur.executemany(to_sql_params(sql, "postgresql"), rows)

    @property
    def rowcount(self) -> int:
        return int(self.cur.rowcount)


def connect(conninfo: str, schema: str | None, create: bool = True) -> psycopg.Connection[Any]:
    """Open an autocommit psycopg connection and select ``schema`` if given.

    With ``create`` a missing schema is created; without it nothing is created (the
    ``search_path`` names the schema whether it exists or not: see :func:`find_store`).
    """
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as exc:
        raise StoreError(
            f"PostgreSQL store {conninfo!r}: cannot connect ({str(exc).strip()}); expected a "
            "reachable PostgreSQL 15 server"
        ) from exc
    if schema:
        ident = pgsql.Identifier(schema)
        if create:
            conn.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
        conn.execute(pgsql.SQL("SET search_path TO {}").format(ident))
    return conn


def find_store(conn: psycopg.Connection[Any], schema: str | None) -> str | None:
    """Look, without creating anything, for a heatreuse store on an open connection.

    Parameters
    ----------
    conn
        A connection from :func:`connect` (``search_path`` set to ``schema``).
    schema
        The URL's schema, or None for the server's default ``search_path``.

    Returns
    -------
    str or None
        None when the (current) schema holds a heatreuse store; else what is there
        instead (one clause for :class:`~heatreuse.errors.StoreNotFoundError`).
    """
    dbname = conn.info.dbname
    if (
        schema
        and not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    ):
        return f"database {dbname!r} has no schema {schema!r}"
    row = conn.execute("SELECT current_schema()").fetchone()
    current = row[0] if row else None
    if current is None:
        return f"no schema of the search_path of database {dbname!r} exists"
    version = None
    has_table = conn.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = 'schema_version'",
        (current,),
    ).fetchone()
    if has_table:
        got = conn.execute(
            pgsql.SQL(
                "SELECT MAX(version) FROM {}.schema_version WHERE component = 'store'"
            ).format(pgsql.Identifier(current))
        ).fetchone()
        version = got[0] if got else None
    if version is not None:
        return None
    others = conn.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f')",
        (current,),
    ).fetchone()
    n = int(others[0]) if others else 0
    return f"schema {current!r} of database {dbname!r} has no heatreuse tables" + (
        f" (it holds {n} other table(s) or view(s))" if n else " (it is empty)"
    )


class PostgresStore(Store):
    """The store on a PostgreSQL database / schema (see :class:`heatreuse.store.base.Store`)."""

    dialect = "postgresql"

    def __init__(self, parsed: StoreURL, create: bool = False) -> None:
        super().__init__(parsed)
        assert parsed.conninfo is not None
        self._conn = connect(parsed.conninfo, parsed.schema, create=create)
        self._lock_prefix = f"{parsed.schema or 'public'}:"
        self._session = _Session(self._conn)
        try:
            if create:
                self._conn.execute(SCHEMA_VERSION_DDL)
                self.apply_migrations("store", STORE_MIGRATIONS)
            else:
                found = find_store(self._conn, parsed.schema)
                if found is not None:
                    raise store_not_found(parsed, found)
                self.require_schema("store", STORE_MIGRATIONS)
        except psycopg.Error as exc:
            self._conn.close()
            raise StoreError(f"PostgreSQL store {parsed.url!r}: cannot migrate ({exc})") from exc
        except BaseException:
            self._conn.close()
            raise

    def _close(self) -> None:
        self._conn.close()

    def _flush(self) -> None:
        # synchronous_commit = on (the default): a commit is already durable.
        return

    @contextmanager
    def _begin(self, write: bool) -> Iterator[SQLSession]:
        try:
            with self._conn.transaction():
                yield self._session
        except psycopg.OperationalError as exc:
            # connection lost, server shut down, ...: the caller may reopen and retry
            raise StoreError(f"PostgreSQL store {self.url!r}: {str(exc).strip()}") from exc

    def _lock_site(self, tx: SQLSession, site_id: str) -> None:
        self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"heatreuse:{self._lock_prefix}{site_id}",),
        )

    def _vacuum(self) -> None:
        from heatreuse.store import blocks

        shrunk = {"readings", blocks.SEALED_TABLE, *(t for t, _ in rollups.ROLLUP_TABLES.values())}
        tables = [
            str(r[0])
            for r in self._conn.execute(
                "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' "
                "AND c.relnamespace = current_schema()::regnamespace ORDER BY c.relname"
            ).fetchall()
        ]
        try:
            for t in tables:
                full = pgsql.SQL("FULL ") if t in shrunk else pgsql.SQL("")
                self._conn.execute(
                    pgsql.SQL("VACUUM {}ANALYZE {}").format(full, pgsql.Identifier(t))
                )
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store {self.url!r}: VACUUM failed ({exc})") from exc

    def database_bytes(self) -> int:
        with self._lock:
            self._check_open()
            row = self._conn.execute(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "WHERE c.relkind IN ('r', 'm') "
                "AND c.relnamespace = current_schema()::regnamespace"
            ).fetchone()
        return int(row[0]) if row else 0

    def _fetch_existing(
        self,
        tx: SQLSession,
        series_ids: npt.NDArray[np.int64],
        lo_us: npt.NDArray[np.int64],
        hi_us: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        # OFFSET 0 keeps the LATERAL subquery from being flattened into a hash join
        # over a sequential scan (the plan chosen while a freshly loaded table has no
        # statistics); this way it is one index range scan per series.
        rows = self._conn.execute(
            "SELECT r.series_id, r.ts_us, r.value "
            "FROM unnest(%s::int[], %s::bigint[], %s::bigint[]) AS q(sid, lo, hi) "
            "CROSS JOIN LATERAL (SELECT * FROM readings t WHERE t.series_id = q.sid "
            "AND t.ts_us >= q.lo AND t.ts_us <= q.hi OFFSET 0) r ORDER BY 1, 2",
            (series_ids.tolist(), lo_us.tolist(), hi_us.tolist()),
        ).fetchall()
        if not rows:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
        s, t, v = zip(*rows, strict=True)
        return (
            np.asarray(s, dtype=np.int64),
            np.asarray(t, dtype=np.int64),
            np.asarray(v, dtype=np.float64),
        )

    def _copy_in(
        self, statement: str, columns: Sequence[npt.NDArray[Any]], types: Sequence[str]
    ) -> None:
        with self._conn.cursor() as cur, cur.copy(statement) as cp:
            for piece in iter_binary_copy(columns, types):
                cp.write(piece)

    def _fetch_packed(
        self, inner: pgsql.Composed, types: Sequence[str], sort_keys: int
    ) -> list[Any]:
        """Run ``inner`` (columns c0, c1, ...) and fetch all rows as one packed bytea.

        The server concatenates ``int4send/int8send/float8send`` of each row into one
        value (``string_agg``), decoded here with one ``numpy.frombuffer``: no per-row
        Python objects, no per-row COPY messages. Rows are sorted here by the first
        ``sort_keys`` columns (a server-side ORDER BY costs more than numpy's sort).
        """
        send = {"i4": "int4send", "i8": "int8send", "f8": "float8send"}
        packed = " || ".join(f"{send[t]}(q.c{k})" for k, t in enumerate(types))
        names = ", ".join(f"c{k}" for k in range(len(types)))
        query = pgsql.SQL(
            "SELECT string_agg({packed}, ''::bytea) FROM ({inner}) AS q({names})"
        ).format(
            packed=pgsql.SQL(packed),
            inner=inner,
            names=pgsql.SQL(names),
        )
        row = self._conn.execute(query).fetchone()
        data = bytes(row[0]) if row and row[0] is not None else b""
        dtype = np.dtype([(f"c{k}", _PG_TYPE[t]) for k, t in enumerate(types)])
        arr = np.frombuffer(data, dtype=dtype)
        keys = [arr[f"c{k}"] for k in range(sort_keys)]
        if len(arr) > 1:
            order = np.lexsort(keys[::-1])
            if not np.all(order[1:] > order[:-1]):
                arr = arr[order]
        return [arr[f"c{k}"].astype(_PG_TYPE[t][1:]) for k, t in enumerate(types)]

    def _insert_readings(
        self,
        tx: SQLSession,
        sid: npt.NDArray[np.int64],
        ts: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> None:
        self._copy_in(
            "COPY readings (series_id, ts_us, value) FROM STDIN (FORMAT BINARY)",
            [sid, ts, values],
            ("i4", "i8", "f8"),
        )

    def _replace_rollup(
        self, tx: SQLSession, table: str, rows: rollups.RollupRows, replaced: rollups.RollupRows
    ) -> None:
        if len(replaced):
            self._conn.execute(
                pgsql.SQL(
                    "DELETE FROM {} r USING unnest(%s::int[], %s::bigint[]) AS k(s, b) "
                    "WHERE r.series_id = k.s AND r.bucket_us = k.b"
                ).format(pgsql.Identifier(table)),
                (replaced.series_id.tolist(), replaced.bucket_us.tolist()),
            )
        if len(rows):
            self._copy_in(
                f"COPY {table} ({', '.join(rollups.COLUMNS)}) FROM STDIN (FORMAT BINARY)",
                rows.columns(),
                _ROLLUP_PG_TYPES,
            )

    def _fetch_pairs(
        self, tx: SQLSession, sql: str, params: tuple[int, ...]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        inner = pgsql.SQL(sql.replace("?", "{}")).format(*[pgsql.Literal(int(p)) for p in params])
        t, v = self._fetch_packed(inner, ("i8", "f8"), 1)
        return t, v

    def _fetch_rollup(
        self,
        tx: SQLSession,
        table: str,
        series_ids: Sequence[int],
        lo_us: Sequence[int],
        hi_us: Sequence[int],
    ) -> rollups.RollupRows:
        cols = ", ".join(f"r.{c}" for c in rollups.COLUMNS)
        inner = pgsql.SQL(
            "SELECT {cols} FROM unnest({ids}::int[], {lo}::bigint[], {hi}::bigint[]) "
            "AS q(s, lo, hi) CROSS JOIN LATERAL (SELECT * FROM {table} t WHERE "
            "t.series_id = q.s AND t.bucket_us >= q.lo AND t.bucket_us < q.hi OFFSET 0) r"
        ).format(
            cols=pgsql.SQL(cols),
            table=pgsql.Identifier(table),
            ids=pgsql.Literal([int(s) for s in series_ids]),
            lo=pgsql.Literal([int(x) for x in lo_us]),
            hi=pgsql.Literal([int(x) for x in hi_us]),
        )
        arrays = self._fetch_packed(inner, _ROLLUP_PG_TYPES, 2)
        return rollups.RollupRows.from_columns(dict(zip(rollups.COLUMNS, arrays, strict=True)))
