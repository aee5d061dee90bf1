"""Heat exchangers: effectiveness-NTU, LMTD, fouling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatreuse.errors import DomainError
from heatreuse.physics import (
    hx_effectiveness,
    hx_effectiveness_counterflow,
    hx_effectiveness_parallel,
    hx_heat_rate_w,
    hx_ntu,
    hx_throttled_hot_outlet_temp_c,
    hx_ua_with_fouling_w_per_k,
    lmtd_k,
)

ntus = st.floats(min_value=0.0, max_value=20.0, allow_nan=False)
ratios = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def test_counterflow_hand_computed() -> None:
    # Bergman et al., 7th ed., eq. 11.29a with NTU = 2, C_r = 0.5:
    # (1 - e^-1) / (1 - 0.5 e^-1) = 0.632121 / 0.816060 = 0.774600.
    assert hx_effectiveness_counterflow(2.0, 0.5) == pytest.approx(0.774600, abs=1e-6)


def test_limits() -> None:
    # C_r = 0 (one stream changes phase / infinite capacity): 1 - e^-NTU for
    # every arrangement (Bergman eq. 11.35a).
    for ntu in (0.5, 1.0, 3.0):
        assert hx_effectiveness_counterflow(ntu, 0.0) == pytest.approx(1.0 - math.exp(-ntu))
        assert hx_effectiveness_parallel(ntu, 0.0) == pytest.approx(1.0 - math.exp(-ntu))
    # Balanced counterflow: NTU / (1 + NTU) (eq. 11.29b); parallel: (1 - e^-2NTU) / 2.
    assert hx_effectiveness_counterflow(3.0, 1.0) == pytest.approx(0.75)
    assert hx_effectiveness_parallel(3.0, 1.0) == pytest.approx((1.0 - math.exp(-6.0)) / 2.0)
    assert hx_effectiveness_counterflow(0.0, 0.7) == 0.0


def test_counterflow_continuous_at_balanced() -> None:
    for cr in (1.0 - 1e-6, 1.0 - 1e-10, 1.0):
        assert hx_effectiveness_counterflow(2.0, cr) == pytest.approx(2.0 / 3.0, rel=1e-5)


def test_dispatch_and_bad_arrangement() -> None:
    assert hx_effectiveness(1.5, 0.4) == hx_effectiveness_counterflow(1.5, 0.4)
    assert hx_effectiveness(1.5, 0.4, "parallel") == hx_effectiveness_parallel(1.5, 0.4)
    with pytest.raises(DomainError, match="arrangement"):
        hx_effectiveness(1.5, 0.4, "crossflow")  # type: ignore[call-overload]


def test_domain_errors() -> None:
    with pytest.raises(DomainError, match="capacity_ratio expected"):
        hx_effectiveness_counterflow(1.0, 1.2)
    with pytest.raises(DomainError, match="ntu expected >= 0"):
        hx_effectiveness_counterflow(-1.0, 0.5)
    with pytest.raises(DomainError, match="c_min_w_per_k expected > 0"):
        hx_ntu(100.0, 0.0)
    with pytest.raises(DomainError, match="effectiveness expected"):
        hx_heat_rate_w(1.1, 100.0, 60.0, 40.0)
    with pytest.raises(DomainError, match="area_m2"):
        hx_ua_with_fouling_w_per_k(1000.0, 1e-4, 0.0)
    with pytest.raises(DomainError, match="delta_t_2_k expected > 0"):
        lmtd_k(10.0, -1.0)


def test_arrays() -> None:
    eps = hx_effectiveness_counterflow(np.array([0.5, 1.0, 4.0]), 0.8)
    assert isinstance(eps, np.ndarray)
    assert np.all(np.diff(eps) > 0)
    assert type(hx_effectiveness_counterflow(1.0, 0.8)) is float


def test_fouling_series_resistance() -> None:
    # 1/UA = 1/UA_clean + R_f/A (Bergman eq. 11.5): 1/10000 + 0.0002/10 = 1.2e-4.
    assert hx_ua_with_fouling_w_per_k(10000.0, 0.0002, 10.0) == pytest.approx(1.0 / 1.2e-4)
    assert hx_ua_with_fouling_w_per_k(10000.0, 0.0, 10.0) == pytest.approx(10000.0)


def test_lmtd_hand_computed() -> None:
    # (20 - 10) / ln 2 = 14.4270 K
    assert lmtd_k(20.0, 10.0) == pytest.approx(10.0 / math.log(2.0))
    assert lmtd_k(10.0, 20.0) == pytest.approx(10.0 / math.log(2.0))
    assert lmtd_k(7.0, 7.0) == 7.0
    assert lmtd_k(7.0, 7.0 * (1 + 1e-9)) == pytest.approx(7.0, rel=1e-8)


@settings(max_examples=300, deadline=None)
@given(ntu=ntus, cr=ratios)
def test_effectiveness_bounds(ntu: float, cr: float) -> None:
    e_cf = hx_effectiveness_counterflow(ntu, cr)
    e_pf = hx_effectiveness_parallel(ntu, cr)
    assert 0.0 <= e_pf <= e_cf + 1e-12 <= 1.0 + 1e-12
    # Parallel flow can never exceed its equilibrium limit 1 / (1 + C_r).
    assert e_pf <= 1.0 / (1.0 + cr) + 1e-12


@settings(max_examples=300, deadline=None)
@given(ntu=st.floats(0.0, 15.0), dn=st.floats(0.01, 5.0), cr=ratios)
def test_effectiveness_monotone_in_ntu(ntu: float, dn: float, cr: float) -> None:
    assert hx_effectiveness_counterflow(ntu + dn, cr) >= hx_effectiveness_counterflow(ntu, cr)
    assert hx_effectiveness_parallel(ntu + dn, cr) >= hx_effectiveness_parallel(ntu, cr)


@settings(max_examples=300, deadline=None)
@given(ntu=st.floats(0.01, 10.0), cr=ratios, dc=st.floats(0.01, 1.0))
def test_effectiveness_falls_with_capacity_ratio(ntu: float, cr: float, dc: float) -> None:
    cr2 = min(cr + dc, 1.0)
    assert hx_effectiveness_counterflow(ntu, cr2) <= hx_effectiveness_counterflow(ntu, cr) + 1e-12


@settings(max_examples=200, deadline=None)
@given(
    ua=st.floats(50.0, 5000.0),
    c_hot=st.floats(100.0, 5000.0),
    c_cold=st.floats(100.0, 5000.0),
    t_hot_in=st.floats(40.0, 90.0),
    dt_in=st.floats(2.0, 40.0),
)
def test_ntu_method_agrees_with_lmtd_energy_balance(
    ua: float, c_hot: float, c_cold: float, t_hot_in: float, dt_in: float
) -> None:
    # Counterflow: q from epsilon-NTU must equal UA * LMTD of the resulting
    # terminal differences (Bergman eqs. 11.14 and 11.22), and both streams'
    # energy balances must close.
    if abs(c_hot - c_cold) / max(c_hot, c_cold) < 1e-3:
        return  # equal terminal differences: covered by test_lmtd_hand_computed
    t_cold_in = t_hot_in - dt_in
    c_min, c_max = min(c_hot, c_cold), max(c_hot, c_cold)
    eps = hx_effectiveness_counterflow(hx_ntu(ua, c_min), c_min / c_max)
    q = hx_heat_rate_w(eps, c_min, t_hot_in, t_cold_in)
    t_hot_out = t_hot_in - q / c_hot
    t_cold_out = t_cold_in + q / c_cold
    d1 = t_hot_in - t_cold_out
    d2 = t_hot_out - t_cold_in
    if min(d1, d2) < 1e-6:
        return
    assert q == pytest.approx(ua * lmtd_k(d1, d2), rel=1e-6)
    assert q <= c_min * (t_hot_in - t_cold_in) + 1e-9  # second law: q <= q_max


# --------------------------------------------------------------------------- throttled hot flow
def test_throttled_outlet_hand_computed() -> None:
    # Bergman et al., 7th ed., Table 11.3 with C_r = 0 (eq. 11.35a): eps = 1 - exp(-NTU).
    # UA = 1000 W/K, hot flow C_h = 500 W/K (NTU 2) from 45 C onto a 28 C cold stream:
    # q = 500 * 17 * (1 - e^-2) = 7349.65 W, T_out = 28 + 17 e^-2 = 30.3007 C.
    # Given that q, the throttled exchanger must find the same outlet.
    q = 500.0 * 17.0 * (1.0 - math.exp(-2.0))
    assert q == pytest.approx(7349.65, abs=0.01)
    t_out = hx_throttled_hot_outlet_temp_c(q, 1000.0, 45.0, 28.0)
    assert t_out == pytest.approx(28.0 + 17.0 * math.exp(-2.0), abs=1e-9)
    assert t_out == pytest.approx(30.3007, abs=1e-4)


def test_throttled_outlet_limits_and_direction() -> None:
    q = np.array([0.0, 1.0, 2000.0, 8000.0, 16000.0, 16999.0, 17000.0, 40000.0])
    t = hx_throttled_hot_outlet_temp_c(q, 1000.0, 45.0, 28.0)
    assert isinstance(t, np.ndarray)
    assert t[0] == 28.0  # no load: the trickle of hot water leaves at the cold stream
    assert t[1] == pytest.approx(28.0, abs=1e-6)
    assert np.all(np.diff(t) >= 0.0)  # the return rises with the load ...
    assert t[5] == pytest.approx(45.0, abs=0.01)  # ... to the supply at the limit UA dT
    assert t[6] == 45.0 and t[7] == 45.0  # beyond the limit: nothing more to give
    # no driving difference: the outlet equals the inlet
    assert hx_throttled_hot_outlet_temp_c(500.0, 1000.0, 25.0, 28.0) == 25.0
    with pytest.raises(DomainError, match="heat_w"):
        hx_throttled_hot_outlet_temp_c(-1.0, 1000.0, 45.0, 28.0)
    with pytest.raises(DomainError, match="ua_w_per_k"):
        hx_throttled_hot_outlet_temp_c(1.0, 0.0, 45.0, 28.0)


@settings(max_examples=200, deadline=None)
@given(
    ua=st.floats(50.0, 1e6),
    frac=st.floats(0.001, 0.999),
    t_cold=st.floats(5.0, 60.0),
    dt_in=st.floats(0.5, 60.0),
)
def test_throttled_outlet_agrees_with_ntu_and_lmtd(
    ua: float, frac: float, t_cold: float, dt_in: float
) -> None:
    # The hot flow implied by the outlet, C_h = q / (T_in - T_out), passes q by the
    # general counterflow epsilon-NTU relation with C_r -> 0 (eq. 11.29a) and by the LMTD
    # method with an isothermal cold stream (eq. 11.14).
    t_in = t_cold + dt_in
    q = frac * ua * dt_in
    t_out = hx_throttled_hot_outlet_temp_c(q, ua, t_in, t_cold)
    assert t_cold <= t_out < t_in  # equal when exp(-NTU) is below the float resolution
    c_h = q / (t_in - t_out)
    eps = hx_effectiveness_counterflow(hx_ntu(ua, c_h), 0.0)
    assert hx_heat_rate_w(eps, c_h, t_in, t_cold) == pytest.approx(q, rel=1e-6)
    if t_out - t_cold > 1e-9 * dt_in:
        assert ua * lmtd_k(dt_in, t_out - t_cold) == pytest.approx(q, rel=1e-6)
