"""Reuse-ledger intervals: one hour of metered electricity in, metered heat out.

:func:`build_intervals` turns hourly rollups of the site's points (from the store)
into one ledger entry per hour (``type: "ledger_interval"``). Every quantity in an
entry carries how it was obtained::

    "heat_delivered": {"kwh": 41.2, "status": "metered", "estimated": false,
                       "estimate_method": null, "metered_kwh": 41.2,
                       "estimated_kwh": 0, "points": ["meter.heat_energy_kwh"],
                       "uncertainty_kwh": 1.48, "mpe_percent": 3.59}

``status`` is one of

* ``metered``: from an energy register delta (EN 1434 heat meter, electricity
  meter), or from integrating a measured power with full sample coverage when the
  registry declares no register for that quantity;
* ``estimated``: gap-filled (register missing for the hour but power samples exist
  -> integrate power; partial sample coverage; a site-configuration constant for a
  quantity that is not instrumented); ``estimate_method`` says which;
* ``missing``: no data: ``kwh`` is ``null``, never a silent zero;
* ``not_installed``: the plant has no such equipment (a true zero).

``metered_kwh`` and ``estimated_kwh`` are always numbers, so totals over entries
report metered and estimated energy separately and stay recomputable by
``heatreuse verify`` (its totals are plain sums of one field).

Method (``ledger-method/3``; the full text is in :func:`method_entry`):

* total site energy = IT + cooling + pumps + other + heat-pump electricity;
* heat delivered = heat-meter register delta at the customer interface; its
  uncertainty is the meter's maximum permissible error
  (:func:`heatreuse.physics.heat_meter_mpe_percent`, MID Annex VI MI-004 / EN 1434)
  at the hour's mean flow and delta-T;
* displaced fuel = heat delivered / reference efficiency of the displaced plant;
* avoided CO2 = Q * EF_fuel / eta_ref - (W_heat_pump + W_pumps) * EF_grid
  (WBCSD avoided-emissions guidance; all pump electricity is charged to the reuse,
  the conservative choice), with the factors' values, sources and years copied
  into the entry;
* site mode: ``maintenance`` (hour overlaps an SLA maintenance window),
  ``down`` (mean IT power below 1 % of nameplate, or utility feed lost for the
  whole hour), ``degraded`` (a quantity missing or estimated, utility feed lost
  for part of the hour, IT power down for part of the hour), else ``normal``.

References
----------
Directive 2014/32/EU (MID), Annex VI MI-004; EN 1434-1:2022; WBCSD, "Guidance on
Avoided Emissions" (2023); ISO/IEC 30134-2 (energy boundary of PUE).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from heatreuse.carbon import avoided_emissions_kg, displaced_fuel_kwh
from heatreuse.errors import LedgerError
from heatreuse.ledger.canonical import canonical_json_bytes
from heatreuse.ledger.seal import ENTRY_SLA_SEAL, SEAL_REPORT_DROP, seal_evidence
from heatreuse.physics import heat_meter_mpe_percent
from heatreuse.site.model import Site
from heatreuse.site.points import SitePoints, expand_points

__all__ = [
    "ENTRY_CORRECTION",
    "ENTRY_EMISSION_FACTORS",
    "ENTRY_INTERVAL",
    "ENTRY_METHOD",
    "ENTRY_SITE_CONFIG",
    "ENTRY_SLA",
    "ENTRY_SLA_SEAL",
    "METHOD_VERSION",
    "QUANTITIES",
    "SUMMABLE_FIELDS",
    "LedgerPoints",
    "QuantitySource",
    "build_intervals",
    "correction_entry",
    "emission_factors_entry",
    "interval_digest",
    "ledger_points",
    "method_entry",
    "site_config_entry",
    "site_config_hash",
    "sla_definition_sha256",
    "sla_entry",
    "sla_seal_entry",
]

METHOD_VERSION = "ledger-method/3"
ENTRY_INTERVAL = "ledger_interval"
ENTRY_CORRECTION = "ledger_correction"
ENTRY_METHOD = "method"
ENTRY_EMISSION_FACTORS = "emission_factors"
ENTRY_SLA = "sla_definition"
ENTRY_SITE_CONFIG = "site_config"

#: Energy quantities of an interval, each from its own sources [kWh].
QUANTITIES = (
    "it_electricity",
    "cooling_electricity",
    "pump_electricity",
    "other_electricity",
    "heat_pump_electricity",
    "heat_delivered",
    "heat_rejected",
    "backup_heat",
)
#: Derived quantities (computed from the ones above).
DERIVED = ("other_site_electricity", "total_site_energy", "displaced_fuel")
#: Fields that totals sum and corrections carry deltas of: (quantity, field).
SUMMABLE_FIELDS: tuple[tuple[str, str], ...] = (
    *((q, f) for q in (*QUANTITIES, *DERIVED) for f in ("metered_kwh", "estimated_kwh")),
    ("avoided_co2", "metered_kg"),
    ("avoided_co2", "estimated_kg"),
)

Status = Literal["metered", "estimated", "missing", "not_installed"]

#: Fraction of expected samples an hour needs to count as fully covered [-].
FULL_COVERAGE_FRACTION = 0.9
#: Mean IT power below this fraction of nameplate means the site is down [-].
DOWN_IT_FRACTION = 0.01
#: Lower temperature-difference limit assumed for the heat meter [K] (EN 1434
#: meters are commonly specified with delta-theta_min = 3 K).
DEFAULT_DELTA_T_MIN_K = 3.0
_DECIMALS = 6


# --------------------------------------------------------------------------- point roles
@dataclass(frozen=True)
class QuantitySource:
    """Where one ledger quantity comes from.

    Attributes
    ----------
    name
        Quantity name, one of :data:`QUANTITIES`.
    registers
        Energy registers [kWh counters] whose hourly deltas are summed (metered).
    power_points
        Power points [W] whose hourly means are summed and integrated, in order of
        preference: each item is one alternative (a tuple of points summed).
    installed
        False when the plant has no such equipment (the quantity is a true zero).
    config_power_w
        Constant power from the site file when the quantity is not instrumented
        at all, with the field it came from; or a fraction of IT energy.
    """

    name: str
    registers: tuple[str, ...] = ()
    power_points: tuple[tuple[str, ...], ...] = ()
    installed: bool = True
    config_power_w: tuple[float, str] | None = None
    config_fraction_of_it: tuple[float, str] | None = None


@dataclass(frozen=True)
class LedgerPoints:
    """The point roles the ledger reads, resolved against the site's registry.

    Attributes
    ----------
    sources
        One :class:`QuantitySource` per entry of :data:`QUANTITIES`.
    sample_interval_s
        Expected sample interval of every point used [s].
    heat_meter_accuracy_class
        EN 1434 accuracy class of the heat meter (1, 2, 3), None if unknown.
    heat_meter_qp_m3_per_h
        Permanent flow rate qp of the heat meter [m3/h] (assumed: the largest rated
        flow of the secondary/customer pumps).
    flow_point, supply_temp_point, return_temp_point
        Heat-meter flow [m3/h] and temperatures [degC] for the MPE.
    utility_feed_point
        Status point, 1 = utility feed present.
    it_nameplate_w
        Nameplate IT power [W].
    counter_rollover
        Register point id -> value at which it wraps to 0 [the point's unit]
        (:attr:`heatreuse.site.points.Point.counter_rollover`).
    """

    sources: tuple[QuantitySource, ...]
    sample_interval_s: Mapping[str, float]
    heat_meter_accuracy_class: int | None
    heat_meter_qp_m3_per_h: float
    heat_meter_delta_t_min_k: float
    flow_point: str | None
    supply_temp_point: str | None
    return_temp_point: str | None
    utility_feed_point: str | None
    it_nameplate_w: float
    counter_rollover: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def source(self, name: str) -> QuantitySource:
        """The source of quantity ``name``."""
        for s in self.sources:
            if s.name == name:
                return s
        raise LedgerError(f"ledger points: no source for quantity {name!r}")

    def all_points(self) -> list[str]:
        """Every point id the ledger reads, sorted."""
        ids: set[str] = set()
        for s in self.sources:
            ids.update(s.registers)
            for alt in s.power_points:
                ids.update(alt)
        for p in (
            self.flow_point,
            self.supply_temp_point,
            self.return_temp_point,
            self.utility_feed_point,
        ):
            if p is not None:
                ids.add(p)
        return sorted(ids)


def ledger_points(site: Site, points: SitePoints | None = None) -> LedgerPoints:
    """Resolve the ledger's point roles from the site's point registry.

    Parameters
    ----------
    site
        The site.
    points
        Its expanded registry (default :func:`heatreuse.site.points.expand_points`).

    Returns
    -------
    LedgerPoints
        Points that the registry does not declare are left out (a quantity with no
        point at all falls back to a site-configuration estimate or is missing).
    """
    reg = (points or expand_points(site)).by_id()
    plant = site.plant

    def have(*ids: str) -> tuple[str, ...]:
        return tuple(i for i in ids if i in reg)

    def alt(*ids: str) -> tuple[tuple[str, ...], ...]:
        return (ids,) if ids and all(i in reg for i in ids) else ()

    racks = tuple(f"rack.{r.id}.it_power_w" for r in site.compute.racks)
    pumps = tuple(f"pump.{p.id}.power_w" for p in plant.pumps)
    nameplate_w = site.compute.nameplate_it_power_w
    sources = (
        QuantitySource(
            "it_electricity",
            registers=have("elec.it_energy_kwh"),
            power_points=alt("elec.it_power_w") + alt(*racks),
        ),
        QuantitySource(
            "cooling_electricity",
            registers=have("elec.cooling_energy_kwh"),
            power_points=alt("elec.cooling_power_w"),
            config_fraction_of_it=(
                site.compute.cooling.cooling_power_fraction_of_it,
                "compute.cooling.cooling_power_fraction_of_it",
            ),
        ),
        QuantitySource(
            "pump_electricity",
            registers=have("elec.pumps_energy_kwh"),
            power_points=alt("elec.pumps_power_w") + alt(*pumps),
            config_power_w=(
                float(sum(p.rated_power_w for p in plant.pumps)),
                "plant.pumps[*].rated_power_w",
            ),
        ),
        QuantitySource(
            "other_electricity",
            registers=have("elec.other_energy_kwh"),
            power_points=alt("elec.other_power_w"),
            config_power_w=(site.compute.other_power_w, "compute.other_power_w"),
        ),
        QuantitySource(
            "heat_pump_electricity",
            registers=have("heat_pump.elec_energy_kwh"),
            power_points=alt("heat_pump.elec_power_w"),
            installed=plant.heat_pump is not None,
        ),
        QuantitySource(
            "heat_delivered",
            registers=have("meter.heat_energy_kwh"),
            power_points=alt("meter.heat_power_w"),
        ),
        QuantitySource(
            "heat_rejected",
            registers=have("dry_cooler.heat_energy_kwh"),
            power_points=alt("dry_cooler.heat_power_w"),
            installed=plant.heat_reject is not None,
        ),
        QuantitySource(
            "backup_heat",
            registers=have("boiler.heat_energy_kwh"),
            power_points=alt("boiler.heat_power_w"),
            installed=plant.backup_boiler is not None,
        ),
    )
    meter = reg.get("meter.heat_energy_kwh") or reg.get("meter.heat_power_w")
    accuracy = int(meter.accuracy_class) if meter and meter.accuracy_class else None
    delivery_pumps = [p.rated_flow_m3_per_h for p in plant.pumps if p.role != "primary"]
    qp = max(delivery_pumps or [p.rated_flow_m3_per_h for p in plant.pumps])
    return LedgerPoints(
        sources=sources,
        sample_interval_s={pid: p.sample_interval_s for pid, p in reg.items()},
        heat_meter_accuracy_class=accuracy,
        heat_meter_qp_m3_per_h=float(qp),
        heat_meter_delta_t_min_k=DEFAULT_DELTA_T_MIN_K,
        flow_point=(have("meter.flow_m3_per_h") or (None,))[0],
        supply_temp_point=(have("meter.supply_temp_c") or (None,))[0],
        return_temp_point=(have("meter.return_temp_c") or (None,))[0],
        utility_feed_point=(have("utility.feed_status") or (None,))[0],
        it_nameplate_w=nameplate_w,
        counter_rollover={
            pid: r for pid, p in reg.items() if (r := p.counter_rollover) is not None
        },
    )


# --------------------------------------------------------------------------- helpers
def _r(value: float) -> float:
    out = round(float(value), _DECIMALS)
    return 0.0 if out == 0 else out


def _iso(ts: pd.Timestamp | dt.datetime) -> str:
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        raise LedgerError(f"ledger interval: expected a tz-aware UTC time, got naive {t}")
    return t.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(frame: pd.DataFrame | None, hour: pd.Timestamp, column: str) -> float | None:
    if frame is None or column not in frame.columns or hour not in frame.index:
        return None
    value: Any = frame.at[hour, column]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _quantity(
    status: Status,
    kwh: float | None,
    points: Sequence[str] = (),
    method: str | None = None,
) -> dict[str, Any]:
    value = None if kwh is None else _r(kwh)
    return {
        "kwh": value,
        "status": status,
        "estimated": status == "estimated",
        "estimate_method": method,
        "metered_kwh": value if status == "metered" and value is not None else 0.0,
        "estimated_kwh": value if status == "estimated" and value is not None else 0.0,
        "points": sorted(points),
    }


# --------------------------------------------------------------------------- one quantity
def _resolve(
    source: QuantitySource,
    hour: pd.Timestamp,
    rollups: Mapping[str, pd.DataFrame],
    lp: LedgerPoints,
    it_kwh: float | None,
) -> dict[str, Any]:
    """Energy of one quantity in one hour, with its status and method."""
    if not source.installed:
        return _quantity("not_installed", 0.0, method=None)
    deltas = [_cell(rollups.get(p), hour, "delta") for p in source.registers]
    if source.registers and all(d is not None and d >= 0.0 for d in deltas):
        return _quantity("metered", math.fsum(d for d in deltas if d is not None), source.registers)
    for alternative in source.power_points:
        means = [_cell(rollups.get(p), hour, "mean") for p in alternative]
        counts = [_cell(rollups.get(p), hour, "count") or 0.0 for p in alternative]
        if any(m is None for m in means) or any(c <= 0 for c in counts):
            continue
        coverage = min(
            c * lp.sample_interval_s.get(p, 10.0) / 3600.0
            for p, c in zip(alternative, counts, strict=True)
        )
        kwh = math.fsum(m for m in means if m is not None) / 1000.0
        if source.registers:
            if any(_cell(rollups.get(p), hour, "counter_break") for p in source.registers):
                reason = "register_break"
            elif any(d is None for d in deltas):
                reason = "register_gap"
            else:
                reason = "register_negative"
            return _quantity(
                "estimated",
                kwh,
                alternative,
                f"integrated_power ({reason}: mean of {'+'.join(alternative)} x 1 h, "
                f"sample coverage {min(coverage, 1.0):.0%})",
            )
        if coverage >= FULL_COVERAGE_FRACTION and alternative == source.power_points[0]:
            return _quantity("metered", kwh, alternative)
        return _quantity(
            "estimated",
            kwh,
            alternative,
            f"integrated_power (mean of {'+'.join(alternative)} x 1 h, "
            f"sample coverage {min(coverage, 1.0):.0%})",
        )
    instrumented = bool(source.registers or source.power_points)
    if not instrumented:
        if source.config_power_w is not None:
            power_w, field = source.config_power_w
            return _quantity("estimated", power_w / 1000.0, (), f"site_config ({field} x 1 h)")
        if source.config_fraction_of_it is not None and it_kwh is not None:
            fraction, field = source.config_fraction_of_it
            return _quantity(
                "estimated", fraction * it_kwh, (), f"site_config ({field} x IT electricity)"
            )
    used = list(source.registers) + [p for alt in source.power_points for p in alt]
    return _quantity("missing", None, used, None)


def _combine(parts: Sequence[dict[str, Any]], extra: str = "") -> dict[str, Any]:
    """Sum quantities: missing if any part is missing, estimated if any is estimated."""
    statuses = [p["status"] for p in parts]
    points = sorted({pt for p in parts for pt in p["points"]})
    if "missing" in statuses:
        return _quantity("missing", None, points)
    total = math.fsum(p["kwh"] for p in parts)
    if "estimated" in statuses:
        out = _quantity("estimated", total, points, "sum including estimated parts" + extra)
        out["metered_kwh"] = _r(math.fsum(p["metered_kwh"] for p in parts))
        out["estimated_kwh"] = _r(math.fsum(p["estimated_kwh"] for p in parts))
        return out
    return _quantity("metered", total, points)


# --------------------------------------------------------------------------- the interval
def _maintenance(site: Site, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any] | None:
    m = site.contract.sla.maintenance
    for w in m.windows:
        ws, we = pd.Timestamp(w.start), pd.Timestamp(w.end)
        if ws < end and we > start:
            lead_h = (pd.Timestamp(w.start) - pd.Timestamp(w.announced_at)).total_seconds() / 3600
            return {
                "start": _iso(ws),
                "end": _iso(we),
                "announced_in_time": lead_h >= m.notice_h,
                "description": w.description,
            }
    return None


def _interval(
    site: Site,
    lp: LedgerPoints,
    hour: pd.Timestamp,
    rollups: Mapping[str, pd.DataFrame],
) -> dict[str, Any]:
    end = hour + pd.Timedelta(hours=1)
    q: dict[str, dict[str, Any]] = {}
    q["it_electricity"] = _resolve(lp.source("it_electricity"), hour, rollups, lp, None)
    it_kwh = q["it_electricity"]["kwh"]
    for name in QUANTITIES[1:]:
        q[name] = _resolve(lp.source(name), hour, rollups, lp, it_kwh)

    q["other_site_electricity"] = _combine(
        [q["cooling_electricity"], q["pump_electricity"], q["other_electricity"]]
    )
    q["total_site_energy"] = _combine(
        [q["it_electricity"], q["other_site_electricity"], q["heat_pump_electricity"]]
    )

    # heat meter uncertainty (MPE at the hour's mean flow and delta-T)
    heat = q["heat_delivered"]
    flow = _cell(rollups.get(lp.flow_point or ""), hour, "mean")
    t_sup = _cell(rollups.get(lp.supply_temp_point or ""), hour, "mean")
    t_ret = _cell(rollups.get(lp.return_temp_point or ""), hour, "mean")
    heat["mean_flow_m3_per_h"] = None if flow is None else _r(flow)
    heat["mean_supply_temp_c"] = None if t_sup is None else _r(t_sup)
    heat["mean_delta_t_k"] = None if t_sup is None or t_ret is None else _r(t_sup - t_ret)
    heat["accuracy_class"] = lp.heat_meter_accuracy_class
    heat["mpe_percent"] = None
    heat["uncertainty_kwh"] = None
    heat["mpe_note"] = None
    if heat["kwh"] is not None:
        if heat["kwh"] == 0.0:
            heat["mpe_percent"], heat["uncertainty_kwh"] = None, 0.0
            heat["mpe_note"] = "no heat delivered"
        elif lp.heat_meter_accuracy_class is None:
            heat["mpe_note"] = "heat meter accuracy class unknown (points registry)"
        elif flow is None or flow <= 0.0 or heat["mean_delta_t_k"] is None:
            heat["mpe_note"] = "mean flow or delta-T of the hour unknown"
        else:
            dtk = float(heat["mean_delta_t_k"])
            dt_min = lp.heat_meter_delta_t_min_k
            note = None
            if dtk < dt_min:
                note = f"mean delta-T {dtk:.2f} K below delta-T min {dt_min} K: MPE at the limit"
                dtk = dt_min
            mpe = float(
                heat_meter_mpe_percent(
                    lp.heat_meter_accuracy_class, lp.heat_meter_qp_m3_per_h, flow, dtk, dt_min
                )
            )
            heat["mpe_percent"] = _r(mpe)
            heat["uncertainty_kwh"] = _r(abs(heat["kwh"]) * mpe / 100.0)
            heat["mpe_note"] = note

    # displaced fuel and avoided CO2
    ef = site.contract.emission_factors
    eta = ef.reference_efficiency_fraction
    if heat["kwh"] is None:
        q["displaced_fuel"] = _quantity("missing", None, heat["points"])
    else:
        q["displaced_fuel"] = _quantity(
            heat["status"],
            float(displaced_fuel_kwh(heat["kwh"], eta)),
            heat["points"],
            heat["estimate_method"],
        )
    hp, pumps = q["heat_pump_electricity"], q["pump_electricity"]
    co2: dict[str, Any]
    if heat["kwh"] is None or hp["kwh"] is None:
        co2 = {"kg": None, "status": "missing", "estimated": False, "estimate_method": None}
    else:
        aux_kwh, aux_method = pumps["kwh"], None
        if aux_kwh is None:
            aux_kwh = sum(p.rated_power_w for p in site.plant.pumps) / 1000.0
            aux_method = "pump electricity missing: rated pump power x 1 h"
        kg = float(
            avoided_emissions_kg(
                heat["kwh"],
                ef.displaced_fuel.value_kg_per_kwh,
                eta,
                heat_pump_electricity_kwh=hp["kwh"],
                aux_electricity_kwh=aux_kwh,
                grid_factor_kg_per_kwh=ef.grid.value_kg_per_kwh,
            )
        )
        estimated = "estimated" in (heat["status"], hp["status"], pumps["status"]) or bool(
            aux_method
        )
        unc = heat["uncertainty_kwh"]
        co2 = {
            "kg": _r(kg),
            "status": "estimated" if estimated else "metered",
            "estimated": estimated,
            "estimate_method": aux_method or ("inputs estimated" if estimated else None),
            "uncertainty_kg": None
            if unc is None
            else _r(unc * ef.displaced_fuel.value_kg_per_kwh / eta),
            "conservative_kg": None
            if unc is None
            else _r(kg - unc * ef.displaced_fuel.value_kg_per_kwh / eta),
        }
    co2["metered_kg"] = co2["kg"] if co2["status"] == "metered" else 0.0
    co2["estimated_kg"] = co2["kg"] if co2["status"] == "estimated" else 0.0

    # site mode
    reasons: list[str] = []
    maint = _maintenance(site, hour, end)
    it_power_w = None if it_kwh is None else it_kwh * 1000.0
    down_threshold_w = DOWN_IT_FRACTION * lp.it_nameplate_w
    feed_max = _cell(rollups.get(lp.utility_feed_point or ""), hour, "max")
    feed_min = _cell(rollups.get(lp.utility_feed_point or ""), hour, "min")
    down = False
    if it_power_w is not None and it_power_w < down_threshold_w:
        down = True
        reasons.append("mean IT power below 1 % of nameplate")
    if feed_max is not None and feed_max < 0.5:
        down = True
        reasons.append("utility feed lost for the whole hour")
    elif feed_min is not None and feed_min < 0.5:
        reasons.append("utility feed lost for part of the hour")
    missing = [n for n in (*QUANTITIES, *DERIVED) if q[n]["status"] == "missing"]
    estimated_q = [n for n in (*QUANTITIES, *DERIVED) if q[n]["status"] == "estimated"]
    if missing:
        reasons.append("missing: " + ", ".join(missing))
    if estimated_q:
        reasons.append("estimated: " + ", ".join(estimated_q))
    if maint is not None:
        mode = "maintenance"
        reasons.insert(0, "SLA maintenance window")
    elif down:
        mode = "down"
    elif reasons:
        mode = "degraded"
    else:
        mode = "normal"

    entry: dict[str, Any] = {
        "type": ENTRY_INTERVAL,
        "site_id": site.id,
        "period_start": _iso(hour),
        "period_end": _iso(end),
        "resolution": "PT1H",
        "method_version": METHOD_VERSION,
        "site_mode": mode,
        "mode_reasons": reasons,
        "maintenance_window": maint,
        "estimated": bool(estimated_q) or bool(co2["estimated"]),
        "missing_quantities": missing,
        "heat_pump_upgrade_only": bool(
            site.plant.heat_pump is not None and site.plant.heat_pump.upgrade_only
        ),
        "emission_factors": _factors(site),
        "avoided_co2": co2,
    }
    for name in (*QUANTITIES, *DERIVED):
        entry[name] = q[name]
    return entry


def _factors(site: Site) -> dict[str, Any]:
    ef = site.contract.emission_factors
    return {
        "grid": ef.grid.model_dump(mode="json"),
        "displaced_fuel": ef.displaced_fuel.model_dump(mode="json"),
        "displaced_fuel_kind": ef.displaced_fuel_kind,
        "reference_efficiency_fraction": ef.reference_efficiency_fraction,
    }


def build_intervals(
    site: Site,
    hours: pd.DatetimeIndex | Sequence[pd.Timestamp],
    rollups: Mapping[str, pd.DataFrame],
    points: LedgerPoints | None = None,
) -> list[dict[str, Any]]:
    """Build one ledger interval entry per hour.

    Parameters
    ----------
    site
        The site (emission factors, maintenance windows, plant).
    hours
        Hour starts [UTC, tz-aware], each on a full hour.
    rollups
        Hourly rollups per point id: a DataFrame indexed by hour start (UTC) with
        columns ``count`` [-], ``mean``, ``min``, ``max`` [the point's unit] and, for
        counters, ``delta`` [kWh] (register increase over the hour).
    points
        Point roles (default :func:`ledger_points` of ``site``).

    Returns
    -------
    list of dict
        Entries without ``index`` (the log numbers them).

    Raises
    ------
    LedgerError
        When an hour is not tz-aware or not on a full hour.
    """
    lp = points or ledger_points(site)
    out: list[dict[str, Any]] = []
    for h in hours:
        hour = pd.Timestamp(h)
        if hour.tzinfo is None:
            raise LedgerError(f"ledger hours: expected tz-aware UTC hour starts, got naive {hour}")
        hour = hour.tz_convert("UTC")
        if hour != hour.floor("h"):
            raise LedgerError(f"ledger hours: expected hour starts, got {hour}")
        out.append(_interval(site, lp, hour, rollups))
    return out


# --------------------------------------------------------------------------- other entries
#: Fields an interval's data digest leaves out: numbering, correction bookkeeping, and
#: what follows from configuration in force when the hour was ledgered (emission
#: factors, reference efficiency); a change of those is its own entry, not a correction.
_DIGEST_SKIP = frozenset(
    {
        "index",
        "type",
        "corrects_index",
        "supersedes_index",
        "delta",
        "reason",
        "emission_factors",
        "avoided_co2",
        "displaced_fuel",
        "method_version",
    }
)


def interval_digest(entry: Mapping[str, Any]) -> str:
    """SHA-256 of an interval's measured content (what a correction is triggered by).

    Leaves out numbering, correction bookkeeping and the factor-dependent fields
    (:data:`_DIGEST_SKIP`): a new emission factor is recorded as its own entry and
    applies to hours ledgered after it, it does not rewrite history.
    """
    body = {k: v for k, v in entry.items() if k not in _DIGEST_SKIP}
    return hashlib.sha256(canonical_json_bytes(body)).hexdigest()


def correction_entry(
    new: Mapping[str, Any], original_index: int, superseded: Mapping[str, Any], reason: str
) -> dict[str, Any]:
    """A ``ledger_correction`` entry replacing an already-ledgered hour.

    The entry carries the full corrected interval, ``corrects_index`` (the original
    interval), ``supersedes_index`` (the latest version so far) and ``delta`` with
    the change of every summable field, so that a month's total is the sum over
    ``ledger_interval`` entries plus the sum of ``delta`` over corrections.
    """
    out = dict(new)
    out["type"] = ENTRY_CORRECTION
    out["corrects_index"] = original_index
    out["supersedes_index"] = int(superseded["index"])
    out["reason"] = reason
    delta: dict[str, dict[str, float]] = {}
    for qname, field in SUMMABLE_FIELDS:
        a = float(superseded.get(qname, {}).get(field) or 0.0)
        b = float(new.get(qname, {}).get(field) or 0.0)
        delta.setdefault(qname, {})[field] = _r(b - a)
    out["delta"] = delta
    return out


def method_entry() -> dict[str, Any]:
    """The method-version entry: ``{"type": "method", "version": METHOD_VERSION, ...}``."""
    return {
        "type": ENTRY_METHOD,
        "version": METHOD_VERSION,
        "interval": "PT1H, hour starts in UTC; day, month and year are sums on read",
        "energy_boundary": "total site energy = IT + cooling + pumps + other + heat pump "
        "electricity (ISO/IEC 30134-2); EnEfG PUE excludes upgrade-only heat pump electricity",
        "metered": "energy register delta over the hour; or integrated power with >= 90 % "
        "sample coverage when the registry declares no register for the quantity",
        "estimated": "register gap, negative step or counter break (reset, meter exchange; "
        "one register wrap is counted, not a break) -> integrated power; partial coverage -> "
        "mean of the samples x 1 h; quantity not instrumented -> site configuration "
        "constant; flagged estimated with the method and summed apart from metered values",
        "missing": "no data: value null, never zero; derived sums are missing when a part is",
        "heat_delivered": "heat meter register at the customer interface (EN 1434); "
        "uncertainty = maximum permissible error of the complete meter (MID Annex VI MI-004: "
        "E_f + E_t + E_c) at the hour's mean flow and delta-T; qp assumed = largest rated "
        f"flow of the delivery pumps; delta-T min assumed {DEFAULT_DELTA_T_MIN_K} K",
        "displaced_fuel": "heat delivered / reference efficiency of the displaced plant",
        "avoided_co2": "Q * EF_fuel / eta_ref - (W_heat_pump + W_pumps) * EF_grid (WBCSD "
        "avoided emissions, reported apart from scopes 1-3); conservative: high eta_ref from "
        "the site file, location-based grid factor, all pump electricity charged to the "
        "reuse; conservative_kg also subtracts the meter MPE",
        "site_mode": "maintenance: hour overlaps an SLA maintenance window; down: mean IT "
        "power < 1 % of nameplate or utility feed lost all hour; degraded: a quantity "
        "missing or estimated, or the utility feed lost for part of the hour; else normal",
        "corrections": "a changed hour is appended as ledger_correction (never updated); "
        "totals = sum over ledger_interval + sum of delta over ledger_correction",
        "sla_seal": "when an SLA period closes (site-local month; contract year, added up "
        "from its sealed months), its result is sealed: verdict met | breached | unknown, "
        "the contract's breached flag, data coverage and the evidence in minutes (valid, "
        "good, bad, unknown, excluded); reports of the period read the seal; a re-seal is a "
        "new entry naming the one it replaces (supersedes_index) with a reason",
        "sla_verdict": "breached: the minutes with data alone prove a breach (a run of read "
        "out-of-band minutes over the maximum interruption, more read out-of-band minutes "
        "than the widest error budget, a metered day below the minimum heat); met: data "
        "coverage >= min_data_coverage_fraction (minutes with a reading / operating minutes "
        "outside announced maintenance, before monitoring start included) and no term broken; "
        "else unknown",
        "references": [
            "ISO/IEC 30134-2, -6, -8, -9",
            "EN 1434-1:2022; Directive 2014/32/EU Annex VI MI-004",
            "WBCSD Guidance on Avoided Emissions (2023)",
            "RFC 9162; RFC 8785; C2SP tlog-checkpoint",
        ],
    }


def emission_factors_entry(site: Site) -> dict[str, Any]:
    """Entry recording the emission factors in force (value, source, year)."""
    return {"type": ENTRY_EMISSION_FACTORS, "site_id": site.id, **_factors(site)}


def sla_entry(site: Site) -> dict[str, Any]:
    """Entry recording the SLA definition (``contract.sla`` and operating hours)."""
    return {
        "type": ENTRY_SLA,
        "site_id": site.id,
        "sla": site.contract.sla.model_dump(mode="json"),
        "band": site.sla_band.model_dump(mode="json"),
        "operating_hours": site.customer.operating_hours.model_dump(mode="json"),
        "timezone": site.location.timezone,
    }


def site_config_hash(site: Site) -> str:
    """SHA-256 (hex) of the RFC 8785 canonical JSON of the whole site configuration."""
    return hashlib.sha256(canonical_json_bytes(site.model_dump(mode="json"))).hexdigest()


def site_config_entry(site: Site) -> dict[str, Any]:
    """Entry recording the site configuration hash (a new one whenever it changes)."""
    return {
        "type": ENTRY_SITE_CONFIG,
        "site_id": site.id,
        "site_config_sha256": site_config_hash(site),
        "hash_of": "RFC 8785 canonical JSON of the validated site model",
        "source_file": None if site.source_path is None else site.source_path.name,
    }


def sla_definition_sha256(site: Site) -> str:
    """SHA-256 (hex) of the canonical :func:`sla_entry` of ``site`` (which SLA a seal used)."""
    return hashlib.sha256(canonical_json_bytes(sla_entry(site))).hexdigest()


def sla_seal_entry(
    site: Site,
    report: Mapping[str, Any],
    *,
    seal_number: int = 1,
    supersedes_index: int | None = None,
    reason: str | None = None,
    sealed_at: dt.datetime,
    composed_from: Sequence[int] = (),
) -> dict[str, Any]:
    """The ``sla_seal`` entry of one closed SLA period (layout in :mod:`heatreuse.ledger.seal`).

    Parameters
    ----------
    site
        The site (its SLA definition is hashed into the entry).
    report
        The period's SLA report as ``SlaReport.to_dict()``; burn rates and alert state
        are left out.
    seal_number, supersedes_index, reason
        1, None, None for the first seal of the period; a re-seal names the seal it
        replaces and says why.
    sealed_at
        When the seal is made (tz-aware).
    composed_from
        Ledger indices of the month seals a contract-year seal adds up.

    Raises
    ------
    LedgerError
        A re-seal without the entry it replaces or without a reason.
    """
    if seal_number > 1 and (supersedes_index is None or not (reason or "").strip()):
        raise LedgerError(
            f"sla_seal {report.get('period')!r}: a re-seal (seal_number {seal_number}) must "
            "name the seal it replaces and give a reason"
        )
    body = {k: v for k, v in report.items() if not any(k.startswith(p) for p in SEAL_REPORT_DROP)}
    return {
        "type": ENTRY_SLA_SEAL,
        "site_id": site.id,
        "period": str(report["period"]),
        "period_kind": str(report["period_kind"]),
        "period_start": _iso(pd.Timestamp(report["period_start"])),
        "period_end": _iso(pd.Timestamp(report["period_end"])),
        "seal_number": int(seal_number),
        "supersedes_index": supersedes_index,
        "reason": reason,
        "sealed_at": _iso(sealed_at),
        "method_version": METHOD_VERSION,
        "sla_definition_sha256": sla_definition_sha256(site),
        "verdict": report["verdict"],
        "breached": bool(report["breached"]),
        "data_coverage_fraction": report["data_coverage_fraction"],
        "min_data_coverage_fraction": report["min_data_coverage_fraction"],
        "evidence": seal_evidence(report),
        "composed_from": [int(i) for i in composed_from],
        "report": body,
    }
