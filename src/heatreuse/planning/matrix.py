"""The heat-demand matrix: what each customer needs, when, how hot, and whether the site fits.

For a customer and its demand series (:mod:`heatreuse.simulation.demand`)
:func:`demand_profile` gives annual and monthly demand (site-local calendar
months), peak demand, the supply temperature it needs (the customer's band
and the demand-weighted mean and 95th percentile of the required supply
temperature), operating hours, interruption tolerance, seasonality, size
against the heat the site can recover, and a fit verdict with reasons.

Fit rules (each reason is ``ok``, ``minor`` or ``major``; any major reason
makes the verdict ``poor``, else any minor one ``fair``, else ``good``):

* **Temperature.** The site can supply about ``coolant_return_temp_c -
  HX_APPROACH_K`` (capped at the tank's maximum) without a heat pump. The
  share of demand (energy) that needs more than that: above
  :data:`TEMP_SHARE_MAJOR` is major without a heat pump (with a backup
  boiler the site only preheats; without one it is unusable), above
  :data:`TEMP_SHARE_MINOR` minor; with a heat pump it is minor (the lift
  costs electricity, COP estimated from the Carnot fraction).
* **Seasonality.** Mean demand in the three summer months against the three
  winter months (June-August vs December-February; swapped south of the
  equator). A ratio below :data:`SEASON_RATIO_MINOR` is minor: heat is
  rejected in the low season.
* **Size.** Annual demand against the recoverable heat (nameplate x
  utilisation x capture fraction): below :data:`SIZE_RATIO_MAJOR` major,
  below :data:`SIZE_RATIO_MINOR` minor (the rest is rejected).
* **Simulated use** (when a simulation's totals are given): share of the
  captured heat that reaches the customer below :data:`REUSE_FRACTION_MAJOR`
  major, below :data:`REUSE_FRACTION_MINOR` minor.
* **Interruption.** Without a backup boiler a tolerance below
  :data:`TOLERANCE_MINOR_H` is major (an IT outage longer than that harms
  the customer); with a backup boiler whose control delay exceeds the
  tolerance, minor.
* **Operating hours.** Open less than :data:`OPEN_HOURS_MINOR_H` a week:
  minor (heat in closed hours must be stored or rejected).

The thresholds are planning judgements (estimates), listed with the
assumptions in the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from heatreuse.simulation.demand import (
    AnyCustomer,
    customer_demand,
    default_customer,
    demand_for_kind,
    recoverable_heat_w,
)
from heatreuse.site.model import CUSTOMER_KINDS, Site
from heatreuse.units import J_PER_KWH, SECONDS_PER_HOUR, ZERO_CELSIUS_K

Severity = Literal["ok", "minor", "major"]
Verdict = Literal["good", "fair", "poor"]

#: Temperature approach of the plate heat exchanger between the IT loop and the
#: customer side [K] (estimate: plate exchangers run at 2-5 K approach).
HX_APPROACH_K = 3.0
#: Share of demand (energy) needing more than the site's temperature: major / minor.
TEMP_SHARE_MAJOR = 0.5
TEMP_SHARE_MINOR = 0.1
#: Summer-to-winter mean demand below this: heat rejected in the low season.
SEASON_RATIO_MINOR = 0.3
#: Annual demand / recoverable heat below these: major / minor.
SIZE_RATIO_MAJOR = 0.25
SIZE_RATIO_MINOR = 0.6
#: Simulated share of captured heat reaching the customer below these: major / minor.
REUSE_FRACTION_MAJOR = 0.25
REUSE_FRACTION_MINOR = 0.5
#: Interruption tolerance below this without a backup boiler is major [h].
TOLERANCE_MINOR_H = 4.0
#: Open hours per week below this: minor [h].
OPEN_HOURS_MINOR_H = 84.0

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass(frozen=True)
class Reason:
    """One reason behind a fit verdict."""

    severity: Severity
    text: str


@dataclass(frozen=True)
class FitVerdict:
    """Fit of a customer to the site: ``good``, ``fair`` or ``poor`` with reasons."""

    verdict: Verdict
    reasons: tuple[Reason, ...]

    def key_reason(self) -> Reason | None:
        """The most severe reason (first major, else first minor), or None."""
        for severity in ("major", "minor"):
            for reason in self.reasons:
                if reason.severity == severity:
                    return reason
        return None


@dataclass(frozen=True)
class DemandProfile:
    """One row of the heat-demand matrix (units in the names).

    ``monthly_heat_demand_kwh`` has 12 values, January first, by site-local
    calendar month. ``demand_coverage_fraction`` and
    ``captured_heat_reused_fraction`` are None unless a simulation was given.
    """

    kind: str
    customer_name: str
    is_site_customer: bool
    heat_demand_kwh: float
    monthly_heat_demand_kwh: tuple[float, ...]
    peak_heat_demand_w: float
    supply_band_min_temp_c: float
    supply_band_max_temp_c: float
    required_supply_temp_c: float
    required_supply_temp_p95_c: float
    available_supply_temp_c: float
    demand_above_available_temp_fraction: float
    operating_hours_per_week_h: float
    operating_hours_per_year_h: float
    interruption_tolerance_h: float
    summer_to_winter_demand_fraction: float | None
    recoverable_heat_kwh: float
    demand_to_recoverable_fraction: float
    demand_coverage_fraction: float | None
    captured_heat_reused_fraction: float | None
    fit: FitVerdict

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (months as ``heat_demand_<mon>_kwh`` too)."""
        out: dict[str, Any] = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("fit", "monthly_heat_demand_kwh")
        }
        out["monthly_heat_demand_kwh"] = list(self.monthly_heat_demand_kwh)
        out["fit_verdict"] = self.fit.verdict
        out["fit_reasons"] = [{"severity": r.severity, "text": r.text} for r in self.fit.reasons]
        return out


