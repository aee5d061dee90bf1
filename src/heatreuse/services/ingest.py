"""Use cases of telemetry ingest: import a file, list the quarantine, open a pipeline.

These join the store (:mod:`heatreuse.store`) with the telemetry pipeline
(:mod:`heatreuse.telemetry`); the CLI and later ``heatreuse serve`` call them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heatreuse.errors import IngestError
from heatreuse.site import Site
from heatreuse.telemetry import Ingestor, IngestResult, PointRegistry
from heatreuse.telemetry.files import DEFAULT_CHUNK_ROWS, FileChunk, open_readings_file
from heatreuse.telemetry.validate import REASONS, CheckedBatch, ReadingBatch


@dataclass(frozen=True)
class FileIngestReport:
    """Outcome of importing one file.

    Attributes
    ----------
    path
        The file.
    file_format
        ``csv`` or ``parquet``.
    layout
        ``long`` or ``wide``.
    result
        Counts: received, accepted, duplicates, quarantined by reason, skipped
        empty cells (wide files).
    duration_s
        Wall time of the import [s].
    """

    path: Path
    file_format: str
    layout: str
    result: IngestResult
    duration_s: float

    @property
    def readings_per_s(self) -> float:
        """Throughput [readings/s]."""
        return self.result.received / self.duration_s if self.duration_s > 0 else 0.0


def opened_store(
    store_url: str | None = None, *, create: bool = False
) -> contextlib.AbstractContextManager[Any]:
    """Open the store at ``store_url`` (default: :func:`heatreuse.store.default_store_url`),
    closed on exit; ``create`` as in :func:`heatreuse.store.open_store` (False: it
    must exist, for commands that only read)."""
    from heatreuse.store import using_store

    return using_store(store_url, create=create)


def parse_not_before(text: str | None) -> dt.datetime | None:
    """Parse a ``--not-before`` value: ISO date (00:00 UTC) or date-time with offset.

    Raises
    ------
    IngestError
        Naive date-times (the zone is never guessed) and unparseable text.
    """
    if text is None:
        return None
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            return dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC)
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise IngestError(
            f"--not-before: expected a date (2026-01-01, read as 00:00 UTC) or a date-time "
            f"with offset (2026-01-01T00:00+01:00); got {text!r}"
        ) from None
    if when.tzinfo is None:
        raise IngestError(
            f"--not-before: {text!r} has no UTC offset; add 'Z' or '+01:00' (never guessed)"
        )
    return when


def make_ingestor(
    site: Site,
    store: Any,
    *,
    not_before: dt.datetime | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    max_future_s: float = 300.0,
) -> Ingestor:
    """The site's ingest pipeline on an open store."""
    return Ingestor(
        site,
        store,
        PointRegistry.from_site(site),
        clock=clock,
        max_future_s=max_future_s,
        not_before=not_before,
    )


def ingest_file(
    site: Site,
    path: str | Path,
    store: Any,
    *,
    ingestor: Ingestor | None = None,
    not_before: dt.datetime | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_open: Callable[[int, str], None] | None = None,
    progress: Callable[[int], None] | None = None,
    seal: bool = True,
) -> FileIngestReport:
    """Import a CSV or Parquet readings file into the store.

    Parameters
    ----------
    site
        The site the readings belong to.
    path
        The file (format: :mod:`heatreuse.telemetry.files`).
    store
        An open store.
    ingestor
        Pipeline to use; default a new one (:func:`make_ingestor`).
    not_before
        Earliest accepted timestamp (default: the site's commissioning date).
    chunk_rows
        Rows per chunk and store transaction.
    on_open
        Called once with (total work, unit) -- bytes for CSV, rows for Parquet.
    progress
        Called after each committed chunk with the work done so far.
    seal
        After the import, seal the whole UTC days older than the store's hot window
        into compressed blocks (:meth:`heatreuse.store.Store.seal`): an import of
        history lands compact. Reads are the same either way.

    Returns
    -------
    FileIngestReport
        Counts by outcome; nothing is dropped silently.

    Raises
    ------
    IngestError
        The file cannot be read, or holds naive timestamps (names the row).
    """
    start = time.perf_counter()
    readings_file = open_readings_file(path, chunk_rows=chunk_rows)
    pipeline = ingestor or make_ingestor(site, store, not_before=not_before)
    if on_open is not None:
        on_open(readings_file.total, readings_file.total_unit)
    result = IngestResult()
    for chunk, checked in _read_ahead(readings_file.chunks(), pipeline.check_batch):
        part = pipeline.store_checked(checked)
        result = result.merge(
            IngestResult(
                received=part.received,
                accepted=part.accepted,
                duplicates=part.duplicates,
                quarantined=part.quarantined,
                skipped_empty_cells=chunk.skipped_empty_cells,
            )
        )
        if progress is not None:
            progress(chunk.progress)
    sealer = getattr(store, "seal", None)
    if seal and result.accepted and callable(sealer):
        sealer()
    flush = getattr(store, "flush", None)
    if callable(flush):
        flush()  # make the import durable on stable storage before reporting success
    return FileIngestReport(
        path=readings_file.path,
        file_format=readings_file.kind,
        layout=readings_file.layout,
        result=result,
        duration_s=time.perf_counter() - start,
    )


