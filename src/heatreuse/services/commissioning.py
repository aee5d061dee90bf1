"""Commissioning: the checklist over stored data, its baselines, ledger entry and report.

:func:`run_commissioning` reads a period of 1-minute statistics from the store and runs
the checklist with the fault rules' own code (:mod:`heatreuse.monitoring.rules`):

=====================  ===========================================================
item                   passes when
=====================  ===========================================================
``points_report``      every registry point reports at its ``sample_interval_s``:
                       no minute where the ``stale_feed`` rule says it is silent
``values_in_range``    no stored reading outside the point's ``min_value ..
                       max_value`` and nothing quarantined in the period
``sensor_pairs``       each pair of ``monitoring.rules.sensor_drift.pairs`` agrees
                       (its moving mean difference beyond ``max_offset_k`` in at
                       most :data:`PAIR_FLAG_FRACTION` of the compared minutes)
``meter_balance``      the median |P_meter - k V dT| / (k V dT) is within the heat
                       meter's EN 1434 MPE at the period's median flow and delta-T
``pumps_respond``      each pump with a flow point ran, and it shows flow in all but
                       :data:`PUMP_NO_FLOW_FRACTION` of the minutes it reports running
``hx_baseline``        enough fit minutes to measure the flow-normalised HX UA
``functional``         not asked (``--functional``): skipped, saying how to run it
``functional_*``       with ``--functional``, one item per takeover test the plant
                       has (``reject_path``: dry cooler; ``backup_takeover``: boiler),
                       each run as a ``functional_test`` change request under the
                       two-person rule against the twin (:func:`functional_items`):
                       pass/fail from the executed request's result; skipped (and
                       why) while none has run: no live device given, awaiting
                       approval, or just requested
=====================  ===========================================================

Missing data never passes: a check without a minute to decide on fails and says so.
Baselines (``hx_ua_w_per_k``: median of
:func:`~heatreuse.monitoring.rules.hx_ua_normalised_w_per_k`; UA per flow band; pump
power per speed band and the affinity ratio; customer delta-T at design load) go into
the ledger's ``commissioning`` entry (:mod:`heatreuse.ledger.commissioning`) through
the signed append of ``ledger update``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heatreuse.errors import HeatreuseError
from heatreuse.ledger.commissioning import (
    COMMISSIONING_METHOD,
    commissioning_entry,
    commissioning_passed,
)
from heatreuse.monitoring.rules import (
    RuleContext,
    hx_ua_normalised_w_per_k,
    rule_command_fault,
    rule_meter_balance,
    rule_sensor_drift,
    rule_stale_feed,
)
from heatreuse.physics.metering import heat_meter_mpe_percent
from heatreuse.services.monitoring import _minute_data, _sla_status, hx_baseline
from heatreuse.site.model import Site
from heatreuse.site.points import expand_points
from heatreuse.sla.definition import SlaDefinition
from heatreuse.store import Store

__all__ = [
    "DEFAULT_PERIOD_S",
    "CommissioningError",
    "CommissioningResult",
    "record_commissioning",
    "run_commissioning",
    "write_report",
]

#: Default period checked: the last three days up to the clock [s].
DEFAULT_PERIOD_S = 3 * 86400.0
#: Share of compared minutes a sensor pair may be beyond its offset [-].
PAIR_FLAG_FRACTION = 0.01
#: Share of running minutes a pump may show no flow [-].
PUMP_NO_FLOW_FRACTION = 0.01
#: Fit minutes the HX baseline needs [min].
HX_MIN_MINUTES = 60
#: IT power at or above this fraction of nameplate counts as design load [-].
DESIGN_LOAD_FRACTION = 0.8
#: Minutes of history read before the period, so windowed rules decide from its start.
_LOOKBACK_MIN = 180
FUNCTIONAL_REASON = (
    "the supervised reject-path and backup takeover tests run as functional_test change "
    "requests under the two-person rule against the twin (commission --functional --twin "
    "HOST:PORT --by NAME files them; a second person approves them with heatreuse changes "
    "approve ... --twin HOST:PORT)"
)


class CommissioningError(HeatreuseError):
    """Commissioning got something it cannot use (a bad period, no data)."""


@dataclass(frozen=True)
class CommissioningResult:
    """One checklist run: items, baselines and the period they cover."""

    site_id: str
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    commissioned_at: pd.Timestamp
    items: tuple[dict[str, str], ...]
    baselines: dict[str, Any]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """No item failed and at least one passed."""
        return commissioning_passed(self.items)

    def entry(self) -> dict[str, Any]:
        """The ledger's ``commissioning`` entry of this run."""
        return commissioning_entry(
            self.site_id,
            self.items,
            self.baselines,
            self.period_start.to_pydatetime(),
            self.period_end.to_pydatetime(),
            self.commissioned_at.to_pydatetime(),
            COMMISSIONING_METHOD,
        )


