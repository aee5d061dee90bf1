"""Use case: what the web dashboard and the wall display show, from the existing services.

Every number here comes from one function elsewhere (the SLA service, the ledger's KPIs,
the monitoring service, the store's rollups, the twin's demand model); this module only
picks, labels and dates them. Each figure is a :class:`Figure`: value, unit, a status
(``ok``, ``warn``, ``bad``, ``unknown``, ``info``), whether it is an estimate, and
``source``: the function and the points it comes from (shown on hover).

Missing data never reads as healthy: a point without a reading in the last
:data:`STALE_AFTER_S` is ``unknown`` (its last value and age are still given), a month
without ledgered hours shows its KPIs as unknown, an SLA figure without coverage says so.

Views: :func:`overview`, :func:`facilities`, :func:`ops`, :func:`sustainability`,
:func:`alerts_view`, :func:`history`, :func:`wall`, :data:`GLOSSARY`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from heatreuse.site import Site, expand_points
from heatreuse.store import Store
from heatreuse.units import J_PER_KWH

#: A point whose newest reading is older than this is shown as unknown [s].
STALE_AFTER_S = 300.0
#: How far back the live view looks for the newest reading of each point [s].
LIVE_LOOKBACK_S = 3600.0

HEAT_POWER_POINT = "meter.heat_power_w"
IT_POWER_POINT = "elec.it_power_w"

_LIVE_SOURCE = "heatreuse.services.dashboard.live_values (newest raw reading, Store.read_series)"


@dataclass(frozen=True)
class Figure:
    """One number on a page, with its unit, status and where it comes from.

    ``value`` is in ``unit``; ``None`` means unknown (``text`` says why).
    """

    key: str
    label: str
    value: float | None
    unit: str
    status: str = "info"
    text: str = ""
    estimate: bool = False
    source: str = ""
    note: str = ""
    at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _iso(ts: pd.Timestamp | dt.datetime | None) -> str | None:
    if ts is None:
        return None
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "unknown"
    return f"{value:,.{digits}f}"


def _now(now: dt.datetime | pd.Timestamp | None) -> pd.Timestamp:
    ts = pd.Timestamp(now if now is not None else dt.datetime.now(dt.UTC))
    if ts.tzinfo is None:
        raise ValueError(f"now: expected a tz-aware instant, got {now!r}")
    return ts.tz_convert("UTC")


# --------------------------------------------------------------------------- live values
@dataclass(frozen=True)
class LiveValue:
    """The newest reading of one point: value [point unit], time, age [s], stale or not."""

    point_id: str
    value: float | None
    unit: str
    at: pd.Timestamp | None
    age_s: float | None

    @property
    def fresh(self) -> bool:
        """True when there is a reading no older than :data:`STALE_AFTER_S`."""
        return self.value is not None and self.age_s is not None and self.age_s <= STALE_AFTER_S


def live_values(
    site: Site, store: Store, now: dt.datetime | pd.Timestamp | None = None
) -> dict[str, LiveValue]:
    """Newest raw reading of every point of the site within :data:`LIVE_LOOKBACK_S`.

    Points without a reading in that window have ``value`` None (unknown).
    """
    t = _now(now)
    pts = expand_points(site).points
    ids = [p.id for p in pts]
    frame = store.read_series(
        site.id, ids, t - pd.Timedelta(seconds=LIVE_LOOKBACK_S), t + pd.Timedelta(seconds=1)
    )
    out: dict[str, LiveValue] = {}
    for p in pts:
        value: float | None = None
        at: pd.Timestamp | None = None
        if p.id in frame.columns:
            col = frame[p.id].dropna()
            if len(col):
                value = float(col.iloc[-1])
                at = pd.Timestamp(col.index[-1])
        age = None if at is None else max(0.0, (t - at).total_seconds())
        out[p.id] = LiveValue(p.id, value, p.unit, at, age)
    return out


def _live_figure(
    lv: Mapping[str, LiveValue],
    point_id: str,
    label: str,
    *,
    unit: str | None = None,
    scale: float = 1.0,
    digits: int = 1,
    key: str | None = None,
    on_off: bool = False,
) -> Figure:
    """A figure from the newest reading of one point (scaled into ``unit``); ``on_off``:
    a status point (1 on, 0 off) shown as words."""
    v = lv.get(point_id)
    unit_out = unit if unit is not None else (v.unit if v is not None else "")
    src = f"{_LIVE_SOURCE}: point {point_id}"
    if v is None:
        return Figure(
            key or point_id, label, None, unit_out, "unknown", "not in registry", source=src
        )
    if v.value is None:
        return Figure(
            key or point_id,
            label,
            None,
            unit_out,
            "unknown",
            "unknown",
            source=src,
            note=f"no reading in the last {LIVE_LOOKBACK_S / 60:.0f} min",
        )
    value = v.value * scale
    if not v.fresh:
        return Figure(
            key or point_id,
            label,
            None,
            unit_out,
            "unknown",
            "unknown",
            source=src,
            note=f"stale: last reading {_fmt(value, digits)} {unit_out} "
            f"{(v.age_s or 0) / 60:.0f} min ago",
            at=_iso(v.at),
        )
    text = ("on" if value >= 0.5 else "off") if on_off else _fmt(value, digits)
    return Figure(
        key or point_id,
        label,
        value,
        "" if on_off else unit_out,
        "info",
        text,
        source=src,
        at=_iso(v.at),
    )


# --------------------------------------------------------------------------- demand
def demand_today(site: Site, now: pd.Timestamp) -> tuple[float | None, float | None, str]:
    """Modelled customer demand now [W] and since local midnight [kWh] (an estimate).

    From :func:`heatreuse.services.twin.window_demand` (the customer's demand model on
    the site's weather, 15 min steps); ``(None, None, reason)`` when it cannot run.
    """
    from heatreuse.services.twin import window_demand

    tz = site.location.timezone
    midnight = now.tz_convert(tz).normalize().tz_convert("UTC")
    end = now.floor("15min") + pd.Timedelta(minutes=15)
    try:
        d = window_demand(site, midnight, end, 900)
    except Exception as exc:  # the model's inputs may be missing: unknown, said why
        return None, None, f"demand model could not run: {exc}"
    if d.empty:
        return None, None, "no demand model steps"
    now_w = float(d["heat_demand_w"].iloc[-1])
    so_far = d["heat_demand_w"][d.index < now.floor("15min")]
    part = (now - now.floor("15min")).total_seconds()
    kwh = (float(so_far.sum()) * 900.0 + now_w * part) / J_PER_KWH
    return now_w, kwh, "heatreuse.services.twin.window_demand (customer demand model, 15 min)"


# --------------------------------------------------------------------------- SLA
_SLA_CACHE: dict[tuple[str, str, int], list[Any]] = {}
_SLA_LOCK = threading.Lock()


def _sla_reports(site: Site, store: Store, now: pd.Timestamp) -> list[Any]:
    """The SLA reports of the local month (and contract year) at ``now``.

    :func:`heatreuse.services.sla.sla_report` evaluates whole minutes up to ``now``
    floored to the minute, so the result is kept for the rest of that minute (pages,
    the wall and the event stream of one site share it); a reading that arrives late
    for an earlier minute shows from the next minute on.
    """
    from heatreuse.services.sla import sla_report

    key = (site.id, str(store.url), int(now.floor("min").value // 60_000_000_000))
    with _SLA_LOCK:
        hit = _SLA_CACHE.get(key)
        if hit is not None:
            return hit
        month = now.tz_convert(site.location.timezone).strftime("%Y-%m")
        reports = sla_report(site, period=month, now=now.to_pydatetime(), store=store)
        if len(_SLA_CACHE) > 32:
            _SLA_CACHE.clear()
        _SLA_CACHE[key] = reports
        return reports


def _sla_figures(reports: Sequence[Any]) -> list[Figure]:
    src = "heatreuse.services.sla.sla_report -> heatreuse.sla.evaluate"
    figs: list[Figure] = []
    for r in reports:
        first_day = re.search(r"\d{4}-\d{2}-\d{2}", str(r.period_label))
        kind = (
            f"month {r.period_label}"
            if r.period_kind == "month"
            else f"contract year from {first_day.group(0) if first_day else r.period_label}"
        )
        suffix = "month" if r.period_kind == "month" else "year"
        cov = r.data_coverage_fraction
        cov_txt = "unknown" if cov is None else f"{cov * 100:.1f} %"
        point = f"points {r.measured_point} (1-min rollups)"
        att = r.attainment_fraction
        if att is None:
            status = "unknown"
        elif r.verdict == "breached" or att < r.target_fraction:
            status = "bad"
        elif r.verdict == "met":
            status = "ok"
        else:
            status = "warn" if r.verdict != "met" else "ok"
        figs.append(
            Figure(
                f"sla_attainment_{suffix}",
                f"SLA attainment, {kind}",
                None if att is None else att * 100.0,
                "%",
                status,
                "unknown" if att is None else f"{att * 100:.2f}",
                source=f"{src}: attainment_fraction; {point}",
                note=f"target {r.target_fraction * 100:.2f} %, verdict {r.verdict}, "
                f"data coverage {cov_txt}",
            )
        )
        left = r.error_budget_left_min
        frac = r.error_budget_left_fraction
        b_status = (
            "unknown" if frac is None else ("bad" if left <= 0 else "ok" if frac > 0.25 else "warn")
        )
        figs.append(
            Figure(
                f"sla_budget_left_{suffix}",
                f"Error budget left, {kind}",
                None if frac is None else float(left),
                "min",
                b_status,
                "unknown" if frac is None else f"{left:,.0f}",
                source=f"{src}: error_budget_left_min; {point}",
                note=(
                    f"{'unknown' if frac is None else f'{frac * 100:.0f} %'} of "
                    f"{r.error_budget_allowed_min:,.0f} min allowed; "
                    f"used {r.error_budget_used_min} min"
                ),
            )
        )
        longest = max((i.duration_min for i in r.interruptions), default=0)
        figs.append(
            Figure(
                f"sla_interruptions_{suffix}",
                f"Interruptions, {kind}",
                float(len(r.interruptions)),
                "count",
                "ok" if not r.interruptions else "warn",
                str(len(r.interruptions)),
                source=f"{src}: interruptions; {point}",
                note=f"longest {longest / 60:.1f} h; {r.unknown_min} min without data",
            )
        )
        denom = r.good_min + r.bad_min + r.unknown_min
        up = None if denom == 0 else r.good_min / denom
        figs.append(
            Figure(
                f"uptime_{suffix}",
                f"Delivery uptime, {kind}",
                None if up is None else up * 100.0,
                "%",
                "unknown" if up is None else ("ok" if up >= r.target_fraction else "warn"),
                "unknown" if up is None else f"{up * 100:.2f}",
                source=f"{src}: good_min / (good_min + bad_min + unknown_min); {point}",
                note="minutes in band over valid minutes; a minute without data counts as not up",
            )
        )
    return figs


# --------------------------------------------------------------------------- ledger KPIs
def ledger_month(
    site: Site, store_url: str, now: pd.Timestamp, checkpoint_dir: str | None = None
) -> dict[str, Any] | None:
    """KPIs and totals of the current UTC month from the ledger (None: ledger unreadable)."""
    from heatreuse.errors import HeatreuseError
    from heatreuse.services.ledger import kpi_report

    try:
        return kpi_report(site, now.strftime("%Y-%m"), store_url, checkpoint_dir=checkpoint_dir)
    except HeatreuseError:
        return None


def _kpi_figures(result: Mapping[str, Any] | None) -> list[Figure]:
    src = "heatreuse.services.ledger.kpi_report -> heatreuse.ledger.kpis.compute_kpis"
    if result is None:
        return [
            Figure("erf", "ERF", None, "1", "unknown", "unknown", source=src, note="no ledger"),
            Figure("pue", "PUE", None, "1", "unknown", "unknown", source=src, note="no ledger"),
            Figure("avoided_co2_kg", "Avoided CO2", None, "kg", "unknown", "unknown", source=src),
        ]
    totals = result.get("totals", {})
    hours = totals.get("hours_ledgered", 0)
    per = result.get("period", "")
    figs = []
    for key, label in (("erf", "ERF"), ("pue", "PUE")):
        k = result.get("kpis", {}).get(key, {})
        v = k.get("value")
        figs.append(
            Figure(
                key,
                f"{label}, month {per}",
                v,
                "1",
                "unknown" if v is None else "info",
                "unknown" if v is None else f"{v:.2f}",
                source=f"{src}: kpis.{key} ({k.get('formula', '')}); ledger hours of {per}",
                note=f"{hours} h ledgered of {totals.get('hours_in_period', 0)} h",
            )
        )
    co2 = totals.get("avoided_co2")
    est = bool(co2 and co2.get("estimated_kg", 0) > 0)
    figs.append(
        Figure(
            "avoided_co2_kg",
            f"Avoided CO2, month {per}",
            None if not co2 else co2["kg"],
            "kg",
            "unknown" if not co2 else "info",
            "unknown" if not co2 else f"{co2['kg']:,.0f}",
            estimate=est,
            source=f"{src}: totals.avoided_co2 (heatreuse.carbon.avoided_emissions_kg per hour)",
            note=(
                "no ledgered hours this month"
                if not co2
                else f"metered {co2['metered_kg']:,.0f} kg, "
                f"estimated {co2['estimated_kg']:,.0f} kg, "
                f"{co2['hours_missing']} h missing; method: displaced fuel x emission factor "
                f"({', '.join(result.get('method_versions', [])) or 'method version unknown'})"
            ),
        )
    )
    return figs


# --------------------------------------------------------------------------- views
def _band(site: Site) -> tuple[float, float, str]:
    from heatreuse.sla import SlaDefinition

    d = SlaDefinition.from_site(site)
    return d.band_min_temp_c, d.band_max_temp_c, d.measured_point


def live_figures(
    site: Site, store: Store, now: dt.datetime | pd.Timestamp | None = None
) -> list[Figure]:
    """The figures the live stream (SSE) refreshes: heat now, supply vs band, IT power."""
    t = _now(now)
    lv = live_values(site, store, t)
    return _live_part(site, lv)


def _live_part(site: Site, lv: Mapping[str, LiveValue]) -> list[Figure]:
    lo, hi, measured = _band(site)
    heat = _live_figure(
        lv, HEAT_POWER_POINT, "Heat delivered now", unit="kW", scale=1e-3, key="heat_now_kw"
    )
    if heat.value is not None:
        heat = _with(heat, status="ok" if heat.value > 0 else "warn")
    supply = _live_figure(lv, measured, "Supply temperature", unit="°C", key="supply_temp_c")
    if supply.value is not None:
        inside = lo <= supply.value <= hi
        supply = _with(supply, status="ok" if inside else "bad")
    supply = _with(
        supply, note=(supply.note + "; " if supply.note else "") + f"SLA band {lo:g} to {hi:g} °C"
    )
    it = _live_figure(lv, IT_POWER_POINT, "IT power", unit="kW", scale=1e-3, key="it_power_kw")
    nameplate_w = sum(r.nameplate_power_w * r.count for r in site.compute.racks)
    util = Figure(
        "utilisation_pct",
        "Utilisation (IT power / nameplate)",
        None if it.value is None else it.value * 1e3 / nameplate_w * 100.0,
        "%",
        it.status if it.value is None else "info",
        "unknown" if it.value is None else f"{it.value * 1e3 / nameplate_w * 100.0:.0f}",
        source=f"{_LIVE_SOURCE}: {IT_POWER_POINT} / sum of rack nameplate powers "
        f"({nameplate_w / 1e3:g} kW, site file compute.racks)",
        at=it.at,
    )
    return [heat, supply, it, util]


def _with(f: Figure, **kw: Any) -> Figure:
    d = f.to_dict()
    d.update(kw)
    return Figure(**d)


@dataclass
class Overview:
    """The overview page's data."""

    site_id: str
    site_name: str
    at: str
    figures: dict[str, Figure]
    alerts: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    sla_notes: list[str] = field(default_factory=list)
    last_reading_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "site_id": self.site_id,
            "site_name": self.site_name,
            "at": self.at,
            "figures": {k: f.to_dict() for k, f in self.figures.items()},
            "alerts": self.alerts,
            "incidents": self.incidents,
            "sla_notes": self.sla_notes,
            "last_reading_at": self.last_reading_at,
        }


