"""Energy balance: closes for every example site over a year, and for random plants.

Balance (see SimulationResult.energy_balance):
E_IT + W_heat_pump = Q_delivered + Q_rejected + Q_room + Q_pipe + Q_tank_loss + dU_stored.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatreuse.simulation import (
    ComputeLoad,
    CustomerDisconnect,
    HxFouling,
    PumpFailure,
    RejectPathUnavailable,
    SensorFault,
    UtilityFeedLoss,
    simulate,
)
from heatreuse.simulation.demand import customer_demand
from heatreuse.site import Site, load_site
from heatreuse.weather import load_weather

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@cache
def real_demand(path: Path) -> tuple[Site, pd.DataFrame]:
    """The example site and its customer's demand from its own weather (a full year)."""
    site = load_site(path)
    weather = load_weather(site.location.weather, base_dir=path.parent)
    return site, customer_demand(site, weather)


def test_every_example_is_checked() -> None:
    assert len(EXAMPLE_FILES) >= 3
    names = {p.name for p in EXAMPLE_FILES}
    assert "pool.yaml" in names


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("step_s", [60, 3600])
def test_example_site_year_balance_closes(path: Path, step_s: int) -> None:
    site, demand = real_demand(path)
    res = simulate(site, demand, step_s=step_s)
    tot = res.totals()
    assert tot["duration_h"] == pytest.approx(8760.0)
    assert len(res.frame) == 8760 * 3600 // step_s
    # the requirement is 0.1 %; the kernel's float64 bookkeeping closes to rounding
    assert abs(tot["balance_residual_fraction"]) < 1e-3
    assert abs(tot["balance_residual_fraction"]) < 1e-9
    bal = res.energy_balance()
    assert bal["inputs_kwh"] == pytest.approx(bal["outputs_kwh"], rel=1e-9)
    # the year did something: IT ran, heat went to the customer
    assert tot["it_energy_kwh"] > 0 and tot["heat_delivered_kwh"] > 0
    # customer side: what was demanded is delivered, topped up, or unmet
    served = tot["heat_delivered_kwh"] + tot["backup_heat_kwh"] + tot["unmet_heat_kwh"]
    assert served >= tot["heat_demand_kwh"] * (1 - 1e-6)
    if step_s == 60:
        assert res.memory_usage_bytes() < 200e6


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_site_physical_bounds(path: Path) -> None:
    site, demand = real_demand(path)
    end = demand.index[0] + pd.Timedelta(days=60)
    res = simulate(site, demand, step_s=300, end=end, record_layers=True)
    layers = res.frame[[c for c in res.frame.columns if c.startswith("tank_layer_")]].to_numpy()
    cool = site.compute.cooling
    hottest_source = max(cool.max_coolant_return_temp_c, max(res.initial_state.tank_layer_temps_c))
    assert layers.max() <= hottest_source + 1e-3
    coldest = min(
        float(demand["return_temp_c"].min()),
        site.plant.buffer_tank.ambient_temp_c,
        site.plant.pipe.surroundings_temp_c,
        5.0 if site.plant.heat_pump is not None else np.inf,
    )
    assert layers.min() >= coldest - 1e-3
    # stratified: top never colder than bottom after buoyancy mixing
    assert (layers[:, 0] >= layers[:, -1] - 1e-4).all()
    assert (res.frame["heat_delivered_w"] >= -1e-3).all()
    assert (res.frame["heat_rejected_w"] >= 0).all()
    assert (res.frame["coolant_return_temp_c"] <= cool.max_coolant_return_temp_c + 1e-3).all()


# --------------------------------------------------------------------------- random plants
_BASE = yaml.safe_load((EXAMPLES / "pool.yaml").read_text())


def _random_site(draw: Any) -> Site:
    data: dict[str, Any] = yaml.safe_load(yaml.safe_dump(_BASE))
    cool = data["compute"]["cooling"]
    cool["heat_capture_fraction"] = draw(st.floats(0.3, 1.0))
    cool["coolant_supply_temp_c"] = draw(st.floats(20.0, 50.0))
    cool["coolant_return_temp_c"] = cool["coolant_supply_temp_c"] + draw(st.floats(3.0, 15.0))
    cool["max_coolant_return_temp_c"] = cool["coolant_return_temp_c"] + draw(st.floats(0.0, 10.0))
    data["compute"]["racks"][0]["nameplate_power_w"] = draw(st.floats(5e3, 200e3))
    plant = data["plant"]
    tank = plant["buffer_tank"]
    tank["volume_m3"] = draw(st.floats(0.2, 60.0))
    tank["layers"] = draw(st.integers(1, 30))
    tank["heat_loss_w_per_k"] = draw(st.floats(0.0, 50.0))
    tank["max_temp_c"] = draw(st.floats(40.0, 90.0))
    if draw(st.booleans()):
        plant["heat_exchanger"] = {"ua_w_per_k": draw(st.floats(500.0, 100e3))}
    else:
        plant["heat_exchanger"] = {"effectiveness_fraction": draw(st.floats(0.3, 0.95))}
    for pump in plant["pumps"]:
        pump["rated_flow_m3_per_h"] = draw(st.floats(0.5, 40.0))
    if draw(st.booleans()):
        plant["pumps"].append(
            {
                "id": "p-customer",
                "role": "customer",
                "rated_flow_m3_per_h": draw(st.floats(0.5, 40.0)),
                "rated_head_m": 10,
                "rated_power_w": 300,
            }
        )
    plant["pipe"]["length_m"] = draw(st.floats(0.0, 800.0))
    plant["pipe"]["insulation_thickness_m"] = draw(st.sampled_from([0.0, 0.02, 0.1]))
    if draw(st.booleans()):
        plant.pop("backup_boiler")
    else:
        plant["backup_boiler"]["capacity_w"] = draw(st.floats(1e3, 300e3))
        plant["backup_boiler"]["control_delay_s"] = draw(st.floats(0.0, 3600.0))
    if draw(st.booleans()):
        plant.pop("heat_reject")
    else:
        plant["heat_reject"]["dry_cooler_capacity_w"] = draw(st.floats(1e3, 300e3))
    if draw(st.booleans()):
        hp: dict[str, Any] = {"max_heat_w": draw(st.floats(1e3, 200e3))}
        if draw(st.booleans()):
            hp["carnot_fraction"] = draw(st.floats(0.3, 0.6))
        else:
            hp["cop_curve"] = [
                {"source_temp_c": 30, "sink_temp_c": 60, "cop": 3.5},
                {"source_temp_c": 40, "sink_temp_c": 60, "cop": 5.0},
            ]
        plant["heat_pump"] = hp
    return Site.model_validate(data)


