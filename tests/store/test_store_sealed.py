"""Sealed history (issue 15): blocks read back exactly what the rows held, on both backends.

Every test builds the same readings in a store that seals and in a reference store that
never seals, and compares every read the store offers (raw ranges, the rollups at each
resolution and aggregate, counter deltas, minute statistics, counts, extents), also after
late readings for a sealed day, after duplicates and conflicts, and after retention.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from heatreuse.errors import StoreError
from heatreuse.store import Store, blocks, open_store
from heatreuse.store.schema import STORE_MIGRATIONS

PG_URL = os.environ.get("HEATREUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

DAY_US = 86_400_000_000
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
NOW = T0 + 10 * DAY_US  # "now" of the tests: ten days after the first reading
SITE = "s"
POINTS = ["temp_c", "power_w", "noise_c", "energy_kwh", "flat_c", "sparse_c"]


def _data() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Six points over 9 days: quantised, noisy, counter with a wrap, repeats, gaps."""
    rng = np.random.default_rng(7)
    pids: list[str] = []
    tss: list[np.ndarray] = []
    vals: list[np.ndarray] = []

    def add(p: str, ts: np.ndarray, v: np.ndarray) -> None:
        pids.extend([p] * len(ts))
        tss.append(ts)
        vals.append(v)

    ts10 = T0 + np.arange(9 * 8640, dtype=np.int64) * 10_000_000
    add("temp_c", ts10, np.round(40 + np.cumsum(rng.normal(0, 0.02, len(ts10))), 2))
    keep = rng.random(len(ts10)) > 0.1  # irregular: 10 % missing
    add("power_w", ts10[keep], np.round(20000 + rng.normal(0, 300, keep.sum())))
    ts60 = T0 + np.arange(9 * 1440, dtype=np.int64) * 60_000_000 + 17  # off-grid µs
    add("noise_c", ts60, 30 + rng.standard_normal(len(ts60)))  # full-precision doubles
    counter = np.cumsum(rng.uniform(0, 2, len(ts60)))
    add("energy_kwh", ts60, np.mod(counter, 1000.0))  # wraps at 1000
    flat = np.full(len(ts60), 21.5)
    flat[::97] = -0.0  # repeats and a negative zero
    add("flat_c", ts60, flat)
    # gaps of whole days: readings on days 0, 3 and 8 only, jittered
    days = np.r_[0, 3, 8]
    sparse = np.concatenate(
        [
            T0 + d * DAY_US + np.sort(rng.choice(DAY_US // 1000, 50, replace=False)) * 1000
            for d in days
        ]
    )
    add("sparse_c", sparse, rng.normal(5, 1, len(sparse)))
    return pids, np.concatenate(tss), np.concatenate(vals)


@pytest.fixture
def pair(store_url: str, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """The store under test and a reference store on the same backend that never seals
    (same backend: SQLite keeps -0.0 as 0, PostgreSQL keeps its sign)."""
    if store_url.startswith("sqlite"):
        ref_url = f"sqlite:///{tmp_path / 'ref.db'}"
    else:
        ref_schema = "hr_test_" + uuid.uuid4().hex[:12]
        ref_url = f"{PG_URL}?schema={ref_schema}"
    sealed = open_store(store_url, create=True)
    ref = open_store(ref_url, create=True)
    try:
        yield sealed, ref
    finally:
        sealed.close()
        ref.close()
        if not store_url.startswith("sqlite"):
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{ref_schema}" CASCADE')  # type: ignore[arg-type]


def _write(stores: tuple[Store, ...], pids: list[str], ts: np.ndarray, v: np.ndarray) -> list:
    return [s.write_readings(SITE, pids, ts, v) for s in stores]


EXACT = ["count", "min", "max", "first", "last", "first_ts", "last_ts", "delta_since"]
CLOSE = ["sum", "mean", "delta"]


def _us(index: pd.Index) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(index).as_unit("us").asi8)


def _same_column(a: pd.Series, b: pd.Series, exact: bool, what: str) -> None:
    """Equal columns (bit for bit when ``exact``; sums to 1e-12 relative), NaN == NaN."""
    if isinstance(a.dtype, pd.DatetimeTZDtype):
        np.testing.assert_array_equal(_us(pd.Index(a)), _us(pd.Index(b)), err_msg=what)
        return
    x = a.to_numpy(dtype=np.float64)
    y = b.to_numpy(dtype=np.float64)
    if exact:
        np.testing.assert_array_equal(x.view(np.uint64), y.view(np.uint64), err_msg=what)
    else:
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=0, equal_nan=True, err_msg=what)


def _same_frame(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    assert list(a.columns) == list(b.columns), what
    np.testing.assert_array_equal(_us(a.index), _us(b.index), err_msg=what)
    for c in a.columns:
        _same_column(a[c], b[c], exact=False, what=f"{what} {c}")


def _assert_same(a: Store, b: Store, lo: int, hi: int) -> None:
    """Every read of ``a`` equals the reference ``b`` over ``[lo, hi)``."""
    for p in POINTS:
        ra = a.read_series(SITE, p, lo, hi)
        rb = b.read_series(SITE, p, lo, hi)
        np.testing.assert_array_equal(_us(ra.index), _us(rb.index), err_msg=p)
        _same_column(ra[p], rb[p], exact=True, what=p)
        assert a.count_readings(SITE, p, lo, hi) == b.count_readings(SITE, p, lo, hi) == len(rb)
        assert a.extent(SITE, p) == b.extent(SITE, p)
    for res in ("1min", "15min", "1h"):
        fa = a.read_rollup(SITE, POINTS, lo, hi, res, counter_rollover={"energy_kwh": 1000.0})
        fb = b.read_rollup(SITE, POINTS, lo, hi, res, counter_rollover={"energy_kwh": 1000.0})
        assert len(fa) == len(fb) > 0, res
        np.testing.assert_array_equal(_us(fa.index), _us(fb.index), err_msg=res)
        assert fa["point_id"].tolist() == fb["point_id"].tolist(), res
        for c in [*EXACT, "counter_wrapped", "counter_break"]:
            _same_column(fa[c], fb[c], exact=True, what=f"{res} {c}")
        for c in CLOSE:
            _same_column(fa[c], fb[c], exact=False, what=f"{res} {c}")
        for agg in ("mean", "min", "max", "count", "first", "last", "delta"):
            sa = a.read_series(SITE, POINTS, lo, hi, resolution=res, agg=agg)
            sb = b.read_series(SITE, POINTS, lo, hi, resolution=res, agg=agg)
            _same_frame(sa, sb, f"{res} {agg}")
    ma = a.read_minute_stats(SITE, POINTS, lo, hi)
    mb = b.read_minute_stats(SITE, POINTS, lo, hi)
    assert ma["point_id"].tolist() == mb["point_id"].tolist()
    _same_frame(ma.drop(columns="point_id"), mb.drop(columns="point_id"), "minute stats")
    assert a.count_readings(SITE, None, lo, hi) == b.count_readings(SITE, None, lo, hi)
    assert a.last_reading(SITE) == b.last_reading(SITE)
    for table in ("raw", "1min"):
        assert a.earliest(SITE, table) == b.earliest(SITE, table), table
        for d in range(10):
            args = (SITE, table, T0 + d * DAY_US, T0 + (d + 1) * DAY_US)
            assert a.has_data_in(*args) == b.has_data_in(*args), (table, d)


def test_block_codec_is_bit_exact_for_any_double() -> None:
    rng = np.random.default_rng(3)
    ts = T0 + np.cumsum(rng.integers(1, 10**8, 500))
    cases = {
        "quantised": np.round(rng.normal(40, 5, 500), 2),
        "noise": rng.standard_normal(500),
        "specials": np.r_[np.nan, np.inf, -np.inf, -0.0, 0.0, 5e-324, 1.7e308, rng.random(493)],
        "repeats": np.full(500, 3.25),
        "resolution times k": np.round(rng.normal(40, 5, 500) / 0.01) * 0.01,
        "negative zero": np.r_[-0.0, 1.25, -0.0, np.round(rng.normal(0, 1, 497), 2)],
        "huge ints": np.r_[2.0**60, np.arange(499.0)],
        "one": np.r_[1.5, np.zeros(499)][:1],
    }
    for name, v in cases.items():
        t = ts[: len(v)]
        got_t, got_v = blocks.decode_block(blocks.encode_block(t, v))
        np.testing.assert_array_equal(got_t, t, err_msg=name)
        np.testing.assert_array_equal(got_v.view(np.uint64), v.view(np.uint64), err_msg=name)
    # a regular grid of quantised values packs far below 16 bytes per reading, whether
    # the values are k / 100 or k * 0.01 (not the same doubles)
    grid = T0 + np.arange(8640, dtype=np.int64) * 10_000_000
    k = np.round(4000 + np.cumsum(rng.normal(0, 1, 8640)))
    for slow in (k / 100, k * 0.01):
        assert not np.array_equal(k / 100, k * 0.01)
        blob = blocks.encode_block(grid, slow)
        assert len(blob) < 2 * 8640
        np.testing.assert_array_equal(
            blocks.decode_block(blob)[1].view(np.uint64), slow.view(np.uint64)
        )
    # all blocks decoded together equal each decoded alone
    blobs = [blocks.encode_block(ts[: len(v)], v) for v in cases.values()]
    got_t, got_v, counts = blocks.decode_blocks(blobs)
    one_by_one = [blocks.decode_block(b) for b in blobs]
    np.testing.assert_array_equal(counts, [len(v) for v in cases.values()])
    np.testing.assert_array_equal(got_t, np.concatenate([t for t, _ in one_by_one]))
    np.testing.assert_array_equal(
        got_v.view(np.uint64), np.concatenate([v for _, v in one_by_one]).view(np.uint64)
    )
    with pytest.raises(StoreError, match="strictly increasing"):
        blocks.encode_block(np.r_[ts[1], ts[0]], np.r_[1.0, 2.0])


def test_sealed_reads_equal_rows(pair: tuple[Store, Store]) -> None:
    sealed, ref = pair
    pids, ts, v = _data()
    _write((sealed, ref), pids, ts, v)
    before = sealed.summary()["rows"]["readings"]
    result = sealed.seal(now=NOW, hot_days=2)
    # days 0..7 are sealed (day 8 ends after now - 2 d), per point present on a day
    assert result.days_sealed == 5 * 8 + 2  # five daily points, sparse_c on days 0 and 3
    summary = sealed.summary()
    assert summary["rows"]["readings"] == before - result.readings_sealed
    assert summary["rows"]["sealed_blocks"] == result.days_sealed
    assert summary["rows"]["rollup_1min"] < ref.summary()["rows"]["rollup_1min"] / 5
    assert sealed.count_all_readings() == ref.count_all_readings() == len(ts)
    _assert_same(sealed, ref, T0 - DAY_US, NOW)
    # ranges that start and end inside sealed days and in the hot window
    _assert_same(sealed, ref, T0 + DAY_US + 3_599_000_000, T0 + 8 * DAY_US + 7_200_000_001)
    # sealing again finds nothing; a later now seals the rest
    assert sealed.seal(now=NOW, hot_days=2).days_sealed == 0
    assert sealed.seal(now=NOW + 5 * DAY_US, hot_days=2).days_sealed == 6
    _assert_same(sealed, ref, T0 - DAY_US, NOW)


def test_late_duplicate_and_conflicting_readings_for_a_sealed_day(
    pair: tuple[Store, Store],
) -> None:
    sealed, ref = pair
    pids, ts, v = _data()
    _write((sealed, ref), pids, ts, v)
    sealed.seal(now=NOW, hot_days=2)
    blocks_before = sealed.summary()["rows"]["sealed_blocks"]
    rows_before = sealed.summary()["rows"]["readings"]
    # the same batch again: all duplicates, nothing reopened
    again = _write((sealed, ref), pids[:5000], ts[:5000], v[:5000])
    assert again[0].duplicates == again[1].duplicates == 5000
    # a conflicting value for a sealed key is refused with the stored value
    conflict = _write((sealed, ref), ["temp_c"], ts[10:11], v[10:11] + 1.0)
    assert conflict[0].conflicts == conflict[1].conflicts
    assert conflict[0].conflicts[0].stored_value == v[10]
    # late readings inside sealed days (between grid points, and a new point)
    late_ts = np.r_[T0 + 2 * DAY_US + 5_000_000, T0 + 5 * DAY_US + 123, T0 + 1 * DAY_US + 1]
    late_p = ["temp_c", "noise_c", "brand_new_c"]
    res = _write((sealed, ref), late_p, late_ts, np.r_[99.99, -1.5, 7.0])
    assert res[0].inserted == res[1].inserted == 3
    summary = sealed.summary()["rows"]
    # the two reopened days are sealed again; the new point's day was never sealed
    assert summary["sealed_blocks"] == blocks_before
    assert summary["readings"] == rows_before + 1
    _assert_same(sealed, ref, T0 - DAY_US, NOW)
    assert sealed.seal(now=NOW, hot_days=2).days_sealed == 1
    _assert_same(sealed, ref, T0 - DAY_US, NOW)
    got = sealed.read_series(SITE, "brand_new_c", T0, NOW)
    assert list(got["brand_new_c"]) == [7.0]


@pytest.mark.parametrize("raw_days", [6.5, 3.0])
def test_retention_cuts_blocks_and_keeps_rollups(
    pair: tuple[Store, Store], raw_days: float
) -> None:
    sealed, ref = pair
    pids, ts, v = _data()
    _write((sealed, ref), pids, ts, v)
    sealed.seal(now=NOW, hot_days=2)
    rollup_days = {"1min": 8.0, "15min": 9.25, "1h": 30.0}
    ra = sealed.apply_retention(raw_days=raw_days, rollup_days=rollup_days, now=NOW)
    rb = ref.apply_retention(raw_days=raw_days, rollup_days=rollup_days, now=NOW)
    assert ra.raw_deleted == rb.raw_deleted > 0
    assert ra.rollups_deleted == rb.rollups_deleted
    assert sealed.count_all_readings() == ref.count_all_readings()
    _assert_same(sealed, ref, T0 - DAY_US, NOW)
    # a reading older than the horizon is refused, one inside a sealed day is accepted
    old = _write((sealed, ref), ["temp_c"], np.r_[T0 + 5], np.r_[1.0])
    assert old[0].conflicts[0].reason == old[1].conflicts[0].reason == "before_retention"
    late = _write((sealed, ref), ["temp_c"], np.r_[NOW - 3 * DAY_US + 7], np.r_[2.0])
    assert late[0].inserted == late[1].inserted == 1
    _assert_same(sealed, ref, T0 - DAY_US, NOW)


def test_compact_gives_space_back(store_url: str) -> None:
    pids, ts, v = _data()
    with open_store(store_url, create=True) as store:
        store.write_readings(SITE, pids, ts, v)
        before = store.database_bytes()
        result = store.compact(now=NOW + 30 * DAY_US, hot_days=2)
        assert result.readings_sealed == len(ts) == result.readings
        assert result.bytes_before >= before * 0.9
        assert result.bytes_after < result.bytes_before / 4
        info = store.sealed_summary()
        assert info["readings"] == len(ts)
        assert info["bytes_per_reading"] == pytest.approx(result.bytes_after / len(ts), rel=0.2)


def test_seal_refuses_a_negative_hot_window(store: Store) -> None:
    with pytest.raises(StoreError, match="hot window"):
        store.seal(hot_days=-1)


def test_migration_7_keeps_the_hourly_blocks(
    store: Store, opener: Callable[[], Store], tables_from_migration: Callable[[int], list[str]]
) -> None:
    """A store of schema version 6 with data migrates (SQLite rebuilds rollup_1h_day)."""
    pids, ts, v = _data()
    store.write_readings(SITE, pids, ts, v)
    hourly = store.read_rollup(SITE, POINTS, T0, NOW, "1h")
    later = tables_from_migration(7)  # migration 7 and every later one go back
    assert blocks.SEALED_TABLE in later
    with store.transaction() as tx:
        for table in later:
            tx.execute(f"DROP TABLE {table}")
        tx.execute("DELETE FROM schema_version WHERE component = 'store' AND version >= 7")
    assert store.schema_version() == 6
    again = opener()
    assert again.schema_version() == len(STORE_MIGRATIONS) >= 7
    after = again.read_rollup(SITE, POINTS, T0, NOW, "1h")
    assert len(after) == len(hourly) > 0
    for c in ("count", "sum", "last", "last_ts"):
        _same_column(after[c], hourly[c], exact=True, what=c)
    assert again.seal(now=NOW, hot_days=2).days_sealed == 42
