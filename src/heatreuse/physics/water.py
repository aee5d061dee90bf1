"""Properties of liquid water and of water at saturation (IAPWS).

Liquid properties (density, enthalpy, isobaric heat capacity) come from the
IAPWS-95 formulation [1]_ as implemented by CoolProp's ``HEOS::Water`` backend.
A direct CoolProp call costs about 20-100 us per value, far too slow for
telemetry series of 10^5..10^6 samples, so the functions evaluate IAPWS-95 on a
grid and interpolate:

* temperature: nodes every 0.5 K from 0 C, cubic Hermite interpolation using
  the exact temperature derivatives from IAPWS-95 (d rho/dT, cp = dh/dT,
  d cp/dT), so the heat coefficient stays exact for small temperature
  differences;
* pressure: 24 nodes from 0.1 to 40 bar (absolute), linear interpolation.

Interpolation error against direct IAPWS-95 (CoolProp), checked in
``tests/physics/test_water.py`` on random points across the whole domain:
density < 1e-6 relative, heat capacity < 2e-5 relative, enthalpy differences
< 1e-5 relative (all well below the 0.01 % tolerance the library promises, and
two orders below the IAPWS-95 uncertainty itself). Grid nodes just above the
boiling point of a pressure node are evaluated on the metastable liquid branch
of IAPWS-95 so the interpolation is smooth up to the boiling point.

The grid values (and the latent heat below) are tabulated once and shipped
with the package in ``water_iapws95.npz`` (loaded on first use, a few
milliseconds; CoolProp itself would take about a second to import and evaluate
them on every run). ``tests/physics/test_water.py`` recomputes them from
CoolProp and requires the shipped file to match; after changing the grid,
rewrite the file with ``python -m heatreuse.physics.water`` (without a
matching file the tables are computed from CoolProp at first use, as before).

Saturation pressure and temperature use the closed-form IAPWS-IF97 region-4
equations (30) and (31) [2]_, which agree with IAPWS-95 within 0.003 % in the
liquid range. Enthalpy reference: IAPWS-95 convention (internal energy and
entropy of saturated liquid at the triple point are zero).

Domain: liquid water, ``0 C <= temp_c < saturation temperature at
pressure_bar``, ``0.1 bar <= pressure_bar <= 40 bar`` (absolute). Anything else
raises :class:`heatreuse.errors.DomainError`.

References
----------
.. [1] IAPWS R6-95(2018), Revised Release on the IAPWS Formulation 1995 for the
   Thermodynamic Properties of Ordinary Water Substance for General and
   Scientific Use. W. Wagner, A. Pruss, J. Phys. Chem. Ref. Data 31, 387 (2002).
.. [2] IAPWS R7-97(2012), Revised Release on the IAPWS Industrial Formulation
   1997 for the Thermodynamic Properties of Water and Steam, section 8.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, overload

import numpy as np

from heatreuse.checks import (
    FloatArray,
    FloatOrArray,
    as_array,
    is_scalar_call,
    require,
    result,
)
from heatreuse.errors import DomainError
from heatreuse.physics.saturation import (
    SATURATION_PRESSURE_MAX_BAR,
    SATURATION_PRESSURE_MIN_BAR,
    boiling_temp_c,
)
from heatreuse.physics.saturation import psat_pa as _psat_pa
from heatreuse.physics.saturation import tsat_k as _tsat_k
from heatreuse.units import PA_PER_BAR, ZERO_CELSIUS_K

#: Lowest / highest absolute pressure accepted [bar].
PRESSURE_MIN_BAR = 0.1
PRESSURE_MAX_BAR = 40.0
#: Lowest liquid temperature accepted [C].
TEMP_MIN_C = 0.0
#: Latent heat is tabulated up to this temperature [C].
LATENT_HEAT_TEMP_MAX_C = 200.0
#: Critical temperature of water [C] (IAPWS-95, 647.096 K).
CRITICAL_TEMP_C = 647.096 - ZERO_CELSIUS_K

_TEMP_STEP_K = 0.5
_PRESSURE_NODES_BAR = (
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    4.0,
    5.0,
    6.0,
    7.0,
    8.0,
    10.0,
    12.0,
    14.0,
    16.0,
    20.0,
    25.0,
    30.0,
    35.0,
    40.0,
    # Note: PRESSURE_MAX_BAR must be the last node.
)

# ---------------------------------------------------------------------------
# Saturation line (IAPWS-IF97 region 4, closed form: heatreuse.physics.saturation)
# ---------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _tsat_c_scalar(pressure_bar: float) -> float:
    return boiling_temp_c(pressure_bar)


@overload
def saturation_pressure_pa(temp_c: float) -> float: ...
@overload
def saturation_pressure_pa(temp_c: FloatArray) -> FloatArray: ...
def saturation_pressure_pa(temp_c: FloatOrArray) -> FloatOrArray:
    """Saturation (vapour) pressure of water over liquid water.

    Parameters
    ----------
    temp_c : float or ndarray
        Temperature [C], ``0 <= temp_c <= 373.946`` (critical point).

    Returns
    -------
    float or ndarray
        Saturation pressure [Pa].

    Notes
    -----
    IAPWS-IF97 saturation-pressure equation (30), closed form [1]_; agrees
    with IAPWS-95 within 0.003 % in 0..200 C. Below 0 C water vapour is in
    equilibrium with ice: use :func:`sublimation_pressure_pa`.

    References
    ----------
    .. [1] IAPWS R7-97(2012), Revised Release on the IAPWS Industrial
       Formulation 1997, section 8.1, equation (30).

    Examples
    --------
    >>> round(saturation_pressure_pa(100.0))
    101418
    """
    func = "saturation_pressure_pa"
    t = as_array(temp_c, func, "temp_c")
    require(
        (t >= TEMP_MIN_C) & (t <= CRITICAL_TEMP_C),
        t,
        func,
        "temp_c",
        f"liquid-vapour equilibrium, {TEMP_MIN_C} <= temp_c <= {CRITICAL_TEMP_C:.3f} C",
    )
    return result(_psat_pa(t + ZERO_CELSIUS_K), is_scalar_call(temp_c))


@overload
def saturation_temperature_c(pressure_bar: float) -> float: ...
@overload
def saturation_temperature_c(pressure_bar: FloatArray) -> FloatArray: ...
def saturation_temperature_c(pressure_bar: FloatOrArray) -> FloatOrArray:
    """Boiling temperature of water at an absolute pressure.

    Parameters
    ----------
    pressure_bar : float or ndarray
        Absolute pressure [bar], ``0.00611 <= pressure_bar <= 220.64``.

    Returns
    -------
    float or ndarray
        Saturation temperature [C].

    References
    ----------
    IAPWS R7-97(2012), section 8.2, backward equation (31), consistent with
    equation (30) to round-off.

    Examples
    --------
    >>> round(saturation_temperature_c(1.01325), 2)
    99.97
    """
    func = "saturation_temperature_c"
    p = as_array(pressure_bar, func, "pressure_bar")
    require(
        (p >= SATURATION_PRESSURE_MIN_BAR) & (p <= SATURATION_PRESSURE_MAX_BAR),
        p,
        func,
        "pressure_bar",
        "an absolute pressure on the saturation line, 0.00611 <= pressure_bar <= 220.64",
    )
    return result(_tsat_k(p * PA_PER_BAR) - ZERO_CELSIUS_K, is_scalar_call(pressure_bar))


# IAPWS R14-08(2011) sublimation-pressure coefficients (equation 6).
_SUBL_A = (-0.212144006e2, 0.273203819e2, -0.610598130e1)
_SUBL_B = (0.333333333e-2, 0.120666667e1, 0.170333333e1)
_TRIPLE_T_K = 273.16
_TRIPLE_P_PA = 611.657


@overload
def sublimation_pressure_pa(temp_c: float) -> float: ...
@overload
def sublimation_pressure_pa(temp_c: FloatArray) -> FloatArray: ...
def sublimation_pressure_pa(temp_c: FloatOrArray) -> FloatOrArray:
    """Vapour pressure of water over ice (sublimation pressure).

    Parameters
    ----------
    temp_c : float or ndarray
        Temperature [C], ``-223.15 (50 K) <= temp_c <= 0.01`` (triple point).

    Returns
    -------
    float or ndarray
        Sublimation pressure [Pa].

    Notes
    -----
    p/p_t = exp(theta^-1 * sum_i a_i theta^b_i), theta = T/T_t,
    T_t = 273.16 K, p_t = 611.657 Pa.

    References
    ----------
    IAPWS R14-08(2011), Revised Release on the Pressure along the Melting and
    Sublimation Curves of Ordinary Water Substance, equation (6).
    """
    func = "sublimation_pressure_pa"
    t = as_array(temp_c, func, "temp_c")
    require(
        (t >= 50.0 - ZERO_CELSIUS_K) & (t <= _TRIPLE_T_K - ZERO_CELSIUS_K),
        t,
        func,
        "temp_c",
        "ice-vapour equilibrium, -223.15 <= temp_c <= 0.01 C",
    )
    theta = (t + ZERO_CELSIUS_K) / _TRIPLE_T_K
    s = sum(a * theta**b for a, b in zip(_SUBL_A, _SUBL_B, strict=True))
    return result(_TRIPLE_P_PA * np.exp(s / theta), is_scalar_call(temp_c))


# ---------------------------------------------------------------------------
# Liquid properties: IAPWS-95 on a lazily built grid
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _LiquidTable:
    """IAPWS-95 liquid properties on (pressure node, temperature node)."""

    pressure_bar: FloatArray  # (n_p,)
    temp0_c: float
    step_k: float
    rho: FloatArray  # (n_p, n_t) [kg/m3]
    drho_dt: FloatArray  # [kg/(m3 K)]
    h: FloatArray  # [J/kg]
    cp: FloatArray  # [J/(kg K)] = dh/dT at constant p
    dcp_dt: FloatArray  # [J/(kg K2)]


def _coolprop() -> Any:
    import CoolProp.CoolProp as cp_module  # heavy: load lazily, never at import

    return cp_module


#: The tabulated IAPWS-95 values shipped with the package (see the module docstring).
TABLES_FILE = Path(__file__).with_name("water_iapws95.npz")


def _grid() -> dict[str, FloatArray]:
    """The nodes the tables are computed on (also stored in the file, to detect a stale one)."""
    return {
        "pressure_bar": np.array(_PRESSURE_NODES_BAR, dtype=np.float64),
        "liquid_temp0_step_c": np.array([TEMP_MIN_C, _TEMP_STEP_K]),
        "latent_temp_c": np.arange(
            0.0, LATENT_HEAT_TEMP_MAX_C + _TEMP_STEP_K / 2, _TEMP_STEP_K / 5
        ),
    }


def compute_tables() -> dict[str, FloatArray]:
    """Evaluate IAPWS-95 (CoolProp ``HEOS::Water``) on the grid: what ``TABLES_FILE`` holds.

    Returns
    -------
    dict of ndarray
        The grid (:func:`_grid`), liquid ``rho`` [kg/m3], ``drho`` [kg/(m3 K)],
        ``h`` [J/kg], ``cp`` [J/(kg K)], ``dcp`` [J/(kg K2)] on (pressure node,
        temperature node), NaN beyond a node's reach; ``latent`` [J/kg] on
        ``latent_temp_c``. About a second: CoolProp's import and ~16,000 state updates.
    """
    cpm = _coolprop()
    grid = _grid()
    state = cpm.AbstractState("HEOS", "Water")
    state.specify_phase(cpm.iphase_liquid)
    p_nodes = grid["pressure_bar"]
    tsat_c = _tsat_k(p_nodes * PA_PER_BAR) - ZERO_CELSIUS_K
    # Node i must cover temperatures up to the boiling point of node i+1
    # (metastable liquid at node i), plus two cells for the Hermite stencil.
    reach_c = np.append(tsat_c[1:], tsat_c[-1]) + 2.0 * _TEMP_STEP_K
    n_t = math.ceil((float(reach_c.max()) - TEMP_MIN_C) / _TEMP_STEP_K) + 1
    temps_c = TEMP_MIN_C + _TEMP_STEP_K * np.arange(n_t)
    shape = (p_nodes.size, n_t)
    arrays = {k: np.full(shape, np.nan) for k in ("rho", "drho", "h", "cp", "dcp")}
    i_d, i_t, i_p, i_h = cpm.iDmass, cpm.iT, cpm.iP, cpm.iHmass
    for i, p_bar in enumerate(p_nodes):
        p_pa = float(p_bar) * PA_PER_BAR
        for j in range(n_t):
            t_c = float(temps_c[j])
            if t_c > reach_c[i]:
                break
            state.update(cpm.PT_INPUTS, p_pa, t_c + ZERO_CELSIUS_K)
            arrays["rho"][i, j] = state.rhomass()
            arrays["drho"][i, j] = state.first_partial_deriv(i_d, i_t, i_p)
            arrays["h"][i, j] = state.hmass()
            arrays["cp"][i, j] = state.cpmass()
            arrays["dcp"][i, j] = state.second_partial_deriv(i_h, i_t, i_p, i_t, i_p)
    sat = cpm.AbstractState("HEOS", "Water")
    latent = np.empty_like(grid["latent_temp_c"])
    for k, t_c in enumerate(grid["latent_temp_c"]):
        # IAPWS-95 starts at the triple point, 0.01 C; 0..0.01 C uses the
        # triple-point value (latent heat changes by 0.02 J/kg over 0.01 K).
        t_k = max(float(t_c) + ZERO_CELSIUS_K, _TRIPLE_T_K)
        sat.update(cpm.QT_INPUTS, 1.0, t_k)
        h_vap = sat.hmass()
        sat.update(cpm.QT_INPUTS, 0.0, t_k)
        latent[k] = h_vap - sat.hmass()
    return {**grid, **arrays, "latent": latent}


@lru_cache(maxsize=1)
def _tables() -> dict[str, FloatArray]:
    """The shipped tables when they were made on today's grid, else computed now."""
    try:
        with np.load(TABLES_FILE) as data:
            tables = {k: data[k] for k in data.files}
    except OSError:  # not shipped (a trimmed install): compute
        return compute_tables()
    for key, nodes in _grid().items():
        if key not in tables or not np.array_equal(tables[key], nodes):
            return compute_tables()  # the grid changed since the file was written
    return tables


