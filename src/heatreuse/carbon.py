"""Avoided-emissions accounting for delivered waste heat.

Avoided emissions are reported apart from Scopes 1-3 (WBCSD guidance):
delivered heat displaces heat the customer would otherwise have made (the
counterfactual, normally a boiler) minus the extra electricity the reuse needs
(heat pump, pumps)::

    E_avoided = Q_delivered * EF_fuel / eta_ref - (W_heat_pump + W_aux) * EF_grid

* ``Q_delivered``: metered heat at the customer interface (after pipe losses).
* ``eta_ref``: efficiency of the displaced plant, on the same calorific basis
  (net or gross) as ``EF_fuel``, taken at the high end (0.90 or more for a
  condensing gas boiler; 1.0 is the most conservative).
* ``EF_grid``: location-based grid factor by default (GHG Protocol Scope 2
  Guidance also requires a market-based figure where contracts exist).
* If the displaced heat would have come from a heat pump, use
  :func:`heat_pump_counterfactual_factor_kg_per_kwh` as ``EF_fuel`` with
  ``eta_ref = 1``; the result may be near zero or negative.

Emission factors are data (with their source and year in the site file),
never constants in code.

References
----------
WBCSD (2023), Guidance on Avoided Emissions: Helping business drive
innovations and scale solutions towards Net Zero. GHG Protocol Scope 2
Guidance (WRI/WBCSD 2015). IPCC 2006 Guidelines, Vol. 2, ch. 2, Table 2.2
(natural gas default 56,100 kg CO2/TJ on net calorific value).
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import numpy.typing as npt

from heatreuse.checks import as_array, is_scalar_call, non_negative, require, result

FloatArray = npt.NDArray[np.float64]
FloatOrArray = float | FloatArray

#: Highest accepted efficiency of a displaced combustion plant [-]. A
#: condensing boiler reaches about 1.09 on net calorific value; anything above
#: 1.2 is a unit slip (percent for fraction) or a heat pump, which has its own
#: counterfactual (:func:`heat_pump_counterfactual_factor_kg_per_kwh`).
REFERENCE_EFFICIENCY_MAX = 1.2


def _efficiency(value: Any, func: str) -> FloatArray:
    eta = as_array(value, func, "reference_efficiency")
    require(
        (eta > 0.0) & (eta <= REFERENCE_EFFICIENCY_MAX),
        eta,
        func,
        "reference_efficiency",
        f"a fraction in (0, {REFERENCE_EFFICIENCY_MAX}] (0.9 for a condensing gas boiler; "
        "not percent; for a heat-pump counterfactual use "
        "heat_pump_counterfactual_factor_kg_per_kwh with efficiency 1.0)",
    )
    return eta


@overload
def displaced_fuel_kwh(heat_delivered_kwh: float, reference_efficiency: float) -> float: ...  # type: ignore[overload-overlap]
@overload
def displaced_fuel_kwh(
    heat_delivered_kwh: FloatOrArray, reference_efficiency: FloatOrArray
) -> FloatArray: ...
def displaced_fuel_kwh(
    heat_delivered_kwh: FloatOrArray, reference_efficiency: FloatOrArray
) -> FloatOrArray:
    """Fuel the counterfactual plant would have burnt for the delivered heat.

    Parameters
    ----------
    heat_delivered_kwh : float or ndarray
        Metered heat at the customer interface [kWh], ``>= 0``.
    reference_efficiency : float or ndarray
        Efficiency of the displaced plant [-], in ``(0, 1.2]``, on the
        calorific basis of the fuel energy returned.

    Returns
    -------
    float or ndarray
        Fuel energy Q / eta_ref [kWh].

    References
    ----------
    WBCSD (2023), Guidance on Avoided Emissions (counterfactual baseline).

    Examples
    --------
    >>> displaced_fuel_kwh(900.0, 0.9)
    1000.0
    """
    func = "displaced_fuel_kwh"
    q = non_negative(heat_delivered_kwh, func, "heat_delivered_kwh", "kWh")
    eta = _efficiency(reference_efficiency, func)
    return result(q / eta, is_scalar_call(heat_delivered_kwh, reference_efficiency))


@overload
def heat_pump_counterfactual_factor_kg_per_kwh(  # type: ignore[overload-overlap]
    grid_factor_kg_per_kwh: float, seasonal_cop: float
) -> float: ...
@overload
def heat_pump_counterfactual_factor_kg_per_kwh(
    grid_factor_kg_per_kwh: FloatOrArray, seasonal_cop: FloatOrArray
) -> FloatArray: ...
def heat_pump_counterfactual_factor_kg_per_kwh(
    grid_factor_kg_per_kwh: FloatOrArray, seasonal_cop: FloatOrArray
) -> FloatOrArray:
    """Emission factor per kWh of heat from a counterfactual heat pump.

    Parameters
    ----------
    grid_factor_kg_per_kwh : float or ndarray
        Grid electricity emission factor [kg CO2e/kWh_el], ``>= 0``.
    seasonal_cop : float or ndarray
        Seasonal COP of the heat pump that would otherwise supply the heat
        [-], ``>= 1``.

    Returns
    -------
    float or ndarray
        EF_grid / SCOP [kg CO2e/kWh_heat]; pass it as ``fuel_factor_kg_per_kwh``
        to :func:`avoided_emissions_kg` with ``reference_efficiency=1.0``.

    References
    ----------
    WBCSD (2023), Guidance on Avoided Emissions (choice of the reference
    scenario).

    Examples
    --------
    >>> heat_pump_counterfactual_factor_kg_per_kwh(0.4, 4.0)
    0.1
    """
    func = "heat_pump_counterfactual_factor_kg_per_kwh"
    ef = non_negative(grid_factor_kg_per_kwh, func, "grid_factor_kg_per_kwh", "kg/kWh")
    scop = as_array(seasonal_cop, func, "seasonal_cop")
    require(scop >= 1.0, scop, func, "seasonal_cop", "a heating COP >= 1")
    return result(ef / scop, is_scalar_call(grid_factor_kg_per_kwh, seasonal_cop))


@overload
def avoided_emissions_kg(  # type: ignore[overload-overlap]
    heat_delivered_kwh: float,
    fuel_factor_kg_per_kwh: float,
    reference_efficiency: float,
    heat_pump_electricity_kwh: float = 0.0,
    aux_electricity_kwh: float = 0.0,
    grid_factor_kg_per_kwh: float = 0.0,
) -> float: ...
@overload
def avoided_emissions_kg(
    heat_delivered_kwh: FloatOrArray,
    fuel_factor_kg_per_kwh: FloatOrArray,
    reference_efficiency: FloatOrArray,
    heat_pump_electricity_kwh: FloatOrArray = 0.0,
    aux_electricity_kwh: FloatOrArray = 0.0,
    grid_factor_kg_per_kwh: FloatOrArray = 0.0,
) -> FloatArray: ...
def avoided_emissions_kg(
    heat_delivered_kwh: FloatOrArray,
    fuel_factor_kg_per_kwh: FloatOrArray,
    reference_efficiency: FloatOrArray,
    heat_pump_electricity_kwh: FloatOrArray = 0.0,
    aux_electricity_kwh: FloatOrArray = 0.0,
    grid_factor_kg_per_kwh: FloatOrArray = 0.0,
) -> FloatOrArray:
    """Emissions avoided by delivering waste heat instead of the counterfactual.

    Parameters
    ----------
    heat_delivered_kwh : float or ndarray
        Metered heat at the customer interface Q [kWh], ``>= 0``.
    fuel_factor_kg_per_kwh : float or ndarray
        Emission factor of the displaced fuel EF_fuel [kg CO2e/kWh fuel],
        ``>= 0``, same calorific basis as ``reference_efficiency``.
    reference_efficiency : float or ndarray
        Efficiency of the displaced plant eta_ref [-], in ``(0, 1.2]``.
    heat_pump_electricity_kwh : float or ndarray, default 0.0
        Electricity of a heat pump lifting the waste heat W_hp [kWh], ``>= 0``.
    aux_electricity_kwh : float or ndarray, default 0.0
        Extra electricity for the reuse (pumps, controls) W_aux [kWh], ``>= 0``.
    grid_factor_kg_per_kwh : float or ndarray, default 0.0
        Emission factor of that electricity EF_grid [kg CO2e/kWh], ``>= 0``.
        The default 0 counts the electricity as carbon-free: pass the
        location-based factor whenever electricity is given (0 is right only
        for a market-based figure backed by contracts).

    Returns
    -------
    float or ndarray
        E = Q EF_fuel / eta_ref - (W_hp + W_aux) EF_grid [kg CO2e]. May be
        negative (the reuse emits more than it avoids).

    Raises
    ------
    DomainError
        Negative energy or factor, or efficiency outside ``(0, 1.2]`` (e.g. 90
        given as percent).

    References
    ----------
    WBCSD (2023), Guidance on Avoided Emissions; GHG Protocol Scope 2
    Guidance (2015).

    Examples
    --------
    >>> round(avoided_emissions_kg(1000.0, 0.2, 0.9, 250.0, 10.0, 0.4), 3)
    118.222
    """
    func = "avoided_emissions_kg"
    q = non_negative(heat_delivered_kwh, func, "heat_delivered_kwh", "kWh")
    ef_fuel = non_negative(fuel_factor_kg_per_kwh, func, "fuel_factor_kg_per_kwh", "kg/kWh")
    eta = _efficiency(reference_efficiency, func)
    w_hp = non_negative(heat_pump_electricity_kwh, func, "heat_pump_electricity_kwh", "kWh")
    w_aux = non_negative(aux_electricity_kwh, func, "aux_electricity_kwh", "kWh")
    ef_grid = non_negative(grid_factor_kg_per_kwh, func, "grid_factor_kg_per_kwh", "kg/kWh")
    electricity = w_hp + w_aux
    avoided = q * ef_fuel / eta - electricity * ef_grid
    return result(
        avoided,
        is_scalar_call(
            heat_delivered_kwh,
            fuel_factor_kg_per_kwh,
            reference_efficiency,
            heat_pump_electricity_kwh,
            aux_electricity_kwh,
            grid_factor_kg_per_kwh,
        ),
    )
