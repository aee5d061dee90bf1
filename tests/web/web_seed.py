"""Seed a store with twin readings ending now (shared by the web tests and bench_web)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from heatreuse.services.twin import window_demand
from heatreuse.simulation import simulate
from heatreuse.site import Site, load_site
from heatreuse.store import open_store
from heatreuse.telemetry.twin_points import TwinPointMap

POOL = Path(__file__).parents[2] / "examples" / "pool.yaml"


def seed_store(url: str, site: Site | None = None, hours: float = 36.0) -> tuple[Site, dict[str, float]]:
    """Write ``hours`` of the pool twin's readings (60 s steps) ending at the current minute;
    returns the site and the last values by point (to publish more like them)."""
    site = site or load_site(POOL)
    end = pd.Timestamp.now(tz="UTC").floor("min")
    start = end - pd.Timedelta(hours=hours)
    # simulate a fixed winter window and re-stamp it onto [start, end)
    t0 = pd.Timestamp("2026-01-12T00:00Z") + (start - start.normalize())
    sim_end = t0 + (end - start)
    frame = simulate(site, window_demand(site, t0, sim_end, 60), step_s=60)
    readings, _ = TwinPointMap(site, 60).readings(frame.frame)
    steps, codes, values = readings.long_arrays()
    shift = (start - t0).value // 1000
    ts_us = readings.index.as_unit("us").asi8[steps] + shift
    pids = np.asarray(readings.point_ids, dtype=object)[codes]
    with open_store(url, create=True) as store:
        store.write_readings(site.id, list(pids), ts_us, values)
    return site, readings.latest()
