"""Opening a store: only ``create=True`` creates; readers find what is there and say so.

Both backends (the ``store_url`` fixture: a SQLite path in tmp_path, a PostgreSQL
schema that does not exist yet). File modes are checked under a umask of 022,
the common default that made stores world-readable (0644) before.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from heatreuse.errors import StoreError, StoreNotFoundError, StoreVersionError
from heatreuse.store import init_store, open_store, parse_store_url
from heatreuse.store.rollups import HOUR_BLOCK_TABLE
from heatreuse.store.schema import SCHEMA_VERSION_DDL, STORE_MIGRATIONS

PG_URL = os.environ.get("HEATREUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _pg_tables(schema: str) -> list[str]:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'v') ORDER BY 1",
            (schema,),
        ).fetchall()
    return [r[0] for r in rows]


def _pg_schema_exists(schema: str) -> bool:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        return bool(
            conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        )


def _nothing_at(url: str) -> bool:
    """True if there is no file (SQLite) or no schema (PostgreSQL) at ``url``."""
    parsed = parse_store_url(url)
    if parsed.backend == "sqlite":
        assert parsed.path is not None
        return not Path(parsed.path).exists()
    assert parsed.schema is not None
    return not _pg_schema_exists(parsed.schema)


def test_open_without_create_refuses_a_missing_store_and_creates_nothing(store_url: str) -> None:
    with pytest.raises(StoreNotFoundError) as err:
        open_store(store_url)
    msg = str(err.value)
    assert f"no heatreuse store at {store_url}" in msg
    assert "heatreuse store init" in msg
    parsed = parse_store_url(store_url)
    if parsed.backend == "sqlite":
        assert f"no file {parsed.path}" in msg
    else:
        assert f"has no schema {parsed.schema!r}" in msg
    assert _nothing_at(store_url)  # no file, no schema
    with open_store(store_url, create=True) as store:  # a writer creates it
        assert store.schema_version() == len(STORE_MIGRATIONS)
    with open_store(store_url) as store:  # and now a reader finds it
        assert store.count_readings("site-a") == 0


def test_missing_sqlite_folder_is_not_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo' / 'heatreuse.dbb'}"
    with pytest.raises(StoreNotFoundError, match=r"no folder .*typo"):
        open_store(url)
    assert not (tmp_path / "typo").exists()


def test_empty_postgres_schema_is_not_a_store_and_stays_empty(store_url: str) -> None:
    parsed = parse_store_url(store_url)
    if parsed.backend == "sqlite":  # the SQLite twin: an empty file stays empty
        assert parsed.path is not None
        Path(parsed.path).touch()
        with pytest.raises(StoreNotFoundError, match="is an empty file"):
            open_store(store_url)
        assert Path(parsed.path).stat().st_size == 0
        return
    assert parsed.schema is not None
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{parsed.schema}"')  # type: ignore[arg-type]
    with pytest.raises(StoreNotFoundError) as err:
        open_store(store_url)
    assert f"schema {parsed.schema!r} of database 'postgres' has no heatreuse tables" in str(
        err.value
    )
    assert _pg_tables(parsed.schema) == []


def test_postgres_database_default_schema_gets_no_tables() -> None:
    """The reported case: ``store info --store postgresql://.../DB`` filled ``public``."""
    db = f"hr_test_db_{os.getpid()}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}"')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{db}"')  # type: ignore[arg-type]
    url = PG_URL.rsplit("/", 1)[0] + f"/{db}"
    try:
        with pytest.raises(StoreNotFoundError, match=r"schema 'public' of database .* is empty"):
            open_store(url)
        with psycopg.connect(url, autocommit=True) as conn:
            n = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public'"
            ).fetchone()
        assert n is not None and n[0] == 0
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}"')  # type: ignore[arg-type]


def test_a_foreign_sqlite_database_or_file_is_named_and_left_unchanged(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    with pytest.raises(StoreNotFoundError, match=r"SQLite database without heatreuse tables"):
        open_store(f"sqlite:///{other}")
    assert other.read_bytes() == before
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    with pytest.raises(StoreNotFoundError, match="is a file that is not a SQLite database"):
        open_store(f"sqlite:///{text}")
    with pytest.raises(StoreNotFoundError, match="is a folder"):
        open_store(f"sqlite:///{tmp_path}")
    with pytest.raises(StoreNotFoundError, match="in-memory"):
        open_store("sqlite:///:memory:")


def test_relative_sqlite_path_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreNotFoundError) as err:
        open_store("sqlite:///tmp/x.db")
    msg = str(err.value)
    assert f"no file {tmp_path / 'tmp' / 'x.db'}" in msg
    assert "relative" in msg and f"working directory {tmp_path}" in msg
    assert "sqlite:////tmp/x.db (four slashes)" in msg
    assert not (tmp_path / "tmp").exists()
    # an absolute path says nothing about relative paths
    with pytest.raises(StoreNotFoundError) as err:
        open_store(f"sqlite:///{tmp_path / 'x.db'}")
    assert "three slashes" not in str(err.value)


