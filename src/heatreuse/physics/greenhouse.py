"""Heat demand of a greenhouse: transmission, air exchange, optional solar gain.

    P = U_cover * A_cover * (T_set - T_out)
      + n * V * rho_air * c_p,air / 3600 * (T_set - T_out)
      - f_solar * GHI * A_floor,
    floored at 0 (surplus sun is vented, not stored).

V = floor area * mean height. The solar term uses the floor (ground
projection) area because GHI is irradiance per m2 of *horizontal* surface: the
sunlight a greenhouse intercepts is GHI times its horizontal footprint, not
times its larger cover area. ``f_solar`` is the share of that which ends up as
useful heat (transmission of the cover times the fraction not lost to
evapotranspiration and venting; values 0.3-0.5 for glass in the heating
season, Bakker et al. 1995, "Greenhouse Climate Control: an integrated
approach", Wageningen Pers, ch. 2).

Set points follow day and night periods in local time:
``day_start_h <= hour < day_end_h`` is day (a period wrapping midnight is
allowed when ``day_start_h > day_end_h``).

References
----------
.. [1] ASHRAE Handbook - HVAC Applications (2019), ch. 25 "Environmental
   control for animals and plants", greenhouse heating: q = U A dT plus
   infiltration 0.5-2 air changes per hour.
.. [2] Air properties at 20 C and 101.325 kPa: rho = 1.204 kg/m3,
   c_p = 1006 J/(kg K) (VDI Heat Atlas, 2nd ed., D2.2).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from heatreuse.checks import FloatArray, as_array, non_negative, require
from heatreuse.errors import DomainError
from heatreuse.units import SECONDS_PER_HOUR

#: Mean inside height of a greenhouse [m] used to derive its air volume from the floor
#: area: a Venlo greenhouse with 4.5-5 m gutters and a low ridge averages about 5 m
#: (assumption; give your own through ``greenhouse_air_volume_m3``).
GREENHOUSE_MEAN_HEIGHT_M = 5.0
#: Density of air at 20 C, 1 atm [kg/m3] (VDI Heat Atlas).
AIR_DENSITY_KG_PER_M3 = 1.204
#: Isobaric heat capacity of air at 20 C [J/(kg K)] (VDI Heat Atlas).
AIR_CP_J_PER_KG_K = 1006.0


def greenhouse_air_volume_m3(
    floor_area_m2: float, mean_height_m: float = GREENHOUSE_MEAN_HEIGHT_M
) -> float:
    """Air volume of a greenhouse [m3] = floor area [m2] * mean height [m]."""
    func = "greenhouse_air_volume_m3"
    a = float(non_negative(floor_area_m2, func, "floor_area_m2"))
    h = float(non_negative(mean_height_m, func, "mean_height_m"))
    return a * h


def greenhouse_setpoint_temp_c(
    local_hour: npt.ArrayLike,
    day_start_h: float,
    day_end_h: float,
    day_setpoint_temp_c: float,
    night_setpoint_temp_c: float,
) -> FloatArray:
    """Air set point by local time of day.

    Parameters
    ----------
    local_hour : array_like
        Local clock time as hours since midnight [h], ``0 <= hour < 24``
        (fractions allowed).
    day_start_h, day_end_h : float
        Start and end of the day period [h]; equal values mean no day period.
    day_setpoint_temp_c, night_setpoint_temp_c : float
        Set points [C].

    Returns
    -------
    ndarray
        Set point per step [C].
    """
    func = "greenhouse_setpoint_temp_c"
    hour = as_array(local_hour, func, "local_hour")
    require((hour >= 0.0) & (hour < 24.0), hour, func, "local_hour", "0 <= hour < 24")
    if day_start_h <= day_end_h:
        day = (hour >= day_start_h) & (hour < day_end_h)
    else:
        day = (hour >= day_start_h) | (hour < day_end_h)
    out: FloatArray = np.where(day, float(day_setpoint_temp_c), float(night_setpoint_temp_c))
    return np.asarray(out, dtype=np.float64)


def greenhouse_heat_demand_w(
    setpoint_temp_c: npt.ArrayLike,
    outdoor_temp_c: npt.ArrayLike,
    cover_area_m2: float,
    cover_u_w_per_m2_k: float,
    air_volume_m3: float,
    air_exchange_per_h: float,
    floor_area_m2: float = 0.0,
    ghi_w_per_m2: npt.ArrayLike | None = None,
    solar_gain_fraction: float = 0.0,
) -> FloatArray:
    """Heating power a greenhouse needs to hold its set point.

    Parameters
    ----------
    setpoint_temp_c, outdoor_temp_c : array_like
        Inside set point and outdoor temperature [C].
    cover_area_m2 : float
        Area of the cover (roof and walls) [m2], ``>= 0``.
    cover_u_w_per_m2_k : float
        U-value of the cover [W/(m2 K)], ``>= 0`` (single glass about 6-7.6,
        double polyethylene about 4; ASHRAE HVAC Applications ch. 25).
    air_volume_m3 : float
        Inside air volume [m3] (:func:`greenhouse_air_volume_m3`).
    air_exchange_per_h : float
        Air changes per hour by infiltration and minimum ventilation [1/h].
    floor_area_m2 : float, default 0
        Floor (ground projection) area [m2], for the solar gain.
    ghi_w_per_m2 : array_like, optional
        Global horizontal irradiance [W/m2]; needed when
        ``solar_gain_fraction > 0``.
    solar_gain_fraction : float, default 0
        Useful share of intercepted sunlight [-], ``0..1``.

    Returns
    -------
    ndarray
        Heat demand [W], ``>= 0``.
    """
    func = "greenhouse_heat_demand_w"
    ts = as_array(setpoint_temp_c, func, "setpoint_temp_c")
    to = as_array(outdoor_temp_c, func, "outdoor_temp_c")
    a = float(non_negative(cover_area_m2, func, "cover_area_m2"))
    u = float(non_negative(cover_u_w_per_m2_k, func, "cover_u_w_per_m2_k"))
    v = float(non_negative(air_volume_m3, func, "air_volume_m3"))
    n = float(non_negative(air_exchange_per_h, func, "air_exchange_per_h"))
    floor = float(non_negative(floor_area_m2, func, "floor_area_m2"))
    f = float(as_array(solar_gain_fraction, func, "solar_gain_fraction"))
    if not 0.0 <= f <= 1.0:
        raise DomainError(f"{func}: solar_gain_fraction expected 0..1, got {f!r}")
    h_total = u * a + n * v * AIR_DENSITY_KG_PER_M3 * AIR_CP_J_PER_KG_K / SECONDS_PER_HOUR
    power = h_total * (ts - to)
    if f > 0.0:
        if ghi_w_per_m2 is None:
            raise DomainError(
                f"{func}: ghi_w_per_m2 expected (irradiance) when solar_gain_fraction > 0, got None"
            )
        ghi = non_negative(ghi_w_per_m2, func, "ghi_w_per_m2")
        power = power - f * ghi * floor
    out: FloatArray = np.asarray(np.maximum(power, 0.0), dtype=np.float64)
    return out
