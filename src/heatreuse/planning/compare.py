"""The five reuse models side by side, each simulated on the same site and weather.

Models (:data:`REUSE_MODELS`): swimming pool, district-heating return
preheat, domestic hot water preheat, greenhouse, and "backup reject with
reuse option". For the site's own customer kind the site file's customer is
used; for the other kinds a default customer sized to the site
(:func:`heatreuse.simulation.demand.default_customer`: mean demand equal to
the recoverable heat), so the comparison shows how timing and temperatures
fit, not which customer happens to be bigger.

"Backup reject with reuse option" is the site without a heat customer: all
captured heat goes to the dry cooler (a dry cooler sized to the captured
heat at nameplate is assumed when the site file has none, an estimate), and
only a heat-exchanger tie-in is built so a customer can be connected later.
Its demand column shows the site customer's demand (the option), of which
it covers nothing.

Each row: heat delivered, share of the customer's demand covered, heat
rejected, backup heat, pipe losses, ERF, PUE, avoided CO2, capex, opex,
payback and the key risk (the most severe fit reason, else the model's
typical risk from :data:`TYPICAL_RISKS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from heatreuse.planning.economics import site_capex
from heatreuse.planning.figures import study_figures
from heatreuse.planning.matrix import DemandProfile, KindDemand, Reason, demand_profile
from heatreuse.simulation import SimulationResult, simulate
from heatreuse.site.model import HeatReject, Site

#: The five reuse models compared, in report order.
REUSE_MODELS: tuple[str, ...] = (
    "pool",
    "district_preheat",
    "dhw_preheat",
    "greenhouse",
    "backup_reject",
)
MODEL_LABELS: dict[str, str] = {
    "pool": "Swimming pool",
    "district_preheat": "District-heating return preheat",
    "dhw_preheat": "Domestic hot water preheat",
    "greenhouse": "Greenhouse",
    "space_heating": "Space heating",
    "backup_reject": "Backup reject with reuse option",
}
#: Typical risk of each model when no fit reason is severe (planning judgement, estimate).
TYPICAL_RISKS: dict[str, str] = {
    "pool": "one customer: pool closures (yearly maintenance, refurbishment) stop all reuse",
    "district_preheat": "the network's return temperature and the operator's contract set "
    "volume and price",
    "dhw_preheat": "hygiene rules (DVGW W 551: 60 C at the storage) allow preheat only; "
    "little draw at night",
    "greenhouse": "demand collapses in summer and between crops; growers price heat against gas",
    "space_heating": "heating season only: heat is rejected all summer",
    "backup_reject": "no heat reused (ERF 0): new sites from 300 kW miss the EnEfG reuse share "
    "(10 % from July 2026)",
}


@dataclass(frozen=True)
class ModelRun:
    """One compared model: its row, the profile of its customer and the run's totals [kWh, h].

    Only the totals are kept (not the per-step frame), so comparing five
    models at 60 s steps does not hold five year-long frames in memory.
    """

    model: str
    row: dict[str, Any]
    profile: DemandProfile | None
    totals: dict[str, float]


def _row(
    model: str,
    kd: KindDemand,
    totals: Mapping[str, float],
    figures: Mapping[str, Any],
    key_risk: str,
    verdict: str,
    heat_demand_kwh: float,
) -> dict[str, Any]:
    delivered = float(totals["heat_delivered_kwh"])
    return {
        "model": model,
        "label": MODEL_LABELS[model],
        "customer_kind": kd.kind,
        "customer_name": kd.customer.name if model != "backup_reject" else "none (option)",
        "is_site_customer": kd.is_site_customer and model != "backup_reject",
        "heat_demand_kwh": heat_demand_kwh,
        "heat_delivered_kwh": delivered,
        "demand_coverage_fraction": delivered / heat_demand_kwh if heat_demand_kwh > 0 else 0.0,
        "heat_rejected_kwh": float(totals["heat_rejected_kwh"]),
        "backup_heat_kwh": float(totals["backup_heat_kwh"]),
        "unmet_heat_kwh": float(totals["unmet_heat_kwh"]),
        "pipe_loss_kwh": float(totals["pipe_loss_kwh"]),
        "it_energy_kwh": float(totals["it_energy_kwh"]),
        "total_energy_kwh": float(totals["total_energy_kwh"]),
        "heat_pump_electricity_kwh": float(totals["heat_pump_electricity_kwh"]),
        "throttled_h": float(totals.get("throttled_h", 0.0)),
        "reused_energy_kwh": figures["reused_energy_kwh"],
        "pue": figures["pue"],
        "pue_enefg": figures["pue_enefg"],
        "erf": figures["erf"],
        "ere": figures["ere"],
        "avoided_emissions_kg": figures["avoided_emissions_kg"],
        "capex_eur": figures["capex_eur"],
        "opex_eur_per_year": figures["opex_eur_per_year"],
        "energy_cost_eur_per_year": figures["energy_cost_eur_per_year"],
        "heat_revenue_eur_per_year": figures["heat_revenue_eur_per_year"],
        "net_cash_flow_eur_per_year": figures["net_cash_flow_eur_per_year"],
        "payback_years": figures["payback_years"],
        "npv_eur": figures["npv_eur"],
        "fit_verdict": verdict,
        "key_risk": key_risk,
        "balance_residual_fraction": float(totals["balance_residual_fraction"]),
    }


def reject_site(site: Site) -> Site:
    """The site with no reuse: a dry cooler for all captured heat (assumed if absent)."""
    if site.plant.heat_reject is not None:
        return site
    cool = site.compute.cooling
    capacity_w = site.compute.nameplate_it_power_w * cool.heat_capture_fraction
    plant = site.plant.model_copy(
        update={"heat_reject": HeatReject(dry_cooler_capacity_w=capacity_w)}
    )
    return site.model_copy(update={"plant": plant})


def reject_demand(demand: pd.DataFrame) -> pd.DataFrame:
    """The demand frame with no heat taken: zero demand, customer not operating."""
    out = demand.copy()
    out["heat_demand_w"] = 0.0
    out["operating"] = False
    return out


def run_model(
    model: str,
    site: Site,
    kd: KindDemand,
    *,
    step_s: int,
    result: SimulationResult | None = None,
) -> ModelRun:
    """Simulate one reuse model (``result`` reuses an existing run of the same customer)."""
    if model == "backup_reject":
        site_r = reject_site(site)
        res = result or simulate(site_r, reject_demand(kd.demand), step_s=step_s)
        totals = res.totals()
        figures = study_figures(
            site_r, totals, site_capex(site, reuse_plant=False), reuse_plant=False
        )
        demand_kwh = float(kd.demand["heat_demand_w"].sum()) * _step_h(kd.demand) / 1000.0
        return ModelRun(
            model,
            _row(model, kd, totals, figures, TYPICAL_RISKS[model], "poor", demand_kwh),
            None,
            totals,
        )
    site_k = site if kd.is_site_customer else site.model_copy(update={"customer": kd.customer})
    res = result or simulate(site_k, kd.demand, step_s=step_s)
    totals = res.totals()
    figures = study_figures(site_k, totals, site_capex(site_k))
    profile = demand_profile(
        site_k, kd.customer, kd.demand, is_site_customer=kd.is_site_customer, totals=totals
    )
    key: Reason | None = profile.fit.key_reason()
    risk = key.text if key is not None and key.severity == "major" else TYPICAL_RISKS[model]
    row = _row(
        model, kd, totals, figures, risk, profile.fit.verdict, float(totals["heat_demand_kwh"])
    )
    return ModelRun(model, row, profile, totals)


def _step_h(frame: pd.DataFrame) -> float:
    idx = pd.DatetimeIndex(frame.index)
    return (idx[1] - idx[0]).total_seconds() / 3600.0 if len(idx) > 1 else 1.0


def compare_models(
    site: Site,
    demands: Mapping[str, KindDemand],
    *,
    step_s: int,
    site_result: SimulationResult | None = None,
    models: Sequence[str] = REUSE_MODELS,
) -> list[ModelRun]:
    """Run the reuse models and return one :class:`ModelRun` per model.

    Parameters
    ----------
    site
        The site.
    demands
        Customer and demand per kind (:func:`heatreuse.planning.matrix.kind_demands`);
        must hold every kind in ``models`` and the site's own kind.
    step_s
        Simulation step [s].
    site_result
        An existing run of the site's own customer (reused, not rerun).
    models
        Which models (default all five).
    """
    runs = []
    own = demands[site.customer.kind]
    for model in models:
        if model == "backup_reject":
            runs.append(run_model(model, site, own, step_s=step_s))
            continue
        kd = demands[model]
        reuse = site_result if kd.is_site_customer else None
        runs.append(run_model(model, site, kd, step_s=step_s, result=reuse))
    return runs


def comparison_frame(runs: Sequence[ModelRun]) -> pd.DataFrame:
    """The comparison as a table, one row per model."""
    return pd.DataFrame([r.row for r in runs])
