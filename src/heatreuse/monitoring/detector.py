"""Signals to alerts: the one lifecycle path for stored history and live data.

:class:`Detector` keeps an :class:`~heatreuse.monitoring.alerts.AlertTracker` and the
last minute it evaluated. Each call to :meth:`Detector.run` evaluates the rules over a
block of minutes (which may start earlier, for the rules' look-back) and feeds the
tracker only the minutes after the last one it saw, so a year evaluated in weekly
blocks, a day evaluated minute by minute (``serve``) and the same day in one block
give the same alerts. Feeding uses run lengths: within a run of equal conditions the
tracker is only asked at the run's start and at the instant its state would change
(``for``, ``keep_firing_for``), which is exactly what minute-by-minute evaluation does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from heatreuse.monitoring.alerts import Alert, AlertTracker, Transition
from heatreuse.monitoring.data import FloatArray
from heatreuse.monitoring.rules import RuleContext, Signal, evaluate_rules


def _runs(cond: FloatArray) -> list[tuple[int, int, float]]:
    """(start, end, state) runs of equal states; NaN is a state of its own."""
    code = np.where(np.isnan(cond), -1, cond).astype(np.int8)
    if len(code) == 0:
        return []
    cuts = np.flatnonzero(np.diff(code)) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [len(code)]))
    return [(int(a), int(b), float(cond[a])) for a, b in zip(starts, ends, strict=True)]


def feed_signal(
    tracker: AlertTracker,
    sig: Signal,
    grid: pd.DatetimeIndex,
    i0: int = 0,
    i1: int | None = None,
) -> list[Transition]:
    """Feed minutes ``i0 <= i < i1`` of one signal to the tracker; return its transitions."""
    out: list[Transition] = []
    stop = len(grid) if i1 is None else i1
    cond = sig.condition[i0:stop]
    times = grid[i0:stop]
    for a, b, state in _runs(cond):
        if np.isnan(state):
            continue
        holds = state >= 0.5
        j = a
        while j < b:
            out += tracker.observe(
                sig.labels,
                holds,
                times[j].to_pydatetime(),
                for_s=sig.for_s,
                keep_firing_for_s=sig.keep_firing_for_s,
                value=_value(sig.value, i0 + j),
                annotations=sig.annotations,
            )
            nxt = tracker.next_change_at(
                sig.labels, for_s=sig.for_s, keep_firing_for_s=sig.keep_firing_for_s
            )
            if nxt is None:
                break
            k = int(times.searchsorted(pd.Timestamp(nxt)))
            if k <= j:
                k = j + 1
            j = k
    return out


def _value(values: FloatArray, i: int) -> float | None:
    v = float(values[i]) if i < len(values) else float("nan")
    return v if np.isfinite(v) else None


class Detector:
    """Evaluates the rules block by block and keeps the alert lifecycle state."""

    def __init__(self, tracker: AlertTracker | None = None) -> None:
        self.tracker = tracker or AlertTracker()
        self.last_minute: pd.Timestamp | None = None

    @property
    def active(self) -> list[Alert]:
        """Alerts now pending or firing."""
        return self.tracker.active

    def run(
        self,
        ctx: RuleContext,
        *,
        from_minute: pd.Timestamp | None = None,
        to_minute: pd.Timestamp | None = None,
        only: Sequence[str] | None = None,
    ) -> list[Transition]:
        """Evaluate ``ctx.data`` and feed the minutes after the last evaluated one.

        ``from_minute``: do not feed minutes before it (the block's look-back part).
        ``to_minute``: do not feed it or later minutes (data read past the end so that
        rules which look one minute ahead, the spike rule, decide the last minute the
        same way whatever the block boundaries; see ``rules.LOOKAHEAD_MIN``).
        """
        grid = ctx.data.grid
        if len(grid) == 0:
            return []
        lo = from_minute
        if self.last_minute is not None:
            after = self.last_minute + pd.Timedelta(minutes=1)
            lo = after if lo is None else max(lo, after)
        i0 = int(grid.searchsorted(lo)) if lo is not None else 0
        i1 = int(grid.searchsorted(to_minute)) if to_minute is not None else len(grid)
        if i0 >= i1:
            return []
        out: list[Transition] = []
        for sig in evaluate_rules(ctx, only):
            out += feed_signal(self.tracker, sig, grid, i0, i1)
        self.last_minute = grid[i1 - 1]
        out.sort(key=lambda t: (t.at, t.alert.rule))
        return out
