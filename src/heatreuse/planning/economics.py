"""Money figures of a reuse installation: capex, opex, energy cost, heat revenue, payback, NPV.

All prices come from the site file (``contract.tariffs``); the money figures
are **estimates** (planning-grade prices, a constant annual cash flow, no
inflation or price escalation) and every report labels them so.

Cash flow of one year (the reuse installation's own account)::

    net_cash_flow = heat_revenue - opex - energy_cost
    heat_revenue  = Q_delivered * heat_sale_price        (waste heat sold at the interface)
    energy_cost   = (W_pumps + W_heat_pump) * electricity_price
    opex          = tariffs.opex_eur_per_year            (fixed operation and maintenance)

All pump electricity is charged to the reuse (conservative: the primary pump
would also run for cooling alone). Backup heat is the customer's own heat and
stays outside the cash flow; its fuel cost is reported for information.

Simple payback = capex / net_cash_flow (none when the cash flow is not
positive). Net present value over :data:`LIFETIME_YEARS` years at the
tariffs' discount rate r::

    NPV = -capex + net_cash_flow * (1 - (1 + r)^-N) / r        (N for r = 0)

References
----------
VDI 2067 Blatt 1 (2012), Economic efficiency of building installations:
annuity method and service lives of components. Brealey, Myers and Allen,
Principles of Corporate Finance, ch. 2 (present value of an annuity).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from heatreuse.errors import DomainError
from heatreuse.site.model import Capex, Site, Tariffs
from heatreuse.units import W_PER_KW

#: Economic lifetime of the reuse installation for the NPV [years] (estimate:
#: VDI 2067-1 lists service lives of 10 to 20 years for pumps, heat exchangers
#: and storage tanks; 15 years is taken as a mid value).
LIFETIME_YEARS = 15


@dataclass(frozen=True)
class CapexBreakdown:
    """Investment in the reuse installation by part [EUR] (estimate)."""

    fixed_eur: float
    tank_eur: float
    heat_exchanger_eur: float
    pipe_eur: float
    heat_pump_eur: float

    @property
    def total_eur(self) -> float:
        """Sum of all parts [EUR]."""
        return (
            self.fixed_eur
            + self.tank_eur
            + self.heat_exchanger_eur
            + self.pipe_eur
            + (self.heat_pump_eur)
        )

    def as_dict(self) -> dict[str, float]:
        """Parts and ``total_eur`` as a plain dict [EUR]."""
        out = asdict(self)
        out["total_eur"] = self.total_eur
        return out


@dataclass(frozen=True)
class CashFlow:
    """One year's money figures of the reuse installation (estimates).

    Attributes
    ----------
    heat_revenue_eur_per_year, energy_cost_eur_per_year, opex_eur_per_year
        Revenue from heat sold, electricity of pumps and heat pump, fixed O&M [EUR/a].
    backup_fuel_cost_eur_per_year
        Fuel of the backup boiler (the customer's, outside the cash flow) [EUR/a].
    net_cash_flow_eur_per_year
        revenue - opex - energy cost [EUR/a].
    """

    heat_revenue_eur_per_year: float
    energy_cost_eur_per_year: float
    opex_eur_per_year: float
    backup_fuel_cost_eur_per_year: float

    @property
    def net_cash_flow_eur_per_year(self) -> float:
        """Net yearly cash flow [EUR/a]."""
        return (
            self.heat_revenue_eur_per_year
            - self.opex_eur_per_year
            - (self.energy_cost_eur_per_year)
        )


def capex_breakdown(
    capex: Capex,
    *,
    tank_volume_m3: float,
    pipe_length_m: float,
    heat_pump_max_heat_w: float = 0.0,
    reuse_plant: bool = True,
) -> CapexBreakdown:
    """Investment from the site's unit prices (``contract.tariffs.capex``).

    Parameters
    ----------
    capex
        Unit prices [EUR, EUR/m3, EUR/m, EUR/kW].
    tank_volume_m3
        Buffer tank volume [m3].
    pipe_length_m
        One-way pipe length to the customer [m] (the price per metre covers the pair).
    heat_pump_max_heat_w
        Heat pump heating capacity [W]; 0 without one.
    reuse_plant
        False for "backup reject with reuse option": only the heat-exchanger
        tie-in for a future customer is built (no fixed project cost, tank,
        pipe or heat pump).

    Returns
    -------
    CapexBreakdown
    """
    for name, value in (
        ("tank_volume_m3", tank_volume_m3),
        ("pipe_length_m", pipe_length_m),
        ("heat_pump_max_heat_w", heat_pump_max_heat_w),
    ):
        if not math.isfinite(value) or value < 0.0:
            raise DomainError(f"capex_breakdown: {name} expected a finite value >= 0, got {value}")
    if not reuse_plant:
        return CapexBreakdown(0.0, 0.0, capex.heat_exchanger_eur, 0.0, 0.0)
    return CapexBreakdown(
        fixed_eur=capex.fixed_eur,
        tank_eur=capex.tank_eur_per_m3 * tank_volume_m3,
        heat_exchanger_eur=capex.heat_exchanger_eur,
        pipe_eur=capex.pipe_eur_per_m * pipe_length_m,
        heat_pump_eur=capex.heat_pump_eur_per_kw * heat_pump_max_heat_w / W_PER_KW,
    )


def site_capex(site: Site, *, reuse_plant: bool = True) -> CapexBreakdown:
    """:func:`capex_breakdown` for the plant as the site file describes it."""
    plant = site.plant
    return capex_breakdown(
        site.contract.tariffs.capex,
        tank_volume_m3=plant.buffer_tank.volume_m3,
        pipe_length_m=plant.pipe.length_m,
        heat_pump_max_heat_w=plant.heat_pump.max_heat_w if plant.heat_pump else 0.0,
        reuse_plant=reuse_plant,
    )


def cash_flow(
    tariffs: Tariffs,
    *,
    heat_delivered_kwh: float,
    pump_electricity_kwh: float,
    heat_pump_electricity_kwh: float,
    backup_fuel_kwh: float,
    reuse_plant: bool = True,
) -> CashFlow:
    """One year's cash flow of the reuse installation (see module docstring).

    Parameters
    ----------
    tariffs
        The site's prices.
    heat_delivered_kwh, pump_electricity_kwh, heat_pump_electricity_kwh, backup_fuel_kwh
        Annual energies [kWh].
    reuse_plant
        False when no reuse plant is operated (reject model): no fixed opex.
    """
    return CashFlow(
        heat_revenue_eur_per_year=heat_delivered_kwh * tariffs.heat_sale_eur_per_kwh,
        energy_cost_eur_per_year=(pump_electricity_kwh + heat_pump_electricity_kwh)
        * tariffs.electricity_eur_per_kwh,
        opex_eur_per_year=tariffs.opex_eur_per_year if reuse_plant else 0.0,
        backup_fuel_cost_eur_per_year=backup_fuel_kwh * tariffs.backup_fuel_eur_per_kwh,
    )


def simple_payback_years(capex_eur: float, net_cash_flow_eur_per_year: float) -> float | None:
    """Simple payback = capex / net yearly cash flow [years]; None if it never pays back.

    Zero capex pays back at once (0 years) when the cash flow is not negative.
    """
    if capex_eur <= 0.0 and net_cash_flow_eur_per_year >= 0.0:
        return 0.0
    if net_cash_flow_eur_per_year <= 0.0:
        return None
    return capex_eur / net_cash_flow_eur_per_year


def annuity_factor(discount_rate_fraction: float, lifetime_years: int) -> float:
    """Present value of 1 EUR a year for ``lifetime_years`` years [-].

    (1 - (1 + r)^-N) / r, and N for r = 0 (Brealey, Myers and Allen, ch. 2).
    """
    if lifetime_years < 0:
        raise DomainError(f"annuity_factor: lifetime_years expected >= 0, got {lifetime_years}")
    if discount_rate_fraction <= -1.0:
        raise DomainError(
            f"annuity_factor: discount_rate_fraction expected > -1, got {discount_rate_fraction}"
        )
    r = discount_rate_fraction
    if abs(r) < 1e-12:
        return float(lifetime_years)
    return (1.0 - (1.0 + r) ** (-lifetime_years)) / r


def npv_eur(
    capex_eur: float,
    net_cash_flow_eur_per_year: float,
    discount_rate_fraction: float,
    lifetime_years: int = LIFETIME_YEARS,
) -> float:
    """Net present value: -capex + cash flow x annuity factor [EUR]."""
    return -capex_eur + net_cash_flow_eur_per_year * annuity_factor(
        discount_rate_fraction, lifetime_years
    )


def money_figures(
    site: Site,
    capex: CapexBreakdown,
    *,
    heat_delivered_kwh: float,
    pump_electricity_kwh: float,
    heat_pump_electricity_kwh: float,
    backup_fuel_kwh: float,
    reuse_plant: bool = True,
) -> dict[str, float | None]:
    """All money figures of one run as a flat dict (keys carry their units).

    Returns
    -------
    dict
        ``capex_eur``, ``opex_eur_per_year``, ``energy_cost_eur_per_year``,
        ``heat_revenue_eur_per_year``, ``backup_fuel_cost_eur_per_year``,
        ``net_cash_flow_eur_per_year``, ``payback_years`` (None: never),
        ``npv_eur``, ``discount_rate_fraction``, ``lifetime_years``.
    """
    tariffs = site.contract.tariffs
    flow = cash_flow(
        tariffs,
        heat_delivered_kwh=heat_delivered_kwh,
        pump_electricity_kwh=pump_electricity_kwh,
        heat_pump_electricity_kwh=heat_pump_electricity_kwh,
        backup_fuel_kwh=backup_fuel_kwh,
        reuse_plant=reuse_plant,
    )
    net = flow.net_cash_flow_eur_per_year
    total = capex.total_eur
    return {
        "capex_eur": total,
        "opex_eur_per_year": flow.opex_eur_per_year,
        "energy_cost_eur_per_year": flow.energy_cost_eur_per_year,
        "heat_revenue_eur_per_year": flow.heat_revenue_eur_per_year,
        "backup_fuel_cost_eur_per_year": flow.backup_fuel_cost_eur_per_year,
        "net_cash_flow_eur_per_year": net,
        "payback_years": simple_payback_years(total, net),
        "npv_eur": npv_eur(total, net, tariffs.discount_rate_fraction),
        "discount_rate_fraction": tariffs.discount_rate_fraction,
        "lifetime_years": float(LIFETIME_YEARS),
    }