# --------------------------------------------------------------------------- helpers
def _step_s(index: pd.DatetimeIndex) -> float:
    if len(index) < 2:
        return SECONDS_PER_HOUR
    return float((index[1] - index[0]).total_seconds())


def available_supply_temp_c(site: Site) -> float:
    """Supply temperature the site gives without a heat pump [C].

    Coolant return design temperature minus :data:`HX_APPROACH_K`, capped at
    the buffer tank's maximum temperature.
    """
    cool = site.compute.cooling
    return min(cool.coolant_return_temp_c - HX_APPROACH_K, site.plant.buffer_tank.max_temp_c)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    if cum[-1] <= 0:
        return float(np.quantile(values, q))
    return float(v[min(int(np.searchsorted(cum, q * cum[-1])), len(v) - 1)])


def _seasonal_ratio(monthly_mean_w: np.ndarray, latitude_deg: float) -> tuple[float | None, str]:
    """(summer / winter mean demand, name of the weaker season) or (None, '') if no demand."""
    summer = float(np.mean(monthly_mean_w[[5, 6, 7]]))
    winter = float(np.mean(monthly_mean_w[[11, 0, 1]]))
    if latitude_deg < 0:
        summer, winter = winter, summer
    if winter <= 0.0 and summer <= 0.0:
        return None, ""
    if winter <= 0.0:
        return float("inf"), "winter"
    return summer / winter, "summer" if summer < winter else "winter"


def _carnot_cop(site: Site, source_c: float, sink_c: float) -> float | None:
    hp = site.plant.heat_pump
    if hp is None or hp.carnot_fraction is None:
        return None
    t_sink = sink_c + hp.approach_k + ZERO_CELSIUS_K
    t_source = source_c - hp.approach_k + ZERO_CELSIUS_K
    if t_sink <= t_source:
        return None
    return hp.carnot_fraction * t_sink / (t_sink - t_source)


