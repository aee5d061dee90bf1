"""Recorded site facts (migration 3): the first accepted reading, i.e. when monitoring began."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from heatreuse.store import Store
from heatreuse.store.schema import STORE_MIGRATIONS

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z [µs]
DAY = 86_400_000_000


def ts(us: int) -> pd.Timestamp:
    return pd.Timestamp(us, unit="us", tz="UTC")


def test_first_reading_is_recorded_and_only_moves_earlier(store: Store) -> None:
    assert store.first_reading("s") is None
    store.write_readings("s", "a_c", [T0 + 5 * DAY, T0 + 6 * DAY], [1.0, 2.0])
    assert store.first_reading("s") == ts(T0 + 5 * DAY)
    store.write_readings("s", "b_w", [T0 + 9 * DAY], [3.0])  # later, another point
    assert store.first_reading("s") == ts(T0 + 5 * DAY)
    store.write_readings("s", "b_w", [T0 + 2 * DAY], [3.0])  # late data from before
    assert store.first_reading("s") == ts(T0 + 2 * DAY)
    assert store.first_reading("other") is None


def test_retention_does_not_move_the_first_reading_nor_do_refused_readings(store: Store) -> None:
    store.write_readings("s", "a_c", T0 + pd.Series(range(10)).to_numpy() * DAY, [1.0] * 10)
    res = store.apply_retention(raw_days=3, rollup_days={"1min": 3, "1h": 3}, now=ts(T0 + 10 * DAY))
    assert res.raw_deleted == 7
    assert store.first_reading("s") == ts(T0)  # not what the store holds today
    # older than the raw horizon: refused as before_retention, not accepted
    out = store.write_readings("s", "a_c", [T0 - DAY], [1.0])
    assert out.inserted == 0 and out.conflicts
    assert store.first_reading("s") == ts(T0)
    horizons = store.retention_horizons()
    assert horizons["raw"] == ts(T0 + 7 * DAY) and horizons["1min"] == ts(T0 + 7 * DAY)
    assert store.summary()["first_reading"] == {"s": "2026-01-01T00:00:00.000000Z"}


def test_migration_3_records_first_readings_of_an_older_store(
    store: Store, opener: Callable[[], Store], tables_from_migration: Callable[[int], list[str]]
) -> None:
    store.write_readings("s", "a_c", [T0 + DAY, T0 + 3 * DAY], [1.0, 2.0])
    store.write_readings("t", "a_c", [T0 + 2 * DAY], [1.0])
    # raw data of "s" before day 2 already gone; its rollups still know the first reading
    store.apply_retention(raw_days=1.5, now=ts(T0 + 3 * DAY))
    with store.transaction() as tx:  # (tables of later migrations dropped too)
        for table in tables_from_migration(3):
            tx.execute(f"DROP TABLE {table}")
        tx.execute("DELETE FROM schema_version WHERE component = 'store' AND version >= 3")
    assert store.schema_version() == 2
    again = opener()  # opening applies migration 3 and its backfill (and the later ones)
    assert again.schema_version() == len(STORE_MIGRATIONS)
    assert again.first_reading("s") == ts(T0 + DAY)
    assert again.first_reading("t") == ts(T0 + 2 * DAY)
