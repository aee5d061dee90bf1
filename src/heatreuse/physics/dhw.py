"""Domestic hot water (DHW): heat to warm drawn water, draw profiles, mains temperature.

Q = V * rho(T_cold) * (h(T_hot) - h(T_cold)), water properties from IAPWS-95
(:mod:`heatreuse.physics.water`). This is the ``rho * cp * V * delta_T`` of
``standards.md`` with the enthalpy difference in place of cp * dT, exact for a
temperature-dependent cp.

Draw profiles (:data:`DHW_DRAW_PROFILES`) are 24 hourly fractions of the daily
volume (hour 0 = 00:00-01:00 local time), each summing to 1:

* ``residential``: the tapping cycle of load profile "M" of Commission
  Delegated Regulation (EU) No 812/2013, Annex VII, Table 7 (the same cycles
  as EN 16147 / EN 50440), 5.845 kWh a day, binned by the hour the draw
  starts. Energy fractions are used as volume fractions (one delta-T per day).
* ``flat``: 1/24 each hour (a circulating loop or process load).
* ``hotel`` and ``office``: **estimates** shaped by hand (a hotel: morning
  shower peak 06-10 h, evening peak 18-23 h; an office: washbasins and a
  kitchenette 07-18 h with a lunch peak). No standard profile was available to
  the authors; replace with metered data where you have it.

Mains (cold) water temperature over the year follows
T = mean + amplitude * cos(2 pi (day - peak_day) / 365) with the maximum in
late summer (day 240, 28 August by default): mains water lags air temperature
by one to two months (Burch, J., Christensen, C. (2007): Towards development
of an algorithm for mains water temperature. Proc. ASES Solar 2007, NREL;
their lag for mid-latitude climates puts the peak 30-45 days after the air
temperature maximum of mid/late July).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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
from heatreuse.errors import DomainError
from heatreuse.physics.water import water_density_kg_per_m3, water_enthalpy_j_per_kg
from heatreuse.units import J_PER_KWH, M3_PER_L

#: Static pressure assumed for drinking-water installations [bar] (absolute; typical
#: mains 3-5 bar gauge). The effect on density and enthalpy is below 0.01 %.
DHW_PRESSURE_BAR = 4.0
#: Day of the year with the warmest mains water (28 August); see the module docstring.
COLD_WATER_PEAK_DAY = 240.0


def _hours(mapping: Mapping[int, float]) -> tuple[float, ...]:
    total = sum(mapping.values())
    return tuple(mapping.get(h, 0.0) / total for h in range(24))


#: Load profile "M" of Regulation (EU) 812/2013, Annex VII Table 7, in kWh per draw start hour.
_EU_812_M_KWH_BY_HOUR = {
    7: 0.105 + 1.4 + 0.105,  # 07:00 small, 07:05 shower, 07:30 small
    8: 4 * 0.105,
    9: 2 * 0.105,
    10: 0.105,
    11: 2 * 0.105,
    12: 0.315,  # dishwashing
    14: 0.105,
    15: 0.105,
    16: 0.105,
    18: 3 * 0.105,
    19: 0.105,
    20: 0.735,  # dishwashing
    21: 0.105 + 1.4,  # small, shower
}
_HOTEL_ESTIMATE = {
    0: 1, 1: 0.5, 2: 0.5, 3: 0.5, 4: 0.5, 5: 2, 6: 8, 7: 12, 8: 10, 9: 7, 10: 5, 11: 3,
    12: 3, 13: 3, 14: 2, 15: 2, 16: 3, 17: 4, 18: 6, 19: 7, 20: 7, 21: 6, 22: 4, 23: 2,
}  # fmt: skip
_OFFICE_ESTIMATE = {
    7: 6, 8: 10, 9: 10, 10: 9, 11: 10, 12: 14, 13: 12, 14: 9, 15: 8, 16: 7, 17: 5,
}  # fmt: skip

#: Hourly draw fractions by profile name (hour 0 = 00:00-01:00 local time); each sums to 1.
DHW_DRAW_PROFILES: dict[str, tuple[float, ...]] = {
    "residential": _hours(_EU_812_M_KWH_BY_HOUR),
    "hotel": _hours(_HOTEL_ESTIMATE),
    "office": _hours(_OFFICE_ESTIMATE),
    "flat": tuple(1.0 / 24.0 for _ in range(24)),
}


def dhw_draw_fractions(profile: str) -> FloatArray:
    """Hourly fractions of the daily draw for a named profile.

    Parameters
    ----------
    profile : str
        One of :data:`DHW_DRAW_PROFILES` (``residential``, ``hotel``,
        ``office``, ``flat``).

    Returns
    -------
    ndarray
        24 fractions [-], hour 0 first, summing to 1.
    """
    try:
        values = DHW_DRAW_PROFILES[profile]
    except KeyError:
        raise DomainError(
            f"dhw_draw_fractions: profile expected one of {sorted(DHW_DRAW_PROFILES)}, "
            f"got {profile!r}"
        ) from None
    return np.array(values, dtype=np.float64)


@overload
def dhw_heat_kwh(volume_l: float, cold_temp_c: float, hot_temp_c: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def dhw_heat_kwh(
    volume_l: FloatOrArray, cold_temp_c: FloatOrArray, hot_temp_c: FloatOrArray
) -> FloatArray: ...
def dhw_heat_kwh(
    volume_l: FloatOrArray, cold_temp_c: FloatOrArray, hot_temp_c: FloatOrArray
) -> FloatOrArray:
    """Heat to warm a volume of drinking water.

    Parameters
    ----------
    volume_l : float or ndarray
        Volume drawn [L], measured cold (as a water meter on the cold inlet
        does), ``>= 0``.
    cold_temp_c : float or ndarray
        Inlet (mains) temperature [C], liquid.
    hot_temp_c : float or ndarray
        Outlet temperature [C], ``>= cold_temp_c``.

    Returns
    -------
    float or ndarray
        Q = V * rho(T_cold) * (h(T_hot) - h(T_cold)) / 3.6e6 [kWh], IAPWS-95
        at :data:`DHW_PRESSURE_BAR`.

    References
    ----------
    IAPWS R6-95(2018); ``standards.md``, "Heat demand" (Q = rho cp V dT).

    Examples
    --------
    >>> round(dhw_heat_kwh(1000.0, 10.0, 60.0), 2)
    58.07
    """
    func = "dhw_heat_kwh"
    v = non_negative(volume_l, func, "volume_l")
    tc = as_array(cold_temp_c, func, "cold_temp_c")
    th = as_array(hot_temp_c, func, "hot_temp_c")
    require(
        th >= tc,
        np.broadcast_to(th, np.broadcast_shapes(th.shape, tc.shape)),
        func,
        "hot_temp_c",
        "at or above cold_temp_c (heating, not cooling)",
    )
    p = DHW_PRESSURE_BAR
    rho = water_density_kg_per_m3(np.asarray(tc), p)
    dh = water_enthalpy_j_per_kg(np.asarray(th), p) - water_enthalpy_j_per_kg(np.asarray(tc), p)
    q = v * M3_PER_L * rho * dh / J_PER_KWH
    return result(
        np.asarray(q, dtype=np.float64), is_scalar_call(volume_l, cold_temp_c, hot_temp_c)
    )


@overload
def cold_water_temp_c(  # type: ignore[overload-overlap]
    day_of_year: float,
    mean_temp_c: float,
    amplitude_k: float,
    peak_day: float = COLD_WATER_PEAK_DAY,
) -> float: ...
@overload
def cold_water_temp_c(
    day_of_year: FloatOrArray,
    mean_temp_c: FloatOrArray,
    amplitude_k: FloatOrArray,
    peak_day: FloatOrArray = COLD_WATER_PEAK_DAY,
) -> FloatArray: ...
def cold_water_temp_c(
    day_of_year: FloatOrArray,
    mean_temp_c: FloatOrArray,
    amplitude_k: FloatOrArray,
    peak_day: FloatOrArray = COLD_WATER_PEAK_DAY,
) -> FloatOrArray:
    """Seasonal mains (cold) water temperature.

    Parameters
    ----------
    day_of_year : float or ndarray
        Day of the year [d], 1 = 1 January (fractions allowed).
    mean_temp_c : float or ndarray
        Annual mean mains temperature [C].
    amplitude_k : float or ndarray
        Half the annual swing [K], ``>= 0``.
    peak_day : float or ndarray, default 240
        Day of the warmest water [d] (late summer; see module docstring).

    Returns
    -------
    float or ndarray
        T = mean + amplitude * cos(2 pi (day - peak_day) / 365) [C], not
        below 0.5 C (liquid mains water).
    """
    func = "cold_water_temp_c"
    d = as_array(day_of_year, func, "day_of_year")
    mean = as_array(mean_temp_c, func, "mean_temp_c")
    amp = non_negative(amplitude_k, func, "amplitude_k")
    peak = as_array(peak_day, func, "peak_day")
    t = mean + amp * np.cos(2.0 * math.pi * (d - peak) / 365.0)
    return result(
        np.maximum(np.asarray(t, dtype=np.float64), 0.5),
        is_scalar_call(day_of_year, mean_temp_c, amplitude_k, peak_day),
    )