# --------------------------------------------------------------------------- verdict
def fit_verdict(
    site: Site,
    customer: AnyCustomer,
    *,
    required_supply_temp_p95_c: float,
    demand_above_available_temp_fraction: float,
    summer_to_winter_demand_fraction: float | None,
    weak_season: str,
    demand_to_recoverable_fraction: float,
    captured_heat_reused_fraction: float | None = None,
    demand_coverage_fraction: float | None = None,
) -> FitVerdict:
    """Fit verdict of ``customer`` at ``site`` from the numbers (rules in the module docstring)."""
    reasons: list[Reason] = []
    plant = site.plant
    cool = site.compute.cooling
    arch = cool.architecture.replace("_", " ")
    avail = available_supply_temp_c(site)
    need = required_supply_temp_p95_c
    share = demand_above_available_temp_fraction

    # temperature
    if share <= TEMP_SHARE_MINOR:
        reasons.append(
            Reason(
                "ok",
                f"needs {need:.0f} C (95th percentile), the {arch}-cooled loop gives about "
                f"{avail:.0f} C: direct use without a heat pump",
            )
        )
    elif plant.heat_pump is not None:
        cop = _carnot_cop(site, cool.coolant_return_temp_c, need)
        cop_text = f" (COP about {cop:.1f})" if cop is not None else ""
        reasons.append(
            Reason(
                "minor",
                f"needs {need:.0f} C, the loop gives about {avail:.0f} C: the heat pump lifts "
                f"{need - avail:.0f} K for {share:.0%} of the demand{cop_text}, costing "
                "electricity",
            )
        )
    elif plant.backup_boiler is None:
        reasons.append(
            Reason(
                "major" if share > TEMP_SHARE_MAJOR else "minor",
                f"needs {need:.0f} C without backup or heat pump: poor fit for an {arch}-cooled "
                f"site (loop gives about {avail:.0f} C; {share:.0%} of the demand is hotter)",
            )
        )
    else:
        reasons.append(
            Reason(
                "major" if share > TEMP_SHARE_MAJOR else "minor",
                f"needs {need:.0f} C, the {arch}-cooled loop gives about {avail:.0f} C: "
                f"{share:.0%} of the demand can only be preheated, the backup boiler tops up",
            )
        )

    # seasonality
    ratio = summer_to_winter_demand_fraction
    if ratio is not None and np.isfinite(ratio):
        low = min(ratio, 1.0 / ratio) if ratio > 0 else 0.0
        if low < SEASON_RATIO_MINOR:
            strong = "winter" if weak_season == "summer" else "summer"
            reasons.append(
                Reason(
                    "minor",
                    f"demand in {weak_season} only {low:.0%} of {strong}: heat rejected in "
                    f"{weak_season}",
                )
            )
        else:
            reasons.append(
                Reason("ok", f"demand steady over the year (summer at {ratio:.0%} of winter)")
            )
    elif ratio is not None:
        reasons.append(Reason("minor", "no demand in winter: heat rejected in winter"))

    # size against recoverable heat
    size = demand_to_recoverable_fraction
    if size < SIZE_RATIO_MAJOR:
        reasons.append(
            Reason(
                "major",
                f"needs only {size:.0%} of the heat the site recovers: most heat is rejected",
            )
        )
    elif size < SIZE_RATIO_MINOR:
        reasons.append(
            Reason("minor", f"needs {size:.0%} of the heat the site recovers: the rest is rejected")
        )
    else:
        reasons.append(Reason("ok", f"annual demand is {size:.1f}x the heat the site recovers"))

    # simulated use
    if captured_heat_reused_fraction is not None:
        reuse = captured_heat_reused_fraction
        cov = (
            f"; covers {demand_coverage_fraction:.0%} of demand"
            if demand_coverage_fraction is not None
            else ""
        )
        if reuse < REUSE_FRACTION_MAJOR:
            reasons.append(
                Reason("major", f"simulated: only {reuse:.0%} of captured heat is reused{cov}")
            )
        elif reuse < REUSE_FRACTION_MINOR:
            reasons.append(
                Reason("minor", f"simulated: {reuse:.0%} of captured heat is reused{cov}")
            )
        else:
            reasons.append(Reason("ok", f"simulated: {reuse:.0%} of captured heat is reused{cov}"))

    # interruption tolerance
    tol = customer.interruption_tolerance_h
    backup = plant.backup_boiler
    if backup is None:
        if tol < TOLERANCE_MINOR_H:
            reasons.append(
                Reason(
                    "major",
                    f"tolerates only {tol:g} h without heat and the plant has no backup boiler",
                )
            )
        else:
            reasons.append(
                Reason("ok", f"tolerates {tol:g} h without heat (no backup boiler on site)")
            )
    elif backup.control_delay_s / SECONDS_PER_HOUR > tol:
        reasons.append(
            Reason(
                "minor",
                f"backup boiler starts after {backup.control_delay_s / 60:.0f} min, longer than "
                f"the {tol:g} h the customer tolerates",
            )
        )
    else:
        reasons.append(Reason("ok", f"backup boiler bridges interruptions (tolerance {tol:g} h)"))

    # operating hours
    open_h = customer.operating_hours.open_hours_per_week_h()
    if open_h < OPEN_HOURS_MINOR_H:
        reasons.append(
            Reason(
                "minor",
                f"takes heat only {open_h:.0f} h a week: heat in closed hours is stored or "
                "rejected",
            )
        )

    severities = {r.severity for r in reasons}
    verdict: Verdict = (
        "poor" if "major" in severities else "fair" if "minor" in severities else "good"
    )
    return FitVerdict(verdict=verdict, reasons=tuple(reasons))


