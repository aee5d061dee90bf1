"""Live monitoring inside ``serve``: the fault rules on every new minute, routed and paged.

:class:`LiveWatch` keeps the rules' look-back (3 days and an hour of 1-minute
statistics) in memory and, on each tick, reads only the last minutes' rollups from
the store (which ingest maintains as readings are committed), evaluates every rule
over the buffer and feeds the same :class:`~heatreuse.monitoring.detector.Detector`
that ``heatreuse detect`` uses on history. Completed minutes are final; the minute
still filling is evaluated on a copy of the alert state (*provisional*), so an alert
whose condition needs no ``for`` period goes out within a tick of the reading that
caused it, and is withdrawn if the completed minute says otherwise.

Notifications go through the routing tree (the site file's ``monitoring.route``, or
one route per RACI alarm route), silences and inhibition, to the site's receivers;
escalation is the store's (``serve`` records the final transitions as incidents and
runs :func:`heatreuse.services.monitoring.escalate_due`, audited, every 30 s).
The clock is injectable.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from heatreuse.errors import HeatreuseError
from heatreuse.monitoring.alerts import Alert, AlertState, Transition
from heatreuse.monitoring.data import STATS, MinuteData
from heatreuse.monitoring.detector import Detector
from heatreuse.monitoring.receivers import (
    ReceiverError,
    email_message,
    publish_mqtt,
    push_to_alertmanager,
    send_email,
    send_webhook,
    webhook_payload,
)
from heatreuse.monitoring.routing import Dispatcher, Notification, Route, route_from_config
from heatreuse.monitoring.rules import (
    LOOKBACK_MIN,
    RULES,
    RuleContext,
    hx_baseline_ua_w_per_k,
)
from heatreuse.monitoring.silences import Silence, inhibit_rules, mute_reason
from heatreuse.site import Site, expand_points
from heatreuse.site.monitoring import Receiver

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
MINUTE = pd.Timedelta(minutes=1)
#: Rules evaluated on the minute still filling (all but the stale-feed rule).
PROVISIONAL_RULES = tuple(r for r in RULES if r != "stale_feed")


def default_route(site: Site) -> dict[str, Any]:
    """One route per RACI alarm route (its ``match``), to the receivers the site declares.

    With no ``monitoring.receivers`` the tree has one route to ``log`` (alerts are
    recorded and logged, nobody is notified).
    """
    names = [r.name for r in site.monitoring.receivers]
    root = names[0] if names else "log"
    return {
        "receiver": root,
        "group_by": ["site", "rule"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
        "routes": [],
    }


@dataclass
class Delivery:
    """What was sent (or failed) to one receiver: the record an incident timeline shows."""

    receiver: str
    at: dt.datetime
    status: str
    alerts: int
    error: str | None = None


@dataclass
class Notifier:
    """Sends notifications to the site's receivers; keeps a record of each delivery."""

    site: Site
    receivers: Mapping[str, Receiver]
    deliveries: list[Delivery] = field(default_factory=list)
    send: Callable[[Receiver, Notification], None] | None = None

    def notify(self, n: Notification) -> None:
        rcv = self.receivers.get(n.receiver)
        if rcv is None:
            log.warning(
                "alert %s (%d alert(s)) for receiver %r: no such receiver configured; logged only",
                n.status,
                len(n.alerts),
                n.receiver,
            )
            self.deliveries.append(Delivery(n.receiver, n.at, "logged", len(n.alerts)))
            return
        try:
            (self.send or self._send)(rcv, n)
            self.deliveries.append(Delivery(n.receiver, n.at, "sent", len(n.alerts)))
        except ReceiverError as exc:
            log.warning("%s", exc)
            self.deliveries.append(Delivery(n.receiver, n.at, "failed", len(n.alerts), str(exc)))

    def _send(self, rcv: Receiver, n: Notification) -> None:
        payload = webhook_payload(n)
        if rcv.webhook_url:
            send_webhook(rcv.webhook_url, payload, receiver=rcv.name)
        elif rcv.alertmanager_url:
            push_to_alertmanager(rcv.alertmanager_url, n.alerts, receiver=rcv.name)
        elif rcv.mqtt:
            host_port, _, topic = rcv.mqtt.partition("/")
            host, _, port = host_port.partition(":")
            publish_mqtt(
                payload,
                host=host,
                port=int(port or 1883),
                topic=topic or f"heatreuse/{self.site.id}/alerts",
                receiver=rcv.name,
            )
        elif rcv.email_to and rcv.smtp:
            people = {p.id: p.email for p in self.site.ownership.people}
            to = [people.get(x) or x for x in rcv.email_to]
            host, _, port = rcv.smtp.partition(":")
            send_email(
                email_message(n, sender=rcv.email_from, to=[t for t in to if t]),
                host=host,
                port=int(port or 25),
                receiver=rcv.name,
            )


