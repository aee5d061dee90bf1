"""Fault rules for hydronic heat-reuse loops: physics residuals on 1-minute data.

Each rule turns :class:`~heatreuse.monitoring.data.MinuteData` into *signals*: per
label set (site, system, equipment, rule, severity, and point where it has one) a
condition per minute: 1.0 the fault condition holds, 0.0 it does not, NaN the rule
cannot decide (no data, or its gate is closed: pump not proven on, a mode change in
the last ``mode_change_quiet_s``). The alert lifecycle
(:class:`~heatreuse.monitoring.alerts.AlertTracker`) turns signals into alerts, the
same way for stored history and for live data.

Rules (operations.md "Fault detection for hydronic loops"; parameters in the site
file's ``monitoring.rules``):

=====================  ===========================================================
rule                   condition
=====================  ===========================================================
``stale_feed`` (H3)    no reading for ``factor`` x the point's sample interval
                       (NoData, never OK); ``telemetry_lost`` when every point is
                       stale
``spike`` (H2)         a minute whose min/max departs from both neighbours' means by
                       more than ``temp_step_k`` while the neighbours agree
``stuck_sensor`` (H1)  rolling max - min of a temperature below ``min_spread_k`` over
                       ``window_s`` while its loop's pump runs
``meter_balance`` (H4) k(theta_f, theta_r) * V_dot * dT (EN 1434 heat coefficient)
                       against the meter's power over ``window_s``; the register's
                       increase over 24 h against the integral of its power
``sensor_drift`` (H5)  mean of (a - b - expected offset) of a sensor pair beyond
                       ``max_offset_k``
``hx_fouling`` (H6)    UA = Q / LMTD (counterflow), normalised for flow
                       (UA ~ V_dot^0.8), median over ``window_s`` below
                       ``min_ua_fraction`` of the baseline
``low_delta_t`` (H7)   customer flow on and supply - return below ``min_delta_t_k``
``pump_degradation``   P / (P_rated * n^3) (affinity laws) outside its band over
(H8)                   ``window_s``
``command_fault`` (H9) a pump reports running with no flow; status hunting;
                       ``pump_stopped`` while its loop needs it
``it_ot_balance``      (recovered + rejected heat) / (IT power * capture fraction)
(H10)                  outside ``min_ratio .. max_ratio``
``utility_feed``       the site feed is lost; ``utility_feed_flapping``;
                       ``compute_trip`` (IT power near zero with the feed on)
``sla_interruption``   one out-of-band run reaching each rung of the ladder
``sla_burn_rate``      multiwindow burn rates (SRE Workbook ch. 5, table 5-8)
=====================  ===========================================================

References
----------
EN 1434-1:2022 (heat coefficient); Incropera et al., *Fundamentals of Heat and Mass
Transfer*, 7th ed., ch. 11 (LMTD, UA ~ h ~ Re^0.8 by Dittus-Boelter); Karassik et
al., *Pump Handbook*, 4th ed., 2.1 (affinity laws); Beyer et al., *The Site
Reliability Workbook*, O'Reilly 2018, ch. 5 (burn rates).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from heatreuse.monitoring.data import FloatArray, MinuteData
from heatreuse.physics.heat_exchanger import hx_ua_with_fouling_w_per_k
from heatreuse.physics.metering import heat_coefficient_kwh_per_m3_k
from heatreuse.site.model import Site
from heatreuse.site.monitoring import MonitoringRules
from heatreuse.site.points import Point

BoolArray = npt.NDArray[np.bool_]
_NAN = float("nan")


@dataclass(frozen=True)
class Signal:
    """One label set's condition per minute, with the values behind it.

    Attributes
    ----------
    labels
        Identity of the alert (site, system, equipment, rule, severity[, point]).
    condition
        Per minute: 1.0 holds, 0.0 does not, NaN undecided.
    value
        The rule's observed value per minute [``annotations['value_unit']``].
    for_s, keep_firing_for_s
        Lifecycle timing [s].
    annotations
        ``summary`` and ``value_unit``.
    """

    labels: Mapping[str, str]
    condition: FloatArray
    value: FloatArray
    for_s: float = 0.0
    keep_firing_for_s: float = 0.0
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass
class RuleContext:
    """Everything a rule reads: the site, its points, the data and the parameters.

    ``sla_status`` (per minute: excluded/good/bad/unknown) and ``sla_target_fraction``
    come from the SLA engine (services wires it; monitoring does not import sla).
    """

    site: Site
    points: Mapping[str, Point]
    data: MinuteData
    rules: MonitoringRules
    mode_change_quiet_s: float = 1800.0
    sla_status: npt.NDArray[np.object_] | None = None
    sla_target_fraction: float | None = None
    sla_point: str | None = None
    hx_baseline_ua_w_per_k: float | None = None

    def labels(self, point: Point | None, rule: str, severity: str, **extra: str) -> dict[str, str]:
        """The identity labels of an alert about ``point`` (or the site)."""
        out = {"site": self.site.id, "rule": rule, "severity": severity}
        if point is not None:
            out["system"] = system_of(point.id)
            out["equipment"] = point.equipment
            out["point"] = point.id
        out.update(extra)
        return out


def system_of(point_id: str) -> str:
    """The system a point belongs to: ``it``, ``plant``, ``customer`` or ``site``."""
    head = point_id.split(".", 1)[0]
    if head == "rack" or point_id.startswith("elec.it_"):
        return "it"
    if head == "customer":
        return "customer"
    if head in ("utility", "elec"):
        return "site"
    return "plant"


# --------------------------------------------------------------------------- helpers
def _rolling(a: FloatArray, n: int, how: str, min_fraction: float = 0.8) -> FloatArray:
    s = pd.Series(a)
    r = s.rolling(max(1, n), min_periods=max(1, math.ceil(n * min_fraction)))
    out: FloatArray = getattr(r, how)().to_numpy(dtype=np.float64)
    return out


def _cond(flag: BoolArray, decided: BoolArray) -> FloatArray:
    return np.where(decided, flag.astype(np.float64), np.nan)


def _pump_ids(ctx: RuleContext, role: str) -> list[str]:
    return [p.id for p in ctx.site.plant.pumps if p.role == role]


def _status_on(ctx: RuleContext, pump_ids: Sequence[str]) -> FloatArray:
    """1 while every named pump reports running, 0 when one does not, NaN without data."""
    if not pump_ids:
        return np.full(ctx.data.n, np.nan)
    out = np.ones(ctx.data.n)
    for pid in pump_ids:
        st = ctx.data.get(f"pump.{pid}.status", "min")
        out = np.where(np.isnan(st) | np.isnan(out), np.nan, np.minimum(out, st >= 0.5))
    return out


def _steady(ctx: RuleContext, on: FloatArray) -> BoolArray:
    """Pump on and no change of its state in the last ``mode_change_quiet_s``."""
    n = max(1, int(ctx.mode_change_quiet_s // 60))
    lo = _rolling(np.nan_to_num(on, nan=0.0), n, "min", 1.0)
    return np.nan_to_num(lo, nan=0.0) >= 1.0


def _customer_pumps(ctx: RuleContext) -> list[str]:
    return _pump_ids(ctx, "customer") or _pump_ids(ctx, "secondary")


def _gate_for(ctx: RuleContext, point_id: str) -> FloatArray:
    head = point_id.split(".", 1)[0]
    if head in ("rack", "it_loop"):
        return _status_on(ctx, _pump_ids(ctx, "primary"))
    if head in ("meter", "customer"):
        return _status_on(ctx, _customer_pumps(ctx))
    return _status_on(ctx, _pump_ids(ctx, "secondary") or _pump_ids(ctx, "primary"))


def _rated_flow(ctx: RuleContext, role: str) -> float:
    return sum(p.rated_flow_m3_per_h for p in ctx.site.plant.pumps if p.role == role)


def _flowing(ctx: RuleContext) -> BoolArray:
    """Customer pump(s) on and the meter's flow above 10 % of rated (or no flow point)."""
    on = np.nan_to_num(_status_on(ctx, _customer_pumps(ctx)), nan=0.0) >= 1.0
    if ctx.data.has("meter.flow_m3_per_h"):
        rated = _rated_flow(ctx, "customer") or _rated_flow(ctx, "secondary")
        on &= np.nan_to_num(ctx.data.get("meter.flow_m3_per_h")) > 0.1 * rated
    return on


