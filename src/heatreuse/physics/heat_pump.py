"""Heat pumps: Carnot COP, COP from a Carnot fraction, energy balance.

Sign convention: all heat and power values are positive; the heat pump takes
``Q_source`` from the source (waste-heat loop), consumes electricity ``W`` and
delivers ``Q_H = Q_source + W`` to the sink (customer side).

References
----------
Y. A. Cengel, M. A. Boles, *Thermodynamics: An Engineering Approach*, 8th ed.,
McGraw-Hill 2015, section 6-10 (COP of a reversed Carnot heat pump,
eq. 6-20). Carnot-fraction (exergy-efficiency) model with approach
temperatures: e.g. T. Ommen, J. K. Jensen, W. B. Markussen, L. Reinholdt,
B. Elmegaard, "Technical and economic working domains of industrial heat
pumps: Part 1", Int. J. Refrigeration 55 (2015) 168-182 (real units reach
0.4-0.6 of the Carnot COP).
"""

from __future__ import annotations

from typing import overload

import numpy as np

from heatreuse.checks import (
    FloatArray,
    FloatOrArray,
    as_array,
    is_scalar_call,
    non_negative,
    require,
    result,
)
from heatreuse.units import ZERO_CELSIUS_K


def _lift(sink_k: FloatArray, source_k: FloatArray, func: str, what: str) -> None:
    require(
        source_k > 0.0,
        source_k,
        func,
        f"source_temp_c ({what})",
        "a temperature above absolute zero",
    )
    shape = np.broadcast_shapes(sink_k.shape, source_k.shape)
    require(
        sink_k > source_k,
        np.broadcast_to(sink_k - ZERO_CELSIUS_K, shape),
        func,
        f"sink_temp_c ({what})",
        "a sink temperature above the source temperature (a heat pump lifts heat)",
    )


