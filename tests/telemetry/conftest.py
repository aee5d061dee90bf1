"""Fixtures of the telemetry tests: the example site and a store on each backend."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from heatreuse.site import Site, load_site
from heatreuse.store import open_store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
#: A fixed "now" for the injectable clock (after the example's commissioning date).
NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def site() -> Site:
    return load_site(EXAMPLE)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh store: SQLite file in tmp_path, or an own PostgreSQL schema (dropped after)."""
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path / 'store.db'}", create=True)
        try:
            yield s
        finally:
            s.close()
        return
    schema = "t_tel_" + uuid.uuid4().hex[:12]
    s = open_store(f"{PG_URL}?schema={schema}", create=True)
    try:
        yield s
    finally:
        s.close()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Any]:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}", create=True)
    try:
        yield s
    finally:
        s.close()