def _heat_today(site: Site, store: Store, t: pd.Timestamp) -> Figure:
    from heatreuse.services.sla import daily_heat_kwh

    tz = site.location.timezone
    midnight = t.tz_convert(tz).normalize().tz_convert("UTC")
    meter = expand_points(site).by_id().get("meter.heat_energy_kwh")
    per_day, method = daily_heat_kwh(
        store, site.id, tz, midnight, t, meter.counter_rollover if meter is not None else None
    )
    src = (
        "heatreuse.services.sla.daily_heat_kwh: points meter.heat_energy_kwh (15-min "
        "register delta), else meter.heat_power_w"
    )
    today = t.tz_convert(tz).date()
    if per_day is None or today not in per_day.index:
        return Figure(
            "heat_today_kwh",
            "Heat delivered today",
            None,
            "kWh",
            "unknown",
            "unknown",
            source=src,
            note="no meter data today",
        )
    v = float(per_day.loc[today])
    return Figure(
        "heat_today_kwh",
        "Heat delivered today",
        v,
        "kWh",
        "info",
        _fmt(v, 0),
        estimate=bool(method and method.startswith("ESTIMATE")),
        source=f"{src}. Method: {method}",
        note="estimate from heat power (no register data)"
        if method and method.startswith("ESTIMATE")
        else "metered: heat meter register",
    )


