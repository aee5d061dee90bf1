"""The API's own store connections under ``serve --http`` (both backends).

:func:`heatreuse.api.app._own_connections` gives the API a pool of reader connections
and one for token checks, apart from the ingest connection: what one writes the others
read, and an in-memory store (which cannot be opened twice) is shared instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from heatreuse.api.app import READER_CACHE_MIB, _own_connections
from heatreuse.store import open_store
from heatreuse.store.pool import StorePool


def test_readers_and_token_checks_get_connections_of_their_own(backend_url: str) -> None:
    ingest = open_store(backend_url, create=True)
    pool, auth = _own_connections(ingest, 3)
    try:
        assert isinstance(pool, StorePool) and pool.size == 3
        assert auth is not None and auth is not ingest
        ts_us = np.arange(10, dtype=np.int64) * 1_000_000 + 1_767_225_600_000_000
        ingest.write_readings("site-a", "hx.supply_temp_c", ts_us, np.full(10, 40.0))
        assert [s.count_readings("site-a") for s in pool._stores] == [10] * 3  # each reader
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


def test_parallel_wrong_logins_each_count_toward_the_lockout(backend_url: str) -> None:
    """Logins run on several connections (the pool's writer, other processes): each
    attempt must read the failure count the previous one wrote, or parallel guesses
    would get more tries than the lockout allows. Every wrong attempt counts."""
    import threading

    from heatreuse.services import people
    from heatreuse.store import people as rows

    ingest = open_store(backend_url, create=True)
    people.add_user(
        ingest,
        "ana",
        "correct horse battery",
        "admin",
        "site-a",
        by="setup",
        hasher=people.cheap_hasher(),
    )
    pool, auth = _own_connections(ingest, 4)
    stores = [pool, auth, ingest]  # three connections at once
    policy = people.LoginPolicy(max_attempts_per_address=10_000, lockout_after=1_000)
    errors: list[BaseException] = []

    def guess(k: int) -> None:
        try:
            for j in range(5):
                people.login(
                    stores[k % 3],
                    "ana",
                    "wrong",
                    address=f"10.0.{k}.{j}",
                    policy=policy,
                    hasher=people.cheap_hasher(),
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guess, args=(k,)) for k in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors
        user = rows.get_user(ingest, "ana")
        assert user is not None and user.failed_logins == 30
    finally:
        pool.close()
        auth.close()
        ingest.close()


def test_a_write_request_uses_the_pools_writer(tmp_path: Path) -> None:
    from heatreuse.store.pool import WRITE_REQUEST

    url = f"sqlite:///{tmp_path / 'w.db'}"
    readers = [open_store(url, create=True), open_store(url)]
    writer = open_store(url)
    pool = StorePool(readers, writer=writer)
    try:
        with pool._pinned() as s:
            assert s in readers
        token = WRITE_REQUEST.set(True)
        try:
            with pool._pinned() as s:
                assert s is writer
            pool.set_meta("k", "v")
        finally:
            WRITE_REQUEST.reset(token)
        assert pool.get_meta("k") == "v"
    finally:
        pool.close()
