"""Heat pumps: Carnot COP, Carnot-fraction COP, first-law balance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatreuse.errors import DomainError
from heatreuse.physics import (
    carnot_cop_heating,
    heat_pump_cop_heating,
    heat_pump_electricity_w,
    heat_pump_source_heat_w,
)


def test_carnot_hand_computed() -> None:
    # Cengel & Boles, 8th ed., eq. 6-20: COP_HP,rev = T_H / (T_H - T_L), kelvin.
    # 60 C sink, 30 C source: 333.15 / 30 = 11.105.
    assert carnot_cop_heating(60.0, 30.0) == pytest.approx(333.15 / 30.0)
    # Cengel & Boles example 6-? style numbers: 21 C house, -5 C outdoor:
    # 294.15 / 26 = 11.31.
    assert carnot_cop_heating(21.0, -5.0) == pytest.approx(294.15 / 26.0)


def test_cop_with_approach_temperatures() -> None:
    # 70 C sink, 30 C source, 5 K approaches: T_cond = 348.15 K, T_evap = 298.15 K;
    # COP = 0.5 * 348.15 / 50 = 3.4815 (inside the 0.4-0.6 Carnot band of real units).
    assert heat_pump_cop_heating(70.0, 30.0, 0.5) == pytest.approx(3.4815)
    no_approach = heat_pump_cop_heating(70.0, 30.0, 0.5, 0.0, 0.0)
    assert no_approach == pytest.approx(0.5 * carnot_cop_heating(70.0, 30.0))
    assert no_approach > heat_pump_cop_heating(70.0, 30.0, 0.5)


def test_arrays_and_types() -> None:
    cop = heat_pump_cop_heating(np.array([55.0, 65.0, 75.0]), 30.0, 0.5)
    assert isinstance(cop, np.ndarray)
    assert np.all(np.diff(cop) < 0)  # more lift, lower COP
    assert type(carnot_cop_heating(60.0, 30.0)) is float


def test_domain_errors() -> None:
    with pytest.raises(DomainError, match=r"sink_temp_c .* expected a sink temperature above"):
        carnot_cop_heating(30.0, 30.0)
    with pytest.raises(DomainError, match="carnot_fraction expected a fraction in"):
        heat_pump_cop_heating(70.0, 30.0, 1.5)
    with pytest.raises(DomainError, match="COP > 1"):
        heat_pump_cop_heating(150.0, -20.0, 0.3)
    with pytest.raises(DomainError, match="cop expected a heating COP >= 1"):
        heat_pump_electricity_w(1000.0, 0.8)
    with pytest.raises(DomainError, match="heat_w expected >= 0"):
        heat_pump_source_heat_w(-1.0, 3.0)
    with pytest.raises(DomainError, match="above absolute zero"):
        carnot_cop_heating(20.0, -300.0)


@settings(max_examples=300, deadline=None)
@given(source=st.floats(-20.0, 80.0), lift=st.floats(0.5, 80.0))
def test_carnot_cop_above_one_and_falls_with_lift(source: float, lift: float) -> None:
    cop = carnot_cop_heating(source + lift, source)
    assert cop > 1.0
    assert carnot_cop_heating(source + lift + 1.0, source) < cop


@settings(max_examples=300, deadline=None)
@given(
    heat=st.floats(0.0, 1e6),
    source=st.floats(0.0, 60.0),
    lift=st.floats(5.0, 50.0),
    eta=st.floats(0.3, 0.7),
)
def test_first_law_balance(heat: float, source: float, lift: float, eta: float) -> None:
    # Q_H = Q_source + W (Cengel & Boles section 6-3), and COP never beats Carnot.
    cop = heat_pump_cop_heating(source + lift, source, eta)
    assert 1.0 < cop < carnot_cop_heating(source + lift, source)
    w = heat_pump_electricity_w(heat, cop)
    q_src = heat_pump_source_heat_w(heat, cop)
    assert w + q_src == pytest.approx(heat, rel=1e-12, abs=1e-9)
    assert 0.0 <= q_src <= heat