def test_default_store_is_named_and_heatreuse_home_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HEATREUSE_HOME", str(home))
    with pytest.raises(StoreNotFoundError, match=r"this is the default store"):
        open_store()
    assert not home.exists()


def _make_v1_store(url: str) -> None:
    """A store as heatreuse left it before migration 2: only migration 1 applied."""
    first = STORE_MIGRATIONS[0]
    row = (
        "INSERT INTO schema_version (component, version, description, applied_at_us) "
        f"VALUES ('store', 1, '{first.description}', 0)"
    )
    parsed = parse_store_url(url)
    if parsed.backend == "sqlite":
        assert parsed.path is not None
        conn = sqlite3.connect(parsed.path)
        for stmt in (SCHEMA_VERSION_DDL, *first.sqlite, row):
            conn.execute(stmt)
        conn.commit()
        conn.close()
        return
    with psycopg.connect(PG_URL, autocommit=True) as pg:
        pg.execute(f'CREATE SCHEMA "{parsed.schema}"')  # type: ignore[arg-type]
        pg.execute(f'SET search_path TO "{parsed.schema}"')  # type: ignore[arg-type]
        for stmt in (SCHEMA_VERSION_DDL, *first.postgresql, row):
            pg.execute(stmt)  # type: ignore[arg-type]


def _has_hour_blocks(url: str) -> bool:
    parsed = parse_store_url(url)
    if parsed.backend == "sqlite":
        assert parsed.path is not None
        conn = sqlite3.connect(parsed.path)
        try:
            return bool(
                conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = ?", (HOUR_BLOCK_TABLE,)
                ).fetchone()
            )
        finally:
            conn.close()
    assert parsed.schema is not None
    return HOUR_BLOCK_TABLE in _pg_tables(parsed.schema)


def test_reader_refuses_an_older_schema_without_migrating_and_init_migrates(
    store_url: str,
) -> None:
    newest = len(STORE_MIGRATIONS)
    _make_v1_store(store_url)
    with pytest.raises(StoreVersionError) as err:
        open_store(store_url)
    msg = str(err.value)
    assert "schema version 1" in msg and f"reads version {newest}" in msg
    assert "heatreuse store init" in msg
    assert (err.value.current, err.value.newest) == (1, newest)
    assert not _has_hour_blocks(store_url)  # the reader wrote nothing
    res = init_store(store_url)
    assert res["action"] == "migrated"
    assert (res["schema_version_before"], res["schema_version"]) == (1, newest)
    assert _has_hour_blocks(store_url)
    with open_store(store_url) as store:
        assert store.count_readings("site-a") == 0


def test_reader_refuses_a_newer_schema(store_url: str) -> None:
    with open_store(store_url, create=True) as store, store.transaction() as tx:
        tx.execute(
            "INSERT INTO schema_version (component, version, description, applied_at_us) "
            "VALUES ('store', 99, 'from the future', 0)"
        )
    with pytest.raises(StoreVersionError, match="newer than this heatreuse knows"):
        open_store(store_url)
    with pytest.raises(StoreError, match="newer than this heatreuse knows"):
        init_store(store_url)


def test_init_store_creates_once(store_url: str) -> None:
    first = init_store(store_url)
    assert first["action"] == "created" and first["schema_version_before"] == 0
    assert first["schema_version"] == len(STORE_MIGRATIONS)
    assert first["found"]  # what was there before: no file / no schema
    second = init_store(store_url)
    assert second["action"] == "unchanged" and second["found"] is None


def test_password_is_masked_in_the_message() -> None:
    url = "postgresql://postgres:s3cret@127.0.0.1:5432/postgres?schema=hr_test_no_such_schema"
    with pytest.raises(StoreNotFoundError) as err:
        open_store(url)
    assert "s3cret" not in str(err.value) and "postgres:***@" in str(err.value)
    assert not _pg_schema_exists("hr_test_no_such_schema")


@pytest.mark.usefixtures("umask_022")
def test_sqlite_store_and_side_files_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "data" / "site" / "heatreuse.db"
    with open_store(f"sqlite:///{db}", create=True) as store:
        store.write_readings("site-a", "hx.heat_power_w", [0], [1.0])
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        assert wal.exists() and shm.exists()  # WAL mode keeps them while open
        assert (_mode(db), _mode(wal), _mode(shm)) == (0o600, 0o600, 0o600)
    assert _mode(tmp_path / "data") == 0o700
    assert _mode(tmp_path / "data" / "site") == 0o700


@pytest.mark.usefixtures("umask_022")
def test_existing_modes_are_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    db = shared / "heatreuse.db"
    with open_store(f"sqlite:///{db}", create=True):
        pass
    os.chmod(db, 0o640)  # the operator's choice, e.g. a group of auditors
    with open_store(f"sqlite:///{db}", create=True) as store:
        store.write_readings("site-a", "hx.heat_power_w", [0], [1.0])
    with open_store(f"sqlite:///{db}") as store:
        assert store.count_readings("site-a") == 1
    assert _mode(shared) == 0o755
    assert _mode(db) == 0o640
