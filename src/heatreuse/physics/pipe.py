"""Insulated pipes: heat-loss coefficient, outlet temperature, heat loss.

Steady state, one-dimensional, constant ambient temperature along the pipe.
The thermal resistance of the (metal) pipe wall and of the inner film are
neglected against the insulation: this slightly over-estimates the loss,
which is the conservative side for heat delivered to a customer.

References
----------
T. L. Bergman, A. S. Lavine, F. P. Incropera, D. P. DeWitt, *Fundamentals of
Heat and Mass Transfer*, 7th ed., Wiley 2011: eq. 3.27 (conduction through a
cylindrical shell), eq. 3.32 (resistances in series), eq. 8.46b (outlet
temperature of a tube with uniform external temperature).
EN ISO 12241:2022, Thermal insulation for building equipment and industrial
installations - Calculation rules (same cylindrical-shell formula).
"""

from __future__ import annotations

import math
from typing import overload

import numpy as np

from heatreuse.checks import (
    FloatArray,
    FloatOrArray,
    as_array,
    is_scalar_call,
    non_negative,
    positive,
    result,
)
from heatreuse.physics.water import _check_liquid, _evaluate


@overload
def pipe_loss_coefficient_w_per_m_k(  # type: ignore[overload-overlap]
    pipe_outer_diameter_m: float,
    insulation_thickness_m: float,
    insulation_conductivity_w_per_m_k: float,
    outer_surface_coefficient_w_per_m2_k: float | None = None,
) -> float: ...
@overload
def pipe_loss_coefficient_w_per_m_k(
    pipe_outer_diameter_m: FloatOrArray,
    insulation_thickness_m: FloatOrArray,
    insulation_conductivity_w_per_m_k: FloatOrArray,
    outer_surface_coefficient_w_per_m2_k: FloatOrArray | None = None,
) -> FloatArray: ...
def pipe_loss_coefficient_w_per_m_k(
    pipe_outer_diameter_m: FloatOrArray,
    insulation_thickness_m: FloatOrArray,
    insulation_conductivity_w_per_m_k: FloatOrArray,
    outer_surface_coefficient_w_per_m2_k: FloatOrArray | None = None,
) -> FloatOrArray:
    """Linear heat-loss coefficient of an insulated pipe.

    Parameters
    ----------
    pipe_outer_diameter_m : float or ndarray
        Outer diameter of the pipe = inner diameter of the insulation [m], ``> 0``.
    insulation_thickness_m : float or ndarray
        Insulation thickness [m], ``> 0``.
    insulation_conductivity_w_per_m_k : float or ndarray
        Thermal conductivity of the insulation lambda [W/(m K)], ``> 0``
        (mineral wool or PUR foam: 0.025-0.040).
    outer_surface_coefficient_w_per_m2_k : float or ndarray, optional
        Combined convection + radiation coefficient at the outer surface
        [W/(m2 K)], ``> 0`` (indoor still air about 8-10). ``None`` (default)
        neglects the outer film, which over-estimates the loss slightly.

    Returns
    -------
    float or ndarray
        U' = 1 / (ln(D_ins / D_pipe) / (2 pi lambda) + 1 / (h pi D_ins))
        [W/(m K)], per metre of pipe and kelvin between fluid and ambient.

    References
    ----------
    Bergman et al., 7th ed., eqs. 3.27 and 3.32; EN ISO 12241:2022.

    Examples
    --------
    >>> round(pipe_loss_coefficient_w_per_m_k(0.0603, 0.04, 0.035), 4)
    0.2604
    """
    func = "pipe_loss_coefficient_w_per_m_k"
    d_pipe = positive(pipe_outer_diameter_m, func, "pipe_outer_diameter_m")
    thick = positive(insulation_thickness_m, func, "insulation_thickness_m")
    lam = positive(insulation_conductivity_w_per_m_k, func, "insulation_conductivity_w_per_m_k")
    d_ins = d_pipe + 2.0 * thick
    resistance = np.log(d_ins / d_pipe) / (2.0 * math.pi * lam)
    if outer_surface_coefficient_w_per_m2_k is not None:
        h = positive(
            outer_surface_coefficient_w_per_m2_k, func, "outer_surface_coefficient_w_per_m2_k"
        )
        resistance = resistance + 1.0 / (h * math.pi * d_ins)
    return result(
        1.0 / resistance,
        is_scalar_call(
            pipe_outer_diameter_m,
            insulation_thickness_m,
            insulation_conductivity_w_per_m_k,
            0.0
            if outer_surface_coefficient_w_per_m2_k is None
            else outer_surface_coefficient_w_per_m2_k,
        ),
    )


