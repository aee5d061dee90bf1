"""District-heating return preheat from a heating curve."""

from __future__ import annotations

import numpy as np
import pytest

from heatreuse.errors import DomainError
from heatreuse.physics import (
    district_preheat_power_w,
    district_return_flow_m3_per_h,
    heating_curve_temp_c,
    heating_load_fraction,
    water_density_kg_per_m3,
    water_enthalpy_j_per_kg,
)


def test_load_fraction_and_curve_endpoints() -> None:
    t = np.array([-20.0, -12.0, 1.5, 15.0, 25.0])
    np.testing.assert_allclose(heating_load_fraction(t, -12.0, 15.0), [1.0, 1.0, 0.5, 0.0, 0.0])
    supply = heating_curve_temp_c(t, -12.0, 15.0, 90.0, 70.0)
    np.testing.assert_allclose(supply, [90.0, 90.0, 80.0, 70.0, 70.0])
    with pytest.raises(DomainError, match="heating_limit_temp_c expected above"):
        heating_load_fraction(0.0, 15.0, -12.0)


def test_return_flow_has_summer_minimum() -> None:
    flow = district_return_flow_m3_per_h(np.array([1.0, 0.5, 0.0]), 10.0, 0.2)
    np.testing.assert_allclose(flow, [10.0, 5.0, 2.0])


def test_preheat_power_by_hand_and_cap() -> None:
    flow, t_r, t_t = 5.0, 40.0, 50.0
    rho = water_density_kg_per_m3(t_r, 6.0)
    dh = water_enthalpy_j_per_kg(t_t, 6.0) - water_enthalpy_j_per_kg(t_r, 6.0)
    expected = flow / 3600.0 * rho * dh
    assert expected == pytest.approx(57_500.0, rel=0.01)  # ~1.16 kWh/(m3 K) * 5 m3/h * 10 K
    assert district_preheat_power_w(flow, t_r, t_t, 1e9) == pytest.approx(expected)
    assert district_preheat_power_w(flow, t_r, t_t, 20_000.0) == 20_000.0
    assert district_preheat_power_w(flow, 55.0, t_t, 1e9) == 0.0