def _item(name: str, ok: bool | None, evidence: str) -> dict[str, str]:
    status = "skipped" if ok is None else ("pass" if ok else "fail")
    return {"item": name, "status": status, "evidence": evidence}


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), digits)


# --------------------------------------------------------------------------- the checks
def _points_report(ctx: RuleContext, i0: int) -> dict[str, str]:
    silent: list[str] = []
    for sig in rule_stale_feed(ctx):
        pid = sig.labels.get("point")
        if pid is None:
            continue
        stale = sig.condition[i0:]
        n_stale = int(np.nansum(stale))
        if n_stale:
            longest_s = float(np.nanmax(sig.value[i0:]))
            silent.append(f"{pid} ({n_stale} min silent, longest {longest_s / 60:.0f} min)")
    n = len(ctx.points)
    if silent:
        return _item(
            "points_report",
            False,
            f"{len(silent)} of {n} registry points did not report at their sample interval "
            f"(stale_feed factor {ctx.rules.stale_feed.factor:g}): " + "; ".join(silent[:20]),
        )
    return _item(
        "points_report",
        True,
        f"all {n} registry points reported at their sample interval in every minute",
    )


def _values_in_range(ctx: RuleContext, i0: int, quarantined: Mapping[str, int]) -> dict[str, str]:
    bad: list[str] = []
    for p in ctx.points.values():
        lo, hi = ctx.data.get(p.id, "min")[i0:], ctx.data.get(p.id, "max")[i0:]
        out = np.isfinite(lo) & ((lo < p.min_value) | (hi > p.max_value))
        if out.any():
            bad.append(
                f"{p.id}: {int(out.sum())} min outside {p.min_value:g}..{p.max_value:g} "
                f"{p.unit} (seen {np.nanmin(lo):g}..{np.nanmax(hi):g})"
            )
    q = sum(quarantined.values())
    if q:
        bad.append(
            f"{q} readings quarantined in the period ("
            + ", ".join(f"{k} {v}" for k, v in sorted(quarantined.items()))
            + ")"
        )
    if bad:
        return _item("values_in_range", False, "; ".join(bad[:20]))
    return _item(
        "values_in_range",
        True,
        f"every stored reading of {len(ctx.points)} points lies within its registry range; "
        "nothing quarantined in the period",
    )


def _sensor_pairs(ctx: RuleContext, i0: int) -> dict[str, str]:
    prm = ctx.rules.sensor_drift
    if not prm.pairs:
        return _item("sensor_pairs", None, "no sensor pairs in monitoring.rules.sensor_drift")
    by_pair = {(s.labels["point"], s.labels["pair"]): s for s in rule_sensor_drift(ctx)}
    parts: list[str] = []
    ok = True
    for pair in prm.pairs:
        sig = by_pair.get((pair.a, pair.b))
        if sig is None:
            ok = False
            parts.append(f"{pair.a} / {pair.b}: no data of one of them")
            continue
        cond, e = sig.condition[i0:], sig.value[i0:]
        decided = np.isfinite(cond)
        if not decided.any():
            ok = False
            parts.append(f"{pair.a} / {pair.b}: not compared (no minute with flow past both)")
            continue
        frac = float(np.mean(cond[decided]))
        med = float(np.nanmedian(e[decided]))
        good = frac <= PAIR_FLAG_FRACTION
        ok &= good
        parts.append(
            f"{pair.a} - {pair.b} - {pair.expected_offset_k:g} K: median {med:+.2f} K over "
            f"{int(decided.sum())} min, beyond {prm.max_offset_k:g} K in {frac:.1%} "
            f"({'agree' if good else 'DISAGREE'})"
        )
    return _item("sensor_pairs", ok, "; ".join(parts))