def overview(
    site: Site,
    store: Store,
    now: dt.datetime | pd.Timestamp | None = None,
    *,
    ledger: Mapping[str, Any] | None = None,
) -> Overview:
    """Everything the overview shows (``ledger``: a :func:`ledger_month` result)."""
    from heatreuse.services.monitoring import list_alerts, list_incidents

    t = _now(now)
    lv = live_values(site, store, t)
    figs = {f.key: f for f in _live_part(site, lv)}
    d_now_w, d_kwh, d_src = demand_today(site, t)
    figs["demand_now_kw"] = Figure(
        "demand_now_kw",
        "Customer demand now (model)",
        None if d_now_w is None else d_now_w / 1e3,
        "kW",
        "unknown" if d_now_w is None else "info",
        _fmt(None if d_now_w is None else d_now_w / 1e3),
        estimate=True,
        source=d_src,
        note="modelled from the customer and the site's weather file, not metered",
    )
    figs["heat_today_kwh"] = _heat_today(site, store, t)
    figs["demand_today_kwh"] = Figure(
        "demand_today_kwh",
        "Customer demand today so far (model)",
        d_kwh,
        "kWh",
        "unknown" if d_kwh is None else "info",
        _fmt(d_kwh, 0),
        estimate=True,
        source=d_src,
        note="modelled, not metered",
    )
    defn_min = site.contract.sla.min_heat_per_day_kwh
    figs["min_heat_day_kwh"] = Figure(
        "min_heat_day_kwh",
        "Contracted minimum per day",
        defn_min,
        "kWh",
        "info",
        _fmt(defn_min, 0) if defn_min is not None else "none",
        source="site file contract.sla.min_heat_per_day_kwh",
    )
    reports = _sla_reports(site, store, t)
    for f in _sla_figures(reports):
        figs[f.key] = f
    for f in _kpi_figures(ledger):
        figs[f.key] = f
    alerts = list_alerts(site, store, "firing")
    incidents = [i for i in list_incidents(site, store) if i["status"] != "resolved"]
    figs["alerts_firing"] = _alerts_figure(alerts)
    figs["incidents_open"] = Figure(
        "incidents_open",
        "Open incidents",
        float(len(incidents)),
        "count",
        "ok" if not incidents else "warn",
        str(len(incidents)),
        source="heatreuse.services.monitoring.list_incidents (status not resolved)",
    )
    last = max((v.at for v in lv.values() if v.at is not None), default=None)
    notes = [n for r in reports for n in r.notes]
    return Overview(
        site.id, site.site.name, _iso(t) or "", figs, alerts, incidents, notes, _iso(last)
    )