def _nameplate_w(ctx: RuleContext) -> float:
    return float(sum(r.nameplate_power_w * r.count for r in ctx.site.compute.racks))


def _temps(ctx: RuleContext) -> list[Point]:
    return [
        p
        for p in ctx.points.values()
        if p.quantity == "temperature" and p.kind == "measurement" and ctx.data.has(p.id)
    ]


# --------------------------------------------------------------------------- H3 stale
def rule_stale_feed(ctx: RuleContext) -> list[Signal]:
    """H3: minutes since the last reading beyond ``factor`` x sample interval (NoData)."""
    prm = ctx.rules.stale_feed
    n = ctx.data.n
    idx = np.arange(n)
    out: list[Signal] = []
    all_stale = np.ones(n, dtype=bool)
    for p in ctx.points.values():
        cnt = ctx.data.get(p.id, "count")
        seen = np.where(cnt > 0, idx, -1)
        last = np.maximum.accumulate(seen)
        # before the first reading in the data the point counts as silent since the start
        age_min = np.where(last >= 0, idx - last, idx + 1).astype(np.float64)
        limit_min = max(1, math.ceil(prm.factor * p.sample_interval_s / 60.0 - 1e-9))
        stale = age_min >= limit_min
        all_stale &= stale
        out.append(
            Signal(
                ctx.labels(p, "stale_feed", prm.severity),
                stale.astype(np.float64),
                age_min * 60.0,
                prm.for_s,
                prm.keep_firing_for_s,
                {
                    "summary": f"{p.id}: no reading for more than {limit_min} min (NoData)",
                    "value_unit": "s since the last reading",
                },
            )
        )
    if ctx.points:
        out.append(
            Signal(
                ctx.labels(
                    None,
                    "telemetry_lost",
                    prm.telemetry_lost_severity,
                    system="site",
                    equipment="site",
                ),
                all_stale.astype(np.float64),
                all_stale.astype(np.float64),
                prm.for_s,
                prm.keep_firing_for_s,
                {"summary": "no point of the site reports: telemetry lost", "value_unit": "1"},
            )
        )
    return out


