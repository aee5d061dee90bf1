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
* watch and respond: alerts (``upsert_alert``, ``list_alerts``, ``ack_alert``),
  silences, incidents and their timeline, corrective actions, the detection state
  and the append-only ``audit`` rows (logic in :mod:`heatreuse.services.monitoring`);
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
from typing import Any

from heatreuse.errors import StoreNotFoundError, StoreVersionError
from heatreuse.locations import (
    StoreURL,
    default_store_url,
    heatreuse_home,
    parse_store_url,
    redact_url,
)
from heatreuse.store.base import (
    ActionRecord,
    AlertRecord,
    AuditRecord,
    Conflict,
    DrillRecord,
    IncidentEvent,
    IncidentRecord,
    MaintenanceRecord,
    Migration,
    QuarantineReason,
    QuarantineRecord,
    RetentionResult,
    SealResult,
    SilenceRecord,
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
    "ActionRecord",
    "AlertRecord",
    "AuditRecord",
    "Conflict",
    "DrillRecord",
    "IncidentEvent",
    "IncidentRecord",
    "MaintenanceRecord",
    "Migration",
    "QuarantineReason",
    "QuarantineRecord",
    "RetentionResult",
    "SQLSession",
    "SealResult",
    "SilenceRecord",
    "Store",
    "StoreURL",
    "WriteResult",
    "default_store_url",
    "heatreuse_home",
    "init_store",
    "open_store",
    "parse_store_url",
    "to_epoch_us",
    "using_store",
]


def open_store(url: str | None = None, *, create: bool = False) -> Store:
    """Open the store at ``url``; create it only when asked to.

    Parameters
    ----------
    url
        ``sqlite:///relative.db``, ``sqlite:////abs/path.db``,
        ``postgresql://user@host:port/db[?schema=name]``; ``None`` means
        :func:`default_store_url`.
    create
        False (the default, for everything that reads): the store must exist at the
        newest schema version; opening creates and writes nothing (no file, folder,
        schema or table). True (writers: ingest, serve, ``ledger update``, ``store
        init``, the demo): a missing SQLite file is created with mode 0600 in a folder
        made with mode 0700, a missing PostgreSQL schema is created, and the tables
        are created or migrated to the newest version.

    Raises
    ------
    heatreuse.errors.StoreNotFoundError
        ``create`` is false and there is no heatreuse store at the URL; the message
        says what is there instead and how to create one.
    heatreuse.errors.StoreError
        Bad URL (the message names what came and what is expected), the database
        cannot be reached or opened, or (not creating) its schema version is older
        or newer than this heatreuse's.
    """
    parsed = parse_store_url(url if url is not None else default_store_url())
    try:
        if parsed.backend == "sqlite":
            from heatreuse.store.sqlite import SQLiteStore

            return SQLiteStore(parsed, create=create)
        from heatreuse.store.postgres import PostgresStore

        return PostgresStore(parsed, create=create)
    except StoreNotFoundError as exc:
        if url is not None:
            raise
        raise StoreNotFoundError(
            exc.url,
            f"{exc.found} (this is the default store, $HEATREUSE_HOME/heatreuse.db; "
            "--store URL names another)",
        ) from None


@contextlib.contextmanager
def using_store(
    url: str | None = None, store: Store | None = None, *, create: bool = False
) -> Iterator[Store]:
    """Use ``store`` if given (left open: its owner closes it), else open ``url`` and close
    it on exit. The one way services borrow or open a store; ``create`` as in
    :func:`open_store` (False: the store must exist)."""
    if store is not None:
        yield store
        return
    opened = open_store(url, create=create)
    try:
        yield opened
    finally:
        opened.close()


def init_store(url: str | None = None) -> dict[str, Any]:
    """Create the store at ``url`` if there is none, migrate it if it is older.

    ``heatreuse store init URL``: the explicit way to make a store that commands which
    only read can then use (see :func:`open_store` with ``create=True`` for what is
    created, and with which file modes).

    Returns
    -------
    dict
        ``url`` (password masked), ``action`` (``"created"``, ``"migrated"`` or
        ``"unchanged"``), ``schema_version_before`` (0 when created),
        ``schema_version`` and ``found`` (what was at the URL before a creation, else
        None).
    """
    found: str | None = None
    try:
        with open_store(url) as existing:
            before = existing.schema_version()
    except StoreNotFoundError as exc:
        before, found = 0, exc.found
    except StoreVersionError as exc:
        if exc.current > exc.newest:
            raise
        before = exc.current
    with open_store(url, create=True) as store:
        after = store.schema_version()
        shown = redact_url(store.url)
    action = "created" if found is not None else "migrated" if after != before else "unchanged"
    return {
        "url": shown,
        "action": action,
        "schema_version_before": before,
        "schema_version": after,
        "found": found,
    }
