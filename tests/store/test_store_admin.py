"""Retention, quarantine, meta state, migrations and the generic SQL session."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from heatreuse.errors import StoreError
from heatreuse.store import Migration, QuarantineReason, QuarantineRecord, Store
from heatreuse.store.postgres import decode_binary_copy, encode_binary_copy
from heatreuse.store.schema import STORE_MIGRATIONS

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z [µs]
S = 1_000_000
DAY = 86_400 * S


def test_retention_deletes_old_rows_and_refuses_writes_behind_the_horizon(store: Store) -> None:
    ts = T0 + np.arange(10) * DAY  # one reading a day for 10 days
    store.write_readings("s", "p_c", ts, np.arange(10.0))
    store.write_quarantine(
        [QuarantineRecord("s", "file:x.csv:3", "unparseable", "abc", received_at_us=int(ts[1]))]
    )
    now = pd.Timestamp(int(ts[9]), unit="us", tz="UTC")
    res = store.apply_retention(
        raw_days=3, rollup_days={"1min": 5, "1h": 8}, quarantine_days=7, now=now
    )
    assert res.raw_deleted == 6  # days 0..5 are older than now - 3 d
    assert res.rollups_deleted == {"1min": 4, "1h": 1}
    assert res.quarantine_deleted == 1
    assert store.count_readings("s") == 4
    assert len(store.read_rollup("s", "p_c", T0, T0 + 20 * DAY, "15min")) == 10  # untouched
    assert len(store.read_rollup("s", "p_c", T0, T0 + 20 * DAY, "1h")) == 9
    # a (re)sent reading older than the horizon could be a duplicate nobody can see any more
    late = store.write_readings("s", "p_c", [T0 + DAY, T0 + 9 * DAY + S], [1.0, 9.5])
    assert late.inserted == 1
    (c,) = late.conflicts
    assert (c.reason, c.ts_us, c.stored_value) == ("before_retention", T0 + DAY, None)
    assert len(store.read_rollup("s", "p_c", T0, T0 + 2 * DAY, "15min")) == 2  # not re-counted
    # the horizon never moves back
    store.apply_retention(raw_days=30, now=now)
    assert store.write_readings("s", "p_c", [T0 + DAY], [1.0]).conflicts[0].reason == (
        "before_retention"
    )
    assert store.apply_retention() == type(res)(0, {}, 0)
    with pytest.raises(StoreError, match="'5min'"):
        store.apply_retention(rollup_days={"5min": 1})
    with pytest.raises(StoreError, match="raw_days=-1"):
        store.apply_retention(raw_days=-1)


def test_quarantine_round_trip(store: Store) -> None:
    recs = [
        QuarantineRecord(
            site_id="s",
            source="mqtt:site/s/points",
            reason=QuarantineReason.UNKNOWN_POINT,
            raw_payload='{"point": "zz", "v": 1}',
            detail="point 'zz' is not in the registry",
            point_id="zz",
            received_at_us=T0 + k * S,
        )
        for k in range(3)
    ]
    recs.append(
        QuarantineRecord(
            "s",
            "modbus:10.0.0.5:502/1/40001",
            "out_of_range",
            "0x4f00",
            "",
            "hx.t_c",
            T0,
            T0 + 10 * S,
        )
    )
    recs.append(QuarantineRecord("other", "file:/d/m.csv:17", "unparseable", "x;y", "bad row"))
    assert store.write_quarantine(recs) == 5
    assert store.write_quarantine([]) == 0
    got = store.list_quarantine("s")
    assert [r.reason for r in got] == [
        "out_of_range",
        "unknown_point",
        "unknown_point",
        "unknown_point",
    ]
    top = got[0]
    assert (top.source, top.raw_payload, top.point_id, top.ts_us) == (
        "modbus:10.0.0.5:502/1/40001",
        "0x4f00",
        "hx.t_c",
        T0,
    )
    assert top.id is not None and top.received_at == pd.Timestamp("2026-01-01T00:00:10Z")
    unknown = store.list_quarantine("s", reason="unknown_point", limit=2)
    assert len(unknown) == 2 and unknown[0].ts_us is None
    assert unknown[0].raw_payload == '{"point": "zz", "v": 1}'
    assert len(store.list_quarantine("s", since=pd.Timestamp("2026-01-01T00:00:01Z"))) == 3
    assert store.count_quarantine("s") == {"out_of_range": 1, "unknown_point": 3}
    (other,) = store.list_quarantine("other")
    assert other.received_at_us is not None  # stamped on write


def test_meta_get_set(store: Store) -> None:
    assert store.get_meta("ledger.watermark_us") is None
    assert store.get_meta("ledger.watermark_us", "0") == "0"
    store.set_meta("ledger.watermark_us", str(T0))
    store.set_meta("ledger.watermark_us", str(T0 + 1))
    assert store.get_meta("ledger.watermark_us") == str(T0 + 1)


LEDGER_MIGRATIONS = (
    Migration(
        1,
        "test entries",
        sqlite=("CREATE TABLE t_entries (idx INTEGER PRIMARY KEY, body TEXT NOT NULL)",),
        postgresql=("CREATE TABLE t_entries (idx BIGINT PRIMARY KEY, body TEXT NOT NULL)",),
    ),
    Migration(
        2,
        "test column",
        sqlite=("ALTER TABLE t_entries ADD COLUMN note TEXT",),
        postgresql=("ALTER TABLE t_entries ADD COLUMN note TEXT",),
    ),
)


def test_migrations_are_idempotent_and_per_component(
    store: Store, opener: Callable[[], Store]
) -> None:
    assert store.schema_version() == len(STORE_MIGRATIONS)
    other = opener()  # opening again applies nothing twice
    assert other.schema_version() == len(STORE_MIGRATIONS)
    assert store.apply_migrations("test", LEDGER_MIGRATIONS[:1]) == 1
    assert store.apply_migrations("test", LEDGER_MIGRATIONS) == 2
    assert other.apply_migrations("test", LEDGER_MIGRATIONS) == 2
    with store.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT component, version FROM schema_version ORDER BY component, version"
        )
    store_rows = [("store", m.version) for m in STORE_MIGRATIONS]
    assert [tuple(r) for r in rows] == [*store_rows, ("test", 1), ("test", 2)]
    with pytest.raises(StoreError, match="newer than this heatreuse knows"):
        store.apply_migrations("test", LEDGER_MIGRATIONS[:1])
    with pytest.raises(StoreError, match=r"expected versions 1..2 in order, got \[2, 1\]"):
        store.apply_migrations("x", LEDGER_MIGRATIONS[::-1])


def test_transaction_commits_or_rolls_back(store: Store) -> None:
    store.apply_migrations("test", LEDGER_MIGRATIONS)
    with store.transaction() as tx:
        tx.executemany("INSERT INTO t_entries (idx, body) VALUES (?, ?)", [(0, "a"), (1, "b%")])
        store.set_meta("k", "inside")  # nests in the open transaction
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.execute("INSERT INTO t_entries (idx, body) VALUES (?, ?)", (2, "c"))
        store.set_meta("k", "rolled back")
        raise RuntimeError("boom")
    with store.transaction(write=False) as tx:
        assert tx.execute("SELECT idx, body FROM t_entries ORDER BY idx") == [(0, "a"), (1, "b%")]
        tx.execute("UPDATE t_entries SET note = ? WHERE body LIKE '%'", ("n",))
        assert tx.rowcount == 2
    assert store.get_meta("k") == "inside"


def test_readings_view_for_ad_hoc_sql(store: Store) -> None:
    store.write_readings("s", "p_c", [T0], [4.5])
    with store.transaction(write=False) as tx:
        assert tx.execute("SELECT site_id, point_id, ts_us, value FROM readings_v") == [
            ("s", "p_c", T0, 4.5)
        ]


def test_binary_copy_codec_round_trip() -> None:
    cols = [np.array([1, 2, 3]), np.array([T0, -5, 2**62]), np.array([0.5, -1e300, np.pi])]
    data = encode_binary_copy(cols, ("i4", "i8", "f8"))
    assert data.startswith(b"PGCOPY\n\xff\r\n\x00") and data.endswith(b"\xff\xff")
    back = decode_binary_copy(data, ("i4", "i8", "f8"))
    for a, b in zip(cols, back, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(StoreError, match="binary header"):
        decode_binary_copy(b"nonsense", ("i4",))
