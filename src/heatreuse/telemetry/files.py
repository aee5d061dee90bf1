"""Read readings from CSV and Parquet files (parsing only; no store, no I/O besides the file).

File format (what ``heatreuse ingest`` accepts and the offline twin writes)
--------------------------------------------------------------------------
The format is chosen by extension: ``.csv`` (UTF-8, comma separated, one
header line; ``.csv.gz`` too) or ``.parquet``.

**Long format** (the twin writes this): exactly three columns, in any order::

    timestamp,point_id,value
    2026-01-10T06:00:00Z,hx.secondary_supply_temp_c,41.25
    2026-01-10T06:00:00Z,meter.heat_energy_kwh,18234.5
    2026-01-10T06:00:10.5+01:00,pump.p-primary.status,1

* ``timestamp``: ISO 8601 with ``Z`` or a UTC offset (``+01:00``); fractional
  seconds allowed (microseconds kept). In Parquet either such text or a
  ``timestamp[*, tz=...]`` column (e.g. ``timestamp[us, tz=UTC]``).
* ``point_id``: the canonical point id (``heatreuse points list``) or a source
  key (``mqtt:...``, ``modbus:device:address``, ``file:column``).
* ``value``: a number in the point's unit (``.`` decimal point; ``nan``/``inf``
  are read and quarantined as ``not_finite``; status points 0 or 1). Parquet:
  float64 (or any integer/bool type). A pandas index stored as
  ``__index_level_N__`` is ignored.

**Wide format**: a ``timestamp`` column plus one column per point, named by
point id (or the point's ``source.file_column``)::

    timestamp,rack.tank-a.it_power_w,customer.supply_temp_c
    2026-01-10T06:00:00Z,25400.0,38.1

An empty cell in the wide format means "no reading" and is counted as a
skipped empty cell (reported, not quarantined); in the long format an empty
value is a reading without a value and is quarantined (``wrong_type``).

Refusals
--------
* A file that cannot be read at all (missing, not CSV/Parquet, no
  ``timestamp`` column, a long file with extra columns) raises
  :class:`heatreuse.errors.IngestError` naming the file and the problem.
* Naive timestamps (no offset) are never guessed: :class:`IngestError` naming
  the file and the first bad row. Chunks before that row (up to ``chunk_rows``
  rows each) may already be stored; re-importing after the fix is idempotent.
* Bad rows (unparseable timestamp, missing point id, non-numeric value) become
  readings with a parse-time reason and are quarantined by the pipeline with
  source ``file:PATH:ROW``. ROW is the 1-based data row (the header line is
  not counted; in a CSV the row is on line ROW + 1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from heatreuse.errors import IngestError
from heatreuse.telemetry.validate import UNPARSEABLE, WRONG_TYPE, ReadingBatch

LONG_COLUMNS = ("timestamp", "point_id", "value")
#: Rows per chunk handed to the pipeline (one store transaction each).
DEFAULT_CHUNK_ROWS = 500_000
_OFFSET_RE = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"
_TS_US = pa.timestamp("us", tz="UTC")
_PANDAS_INDEX_RE = re.compile(r"^__index_level_\d+__$")
#: A full CSV chunk is read as this many blocks (the first chunk is one block).
_RAMP_BLOCKS = 8


@dataclass(frozen=True)
class FileChunk:
    """One chunk of a readings file, ready for :meth:`Ingestor.ingest_batch`.

    Attributes
    ----------
    batch
        The readings (long form, one row per reading).
    skipped_empty_cells
        Empty cells of a wide file in this chunk (no reading).
    progress
        Work done so far in :attr:`ReadingsFile.total` units (bytes or rows).
    """

    batch: ReadingBatch
    skipped_empty_cells: int
    progress: int


class ReadingsFile:
    """A CSV or Parquet readings file, opened and its header checked.

    Use :func:`open_readings_file`; iterate :meth:`chunks`.
    """

    def __init__(self, path: Path, kind: Literal["csv", "parquet"], chunk_rows: int) -> None:
        self.path = path
        self.kind = kind
        self.chunk_rows = chunk_rows
        self.source = f"file:{path}"
        if kind == "csv":
            self.columns = _csv_header(path)
            self.total = path.stat().st_size
            self.total_unit = "bytes"
        else:
            try:
                pf = pq.ParquetFile(path)
            except (OSError, pa.ArrowException) as exc:
                raise IngestError(f"{path}: cannot read as Parquet: {exc}") from None
            # pandas stores a non-default index as '__index_level_N__': not data
            self.columns = [c for c in pf.schema_arrow.names if not _PANDAS_INDEX_RE.match(c)]
            self.total = pf.metadata.num_rows
            self.total_unit = "rows"
        self.layout = _layout(path, self.columns)

    def chunks(self) -> Iterator[FileChunk]:
        """Parse the file chunk by chunk.

        Raises
        ------
        IngestError
            The file breaks mid-way (bad CSV quoting, truncated Parquet) or holds
            naive timestamps; the message names the file and the row.
        """
        row0 = 0
        for table, progress in self._tables():
            chunk = self._convert(table, row0, progress)
            row0 += table.num_rows
            yield chunk

    # ------------------------------------------------------------------ reading
    def _tables(self) -> Iterator[tuple[pa.Table, int]]:
        if self.kind == "csv":
            types: dict[str, pa.DataType] = dict.fromkeys(self.columns, pa.string())
            if self.layout == "long":
                types["point_id"] = pa.dictionary(pa.int32(), pa.string())
            block, per_chunk = _csv_blocks(self.chunk_rows)
            try:
                raw_file = pa.OSFile(str(self.path), "rb")
                stream: Any = (
                    pa.CompressedInputStream(raw_file, "gzip")
                    if self.path.name.lower().endswith(".gz")
                    else raw_file
                )
                reader = pacsv.open_csv(
                    stream,
                    # one block at a time, in this thread: the caller may parse in a worker
                    # thread while it stores the previous chunk, and the first chunk comes
                    # sooner than with a read-ahead of several blocks
                    read_options=pacsv.ReadOptions(block_size=block, use_threads=False),
                    convert_options=pacsv.ConvertOptions(
                        column_types=types,
                        strings_can_be_null=True,
                        null_values=[""],
                        quoted_strings_can_be_null=False,
                    ),
                )
            except (OSError, pa.ArrowException) as exc:
                raise IngestError(f"{self.path}: cannot read as CSV: {exc}") from None
            # chunks of 1, 2, 4, ... blocks up to a full chunk: the first chunk (which
            # nothing can overlap) is parsed in an eighth of the time of a full one
            try:
                yield from self._csv_tables(reader, raw_file, per_chunk)
            finally:
                raw_file.close()
        else:
            pf = pq.ParquetFile(self.path)
            done = 0
            try:
                for batch in pf.iter_batches(batch_size=self.chunk_rows, columns=self.columns):
                    done += batch.num_rows
                    yield pa.Table.from_batches([batch]), done
            except (OSError, pa.ArrowException) as exc:
                raise IngestError(
                    f"{self.path}: cannot read Parquet after data row {done}: {exc}"
                ) from None

    def _csv_tables(
        self, reader: Any, raw_file: pa.NativeFile, per_chunk: int
    ) -> Iterator[tuple[pa.Table, int]]:
        """Blocks of ``reader`` joined to chunks of 1, 2, 4, ... up to ``per_chunk`` blocks."""
        done = 0
        want = 1
        pending: list[pa.RecordBatch] = []
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (OSError, pa.ArrowException) as exc:
                if pending:  # the rows before the broken block, as with one chunk per block
                    yield pa.Table.from_batches(pending), min(raw_file.tell(), self.total)
                raise IngestError(
                    f"{self.path}: cannot read CSV after data row {done}: {exc}"
                ) from None
            done += batch.num_rows
            pending.append(batch)
            if len(pending) >= want:
                yield pa.Table.from_batches(pending), min(raw_file.tell(), self.total)
                pending = []
                want = min(2 * want, per_chunk)
        if pending:
            yield pa.Table.from_batches(pending), min(raw_file.tell(), self.total)

    # ------------------------------------------------------------------ converting
    def _convert(self, table: pa.Table, row0: int, progress: int) -> FileChunk:
        n = table.num_rows
        rows = np.arange(row0 + 1, row0 + n + 1, dtype=np.int64)
        ts_col = table.column("timestamp").combine_chunks()
        ts_us, ts_bad, ts_text = self._timestamps(ts_col, rows)
        if self.layout == "long":
            return self._long(table, n, rows, ts_us, ts_bad, ts_text, progress)
        return self._wide(table, n, rows, ts_us, ts_bad, ts_text, progress)

    def _timestamps(
        self, col: pa.Array, rows: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], pa.Array | None]:
        """(ts_us, unparseable mask, original text or None)."""
        n = len(col)
        if pa.types.is_timestamp(col.type):
            if col.type.tz is None:
                raise IngestError(
                    f"{self.path}: row 1: column 'timestamp' holds naive timestamps (a Parquet "
                    "timestamp type without time zone); expected a tz-aware timestamp column "
                    "(e.g. UTC) or ISO 8601 text with offset -- the zone is never guessed"
                )
            bad = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            us = pc.cast(col, _TS_US).cast(pa.int64()).fill_null(0)
            return us.to_numpy(), bad, None
        if pa.types.is_dictionary(col.type):
            col = col.cast(pa.string())
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            raise IngestError(
                f"{self.path}: column 'timestamp' has type {col.type}; expected ISO 8601 text "
                "with offset or a tz-aware timestamp column"
            )
        try:
            us = pc.cast(col, _TS_US).cast(pa.int64())
            if us.null_count == 0:
                return us.to_numpy(), np.zeros(n, dtype=bool), col
        except pa.ArrowInvalid:
            pass
        # slow path: find naive rows (refuse) and garbage rows (quarantine)
        has_offset = np.asarray(
            pc.fill_null(
                pc.match_substring_regex(pc.utf8_trim_whitespace(col), _OFFSET_RE), False
            ).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
        text = pd.Series(col.to_pandas(), dtype=object)
        parsed = pd.to_datetime(text.str.strip(), format="ISO8601", utc=True, errors="coerce")
        valid = parsed.notna().to_numpy()
        naive = valid & ~has_offset
        if naive.any():
            first = int(np.flatnonzero(naive)[0])
            raise IngestError(
                f"{self.path}: row {int(rows[first])}: naive timestamp {text.iloc[first]!r}; "
                "expected ISO 8601 with 'Z' or an offset such as +01:00 (the time zone is never "
                "guessed)"
                + (f"; rows before {int(rows[0])} were already imported" if rows[0] > 1 else "")
            )
        bad = ~(valid & has_offset)
        us_arr = (
            parsed.dt.tz_localize(None).dt.as_unit("us").to_numpy().view(np.int64)
            if not bad.all()
            else np.zeros(n, dtype=np.int64)
        )
        us_arr = np.where(bad, 0, us_arr).astype(np.int64)
        return us_arr, bad, col

    def _values(
        self, col: pa.Array
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """(values, null mask, not-a-number-text mask)."""
        n = len(col)
        null = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
            v = pc.cast(col, pa.float64()).fill_null(np.nan).to_numpy()
            return v, null, np.zeros(n, dtype=bool)
        if pa.types.is_boolean(col.type):
            v = pc.cast(col, pa.float64()).fill_null(np.nan).to_numpy()
            return v, null, np.zeros(n, dtype=bool)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            raise IngestError(
                f"{self.path}: value column has type {col.type}; expected numbers or text"
            )
        try:
            v = pc.cast(col, pa.float64()).fill_null(np.nan).to_numpy()
            return v, null, np.zeros(n, dtype=bool)
        except pa.ArrowInvalid:
            text = pd.Series(col.to_pandas(), dtype=object)
            num = pd.to_numeric(text.str.strip(), errors="coerce").to_numpy(dtype=np.float64)
            # "nan"/"inf" parse; anything else that became NaN is not a number
            lowered = text.str.strip().str.lower()
            is_nan_text = lowered.isin(["nan", "+nan", "-nan"]).to_numpy()
            wrong = np.isnan(num) & ~null & ~is_nan_text
            return num, null, wrong

    def _long(
        self,
        table: pa.Table,
        n: int,
        rows: npt.NDArray[np.int64],
        ts_us: npt.NDArray[np.int64],
        ts_bad: npt.NDArray[np.bool_],
        ts_text: pa.Array | None,
        progress: int,
    ) -> FileChunk:
        pid = table.column("point_id").combine_chunks()
        if not pa.types.is_dictionary(pid.type):
            if not (pa.types.is_string(pid.type) or pa.types.is_large_string(pid.type)):
                raise IngestError(
                    f"{self.path}: column 'point_id' has type {pid.type}; expected text"
                )
            pid = pc.dictionary_encode(pid)
        codes = pid.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        cats = [str(x) for x in pid.dictionary.to_pylist()]
        keys = _categorical(codes, cats)
        val_col = table.column("value").combine_chunks()
        values, null, wrong = self._values(val_col)
        pre = np.zeros(n, dtype=np.int8)
        pre[null | wrong] = WRONG_TYPE
        pre[ts_bad | (codes < 0)] = UNPARSEABLE

        def raw(pos: npt.NDArray[np.int64]) -> list[str]:
            take = pa.array(pos)
            t = _texts(ts_text.take(take) if ts_text is not None else None, ts_us[pos])
            p = [cats[c] if c >= 0 else "" for c in codes[pos]]
            v = _cell_texts(val_col.take(take))
            return [f"{a},{b},{c}" for a, b, c in zip(t, p, v, strict=True)]

        batch = ReadingBatch(
            point_keys=keys,
            ts_us=ts_us,
            values=values,
            source=self.source,
            pre_reasons=pre,
            rows=rows,
            raw=raw,
        )
        return FileChunk(batch=batch, skipped_empty_cells=0, progress=progress)

    def _wide(
        self,
        table: pa.Table,
        n: int,
        rows: npt.NDArray[np.int64],
        ts_us: npt.NDArray[np.int64],
        ts_bad: npt.NDArray[np.bool_],
        ts_text: pa.Array | None,
        progress: int,
    ) -> FileChunk:
        names = [c for c in table.column_names if c != "timestamp"]
        parts_v, parts_pre, parts_keep, raw_cols = [], [], [], []
        skipped = 0
        for name in names:
            col = table.column(name).combine_chunks()
            values, null, wrong = self._values(col)
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                blank = np.asarray(
                    pc.fill_null(pc.equal(pc.utf8_trim_whitespace(col), ""), True).to_numpy(
                        zero_copy_only=False
                    ),
                    dtype=bool,
                )
            else:
                blank = null
            keep = ~blank
            skipped += int(np.count_nonzero(blank))
            pre = np.zeros(n, dtype=np.int8)
            pre[wrong] = WRONG_TYPE
            pre[ts_bad] = UNPARSEABLE  # each value of a row with a bad timestamp
            parts_v.append(values)
            parts_pre.append(pre)
            parts_keep.append(keep)
            raw_cols.append(col)
        ncol = len(names)
        all_keep = np.concatenate(parts_keep) if ncol else np.zeros(0, dtype=bool)
        sel = np.flatnonzero(all_keep)
        col_of = (sel // n).astype(np.int64) if n else sel
        row_of = (sel % n).astype(np.int64) if n else sel
        keys = _categorical(col_of, [f"file:{c}" for c in names])
        values = np.concatenate(parts_v)[sel] if ncol else np.zeros(0)
        pre_all = np.concatenate(parts_pre)[sel] if ncol else np.zeros(0, dtype=np.int8)

        def raw(pos: npt.NDArray[np.int64]) -> list[str]:
            out = []
            for j in pos:
                c, r = int(col_of[j]), int(row_of[j])
                t = _texts(
                    ts_text.take(pa.array([r])) if ts_text is not None else None,
                    ts_us[[r]],
                )[0]
                v = _cell_texts(raw_cols[c].take(pa.array([r])))[0]
                out.append(f"{t},{names[c]}={v}")
            return out

        batch = ReadingBatch(
            point_keys=keys,
            ts_us=ts_us[row_of],
            values=values,
            source=self.source,
            pre_reasons=pre_all,
            rows=rows[row_of],
            raw=raw,
        )
        return FileChunk(batch=batch, skipped_empty_cells=skipped, progress=progress)


# --------------------------------------------------------------------------- helpers
def _categorical(codes: npt.NDArray[np.int64], categories: list[str]) -> Any:
    """Point keys as a pandas Categorical (-1 code = missing); dedups category names."""
    uniq = list(dict.fromkeys(categories))
    if len(uniq) != len(categories):
        remap = np.array([uniq.index(c) for c in categories], dtype=np.int64)
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    return pd.Categorical.from_codes(codes, categories=pd.Index(uniq, dtype=object))


def _texts(text: pa.Array | None, ts_us: npt.NDArray[np.int64]) -> list[str]:
    if text is not None:
        return ["" if x is None else str(x) for x in text.to_pylist()]
    from heatreuse.telemetry.validate import format_ts_us

    return [format_ts_us(int(x)) for x in ts_us]


def _cell_texts(col: pa.Array) -> list[str]:
    return ["" if x is None else str(x) for x in col.to_pylist()]


def _csv_blocks(chunk_rows: int) -> tuple[int, int]:
    """(CSV block size [bytes], blocks per full chunk) for about ``chunk_rows`` rows a chunk.

    About 60 bytes per long-format row; a block is an eighth of a chunk, at
    least 64 KiB (arrow needs at least one full row per block), at most 128 MiB.
    """
    chunk_bytes = max(1, min(chunk_rows * 60, 1 << 30))
    block = max(1 << 16, min(chunk_bytes // _RAMP_BLOCKS, 1 << 27))
    return block, max(1, chunk_bytes // block)


def _csv_header(path: Path) -> list[str]:
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16))
        return list(reader.schema.names)
    except FileNotFoundError:
        raise IngestError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise IngestError(f"{path}: is a directory; expected a CSV or Parquet file") from None
    except (OSError, pa.ArrowException) as exc:
        raise IngestError(f"{path}: cannot read as CSV: {exc}") from None


def _layout(path: Path, columns: list[str]) -> Literal["long", "wide"]:
    cols = [c.strip() for c in columns]
    if len(set(cols)) != len(cols):
        dup = sorted({c for c in cols if cols.count(c) > 1})
        raise IngestError(f"{path}: column(s) {dup} appear twice in the header")
    if "timestamp" not in cols:
        raise IngestError(
            f"{path}: no 'timestamp' column; expected the long format "
            f"({', '.join(LONG_COLUMNS)}) or the wide format (timestamp + one column per "
            f"point); got columns {cols[:10]}"
        )
    if "point_id" in cols or "value" in cols:
        extra = sorted(set(cols) - set(LONG_COLUMNS))
        missing = sorted(set(LONG_COLUMNS) - set(cols))
        if extra or missing:
            raise IngestError(
                f"{path}: long format needs exactly the columns {', '.join(LONG_COLUMNS)}; "
                + (f"missing {missing}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"unexpected {extra}" if extra else "")
            )
        return "long"
    if len(cols) < 2:
        raise IngestError(f"{path}: only a 'timestamp' column; expected point columns too")
    return "wide"


def open_readings_file(path: str | Path, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> ReadingsFile:
    """Open a readings file and check its header.

    Parameters
    ----------
    path
        ``.csv`` / ``.csv.gz`` or ``.parquet`` file (format by extension).
    chunk_rows
        Rows per chunk (Parquet exactly; CSV approximately, and a CSV file's first
        chunks are an eighth, a quarter and half of that, so that storing can start
        early while the next chunk is parsed).

    Returns
    -------
    ReadingsFile
        Iterate :meth:`ReadingsFile.chunks`; ``total``/``total_unit`` size
        the progress bar.

    Raises
    ------
    IngestError
        Missing or unreadable file, unknown extension, bad header; the
        message names the file.
    """
    p = Path(path)
    name = p.name.lower()
    if not p.exists():
        raise IngestError(f"{p}: no such file")
    if p.is_dir():
        raise IngestError(f"{p}: is a directory; expected a CSV or Parquet file")
    if name.endswith((".csv", ".csv.gz")):
        kind: Literal["csv", "parquet"] = "csv"
    elif name.endswith((".parquet", ".pq")):
        kind = "parquet"
    else:
        raise IngestError(
            f"{p}: unknown file type {''.join(p.suffixes) or '(no extension)'!r}; expected .csv, "
            ".csv.gz or .parquet"
        )
    if chunk_rows < 1:
        raise IngestError(f"chunk_rows must be >= 1, got {chunk_rows}")
    return ReadingsFile(p, kind, chunk_rows)
