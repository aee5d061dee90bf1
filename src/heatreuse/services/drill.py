"""Failure drills: run the site with scenarios injected and answer a facilities team's questions.

:func:`run_drill` simulates a window around the scenarios (real weather from
the site's weather spec, 60 s steps by default), runs the same plant without
the fault from the fault start (continuing from the faulted run's state, so
the two runs are identical before it), and reports:

* whether the customer's supply stayed in band, for how long not, the
  coldest and hottest supply seen (SLA valid minutes: operating hours);
* every interruption and the longest against the SLA's maximum;
* which fallback mode took over and when (backup boiler, reject path,
  throttled compute, site down), and its onset after the fault start (the
  backup boiler against its control delay);
* heat delivered, rejected and bought from backup, IT energy lost to
  throttling, faulted run against the healthy run over the same minutes;
* whether the SLA would be breached: the drill window's minutes evaluated
  with :func:`heatreuse.sla.evaluate`, and for each calendar month the fault
  touches the month evaluated as if every minute outside the drill window
  were in band (so a breach is the fault's own doing);
* whether the fault is visible in the telemetry the site exposes: the
  points the twin publishes (:class:`heatreuse.telemetry.twin_points.TwinPointMap`)
  with and without the fault, each point that deviates beyond its
  threshold, when it first did and by how much;
* the energy balance of the faulted run (it must still close).

Cost: one prepared simulation plus a healthy rerun of only the fault span
(+ :data:`COMPARE_MARGIN_S`), so a site-year drill costs little more than
the plain simulation (``benchmarks/bench_drill.py``).

The verdict: ``fail`` when an SLA term would be breached, ``degraded`` when
the supply left the band or compute was throttled or stopped beyond the
healthy run but no SLA term breaks, ``pass`` otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heatreuse.errors import ScenarioError
from heatreuse.htmlpage import esc, figure_html, page_html
from heatreuse.services.twin import OFFLINE_STEP_S, window_demand
from heatreuse.simulation import (
    MODE_BACKUP,
    MODE_CUSTOMER_DISCONNECTED,
    MODE_DEGRADED,
    MODE_DOWN,
    MODE_REJECT,
    MODE_THROTTLED,
    SimulationResult,
    prepare,
    result_from_outputs,
    run_kernel,
)
from heatreuse.simulation.scenarios import (
    Scenario,
    check_for_site,
    default_drill_start,
    format_duration,
    scenarios_to_faults,
    standard_drill_set,
)
from heatreuse.site import Site
from heatreuse.sla import SlaDefinition, evaluate, minute_status
from heatreuse.telemetry.twin_points import TwinPointMap, TwinReadings
from heatreuse.units import J_PER_KWH, SECONDS_PER_HOUR

#: Simulated time before the first fault (warm-up and "before" in plots) [s].
MARGIN_BEFORE_S = 86400
#: Simulated time after the last fault ends [s].
MARGIN_AFTER_S = 86400
#: The healthy comparison run covers the fault span plus this [s].
COMPARE_MARGIN_S = 12 * 3600
#: Fallback modes reported, code -> name.
FALLBACK_MODES: dict[int, str] = {
    MODE_BACKUP: "backup",
    MODE_REJECT: "reject",
    MODE_THROTTLED: "throttled",
    MODE_DOWN: "down",
    MODE_CUSTOMER_DISCONNECTED: "customer_disconnected",
    MODE_DEGRADED: "degraded",
}
REPORT_VERSION = 1


def _threshold(unit: str, kind: str, max_value: float) -> float:
    """Smallest deviation [the point's unit] that counts as visible in telemetry.

    Roughly the resolution an operator would notice and above sensor noise:
    0.5 K for temperatures (EN 1434 class 2 sensor pair: +-0.5 K order),
    1 % of range (at least 100 W) for powers, 1 % of range for flows,
    0.05 bar for pressure, 0.05 for speed fractions, any change of a status,
    0.5 kWh for registers.
    """
    if kind == "status":
        return 0.5
    if kind == "counter":
        return 0.5
    if unit == "degC":
        return 0.5
    if unit == "W":
        return max(100.0, 0.01 * max_value)
    if unit == "m3/h":
        return max(0.01, 0.01 * max_value)
    if unit == "bar":
        return 0.05
    return 0.05


@dataclass(frozen=True)
class DrillResult:
    """One drill: the JSON report and what the HTML needs.

    Attributes
    ----------
    report
        JSON-ready dict (``drill.json``).
    verdict
        ``pass``, ``degraded`` or ``fail``.
    line
        One-line verdict for ``--all``.
    result
        The faulted run: ``frame`` over the evaluated days (a day either side of the
        comparison span; the whole window of a default drill), totals and energy
        balance over the whole window.
    baseline
        The healthy run over the comparison span.
    supply_minutes, baseline_supply_minutes
        Minute series of the SLA's measured point [C].
    sla_status
        Minute status of the window (``good``/``bad``/...).
    """

    report: dict[str, Any]
    verdict: str
    line: str
    result: SimulationResult
    baseline: SimulationResult
    supply_minutes: pd.Series
    baseline_supply_minutes: pd.Series
    sla_status: pd.Series
    compare_start: pd.Timestamp
    compare_end: pd.Timestamp


def _iso(ts: Any) -> str | None:
    if ts is None or (isinstance(ts, float) and np.isnan(ts)):
        return None
    return pd.Timestamp(ts).tz_convert("UTC").isoformat().replace("+00:00", "Z")


def _minutes(series: pd.Series, step_s: int) -> pd.Series:
    """Minute means of a step series (held when the step is longer than a minute)."""
    if step_s == 60:
        return series
    if step_s < 60:
        return series.resample("1min").mean()
    grid = pd.date_range(
        series.index[0],
        series.index[-1] + pd.Timedelta(seconds=step_s),
        freq="1min",
        inclusive="left",
    )
    return series.reindex(grid, method="ffill")


def _daily_heat_kwh(power_w: pd.Series, step_s: int, tz: str) -> pd.Series:
    kwh = power_w * step_s / J_PER_KWH
    local = kwh.tz_convert(tz)
    daily = local.groupby(pd.DatetimeIndex(local.index).date).sum()
    return daily


def resolve_scenarios(
    site: Site, scenarios: Sequence[Scenario], year: int | None = None
) -> list[Scenario]:
    """Fill in a missing start with :func:`default_drill_start` of ``year`` (default: this year)."""
    y = year or dt.datetime.now(dt.UTC).year
    default = default_drill_start(site.location.timezone, y)
    return [s if s.start is not None else s.at(default) for s in scenarios]


def run_drill(
    site: Site,
    scenarios: Sequence[Scenario],
    *,
    step_s: int = OFFLINE_STEP_S,
    year: int | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> DrillResult:
    """Run one drill (any combination of scenarios) and build its report.

    Parameters
    ----------
    site
        The site.
    scenarios
        One or more scenarios (combined); a missing start takes the default
        drill start of ``year``.
    step_s
        Simulation step [s].
    year
        Year of the default drill start (default: the current year).
    start, end
        Simulated window; default: from a day before the first fault
        (midnight UTC) to a day after the last fault ends.

    Returns
    -------
    DrillResult
    """
    if not scenarios:
        raise ScenarioError("drill: expected at least one scenario (--scenario NAME or --all)")
    t_wall = time.perf_counter()
    scen = resolve_scenarios(site, scenarios, year)
    check_for_site(site, scen)
    f0 = min(s.start for s in scen if s.start is not None)
    f1 = max(s.end for s in scen if s.end is not None)
    w0 = start if start is not None else (f0 - pd.Timedelta(seconds=MARGIN_BEFORE_S)).floor("D")
    w1 = end if end is not None else (f1 + pd.Timedelta(seconds=MARGIN_AFTER_S)).ceil("D")
    if f0 < w0 or f0 >= w1:
        raise ScenarioError(
            f"drill: the first fault starts {_iso(f0)}, outside the window {_iso(w0)} .. {_iso(w1)}"
        )
    demand = window_demand(site, w0, w1, step_s)
    # The drill judges the plant's physics: exact values, no sensor noise (the twin adds
    # that to what it publishes; see heatreuse.telemetry.twin_points).
    points = TwinPointMap(site, step_s, noise=False)
    inputs = prepare(site, demand, step_s, faults=scenarios_to_faults(scen))
    n = inputs.n_steps
    s0 = int(inputs.index.searchsorted(f0))
    s1 = min(n, int(inputs.index.searchsorted(f1 + pd.Timedelta(seconds=COMPARE_MARGIN_S))))
    s1 = max(s1, min(n, s0 + 1))
    c0, c1 = inputs.index[s0], inputs.index[s1 - 1] + pd.Timedelta(seconds=step_s)
    # The SLA is evaluated on the fault's days: from a day before the comparison span to a
    # day after it (the whole window for a default drill). Only those days get a result
    # frame (with tank layers); the rest of a long window runs without building one, so a
    # site-year drill costs about what the plain simulation costs.
    e0 = max(w0, (c0 - pd.Timedelta(days=1)).floor("D"))
    e1 = min(w1, (c1 + pd.Timedelta(days=1)).ceil("D"))
    r0, r1 = int(inputs.index.searchsorted(e0)), int(inputs.index.searchsorted(e1))
    with_layers = replace(inputs, record_layers=points.needs_layers)
    chunks = []
    state = None
    for k0, k1, inp in (
        (0, r0, inputs),
        (r0, s0, with_layers),
        (s0, r1, with_layers),
        (r1, n, inputs),
    ):
        if k1 > k0:
            chunk = run_kernel(inp, state, k0, k1)
            chunks.append(chunk)
            state = chunk.state_out
        if k1 == s0:
            state_at_fault = state
    days = [c for c in chunks if r0 <= c.start_step and c.stop_step <= r1]
    framed = result_from_outputs(with_layers, days)
    first, last = chunks[0], chunks[-1]
    result = replace(
        framed,
        totals_j=np.sum([c.totals_j for c in chunks], axis=0),
        initial_state=first.state_in,
        final_state=last.state_out,
        stored_heat_start_j=first.stored_heat_start_j,
        stored_heat_end_j=last.stored_heat_end_j,
    )
    # the healthy rerun needs only the comparison span: slice the per-step inputs (the
    # kernel reads step i's column only) so the copy for the fault-free timeline is small
    healthy_inputs = replace(
        with_layers,
        index=inputs.index[s0:s1],
        series=inputs.series[:, s0:s1],
        flags=inputs.flags[:, s0:s1],
    ).with_faults(None)
    baseline = result_from_outputs(
        healthy_inputs, run_kernel(healthy_inputs, state_at_fault, 0, s1 - s0)
    )

    defn = SlaDefinition.from_site(site)
    sla_point = defn.measured_point
    if sla_point not in points.point_ids:
        raise ScenarioError(
            f"drill: the SLA's measured point {sla_point!r} is not a point the twin produces"
        )
    full, _ = points.readings(result.frame, point_ids=[sla_point, "meter.heat_power_w"])
    fault_cmp, _ = points.readings(result.frame.iloc[s0 - r0 : s1 - r0])
    base_cmp, _ = points.readings(baseline.frame)
    supply = _minutes(full.series(sla_point), step_s)
    healthy_minutes = _minutes(base_cmp.series(sla_point), step_s)

    heat_day = _daily_heat_kwh(full.series("meter.heat_power_w"), step_s, defn.timezone)
    window_report = evaluate(
        defn,
        supply,
        period_start=e0,
        period_end=e1,
        heat_kwh_per_day=heat_day,
        period_label="drill days",
        period_kind="range",
        binding=False,
        heat_method="twin heat meter",
    )
    m0, m1 = c0.ceil("min"), c1.floor("min")
    status = minute_status(defn, supply, period_start=e0, period_end=e1)
    months = _month_projection(defn, supply, c0, c1)

    band = (defn.band_min_temp_c, defn.band_max_temp_c)
    valid = status.isin(["good", "bad", "unknown"])
    after = valid & (status.index >= m0) & (status.index < m1)
    sup_after = supply.reindex(status.index)[after]
    sup_valid = supply.reindex(status.index)[valid]
    bad_fault_span = int((status[after] == "bad").sum())
    base_status = minute_status(defn, healthy_minutes, period_start=m0, period_end=m1)
    bad_base_span = int((base_status == "bad").sum())
    longest = max((i.duration_min for i in window_report.interruptions), default=0)

    modes = _fallbacks(result, baseline, s0 - r0, s1 - r0, c0, step_s, site)
    energy = _energy(result, baseline, s0 - r0, s1 - r0, step_s)
    visibility = _visibility(points, fault_cmp, base_cmp, c0)
    detection = _detection(site, result.frame, step_s, f0, defn)
    balance = result.energy_balance()

    interruption_breach = any(b.kind == "max_interruption" for b in window_report.breaches)
    breached_any = any(m["breached"] for m in months) or interruption_breach
    throttled_extra = modes["throttled"]["extra_min"] > 0 or modes["down"]["extra_min"] > 0
    if breached_any:
        verdict = "fail"
    elif bad_fault_span > bad_base_span or throttled_extra:
        verdict = "degraded"
    else:
        verdict = "pass"

    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "site_id": site.id,
        "scenarios": [s.label() for s in scen],
        "scenario_details": [
            {
                "name": s.name,
                "start": _iso(s.start),
                "end": _iso(s.end),
                "duration_h": s.duration_s / SECONDS_PER_HOUR,
                "severity": s.severity or None,
            }
            for s in scen
        ],
        "verdict": verdict,
        "window": {"start": _iso(w0), "end": _iso(w1), "step_s": step_s},
        "evaluated_days": {"start": _iso(e0), "end": _iso(e1)},
        "comparison_span": {"start": _iso(c0), "end": _iso(c1)},
        "weather": site.location.weather,
        "supply": {
            "measured_point": sla_point,
            "band_min_temp_c": band[0],
            "band_max_temp_c": band[1],
            "stayed_in_band": bad_fault_span == 0,
            "out_of_band_min": bad_fault_span,
            "out_of_band_min_without_fault": bad_base_span,
            "out_of_band_h": bad_fault_span / 60.0,
            "coldest_temp_c": _num(sup_after.min()),
            "hottest_temp_c": _num(sup_after.max()),
            "coldest_temp_c_window": _num(sup_valid.min()),
            "hottest_temp_c_window": _num(sup_valid.max()),
        },
        "interruptions": {
            "max_interruption_h": defn.max_interruption_h,
            "longest_min": longest,
            "longest_h": longest / 60.0,
            "exceeds_max": any(i.exceeds_max_interruption for i in window_report.interruptions),
            "list": [
                {
                    "start": _iso(i.start),
                    "end": _iso(i.end),
                    "duration_min": i.duration_min,
                    "min_temp_c": i.min_temp_c,
                    "max_temp_c": i.max_temp_c,
                    "exceeds_max_interruption": i.exceeds_max_interruption,
                }
                for i in window_report.interruptions
            ],
        },
        "fallback_modes": modes,
        "energy": energy,
        "sla": {
            "would_breach": breached_any,
            "window": {
                "attainment_fraction": window_report.attainment_fraction,
                "bad_min": window_report.bad_min,
                "breaches": [_breach(b) for b in window_report.breaches],
            },
            "months": months,
            "note": (
                "window: the drill window on its own (its error budget is tiny, so attainment "
                "there is informational); months: each calendar month of the fault, evaluated "
                "as if every minute outside the comparison span were in band, so a breach there "
                "is caused by the fault"
            ),
        },
        "telemetry": visibility,
        "detection": detection,
        "energy_balance": {
            "inputs_kwh": balance["inputs_kwh"],
            "outputs_kwh": balance["outputs_kwh"],
            "residual_kwh": balance["balance_residual_kwh"],
            "residual_fraction": balance["balance_residual_fraction"],
            "closes": abs(balance["balance_residual_fraction"]) < 1e-6,
        },
        "totals": result.totals(),
        "run_duration_s": time.perf_counter() - t_wall,
    }
    line = _line(report)
    report["summary"] = line
    return DrillResult(
        report=report,
        verdict=verdict,
        line=line,
        result=result,
        baseline=baseline,
        supply_minutes=supply,
        baseline_supply_minutes=healthy_minutes,
        sla_status=status,
        compare_start=c0,
        compare_end=c1,
    )


def _num(x: Any) -> float | None:
    v = float(x) if x is not None else float("nan")
    return None if not np.isfinite(v) else v


def _breach(b: Any) -> dict[str, Any]:
    return {
        "kind": b.kind,
        "start": _iso(b.start),
        "end": _iso(b.end),
        "value": b.value,
        "limit": b.limit,
        "unit": b.unit,
        "detail": b.detail,
    }


def _month_projection(
    defn: SlaDefinition, supply: pd.Series, c0: pd.Timestamp, c1: pd.Timestamp
) -> list[dict[str, Any]]:
    """Each local calendar month of the comparison span ``[c0, c1)``, evaluated with every
    minute outside the span in band (so what breaks is the fault's doing)."""
    tz = defn.timezone
    in_band = 0.5 * (defn.band_min_temp_c + defn.band_max_temp_c)
    out = []
    m = c0.tz_convert(tz).tz_localize(None).to_period("M")
    last = (c1 - pd.Timedelta(seconds=1)).tz_convert(tz).tz_localize(None).to_period("M")
    while m <= last:
        ms = m.start_time.tz_localize(tz).tz_convert("UTC")
        me = (m + 1).start_time.tz_localize(tz).tz_convert("UTC")
        grid = pd.date_range(ms, me, freq="1min", inclusive="left")
        series = pd.Series(in_band, index=grid)
        inside = supply[(supply.index >= max(ms, c0)) & (supply.index < min(me, c1))]
        series.loc[inside.index] = inside.to_numpy()
        rep = evaluate(
            defn,
            series,
            period_start=ms,
            period_end=me,
            period_label=str(m),
            period_kind="month",
        )
        out.append(
            {
                "month": str(m),
                "attainment_fraction": rep.attainment_fraction,
                "error_budget_allowed_min": rep.error_budget_allowed_min,
                "error_budget_used_min": rep.error_budget_used_min,
                "error_budget_left_min": rep.error_budget_left_min,
                "breached": rep.breached,
                "breaches": [_breach(b) for b in rep.breaches],
            }
        )
        m = m + 1
    return out


def _fallbacks(
    result: SimulationResult,
    baseline: SimulationResult,
    s0: int,
    s1: int,
    c0: pd.Timestamp,
    step_s: int,
    site: Site,
) -> dict[str, Any]:
    flags = result.frame["mode_flags"].to_numpy()[s0:s1].astype(np.int64)
    base_flags = baseline.frame["mode_flags"].to_numpy().astype(np.int64)
    idx = result.frame.index[s0:s1]
    out: dict[str, Any] = {}
    for code, name in FALLBACK_MODES.items():
        on = (flags & (1 << code)) != 0
        base_on = (base_flags & (1 << code)) != 0
        first = idx[int(np.argmax(on))] if on.any() else None
        minutes = float(on.sum()) * step_s / 60.0
        base_minutes = float(base_on.sum()) * step_s / 60.0
        entry: dict[str, Any] = {
            "active": bool(on.any()),
            "first_at": _iso(first),
            "onset_after_fault_min": (
                None if first is None else (first - c0).total_seconds() / 60.0
            ),
            "active_min": minutes,
            "active_min_without_fault": base_minutes,
            "extra_min": max(0.0, minutes - base_minutes),
            "took_over": minutes > base_minutes,
        }
        out[name] = entry
    # when the recovered heat first fell short of the demand, and how long the boiler took
    f = result.frame.iloc[s0:s1]
    short = (
        f["heat_delivered_w"].to_numpy(dtype=np.float64)
        < 0.995 * f["heat_demand_w"].to_numpy(dtype=np.float64) - 1.0
    )
    deficit_at = idx[int(np.argmax(short))] if short.any() else None
    backup_at = out["backup"]["first_at"]
    out["backup"]["deficit_first_at"] = _iso(deficit_at)
    out["backup"]["after_deficit_min"] = (
        None
        if deficit_at is None or backup_at is None
        else (pd.Timestamp(backup_at) - deficit_at).total_seconds() / 60.0
    )
    boiler = site.plant.backup_boiler
    out["backup"]["available"] = boiler is not None
    out["backup"]["control_delay_s"] = None if boiler is None else boiler.control_delay_s
    out["reject"]["available"] = site.plant.heat_reject is not None
    return out


def _energy(
    result: SimulationResult, baseline: SimulationResult, s0: int, s1: int, step_s: int
) -> dict[str, Any]:
    f = result.frame.iloc[s0:s1]
    b = baseline.frame
    cols = {
        "heat_delivered_kwh": "heat_delivered_w",
        "heat_rejected_kwh": "heat_rejected_w",
        "backup_heat_kwh": "backup_heat_w",
        "unmet_heat_kwh": "unmet_heat_w",
        "it_energy_kwh": "it_power_w",
        "throttled_it_energy_kwh": "it_power_throttled_w",
        "heat_demand_kwh": "heat_demand_w",
    }
    out: dict[str, Any] = {}
    for key, col in cols.items():
        a = float(f[col].to_numpy(dtype=np.float64).sum()) * step_s / J_PER_KWH
        c = float(b[col].to_numpy(dtype=np.float64).sum()) * step_s / J_PER_KWH
        out[key] = {"with_fault": a, "without_fault": c, "difference": a - c}
    out["span"] = "comparison span (fault start to fault end + margin)"
    return out


def _visibility(
    points: TwinPointMap, fault: TwinReadings, base: TwinReadings, c0: pd.Timestamp
) -> dict[str, Any]:
    by_id = {p.id: p for p in points.points}
    diff = fault.values - base.values
    rows = []
    for i, pid in enumerate(fault.point_ids):
        p = by_id[pid]
        thr = _threshold(p.unit, p.kind, p.max_value)
        # a reading is only seen where the point is sampled
        d = np.where(fault.sampled[i], diff[i], 0.0)
        over = np.abs(d) >= thr
        if not over.any():
            continue
        k = int(np.argmax(over))
        j = int(np.argmax(np.abs(d)))
        rows.append(
            {
                "point_id": pid,
                "first_deviation_at": _iso(fault.index[k]),
                "lag_min": (fault.index[k] - c0).total_seconds() / 60.0,
                "max_deviation": float(d[j]),
                "unit": p.unit,
                "threshold": thr,
                "value_with_fault": float(fault.values[i, j]),
                "value_without_fault": float(base.values[i, j]),
            }
        )
    rows.sort(key=lambda r: (r["lag_min"], r["point_id"]))
    return {
        "visible": bool(rows),
        "points_showing_it": len(rows),
        "points_published": len(fault.point_ids),
        "first_point": rows[0]["point_id"] if rows else None,
        "points": rows,
        "method": (
            "every point the twin publishes, with and without the fault, compared at its "
            "sample instants; a point shows the fault when it deviates by at least its "
            "threshold (0.5 K, 1 % of range for power and flow, 0.05 bar, any status change, "
            "0.5 kWh)"
        ),
    }


def _fmt_h(minutes: float) -> str:
    return format_duration(minutes * 60.0) if minutes > 0 else "0m"


def _line(r: dict[str, Any]) -> str:
    sup = r["supply"]
    parts = [f"{r['verdict'].upper():8s} {' + '.join(r['scenarios'])} |"]
    if sup["stayed_in_band"]:
        parts.append("supply in band")
    else:
        cold = sup["coldest_temp_c"]
        parts.append(
            f"supply out of band {_fmt_h(sup['out_of_band_min'])}"
            + (f" (coldest {cold:.2f} C)" if cold is not None else "")
            + (
                f" [healthy run: {_fmt_h(sup['out_of_band_min_without_fault'])}]"
                if sup["out_of_band_min_without_fault"]
                else ""
            )
        )
    it = r["interruptions"]
    if it["max_interruption_h"] is not None and it["longest_min"]:
        parts.append(
            f"longest interruption {_fmt_h(it['longest_min'])} vs max "
            f"{_fmt_h(it['max_interruption_h'] * 60)}"
        )
    for name in ("backup", "reject", "throttled", "down"):
        m = r["fallback_modes"][name]
        if m["took_over"] and m["first_at"]:
            parts.append(f"{name} from +{_fmt_h(m['onset_after_fault_min'])}")
    parts.append("SLA breached" if r["sla"]["would_breach"] else "SLA holds")
    t = r["telemetry"]
    parts.append(
        f"visible in {t['points_showing_it']} points"
        if t["visible"]
        else "NOT visible in telemetry"
    )
    d = r.get("detection")
    if d is not None:
        if d["detected"]:
            first = next(x for x in d["rules_fired"] if x["severity"] in ("warning", "critical"))
            parts.append(
                f"detected by {first['rule']} on {first['equipment']} after "
                f"{_fmt_h(first['time_to_detect_s'] / 60)}"
            )
        else:
            parts.append("NOT detected by any rule")
    return parts[0] + " " + "; ".join(parts[1:])


def _detection(
    site: Site, frame: pd.DataFrame, step_s: int, fault_start: pd.Timestamp, defn: SlaDefinition
) -> dict[str, Any]:
    """Which fault rules fire on the drill's telemetry, on which equipment, how soon.

    The readings are what the twin publishes (sensor noise and resolution included,
    :class:`~heatreuse.telemetry.twin_points.TwinPointMap`), sampled at each point's
    interval, turned into 1-minute statistics and run through every rule and the
    alert lifecycle exactly as ``heatreuse detect`` and ``serve`` do
    (:mod:`heatreuse.monitoring`). Alerts already firing before the fault are listed
    apart (they are not the fault's detection).
    """
    from heatreuse.monitoring.alerts import AlertState
    from heatreuse.monitoring.data import MinuteData
    from heatreuse.monitoring.detector import Detector
    from heatreuse.monitoring.rules import RuleContext, hx_baseline_ua_w_per_k
    from heatreuse.site import expand_points

    readings, _ = TwinPointMap(site, step_s).readings(frame)
    steps, codes, values = readings.long_arrays()
    ts = readings.index[steps]
    pids = np.asarray(readings.point_ids, dtype=object)[codes]
    start, end = readings.index[0], readings.index[-1] + pd.Timedelta(seconds=step_s)
    data = MinuteData.from_readings(pd.DatetimeIndex(ts), pids, values, start, end)
    sla = minute_status(
        defn,
        pd.Series(data.get(defn.measured_point), index=data.grid).dropna(),
        period_start=data.grid[0],
        period_end=data.grid[-1] + pd.Timedelta(minutes=1),
    )
    ctx = RuleContext(
        site=site,
        points={p.id: p for p in expand_points(site).points},
        data=data,
        rules=site.monitoring.rules,
        mode_change_quiet_s=site.monitoring.mode_change_quiet_s,
        sla_status=sla.to_numpy(),
        sla_target_fraction=defn.target_fraction,
        sla_point=defn.measured_point,
        hx_baseline_ua_w_per_k=hx_baseline_ua_w_per_k(site),
    )
    fired: dict[tuple[str, str, str], dict[str, Any]] = {}
    before: list[dict[str, Any]] = []
    for t in Detector().run(ctx):
        if t.to_state is not AlertState.FIRING:
            continue
        a = t.alert
        row = {
            "rule": a.rule,
            "severity": a.severity,
            "equipment": a.labels.get("equipment", a.labels.get("system", "")),
            "point": a.labels.get("point"),
            "fired_at": _iso(pd.Timestamp(t.at)),
            "time_to_detect_s": (pd.Timestamp(t.at) - fault_start).total_seconds(),
        }
        if pd.Timestamp(t.at) < fault_start:
            before.append(row)
            continue
        key = (a.rule, str(row["equipment"]), str(row["point"]))
        if key not in fired:
            fired[key] = row
    rows = sorted(fired.values(), key=lambda r: r["time_to_detect_s"])
    severe = [r for r in rows if r["severity"] in ("warning", "critical")]
    return {
        "detected": bool(severe),
        "rules_fired": rows,
        "first_detection_s": severe[0]["time_to_detect_s"] if severe else None,
        "firing_before_fault": before,
        "method": "every monitoring rule over the twin's published readings (sensor noise "
        "on), 1-minute statistics, the same lifecycle as heatreuse detect",
    }


# --------------------------------------------------------------------------- output
def write_drill(drill: DrillResult, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``drill.json`` and the self-contained ``drill.html`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "drill.json"
    json_path.write_text(json.dumps(drill.report, indent=2, default=str) + "\n", encoding="utf-8")
    html_path = out / "drill.html"
    html_path.write_text(drill_html(drill), encoding="utf-8")
    return json_path, html_path


def drill_html(drill: DrillResult) -> str:
    """Self-contained HTML report (plotly JS inline, no CDN, no network)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    r = drill.report
    # plot the fault span with a day either side, at most ~4000 points per trace
    p0 = drill.compare_start - pd.Timedelta(days=1)
    p1 = drill.compare_end + pd.Timedelta(days=1)
    f = _thin(drill.result.frame.loc[p0:p1])
    b = _thin(drill.baseline.frame)
    band = (r["supply"]["band_min_temp_c"], r["supply"]["band_max_temp_c"])
    fig = make_subplots(
        rows=4,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        subplot_titles=(
            "Supply temperature at the customer [C]",
            "Heat flows [kW]",
            "IT power [kW]",
            "Controller mode",
        ),
    )
    sup = _thin(drill.supply_minutes.loc[p0:p1])
    fig.add_trace(go.Scatter(x=_x(sup.index), y=sup.to_numpy(), name="supply (with fault)"), 1, 1)
    bs = _thin(drill.baseline_supply_minutes.loc[drill.compare_start : drill.compare_end])
    fig.add_trace(
        go.Scatter(x=_x(bs.index), y=bs.to_numpy(), name="supply (healthy)", line={"dash": "dot"}),
        1,
        1,
    )
    for y in band:
        fig.add_hline(y=y, line={"color": "grey", "dash": "dash"}, row=1, col=1)
    for col, name in (
        ("heat_demand_w", "demand"),
        ("heat_delivered_w", "delivered (reuse)"),
        ("backup_heat_w", "backup boiler"),
        ("heat_rejected_w", "rejected"),
        ("unmet_heat_w", "unmet"),
    ):
        fig.add_trace(go.Scatter(x=_x(f.index), y=f[col].to_numpy() / 1e3, name=name), 2, 1)
    fig.add_trace(
        go.Scatter(x=_x(f.index), y=f["it_power_w"].to_numpy() / 1e3, name="IT (fault)"), 3, 1
    )
    fig.add_trace(
        go.Scatter(
            x=_x(b.index),
            y=b["it_power_w"].to_numpy() / 1e3,
            name="IT (healthy)",
            line={"dash": "dot"},
        ),
        3,
        1,
    )
    from heatreuse.simulation import MODE_NAMES

    fig.add_trace(
        go.Scatter(
            x=_x(f.index),
            y=f["mode"].to_numpy().astype(np.int64),
            name="mode",
            mode="lines",
            line={"shape": "hv"},
        ),
        4,
        1,
    )
    fig.update_yaxes(tickvals=list(MODE_NAMES), ticktext=list(MODE_NAMES.values()), row=4, col=1)
    for s in r["scenario_details"]:
        fig.add_vrect(x0=s["start"], x1=s["end"], fillcolor="red", opacity=0.08, line_width=0)
    fig.update_layout(height=1100, margin={"l": 60, "r": 20, "t": 40, "b": 40})
    plot = figure_html(fig, "drill-timeline", config={})

    def row(k: str, v: Any) -> str:
        return f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>"

    sup_r = r["supply"]
    rows = [
        row("Verdict", r["verdict"].upper()),
        row("Scenarios", ", ".join(r["scenarios"])),
        row(
            "Window (UTC)",
            f"{r['window']['start']} .. {r['window']['end']}, {r['window']['step_s']} s",
        ),
        row("Supply stayed in band", f"{sup_r['stayed_in_band']} ({band[0]}-{band[1]} C)"),
        row(
            "Out of band",
            f"{sup_r['out_of_band_min']} min (healthy run: "
            f"{sup_r['out_of_band_min_without_fault']} min)",
        ),
        row("Coldest / hottest supply", f"{sup_r['coldest_temp_c']} / {sup_r['hottest_temp_c']} C"),
        row(
            "Longest interruption",
            f"{r['interruptions']['longest_h']:.2f} h "
            f"(max {r['interruptions']['max_interruption_h']} h)",
        ),
        row("SLA would be breached", r["sla"]["would_breach"]),
        row(
            "Visible in telemetry",
            f"{r['telemetry']['visible']} "
            f"({r['telemetry']['points_showing_it']} of "
            f"{r['telemetry']['points_published']} points)",
        ),
        row("Energy balance residual", f"{r['energy_balance']['residual_kwh']:.3g} kWh"),
    ]
    modes = "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(v['took_over'])}</td><td>{esc(v['first_at'])}</td>"
        f"<td>{esc(v['onset_after_fault_min'])}</td><td>{v['active_min']:.0f}</td>"
        f"<td>{v['active_min_without_fault']:.0f}</td></tr>"
        for k, v in r["fallback_modes"].items()
    )
    energy = "".join(
        f"<tr><td>{esc(k)}</td><td>{v['with_fault']:.1f}</td><td>{v['without_fault']:.1f}</td>"
        f"<td>{v['difference']:+.1f}</td></tr>"
        for k, v in r["energy"].items()
        if isinstance(v, dict)
    )
    vis = "".join(
        f"<tr><td>{esc(p['point_id'])}</td><td>{esc(p['first_deviation_at'])}</td>"
        f"<td>{p['lag_min']:.0f}</td><td>{p['max_deviation']:+.3g} {esc(p['unit'])}</td></tr>"
        for p in r["telemetry"]["points"]
    )
    breaches = "".join(
        f"<li>{esc(m['month'])}: "
        f"{esc('; '.join(b['detail'] for b in m['breaches']) or 'no breach')}"
        f" (budget left {m['error_budget_left_min']:.0f} min)</li>"
        for m in r["sla"]["months"]
    )
    body = f"""
<h1>Failure drill, site {esc(r["site_id"])}:
<span class="v-{esc(r["verdict"])}">{esc(r["verdict"].upper())}</span></h1>
<p>{esc(r["summary"])}</p>
<table>{"".join(rows)}</table>
<h2>Fallback modes</h2>
<table><tr><th>mode</th><th>took over</th><th>first at (UTC)</th><th>after fault [min]</th>
<th>active [min]</th><th>healthy run [min]</th></tr>{modes}</table>
<h2>Energy over the comparison span [kWh]</h2>
<table><tr><th></th><th>with fault</th><th>healthy</th><th>difference</th></tr>{energy}</table>
<h2>SLA by month (rest of the month assumed in band)</h2><ul>{breaches}</ul>
<h2>Telemetry: points that show the fault</h2>
<table><tr><th>point</th><th>first deviation (UTC)</th><th>lag [min]</th><th>max deviation</th>
</tr>{vis}</table>
{plot}
<p>heatreuse drill report v{REPORT_VERSION}; all times UTC.</p>
"""
    return page_html(f"Drill {r['site_id']}: {', '.join(r['scenarios'])}", body, _DRILL_CSS)


_DRILL_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
    "text-align:left}h1{font-size:1.4em}.v-fail{color:#b00}.v-degraded{color:#b60}"
    ".v-pass{color:#070}"
)


def _thin(data: Any, max_points: int = 4000) -> Any:
    """Every k-th row so that a trace has at most ``max_points`` points."""
    k = max(1, -(-len(data) // max_points))
    return data.iloc[::k]


def _x(index: pd.DatetimeIndex) -> np.ndarray:
    """Plot x values: naive UTC datetime64 (fast to serialise; the page says UTC)."""
    return np.asarray(index.tz_convert("UTC").tz_localize(None).to_numpy())


def run_drill_set(
    site: Site,
    scenarios: Sequence[Scenario] | None = None,
    *,
    step_s: int = OFFLINE_STEP_S,
    year: int | None = None,
) -> list[DrillResult]:
    """Run each scenario as its own drill (default: the standard set at the default start)."""
    y = year or dt.datetime.now(dt.UTC).year
    scen = (
        list(scenarios)
        if scenarios
        else standard_drill_set(default_drill_start(site.location.timezone, y))
    )
    return [run_drill(site, [s], step_s=step_s, year=y) for s in scen]