def _meter_balance(ctx: RuleContext, i0: int, site: Site) -> dict[str, str]:
    sigs = rule_meter_balance(ctx)
    if not sigs:
        return _item(
            "meter_balance",
            None,
            "the registry has no heat meter with power, flow and both temperatures",
        )
    resid, cond = sigs[0].value[i0:], sigs[0].condition[i0:]
    decided = np.isfinite(cond)
    if not decided.any():
        return _item(
            "meter_balance", False, "no minute with the meter's flow, temperatures and power"
        )
    from heatreuse.ledger.build import ledger_points

    lp = ledger_points(site)
    flow = ctx.data.get("meter.flow_m3_per_h")[i0:]
    dtk = (ctx.data.get("meter.supply_temp_c") - ctx.data.get("meter.return_temp_c"))[i0:]
    q = float(np.nanmedian(flow[decided]))
    d = float(np.nanmedian(dtk[decided]))
    med = float(np.nanmedian(resid[decided]))
    cls = lp.heat_meter_accuracy_class or 3
    cls_note = "" if lp.heat_meter_accuracy_class else " (class unknown: class 3 assumed)"
    dmin = lp.heat_meter_delta_t_min_k
    mpe = float(
        heat_meter_mpe_percent(cls, lp.heat_meter_qp_m3_per_h, max(q, 1e-6), max(d, dmin), dmin)
    )
    ok = med <= mpe / 100.0
    text = (
        f"median |P_meter - k V dT| / (k V dT) = {med:.2%} over {int(decided.sum())} min; "
        f"EN 1434 MPE of a class {cls} meter{cls_note} at q {q:.2f} m3/h (qp "
        f"{lp.heat_meter_qp_m3_per_h:g}), dT {d:.1f} K: {mpe:.2f} %"
    )
    if len(sigs) > 1:
        r2, c2 = sigs[1].value[i0:], sigs[1].condition[i0:]
        d2 = np.isfinite(c2)
        if d2.any():
            reg = float(np.nanmedian(r2[d2]))
            lim = ctx.rules.meter_balance.register_max_residual_fraction
            ok &= reg <= lim
            text += f"; register 24 h increase vs power integral: median {reg:.2%} (max {lim:.0%})"
        else:
            text += "; register vs power: not decided (needs 24 h of data)"
    return _item("meter_balance", ok, text)


def _pumps_respond(ctx: RuleContext, i0: int) -> dict[str, str]:
    sigs = [s for s in rule_command_fault(ctx) if s.labels["rule"] == "command_fault"]
    if not sigs:
        return _item("pumps_respond", None, "no pump has both a status and a flow point")
    parts: list[str] = []
    ok = True
    for s in sigs:
        pump = s.labels["point"]
        status = ctx.data.get(pump, "min")[i0:]
        cond = s.condition[i0:]
        running = np.isfinite(cond) & (status >= 0.5)
        if not running.any():
            ok = False
            parts.append(f"{pump}: never reported running in the period (not proven)")
            continue
        frac = float(np.mean(cond[running]))
        good = frac <= PUMP_NO_FLOW_FRACTION
        ok &= good
        parts.append(
            f"{pump}: running {int(running.sum())} min, flow with it in "
            f"{1 - frac:.1%} ({'follows' if good else 'NO FLOW while running'})"
        )
    return _item("pumps_respond", ok, "; ".join(parts))


