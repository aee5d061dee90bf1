"""Fault rules on twin-generated series: each with its fault and a clean counterpart.

The clean and faulty series come from the twin (``TwinPointMap`` with sensor noise) run
over the pool example; faults the twin has are injected as drill scenarios, faults it
has no scenario for (a stuck or spiking sensor, a miscalibrated meter, a worn pump, a
silent feed, hunting) are applied to the twin's readings the way they appear in the
field. Rules: operations.md "Fault detection for hydronic loops" (H1-H10).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatreuse.monitoring.alerts import AlertState
from heatreuse.monitoring.data import MinuteData
from heatreuse.monitoring.detector import Detector
from heatreuse.monitoring.rules import (
    LOOKBACK_MIN,
    RuleContext,
    evaluate_rules,
    hx_baseline_ua_w_per_k,
)
from heatreuse.services.twin import window_demand
from heatreuse.simulation import simulate
from heatreuse.simulation.scenarios import parse_scenarios, scenarios_to_faults
from heatreuse.site import Site, expand_points, load_site
from heatreuse.sla.definition import SlaDefinition
from heatreuse.sla.evaluate import minute_status
from heatreuse.telemetry.twin_points import TwinPointMap

POOL = Path(__file__).parents[2] / "examples" / "pool.yaml"
T0 = pd.Timestamp("2026-01-05T00:00Z")
T1 = pd.Timestamp("2026-01-12T00:00Z")
FAULT_AT = pd.Timestamp("2026-01-08T06:00Z")


@lru_cache(maxsize=1)
def _site() -> Site:
    return load_site(POOL)


@lru_cache(maxsize=8)
def _twin(scenario: str = "") -> pd.DataFrame:
    site = _site()
    demand = window_demand(site, T0, T1, 60)
    faults = scenarios_to_faults(parse_scenarios([scenario])) if scenario else None
    frame = simulate(site, demand, step_s=60, faults=faults, record_layers=True).frame
    readings, _ = TwinPointMap(site, 60).readings(frame)
    return readings.frame()


def _ctx(wide: pd.DataFrame, **kw: object) -> RuleContext:
    site = _site()
    defn = SlaDefinition.from_site(site)
    sla = minute_status(defn, wide[defn.measured_point], period_start=T0, period_end=T1)
    args: dict[str, object] = {
        "site": site,
        "points": {p.id: p for p in expand_points(site).points},
        "data": MinuteData.from_wide(wide),
        "rules": site.monitoring.rules,
        "sla_status": sla.to_numpy(),
        "sla_target_fraction": defn.target_fraction,
        "sla_point": defn.measured_point,
        "hx_baseline_ua_w_per_k": hx_baseline_ua_w_per_k(site),
    }
    args.update(kw)
    return RuleContext(**args)  # type: ignore[arg-type]


def _fired(wide: pd.DataFrame, **kw: object) -> dict[tuple[str, str], pd.Timestamp]:
    """(rule, point) -> first time it fired."""
    out: dict[tuple[str, str], pd.Timestamp] = {}
    for t in Detector().run(_ctx(wide, **kw)):
        if t.to_state is AlertState.FIRING:
            key = (t.alert.rule, t.alert.labels.get("point", ""))
            out.setdefault(key, pd.Timestamp(t.at))
    return out


def _after(wide: pd.DataFrame, col: str, fn: Callable[[pd.Series], pd.Series]) -> pd.DataFrame:
    w = wide.copy()
    m = w.index >= FAULT_AT
    w.loc[m, col] = fn(w.loc[m, col])
    return w


def test_clean_week_raises_nothing_at_warning_or_above() -> None:
    fired = Detector().run(_ctx(_twin()))
    bad = [t.alert.labels for t in fired if t.to_state is AlertState.FIRING]
    assert bad == []


def test_clean_week_customer_return_follows_the_load() -> None:
    # The customer's return comes off the pool's throttled plate exchanger
    # (heatreuse.simulation.demand.pool_return_temp_c): it spreads with the load, never a
    # constant, between the 28 C pool water and the 31 C design return, and rises with the
    # heat the customer takes (the plant's meter plus the backup boiler in its circuit).
    w = _twin()
    ret = w["meter.return_temp_c"]
    assert ret.std() > 0.3
    assert ret.min() > 27.8 and ret.max() < 31.2
    load = w["meter.heat_power_w"] + w["boiler.heat_power_w"]
    assert np.corrcoef(ret, load)[0, 1] > 0.8
    # hourly means too (the sensor's noise averaged out): the nightly rest against the
    # open day differs by more than a kelvin
    hourly = ret.resample("1h").mean()
    assert hourly.quantile(0.9) - hourly.quantile(0.1) > 1.0


def test_stuck_sensor_h1() -> None:
    w = _after(_twin(), "meter.return_temp_c", lambda s: s * 0 + s.iloc[0])
    fired = _fired(w)
    at = fired[("stuck_sensor", "meter.return_temp_c")]
    # a full window of frozen readings, less the last minute or few before the fault whose
    # noisy readings (sigma 0.05 K) can happen to lie within min_spread of the frozen one
    # (here 05:59 reads 30.15 C, frozen at 30.20 C)
    assert FAULT_AT + pd.Timedelta(minutes=55) <= at <= FAULT_AT + pd.Timedelta(hours=2)
    assert ("stuck_sensor", "meter.supply_temp_c") not in fired


def test_spike_h2() -> None:
    w = _twin().copy()
    w.loc[FAULT_AT, "hx.secondary_supply_temp_c"] += 12.0
    assert _fired(w)[("spike", "hx.secondary_supply_temp_c")] == FAULT_AT
    # a genuine step (the pump trip) is no spike
    assert not any(r == "spike" for r, _ in _fired(_twin("pump_failure@2026-01-08T06:00Z+5h")))


def test_stale_feed_h3_is_nodata_never_ok() -> None:
    w = _after(_twin(), "loop.pressure_bar", lambda s: s * np.nan)
    fired = _fired(w)
    # 10 s point, 3 x interval: the first empty minute is stale
    assert fired[("stale_feed", "loop.pressure_bar")] == FAULT_AT
    assert ("telemetry_lost", "") not in fired
    # everything silent: telemetry lost (critical) as well
    silent = _twin().copy()
    silent.loc[silent.index >= FAULT_AT] = np.nan
    assert ("telemetry_lost", "") in _fired(silent)


def test_meter_balance_h4() -> None:
    w = _after(_twin(), "meter.heat_power_w", lambda s: s * 1.10)
    fired = _fired(w)
    assert ("meter_balance", "meter.heat_power_w") in fired
    assert ("meter_balance", "meter.heat_energy_kwh") in fired  # register vs its power


def test_sensor_drift_h5() -> None:
    # Compared while no heat is added between the two sensors (the backup boiler off):
    # in October the racks carry the pool; in January the boiler runs nearly all day.
    t0, t1 = pd.Timestamp("2026-10-05T00:00Z"), pd.Timestamp("2026-10-12T00:00Z")
    at_fault = pd.Timestamp("2026-10-08T06:00Z")

    def fired(scenario: str) -> dict[tuple[str, str], pd.Timestamp]:
        site = _site()
        demand = window_demand(site, t0, t1, 60)
        faults = scenarios_to_faults(parse_scenarios([scenario])) if scenario else None
        frame = simulate(site, demand, step_s=60, faults=faults).frame
        wide = TwinPointMap(site, 60).readings(frame)[0].frame()
        defn = SlaDefinition.from_site(site)
        sla = minute_status(defn, wide[defn.measured_point], period_start=t0, period_end=t1)
        out: dict[tuple[str, str], pd.Timestamp] = {}
        for t in Detector().run(_ctx(wide, sla_status=sla.to_numpy())):
            if t.to_state is AlertState.FIRING:
                out.setdefault((t.alert.rule, t.alert.labels.get("point", "")), pd.Timestamp(t.at))
        return out

    assert ("sensor_drift", "meter.supply_temp_c") not in fired("")
    at = fired("sensor_false_low@2026-10-08T06:00Z+6h")[("sensor_drift", "meter.supply_temp_c")]
    assert at_fault < at < at_fault + pd.Timedelta(hours=1)
    slow = fired("sensor_drift@2026-10-08T06:00Z+3d:2")[("sensor_drift", "meter.supply_temp_c")]
    # 2 K/day crosses 1 K after ~12 h
    assert at_fault + pd.Timedelta(hours=8) < slow < at_fault + pd.Timedelta(hours=24)


def test_hx_fouling_h6_against_commissioning_baseline() -> None:
    # the baseline a commissioning run records: the clean plant's normalised UA
    from heatreuse.monitoring.rules import hx_ua_normalised_w_per_k

    # (the twin's heat exchanger has a flow-independent UA: its flow exponent is 0)
    site = _site()
    rules = site.monitoring.rules.model_copy(
        update={
            "hx_fouling": site.monitoring.rules.hx_fouling.model_copy(update={"flow_exponent": 0.0})
        }
    )
    clean = _ctx(_twin(), rules=rules)
    base = float(np.nanmedian(hx_ua_normalised_w_per_k(clean)))
    assert base == pytest.approx(site.plant.heat_exchanger.ua_w_per_k, rel=0.3)
    fouled = _fired(
        _twin("hx_fouling@2026-01-07T00:00Z+2d:0.4"), hx_baseline_ua_w_per_k=base, rules=rules
    )
    at = fouled[("hx_fouling", "hx.heat_power_w")]
    # UA falls linearly to 0.4 over 2 days: 0.8 of clean after 2/3 day, plus the window
    assert pd.Timestamp("2026-01-07T12:00Z") < at < pd.Timestamp("2026-01-08T12:00Z")
    clean_fired = _fired(_twin(), hx_baseline_ua_w_per_k=base, rules=rules)
    assert ("hx_fouling", "hx.heat_power_w") not in clean_fired


def test_low_delta_t_h7() -> None:
    # the return comes back nearly as warm as it left (a bypass at the customer)
    w = _twin().copy()
    m = w.index >= FAULT_AT
    w.loc[m, "meter.return_temp_c"] = w.loc[m, "meter.supply_temp_c"] - 1.5
    at = _fired(w)[("low_delta_t", "meter.return_temp_c")]
    assert FAULT_AT + pd.Timedelta(minutes=15) <= at <= FAULT_AT + pd.Timedelta(hours=1)


def test_pump_degradation_h8() -> None:
    w = _after(_twin(), "pump.p-secondary.power_w", lambda s: s * 1.4)
    fired = _fired(w)
    assert ("pump_degradation", "pump.p-secondary.power_w") in fired
    assert ("pump_degradation", "pump.p-primary.power_w") not in fired


def test_command_faults_h9() -> None:
    # the pump trips: stopped while the customer is open
    trip = _fired(_twin("pump_failure@2026-01-08T06:00Z+5h:secondary"))
    assert trip[("pump_stopped", "pump.p-secondary.status")] <= FAULT_AT + pd.Timedelta(minutes=6)
    # status says running, no flow anywhere
    w = _after(_twin(), "it_loop.flow_m3_per_h", lambda s: s * 0.0)
    assert ("command_fault", "pump.p-primary.status") in _fired(w)
    # hunting: the status toggles every 5 minutes for an hour
    h = _twin().copy()
    span = (h.index >= FAULT_AT) & (h.index < FAULT_AT + pd.Timedelta(hours=1))
    minute = np.arange(len(h))
    h.loc[span, "pump.p-primary.status"] = ((minute[span] // 5) % 2).astype(float)
    assert ("command_hunting", "pump.p-primary.status") in _fired(h)


def test_it_ot_balance_h10() -> None:
    w = _after(_twin(), "hx.heat_power_w", lambda s: s * 0.5)
    assert ("it_ot_balance", "elec.it_power_w") in _fired(w)


def test_utility_feed_loss_and_flapping() -> None:
    fired = _fired(_twin("utility_feed_loss@2026-01-08T06:00Z+2h"))
    assert fired[("utility_feed", "utility.feed_status")] == FAULT_AT
    w = _twin().copy()
    span = (w.index >= FAULT_AT) & (w.index < FAULT_AT + pd.Timedelta(minutes=40))
    w.loc[span, "utility.feed_status"] = (np.arange(span.sum()) // 10 % 2 == 0) * 1.0
    assert ("utility_feed_flapping", "utility.feed_status") in _fired(w)


def test_sla_interruption_ladder_and_burn_rate() -> None:
    tr = Detector().run(_ctx(_twin("pump_failure@2026-01-08T06:00Z+5h:secondary")))
    stages = {
        t.alert.labels["stage"]: (t.alert.severity, pd.Timestamp(t.at))
        for t in tr
        if t.to_state is AlertState.FIRING and t.alert.rule == "sla_interruption"
    }
    assert set(stages) == {"15m", "1h", "2h", "3h", "4h"}
    assert stages["15m"][0] == "info" and stages["4h"][0] == "critical"
    # each rung fires when the run reaches its length (bucket of the 15th bad minute: +14)
    first_bad = stages["15m"][1] - pd.Timedelta(minutes=14)
    assert FAULT_AT <= first_bad <= FAULT_AT + pd.Timedelta(minutes=10)
    assert stages["4h"][1] - first_bad == pd.Timedelta(hours=4) - pd.Timedelta(minutes=1)
    burn = {t.alert.labels["window"] for t in tr if t.alert.rule == "sla_burn_rate"}
    assert burn == {"page", "ticket"}


def test_no_data_signal_is_undecided_not_ok() -> None:
    """A rule without data says nothing (NaN): it never resolves a firing alert."""
    w = _twin().copy()
    w["meter.heat_power_w"] = np.nan
    sigs = [s for s in evaluate_rules(_ctx(w)) if s.labels["rule"] == "meter_balance"]
    assert sigs == [] or all(np.isnan(s.condition).all() for s in sigs)


def test_block_by_block_equals_one_block() -> None:
    """The live path (many small blocks) gives the alerts of one history run."""
    w = _twin("pump_failure@2026-01-08T06:00Z+5h:secondary")
    whole = [(t.at, t.alert.fingerprint, t.to_state) for t in Detector().run(_ctx(w))]
    det = Detector()
    parts = []
    full = _ctx(w)
    step = 6 * 60
    prev = 3 * 1440
    for end in range(3 * 1440 + step, len(w) + step, step):
        end = min(end, len(w))
        # each block: the rules' look-back before the first new minute, then the new minutes
        lo = max(0, prev - LOOKBACK_MIN)
        ctx = _ctx(w.iloc[lo:end], sla_status=full.sla_status[lo:end])
        got = det.run(ctx, from_minute=w.index[prev] if det.last_minute is None else None)
        parts += [(t.at, t.alert.fingerprint, t.to_state) for t in got]
        prev = end
    # the blocks begin after the first 3 days (look-back): compare from there
    cut = w.index[3 * 1440]
    assert sorted(x for x in whole if x[0] >= cut) == sorted(parts)
    assert len(parts) >= 10


@pytest.mark.parametrize("rule", ["stuck_sensor", "meter_balance", "hx_fouling"])
def test_rules_can_be_switched_off(rule: str) -> None:
    site = _site()
    rules = site.monitoring.rules.model_copy(
        update={rule: getattr(site.monitoring.rules, rule).model_copy(update={"enabled": False})}
    )
    assert not [s for s in evaluate_rules(_ctx(_twin(), rules=rules)) if s.labels["rule"] == rule]
