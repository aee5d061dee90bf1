"""Heating degree days, Eurostat rule.

HDD_day = T_base - T_mean  if T_mean <= T_threshold, else 0,

with T_base = 18 C and T_threshold = 15 C (Eurostat, "Heating degree days",
metadata of dataset nrg_chdd_a; method by the Joint Research Centre, AGRI4CAST).
Eurostat uses T_mean = (T_min + T_max) / 2 of the day; the functions here take
whatever daily mean the caller gives (the hourly demand models use the mean of
the hours of a local calendar day). Space-heating energy: Q = H * HDD * 24 [Wh]
with H the heat-loss coefficient [W/K] (``standards.md``, "Heat demand").
"""

from __future__ import annotations

from typing import overload

import numpy as np

from heatreuse.checks import (
    FloatArray,
    FloatOrArray,
    as_array,
    is_scalar_call,
    require,
    result,
)

#: Eurostat base temperature [C].
EUROSTAT_BASE_TEMP_C = 18.0
#: Eurostat heating threshold [C]: days with a mean above it count zero.
EUROSTAT_THRESHOLD_TEMP_C = 15.0


@overload
def heating_degree_days(  # type: ignore[overload-overlap]
    daily_mean_temp_c: float,
    base_temp_c: float = EUROSTAT_BASE_TEMP_C,
    threshold_temp_c: float = EUROSTAT_THRESHOLD_TEMP_C,
) -> float: ...
@overload
def heating_degree_days(
    daily_mean_temp_c: FloatOrArray,
    base_temp_c: FloatOrArray = EUROSTAT_BASE_TEMP_C,
    threshold_temp_c: FloatOrArray = EUROSTAT_THRESHOLD_TEMP_C,
) -> FloatArray: ...
def heating_degree_days(
    daily_mean_temp_c: FloatOrArray,
    base_temp_c: FloatOrArray = EUROSTAT_BASE_TEMP_C,
    threshold_temp_c: FloatOrArray = EUROSTAT_THRESHOLD_TEMP_C,
) -> FloatOrArray:
    """Heating degree days per day, Eurostat rule.

    Parameters
    ----------
    daily_mean_temp_c : float or ndarray
        Daily mean outdoor temperature [C], one value per day.
    base_temp_c : float or ndarray, default 18
        Base temperature [C].
    threshold_temp_c : float or ndarray, default 15
        Heating threshold [C], ``<= base_temp_c``.

    Returns
    -------
    float or ndarray
        HDD per day [K d]: ``base - T_mean`` where ``T_mean <= threshold``,
        else 0. Sum the array for a period total.

    References
    ----------
    Eurostat, "Energy statistics - cooling and heating degree days
    (nrg_chdd)", reference metadata, section 3.4 (methodology).

    Examples
    --------
    >>> heating_degree_days(10.0), heating_degree_days(15.0), heating_degree_days(16.0)
    (8.0, 3.0, 0.0)
    """
    func = "heating_degree_days"
    t = as_array(daily_mean_temp_c, func, "daily_mean_temp_c")
    base = as_array(base_temp_c, func, "base_temp_c")
    threshold = as_array(threshold_temp_c, func, "threshold_temp_c")
    require(threshold <= base, threshold, func, "threshold_temp_c", "at or below base_temp_c")
    hdd = np.where(t <= threshold, base - t, 0.0)
    return result(
        np.asarray(hdd, dtype=np.float64),
        is_scalar_call(daily_mean_temp_c, base_temp_c, threshold_temp_c),
    )
