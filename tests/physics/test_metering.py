"""Heat metering (EN 1434 heat coefficient) and MPE (MID MI-004)."""

from __future__ import annotations

import CoolProp.CoolProp as CP
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatreuse.errors import DomainError
from heatreuse.physics import (
    calculator_mpe_percent,
    flow_sensor_mpe_percent,
    heat_coefficient_kwh_per_m3_k,
    heat_meter_mpe_kwh,
    heat_meter_mpe_percent,
    metered_heat_kwh,
    temperature_pair_mpe_percent,
    water_cp_j_per_kg_k,
    water_density_kg_per_m3,
)


def _k_independent(flow_c: float, return_c: float, p_bar: float, model: str) -> float:
    """k-factor from the `iapws` package, an implementation independent of CoolProp."""
    from iapws import IAPWS95, IAPWS97

    cls = IAPWS95 if model == "95" else IAPWS97
    f = cls(T=flow_c + 273.15, P=p_bar / 10.0)
    r = cls(T=return_c + 273.15, P=p_bar / 10.0)
    # rho [kg/m3] * dh [kJ/kg] / dT [K] / 3600 [kJ/kWh] -> kWh/(m3 K); meter in return.
    return float(r.rho * (f.h - r.h) / (flow_c - return_c) / 3600.0)


@pytest.mark.parametrize(
    ("flow_c", "return_c", "p_bar"),
    [(70.0, 50.0, 6.0), (45.0, 35.0, 3.0), (90.0, 60.0, 10.0), (120.0, 70.0, 16.0)],
)
def test_heat_coefficient_matches_iapws_package(
    flow_c: float, return_c: float, p_bar: float
) -> None:
    # EN 1434-1 heat coefficient k = rho_r (h_f - h_r) / (theta_f - theta_r),
    # checked against the independent `iapws` implementation of IAPWS-95
    # (to 1e-6) and of IAPWS-IF97, which certified meters use (to 0.05 %,
    # the documented IF97/IAPWS-95 agreement).
    k = heat_coefficient_kwh_per_m3_k(flow_c, return_c, "return", p_bar)
    assert k == pytest.approx(_k_independent(flow_c, return_c, p_bar, "95"), rel=1e-6)
    assert k == pytest.approx(_k_independent(flow_c, return_c, p_bar, "97"), rel=5e-4)


def test_heat_coefficient_70_50_value() -> None:
    # IAPWS-95 (iapws package, see above): k(70 C / 50 C, 6 bar, meter in return)
    # = 1.14859 kWh/(m3 K).
    assert heat_coefficient_kwh_per_m3_k(70.0, 50.0) == pytest.approx(1.14859, abs=5e-6)


def test_shortcut_1163_over_reads() -> None:
    # The constant 1.163 kWh/(m3 K) (cp = 4186.8 J/(kg K), rho = 1000 kg/m3)
    # over-reads by 0.6 % .. 2.3 % for heating-circuit temperatures, which is
    # why heatreuse never uses it (standards.md, heat metering).
    flows = np.array([40.0, 55.0, 70.0, 80.0, 90.0])
    returns = flows - np.array([10.0, 10.0, 20.0, 20.0, 20.0])
    k = heat_coefficient_kwh_per_m3_k(flows, returns)
    over_read = 1.163 / k - 1.0
    assert np.all(over_read > 0.005)
    assert np.all(over_read < 0.023)
    assert over_read.max() - over_read.min() > 0.01  # it is not a constant offset either


def test_meter_location_changes_density_only() -> None:
    k_ret = heat_coefficient_kwh_per_m3_k(80.0, 40.0, "return")
    k_flow = heat_coefficient_kwh_per_m3_k(80.0, 40.0, "flow")
    assert k_flow / k_ret == pytest.approx(
        water_density_kg_per_m3(80.0) / water_density_kg_per_m3(40.0), rel=1e-12
    )
    assert k_flow < k_ret


def test_equal_temperatures_give_rho_cp_limit() -> None:
    k0 = heat_coefficient_kwh_per_m3_k(50.0, 50.0)
    assert k0 == pytest.approx(
        water_density_kg_per_m3(50.0) * water_cp_j_per_kg_k(50.0) / 3.6e6, rel=1e-12
    )
    # and the quotient approaches it continuously
    assert heat_coefficient_kwh_per_m3_k(50.001, 50.0) == pytest.approx(k0, rel=1e-6)
    assert heat_coefficient_kwh_per_m3_k(50.0 + 1e-7, 50.0) == pytest.approx(k0, rel=1e-6)