@lru_cache(maxsize=1)
def _liquid_table() -> _LiquidTable:
    tables = _tables()
    return _LiquidTable(
        pressure_bar=tables["pressure_bar"],
        temp0_c=TEMP_MIN_C,
        step_k=_TEMP_STEP_K,
        rho=tables["rho"],
        drho_dt=tables["drho"],
        h=tables["h"],
        cp=tables["cp"],
        dcp_dt=tables["dcp"],
    )


def _check_liquid(
    temp_c: Any, pressure_bar: Any, func: str, name: str = "temp_c"
) -> tuple[FloatArray, FloatArray]:
    t = as_array(temp_c, func, name)
    p = as_array(pressure_bar, func, "pressure_bar")
    require(
        (p >= PRESSURE_MIN_BAR) & (p <= PRESSURE_MAX_BAR),
        p,
        func,
        "pressure_bar",
        f"an absolute pressure {PRESSURE_MIN_BAR} <= pressure_bar <= {PRESSURE_MAX_BAR} bar",
    )
    try:
        shape = np.broadcast_shapes(t.shape, p.shape)
    except ValueError as exc:
        raise DomainError(
            f"{func}: temp_c shape {t.shape} and pressure_bar shape {p.shape} do not broadcast"
        ) from exc
    tsat_c = _tsat_k(p * PA_PER_BAR) - ZERO_CELSIUS_K  # on p's own shape: cheap for scalar p
    ok = (t >= TEMP_MIN_C) & (t < tsat_c)
    if not bool(np.all(ok)):
        t_b, p_b, ts_b = (np.broadcast_to(a, shape) for a in (t, p, tsat_c))
        bad = int(np.flatnonzero(~np.broadcast_to(ok, shape).ravel())[0]) if shape else 0
        require(
            np.broadcast_to(ok, shape),
            t_b,
            func,
            name,
            f"liquid water, {TEMP_MIN_C} <= {name} < boiling point "
            f"({float(ts_b.ravel()[bad]):.2f} C at pressure_bar={float(p_b.ravel()[bad]):g})",
        )
    return t, p