def _alerts_figure(alerts: Sequence[Mapping[str, Any]]) -> Figure:
    return Figure(
        "alerts_firing",
        "Alerts firing",
        float(len(alerts)),
        "count",
        "ok"
        if not alerts
        else ("bad" if any(a["severity"] == "critical" for a in alerts) else "warn"),
        str(len(alerts)),
        source="heatreuse.services.monitoring.list_alerts(state=firing)",
    )


def live_state(
    site: Site, store: Store, now: dt.datetime | pd.Timestamp | None = None
) -> dict[str, Any]:
    """What the event stream pushes after each commit: the live figures (heat now, supply
    vs band, IT power, utilisation) and the firing alerts (JSON-ready)."""
    from heatreuse.services.monitoring import list_alerts

    t = _now(now)
    figs = live_figures(site, store, t)
    alerts = list_alerts(site, store, "firing")
    figs.append(_alerts_figure(alerts))
    return {
        "at": _iso(t),
        "figures": {f.key: f.to_dict() for f in figs},
        "alerts": [
            {"id": a["id"], "rule": a["rule"], "severity": a["severity"], "summary": a["summary"]}
            for a in alerts[:4]
        ],
    }


#: Figures the event stream refreshes periodically (they cost an SLA evaluation).
PERIODIC_KEYS = (
    "heat_today_kwh",
    "demand_now_kw",
    "demand_today_kwh",
    "sla_attainment_month",
    "sla_budget_left_month",
    "sla_interruptions_month",
    "uptime_month",
    "sla_attainment_year",
    "sla_budget_left_year",
    "sla_interruptions_year",
    "uptime_year",
    "incidents_open",
)


