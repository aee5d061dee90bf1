"""Fault timelines and the physical outcome of each twin scenario (issue 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from heatreuse.errors import SimulationError
from heatreuse.simulation import (
    MODE_THROTTLED,
    ComputeLoad,
    CustomerDisconnect,
    FaultTimeline,
    HxFouling,
    PumpFailure,
    RejectPathUnavailable,
    SensorFault,
    UtilityFeedLoss,
    build_fault_timeline,
    prepare,
    result_from_outputs,
    run_kernel,
    simulate,
)
from heatreuse.site import Pump, load_site

POOL = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
START = pd.Timestamp("2026-01-05T00:00Z")
T0 = START + pd.Timedelta(hours=6)


def demand(days: float, heat_w: float, supply_c: float = 40.0) -> pd.DataFrame:
    idx = pd.date_range(START, periods=int(days * 24), freq="h")
    return pd.DataFrame(
        {
            "heat_demand_w": heat_w,
            "supply_temp_required_c": supply_c,
            "return_temp_c": 30.0,
            "operating": True,
        },
        index=idx,
    )


def window(frame: pd.DataFrame, start: pd.Timestamp, hours: float) -> pd.DataFrame:
    return frame.loc[start : start + pd.Timedelta(hours=hours) - pd.Timedelta(seconds=1)]


# --------------------------------------------------------------------------- timelines
def test_timeline_arrays_and_combination() -> None:
    index = pd.date_range(START, periods=48, freq="h")
    tl = build_fault_timeline(
        index,
        [
            PumpFailure(T0, 3 * 3600, role="secondary", availability_fraction=0.5),
            PumpFailure(T0 + pd.Timedelta(hours=1), 3600, role="secondary"),
            HxFouling(T0, None, ua_fraction=0.4, ramp_s=10 * 3600),
            SensorFault(T0, 24 * 3600, offset_k=-2.0, drift_k_per_day=1.0),
            CustomerDisconnect(T0, 3600),
            ComputeLoad(T0, 2 * 3600, multiplier=1.2),
            UtilityFeedLoss(T0 + pd.Timedelta(hours=10), 1800),
            RejectPathUnavailable(T0, 7200),
        ],
    )
    assert len(tl) == 48
    sec = tl.pump_secondary_fraction
    assert sec[5] == 1.0 and sec[6] == 0.5 and sec[7] == 0.0 and sec[8] == 0.5 and sec[9] == 1.0
    assert tl.pump_primary_fraction.min() == 1.0
    np.testing.assert_allclose(tl.ua_multiplier[[5, 6, 11, 16, 30]], [1.0, 1.0, 0.7, 0.4, 0.4])
    assert tl.sensor_offset_k[6] == -2.0
    assert tl.sensor_offset_k[18] == pytest.approx(-2.0 + 0.5)
    assert tl.sensor_offset_k[30] == 0.0
    assert list(np.flatnonzero(~tl.customer_connected)) == [6]
    assert list(np.flatnonzero(tl.it_multiplier != 1.0)) == [6, 7]
    # a 30-minute outage on hourly steps marks the step it starts in
    assert list(np.flatnonzero(~tl.utility_feed_available)) == [16]
    assert list(np.flatnonzero(~tl.reject_available)) == [6, 7]
    assert tl.active()[:6].sum() == 0 and tl.active()[6:].all()


def test_timeline_errors() -> None:
    index = pd.date_range(START, periods=24, freq="h")
    with pytest.raises(SimulationError, match="time zone"):
        build_fault_timeline(index, [CustomerDisconnect("2026-01-05T06:00", 3600)])
    with pytest.raises(SimulationError, match="availability_fraction"):
        build_fault_timeline(index, [PumpFailure(T0, 60, availability_fraction=1.5)])
    with pytest.raises(SimulationError, match="duration_s"):
        build_fault_timeline(index, [UtilityFeedLoss(T0, -5)])
    site = load_site(POOL)
    short = FaultTimeline.none(10)
    with pytest.raises(SimulationError, match=r"faults.pump_primary_fraction: expected 1440"):
        simulate(site, demand(1, 40e3), faults=short)


def test_with_faults_equals_faults_given_at_prepare() -> None:
    site = load_site(POOL)
    faults = [PumpFailure(T0, 4 * 3600, role="secondary")]
    direct = run_kernel(prepare(site, demand(1, 40e3), 60, faults=faults))
    inputs = prepare(site, demand(1, 40e3), 60)
    later = run_kernel(inputs.with_faults(faults))
    np.testing.assert_array_equal(direct.out, later.out)
    assert inputs.flags[4].sum() == 0  # the original inputs keep no fault


# --------------------------------------------------------------------------- scenarios
def test_secondary_pump_failure_without_customer_pump_cuts_the_customer_off() -> None:
    # The pool example has no separate customer pump: its secondary pump drives the
    # customer circuit, in which the backup boiler sits. With it down, neither recovered
    # nor backup heat reaches the customer and the supply falls to the return temperature.
    site = load_site(POOL)
    res = simulate(
        site, demand(1, 40e3), step_s=60, faults=[PumpFailure(T0, 5 * 3600, role="secondary")]
    )
    f = res.frame
    during = window(f, T0, 5)
    assert (during["flow_secondary_m3_per_h"] == 0).all()
    assert (during["heat_delivered_w"] == 0).all()
    assert (during["backup_heat_w"] == 0).all()
    assert during["customer_supply_temp_c"].max() <= 30.0 + 1e-3  # the return temperature
    assert during["supply_temp_c"].iloc[-1] < during["supply_temp_c"].iloc[0] - 1.0
    after = window(f, T0 + pd.Timedelta(hours=6), 6)
    assert (after["heat_delivered_w"] > 0).all()
    assert after["customer_supply_temp_c"].min() >= 40.0 - 1e-3
    assert abs(res.totals()["balance_residual_fraction"]) < 1e-9


def _with_customer_pump(site: Any) -> Any:
    plant = site.plant
    pumps = [
        *plant.pumps,
        Pump(
            id="p-customer",
            role="customer",
            rated_flow_m3_per_h=6.0,
            rated_head_m=10.0,
            rated_power_w=300.0,
        ),
    ]
    return site.model_copy(update={"plant": plant.model_copy(update={"pumps": pumps})})


def test_secondary_pump_failure_with_customer_pump_backup_starts_in_time() -> None:
    # With its own customer pump the customer is served from the tank while the
    # charging (secondary) pump is down; once the tank runs low the backup boiler
    # takes over within its control delay and the supply stays at the requirement.
    site = _with_customer_pump(load_site(POOL))
    delay_s = site.plant.backup_boiler.control_delay_s
    res = simulate(
        site, demand(1, 40e3), step_s=60, faults=[PumpFailure(T0, 5 * 3600, role="secondary")]
    )
    during = window(res.frame, T0, 5)
    assert (during["flow_secondary_m3_per_h"] == 0).all()
    assert during["heat_delivered_w"].iloc[:10].min() > 0  # the tank still serves
    assert during["supply_temp_c"].iloc[-1] < during["supply_temp_c"].iloc[0] - 1.0
    short = during.index[during["heat_delivered_w"] < 40e3 * 0.99]
    fired = during.index[during["backup_heat_w"] > 0]
    assert len(short) and len(fired)
    # pre-armed boiler: it fires no later than the control delay after the first deficit
    assert (fired[0] - short[0]).total_seconds() <= delay_s
    assert (during["heat_delivered_w"] + during["backup_heat_w"]).iloc[-60:].min() > 40e3 * 0.99
    assert abs(res.totals()["balance_residual_fraction"]) < 1e-9


def test_customer_pump_failure_stops_recovered_and_backup_heat() -> None:
    site = _with_customer_pump(load_site(POOL))
    res = simulate(
        site, demand(1, 40e3), step_s=60, faults=[PumpFailure(T0, 2 * 3600, role="customer")]
    )
    during = window(res.frame, T0, 2)
    assert (during["heat_delivered_w"] == 0).all()
    assert (during["backup_heat_w"] == 0).all()
    assert abs(res.totals()["balance_residual_fraction"]) < 1e-9


def test_primary_pump_trip_throttles_compute() -> None:
    site = load_site(POOL)
    res = simulate(
        site, demand(1, 40e3), step_s=60, faults=[PumpFailure(T0, 2 * 3600, role="primary")]
    )
    during = window(res.frame, T0, 2)
    assert (during["mode"].iloc[5:] == MODE_THROTTLED).all()
    assert during["it_power_w"].iloc[5:].max() < 100.0
    assert res.totals()["throttled_it_energy_kwh"] > 80.0
    assert (during["coolant_return_temp_c"] <= 55.0 + 1e-3).all()
    assert abs(res.totals()["balance_residual_fraction"]) < 1e-9


def test_degraded_pump_moves_less() -> None:
    site = load_site(POOL)
    res = simulate(
        site,
        demand(1, 40e3),
        step_s=60,
        faults=[PumpFailure(T0, 2 * 3600, role="primary", availability_fraction=0.5)],
    )
    during = window(res.frame, T0, 2)
    np.testing.assert_allclose(during["flow_primary_m3_per_h"], 2.5, rtol=1e-5)
    # affinity laws: power with the cube of the flow fraction
    assert during["pump_electricity_w"].min() >= 250 * 0.125 - 1e-3


def test_hx_fouling_moves_less_heat_through_the_exchanger() -> None:
    site = load_site(POOL)
    # more demand than IT heat: the exchanger is the bottleneck
    clean = simulate(site, demand(3, 80e3), step_s=300)
    fouled = simulate(
        site,
        demand(3, 80e3),
        step_s=300,
        faults=[HxFouling(START, None, ua_fraction=0.1, ramp_s=86400.0)],
    )
    last_clean = clean.frame.iloc[-288:]
    last_fouled = fouled.frame.iloc[-288:]
    assert last_fouled["hx_heat_w"].mean() < 0.9 * last_clean["hx_heat_w"].mean()
    assert fouled.totals()["backup_heat_kwh"] > clean.totals()["backup_heat_kwh"]
    assert (
        fouled.totals()["heat_rejected_kwh"] + fouled.totals()["throttled_it_energy_kwh"]
        > clean.totals()["heat_rejected_kwh"] + clean.totals()["throttled_it_energy_kwh"]
    )


def test_compute_trip_and_surge() -> None:
    site = load_site(POOL)
    faults = [
        ComputeLoad(T0, 3600, multiplier=0.0),
        ComputeLoad(T0 + pd.Timedelta(hours=4), 3600, multiplier=1.15),
    ]
    base = simulate(site, demand(1, 40e3), step_s=60)
    res = simulate(site, demand(1, 40e3), step_s=60, faults=faults)
    assert (window(res.frame, T0, 1)["it_power_w"] == 0).all()
    surge = window(res.frame, T0 + pd.Timedelta(hours=4), 1)["it_power_w"]
    normal = window(base.frame, T0 + pd.Timedelta(hours=4), 1)["it_power_w"]
    np.testing.assert_allclose(surge, 1.15 * normal, rtol=1e-5)


def test_reject_path_unavailable_with_full_tank_throttles() -> None:
    site = load_site(POOL)
    res = simulate(site, demand(2, 0.0), step_s=60, faults=[RejectPathUnavailable(T0, 30 * 3600)])
    during = window(res.frame, T0, 30)
    assert (during["heat_rejected_w"] == 0).all()
    assert (during["mode"] == MODE_THROTTLED).any()
    assert res.totals()["throttled_it_energy_kwh"] > 0


def test_sensor_drift_grows() -> None:
    site = load_site(POOL)
    res = simulate(
        site,
        demand(2, 40e3),
        step_s=600,
        faults=[SensorFault(START, None, offset_k=0.0, drift_k_per_day=-3.0)],
    )
    err = res.frame["supply_temp_measured_c"] - res.frame["supply_temp_c"]
    assert err.iloc[0] == pytest.approx(0.0, abs=1e-4)
    assert err.iloc[-1] == pytest.approx(-3.0 * (2 - 600 / 86400), abs=1e-3)


def test_chunked_drill_equals_single_run() -> None:
    site = load_site(POOL)
    faults = [UtilityFeedLoss(T0, 3600), PumpFailure(T0 + pd.Timedelta(hours=3), 7200)]
    inputs = prepare(site, demand(1, 60e3), 60, faults=faults)
    whole = result_from_outputs(inputs, run_kernel(inputs))
    chunks = []
    state = inputs.initial_state
    for start in range(0, inputs.n_steps, 97):
        out = run_kernel(inputs, state, start, min(start + 97, inputs.n_steps))
        chunks.append(out)
        state = out.state_out
    pd.testing.assert_frame_equal(whole.frame, result_from_outputs(inputs, chunks).frame)


def test_utility_feed_loss_with_customer_pump_backup_takes_over() -> None:
    # The customer's own pump runs on the customer's supply: when the site loses power the
    # customer is served from the tank, and once that runs low the boiler in the same
    # circuit covers the demand (pre-armed, so the supply never drops for the delay).
    site = _with_customer_pump(load_site(POOL))
    res = simulate(site, demand(1, 40e3), step_s=60, faults=[UtilityFeedLoss(T0, 8 * 3600)])
    down = window(res.frame, T0, 8)
    assert (down["it_power_w"] == 0).all()
    assert down["heat_delivered_w"].iloc[:30].min() > 0  # the tank serves first
    assert (down["backup_heat_w"] > 0).any()  # then the boiler
    served = down["heat_delivered_w"] + down["backup_heat_w"]
    assert served.min() > 40e3 * 0.99
    assert abs(res.totals()["balance_residual_fraction"]) < 1e-9