def _interp(t_c: FloatArray, p_bar: FloatArray, value: FloatArray, deriv: FloatArray) -> FloatArray:
    """Cubic Hermite in temperature, linear in pressure (inputs already checked).

    ``t_c`` and ``p_bar`` broadcast against each other; a scalar pressure is
    not expanded.
    """
    table = _liquid_table()
    n_p, n_t = value.shape
    x = (t_c - table.temp0_c) / table.step_k
    j = np.clip(np.floor(x).astype(np.intp), 0, n_t - 2)
    s = x - j
    i = np.clip(np.searchsorted(table.pressure_bar, p_bar, side="right") - 1, 0, n_p - 2)
    p0 = table.pressure_bar[i]
    w = (p_bar - p0) / (table.pressure_bar[i + 1] - p0)
    s2 = s * s
    s3 = s2 * s
    h00 = 2.0 * s3 - 3.0 * s2 + 1.0
    h10 = (s3 - 2.0 * s2 + s) * table.step_k
    h01 = -2.0 * s3 + 3.0 * s2
    h11 = (s3 - s2) * table.step_k

    def at(ii: Any) -> FloatArray:
        out: FloatArray = (
            h00 * value[ii, j]
            + h10 * deriv[ii, j]
            + h01 * value[ii, j + 1]
            + h11 * deriv[ii, j + 1]
        )
        return out

    lo = at(i)
    hi = at(i + 1)
    out: FloatArray = lo + w * (hi - lo)
    return out


