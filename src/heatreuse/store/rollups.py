"""Rollup arithmetic shared by both store backends (pure numpy/pandas, no I/O).

A rollup row summarises one series over one bucket ``[bucket, bucket + width)``:
``n`` (count), ``vmin``, ``vmax``, ``vsum`` and the first and last reading with
their timestamps. Two rows of the same bucket merge exactly (associative and
commutative): ``n`` and ``vsum`` add, ``vmin``/``vmax`` take the min/max, first
is the one with the earlier timestamp, last the one with the later. That is why
late and out-of-order batches can be merged at ingest, only from the newly
inserted readings, and give the same result as aggregating all raw data at once
(``pandas.DataFrame.resample(...).agg(...)``).

For cumulative counters (meter registers) the increase over a bucket is
``last - last of the previous non-empty bucket`` (the register value at the
bucket's last reading minus the value at the reading before the bucket), or
``last - first`` when no earlier bucket exists. A counter only rises, so the
increase is trusted only when the bucket shows no fall: ``first >= previous
last``, ``min == first`` and ``max == last``. A fall that one wrap of a register
with a known roll-over value ``R`` explains (``0 <= last - previous + R < R/2``,
the usual at-most-one-wrap rule of counter polling, cf. RFC 2578 section 7.1.6
on Counter32) counts as that wrap (``counter_wrapped``); any other fall is a
reset, meter exchange or glitch (``counter_break``) and the increase is
unknown (NaN), never a negative or inflated number.

References
----------
J. Gray et al., "Data Cube: A Relational Aggregation Operator Generalizing
Group-By, Cross-Tab, and Sub-Totals", Data Mining and Knowledge Discovery 1,
29-53 (1997): distributive (count, sum, min, max) vs algebraic (mean = sum/count)
aggregates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from heatreuse.errors import StoreError

US_PER_MIN = 60_000_000

#: resolution -> (table, bucket width [µs])
ROLLUP_TABLES: dict[str, tuple[str, int]] = {
    "1min": ("rollup_1min", US_PER_MIN),
    "15min": ("rollup_15min", 15 * US_PER_MIN),
    "1h": ("rollup_1h", 60 * US_PER_MIN),
}

#: read_series agg -> column of :func:`to_frame`
AGG_COLUMN: dict[str, str] = {
    "mean": "mean",
    "min": "min",
    "max": "max",
    "sum": "sum",
    "count": "count",
    "first": "first",
    "last": "last",
    "delta": "delta",
}
AGGS = tuple(AGG_COLUMN)

#: read_series agg -> SQL expression over a rollup row (both dialects; not for "delta")
AGG_SQL: dict[str, str] = {
    "mean": "vsum / n",
    "min": "vmin",
    "max": "vmax",
    "sum": "vsum",
    "count": "CAST(n AS DOUBLE PRECISION)",
    "first": "first_value",
    "last": "last_value",
}

#: read_series agg -> :class:`RollupRows` field (numpy twin of :data:`AGG_SQL`)
_AGG_FIELD: dict[str, str] = {
    "min": "vmin",
    "max": "vmax",
    "sum": "vsum",
    "first": "first_value",
    "last": "last_value",
}

#: rollup table columns in storage order
COLUMNS = (
    "series_id",
    "bucket_us",
    "n",
    "vmin",
    "vmax",
    "vsum",
    "first_ts_us",
    "first_value",
    "last_ts_us",
    "last_value",
)


def is_value_column(column: str) -> bool:
    """Whether a rollup column holds values (float) rather than counts/timestamps (int)."""
    return column[0] == "v" or column.endswith("_value")


@dataclass
class RollupRows:
    """Columnar rollup rows, sorted by (series_id, bucket_us)."""

    series_id: npt.NDArray[np.int64]
    bucket_us: npt.NDArray[np.int64]
    n: npt.NDArray[np.int64]
    vmin: npt.NDArray[np.float64]
    vmax: npt.NDArray[np.float64]
    vsum: npt.NDArray[np.float64]
    first_ts_us: npt.NDArray[np.int64]
    first_value: npt.NDArray[np.float64]
    last_ts_us: npt.NDArray[np.int64]
    last_value: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.series_id)

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any]) -> RollupRows:
        """Rows from array-likes keyed by :data:`COLUMNS`, cast to int64/float64."""

        def i(c: str) -> npt.NDArray[np.int64]:
            return np.asarray(columns[c], dtype=np.int64)

        def f(c: str) -> npt.NDArray[np.float64]:
            return np.asarray(columns[c], dtype=np.float64)

        return cls(
            series_id=i("series_id"),
            bucket_us=i("bucket_us"),
            n=i("n"),
            vmin=f("vmin"),
            vmax=f("vmax"),
            vsum=f("vsum"),
            first_ts_us=i("first_ts_us"),
            first_value=f("first_value"),
            last_ts_us=i("last_ts_us"),
            last_value=f("last_value"),
        )

    def columns(self) -> list[npt.NDArray[np.int64] | npt.NDArray[np.float64]]:
        """The arrays in :data:`COLUMNS` order."""
        return [getattr(self, c) for c in COLUMNS]


def empty_rows() -> RollupRows:
    """A rollup with no rows."""
    i = np.empty(0, dtype=np.int64)
    f = np.empty(0, dtype=np.float64)
    return RollupRows(i, i, i, f, f, f, i, f, i, f)


def bucket_start_us(ts_us: npt.NDArray[np.int64], width_us: int) -> npt.NDArray[np.int64]:
    """Start of the bucket holding each timestamp [µs]; floor, also before 1970."""
    return ts_us - np.mod(ts_us, width_us)


def aggregate(
    series_id: npt.NDArray[np.int64],
    ts_us: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    width_us: int,
) -> RollupRows:
    """Aggregate readings sorted by (series_id, ts_us) into buckets of ``width_us``.

    Parameters
    ----------
    series_id, ts_us, values
        Readings sorted by series then time, keys unique [-, µs, point unit].
    width_us
        Bucket width [µs].

    Returns
    -------
    RollupRows
        One row per (series, bucket) present.
    """
    n = len(ts_us)
    if n == 0:
        return empty_rows()
    bucket = bucket_start_us(ts_us, width_us)
    brk = np.flatnonzero((series_id[1:] != series_id[:-1]) | (bucket[1:] != bucket[:-1])) + 1
    starts = np.concatenate(([0], brk))
    last = np.concatenate((brk, [n])) - 1
    return RollupRows(
        series_id=series_id[starts],
        bucket_us=bucket[starts],
        n=np.diff(np.concatenate((starts, [n]))).astype(np.int64),
        vmin=np.minimum.reduceat(values, starts),
        vmax=np.maximum.reduceat(values, starts),
        vsum=np.add.reduceat(values, starts),
        first_ts_us=ts_us[starts],
        first_value=values[starts],
        last_ts_us=ts_us[last],
        last_value=values[last],
    )


def to_frame(
    rows: RollupRows,
    name_of: dict[int, str],
    prev: dict[int, tuple[int, float]],
    rollover: Mapping[int, float] | None = None,
) -> pd.DataFrame:
    """Long DataFrame of rollup rows with mean and counter delta.

    Parameters
    ----------
    rows
        Rollup rows sorted by (series_id, bucket_us).
    name_of
        series_id -> point id.
    prev
        series_id -> (last_ts_us, last_value) of the latest bucket before the
        first one in ``rows`` (for the first delta).
    rollover
        series_id -> register value at which the counter wraps to 0 [the
        point's unit], for the series that have one (see the module docstring).
    """
    n = len(rows)
    last_v = rows.last_value
    since = rows.first_ts_us.copy()
    base = rows.first_value.copy()
    if n:
        same = np.zeros(n, dtype=bool)
        same[1:] = rows.series_id[1:] == rows.series_id[:-1]
        base[1:] = np.where(same[1:], last_v[:-1], base[1:])
        since[1:] = np.where(same[1:], rows.last_ts_us[:-1], since[1:])
        for i in np.flatnonzero(~same).tolist():
            p = prev.get(int(rows.series_id[i]))
            if p is not None:
                since[i], base[i] = p
    delta, wrapped, broken = counter_increase(rows, base, rollover or {})
    index = pd.DatetimeIndex(
        pd.to_datetime(rows.bucket_us, unit="us", utc=True), name="bucket_start"
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = rows.vsum / rows.n
    return pd.DataFrame(
        {
            "point_id": _names(rows.series_id, name_of),
            "count": rows.n,
            "min": rows.vmin,
            "max": rows.vmax,
            "sum": rows.vsum,
            "mean": mean,
            "first": rows.first_value,
            "last": rows.last_value,
            "first_ts": pd.to_datetime(rows.first_ts_us, unit="us", utc=True),
            "last_ts": pd.to_datetime(rows.last_ts_us, unit="us", utc=True),
            "delta": delta,
            "delta_since": pd.to_datetime(since, unit="us", utc=True),
            "counter_wrapped": wrapped,
            "counter_break": broken,
        },
        index=index,
    )


def counter_increase(
    rows: RollupRows, base: npt.NDArray[np.float64], rollover: Mapping[int, float]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Increase of a counter per bucket from its rollup rows (see the module docstring).

    Parameters
    ----------
    rows
        Rollup rows sorted by (series_id, bucket_us).
    base
        Per row, the counter value the increase counts from (the previous
        bucket's last value, or the bucket's first) [the point's unit].
    rollover
        series_id -> roll-over value ``R`` [the point's unit].

    Returns
    -------
    delta, wrapped, broken
        ``delta`` [the point's unit], NaN where ``broken``; ``wrapped`` where one
        register wrap was counted.
    """
    delta = rows.last_value - base
    rising = (
        (rows.first_value >= base)
        & (rows.vmin == rows.first_value)
        & (rows.vmax == rows.last_value)
    )
    r = np.full(len(rows), np.nan)
    for sid, value in rollover.items():
        r[rows.series_id == sid] = value
    with np.errstate(invalid="ignore"):
        unwrapped = delta + r
        wrapped = (
            ~rising
            & np.isfinite(r)
            & (delta < 0)
            & (unwrapped >= 0)
            & (unwrapped < r / 2)
            & (rows.vmin >= 0)
            & (rows.vmax < r)
        )
    broken = ~rising & ~wrapped
    out = np.where(wrapped, unwrapped, delta)
    out[broken] = np.nan
    return out, wrapped, broken


def _names(series_id: npt.NDArray[np.int64], name_of: dict[int, str]) -> npt.NDArray[np.object_]:
    """Point id per row, vectorised over the (few) distinct series."""
    out = np.empty(len(series_id), dtype=object)
    for sid, name in name_of.items():
        out[series_id == sid] = name
    return out


def agg_values(rows: RollupRows, agg: str) -> npt.NDArray[np.float64]:
    """One aggregate per row (``mean``, ``min``, ``max``, ``sum``, ``count``, ``first``,
    ``last``; not ``delta``), as :data:`AGG_SQL` computes it in the database."""
    if agg == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return rows.vsum / rows.n
    if agg == "count":
        return rows.n.astype(np.float64)
    if agg not in _AGG_FIELD:
        raise StoreError(f"rollup aggregate {agg!r}; expected one of {list(AGG_SQL)}")
    return np.asarray(getattr(rows, _AGG_FIELD[agg]), dtype=np.float64)


def take(rows: RollupRows, idx: npt.NDArray[np.int64] | npt.NDArray[np.bool_]) -> RollupRows:
    """Rows selected by an index or mask."""
    return RollupRows(**{c: getattr(rows, c)[idx] for c in COLUMNS})


def merge(new: RollupRows, old: RollupRows) -> tuple[RollupRows, RollupRows]:
    """Merge stored rows into freshly aggregated rows of the same buckets.

    Parameters
    ----------
    new
        Rows aggregated from newly inserted readings, sorted by (series, bucket).
    old
        Stored rows, sorted by (series, bucket); rows whose key is not in ``new``
        are ignored.

    Returns
    -------
    merged, replaced
        ``merged``: one row per key of ``new`` with the stored row folded in
        (counts and sums add, min/max, first by earlier and last by later
        timestamp); ``replaced``: the stored rows that were folded in (to be
        deleted before ``merged`` is inserted).
    """
    if not len(old) or not len(new):
        return new, empty_rows()
    merged = take(new, np.arange(len(new)))  # copy
    hit_new: list[npt.NDArray[np.int64]] = []
    hit_old: list[npt.NDArray[np.int64]] = []
    brk = np.flatnonzero(new.series_id[1:] != new.series_id[:-1]) + 1
    starts = np.concatenate(([0], brk))
    ends = np.concatenate((brk, [len(new)]))
    for s0, e0 in zip(starts.tolist(), ends.tolist(), strict=True):
        o_idx = np.flatnonzero(old.series_id == new.series_id[s0])
        if not len(o_idx):
            continue
        b = new.bucket_us[s0:e0]
        pos = np.searchsorted(b, old.bucket_us[o_idx])
        ok = pos < len(b)
        ok[ok] = b[pos[ok]] == old.bucket_us[o_idx[ok]]
        hit_new.append(s0 + pos[ok])
        hit_old.append(o_idx[ok])
    if not hit_new:
        return new, empty_rows()
    i = np.concatenate(hit_new)
    j = np.concatenate(hit_old)
    merged.n[i] += old.n[j]
    merged.vsum[i] += old.vsum[j]
    merged.vmin[i] = np.minimum(merged.vmin[i], old.vmin[j])
    merged.vmax[i] = np.maximum(merged.vmax[i], old.vmax[j])
    earlier = old.first_ts_us[j] < merged.first_ts_us[i]
    merged.first_ts_us[i] = np.where(earlier, old.first_ts_us[j], merged.first_ts_us[i])
    merged.first_value[i] = np.where(earlier, old.first_value[j], merged.first_value[i])
    later = old.last_ts_us[j] > merged.last_ts_us[i]
    merged.last_ts_us[i] = np.where(later, old.last_ts_us[j], merged.last_ts_us[i])
    merged.last_value[i] = np.where(later, old.last_value[j], merged.last_value[i])
    return merged, take(old, j)


# ---- packed hourly blocks -------------------------------------------------------------
#
# The hourly rollup is also kept packed, one row per series and UTC day
# (``rollup_1h_day``), so that a year of a point is 365 rows of 1.5 KB instead of
# 8,760 rows: reading a year of hourly data for a dozen points then costs a few
# thousand row fetches and one ``numpy.frombuffer`` rather than 100,000 Python
# row objects (the SQLite driver's per-row cost is what bounded the read). The
# row table ``rollup_1h`` stays the canonical, SQL-queryable form; the blocks
# are written from the same merged rows in the same transaction.

#: Table of packed hourly blocks (``series_id, block_us, data``)
HOUR_BLOCK_TABLE = "rollup_1h_day"
#: Resolution packed in blocks
HOUR_BLOCK_RESOLUTION = "1h"
US_PER_HOUR = 60 * US_PER_MIN
#: Hours (slots) per block [-] and block width [µs]: one UTC day
HOUR_BLOCK_SLOTS = 24
HOUR_BLOCK_US = HOUR_BLOCK_SLOTS * US_PER_HOUR
#: One slot of a block: the rollup row without its key, little-endian; ``n == 0`` is empty
SLOT_DTYPE = np.dtype(
    [
        ("n", "<i8"),
        ("vmin", "<f8"),
        ("vmax", "<f8"),
        ("vsum", "<f8"),
        ("first_ts_us", "<i8"),
        ("first_value", "<f8"),
        ("last_ts_us", "<i8"),
        ("last_value", "<f8"),
    ]
)
#: Size of a block [bytes]
HOUR_BLOCK_BYTES = HOUR_BLOCK_SLOTS * SLOT_DTYPE.itemsize
_SLOT_FIELDS = tuple(SLOT_DTYPE.names or ())
#: Upsert of packed hourly blocks (both dialects; ``?`` placeholders)
UPSERT_HOUR_BLOCK = (
    f"INSERT INTO {HOUR_BLOCK_TABLE} (series_id, block_us, data) VALUES (?, ?, ?) "
    "ON CONFLICT (series_id, block_us) DO UPDATE SET data = excluded.data"
)


def block_keys(rows: RollupRows) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Distinct ``(series_id, block_us)`` of hourly rows sorted by (series, bucket)."""
    block = bucket_start_us(rows.bucket_us, HOUR_BLOCK_US)
    if not len(rows):
        return rows.series_id, block
    new = np.ones(len(rows), dtype=bool)
    new[1:] = (rows.series_id[1:] != rows.series_id[:-1]) | (block[1:] != block[:-1])
    return rows.series_id[new], block[new]


def _decode_blocks(blobs: list[bytes], what: str) -> npt.NDArray[np.void]:
    for b in blobs:
        if len(b) != HOUR_BLOCK_BYTES:
            raise StoreError(
                f"{what}: a block of {len(b)} bytes; expected {HOUR_BLOCK_BYTES} "
                f"({HOUR_BLOCK_SLOTS} slots of {SLOT_DTYPE.itemsize} bytes)"
            )
    data = b"".join(blobs)
    return np.frombuffer(data, dtype=SLOT_DTYPE).reshape(len(blobs), HOUR_BLOCK_SLOTS)


def pack_hour_blocks(
    rows: RollupRows,
    stored: dict[tuple[int, int], bytes],
) -> tuple[list[int], list[int], list[bytes]]:
    """Write hourly rollup rows into their day blocks.

    Parameters
    ----------
    rows
        The complete new state of some hourly buckets (after :func:`merge`),
        sorted by (series_id, bucket_us).
    stored
        ``(series_id, block_us) -> block`` as stored, for the blocks the rows
        fall in (missing: a new, empty block).

    Returns
    -------
    series_ids, block_us, blocks
        One entry per block touched, to be upserted.
    """
    sids, blocks = block_keys(rows)
    if not len(rows):
        return [], [], []
    keys = list(zip(sids.tolist(), blocks.tolist(), strict=True))
    out = np.zeros((len(keys), HOUR_BLOCK_SLOTS), dtype=SLOT_DTYPE)
    for g, key in enumerate(keys):
        old = stored.get(key)
        if old is not None:
            out[g] = _decode_blocks([old], f"block {key}")[0]
    bucket_block = bucket_start_us(rows.bucket_us, HOUR_BLOCK_US)
    new = np.ones(len(rows), dtype=bool)
    new[1:] = (rows.series_id[1:] != rows.series_id[:-1]) | (bucket_block[1:] != bucket_block[:-1])
    group = np.cumsum(new) - 1
    slot = (rows.bucket_us - bucket_block) // US_PER_HOUR
    for f in _SLOT_FIELDS:
        out[f][group, slot] = getattr(rows, f)
    return [k[0] for k in keys], [k[1] for k in keys], [out[g].tobytes() for g in range(len(keys))]


def unpack_hour_blocks(
    series_id: npt.NDArray[np.int64],
    block_us: npt.NDArray[np.int64],
    blobs: list[bytes],
    lo_us: int,
    hi_us: int,
) -> RollupRows:
    """Hourly rollup rows of blocks sorted by (series, block), buckets in ``[lo_us, hi_us)``."""
    if not blobs:
        return empty_rows()
    arr = _decode_blocks(blobs, HOUR_BLOCK_TABLE).reshape(-1)
    sid = np.repeat(np.asarray(series_id, dtype=np.int64), HOUR_BLOCK_SLOTS)
    offsets = np.arange(HOUR_BLOCK_SLOTS, dtype=np.int64) * US_PER_HOUR
    bucket = (np.asarray(block_us, dtype=np.int64)[:, None] + offsets).reshape(-1)
    keep = (arr["n"] > 0) & (bucket >= lo_us) & (bucket < hi_us)
    sel = arr[keep]
    return RollupRows.from_columns(
        {"series_id": sid[keep], "bucket_us": bucket[keep], **{f: sel[f] for f in _SLOT_FIELDS}}
    )


def clear_hour_slots_before(blob: bytes, block_us: int, cutoff_us: int) -> bytes | None:
    """The block with buckets before ``cutoff_us`` emptied; ``None`` when nothing is left."""
    arr = _decode_blocks([blob], f"block {block_us}")[0].copy()
    bucket = block_us + np.arange(HOUR_BLOCK_SLOTS, dtype=np.int64) * US_PER_HOUR
    arr[bucket < cutoff_us] = np.zeros(1, dtype=SLOT_DTYPE)[0]
    if not np.any(arr["n"] > 0):
        return None
    return bytes(arr.tobytes())
