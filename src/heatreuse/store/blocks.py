"""Sealed history: one compressed block of raw readings per series and UTC day (no I/O).

Readings older than the store's hot window are moved out of the row table
``readings`` into ``sealed_blocks`` (one row per series and UTC day; see
:meth:`heatreuse.store.Store.seal`). A block holds the day's timestamps and values
bit for bit:

* timestamps [µs, int64] as the first timestamp, the first step and then the
  *delta of deltas* (Gorilla, Pelkonen et al. 2015, section 4.1.1): a regular 10 s
  or 60 s grid becomes a run of zeros;
* values [float64] either as *scaled decimals* (when every value of the day is
  exactly ``k / 10**d`` for one ``d`` in 0..6, as a sensor with a fixed resolution
  reports: 39.56 degC, 25880 W), stored as the integer deltas of ``k``, or else as
  the XOR of each value's bit pattern with the previous one (Gorilla, section
  4.1.2), which is exact for every bit pattern (NaN, infinities, -0.0);
* both integer streams zig-zag encoded, byte-shuffled (all first bytes, then all
  second bytes, ...; the idea of Blosc's shuffle filter) and compressed together
  with one Zstandard frame (RFC 8878).

The scaled-decimal form is chosen only when it reproduces every value's bit pattern
exactly (checked when the block is built), so decoding always gives back the exact
doubles that were written.

References
----------
T. Pelkonen et al., "Gorilla: A Fast, Scalable, In-Memory Time Series Database",
PVLDB 8(12), 1816-1827 (2015). Y. Collet, M. Kucherawy, "Zstandard Compression and
the 'application/zstd' Media Type", RFC 8878 (2021).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from heatreuse.errors import StoreError

#: Table of sealed blocks (``series_id, day_us, n, first_ts_us, last_ts_us, data``)
SEALED_TABLE = "sealed_blocks"
#: Width of a block: one UTC day [µs]
DAY_US = 86_400_000_000
#: Zstandard level used when sealing (higher: smaller, slower to seal; decoding speed
#: hardly depends on it)
ZSTD_LEVEL = 9

_MAGIC = b"HRB1"
#: header: magic, value mode (0 = XOR of bit patterns, 1 = scaled decimals), decimals,
#: number of readings
_HEADER = struct.Struct("<4sBBxxI")
_XOR = 0
_DECIMAL = 1
_MAX_DECIMALS = 6
_EXACT_INT = 2**52


def day_start_us(ts_us: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Start of the UTC day holding each timestamp [µs] (floor, also before 1970)."""
    return ts_us - np.mod(ts_us, DAY_US)


def _zigzag(x: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    return ((x << 1) ^ (x >> 63)).view(np.uint64)


def _unzigzag(u: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    return (u >> np.uint64(1)).view(np.int64) ^ -(u & np.uint64(1)).view(np.int64)


def _shuffle(u: npt.NDArray[np.uint64]) -> bytes:
    return np.ascontiguousarray(u.view(np.uint8).reshape(-1, 8).T).tobytes()


def _unshuffle(b: bytes | memoryview, n: int) -> npt.NDArray[np.uint64]:
    planes = np.frombuffer(b, dtype=np.uint8, count=8 * n).reshape(8, n)
    return np.ascontiguousarray(planes.T).view(np.uint64).reshape(n)


def _decimals(values: npt.NDArray[np.float64]) -> tuple[int, npt.NDArray[np.int64]] | None:
    """``(d, k)`` with ``values == k / 10**d`` bit for bit, smallest such ``d``; else None."""
    if not len(values) or not np.all(np.isfinite(values)):
        return None
    bits = values.view(np.uint64)
    for d in range(_MAX_DECIMALS + 1):
        scale = 10.0**d
        k = np.round(values * scale)
        if np.abs(k).max() >= _EXACT_INT:
            return None
        ints = k.astype(np.int64)
        back = ints.astype(np.float64)  # as decoded: an integer has no sign of zero
        if d:
            back = back / scale
        if np.array_equal(back.view(np.uint64), bits):
            return d, ints
    return None


def encode_block(ts_us: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> bytes:
    """Pack one day of one series (timestamps strictly increasing) into a block.

    Parameters
    ----------
    ts_us
        Timestamps [µs since epoch, UTC], strictly increasing, at least one.
    values
        Values [the point's unit], any float64 bit patterns.
    """
    import zstandard

    ts = np.ascontiguousarray(ts_us, dtype=np.int64)
    vals = np.ascontiguousarray(values, dtype=np.float64)
    n = len(ts)
    if n == 0 or len(vals) != n:
        raise StoreError(f"sealed block: {n} timestamps and {len(vals)} values; expected >= 1")
    if n > 1 and not bool(np.all(ts[1:] > ts[:-1])):
        raise StoreError("sealed block: timestamps are not strictly increasing")
    tstream = np.empty(n, dtype=np.int64)
    tstream[0] = ts[0]
    if n > 1:
        d = np.diff(ts)
        tstream[1] = d[0]
        tstream[2:] = np.diff(d)
    dec = _decimals(vals)
    if dec is not None:
        mode, decimals = _DECIMAL, dec[0]
        k = dec[1]
        vstream = _zigzag(np.diff(k, prepend=np.int64(0)))
    else:
        mode, decimals = _XOR, 0
        bits = vals.view(np.uint64)
        vstream = bits ^ np.concatenate((np.zeros(1, np.uint64), bits[:-1]))
    body = _shuffle(_zigzag(tstream)) + _shuffle(vstream)
    packed = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(body)
    return _HEADER.pack(_MAGIC, mode, decimals, n) + packed


def decode_block(blob: bytes | memoryview) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The timestamps [µs] and values of a block (inverse of :func:`encode_block`)."""
    import zstandard

    raw = bytes(blob)
    if len(raw) < _HEADER.size:
        raise StoreError(f"sealed block: {len(raw)} bytes; shorter than its header")
    magic, mode, decimals, n = _HEADER.unpack_from(raw)
    if magic != _MAGIC or mode not in (_XOR, _DECIMAL) or decimals > _MAX_DECIMALS:
        raise StoreError(f"sealed block: unknown format (header {raw[: _HEADER.size]!r})")
    body = zstandard.ZstdDecompressor().decompress(raw[_HEADER.size :], max_output_size=16 * n)
    if len(body) != 16 * n:
        raise StoreError(f"sealed block: {len(body)} bytes unpacked; expected {16 * n}")
    tstream = _unzigzag(_unshuffle(body[: 8 * n], n))
    ts = np.cumsum(np.cumsum(tstream[1:]), dtype=np.int64) if n > 1 else np.empty(0, np.int64)
    ts = np.concatenate((tstream[:1], tstream[0] + ts))
    vstream = _unshuffle(memoryview(body)[8 * n :], n)
    if mode == _DECIMAL:
        k = np.cumsum(_unzigzag(vstream), dtype=np.int64).astype(np.float64)
        values = k / 10.0**decimals if decimals else k
    else:
        values = np.bitwise_xor.accumulate(vstream).view(np.float64)
    return ts, values


def decode_blocks(
    blobs: Sequence[bytes | memoryview],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Decode blocks in order; timestamps, values and the number of readings per block."""
    if not blobs:
        return np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.int64)
    parts = [decode_block(b) for b in blobs]
    counts = np.asarray([len(t) for t, _ in parts], dtype=np.int64)
    return (
        np.concatenate([t for t, _ in parts]),
        np.concatenate([v for _, v in parts]),
        counts,
    )
