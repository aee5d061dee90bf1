"""Time-series and system-of-record store: one interface, SQLite and PostgreSQL backends.

Usage::

    from heatreuse.store import open_store

    with open_store("sqlite:///site.db") as store:   # or default_store_url()
        res = store.write_readings("site-a", "hx.supply_temp_c", ts_us, values_c)
        df = store.read_series("site-a", ["hx.supply_temp_c"], start, end, resolution="1h")

The interface (:class:`heatreuse.store.base.Store`, same on both backends):

* writes: ``write_readings`` (columnar, idempotent, conflicts returned),
  ``write_frame`` (wide UTC DataFrame), ``flush`` (durability barrier);
* reads: ``read_series`` (wide, UTC index, raw or 1min/15min/1h with an agg),
  ``read_rollup`` (long: count/min/max/sum/mean/first/last/delta),
  ``count_readings``, ``extent``, ``list_sites``, ``list_points``, ``summary``;
* quarantine: ``write_quarantine``, ``list_quarantine``, ``count_quarantine``;
* housekeeping: ``apply_retention``, ``get_meta``/``set_meta``,
  ``apply_migrations``/``schema_version`` (per component), ``transaction``
  (generic SQL for components with their own tables, e.g. the ledger);
* ``close`` / context manager.

Tables and migrations: :mod:`heatreuse.store.schema`; rollup arithmetic:
:mod:`heatreuse.store.rollups`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from heatreuse.locations import StoreURL, default_store_url, heatreuse_home, parse_store_url
from heatreuse.store.base import (
    Conflict,
    Migration,
    QuarantineReason,
    QuarantineRecord,
    RetentionResult,
    SQLSession,
    Store,
    WriteResult,
    to_epoch_us,
)
from heatreuse.store.rollups import ROLLUP_TABLES

#: Rollup resolutions, finest first (``"1min"``, ``"15min"``, ``"1h"``)
ROLLUP_RESOLUTIONS: tuple[str, ...] = tuple(ROLLUP_TABLES)

__all__ = [
    "ROLLUP_RESOLUTIONS",
    "Conflict",
    "Migration",
    "QuarantineReason",
    "QuarantineRecord",
    "RetentionResult",
    "SQLSession",
    "Store",
    "StoreURL",
    "WriteResult",
    "default_store_url",
    "heatreuse_home",
    "open_store",
    "parse_store_url",
    "to_epoch_us",
    "using_store",
]


def open_store(url: str | None = None) -> Store:
    """Open (creating and migrating if needed) the store at ``url``.

    Parameters
    ----------
    url
        ``sqlite:///relative.db``, ``sqlite:////abs/path.db``,
        ``postgresql://user@host:port/db[?schema=name]``; ``None`` means
        :func:`default_store_url`.

    Raises
    ------
    heatreuse.errors.StoreError
        Bad URL (the message names what came and what is expected), or the
        database cannot be reached or opened.
    """
    parsed = parse_store_url(url if url is not None else default_store_url())
    if parsed.backend == "sqlite":
        from heatreuse.store.sqlite import SQLiteStore

        return SQLiteStore(parsed)
    from heatreuse.store.postgres import PostgresStore

    return PostgresStore(parsed)


@contextlib.contextmanager
def using_store(url: str | None = None, store: Store | None = None) -> Iterator[Store]:
    """Use ``store`` if given (left open: its owner closes it), else open ``url`` and close
    it on exit. The one way services borrow or open a store."""
    if store is not None:
        yield store
        return
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.close()
