"""Sealed history: one compressed block of raw readings per series and UTC day (no I/O).

Readings older than the store's hot window are moved out of the row table
``readings`` into ``sealed_blocks`` (one row per series and UTC day; see
:meth:`heatreuse.store.Store.seal`). A block holds the day's timestamps and values
bit for bit:

* timestamps [µs, int64] as the first timestamp, the first step and then the
  *delta of deltas* (Gorilla, Pelkonen et al. 2015, section 4.1.1): a regular 10 s
  or 60 s grid becomes a run of zeros;
* values [float64] either as *scaled decimals* (when every value of the day is
  exactly ``k / 10**d``, or exactly ``k * 10**-d``, for one ``d`` in 0..6, as a
  sensor with a fixed resolution reports: 39.56 degC, 25880 W), stored as the
  integer deltas of ``k``, or else as
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
from typing import Any

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
#: header: magic, value mode (0 = XOR of bit patterns, byte-shuffled; 1 = scaled
#: decimals), decimals, byte width of the timestamp stream, byte width of the value
#: stream, number of readings, first timestamp [µs], first step [µs]
_HEADER = struct.Struct("<4sBBBBIqq")
_XOR = 0
_DECIMAL = 1  # k / 10**d
_DECIMAL_MUL = 2  # k * 10**-d (values made by multiplying with the resolution)
_MAX_DECIMALS = 6
_EXACT_INT = 2**52
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_INT = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}


def day_start_us(ts_us: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Start of the UTC day holding each timestamp [µs] (floor, also before 1970)."""
    return ts_us - np.mod(ts_us, DAY_US)


def _pack_ints(x: npt.NDArray[np.int64]) -> tuple[int, bytes]:
    """Zig-zag encode and store in the narrowest of 1, 2, 4, 8 bytes: (width, bytes)."""
    if not len(x):
        return 1, b""
    u = ((x << 1) ^ (x >> 63)).view(np.uint64)
    top = int(u.max())
    width = 1 if top < 2**8 else 2 if top < 2**16 else 4 if top < 2**32 else 8
    return width, u.astype(_UINT[width]).tobytes()


def _unpack_ints(b: bytes | memoryview, width: int, n: int) -> npt.NDArray[np.int64]:
    """Inverse of :func:`_pack_ints`."""
    u = np.frombuffer(b, dtype=_UINT[width], count=n)
    one = u.dtype.type(1)
    signed = (u >> one).view(_INT[width]) ^ -(u & one).view(_INT[width])
    out: npt.NDArray[np.int64] = signed.astype(np.int64)
    return out


def _shuffle(u: npt.NDArray[np.uint64]) -> bytes:
    return np.ascontiguousarray(u.view(np.uint8).reshape(-1, 8).T).tobytes()


def _unshuffle(b: bytes | memoryview, n: int) -> npt.NDArray[np.uint64]:
    planes = np.frombuffer(b, dtype=np.uint8, count=8 * n).reshape(8, n)
    return np.ascontiguousarray(planes.T).view(np.uint64).reshape(n)


def _decimals(
    values: npt.NDArray[np.float64],
) -> tuple[int, int, npt.NDArray[np.int64]] | None:
    """``(mode, d, k)`` with ``values == k / 10**d`` (mode ``_DECIMAL``) or ``k * 10**-d``
    (``_DECIMAL_MUL``) bit for bit, smallest such ``d``; else None."""
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
        if np.array_equal((back / scale).view(np.uint64), bits):
            return _DECIMAL, d, ints
        if np.array_equal((back * 10.0**-d).view(np.uint64), bits):
            return _DECIMAL_MUL, d, ints
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
    step = np.diff(ts)
    first_step = int(step[0]) if n > 1 else 0
    t_width, t_bytes = _pack_ints(np.diff(step))
    dec = _decimals(vals)
    if dec is not None:
        mode, decimals = dec[0], dec[1]
        v_width, v_bytes = _pack_ints(np.diff(dec[2], prepend=np.int64(0)))
    else:
        mode, decimals, v_width = _XOR, 0, 8
        bits = vals.view(np.uint64)
        v_bytes = _shuffle(bits ^ np.concatenate((np.zeros(1, np.uint64), bits[:-1])))
    packed = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(t_bytes + v_bytes)
    header = _HEADER.pack(_MAGIC, mode, decimals, t_width, v_width, n, int(ts[0]), first_step)
    return header + packed


_DECOMPRESSOR: list[Any] = []


