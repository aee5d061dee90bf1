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
from heatreuse.locations import StoreURL, create_private_file
from heatreuse.store import rollups
from heatreuse.store.base import SQLSession, Store, store_not_found
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
_STATS_DTYPE = np.dtype(
    [
        ("bucket_us", np.int64),
        ("n", np.int64),
        ("vmin", np.float64),
        ("vmax", np.float64),
        ("vsum", np.float64),
    ]
)

_ROLLUP_DTYPE = np.dtype(
    [(c, np.float64 if rollups.is_value_column(c) else np.int64) for c in rollups.COLUMNS]
)


def connect(path: str, synchronous: str = "normal", create: bool = True) -> sqlite3.Connection:
    """Open a SQLite connection with the store's settings (autocommit; explicit BEGIN).

    With ``create`` a missing file is created with mode 0600 (its folder 0700, see
    :func:`heatreuse.locations.create_private_file`; SQLite gives the ``-wal`` and
    ``-shm`` files the same mode); without it the file must exist (never created).
    """
    target: str = path
    uri = False
    if path != ":memory:":
        if create:
            create_private_file(path)
        else:
            target, uri = f"{Path(path).resolve().as_uri()}?mode=rw", True
    try:
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, uri=uri)
        for p in PRAGMAS:
            conn.execute(p)
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    except sqlite3.Error as exc:
        raise StoreError(f"SQLite store {path!r}: cannot open ({exc})") from exc
    return conn


def find_store(parsed: StoreURL) -> str | None:
    """Look, without creating or changing anything, for a heatreuse store at a SQLite URL.

    Returns
    -------
    str or None
        None when the file holds a heatreuse store; else what is there instead (one
        clause for :class:`~heatreuse.errors.StoreNotFoundError`).
    """
    assert parsed.path is not None
    if parsed.path == ":memory:":
        return "an in-memory database (sqlite:///:memory:) is new and empty at every open"
    p = Path(parsed.path)
    if not p.exists():
        found = f"no file {p}" + ("" if p.parent.is_dir() else f" (no folder {p.parent})")
        if parsed.relative:
            body = parsed.url.partition("://")[2][1:].partition("?")[0]
            found += (
                f". The URL's path {body!r} is relative (three slashes after 'sqlite:'), "
                f"so it was looked for in the working directory {Path.cwd()}; for the "
                f"absolute path /{body} write sqlite:////{body} (four slashes)"
            )
        return found
    if p.is_dir():
        return f"{p} is a folder, not a database file"
    if not p.is_file():
        return f"{p} is not a regular file"
    if p.stat().st_size == 0:
        return f"{p} is an empty file"
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return f"{p} cannot be opened ({exc})"
    try:
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            ).fetchall()
        ]
        version = None
        if "schema_version" in tables:
            row = conn.execute(
                "SELECT MAX(version) FROM schema_version WHERE component = 'store'"
            ).fetchone()
            version = row[0] if row else None
    except sqlite3.DatabaseError as exc:
        return f"{p} is a file that is not a SQLite database ({exc})"
    finally:
        conn.close()
    if version is None:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        return f"{p} is a SQLite database without heatreuse tables" + (
            f" (it holds {len(tables)} other table(s): {shown})" if tables else " (it is empty)"
        )
    return None


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

    def __init__(self, parsed: StoreURL, create: bool = False) -> None:
        super().__init__(parsed)
        assert parsed.path is not None
        self.path = parsed.path
        if not create:
            found = find_store(parsed)
            if found is not None:
                raise store_not_found(parsed, found)
        self._conn = connect(parsed.path, parsed.synchronous, create=create)
        self._max_vars = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._session = _Session(self._conn)
        try:
            if create:
                self._conn.execute(SCHEMA_VERSION_DDL)
                self.apply_migrations("store", STORE_MIGRATIONS)
            else:
                self.require_schema("store", STORE_MIGRATIONS)
        except BaseException:
            self._conn.close()
            raise

    def _close(self) -> None:
        self._conn.close()

    def _limit_cache(self, cache_mib: float) -> None:
        kib = max(64, int(cache_mib * 1024))
        self._conn.execute(f"PRAGMA cache_size = -{kib}")  # negative: KiB, not pages

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

    def _vacuum(self) -> None:
        if self.path == ":memory:":
            return
        try:
            self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path!r}: VACUUM failed ({exc})") from exc

    def database_bytes(self) -> int:
        with self._lock:
            self._check_open()
            # the file's pages (free pages included: they are on disk until VACUUM)
            pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
            size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return int(pages) * int(size)

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

    def _fetch_minute_stats(
        self, tx: SQLSession, series_ids: Sequence[int], lo_us: int, hi_us: int
    ) -> dict[str, npt.NDArray[Any]]:
        table = rollups.ROLLUP_TABLES["1min"][0]
        sql = (
            f"SELECT bucket_us, n, vmin, vmax, vsum FROM {table} "
            "WHERE series_id = ? AND bucket_us >= ? AND bucket_us < ? ORDER BY bucket_us"
        )
        cur = self._conn.cursor()
        parts: list[npt.NDArray[Any]] = []
        sids: list[npt.NDArray[np.int64]] = []
        for s in sorted(int(x) for x in series_ids):
            rows = cur.execute(sql, (s, int(lo_us), int(hi_us))).fetchall()
            parts.append(np.fromiter(rows, dtype=_STATS_DTYPE, count=len(rows)))
            sids.append(np.full(len(rows), s, dtype=np.int64))
        arr = np.concatenate(parts) if parts else np.empty(0, dtype=_STATS_DTYPE)
        out: dict[str, npt.NDArray[Any]] = {c: arr[c].copy() for c in _STATS_DTYPE.names or ()}
        out["series_id"] = np.concatenate(sids) if sids else np.empty(0, np.int64)
        return out

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
