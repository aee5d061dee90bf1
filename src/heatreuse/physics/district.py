"""District-heating return preheat from a heating curve.

The network operator runs supply and return temperatures as linear functions
of the outdoor temperature between a design point (coldest design day) and the
heating limit (a "heating curve", DIN EN 12828 / AGFW FW 510 practice), held
constant outside that range. The return flow follows the heat load:

    load fraction f = (T_limit - T_out) / (T_limit - T_design), clipped to 0..1
    return flow     = design flow * max(f, summer flow fraction)

Recovered heat preheats that return stream from the network return
temperature up to a target:

    P = V_dot * rho(T_return) * (h(T_target) - h(T_return)), capped at P_max.

References
----------
.. [1] Frederiksen, S., Werner, S. (2013). District Heating and Cooling.
   Studentlitteratur, ch. 5 (supply temperature control by outdoor
   temperature) and ch. 7 (return temperatures).
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
from heatreuse.physics.water import water_density_kg_per_m3, water_enthalpy_j_per_kg
from heatreuse.units import SECONDS_PER_HOUR

#: Static pressure of a district-heating return line [bar] (absolute), typical.
DISTRICT_PRESSURE_BAR = 6.0


@overload
def heating_load_fraction(  # type: ignore[overload-overlap]
    outdoor_temp_c: float, design_outdoor_temp_c: float, heating_limit_temp_c: float
) -> float: ...
@overload
def heating_load_fraction(
    outdoor_temp_c: FloatOrArray,
    design_outdoor_temp_c: FloatOrArray,
    heating_limit_temp_c: FloatOrArray,
) -> FloatArray: ...
def heating_load_fraction(
    outdoor_temp_c: FloatOrArray,
    design_outdoor_temp_c: FloatOrArray,
    heating_limit_temp_c: FloatOrArray,
) -> FloatOrArray:
    """Space-heating load as a fraction of the design load.

    Parameters
    ----------
    outdoor_temp_c : float or ndarray
        Outdoor temperature [C].
    design_outdoor_temp_c : float or ndarray
        Design outdoor temperature [C] (load fraction 1).
    heating_limit_temp_c : float or ndarray
        Heating limit [C] (load fraction 0), above the design temperature.

    Returns
    -------
    float or ndarray
        f = (T_limit - T_out) / (T_limit - T_design) clipped to 0..1 [-].
    """
    func = "heating_load_fraction"
    t = as_array(outdoor_temp_c, func, "outdoor_temp_c")
    design = as_array(design_outdoor_temp_c, func, "design_outdoor_temp_c")
    limit = as_array(heating_limit_temp_c, func, "heating_limit_temp_c")
    require(limit > design, limit, func, "heating_limit_temp_c", "above design_outdoor_temp_c")
    f = np.clip((limit - t) / (limit - design), 0.0, 1.0)
    return result(
        np.asarray(f, dtype=np.float64),
        is_scalar_call(outdoor_temp_c, design_outdoor_temp_c, heating_limit_temp_c),
    )


@overload
def heating_curve_temp_c(  # type: ignore[overload-overlap]
    outdoor_temp_c: float,
    design_outdoor_temp_c: float,
    heating_limit_temp_c: float,
    temp_at_design_c: float,
    temp_at_limit_c: float,
) -> float: ...
@overload
def heating_curve_temp_c(
    outdoor_temp_c: FloatOrArray,
    design_outdoor_temp_c: FloatOrArray,
    heating_limit_temp_c: FloatOrArray,
    temp_at_design_c: FloatOrArray,
    temp_at_limit_c: FloatOrArray,
) -> FloatArray: ...
def heating_curve_temp_c(
    outdoor_temp_c: FloatOrArray,
    design_outdoor_temp_c: FloatOrArray,
    heating_limit_temp_c: FloatOrArray,
    temp_at_design_c: FloatOrArray,
    temp_at_limit_c: FloatOrArray,
) -> FloatOrArray:
    """Linear heating curve: a water temperature as a function of outdoor temperature.

    Parameters
    ----------
    outdoor_temp_c : float or ndarray
        Outdoor temperature [C].
    design_outdoor_temp_c, heating_limit_temp_c : float or ndarray
        Outdoor temperatures of the two curve points [C], limit above design.
    temp_at_design_c, temp_at_limit_c : float or ndarray
        Water temperature at those points [C].

    Returns
    -------
    float or ndarray
        T = T_limit_w + f * (T_design_w - T_limit_w) [C] with f from
        :func:`heating_load_fraction` (constant beyond both ends).
    """
    f = heating_load_fraction(
        np.asarray(outdoor_temp_c, dtype=np.float64),
        np.asarray(design_outdoor_temp_c, dtype=np.float64),
        np.asarray(heating_limit_temp_c, dtype=np.float64),
    )
    func = "heating_curve_temp_c"
    at_design = as_array(temp_at_design_c, func, "temp_at_design_c")
    at_limit = as_array(temp_at_limit_c, func, "temp_at_limit_c")
    t = at_limit + f * (at_design - at_limit)
    scalar = is_scalar_call(
        outdoor_temp_c,
        design_outdoor_temp_c,
        heating_limit_temp_c,
        temp_at_design_c,
        temp_at_limit_c,
    )
    return result(np.asarray(t, dtype=np.float64), scalar)


@overload
def district_return_flow_m3_per_h(  # type: ignore[overload-overlap]
    load_fraction: float, design_flow_m3_per_h: float, summer_flow_fraction: float
) -> float: ...
@overload
def district_return_flow_m3_per_h(
    load_fraction: FloatOrArray,
    design_flow_m3_per_h: FloatOrArray,
    summer_flow_fraction: FloatOrArray,
) -> FloatArray: ...
def district_return_flow_m3_per_h(
    load_fraction: FloatOrArray,
    design_flow_m3_per_h: FloatOrArray,
    summer_flow_fraction: FloatOrArray,
) -> FloatOrArray:
    """Return flow of a district-heating branch.

    Parameters
    ----------
    load_fraction : float or ndarray
        Heat load relative to design [-], ``0..1``.
    design_flow_m3_per_h : float or ndarray
        Flow at design load [m3/h], ``>= 0``.
    summer_flow_fraction : float or ndarray
        Minimum flow as a fraction of design [-], ``0..1`` (domestic hot water
        and bypasses keep water moving in summer).

    Returns
    -------
    float or ndarray
        V_dot = design flow * max(f, summer fraction) [m3/h].
    """
    func = "district_return_flow_m3_per_h"
    f = as_array(load_fraction, func, "load_fraction")
    require((f >= 0.0) & (f <= 1.0), f, func, "load_fraction", "a fraction 0..1")
    flow = non_negative(design_flow_m3_per_h, func, "design_flow_m3_per_h")
    summer = as_array(summer_flow_fraction, func, "summer_flow_fraction")
    require((summer >= 0.0) & (summer <= 1.0), summer, func, "summer_flow_fraction", "0..1")
    return result(
        np.asarray(flow * np.maximum(f, summer), dtype=np.float64),
        is_scalar_call(load_fraction, design_flow_m3_per_h, summer_flow_fraction),
    )


@overload
def district_preheat_power_w(  # type: ignore[overload-overlap]
    flow_m3_per_h: float, return_temp_c: float, target_temp_c: float, max_power_w: float
) -> float: ...
@overload
def district_preheat_power_w(
    flow_m3_per_h: FloatOrArray,
    return_temp_c: FloatOrArray,
    target_temp_c: FloatOrArray,
    max_power_w: FloatOrArray,
) -> FloatArray: ...
def district_preheat_power_w(
    flow_m3_per_h: FloatOrArray,
    return_temp_c: FloatOrArray,
    target_temp_c: FloatOrArray,
    max_power_w: FloatOrArray,
) -> FloatOrArray:
    """Heat that can preheat a district-heating return stream.

    Parameters
    ----------
    flow_m3_per_h : float or ndarray
        Return flow [m3/h], ``>= 0``, measured at the return temperature.
    return_temp_c : float or ndarray
        Network return temperature [C].
    target_temp_c : float or ndarray
        Temperature the preheater may lift the return to [C]; no heat where it
        is at or below the return temperature.
    max_power_w : float or ndarray
        Cap [W], ``>= 0`` (the preheat exchanger's rating).

    Returns
    -------
    float or ndarray
        P = min(V_dot * rho(T_r) * (h(T_target) - h(T_r)), P_max), >= 0 [W];
        IAPWS-95 at :data:`DISTRICT_PRESSURE_BAR`.
    """
    func = "district_preheat_power_w"
    flow = non_negative(flow_m3_per_h, func, "flow_m3_per_h")
    tr = as_array(return_temp_c, func, "return_temp_c")
    tt = as_array(target_temp_c, func, "target_temp_c")
    cap = non_negative(max_power_w, func, "max_power_w")
    p = DISTRICT_PRESSURE_BAR
    lifted = np.maximum(tt, tr)
    rho = water_density_kg_per_m3(np.asarray(tr), p)
    dh = water_enthalpy_j_per_kg(np.asarray(lifted), p) - water_enthalpy_j_per_kg(np.asarray(tr), p)
    power = np.minimum(flow / SECONDS_PER_HOUR * rho * dh, cap)
    return result(
        np.asarray(power, dtype=np.float64),
        is_scalar_call(flow_m3_per_h, return_temp_c, target_temp_c, max_power_w),
    )
