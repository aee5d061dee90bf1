"""PostgreSQL bulk COPY in pieces: the same bytes as one stream, and rows land whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heatreuse.store import Store
from heatreuse.store.postgres import (
    COPY_PIECE_ROWS,
    decode_binary_copy,
    encode_binary_copy,
    iter_binary_copy,
)

TYPES = ("i4", "i8", "f8")


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 50])
def test_pieces_join_to_the_one_stream(n: int) -> None:
    rng = np.random.default_rng(n)
    cols = [
        rng.integers(1, 2**31 - 1, n),
        rng.integers(-(2**62), 2**62, n),
        rng.normal(size=n) * 1e6,
    ]
    pieces = list(iter_binary_copy(cols, TYPES, piece_rows=8))
    assert len(pieces) == 2 + -(-n // 8)  # header, ceil(n / 8) pieces of tuples, trailer
    joined = b"".join(pieces)
    assert joined == encode_binary_copy(cols, TYPES)
    for a, b in zip(cols, decode_binary_copy(joined, TYPES), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_write_of_several_pieces_stores_every_row(store: Store) -> None:
    # on PostgreSQL the readings and the 1 min rollup rows go through several pieces;
    # SQLite (same test, no pieces) is the reference
    n = 2 * COPY_PIECE_ROWS + 123
    ts = 1_790_000_040_000_000 + np.arange(n, dtype=np.int64) * 1_000_000  # whole minute
    values = np.arange(n, dtype=np.float64) / 8
    res = store.write_readings("site", "loop.pressure_bar", ts, values)
    assert (res.inserted, res.duplicates, tuple(res.conflicts)) == (n, 0, ())
    assert store.count_readings("site") == n
    back = store.read_series(
        "site",
        ["loop.pressure_bar"],
        pd.Timestamp(int(ts[0]), unit="us", tz="UTC"),
        pd.Timestamp(int(ts[-1]) + 1, unit="us", tz="UTC"),
    )
    np.testing.assert_array_equal(back["loop.pressure_bar"].to_numpy(), values)
    with store.transaction(write=False) as tx:
        buckets, total = tx.execute("SELECT COUNT(*), SUM(n) FROM rollup_1min")[0]
    assert (buckets, total) == (-(-n // 60), n)
