"""Heat balance of a swimming-pool water surface (indoor and outdoor).

Sign convention: every ``*_heat_w`` function returns the heat flow **out of
the pool water** [W]; positive is a loss the pool heating must cover, negative
a gain (e.g. warm hall air above cooler water, or sun on an outdoor pool).

Pieces, each a pure function on floats or numpy arrays:

* evaporation, VDI 2089-1 (2010) [1]_: :func:`pool_evaporation_kg_per_h`,
  carried away as latent heat at the water temperature (IAPWS-95):
  :func:`pool_evaporation_heat_w`;
* convection from the surface: :func:`pool_convection_heat_w` (free
  convection indoors [2]_, wind-driven outdoors [3]_);
* long-wave radiation: :func:`pool_radiation_heat_w` to hall surfaces or to
  the sky, with the sky temperature from :func:`sky_temperature_c` [4]_ [5]_;
* make-up (fresh) water heating: :func:`pool_makeup_heat_w`;
* transmission through walls and floor: :func:`pool_transmission_heat_w`;
* solar gain on an outdoor pool: :func:`pool_solar_gain_w` [6]_;
* the hall of an indoor pool, which answers to the weather: the outdoor air
  that carries the evaporated water away (VDI 2089-1 dehumidification with
  outdoor air [1]_, :func:`pool_hall_outdoor_air_kg_per_h`), the heat to warm
  that air (:func:`pool_hall_ventilation_heat_w`, moist-air properties [7]_,
  heat recovery [8]_) and transmission through the hall envelope
  (:func:`pool_hall_transmission_heat_w`, EN ISO 13789 [9]_).

References
----------
.. [1] VDI 2089 Blatt 1 (2010): Technische Gebaeudeausruestung von
   Schwimmbaedern - Hallenbaeder. Water-transfer coefficients beta [m/h].
.. [2] Holman, J. P. (2010). Heat Transfer, 10th ed., Table 7-2,
   "Simplified equations for free convection from various surfaces to air at
   atmospheric pressure".
.. [3] Watmuff, J. H., Charters, W. W. S., Proctor, D. (1977). Solar and wind
   induced external coefficients for solar collectors. COMPLES 2, p. 56:
   h = 2.8 + 3.0 v [W/(m2 K)].
.. [4] Swinbank, W. C. (1963). Long-wave radiation from clear skies. Q. J. R.
   Meteorol. Soc. 89, 339-348: T_sky = 0.0552 T_air^1.5 [K].
.. [5] Berdahl, P., Martin, M. (1984). Emissivity of clear skies. Solar
   Energy 32, 663-664: eps_sky = 0.711 + 0.56 (T_dp/100) + 0.73 (T_dp/100)^2.
.. [6] Hahne, E., Kuebler, R. (1994). Monitoring and simulation of the thermal
   performance of solar heated outdoor swimming pools. Solar Energy 53, 9-19
   (solar absorptance of pool water about 0.85 for light pool linings).
.. [7] ASHRAE (2017). Handbook of Fundamentals, ch. 1 "Psychrometrics":
   humidity ratio W = 0.621945 p_w / (p - p_w) (eq. 20, 22); moist-air
   enthalpy h = 1.006 t + W (2501 + 1.86 t) [kJ/kg dry air] (eq. 32).
.. [8] Commission Regulation (EU) No 1253/2014 (ecodesign of ventilation
   units), Annex III: minimum thermal efficiency of the heat recovery of
   bidirectional non-residential units from 2018, 73 % (68 % run-around coils).
.. [9] EN ISO 13789:2017, Thermal performance of buildings - Transmission and
   ventilation heat transfer coefficients: Q = H_T (theta_i - theta_e).
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
    require,
    result,
)
from heatreuse.physics.water import (
    saturation_pressure_pa,
    water_enthalpy_j_per_kg,
    water_latent_heat_j_per_kg,
)
from heatreuse.units import (
    R_WATER_VAPOUR_J_PER_KG_K,
    SECONDS_PER_HOUR,
    STEFAN_BOLTZMANN_W_PER_M2_K4,
    ZERO_CELSIUS_K,
)

#: VDI 2089-1 (2010) water-transfer coefficients beta [m/h] by pool use.
POOL_BETA_M_PER_H: dict[str, float] = {
    "private": 21.0,
    "public_deep": 28.0,  # public pool deeper than 1.35 m
    "public_shallow": 40.0,  # public pool 1.35 m deep or shallower
    "wave_slides": 50.0,  # wave pool, water slides
    "at_rest": 7.0,  # any pool without bathers (water surface at rest)
}
#: Long-wave emissivity of a water surface [-] (Holman, Heat Transfer, App. A: 0.95-0.96).
WATER_EMISSIVITY_FRACTION = 0.95
#: Solar absorptance of pool water with a light lining [-] (Hahne & Kuebler 1994).
POOL_SOLAR_ABSORPTANCE_FRACTION = 0.85
#: Evaporation remaining under a pool cover [-]. US DOE Energy Saver, "Swimming pool
#: covers": a cover reduces evaporation by 90-95 %; the conservative end (90 %) is used.
POOL_COVER_EVAPORATION_FACTOR = 0.10
#: Convection and radiation remaining under a cover [-]. Engineering estimate (a bubble or
#: foam cover adds roughly the resistance of the surface film itself); labelled an estimate.
POOL_COVER_SURFACE_LOSS_FACTOR = 0.5
#: Aspect ratio (length / width) assumed to derive the wall area from the surface area: a
#: 25 m x 12.5 m sports pool (KOK-Richtlinien fuer den Baederbau, 5th ed. 2013).
POOL_ASPECT_RATIO = 2.0

#: VDI 2089-1 (2010) sizes the outdoor-air flow of a pool hall for outdoor air of 9 g/kg
#: against hall air of 14.3 g/kg (the sultriness limit), a difference of 5.3 g/kg; with drier
#: outdoor air or less evaporation the outdoor-air share is turned down (VDI's answer on
#: VDI 2089 Blatt 1 in its guideline FAQ).
POOL_HALL_DESIGN_OUTDOOR_HUMIDITY_KG_PER_KG = 0.009
#: Least outdoor-air share of the design flow while the pool is open: 30 % (VDI 2089-1, to
#: carry off disinfection by-products; 15 % only with proven low trihalomethanes).
POOL_HALL_MIN_OUTDOOR_AIR_FRACTION = 0.30
#: Least design humidity difference used to size the outdoor air [kg/kg]: a hall kept drier
#: than 1 g/kg above the design outdoor air cannot be dehumidified by outdoor air alone (it
#: needs a dehumidifier); the flow is then sized on 1 g/kg (a documented floor).
POOL_HALL_MIN_DESIGN_HUMIDITY_DIFFERENCE_KG_PER_KG = 0.001
#: Ecodesign minimum heat-recovery efficiency of non-residential ventilation units [-]
#: (Regulation (EU) 1253/2014, Annex III, from 2018).
VENTILATION_HEAT_RECOVERY_FRACTION = 0.73
#: Specific heat of dry air and of water vapour [J/(kg K)] (ASHRAE Fundamentals 2017,
#: ch. 1, eq. 32: h = 1.006 t + W (2501 + 1.86 t) kJ/kg).
CP_DRY_AIR_J_PER_KG_K = 1006.0
CP_WATER_VAPOUR_J_PER_KG_K = 1860.0
#: Ratio of the molar masses of water and dry air (ASHRAE Fundamentals 2017, ch. 1).
_WATER_AIR_MOLAR_RATIO = 0.621945
#: Standard atmosphere [Pa] (ISO 2533).
_STANDARD_PRESSURE_PA = 101_325.0

_MAGNUS_A = 17.625
_MAGNUS_B_C = 243.04
_MAGNUS_C_PA = 610.94


def _beta_check(beta: FloatArray, func: str) -> None:
    require(beta >= 0.0, beta, func, "beta_m_per_h", ">= 0 (VDI 2089-1 values are 7..50 m/h)")


@overload
def air_vapour_pressure_pa(air_temp_c: float, relative_humidity_fraction: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def air_vapour_pressure_pa(
    air_temp_c: FloatOrArray, relative_humidity_fraction: FloatOrArray
) -> FloatArray: ...
def air_vapour_pressure_pa(
    air_temp_c: FloatOrArray, relative_humidity_fraction: FloatOrArray
) -> FloatOrArray:
    """Partial pressure of water vapour in moist air.

    Parameters
    ----------
    air_temp_c : float or ndarray
        Air temperature [C], ``-50 <= air_temp_c <= 100``.
    relative_humidity_fraction : float or ndarray
        Relative humidity with respect to liquid water [-], ``0..1`` (the WMO
        convention, also below 0 C).

    Returns
    -------
    float or ndarray
        p_l = RH * p_sat,w(T_air) [Pa].

    Notes
    -----
    p_sat,w from IAPWS-IF97 (:func:`heatreuse.physics.water.saturation_pressure_pa`)
    at and above 0 C; below 0 C over supercooled water from the Magnus form
    p = 610.94 exp(17.625 t / (t + 243.04)) (Alduchov & Eskridge 1996, J. Appl.
    Meteor. 35, 601-609), which is how meteorological RH is defined.
    """
    func = "air_vapour_pressure_pa"
    t = as_array(air_temp_c, func, "air_temp_c")
    rh = as_array(relative_humidity_fraction, func, "relative_humidity_fraction")
    require((t >= -50.0) & (t <= 100.0), t, func, "air_temp_c", "-50 <= air_temp_c <= 100 C")
    require((rh >= 0.0) & (rh <= 1.0), rh, func, "relative_humidity_fraction", "a fraction 0..1")
    return result(
        rh * _psat_over_water_pa(t), is_scalar_call(air_temp_c, relative_humidity_fraction)
    )


def _psat_over_water_pa(t: FloatArray) -> FloatArray:
    warm = np.maximum(t, 0.0)
    above = saturation_pressure_pa(np.asarray(warm, dtype=np.float64))
    cold = np.minimum(t, 0.0)
    below = _MAGNUS_C_PA * np.exp(_MAGNUS_A * cold / (cold + _MAGNUS_B_C))
    out: FloatArray = np.where(t >= 0.0, above, below)
    return out


@overload
def dew_point_temp_c(air_temp_c: float, relative_humidity_fraction: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def dew_point_temp_c(
    air_temp_c: FloatOrArray, relative_humidity_fraction: FloatOrArray
) -> FloatArray: ...
def dew_point_temp_c(
    air_temp_c: FloatOrArray, relative_humidity_fraction: FloatOrArray
) -> FloatOrArray:
    """Dew-point temperature from air temperature and relative humidity.

    Parameters
    ----------
    air_temp_c : float or ndarray
        Air temperature [C], ``-50..60``.
    relative_humidity_fraction : float or ndarray
        Relative humidity [-], ``0 < RH <= 1``.

    Returns
    -------
    float or ndarray
        Dew point [C]: inverse Magnus formula (Alduchov & Eskridge 1996),
        accurate to about 0.1 K in -40..50 C.
    """
    func = "dew_point_temp_c"
    t = as_array(air_temp_c, func, "air_temp_c")
    rh = as_array(relative_humidity_fraction, func, "relative_humidity_fraction")
    require((t >= -50.0) & (t <= 60.0), t, func, "air_temp_c", "-50 <= air_temp_c <= 60 C")
    require((rh > 0.0) & (rh <= 1.0), rh, func, "relative_humidity_fraction", "0 < RH <= 1")
    gamma = np.log(rh) + _MAGNUS_A * t / (_MAGNUS_B_C + t)
    return result(
        _MAGNUS_B_C * gamma / (_MAGNUS_A - gamma),
        is_scalar_call(air_temp_c, relative_humidity_fraction),
    )


@overload
def pool_evaporation_kg_per_h(  # type: ignore[overload-overlap]
    area_m2: float,
    water_temp_c: float,
    air_temp_c: float,
    air_relative_humidity_fraction: float,
    beta_m_per_h: float,
) -> float: ...
@overload
def pool_evaporation_kg_per_h(
    area_m2: FloatOrArray,
    water_temp_c: FloatOrArray,
    air_temp_c: FloatOrArray,
    air_relative_humidity_fraction: FloatOrArray,
    beta_m_per_h: FloatOrArray,
) -> FloatArray: ...
def pool_evaporation_kg_per_h(
    area_m2: FloatOrArray,
    water_temp_c: FloatOrArray,
    air_temp_c: FloatOrArray,
    air_relative_humidity_fraction: FloatOrArray,
    beta_m_per_h: FloatOrArray,
) -> FloatOrArray:
    """Evaporation from a pool surface, VDI 2089-1.

    m_dot = beta / (R_D * T) * (p_w - p_l) * A

    Parameters
    ----------
    area_m2 : float or ndarray
        Water surface A [m2], ``>= 0``.
    water_temp_c : float or ndarray
        Water temperature [C], ``0..100``.
    air_temp_c : float or ndarray
        Air temperature above the surface [C], ``-50..100``.
    air_relative_humidity_fraction : float or ndarray
        Relative humidity of that air [-], ``0..1``.
    beta_m_per_h : float or ndarray
        Water-transfer coefficient beta [m/h], ``>= 0``; VDI 2089-1 values in
        :data:`POOL_BETA_M_PER_H` (private 21, public deeper than 1.35 m 28,
        shallower 40, wave pool / slides 50, at rest 7).

    Returns
    -------
    float or ndarray
        Evaporated water [kg/h]; negative means condensation onto the water
        (p_l > p_w).

    Notes
    -----
    R_D = 461.52 J/(kg K) (specific gas constant of water vapour, as in
    VDI 2089-1); T [K] the mean of water and air temperature; p_w = p_sat at
    the water temperature (IAPWS-IF97); p_l = RH * p_sat at the air
    temperature (:func:`air_vapour_pressure_pa`).

    References
    ----------
    VDI 2089 Blatt 1 (2010), section 4 (water-transfer coefficient method);
    equation as summarised in ``standards.md`` ("Heat demand").

    Examples
    --------
    Public pool, 312.5 m2 at 28 C, hall 30 C / 54 % RH:

    >>> round(pool_evaporation_kg_per_h(312.5, 28.0, 30.0, 0.54, 28.0), 1)
    93.5
    """
    func = "pool_evaporation_kg_per_h"
    area = non_negative(area_m2, func, "area_m2")
    tw = as_array(water_temp_c, func, "water_temp_c")
    require((tw >= 0.0) & (tw <= 100.0), tw, func, "water_temp_c", "liquid water, 0..100 C")
    ta = as_array(air_temp_c, func, "air_temp_c")
    require((ta >= -50.0) & (ta <= 100.0), ta, func, "air_temp_c", "-50 <= air_temp_c <= 100 C")
    rh = as_array(air_relative_humidity_fraction, func, "air_relative_humidity_fraction")
    require((rh >= 0.0) & (rh <= 1.0), rh, func, "air_relative_humidity_fraction", "0..1")
    beta = as_array(beta_m_per_h, func, "beta_m_per_h")
    _beta_check(beta, func)
    p_l = air_vapour_pressure_pa(ta, rh)
    p_w = saturation_pressure_pa(np.asarray(tw, dtype=np.float64))
    mean_t_k = (tw + ta) / 2.0 + ZERO_CELSIUS_K
    m = beta / (R_WATER_VAPOUR_J_PER_KG_K * mean_t_k) * (p_w - p_l) * area
    scalar = is_scalar_call(
        area_m2, water_temp_c, air_temp_c, air_relative_humidity_fraction, beta_m_per_h
    )
    return result(np.asarray(m, dtype=np.float64), scalar)


@overload
def pool_evaporation_heat_w(evaporation_kg_per_h: float, water_temp_c: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def pool_evaporation_heat_w(
    evaporation_kg_per_h: FloatOrArray, water_temp_c: FloatOrArray
) -> FloatArray: ...
def pool_evaporation_heat_w(
    evaporation_kg_per_h: FloatOrArray, water_temp_c: FloatOrArray
) -> FloatOrArray:
    """Latent heat carried away by evaporation.

    Parameters
    ----------
    evaporation_kg_per_h : float or ndarray
        Evaporation [kg/h] (negative: condensation, a gain).
    water_temp_c : float or ndarray
        Water temperature [C], ``0..200``.

    Returns
    -------
    float or ndarray
        Q = m_dot / 3600 * r(T_water) [W], r the latent heat of vaporisation
        from IAPWS-95 (:func:`heatreuse.physics.water.water_latent_heat_j_per_kg`).
    """
    func = "pool_evaporation_heat_w"
    m = as_array(evaporation_kg_per_h, func, "evaporation_kg_per_h")
    tw = as_array(water_temp_c, func, "water_temp_c")
    r = water_latent_heat_j_per_kg(np.asarray(tw, dtype=np.float64))
    return result(m / SECONDS_PER_HOUR * r, is_scalar_call(evaporation_kg_per_h, water_temp_c))


@overload
def pool_convection_heat_w(  # type: ignore[overload-overlap]
    area_m2: float,
    water_temp_c: float,
    air_temp_c: float,
    wind_speed_m_per_s: float | None = None,
) -> float: ...
@overload
def pool_convection_heat_w(
    area_m2: FloatOrArray,
    water_temp_c: FloatOrArray,
    air_temp_c: FloatOrArray,
    wind_speed_m_per_s: FloatOrArray | None = None,
) -> FloatArray: ...
def pool_convection_heat_w(
    area_m2: FloatOrArray,
    water_temp_c: FloatOrArray,
    air_temp_c: FloatOrArray,
    wind_speed_m_per_s: FloatOrArray | None = None,
) -> FloatOrArray:
    """Convective heat flow from the water surface to the air.

    Parameters
    ----------
    area_m2 : float or ndarray
        Water surface [m2], ``>= 0``.
    water_temp_c, air_temp_c : float or ndarray
        Water and air temperature [C].
    wind_speed_m_per_s : float or ndarray, optional
        Wind speed [m/s], ``>= 0``, for an outdoor pool. ``None``: indoor
        (free convection).

    Returns
    -------
    float or ndarray
        Q = h * A * (T_water - T_air) [W]; negative when the air is warmer.

    Notes
    -----
    Indoor, free convection over a horizontal surface (Holman, Table 7-2):
    water warmer than air (unstable, turbulent) h = 1.52 dT^(1/3); air warmer
    than water (stable) h = 0.59 (dT/L)^(1/4), L = A/P with P the perimeter of
    a 2:1 rectangle. Outdoor: h = 2.8 + 3.0 v (Watmuff et al. 1977).
    """
    func = "pool_convection_heat_w"
    area = non_negative(area_m2, func, "area_m2")
    tw = as_array(water_temp_c, func, "water_temp_c")
    ta = as_array(air_temp_c, func, "air_temp_c")
    dt = tw - ta
    if wind_speed_m_per_s is None:
        length_m = np.sqrt(np.maximum(area, 1e-12)) / _perimeter_per_sqrt_area()
        h = np.where(
            dt >= 0.0,
            1.52 * np.abs(dt) ** (1.0 / 3.0),
            0.59 * (np.abs(dt) / length_m) ** 0.25,
        )
        scalar = is_scalar_call(area_m2, water_temp_c, air_temp_c)
    else:
        v = non_negative(wind_speed_m_per_s, func, "wind_speed_m_per_s")
        h = 2.8 + 3.0 * v
        scalar = is_scalar_call(area_m2, water_temp_c, air_temp_c, wind_speed_m_per_s)
    return result(np.asarray(h * area * dt, dtype=np.float64), scalar)


def _perimeter_per_sqrt_area() -> float:
    # Rectangle of aspect ratio r: P / sqrt(A) = 2 (sqrt(r) + 1/sqrt(r)).
    r = POOL_ASPECT_RATIO
    return 2.0 * (math.sqrt(r) + 1.0 / math.sqrt(r))


@overload
def pool_radiation_heat_w(  # type: ignore[overload-overlap]
    area_m2: float,
    water_temp_c: float,
    surroundings_temp_c: float,
    emissivity_fraction: float = WATER_EMISSIVITY_FRACTION,
) -> float: ...
@overload
def pool_radiation_heat_w(
    area_m2: FloatOrArray,
    water_temp_c: FloatOrArray,
    surroundings_temp_c: FloatOrArray,
    emissivity_fraction: FloatOrArray = WATER_EMISSIVITY_FRACTION,
) -> FloatArray: ...
def pool_radiation_heat_w(
    area_m2: FloatOrArray,
    water_temp_c: FloatOrArray,
    surroundings_temp_c: FloatOrArray,
    emissivity_fraction: FloatOrArray = WATER_EMISSIVITY_FRACTION,
) -> FloatOrArray:
    """Net long-wave radiation from the water surface.

    Parameters
    ----------
    area_m2 : float or ndarray
        Water surface [m2], ``>= 0``.
    water_temp_c : float or ndarray
        Water temperature [C].
    surroundings_temp_c : float or ndarray
        Radiant temperature of what the surface sees [C]: hall walls and
        ceiling (indoor, taken as the hall air temperature) or the sky
        (outdoor, :func:`sky_temperature_c`).
    emissivity_fraction : float or ndarray, default 0.95
        Emissivity of water [-], ``0..1``.

    Returns
    -------
    float or ndarray
        Q = eps * sigma * A * (T_w^4 - T_s^4) [W], temperatures in K.

    References
    ----------
    Stefan-Boltzmann law, grey surface in a large enclosure (Holman, Heat
    Transfer, ch. 8).
    """
    func = "pool_radiation_heat_w"
    area = non_negative(area_m2, func, "area_m2")
    tw = as_array(water_temp_c, func, "water_temp_c") + ZERO_CELSIUS_K
    ts = as_array(surroundings_temp_c, func, "surroundings_temp_c") + ZERO_CELSIUS_K
    require(ts > 0.0, ts, func, "surroundings_temp_c", "above absolute zero")
    eps = as_array(emissivity_fraction, func, "emissivity_fraction")
    require((eps >= 0.0) & (eps <= 1.0), eps, func, "emissivity_fraction", "0..1")
    q = eps * STEFAN_BOLTZMANN_W_PER_M2_K4 * area * (tw**4 - ts**4)
    return result(
        np.asarray(q, dtype=np.float64),
        is_scalar_call(area_m2, water_temp_c, surroundings_temp_c, emissivity_fraction),
    )


@overload
def sky_temperature_c(air_temp_c: float, dew_point_temp_c: float | None = None) -> float: ...  # type: ignore[overload-overlap]
@overload
def sky_temperature_c(
    air_temp_c: FloatOrArray, dew_point_temp_c: FloatOrArray | None = None
) -> FloatArray: ...
def sky_temperature_c(
    air_temp_c: FloatOrArray, dew_point_temp_c: FloatOrArray | None = None
) -> FloatOrArray:
    """Effective clear-sky radiant temperature.

    Parameters
    ----------
    air_temp_c : float or ndarray
        Screen-level air temperature [C].
    dew_point_temp_c : float or ndarray, optional
        Dew point [C]. With it, Berdahl & Martin (1984):
        eps_sky = 0.711 + 0.56 (T_dp/100) + 0.73 (T_dp/100)^2,
        T_sky = eps_sky^(1/4) T_air. Without it, Swinbank (1963):
        T_sky = 0.0552 T_air^1.5 (temperatures in K).

    Returns
    -------
    float or ndarray
        Sky temperature [C].

    Notes
    -----
    Both are clear-sky correlations; clouds raise the sky temperature, so
    radiative losses of an outdoor pool are overestimated on cloudy hours
    (a conservative direction for a heat-demand estimate).
    """
    func = "sky_temperature_c"
    ta = as_array(air_temp_c, func, "air_temp_c")
    require((ta >= -60.0) & (ta <= 60.0), ta, func, "air_temp_c", "-60 <= air_temp_c <= 60 C")
    ta_k = ta + ZERO_CELSIUS_K
    if dew_point_temp_c is None:
        t_sky_k = 0.0552 * ta_k**1.5
        scalar = is_scalar_call(air_temp_c)
    else:
        tdp = as_array(dew_point_temp_c, func, "dew_point_temp_c") / 100.0
        eps = np.clip(0.711 + 0.56 * tdp + 0.73 * tdp**2, 0.0, 1.0)
        t_sky_k = eps**0.25 * ta_k
        scalar = is_scalar_call(air_temp_c, dew_point_temp_c)
    return result(np.asarray(t_sky_k - ZERO_CELSIUS_K, dtype=np.float64), scalar)


@overload
def pool_makeup_heat_w(  # type: ignore[overload-overlap]
    makeup_kg_per_h: float, water_temp_c: float, cold_water_temp_c: float
) -> float: ...
@overload
def pool_makeup_heat_w(
    makeup_kg_per_h: FloatOrArray, water_temp_c: FloatOrArray, cold_water_temp_c: FloatOrArray
) -> FloatArray: ...
def pool_makeup_heat_w(
    makeup_kg_per_h: FloatOrArray, water_temp_c: FloatOrArray, cold_water_temp_c: FloatOrArray
) -> FloatOrArray:
    """Heat to warm make-up (fresh) water from mains to pool temperature.

    Parameters
    ----------
    makeup_kg_per_h : float or ndarray
        Make-up water [kg/h], ``>= 0``: fresh water per visitor (DIN 19643-1:
        at least 30 L per visitor) plus water replacing evaporation.
    water_temp_c : float or ndarray
        Pool water temperature [C].
    cold_water_temp_c : float or ndarray
        Mains water temperature [C].

    Returns
    -------
    float or ndarray
        Q = m_dot / 3600 * (h(T_pool) - h(T_cold)) [W], h from IAPWS-95 at
        1 bar (an open pool).
    """
    func = "pool_makeup_heat_w"
    m = non_negative(makeup_kg_per_h, func, "makeup_kg_per_h")
    tw = as_array(water_temp_c, func, "water_temp_c")
    tc = as_array(cold_water_temp_c, func, "cold_water_temp_c")
    dh = water_enthalpy_j_per_kg(np.asarray(tw), 1.0) - water_enthalpy_j_per_kg(np.asarray(tc), 1.0)
    return result(
        np.asarray(m / SECONDS_PER_HOUR * dh, dtype=np.float64),
        is_scalar_call(makeup_kg_per_h, water_temp_c, cold_water_temp_c),
    )


def pool_wall_floor_area_m2(area_m2: float, depth_m: float) -> float:
    """Wetted wall and floor area of a rectangular pool.

    Parameters
    ----------
    area_m2 : float
        Water surface [m2], ``> 0``.
    depth_m : float
        Mean depth [m], ``> 0``.

    Returns
    -------
    float
        A_floor + P * depth [m2], P the perimeter of a rectangle with aspect
        ratio :data:`POOL_ASPECT_RATIO` (2:1, a 25 m x 12.5 m sports pool).
    """
    func = "pool_wall_floor_area_m2"
    a = float(non_negative(area_m2, func, "area_m2"))
    d = float(non_negative(depth_m, func, "depth_m"))
    return a + _perimeter_per_sqrt_area() * math.sqrt(a) * d


@overload
def pool_transmission_heat_w(  # type: ignore[overload-overlap]
    wall_floor_area_m2: float, u_w_per_m2_k: float, water_temp_c: float, ground_temp_c: float
) -> float: ...
@overload
def pool_transmission_heat_w(
    wall_floor_area_m2: FloatOrArray,
    u_w_per_m2_k: FloatOrArray,
    water_temp_c: FloatOrArray,
    ground_temp_c: FloatOrArray,
) -> FloatArray: ...
def pool_transmission_heat_w(
    wall_floor_area_m2: FloatOrArray,
    u_w_per_m2_k: FloatOrArray,
    water_temp_c: FloatOrArray,
    ground_temp_c: FloatOrArray,
) -> FloatOrArray:
    """Transmission through pool walls and floor to the ground.

    Parameters
    ----------
    wall_floor_area_m2 : float or ndarray
        Wetted wall and floor area [m2] (:func:`pool_wall_floor_area_m2`).
    u_w_per_m2_k : float or ndarray
        Thermal transmittance of walls and floor [W/(m2 K)], ``>= 0``.
    water_temp_c, ground_temp_c : float or ndarray
        Pool water and ground temperature [C].

    Returns
    -------
    float or ndarray
        Q = U * A * (T_water - T_ground) [W] (steady state, EN ISO 13370 in
        its simplest form).
    """
    func = "pool_transmission_heat_w"
    a = non_negative(wall_floor_area_m2, func, "wall_floor_area_m2")
    u = non_negative(u_w_per_m2_k, func, "u_w_per_m2_k")
    tw = as_array(water_temp_c, func, "water_temp_c")
    tg = as_array(ground_temp_c, func, "ground_temp_c")
    return result(
        np.asarray(u * a * (tw - tg), dtype=np.float64),
        is_scalar_call(wall_floor_area_m2, u_w_per_m2_k, water_temp_c, ground_temp_c),
    )


@overload
def pool_solar_gain_w(  # type: ignore[overload-overlap]
    area_m2: float, ghi_w_per_m2: float, absorptance_fraction: float = ...
) -> float: ...
@overload
def pool_solar_gain_w(
    area_m2: FloatOrArray, ghi_w_per_m2: FloatOrArray, absorptance_fraction: FloatOrArray = ...
) -> FloatArray: ...
def pool_solar_gain_w(
    area_m2: FloatOrArray,
    ghi_w_per_m2: FloatOrArray,
    absorptance_fraction: FloatOrArray = POOL_SOLAR_ABSORPTANCE_FRACTION,
) -> FloatOrArray:
    """Solar heat absorbed by an outdoor pool.

    Parameters
    ----------
    area_m2 : float or ndarray
        Water surface [m2], ``>= 0``.
    ghi_w_per_m2 : float or ndarray
        Global horizontal irradiance [W/m2], ``>= 0``.
    absorptance_fraction : float or ndarray, default 0.85
        Share of irradiance absorbed by water and lining [-] (Hahne & Kuebler
        1994: about 0.85 for light linings).

    Returns
    -------
    float or ndarray
        Q_solar = alpha * GHI * A [W], a gain (positive number; subtract it
        from the losses).
    """
    func = "pool_solar_gain_w"
    a = non_negative(area_m2, func, "area_m2")
    g = non_negative(ghi_w_per_m2, func, "ghi_w_per_m2")
    alpha = as_array(absorptance_fraction, func, "absorptance_fraction")
    require((alpha >= 0.0) & (alpha <= 1.0), alpha, func, "absorptance_fraction", "0..1")
    return result(
        np.asarray(alpha * g * a, dtype=np.float64),
        is_scalar_call(area_m2, ghi_w_per_m2, absorptance_fraction),
    )


@overload
def humidity_ratio_kg_per_kg(  # type: ignore[overload-overlap]
    air_temp_c: float, relative_humidity_fraction: float, pressure_pa: float = ...
) -> float: ...
@overload
def humidity_ratio_kg_per_kg(
    air_temp_c: FloatOrArray, relative_humidity_fraction: FloatOrArray, pressure_pa: float = ...
) -> FloatArray: ...
def humidity_ratio_kg_per_kg(
    air_temp_c: FloatOrArray,
    relative_humidity_fraction: FloatOrArray,
    pressure_pa: float = _STANDARD_PRESSURE_PA,
) -> FloatOrArray:
    """Humidity ratio (water content) of moist air.

    Parameters
    ----------
    air_temp_c : float or ndarray
        Air temperature [C], ``-50..100``.
    relative_humidity_fraction : float or ndarray
        Relative humidity over liquid water [-], ``0..1``.
    pressure_pa : float, default 101325
        Total (barometric) pressure [Pa], above the vapour pressure.

    Returns
    -------
    float or ndarray
        W = 0.621945 p_w / (p - p_w) [kg water per kg dry air], p_w from
        :func:`air_vapour_pressure_pa`.

    References
    ----------
    ASHRAE Handbook of Fundamentals (2017), ch. 1, eq. 20 and 22.

    Examples
    --------
    The VDI 2089 hall, 30 C at 54 % RH, holds about 14.4 g/kg (the guideline's
    14.3 g/kg sultriness limit):

    >>> round(humidity_ratio_kg_per_kg(30.0, 0.54) * 1000, 1)
    14.4
    """
    func = "humidity_ratio_kg_per_kg"
    p_w = air_vapour_pressure_pa(air_temp_c, relative_humidity_fraction)
    p = float(pressure_pa)
    require(np.asarray(p_w < p), np.asarray(p), func, "pressure_pa", "above the vapour pressure")
    x = _WATER_AIR_MOLAR_RATIO * np.asarray(p_w) / (p - np.asarray(p_w))
    return result(
        np.asarray(x, dtype=np.float64), is_scalar_call(air_temp_c, relative_humidity_fraction)
    )


@overload
def pool_hall_design_outdoor_air_kg_per_h(  # type: ignore[overload-overlap]
    design_evaporation_kg_per_h: float, hall_humidity_kg_per_kg: float
) -> float: ...
@overload
def pool_hall_design_outdoor_air_kg_per_h(
    design_evaporation_kg_per_h: FloatOrArray, hall_humidity_kg_per_kg: FloatOrArray
) -> FloatArray: ...
def pool_hall_design_outdoor_air_kg_per_h(
    design_evaporation_kg_per_h: FloatOrArray, hall_humidity_kg_per_kg: FloatOrArray
) -> FloatOrArray:
    """Design outdoor-air flow of a pool hall, VDI 2089-1.

    Parameters
    ----------
    design_evaporation_kg_per_h : float or ndarray
        Evaporation with the pool in use at the hall's design state [kg/h],
        ``>= 0`` (:func:`pool_evaporation_kg_per_h` with the in-use beta).
    hall_humidity_kg_per_kg : float or ndarray
        Humidity ratio of the hall air [kg/kg] (:func:`humidity_ratio_kg_per_kg`).

    Returns
    -------
    float or ndarray
        m_design = m_evap / (x_hall - x_out,design) [kg dry air per h], with
        x_out,design = 9 g/kg (:data:`POOL_HALL_DESIGN_OUTDOOR_HUMIDITY_KG_PER_KG`)
        and the difference at least 1 g/kg
        (:data:`POOL_HALL_MIN_DESIGN_HUMIDITY_DIFFERENCE_KG_PER_KG`).

    References
    ----------
    VDI 2089 Blatt 1 (2010): the ventilation is sized for 100 % outdoor air at
    the design evaporation and 5.3 g/kg between exhaust (14.3 g/kg) and
    outdoor air (9 g/kg).
    """
    func = "pool_hall_design_outdoor_air_kg_per_h"
    m = non_negative(design_evaporation_kg_per_h, func, "design_evaporation_kg_per_h")
    x = as_array(hall_humidity_kg_per_kg, func, "hall_humidity_kg_per_kg")
    require((x >= 0.0) & (x < 1.0), x, func, "hall_humidity_kg_per_kg", "0 <= x < 1 kg/kg")
    dx = np.maximum(
        x - POOL_HALL_DESIGN_OUTDOOR_HUMIDITY_KG_PER_KG,
        POOL_HALL_MIN_DESIGN_HUMIDITY_DIFFERENCE_KG_PER_KG,
    )
    return result(
        np.asarray(m / dx, dtype=np.float64),
        is_scalar_call(design_evaporation_kg_per_h, hall_humidity_kg_per_kg),
    )


@overload
def pool_hall_outdoor_air_kg_per_h(  # type: ignore[overload-overlap]
    evaporation_kg_per_h: float,
    hall_humidity_kg_per_kg: float,
    outdoor_humidity_kg_per_kg: float,
    max_air_kg_per_h: float,
    min_air_kg_per_h: float = 0.0,
) -> float: ...
@overload
def pool_hall_outdoor_air_kg_per_h(
    evaporation_kg_per_h: FloatOrArray,
    hall_humidity_kg_per_kg: FloatOrArray,
    outdoor_humidity_kg_per_kg: FloatOrArray,
    max_air_kg_per_h: FloatOrArray,
    min_air_kg_per_h: FloatOrArray = 0.0,
) -> FloatArray: ...
def pool_hall_outdoor_air_kg_per_h(
    evaporation_kg_per_h: FloatOrArray,
    hall_humidity_kg_per_kg: FloatOrArray,
    outdoor_humidity_kg_per_kg: FloatOrArray,
    max_air_kg_per_h: FloatOrArray,
    min_air_kg_per_h: FloatOrArray = 0.0,
) -> FloatOrArray:
    """Outdoor air that carries a pool hall's evaporation away.

    Parameters
    ----------
    evaporation_kg_per_h : float or ndarray
        Water evaporating into the hall [kg/h] (negative: condensation).
    hall_humidity_kg_per_kg, outdoor_humidity_kg_per_kg : float or ndarray
        Humidity ratio of hall and outdoor air [kg/kg].
    max_air_kg_per_h : float or ndarray
        Design outdoor-air flow [kg dry air per h]
        (:func:`pool_hall_design_outdoor_air_kg_per_h`), ``>= 0``.
    min_air_kg_per_h : float or ndarray, default 0
        Least outdoor-air flow [kg/h] (VDI 2089-1: 30 % of the design flow
        while the pool is open), ``0 <= min <= max``.

    Returns
    -------
    float or ndarray
        m_air = m_evap / (x_hall - x_out), limited to ``[min, max]`` [kg dry
        air per h]. When the outdoor air is as humid as the hall or more, the
        design flow (the plant cannot do more; the hall humidity then rises,
        which VDI 2089-1 accepts on humid summer days).

    References
    ----------
    VDI 2089 Blatt 1 (2010): dehumidification with outdoor air; the outdoor-air
    share is reduced when the outdoor air is drier than 9 g/kg or the
    evaporation is below design.
    """
    func = "pool_hall_outdoor_air_kg_per_h"
    m = as_array(evaporation_kg_per_h, func, "evaporation_kg_per_h")
    xh = as_array(hall_humidity_kg_per_kg, func, "hall_humidity_kg_per_kg")
    xo = as_array(outdoor_humidity_kg_per_kg, func, "outdoor_humidity_kg_per_kg")
    hi = non_negative(max_air_kg_per_h, func, "max_air_kg_per_h")
    lo = non_negative(min_air_kg_per_h, func, "min_air_kg_per_h")
    require(lo <= hi, lo, func, "min_air_kg_per_h", "at most max_air_kg_per_h")
    dx = xh - xo
    need = np.where(dx > 0.0, np.maximum(m, 0.0) / np.where(dx > 0.0, dx, 1.0), np.inf)
    need = np.where((dx <= 0.0) & (m <= 0.0), 0.0, need)
    air = np.clip(need, lo, hi)
    scalar = is_scalar_call(
        evaporation_kg_per_h,
        hall_humidity_kg_per_kg,
        outdoor_humidity_kg_per_kg,
        max_air_kg_per_h,
        min_air_kg_per_h,
    )
    return result(np.asarray(air, dtype=np.float64), scalar)


@overload
def pool_hall_ventilation_heat_w(  # type: ignore[overload-overlap]
    outdoor_air_kg_per_h: float,
    hall_temp_c: float,
    outdoor_temp_c: float,
    outdoor_humidity_kg_per_kg: float,
    heat_recovery_fraction: float = VENTILATION_HEAT_RECOVERY_FRACTION,
) -> float: ...
@overload
def pool_hall_ventilation_heat_w(
    outdoor_air_kg_per_h: FloatOrArray,
    hall_temp_c: FloatOrArray,
    outdoor_temp_c: FloatOrArray,
    outdoor_humidity_kg_per_kg: FloatOrArray,
    heat_recovery_fraction: FloatOrArray = VENTILATION_HEAT_RECOVERY_FRACTION,
) -> FloatArray: ...
def pool_hall_ventilation_heat_w(
    outdoor_air_kg_per_h: FloatOrArray,
    hall_temp_c: FloatOrArray,
    outdoor_temp_c: FloatOrArray,
    outdoor_humidity_kg_per_kg: FloatOrArray,
    heat_recovery_fraction: FloatOrArray = VENTILATION_HEAT_RECOVERY_FRACTION,
) -> FloatOrArray:
    """Heat to warm a pool hall's outdoor air to the hall temperature.

    Parameters
    ----------
    outdoor_air_kg_per_h : float or ndarray
        Outdoor-air flow [kg dry air per h], ``>= 0``
        (:func:`pool_hall_outdoor_air_kg_per_h`).
    hall_temp_c, outdoor_temp_c : float or ndarray
        Hall air and outdoor air temperature [C].
    outdoor_humidity_kg_per_kg : float or ndarray
        Humidity ratio of the outdoor air [kg/kg] (its vapour is warmed too).
    heat_recovery_fraction : float or ndarray, default 0.73
        Temperature efficiency of the exhaust-air heat recovery [-], ``0..1``
        (ecodesign minimum, Regulation (EU) 1253/2014).

    Returns
    -------
    float or ndarray
        Q = m / 3600 (c_p,a + x c_p,v) (T_hall - T_out) (1 - eta) [W] when the
        outdoor air is colder than the hall. When it is warmer the recovery is
        bypassed and Q = m / 3600 (c_p,a + x c_p,v) (T_hall - T_out) < 0 (the
        outdoor air brings heat into the hall).

    Notes
    -----
    Only the sensible heat of the outdoor air is a heating load: the latent
    heat of the evaporated water is taken from the pool water
    (:func:`pool_evaporation_heat_w`) and leaves with the exhaust air.
    Condensation inside the heat recoverer (which raises its yield in winter)
    is not credited: conservative for a heat-demand estimate.

    References
    ----------
    ASHRAE Handbook of Fundamentals (2017), ch. 1, eq. 32; EN 13053:2019 (heat
    recovery temperature efficiency); Regulation (EU) 1253/2014, Annex III.
    """
    func = "pool_hall_ventilation_heat_w"
    m = non_negative(outdoor_air_kg_per_h, func, "outdoor_air_kg_per_h")
    th = as_array(hall_temp_c, func, "hall_temp_c")
    to = as_array(outdoor_temp_c, func, "outdoor_temp_c")
    x = non_negative(outdoor_humidity_kg_per_kg, func, "outdoor_humidity_kg_per_kg")
    eta = as_array(heat_recovery_fraction, func, "heat_recovery_fraction")
    require((eta >= 0.0) & (eta <= 1.0), eta, func, "heat_recovery_fraction", "0..1")
    dt = th - to
    q = m / SECONDS_PER_HOUR * (CP_DRY_AIR_J_PER_KG_K + x * CP_WATER_VAPOUR_J_PER_KG_K) * dt
    q = np.where(dt > 0.0, q * (1.0 - eta), q)
    scalar = is_scalar_call(
        outdoor_air_kg_per_h,
        hall_temp_c,
        outdoor_temp_c,
        outdoor_humidity_kg_per_kg,
        heat_recovery_fraction,
    )
    return result(np.asarray(q, dtype=np.float64), scalar)


@overload
def pool_hall_transmission_heat_w(  # type: ignore[overload-overlap]
    envelope_ua_w_per_k: float, hall_temp_c: float, outdoor_temp_c: float
) -> float: ...
@overload
def pool_hall_transmission_heat_w(
    envelope_ua_w_per_k: FloatOrArray, hall_temp_c: FloatOrArray, outdoor_temp_c: FloatOrArray
) -> FloatArray: ...
def pool_hall_transmission_heat_w(
    envelope_ua_w_per_k: FloatOrArray, hall_temp_c: FloatOrArray, outdoor_temp_c: FloatOrArray
) -> FloatOrArray:
    """Transmission through the envelope of a pool hall.

    Parameters
    ----------
    envelope_ua_w_per_k : float or ndarray
        Transmission heat transfer coefficient H_T = sum(U A) of roof, walls
        and windows facing outdoors [W/K], ``>= 0``.
    hall_temp_c, outdoor_temp_c : float or ndarray
        Hall air and outdoor air temperature [C].

    Returns
    -------
    float or ndarray
        Q = H_T (T_hall - T_out) [W] (steady state; negative when it is warmer
        outside).

    References
    ----------
    EN ISO 13789:2017, Thermal performance of buildings - Transmission and
    ventilation heat transfer coefficients.
    """
    func = "pool_hall_transmission_heat_w"
    ua = non_negative(envelope_ua_w_per_k, func, "envelope_ua_w_per_k")
    th = as_array(hall_temp_c, func, "hall_temp_c")
    to = as_array(outdoor_temp_c, func, "outdoor_temp_c")
    return result(
        np.asarray(ua * (th - to), dtype=np.float64),
        is_scalar_call(envelope_ua_w_per_k, hall_temp_c, outdoor_temp_c),
    )