# --------------------------------------------------------------------------- baselines
def _bands(x: np.ndarray, y: np.ndarray, edges: Sequence[float]) -> list[dict[str, Any]]:
    out = []
    for lo, hi in itertools.pairwise(edges):
        m = np.isfinite(x) & np.isfinite(y) & (x >= lo) & (x < hi)
        if m.sum() >= 10:
            out.append(
                {
                    "from": lo,
                    "to": hi,
                    "median": _r(float(np.median(y[m]))),
                    "minutes": int(m.sum()),
                }
            )
    return out


def _baselines(ctx: RuleContext, i0: int, site: Site) -> tuple[dict[str, Any], dict[str, str]]:
    base: dict[str, Any] = {}
    ua_n = hx_ua_normalised_w_per_k(ctx)[i0:]
    fit = np.isfinite(ua_n)
    n_fit = int(fit.sum())
    base["hx_ua_w_per_k"] = _r(float(np.median(ua_n[fit])), 1) if n_fit >= HX_MIN_MINUTES else None
    base["hx_ua_minutes"] = n_fit
    base["hx_flow_exponent"] = ctx.rules.hx_fouling.flow_exponent
    rated = sum(p.rated_flow_m3_per_h for p in site.plant.pumps if p.role == "secondary") or 1.0
    flow = ctx.data.get("hx.secondary_flow_m3_per_h")[i0:]
    ua_raw = ua_n * np.power(flow / rated, ctx.rules.hx_fouling.flow_exponent)
    base["hx_ua_by_flow_fraction_w_per_k"] = _bands(
        flow / rated, ua_raw, [0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.5]
    )
    pumps: dict[str, Any] = {}
    for pump in site.plant.pumps:
        pw, sp = f"pump.{pump.id}.power_w", f"pump.{pump.id}.speed_fraction"
        if not (ctx.data.has(pw) and ctx.data.has(sp)):
            continue
        power, speed = ctx.data.get(pw)[i0:], ctx.data.get(sp)[i0:]
        run = np.isfinite(power) & np.isfinite(speed) & (speed > 0.05)
        ratio = None
        if pump.rated_power_w > 0 and run.any():
            ratio = _r(float(np.median(power[run] / (pump.rated_power_w * speed[run] ** 3))))
        pumps[pump.id] = {
            "affinity_ratio": ratio,
            "power_w_by_speed_fraction": _bands(
                np.where(run, speed, np.nan), power, [0.1, 0.3, 0.5, 0.7, 0.9, 1.01]
            ),
        }
    base["pumps"] = pumps
    dt_k, note = None, "no customer delta-T (meter temperatures or IT power missing)"
    if all(ctx.data.has(x) for x in ("meter.supply_temp_c", "meter.return_temp_c")):
        d = (ctx.data.get("meter.supply_temp_c") - ctx.data.get("meter.return_temp_c"))[i0:]
        it = ctx.data.get("elec.it_power_w")[i0:]
        nameplate = sum(r.nameplate_power_w * r.count for r in site.compute.racks)
        load = np.isfinite(d) & np.isfinite(it) & (it >= DESIGN_LOAD_FRACTION * nameplate)
        if load.sum() >= 10:
            dt_k = _r(float(np.median(d[load])), 2)
            note = f"IT power >= {DESIGN_LOAD_FRACTION:.0%} of nameplate, {int(load.sum())} min"
        elif np.isfinite(it).any() and np.isfinite(d).any():
            q = np.nanquantile(it, 0.9)
            top = np.isfinite(d) & (it >= q)
            dt_k = _r(float(np.median(d[top])), 2)
            note = (
                f"design load ({DESIGN_LOAD_FRACTION:.0%} of nameplate) never reached: the top "
                f"decile of IT power (>= {q:.0f} W, {int(top.sum())} min) stands in"
            )
    base["delta_t_design_load_k"] = dt_k
    base["delta_t_design_load_basis"] = note
    if base["hx_ua_w_per_k"] is None:
        item = _item(
            "hx_baseline",
            False,
            f"only {n_fit} min fit to measure the HX UA (needs {HX_MIN_MINUTES}: both pumps on "
            "and steady, heat above the rule's minimum, all six HX points reporting)",
        )
    else:
        item = _item(
            "hx_baseline",
            True,
            f"flow-normalised UA {base['hx_ua_w_per_k']:.0f} W/K (median of {n_fit} fit min, "
            f"UA ~ V^{ctx.rules.hx_fouling.flow_exponent:g})",
        )
    return base, item


