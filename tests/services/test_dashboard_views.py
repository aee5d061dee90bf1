"""The dashboard's view data: units, sources, and missing data never reading as healthy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatreuse.services import dashboard
from heatreuse.site import load_site
from heatreuse.store import open_store

POOL = Path(__file__).parents[2] / "examples" / "pool.yaml"
NOW = pd.Timestamp("2026-03-10T12:00:30Z")


def _store(tmp_path: Path, rows: dict[str, list[tuple[pd.Timestamp, float]]]) -> str:
    url = f"sqlite:///{tmp_path / 's.db'}"
    site = load_site(POOL)
    with open_store(url, create=True) as store:
        pids, ts, vals = [], [], []
        for pid, pts in rows.items():
            for t, v in pts:
                pids.append(pid)
                ts.append(t.value // 1000)
                vals.append(v)
        store.write_readings(site.id, pids, np.array(ts, dtype=np.int64), np.array(vals))
    return url


def test_fresh_reading_is_shown_stale_one_is_unknown(tmp_path: Path) -> None:
    site = load_site(POOL)
    url = _store(
        tmp_path,
        {
            "meter.heat_power_w": [(NOW - pd.Timedelta(minutes=10), 40_000.0)],
            "customer.supply_temp_c": [(NOW - pd.Timedelta(seconds=20), 41.26)],
            "elec.it_power_w": [(NOW - pd.Timedelta(seconds=20), 30_000.0)],
        },
    )
    with open_store(url) as store:
        figs = {f.key: f for f in dashboard.live_figures(site, store, NOW)}
    heat = figs["heat_now_kw"]
    assert heat.value is None and heat.status == "unknown" and heat.text == "unknown"
    assert "stale" in heat.note and "40.0 kW" in heat.note
    assert "meter.heat_power_w" in heat.source
    supply = figs["supply_temp_c"]
    assert supply.value == pytest.approx(41.26) and supply.text == "41.3"
    assert supply.unit == "°C" and supply.status == "ok" and "32 to 50" in supply.note
    # utilisation: 30 kW of 60 kW nameplate
    assert figs["utilisation_pct"].value == pytest.approx(50.0)


def test_supply_outside_the_band_is_a_problem_and_no_data_is_unknown(tmp_path: Path) -> None:
    site = load_site(POOL)
    url = _store(tmp_path, {"customer.supply_temp_c": [(NOW - pd.Timedelta(seconds=5), 29.0)]})
    with open_store(url) as store:
        figs = {f.key: f for f in dashboard.live_figures(site, store, NOW)}
        fac = dashboard.facilities(site, store, NOW)
    assert figs["supply_temp_c"].status == "bad"
    assert figs["it_power_kw"].status == "unknown" and figs["it_power_kw"].value is None
    assert figs["utilisation_pct"].status == "unknown"
    assert fac["nodes"]["hx_approach"]["status"] == "unknown"
    assert all(layer["status"] == "unknown" for layer in fac["tank"])


def test_overview_without_ledger_or_alerts_says_unknown_not_zero(tmp_path: Path) -> None:
    site = load_site(POOL)
    start = NOW.floor("min") - pd.Timedelta(hours=2)
    minutes = pd.date_range(start, NOW.floor("min"), freq="1min", inclusive="left")
    url = _store(
        tmp_path,
        {
            "customer.supply_temp_c": [(t, 40.0) for t in minutes],
            "meter.heat_power_w": [(t, 35_000.0) for t in minutes],
        },
    )
    with open_store(url) as store:
        ov = dashboard.overview(site, store, NOW, ledger=None)
        wall = dashboard.wall(site, store, NOW)
    f = ov.figures
    for key in ("erf", "pue", "avoided_co2_kg"):
        assert f[key].value is None and f[key].status == "unknown"
    assert f["sla_attainment_month"].unit == "%" and f["sla_attainment_month"].value is not None
    assert "heatreuse.services.sla.sla_report" in f["sla_attainment_month"].source
    assert f["demand_today_kwh"].estimate and f["demand_now_kw"].estimate
    assert f["alerts_firing"].value == 0.0 and f["alerts_firing"].status == "ok"
    assert f["min_heat_day_kwh"].value == site.contract.sla.min_heat_per_day_kwh
    assert set(wall["figures"]) >= {"heat_now_kw", "supply_temp_c", "sla_budget_left_month"}
    assert "erf" not in wall["figures"]


def test_history_keeps_gaps_and_reports_coverage(tmp_path: Path) -> None:
    site = load_site(POOL)
    t0 = NOW.floor("min") - pd.Timedelta(hours=24)
    half = pd.date_range(t0, t0 + pd.Timedelta(hours=12), freq="1min", inclusive="left")
    url = _store(tmp_path, {"meter.heat_power_w": [(t, 30_000.0) for t in half]})
    with open_store(url) as store:
        h = dashboard.history(site, store, "day", NOW.floor("min"))
        with pytest.raises(ValueError, match="span"):
            dashboard.history(site, store, "decade", NOW)
    heat = next(s for s in h["series"] if s["point_id"] == "meter.heat_power_w")
    assert heat["unit"] == "W"
    assert 0.45 < heat["coverage"] < 0.55
    supply = next(s for s in h["series"] if s["point_id"] == "customer.supply_temp_c")
    assert supply["coverage"] == 0.0 and all(v is None for v in supply["y"])
