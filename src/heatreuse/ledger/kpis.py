"""KPIs, EnEfG targets and EU EED report fields for any period, from ledger entries.

Everything here reads ledger entries only (never raw telemetry), so a figure in a
report can be traced to entries that ``heatreuse verify`` checks:

* :func:`intervals_frame`: the latest version of every ledgered hour (corrections
  applied) as a UTC-indexed DataFrame with units in the column names;
* :func:`period_totals`: sums over a period, metered and estimated apart, with the
  hours that are missing a value;
* :func:`compute_kpis`: PUE (as is, and by the EnEfG rule), ERF, ERE, REF, CUE,
  WUE, CER (ISO/IEC 30134; functions of :mod:`heatreuse.kpi`) and the EnEfG
  section 11 targets for the site's commissioning date;
* :func:`eed_report`: the fields of Directive (EU) 2023/1791 Art. 12 / Delegated
  Regulation (EU) 2024/1364 that the site can fill from the ledger and the site
  file, and the rest listed as missing with the reason.

Periods are UTC calendar periods: ``2026`` (a year), ``2026-01`` (a month) or
``2026-01-15`` (a day).

References
----------
ISO/IEC 30134-2 (PUE), -3 (REF), -6 (ERF), -7 (CER), -8 (CUE), -9 (WUE); The Green
Grid, "ERE: a metric for measuring the benefit of reuse energy from a data center",
White Paper 29 (2010); Energieeffizienzgesetz (EnEfG) of 13 November 2023, section
11; Directive (EU) 2023/1791 Art. 12 and Annex VII; Commission Delegated Regulation
(EU) 2024/1364, Annexes I and II.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from heatreuse import kpi
from heatreuse.errors import LedgerError
from heatreuse.ledger.build import (
    DERIVED,
    ENTRY_CORRECTION,
    ENTRY_INTERVAL,
    ENTRY_METHOD,
    QUANTITIES,
)
from heatreuse.site.model import Site

__all__ = [
    "EED_SCOPE_KW",
    "ENEFG_SCOPE_KW",
    "Period",
    "compute_kpis",
    "eed_csv",
    "eed_report",
    "enefg_targets",
    "flatten_for_csv",
    "intervals_frame",
    "kpi_csv",
    "parse_period",
    "period_totals",
    "rollup",
]

#: EnEfG section 11 applies from 300 kW non-redundant connected power [kW].
ENEFG_SCOPE_KW = 300.0
#: EED Art. 12 reporting applies from 500 kW installed IT power [kW].
EED_SCOPE_KW = 500.0
_ALL = (*QUANTITIES, *DERIVED)


# --------------------------------------------------------------------------- periods
@dataclass(frozen=True)
class Period:
    """A UTC calendar period [start, end)."""

    label: str
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def hours(self) -> int:
        """Number of hours in the period [h]."""
        return int((self.end - self.start) / pd.Timedelta(hours=1))


def parse_period(text: str) -> Period:
    """Parse ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` into a UTC :class:`Period`.

    Raises
    ------
    LedgerError
        When the text is none of these forms.
    """
    t = text.strip()
    if re.fullmatch(r"\d{4}", t):
        start = pd.Timestamp(f"{t}-01-01", tz="UTC")
        return Period(t, start, start + pd.DateOffset(years=1))
    if re.fullmatch(r"\d{4}-\d{2}", t):
        try:
            start = pd.Timestamp(f"{t}-01", tz="UTC")
        except ValueError as exc:
            raise LedgerError(f"--period: expected YYYY-MM with a month 01-12, got {t!r}") from exc
        return Period(t, start, start + pd.DateOffset(months=1))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
        try:
            start = pd.Timestamp(t, tz="UTC")
        except ValueError as exc:
            raise LedgerError(f"--period: expected a valid date YYYY-MM-DD, got {t!r}") from exc
        return Period(t, start, start + pd.Timedelta(days=1))
    raise LedgerError(
        f"--period: expected a year (2026), a month (2026-01) or a day (2026-01-15), got {t!r}"
    )


# --------------------------------------------------------------------------- entries -> frame
def intervals_frame(entries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The latest version of every ledgered hour as a DataFrame.

    Parameters
    ----------
    entries
        Log entries in log order (any types; only intervals and corrections used).

    Returns
    -------
    pandas.DataFrame
        Indexed by hour start (UTC), one row per hour. Columns per quantity ``q``:
        ``q_kwh`` (NaN when missing), ``q_metered_kwh``, ``q_estimated_kwh``,
        ``q_status``; plus ``heat_delivered_uncertainty_kwh``,
        ``heat_delivered_supply_temp_c``, ``avoided_co2_kg``,
        ``avoided_co2_metered_kg``, ``avoided_co2_estimated_kg``,
        ``avoided_co2_uncertainty_kg``, ``site_mode``, ``estimated``,
        ``entry_index`` (the version used), ``method_version``, ``grid_factor_kg_per_kwh``.
    """
    latest: dict[str, Mapping[str, Any]] = {}
    for e in entries:
        if e.get("type") in (ENTRY_INTERVAL, ENTRY_CORRECTION):
            latest[str(e["period_start"])] = e
    rows: list[dict[str, Any]] = []
    for start, e in latest.items():
        row: dict[str, Any] = {"period_start": pd.Timestamp(start)}
        for q in _ALL:
            item = e.get(q) or {}
            kwh = item.get("kwh")
            row[f"{q}_kwh"] = math.nan if kwh is None else float(kwh)
            row[f"{q}_metered_kwh"] = float(item.get("metered_kwh") or 0.0)
            row[f"{q}_estimated_kwh"] = float(item.get("estimated_kwh") or 0.0)
            row[f"{q}_status"] = item.get("status", "missing")
        heat = e.get("heat_delivered") or {}
        unc = heat.get("uncertainty_kwh")
        row["heat_delivered_uncertainty_kwh"] = math.nan if unc is None else float(unc)
        temp = heat.get("mean_supply_temp_c")
        row["heat_delivered_supply_temp_c"] = math.nan if temp is None else float(temp)
        co2 = e.get("avoided_co2") or {}
        for key, col in (
            ("kg", "avoided_co2_kg"),
            ("uncertainty_kg", "avoided_co2_uncertainty_kg"),
            ("conservative_kg", "avoided_co2_conservative_kg"),
        ):
            v = co2.get(key)
            row[col] = math.nan if v is None else float(v)
        row["avoided_co2_metered_kg"] = float(co2.get("metered_kg") or 0.0)
        row["avoided_co2_estimated_kg"] = float(co2.get("estimated_kg") or 0.0)
        row["site_mode"] = e.get("site_mode")
        row["estimated"] = bool(e.get("estimated"))
        row["entry_index"] = e.get("index")
        row["method_version"] = e.get("method_version")
        factors = e.get("emission_factors") or {}
        grid = (factors.get("grid") or {}).get("value_kg_per_kwh")
        row["grid_factor_kg_per_kwh"] = math.nan if grid is None else float(grid)
        row["heat_pump_upgrade_only"] = bool(e.get("heat_pump_upgrade_only"))
        rows.append(row)
    if not rows:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="period_start"))
    frame = pd.DataFrame(rows).set_index("period_start").sort_index()
    frame.index = pd.DatetimeIndex(frame.index).tz_convert("UTC")
    return frame


def rollup(frame: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Roll hourly ledger values up to days, months or years (UTC) on read.

    Parameters
    ----------
    frame
        :func:`intervals_frame` output.
    freq
        ``"D"`` (day), ``"MS"`` (month) or ``"YS"`` (year).

    Returns
    -------
    pandas.DataFrame
        Per period: ``hours_ledgered``; for each quantity ``q_kwh`` (sum of the hours
        with a value, NaN when none has one), ``q_metered_kwh``, ``q_estimated_kwh``
        and ``q_hours_missing``; the same for ``avoided_co2_*_kg``.
    """
    if freq not in ("D", "MS", "YS"):
        raise LedgerError(f"rollup: freq expected 'D', 'MS' or 'YS', got {freq!r}")
    if frame.empty:
        return pd.DataFrame()
    g = frame.groupby(pd.Grouper(freq=freq))
    out = pd.DataFrame({"hours_ledgered": g.size()})
    for q in _ALL:
        out[f"{q}_kwh"] = g[f"{q}_kwh"].sum(min_count=1)
        out[f"{q}_metered_kwh"] = g[f"{q}_metered_kwh"].sum()
        out[f"{q}_estimated_kwh"] = g[f"{q}_estimated_kwh"].sum()
        out[f"{q}_hours_missing"] = g[f"{q}_kwh"].apply(lambda x: int(x.isna().sum()))
    out["avoided_co2_kg"] = g["avoided_co2_kg"].sum(min_count=1)
    out["avoided_co2_metered_kg"] = g["avoided_co2_metered_kg"].sum()
    out["avoided_co2_estimated_kg"] = g["avoided_co2_estimated_kg"].sum()
    return out[out["hours_ledgered"] > 0]


def _slice(frame: pd.DataFrame, period: Period) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame[(frame.index >= period.start) & (frame.index < period.end)]


def _sum_or_none(series: pd.Series) -> float | None:
    """Sum of the values present; None when there is none (unknown, not zero)."""
    present = series.dropna()
    return float(math.fsum(present)) if len(present) else None


def period_totals(frame: pd.DataFrame, period: Period) -> dict[str, Any]:
    """Totals of a period: per quantity the sum, metered and estimated parts.

    Returns
    -------
    dict
        ``{"hours_in_period", "hours_ledgered", "hours_not_ledgered", "site_mode_hours",
        "quantities": {q: {"kwh", "metered_kwh", "estimated_kwh", "hours_missing"}},
        "avoided_co2": {...}, "heat_delivered_uncertainty_kwh"}``. ``kwh`` sums the
        hours that have a value; ``hours_missing`` says how many do not.
    """
    part = _slice(frame, period)
    out: dict[str, Any] = {
        "period": period.label,
        "period_start": period.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "period_end": period.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hours_in_period": period.hours,
        "hours_ledgered": len(part),
        "hours_not_ledgered": period.hours - len(part),
        "site_mode_hours": {},
        "quantities": {},
    }
    if part.empty:
        return out
    out["site_mode_hours"] = {str(k): int(v) for k, v in part["site_mode"].value_counts().items()}
    for q in _ALL:
        out["quantities"][q] = {
            "kwh": float(math.fsum(part[f"{q}_kwh"].dropna())),
            "metered_kwh": float(math.fsum(part[f"{q}_metered_kwh"])),
            "estimated_kwh": float(math.fsum(part[f"{q}_estimated_kwh"])),
            "hours_missing": int(part[f"{q}_kwh"].isna().sum()),
            "hours_estimated": int((part[f"{q}_status"] == "estimated").sum()),
        }
    unc = part["heat_delivered_uncertainty_kwh"]
    out["heat_delivered_uncertainty_kwh"] = _sum_or_none(unc)
    out["heat_delivered_uncertainty_hours"] = int(unc.notna().sum())
    out["heat_delivered_uncertainty_note"] = (
        "sum of hourly maximum permissible errors (worst case, errors fully correlated)"
    )
    co2 = part["avoided_co2_kg"]
    out["avoided_co2"] = {
        "kg": float(math.fsum(co2.dropna())),
        "metered_kg": float(math.fsum(part["avoided_co2_metered_kg"])),
        "estimated_kg": float(math.fsum(part["avoided_co2_estimated_kg"])),
        "uncertainty_kg": _sum_or_none(part["avoided_co2_uncertainty_kg"]),
        "conservative_kg": _sum_or_none(part["avoided_co2_conservative_kg"]),
        "hours_missing": int(co2.isna().sum()),
    }
    out["method_versions"] = sorted({str(v) for v in part["method_version"].dropna()})
    return out


# --------------------------------------------------------------------------- KPI functions
def _kpi_value(value: float | None, **extra: Any) -> dict[str, Any]:
    return {"value": value, **extra}


# --------------------------------------------------------------------------- EnEfG
def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def enefg_targets(
    site: Site, period: Period, pue_enefg: float | None, erf: float | None
) -> dict[str, Any]:
    """EnEfG section 11 targets for the site's commissioning date: met / not met / n/a.

    New sites (operating from 2026-07-01): PUE <= 1.2 and ERF >= 10 % (15 % for a
    start from 2027-07-01, 20 % from 2028-07-01), to be met as an annual average
    within two years of commissioning. Existing sites: PUE <= 1.5 from 2027-07-01,
    <= 1.3 from 2030-07-01. Scope: from 300 kW (non-redundant connected power; the
    site file has no connection rating, so nameplate IT power stands in for it).
    Upgrade-only heat-pump electricity is excluded from the PUE (section 11).

    Returns
    -------
    dict
        ``{"in_scope", "scope_note", "category", "targets": [{"kpi", "target",
        "value", "status", "binding", "due_from", "note"}]}``; ``status`` is
        ``met``, ``not met``, ``not applicable`` or ``no data``.
    """
    nameplate_kw = site.compute.nameplate_it_power_w / 1000.0
    in_scope = nameplate_kw >= ENEFG_SCOPE_KW
    scope_note = (
        f"nameplate IT power {nameplate_kw:g} kW "
        + (">=" if in_scope else "<")
        + f" {ENEFG_SCOPE_KW:g} kW scope threshold (EnEfG section 11 applies from 300 kW "
        "non-redundant connected power; the site file states no connection rating, so the "
        "nameplate IT power is used as a stand-in)"
    )
    commissioning = site.site.commissioning_date
    targets: list[dict[str, Any]] = []
    period_end_day = (period.end - pd.Timedelta(seconds=1)).date()

    def judge(
        kpi: str,
        target: float,
        value: float | None,
        higher_is_better: bool,
        due_from: dt.date,
        note: str,
    ) -> None:
        binding = in_scope and period_end_day >= due_from
        if not in_scope:
            status = "not applicable"
        elif value is None:
            status = "no data"
        else:
            ok = value >= target if higher_is_better else value <= target
            status = "met" if ok else "not met"
        indicative = None
        if value is not None:
            ok = value >= target if higher_is_better else value <= target
            indicative = "met" if ok else "not met"
        targets.append(
            {
                "kpi": kpi,
                "target": target,
                "comparison": ">=" if higher_is_better else "<=",
                "value": value,
                "status": status,
                "indicative": indicative,
                "binding": binding,
                "due_from": due_from.isoformat(),
                "note": note
                + ("" if binding or not in_scope else "; not yet due: shown for information"),
            }
        )

    if commissioning is None:
        return {
            "in_scope": in_scope,
            "scope_note": scope_note,
            "category": "unknown",
            "note": "site.commissioning_date is not set: the EnEfG targets depend on it",
            "targets": [],
        }
    new_site = commissioning >= dt.date(2026, 7, 1)
    if new_site:
        erf_target = 0.10
        if commissioning >= dt.date(2028, 7, 1):
            erf_target = 0.20
        elif commissioning >= dt.date(2027, 7, 1):
            erf_target = 0.15
        due = _add_years(commissioning, 2)
        judge(
            "pue_enefg",
            1.2,
            pue_enefg,
            False,
            due,
            "new site: PUE <= 1.2 as an annual average within two years of commissioning",
        )
        judge(
            "erf",
            erf_target,
            erf,
            True,
            due,
            f"new site commissioned {commissioning.isoformat()}: reused-energy share >= "
            f"{erf_target:.0%} (EN 50600-4-6) within two years of commissioning",
        )
    else:
        judge(
            "pue_enefg",
            1.5,
            pue_enefg,
            False,
            dt.date(2027, 7, 1),
            "existing site: PUE <= 1.5 from 2027-07-01",
        )
        judge(
            "pue_enefg",
            1.3,
            pue_enefg,
            False,
            dt.date(2030, 7, 1),
            "existing site: PUE <= 1.3 from 2030-07-01",
        )
    return {
        "in_scope": in_scope,
        "scope_note": scope_note,
        "category": "new" if new_site else "existing",
        "commissioning_date": commissioning.isoformat(),
        "note": "targets are annual averages; for a shorter period the comparison is "
        "indicative. Exemptions of section 11(3) are not evaluated.",
        "targets": targets,
    }


# --------------------------------------------------------------------------- KPIs
def compute_kpis(
    site: Site, entries: Iterable[Mapping[str, Any]], period: Period | str
) -> dict[str, Any]:
    """KPIs of a period from ledger entries.

    PUE, ERF, ERE and CUE use the same hours: those where IT electricity, total
    site energy and heat delivered all have a value (metered or estimated), so that
    ERE = (1 - ERF) x PUE holds exactly. Missing hours are counted, never zero.

    Parameters
    ----------
    site
        The site (emission factors, plant, commissioning date).
    entries
        Ledger entries in log order.
    period
        A :class:`Period` or its text form (``2026``, ``2026-01``).

    Returns
    -------
    dict
        JSON-serialisable: ``period``, ``method_versions``, ``totals`` (see
        :func:`period_totals`), ``kpi_basis``, ``kpis`` (each with ``value``,
        ``unit``, ``formula``, ``note``), ``enefg``, ``notes``.
    """
    per = parse_period(period) if isinstance(period, str) else period
    entries = list(entries)
    frame = intervals_frame(entries)
    totals = period_totals(frame, per)
    part = _slice(frame, per)
    methods = [e for e in entries if e.get("type") == ENTRY_METHOD]
    result: dict[str, Any] = {
        "site_id": site.id,
        "period": per.label,
        "period_basis": "UTC calendar period",
        "method_versions": totals.get("method_versions", []),
        "method_entry_indices": [e.get("index") for e in methods],
        "totals": totals,
    }
    need = ["it_electricity_kwh", "total_site_energy_kwh", "heat_delivered_kwh"]
    used = part.dropna(subset=need) if not part.empty else part
    it = float(math.fsum(used["it_electricity_kwh"])) if len(used) else 0.0
    total = float(math.fsum(used["total_site_energy_kwh"])) if len(used) else 0.0
    delivered = float(math.fsum(used["heat_delivered_kwh"])) if len(used) else 0.0
    hp = float(math.fsum(used["heat_pump_electricity_kwh"].fillna(0.0))) if len(used) else 0.0
    reuse = kpi.reused_energy_kwh(delivered, hp)
    upgrade_only = hp if len(used) and bool(used["heat_pump_upgrade_only"].any()) else 0.0
    estimated_hours = int(used["estimated"].sum()) if len(used) else 0
    result["kpi_basis"] = {
        "hours_used": len(used),
        "hours_in_period": per.hours,
        "hours_excluded_missing": len(part) - len(used),
        "hours_not_ledgered": per.hours - len(part),
        "hours_with_estimates": estimated_hours,
        "it_energy_kwh": it,
        "total_energy_kwh": total,
        "heat_delivered_kwh": delivered,
        "reused_energy_kwh": reuse,
        "heat_pump_electricity_kwh": hp,
        "upgrade_only_electricity_kwh": upgrade_only,
        "note": "hours where IT electricity, total site energy and heat delivered all have "
        "a value; estimated values are included and counted in hours_with_estimates",
    }
    kpis: dict[str, Any] = {}
    grid = site.contract.emission_factors.grid
    pue: float | None
    pue_e: float | None
    erf: float | None
    ere: float | None
    cue: float | None
    ref: float | None
    if it > 0 and total > 0:
        pue = float(kpi.pue(total, it))
        pue_e = float(kpi.pue(total, it, upgrade_only_energy_kwh=upgrade_only))
        erf = float(kpi.erf(reuse, total))
        ere = float(kpi.ere(total, reuse, it))
        cue = float(kpi.cue(total * grid.value_kg_per_kwh, it))
        ref = float(kpi.ref(0.0, total))
    else:
        pue = pue_e = erf = ere = cue = ref = None
    kpis["pue"] = _kpi_value(pue, unit="1", formula="E_DC / E_IT (ISO/IEC 30134-2)")
    kpis["pue_enefg"] = _kpi_value(
        pue_e,
        unit="1",
        formula="(E_DC - E_upgrade_only) / E_IT (EnEfG section 11: electricity of plant "
        "used only to upgrade waste heat excluded)",
        note=f"upgrade-only heat pump electricity {upgrade_only:.3f} kWh excluded"
        if site.plant.heat_pump is not None
        else "no heat pump: equal to PUE",
    )
    kpis["erf"] = _kpi_value(
        erf,
        unit="1",
        formula="E_Reuse / E_DC (ISO/IEC 30134-6)",
        note="E_Reuse = metered heat delivered minus heat-pump electricity "
        "(heatreuse.kpi.reused_energy_kwh)",
    )
    kpis["ere"] = _kpi_value(ere, unit="1", formula="(E_DC - E_Reuse) / E_IT = (1 - ERF) x PUE")
    kpis["ref"] = _kpi_value(
        ref,
        unit="1",
        formula="E_Ren / E_DC (ISO/IEC 30134-3)",
        note="0: no renewable energy (owned and retired certificates, PPAs, on-site) is "
        "configured for this site; the site file has no field for it yet",
    )
    kpis["cue"] = _kpi_value(
        cue,
        unit="kg CO2e/kWh",
        formula="E_DC x EF_grid / E_IT (ISO/IEC 30134-8)",
        note=f"grid factor {grid.value_kg_per_kwh} kg/kWh, {grid.source}, {grid.year} "
        f"({grid.basis or 'basis not stated'})",
    )
    kpis["wue"] = _kpi_value(
        None,
        unit="L/kWh",
        formula="W_site / E_IT (ISO/IEC 30134-9)",
        status="missing",
        note="site water use is not metered (no water point in the registry): WUE missing, "
        "not zero",
    )
    cooling = float(math.fsum(used["cooling_electricity_kwh"].dropna())) if len(used) else 0.0
    pumps = float(math.fsum(used["pump_electricity_kwh"].dropna())) if len(used) else 0.0
    rejected = float(math.fsum(used["heat_rejected_kwh"].fillna(0.0))) if len(used) else 0.0
    cer: float | None
    if cooling + pumps > 0 and len(used):
        cer = float(kpi.cer(reuse + rejected, cooling + pumps))
    else:
        cer = None
    kpis["cer"] = _kpi_value(
        cer,
        unit="1",
        formula="Q_removed / E_cooling (ISO/IEC 30134-7)",
        note="Q_removed = heat delivered + heat rejected (heat leaving the IT loop through "
        "metered paths; losses not counted); E_cooling = cooling + pump electricity",
    )
    result["kpis"] = kpis
    result["enefg"] = enefg_targets(site, per, pue_e, erf)
    result["notes"] = [
        "KPIs are normally stated over 12 months; shorter periods are indicative.",
        "Estimated values are included in KPIs and flagged; totals show metered and "
        "estimated energy separately.",
    ]
    return result


# --------------------------------------------------------------------------- EU EED
def eed_report(site: Site, entries: Iterable[Mapping[str, Any]], year: int) -> dict[str, Any]:
    """EU EED data-centre report fields for a calendar year, filled where the site can.

    Fields named in Directive (EU) 2023/1791 Annex VII / Delegated Regulation (EU)
    2024/1364 as listed in the project's standards reference: installed IT power
    P_DIT, total energy E_DC, IT energy E_IT, total water input W_IN, reused waste
    heat E_REUSE, renewable energy E_RES-TOT, and the KPIs the Commission derives
    (PUE, WUE, ERF, REF). Other Annex I/II items are listed as missing with the
    reason; their exact names should be checked against the Regulation's annexes
    (flag ``name_checked: false``).

    Returns
    -------
    dict
        ``{"reporting_year", "in_scope", "scope_note", "fields": [{"id", "name",
        "value", "unit", "status", "source", "reason", "name_checked"}], ...}``.
    """
    per = parse_period(str(year))
    entries = list(entries)
    k = compute_kpis(site, entries, per)
    basis = k["kpi_basis"]
    totals = k["totals"]
    frame = _slice(intervals_frame(entries), per)
    p_dit_kw = site.compute.nameplate_it_power_w / 1000.0
    in_scope = p_dit_kw >= EED_SCOPE_KW
    fields: list[dict[str, Any]] = []

    def add(
        fid: str,
        name: str,
        value: Any,
        unit: str,
        status: str,
        source: str,
        reason: str = "",
        checked: bool = True,
    ) -> None:
        fields.append(
            {
                "id": fid,
                "name": name,
                "value": value,
                "unit": unit,
                "status": status,
                "source": source,
                "reason": reason,
                "name_checked": checked,
            }
        )

    have_data = basis["hours_used"] > 0
    ledger_src = (
        f"reuse ledger, {basis['hours_used']} of {basis['hours_in_period']} hours "
        f"({basis['hours_with_estimates']} with estimates)"
    )
    add("data_centre_name", "Data centre name", site.site.name, "", "filled", "site file")
    add(
        "operator",
        "Operator",
        site.site.operator,
        "",
        "filled" if site.site.operator else "missing",
        "site file",
        "" if site.site.operator else "site.operator not set",
    )
    add("location", "Location", site.location.name, "", "filled", "site file")
    add(
        "commissioning_date",
        "Date of commissioning",
        None if site.site.commissioning_date is None else site.site.commissioning_date.isoformat(),
        "",
        "filled" if site.site.commissioning_date else "missing",
        "site file",
        "" if site.site.commissioning_date else "site.commissioning_date not set",
        False,
    )
    add(
        "P_DIT",
        "Installed information technology power demand",
        p_dit_kw,
        "kW",
        "filled",
        "site file: sum of rack nameplate power (compute.racks)",
    )
    add(
        "E_DC",
        "Total energy consumption",
        basis["total_energy_kwh"] if have_data else None,
        "kWh",
        "filled" if have_data else "missing",
        ledger_src,
        "" if have_data else "no ledgered hours in the year",
    )
    add(
        "E_IT",
        "Energy consumption of the IT equipment",
        basis["it_energy_kwh"] if have_data else None,
        "kWh",
        "filled" if have_data else "missing",
        ledger_src,
    )
    add(
        "W_IN",
        "Total water input",
        None,
        "m3",
        "missing",
        "",
        "site water use is not metered (no water point in the point registry)",
    )
    add(
        "E_REUSE",
        "Waste heat reused",
        basis["reused_energy_kwh"] if have_data else None,
        "kWh",
        "filled" if have_data else "missing",
        ledger_src + "; EN 1434 heat meter",
    )
    add(
        "E_RES_TOT",
        "Total renewable energy consumption",
        0.0,
        "kWh",
        "filled",
        "site file",
        "no renewable energy configured for the site: reported as 0",
    )
    temps = frame["heat_delivered_supply_temp_c"] if not frame.empty else pd.Series(dtype=float)
    weights = frame["heat_delivered_kwh"] if not frame.empty else pd.Series(dtype=float)
    ok = temps.notna() & weights.notna() & (weights > 0)
    if bool(ok.any()):
        avg = float((temps[ok] * weights[ok]).sum() / weights[ok].sum())
        add(
            "waste_heat_temperature_avg",
            "Average temperature of the reused waste heat",
            avg,
            "degC",
            "filled",
            "heat meter supply temperature, heat-weighted hourly means",
            checked=False,
        )
    else:
        add(
            "waste_heat_temperature_avg",
            "Average temperature of the reused waste heat",
            None,
            "degC",
            "missing",
            "",
            "no heat-meter temperatures in the ledger",
            checked=False,
        )
    for fid, name, unit, reason in (
        ("floor_area", "Total and computer-room floor area", "m2", "not in the site model"),
        (
            "installed_power_total",
            "Total installed power of the data centre",
            "kW",
            "not in the site model (only IT nameplate power)",
        ),
        (
            "data_traffic",
            "Annual incoming and outgoing data traffic",
            "EB",
            "not measured by heatreuse",
        ),
        ("data_stored", "Amount of data stored and processed", "PB", "not measured by heatreuse"),
        ("W_IN_POT", "Potable water input", "m3", "site water use is not metered"),
        (
            "E_RES_GO",
            "Renewable energy from guarantees of origin",
            "kWh",
            "no renewable energy configured",
        ),
        (
            "E_RES_PPA",
            "Renewable energy from power purchase agreements",
            "kWh",
            "no renewable energy configured",
        ),
        ("E_RES_OS", "Renewable energy produced on site", "kWh", "no renewable energy configured"),
        (
            "supply_air_setpoint",
            "Average supply-air set point temperature",
            "degC",
            "not applicable to liquid/immersion cooling or not in the site model",
        ),
        ("storage_capacity", "Storage capacity", "PB", "not measured by heatreuse"),
    ):
        add(fid, name, None, unit, "missing", "", reason, checked=False)
    derived = {
        "PUE": k["kpis"]["pue"]["value"],
        "WUE": None,
        "ERF": k["kpis"]["erf"]["value"],
        "REF": k["kpis"]["ref"]["value"],
    }
    return {
        "format": "heatreuse-eed-report",
        "regulation": "Directive (EU) 2023/1791 Art. 12, Annex VII; Commission Delegated "
        "Regulation (EU) 2024/1364",
        "site_id": site.id,
        "reporting_year": year,
        "due": f"{year + 1}-05-15",
        "in_scope": in_scope,
        "scope_note": f"installed IT power {p_dit_kw:g} kW "
        + (">=" if in_scope else "<")
        + f" {EED_SCOPE_KW:g} kW reporting threshold"
        + ("" if in_scope else ": reporting not required; report prepared voluntarily"),
        "method_versions": k["method_versions"],
        "fields": fields,
        "derived_kpis": derived,
        "derived_kpis_note": "the Commission derives these from the fields; WUE missing "
        "because water is not metered",
        "hours": {
            "in_year": basis["hours_in_period"],
            "used": basis["hours_used"],
            "with_estimates": basis["hours_with_estimates"],
            "not_ledgered": basis["hours_not_ledgered"],
        },
        "missing_fields": [f["id"] for f in fields if f["status"] == "missing"],
        "totals": totals,
    }


def eed_csv(report: Mapping[str, Any]) -> str:
    """The EED report's fields as CSV (one row per field)."""
    buf = io.StringIO()
    cols = ["id", "name", "value", "unit", "status", "source", "reason", "name_checked"]
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for f in report["fields"]:
        writer.writerow({c: "" if f.get(c) is None else f.get(c) for c in cols})
    for name, value in report["derived_kpis"].items():
        writer.writerow(
            {
                "id": name,
                "name": f"{name} (derived)",
                "value": "" if value is None else value,
                "unit": "1" if name != "WUE" else "L/kWh",
                "status": "filled" if value is not None else "missing",
                "source": "derived from the fields",
                "reason": "",
                "name_checked": True,
            }
        )
    return buf.getvalue()


def kpi_csv(result: Mapping[str, Any]) -> str:
    """All figures of :func:`compute_kpis` as CSV rows ``key,value`` (dotted keys)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["key", "value"])
    for key, value in flatten_for_csv(result):
        writer.writerow([key, "" if value is None else value])
    return buf.getvalue()


def flatten_for_csv(obj: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten a nested dict into ``(dotted.key, value)`` rows (lists joined by ``;``)."""
    rows: list[tuple[str, Any]] = []
    for key, value in obj.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            rows += flatten_for_csv(value, path)
        elif isinstance(value, list):
            if all(isinstance(v, Mapping) for v in value) and value:
                for i, v in enumerate(value):
                    rows += flatten_for_csv(v, f"{path}[{i}]")
            else:
                rows.append((path, ";".join(str(v) for v in value)))
        else:
            rows.append((path, value))
    return rows
