"""The implicit (backward-Euler upwind) tank update: its equations, stability and convergence.

The kernel's default tank advection is the fully implicit first-order upwind
finite-volume update (Patankar, Numerical Heat Transfer and Fluid Flow, 1980,
sections 4.3 and 5.2; LeVeque, Finite Volume Methods for Hyperbolic Problems,
2002, section 8.3), coupled with the exchanger and the primary loop. These
tests check it against the dense backward-Euler system, show that it stays
bounded where the explicit update it replaced does not, and that a whole plant
run with it converges to the explicit update's fine-step solution as the step
(or the sub-step) shrinks.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from tests.simulation.test_engine import site_with, varying_demand

from heatreuse.errors import SimulationError
from heatreuse.simulation import kernel as K
from heatreuse.simulation import prepare, result_from_outputs, run_kernel
from heatreuse.simulation.inputs import TANK_TURNOVER_MAX, KernelInputs


def dense_backward_euler(
    t: np.ndarray, r: float, m_s: float, m_c: float, t_in: float, t_rt: float
) -> np.ndarray:
    """Solve the implicit upwind tank step as a dense linear system (numpy.linalg)."""
    n = len(t)
    a = np.zeros((n, n))
    rhs = r * t.astype(float)
    m_net = m_s - m_c
    for j in range(n):
        a[j, j] += r
        if j == 0:
            a[j, j] += m_c  # to the customer at the new top temperature
            rhs[j] += m_s * t_in
        if j == n - 1:
            a[j, j] += m_s  # to the exchanger at the new bottom temperature
            rhs[j] += m_c * t_rt
        if j < n - 1:  # face below layer j
            if m_net >= 0:  # down: leaves j, enters j + 1, at T_j'
                a[j, j] += m_net
                a[j + 1, j] -= m_net
            else:  # up: leaves j + 1, enters j, at T_{j+1}'
                a[j + 1, j + 1] += -m_net
                a[j, j + 1] -= -m_net
    return np.linalg.solve(a, rhs)


CASES = [
    # layers, r = m / dt [kg/s], m_s, m_c [kg/s]: Courant numbers m / r up to 500
    (12, 0.2, 8.3, 1.0),
    (12, 0.2, 1.0, 8.3),
    (12, 50.0, 4.0, 4.0),
    (10, 0.05, 25.0, 0.0),
    (10, 0.05, 0.0, 25.0),
    (1, 0.1, 3.0, 5.0),
    (2, 1.0, 0.0, 0.0),
]


@pytest.mark.parametrize(("layers", "r", "m_s", "m_c"), CASES)
def test_coefficients_solve_the_backward_euler_system(
    layers: int, r: float, m_s: float, m_c: float
) -> None:
    rng = np.random.default_rng(layers)
    t = np.sort(rng.uniform(20.0, 60.0, layers))[::-1].copy()
    a = np.empty(layers)
    b = np.empty(layers)
    t_rt = 25.0
    K.tank_advection_coefficients(t, r, m_s, m_c, t_rt, a, b)
    for t_in in (30.0, 55.0, 70.0):
        new = a + b * t_in
        dense = dense_backward_euler(t, r, m_s, m_c, t_in, t_rt)
        np.testing.assert_allclose(new, dense, rtol=1e-12)
        # exact energy: what the layers gained is what the ports brought in minus what left
        gained = r * float(np.sum(new - t))
        ports = m_s * t_in + m_c * t_rt - m_c * new[0] - m_s * new[-1]
        assert gained == pytest.approx(ports, abs=1e-9 * max(1.0, abs(ports)))
        # monotone at any Courant number: no new extrema
        low = min(t.min(), t_in if m_s > 0 else np.inf, t_rt if m_c > 0 else np.inf)
        high = max(t.max(), t_in if m_s > 0 else -np.inf, t_rt if m_c > 0 else -np.inf)
        assert new.min() >= low - 1e-9
        assert new.max() <= high + 1e-9


def _with_params(inputs: KernelInputs, **index_values: float) -> KernelInputs:
    params = inputs.params.copy()
    for index, value in index_values.items():
        params[getattr(K, index)] = value
    return dataclasses.replace(inputs, params=params)


def small_tank_inputs(step_s: int, days: float = 2) -> KernelInputs:
    """Pool plant with a 2 m3, 20-layer tank: 6 m3/h moves 60 layers per hour."""
    site = site_with({"plant.buffer_tank.volume_m3": 2.0, "plant.buffer_tank.layers": 20})
    return prepare(site, varying_demand(days), step_s, record_layers=True)


def layer_range(inputs: KernelInputs) -> tuple[float, float]:
    res = result_from_outputs(inputs, run_kernel(inputs))
    layers = res.frame[[c for c in res.frame.columns if c.startswith("tank_layer_")]]
    return float(layers.to_numpy().min()), float(layers.to_numpy().max())


def test_implicit_stays_bounded_where_explicit_does_not() -> None:
    hourly = small_tank_inputs(3600)
    # three sub-steps per hour: 20 layers per sub-step, 20x the explicit stability limit
    few = {"P_COURANT_MAX": 20.0, "P_TANK_TURNOVER_MAX": 1.0}
    explicit = _with_params(hourly.with_tank_scheme("explicit"), **few)
    implicit = _with_params(hourly.with_tank_scheme("implicit"), **few)
    assert K.substeps(explicit.params, 20) == K.substeps(implicit.params, 20) == 3
    lo, hi = layer_range(implicit)
    assert lo >= 20.0 - 1e-6 and hi <= 55.0 + 1e-6  # coldest return ... loop limit
    lo_x, hi_x = layer_range(explicit)
    assert lo_x < 0.0 or hi_x > 100.0 or not np.isfinite([lo_x, hi_x]).all()


def test_small_tank_needs_far_fewer_substeps() -> None:
    # the district example at 2 m3 (12 layers, 30 m3/h charging): 180 explicit sub-steps
    # per hour; the implicit update needs one per half tank volume through a port
    site = site_with({"plant.buffer_tank.volume_m3": 2.0}, example="district_preheat.yaml")
    inputs = prepare(site, varying_demand(1), 3600)
    explicit = K.substeps(inputs.with_tank_scheme("explicit").params, inputs.n_layers)
    implicit = K.substeps(inputs.params, inputs.n_layers)
    assert explicit == 180
    assert implicit == 30
    assert implicit == pytest.approx(explicit / (inputs.n_layers * TANK_TURNOVER_MAX), abs=1)


def hourly_errors(res: pd.DataFrame, ref: pd.DataFrame) -> tuple[float, float]:
    """Mean |error| of the hourly tank-top and supply temperatures [K]."""
    a = res.resample("1h").mean()
    b = ref.resample("1h").mean()
    top = float(np.abs(a["tank_temp_top_c"] - b["tank_temp_top_c"]).mean())
    supply = float(np.abs(a["supply_temp_c"] - b["supply_temp_c"]).mean())
    return top, supply


@pytest.fixture(scope="module")
def explicit_fine() -> tuple[pd.DataFrame, dict[str, float]]:
    """The explicit update at 1 s steps (Courant 0.017): the reference solution."""
    inputs = small_tank_inputs(1).with_tank_scheme("explicit")
    assert K.substeps(inputs.params, inputs.n_layers) == 1
    res = result_from_outputs(inputs, run_kernel(inputs))
    return res.frame, res.totals()


def test_implicit_converges_to_the_explicit_fine_step_solution(
    explicit_fine: tuple[pd.DataFrame, dict[str, float]],
) -> None:
    ref_frame, ref_tot = explicit_fine
    errors = []
    for step_s in (3600, 300, 60, 10):
        inputs = small_tank_inputs(step_s)
        res = result_from_outputs(inputs, run_kernel(inputs))
        top, supply = hourly_errors(res.frame, ref_frame)
        delivered = abs(res.totals()["heat_delivered_kwh"] / ref_tot["heat_delivered_kwh"] - 1)
        assert abs(res.totals()["balance_residual_fraction"]) < 1e-9
        errors.append((step_s, top, supply, delivered))
    tops = [e[1] for e in errors]
    supplies = [e[2] for e in errors]
    assert tops == sorted(tops, reverse=True), errors
    assert supplies == sorted(supplies, reverse=True), errors
    # first order: 6x shorter steps (60 s -> 10 s) cut the error at least 3x
    assert tops[3] < tops[2] / 3 and supplies[3] < supplies[2] / 3, errors
    assert tops[3] < 0.005 and supplies[3] < 0.01, errors
    assert errors[3][3] < 2e-4, errors  # heat delivered within 0.02 %


def test_implicit_substeps_converge_at_hourly_steps(
    explicit_fine: tuple[pd.DataFrame, dict[str, float]],
) -> None:
    ref_frame, _ = explicit_fine
    hourly = small_tank_inputs(3600)
    tops = []
    for turnover in (2.0, 0.5, 0.125, 0.03125, 0.0078125):  # 2 .. 384 sub-steps per hour
        inputs = hourly.with_tank_scheme("implicit", turnover)
        res = result_from_outputs(inputs, run_kernel(inputs))
        tops.append(hourly_errors(res.frame, ref_frame)[0])
    assert tops == sorted(tops, reverse=True), tops
    assert tops[-1] < tops[0] / 50, tops


def test_tank_scheme_names_are_checked() -> None:
    inputs = small_tank_inputs(3600, days=1)
    with pytest.raises(SimulationError, match=r"tank scheme: expected one of \['explicit', "):
        inputs.with_tank_scheme("crank-nicolson")
    with pytest.raises(SimulationError, match="turnover_max: expected a number > 0"):
        inputs.with_tank_scheme("implicit", 0.0)