class LiveWatch:
    """The live rule evaluation, alert lifecycle and routing of one site.

    Parameters
    ----------
    site, store
        The site and its open store.
    clock
        Aware UTC time source.
    on_transition
        Called with every final transition (to record it, e.g. in the store).
    silences
        Returns the silences in force (from the store); default none.
    send
        Replaces the receivers' senders (tests).
    """

    def __init__(
        self,
        site: Site,
        store: Any,
        clock: Clock,
        *,
        on_transition: Callable[[Transition], None] | None = None,
        silences: Callable[[], list[Silence]] | None = None,
        send: Callable[[Receiver, Notification], None] | None = None,
    ) -> None:
        from heatreuse.sla.definition import SlaDefinition

        self.site = site
        self.store = store
        self.clock = clock
        self.points = {p.id: p for p in expand_points(site).points}
        self.defn = SlaDefinition.from_site(site)
        self.hx_baseline_ua_w_per_k = self._hx_baseline()
        self.detector = Detector()
        self.route: Route = route_from_config(site.monitoring.route or default_route(site))
        self.inhibit = inhibit_rules(site.monitoring.inhibit)
        self._silences = silences or (lambda: [])
        self._silences_now: list[Silence] = []
        self.notifier = Notifier(site, {r.name: r for r in site.monitoring.receivers}, send=send)
        self.dispatcher = Dispatcher(self.route, muted=self._muted)
        self.on_transition = on_transition
        self._buffer: MinuteData | None = None
        self._last_ts: dict[str, pd.Timestamp] = {}
        self._provisional: dict[str, Alert] = {}
        self.last_tick: dt.datetime | None = None
        self.tick_errors = 0

    def _hx_baseline(self) -> float | None:
        """The hx_fouling baseline as ``detect`` takes it: site file, else the latest
        commissioning entry in the ledger, else the design UA
        (:func:`heatreuse.services.monitoring.hx_baseline`)."""
        from heatreuse.services.monitoring import hx_baseline

        try:
            found = hx_baseline(self.site, self.store)
        except HeatreuseError as exc:  # an unreadable ledger must not stop monitoring
            log.warning("hx_fouling baseline: %s; using the design UA", exc)
            return hx_baseline_ua_w_per_k(self.site)
        log.info("hx_fouling baseline: %s (%s)", found.ua_w_per_k, found.source)
        return found.ua_w_per_k

    # ------------------------------------------------------------------ data
    def _read(self, start: pd.Timestamp, end: pd.Timestamp) -> MinuteData:
        frame = self.store.read_rollup(
            self.site.id, list(self.points), start, end, resolution="1min"
        )
        if not frame.empty and "last_ts" in frame.columns:
            for pid, ts in frame.groupby("point_id")["last_ts"].max().items():
                t = pd.Timestamp(ts)
                if t.tzinfo is None:
                    t = t.tz_localize("UTC")
                prev = self._last_ts.get(str(pid))
                if prev is None or t > prev:
                    self._last_ts[str(pid)] = t
        return MinuteData.from_rollup(frame, start, end)

    def _refresh(self, now: pd.Timestamp) -> MinuteData:
        end = now.floor("min") + MINUTE  # through the minute still filling
        if self._buffer is None or len(self._buffer.grid) == 0:
            start = end - pd.Timedelta(minutes=LOOKBACK_MIN + 1)
            self._buffer = self._read(start, end)
            return self._buffer
        buf = self._buffer
        # re-read the last two minutes held (late readings) and any new ones
        redo = max(buf.grid[-1] - MINUTE, end - pd.Timedelta(minutes=LOOKBACK_MIN + 1))
        fresh = self._read(redo, end)
        keep_from = end - pd.Timedelta(minutes=LOOKBACK_MIN + 1)
        i0 = int(buf.grid.searchsorted(keep_from))
        i1 = int(buf.grid.searchsorted(redo))
        old = buf.window(i0, i1)
        grid = pd.DatetimeIndex(np.concatenate([old.grid.asi8, fresh.grid.asi8])).tz_localize("UTC")
        stats: dict[str, dict[str, np.ndarray]] = {s: {} for s in STATS}
        for pid in set(old.point_ids) | set(fresh.point_ids):
            for s in STATS:
                stats[s][pid] = np.concatenate([old.get(pid, s), fresh.get(pid, s)])
        self._buffer = MinuteData(grid, stats)
        return self._buffer

    def _ctx(self, data: MinuteData) -> RuleContext:
        from heatreuse.sla.evaluate import minute_status

        sla = None
        pid = self.defn.measured_point
        if len(data.grid):
            series = pd.Series(data.get(pid), index=data.grid).dropna()
            sla = minute_status(
                self.defn, series, period_start=data.grid[0], period_end=data.grid[-1] + MINUTE
            ).to_numpy()
        return RuleContext(
            site=self.site,
            points=self.points,
            data=data,
            rules=self.site.monitoring.rules,
            mode_change_quiet_s=self.site.monitoring.mode_change_quiet_s,
            sla_status=sla,
            sla_target_fraction=self.defn.target_fraction,
            sla_point=pid,
            hx_baseline_ua_w_per_k=self.hx_baseline_ua_w_per_k,
        )

    def _muted(self, alert: Alert, now: dt.datetime) -> str | None:
        return mute_reason(alert.labels, now, self._silences_now, self.inhibit, self.active)

    @property
    def active(self) -> list[Alert]:
        """Alerts pending or firing (final state plus provisional ones)."""
        out = {a.fingerprint: a for a in self.detector.active}
        out.update(self._provisional)
        return list(out.values())

    # ------------------------------------------------------------------ tick
    def tick(self, now: dt.datetime | None = None) -> list[Transition]:
        """Evaluate the new minutes and notify what is due. Returns the final transitions."""
        t = pd.Timestamp(now or self.clock())
        self._silences_now = list(self._silences())  # once per tick, not per alert
        data = self._refresh(t)
        ctx = self._ctx(data)
        complete_end = t.floor("min")  # minutes before this are complete
        n_complete = int(data.grid.searchsorted(complete_end))
        final: list[Transition] = []
        if n_complete > 0:
            done = self._ctx(data.window(0, n_complete)) if n_complete < data.n else ctx
            if done.sla_status is not None and ctx.sla_status is not None:
                done.sla_status = ctx.sla_status[:n_complete]
            first = self.detector.last_minute is None
            final = self.detector.run(
                done, from_minute=data.grid[max(0, n_complete - 1)] if first else None
            )
        # the minute still filling: on a copy of the state, never recorded as final
        # (the stale-feed rule judges whole minutes only: a minute a few seconds old has
        # no reading of a 10 s point yet, which is not silence)
        prov_det = copy.deepcopy(self.detector)
        provisional = prov_det.run(ctx, only=PROVISIONAL_RULES) if n_complete < data.n else []
        for tr in final:
            if self.on_transition is not None:
                self.on_transition(tr)
        self._apply(final, provisional, prov_det, t.to_pydatetime())
        self.last_tick = t.to_pydatetime()
        return final

    def _apply(
        self,
        final: list[Transition],
        provisional: list[Transition],
        prov_det: Detector,
        now: dt.datetime,
    ) -> None:
        final_active = {a.fingerprint: a for a in self.detector.active}
        # provisional alerts the completed minute did not confirm are withdrawn
        for fp, a in list(self._provisional.items()):
            if fp not in final_active and not any(t.alert.fingerprint == fp for t in final):
                self.dispatcher.update(
                    Alert(
                        a.labels,
                        AlertState.RESOLVED,
                        a.active_at,
                        a.started_at,
                        now,
                        a.value,
                        a.annotations,
                    ),
                    now,
                )
            del self._provisional[fp]
        for tr in final:
            self.dispatcher.update(tr.alert, now)
        for a in prov_det.active:
            if a.fingerprint not in final_active and a.state is AlertState.FIRING:
                self._provisional[a.fingerprint] = a
                self.dispatcher.update(a, now)
        del provisional
        for n in self.dispatcher.flush(now):
            self.notifier.notify(n)

    # ------------------------------------------------------------------ metrics
    def prometheus_lines(self, now: dt.datetime | None = None) -> list[str]:
        """Live site state for Prometheus: values, SLA burn, alerts, reading ages."""
        site = self.site.id.replace("\\", "\\\\").replace('"', '\\"')
        t = pd.Timestamp(now or self.clock())
        out: list[str] = []
        buf = self._buffer
        last: dict[str, float] = {}
        if buf is not None and buf.n:
            for pid in (
                "meter.heat_power_w",
                "meter.supply_temp_c",
                "meter.return_temp_c",
                "customer.supply_temp_c",
                "elec.it_power_w",
            ):
                v = buf.get(pid)
                ok = np.flatnonzero(np.isfinite(v))
                if len(ok):
                    last[pid] = float(v[ok[-1]])
        gauges = {
            "heatreuse_site_heat_power_w": (
                "Heat power at the customer meter [W].",
                "meter.heat_power_w",
            ),
            "heatreuse_site_supply_temp_c": (
                "Supply temperature at the meter [C].",
                "meter.supply_temp_c",
            ),
            "heatreuse_site_return_temp_c": (
                "Return temperature at the meter [C].",
                "meter.return_temp_c",
            ),
            "heatreuse_site_sla_supply_temp_c": (
                "The SLA's measured supply temperature [C].",
                "customer.supply_temp_c",
            ),
            "heatreuse_site_it_power_w": ("IT electrical power [W].", "elec.it_power_w"),
        }
        for name, (help_text, pid) in gauges.items():
            if pid in last:
                out += [
                    f"# HELP {name} {help_text}",
                    f"# TYPE {name} gauge",
                    f'{name}{{site="{site}"}} {last[pid]:g}',
                ]
        if buf is not None and buf.n:
            ctx = self._ctx(buf)
            st = ctx.sla_status
            if st is not None:
                valid = np.isin(st, ["good", "bad", "unknown"])
                day = valid[-1440:]
                if day.any():
                    good = (st[-1440:] == "good")[day]
                    out += [
                        "# HELP heatreuse_site_sla_attainment_ratio Good / valid minutes, "
                        "last 24 h (unknown minutes count as not good).",
                        "# TYPE heatreuse_site_sla_attainment_ratio gauge",
                        f'heatreuse_site_sla_attainment_ratio{{site="{site}"}} '
                        f"{float(good.mean()):g}",
                    ]
                budget = 1.0 - (self.defn.target_fraction or 0.0)
                out += [
                    "# HELP heatreuse_site_sla_burn_rate Bad fraction / error budget "
                    "over trailing windows.",
                    "# TYPE heatreuse_site_sla_burn_rate gauge",
                ]
                for label, w in (("5m", 5), ("1h", 60), ("6h", 360), ("3d", 4320)):
                    in_w = valid[-w:]
                    if in_w.any() and budget > 0:
                        rate = float((st[-w:] == "bad")[in_w].mean() / budget)
                        out.append(
                            f'heatreuse_site_sla_burn_rate{{site="{site}",window="{label}"}} '
                            f"{rate:g}"
                        )
        out += [
            "# HELP heatreuse_alerts_firing Alerts firing, by severity.",
            "# TYPE heatreuse_alerts_firing gauge",
        ]
        counts = {"info": 0, "warning": 0, "critical": 0}
        for a in self.active:
            if a.state is AlertState.FIRING and a.severity in counts:
                counts[a.severity] += 1
        for sev, n in counts.items():
            out.append(f'heatreuse_alerts_firing{{site="{site}",severity="{sev}"}} {n}')
        out += [
            "# HELP heatreuse_point_last_reading_age_seconds Seconds since the point's "
            "last stored reading (absent: never seen).",
            "# TYPE heatreuse_point_last_reading_age_seconds gauge",
        ]
        for pid in self.points:
            ts = self._last_ts.get(pid)
            if ts is not None:
                age = max(0.0, (t - ts).total_seconds())
                out.append(
                    f'heatreuse_point_last_reading_age_seconds{{site="{site}",point="{pid}"}} '
                    f"{age:g}"
                )
        return out