def _interp_scalar(t_c: float, p_bar: float, value: FloatArray, deriv: FloatArray) -> float:
    """Pure-Python twin of :func:`_interp` for one point (about 10x faster)."""
    table = _liquid_table()
    n_p, n_t = value.shape
    x = (t_c - table.temp0_c) / table.step_k
    j = min(max(math.floor(x), 0), n_t - 2)
    s = x - j
    nodes = _PRESSURE_NODES_BAR
    i = min(max(bisect.bisect_right(nodes, p_bar) - 1, 0), n_p - 2)
    w = (p_bar - nodes[i]) / (nodes[i + 1] - nodes[i])
    s2 = s * s
    s3 = s2 * s
    step = table.step_k
    c00 = 2.0 * s3 - 3.0 * s2 + 1.0
    c10 = (s3 - 2.0 * s2 + s) * step
    c01 = -2.0 * s3 + 3.0 * s2
    c11 = (s3 - s2) * step
    v_lo = value[i, j : j + 2].tolist()
    d_lo = deriv[i, j : j + 2].tolist()
    v_hi = value[i + 1, j : j + 2].tolist()
    d_hi = deriv[i + 1, j : j + 2].tolist()
    lo = c00 * v_lo[0] + c10 * d_lo[0] + c01 * v_lo[1] + c11 * d_lo[1]
    hi = c00 * v_hi[0] + c10 * d_hi[0] + c01 * v_hi[1] + c11 * d_hi[1]
    return float(lo + w * (hi - lo))


