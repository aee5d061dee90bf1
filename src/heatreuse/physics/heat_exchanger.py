"""Heat exchangers: effectiveness-NTU, LMTD and fouling.

Sign convention: heat flows from the hot to the cold stream; heat rates and
temperature differences are positive.

References
----------
T. L. Bergman, A. S. Lavine, F. P. Incropera, D. P. DeWitt, *Fundamentals of
Heat and Mass Transfer*, 7th ed., Wiley 2011, sections 11.2-11.4 (overall
coefficient with fouling, eq. 11.5; LMTD, eq. 11.15; effectiveness relations,
Table 11.3).
"""

from __future__ import annotations

from typing import Literal, overload

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

Arrangement = Literal["counterflow", "parallel"]

#: |1 - C_r| below which the counterflow formula switches to its C_r = 1 limit.
_BALANCED_TOL = 1.0e-9


def _ntu_cr(ntu: object, capacity_ratio: object, func: str) -> tuple[FloatArray, FloatArray]:
    n = non_negative(ntu, func, "ntu")
    cr = as_array(capacity_ratio, func, "capacity_ratio")
    require(
        (cr >= 0.0) & (cr <= 1.0),
        cr,
        func,
        "capacity_ratio",
        "C_min / C_max in [0, 1]",
    )
    return n, cr