@st.composite
def scenarios(draw: Any) -> tuple[Site, pd.DataFrame, list[Any], int]:
    site = _random_site(draw)
    step_s = draw(st.sampled_from([60, 300, 900, 3600]))
    n = 48
    idx = pd.date_range("2026-03-01T00:00Z", periods=n, freq="h")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ret = draw(st.floats(10.0, 50.0))
    demand = pd.DataFrame(
        {
            "heat_demand_w": rng.uniform(0, 2, n) * draw(st.floats(0.0, 300e3)),
            "supply_temp_required_c": ret + draw(st.floats(1.0, 30.0)),
            "return_temp_c": ret,
            "operating": rng.uniform(0, 1, n) < draw(st.floats(0.0, 1.0)),
        },
        index=idx,
    )
    t0 = pd.Timestamp("2026-03-01T06:00Z")
    pool = [
        PumpFailure(t0, 6 * 3600, role="primary", availability_fraction=0.0),
        PumpFailure(t0, 12 * 3600, role="secondary", availability_fraction=0.4),
        PumpFailure(t0, 12 * 3600, role="customer", availability_fraction=0.0),
        HxFouling(t0, None, ua_fraction=0.3, ramp_s=86400.0),
        SensorFault(t0, 8 * 3600, offset_k=-6.0, drift_k_per_day=2.0),
        CustomerDisconnect(t0 + pd.Timedelta(hours=10), 5 * 3600),
        ComputeLoad(t0, 3 * 3600, multiplier=0.0),
        ComputeLoad(t0 + pd.Timedelta(hours=20), 3 * 3600, multiplier=1.5),
        UtilityFeedLoss(t0 + pd.Timedelta(hours=14), 2 * 3600),
        RejectPathUnavailable(t0, 24 * 3600),
    ]
    faults = draw(st.lists(st.sampled_from(pool), max_size=4))
    return site, demand, faults, step_s


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_balance_closes_for_random_plants(
    scenario: tuple[Site, pd.DataFrame, list[Any], int],
) -> None:
    site, demand, faults, step_s = scenario
    res = simulate(site, demand, step_s=step_s, faults=faults, record_layers=True)
    bal = res.energy_balance()
    scale = max(bal["inputs_kwh"], bal["heat_delivered_kwh"], bal["heat_rejected_kwh"], 1.0)
    assert abs(bal["balance_residual_kwh"]) < 1e-9 * scale + 1e-9
    f = res.frame
    assert np.isfinite(
        f.drop(columns=["mode", "mode_flags", "customer_operating"]).to_numpy()
    ).all()
    assert (f["it_power_throttled_w"] >= -1e-3).all()
    assert (f["heat_rejected_w"] >= -1e-6).all()
    assert (f["backup_heat_w"] >= 0).all()
    assert (f["heat_pump_electricity_w"] >= 0).all()
    # heat pump: Q_H = Q_source + W with COP in [1, 10]
    hp = f["heat_pump_heat_w"] > 1.0
    if hp.any():
        cop = f.loc[hp, "heat_pump_heat_w"] / f.loc[hp, "heat_pump_electricity_w"]
        assert ((cop >= 1 - 1e-4) & (cop <= 10 + 1e-4)).all()
    layers = f[[c for c in f.columns if c.startswith("tank_layer_")]].to_numpy()
    # no layer hotter than any source: the loop limit, the start, water coming back
    # from the customer, the tank's or the pipe's surroundings
    hottest = max(
        site.compute.cooling.max_coolant_return_temp_c,
        max(res.initial_state.tank_layer_temps_c),
        float(demand["return_temp_c"].max()),
        site.plant.buffer_tank.ambient_temp_c,
        site.plant.pipe.surroundings_temp_c,
    )
    assert layers.max() <= hottest + 1e-3