# --------------------------------------------------------------------------- H2 spike
def rule_spike(ctx: RuleContext) -> list[Signal]:
    """H2: a minute departing from both neighbours (which agree) by more than physics allows."""
    prm = ctx.rules.spike
    out: list[Signal] = []
    for p in _temps(ctx):
        m = ctx.data.get(p.id, "mean")
        hi, lo = ctx.data.get(p.id, "max"), ctx.data.get(p.id, "min")
        prev = np.concatenate(([np.nan], m[:-1]))
        nxt = np.concatenate((m[1:], [np.nan]))
        ref = 0.5 * (prev + nxt)
        agree = np.abs(prev - nxt) < 0.5 * prm.temp_step_k
        dev = np.fmax(hi - ref, ref - lo)
        # neighbours that disagree are a real step change, not a spike: decided, not a fault
        flag = (dev > prm.temp_step_k) & agree
        out.append(
            Signal(
                ctx.labels(p, "spike", prm.severity),
                _cond(flag, np.isfinite(dev)),
                dev,
                prm.for_s,
                prm.keep_firing_for_s,
                {
                    "summary": f"{p.id}: a reading jumps more than {prm.temp_step_k:g} K away "
                    "from its neighbours and back",
                    "value_unit": "K",
                },
            )
        )
    return out


