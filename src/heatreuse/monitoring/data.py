"""One-minute statistics of a site's points: what the fault rules read.

Rules see each point as 1-minute buckets with the number of readings, their mean,
minimum and maximum, on a regular UTC grid; a bucket without readings is NaN
(count 0), never a carried-forward value. The same structure is built from the
store's 1-minute rollups (history and live) and from raw readings (tests,
benchmarks), so every path runs the same rule code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
STATS = ("count", "mean", "min", "max")
MINUTE_NS = 60_000_000_000


@dataclass
class MinuteData:
    """Per-point 1-minute statistics on a regular grid.

    Attributes
    ----------
    grid
        Bucket starts, tz-aware UTC, 1-minute spacing.
    stats
        ``stats[stat][point_id]``: float64 array on ``grid`` (``count`` is 0 where a
        bucket has no reading; the others are NaN there) [the point's unit].
    """

    grid: pd.DatetimeIndex
    stats: dict[str, dict[str, FloatArray]]

    @property
    def n(self) -> int:
        """Number of minutes."""
        return len(self.grid)

    @property
    def point_ids(self) -> list[str]:
        """Points with any data."""
        return list(self.stats["count"])

    def has(self, point_id: str) -> bool:
        """True when the point has at least one reading in the grid."""
        c = self.stats["count"].get(point_id)
        return c is not None and bool(np.any(c > 0))

    def get(self, point_id: str, stat: str = "mean") -> FloatArray:
        """One statistic of one point (all NaN, or 0 for ``count``, without data)."""
        arr = self.stats[stat].get(point_id)
        if arr is None:
            return np.zeros(self.n) if stat == "count" else np.full(self.n, np.nan)
        return arr

    @staticmethod
    def empty_grid(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
        """The minute grid ``start <= t < end`` (floored/ceiled to whole minutes)."""
        s = pd.Timestamp(start).tz_convert("UTC").floor("min")
        e = pd.Timestamp(end).tz_convert("UTC").ceil("min")
        return pd.date_range(s, e, freq="min", inclusive="left", unit="ns")

    @classmethod
    def from_rollup(cls, frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> MinuteData:
        """From the store's long 1-minute rollup frame (``Store.read_rollup``)."""
        grid = cls.empty_grid(start, end)
        g0 = grid[0].value if len(grid) else 0
        stats: dict[str, dict[str, FloatArray]] = {s: {} for s in STATS}
        if frame.empty or not len(grid):
            return cls(grid, stats)
        idx_ns = pd.DatetimeIndex(frame.index).tz_convert("UTC").as_unit("ns").asi8
        pos = (idx_ns - g0) // MINUTE_NS
        for pid, rows in pd.Series(np.arange(len(frame))).groupby(frame["point_id"].to_numpy()):
            r = rows.to_numpy()
            p = pos[r]
            ok = (p >= 0) & (p < len(grid))
            p, r = p[ok], r[ok]
            for stat in STATS:
                arr = np.zeros(len(grid)) if stat == "count" else np.full(len(grid), np.nan)
                arr[p] = frame[stat].to_numpy(dtype=np.float64)[r]
                stats[stat][str(pid)] = arr
        return cls(grid, stats)

    @classmethod
    def from_readings(
        cls,
        ts: pd.DatetimeIndex | npt.NDArray[np.datetime64],
        point_ids: Iterable[str],
        values: npt.ArrayLike,
        start: pd.Timestamp,
        end: pd.Timestamp,
    ) -> MinuteData:
        """From raw readings in long form (time, point id, value)."""
        grid = cls.empty_grid(start, end)
        t_ns = pd.DatetimeIndex(ts).tz_convert("UTC").as_unit("ns").asi8
        pids = np.asarray(list(point_ids), dtype=object)
        vals = np.asarray(values, dtype=np.float64)
        pos = (t_ns - (grid[0].value if len(grid) else 0)) // MINUTE_NS
        ok = (pos >= 0) & (pos < len(grid)) & np.isfinite(vals)
        stats: dict[str, dict[str, FloatArray]] = {s: {} for s in STATS}
        n = len(grid)
        for pid in pd.unique(pids[ok]):
            m = ok & (pids == pid)
            p, v = pos[m], vals[m]
            cnt = np.bincount(p, minlength=n).astype(np.float64)
            s = np.bincount(p, weights=v, minlength=n)
            lo = np.full(n, np.inf)
            hi = np.full(n, -np.inf)
            np.minimum.at(lo, p, v)
            np.maximum.at(hi, p, v)
            has = cnt > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(has, s / np.where(has, cnt, 1.0), np.nan)
            stats["count"][str(pid)] = cnt
            stats["mean"][str(pid)] = mean
            stats["min"][str(pid)] = np.where(has, lo, np.nan)
            stats["max"][str(pid)] = np.where(has, hi, np.nan)
        return cls(grid, stats)

    @classmethod
    def from_wide(cls, frame: pd.DataFrame) -> MinuteData:
        """From a wide frame already on a 1-minute grid (one column per point)."""
        grid = pd.DatetimeIndex(frame.index).tz_convert("UTC").as_unit("ns")
        stats: dict[str, dict[str, FloatArray]] = {s: {} for s in STATS}
        for col in frame.columns:
            v = frame[col].to_numpy(dtype=np.float64)
            has = np.isfinite(v)
            stats["count"][str(col)] = has.astype(np.float64)
            for s in ("mean", "min", "max"):
                stats[s][str(col)] = v.copy()
        return cls(grid, stats)

    def window(self, i0: int, i1: int) -> MinuteData:
        """Minutes ``i0 <= i < i1`` (views, no copies)."""
        return MinuteData(
            self.grid[i0:i1],
            {s: {p: a[i0:i1] for p, a in d.items()} for s, d in self.stats.items()},
        )


def concat(parts: Sequence[MinuteData]) -> MinuteData:
    """Join consecutive minute blocks (same points or not)."""
    grid = pd.DatetimeIndex(np.concatenate([p.grid.asi8 for p in parts])).tz_localize("UTC")
    pids: list[str] = []
    for p in parts:
        pids += [x for x in p.point_ids if x not in pids]
    stats: dict[str, dict[str, FloatArray]] = {s: {} for s in STATS}
    for s in STATS:
        for pid in pids:
            stats[s][pid] = np.concatenate([p.get(pid, s) for p in parts])
    return MinuteData(grid, stats)


def counts_by_point(data: MinuteData) -> Mapping[str, int]:
    """Number of readings per point in the data."""
    return {p: int(np.sum(c)) for p, c in data.stats["count"].items()}
