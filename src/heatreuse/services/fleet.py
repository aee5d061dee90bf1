"""Many sites in one store: fleet status and fleet KPIs (``heatreuse fleet status|kpi``).

Status, per site: age of the newest reading, heat delivered today and this month (site
local days), the SLA state of the current month (the SLA engine, or the seal when the
month is sealed) with its data coverage, alerts firing, and the age of the newest signed
ledger checkpoint. A site whose newest reading is older than ``stale_after_s`` reads
``no data since ...``: missing data never reads as healthy.

KPIs: the fleet's energies are the sums of the sites' ledger energies (the same hours
each site's own KPIs use, :func:`heatreuse.ledger.kpis.compute_kpis`); the ratios (PUE,
ERF, ERE, CUE) are recomputed from those sums with :mod:`heatreuse.kpi`, never averaged
over sites (a mean of site PUEs weighs a 10 kW site like a 1 MW one).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from heatreuse import kpi
from heatreuse.errors import HeatreuseError
from heatreuse.ledger.store_log import default_home
from heatreuse.ledger.tlog import DirectoryCheckpointStore
from heatreuse.site import Site, expand_points
from heatreuse.store import Store

#: A site without a reading for this long reads "no data since ..." [s].
DEFAULT_STALE_AFTER_S = 900.0
#: Energies summed over the fleet (keys of ``kpi_basis``) [kWh].
SUMMED_ENERGIES_KWH = (
    "it_energy_kwh",
    "total_energy_kwh",
    "heat_delivered_kwh",
    "reused_energy_kwh",
    "heat_pump_electricity_kwh",
    "upgrade_only_electricity_kwh",
)


def _iso(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None else ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _now(now: dt.datetime | pd.Timestamp | None) -> pd.Timestamp:
    ts = pd.Timestamp(now if now is not None else dt.datetime.now(dt.UTC))
    if ts.tzinfo is None:
        raise HeatreuseError(f"--now: expected a tz-aware instant (with offset), got {now!r}")
    return ts.tz_convert("UTC")


def check_site_ids(sites: Sequence[Site], files: Sequence[str] | None = None) -> None:
    """Refuse two site files with the same site id (their figures would be counted twice)."""
    seen: dict[str, str] = {}
    for i, s in enumerate(sites):
        where = files[i] if files is not None else f"site {i + 1}"
        if s.id in seen:
            raise HeatreuseError(
                f"{where}: site id {s.id!r} is also the id of {seen[s.id]}; expected each "
                "site once in a fleet"
            )
        seen[s.id] = where


def checkpoint_info(
    site_id: str, now: pd.Timestamp, checkpoint_root: str | Path | None = None
) -> dict[str, Any] | None:
    """Newest signed checkpoint of a site's ledger: tree size, when it was written, age [s].

    Read from ``<checkpoint_root>/<site_id>/<size>.txt`` (default root
    ``$HEATREUSE_HOME/checkpoints``, where ``heatreuse ledger update`` publishes them);
    ``written_at`` is the file's modification time. ``None`` without a checkpoint.
    """
    root = Path(checkpoint_root) if checkpoint_root is not None else default_home() / "checkpoints"
    directory = DirectoryCheckpointStore(root / site_id).directory
    if not directory.is_dir():
        return None
    files = [p for p in directory.glob("*.txt") if p.stem.isdigit()]
    if not files:
        return None
    newest = max(files, key=lambda p: int(p.stem))
    written = pd.Timestamp(newest.stat().st_mtime, unit="s", tz="UTC").floor("s")
    return {
        "tree_size": int(newest.stem),
        "written_at": _iso(written),
        "age_s": max(0.0, (now - written).total_seconds()),
        "path": str(newest),
    }


def _heat(store: Store, site_id: str, site: Site | None, now: pd.Timestamp) -> dict[str, Any]:
    """Heat delivered today and this month (site-local days; UTC days without a site file)."""
    from heatreuse.services.sla import HEAT_ENERGY_POINT, daily_heat_kwh

    tz = site.location.timezone if site is not None else "UTC"
    local = now.tz_convert(tz)
    month_start = pd.Timestamp(local.year, local.month, 1, tz=tz).tz_convert("UTC")
    rollover = None
    if site is not None:
        meter = expand_points(site).by_id().get(HEAT_ENERGY_POINT)
        rollover = meter.counter_rollover if meter is not None else None
    per_day, method = daily_heat_kwh(store, site_id, tz, month_start, now, rollover)
    out: dict[str, Any] = {"day_basis": tz, "heat_method": method}
    if per_day is None or per_day.empty:
        out.update(heat_today_kwh=None, heat_month_kwh=None, heat_days_with_data=0)
        return out
    today = local.date()
    out["heat_today_kwh"] = float(per_day[today]) if today in per_day.index else None
    out["heat_month_kwh"] = float(math.fsum(per_day))
    out["heat_days_with_data"] = len(per_day)
    return out


def _sla(store: Store, site: Site, now: pd.Timestamp) -> dict[str, Any]:
    """SLA state of the current local month (the seal when sealed)."""
    from heatreuse.services.sla import sla_report

    local = now.tz_convert(site.location.timezone)
    period = f"{local.year:04d}-{local.month:02d}"
    rep = sla_report(site, period=period, now=now.to_pydatetime(), store=store)[0]
    return {
        "period": period,
        "verdict": rep.verdict,
        "data_coverage_fraction": rep.data_coverage_fraction,
        "attainment_fraction": rep.attainment_fraction,
        "sealed": rep.sealed is not None,
    }


def _health(row: dict[str, Any]) -> str:
    """One word per site, worst first: no data, breached, alerting, unknown, ok."""
    if row["data_state"] != "fresh":
        return "no data"
    sla = row["sla"]
    if sla is not None and sla["verdict"] == "breached":
        return "breached"
    if row["alerts_firing"]:
        return "alerting"
    if sla is None or sla["verdict"] != "met":
        return "unknown"
    return "ok"


def fleet_status(
    sites: Sequence[Site],
    store: Store,
    *,
    now: dt.datetime | pd.Timestamp | None = None,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    checkpoint_root: str | Path | None = None,
) -> dict[str, Any]:
    """Status of every site given and every site in the store.

    Parameters
    ----------
    sites
        Site models (needed for SLA state and site-local days).
    store
        The open store holding the fleet.
    now
        Reference instant (tz-aware; default the current time).
    stale_after_s
        A newest reading older than this reads ``no data since ...`` [s].
    checkpoint_root
        Folder holding ``<site_id>/<size>.txt`` checkpoints (default
        ``$HEATREUSE_HOME/checkpoints``).

    Returns
    -------
    dict
        ``now``, ``stale_after_s``, ``sites`` (one dict per site, sorted by id) and
        ``counts`` (sites per health word).
    """
    from heatreuse.services.monitoring import list_alerts

    t = _now(now)
    check_site_ids(sites)
    by_id: dict[str, Site | None] = {s.id: s for s in sites}
    for sid in store.list_sites():
        by_id.setdefault(sid, None)
    rows: list[dict[str, Any]] = []
    for sid in sorted(by_id):
        site = by_id[sid]
        last = store.last_reading(sid)
        age = None if last is None else max(0.0, (t - last).total_seconds())
        if last is None:
            state, text = "never", "no data ever"
        elif age is not None and age > stale_after_s:
            state, text = "stale", f"no data since {_iso(last)}"
        else:
            state, text = "fresh", f"last reading {_iso(last)}"
        firing = store.list_alerts(sid, state="firing") if site is None else None
        alerts = (
            list_alerts(site, store, "firing")
            if site is not None
            else [{"rule": a.rule, "severity": a.severity} for a in firing or []]
        )
        row: dict[str, Any] = {
            "site_id": sid,
            "site_file": site is not None,
            "last_reading": _iso(last),
            "last_reading_age_s": age,
            "data_state": state,
            "data": text,
            **_heat(store, sid, site, t),
            "sla": _sla(store, site, t) if site is not None else None,
            "alerts_firing": len(alerts),
            "alert_rules_firing": sorted({str(a["rule"]) for a in alerts}),
            "checkpoint": checkpoint_info(sid, t, checkpoint_root),
        }
        if site is None:
            row["note"] = "no site file given: SLA state unknown, heat counted on UTC days"
        row["health"] = _health(row)
        rows.append(row)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["health"]] = counts.get(r["health"], 0) + 1
    return {"now": _iso(t), "stale_after_s": stale_after_s, "sites": rows, "counts": counts}


def fleet_kpi(
    sites: Sequence[Site],
    period: str,
    store_url: str | None = None,
    *,
    checkpoint_root: str | Path | None = None,
) -> dict[str, Any]:
    """Fleet KPIs of a period: site energies summed, ratios recomputed from the sums.

    Parameters
    ----------
    sites
        The fleet's sites; each needs a ledger (``heatreuse ledger update``).
    period
        ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (UTC calendar period, as ``heatreuse kpi``).
    store_url
        The store holding the sites' ledgers.
    checkpoint_root
        Folder holding ``<site_id>/`` checkpoint folders (default
        ``$HEATREUSE_HOME/checkpoints``).

    Returns
    -------
    dict
        ``period``, ``sites`` (per site its energies [kWh] and own PUE/ERF/ERE or the
        reason it is missing), ``totals`` (summed energies [kWh], emissions [kg CO2e],
        hours), ``kpis`` (``pue``, ``erf``, ``ere``, ``cue`` from the sums, ``None``
        without IT energy), ``sites_missing``.

    Notes
    -----
    PUE = sum(E_DC) / sum(E_IT) (ISO/IEC 30134-2), ERF = sum(E_Reuse) / sum(E_DC)
    (ISO/IEC 30134-6), ERE = (sum(E_DC) - sum(E_Reuse)) / sum(E_IT), CUE =
    sum(E_DC,i x EF_grid,i) / sum(E_IT) (ISO/IEC 30134-8) with each site's own grid factor.
    """
    from heatreuse.ledger.kpis import compute_kpis, parse_period
    from heatreuse.services.ledger import open_ledger

    check_site_ids(sites)
    per = parse_period(period)
    root = Path(checkpoint_root) if checkpoint_root is not None else None
    per_site: list[dict[str, Any]] = []
    totals: dict[str, float] = dict.fromkeys(SUMMED_ENERGIES_KWH, 0.0)
    emissions_kg = 0.0
    hours = {"hours_used": 0, "hours_excluded_missing": 0, "hours_with_estimates": 0}
    missing: list[str] = []
    label = per.label
    for site in sorted(sites, key=lambda s: s.id):
        with open_ledger(
            site, store_url, checkpoint_dir=root / site.id if root is not None else None
        ) as ctx:
            if ctx.log.size == 0:
                missing.append(site.id)
                per_site.append(
                    {
                        "site_id": site.id,
                        "status": "no ledger",
                        "reason": "the ledger is empty; run `heatreuse ledger update SITE.yaml`",
                    }
                )
                continue
            rep = compute_kpis(site, ctx.log.entries(), per)
        label = rep["period"]
        basis = rep["kpi_basis"]
        if basis["hours_used"] == 0:
            missing.append(site.id)
            per_site.append(
                {
                    "site_id": site.id,
                    "status": "no ledgered hours",
                    "reason": "no hour of the period has IT electricity, total site energy "
                    "and heat delivered",
                }
            )
            continue
        grid = site.contract.emission_factors.grid.value_kg_per_kwh
        for k in SUMMED_ENERGIES_KWH:
            totals[k] += float(basis[k])
        emissions_kg += float(basis["total_energy_kwh"]) * grid
        for k in hours:
            hours[k] += int(basis[k])
        per_site.append(
            {
                "site_id": site.id,
                "status": "ok",
                **{k: float(basis[k]) for k in SUMMED_ENERGIES_KWH},
                "hours_used": int(basis["hours_used"]),
                "hours_in_period": int(basis["hours_in_period"]),
                "pue": rep["kpis"]["pue"]["value"],
                "erf": rep["kpis"]["erf"]["value"],
                "ere": rep["kpis"]["ere"]["value"],
            }
        )
    it, total, reuse = (
        totals["it_energy_kwh"],
        totals["total_energy_kwh"],
        totals["reused_energy_kwh"],
    )
    ok = it > 0 and total > 0
    kpis = {
        "pue": {
            "value": float(kpi.pue(total, it)) if ok else None,
            "formula": "sum(E_DC) / sum(E_IT) (ISO/IEC 30134-2)",
        },
        "pue_enefg": {
            "value": float(
                kpi.pue(total, it, upgrade_only_energy_kwh=totals["upgrade_only_electricity_kwh"])
            )
            if ok
            else None,
            "formula": "(sum(E_DC) - sum(E_upgrade_only)) / sum(E_IT) (EnEfG section 11)",
        },
        "erf": {
            "value": float(kpi.erf(reuse, total)) if ok else None,
            "formula": "sum(E_Reuse) / sum(E_DC) (ISO/IEC 30134-6)",
        },
        "ere": {
            "value": float(kpi.ere(total, reuse, it)) if ok else None,
            "formula": "(sum(E_DC) - sum(E_Reuse)) / sum(E_IT)",
        },
        "cue": {
            "value": float(kpi.cue(emissions_kg, it)) if ok else None,
            "unit": "kg CO2e/kWh",
            "formula": "sum(E_DC,i x EF_grid,i) / sum(E_IT) (ISO/IEC 30134-8)",
        },
    }
    return {
        "period": label,
        "period_basis": "UTC calendar period",
        "sites": per_site,
        "sites_counted": len(sites) - len(missing),
        "sites_missing": missing,
        "totals": {**totals, "emissions_kg": emissions_kg, **hours},
        "kpis": kpis,
        "notes": [
            "fleet ratios are recomputed from the summed site energies, never averaged over sites",
            "each site contributes the hours its own KPIs use (IT electricity, total site "
            "energy and heat delivered all known); sites without a ledger are listed in "
            "sites_missing and not counted",
        ],
    }