# --------------------------------------------------------------------------- run
def _instant(value: str | dt.datetime | pd.Timestamp, what: str) -> pd.Timestamp:
    if isinstance(value, str):
        from heatreuse.services.twin import parse_time_utc

        return parse_time_utc(value, what)
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise CommissioningError(f"{what}: expected a tz-aware instant, got {value!r}")
    return ts.tz_convert("UTC")


def run_commissioning(
    site: Site,
    store: Store,
    start: str | dt.datetime | pd.Timestamp | None = None,
    end: str | dt.datetime | pd.Timestamp | None = None,
    *,
    functional: bool = False,
    now: dt.datetime | pd.Timestamp | None = None,
    functional_results: Sequence[Mapping[str, str]] | None = None,
) -> CommissioningResult:
    """Run the commissioning checklist over ``[start, end)`` of stored data.

    Parameters
    ----------
    site, store
        The site and its open store (read only).
    start, end
        The period [UTC]; default: the :data:`DEFAULT_PERIOD_S` before ``now`` (end
        floored, start ceiled to whole minutes).
    functional
        The supervised takeover tests were asked for: their items are
        ``functional_results`` (see :func:`functional_items`; None: read from the
        store's change requests, nothing run or filed).
    now
        The clock [UTC] (default: the system clock).

    Raises
    ------
    CommissioningError
        An empty or reversed period, or no reading of the site in it.
    """
    clock = _instant(now if now is not None else dt.datetime.now(dt.UTC), "now").floor("min")
    t1 = _instant(end, "--end").floor("min") if end is not None else clock
    t0 = (
        _instant(start, "--start").ceil("min")
        if start is not None
        else t1 - pd.Timedelta(seconds=DEFAULT_PERIOD_S)
    )
    if t1 <= t0:
        raise CommissioningError(
            f"--start {t0.isoformat()} .. --end {t1.isoformat()}: expected a start before the "
            "end (whole minutes)"
        )
    points = {p.id: p for p in expand_points(site).points}
    read0 = t0 - pd.Timedelta(minutes=_LOOKBACK_MIN)
    data = _minute_data(store, site, sorted(points), read0, t1)
    i0 = int(data.grid.searchsorted(t0))
    if not any(np.any(data.get(p, "count")[i0:] > 0) for p in points):
        raise CommissioningError(
            f"site {site.id!r}: no readings in the store between {t0.isoformat()} and "
            f"{t1.isoformat()}; ingest the commissioning data first (or give --start/--end)"
        )
    # windowed rules read the look-back; the stale rule must not (the period starts clean)
    defn = SlaDefinition.from_site(site)
    sla, sla_point = _sla_status(defn, data, None)
    ctx = RuleContext(
        site=site,
        points=points,
        data=data,
        rules=site.monitoring.rules,
        mode_change_quiet_s=site.monitoring.mode_change_quiet_s,
        sla_status=sla,
        sla_target_fraction=defn.target_fraction,
        sla_point=sla_point,
        hx_baseline_ua_w_per_k=hx_baseline(site, store).ua_w_per_k,
    )
    period_ctx = RuleContext(
        site=site,
        points=points,
        data=data.window(i0, data.n),
        rules=site.monitoring.rules,
        mode_change_quiet_s=site.monitoring.mode_change_quiet_s,
    )
    quarantined = store.count_quarantine(site.id, since=t0.to_pydatetime())
    baselines, hx_item = _baselines(ctx, i0, site)
    items = [
        _points_report(period_ctx, 0),
        _values_in_range(ctx, i0, quarantined),
        _sensor_pairs(ctx, i0),
        _meter_balance(ctx, i0, site),
        _pumps_respond(ctx, i0),
        hx_item,
    ]
    if not functional:
        items.append(_item("functional", None, "not asked (--functional): " + FUNCTIONAL_REASON))
    elif functional_results is not None:
        items += [dict(i) for i in functional_results]
    else:
        items += functional_items(site, store, since=t0, now=clock)
    notes = []
    if quarantined:
        notes.append("quarantine counted by the time readings were received, from --start on")
    return CommissioningResult(site.id, t0, t1, clock, tuple(items), baselines, tuple(notes))