def periodic_state(
    site: Site, store: Store, now: dt.datetime | pd.Timestamp | None = None
) -> dict[str, Any]:
    """The slower figures (heat today, modelled demand, SLA month and contract year, open
    incidents) for the event stream to refresh every minute or so (JSON-ready)."""
    ov = overview(site, store, now, ledger=None)
    return {
        "at": ov.at,
        "periodic": True,
        "figures": {k: ov.figures[k].to_dict() for k in PERIODIC_KEYS if k in ov.figures},
    }


def wall(site: Site, store: Store, now: dt.datetime | pd.Timestamp | None = None) -> dict[str, Any]:
    """The wall display's tiles: heat now, heat today vs demand, supply vs band, SLA budget,
    alerts (no ledger read: the wall refreshes often)."""
    ov = overview(site, store, now, ledger=None)
    keys = (
        "heat_now_kw",
        "heat_today_kwh",
        "demand_today_kwh",
        "min_heat_day_kwh",
        "supply_temp_c",
        "sla_budget_left_month",
        "sla_budget_left_year",
        "sla_attainment_month",
        "alerts_firing",
    )
    short = {
        "heat_today_kwh": "Heat delivered today",
        "sla_budget_left_month": "SLA budget left, this month",
        "sla_budget_left_year": "SLA budget left, contract year",
    }
    figs = {k: ov.figures[k] for k in keys if k in ov.figures}
    figs = {k: _with(f, label=short[k]) if k in short else f for k, f in figs.items()}
    return {
        "site_id": ov.site_id,
        "site_name": ov.site_name,
        "at": ov.at,
        "figures": {k: f.to_dict() for k, f in figs.items()},
        "alerts": ov.alerts[:4],
        "last_reading_at": ov.last_reading_at,
    }


def _group(lv: Mapping[str, LiveValue], prefix: str) -> list[LiveValue]:
    return [v for k, v in lv.items() if k.startswith(prefix)]


