"""StorePool: several connections to one store behind the store's interface (both backends).

The API of ``heatreuse serve --http`` reads through a pool so 50 clients do not queue
behind one connection; these tests pin what a single store guaranteed and the pool must
keep: a transaction block sees its own writes and rolls back as one, calls from many
threads answer right, a call waits for a free connection, close closes all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from heatreuse.errors import HeatreuseError, StoreError
from heatreuse.store import open_store
from heatreuse.store.pool import StorePool

SITE = "pool-site"


@pytest.fixture
def pool(store_url: str) -> Iterator[StorePool]:
    first = open_store(store_url, create=True)
    p = StorePool([first, open_store(store_url), open_store(store_url)])
    try:
        yield p
    finally:
        p.close()


def test_a_pool_needs_a_store() -> None:
    with pytest.raises(HeatreuseError, match="at least one open store"):
        StorePool([])


def test_writes_on_one_connection_are_read_on_every_other(pool: StorePool) -> None:
    ts_us = np.arange(100, dtype=np.int64) * 1_000_000 + 1_767_225_600_000_000
    pool.write_readings(SITE, "hx.supply_temp_c", ts_us, np.full(100, 41.0))
    counts: list[int] = []
    errors: list[BaseException] = []

    def count() -> None:
        try:
            for _ in range(5):
                counts.append(pool.count_readings(SITE))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=count) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert counts == [100] * 30
    assert pool.size == 3
    assert pool.url == pool._stores[0].url  # plain attributes come from a store


def test_a_transaction_block_is_one_connection_and_rolls_back_as_one(pool: StorePool) -> None:
    with pytest.raises(RuntimeError, match="abort"), pool.transaction():
        pool.set_meta("pool.test", "inside")  # joins the block's transaction
        assert pool.get_meta("pool.test") == "inside"  # sees its own write
        raise RuntimeError("abort")
    assert pool.get_meta("pool.test") is None  # nothing of the block was committed
    with pool.transaction():
        pool.set_meta("pool.test", "kept")
    assert pool.get_meta("pool.test") == "kept"


def test_a_call_waits_for_a_free_connection(store_url: str) -> None:
    pool = StorePool([open_store(store_url, create=True)])
    inside, release = threading.Event(), threading.Event()
    seen: list[str | None] = []

    def hold() -> None:
        with pool.transaction():
            pool.set_meta("pool.wait", "written in the block")
            inside.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(30)
    reader = threading.Thread(target=lambda: seen.append(pool.get_meta("pool.wait")))
    reader.start()
    reader.join(0.5)
    assert reader.is_alive() and seen == []  # the only connection is pinned by the block
    release.set()
    holder.join(30)
    reader.join(30)
    assert seen == ["written in the block"]
    pool.close()


def test_close_closes_every_connection(store_url: str) -> None:
    stores = [open_store(store_url, create=True), open_store(store_url)]
    pool = StorePool(stores)
    pool.close()
    for store in stores:
        with pytest.raises(StoreError, match="used after close"):
            store.get_meta("x")


def test_limit_cache_caps_a_sqlite_connection_and_leaves_others(store_url: str) -> None:
    store = open_store(store_url, create=True)
    other = open_store(store_url)
    try:
        store.limit_cache(8)
        if store.dialect == "sqlite":
            with store.transaction(write=False) as tx:
                assert list(tx.execute("PRAGMA cache_size")) == [(-8192,)]  # KiB
            with other.transaction(write=False) as tx:
                assert list(tx.execute("PRAGMA cache_size")) == [(-65536,)]
        assert store.count_readings(SITE) == 0  # still a working store on both backends
    finally:
        store.close()
        other.close()
