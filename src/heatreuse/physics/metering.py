"""Heat metering: heat coefficient, metered heat and maximum permissible error.

A heat meter integrates ``Q = integral k(theta_f, theta_r, p) * delta_theta dV``
over the volume ``V`` measured by its flow sensor, with the heat coefficient
(EN 1434-1, "k-factor")::

    k = rho(theta_meter, p) * (h(theta_f, p) - h(theta_r, p)) / (theta_f - theta_r)

``rho`` is taken at the temperature of the pipe the flow sensor sits in
(usually the return). Water properties come from IAPWS-95
(:mod:`heatreuse.physics.water`). The popular constant 1.163 kWh/(m3 K)
(= 4186.8 J/(kg K) * 1000 kg/m3) is *not* used anywhere: it over-reads by
about 0.6 % to 2.3 % in heating-circuit conditions.

Certified EN 1434 calculators evaluate k with IAPWS-IF97; heatreuse uses
IAPWS-95. The two agree within 0.05 % (``tests/reference/k_factor_iapws.csv``),
far below the MPE of any meter (>= 2 %, :func:`heat_meter_mpe_percent`).

Sign convention: heating meters. The flow (supply) temperature must not be
below the return temperature; a reversed pair raises
:class:`heatreuse.errors.DomainError` (a cooling meter is a different
instrument).

References
----------
EN 1434-1:2022, Thermal energy meters - Part 1: General requirements
(heat coefficient, accuracy classes). Directive 2014/32/EU (MID), Annex VI,
MI-004 (thermal energy meters), maximum permissible errors.
"""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np

from heatreuse.checks import (
    FloatArray,
    FloatOrArray,
    as_array,
    is_scalar_call,
    non_negative,
    positive,
    require,
    result,
)
from heatreuse.errors import DomainError
from heatreuse.physics.water import (
    PRESSURE_MAX_BAR,
    PRESSURE_MIN_BAR,
    TEMP_MIN_C,
    _check_liquid,
    _evaluate,
    _tsat_c_scalar,
)
from heatreuse.units import J_PER_KWH

MeterLocation = Literal["return", "flow"]

#: Below this temperature difference [K] the coefficient uses rho * cp
#: (the limit of the enthalpy quotient) instead of the quotient itself.
_SMALL_DELTA_T_K = 1.0e-6


