"""Stratified buffer tanks: stored heat of layers and standing heat loss.

Pure helpers only; the time-stepping of a stratified tank lives in the
simulation engine. A tank of volume V is split into n layers of equal volume
V/n; layer temperatures are given along the last array axis (top to bottom or
bottom to top, the order does not matter here).

References
----------
J. A. Duffie, W. A. Beckman, *Solar Engineering of Thermal Processes*, 4th ed.,
Wiley 2013, section 8.4 (stratified storage: multi-node model, loss
U A (T_i - T_amb) per node). Water properties: IAPWS-95
(:mod:`heatreuse.physics.water`).
"""

from __future__ import annotations

import numpy as np

from heatreuse.checks import (
    FloatArray,
    FloatOrArray,
    as_array,
    non_negative,
    require,
    result,
)
from heatreuse.physics.water import _check_liquid, _evaluate
from heatreuse.units import J_PER_KWH


def _layers(layer_temps_c: object, func: str) -> FloatArray:
    t = as_array(layer_temps_c, func, "layer_temps_c")
    if t.ndim == 0 or t.shape[-1] == 0:
        require(
            False, t, func, "layer_temps_c", "an array with at least one layer on its last axis"
        )
    return t


def tank_stored_heat_kwh(
    layer_temps_c: FloatArray,
    volume_m3: float,
    reference_temp_c: FloatOrArray,
    pressure_bar: float = 6.0,
) -> FloatOrArray:
    """Heat stored in a layered tank above a reference temperature.

    Parameters
    ----------
    layer_temps_c : ndarray
        Layer temperatures [C], layers on the last axis, shape ``(..., n)``.
    volume_m3 : float
        Total water volume of the tank [m3], ``>= 0``; each layer holds V/n.
    reference_temp_c : float or ndarray
        Temperature the stored heat is counted from [C], e.g. the customer's
        return temperature (heat below it is not usable). Broadcasts against
        ``layer_temps_c[..., 0]``.
    pressure_bar : float, default 6.0
        Absolute pressure [bar].

    Returns
    -------
    float or ndarray
        E = sum_i rho(T_i) (V / n) (h(T_i) - h(T_ref)) [kWh]; ``float`` for a
        1-D layer vector, an array of shape ``(...)`` otherwise. Negative if
        the tank is colder than the reference.

    References
    ----------
    Duffie & Beckman, 4th ed., section 8.4; IAPWS-95.

    Examples
    --------
    >>> import numpy as np
    >>> round(tank_stored_heat_kwh(np.array([60.0, 50.0, 40.0]), 3.0, 40.0), 2)
    34.31
    """
    func = "tank_stored_heat_kwh"
    t = _layers(layer_temps_c, func)
    vol = non_negative(volume_m3, func, "volume_m3")
    t, p = _check_liquid(t, pressure_bar, func, "layer_temps_c")
    t_ref, _ = _check_liquid(reference_temp_c, p, func, "reference_temp_c")
    n = t.shape[-1]
    rho = np.asarray(_evaluate(t, p, "rho"))
    h = np.asarray(_evaluate(t, p, "h"))
    h_ref = np.asarray(_evaluate(np.asarray(t_ref, dtype=np.float64), p, "h"))
    energy_j = np.sum(rho * (vol / n) * (h - h_ref[..., np.newaxis]), axis=-1)
    return result(energy_j / J_PER_KWH, np.ndim(energy_j) == 0)


def tank_heat_loss_w(
    layer_temps_c: FloatArray, ua_w_per_k: float, ambient_temp_c: FloatOrArray
) -> FloatOrArray:
    """Standing heat loss of a layered tank to its surroundings.

    Parameters
    ----------
    layer_temps_c : ndarray
        Layer temperatures [C], layers on the last axis, shape ``(..., n)``.
    ua_w_per_k : float
        Heat-loss coefficient of the whole tank UA [W/K], ``>= 0``, shared
        equally by the n layers (equal volumes, equal shell area per layer;
        top and bottom areas are folded in).
    ambient_temp_c : float or ndarray
        Temperature around the tank [C]; broadcasts against
        ``layer_temps_c[..., 0]``.

    Returns
    -------
    float or ndarray
        Q_loss = sum_i (UA / n) (T_i - T_amb) = UA (mean(T) - T_amb) [W];
        ``float`` for a 1-D layer vector.

    References
    ----------
    Duffie & Beckman, 4th ed., section 8.4 (multi-node tank, eq. 8.4.2).

    Examples
    --------
    >>> import numpy as np
    >>> tank_heat_loss_w(np.array([60.0, 50.0, 40.0]), 3.0, 20.0)
    90.0
    """
    func = "tank_heat_loss_w"
    t = _layers(layer_temps_c, func)
    ua = non_negative(ua_w_per_k, func, "ua_w_per_k")
    t_amb = as_array(ambient_temp_c, func, "ambient_temp_c")
    loss = ua * (np.mean(t, axis=-1) - t_amb)
    return result(loss, np.ndim(loss) == 0)