@overload
def carnot_cop_heating(sink_temp_c: float, source_temp_c: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def carnot_cop_heating(sink_temp_c: FloatOrArray, source_temp_c: FloatOrArray) -> FloatArray: ...
def carnot_cop_heating(sink_temp_c: FloatOrArray, source_temp_c: FloatOrArray) -> FloatOrArray:
    """Carnot (reversible) heating COP between two temperatures.

    Parameters
    ----------
    sink_temp_c : float or ndarray
        Temperature heat is delivered at [C].
    source_temp_c : float or ndarray
        Temperature heat is taken from [C], ``< sink_temp_c``.

    Returns
    -------
    float or ndarray
        COP_Carnot = T_sink / (T_sink - T_source), temperatures in kelvin [-];
        always > 1.

    References
    ----------
    Cengel & Boles, Thermodynamics, 8th ed., eq. 6-20.

    Examples
    --------
    >>> round(carnot_cop_heating(60.0, 30.0), 3)
    11.105
    """
    func = "carnot_cop_heating"
    sink_k = as_array(sink_temp_c, func, "sink_temp_c") + ZERO_CELSIUS_K
    source_k = as_array(source_temp_c, func, "source_temp_c") + ZERO_CELSIUS_K
    _lift(sink_k, source_k, func, "as given")
    return result(sink_k / (sink_k - source_k), is_scalar_call(sink_temp_c, source_temp_c))


@overload
def heat_pump_cop_heating(  # type: ignore[overload-overlap]
    sink_temp_c: float,
    source_temp_c: float,
    carnot_fraction: float,
    condenser_approach_k: float = 5.0,
    evaporator_approach_k: float = 5.0,
) -> float: ...
@overload
def heat_pump_cop_heating(
    sink_temp_c: FloatOrArray,
    source_temp_c: FloatOrArray,
    carnot_fraction: FloatOrArray,
    condenser_approach_k: FloatOrArray = 5.0,
    evaporator_approach_k: FloatOrArray = 5.0,
) -> FloatArray: ...
def heat_pump_cop_heating(
    sink_temp_c: FloatOrArray,
    source_temp_c: FloatOrArray,
    carnot_fraction: FloatOrArray,
    condenser_approach_k: FloatOrArray = 5.0,
    evaporator_approach_k: FloatOrArray = 5.0,
) -> FloatOrArray:
    """Heating COP of a real heat pump as a fraction of the Carnot COP.

    Parameters
    ----------
    sink_temp_c : float or ndarray
        Water temperature leaving the condenser (delivered) [C].
    source_temp_c : float or ndarray
        Water temperature entering the evaporator (waste heat) [C].
    carnot_fraction : float or ndarray
        eta_C = COP / COP_Carnot(T_cond, T_evap) [-], in ``(0, 1]``;
        real units reach 0.4-0.6.
    condenser_approach_k : float or ndarray, default 5.0
        Condensing temperature above the sink water temperature [K], ``>= 0``.
    evaporator_approach_k : float or ndarray, default 5.0
        Evaporating temperature below the source water temperature [K], ``>= 0``.

    Returns
    -------
    float or ndarray
        COP = eta_C * T_cond / (T_cond - T_evap) with
        T_cond = sink + condenser approach, T_evap = source - evaporator
        approach, in kelvin [-].

    Raises
    ------
    DomainError
        If the result would be <= 1: a heat pump never delivers less heat than
        the electricity it uses (resistance heating has COP 1), so such a
        combination of lift and Carnot fraction is outside the model.

    References
    ----------
    Cengel & Boles, Thermodynamics, 8th ed., eq. 6-20; Ommen et al.,
    Int. J. Refrigeration 55 (2015) 168-182.

    Examples
    --------
    >>> round(heat_pump_cop_heating(70.0, 30.0, 0.5), 3)
    3.481
    """
    func = "heat_pump_cop_heating"
    eta = as_array(carnot_fraction, func, "carnot_fraction")
    require((eta > 0.0) & (eta <= 1.0), eta, func, "carnot_fraction", "a fraction in (0, 1]")
    d_cond = non_negative(condenser_approach_k, func, "condenser_approach_k")
    d_evap = non_negative(evaporator_approach_k, func, "evaporator_approach_k")
    cond_k = as_array(sink_temp_c, func, "sink_temp_c") + ZERO_CELSIUS_K + d_cond
    evap_k = as_array(source_temp_c, func, "source_temp_c") + ZERO_CELSIUS_K - d_evap
    _lift(cond_k, evap_k, func, "after approach temperatures")
    cop = eta * cond_k / (cond_k - evap_k)
    require(
        cop > 1.0,
        cop,
        func,
        "carnot_fraction",
        "a lift and Carnot fraction giving COP > 1 (computed COP shown)",
    )
    return result(
        cop,
        is_scalar_call(
            sink_temp_c, source_temp_c, carnot_fraction, condenser_approach_k, evaporator_approach_k
        ),
    )


def _check_cop(cop: object, func: str) -> FloatArray:
    c = as_array(cop, func, "cop")
    require(c >= 1.0, c, func, "cop", "a heating COP >= 1")
    return c


@overload
def heat_pump_electricity_w(heat_w: float, cop: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def heat_pump_electricity_w(heat_w: FloatOrArray, cop: FloatOrArray) -> FloatArray: ...
def heat_pump_electricity_w(heat_w: FloatOrArray, cop: FloatOrArray) -> FloatOrArray:
    """Electric power a heat pump draws to deliver a heat rate.

    Parameters
    ----------
    heat_w : float or ndarray
        Heat delivered to the sink Q_H [W], ``>= 0``. Energies [J] or [kWh]
        work the same way (the relation is linear).
    cop : float or ndarray
        Heating COP [-], ``>= 1``.

    Returns
    -------
    float or ndarray
        W = Q_H / COP [W].

    References
    ----------
    Cengel & Boles, Thermodynamics, 8th ed., eq. 6-9.
    """
    func = "heat_pump_electricity_w"
    q = non_negative(heat_w, func, "heat_w")
    c = _check_cop(cop, func)
    return result(q / c, is_scalar_call(heat_w, cop))


@overload
def heat_pump_source_heat_w(heat_w: float, cop: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def heat_pump_source_heat_w(heat_w: FloatOrArray, cop: FloatOrArray) -> FloatArray: ...
def heat_pump_source_heat_w(heat_w: FloatOrArray, cop: FloatOrArray) -> FloatOrArray:
    """Heat a heat pump takes from its source to deliver a heat rate.

    Parameters
    ----------
    heat_w : float or ndarray
        Heat delivered to the sink Q_H [W], ``>= 0``.
    cop : float or ndarray
        Heating COP [-], ``>= 1``.

    Returns
    -------
    float or ndarray
        Q_source = Q_H - W = Q_H (1 - 1/COP) [W] (first law, Q_H = Q_source + W).

    References
    ----------
    Cengel & Boles, Thermodynamics, 8th ed., section 6-3.
    """
    func = "heat_pump_source_heat_w"
    q = non_negative(heat_w, func, "heat_w")
    c = _check_cop(cop, func)
    return result(q * (1.0 - 1.0 / c), is_scalar_call(heat_w, cop))
