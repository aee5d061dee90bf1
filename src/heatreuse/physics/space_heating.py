"""Hourly space-heating demand that reduces exactly to Eurostat degree days.

For each local calendar day d with hours i (n_d of them) and hourly outdoor
temperatures T_i, the day's heat is the degree-day heat

    E_d = H * n_d * (T_base - mean_i T_i)   if mean_i T_i <= T_threshold, else 0   [Wh]

(for a 24-hour day E_d = H * HDD_d * 24, the ``standards.md`` degree-day
formula), spread over the hours in proportion to max(T_base - T_i, 0):

    P_i = E_d * w_i / sum_i w_i,   w_i = max(T_base - T_i, 0)   [W over one hour]

When every hour of a heating day is below the base temperature this is
exactly the hourly heat-loss model P_i = H * (T_base - T_i); on mild hours of a
heating day it never goes negative, and the daily sum is always the degree-day
value. T_base (18 C) stands for the indoor temperature minus the free heat of
occupants, appliances and sun (Eurostat; CIBSE TM41:2006, "Degree-days:
theory and application", section 2).

References
----------
.. [1] Eurostat, "Energy statistics - cooling and heating degree days
   (nrg_chdd)", reference metadata.
.. [2] CIBSE TM41 (2006). Degree-days: theory and application.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from heatreuse.checks import FloatArray, as_array, non_negative, require
from heatreuse.errors import DomainError
from heatreuse.physics.degree_days import (
    EUROSTAT_BASE_TEMP_C,
    EUROSTAT_THRESHOLD_TEMP_C,
    heating_degree_days,
)


def space_heating_power_w(
    air_temp_c: npt.ArrayLike,
    day_index: npt.ArrayLike,
    heat_loss_coefficient_w_per_k: float,
    base_temp_c: float = EUROSTAT_BASE_TEMP_C,
    threshold_temp_c: float = EUROSTAT_THRESHOLD_TEMP_C,
) -> FloatArray:
    """Space-heating power per time step, degree-day consistent.

    Parameters
    ----------
    air_temp_c : array_like
        Outdoor temperature per step [C] (equal-length steps).
    day_index : array_like of int
        Local calendar day of each step (any integer label; steps with the
        same label form one day). Same length as ``air_temp_c``.
    heat_loss_coefficient_w_per_k : float
        Heat-loss coefficient H [W/K], ``>= 0``.
    base_temp_c : float, default 18
        Degree-day base temperature [C].
    threshold_temp_c : float, default 15
        Heating threshold on the daily mean [C], ``<= base_temp_c``.

    Returns
    -------
    ndarray
        Heat demand [W] per step, ``>= 0``. Over each day,
        sum(P_i) = H * n_d * max(T_base - mean T, 0) gated by the threshold;
        with hourly steps and 24-hour days, sum(P_i) [Wh] = H * HDD * 24.

    Raises
    ------
    DomainError
        Mismatched lengths, H < 0, threshold above base.
    """
    func = "space_heating_power_w"
    t = np.atleast_1d(as_array(air_temp_c, func, "air_temp_c"))
    days = np.atleast_1d(np.asarray(day_index))
    if days.shape != t.shape:
        raise DomainError(
            f"{func}: day_index expected the shape of air_temp_c {t.shape}, got {days.shape}"
        )
    h = float(non_negative(heat_loss_coefficient_w_per_k, func, "heat_loss_coefficient_w_per_k"))
    base = float(base_temp_c)
    threshold = as_array(threshold_temp_c, func, "threshold_temp_c")
    require(threshold <= base, threshold, func, "threshold_temp_c", "at or below base_temp_c")
    if t.size == 0:
        return np.zeros(0, dtype=np.float64)
    _, inverse = np.unique(days, return_inverse=True)
    inverse = inverse.ravel()
    n = np.bincount(inverse).astype(np.float64)
    mean = np.bincount(inverse, weights=t) / n
    # the Eurostat degree-day rule itself, so hourly demand sums to H x HDD x 24 per day
    day_energy = (
        h * n * heating_degree_days(mean, base_temp_c=base, threshold_temp_c=float(threshold))
    )
    w = np.maximum(base - t, 0.0)
    w_sum = np.bincount(inverse, weights=w)
    share = np.divide(w, w_sum[inverse], out=np.zeros_like(w), where=w_sum[inverse] > 0.0)
    out: FloatArray = day_energy[inverse] * share
    return out


def space_heating_return_temp_c(
    supply_temp_c: npt.ArrayLike,
    load_fraction: npt.ArrayLike,
    design_delta_t_k: float,
    indoor_temp_c: float,
) -> FloatArray:
    """Return temperature of a constant-flow heating circuit.

    Parameters
    ----------
    supply_temp_c : array_like
        Supply temperature [C].
    load_fraction : array_like
        Heat load relative to design [-], ``0..1``.
    design_delta_t_k : float
        Supply-return spread at design load [K], ``>= 0`` (e.g. 10 K for a
        55/45 C radiator system).
    indoor_temp_c : float
        Room temperature [C]; the return never falls below it.

    Returns
    -------
    ndarray
        T_r = max(T_s - dT_design * f, T_indoor) [C]: with constant flow the
        spread scales with the load (Recknagel, Taschenbuch fuer Heizung und
        Klimatechnik, ch. 2, heating-circuit control).
    """
    func = "space_heating_return_temp_c"
    ts = as_array(supply_temp_c, func, "supply_temp_c")
    f = as_array(load_fraction, func, "load_fraction")
    require((f >= 0.0) & (f <= 1.0), f, func, "load_fraction", "a fraction 0..1")
    dt = float(non_negative(design_delta_t_k, func, "design_delta_t_k"))
    out: FloatArray = np.asarray(np.maximum(ts - dt * f, float(indoor_temp_c)), dtype=np.float64)
    return out
