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
* solar gain on an outdoor pool: :func:`pool_solar_gain_w` [6]_.

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
