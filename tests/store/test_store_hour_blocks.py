"""The packed hourly blocks (``rollup_1h_day``) always agree with the row table ``rollup_1h``.

Hourly reads come from the blocks; the row table is the canonical, SQL-queryable
form. Both are written in the same transaction, cut by the same retention and
(for stores created before migration 2) filled by the migration's backfill.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from heatreuse.errors import StoreError
from heatreuse.store import Store
from heatreuse.store import rollups as R
from heatreuse.store.schema import STORE_MIGRATIONS

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z [µs]
S = 1_000_000
H = 3600 * S
DAY = 24 * H


def _rows_from_table(store: Store, lo_us: int, hi_us: int) -> R.RollupRows:
    with store.transaction(write=False) as tx:
        rows = tx.execute(
            f"SELECT {', '.join(R.COLUMNS)} FROM rollup_1h WHERE bucket_us >= ? "
            "AND bucket_us < ? ORDER BY series_id, bucket_us",
            (lo_us, hi_us),
        )
    if not rows:
        return R.empty_rows()
    return R.RollupRows.from_columns(dict(zip(R.COLUMNS, zip(*rows, strict=True), strict=True)))


def _rows_from_blocks(store: Store, lo_us: int, hi_us: int) -> R.RollupRows:
    with store.transaction(write=False) as tx:
        sids = [int(r[0]) for r in tx.execute("SELECT series_id FROM series")]
        return store._read_hour_rows(tx, sids, lo_us, hi_us)


def _assert_same(a: R.RollupRows, b: R.RollupRows) -> None:
    assert len(a) == len(b)
    for c in R.COLUMNS:
        np.testing.assert_array_equal(getattr(a, c), getattr(b, c), err_msg=c)


def _write_random(store: Store, seed: int, days: int = 3) -> None:
    """Late, out-of-order and overlapping batches of 3 points over ``days`` days."""
    rng = np.random.default_rng(seed)
    n = 5000
    points = np.array(["a.power_w", "b.temp_c", "c.heat_energy_kwh"])
    ts = T0 - 5 * H + rng.integers(0, days * 86_400, n) * S  # starts before midnight
    pts = points[rng.integers(0, 3, n)]
    vals = np.round(rng.normal(50, 20, n), 3)
    order = rng.permutation(n)
    bounds = np.linspace(0, n, 6).astype(int)
    for k in range(5):
        sel = order[bounds[k] : bounds[k + 1]]
        if k:
            sel = np.r_[sel, order[rng.integers(0, bounds[k], 200)]]
        store.write_readings("s", pts[sel], ts[sel], vals[sel])


def test_blocks_equal_the_row_table_after_late_out_of_order_batches(store: Store) -> None:
    _write_random(store, 7)
    lo, hi = T0 - 2 * DAY, T0 + 5 * DAY
    table = _rows_from_table(store, lo, hi)
    assert len(table) > 3 * 60  # ~3 days x 3 points of hours
    _assert_same(_rows_from_blocks(store, lo, hi), table)
    # a window that starts and ends inside a day (not on block edges)
    _assert_same(
        _rows_from_blocks(store, T0 + 7 * H, T0 + DAY + 13 * H),
        _rows_from_table(store, T0 + 7 * H, T0 + DAY + 13 * H),
    )
    # the public reads agree with the row table too (mean = sum / count)
    wide = store.read_series("s", ["a.power_w", "b.temp_c"], lo, hi, resolution="1h")
    with store.transaction(write=False) as tx:
        sid = tx.execute("SELECT series_id FROM series WHERE point_id = 'b.temp_c'")[0][0]
    sel = table.series_id == sid
    got = wide["b.temp_c"].dropna()
    np.testing.assert_array_equal(got.to_numpy(), table.vsum[sel] / table.n[sel])
    assert (got.index == pd.to_datetime(table.bucket_us[sel], unit="us", utc=True)).all()


@pytest.mark.parametrize("agg", ["mean", "min", "max", "sum", "count", "first", "last"])
def test_hourly_agg_equals_the_sql_expression(store: Store, agg: str) -> None:
    _write_random(store, 3, days=2)
    lo, hi = T0 - DAY, T0 + 3 * DAY
    got = store.read_series("s", "a.power_w", lo, hi, resolution="1h", agg=agg)["a.power_w"]
    with store.transaction(write=False) as tx:
        rows = tx.execute(
            f"SELECT bucket_us, {R.AGG_SQL[agg]} FROM rollup_1h r JOIN series s "
            "ON s.series_id = r.series_id WHERE s.point_id = 'a.power_w' ORDER BY bucket_us"
        )
    assert (got.index == pd.to_datetime([int(r[0]) for r in rows], unit="us", utc=True)).all()
    np.testing.assert_array_equal(got.to_numpy(), np.array([float(r[1]) for r in rows]))


def test_retention_cuts_blocks_like_the_row_table(store: Store) -> None:
    ts = T0 + np.arange(0, 4 * 24) * H + 60 * S  # hourly readings for 4 days
    store.write_readings("s", "p_c", ts, np.arange(len(ts), dtype=float))
    now = pd.Timestamp(T0 + 4 * DAY, unit="us", tz="UTC")
    # keep 1.5 days: the cut falls at noon of day 2, inside a block
    store.apply_retention(rollup_days={"1h": 1.5}, now=now)
    lo, hi = T0 - DAY, T0 + 5 * DAY
    table = _rows_from_table(store, lo, hi)
    assert len(table) == 36
    assert int(table.bucket_us[0]) == T0 + 2 * DAY + 12 * H
    _assert_same(_rows_from_blocks(store, lo, hi), table)
    with store.transaction(write=False) as tx:
        blocks = [int(r[0]) for r in tx.execute("SELECT block_us FROM rollup_1h_day")]
    assert sorted(blocks) == [T0 + 2 * DAY, T0 + 3 * DAY]  # whole days before the cut gone
    store.apply_retention(rollup_days={"1h": 0}, now=now)
    assert len(_rows_from_blocks(store, lo, hi)) == 0
    assert len(store.read_series("s", "p_c", lo, hi, resolution="1h")) == 0


def test_migration_2_backfills_blocks_of_an_older_store(
    store: Store, opener: Callable[[], Store], tables_from_migration: Callable[[int], list[str]]
) -> None:
    _write_random(store, 5)
    lo, hi = T0 - 2 * DAY, T0 + 5 * DAY
    before = store.read_series("s", ["a.power_w", "b.temp_c"], lo, hi, resolution="1h")
    # make the store look like one written before migration 2 (tables of later
    # migrations dropped too: they are re-created on the way up)
    with store.transaction() as tx:
        for table in ("rollup_1h_day", *tables_from_migration(3)):
            tx.execute(f"DROP TABLE {table}")
        tx.execute("DELETE FROM schema_version WHERE component = 'store' AND version >= 2")
    assert store.schema_version() == 1
    again = opener()  # opening applies migration 2 and its backfill
    assert again.schema_version() == len(STORE_MIGRATIONS)
    _assert_same(_rows_from_blocks(again, lo, hi), _rows_from_table(again, lo, hi))
    after = again.read_series("s", ["a.power_w", "b.temp_c"], lo, hi, resolution="1h")
    pd.testing.assert_frame_equal(after, before)


def test_a_block_of_the_wrong_size_is_a_clear_store_error(store: Store) -> None:
    store.write_readings("s", "p_c", [T0 + 30 * S], [1.0])
    with store.transaction() as tx:
        tx.execute("UPDATE rollup_1h_day SET data = ?", (b"\x00" * 100,))
    with pytest.raises(StoreError, match=r"rollup_1h_day: a block of 100 bytes; expected 1536"):
        store.read_series("s", "p_c", T0, T0 + DAY, resolution="1h")


def test_pack_and_unpack_round_trip_without_a_database() -> None:
    rng = np.random.default_rng(1)
    ts = np.sort(rng.choice(np.arange(-50, 80) * 1800 * S, 90, replace=False))  # around 1970
    sid = np.r_[np.zeros(45, np.int64), np.ones(45, np.int64)]
    order = np.lexsort((ts, sid))
    rows = R.aggregate(sid[order], ts[order], rng.normal(size=90)[order], H)
    packed = R.pack_hour_blocks(rows, {})
    assert all(len(b) == R.HOUR_BLOCK_BYTES for b in packed[2])
    back = R.unpack_hour_blocks(
        np.asarray(packed[0]), np.asarray(packed[1]), packed[2], -(2**62), 2**62
    )
    _assert_same(back, rows)
    # folding a subset into the stored blocks changes only those slots
    stored = dict(zip(zip(packed[0], packed[1], strict=True), packed[2], strict=True))
    part = R.take(rows, np.arange(3, 9))
    part.vsum[:] = 1e9
    again = R.pack_hour_blocks(part, stored)
    merged = dict(stored)
    merged.update(zip(zip(again[0], again[1], strict=True), again[2], strict=True))
    keys = sorted(merged)
    back = R.unpack_hour_blocks(
        np.array([k[0] for k in keys]),
        np.array([k[1] for k in keys]),
        [merged[k] for k in keys],
        -(2**62),
        2**62,
    )
    expected = rows.vsum.copy()
    expected[3:9] = 1e9
    np.testing.assert_array_equal(back.vsum, expected)
