"""Fault-detection benchmark: a site-year of the standard sensor package at 10 s.

Prints figures; asserts nothing (issue 11, "Figures")::

    .venv/bin/python benchmarks/bench_detect.py            # the pool example, a year
    .venv/bin/python benchmarks/bench_detect.py --days 60  # shorter

What is measured (same process, same data):

* data: the twin's clean year at 60 s steps (sensor noise on), then every 10 s point
  sampled at 10 s (each 60 s step's value with its own sensor noise draw per 10 s
  instant), streamed week by week: 52 points x 3.15 M instants = 164 M readings;
* detect: per week, the 10 s readings -> 1-minute count/mean/min/max, the SLA minute
  status, every rule (H1-H10, utility feed, SLA ladder, burn rates) and the alert
  lifecycle, in blocks with the rules' look-back, exactly as ``serve`` runs them;
* baseline: a bare pandas rolling-window pass over the same 10 s readings (one rolling
  60-minute mean per point), the floor any windowed detector pays;
* false alarms: alerts of severity warning or above that fired over the clean year.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from heatreuse.monitoring.alerts import AlertState
from heatreuse.monitoring.data import MinuteData, concat
from heatreuse.monitoring.detector import Detector
from heatreuse.monitoring.rules import LOOKBACK_MIN, RuleContext, hx_baseline_ua_w_per_k
from heatreuse.services.twin import window_demand
from heatreuse.simulation import simulate
from heatreuse.site import expand_points, load_site
from heatreuse.sla.definition import SlaDefinition
from heatreuse.sla.evaluate import minute_status
from heatreuse.telemetry.twin_points import SENSOR_CLASSES, TwinPointMap, standard_normal_at

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pool.yaml"
SEVERE = {"warning", "critical"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=EXAMPLE)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--start", default="2026-01-01T00:00Z")
    args = parser.parse_args()
    site = load_site(args.site)
    t0 = pd.Timestamp(args.start)
    t1 = t0 + pd.Timedelta(days=args.days)

    t = time.perf_counter()
    demand = window_demand(site, t0, t1, 60)
    frame = simulate(site, demand, step_s=60, record_layers=True).frame
    pm = TwinPointMap(site, 60)
    readings, _ = pm.readings(frame)
    wide60 = readings.frame()
    points = {p.id: p for p in expand_points(site).points}
    fast = [p for p in wide60.columns if points[p].sample_interval_s <= 10]
    defn = SlaDefinition.from_site(site)
    sla_all = minute_status(defn, wide60[defn.measured_point], period_start=t0, period_end=t1)
    t_gen = time.perf_counter() - t
    print(f"site {site.id}: {args.days} days, {len(points)} points ({len(fast)} at 10 s)")
    print(f"twin year at 60 s (not timed below): {t_gen:.1f} s")

    week = 7 * 1440
    n_min = len(wide60)
    det = Detector()
    fired: Counter[tuple[str, str]] = Counter()
    t_agg = t_rules = t_base = 0.0
    n_readings = 0
    hist: MinuteData | None = None
    for w0 in range(0, n_min, week):
        w1 = min(n_min, w0 + week)
        block60 = wide60.iloc[w0:w1]
        # --- the 10 s readings of this week (outside the timing: the "data")
        ts10 = pd.date_range(block60.index[0], periods=(w1 - w0) * 6, freq="10s", unit="ns")
        epoch10 = ts10.asi8 // 1_000_000_000
        cols10: dict[str, np.ndarray] = {}
        for pid in fast:
            base = np.repeat(block60[pid].to_numpy(), 6)
            cls = SENSOR_CLASSES.get(points[pid].quantity)
            if (
                cls is not None
                and (cls.sigma_abs or cls.sigma_rel)
                and points[pid].kind != "counter"
            ):
                z = standard_normal_at(pm.seed + 1, pid, epoch10)
                base = base + z * (cls.sigma_abs + cls.sigma_rel * np.abs(base))
            cols10[pid] = base
        n_readings += len(ts10) * len(fast) + (w1 - w0) * (len(points) - len(fast))
        # --- baseline: a bare pandas rolling pass over the same 10 s readings
        t = time.perf_counter()
        pd.DataFrame(cols10, index=ts10).rolling(360, min_periods=1).mean()
        t_base += time.perf_counter() - t
        # --- detect: 10 s -> 1-minute statistics, rules, lifecycle
        t = time.perf_counter()
        stats: dict[str, dict[str, np.ndarray]] = {s: {} for s in ("count", "mean", "min", "max")}
        for pid in wide60.columns:
            if pid in cols10:
                m = cols10[pid].reshape(-1, 6)
                stats["count"][pid] = np.full(len(m), 6.0)
                stats["mean"][pid] = m.mean(axis=1)
                stats["min"][pid] = m.min(axis=1)
                stats["max"][pid] = m.max(axis=1)
            else:
                v = block60[pid].to_numpy()
                stats["count"][pid] = np.ones(len(v))
                for s in ("mean", "min", "max"):
                    stats[s][pid] = v
        block = MinuteData(pd.DatetimeIndex(block60.index), stats)
        t_agg += time.perf_counter() - t
        t = time.perf_counter()
        if hist is not None:
            keep = hist.window(max(0, hist.n - LOOKBACK_MIN), hist.n)
            data = concat([keep, block])
        else:
            data = block
        lo = w0 - (data.n - block.n)
        ctx = RuleContext(
            site=site,
            points=points,
            data=data,
            rules=site.monitoring.rules,
            sla_status=sla_all.to_numpy()[lo:w1],
            sla_target_fraction=defn.target_fraction,
            sla_point=defn.measured_point,
            hx_baseline_ua_w_per_k=hx_baseline_ua_w_per_k(site),
        )
        for tr in det.run(ctx, from_minute=block.grid[0]):
            if tr.to_state is AlertState.FIRING and tr.alert.severity in SEVERE:
                fired[(tr.alert.rule, tr.alert.labels.get("point", ""))] += 1
        hist = data
        t_rules += time.perf_counter() - t
    detect_s = t_agg + t_rules
    print(f"readings: {n_readings / 1e6:.1f} M")
    print(
        f"detect (10 s -> 1 min stats {t_agg:.1f} s + rules and lifecycle {t_rules:.1f} s): "
        f"{detect_s:.1f} s = {n_readings / detect_s / 1e6:.1f} M readings/s"
    )
    print(f"bare pandas rolling pass over the same 10 s readings: {t_base:.1f} s")
    print(f"ratio detect / bare rolling pass: {detect_s / t_base:.2f}")
    print(f"false alarms (warning or above) over the clean period: {sum(fired.values())}")
    for (rule, point), n in sorted(fired.items()):
        print(f"  {n} x {rule} {point}")


if __name__ == "__main__":
    main()