def test_metered_heat_energy_balance_against_coolprop() -> None:
    # Q = V rho(theta_r) (h(theta_f) - h(theta_r)), evaluated directly with IAPWS-95.
    v, tf, tr, p = 12.5, 65.0, 42.0, 4.0
    rho_r = CP.PropsSI("D", "T", tr + 273.15, "P", p * 1e5, "HEOS::Water")
    dh = CP.PropsSI("H", "T", tf + 273.15, "P", p * 1e5, "HEOS::Water") - CP.PropsSI(
        "H", "T", tr + 273.15, "P", p * 1e5, "HEOS::Water"
    )
    expected_kwh = v * rho_r * dh / 3.6e6
    assert metered_heat_kwh(v, tf, tr, "return", p) == pytest.approx(expected_kwh, rel=1e-6)


def test_metered_heat_equals_k_times_volume_times_delta_t() -> None:
    v = np.array([0.0, 0.3, 1.2, 5.0])
    tf = np.array([60.0, 62.0, 70.0, 55.0])
    tr = np.array([40.0, 41.0, 45.0, 55.0])
    q = metered_heat_kwh(v, tf, tr)
    k = heat_coefficient_kwh_per_m3_k(tf, tr)
    np.testing.assert_allclose(q, v * k * (tf - tr), rtol=1e-12, atol=1e-12)
    assert q[0] == 0.0 and q[3] == 0.0


def test_types() -> None:
    assert type(metered_heat_kwh(1.0, 60.0, 40.0)) is float
    assert type(heat_coefficient_kwh_per_m3_k(60.0, 40.0)) is float
    assert isinstance(metered_heat_kwh(np.array([1.0, 2.0]), 60.0, 40.0), np.ndarray)
    assert isinstance(
        heat_coefficient_kwh_per_m3_k(60.0, 40.0, "return", np.array([3.0])), np.ndarray
    )


def test_scalar_and_array_paths_agree() -> None:
    tf = np.array([35.0, 61.3, 88.8])
    tr = np.array([30.0, 40.1, 88.8])
    arr = metered_heat_kwh(2.0, tf, tr, "flow", 8.0)
    for i in range(3):
        assert metered_heat_kwh(2.0, float(tf[i]), float(tr[i]), "flow", 8.0) == pytest.approx(
            arr[i], rel=1e-13, abs=1e-12
        )


def test_metering_domain_errors() -> None:
    with pytest.raises(DomainError, match="return_temp_c expected a return temperature not above"):
        metered_heat_kwh(1.0, 40.0, 50.0)
    with pytest.raises(DomainError, match="volume_m3 expected >= 0"):
        metered_heat_kwh(-0.1, 60.0, 40.0)
    with pytest.raises(DomainError, match="meter_in expected 'return' or 'flow'"):
        metered_heat_kwh(1.0, 60.0, 40.0, "supply")  # type: ignore[call-overload]
    with pytest.raises(DomainError, match="flow_temp_c expected liquid water"):
        heat_coefficient_kwh_per_m3_k(170.0, 50.0)
    with pytest.raises(DomainError, match="element 1"):
        metered_heat_kwh(np.array([1.0, 1.0]), np.array([60.0, 45.0]), np.array([40.0, 50.0]))


@settings(max_examples=150, deadline=None)
@given(
    v1=st.floats(0.0, 100.0),
    v2=st.floats(0.0, 100.0),
    tr=st.floats(5.0, 90.0),
    dt=st.floats(0.0, 50.0),
)
def test_metered_heat_is_additive_in_volume(v1: float, v2: float, tr: float, dt: float) -> None:
    tf = tr + dt
    total = metered_heat_kwh(v1 + v2, tf, tr)
    parts = metered_heat_kwh(v1, tf, tr) + metered_heat_kwh(v2, tf, tr)
    assert total == pytest.approx(parts, rel=1e-12, abs=1e-12)
    assert total >= 0.0


@settings(max_examples=150, deadline=None)
@given(tr=st.floats(5.0, 90.0), dt1=st.floats(0.1, 30.0), dt2=st.floats(0.1, 30.0))
def test_metered_heat_increases_with_flow_temperature(tr: float, dt1: float, dt2: float) -> None:
    lo, hi = sorted((dt1, dt2))
    if hi - lo < 1e-6:
        return
    assert metered_heat_kwh(1.0, tr + hi, tr) > metered_heat_kwh(1.0, tr + lo, tr)