def facilities(
    site: Site, store: Store, now: dt.datetime | pd.Timestamp | None = None
) -> dict[str, Any]:
    """The loop schematic's live values, pump states, HX approach, tank stratification."""
    t = _now(now)
    lv = live_values(site, store, t)

    def f(pid: str, label: str, **kw: Any) -> dict[str, Any]:
        return _live_figure(lv, pid, label, **kw).to_dict()

    nodes = {
        "racks_power": f("elec.it_power_w", "IT power", unit="kW", scale=1e-3),
        "it_supply": f("it_loop.supply_temp_c", "IT loop supply", unit="°C"),
        "it_return": f("it_loop.return_temp_c", "IT loop return", unit="°C"),
        "it_flow": f("it_loop.flow_m3_per_h", "IT loop flow", unit="m³/h", digits=2),
        "hx_sec_supply": f("hx.secondary_supply_temp_c", "HX secondary supply", unit="°C"),
        "hx_sec_return": f("hx.secondary_return_temp_c", "HX secondary return", unit="°C"),
        "hx_flow": f("hx.secondary_flow_m3_per_h", "HX secondary flow", unit="m³/h", digits=2),
        "hx_heat": f("hx.heat_power_w", "HX heat", unit="kW", scale=1e-3),
        "customer_supply": f("customer.supply_temp_c", "Customer supply", unit="°C"),
        "customer_return": f("customer.return_temp_c", "Customer return", unit="°C"),
        "meter_heat": f("meter.heat_power_w", "Heat to customer", unit="kW", scale=1e-3),
        "meter_flow": f("meter.flow_m3_per_h", "Customer flow", unit="m³/h", digits=2),
        "reject_heat": f("dry_cooler.heat_power_w", "Rejected (dry cooler)", unit="kW", scale=1e-3),
        "reject_status": f("dry_cooler.status", "Dry cooler", on_off=True),
        "boiler_heat": f("boiler.heat_power_w", "Backup boiler heat", unit="kW", scale=1e-3),
        "boiler_status": f("boiler.status", "Backup boiler", on_off=True),
        "pressure": f("loop.pressure_bar", "Loop pressure", unit="bar", digits=2),
        "tank_top": f("tank.layer_1_temp_c", "Tank top (layer 1)", unit="°C"),
        "tank_bottom": f(
            f"tank.layer_{site.plant.buffer_tank.layers}_temp_c", "Tank bottom", unit="°C"
        ),
    }
    # HX approach: primary return (hot side in = IT loop return) minus secondary supply
    hot_in = lv.get("it_loop.return_temp_c")
    cold_out = lv.get("hx.secondary_supply_temp_c")
    approach: Figure
    src = (
        "heatreuse.services.dashboard.facilities: it_loop.return_temp_c - "
        "hx.secondary_supply_temp_c (newest readings)"
    )
    if hot_in and cold_out and hot_in.fresh and cold_out.fresh:
        assert hot_in.value is not None and cold_out.value is not None
        a = hot_in.value - cold_out.value
        approach = Figure("hx_approach_k", "HX approach", a, "K", "info", _fmt(a), source=src)
    else:
        approach = Figure(
            "hx_approach_k", "HX approach", None, "K", "unknown", "unknown", source=src
        )
    nodes["hx_approach"] = approach.to_dict()
    pumps = []
    for p in site.plant.pumps:
        pumps.append(
            {
                "id": p.id,
                "role": p.role,
                "status": f(f"pump.{p.id}.status", f"Pump {p.id}", on_off=True),
                "speed": f(
                    f"pump.{p.id}.speed_fraction",
                    f"Pump {p.id} speed",
                    unit="%",
                    scale=100.0,
                    digits=0,
                ),
                "power": f(f"pump.{p.id}.power_w", f"Pump {p.id} power", unit="W", digits=0),
            }
        )
    layers = sorted(
        (v for v in _group(lv, "tank.layer_")),
        key=lambda v: int(v.point_id.split("_")[1]),
    )
    tank = [
        _live_figure(lv, v.point_id, f"Layer {v.point_id.split('_')[1]}", unit="°C").to_dict()
        for v in layers
    ]
    return {"site_id": site.id, "at": _iso(t), "nodes": nodes, "pumps": pumps, "tank": tank}


def ops(site: Site, store: Store, now: dt.datetime | pd.Timestamp | None = None) -> dict[str, Any]:
    """Racks: IT power, utilisation, inlet and outlet temperatures; compute trips."""
    from heatreuse.services.monitoring import list_alerts

    t = _now(now)
    lv = live_values(site, store, t)
    racks = []
    for r in site.compute.racks:
        power = _live_figure(lv, f"rack.{r.id}.it_power_w", "IT power", unit="kW", scale=1e-3)
        util = (
            None
            if power.value is None
            else power.value * 1e3 / (r.nameplate_power_w * r.count) * 100
        )
        racks.append(
            {
                "id": r.id,
                "nameplate_kw": r.nameplate_power_w * r.count / 1e3,
                "power": power.to_dict(),
                "utilisation": Figure(
                    f"rack.{r.id}.utilisation",
                    "Utilisation",
                    util,
                    "%",
                    "unknown" if util is None else "info",
                    _fmt(util, 0),
                    source=f"{_LIVE_SOURCE}: rack.{r.id}.it_power_w / nameplate "
                    f"{r.nameplate_power_w * r.count / 1e3:g} kW",
                ).to_dict(),
                "inlet": _live_figure(
                    lv, f"rack.{r.id}.inlet_temp_c", "Inlet", unit="°C"
                ).to_dict(),
                "outlet": _live_figure(
                    lv, f"rack.{r.id}.outlet_temp_c", "Outlet", unit="°C"
                ).to_dict(),
            }
        )
    trips = [
        a for a in list_alerts(site, store, "all") if "compute" in a["rule"] or "trip" in a["rule"]
    ]
    total = _live_figure(lv, IT_POWER_POINT, "Site IT power", unit="kW", scale=1e-3).to_dict()
    return {
        "site_id": site.id,
        "at": _iso(t),
        "racks": racks,
        "it_power": total,
        "trips": trips[-20:],
        "queue_note": "no queue or job telemetry in this site's point registry",
    }


