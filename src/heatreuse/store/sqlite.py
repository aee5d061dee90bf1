"""SQLite backend of the store (the embedded default): one file, WAL mode.

Writes take the database write lock at ``BEGIN IMMEDIATE`` (one writer at a
time across processes; readers never block in WAL mode). Bulk inserts use
multi-row ``INSERT ... VALUES (?,?,?),(?,?,?),...`` statements with as many rows
as SQLite's variable limit allows, which binds several times faster than one
``executemany`` step per row.

References
----------
https://www.sqlite.org/wal.html, https://www.sqlite.org/withoutrowid.html,
https://www.sqlite.org/limits.html (``SQLITE_MAX_VARIABLE_NUMBER``)
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from heatreuse.errors import StoreError
from heatreuse.locations import StoreURL
from heatreuse.store import rollups
from heatreuse.store.base import SQLSession, Store
from heatreuse.store.schema import SCHEMA_VERSION_DDL, STORE_MIGRATIONS

#: Connection settings (the benchmark's bare baseline uses the same).
PRAGMAS: tuple[str, ...] = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -65536",
    "PRAGMA wal_autocheckpoint = 4000",
    "PRAGMA busy_timeout = 30000",
    "PRAGMA mmap_size = 268435456",
)

_PAIR_DTYPE = np.dtype([("t", np.int64), ("v", np.float64)])

_ROLLUP_DTYPE = np.dtype(
    [(c, np.float64 if rollups.is_value_column(c) else np.int64) for c in rollups.COLUMNS]
)


def connect(path: str, synchronous: str = "normal") -> sqlite3.Connection:
    """Open a SQLite connection with the store's settings (autocommit; explicit BEGIN)."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for p in PRAGMAS:
            conn.execute(p)
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    except sqlite3.Error as exc:
        raise StoreError(f"SQLite store {path!r}: cannot open ({exc})") from exc
    return conn


def interleave(*cols: npt.NDArray[Any]) -> list[Any]:
    """Flatten columns row-major into one list of Python scalars (for multi-row VALUES)."""
    k = len(cols)
    flat: list[Any] = [None] * (len(cols[0]) * k)
    for j, c in enumerate(cols):
        flat[j::k] = c.tolist()
    return flat


class _Session(SQLSession):
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.cur = conn.cursor()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cur.execute(sql, tuple(params))
        return self.cur.fetchall() if self.cur.description else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cur.executemany(sql, rows)

    @property
    def rowcount(self) -> int:
        return int(self.cur.rowcount)