# --- MPE (Directive 2014/32/EU Annex VI MI-004; EN 1434-1) -----------------------


def test_mpe_hand_computed_class_2() -> None:
    # Class 2, qp = 1.5 m3/h at q = 0.75 m3/h, delta_theta = 20 K, delta_theta_min = 3 K:
    # E_f = 2 + 0.02 * 1.5/0.75 = 2.04; E_t = 0.5 + 3 * 3/20 = 0.95;
    # E_c = 0.5 + 3/20 = 0.65; E = 3.64 %.
    assert flow_sensor_mpe_percent(2, 1.5, 0.75) == pytest.approx(2.04)
    assert temperature_pair_mpe_percent(20.0, 3.0) == pytest.approx(0.95)
    assert calculator_mpe_percent(20.0, 3.0) == pytest.approx(0.65)
    assert heat_meter_mpe_percent(2, 1.5, 0.75, 20.0, 3.0) == pytest.approx(3.64)
    assert heat_meter_mpe_kwh(500.0, 2, 1.5, 0.75, 20.0, 3.0) == pytest.approx(18.2)


@pytest.mark.parametrize(
    ("cls", "q", "expected"),
    [
        (1, 2.5, 1.01),  # 1 + 0.01 * 2.5/2.5
        (1, 0.01, 3.5),  # 1 + 0.01 * 250 = 3.5 -> at the 3.5 % cap
        (1, 0.001, 3.5),  # capped
        (2, 0.025, 2.0 + 0.02 * 100.0),  # 4.0, below the 5 % cap
        (2, 0.001, 5.0),  # capped
        (3, 0.25, 3.0 + 0.05 * 10.0),  # 3.5
        (3, 0.01, 5.0),  # capped
    ],
)
def test_flow_sensor_mpe_classes_and_caps(cls: int, q: float, expected: float) -> None:
    assert flow_sensor_mpe_percent(cls, 2.5, q) == pytest.approx(expected)


def test_mpe_arrays_and_types() -> None:
    e = heat_meter_mpe_percent(1, 2.5, np.array([2.5, 0.25]), np.array([30.0, 5.0]), 3.0)
    assert isinstance(e, np.ndarray)
    np.testing.assert_allclose(e, [1.01 + 0.8 + 0.6, 1.1 + 2.3 + 1.1])
    assert type(heat_meter_mpe_percent(1, 2.5, 2.5, 30.0, 3.0)) is float


def test_mpe_domain_errors() -> None:
    with pytest.raises(DomainError, match="accuracy_class expected 1, 2 or 3"):
        heat_meter_mpe_percent(4, 1.5, 1.0, 20.0, 3.0)
    with pytest.raises(DomainError, match="accuracy_class"):
        heat_meter_mpe_percent(True, 1.5, 1.0, 20.0, 3.0)
    with pytest.raises(DomainError, match="q_m3_per_h expected > 0"):
        heat_meter_mpe_percent(2, 1.5, 0.0, 20.0, 3.0)
    with pytest.raises(DomainError, match="delta_t_k expected a temperature difference"):
        heat_meter_mpe_percent(2, 1.5, 1.0, 2.0, 3.0)
    with pytest.raises(DomainError, match="heat_kwh expected >= 0"):
        heat_meter_mpe_kwh(-1.0, 2, 1.5, 1.0, 20.0, 3.0)


@settings(max_examples=200, deadline=None)
@given(
    cls=st.sampled_from([1, 2, 3]),
    q=st.floats(0.001, 10.0),
    dt=st.floats(3.0, 100.0),
)
def test_mpe_bounds_and_monotonicity(cls: int, q: float, dt: float) -> None:
    e = heat_meter_mpe_percent(cls, 2.5, q, dt, 3.0)
    # lower bound: the constant parts; upper bound: capped flow part + 3.5 + 1.5
    assert e >= cls + 1.0
    assert e <= {1: 3.5, 2: 5.0, 3: 5.0}[cls] + 3.5 + 1.5 + 1e-12
    # more flow or more delta-T never increases the MPE
    assert heat_meter_mpe_percent(cls, 2.5, q * 1.5, dt, 3.0) <= e + 1e-12
    assert heat_meter_mpe_percent(cls, 2.5, q, dt * 1.5, 3.0) <= e + 1e-12
