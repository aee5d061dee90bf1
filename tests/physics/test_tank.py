"""Buffer-tank helpers: stored heat of layers, standing loss."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatreuse.errors import DomainError
from heatreuse.physics import (
    tank_heat_loss_w,
    tank_stored_heat_kwh,
    water_density_kg_per_m3,
    water_enthalpy_j_per_kg,
)


def test_stored_heat_matches_layer_sum() -> None:
    temps = np.array([60.0, 50.0, 40.0])
    expected = (
        sum(
            water_density_kg_per_m3(t)
            * 1.0
            * (water_enthalpy_j_per_kg(t) - water_enthalpy_j_per_kg(40.0))
            for t in temps
        )
        / 3.6e6
    )
    assert tank_stored_heat_kwh(temps, 3.0, 40.0) == pytest.approx(expected, rel=1e-12)
    assert type(tank_stored_heat_kwh(temps, 3.0, 40.0)) is float


def test_time_series_of_layer_vectors() -> None:
    temps = np.array([[60.0, 50.0, 40.0], [40.0, 40.0, 40.0]])
    e = tank_stored_heat_kwh(temps, 3.0, 40.0)
    assert isinstance(e, np.ndarray) and e.shape == (2,)
    assert e[1] == 0.0
    e_ref = tank_stored_heat_kwh(temps, 3.0, np.array([40.0, 30.0]))
    assert e_ref[1] > 0.0


def test_heat_loss() -> None:
    # Duffie & Beckman multi-node loss: sum (UA/n)(T_i - T_amb) = UA (mean - T_amb).
    assert tank_heat_loss_w(np.array([60.0, 50.0, 40.0]), 3.0, 20.0) == pytest.approx(90.0)
    loss = tank_heat_loss_w(np.array([[60.0, 40.0], [20.0, 20.0]]), 2.0, 20.0)
    np.testing.assert_allclose(loss, [60.0, 0.0])


def test_domain_errors() -> None:
    with pytest.raises(DomainError, match="layer_temps_c expected an array"):
        tank_stored_heat_kwh(np.array(50.0), 1.0, 40.0)
    with pytest.raises(DomainError, match="volume_m3 expected >= 0"):
        tank_stored_heat_kwh(np.array([50.0]), -1.0, 40.0)
    with pytest.raises(DomainError, match="layer_temps_c expected liquid water"):
        tank_stored_heat_kwh(np.array([50.0, 170.0]), 1.0, 40.0)
    with pytest.raises(DomainError, match="ua_w_per_k expected >= 0"):
        tank_heat_loss_w(np.array([50.0]), -1.0, 20.0)


@settings(max_examples=100, deadline=None)
@given(
    temps=st.lists(st.floats(10.0, 95.0), min_size=1, max_size=12),
    volume=st.floats(0.1, 50.0),
)
def test_stored_heat_splits_by_layer(temps: list[float], volume: float) -> None:
    # Energy is extensive: the tank total equals the sum of one-layer tanks.
    arr = np.array(temps)
    n = arr.size
    total = tank_stored_heat_kwh(arr, volume, 10.0)
    parts = sum(tank_stored_heat_kwh(np.array([t]), volume / n, 10.0) for t in temps)
    assert total == pytest.approx(parts, rel=1e-12, abs=1e-12)
    assert total >= 0.0