def _read_ahead(
    chunks: Iterator[FileChunk], check: Callable[[ReadingBatch], CheckedBatch]
) -> Iterator[tuple[FileChunk, CheckedBatch]]:
    """Yield ``(chunk, check(chunk.batch))`` in file order; a worker thread runs ahead.

    Parsing (pyarrow) and the checks that need no store (numpy) of the next
    chunk run in a worker thread while the caller stores the previous chunk:
    both sides release the GIL for most of their time (pyarrow, numpy, and the
    store's I/O: a PostgreSQL COPY waits on the socket, SQLite steps without
    the GIL), so on two cores the parse costs next to no wall time. At most
    one checked chunk waits (memory: two chunks plus the one being stored).

    An error raised while parsing (a naive timestamp, a broken CSV; the
    message names file and row) is raised here when its chunk's turn comes,
    after every earlier chunk was stored, as without the worker. If the caller
    stops early (an error while storing, ``KeyboardInterrupt``) the worker is
    told to stop and is waited for; it finishes at most the chunk in hand.
    """
    slot: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def work() -> None:
        try:
            for chunk in chunks:
                slot.put(("item", (chunk, check(chunk.batch))))
                if stop.is_set():
                    return
            slot.put(("end", None))
        except BaseException as exc:  # handed over: raised in the caller's thread
            slot.put(("error", exc))
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()

    worker = threading.Thread(target=work, name="heatreuse-ingest-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = slot.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # take what the worker hands over, so it sees the stop
            with contextlib.suppress(queue.Empty):
                slot.get(timeout=0.05)
        worker.join()


def list_quarantine(
    site: Site,
    store: Any,
    *,
    reason: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Quarantined readings of a site, newest first, as plain dicts.

    The first ``limit`` rows of :func:`iter_quarantine` (after ``offset``).

    Raises
    ------
    IngestError
        Unknown reason, a limit below 1 or a negative offset.
    """
    if limit < 1:
        raise IngestError(f"--limit: expected a positive number, got {limit}")
    return list(iter_quarantine(site, store, reason=reason, limit=limit, offset=offset))


def iter_quarantine(
    site: Site,
    store: Any,
    *,
    reason: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Iterator[dict[str, Any]]:
    """Stream quarantined readings of a site, newest first, as plain dicts.

    Memory stays bounded however many rows there are (the store reads them in
    pages, each text column bounded). Each dict has ``id``, ``received_at``
    and ``ts`` (ISO UTC or None), ``point``, ``reason``, ``source``, ``detail``
    (what was expected, what came), ``raw`` (the kept text of the payload),
    ``raw_size_bytes`` and ``raw_sha256`` (of the whole payload as received),
    ``raw_truncated`` (only a prefix is kept) and ``raw_escaped`` (control
    characters, lone surrogates or bytes that were not UTF-8 are shown as
    escapes); see :func:`heatreuse.rawtext.capped_payload`.

    Parameters
    ----------
    limit
        At most this many rows (None: all).
    offset
        Skip the newest ``offset`` rows (the next page: ``offset + limit``).

    Raises
    ------
    IngestError
        Unknown reason, a negative limit or offset.
    """
    if reason is not None and reason not in REASONS:
        raise IngestError(
            f"--reason: unknown quarantine reason {reason!r}; expected one of {', '.join(REASONS)}"
        )
    if limit is not None and limit < 0:
        raise IngestError(f"--limit: expected a number >= 0, got {limit}")
    if offset < 0:
        raise IngestError(f"--offset: expected a number >= 0, got {offset}")
    for r in store.iter_quarantine(site.id, reason=reason, limit=limit, offset=offset):
        yield _quarantine_row(r)


def _iso(ts_us: int | None) -> str | None:
    if ts_us is None:
        return None
    from heatreuse.telemetry import format_ts_us

    return format_ts_us(int(ts_us))


def _quarantine_row(r: Any) -> dict[str, Any]:
    from heatreuse.rawtext import parse_capped, payload_facts

    stored = str(r.raw_payload)
    facts = payload_facts(stored)
    full = getattr(r, "stored_chars", None)
    cut_on_read = full is not None and full > len(stored)
    size: int | None = facts.size_bytes
    sha: str | None = facts.sha256
    if cut_on_read and parse_capped(stored) is None:
        # a row written before payloads were capped, read back cut: size and hash unknown
        size = sha = None
    return {
        "id": r.id,
        "received_at": _iso(r.received_at_us),
        "point": r.point_id or "",
        "ts": _iso(r.ts_us),
        "reason": str(r.reason),
        "source": r.source,
        "raw": facts.text,
        "raw_size_bytes": size,
        "raw_sha256": sha,
        "raw_truncated": facts.truncated or cut_on_read,
        "raw_escaped": facts.form == "escaped",
        "detail": r.detail,
    }
