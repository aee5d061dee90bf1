"""Insulated pipes: loss coefficient, outlet temperature, heat loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatreuse.errors import DomainError
from heatreuse.physics import (
    lmtd_k,
    pipe_heat_loss_w,
    pipe_heat_loss_w_per_m,
    pipe_loss_coefficient_w_per_m_k,
    pipe_outlet_temp_c,
    water_cp_j_per_kg_k,
)


def test_loss_coefficient_hand_computed() -> None:
    # Cylindrical shell (Bergman eq. 3.27): U' = 2 pi lambda / ln(D_ins / D).
    # DN50 steel (D = 60.3 mm), 40 mm mineral wool, lambda = 0.035 W/(m K):
    # 2 pi 0.035 / ln(140.3 / 60.3) = 0.219911 / 0.844485 = 0.26041 W/(m K).
    u = pipe_loss_coefficient_w_per_m_k(0.0603, 0.04, 0.035)
    assert u == pytest.approx(2 * math.pi * 0.035 / math.log(0.1403 / 0.0603), rel=1e-12)
    assert u == pytest.approx(0.2604, abs=1e-4)


def test_outer_film_adds_resistance() -> None:
    u_bare = pipe_loss_coefficient_w_per_m_k(0.0603, 0.04, 0.035)
    u_film = pipe_loss_coefficient_w_per_m_k(0.0603, 0.04, 0.035, 9.0)
    r_film = 1.0 / (9.0 * math.pi * 0.1403)
    assert 1.0 / u_film == pytest.approx(1.0 / u_bare + r_film, rel=1e-12)
    assert u_film < u_bare


def test_outlet_temperature_hand_computed() -> None:
    # Bergman eq. 8.46b: T_out = T_amb + (T_in - T_amb) exp(-U' L / (mdot cp)).
    cp = water_cp_j_per_kg_k(60.0)
    expected = 10.0 + 50.0 * math.exp(-0.2 * 100.0 / (0.5 * cp))
    assert pipe_outlet_temp_c(60.0, 10.0, 0.2, 100.0, 0.5) == pytest.approx(expected, rel=1e-12)


def test_zero_flow_and_zero_length() -> None:
    assert pipe_outlet_temp_c(60.0, 10.0, 0.2, 100.0, 0.0) == 10.0
    assert pipe_heat_loss_w(60.0, 10.0, 0.2, 100.0, 0.0) == 0.0
    assert pipe_outlet_temp_c(60.0, 10.0, 0.2, 0.0, 0.5) == 60.0


def test_per_metre_loss() -> None:
    assert pipe_heat_loss_w_per_m(0.25, 70.0, 10.0) == pytest.approx(15.0)
    assert pipe_heat_loss_w_per_m(0.25, 5.0, 10.0) == pytest.approx(-1.25)


def test_arrays_and_types() -> None:
    t_out = pipe_outlet_temp_c(np.array([50.0, 60.0, 70.0]), 10.0, 0.2, 300.0, 0.3)
    assert isinstance(t_out, np.ndarray) and t_out.shape == (3,)
    assert type(pipe_heat_loss_w(60.0, 10.0, 0.2, 100.0, 0.5)) is float


def test_domain_errors() -> None:
    with pytest.raises(DomainError, match="insulation_thickness_m expected > 0"):
        pipe_loss_coefficient_w_per_m_k(0.06, 0.0, 0.035)
    with pytest.raises(DomainError, match="mdot_kg_per_s expected >= 0"):
        pipe_outlet_temp_c(60.0, 10.0, 0.2, 100.0, -0.1)
    with pytest.raises(DomainError, match="length_m expected >= 0"):
        pipe_heat_loss_w(60.0, 10.0, 0.2, -5.0, 0.5)
    with pytest.raises(DomainError, match="inlet_temp_c expected liquid water"):
        pipe_outlet_temp_c(170.0, 10.0, 0.2, 100.0, 0.5)


@settings(max_examples=200, deadline=None)
@given(
    t_in=st.floats(20.0, 120.0),
    t_amb=st.floats(-20.0, 15.0),
    u=st.floats(0.05, 1.0),
    length=st.floats(1.0, 2000.0),
    mdot=st.floats(0.01, 20.0),
)
def test_energy_balance_closes(
    t_in: float, t_amb: float, u: float, length: float, mdot: float
) -> None:
    # Heat leaving the water (mdot cp (T_in - T_out)) equals the heat conducted
    # out along the pipe, integral U' (T(x) - T_amb) dx = U' L LMTD(T_in - T_amb,
    # T_out - T_amb) for the exponential profile (Bergman eqs. 8.44-8.46).
    t_out = pipe_outlet_temp_c(t_in, t_amb, u, length, mdot)
    loss = pipe_heat_loss_w(t_in, t_amb, u, length, mdot)
    assert t_amb <= t_out <= t_in
    assert loss >= 0.0
    d_in, d_out = t_in - t_amb, t_out - t_amb
    if d_in - d_out > 1e-9 and d_out > 1e-3:  # avoid round-off in T_out - T_amb
        assert loss == pytest.approx(u * length * lmtd_k(d_in, d_out), rel=1e-6)
    # Upper bound: loss never exceeds the loss with the whole pipe at T_in.
    assert loss <= pipe_heat_loss_w_per_m(u, t_in, t_amb) * length * (1 + 1e-12)


@settings(max_examples=100, deadline=None)
@given(length=st.floats(1.0, 1000.0), extra=st.floats(1.0, 1000.0))
def test_outlet_temperature_composes_over_segments(length: float, extra: float) -> None:
    # Two pipes in series = one longer pipe. cp is taken at each pipe's inlet
    # (documented), which differs by up to 0.3 % between the two segments here:
    # that moves the outlet by < 0.01 K, so compare with 0.02 K.
    t1 = pipe_outlet_temp_c(70.0, 10.0, 0.3, length, 0.4)
    t2 = pipe_outlet_temp_c(t1, 10.0, 0.3, extra, 0.4)
    direct = pipe_outlet_temp_c(70.0, 10.0, 0.3, length + extra, 0.4)
    assert t2 == pytest.approx(direct, abs=0.02)