@overload
def pipe_heat_loss_w_per_m(  # type: ignore[overload-overlap]
    loss_coefficient_w_per_m_k: float, fluid_temp_c: float, ambient_temp_c: float
) -> float: ...
@overload
def pipe_heat_loss_w_per_m(
    loss_coefficient_w_per_m_k: FloatOrArray,
    fluid_temp_c: FloatOrArray,
    ambient_temp_c: FloatOrArray,
) -> FloatArray: ...
def pipe_heat_loss_w_per_m(
    loss_coefficient_w_per_m_k: FloatOrArray,
    fluid_temp_c: FloatOrArray,
    ambient_temp_c: FloatOrArray,
) -> FloatOrArray:
    """Heat loss per metre of pipe at a given fluid temperature.

    Parameters
    ----------
    loss_coefficient_w_per_m_k : float or ndarray
        U' [W/(m K)], ``>= 0`` (see :func:`pipe_loss_coefficient_w_per_m_k`).
    fluid_temp_c : float or ndarray
        Water temperature [C].
    ambient_temp_c : float or ndarray
        Surrounding (air or soil) temperature [C].

    Returns
    -------
    float or ndarray
        q' = U' (T_fluid - T_ambient) [W/m]; negative if the pipe gains heat.

    References
    ----------
    Bergman et al., 7th ed., eq. 3.27.
    """
    func = "pipe_heat_loss_w_per_m"
    u = non_negative(loss_coefficient_w_per_m_k, func, "loss_coefficient_w_per_m_k")
    t = as_array(fluid_temp_c, func, "fluid_temp_c")
    t_amb = as_array(ambient_temp_c, func, "ambient_temp_c")
    return result(
        u * (t - t_amb), is_scalar_call(loss_coefficient_w_per_m_k, fluid_temp_c, ambient_temp_c)
    )