def _check_pair(
    flow_temp_c: Any, return_temp_c: Any, meter_in: str, pressure_bar: Any, func: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    if meter_in not in ("return", "flow"):
        raise DomainError(f"{func}: meter_in expected 'return' or 'flow', got {meter_in!r}")
    t_f, p = _check_liquid(flow_temp_c, pressure_bar, func, "flow_temp_c")
    t_r, _ = _check_liquid(return_temp_c, pressure_bar, func, "return_temp_c")
    try:
        shape = np.broadcast_shapes(t_f.shape, t_r.shape, p.shape)
    except ValueError as exc:
        raise DomainError(
            f"{func}: flow_temp_c shape {t_f.shape} and return_temp_c shape {t_r.shape} "
            "do not broadcast"
        ) from exc
    require(
        t_r <= t_f,
        np.broadcast_to(t_r, shape),
        func,
        "return_temp_c",
        "a return temperature not above the flow temperature (heating meter)",
    )
    return t_f, t_r, p


def _scalar_pair(flow_temp_c: Any, return_temp_c: Any, pressure_bar: Any) -> bool:
    """True when all three inputs are plain scalars inside the domain (fast path)."""
    if not (
        isinstance(flow_temp_c, float | int)
        and isinstance(return_temp_c, float | int)
        and isinstance(pressure_bar, float | int)
    ):
        return False
    p = float(pressure_bar)
    if not PRESSURE_MIN_BAR <= p <= PRESSURE_MAX_BAR:
        return False
    return bool(TEMP_MIN_C <= return_temp_c <= flow_temp_c < _tsat_c_scalar(p))


def _coefficient_j_per_m3_k(
    t_f: FloatArray, t_r: FloatArray, meter_in: str, p: FloatArray
) -> FloatArray:
    rho = np.asarray(_evaluate(t_r if meter_in == "return" else t_f, p, "rho"))
    h_f = np.asarray(_evaluate(t_f, p, "h"))
    h_r = np.asarray(_evaluate(t_r, p, "h"))
    delta = t_f - t_r
    small = np.abs(delta) < _SMALL_DELTA_T_K
    if np.any(small):
        cp = np.asarray(_evaluate(0.5 * (t_f + t_r), p, "cp"))
        quotient = np.where(small, cp, (h_f - h_r) / np.where(small, 1.0, delta))
    else:
        quotient = (h_f - h_r) / delta
    out: FloatArray = np.asarray(rho * quotient, dtype=np.float64)
    return out


@overload
def heat_coefficient_kwh_per_m3_k(  # type: ignore[overload-overlap]
    flow_temp_c: float,
    return_temp_c: float,
    meter_in: MeterLocation = "return",
    pressure_bar: float = 6.0,
) -> float: ...
@overload
def heat_coefficient_kwh_per_m3_k(
    flow_temp_c: FloatOrArray,
    return_temp_c: FloatOrArray,
    meter_in: MeterLocation = "return",
    pressure_bar: FloatOrArray = 6.0,
) -> FloatArray: ...
def heat_coefficient_kwh_per_m3_k(
    flow_temp_c: FloatOrArray,
    return_temp_c: FloatOrArray,
    meter_in: MeterLocation = "return",
    pressure_bar: FloatOrArray = 6.0,
) -> FloatOrArray:
    """Heat coefficient (k-factor) of a water heat meter.

    Parameters
    ----------
    flow_temp_c : float or ndarray
        Flow (supply, hot side) temperature theta_f [C].
    return_temp_c : float or ndarray
        Return (cold side) temperature theta_r [C], ``<= flow_temp_c``.
    meter_in : {"return", "flow"}, default "return"
        Pipe the volume-flow sensor sits in; density is taken there.
    pressure_bar : float or ndarray, default 6.0
        Absolute pressure [bar].

    Returns
    -------
    float or ndarray
        k [kWh/(m3 K)]: k = rho_meter * (h_f - h_r) / (theta_f - theta_r);
        for theta_f == theta_r the limit rho_meter * cp.

    References
    ----------
    EN 1434-1:2022 (heat coefficient); IAPWS-95 water properties.

    Examples
    --------
    >>> round(heat_coefficient_kwh_per_m3_k(70.0, 50.0), 4)
    1.1486
    """
    func = "heat_coefficient_kwh_per_m3_k"
    if meter_in in ("return", "flow") and _scalar_pair(flow_temp_c, return_temp_c, pressure_bar):
        t_f, t_r, p = (np.asarray(float(x)) for x in (flow_temp_c, return_temp_c, pressure_bar))
    else:
        t_f, t_r, p = _check_pair(flow_temp_c, return_temp_c, meter_in, pressure_bar, func)
    k = _coefficient_j_per_m3_k(t_f, t_r, meter_in, p) / J_PER_KWH
    return result(k, is_scalar_call(flow_temp_c, return_temp_c, pressure_bar))


@overload
def metered_heat_kwh(  # type: ignore[overload-overlap]
    volume_m3: float,
    flow_temp_c: float,
    return_temp_c: float,
    meter_in: MeterLocation = "return",
    pressure_bar: float = 6.0,
) -> float: ...
@overload
def metered_heat_kwh(
    volume_m3: FloatOrArray,
    flow_temp_c: FloatOrArray,
    return_temp_c: FloatOrArray,
    meter_in: MeterLocation = "return",
    pressure_bar: FloatOrArray = 6.0,
) -> FloatArray: ...
def metered_heat_kwh(
    volume_m3: FloatOrArray,
    flow_temp_c: FloatOrArray,
    return_temp_c: FloatOrArray,
    meter_in: MeterLocation = "return",
    pressure_bar: FloatOrArray = 6.0,
) -> FloatOrArray:
    """Heat carried by a volume of water, as an EN 1434 heat meter computes it.

    Parameters
    ----------
    volume_m3 : float or ndarray
        Volume V counted by the flow sensor in the interval [m3], ``>= 0``.
    flow_temp_c : float or ndarray
        Mean flow temperature in the interval [C].
    return_temp_c : float or ndarray
        Mean return temperature in the interval [C], ``<= flow_temp_c``.
    meter_in : {"return", "flow"}, default "return"
        Pipe the volume-flow sensor sits in.
    pressure_bar : float or ndarray, default 6.0
        Absolute pressure [bar].

    Returns
    -------
    float or ndarray
        Q = V * rho_meter * (h_f - h_r) [kWh], per interval for array input
        (sum it for the period).

    References
    ----------
    EN 1434-1:2022; IAPWS-95 water properties.

    Examples
    --------
    >>> round(metered_heat_kwh(10.0, 70.0, 50.0), 3)
    229.719
    """
    func = "metered_heat_kwh"
    if (
        isinstance(volume_m3, float | int)
        and volume_m3 >= 0.0
        and meter_in in ("return", "flow")
        and _scalar_pair(flow_temp_c, return_temp_c, pressure_bar)
    ):
        v, t_f, t_r, p = (
            np.asarray(float(x)) for x in (volume_m3, flow_temp_c, return_temp_c, pressure_bar)
        )
    else:
        v = non_negative(volume_m3, func, "volume_m3")
        t_f, t_r, p = _check_pair(flow_temp_c, return_temp_c, meter_in, pressure_bar, func)
    rho = np.asarray(_evaluate(t_r if meter_in == "return" else t_f, p, "rho"))
    dh = np.asarray(_evaluate(t_f, p, "h")) - np.asarray(_evaluate(t_r, p, "h"))
    heat = v * rho * dh / J_PER_KWH
    return result(heat, is_scalar_call(volume_m3, flow_temp_c, return_temp_c, pressure_bar))


# ---------------------------------------------------------------------------
# Maximum permissible error (MID 2014/32/EU Annex VI MI-004; EN 1434-1)
# ---------------------------------------------------------------------------

# class -> (constant part [%], coefficient of qp/q [%], cap [%])
_FLOW_SENSOR_MPE: dict[int, tuple[float, float, float]] = {
    1: (1.0, 0.01, 3.5),
    2: (2.0, 0.02, 5.0),
    3: (3.0, 0.05, 5.0),
}


def _check_class(accuracy_class: Any, func: str) -> tuple[float, float, float]:
    if isinstance(accuracy_class, bool) or accuracy_class not in _FLOW_SENSOR_MPE:
        raise DomainError(
            f"{func}: accuracy_class expected 1, 2 or 3 (EN 1434 / MID MI-004), "
            f"got {accuracy_class!r}"
        )
    return _FLOW_SENSOR_MPE[int(accuracy_class)]


@overload
def flow_sensor_mpe_percent(  # type: ignore[overload-overlap]
    accuracy_class: int, qp_m3_per_h: float, q_m3_per_h: float
) -> float: ...
@overload
def flow_sensor_mpe_percent(
    accuracy_class: int, qp_m3_per_h: FloatOrArray, q_m3_per_h: FloatOrArray
) -> FloatArray: ...
def flow_sensor_mpe_percent(
    accuracy_class: int, qp_m3_per_h: FloatOrArray, q_m3_per_h: FloatOrArray
) -> FloatOrArray:
    """Maximum permissible error of the flow sensor of a heat meter.

    Parameters
    ----------
    accuracy_class : {1, 2, 3}
        Accuracy class of the flow sensor.
    qp_m3_per_h : float or ndarray
        Permanent flow rate qp [m3/h], ``> 0``.
    q_m3_per_h : float or ndarray
        Actual flow rate q [m3/h], ``> 0``.

    Returns
    -------
    float or ndarray
        E_f [%]: class 1: 1 + 0.01 qp/q, at most 3.5; class 2: 2 + 0.02 qp/q,
        at most 5; class 3: 3 + 0.05 qp/q, at most 5.

    References
    ----------
    Directive 2014/32/EU (MID), Annex VI (MI-004), 3.1; EN 1434-1:2022.
    """
    func = "flow_sensor_mpe_percent"
    base, slope, cap = _check_class(accuracy_class, func)
    qp = positive(qp_m3_per_h, func, "qp_m3_per_h")
    q = positive(q_m3_per_h, func, "q_m3_per_h")
    e_f = np.minimum(base + slope * qp / q, cap)
    return result(e_f, is_scalar_call(qp_m3_per_h, q_m3_per_h))


def _check_delta_t(delta_t_k: Any, delta_t_min_k: Any, func: str) -> tuple[FloatArray, FloatArray]:
    dt_min = positive(delta_t_min_k, func, "delta_t_min_k")
    dt = as_array(delta_t_k, func, "delta_t_k")
    require(
        dt >= dt_min,
        np.broadcast_to(dt, np.broadcast_shapes(dt.shape, dt_min.shape)),
        func,
        "delta_t_k",
        "a temperature difference within the meter's rated range, delta_t_k >= delta_t_min_k "
        "(below it the MPE is not defined: flag the interval instead)",
    )
    return dt, dt_min


@overload
def temperature_pair_mpe_percent(delta_t_k: float, delta_t_min_k: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def temperature_pair_mpe_percent(
    delta_t_k: FloatOrArray, delta_t_min_k: FloatOrArray
) -> FloatArray: ...
def temperature_pair_mpe_percent(
    delta_t_k: FloatOrArray, delta_t_min_k: FloatOrArray
) -> FloatOrArray:
    """Maximum permissible error of the temperature sensor pair.

    Parameters
    ----------
    delta_t_k : float or ndarray
        Temperature difference flow - return [K], ``>= delta_t_min_k``.
    delta_t_min_k : float or ndarray
        Lower limit of the temperature difference of the meter [K], ``> 0``.

    Returns
    -------
    float or ndarray
        E_t = 0.5 + 3 * delta_t_min / delta_t [%].

    References
    ----------
    Directive 2014/32/EU (MID), Annex VI (MI-004), 3.2; EN 1434-1:2022.
    """
    func = "temperature_pair_mpe_percent"
    dt, dt_min = _check_delta_t(delta_t_k, delta_t_min_k, func)
    return result(0.5 + 3.0 * dt_min / dt, is_scalar_call(delta_t_k, delta_t_min_k))


@overload
def calculator_mpe_percent(delta_t_k: float, delta_t_min_k: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def calculator_mpe_percent(delta_t_k: FloatOrArray, delta_t_min_k: FloatOrArray) -> FloatArray: ...
def calculator_mpe_percent(delta_t_k: FloatOrArray, delta_t_min_k: FloatOrArray) -> FloatOrArray:
    """Maximum permissible error of the heat-meter calculator.

    Parameters
    ----------
    delta_t_k : float or ndarray
        Temperature difference flow - return [K], ``>= delta_t_min_k``.
    delta_t_min_k : float or ndarray
        Lower limit of the temperature difference of the meter [K], ``> 0``.

    Returns
    -------
    float or ndarray
        E_c = 0.5 + delta_t_min / delta_t [%].

    References
    ----------
    Directive 2014/32/EU (MID), Annex VI (MI-004), 3.3; EN 1434-1:2022.
    """
    func = "calculator_mpe_percent"
    dt, dt_min = _check_delta_t(delta_t_k, delta_t_min_k, func)
    return result(0.5 + dt_min / dt, is_scalar_call(delta_t_k, delta_t_min_k))


@overload
def heat_meter_mpe_percent(  # type: ignore[overload-overlap]
    accuracy_class: int,
    qp_m3_per_h: float,
    q_m3_per_h: float,
    delta_t_k: float,
    delta_t_min_k: float,
) -> float: ...
@overload
def heat_meter_mpe_percent(
    accuracy_class: int,
    qp_m3_per_h: FloatOrArray,
    q_m3_per_h: FloatOrArray,
    delta_t_k: FloatOrArray,
    delta_t_min_k: FloatOrArray,
) -> FloatArray: ...
def heat_meter_mpe_percent(
    accuracy_class: int,
    qp_m3_per_h: FloatOrArray,
    q_m3_per_h: FloatOrArray,
    delta_t_k: FloatOrArray,
    delta_t_min_k: FloatOrArray,
) -> FloatOrArray:
    """Maximum permissible error of a complete heat meter.

    Parameters
    ----------
    accuracy_class : {1, 2, 3}
        Accuracy class (of the flow sensor, which sets the meter's class).
    qp_m3_per_h : float or ndarray
        Permanent flow rate qp [m3/h], ``> 0``.
    q_m3_per_h : float or ndarray
        Actual flow rate q [m3/h], ``> 0``.
    delta_t_k : float or ndarray
        Temperature difference flow - return [K], ``>= delta_t_min_k``.
    delta_t_min_k : float or ndarray
        Lower limit of the temperature difference of the meter [K], ``> 0``.

    Returns
    -------
    float or ndarray
        E = E_f + E_t + E_c [%], the arithmetic sum of the sub-assembly MPEs
        (:func:`flow_sensor_mpe_percent`, :func:`temperature_pair_mpe_percent`,
        :func:`calculator_mpe_percent`). A symmetric bound: the reading lies
        within +-E % of the true heat for a meter in specification.

    References
    ----------
    Directive 2014/32/EU (MID), Annex VI (MI-004), 3 and 4 (complete meter:
    arithmetic sum); EN 1434-1:2022.

    Examples
    --------
    >>> round(heat_meter_mpe_percent(2, 1.5, 0.75, 20.0, 3.0), 3)
    3.64
    """
    e_f = flow_sensor_mpe_percent(accuracy_class, np.asarray(qp_m3_per_h), np.asarray(q_m3_per_h))
    e_t = temperature_pair_mpe_percent(np.asarray(delta_t_k), np.asarray(delta_t_min_k))
    e_c = calculator_mpe_percent(np.asarray(delta_t_k), np.asarray(delta_t_min_k))
    total = e_f + e_t + e_c
    return result(total, is_scalar_call(qp_m3_per_h, q_m3_per_h, delta_t_k, delta_t_min_k))


@overload
def heat_meter_mpe_kwh(  # type: ignore[overload-overlap]
    heat_kwh: float,
    accuracy_class: int,
    qp_m3_per_h: float,
    q_m3_per_h: float,
    delta_t_k: float,
    delta_t_min_k: float,
) -> float: ...
@overload
def heat_meter_mpe_kwh(
    heat_kwh: FloatOrArray,
    accuracy_class: int,
    qp_m3_per_h: FloatOrArray,
    q_m3_per_h: FloatOrArray,
    delta_t_k: FloatOrArray,
    delta_t_min_k: FloatOrArray,
) -> FloatArray: ...
def heat_meter_mpe_kwh(
    heat_kwh: FloatOrArray,
    accuracy_class: int,
    qp_m3_per_h: FloatOrArray,
    q_m3_per_h: FloatOrArray,
    delta_t_k: FloatOrArray,
    delta_t_min_k: FloatOrArray,
) -> FloatOrArray:
    """Absolute uncertainty bound of metered heat from the meter's MPE.

    Parameters
    ----------
    heat_kwh : float or ndarray
        Metered heat per interval [kWh], ``>= 0``.
    accuracy_class : {1, 2, 3}
        Accuracy class of the meter.
    qp_m3_per_h, q_m3_per_h, delta_t_k, delta_t_min_k : float or ndarray
        As in :func:`heat_meter_mpe_percent`, for each interval.

    Returns
    -------
    float or ndarray
        U = heat_kwh * E / 100 [kWh], the half-width of the interval the true
        heat lies in for a meter within specification. For a period, summing
        the per-interval bounds gives a worst-case (fully correlated) bound,
        which is the conservative choice for a ledger.

    References
    ----------
    Directive 2014/32/EU (MID), Annex VI (MI-004); EN 1434-1:2022.

    Examples
    --------
    >>> round(heat_meter_mpe_kwh(1000.0, 2, 1.5, 0.75, 20.0, 3.0), 1)
    36.4
    """
    func = "heat_meter_mpe_kwh"
    heat = non_negative(heat_kwh, func, "heat_kwh")
    e = heat_meter_mpe_percent(
        accuracy_class,
        np.asarray(qp_m3_per_h),
        np.asarray(q_m3_per_h),
        np.asarray(delta_t_k),
        np.asarray(delta_t_min_k),
    )
    return result(
        heat * e / 100.0,
        is_scalar_call(heat_kwh, qp_m3_per_h, q_m3_per_h, delta_t_k, delta_t_min_k),
    )