# --------------------------------------------------------------------------- profiles
def demand_profile(
    site: Site,
    customer: AnyCustomer,
    demand: pd.DataFrame,
    *,
    is_site_customer: bool,
    totals: Mapping[str, float] | None = None,
) -> DemandProfile:
    """One matrix row for ``customer`` with its demand series.

    Parameters
    ----------
    site
        The site (cooling, plant, time zone, compute size).
    customer
        The customer the demand belongs to.
    demand
        Demand frame (UTC index, ``heat_demand_w`` [W], ``supply_temp_required_c``
        [C], ``operating``).
    is_site_customer
        Whether this is the customer in the site file.
    totals
        Optional simulation totals [kWh] of this customer at this site; add
        coverage and reuse share to the profile and the verdict.
    """
    index = pd.DatetimeIndex(demand.index)
    step_s = _step_s(index)
    power_w = demand["heat_demand_w"].to_numpy(dtype=np.float64)
    energy_kwh = power_w * step_s / J_PER_KWH
    annual_kwh = float(energy_kwh.sum())
    local_month = index.tz_convert(site.location.timezone).month.to_numpy()
    monthly = np.zeros(12)
    np.add.at(monthly, local_month - 1, energy_kwh)
    hours_in_month = np.zeros(12)
    np.add.at(hours_in_month, local_month - 1, step_s / SECONDS_PER_HOUR)
    monthly_mean_w = np.divide(
        monthly * 1000.0, hours_in_month, out=np.zeros(12), where=hours_in_month > 0
    )
    ratio, weak = _seasonal_ratio(monthly_mean_w, site.location.latitude_deg)

    required = demand["supply_temp_required_c"].to_numpy(dtype=np.float64)
    active = power_w > 0
    if active.any():
        req_mean = float(np.average(required[active], weights=power_w[active]))
        req_p95 = _weighted_quantile(required[active], power_w[active], 0.95)
    else:
        req_mean = req_p95 = float(customer.supply_band.min_temp_c)
    avail = available_supply_temp_c(site)
    above = active & (required > avail + 1e-9)
    share_above = float(power_w[above].sum() / power_w.sum()) if power_w.sum() > 0 else 0.0

    hours = len(index) * step_s / SECONDS_PER_HOUR
    recoverable_kwh = recoverable_heat_w(site) * hours / 1000.0
    size = annual_kwh / recoverable_kwh if recoverable_kwh > 0 else float("inf")
    operating = demand["operating"].to_numpy().astype(bool)

    coverage = reuse = None
    if totals is not None:
        coverage = float(totals.get("demand_coverage_fraction", 0.0))
        captured = float(totals.get("heat_captured_kwh", 0.0))
        reuse = float(totals["heat_delivered_kwh"]) / captured if captured > 0 else 0.0

    fit = fit_verdict(
        site,
        customer,
        required_supply_temp_p95_c=req_p95,
        demand_above_available_temp_fraction=share_above,
        summer_to_winter_demand_fraction=ratio,
        weak_season=weak,
        demand_to_recoverable_fraction=size,
        captured_heat_reused_fraction=reuse,
        demand_coverage_fraction=coverage,
    )
    return DemandProfile(
        kind=customer.kind,
        customer_name=customer.name,
        is_site_customer=is_site_customer,
        heat_demand_kwh=annual_kwh,
        monthly_heat_demand_kwh=tuple(float(x) for x in monthly),
        peak_heat_demand_w=float(power_w.max()) if len(power_w) else 0.0,
        supply_band_min_temp_c=customer.supply_band.min_temp_c,
        supply_band_max_temp_c=customer.supply_band.max_temp_c,
        required_supply_temp_c=req_mean,
        required_supply_temp_p95_c=req_p95,
        available_supply_temp_c=avail,
        demand_above_available_temp_fraction=share_above,
        operating_hours_per_week_h=customer.operating_hours.open_hours_per_week_h(),
        operating_hours_per_year_h=float(operating.sum() * step_s / SECONDS_PER_HOUR),
        interruption_tolerance_h=customer.interruption_tolerance_h,
        summer_to_winter_demand_fraction=(
            None if ratio is None or not np.isfinite(ratio) else float(ratio)
        ),
        recoverable_heat_kwh=recoverable_kwh,
        demand_to_recoverable_fraction=size,
        demand_coverage_fraction=coverage,
        captured_heat_reused_fraction=reuse,
        fit=fit,
    )


