"""Greenhouse heat demand."""

from __future__ import annotations

import numpy as np
import pytest

from heatreuse.errors import DomainError
from heatreuse.physics import (
    greenhouse_air_volume_m3,
    greenhouse_heat_demand_w,
    greenhouse_setpoint_temp_c,
)


def test_setpoints_by_local_hour() -> None:
    sp = greenhouse_setpoint_temp_c(np.array([0.0, 5.99, 6.0, 19.5, 20.0]), 6.0, 20.0, 20.0, 16.0)
    np.testing.assert_allclose(sp, [16.0, 16.0, 20.0, 20.0, 16.0])
    wrap = greenhouse_setpoint_temp_c(np.array([23.0, 3.0, 12.0]), 22.0, 4.0, 18.0, 10.0)
    np.testing.assert_allclose(wrap, [18.0, 18.0, 10.0])


def test_transmission_and_air_exchange_by_hand() -> None:
    # 1000 m2 floor, 1400 m2 glass at 6 W/(m2 K), 5000 m3 at 0.5 1/h, 20 K difference.
    v = greenhouse_air_volume_m3(1000.0)
    assert v == 5000.0
    got = greenhouse_heat_demand_w(np.array([20.0]), np.array([0.0]), 1400.0, 6.0, v, 0.5)
    expected = (1400.0 * 6.0 + 0.5 * 5000.0 * 1.204 * 1006.0 / 3600.0) * 20.0
    assert got[0] == pytest.approx(expected)


def test_solar_gain_on_floor_area_and_floor_at_zero() -> None:
    args = (np.array([20.0, 20.0]), np.array([10.0, 10.0]), 1400.0, 6.0, 5000.0, 0.0)
    no_sun = greenhouse_heat_demand_w(*args)
    sun = greenhouse_heat_demand_w(
        *args, floor_area_m2=1000.0, ghi_w_per_m2=np.array([50.0, 900.0]), solar_gain_fraction=0.4
    )
    assert sun[0] == pytest.approx(no_sun[0] - 0.4 * 50.0 * 1000.0)
    assert sun[1] == 0.0


def test_solar_needs_irradiance() -> None:
    with pytest.raises(DomainError, match="ghi_w_per_m2 expected"):
        greenhouse_heat_demand_w(20.0, 10.0, 1.0, 1.0, 1.0, 0.0, 1.0, None, 0.5)
    with pytest.raises(DomainError, match=r"solar_gain_fraction expected 0\.\.1"):
        greenhouse_heat_demand_w(20.0, 10.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.5)