def decode_block(blob: bytes | memoryview) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The timestamps [µs] and values of a block (inverse of :func:`encode_block`)."""
    if not _DECOMPRESSOR:
        import zstandard

        _DECOMPRESSOR.append(zstandard.ZstdDecompressor())
    raw = bytes(blob)
    if len(raw) < _HEADER.size:
        raise StoreError(f"sealed block: {len(raw)} bytes; shorter than its header")
    magic, mode, decimals, t_width, v_width, n, ts0, step0 = _HEADER.unpack_from(raw)
    if (
        magic != _MAGIC
        or mode not in (_XOR, _DECIMAL, _DECIMAL_MUL)
        or decimals > _MAX_DECIMALS
        or t_width not in _UINT
        or v_width not in _UINT
    ):
        raise StoreError(f"sealed block: unknown format (header {raw[: _HEADER.size]!r})")
    t_len = t_width * max(n - 2, 0)
    size = t_len + v_width * n
    body = _DECOMPRESSOR[0].decompress(raw[_HEADER.size :], max_output_size=size)
    if len(body) != size:
        raise StoreError(f"sealed block: {len(body)} bytes unpacked; expected {size}")
    ts = np.empty(n, dtype=np.int64)
    ts[0] = ts0
    if n > 1:
        steps = np.empty(n - 1, dtype=np.int64)
        steps[0] = step0
        if n > 2:
            np.cumsum(_unpack_ints(body, t_width, n - 2), out=steps[1:])
            steps[1:] += step0
        np.cumsum(steps, out=ts[1:])
        ts[1:] += ts0
    if mode != _XOR:
        k = np.cumsum(_unpack_ints(memoryview(body)[t_len:], v_width, n)).astype(np.float64)
        values = k / 10.0**decimals if mode == _DECIMAL else k * 10.0**-decimals
    else:
        values = np.bitwise_xor.accumulate(_unshuffle(memoryview(body)[t_len:], n)).view(np.float64)
    return ts, values


def _place(
    target: npt.NDArray[np.int64],
    chunks: dict[int, list[bytes]],
    starts: dict[int, list[int]],
    counts: dict[int, list[int]],
) -> None:
    """Unpack same-width integer streams in one go each and write them at their offsets."""
    for width, parts in chunks.items():
        cnt = np.asarray(counts[width], dtype=np.int64)
        total = int(cnt.sum())
        if not total:
            continue
        ints = _unpack_ints(b"".join(parts), width, total)
        first = np.cumsum(cnt) - cnt
        pos = np.repeat(np.asarray(starts[width], dtype=np.int64) - first, cnt) + np.arange(
            total, dtype=np.int64
        )
        target[pos] = ints


def _segment_cumsum(
    x: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64], n: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Cumulative sums restarting at each segment start (int64 wrap-around cancels out)."""
    c = np.cumsum(x)
    base = c[offsets] - x[offsets]
    out: npt.NDArray[np.int64] = c - np.repeat(base, n)
    return out


def decode_blocks(
    blobs: Sequence[bytes | memoryview],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Decode blocks in order; timestamps, values and the number of readings per block.

    The same result as :func:`decode_block` per block, concatenated, but the integer
    streams of all blocks are unpacked and summed up together (numpy calls per
    stream width, not per block).
    """
    if not blobs:
        return np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.int64)
    if not _DECOMPRESSOR:
        import zstandard

        _DECOMPRESSOR.append(zstandard.ZstdDecompressor())
    dec = _DECOMPRESSOR[0]
    k = len(blobs)
    n = np.empty(k, dtype=np.int64)
    ts0 = np.empty(k, dtype=np.int64)
    step0 = np.empty(k, dtype=np.int64)
    div = np.ones(k, dtype=np.float64)
    mul = np.ones(k, dtype=np.float64)
    t_chunks: dict[int, list[bytes]] = {}
    t_starts: dict[int, list[int]] = {}
    t_counts: dict[int, list[int]] = {}
    v_chunks: dict[int, list[bytes]] = {}
    v_starts: dict[int, list[int]] = {}
    v_counts: dict[int, list[int]] = {}
    xor: list[tuple[int, int, bytes]] = []
    offset = 0
    for i, blob in enumerate(blobs):
        raw = bytes(blob)
        if len(raw) < _HEADER.size:
            raise StoreError(f"sealed block: {len(raw)} bytes; shorter than its header")
        magic, mode, decimals, t_width, v_width, m, first, step = _HEADER.unpack_from(raw)
        if (
            magic != _MAGIC
            or mode not in (_XOR, _DECIMAL, _DECIMAL_MUL)
            or decimals > _MAX_DECIMALS
            or t_width not in _UINT
            or v_width not in _UINT
        ):
            raise StoreError(f"sealed block: unknown format (header {raw[: _HEADER.size]!r})")
        t_len = t_width * max(m - 2, 0)
        size = t_len + v_width * m
        body = dec.decompress(raw[_HEADER.size :], max_output_size=size)
        if len(body) != size:
            raise StoreError(f"sealed block: {len(body)} bytes unpacked; expected {size}")
        n[i], ts0[i], step0[i] = m, first, step
        if m > 2:
            t_chunks.setdefault(t_width, []).append(body[:t_len])
            t_starts.setdefault(t_width, []).append(offset + 2)
            t_counts.setdefault(t_width, []).append(m - 2)
        if mode != _XOR:
            if mode == _DECIMAL:
                div[i] = 10.0**decimals
            else:
                mul[i] = 10.0**-decimals
            v_chunks.setdefault(v_width, []).append(body[t_len:])
            v_starts.setdefault(v_width, []).append(offset)
            v_counts.setdefault(v_width, []).append(m)
        else:
            xor.append((offset, m, body[t_len:]))
        offset += m
    total = offset
    offsets = np.cumsum(n) - n
    # second differences of the timestamps, with each block's first step at its slot 1
    dd = np.zeros(total, dtype=np.int64)
    _place(dd, t_chunks, t_starts, t_counts)
    more = n > 1
    dd[offsets[more] + 1] = step0[more]
    steps = _segment_cumsum(dd, offsets, n)
    ts = _segment_cumsum(steps, offsets, n) + np.repeat(ts0, n)
    deltas = np.zeros(total, dtype=np.int64)
    _place(deltas, v_chunks, v_starts, v_counts)
    values = _segment_cumsum(deltas, offsets, n).astype(np.float64)
    values /= np.repeat(div, n)  # x / 1.0 and x * 1.0 are x: one formula for both modes
    values *= np.repeat(mul, n)
    for start, m, data in xor:
        values[start : start + m] = np.bitwise_xor.accumulate(_unshuffle(data, m)).view(np.float64)
    return ts, values, n