class SQLiteStore(Store):
    """The store on a SQLite file (see :class:`heatreuse.store.base.Store`)."""

    dialect = "sqlite"

    def __init__(self, parsed: StoreURL) -> None:
        super().__init__(parsed)
        assert parsed.path is not None
        self.path = parsed.path
        self._conn = connect(parsed.path, parsed.synchronous)
        self._max_vars = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._session = _Session(self._conn)
        try:
            self._conn.execute(SCHEMA_VERSION_DDL)
            self.apply_migrations("store", STORE_MIGRATIONS)
        except BaseException:
            self._conn.close()
            raise

    def _close(self) -> None:
        self._conn.close()

    def _flush(self) -> None:
        if self.path == ":memory:" or self._parsed.synchronous == "full":
            return
        wal = self.path + "-wal"
        # fsync is per file (inode): syncing the WAL persists every committed frame.
        for name in (wal, self.path):
            try:
                fd = os.open(name, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    @contextmanager
    def _begin(self, write: bool) -> Iterator[SQLSession]:
        try:
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path!r}: cannot begin ({exc})") from exc
        try:
            yield self._session
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            # locked beyond busy_timeout, disk full, I/O error: the caller may retry
            self._rollback()
            raise StoreError(f"SQLite store {self.path!r}: {exc}") from exc
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # SQLite rolls back by itself after some errors; do not mask the original one
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _lock_site(self, tx: SQLSession, site_id: str) -> None:
        # BEGIN IMMEDIATE already holds the database write lock.
        return

    def _fetch_existing(
        self,
        tx: SQLSession,
        series_ids: npt.NDArray[np.int64],
        lo_us: npt.NDArray[np.int64],
        hi_us: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        cur = self._conn.cursor()
        sids: list[int] = []
        tss: list[int] = []
        vals: list[float] = []
        for s, lo, hi in zip(series_ids.tolist(), lo_us.tolist(), hi_us.tolist(), strict=True):
            rows = cur.execute(
                "SELECT ts_us, value FROM readings WHERE series_id = ? AND ts_us >= ? "
                "AND ts_us <= ? ORDER BY ts_us",
                (s, lo, hi),
            ).fetchall()
            if rows:
                sids.extend([s] * len(rows))
                t, v = zip(*rows, strict=True)
                tss.extend(t)
                vals.extend(v)
        return (
            np.asarray(sids, dtype=np.int64),
            np.asarray(tss, dtype=np.int64),
            np.asarray(vals, dtype=np.float64),
        )

    def _bulk(self, head: str, cols: Sequence[npt.NDArray[Any]]) -> None:
        """Run ``head VALUES (?,..),(?,..),...`` over columns, many rows per statement.

        Rows are converted to Python objects block by block (bounded memory for
        large batches); all statements but the last one per call have the same
        text, so SQLite's statement cache prepares it once.
        """
        cur = self._conn.cursor()
        ncols = len(cols)
        n = len(cols[0])
        per = max(1, min(self._max_vars // ncols, 4000))
        one = "(" + ",".join("?" * ncols) + ")"
        full = f"{head} VALUES {','.join([one] * per)}"
        step = per * ncols
        block = per * 32
        for b0 in range(0, n, block):
            flat = interleave(*(c[b0 : b0 + block] for c in cols))
            k = 0
            while len(flat) - k >= step:
                cur.execute(full, flat[k : k + step])
                k += step
            left = (len(flat) - k) // ncols
            if left:
                cur.execute(f"{head} VALUES {','.join([one] * left)}", flat[k:])

    def _insert_readings(
        self,
        tx: SQLSession,
        sid: npt.NDArray[np.int64],
        ts: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> None:
        self._bulk("INSERT INTO readings (series_id, ts_us, value)", (sid, ts, values))

    def _replace_rollup(
        self, tx: SQLSession, table: str, rows: rollups.RollupRows, replaced: rollups.RollupRows
    ) -> None:
        if len(replaced):
            self._conn.executemany(
                f"DELETE FROM {table} WHERE series_id = ? AND bucket_us = ?",
                zip(replaced.series_id.tolist(), replaced.bucket_us.tolist(), strict=True),
            )
        if len(rows):
            self._bulk(f"INSERT INTO {table} ({', '.join(rollups.COLUMNS)})", rows.columns())

    def _fetch_pairs(
        self, tx: SQLSession, sql: str, params: tuple[int, ...]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        rows = self._conn.execute(sql + " ORDER BY 1", params).fetchall()
        arr = np.fromiter(rows, dtype=_PAIR_DTYPE, count=len(rows))
        return arr["t"].copy(), arr["v"].copy()

    def _fetch_rollup(
        self,
        tx: SQLSession,
        table: str,
        series_ids: Sequence[int],
        lo_us: Sequence[int],
        hi_us: Sequence[int],
    ) -> rollups.RollupRows:
        cur = self._conn.cursor()
        sql = (
            f"SELECT {', '.join(rollups.COLUMNS)} FROM {table} "
            "WHERE series_id = ? AND bucket_us >= ? AND bucket_us < ? ORDER BY bucket_us"
        )
        rows: list[Any] = []
        for s, lo, hi in sorted(zip(series_ids, lo_us, hi_us, strict=True)):
            rows.extend(cur.execute(sql, (int(s), int(lo), int(hi))).fetchall())
        arr = np.fromiter(rows, dtype=_ROLLUP_DTYPE, count=len(rows))
        return rollups.RollupRows.from_columns({c: arr[c] for c in rollups.COLUMNS})