def sustainability(
    site: Site,
    store_url: str,
    now: dt.datetime | pd.Timestamp | None = None,
    checkpoint_dir: str | None = None,
) -> dict[str, Any]:
    """The ledger month: metered, estimated and missing apart; Sankey flows; KPIs; checkpoint."""
    t = _now(now)
    result = ledger_month(site, store_url, t, checkpoint_dir)
    out: dict[str, Any] = {"site_id": site.id, "at": _iso(t), "period": t.strftime("%Y-%m")}
    if result is None:
        out.update(ledger=None, sankey=None, kpis={}, checkpoint=None)
        return out
    totals = result.get("totals", {})
    q = totals.get("quantities", {})
    rows = []
    for name in (
        "it_electricity",
        "cooling_electricity",
        "pump_electricity",
        "other_electricity",
        "heat_delivered",
        "heat_rejected",
        "backup_heat",
        "displaced_fuel",
    ):
        v = q.get(name)
        rows.append(
            {
                "quantity": name,
                "kwh": None if v is None else v["kwh"],
                "metered_kwh": None if v is None else v["metered_kwh"],
                "estimated_kwh": None if v is None else v["estimated_kwh"],
                "hours_missing": totals.get("hours_in_period") if v is None else v["hours_missing"],
            }
        )

    def kwh(name: str) -> float:
        v = q.get(name)
        return 0.0 if v is None else float(v["kwh"])

    it = kwh("it_electricity")
    delivered = kwh("heat_delivered")
    rejected = kwh("heat_rejected")
    backup = kwh("backup_heat")
    other = kwh("cooling_electricity") + kwh("pump_electricity") + kwh("other_electricity")
    losses = max(0.0, it - delivered - rejected)
    sankey = None
    if it > 0:
        sankey = {
            "labels": [
                "Electricity",
                "IT",
                "Cooling, pumps, other",
                "Captured heat",
                "Customer",
                "Rejected",
                "Losses / unmetered",
                "Backup boiler",
            ],
            "source": [0, 0, 1, 3, 3, 1, 7],
            "target": [1, 2, 3, 4, 5, 6, 4],
            "value": [it, other, delivered + rejected, delivered, rejected, losses, backup],
            "unit": "kWh",
            "note": "losses = IT electricity - heat delivered - heat rejected (what the "
            "meters do not account for); all from ledger hours of the month",
        }
    out.update(
        ledger={
            "hours_in_period": totals.get("hours_in_period"),
            "hours_ledgered": totals.get("hours_ledgered"),
            "hours_not_ledgered": totals.get("hours_not_ledgered"),
            "rows": rows,
            "avoided_co2": totals.get("avoided_co2"),
            "method_versions": result.get("method_versions", []),
        },
        sankey=sankey,
        kpis=result.get("kpis", {}),
        checkpoint=result.get("checkpoint"),
        verify_howto=(
            "heatreuse ledger export SITE.yaml --out DIR, then on any machine: "
            "heatreuse verify DIR (checks every entry against the signed checkpoint)"
        ),
        notes=result.get("notes", []),
    )
    return out


def alerts_view(
    site: Site, store: Store, now: dt.datetime | pd.Timestamp | None = None
) -> dict[str, Any]:
    """Alerts (firing and recent), incidents with timelines, silences, corrective actions."""
    from heatreuse.services.monitoring import (
        list_actions,
        list_alerts,
        list_incidents,
        list_silences,
    )

    t = _now(now)
    alerts = list_alerts(site, store, "all")
    firing = [a for a in alerts if a["state"] == "firing"]
    resolved = [a for a in alerts if a["state"] != "firing"][-50:]
    incidents = list_incidents(site, store)
    timelines = {}
    for inc in incidents[-10:]:
        evs = store.list_incident_events(int(inc["id"]))
        timelines[inc["id"]] = [
            {
                "at": _iso(pd.Timestamp(e.at_us, unit="us", tz="UTC")),
                "kind": e.kind,
                "detail": ", ".join(f"{k}: {v}" for k, v in dict(e.detail).items()),
            }
            for e in evs
        ]
    return {
        "site_id": site.id,
        "at": _iso(t),
        "firing": firing,
        "resolved": list(reversed(resolved)),
        "incidents": list(reversed(incidents)),
        "timelines": timelines,
        "silences": list_silences(site, store, now=t),
        "actions": list_actions(site, store),
    }