@overload
def hx_effectiveness_counterflow(ntu: float, capacity_ratio: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def hx_effectiveness_counterflow(ntu: FloatOrArray, capacity_ratio: FloatOrArray) -> FloatArray: ...
def hx_effectiveness_counterflow(ntu: FloatOrArray, capacity_ratio: FloatOrArray) -> FloatOrArray:
    """Effectiveness of a counterflow heat exchanger.

    Parameters
    ----------
    ntu : float or ndarray
        Number of transfer units NTU = UA / C_min [-], ``>= 0``.
    capacity_ratio : float or ndarray
        C_r = C_min / C_max [-], in ``[0, 1]``.

    Returns
    -------
    float or ndarray
        epsilon = (1 - exp(-NTU (1 - C_r))) / (1 - C_r exp(-NTU (1 - C_r)));
        for C_r = 1: NTU / (1 + NTU) [-].

    References
    ----------
    Bergman et al., Fundamentals of Heat and Mass Transfer, 7th ed.,
    Table 11.3, eqs. 11.29a and 11.29b.

    Examples
    --------
    >>> round(hx_effectiveness_counterflow(2.0, 0.5), 4)
    0.7746
    """
    func = "hx_effectiveness_counterflow"
    n, cr = _ntu_cr(ntu, capacity_ratio, func)
    balanced = np.abs(1.0 - cr) < _BALANCED_TOL
    cr_safe = np.where(balanced, 0.5, cr)
    # 1 - e^-x written with expm1 so that C_r close to 1 loses no digits:
    # 1 - C_r e^-x = (1 - C_r) + C_r (1 - e^-x).
    one_minus_e = -np.expm1(-n * (1.0 - cr_safe))
    eps = np.where(balanced, n / (1.0 + n), one_minus_e / ((1.0 - cr_safe) + cr_safe * one_minus_e))
    return result(eps, is_scalar_call(ntu, capacity_ratio))


@overload
def hx_effectiveness_parallel(ntu: float, capacity_ratio: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def hx_effectiveness_parallel(ntu: FloatOrArray, capacity_ratio: FloatOrArray) -> FloatArray: ...
def hx_effectiveness_parallel(ntu: FloatOrArray, capacity_ratio: FloatOrArray) -> FloatOrArray:
    """Effectiveness of a parallel-flow heat exchanger.

    Parameters
    ----------
    ntu : float or ndarray
        NTU = UA / C_min [-], ``>= 0``.
    capacity_ratio : float or ndarray
        C_r = C_min / C_max [-], in ``[0, 1]``.

    Returns
    -------
    float or ndarray
        epsilon = (1 - exp(-NTU (1 + C_r))) / (1 + C_r) [-].

    References
    ----------
    Bergman et al., Fundamentals of Heat and Mass Transfer, 7th ed.,
    Table 11.3, eq. 11.28a.
    """
    func = "hx_effectiveness_parallel"
    n, cr = _ntu_cr(ntu, capacity_ratio, func)
    eps = (1.0 - np.exp(-n * (1.0 + cr))) / (1.0 + cr)
    return result(eps, is_scalar_call(ntu, capacity_ratio))


@overload
def hx_effectiveness(  # type: ignore[overload-overlap]
    ntu: float, capacity_ratio: float, arrangement: Arrangement = "counterflow"
) -> float: ...
@overload
def hx_effectiveness(
    ntu: FloatOrArray, capacity_ratio: FloatOrArray, arrangement: Arrangement = "counterflow"
) -> FloatArray: ...
def hx_effectiveness(
    ntu: FloatOrArray, capacity_ratio: FloatOrArray, arrangement: Arrangement = "counterflow"
) -> FloatOrArray:
    """Effectiveness of a heat exchanger by flow arrangement.

    Parameters
    ----------
    ntu : float or ndarray
        NTU = UA / C_min [-].
    capacity_ratio : float or ndarray
        C_min / C_max [-].
    arrangement : {"counterflow", "parallel"}
        Flow arrangement. A plate heat exchanger with many plates is close
        to counterflow.

    Returns
    -------
    float or ndarray
        epsilon [-], see :func:`hx_effectiveness_counterflow` and
        :func:`hx_effectiveness_parallel`.

    References
    ----------
    Bergman et al., Fundamentals of Heat and Mass Transfer, 7th ed., Table 11.3.
    """
    if arrangement == "counterflow":
        return hx_effectiveness_counterflow(ntu, capacity_ratio)
    if arrangement == "parallel":
        return hx_effectiveness_parallel(ntu, capacity_ratio)
    raise DomainError(
        f"hx_effectiveness: arrangement expected 'counterflow' or 'parallel', got {arrangement!r}"
    )


@overload
def hx_ntu(ua_w_per_k: float, c_min_w_per_k: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def hx_ntu(ua_w_per_k: FloatOrArray, c_min_w_per_k: FloatOrArray) -> FloatArray: ...
def hx_ntu(ua_w_per_k: FloatOrArray, c_min_w_per_k: FloatOrArray) -> FloatOrArray:
    """Number of transfer units.

    Parameters
    ----------
    ua_w_per_k : float or ndarray
        Overall conductance UA [W/K], ``>= 0``.
    c_min_w_per_k : float or ndarray
        Smaller heat-capacity rate C_min = min(mdot cp) [W/K], ``> 0``.

    Returns
    -------
    float or ndarray
        NTU = UA / C_min [-].

    References
    ----------
    Bergman et al., Fundamentals of Heat and Mass Transfer, 7th ed., eq. 11.24.
    """
    func = "hx_ntu"
    ua = non_negative(ua_w_per_k, func, "ua_w_per_k")
    c_min = positive(c_min_w_per_k, func, "c_min_w_per_k")
    return result(ua / c_min, is_scalar_call(ua_w_per_k, c_min_w_per_k))


@overload
def hx_heat_rate_w(  # type: ignore[overload-overlap]
    effectiveness: float, c_min_w_per_k: float, hot_in_temp_c: float, cold_in_temp_c: float
) -> float: ...
@overload
def hx_heat_rate_w(
    effectiveness: FloatOrArray,
    c_min_w_per_k: FloatOrArray,
    hot_in_temp_c: FloatOrArray,
    cold_in_temp_c: FloatOrArray,
) -> FloatArray: ...
def hx_heat_rate_w(
    effectiveness: FloatOrArray,
    c_min_w_per_k: FloatOrArray,
    hot_in_temp_c: FloatOrArray,
    cold_in_temp_c: FloatOrArray,
) -> FloatOrArray:
    """Heat rate transferred by a heat exchanger.

    Parameters
    ----------
    effectiveness : float or ndarray
        epsilon in ``[0, 1]``.
    c_min_w_per_k : float or ndarray
        Smaller heat-capacity rate [W/K], ``>= 0``.
    hot_in_temp_c, cold_in_temp_c : float or ndarray
        Inlet temperatures of the hot and cold stream [C]. If the "hot"
        inlet is colder than the "cold" inlet the result is negative (heat
        flows the other way).

    Returns
    -------
    float or ndarray
        q = epsilon C_min (T_h,in - T_c,in) [W].

    References
    ----------
    Bergman et al., Fundamentals of Heat and Mass Transfer, 7th ed., eq. 11.22.
    """
    func = "hx_heat_rate_w"
    eps = as_array(effectiveness, func, "effectiveness")
    require((eps >= 0.0) & (eps <= 1.0), eps, func, "effectiveness", "a value in [0, 1]")
    c_min = non_negative(c_min_w_per_k, func, "c_min_w_per_k")
    t_h = as_array(hot_in_temp_c, func, "hot_in_temp_c")
    t_c = as_array(cold_in_temp_c, func, "cold_in_temp_c")
    q = eps * c_min * (t_h - t_c)
    return result(q, is_scalar_call(effectiveness, c_min_w_per_k, hot_in_temp_c, cold_in_temp_c))


@overload
def hx_ua_with_fouling_w_per_k(  # type: ignore[overload-overlap]
    ua_clean_w_per_k: float, fouling_factor_m2_k_per_w: float, area_m2: float
) -> float: ...
@overload
def hx_ua_with_fouling_w_per_k(
    ua_clean_w_per_k: FloatOrArray,
    fouling_factor_m2_k_per_w: FloatOrArray,
    area_m2: FloatOrArray,
) -> FloatArray: ...
def hx_ua_with_fouling_w_per_k(
    ua_clean_w_per_k: FloatOrArray,
    fouling_factor_m2_k_per_w: FloatOrArray,
    area_m2: FloatOrArray,
) -> FloatOrArray:
    """Overall conductance of a fouled heat exchanger.

    Parameters
    ----------
    ua_clean_w_per_k : float or ndarray
        Conductance when clean, UA_clean [W/K], ``> 0``.
    fouling_factor_m2_k_per_w : float or ndarray
        Total fouling resistance R''_f (both sides, referred to ``area_m2``)
        [m2 K/W], ``>= 0``. Typical for treated closed-loop water:
        0.0001-0.0002 m2 K/W (TEMA).
    area_m2 : float or ndarray
        Heat-transfer area the fouling factor refers to [m2], ``> 0``.

    Returns
    -------
    float or ndarray
        UA = 1 / (1 / UA_clean + R''_f / A) [W/K].

    References
    ----------
    Bergman et al., Fundamentals of Heat and Mass Transfer, 7th ed., eq. 11.5
    (fouling resistances in series with the clean resistance).

    Examples
    --------
    >>> round(hx_ua_with_fouling_w_per_k(10000.0, 0.0002, 10.0), 1)
    8333.3
    """
    func = "hx_ua_with_fouling_w_per_k"
    ua = positive(ua_clean_w_per_k, func, "ua_clean_w_per_k")
    r_f = non_negative(fouling_factor_m2_k_per_w, func, "fouling_factor_m2_k_per_w")
    area = positive(area_m2, func, "area_m2")
    out = 1.0 / (1.0 / ua + r_f / area)
    return result(out, is_scalar_call(ua_clean_w_per_k, fouling_factor_m2_k_per_w, area_m2))


@overload
def lmtd_k(delta_t_1_k: float, delta_t_2_k: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def lmtd_k(delta_t_1_k: FloatOrArray, delta_t_2_k: FloatOrArray) -> FloatArray: ...
def lmtd_k(delta_t_1_k: FloatOrArray, delta_t_2_k: FloatOrArray) -> FloatOrArray:
    """Log-mean temperature difference of the two terminal differences.

    Parameters
    ----------
    delta_t_1_k, delta_t_2_k : float or ndarray
        Hot-minus-cold temperature differences at the two ends [K], ``> 0``.
        Counterflow: dT1 = T_h,in - T_c,out, dT2 = T_h,out - T_c,in;
        parallel flow: dT1 = T_h,in - T_c,in, dT2 = T_h,out - T_c,out.

    Returns
    -------
    float or ndarray
        LMTD = (dT1 - dT2) / ln(dT1 / dT2); dT1 when dT1 == dT2 [K].

    References
    ----------
    Bergman et al., Fundamentals of Heat and Mass Transfer, 7th ed.,
    eqs. 11.15-11.18.

    Examples
    --------
    >>> round(lmtd_k(20.0, 10.0), 3)
    14.427
    """
    func = "lmtd_k"
    d1 = positive(delta_t_1_k, func, "delta_t_1_k")
    d2 = positive(delta_t_2_k, func, "delta_t_2_k")
    ratio = d1 / d2
    close = np.abs(ratio - 1.0) < 1.0e-6
    log_ratio = np.log(np.where(close, 2.0, ratio))
    # Second-order series near equal differences: LMTD ~ (d1 + d2) / 2.
    out = np.where(close, 0.5 * (d1 + d2), (d1 - d2) / log_ratio)
    return result(out, is_scalar_call(delta_t_1_k, delta_t_2_k))


#: Bisection steps of :func:`hx_throttled_hot_outlet_temp_c` (2^-60 of the bracket).
_THROTTLE_BISECTIONS = 60


@overload
def hx_throttled_hot_outlet_temp_c(  # type: ignore[overload-overlap]
    heat_w: float, ua_w_per_k: float, hot_in_temp_c: float, cold_temp_c: float
) -> float: ...
@overload
def hx_throttled_hot_outlet_temp_c(
    heat_w: FloatOrArray,
    ua_w_per_k: FloatOrArray,
    hot_in_temp_c: FloatOrArray,
    cold_temp_c: FloatOrArray,
) -> FloatArray: ...
def hx_throttled_hot_outlet_temp_c(
    heat_w: FloatOrArray,
    ua_w_per_k: FloatOrArray,
    hot_in_temp_c: FloatOrArray,
    cold_temp_c: FloatOrArray,
) -> FloatOrArray:
    """Hot-side outlet of an exchanger whose hot flow is throttled to pass ``heat_w``.

    The cold stream's heat-capacity rate is taken as much larger than the hot
    one's (C_r -> 0: it stays at ``cold_temp_c``, e.g. a pool's filtration
    circulation of ~150 m3/h against a heating flow of a few m3/h). A valve
    sets the hot flow C_h = mdot cp so that the exchanger of conductance UA
    passes the heat q. With NTU = UA / C_h and epsilon = 1 - exp(-NTU)
    (C_r = 0, Bergman et al. Table 11.3, eq. 11.35a):

    q = C_h (T_h,in - T_c) (1 - exp(-NTU)), T_h,out = T_c + (T_h,in - T_c) exp(-NTU).

    So at low load the flow is small, NTU large and the return approaches the
    cold stream; near the exchanger's limit q -> UA (T_h,in - T_c) the flow
    grows without bound and the return approaches the supply. Solved for
    u = exp(-NTU) in (0, 1) by bisection of q / (UA dT) = (1 - u) / (-ln u),
    which rises monotonically from 0 to 1.

    Parameters
    ----------
    heat_w : float or ndarray
        Heat passed [W], ``>= 0``.
    ua_w_per_k : float or ndarray
        Conductance UA [W/K], ``> 0``.
    hot_in_temp_c : float or ndarray
        Hot inlet (supply) temperature [C].
    cold_temp_c : float or ndarray
        Cold stream temperature [C].

    Returns
    -------
    float or ndarray
        T_h,out [C], between ``cold_temp_c`` (no load) and ``hot_in_temp_c``
        (q at or above UA (T_h,in - T_c), which the exchanger cannot pass at
        that supply). Where the supply is not above the cold stream the
        exchanger passes nothing and the outlet equals the inlet.

    References
    ----------
    Bergman et al., Fundamentals of Heat and Mass Transfer, 7th ed., eqs.
    11.22 and 11.24, Table 11.3 (C_r = 0).

    Examples
    --------
    >>> round(hx_throttled_hot_outlet_temp_c(5000.0, 1000.0, 45.0, 28.0), 3)
    28.646
    """
    func = "hx_throttled_hot_outlet_temp_c"
    q = non_negative(heat_w, func, "heat_w")
    ua = positive(ua_w_per_k, func, "ua_w_per_k")
    t_in = as_array(hot_in_temp_c, func, "hot_in_temp_c")
    t_c = as_array(cold_temp_c, func, "cold_temp_c")
    q, ua, t_in, t_c = np.broadcast_arrays(q, ua, t_in, t_c)
    d_t = t_in - t_c
    ok = d_t > 0.0
    ratio = np.where(ok, q / (ua * np.where(ok, d_t, 1.0)), 1.0)
    ratio = np.clip(ratio, 0.0, 1.0)
    lo = np.zeros(ratio.shape)
    hi = np.ones(ratio.shape)
    for _ in range(_THROTTLE_BISECTIONS):
        u = 0.5 * (lo + hi)
        # (1 - u) / (-ln u), with log1p so that u near 1 keeps its digits; -> 1 as u -> 1
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(u < 1.0, (1.0 - u) / -np.log1p(u - 1.0), 1.0)
        below = g < ratio
        lo = np.where(below, u, lo)
        hi = np.where(below, hi, u)
    u = np.where(ratio >= 1.0, 1.0, np.where(ratio <= 0.0, 0.0, 0.5 * (lo + hi)))
    out = np.where(ok, t_c + d_t * u, t_in)
    return result(out, is_scalar_call(heat_w, ua_w_per_k, hot_in_temp_c, cold_temp_c))
