"""Rollups maintained at ingest vs pandas on the raw data; counter deltas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heatreuse.store import Store
from heatreuse.store import rollups as R

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z [µs]
S = 1_000_000
FREQ = {"1min": "1min", "15min": "15min", "1h": "1h"}


def _expected(raw: pd.DataFrame, resolution: str) -> pd.DataFrame:
    """Per (point, bucket): pandas resample of the unique raw readings."""
    out = []
    for p, g in raw.groupby("point_id"):
        s = g.set_index("ts")["value"].sort_index()
        r = s.resample(FREQ[resolution])
        e = pd.DataFrame(
            {
                "count": r.count(),
                "min": r.min(),
                "max": r.max(),
                "sum": r.sum(),
                "mean": r.mean(),
                "first": r.first(),
                "last": r.last(),
            }
        )
        e = e[e["count"] > 0]
        e.insert(0, "point_id", p)
        out.append(e)
    return pd.concat(out).rename_axis("bucket_start")


def test_aggregate_matches_pandas_without_a_database() -> None:
    rng = np.random.default_rng(3)
    ts = np.sort(rng.choice(np.arange(-7200, 7200) * S, 3000, replace=False))  # around 1970
    sid = np.zeros(len(ts), dtype=np.int64)
    v = rng.normal(size=len(ts))
    rows = R.aggregate(sid, ts, v, 15 * 60 * S)
    s = pd.Series(v, index=pd.to_datetime(ts, unit="us", utc=True)).resample("15min")
    cnt = s.count()
    cnt = cnt[cnt > 0]
    assert rows.n.tolist() == cnt.tolist()
    assert (pd.to_datetime(rows.bucket_us, unit="us", utc=True) == cnt.index).all()
    np.testing.assert_allclose(rows.vsum, s.sum()[cnt.index].to_numpy())
    np.testing.assert_array_equal(rows.first_value, s.first()[cnt.index].to_numpy())
    np.testing.assert_array_equal(rows.last_value, s.last()[cnt.index].to_numpy())
    assert len(R.aggregate(sid[:0], ts[:0], v[:0], 60 * S)) == 0


@pytest.mark.parametrize("resolution", ["1min", "15min", "1h"])
def test_rollups_equal_pandas_resample_with_late_and_out_of_order_batches(
    store: Store, resolution: str
) -> None:
    rng = np.random.default_rng(11)
    n = 6000
    points = np.array(["a.power_w", "b.temp_c", "c.flow_m3_per_h"])
    # irregular timestamps over ~5 h, a few per point colliding on purpose
    ts = T0 + rng.integers(0, 5 * 3600, n) * S + rng.integers(0, 1000, n) * 1000
    pts = points[rng.integers(0, 3, n)]
    vals = np.round(rng.normal(50, 20, n), 3)
    order = rng.permutation(n)  # arrival order: random (late and out of order)
    # 7 batches with overlaps: every batch also resends 300 readings of an earlier one
    bounds = np.linspace(0, n, 8).astype(int)
    for k in range(7):
        sel = order[bounds[k] : bounds[k + 1]]
        if k:
            sel = np.r_[sel, order[rng.integers(0, bounds[k], 300)]]
        store.write_readings("s", pts[sel], ts[sel], vals[sel])

    raw = pd.DataFrame({"point_id": pts, "ts": ts, "value": vals})
    raw = raw.drop_duplicates(["point_id", "ts"], keep="first")  # first arrival wins
    # the "first arrival" above is in array order; compute the real first-arrival value
    first_pos = {}
    for i in order:
        first_pos.setdefault((pts[i], ts[i]), vals[i])
    raw["value"] = [first_pos[(p, t)] for p, t in zip(raw["point_id"], raw["ts"], strict=True)]
    assert store.count_readings("s") == len(raw)
    raw["ts"] = pd.to_datetime(raw["ts"], unit="us", utc=True)
    exp = _expected(raw, resolution)

    got = store.read_rollup("s", list(points), T0 - 3600 * S, T0 + 6 * 3600 * S, resolution)
    assert str(got.index.tz) == "UTC"
    got = got.reset_index().sort_values(["point_id", "bucket_start"]).set_index("bucket_start")
    exp = exp.reset_index().sort_values(["point_id", "bucket_start"]).set_index("bucket_start")
    assert got["point_id"].tolist() == exp["point_id"].tolist()
    assert (got.index == exp.index).all()
    assert got["count"].tolist() == exp["count"].astype(int).tolist()
    for col in ("min", "max", "first", "last"):
        np.testing.assert_array_equal(got[col].to_numpy(), exp[col].to_numpy(), err_msg=col)
    for col in ("sum", "mean"):
        np.testing.assert_allclose(got[col].to_numpy(), exp[col].to_numpy(), rtol=1e-12)

    # the wide read gives the same means
    wide = store.read_series("s", list(points), T0 - 3600 * S, T0 + 6 * 3600 * S, resolution)
    for p in points:
        e = exp[exp["point_id"] == p]["mean"]
        np.testing.assert_allclose(wide[p].dropna().to_numpy(), e.to_numpy(), rtol=1e-12)


def test_counter_delta_per_hour(store: Store) -> None:
    """A heat-meter register: delta per hour = register at the hour's last reading minus
    the register at the reading before the hour; the deltas add up to last - first."""
    rng = np.random.default_rng(5)
    ts = T0 + np.cumsum(rng.integers(30, 400, 300)) * S  # irregular, ~14 h
    reg = 1000.0 + np.cumsum(rng.uniform(0.0, 2.0, 300))  # kWh, monotone
    store.write_readings("s", "meter.heat_energy_kwh", ts[::-1], reg[::-1])  # reversed order
    roll = store.read_rollup("s", "meter.heat_energy_kwh", T0, T0 + 24 * 3600 * S, "1h")
    s = pd.Series(reg, index=pd.to_datetime(ts, unit="us", utc=True))
    last = s.resample("1h").last().dropna()
    exp_delta = last.diff()
    exp_delta.iloc[0] = last.iloc[0] - s.iloc[0]  # no earlier bucket: last - first
    np.testing.assert_allclose(roll["delta"].to_numpy(), exp_delta.to_numpy(), rtol=1e-12)
    assert roll["delta"].sum() == pytest.approx(reg[-1] - reg[0])
    assert roll["delta_since"].iloc[0] == s.index[0]
    # delta_since of the second hour is the last reading of the first hour
    first_hour = s[s.index < roll.index[1]]
    assert roll["delta_since"].iloc[1] == first_hour.index[-1]

    # a window starting later looks up the previous bucket before its start
    later = store.read_rollup(
        "s", "meter.heat_energy_kwh", roll.index[3], roll.index[3] + pd.Timedelta(hours=3), "1h"
    )
    np.testing.assert_allclose(later["delta"].to_numpy(), exp_delta.iloc[3:6].to_numpy())
    wide = store.read_series(
        "s", "meter.heat_energy_kwh", roll.index[3], roll.index[6], resolution="1h", agg="delta"
    )
    np.testing.assert_allclose(wide["meter.heat_energy_kwh"].to_numpy(), exp_delta.iloc[3:6])


def test_counter_delta_with_a_late_reading_filling_a_gap(store: Store) -> None:
    ts = T0 + np.array([0, 600, 3000, 4000, 7300, 9000]) * S
    reg = np.array([10.0, 11.0, 15.0, 16.0, 20.0, 21.0])
    store.write_readings("s", "m_kwh", np.delete(ts, 2), np.delete(reg, 2))
    store.write_readings("s", "m_kwh", ts[2:3], reg[2:3])  # arrives late
    roll = store.read_rollup("s", "m_kwh", T0, T0 + 4 * 3600 * S, "1h")
    # hours: [0, 600, 3000 late], [4000], [7300, 9000]
    assert roll["first"].tolist() == [10.0, 16.0, 20.0]
    assert roll["last"].tolist() == [15.0, 16.0, 21.0]
    assert roll["delta"].tolist() == [5.0, 1.0, 5.0]
    assert roll["count"].tolist() == [3, 1, 2]
    assert roll["delta_since"].iloc[1] == pd.Timestamp(int(ts[2]), unit="us", tz="UTC")


def test_counter_wrap_is_counted_and_a_reset_is_a_break(store: Store) -> None:
    """A uint32 Wh register (scale 0.001 kWh) wraps at 4,294,967.296 kWh: one wrap is
    counted (RFC 2578 7.1.6 Counter32 rule, at most one wrap between readings); a fall
    that no single wrap explains, or a fall inside an hour whose last reading is above
    the previous hour's, is a break: delta NaN, never a negative or inflated kWh."""
    r = 2**32 * 0.001
    h = 3600 * S
    readings = [
        (0, r - 30.0),
        (1800, r - 20.0),  # hour 0: rising
        (3600 + 600, r - 5.0),
        (3600 + 1800, 4.0),  # hour 1: wraps; increase 20 - 5 ... = (4 - (r - 20)) + r = 24
        (2 * h // S + 60, 10.0),  # hour 2: rising again, +6
        (3 * h // S + 60, 12.0),
        (3 * h // S + 900, 0.5),  # hour 3: meter exchanged, new register starts near 0
        (3 * h // S + 1800, 40.0),  # ends above the previous hour's 10.0: still a break
        (4 * h // S + 60, 41.0),  # hour 4: rising, +1
        (5 * h // S + 60, 2000.0),
        (5 * h // S + 120, 15.0),  # hour 5: falls by 1985: no wrap explains it
    ]
    ts = T0 + np.array([t for t, _ in readings], dtype=np.int64) * S
    vals = np.array([v for _, v in readings])
    store.write_readings("s", "meter.heat_energy_kwh", ts, vals)
    args = ("s", "meter.heat_energy_kwh", T0, T0 + 6 * h)
    roll = store.read_rollup(*args, "1h", counter_rollover={"meter.heat_energy_kwh": r})
    d = roll["delta"].to_numpy()
    np.testing.assert_allclose(d[[0, 1, 2, 4]], [10.0, 24.0, 6.0, 1.0], rtol=1e-12)
    assert np.isnan(d[3]) and np.isnan(d[5])
    assert roll["counter_wrapped"].tolist() == [False, True, False, False, False, False]
    assert roll["counter_break"].tolist() == [False, False, False, True, False, True]
    # without the roll-over value the wrap is a break too
    plain = store.read_rollup(*args, "1h")
    assert plain["counter_break"].tolist() == [False, True, False, True, False, True]
    assert np.isnan(plain["delta"].to_numpy()[1])


@pytest.mark.parametrize("agg", ["mean", "min", "max", "sum", "count", "first", "last", "delta"])
def test_read_series_agg_matches_read_rollup(store: Store, agg: str) -> None:
    rng = np.random.default_rng(9)
    ts = T0 + np.sort(rng.choice(3 * 3600, 500, replace=False)) * S
    a, b = rng.normal(size=500), rng.normal(size=len(ts[::3]))
    if agg == "delta":  # a counter rises (a falling one has no increase: NaN, tested below)
        a, b = np.cumsum(np.abs(a)), np.cumsum(np.abs(b))
    store.write_readings("s", "a_w", ts, a)
    store.write_readings("s", "b_w", ts[::3], b)
    long = store.read_rollup("s", ["a_w", "b_w"], T0, T0 + 4 * 3600 * S, "15min")
    assert long[agg].notna().all()
    wide = store.read_series(
        "s",
        ["a_w", "b_w"],
        T0,
        T0 + 4 * 3600 * S,
        resolution="15min",
        agg=agg,  # type: ignore[arg-type]
    )
    assert str(wide.index.tz) == "UTC"
    for p in ("a_w", "b_w"):
        exp = long[long["point_id"] == p][agg].astype(float)
        np.testing.assert_allclose(wide[p].dropna().to_numpy(), exp.to_numpy(), rtol=1e-12)
        assert (wide[p].dropna().index == exp.index).all()


def test_merge_folds_stored_rows_into_new_ones() -> None:
    # stored: bucket 0 of series 1 (first at 10, last at 50), bucket 60 s of series 2
    old = R.RollupRows(
        *[
            np.array(x)
            for x in (
                [1, 1, 2],
                [0, 60 * S, 60 * S],
                [2, 1, 1],
                [1.0, 5.0, 7.0],
                [3.0, 5.0, 7.0],
                [4.0, 5.0, 7.0],
                [10, 70 * S, 61 * S],
                [1.0, 5.0, 7.0],
                [50, 70 * S, 61 * S],
                [3.0, 5.0, 7.0],
            )
        ]
    )
    # new: series 1 bucket 0 (readings at 5 and 30) and bucket 120 s (not stored)
    new = R.aggregate(
        np.array([1, 1, 1]), np.array([5, 30, 125 * S]), np.array([0.5, 9.0, 2.0]), 60 * S
    )
    merged, replaced = R.merge(new, old)
    assert merged.n.tolist() == [4, 1]
    assert merged.vmin.tolist() == [0.5, 2.0] and merged.vmax.tolist() == [9.0, 2.0]
    assert merged.vsum.tolist() == [13.5, 2.0]
    assert (merged.first_ts_us[0], merged.first_value[0]) == (5, 0.5)
    assert (merged.last_ts_us[0], merged.last_value[0]) == (50, 3.0)
    assert replaced.series_id.tolist() == [1] and replaced.bucket_us.tolist() == [0]
    assert new.n.tolist() == [2, 1]  # inputs untouched
    same, none = R.merge(new, R.empty_rows())
    assert same is new and len(none) == 0
