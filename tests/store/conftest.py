"""Fixtures of the store tests: one store per backend (SQLite in tmp_path, PostgreSQL schema).

PostgreSQL is the server at 127.0.0.1:5432 (user postgres, trust auth); each
test gets its own schema ``hr_test_<random>``, dropped afterwards. If the server
is not reachable the tests fail (never skip) with a message saying so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from heatreuse.store import Store, open_store

PG_URL = os.environ.get("HEATREUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _drop_schema(schema: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]


def _check_pg() -> None:
    try:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_URL} ({exc}); the store tests need the "
            "server on 127.0.0.1:5432 (user postgres, trust auth)",
            pytrace=False,
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, empty store on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    _check_pg()
    schema = "hr_test_" + uuid.uuid4().hex[:12]
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        _drop_schema(schema)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open store on each backend, closed after the test."""
    s = open_store(store_url, create=True)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def opener(store_url: str) -> Iterator[Callable[[], Store]]:
    """Open more connections to the same store (closed after the test)."""
    opened: list[Store] = []

    def _open() -> Store:
        s = open_store(store_url, create=True)
        opened.append(s)
        return s

    yield _open
    for s in opened:
        s.close()


@pytest.fixture
def tables_from_migration() -> Callable[[int], list[str]]:
    """Tables that store migrations ``version``, ``version + 1``, ... create (scratch SQLite).

    For tests that make a store look older than it is: they drop these tables and the
    schema-version rows, then reopen it.
    """
    import sqlite3

    from heatreuse.store.schema import STORE_MIGRATIONS

    def tables_from(version: int) -> list[str]:
        conn = sqlite3.connect(":memory:")

        def tables() -> set[str]:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            return {str(r[0]) for r in rows} - {"sqlite_sequence"}

        for m in STORE_MIGRATIONS[: version - 1]:
            for stmt in m.sqlite:
                conn.execute(stmt)
        before = tables()
        for m in STORE_MIGRATIONS[version - 1 :]:
            for stmt in m.sqlite:
                conn.execute(stmt)
        added = sorted(tables() - before)
        conn.close()
        return added

    return tables_from