# --------------------------------------------------------------------------- functional tests
def _functional_evidence(c: Mapping[str, Any]) -> str:
    res = c.get("result") or {}
    ev = res.get("evidence") or {}
    text = (
        f"change {c['id']} requested by {c['requested_by']}, approved by {c['approved_by']} "
        f"(hash {str(c['request_hash'])[:12]}...), executed {c['executed_at']} on "
        f"{res.get('executor')}: injected {ev.get('injected') or ev.get('scenario')} at "
        f"{ev.get('simulated_from')}; {ev.get('watch')} before {ev.get('before')}, largest "
        f"{ev.get('peak')} while the fault was active (until {ev.get('simulated_until')}); "
        f"modes {', '.join(ev.get('modes') or []) or 'none'}"
    )
    if res.get("error"):
        text += f"; {res['error']}"
    return text


def functional_items(
    site: Site,
    store: Store,
    *,
    since: str | dt.datetime | pd.Timestamp | None = None,
    executor: Any = None,
    by: str | None = None,
    duration: str = "1h",
    now: dt.datetime | pd.Timestamp | None = None,
) -> list[dict[str, str]]:
    """The takeover tests as checklist items, through the two-person flow.

    For each test of :data:`heatreuse.services.changes.FUNCTIONAL_TESTS` the plant has
    (``functional_reject_path``, ``functional_backup_takeover``): the newest
    ``functional_test`` change executed since ``since`` gives pass or fail with its
    evidence (who requested, who approved, the hash, the twin, the watched point before
    and during the fault). Otherwise, with ``executor`` (the twin's control port) and
    ``by``, an approved request is executed now, or a new request is filed (``by``
    requests; a second person approves it); the item is then skipped and says which.
    Without ``executor``: skipped, "no live device given".
    """
    from heatreuse.services import changes

    clock = _instant(now if now is not None else dt.datetime.now(dt.UTC), "now")
    since_ts = (
        _instant(since, "--start")
        if since is not None
        else clock - pd.Timedelta(seconds=DEFAULT_PERIOD_S)
    )
    now_dt = clock.to_pydatetime()
    out: list[dict[str, str]] = []
    for name, test in changes.FUNCTIONAL_TESTS.items():
        item = f"functional_{name}"
        part = str(test["needs"])
        if getattr(site.plant, part.split(".")[1]) is None:
            out.append(_item(item, None, f"the site has no {part}: nothing to take over"))
            continue
        mine = [
            c
            for c in changes.list_changes(site, store, now=now_dt)
            if c["kind"] == "functional_test" and c["target"] == name
        ]
        done = [
            c
            for c in mine
            if c["state"] in ("executed", "failed")
            and c["executed_at"] is not None
            and pd.Timestamp(c["executed_at"]) >= since_ts
        ]
        approved = [c for c in mine if c["state"] == "approved"]
        pending = [c for c in mine if c["state"] == "requested"]
        if not done and approved and executor is not None and by:
            done = [
                changes.execute_change(
                    site, store, approved[-1]["id"], by=by, executor=executor, now=now_dt
                )
            ]
        if done:
            c = done[-1]
            out.append(_item(item, c["state"] == "executed", _functional_evidence(c)))
        elif executor is None:
            waiting = (
                f"; change {pending[-1]['id']} awaits approval"
                if pending
                else f"; change {approved[-1]['id']} is approved and waits for the twin"
                if approved
                else ""
            )
            out.append(
                _item(
                    item, None, f"no live device given (--twin HOST:PORT){waiting}: {test['what']}"
                )
            )
        elif pending:
            c = pending[-1]
            out.append(
                _item(
                    item,
                    None,
                    f"change {c['id']} (requested by {c['requested_by']}) awaits approval by a "
                    f"second person: heatreuse changes approve SITE.yaml {c['id']} --hash "
                    f"{c['request_hash']} --by NAME --twin HOST:PORT",
                )
            )
        elif by:
            c = changes.request_change(
                site,
                store,
                "functional_test",
                name,
                duration,
                f"commissioning: {test['what']}",
                by=by,
                now=now_dt,
            )
            out.append(
                _item(
                    item,
                    None,
                    f"requested as change {c['id']} by {by}; a second person approves it (which "
                    f"runs it on the twin): heatreuse changes approve SITE.yaml {c['id']} --hash "
                    f"{c['request_hash']} --by NAME --twin HOST:PORT",
                )
            )
        else:
            out.append(_item(item, None, "--by NAME needed to request the test"))
    return out


