"""Pool heat balance: VDI 2089-1 evaporation and the surface losses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatreuse.errors import DomainError
from heatreuse.physics import (
    air_vapour_pressure_pa,
    dew_point_temp_c,
    humidity_ratio_kg_per_kg,
    pool_convection_heat_w,
    pool_evaporation_heat_w,
    pool_evaporation_kg_per_h,
    pool_hall_design_outdoor_air_kg_per_h,
    pool_hall_outdoor_air_kg_per_h,
    pool_hall_transmission_heat_w,
    pool_hall_ventilation_heat_w,
    pool_makeup_heat_w,
    pool_radiation_heat_w,
    pool_solar_gain_w,
    pool_transmission_heat_w,
    pool_wall_floor_area_m2,
    saturation_pressure_pa,
    sky_temperature_c,
)
from heatreuse.physics.pool import POOL_BETA_M_PER_H


def test_beta_values_of_vdi_2089() -> None:
    # VDI 2089-1 (2010), water-transfer coefficients [m/h] (standards.md, "Heat demand").
    assert POOL_BETA_M_PER_H == {
        "private": 21.0,
        "public_deep": 28.0,
        "public_shallow": 40.0,
        "wave_slides": 50.0,
        "at_rest": 7.0,
    }


def test_evaporation_formula_by_hand() -> None:
    # m = beta / (R_D T) (p_w - p_l) A with R_D = 461.52 J/(kg K), T the mean temperature.
    p_w = saturation_pressure_pa(28.0)
    p_l = 0.54 * saturation_pressure_pa(30.0)
    expected = 28.0 / (461.52 * (29.0 + 273.15)) * (p_w - p_l) * 312.5
    got = pool_evaporation_kg_per_h(312.5, 28.0, 30.0, 0.54, 28.0)
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-12)
    assert got == pytest.approx(93.47, abs=0.01)


def test_evaporation_arrays_broadcast() -> None:
    got = pool_evaporation_kg_per_h(100.0, 28.0, np.array([28.0, 30.0]), 0.5, np.array([7.0, 28.0]))
    assert isinstance(got, np.ndarray) and got.shape == (2,)
    assert got[1] > got[0] > 0.0


def test_condensation_is_negative() -> None:
    assert pool_evaporation_kg_per_h(10.0, 20.0, 30.0, 0.9, 7.0) < 0.0


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((-1.0, 28.0, 30.0, 0.5, 28.0), "area_m2"),
        ((1.0, 120.0, 30.0, 0.5, 28.0), "water_temp_c"),
        ((1.0, 28.0, 30.0, 1.5, 28.0), "air_relative_humidity_fraction"),
        ((1.0, 28.0, 30.0, 0.5, -2.0), "beta_m_per_h"),
        ((1.0, 28.0, float("nan"), 0.5, 28.0), "air_temp_c"),
    ],
)
def test_evaporation_domain_errors(args: tuple[float, ...], name: str) -> None:
    with pytest.raises(DomainError, match=rf"{name} expected .*got"):
        pool_evaporation_kg_per_h(*args)


@settings(max_examples=60, deadline=None)
@given(
    t1=st.floats(5.0, 39.0),
    dt=st.floats(0.1, 10.0),
    area=st.floats(1.0, 2000.0),
    air=st.floats(10.0, 35.0),
    rh=st.floats(0.0, 1.0),
)
def test_evaporation_monotonic_in_water_temp_and_area(
    t1: float, dt: float, area: float, air: float, rh: float
) -> None:
    beta = 28.0
    base = pool_evaporation_kg_per_h(area, t1, air, rh, beta)
    assert pool_evaporation_kg_per_h(area, t1 + dt, air, rh, beta) > base
    bigger = pool_evaporation_kg_per_h(area * 1.5, t1, air, rh, beta)
    assert bigger == pytest.approx(base * 1.5, rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(t=st.floats(1.0, 60.0), area=st.floats(0.0, 1000.0), beta=st.floats(0.0, 50.0))
def test_evaporation_zero_when_pressures_equal(t: float, area: float, beta: float) -> None:
    # Saturated air at the water temperature: p_l == p_w, no driving force.
    assert pool_evaporation_kg_per_h(area, t, t, 1.0, beta) == pytest.approx(0.0, abs=1e-9)


def test_latent_heat_of_evaporation() -> None:
    # IAPWS-95: r(28 C) = 2434.6 kJ/kg (Wagner & Kretzschmar, International Steam Tables).
    assert pool_evaporation_heat_w(3.6, 28.0) == pytest.approx(2434.6, rel=2e-4)


def test_vapour_pressure_below_freezing_uses_magnus_over_water() -> None:
    # WMO No. 8 (2018), Annex 4.B: e_w(-10 C) over supercooled water = 2.86 hPa.
    assert air_vapour_pressure_pa(-10.0, 1.0) == pytest.approx(286.0, rel=5e-3)
    assert air_vapour_pressure_pa(20.0, 0.5) == pytest.approx(0.5 * 2339.2, rel=1e-3)
    # Continuous at 0 C within Magnus' accuracy.
    assert air_vapour_pressure_pa(-1e-9, 1.0) == pytest.approx(
        air_vapour_pressure_pa(0.0, 1.0), rel=1e-3
    )


def test_dew_point() -> None:
    # 20 C, 50 % RH: dew point 9.3 C (psychrometric chart, ASHRAE Fundamentals ch. 1).
    assert dew_point_temp_c(20.0, 0.5) == pytest.approx(9.3, abs=0.1)
    assert dew_point_temp_c(15.0, 1.0) == pytest.approx(15.0, abs=1e-9)


def test_convection_indoor_sign_and_size() -> None:
    # Water warmer than air: h = 1.52 dT^(1/3) (Holman Table 7-2).
    q = pool_convection_heat_w(100.0, 28.0, 20.0)
    assert q == pytest.approx(1.52 * 8.0 ** (1 / 3) * 100.0 * 8.0)
    # Air warmer than water: a (small) gain.
    assert pool_convection_heat_w(100.0, 28.0, 30.0) < 0.0
    assert pool_convection_heat_w(100.0, 28.0, 28.0) == 0.0


def test_convection_outdoor_wind() -> None:
    # h = 2.8 + 3.0 v (Watmuff et al. 1977).
    assert pool_convection_heat_w(10.0, 25.0, 15.0, 2.0) == pytest.approx((2.8 + 6.0) * 10 * 10)


def test_radiation_and_sky_temperature() -> None:
    sigma = 5.670374419e-8
    q = pool_radiation_heat_w(1.0, 28.0, 20.0)
    assert q == pytest.approx(0.95 * sigma * (301.15**4 - 293.15**4))
    # Swinbank (1963): T_sky = 0.0552 T_air^1.5; 20 C air -> 277.1 K.
    assert sky_temperature_c(20.0) == pytest.approx(0.0552 * 293.15**1.5 - 273.15)
    # Berdahl & Martin (1984): dew point 10 C -> eps = 0.711 + 0.056 + 0.0073.
    eps = 0.711 + 0.56 * 0.1 + 0.73 * 0.01
    assert sky_temperature_c(20.0, 10.0) == pytest.approx(eps**0.25 * 293.15 - 273.15)
    assert sky_temperature_c(20.0, 10.0) < 20.0


def test_makeup_transmission_solar() -> None:
    # 1000 kg/h from 10 to 28 C: about 1000/3600 * 4.18 kJ/(kg K) * 18 K = 20.9 kW.
    assert pool_makeup_heat_w(1000.0, 28.0, 10.0) == pytest.approx(20_930.0, rel=2e-3)
    # 25 m x 12.5 m x 1.8 m: floor 312.5 + perimeter 75 m * 1.8 m.
    area = pool_wall_floor_area_m2(312.5, 1.8)
    assert area == pytest.approx(312.5 + 75.0 * 1.8)
    assert pool_transmission_heat_w(area, 0.35, 28.0, 10.0) == pytest.approx(area * 0.35 * 18.0)
    assert pool_solar_gain_w(100.0, 500.0) == pytest.approx(0.85 * 500.0 * 100.0)
    with pytest.raises(DomainError, match="ghi_w_per_m2 expected >= 0"):
        pool_solar_gain_w(100.0, -1.0)


# --------------------------------------------------------------------------- the hall
def test_humidity_ratio_by_hand() -> None:
    # W = 0.621945 p_w / (p - p_w) (ASHRAE Fundamentals 2017, ch. 1, eq. 20/22).
    p_w = 0.54 * saturation_pressure_pa(30.0)
    assert humidity_ratio_kg_per_kg(30.0, 0.54) == pytest.approx(
        0.621945 * p_w / (101_325.0 - p_w), rel=1e-12
    )
    # VDI 2089's hall at 30 C / 54 % holds about its 14.3 g/kg sultriness limit.
    assert humidity_ratio_kg_per_kg(30.0, 0.54) == pytest.approx(0.0143, abs=2e-4)
    # Lower pressure (altitude), more water per kg of dry air.
    assert humidity_ratio_kg_per_kg(30.0, 0.54, 90_000.0) > humidity_ratio_kg_per_kg(30.0, 0.54)
    with pytest.raises(DomainError, match="relative_humidity_fraction"):
        humidity_ratio_kg_per_kg(20.0, 1.5)


def test_hall_design_outdoor_air_follows_vdi_2089() -> None:
    # 100 % outdoor air at design: evaporation / (x_hall - 9 g/kg).
    assert pool_hall_design_outdoor_air_kg_per_h(53.0, 0.0143) == pytest.approx(
        53.0 / 0.0053, rel=1e-9
    )
    # A hall drier than 10 g/kg is sized on the 1 g/kg floor.
    assert pool_hall_design_outdoor_air_kg_per_h(10.0, 0.0095) == pytest.approx(10_000.0)


def test_hall_outdoor_air_between_its_limits() -> None:
    evap = np.array([50.0, 50.0, 50.0, 0.0, -3.0])
    x_out = np.array([0.004, 0.0143, 0.016, 0.004, 0.016])
    air = pool_hall_outdoor_air_kg_per_h(evap, 0.0143, x_out, 9_000.0, 1_000.0)
    assert air[0] == pytest.approx(50.0 / 0.0103)  # dry outdoor air: just what is needed
    assert air[1] == air[2] == 9_000.0  # as humid as the hall or more: the design flow
    assert air[3] == air[4] == 1_000.0  # nothing to remove: the least flow
    assert pool_hall_outdoor_air_kg_per_h(10.0, 0.0143, 0.004, 9_000.0) == pytest.approx(
        10.0 / 0.0103
    )
    with pytest.raises(DomainError, match="min_air_kg_per_h"):
        pool_hall_outdoor_air_kg_per_h(10.0, 0.0143, 0.004, 100.0, 200.0)


def test_hall_ventilation_heat_by_hand() -> None:
    # 3600 kg/h (1 kg/s) from 0 to 30 C with 3 g/kg: (1006 + 1860 x 0.003) x 30 = 30,347 W,
    # 27 % of it behind 73 % heat recovery.
    q = pool_hall_ventilation_heat_w(3600.0, 30.0, 0.0, 0.003)
    assert q == pytest.approx((1006.0 + 1860.0 * 0.003) * 30.0 * 0.27, rel=1e-12)
    assert pool_hall_ventilation_heat_w(3600.0, 30.0, 0.0, 0.003, 0.0) == pytest.approx(q / 0.27)
    # Warmer outdoors: recovery bypassed, the air brings heat (negative).
    assert pool_hall_ventilation_heat_w(3600.0, 30.0, 34.0, 0.015) == pytest.approx(
        -(1006.0 + 1860.0 * 0.015) * 4.0
    )
    with pytest.raises(DomainError, match="heat_recovery_fraction"):
        pool_hall_ventilation_heat_w(1.0, 30.0, 0.0, 0.003, 1.2)


def test_hall_transmission() -> None:
    assert pool_hall_transmission_heat_w(750.0, 30.0, -10.0) == pytest.approx(30_000.0)
    got = pool_hall_transmission_heat_w(750.0, 30.0, np.array([30.0, 35.0]))
    np.testing.assert_allclose(got, [0.0, -3750.0])
