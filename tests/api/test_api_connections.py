"""The API's own store connections under ``serve --http`` (both backends).

:func:`heatreuse.api.app._own_connections` gives the API a pool of reader connections
and one for token checks, apart from the ingest connection: what one writes the others
read, and an in-memory store (which cannot be opened twice) is shared instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from heatreuse.api.app import READER_CACHE_MIB, _own_connections
from heatreuse.store import open_store
from heatreuse.store.pool import StorePool

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'api.db'}"
        return
    schema = "t_api_conn_" + uuid.uuid4().hex[:12]
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # type: ignore[arg-type]


def test_readers_and_token_checks_get_connections_of_their_own(url: str) -> None:
    ingest = open_store(url, create=True)
    pool, auth = _own_connections(ingest, 3)
    try:
        assert isinstance(pool, StorePool) and pool.size == 3
        assert auth is not None and auth is not ingest
        ts_us = np.arange(10, dtype=np.int64) * 1_000_000 + 1_767_225_600_000_000
        ingest.write_readings("site-a", "hx.supply_temp_c", ts_us, np.full(10, 40.0))
        assert [pool.count_readings("site-a") for _ in range(6)] == [10] * 6
        auth.set_meta("session.not_before.ana", "123")
        assert pool.get_meta("session.not_before.ana") == "123"
        if ingest.dialect == "sqlite":
            with auth.transaction(write=False) as tx:
                assert list(tx.execute("PRAGMA cache_size")) == [(-int(READER_CACHE_MIB * 1024),)]
    finally:
        pool.close()
        auth.close()
        ingest.close()


def test_an_in_memory_store_is_shared() -> None:
    with open_store("sqlite:///:memory:", create=True) as mem:
        api_store, auth = _own_connections(mem, 4)
        assert api_store is mem and auth is None