def items_json(result: CommissioningResult) -> str:
    """``--json``: the list of items ``{"item", "status", "evidence"}``."""
    return json.dumps(list(result.items), indent=2)


# --------------------------------------------------------------------------- ledger
def record_commissioning(
    site: Site,
    result: CommissioningResult,
    store_url: str | None = None,
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    key_path: str | os.PathLike[str] | None = None,
    store: Any = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Append the run's ``commissioning`` entry to the site's ledger (signed, like
    ``heatreuse ledger update``, which runs with it: seals and audit rows due are
    appended in the same step; hourly intervals are left to ``ledger update``).

    Returns
    -------
    dict
        ``index`` of the entry, ``tree_size`` and ``checkpoint_path``.
    """
    from heatreuse.services.ledger import update_ledger

    up = update_ledger(
        site,
        store_url,
        now=now or result.commissioned_at.to_pydatetime(),
        checkpoint_dir=checkpoint_dir,
        key_path=key_path,
        store=store,
        intervals=False,
        extra_entries=[result.entry()],
    )
    return {
        "index": up.tree_size - 1,
        "tree_size": up.tree_size,
        "checkpoint_path": up.checkpoint_path,
    }


# --------------------------------------------------------------------------- report
_CSS = (
    "body{font-family:sans-serif;margin:2em;color:#1d2530}table{border-collapse:collapse}"
    "td,th{border:1px solid #dde3ea;padding:4px 8px;text-align:left;vertical-align:top}"
    ".pass{color:#137333;font-weight:bold}.fail{color:#d93025;font-weight:bold}"
    ".skipped{color:#5b6775}"
)


def _baseline_rows(b: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("HX UA, flow-normalised [W/K]", str(b.get("hx_ua_w_per_k"))),
        ("HX UA fit minutes", str(b.get("hx_ua_minutes"))),
        (
            "HX UA by flow fraction [W/K]",
            "; ".join(
                f"{x['from']:g}-{x['to']:g}: {x['median']} ({x['minutes']} min)"
                for x in b.get("hx_ua_by_flow_fraction_w_per_k", [])
            )
            or "-",
        ),
        (
            "customer delta-T at design load [K]",
            f"{b.get('delta_t_design_load_k')} ({b.get('delta_t_design_load_basis')})",
        ),
    ]
    for pid, p in (b.get("pumps") or {}).items():
        rows.append(
            (
                f"pump {pid}: P/(P_rated n^3); power by speed [W]",
                f"{p['affinity_ratio']}; "
                + (
                    "; ".join(
                        f"{x['from']:g}-{x['to']:g}: {x['median']}"
                        for x in p["power_w_by_speed_fraction"]
                    )
                    or "-"
                ),
            )
        )
    return rows


def write_report(
    result: CommissioningResult, out_dir: str | os.PathLike[str], ledger_index: int | None
) -> tuple[Path, Path]:
    """Write the commissioning report as HTML and PDF: each item with its evidence and
    the baselines. Returns ``(html_path, pdf_path)``."""
    from heatreuse.htmlpage import esc, page_html

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"commissioning_{result.site_id}_{result.period_end.strftime('%Y%m%dT%H%MZ')}"
    verdict = "PASSED" if result.passed else "NOT PASSED"
    period = f"{result.period_start.isoformat()} .. {result.period_end.isoformat()}"
    where = (
        f"ledger entry {ledger_index}" if ledger_index is not None else "not recorded in the ledger"
    )
    body = [
        f"<h1>Commissioning of {esc(result.site_id)}: {verdict}</h1>",
        f"<p>Period {esc(period)} (UTC); checked {esc(result.commissioned_at.isoformat())}; "
        f"{esc(where)}; method {COMMISSIONING_METHOD}.</p>",
        "<h2>Checklist</h2><table><tr><th>item</th><th>status</th><th>evidence</th></tr>",
    ]
    for it in result.items:
        body.append(
            f'<tr><td>{esc(it["item"])}</td><td class="{esc(it["status"])}">'
            f"{esc(it['status'])}</td><td>{esc(it['evidence'])}</td></tr>"
        )
    body.append("</table><h2>Baselines</h2><table>")
    for k, v in _baseline_rows(result.baselines):
        body.append(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>")
    body.append("</table>")
    for n in result.notes:
        body.append(f"<p><small>{esc(n)}</small></p>")
    html_path = out / f"{stem}.html"
    html_path.write_text(
        page_html(f"{result.site_id} commissioning", "\n".join(body), _CSS), encoding="utf-8"
    )
    pdf_path = out / f"{stem}.pdf"
    _write_pdf(result, pdf_path, verdict, period, where)
    return html_path, pdf_path


def _write_pdf(
    result: CommissioningResult, path: Path, verdict: str, period: str, where: str
) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable

    from heatreuse.ledger.report import _pdf_fonts, _xml

    fonts = _pdf_fonts()
    body = ParagraphStyle("b", fontName=fonts["body"], fontSize=8.5, leading=11)
    bold = ParagraphStyle("h", parent=body, fontName=fonts["bold"], fontSize=14, leading=18)
    h2 = ParagraphStyle("h2", parent=bold, fontSize=11, leading=15, spaceBefore=8)
    colour = {"pass": "#137333", "fail": "#d93025", "skipped": "#5b6775"}

    def table(rows: list[list[Any]], widths: list[float]) -> PdfTable:
        t = PdfTable(rows, colWidths=widths, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#dde3ea")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return t

    story: list[Any] = [
        Paragraph(_xml(f"Commissioning of {result.site_id}: {verdict}"), bold),
        Paragraph(
            _xml(f"Period {period} (UTC); checked {result.commissioned_at.isoformat()}; {where}."),
            body,
        ),
        Paragraph("Checklist", h2),
    ]
    rows: list[list[Any]] = [[Paragraph(x, body) for x in ("item", "status", "evidence")]]
    for it in result.items:
        st = it["status"]
        rows.append(
            [
                Paragraph(_xml(it["item"]), body),
                Paragraph(f'<font color="{colour[st]}">{_xml(st)}</font>', body),
                Paragraph(_xml(it["evidence"]), body),
            ]
        )
    story.append(table(rows, [32 * mm, 18 * mm, 120 * mm]))
    story += [Spacer(1, 4 * mm), Paragraph("Baselines", h2)]
    brows: list[list[Any]] = [[Paragraph("baseline", body), Paragraph("value", body)]]
    brows += [
        [Paragraph(_xml(k), body), Paragraph(_xml(v), body)]
        for k, v in _baseline_rows(result.baselines)
    ]
    story.append(table(brows, [60 * mm, 110 * mm]))
    SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        title=f"{result.site_id} commissioning",
    ).build(story)