def _evaluate(t: FloatArray, p: FloatArray, which: str) -> FloatOrArray:
    """Interpolate an already validated liquid property ('rho', 'h' or 'cp')."""
    table = _liquid_table()
    value, deriv = {
        "rho": (table.rho, table.drho_dt),
        "h": (table.h, table.cp),
        "cp": (table.cp, table.dcp_dt),
    }[which]
    if t.ndim == 0 and p.ndim == 0:
        return _interp_scalar(float(t), float(p), value, deriv)
    return _interp(t, p, value, deriv)


def _liquid_property(temp_c: Any, pressure_bar: Any, func: str, which: str) -> FloatOrArray:
    if isinstance(temp_c, float | int) and isinstance(pressure_bar, float | int):
        # Fast path for one point; anything out of domain falls through to the
        # array path, which raises with the full message.
        t_s, p_s = float(temp_c), float(pressure_bar)
        if PRESSURE_MIN_BAR <= p_s <= PRESSURE_MAX_BAR and TEMP_MIN_C <= t_s < _tsat_c_scalar(p_s):
            return _evaluate(np.asarray(t_s), np.asarray(p_s), which)
    t, p = _check_liquid(temp_c, pressure_bar, func)
    return _evaluate(t, p, which)


@overload
def water_density_kg_per_m3(temp_c: float, pressure_bar: float = 6.0) -> float: ...  # type: ignore[overload-overlap]
@overload
def water_density_kg_per_m3(
    temp_c: FloatOrArray, pressure_bar: FloatOrArray = 6.0
) -> FloatArray: ...
def water_density_kg_per_m3(temp_c: FloatOrArray, pressure_bar: FloatOrArray = 6.0) -> FloatOrArray:
    """Density of liquid water.

    Parameters
    ----------
    temp_c : float or ndarray
        Temperature [C], liquid: ``0 <= temp_c < saturation temperature``.
    pressure_bar : float or ndarray, default 6.0
        Absolute pressure [bar], ``0.1..40``. 6 bar is a typical static
        pressure of a small heating circuit.

    Returns
    -------
    float or ndarray
        Density rho [kg/m3].

    References
    ----------
    IAPWS R6-95(2018) (IAPWS-95), via CoolProp ``HEOS::Water``, interpolated
    (see module docstring: < 1e-6 relative error).

    Examples
    --------
    >>> round(water_density_kg_per_m3(20.0, pressure_bar=1.0), 2)
    998.21
    """
    func = "water_density_kg_per_m3"
    return _liquid_property(temp_c, pressure_bar, func, "rho")


