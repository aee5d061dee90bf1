"""Simulation engine: API, result frame, chunking, step convergence, input errors."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from heatreuse.errors import SimulationError
from heatreuse.simulation import (
    MODE_NAMES,
    OUTPUT_COLUMNS,
    SimulationState,
    UtilityFeedLoss,
    prepare,
    result_from_outputs,
    run_kernel,
    simulate,
)
from heatreuse.simulation import kernel as K
from heatreuse.simulation.inputs import counterflow_ua_from_effectiveness, pipe_loss_w_per_m_k
from heatreuse.site import Site, load_site
from heatreuse.units import UNIT_SUFFIXES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def site_with(changes: dict[str, Any] | None = None, example: str = "pool.yaml") -> Site:
    """An example site with dotted-path changes (value None removes the key)."""
    data = yaml.safe_load((EXAMPLES / example).read_text())
    for dotted, value in (changes or {}).items():
        *parents, last = dotted.split(".")
        node = data
        for p in parents:
            node = node[p]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return Site.model_validate(data)


def demand_frame(
    days: float = 3,
    heat_w: float | np.ndarray = 40e3,
    supply_c: float = 40.0,
    return_c: float = 30.0,
    operating: bool | np.ndarray = True,
    step_s: int = 3600,
    start: str = "2026-01-05T00:00Z",
) -> pd.DataFrame:
    """A synthetic demand frame of the shape customer_demand returns."""
    n = int(days * 86400 // step_s)
    idx = pd.date_range(start, periods=n, freq=pd.Timedelta(seconds=step_s))
    return pd.DataFrame(
        {
            "heat_demand_w": np.broadcast_to(heat_w, n).astype(float),
            "supply_temp_required_c": supply_c,
            "return_temp_c": return_c,
            "operating": np.broadcast_to(operating, n).astype(bool),
            "air_temp_c": 5.0,
        },
        index=idx,
    )


def varying_demand(days: float = 3, step_s: int = 3600) -> pd.DataFrame:
    n = int(days * 86400 // step_s)
    hours = np.arange(n) * step_s / 3600.0
    heat = 45e3 + 35e3 * np.sin(2 * np.pi * hours / 24.0)
    operating = (hours % 24 >= 6) & (hours % 24 < 22)
    return demand_frame(days, np.where(operating, heat, 0.0), 38.0, 29.0, operating, step_s)


# --------------------------------------------------------------------------- result object
def test_result_frame_columns_units_dtypes() -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    res = simulate(site, varying_demand(2), step_s=60, record_layers=True)
    f = res.frame
    assert len(f) == 2 * 1440
    assert str(f.index.tz) == "UTC"
    assert (np.diff(f.index.asi8) > 0).all()
    for name in OUTPUT_COLUMNS.values():
        assert name in f.columns
        assert f[name].dtype == np.float32
        assert any(name.endswith(s) for s in UNIT_SUFFIXES), name
    assert f["mode"].dtype == np.int8
    layers = [c for c in f.columns if c.startswith("tank_layer_")]
    assert len(layers) == site.plant.buffer_tank.layers
    assert set(res.mode_name().unique()) <= set(MODE_NAMES.values())
    tot = res.totals()
    for key in (
        "it_energy_kwh",
        "heat_delivered_kwh",
        "heat_rejected_kwh",
        "backup_heat_kwh",
        "pipe_loss_kwh",
        "tank_loss_kwh",
        "heat_to_room_kwh",
        "stored_heat_change_kwh",
        "heat_pump_electricity_kwh",
        "total_energy_kwh",
        "throttled_it_energy_kwh",
        "balance_residual_kwh",
        "balance_residual_fraction",
    ):
        assert key in tot
    assert sum(v for k, v in tot.items() if k.endswith("_h") and k != "duration_h") == (
        pytest.approx(48.0)
    )
    # the frame's float32 means agree with the float64 totals
    it_kwh = float(f["it_power_w"].astype(np.float64).sum()) * 60 / 3.6e6
    assert it_kwh == pytest.approx(tot["it_energy_kwh"], rel=1e-5)
    assert tot["total_energy_kwh"] == pytest.approx(
        tot["it_energy_kwh"]
        + tot["cooling_electricity_kwh"]
        + tot["pump_electricity_kwh"]
        + tot["other_electricity_kwh"]
        + tot["heat_pump_electricity_kwh"]
    )


def test_daily_utilisation_follows_local_time() -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    res = simulate(site, demand_frame(1), step_s=3600)
    nameplate = site.compute.nameplate_it_power_w
    fractions = site.compute.utilisation.hourly_fraction
    assert fractions is not None
    local_hours = res.frame.index.tz_convert("Europe/Berlin").hour
    expected = np.asarray(fractions)[np.asarray(local_hours)] * nameplate
    np.testing.assert_allclose(res.frame["it_power_w"], expected, rtol=1e-6)


# --------------------------------------------------------------------------- chunking
def test_two_chunks_equal_one_run() -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    inputs = prepare(site, varying_demand(3), 60, record_layers=True)
    whole = run_kernel(inputs)
    split = 1777
    first = run_kernel(inputs, start_step=0, stop_step=split)
    # the state survives a round trip through plain Python values (a saved state)
    saved = SimulationState.from_array(first.state_out.to_array())
    second = run_kernel(inputs, state=saved, start_step=split)
    np.testing.assert_array_equal(whole.out, np.concatenate([first.out, second.out], axis=1))
    np.testing.assert_array_equal(whole.mode, np.concatenate([first.mode, second.mode]))
    assert whole.state_out == second.state_out
    one = result_from_outputs(inputs, whole)
    two = result_from_outputs(inputs, [first, second])
    pd.testing.assert_frame_equal(one.frame, two.frame)
    for key, value in one.totals().items():
        assert two.totals()[key] == pytest.approx(value, rel=1e-12, abs=1e-9), key


def test_with_params_equals_a_prepared_site_with_that_value() -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    demand = varying_demand(2)
    bigger = site_with({"plant.buffer_tank.volume_m3": 25.0})
    direct = run_kernel(prepare(bigger, demand, 300))
    inputs = prepare(site, demand, 300)
    swept = run_kernel(inputs.with_params(tank_volume_m3=25.0))
    np.testing.assert_array_equal(direct.out, swept.out)
    # and the original inputs are untouched
    assert inputs.param("tank_volume_m3") == 10.0
    with pytest.raises(SimulationError, match="unknown simulation parameter 'tank_size'"):
        inputs.with_params(tank_size=3.0)
    with pytest.raises(SimulationError, match="tank_volume_m3"):
        inputs.with_params(tank_volume_m3=0.0)


def test_it_power_parameter_scales_load() -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    inputs = prepare(site, varying_demand(1), 600)
    base = result_from_outputs(inputs, run_kernel(inputs)).totals()
    double = inputs.with_params(it_nameplate_power_w=2 * site.compute.nameplate_it_power_w)
    more = result_from_outputs(double, run_kernel(double)).totals()
    # twice the IT load on the same plant: what the loop cannot take is throttled
    assert more["it_energy_kwh"] + more["throttled_it_energy_kwh"] == pytest.approx(
        2 * base["it_energy_kwh"]
    )
    assert more["it_energy_kwh"] > 1.5 * base["it_energy_kwh"]
    assert abs(more["balance_residual_fraction"]) < 1e-9


# --------------------------------------------------------------------------- numerics
def test_step_convergence_60s_vs_10s() -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    demand = varying_demand(2)
    coarse = simulate(site, demand, step_s=60)
    fine = simulate(site, demand, step_s=10)
    tc, tf = coarse.totals(), fine.totals()
    for key in ("heat_delivered_kwh", "hx_heat_kwh", "tank_loss_kwh", "pipe_loss_kwh"):
        assert tc[key] == pytest.approx(tf[key], rel=0.01), key
    total_heat = tc["heat_captured_kwh"]
    for key in ("heat_rejected_kwh", "backup_heat_kwh"):
        assert abs(tc[key] - tf[key]) < 0.01 * total_heat, key
    fine_on_coarse = fine.frame.resample("60s").mean()
    for col in ("tank_temp_top_c", "tank_temp_mean_c", "supply_temp_c"):
        diff = np.abs(coarse.frame[col].to_numpy() - fine_on_coarse[col].to_numpy())
        assert np.mean(diff) < 0.2, col


def test_hourly_steps_stay_bounded_with_small_tank() -> None:
    # a 0.5 m3 tank with 20 layers: 6 m3/h moves 12 layers per hour -> sub-steps
    site = site_with({"plant.buffer_tank.volume_m3": 0.5, "plant.buffer_tank.layers": 20})
    res = simulate(site, varying_demand(3), step_s=3600, record_layers=True)
    layers = res.frame[[c for c in res.frame.columns if c.startswith("tank_layer_")]]
    assert layers.to_numpy().max() <= site.compute.cooling.max_coolant_return_temp_c + 1e-3
    assert layers.to_numpy().min() >= 20.0 - 1e-3
    assert abs(res.totals()["balance_residual_fraction"]) < 1e-9


def test_effectiveness_ntu_published_values() -> None:
    # Incropera, Fundamentals of Heat and Mass Transfer, 7th ed., Table 11.3 / eq. 11.29a:
    # counterflow, NTU = 1, Cr = 0.5 -> eps = (1 - e^-0.5) / (1 - 0.5 e^-0.5) = 0.5647;
    # Cr = 1: eps = NTU / (1 + NTU); Cr = 0: eps = 1 - e^-NTU.
    assert K.effectiveness_counterflow(1.0, 0.5) == pytest.approx(0.5647, abs=1e-4)
    assert K.effectiveness_counterflow(2.0, 1.0) == pytest.approx(2.0 / 3.0)
    assert K.effectiveness_counterflow(2.0, 0.0) == pytest.approx(1 - math.exp(-2.0))
    assert K.effectiveness_counterflow(0.0, 0.3) == 0.0
    # near Cr = 1 the general formula joins the limit smoothly
    assert K.effectiveness_counterflow(2.0, 1 - 1e-7) == pytest.approx(2.0 / 3.0, rel=1e-5)
    # the inverse used for sites rated by effectiveness
    ua = counterflow_ua_from_effectiveness(0.5647, 2000.0, 4000.0)
    assert ua == pytest.approx(2000.0, rel=1e-3)
    assert K.hx_conductance_w_per_k(ua, 2000.0, 4000.0) == pytest.approx(0.5647 * 2000, rel=1e-3)


def test_effectiveness_matches_physics_library() -> None:
    import heatreuse.physics as physics

    func = getattr(physics, "hx_effectiveness_counterflow", None)
    assert func is not None, "heatreuse.physics.hx_effectiveness_counterflow is missing"
    for ntu in (0.1, 0.5, 1.0, 3.0, 8.0):
        for cr in (0.0, 0.25, 0.8, 1.0):
            assert K.effectiveness_counterflow(ntu, cr) == pytest.approx(
                float(func(ntu, cr)), rel=1e-9
            )


def test_pipe_loss_coefficient() -> None:
    # U' = 2 pi k / ln(r_o / r_i) (Incropera 7th ed., eq. 3.33); 54 mm pipe, 40 mm of
    # k = 0.035 W/(m K): 2 pi 0.035 / ln(0.067 / 0.027) = 0.2420 W/(m K)
    assert pipe_loss_w_per_m_k(0.054, 0.04, 0.035) == pytest.approx(0.2420, abs=1e-4)
    assert pipe_loss_w_per_m_k(0.054, 0.0, 0.035) == pytest.approx(math.pi * 0.054 * 10.0)


def test_property_error_below_half_percent_for_examples() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        site = load_site(path)
        inputs = prepare(site, demand_frame(1, supply_c=40.0, return_c=25.0), 3600)
        assert inputs.property_error["cp_primary_fraction"] < 0.005, path.name
        assert inputs.property_error["cp_secondary_fraction"] < 0.005, path.name


# --------------------------------------------------------------------------- demand alignment
def test_finer_demand_is_averaged_and_coarser_is_held() -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    fine = demand_frame(1, step_s=60, heat_w=np.tile(np.linspace(0, 80e3, 60), 24))
    hourly = simulate(site, fine, step_s=3600)
    np.testing.assert_allclose(hourly.frame["heat_demand_w"], 40e3, rtol=1e-6)
    coarse = demand_frame(1, step_s=3600, heat_w=np.arange(24) * 1e3)
    minutely = simulate(site, coarse, step_s=60)
    assert minutely.frame["heat_demand_w"].iloc[61] == 1e3
    assert minutely.totals()["heat_demand_kwh"] == pytest.approx(np.arange(24).sum())


def test_start_and_end_select_a_period() -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    res = simulate(
        site, varying_demand(3), start="2026-01-06T00:00Z", end="2026-01-06T12:00Z", step_s=60
    )
    assert len(res.frame) == 720
    assert res.frame.index[0] == pd.Timestamp("2026-01-06T00:00Z")


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("step", "match"),
    [(7, "divides an hour"), (7200, "1..3600"), (0.5, "whole number"), ("x", "number")],
)
def test_bad_step(step: Any, match: str) -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    with pytest.raises(SimulationError, match=match):
        simulate(site, demand_frame(1), step_s=step)


def test_bad_demand_frames() -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    good = demand_frame(1)
    with pytest.raises(SimulationError, match=r"missing column\(s\) \['return_temp_c'\]"):
        simulate(site, good.drop(columns="return_temp_c"))
    irregular = good.drop(good.index[5])
    with pytest.raises(SimulationError, match=r"irregular index.*row 5"):
        simulate(site, irregular)
    with pytest.raises(SimulationError, match="naive"):
        simulate(site, good.tz_localize(None))
    holes = good.copy()
    holes.loc[holes.index[3], "heat_demand_w"] = np.nan
    with pytest.raises(SimulationError, match="'heat_demand_w' has missing values"):
        simulate(site, holes)
    with pytest.raises(SimulationError, match="DataFrame"):
        simulate(site, good.to_numpy())  # type: ignore[arg-type]
    with pytest.raises(SimulationError, match="not covered by the demand"):
        simulate(site, good, end="2026-02-01T00:00Z")
    with pytest.raises(SimulationError, match="time zone"):
        simulate(site, good, start="2026-01-05T01:00")
    with pytest.raises(SimulationError, match="line up"):
        simulate(site, good, start="2026-01-05T00:00:30Z", end="2026-01-05T01:00:30Z", step_s=60)
    with pytest.raises(SimulationError, match="whole number of 60 s steps"):
        simulate(site, good, start="2026-01-05T00:00:30Z", step_s=60)


def test_bad_initial_state() -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    state = SimulationState(45.0, 0.0, 40.0, (40.0,) * 3)
    with pytest.raises(SimulationError, match="expected 10 tank layer temperatures"):
        simulate(site, demand_frame(1), initial_state=state)


def test_heat_pump_cop_matches_physics_library() -> None:
    from heatreuse.physics import heat_pump_cop_heating

    empty = np.zeros((2, 0))
    for sink, source in ((60.0, 30.0), (70.0, 45.0), (45.0, 20.0)):
        expected = heat_pump_cop_heating(sink, source, 0.5, 5.0, 5.0)
        got = K.heat_pump_cop(sink, source, 0.5, 5.0, 10.0, empty)
        assert got == pytest.approx(min(expected, 10.0), rel=1e-12)
    # COP curve: linear in lift between points, clamped at the ends
    curve = np.array([[20.0, 40.0], [5.0, 3.0]])
    assert K.heat_pump_cop(60.0, 30.0, 0.0, 5.0, 10.0, curve) == pytest.approx(4.0)
    assert K.heat_pump_cop(60.0, 50.0, 0.0, 5.0, 10.0, curve) == pytest.approx(5.0)
    assert K.heat_pump_cop(90.0, 20.0, 0.0, 5.0, 10.0, curve) == pytest.approx(3.0)


def test_one_second_steps_are_stable_and_agree() -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    demand = varying_demand(1)
    end = "2026-01-05T09:00Z"
    fine = simulate(site, demand, step_s=1, end=end, record_layers=True)
    coarse = simulate(site, demand, step_s=60, end=end)
    f = fine.frame
    assert np.isfinite(f["tank_temp_top_c"]).all()
    assert f["coolant_return_temp_c"].max() <= 55.0 + 1e-3
    assert f["tank_temp_top_c"].max() <= 55.0 + 1e-3
    for key in ("heat_delivered_kwh", "hx_heat_kwh"):
        assert fine.totals()[key] == pytest.approx(coarse.totals()[key], rel=0.01), key
    assert abs(fine.totals()["balance_residual_fraction"]) < 1e-9


def test_idle_tank_cools_exponentially() -> None:
    # site down, no demand: only tank losses act. Each layer (equal UA share, equal mass)
    # follows T(t) = T_a + (T_0 - T_a) exp(-UA t / (m cp)), the lumped-capacitance
    # solution (Incropera 7th ed., eq. 5.6), so the mean does too.
    site = load_site(EXAMPLES / "pool.yaml")
    quiet = demand_frame(10, heat_w=0.0, operating=False)
    layers = site.plant.buffer_tank.layers
    start = SimulationState(48.0, 0.0, 50.0, (50.0,) * layers)
    res = simulate(
        site,
        quiet,
        step_s=3600,
        initial_state=start,
        faults=[UtilityFeedLoss("2026-01-05T00:00Z", None)],
    )
    inputs = prepare(site, quiet, 3600)
    mass_kg = site.plant.buffer_tank.volume_m3 * inputs.params[K.P_RHO_SECONDARY_KG_PER_M3]
    cp = inputs.params[K.P_CP_SECONDARY_J_PER_KG_K]
    tau_s = mass_kg * cp / site.plant.buffer_tank.heat_loss_w_per_k
    t_end_s = 10 * 86400
    expected = 20.0 + 30.0 * math.exp(-t_end_s / tau_s)
    assert res.final_state.tank_layer_temps_c[0] == pytest.approx(expected, abs=1e-6)
    loss_kwh = mass_kg * cp * (50.0 - expected) / 3.6e6
    assert res.totals()["tank_loss_kwh"] == pytest.approx(loss_kwh, rel=1e-9)
    assert (res.frame["mode"] == K.MODE_DOWN).all()
