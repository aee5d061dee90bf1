"""The saturation line of water: IAPWS-IF97 region 4 in closed form, without numpy.

The equations take Python floats or numpy arrays alike (plain arithmetic, square
roots as ``** 0.5``), so this module imports nothing heavy: the site loader checks
"below boiling" with it while ``heatreuse validate`` stays fast. The public
array functions with domain checks are :func:`heatreuse.physics.water.saturation_pressure_pa`
and :func:`heatreuse.physics.water.saturation_temperature_c`; they use these equations.

References
----------
.. [1] IAPWS R7-97(2012), Revised Release on the IAPWS Industrial Formulation
   1997 for the Thermodynamic Properties of Water and Steam, section 8,
   equations (30) and (31), Table 34.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from heatreuse.errors import DomainError
from heatreuse.units import PA_PER_BAR, ZERO_CELSIUS_K

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: Triple-point pressure [bar] (611.213 Pa, IF97 region 4 lower limit).
SATURATION_PRESSURE_MIN_BAR = 611.213 / PA_PER_BAR
#: Critical pressure [bar] (22.064 MPa, IF97 region 4 upper limit).
SATURATION_PRESSURE_MAX_BAR = 220.64

# IAPWS-IF97 region 4 coefficients n1..n10 (Table 34 of [1]).
_N4 = (
    0.11670521452767e4,
    -0.72421316703206e6,
    -0.17073846940092e2,
    0.12020824702470e5,
    -0.32325550322333e7,
    0.14915108613530e2,
    -0.48232657361591e4,
    0.40511340542057e6,
    -0.23855557567849,
    0.65017534844798e3,
)
_P_STAR_PA = 1.0e6  # reducing pressure of IF97 region 4 [Pa]

# float or a numpy float array (a string constraint: numpy is not imported here)
_X = TypeVar("_X", float, "npt.NDArray[np.float64]")


def psat_pa(temp_k: _X) -> _X:
    """Saturation pressure [Pa] at a temperature [K], IF97 equation (30); no domain check."""
    n1, n2, n3, n4, n5, n6, n7, n8, n9, n10 = _N4
    theta = temp_k + n9 / (temp_k - n10)
    a = theta**2 + n1 * theta + n2
    b = n3 * theta**2 + n4 * theta + n5
    c = n6 * theta**2 + n7 * theta + n8
    out: _X = (2.0 * c / (-b + (b**2 - 4.0 * a * c) ** 0.5)) ** 4 * _P_STAR_PA
    return out


def tsat_k(pressure_pa: _X) -> _X:
    """Saturation temperature [K] at a pressure [Pa], IF97 equation (31); no domain check."""
    n1, n2, n3, n4, n5, n6, n7, n8, n9, n10 = _N4
    beta = (pressure_pa / _P_STAR_PA) ** 0.25
    e = beta**2 + n3 * beta + n6
    f = n1 * beta**2 + n4 * beta + n7
    g = n2 * beta**2 + n5 * beta + n8
    d = 2.0 * g / (-f - (f**2 - 4.0 * e * g) ** 0.5)
    out: _X = (n10 + d - ((n10 + d) ** 2 - 4.0 * (n9 + n10 * d)) ** 0.5) / 2.0
    return out


def boiling_temp_c(pressure_bar: float) -> float:
    """Boiling temperature of water at one absolute pressure, without numpy.

    Parameters
    ----------
    pressure_bar : float
        Absolute pressure [bar], ``0.00611 <= pressure_bar <= 220.64``.

    Returns
    -------
    float
        Saturation temperature [C]; the same value as
        :func:`heatreuse.physics.water.saturation_temperature_c` for one point.

    Raises
    ------
    DomainError
        Pressure outside the saturation line.

    References
    ----------
    IAPWS R7-97(2012), section 8.2, equation (31).

    Examples
    --------
    >>> round(boiling_temp_c(1.01325), 2)
    99.97
    """
    p = float(pressure_bar)
    if not SATURATION_PRESSURE_MIN_BAR <= p <= SATURATION_PRESSURE_MAX_BAR:
        raise DomainError(
            "boiling_temp_c: pressure_bar expected an absolute pressure on the saturation "
            f"line, 0.00611 <= pressure_bar <= 220.64, got {pressure_bar!r}"
        )
    return tsat_k(p * PA_PER_BAR) - ZERO_CELSIUS_K