@overload
def water_enthalpy_j_per_kg(temp_c: float, pressure_bar: float = 6.0) -> float: ...  # type: ignore[overload-overlap]
@overload
def water_enthalpy_j_per_kg(
    temp_c: FloatOrArray, pressure_bar: FloatOrArray = 6.0
) -> FloatArray: ...
def water_enthalpy_j_per_kg(temp_c: FloatOrArray, pressure_bar: FloatOrArray = 6.0) -> FloatOrArray:
    """Specific enthalpy of liquid water.

    Parameters
    ----------
    temp_c : float or ndarray
        Temperature [C], liquid.
    pressure_bar : float or ndarray, default 6.0
        Absolute pressure [bar], ``0.1..40``.

    Returns
    -------
    float or ndarray
        Specific enthalpy h [J/kg], IAPWS-95 reference state (u = s = 0 for
        saturated liquid at the triple point). Use differences only.

    References
    ----------
    IAPWS R6-95(2018), via CoolProp ``HEOS::Water``; Hermite interpolation
    with cp = (dh/dT)_p as the derivative.

    Examples
    --------
    >>> round(water_enthalpy_j_per_kg(20.0, pressure_bar=1.0) / 1000.0, 3)
    84.006
    """
    func = "water_enthalpy_j_per_kg"
    return _liquid_property(temp_c, pressure_bar, func, "h")


@overload
def water_cp_j_per_kg_k(temp_c: float, pressure_bar: float = 6.0) -> float: ...  # type: ignore[overload-overlap]
@overload
def water_cp_j_per_kg_k(temp_c: FloatOrArray, pressure_bar: FloatOrArray = 6.0) -> FloatArray: ...
def water_cp_j_per_kg_k(temp_c: FloatOrArray, pressure_bar: FloatOrArray = 6.0) -> FloatOrArray:
    """Isobaric specific heat capacity of liquid water.

    Parameters
    ----------
    temp_c : float or ndarray
        Temperature [C], liquid.
    pressure_bar : float or ndarray, default 6.0
        Absolute pressure [bar], ``0.1..40``.

    Returns
    -------
    float or ndarray
        cp [J/(kg K)].

    References
    ----------
    IAPWS R6-95(2018), via CoolProp ``HEOS::Water``, interpolated.

    Examples
    --------
    >>> round(water_cp_j_per_kg_k(25.0, pressure_bar=1.0), 1)
    4181.3
    """
    func = "water_cp_j_per_kg_k"
    return _liquid_property(temp_c, pressure_bar, func, "cp")


# ---------------------------------------------------------------------------
# Latent heat of vaporisation (IAPWS-95 along the saturation line)
# ---------------------------------------------------------------------------


def _latent_table() -> tuple[FloatArray, FloatArray]:
    tables = _tables()
    return tables["latent_temp_c"], tables["latent"]