def _decay(
    inlet_temp_c: object,
    ambient_temp_c: object,
    loss_coefficient_w_per_m_k: object,
    length_m: object,
    mdot_kg_per_s: object,
    pressure_bar: object,
    func: str,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return (T_in, T_amb, outlet temperature, mdot * cp)."""
    t_in, p = _check_liquid(inlet_temp_c, pressure_bar, func, "inlet_temp_c")
    t_amb = as_array(ambient_temp_c, func, "ambient_temp_c")
    u = non_negative(loss_coefficient_w_per_m_k, func, "loss_coefficient_w_per_m_k")
    length = non_negative(length_m, func, "length_m")
    mdot = non_negative(mdot_kg_per_s, func, "mdot_kg_per_s")
    cp = np.asarray(_evaluate(t_in, p, "cp"))
    capacity = mdot * cp
    flowing = capacity > 0.0
    exponent = np.where(flowing, -u * length / np.where(flowing, capacity, 1.0), -np.inf)
    t_out = t_amb + (t_in - t_amb) * np.exp(exponent)
    return t_in, t_amb, np.asarray(t_out, dtype=np.float64), np.asarray(capacity)


@overload
def pipe_outlet_temp_c(  # type: ignore[overload-overlap]
    inlet_temp_c: float,
    ambient_temp_c: float,
    loss_coefficient_w_per_m_k: float,
    length_m: float,
    mdot_kg_per_s: float,
    pressure_bar: float = 6.0,
) -> float: ...
@overload
def pipe_outlet_temp_c(
    inlet_temp_c: FloatOrArray,
    ambient_temp_c: FloatOrArray,
    loss_coefficient_w_per_m_k: FloatOrArray,
    length_m: FloatOrArray,
    mdot_kg_per_s: FloatOrArray,
    pressure_bar: FloatOrArray = 6.0,
) -> FloatArray: ...
def pipe_outlet_temp_c(
    inlet_temp_c: FloatOrArray,
    ambient_temp_c: FloatOrArray,
    loss_coefficient_w_per_m_k: FloatOrArray,
    length_m: FloatOrArray,
    mdot_kg_per_s: FloatOrArray,
    pressure_bar: FloatOrArray = 6.0,
) -> FloatOrArray:
    """Water temperature at the end of an insulated pipe (steady state).

    Parameters
    ----------
    inlet_temp_c : float or ndarray
        Water temperature entering the pipe [C] (liquid).
    ambient_temp_c : float or ndarray
        Surrounding temperature, uniform along the pipe [C].
    loss_coefficient_w_per_m_k : float or ndarray
        U' [W/(m K)], ``>= 0``.
    length_m : float or ndarray
        Pipe length [m], ``>= 0``.
    mdot_kg_per_s : float or ndarray
        Mass flow [kg/s], ``>= 0``. At zero flow the steady outlet temperature
        is the ambient temperature.
    pressure_bar : float or ndarray, default 6.0
        Absolute pressure [bar], for cp.

    Returns
    -------
    float or ndarray
        T_out = T_amb + (T_in - T_amb) exp(-U' L / (mdot cp)) [C], cp of
        water (IAPWS-95) at the inlet temperature.

    References
    ----------
    Bergman et al., 7th ed., eq. 8.46b (uniform surrounding temperature, with
    the overall conductance U' L in place of h A).

    Examples
    --------
    >>> round(pipe_outlet_temp_c(60.0, 10.0, 0.2, 100.0, 0.5), 3)
    59.524
    """
    func = "pipe_outlet_temp_c"
    _, _, t_out, _ = _decay(
        inlet_temp_c,
        ambient_temp_c,
        loss_coefficient_w_per_m_k,
        length_m,
        mdot_kg_per_s,
        pressure_bar,
        func,
    )
    return result(
        t_out,
        is_scalar_call(
            inlet_temp_c,
            ambient_temp_c,
            loss_coefficient_w_per_m_k,
            length_m,
            mdot_kg_per_s,
            pressure_bar,
        ),
    )


@overload
def pipe_heat_loss_w(  # type: ignore[overload-overlap]
    inlet_temp_c: float,
    ambient_temp_c: float,
    loss_coefficient_w_per_m_k: float,
    length_m: float,
    mdot_kg_per_s: float,
    pressure_bar: float = 6.0,
) -> float: ...
@overload
def pipe_heat_loss_w(
    inlet_temp_c: FloatOrArray,
    ambient_temp_c: FloatOrArray,
    loss_coefficient_w_per_m_k: FloatOrArray,
    length_m: FloatOrArray,
    mdot_kg_per_s: FloatOrArray,
    pressure_bar: FloatOrArray = 6.0,
) -> FloatArray: ...
def pipe_heat_loss_w(
    inlet_temp_c: FloatOrArray,
    ambient_temp_c: FloatOrArray,
    loss_coefficient_w_per_m_k: FloatOrArray,
    length_m: FloatOrArray,
    mdot_kg_per_s: FloatOrArray,
    pressure_bar: FloatOrArray = 6.0,
) -> FloatOrArray:
    """Heat lost by water flowing through an insulated pipe (steady state).

    Parameters
    ----------
    inlet_temp_c, ambient_temp_c, loss_coefficient_w_per_m_k, length_m, mdot_kg_per_s,
    pressure_bar
        As in :func:`pipe_outlet_temp_c`.

    Returns
    -------
    float or ndarray
        Q_loss = mdot cp (T_in - T_out) [W]; equals the integral of
        U' (T(x) - T_amb) dx along the pipe. Zero at zero flow (steady state:
        stagnant water has cooled to ambient). Negative if the pipe gains heat.

    References
    ----------
    Bergman et al., 7th ed., eqs. 8.34 and 8.46b.
    """
    func = "pipe_heat_loss_w"
    t_in, _, t_out, capacity = _decay(
        inlet_temp_c,
        ambient_temp_c,
        loss_coefficient_w_per_m_k,
        length_m,
        mdot_kg_per_s,
        pressure_bar,
        func,
    )
    return result(
        capacity * (t_in - t_out),
        is_scalar_call(
            inlet_temp_c,
            ambient_temp_c,
            loss_coefficient_w_per_m_k,
            length_m,
            mdot_kg_per_s,
            pressure_bar,
        ),
    )