# --------------------------------------------------------------------------- H1 stuck
def rule_stuck_sensor(ctx: RuleContext) -> list[Signal]:
    """H1: rolling max - min of a temperature below ``min_spread_k`` while its pump runs."""
    prm = ctx.rules.stuck_sensor
    n = max(2, int(prm.window_s // 60))
    out: list[Signal] = []
    for p in _temps(ctx):
        spread = _rolling(ctx.data.get(p.id, "max"), n, "max") - _rolling(
            ctx.data.get(p.id, "min"), n, "min"
        )
        on = _gate_for(ctx, p.id)
        gate = _rolling(np.nan_to_num(on, nan=0.0), n, "min", 1.0) >= 1.0
        decided = np.isfinite(spread) & gate
        out.append(
            Signal(
                ctx.labels(p, "stuck_sensor", prm.severity),
                _cond(spread < prm.min_spread_k, decided),
                spread,
                prm.for_s,
                prm.keep_firing_for_s,
                {
                    "summary": f"{p.id}: max - min below {prm.min_spread_k:g} K for "
                    f"{prm.window_s / 60:g} min while its pump runs (stuck sensor)",
                    "value_unit": "K",
                },
            )
        )
    return out


# --------------------------------------------------------------------------- H4 balance
def rule_meter_balance(ctx: RuleContext) -> list[Signal]:
    """H4: the meter's power against k V_dot dT; its register against its power."""
    prm = ctx.rules.meter_balance
    need = (
        "meter.supply_temp_c",
        "meter.return_temp_c",
        "meter.flow_m3_per_h",
        "meter.heat_power_w",
    )
    if not all(ctx.data.has(x) for x in need):
        return []
    ts, tr, flow, power = (ctx.data.get(x) for x in need)
    meter = ctx.points["meter.heat_power_w"]
    rated = _rated_flow(ctx, "customer") or _rated_flow(ctx, "secondary")
    ok = np.isfinite(ts + tr + flow + power) & (flow > prm.min_flow_fraction * rated) & (ts > tr)
    k = np.full(ctx.data.n, np.nan)
    if ok.any():
        k[ok] = heat_coefficient_kwh_per_m3_k(
            ts[ok], tr[ok], "return", ctx.site.plant.loop_pressure_bar
        )
    calc_w = k * flow * (ts - tr) * 1000.0
    n = max(2, int(prm.window_s // 60))
    p_mean = _rolling(np.where(ok, power, np.nan), n, "mean", 0.5)
    c_mean = _rolling(np.where(ok, calc_w, np.nan), n, "mean", 0.5)
    with np.errstate(invalid="ignore", divide="ignore"):
        resid = np.abs(p_mean - c_mean) / c_mean
    out = [
        Signal(
            ctx.labels(meter, "meter_balance", prm.severity),
            _cond(resid > prm.max_residual_fraction, np.isfinite(resid)),
            resid,
            prm.for_s,
            prm.keep_firing_for_s,
            {
                "summary": "heat meter: its power differs from k(theta_f, theta_r) V dT by "
                f"more than {prm.max_residual_fraction:.0%} (EN 1434 balance)",
                "value_unit": "fraction",
            },
        )
    ]
    reg = "meter.heat_energy_kwh"
    if ctx.data.has(reg):
        day = 1440
        hi = _rolling(ctx.data.get(reg, "max"), day, "max", 0.9)
        lo = _rolling(ctx.data.get(reg, "min"), day, "min", 0.9)
        inc = hi - lo
        pw = ctx.data.get("meter.heat_power_w")
        cover = _rolling(np.isfinite(pw).astype(np.float64), day, "mean", 1.0)
        integral = _rolling(np.nan_to_num(pw) * 60.0 / 3.6e6, day, "sum", 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = np.abs(inc - integral) / integral
        # whole-kWh registers: a 1 kWh step is not a fault
        decided = np.isfinite(r2) & (cover >= 0.95) & (integral > 50.0)
        out.append(
            Signal(
                ctx.labels(ctx.points[reg], "meter_balance", prm.severity),
                _cond(r2 > prm.register_max_residual_fraction, decided),
                r2,
                prm.for_s,
                prm.keep_firing_for_s,
                {
                    "summary": "heat meter: the register's 24 h increase differs from the "
                    f"integral of its power by more than {prm.register_max_residual_fraction:.0%}",
                    "value_unit": "fraction",
                },
            )
        )
    return out


# --------------------------------------------------------------------------- H5 drift
def rule_sensor_drift(ctx: RuleContext) -> list[Signal]:
    """H5: mean difference of two sensors on the same pipe beyond ``max_offset_k``.

    Compared only while water flows past both and no heat is added between them: the
    pair's ``gate_off`` status points (a backup boiler in the customer circuit) are 0, or
    ``b`` is more than 1 K above the SLA band's minimum, which is all the boiler tops up to.
    The difference is averaged over ``ewma_span_s`` (a moving window, so a gap never
    carries an old offset forward).
    """
    prm = ctx.rules.sensor_drift
    out: list[Signal] = []
    n = max(2, int(prm.ewma_span_s // 60))
    flowing = _flowing(ctx)
    band_min_c = ctx.site.sla_band.min_temp_c
    for pair in prm.pairs:
        if pair.a not in ctx.points or not (ctx.data.has(pair.a) and ctx.data.has(pair.b)):
            continue
        d = ctx.data.get(pair.a) - ctx.data.get(pair.b) - pair.expected_offset_k
        # A backup boiler between the two tops the supply up to the band's minimum: while
        # it runs, the pair is compared only where b is clearly above that (not lifted).
        b_clear = np.nan_to_num(ctx.data.get(pair.b, "min"), nan=-1e9) > band_min_c + 1.0
        same_water = flowing.copy()
        for g in pair.gate_off:
            if ctx.data.has(g):
                off = np.nan_to_num(ctx.data.get(g, "max"), nan=1.0) < 0.5
                same_water &= off | b_clear
        # both sensors see the same water only while it flows
        gate = np.isfinite(d) & same_water
        e = _rolling(np.where(gate, d, np.nan), n, "mean", 0.5)
        decided = gate & np.isfinite(e)
        out.append(
            Signal(
                ctx.labels(ctx.points[pair.a], "sensor_drift", prm.severity, pair=pair.b),
                _cond(np.abs(e) > prm.max_offset_k, decided),
                e,
                prm.for_s,
                prm.keep_firing_for_s,
                {
                    "summary": f"{pair.a} differs from {pair.b} by more than "
                    f"{prm.max_offset_k:g} K (drift or offset)",
                    "value_unit": "K",
                },
            )
        )
    return out


# --------------------------------------------------------------------------- H6 fouling
def hx_baseline_ua_w_per_k(site: Site) -> float | None:
    """Design UA of the plant's heat exchanger with its fouling allowance [W/K], if given."""
    hx = site.plant.heat_exchanger
    if hx.ua_w_per_k is None:
        return None
    if hx.fouling_factor_m2_k_per_w > 0.0 and hx.area_m2 is not None:
        return float(
            hx_ua_with_fouling_w_per_k(hx.ua_w_per_k, hx.fouling_factor_m2_k_per_w, hx.area_m2)
        )
    return float(hx.ua_w_per_k)


_HX_POINTS = (
    "it_loop.return_temp_c",
    "it_loop.supply_temp_c",
    "hx.secondary_return_temp_c",
    "hx.secondary_supply_temp_c",
    "hx.heat_power_w",
    "hx.secondary_flow_m3_per_h",
)


def hx_ua_normalised_w_per_k(ctx: RuleContext) -> FloatArray:
    """Per minute: UA = Q / LMTD (counterflow) x (V_rated / V)^n [W/K], NaN where unfit.

    Fit: both terminal differences > 0.2 K, heat above ``min_heat_fraction`` of the IT
    nameplate, secondary flow above 10 % of rated, pumps on and steady; n is the rule's
    ``flow_exponent`` (0.8 by default). The commissioning
    baseline is the median of this over a clean period (Incropera, 7th ed., eq. 11.15 for
    LMTD; UA ~ h ~ Re^0.8 by Dittus-Boelter, eq. 8.60).
    """
    prm = ctx.rules.hx_fouling
    if not all(ctx.data.has(x) for x in _HX_POINTS):
        return np.full(ctx.data.n, np.nan)
    th_in, th_out, tc_in, tc_out, q, flow = (ctx.data.get(x) for x in _HX_POINTS)
    d1 = th_in - tc_out
    d2 = th_out - tc_in
    with np.errstate(invalid="ignore", divide="ignore"):
        lmtd = np.where(np.abs(d1 - d2) > 1e-6, (d1 - d2) / np.log(d1 / d2), 0.5 * (d1 + d2))
        rated = _rated_flow(ctx, "secondary") or 1.0
        ua = q / lmtd * np.power(rated / flow, prm.flow_exponent)
    nameplate = _nameplate_w(ctx)
    on = _status_on(ctx, _pump_ids(ctx, "primary") + _pump_ids(ctx, "secondary"))
    ok = (
        np.isfinite(ua)
        & (d1 > 0.2)
        & (d2 > 0.2)
        & (q > prm.min_heat_fraction * nameplate)
        & (flow > 0.1 * rated)
        & _steady(ctx, on)
    )
    out: FloatArray = np.where(ok, ua, np.nan)
    return out


def rule_hx_fouling(ctx: RuleContext) -> list[Signal]:
    """H6: flow-normalised UA against the baseline (median over the window)."""
    prm = ctx.rules.hx_fouling
    base = prm.baseline_ua_w_per_k or ctx.hx_baseline_ua_w_per_k
    if base is None or not all(ctx.data.has(x) for x in _HX_POINTS):
        return []
    n = max(2, int(prm.window_s // 60))
    med = _rolling(hx_ua_normalised_w_per_k(ctx), n, "median", 0.25)
    frac = med / base
    return [
        Signal(
            ctx.labels(ctx.points["hx.heat_power_w"], "hx_fouling", prm.severity),
            _cond(frac < prm.min_ua_fraction, np.isfinite(frac)),
            frac,
            prm.for_s,
            prm.keep_firing_for_s,
            {
                "summary": f"heat exchanger: flow-normalised UA below {prm.min_ua_fraction:.0%} "
                f"of the baseline {base:.0f} W/K (fouling)",
                "value_unit": "fraction of baseline UA",
            },
        )
    ]


# --------------------------------------------------------------------------- H7 low dT
def rule_low_delta_t(ctx: RuleContext) -> list[Signal]:
    """H7: customer flow on and supply - return below ``min_delta_t_k``."""
    prm = ctx.rules.low_delta_t
    need = ("meter.supply_temp_c", "meter.return_temp_c", "meter.flow_m3_per_h")
    if not all(ctx.data.has(x) for x in need):
        return []
    ts, tr, flow = (ctx.data.get(x) for x in need)
    rated = _rated_flow(ctx, "customer") or _rated_flow(ctx, "secondary")
    on = _status_on(ctx, _customer_pumps(ctx))
    dt = ts - tr
    running = np.nan_to_num(on, nan=0.0) >= 1.0
    decided = np.isfinite(dt) & running & (np.nan_to_num(flow) > 0.1 * rated)
    return [
        Signal(
            ctx.labels(ctx.points["meter.return_temp_c"], "low_delta_t", prm.severity),
            _cond(dt < prm.min_delta_t_k, decided),
            dt,
            prm.for_s,
            prm.keep_firing_for_s,
            {
                "summary": f"customer delta-T below {prm.min_delta_t_k:g} K with the pump on",
                "value_unit": "K",
            },
        )
    ]


# --------------------------------------------------------------------------- H8 pumps
def rule_pump_degradation(ctx: RuleContext) -> list[Signal]:
    """H8: P / (P_rated n^3) over the window outside ``min_power_ratio .. max_power_ratio``."""
    prm = ctx.rules.pump_degradation
    out: list[Signal] = []
    n = max(2, int(prm.window_s // 60))
    for pump in ctx.site.plant.pumps:
        pw, sp = f"pump.{pump.id}.power_w", f"pump.{pump.id}.speed_fraction"
        if not (ctx.data.has(pw) and ctx.data.has(sp)) or pump.rated_power_w <= 0:
            continue
        speed = ctx.data.get(sp)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = ctx.data.get(pw) / (pump.rated_power_w * speed**3)
        ok = np.isfinite(ratio) & (speed >= prm.min_speed_fraction)
        r = _rolling(np.where(ok, ratio, np.nan), n, "median", 0.25)
        flag = (r > prm.max_power_ratio) | (r < prm.min_power_ratio)
        out.append(
            Signal(
                ctx.labels(ctx.points[pw], "pump_degradation", prm.severity),
                _cond(flag, np.isfinite(r)),
                r,
                prm.for_s,
                prm.keep_firing_for_s,
                {
                    "summary": f"pump {pump.id}: power off its affinity-law curve "
                    f"(ratio outside {prm.min_power_ratio:g}..{prm.max_power_ratio:g})",
                    "value_unit": "P / (P_rated n^3)",
                },
            )
        )
    return out


# --------------------------------------------------------------------------- H9 commands
def rule_command_fault(ctx: RuleContext) -> list[Signal]:
    """H9: a pump reports running with no flow; its status switches too often (hunting)."""
    prm = ctx.rules.command_fault
    out: list[Signal] = []
    flow_of = {
        "primary": "it_loop.flow_m3_per_h",
        "secondary": "hx.secondary_flow_m3_per_h",
        "customer": "meter.flow_m3_per_h",
    }
    for pump in ctx.site.plant.pumps:
        st = f"pump.{pump.id}.status"
        fl = flow_of.get(pump.role, "")
        if not ctx.data.has(st):
            continue
        status = ctx.data.get(st, "min")
        serves_customer = pump.role == "secondary" and not _pump_ids(ctx, "customer")
        if ctx.data.has(fl):
            flow = ctx.data.get(fl)
            if serves_customer and ctx.data.has("meter.flow_m3_per_h"):
                flow = np.fmax(flow, ctx.data.get("meter.flow_m3_per_h"))
            decided = np.isfinite(status) & np.isfinite(flow)
            flag = (status >= 0.5) & (flow < prm.no_flow_fraction * pump.rated_flow_m3_per_h)
            if (serves_customer or pump.role == "customer") and ctx.data.has("boiler.status"):
                # the backup boiler sits in the customer circuit on the same pump: while it
                # fires, the water runs through the boiler and not through the plant's
                # meter, so no metered flow is not a pump fault
                boiler_on = np.nan_to_num(ctx.data.get("boiler.status", "max")) >= 0.5
                flag &= ~boiler_on
            out.append(
                Signal(
                    ctx.labels(ctx.points[st], "command_fault", prm.severity),
                    _cond(flag, decided),
                    flow,
                    prm.for_s,
                    prm.keep_firing_for_s,
                    {
                        "summary": f"pump {pump.id} reports running but {fl} shows no flow",
                        "value_unit": "m3/h",
                    },
                )
            )
        # a pump that stopped while its loop needs it: the primary while IT runs (the IT
        # heat has no other way out but the reject path), a customer-side pump in the
        # customer's operating hours
        need: BoolArray | None = None
        if pump.role == "primary" and ctx.data.has("elec.it_power_w"):
            # IT ran within the quiet window: the stop is what ended it (the engine and real
            # controllers trip compute within minutes of losing the primary pump)
            it_on = np.nan_to_num(ctx.data.get("elec.it_power_w")) > 0.1 * _nameplate_w(ctx)
            n_q = max(1, int(ctx.mode_change_quiet_s // 60))
            need = _rolling(it_on.astype(np.float64), n_q, "max", 0.0) >= 1.0
        elif (pump.role == "customer" or serves_customer) and ctx.sla_status is not None:
            need = np.isin(ctx.sla_status, ["good", "bad"])
        if need is not None:
            out.append(
                Signal(
                    ctx.labels(
                        ctx.points[st],
                        "pump_stopped",
                        "critical" if pump.role == "primary" else prm.severity,
                    ),
                    _cond(need & (status < 0.5), np.isfinite(status)),
                    status,
                    prm.for_s,
                    prm.keep_firing_for_s,
                    {
                        "summary": f"pump {pump.id} stopped while its loop needs it",
                        "value_unit": "status",
                    },
                )
            )
        s_mean = ctx.data.get(st)
        change = np.abs(np.diff(np.nan_to_num(s_mean, nan=0.0), prepend=np.nan_to_num(s_mean[:1])))
        switches = _rolling((change > 0.25).astype(np.float64), 60, "sum", 1.0)
        out.append(
            Signal(
                ctx.labels(ctx.points[st], "command_hunting", prm.severity),
                _cond(switches > prm.max_switches_per_h, np.isfinite(switches)),
                switches,
                0.0,
                prm.keep_firing_for_s,
                {
                    "summary": f"pump {pump.id} switches more than {prm.max_switches_per_h:g} "
                    "times an hour (hunting)",
                    "value_unit": "switches per h",
                },
            )
        )
    return out


# --------------------------------------------------------------------------- H10 IT/OT
def rule_it_ot_balance(ctx: RuleContext) -> list[Signal]:
    """H10: (recovered + rejected heat) / (IT power x capture fraction) outside its band."""
    prm = ctx.rules.it_ot_balance
    if not (ctx.data.has("elec.it_power_w") and ctx.data.has("hx.heat_power_w")):
        return []
    it = ctx.data.get("elec.it_power_w")
    heat = ctx.data.get("hx.heat_power_w")
    if ctx.data.has("dry_cooler.heat_power_w"):
        heat = heat + np.nan_to_num(ctx.data.get("dry_cooler.heat_power_w"))
    capture = ctx.site.compute.cooling.heat_capture_fraction
    nameplate = _nameplate_w(ctx)
    n = max(2, int(prm.window_s // 60))
    ok = np.isfinite(it) & np.isfinite(heat) & (it > prm.min_it_fraction * nameplate)
    h = _rolling(np.where(ok, heat, np.nan), n, "mean", 0.8)
    i = _rolling(np.where(ok, it * capture, np.nan), n, "mean", 0.8)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = h / i
    flag = (ratio < prm.min_ratio) | (ratio > prm.max_ratio)
    return [
        Signal(
            ctx.labels(
                ctx.points["elec.it_power_w"], "it_ot_balance", prm.severity, system="plant"
            ),
            _cond(flag, np.isfinite(ratio)),
            ratio,
            prm.for_s,
            prm.keep_firing_for_s,
            {
                "summary": "recovered + rejected heat does not match IT power x capture "
                f"fraction (ratio outside {prm.min_ratio:g}..{prm.max_ratio:g}: bypass, leak "
                "or meter fault)",
                "value_unit": "ratio",
            },
        )
    ]


# --------------------------------------------------------------------------- utility feed
def rule_utility_feed(ctx: RuleContext) -> list[Signal]:
    """The site feed lost or flapping; IT power near zero while the feed is on."""
    prm = ctx.rules.utility_feed
    out: list[Signal] = []
    feed_id = "utility.feed_status"
    feed = ctx.data.get(feed_id, "min")
    if ctx.data.has(feed_id):
        p = ctx.points[feed_id]
        out.append(
            Signal(
                ctx.labels(p, "utility_feed", prm.severity),
                _cond(feed < 0.5, np.isfinite(feed)),
                feed,
                prm.for_s,
                prm.keep_firing_for_s,
                {"summary": "the site's utility feed is lost", "value_unit": "status"},
            )
        )
        lo, hi = np.nan_to_num(feed, nan=1.0), np.nan_to_num(ctx.data.get(feed_id, "max"), nan=1.0)
        # changes within a minute (min != max) and between minutes
        changes = (hi - lo > 0.5).astype(np.float64) + np.abs(np.diff(lo, prepend=lo[:1]))
        per_h = _rolling(changes, 60, "sum", 1.0)
        out.append(
            Signal(
                ctx.labels(p, "utility_feed_flapping", "warning"),
                _cond(per_h >= prm.flapping_changes_per_h, np.isfinite(per_h)),
                per_h,
                0.0,
                3600.0,
                {
                    "summary": "the utility feed flaps (drops and returns repeatedly)",
                    "value_unit": "changes per h",
                },
            )
        )
    if ctx.data.has("elec.it_power_w"):
        it = ctx.data.get("elec.it_power_w")
        nameplate = _nameplate_w(ctx)
        feed_on = np.nan_to_num(feed, nan=1.0) >= 0.5
        out.append(
            Signal(
                ctx.labels(ctx.points["elec.it_power_w"], "compute_trip", "warning"),
                _cond(feed_on & (it < prm.compute_trip_fraction * nameplate), np.isfinite(it)),
                it,
                300.0,
                0.0,
                {
                    "summary": "IT power near zero while the site feed is on (compute trip)",
                    "value_unit": "W",
                },
            )
        )
    return out


# --------------------------------------------------------------------------- SLA
def _run_lengths(flag: BoolArray) -> FloatArray:
    """Per element: how many consecutive True end here (0 where False)."""
    n = len(flag)
    idx = np.arange(n)
    starts = np.where(flag, -1, idx)
    last_false = np.maximum.accumulate(starts)
    return np.where(flag, idx - last_false, 0).astype(np.float64)


def rule_sla_interruption(ctx: RuleContext) -> list[Signal]:
    """The per-event ladder: one alert per rung an out-of-band run reaches."""
    prm = ctx.rules.sla_interruption
    if ctx.sla_status is None:
        return []
    status = ctx.sla_status
    bad = status == "bad"
    decided = np.isin(status, ["good", "bad"])
    run_min = _run_lengths(bad)
    point = ctx.points.get(ctx.sla_point or "")
    out = []
    for step in prm.ladder:
        after_min = step.after_s / 60.0
        stage = f"{after_min / 60:g}h" if after_min >= 60 else f"{after_min:g}m"
        labels = ctx.labels(point, "sla_interruption", step.severity, stage=stage)
        labels["system"] = "plant"
        out.append(
            Signal(
                labels,
                _cond(run_min >= after_min, decided),
                run_min * 60.0,
                0.0,
                0.0,
                {
                    "summary": f"supply out of the SLA band for {stage} ({step.note})",
                    "value_unit": "s of the interruption",
                },
            )
        )
    return out


#: Burn-rate windows [min] and the multiwindow rules (SRE Workbook table 5-8).
_BURN_WINDOWS = {"5m": 5, "30m": 30, "1h": 60, "6h": 360, "3d": 4320}


def rule_sla_burn_rate(ctx: RuleContext) -> list[Signal]:
    """Page when 1 h and 5 min burn above 14.4, or 6 h and 30 min above 6; ticket 3 d / 6 h > 1."""
    prm = ctx.rules.sla_burn_rate
    if ctx.sla_status is None or not ctx.sla_target_fraction:
        return []
    budget = 1.0 - ctx.sla_target_fraction
    bad = (ctx.sla_status == "bad").astype(np.float64)
    valid = np.isin(ctx.sla_status, ["good", "bad", "unknown"]).astype(np.float64)
    cb, cv = np.concatenate(([0.0], np.cumsum(bad))), np.concatenate(([0.0], np.cumsum(valid)))
    n = len(bad)
    idx = np.arange(1, n + 1)
    rate: dict[str, FloatArray] = {}
    for label, w in _BURN_WINDOWS.items():
        lo = np.maximum(idx - w, 0)
        b, v = cb[idx] - cb[lo], cv[idx] - cv[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            rate[label] = np.where(v > 0, (b / v) / budget, np.nan)
    page = ((rate["1h"] > 14.4) & (rate["5m"] > 14.4)) | ((rate["6h"] > 6) & (rate["30m"] > 6))
    ticket = (rate["3d"] > 1) & (rate["6h"] > 1)
    decided = np.isfinite(rate["1h"])
    point = ctx.points.get(ctx.sla_point or "")
    mk = ctx.labels(point, "sla_burn_rate", prm.severity, window="page")
    mk["system"] = "plant"
    tk = ctx.labels(point, "sla_burn_rate", prm.ticket_severity, window="ticket")
    tk["system"] = "plant"
    return [
        Signal(
            mk,
            _cond(page, decided),
            rate["1h"],
            0.0,
            300.0,
            {"summary": "SLA error budget burning fast (page)", "value_unit": "burn rate"},
        ),
        Signal(
            tk,
            _cond(ticket, np.isfinite(rate["6h"])),
            rate["6h"],
            0.0,
            3600.0,
            {"summary": "SLA error budget burning (ticket)", "value_unit": "burn rate"},
        ),
    ]


#: Every rule, by name, in evaluation order.
RULES: dict[str, Callable[[RuleContext], list[Signal]]] = {
    "stale_feed": rule_stale_feed,
    "spike": rule_spike,
    "stuck_sensor": rule_stuck_sensor,
    "meter_balance": rule_meter_balance,
    "sensor_drift": rule_sensor_drift,
    "hx_fouling": rule_hx_fouling,
    "low_delta_t": rule_low_delta_t,
    "pump_degradation": rule_pump_degradation,
    "command_fault": rule_command_fault,
    "it_ot_balance": rule_it_ot_balance,
    "utility_feed": rule_utility_feed,
    "sla_interruption": rule_sla_interruption,
    "sla_burn_rate": rule_sla_burn_rate,
}

#: Minutes of history each rule needs before the first minute it decides.
LOOKBACK_MIN = 3 * 1440 + 60
#: Minutes after a minute that a rule reads to decide it (the spike rule's next neighbour).
LOOKAHEAD_MIN = 1


def evaluate_rules(ctx: RuleContext, only: Sequence[str] | None = None) -> list[Signal]:
    """Every enabled rule's signals over ``ctx.data``."""
    out: list[Signal] = []
    for name, fn in RULES.items():
        if only is not None and name not in only:
            continue
        if not getattr(ctx.rules, name).enabled:
            continue
        out += fn(ctx)
    return out
