"""Live monitoring (serve's watch): new minutes only, provisional alerts, routing, paging.

A clean twin day goes into a store; the watch starts at its end; then the site feed is
lost (utility.feed_status = 0) in the minute still filling: the alert fires and the
webhook-style receiver gets it in the same tick (the route's group_wait is 0), before
the minute is complete; the completed minute confirms it as a final transition;
escalation pages the RACI ladder on the injectable clock.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from heatreuse.monitoring.alerts import AlertState, Transition
from heatreuse.services.twin import window_demand
from heatreuse.services.watch import LiveWatch
from heatreuse.simulation import simulate
from heatreuse.site import Site, load_site
from heatreuse.site.monitoring import Receiver
from heatreuse.store import open_store
from heatreuse.telemetry.twin_points import TwinPointMap

POOL = Path(__file__).parents[2] / "examples" / "pool.yaml"
T0 = pd.Timestamp("2026-01-12T00:00Z")
T1 = pd.Timestamp("2026-01-13T00:00Z")


def _site() -> Site:
    base = load_site(POOL)
    mon = base.monitoring.model_copy(
        update={
            "route": {"receiver": "hook", "group_wait": "0s", "group_interval": "1m"},
            "receivers": (Receiver(name="hook", webhook_url="http://127.0.0.1:9/unused"),),
        }
    )
    return base.model_copy(update={"monitoring": mon})


def _write(store: Any, site: Site, wide: pd.DataFrame) -> None:
    long = wide.stack(future_stack=True).dropna()
    ts = long.index.get_level_values(0)
    pids = long.index.get_level_values(1).astype(str)
    store.write_readings(site.id, list(pids), pd.DatetimeIndex(ts), long.to_numpy())


def _keep_reporting(
    store: Any, site: Site, wide: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> None:
    """Every point reports each minute from start to end (the feed still lost)."""
    idx = pd.date_range(start, end, freq="min", inclusive="left")
    rows = pd.DataFrame(
        np.repeat(wide.iloc[[-1]].to_numpy(), len(idx), axis=0), index=idx, columns=wide.columns
    )
    temps = [c for c in rows.columns if c.endswith("_temp_c")]
    rng = np.random.default_rng(1)
    rows[temps] += rng.normal(0.0, 0.05, size=(len(idx), len(temps)))
    rows["utility.feed_status"] = 0.0
    _write(store, site, rows)


@pytest.fixture
def day(tmp_path: Path) -> tuple[Site, Any, pd.DataFrame]:
    site = _site()
    store = open_store(f"sqlite:///{tmp_path / 's.db'}", create=True)
    frame = simulate(site, window_demand(site, T0, T1, 60), step_s=60).frame
    wide = TwinPointMap(site, 60).readings(frame)[0].frame()
    _write(store, site, wide)
    yield site, store, wide
    store.close()


def test_feed_loss_notified_within_the_tick_then_confirmed_and_escalated(
    day: tuple[Site, Any, pd.DataFrame],
) -> None:
    site, store, wide = day
    sent: list[tuple[str, Any]] = []
    recorded: list[Transition] = []
    now = {"t": T1.to_pydatetime() + dt.timedelta(seconds=5)}
    watch = LiveWatch(
        site,
        store,
        clock=lambda: now["t"],
        on_transition=recorded.append,
        send=lambda rcv, n: sent.append((rcv.name, n)),
    )
    assert watch.tick() == []  # a clean day: nothing
    assert sent == [] and watch.active == []
    # the feed is lost 10 s into the next minute; every other point keeps reporting
    last = wide.iloc[[-1]].copy()
    last.index = pd.DatetimeIndex([T1 + pd.Timedelta(seconds=10)])
    last["utility.feed_status"] = 0.0
    _write(store, site, last)
    now["t"] = T1.to_pydatetime() + dt.timedelta(seconds=11)
    assert watch.tick() == []  # nothing final yet: the minute is still filling
    assert [(name, n.status, [a.rule for a in n.alerts]) for name, n in sent] == [
        ("hook", "firing", ["utility_feed"])
    ]
    assert sent[0][1].alerts[0].severity == "critical"
    # the minute completes (the feed stays lost): the transition becomes final
    still = last.copy()
    still.index = pd.DatetimeIndex([T1 + pd.Timedelta(seconds=70)])
    _write(store, site, still)
    now["t"] = T1.to_pydatetime() + dt.timedelta(seconds=71)
    final = watch.tick()
    assert [(t.alert.rule, t.to_state) for t in final if t.alert.rule == "utility_feed"] == [
        ("utility_feed", AlertState.PENDING),
        ("utility_feed", AlertState.FIRING),
    ]
    assert recorded == final
    assert len(sent) == 1  # confirmed, not notified twice
    # escalation: serve records the final transitions (incidents) and runs the store's
    # audited escalation; the critical alert pages the RACI ladder (anna + pool-duty at
    # once, then omar at 15 min, kai at 1 h; site-level alerts go to the plant's people)
    from heatreuse.services.monitoring import ack_alert, escalate_due, list_alerts
    from heatreuse.services.serve import _record

    _record(site, store, watch, final)
    (feed,) = [a for a in list_alerts(site, store) if a["rule"] == "utility_feed"]
    incident = feed["incident_id"]

    def pages(at: dt.datetime) -> list[list[str]]:
        return [
            s["targets"] for s in escalate_due(site, store, now=at) if s["incident_id"] == incident
        ]

    first = pages(now["t"])
    assert first and set(first[0]) >= {"anna"}
    assert len(first) == 1
    _keep_reporting(store, site, wide, T1 + pd.Timedelta(minutes=2), T1 + pd.Timedelta(minutes=17))
    now["t"] = (T1 + pd.Timedelta(minutes=16, seconds=30)).to_pydatetime()
    _record(site, store, watch, watch.tick())
    second = pages(now["t"])
    assert first + second == [["anna", "pool-duty"], ["omar"]]
    ack_alert(site, store, feed["id"], "omar", "resetting the feed breaker", now=now["t"])
    _keep_reporting(store, site, wide, T1 + pd.Timedelta(minutes=17), T1 + pd.Timedelta(hours=2))
    now["t"] = (T1 + pd.Timedelta(hours=2)).to_pydatetime()
    _record(site, store, watch, watch.tick())
    assert pages(now["t"]) == []  # no step after the ack


def test_provisional_alert_is_withdrawn_when_the_minute_disagrees(
    day: tuple[Site, Any, pd.DataFrame],
) -> None:
    """A provisional firing alert that the completed minute does not confirm is resolved."""
    from heatreuse.monitoring.alerts import Alert
    from heatreuse.monitoring.detector import Detector

    site, store, _ = day
    sent: list[Any] = []
    now = T1.to_pydatetime() + dt.timedelta(seconds=5)
    watch = LiveWatch(site, store, clock=lambda: now, send=lambda r, n: sent.append(n))
    watch.tick()
    glitch = Alert(
        {"site": site.id, "rule": "spike", "severity": "warning", "point": "x"},
        AlertState.FIRING,
        now,
        now,
    )
    prov = Detector()
    prov.tracker.restore(glitch)
    watch._apply([], [], prov, now)  # the partial minute saw it
    assert [n.status for n in sent] == ["firing"] and watch.active == [glitch]
    later = now + dt.timedelta(minutes=2)
    watch._apply([], [], Detector(), later)  # the completed minute did not
    assert [n.status for n in sent] == ["firing", "resolved"]
    assert watch.active == []


def test_metrics_lines_show_live_state(day: tuple[Site, Any, pd.DataFrame]) -> None:
    site, store, wide = day
    now = T1.to_pydatetime() + dt.timedelta(seconds=5)
    watch = LiveWatch(site, store, clock=lambda: now)
    watch.tick()
    text = "\n".join(watch.prometheus_lines())
    heat = float(wide["meter.heat_power_w"].iloc[-1])
    assert f'heatreuse_site_heat_power_w{{site="pool-potsdam"}} {heat:g}' in text
    assert 'heatreuse_alerts_firing{site="pool-potsdam",severity="critical"} 0' in text
    # the last reading of each point was at 23:59:00: 65 s ago
    assert (
        'heatreuse_point_last_reading_age_seconds{site="pool-potsdam",'
        'point="meter.heat_power_w"} 65' in text
    )
    att = [ln for ln in text.splitlines() if ln.startswith("heatreuse_site_sla_attainment")]
    assert len(att) == 1 and 0.9 <= float(att[0].split()[-1]) <= 1.0
    assert np.isfinite(heat)


def test_live_watch_takes_the_baseline_detect_takes(
    day: tuple[Site, Any, pd.DataFrame],
) -> None:
    """serve's rules compare the heat exchanger with the same baseline as `detect`."""
    from heatreuse.monitoring.rules import hx_baseline_ua_w_per_k

    site, store, _ = day
    now = T1.to_pydatetime()
    # no commissioning entry in this store: the design UA of the site file
    assert LiveWatch(site, store, clock=lambda: now).hx_baseline_ua_w_per_k == pytest.approx(
        hx_baseline_ua_w_per_k(site)
    )
    rules = site.monitoring.rules
    fouling = rules.hx_fouling.model_copy(update={"baseline_ua_w_per_k": 4321.0})
    mon = site.monitoring.model_copy(
        update={"rules": rules.model_copy(update={"hx_fouling": fouling})}
    )
    set_site = site.model_copy(update={"monitoring": mon})
    assert LiveWatch(set_site, store, clock=lambda: now).hx_baseline_ua_w_per_k == 4321.0
