"""One place that turns a year's simulation totals into the study's figures.

Every number the plan shows (summary, comparison, sweep, report) comes from
:func:`study_figures`, so they cannot drift apart. Keys carry their units.

KPIs (:mod:`heatreuse.kpi`, ISO/IEC 30134):

* ``total_energy_kwh`` E_DC: the site's metered electricity (IT, cooling,
  pumps, other, heat pump).
* ``pue`` = E_DC / E_IT as is, and ``pue_enefg`` = (E_DC - E_upgrade) / E_IT;
  E_upgrade is heat-pump electricity when the site marks the heat pump
  ``upgrade_only`` (EnEfG section 11). Same keys and meaning as the ledger's KPIs.
* ``reused_energy_kwh`` E_Reuse from :func:`heatreuse.kpi.reused_energy_kwh`
  (heat delivered - heat-pump electricity, the ledger uses the same), and
  ``erf`` = E_Reuse / E_DC, ``ere`` = (E_DC - E_Reuse) / E_IT.

Avoided CO2 (:func:`heatreuse.carbon.avoided_emissions_kg`, standards.md):
Q_delivered * EF_fuel / eta_ref - (W_heat_pump + W_pumps) * EF_grid, with the
factors, sources and years from ``contract.emission_factors``. All pump
electricity is charged to the reuse (conservative).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from heatreuse import carbon, kpi
from heatreuse.planning.economics import CapexBreakdown, money_figures
from heatreuse.site.model import Site


def upgrade_only_energy_kwh(site: Site, heat_pump_electricity_kwh: float) -> float:
    """Electricity excluded from PUE (EnEfG section 11) [kWh]."""
    hp = site.plant.heat_pump
    return heat_pump_electricity_kwh if hp is not None and hp.upgrade_only else 0.0


def kpi_figures(site: Site, totals: Mapping[str, float]) -> dict[str, float]:
    """PUE, ERF, ERE and the energies they use, from a run's totals [kWh, -]."""
    it = float(totals["it_energy_kwh"])
    total = float(totals["total_energy_kwh"])
    hp_el = float(totals["heat_pump_electricity_kwh"])
    reused = kpi.reused_energy_kwh(float(totals["heat_delivered_kwh"]), hp_el)
    upgrade = upgrade_only_energy_kwh(site, hp_el)
    if it <= 0.0 or total <= 0.0:
        nan = float("nan")
        return {
            "reused_energy_kwh": reused,
            "upgrade_only_energy_kwh": upgrade,
            "pue": nan,
            "pue_enefg": nan,
            "erf": nan,
            "ere": nan,
        }
    return {
        "reused_energy_kwh": reused,
        "upgrade_only_energy_kwh": upgrade,
        "pue": float(kpi.pue(total, it)),
        "pue_enefg": float(kpi.pue(total, it, upgrade_only_energy_kwh=upgrade)),
        "erf": float(kpi.erf(reused, total)),
        "ere": float(kpi.ere(total, reused, it)),
    }


def avoided_emissions_figure_kg(
    site: Site, totals: Mapping[str, float], *, reuse_plant: bool = True
) -> float:
    """Avoided CO2 of a run [kg] with the site's emission factors (conservative method).

    Without a reuse plant (reject model) no pump electricity is charged to reuse.
    """
    ef = site.contract.emission_factors
    aux = float(totals["pump_electricity_kwh"]) if reuse_plant else 0.0
    return float(
        carbon.avoided_emissions_kg(
            float(totals["heat_delivered_kwh"]),
            ef.displaced_fuel.value_kg_per_kwh,
            ef.reference_efficiency_fraction,
            heat_pump_electricity_kwh=float(totals["heat_pump_electricity_kwh"]),
            aux_electricity_kwh=aux,
            grid_factor_kg_per_kwh=ef.grid.value_kg_per_kwh,
        )
    )


def study_figures(
    site: Site,
    totals: Mapping[str, float],
    capex: CapexBreakdown,
    *,
    reuse_plant: bool = True,
) -> dict[str, Any]:
    """KPIs, avoided CO2 and money figures of a run (flat dict, units in keys).

    Parameters
    ----------
    site
        The site (tariffs, emission factors, heat pump flags).
    totals
        :meth:`heatreuse.simulation.SimulationResult.totals` of a one-year run [kWh].
    capex
        Investment for this variant.
    reuse_plant
        False for the "backup reject with reuse option" model (no reuse operated).
    """
    out: dict[str, Any] = {}
    out.update(kpi_figures(site, totals))
    out["captured_heat_reused_fraction"] = (
        float(totals["heat_delivered_kwh"]) / float(totals["heat_captured_kwh"])
        if float(totals["heat_captured_kwh"]) > 0
        else 0.0
    )
    out["avoided_emissions_kg"] = avoided_emissions_figure_kg(site, totals, reuse_plant=reuse_plant)
    out.update(
        money_figures(
            site,
            capex,
            heat_delivered_kwh=float(totals["heat_delivered_kwh"]),
            pump_electricity_kwh=float(totals["pump_electricity_kwh"]) if reuse_plant else 0.0,
            heat_pump_electricity_kwh=float(totals["heat_pump_electricity_kwh"]),
            backup_fuel_kwh=float(totals["backup_fuel_kwh"]),
            reuse_plant=reuse_plant,
        )
    )
    return out


def emission_factor_sources(site: Site) -> dict[str, Any]:
    """The emission factors used, with source, year and basis (for summary and report)."""
    ef = site.contract.emission_factors
    return {
        "grid": ef.grid.model_dump(),
        "displaced_fuel": ef.displaced_fuel.model_dump(),
        "displaced_fuel_kind": ef.displaced_fuel_kind,
        "reference_efficiency_fraction": ef.reference_efficiency_fraction,
    }