#: Windows of the history charts: name -> (length, rollup resolution).
HISTORY_RANGES: dict[str, tuple[pd.Timedelta, str]] = {
    "day": (pd.Timedelta(days=1), "1min"),
    "week": (pd.Timedelta(days=7), "15min"),
    "month": (pd.Timedelta(days=31), "1h"),
    "year": (pd.Timedelta(days=366), "1h"),
}
HISTORY_POINTS = (HEAT_POWER_POINT, "customer.supply_temp_c", IT_POWER_POINT)


def history(
    site: Site,
    store: Store,
    span: str,
    end: dt.datetime | pd.Timestamp | None = None,
    points: Sequence[str] = HISTORY_POINTS,
) -> dict[str, Any]:
    """Rollup means of a few points over a day, week, month or year ending at ``end``.

    Year: hourly rollups averaged per day. Buckets without data stay empty (gaps show).
    """
    if span not in HISTORY_RANGES:
        raise ValueError(f"span: expected one of {', '.join(HISTORY_RANGES)}, got {span!r}")
    length, res = HISTORY_RANGES[span]
    t_end = _now(end)
    start = t_end - length
    frame = store.read_series(site.id, list(points), start, t_end, resolution=res)  # type: ignore[arg-type]
    step = "1D" if span == "year" else res
    if span == "year" and not frame.empty:
        frame = frame.resample("1D").mean()
    # every bucket of the window, so that a bucket without data is a gap (NaN), not skipped
    grid = pd.date_range(
        start.floor(pd.Timedelta(step)), t_end, freq=pd.Timedelta(step), inclusive="left"
    )
    frame = frame.reindex(grid)
    units = {p.id: p.unit for p in expand_points(site).points}
    series = []
    for pid in points:
        col = frame[pid] if pid in frame.columns else pd.Series(dtype=float)
        series.append(
            {
                "point_id": pid,
                "unit": units.get(pid, ""),
                "x": [_iso(x) for x in col.index],
                "y": [None if not math.isfinite(float(v)) else float(v) for v in col.to_numpy()],
                "coverage": 0.0 if len(col) == 0 else float(col.notna().mean()),
            }
        )
    return {
        "span": span,
        "start": _iso(start),
        "end": _iso(t_end),
        "resolution": "1 day (mean of hourly rollups)" if span == "year" else res,
        "source": f"Store.read_series(resolution={res!r}, agg='mean')",
        "series": series,
    }


#: One vocabulary: the words the pages use, and what they mean.
GLOSSARY: tuple[tuple[str, str], ...] = (
    (
        "Heat delivered",
        "Thermal power [kW] or energy [kWh] the heat meter (EN 1434) measured "
        "going to the customer. Not IT power: a site can draw full IT power and deliver "
        "too little heat (inadequate thermal delivery).",
    ),
    (
        "Customer demand (model)",
        "What the customer is expected to need, from the demand "
        "model of the customer type and the site's weather file. An estimate, never metered.",
    ),
    (
        "Supply temperature",
        "Temperature [°C] of the water sent to the customer at the SLA's "
        "measured point; the SLA counts a minute as good when it lies inside the band.",
    ),
    ("SLA band", "The contracted supply-temperature range [°C] (site file customer.supply_band)."),
    ("SLA attainment", "Good minutes / counted minutes [%] of the period (month, contract year)."),
    (
        "Error budget",
        "Bad minutes the target still allows in the period [min]: (1 - target) "
        "x counted minutes, minus the bad minutes used so far.",
    ),
    ("Interruption", "A continuous run of bad or unknown valid minutes."),
    ("Delivery uptime", "Minutes in band over valid minutes [%]; a minute without data is not up."),
    ("Unknown", "No fresh reading (older than 5 min) or no data: never shown as healthy."),
    ("IT power", "Electric power [kW] drawn by the compute (elec.it_power_w)."),
    ("Utilisation", "IT power / nameplate power of the racks [%]."),
    (
        "HX approach",
        "Hot-side inlet minus cold-side outlet temperature of the heat exchanger "
        "[K]; rising approach at equal load hints at fouling.",
    ),
    ("Stratification", "Temperature layers of the buffer tank, top (hot) to bottom (cold)."),
    ("PUE", "Total site energy / IT energy (ISO/IEC 30134-2), from ledger hours."),
    ("ERF", "Reused energy / total site energy (ISO/IEC 30134-6), from ledger hours."),
    ("Avoided CO2", "Displaced fuel x its emission factor [kg]; estimated hours are marked."),
    (
        "Metered / estimated / missing",
        "Ledger hours from a meter, filled by an estimate, or "
        "with no value; kept apart, never summed as if metered.",
    ),
    (
        "Checkpoint",
        "A signed head of the ledger's Merkle log; heatreuse verify checks every entry against it.",
    ),
    ("Estimate", "A value marked 'estimate' comes from a model or fill, not a meter."),
)
