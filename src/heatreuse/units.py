"""Constants and the only unit conversions in heatreuse.

SI inside; conversions happen here and at the edges only (ARCHITECTURE.md,
house rule 3). Temperatures are in degrees Celsius in public names
(``temp_c``); differences are always in kelvin (``delta_t_k``).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

FloatOrArray = TypeVar("FloatOrArray", float, npt.NDArray[np.float64])

#: Offset between degrees Celsius and kelvin [K]. SI Brochure, 9th ed. (BIPM 2019).
ZERO_CELSIUS_K = 273.15
#: Standard gravity [m/s2]. CGPM 1901.
GRAVITY_M_PER_S2 = 9.80665
#: Standard atmosphere [bar] (ISO 2533; 101,325 Pa).
STANDARD_PRESSURE_BAR = 1.01325
#: Specific gas constant of water vapour [J/(kg K)], as used in VDI 2089-1.
R_WATER_VAPOUR_J_PER_KG_K = 461.52
#: Stefan-Boltzmann constant [W/(m2 K4)]. CODATA 2018.
STEFAN_BOLTZMANN_W_PER_M2_K4 = 5.670374419e-8

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
J_PER_KWH = 3.6e6
J_PER_WH = 3600.0
PA_PER_BAR = 1.0e5
M3_PER_L = 1.0e-3
W_PER_KW = 1000.0
J_PER_TJ = 1.0e12
KWH_PER_TJ = J_PER_TJ / J_PER_KWH


def c_to_k(temp_c: FloatOrArray) -> FloatOrArray:
    """Convert a temperature from degrees Celsius [C] to kelvin [K]."""
    return temp_c + ZERO_CELSIUS_K


def k_to_c(temp_k: FloatOrArray) -> FloatOrArray:
    """Convert a temperature from kelvin [K] to degrees Celsius [C]."""
    return temp_k - ZERO_CELSIUS_K


def j_to_kwh(energy_j: FloatOrArray) -> FloatOrArray:
    """Convert energy from joule [J] to kilowatt-hours [kWh]."""
    return energy_j / J_PER_KWH


def kwh_to_j(energy_kwh: FloatOrArray) -> FloatOrArray:
    """Convert energy from kilowatt-hours [kWh] to joule [J]."""
    return energy_kwh * J_PER_KWH


def bar_to_pa(pressure_bar: FloatOrArray) -> FloatOrArray:
    """Convert pressure from bar [bar] to pascal [Pa]."""
    return pressure_bar * PA_PER_BAR


def pa_to_bar(pressure_pa: FloatOrArray) -> FloatOrArray:
    """Convert pressure from pascal [Pa] to bar [bar]."""
    return pressure_pa / PA_PER_BAR


def l_to_m3(volume_l: FloatOrArray) -> FloatOrArray:
    """Convert volume from litres [L] to cubic metres [m3]."""
    return volume_l * M3_PER_L


def m3_per_h_to_m3_per_s(flow_m3_per_h: FloatOrArray) -> FloatOrArray:
    """Convert volume flow from [m3/h] to [m3/s]."""
    return flow_m3_per_h / SECONDS_PER_HOUR


def kg_per_tj_to_kg_per_kwh(factor_kg_per_tj: FloatOrArray) -> FloatOrArray:
    """Convert an emission factor from [kg/TJ] to [kg/kWh] (1 TJ = 277,777.8 kWh)."""
    return factor_kg_per_tj / KWH_PER_TJ


#: Units that convert by a factor alone: unit -> (dimension, factor to the dimension's
#: base unit). Used for raw register units announced at run time (heat meters' unit-code
#: registers, :mod:`heatreuse.site.points`). Celsius and kelvin temperatures are not
#: here (an offset, not a factor): a degC register only converts to degC.
LINEAR_UNITS: dict[str, tuple[str, float]] = {
    "J": ("energy", 1.0),
    "kJ": ("energy", 1.0e3),
    "MJ": ("energy", 1.0e6),
    "GJ": ("energy", 1.0e9),
    "Wh": ("energy", J_PER_WH),
    "kWh": ("energy", J_PER_KWH),
    "MWh": ("energy", 1.0e3 * J_PER_KWH),
    "GWh": ("energy", 1.0e6 * J_PER_KWH),
    "W": ("power", 1.0),
    "kW": ("power", W_PER_KW),
    "MW": ("power", 1.0e6),
    "m3": ("volume", 1.0),
    "L": ("volume", M3_PER_L),
    "m3/h": ("volume_flow", 1.0 / SECONDS_PER_HOUR),
    "m3/s": ("volume_flow", 1.0),
    "L/h": ("volume_flow", M3_PER_L / SECONDS_PER_HOUR),
    "L/min": ("volume_flow", M3_PER_L / 60.0),
    "L/s": ("volume_flow", M3_PER_L),
    "Pa": ("pressure", 1.0),
    "kPa": ("pressure", 1.0e3),
    "mbar": ("pressure", PA_PER_BAR / 1000.0),
    "bar": ("pressure", PA_PER_BAR),
    "1": ("ratio", 1.0),
    "%": ("ratio", 0.01),
}


def unit_factor(from_unit: str, to_unit: str) -> float:
    """Factor that converts a value in ``from_unit`` into ``to_unit`` (``to = from x f``).

    Any unit converts to itself (factor 1, e.g. ``degC`` to ``degC``); otherwise
    both must be in :data:`LINEAR_UNITS` with the same dimension. 1 kWh =
    3.6 MJ, 1 GJ = 277.78 kWh (SI Brochure, 9th ed., BIPM 2019).

    >>> unit_factor("MWh", "kWh")
    1000.0
    >>> round(unit_factor("GJ", "kWh"), 4)
    277.7778

    Raises
    ------
    ValueError
        Unknown units or different dimensions (energy vs power).
    """
    if from_unit == to_unit:
        return 1.0
    try:
        dim_from, f_from = LINEAR_UNITS[from_unit]
        dim_to, f_to = LINEAR_UNITS[to_unit]
    except KeyError as exc:
        raise ValueError(
            f"cannot convert {from_unit!r} to {to_unit!r}: unit {exc.args[0]!r} is not one of "
            f"{', '.join(LINEAR_UNITS)}"
        ) from None
    if dim_from != dim_to:
        raise ValueError(f"cannot convert {from_unit!r} ({dim_from}) to {to_unit!r} ({dim_to})")
    return f_from / f_to


#: Unit suffixes used in public names, with the SI-consistent unit they denote.
#: The site loader uses this to tell "wrong unit" from "unknown field".
UNIT_SUFFIXES: dict[str, str] = {
    "_w": "W",
    "_kw": "kW",
    "_mw": "MW",
    "_kwh": "kWh",
    "_mwh": "MWh",
    "_wh": "Wh",
    "_j": "J",
    "_c": "degC",
    "_f": "degF",
    "_k": "K",
    "_m": "m",
    "_mm": "mm",
    "_cm": "cm",
    "_m2": "m2",
    "_m3": "m3",
    "_l": "L",
    "_gal": "gal",
    "_bar": "bar",
    "_pa": "Pa",
    "_psi": "psi",
    "_s": "s",
    "_min": "min",
    "_h": "h",
    "_d": "d",
    "_m3_per_h": "m3/h",
    "_l_per_s": "L/s",
    "_l_per_min": "L/min",
    "_kg_per_s": "kg/s",
    "_kg_per_h": "kg/h",
    "_fraction": "1",
    "_percent": "%",
    "_deg": "deg",
    "_eur": "EUR",
    "_eur_per_kwh": "EUR/kWh",
    "_kg_per_kwh": "kg/kWh",
    "_g_per_kwh": "g/kWh",
    "_w_per_k": "W/K",
    "_w_per_m_k": "W/(m K)",
    "_w_per_m2_k": "W/(m2 K)",
    "_m2_k_per_w": "m2 K/W",
    "_m_per_h": "m/h",
    "_per_h": "1/h",
    "_eur_per_kw": "EUR/kW",
    "_eur_per_m": "EUR/m",
    "_eur_per_m3": "EUR/m3",
    "_eur_per_year": "EUR/a",
}


def split_unit_suffix(name: str) -> tuple[str, str] | None:
    """Split a public name into (quantity stem, unit suffix), longest suffix first.

    Returns ``None`` when the name carries no known unit suffix.

    >>> split_unit_suffix("volume_m3")
    ('volume', '_m3')
    >>> split_unit_suffix("flow_m3_per_h")
    ('flow', '_m3_per_h')
    """
    for suffix in sorted(UNIT_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return None
