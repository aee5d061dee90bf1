"""Writes and reads on both backends: idempotent duplicates, conflicts, DataFrames."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from heatreuse.errors import StoreError
from heatreuse.store import Store, WriteResult

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z [µs]
S = 1_000_000  # 1 s [µs]


def test_same_batch_twice_is_stored_once(store: Store) -> None:
    ts = T0 + np.arange(100) * 10 * S
    pts = ["hx.supply_temp_c", "hx.return_temp_c"] * 50
    vals = np.linspace(20.0, 40.0, 100)
    first = store.write_readings("site-a", pts, ts, vals)
    assert first == WriteResult(inserted=100, duplicates=0, conflicts=())
    again = store.write_readings("site-a", pts, ts, vals)
    assert again == WriteResult(inserted=0, duplicates=100, conflicts=())
    assert again.total == 100
    assert store.count_readings("site-a") == 100
    assert store.count_readings("site-a", "hx.supply_temp_c") == 50
    # the rollups counted each reading once
    roll = store.read_rollup("site-a", ["hx.supply_temp_c", "hx.return_temp_c"], T0, T0 + 3600 * S)
    assert int(roll["count"].sum()) == 100


def test_conflict_keeps_the_first_value_and_is_returned(store: Store) -> None:
    ts = T0 + np.arange(5) * S
    store.write_readings("site-a", "meter.heat_energy_kwh", ts, [1.0, 2.0, 3.0, 4.0, 5.0])
    res = store.write_readings(
        "site-a", "meter.heat_energy_kwh", ts[1:4], [2.0, 30.0, 4.0]
    )  # middle one differs
    assert res.inserted == 0
    assert res.duplicates == 2
    assert len(res.conflicts) == 1
    c = res.conflicts[0]
    assert (c.point_id, c.ts_us, c.new_value, c.stored_value) == (
        "meter.heat_energy_kwh",
        int(ts[2]),
        30.0,
        3.0,
    )
    assert c.reason == "duplicate_conflict"
    assert c.ts == pd.Timestamp("2026-01-01T00:00:02Z")
    df = store.read_series("site-a", "meter.heat_energy_kwh", T0, T0 + 10 * S)
    assert df["meter.heat_energy_kwh"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    # nothing was quarantined: that is the caller's choice ...
    assert store.list_quarantine("site-a") == []


def test_conflicts_quarantined_in_the_same_transaction(store: Store) -> None:
    store.write_readings("site-a", "p_c", [T0], [1.0])
    res = store.write_readings(
        "site-a", "p_c", [T0, T0 + S], [9.0, 2.0], quarantine_source="mqtt:t"
    )
    assert (res.inserted, res.duplicates, len(res.conflicts)) == (1, 0, 1)
    (q,) = store.list_quarantine("site-a")
    assert (q.reason, q.source, q.point_id, q.ts_us) == ("duplicate_conflict", "mqtt:t", "p_c", T0)
    assert q.raw_payload == "9.0"
    assert "1.0" in q.detail and "9.0" in q.detail
    assert q.received_at is not None and q.received_at.tzinfo is not None


def test_duplicates_and_conflicts_within_one_batch(store: Store) -> None:
    pts = ["a_c", "a_c", "a_c", "b_c", "a_c", "b_c"]
    ts = [T0, T0, T0 + S, T0, T0, T0 + S]
    vals = [1.0, 1.0, 5.0, 7.0, 2.0, 8.0]  # a@T0: 1.0 twice (dup) then 2.0 (conflict)
    res = store.write_readings("s", pts, ts, vals)
    assert (res.inserted, res.duplicates) == (4, 1)
    assert [(c.point_id, c.ts_us, c.new_value, c.stored_value) for c in res.conflicts] == [
        ("a_c", T0, 2.0, 1.0)
    ]
    # in-batch repeats of a stored key are classified against the stored value
    res = store.write_readings("s", ["a_c", "a_c", "a_c"], [T0, T0, T0 + 2 * S], [1.0, 3.0, 6.0])
    assert (res.inserted, res.duplicates, len(res.conflicts)) == (1, 1, 1)
    assert res.conflicts[0].stored_value == 1.0


def test_mixed_batch_across_points_and_out_of_order(store: Store) -> None:
    rng = np.random.default_rng(7)
    n = 2000
    pts = rng.choice(["p1_w", "p2_w", "p3_w"], n)
    ts = T0 + rng.permutation(n) * S  # unique ts, random order
    vals = rng.normal(size=n)
    assert store.write_readings("s", pts, ts, vals).inserted == n
    # resend a random half, with 10 changed values, plus 100 new readings
    half = rng.choice(n, n // 2, replace=False)
    v2 = vals[half].copy()
    v2[:10] += 1.0
    new_ts = T0 + (n + np.arange(100)) * S
    res = store.write_readings(
        "s",
        np.r_[pts[half], np.full(100, "p1_w")],
        np.r_[ts[half], new_ts],
        np.r_[v2, np.zeros(100)],
    )
    assert (res.inserted, res.duplicates, len(res.conflicts)) == (100, n // 2 - 10, 10)
    assert store.count_readings("s") == n + 100


def test_input_forms_categorical_datetime_and_single_point(store: Store) -> None:
    idx = pd.date_range("2026-03-01", periods=6, freq="10s", tz="UTC")
    cats = pd.Categorical(["x_c", "y_c"] * 3)
    assert store.write_readings("s", cats, idx, np.arange(6.0)).inserted == 6
    naive = idx.tz_localize(None).to_numpy()  # datetime64 (UTC by convention of numpy)
    assert store.write_readings("s", "z_c", naive, np.arange(6.0)).inserted == 6
    assert store.write_readings("s", [], [], []) == WriteResult(0, 0, ())
    assert store.list_points("s") == ["x_c", "y_c", "z_c"]
    assert store.list_sites() == ["s"]


@pytest.mark.parametrize(
    ("pts", "ts", "vals", "says"),
    [
        ("p_c", [T0, T0 + S], [1.0, float("nan")], "expected a finite number"),
        ("p_c", [T0, T0 + S], [1.0, float("inf")], "'p_c' at ts_us="),
        ("p_c", [T0], [1.0, 2.0], "1 timestamps but 2 values"),
        (["p_c"], [T0, T0 + S], [1.0, 2.0], "2 timestamps but 1 point ids"),
        ([None, "p_c"], [T0, T0 + S], [1.0, 2.0], "point id is missing"),
        ([5, "p_c"], [T0, T0 + S], [1.0, 2.0], "point id 5 is not a non-empty string"),
        (["", "p_c"], [T0, T0 + S], [1.0, 2.0], "point id '' is not"),
        ("p_c", pd.DatetimeIndex(["2026-01-01"]), [1.0], "naive"),
    ],
)
def test_bad_batches_raise_and_write_nothing(
    store: Store, pts: object, ts: object, vals: object, says: str
) -> None:
    with pytest.raises(StoreError, match=says):
        store.write_readings("s", pts, ts, vals)  # type: ignore[arg-type]
    assert store.count_readings("s") == 0


def test_write_frame_and_read_series_round_trip(store: Store) -> None:
    idx = pd.date_range("2026-01-01", periods=8, freq="10s", tz="UTC")
    frame = pd.DataFrame(
        {"hx.supply_temp_c": np.arange(8.0), "hx.flow_m3_per_h": [1.0, np.nan] * 4}, index=idx
    )
    res = store.write_frame("s", frame)
    assert res.inserted == 12  # NaN cells skipped
    out = store.read_series("s", ["hx.supply_temp_c", "hx.flow_m3_per_h"], idx[0], idx[-1])
    assert isinstance(out.index, pd.DatetimeIndex)
    assert str(out.index.tz) == "UTC"
    assert out.index.name == "ts"
    assert list(out.columns) == ["hx.supply_temp_c", "hx.flow_m3_per_h"]
    # half-open [start, end): the last timestamp is excluded
    pd.testing.assert_frame_equal(out, frame.iloc[:-1].rename_axis("ts"), check_freq=False)
    renamed = store.read_series(
        "s",
        "hx.supply_temp_c",
        "2026-01-01T00:00Z",
        "2026-01-02T00:00Z",
        columns={"hx.supply_temp_c": "supply_temp_c"},
    )
    assert list(renamed.columns) == ["supply_temp_c"]
    assert len(renamed) == 8
    with pytest.raises(StoreError, match="tz-aware"):
        store.write_frame("s", frame.tz_localize(None))


def test_read_series_unknown_point_empty_range_and_bad_args(store: Store) -> None:
    store.write_readings("s", "a_c", [T0, T0 + S], [1.0, 2.0])
    df = store.read_series("s", ["a_c", "nope_c"], T0, T0 + 10 * S)
    assert df["nope_c"].isna().all() and len(df) == 2
    empty = store.read_series("s", ["a_c"], T0 + 100 * S, T0 + 200 * S)
    assert empty.empty and str(empty.index.tz) == "UTC" and list(empty.columns) == ["a_c"]
    empty_roll = store.read_series("s", ["a_c"], T0 + 3600 * S, T0 + 7200 * S, resolution="1h")
    assert empty_roll.empty and str(empty_roll.index.tz) == "UTC"
    with pytest.raises(StoreError, match="naive"):
        store.read_series("s", "a_c", pd.Timestamp("2026-01-01"), T0)
    with pytest.raises(StoreError, match="resolution '5min'"):
        store.read_series("s", "a_c", T0, T0 + S, resolution="5min")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="agg 'median'"):
        store.read_series("s", "a_c", T0, T0 + S, resolution="1h", agg="median")  # type: ignore[arg-type]
    assert store.extent("s", "a_c") == (
        pd.Timestamp("2026-01-01T00:00:00Z"),
        pd.Timestamp("2026-01-01T00:00:01Z"),
    )
    assert store.extent("s", "nope_c") is None


def test_sites_are_separate(store: Store) -> None:
    store.write_readings("a", "p_c", [T0], [1.0])
    res = store.write_readings("b", "p_c", [T0], [2.0])
    assert res.inserted == 1 and not res.conflicts
    assert store.read_series("b", "p_c", T0, T0 + S)["p_c"].tolist() == [2.0]


def test_concurrent_writers_of_one_site_count_each_reading_once(
    opener: Callable[[], Store],
) -> None:
    """Two connections write overlapping batches at once: no double insert, no double rollup."""
    ts = T0 + np.arange(3000) * S
    vals = np.sin(np.arange(3000.0))
    results: list[WriteResult] = []
    errors: list[BaseException] = []
    stores = [opener(), opener()]

    def work(k: int) -> None:
        try:
            for i in range(0, 3000, 500):
                lo = max(0, i - 250 * k)
                results.append(
                    stores[k].write_readings("s", "p_w", ts[lo : i + 500], vals[lo : i + 500])
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.inserted for r in results) == 3000
    assert all(not r.conflicts for r in results)
    roll = stores[0].read_rollup("s", "p_w", T0, T0 + 3600 * S, resolution="1h")
    assert roll["count"].tolist() == [3000]
    assert roll["sum"].iloc[0] == pytest.approx(vals.sum())


def test_durable_after_close_and_flush(opener: Callable[[], Store]) -> None:
    s1 = opener()
    s1.write_readings("s", "p_c", [T0], [1.0])
    s1.flush()
    s1.close()
    s1.close()  # idempotent
    with pytest.raises(StoreError, match="after close"):
        s1.write_readings("s", "p_c", [T0 + S], [1.0])
    assert opener().count_readings("s") == 1


def test_one_store_shared_by_threads_and_synchronous_full(store_url: str) -> None:
    from heatreuse.store import open_store

    url = store_url + ("?synchronous=full" if store_url.startswith("sqlite") else "")
    with open_store(url, create=True) as store:
        errors: list[BaseException] = []

        def work(point: str) -> None:
            try:
                for i in range(20):
                    store.write_readings(
                        "s", point, T0 + np.arange(i * 50, i * 50 + 50) * S, np.ones(50)
                    )
                    store.read_series("s", point, T0, T0 + 1000 * S)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(f"p{k}_w",)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert store.count_readings("s") == 3000
        store.flush()


def test_error_inside_a_write_rolls_back_everything(store: Store) -> None:
    store.write_readings("s", "p_c", [T0], [1.0])
    with pytest.raises(RuntimeError), store.transaction() as tx:
        store.write_readings("s", "p_c", [T0 + S, T0 + 2 * S], [2.0, 3.0])  # nested
        tx.execute("SELECT 1")
        raise RuntimeError("caller failed after the write")
    assert store.count_readings("s") == 1
    assert store.read_rollup("s", "p_c", T0, T0 + 60 * S, "1min")["count"].tolist() == [1]


def test_large_batch_in_one_call(store: Store) -> None:
    """More rows than one insert block (128,000 rows in SQLite), with a ragged tail."""
    n = 140_003
    ts = T0 + np.arange(n, dtype=np.int64) * S
    vals = np.arange(n, dtype=np.float64)
    res = store.write_readings("s", pd.Categorical(["a_w", "b_w"] * (n // 2) + ["a_w"]), ts, vals)
    assert res == WriteResult(n, 0, ())
    assert store.count_readings("s") == n
    roll = store.read_rollup("s", ["a_w", "b_w"], T0, T0 + n * S, "1h")
    assert int(roll["count"].sum()) == n
    assert roll["sum"].sum() == pytest.approx(vals.sum())


def test_read_series_max_rows_reads_each_points_first_rows_exactly(store: Store) -> None:
    """A page of a dense range fetches each point's first rows only (``max_rows``), and
    those rows are the ones a whole read gives: the union holds the first rows overall."""
    t0 = 1_767_225_600_000_000
    a_us = t0 + np.arange(200, dtype=np.int64) * 500  # 2,000 readings/s
    b_us = t0 + 30_000 + np.arange(50, dtype=np.int64) * 4_000
    store.write_readings("s", "a.temp_c", a_us, np.arange(200, dtype=float))
    store.write_readings("s", "b.temp_c", b_us, 1000.0 + np.arange(50, dtype=float))
    whole = store.read_series("s", ["a.temp_c", "b.temp_c"], t0 - 10**9, t0 + 10**9)
    part = store.read_series("s", ["a.temp_c", "b.temp_c"], t0 - 10**9, t0 + 10**9, max_rows=10)
    for col in ("a.temp_c", "b.temp_c"):
        got = part[col].dropna()
        assert len(got) == 10
        pd.testing.assert_series_equal(got, whole[col].dropna().iloc[:10])
    assert len(part) < len(whole)
    few = store.read_series("s", "b.temp_c", t0, t0 + 10**9, max_rows=1000)  # fewer than asked
    assert len(few) == 50
    with pytest.raises(StoreError, match="max_rows"):
        store.read_series("s", "a.temp_c", t0, t0 + 1, max_rows=0)
