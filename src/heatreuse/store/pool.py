"""Several connections to one store, shared by the threads of a server: :class:`StorePool`.

A :class:`~heatreuse.store.base.Store` owns one database connection and serialises its
calls with a lock. An HTTP API answering 50 clients at once through one store queues
every request (a token check included) behind the longest read. The pool holds ``size``
stores of the same URL; each call takes a free one (waiting while all are busy), so
reads run side by side (SQLite WAL: readers do not wait for each other or the writer;
PostgreSQL: separate sessions).

Semantics kept from a single store:

* a ``with pool.transaction():`` block pins one store to the thread until the block
  ends: every pool call inside it (from the same thread) joins that transaction, as
  nested calls on one store do;
* attributes that are not methods (``url``, ``dialect``) come from the first store;
* ``close()`` closes every store.

A method returning an iterator (``iter_quarantine``) runs it later on the store that
answered; that store's own lock keeps it correct.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from heatreuse.errors import HeatreuseError
from heatreuse.store.base import SQLSession, Store

__all__ = ["StorePool"]


class StorePool:
    """Calls spread over ``stores`` (open stores of one database), one call per store at a time.

    Parameters
    ----------
    stores
        Open stores of the same database (:func:`heatreuse.store.open_store` called once
        per connection). The pool owns them: :meth:`close` closes them.
    """

    def __init__(self, stores: Sequence[Store]) -> None:
        if not stores:
            raise HeatreuseError("StorePool: expected at least one open store, got none")
        self._stores = list(stores)
        self._free: queue.LifoQueue[Store] = queue.LifoQueue()
        for store in self._stores:
            self._free.put(store)
        self._local = threading.local()

    @property
    def size(self) -> int:
        """Connections in the pool."""
        return len(self._stores)

    @contextmanager
    def _pinned(self) -> Iterator[Store]:
        """The thread's pinned store (inside a transaction), else a free one for the call."""
        current: Store | None = getattr(self._local, "store", None)
        if current is not None:
            yield current
            return
        store = self._free.get()
        self._local.store = store
        try:
            yield store
        finally:
            self._local.store = None
            self._free.put(store)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[SQLSession]:
        """:meth:`Store.transaction` on one store, pinned to this thread until the block ends."""
        with self._pinned() as store, store.transaction(write) as tx:
            yield tx

    def close(self) -> None:
        """Close every store of the pool."""
        for store in self._stores:
            store.close()

    def __enter__(self) -> StorePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._stores[0], name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._pinned() as store:
                method: Callable[..., Any] = getattr(store, name)
                return method(*args, **kwargs)

        call.__name__ = name
        call.__doc__ = getattr(attr, "__doc__", None)
        return call
