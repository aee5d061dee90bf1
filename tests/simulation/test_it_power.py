"""Measured IT power as an engine input (``simulate(..., it_power_w=...)``): replay and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatreuse.errors import SimulationError
from heatreuse.simulation import ComputeLoad, simulate
from heatreuse.simulation.demand import customer_demand
from heatreuse.site import Site, load_site
from heatreuse.weather import load_weather

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
START = pd.Timestamp("2025-01-06T00:00Z")


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(EXAMPLES / "pool.yaml")


@pytest.fixture(scope="module")
def demand(site: Site) -> pd.DataFrame:
    weather = load_weather(site.location.weather)
    return customer_demand(site, weather).loc[START : START + pd.Timedelta(hours=47)]


def test_hourly_it_power_replaces_the_utilisation_profile(site: Site, demand: pd.DataFrame) -> None:
    hours = pd.date_range(START, periods=48, freq="h")
    it_w = pd.Series(np.where(np.arange(48) % 24 < 12, 20_000.0, 50_000.0), index=hours)
    result = simulate(site, demand, step_s=300, it_power_w=it_w)
    frame = result.frame
    # held over each hour's 12 steps; the plan's profile would give 0.7-0.85 x 60 kW
    assert np.allclose(frame["it_power_w"].iloc[:12], 20_000.0, rtol=1e-6)
    assert np.allclose(frame["it_power_w"].iloc[12 * 12 : 12 * 13], 50_000.0, rtol=1e-6)
    energy_kwh = result.totals()["it_energy_kwh"]
    assert energy_kwh == pytest.approx((24 * 20.0 + 24 * 50.0), rel=1e-6)
    planned = simulate(site, demand, step_s=300).totals()["it_energy_kwh"]
    assert abs(planned - energy_kwh) > 100.0


def test_finer_it_power_is_averaged_and_faults_still_apply(
    site: Site, demand: pd.DataFrame
) -> None:
    minutes = pd.date_range(START, periods=48 * 60, freq="min")
    it_w = pd.Series(np.where(np.arange(len(minutes)) % 2 == 0, 10_000.0, 30_000.0), index=minutes)
    trip = ComputeLoad(start=START + pd.Timedelta(hours=2), duration_s=3600.0, multiplier=0.0)
    result = simulate(site, demand, step_s=120, it_power_w=it_w, faults=[trip])
    it = result.frame["it_power_w"]
    assert np.allclose(it.iloc[:60], 20_000.0, rtol=1e-6)  # mean of 10 and 30 kW
    assert np.allclose(it.iloc[60:90], 0.0)  # the trip multiplies the measured IT
    assert np.allclose(it.iloc[90:120], 20_000.0, rtol=1e-6)


@pytest.mark.parametrize(
    ("series", "message"),
    [
        ([1.0, 2.0], "expected a pandas Series"),
        (
            pd.Series([1.0, -5.0] * 24, index=pd.date_range(START, periods=48, freq="h")),
            "expected finite IT power >= 0 W",
        ),
        (
            pd.Series(
                [1.0] * 48, index=pd.date_range(START.tz_localize(None), periods=48, freq="h")
            ),
            "tz-aware UTC index",
        ),
        (
            pd.Series([1.0] * 10, index=pd.date_range(START, periods=10, freq="h")),
            "is not covered by the IT power series",
        ),
    ],
)
def test_bad_it_power_is_refused_with_the_reason(
    site: Site, demand: pd.DataFrame, series: object, message: str
) -> None:
    with pytest.raises(SimulationError, match=message):
        simulate(site, demand, step_s=300, it_power_w=series)  # type: ignore[arg-type]
