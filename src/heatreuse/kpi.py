"""Data-centre key performance indicators (ISO/IEC 30134, The Green Grid).

All energies are over the same period (normally 12 months) and in kWh.
Functions take floats or numpy arrays (e.g. one value per month), return a
``float`` for scalar input and an ``ndarray`` otherwise, and raise
:class:`heatreuse.errors.DomainError` naming the argument, what was expected
and what came.

References
----------
ISO/IEC 30134-2:2016 (PUE), -3:2016 (REF), -6:2021 (ERF), -7:2023 (CER),
-8:2022 (CUE), -9:2022 (WUE); identical to EN 50600-4-2/-3/-6/-7/-8/-9.
The Green Grid, White Paper #29, "ERE: A metric for measuring the benefit of
reuse energy from a data center" (2010). German Energieeffizienzgesetz
(EnEfG, 2023), section 11.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import numpy.typing as npt

from heatreuse.checks import as_array, is_scalar_call, non_negative, require, result

FloatArray = npt.NDArray[np.float64]
FloatOrArray = float | FloatArray

#: Relative round-off tolerance for "total includes IT" checks (1e-9 of IT energy).
_REL_TOL = 1.0e-9


def _it_energy(it_energy_kwh: Any, func: str) -> FloatArray:
    it = as_array(it_energy_kwh, func, "it_energy_kwh")
    require(it > 0.0, it, func, "it_energy_kwh", "IT energy > 0 kWh")
    return it


@overload
def pue(  # type: ignore[overload-overlap]
    total_energy_kwh: float, it_energy_kwh: float, upgrade_only_energy_kwh: float = 0.0
) -> float: ...
@overload
def pue(
    total_energy_kwh: FloatOrArray,
    it_energy_kwh: FloatOrArray,
    upgrade_only_energy_kwh: FloatOrArray = 0.0,
) -> FloatArray: ...
def pue(
    total_energy_kwh: FloatOrArray,
    it_energy_kwh: FloatOrArray,
    upgrade_only_energy_kwh: FloatOrArray = 0.0,
) -> FloatOrArray:
    """Power usage effectiveness.

    Parameters
    ----------
    total_energy_kwh : float or ndarray
        Total data-centre energy E_DC [kWh] (IT + power delivery + cooling +
        other, all energy carriers at the boundary).
    it_energy_kwh : float or ndarray
        IT equipment energy E_IT [kWh], ``> 0``.
    upgrade_only_energy_kwh : float or ndarray, default 0.0
        Electricity of plant used only to upgrade waste heat for a customer
        (e.g. a heat pump lifting it) [kWh]; EnEfG section 11 excludes it
        from PUE. Must be part of ``total_energy_kwh``.

    Returns
    -------
    float or ndarray
        PUE = (E_DC - E_upgrade) / E_IT [-], ``>= 1``.

    Raises
    ------
    DomainError
        IT energy <= 0, negative energies, upgrade energy above the total, or
        a total (after the exclusion) below the IT energy: E_DC includes IT,
        so PUE < 1 means the inputs are inconsistent.

    References
    ----------
    ISO/IEC 30134-2:2016, clause 6; EnEfG (2023) section 11 (exclusion of
    waste-heat upgrade electricity).

    Examples
    --------
    >>> pue(1300.0, 1000.0)
    1.3
    >>> pue(1400.0, 1000.0, upgrade_only_energy_kwh=100.0)
    1.3
    """
    func = "pue"
    it = _it_energy(it_energy_kwh, func)
    total = non_negative(total_energy_kwh, func, "total_energy_kwh", "kWh")
    upgrade = non_negative(upgrade_only_energy_kwh, func, "upgrade_only_energy_kwh", "kWh")
    require(
        upgrade <= total,
        upgrade,
        func,
        "upgrade_only_energy_kwh",
        "a part of total_energy_kwh (<= total)",
    )
    counted = total - upgrade
    require(
        counted >= it * (1.0 - _REL_TOL),
        counted,
        func,
        "total_energy_kwh",
        "a total (minus upgrade-only energy) that includes the IT energy, i.e. >= it_energy_kwh",
    )
    ratio = np.maximum(counted / it, 1.0)  # only round-off can put it below 1 here
    return result(ratio, is_scalar_call(total_energy_kwh, it_energy_kwh, upgrade_only_energy_kwh))


@overload
def erf(reused_energy_kwh: float, total_energy_kwh: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def erf(reused_energy_kwh: FloatOrArray, total_energy_kwh: FloatOrArray) -> FloatArray: ...
def erf(reused_energy_kwh: FloatOrArray, total_energy_kwh: FloatOrArray) -> FloatOrArray:
    """Energy reuse factor.

    Parameters
    ----------
    reused_energy_kwh : float or ndarray
        Energy reused outside the data-centre boundary E_Reuse [kWh], ``>= 0``.
    total_energy_kwh : float or ndarray
        Total data-centre energy E_DC [kWh], ``> 0``.

    Returns
    -------
    float or ndarray
        ERF = E_Reuse / E_DC [-], in ``[0, 1]``.

    Raises
    ------
    DomainError
        Reused energy above the total: ISO/IEC 30134-6 defines ERF in [0, 1]
        (the data centre cannot export more energy than it takes in; heat
        lifted by a heat pump outside the boundary is not the data centre's
        reuse).

    References
    ----------
    ISO/IEC 30134-6:2021 (EN 50600-4-6).

    Examples
    --------
    >>> erf(200.0, 1000.0)
    0.2
    """
    func = "erf"
    reused = non_negative(reused_energy_kwh, func, "reused_energy_kwh", "kWh")
    total = as_array(total_energy_kwh, func, "total_energy_kwh")
    require(total > 0.0, total, func, "total_energy_kwh", "total energy > 0 kWh")
    require(
        reused <= total,
        reused,
        func,
        "reused_energy_kwh",
        "reused energy <= total_energy_kwh (ERF is in [0, 1] per ISO/IEC 30134-6)",
    )
    return result(reused / total, is_scalar_call(reused_energy_kwh, total_energy_kwh))


@overload
def ere(total_energy_kwh: float, reused_energy_kwh: float, it_energy_kwh: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def ere(
    total_energy_kwh: FloatOrArray, reused_energy_kwh: FloatOrArray, it_energy_kwh: FloatOrArray
) -> FloatArray: ...
def ere(
    total_energy_kwh: FloatOrArray, reused_energy_kwh: FloatOrArray, it_energy_kwh: FloatOrArray
) -> FloatOrArray:
    """Energy reuse effectiveness.

    Parameters
    ----------
    total_energy_kwh : float or ndarray
        Total data-centre energy E_DC [kWh], ``>= it_energy_kwh``.
    reused_energy_kwh : float or ndarray
        Energy reused outside the boundary [kWh], ``0 <= reused <= total``.
    it_energy_kwh : float or ndarray
        IT energy [kWh], ``> 0``.

    Returns
    -------
    float or ndarray
        ERE = (E_DC - E_Reuse) / E_IT = (1 - ERF) PUE [-]. Unlike PUE it may
        be below 1 (down to 0).

    References
    ----------
    The Green Grid, White Paper #29 (2010).

    Examples
    --------
    >>> round(ere(1300.0, 390.0, 1000.0), 6)
    0.91
    """
    func = "ere"
    it = _it_energy(it_energy_kwh, func)
    total = non_negative(total_energy_kwh, func, "total_energy_kwh", "kWh")
    reused = non_negative(reused_energy_kwh, func, "reused_energy_kwh", "kWh")
    require(
        total >= it * (1.0 - _REL_TOL),
        total,
        func,
        "total_energy_kwh",
        "a total that includes the IT energy, i.e. >= it_energy_kwh",
    )
    require(reused <= total, reused, func, "reused_energy_kwh", "<= total_energy_kwh")
    return result(
        (total - reused) / it, is_scalar_call(total_energy_kwh, reused_energy_kwh, it_energy_kwh)
    )


@overload
def ref(renewable_energy_kwh: float, total_energy_kwh: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def ref(renewable_energy_kwh: FloatOrArray, total_energy_kwh: FloatOrArray) -> FloatArray: ...
def ref(renewable_energy_kwh: FloatOrArray, total_energy_kwh: FloatOrArray) -> FloatOrArray:
    """Renewable energy factor.

    Parameters
    ----------
    renewable_energy_kwh : float or ndarray
        Renewable energy E_Ren [kWh], ``>= 0``: only energy whose certificates
        the operator owns and retires (guarantees of origin, PPAs) or
        on-site generation it consumes.
    total_energy_kwh : float or ndarray
        Total data-centre energy E_DC [kWh], ``> 0``.

    Returns
    -------
    float or ndarray
        REF = min(E_Ren / E_DC, 1) [-].

    Notes
    -----
    Capped at 1.0 because REF measures the renewable share of the energy the
    data centre *consumes*: surplus certificates or on-site generation
    exported to the grid do not make the consumption more than 100 %
    renewable and cannot be claimed twice (ISO/IEC 30134-3).

    References
    ----------
    ISO/IEC 30134-3:2016 (EN 50600-4-3).

    Examples
    --------
    >>> ref(500.0, 1000.0)
    0.5
    >>> ref(1500.0, 1000.0)
    1.0
    """
    func = "ref"
    ren = non_negative(renewable_energy_kwh, func, "renewable_energy_kwh", "kWh")
    total = as_array(total_energy_kwh, func, "total_energy_kwh")
    require(total > 0.0, total, func, "total_energy_kwh", "total energy > 0 kWh")
    return result(
        np.minimum(ren / total, 1.0), is_scalar_call(renewable_energy_kwh, total_energy_kwh)
    )


@overload
def wue(water_l: float, it_energy_kwh: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def wue(water_l: FloatOrArray, it_energy_kwh: FloatOrArray) -> FloatArray: ...
def wue(water_l: FloatOrArray, it_energy_kwh: FloatOrArray) -> FloatOrArray:
    """Water usage effectiveness.

    Parameters
    ----------
    water_l : float or ndarray
        Site water input W_site [L], ``>= 0`` (EU reporting takes m3: 1 m3 =
        1000 L).
    it_energy_kwh : float or ndarray
        IT energy [kWh], ``> 0``.

    Returns
    -------
    float or ndarray
        WUE = W_site / E_IT [L/kWh].

    References
    ----------
    ISO/IEC 30134-9:2022 (EN 50600-4-9).

    Examples
    --------
    >>> wue(1800.0, 1000.0)
    1.8
    """
    func = "wue"
    it = _it_energy(it_energy_kwh, func)
    water = as_array(water_l, func, "water_l")
    require(water >= 0.0, water, func, "water_l", ">= 0 L")
    return result(water / it, is_scalar_call(water_l, it_energy_kwh))


@overload
def cue(total_emissions_kg: float, it_energy_kwh: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def cue(total_emissions_kg: FloatOrArray, it_energy_kwh: FloatOrArray) -> FloatArray: ...
def cue(total_emissions_kg: FloatOrArray, it_energy_kwh: FloatOrArray) -> FloatOrArray:
    """Carbon usage effectiveness.

    Parameters
    ----------
    total_emissions_kg : float or ndarray
        CO2-equivalent emissions of the total data-centre energy [kg CO2e],
        ``>= 0`` (no offsets, no avoided emissions).
    it_energy_kwh : float or ndarray
        IT energy [kWh], ``> 0``.

    Returns
    -------
    float or ndarray
        CUE = CO2e(E_DC) / E_IT [kg CO2e/kWh]; equals emission factor x PUE
        for a single supply.

    References
    ----------
    ISO/IEC 30134-8:2022 (EN 50600-4-8).

    Examples
    --------
    >>> round(cue(520.0, 1000.0), 3)
    0.52
    """
    func = "cue"
    it = _it_energy(it_energy_kwh, func)
    em = as_array(total_emissions_kg, func, "total_emissions_kg")
    require(em >= 0.0, em, func, "total_emissions_kg", ">= 0 kg (offsets are not netted)")
    return result(em / it, is_scalar_call(total_emissions_kg, it_energy_kwh))


@overload
def cer(heat_removed_kwh: float, cooling_energy_kwh: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def cer(heat_removed_kwh: FloatOrArray, cooling_energy_kwh: FloatOrArray) -> FloatArray: ...
def cer(heat_removed_kwh: FloatOrArray, cooling_energy_kwh: FloatOrArray) -> FloatOrArray:
    """Cooling efficiency ratio.

    Parameters
    ----------
    heat_removed_kwh : float or ndarray
        Heat removed from the data centre by the cooling system [kWh], ``>= 0``.
    cooling_energy_kwh : float or ndarray
        Energy used by the cooling system [kWh], ``> 0``.

    Returns
    -------
    float or ndarray
        CER = Q_removed / E_cooling [-].

    References
    ----------
    ISO/IEC 30134-7:2023 (EN 50600-4-7).

    Examples
    --------
    >>> cer(1000.0, 80.0)
    12.5
    """
    func = "cer"
    heat = non_negative(heat_removed_kwh, func, "heat_removed_kwh", "kWh")
    cooling = as_array(cooling_energy_kwh, func, "cooling_energy_kwh")
    require(cooling > 0.0, cooling, func, "cooling_energy_kwh", "cooling energy > 0 kWh")
    return result(heat / cooling, is_scalar_call(heat_removed_kwh, cooling_energy_kwh))


def reused_energy_kwh(heat_delivered_kwh: float, heat_pump_electricity_kwh: float = 0.0) -> float:
    """Waste heat reused outside the data-centre boundary, E_Reuse, for ERF and ERE [kWh].

    E_Reuse = Q_delivered - W_heat_pump (floored at 0). Conservative: the heat pump's own
    electricity ends up in the delivered heat but is not the data centre's waste heat
    (ISO/IEC 30134-6 counts reused *waste* energy). The one definition the planner and the
    ledger share, so a plan's ERF and an audited ERF mean the same.

    Parameters
    ----------
    heat_delivered_kwh
        Heat metered at the customer interface [kWh].
    heat_pump_electricity_kwh
        Electricity of a heat pump that lifts the recovered heat [kWh].

    Raises
    ------
    DomainError
        Negative or non-finite input.
    """
    q = float(non_negative(heat_delivered_kwh, "reused_energy_kwh", "heat_delivered_kwh", "kWh"))
    w = float(
        non_negative(
            heat_pump_electricity_kwh, "reused_energy_kwh", "heat_pump_electricity_kwh", "kWh"
        )
    )
    return max(0.0, q - w)