@overload
def water_latent_heat_j_per_kg(temp_c: float) -> float: ...
@overload
def water_latent_heat_j_per_kg(temp_c: FloatArray) -> FloatArray: ...
def water_latent_heat_j_per_kg(temp_c: FloatOrArray) -> FloatOrArray:
    """Latent heat of vaporisation of water at saturation.

    Parameters
    ----------
    temp_c : float or ndarray
        Saturation temperature [C], ``0 <= temp_c <= 200``.

    Returns
    -------
    float or ndarray
        h'' - h' [J/kg].

    Notes
    -----
    Tabulated from IAPWS-95 every 0.1 K and interpolated linearly (error
    < 1e-7 relative).

    References
    ----------
    IAPWS R6-95(2018), via CoolProp ``HEOS::Water``.

    Examples
    --------
    >>> round(water_latent_heat_j_per_kg(100.0) / 1000.0, 1)
    2256.4
    """
    func = "water_latent_heat_j_per_kg"
    t = as_array(temp_c, func, "temp_c")
    require(
        (t >= TEMP_MIN_C) & (t <= LATENT_HEAT_TEMP_MAX_C),
        t,
        func,
        "temp_c",
        f"{TEMP_MIN_C} <= temp_c <= {LATENT_HEAT_TEMP_MAX_C} C",
    )
    grid_c, latent = _latent_table()
    return result(np.interp(t, grid_c, latent), is_scalar_call(temp_c))


# ---------------------------------------------------------------------------
# Tables for compiled kernels
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WaterPropertyGrid:
    """Liquid-water properties tabulated along temperature at one pressure.

    For compiled (numba) kernels that cannot call Python: look values up with
    ``np.interp(temp_c, grid.temp_c, grid.density_kg_per_m3)`` etc. Linear
    interpolation on the default 0.5 K grid stays within 1e-6 relative of
    :func:`water_density_kg_per_m3`, 5e-6 of :func:`water_cp_j_per_kg_k` and
    0.15 J/kg (0.004 % of a 1 K step) of :func:`water_enthalpy_j_per_kg`
    (checked in the tests); use a finer ``step_k`` for more.
    """

    pressure_bar: float
    temp_c: FloatArray  # [C], from 0 C to just below boiling
    density_kg_per_m3: FloatArray
    enthalpy_j_per_kg: FloatArray
    cp_j_per_kg_k: FloatArray


@lru_cache(maxsize=16)
def water_property_grid(pressure_bar: float = 6.0, step_k: float = 0.5) -> WaterPropertyGrid:
    """Tabulate liquid-water properties at one pressure for compiled kernels.

    Parameters
    ----------
    pressure_bar : float, default 6.0
        Absolute pressure [bar], ``0.1..40``.
    step_k : float, default 0.5
        Temperature step of the table [K], ``0.01..5``.

    Returns
    -------
    WaterPropertyGrid
        Arrays over ``0 C .. boiling point - 1e-6 K`` (the last node sits just
        below boiling). Cached per (pressure, step).

    References
    ----------
    IAPWS R6-95(2018), via this module's interpolation.
    """
    func = "water_property_grid"
    p = as_array(pressure_bar, func, "pressure_bar")
    require(
        (p >= PRESSURE_MIN_BAR) & (p <= PRESSURE_MAX_BAR),
        p,
        func,
        "pressure_bar",
        f"an absolute pressure {PRESSURE_MIN_BAR} <= pressure_bar <= {PRESSURE_MAX_BAR} bar",
    )
    step = as_array(step_k, func, "step_k")
    require((step >= 0.01) & (step <= 5.0), step, func, "step_k", "0.01 <= step_k <= 5 K")
    p_s = float(p)
    top_c = _tsat_c_scalar(p_s) - 1.0e-6
    temps = np.arange(TEMP_MIN_C, top_c, float(step))
    temps = np.append(temps, top_c) if temps[-1] < top_c else temps
    p_arr = np.asarray(p_s)
    return WaterPropertyGrid(
        pressure_bar=p_s,
        temp_c=temps,
        density_kg_per_m3=np.asarray(_evaluate(temps, p_arr, "rho")),
        enthalpy_j_per_kg=np.asarray(_evaluate(temps, p_arr, "h")),
        cp_j_per_kg_k=np.asarray(_evaluate(temps, p_arr, "cp")),
    )


if __name__ == "__main__":  # pragma: no cover - rewrites the shipped tables (after a grid change)
    tables: dict[str, Any] = compute_tables()
    np.savez_compressed(TABLES_FILE, **tables)
    print(f"wrote {TABLES_FILE}")
