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
* ``close()`` closes every store;
* calls made while :data:`WRITE_REQUEST` is set (the API sets it for every request that
  may change state: POST, PUT, PATCH, DELETE) all go to one ``writer`` store, so writes
  are serialised in the process as they were on a single store; reads spread over the
  others.

A method returning an iterator (``iter_quarantine``) runs it later on the store that
answered; that store's own lock keeps it correct.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from heatreuse.errors import HeatreuseError
from heatreuse.store.base import SQLSession, Store

__all__ = ["WRITE_REQUEST", "StorePool"]

#: Set (True) while serving a request that may write: pool calls go to the writer store.
#: A context variable: it follows the request into the worker threads that serve it.
WRITE_REQUEST: ContextVar[bool] = ContextVar("heatreuse_write_request", default=False)


class StorePool:
    """Calls spread over ``stores`` (open stores of one database), one call per store at a time.

    Parameters
    ----------
    stores
        Open stores of the same database (:func:`heatreuse.store.open_store` called once
        per connection) for reads. The pool owns them: :meth:`close` closes them.
    writer
        The store of calls made under :data:`WRITE_REQUEST` (owned too); None: those
        calls take a free store like any other.
    """

    def __init__(self, stores: Sequence[Store], writer: Store | None = None) -> None:
        if not stores:
            raise HeatreuseError("StorePool: expected at least one open store, got none")
        self._stores = list(stores)
        self._free: queue.LifoQueue[Store] = queue.LifoQueue()
        for store in self._stores:
            self._free.put(store)
        self._writer = writer
        self._writer_free: queue.LifoQueue[Store] = queue.LifoQueue()
        if writer is not None:
            self._writer_free.put(writer)
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
        free = self._writer_free if self._writer is not None and WRITE_REQUEST.get() else self._free
        store = free.get()
        self._local.store = store
        try:
            yield store
        finally:
            self._local.store = None
            free.put(store)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[SQLSession]:
        """:meth:`Store.transaction` on one store, pinned to this thread until the block ends."""
        with self._pinned() as store, store.transaction(write) as tx:
            yield tx

    def close(self) -> None:
        """Close every store of the pool."""
        for store in [*self._stores, *([self._writer] if self._writer is not None else [])]:
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
