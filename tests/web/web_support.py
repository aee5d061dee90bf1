"""Helpers of the browser tests and of benchmarks/bench_web.py: a seeded store, the
running-serve record, the login, where screenshots go."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heatreuse.services.twin import window_demand
from heatreuse.simulation import simulate
from heatreuse.site import Site, load_site
from heatreuse.store import open_store
from heatreuse.telemetry.twin_points import TwinPointMap

POOL = Path(__file__).parents[2] / "examples" / "pool.yaml"
CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).parents[2]


def artifacts_dir() -> Path:
    """Where the screenshots go."""
    d = Path(os.environ.get("HEATREUSE_WEB_ARTIFACTS", ROOT / "artifacts" / "web"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@dataclass
class Web:
    """The running serve and what the tests need to talk to it."""

    base: str
    site: Any
    service: Any
    prefix: str
    values: dict[str, float]
    display_token: str
    display_token_id: str
    read_token: str
    alert_id: int
    passwords: dict[str, str]


def seed_store(
    url: str, site: Site | None = None, hours: float = 36.0
) -> tuple[Site, dict[str, float]]:
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


def login(browser: Any, web: Web, user: str, viewport: dict[str, int] | None = None) -> Any:
    """A new browser context logged in as ``user`` through the login form; returns the page."""
    context = browser.new_context(viewport=viewport or {"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{web.base}/sites/{web.site.id}/overview")
    assert "/login" in page.url  # no session: sent to the login form
    page.fill("#name", user)
    page.fill("#password", web.passwords[user])
    page.press("#password", "Enter")
    page.wait_for_url(f"**/sites/{web.site.id}/overview")
    return page