@dataclass(frozen=True)
class KindDemand:
    """A customer of one kind at the site and its demand series."""

    kind: str
    customer: AnyCustomer
    demand: pd.DataFrame
    is_site_customer: bool


def kind_demands(
    site: Site,
    weather: pd.DataFrame,
    kinds: Sequence[str] | None = None,
    index: pd.DatetimeIndex | None = None,
) -> list[KindDemand]:
    """The site's customer first, then a default customer of every other kind in ``kinds``.

    Default customers come from :func:`heatreuse.simulation.demand.default_customer`
    (templates sized so their mean demand equals the site's recoverable heat).
    """
    out = [
        KindDemand(site.customer.kind, site.customer, customer_demand(site, weather, index), True)
    ]
    for kind in kinds or ():
        if kind == site.customer.kind:
            continue
        customer = default_customer(kind, site, weather)
        out.append(KindDemand(kind, customer, demand_for_kind(kind, site, weather, index), False))
    return out


def demand_matrix(
    site: Site,
    demands: Sequence[KindDemand],
    totals_by_kind: Mapping[str, Mapping[str, float]] | None = None,
) -> list[DemandProfile]:
    """Matrix rows for the given customers (see :func:`kind_demands`)."""
    totals_by_kind = totals_by_kind or {}
    return [
        demand_profile(
            site,
            kd.customer,
            kd.demand,
            is_site_customer=kd.is_site_customer,
            totals=totals_by_kind.get(kd.kind),
        )
        for kd in demands
    ]


def matrix_frame(profiles: Sequence[DemandProfile]) -> pd.DataFrame:
    """The matrix as a table: one row per customer, months as ``heat_demand_<mon>_kwh``."""
    rows = []
    for p in profiles:
        row = p.as_dict()
        months = row.pop("monthly_heat_demand_kwh")
        row.update({f"heat_demand_{m}_kwh": v for m, v in zip(MONTHS, months, strict=True)})
        row["fit_reasons"] = "; ".join(f"[{r['severity']}] {r['text']}" for r in row["fit_reasons"])
        rows.append(row)
    return pd.DataFrame(rows)


ALL_KINDS: tuple[str, ...] = CUSTOMER_KINDS
