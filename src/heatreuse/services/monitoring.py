"""Use cases of watch and respond: detection over stored history, incidents, actions, audit.

:func:`detect` runs the fault rules (:mod:`heatreuse.monitoring.rules`) over the 1-minute
rollups in the store, block by block, through the same
:class:`~heatreuse.monitoring.detector.Detector` that live evaluation uses, and records:

* **alerts**: one row per alert instance (label set and ``active_at``); rows are upserted,
  so recording the same transition twice changes nothing;
* **incidents**: firing alerts of severity warning or critical, not muted, of one site
  whose firing overlaps or lies within :data:`INCIDENT_GAP_S` of each other form one
  incident; its timeline records each alert fired and resolved;
* **corrective actions**: when the same rule on the same equipment fired
  :data:`ACTION_FIRINGS` times (overlapping firings count once) within
  :data:`ACTION_WINDOW_S`, the alert opens a corrective action instead of another
  incident page (owner: the people the site's RACI pages first for it, due
  :data:`ACTION_DUE_S` later); further firings join the open action;
* **the detection state**: the last evaluated minute and the pending/firing alerts
  (with the instant their condition cleared), so the next run resumes exactly where
  this one stopped: detecting ``[a, b)`` then ``[b, c)`` records what ``[a, c)`` does,
  and re-running a range already evaluated records nothing new.

Silences and inhibition mute an alert (``muted_by``; it opens no incident) but never
change its state. Acknowledgements, silences and escalation steps are written with an
``audit`` row in the same transaction; ``heatreuse ledger update`` folds those rows
into the signed ledger (see :func:`heatreuse.services.ledger.audit_entries`): these
commands run anywhere the store is reachable, while the signing key stays with the
process that signs checkpoints.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from heatreuse.errors import HeatreuseError
from heatreuse.monitoring.alerts import Alert, AlertState, AlertTracker, Transition
from heatreuse.monitoring.data import MinuteData, concat
from heatreuse.monitoring.detector import Detector
from heatreuse.monitoring.escalation import Escalation, Page, policy_from_raci
from heatreuse.monitoring.matchers import MatcherError, parse_matcher
from heatreuse.monitoring.routing import parse_duration_s
from heatreuse.monitoring.rules import (
    LOOKAHEAD_MIN,
    LOOKBACK_MIN,
    RuleContext,
    hx_baseline_ua_w_per_k,
)
from heatreuse.monitoring.silences import InhibitRule, Silence, inhibit_rules, mute_reason
from heatreuse.site.model import Site
from heatreuse.site.points import Point, expand_points
from heatreuse.sla.definition import SlaDefinition
from heatreuse.sla.evaluate import minute_status
from heatreuse.store import (
    ActionRecord,
    AlertRecord,
    AuditRecord,
    IncidentEvent,
    IncidentRecord,
    SilenceRecord,
    Store,
)

__all__ = [
    "ACTION_DUE_S",
    "ACTION_FIRINGS",
    "ACTION_WINDOW_S",
    "DETECT_BLOCK_MIN",
    "INCIDENT_GAP_S",
    "AlertRecorder",
    "DetectSummary",
    "HxBaseline",
    "MonitoringError",
    "ack_alert",
    "add_incident_note",
    "add_silence",
    "detect",
    "escalate_due",
    "expire_silence",
    "hx_baseline",
    "list_actions",
    "list_alerts",
    "list_incidents",
    "list_silences",
    "monitoring_start",
    "report_section",
    "rules_catalogue",
    "show_incident",
    "stored_silences",
]

#: Minutes evaluated per block (each read with :data:`LOOKBACK_MIN` of history before it).
DETECT_BLOCK_MIN = 7 * 1440
#: Alerts firing within this of an incident's last resolution join it [s].
INCIDENT_GAP_S = 1800.0
#: Firings of one rule on one equipment within :data:`ACTION_WINDOW_S` that open an action.
ACTION_FIRINGS = 3
#: Window in which repeated firings are counted [s] (30 days).
ACTION_WINDOW_S = 30 * 86400.0
#: A corrective action is due this long after it was opened [s] (14 days).
ACTION_DUE_S = 14 * 86400.0
#: Severities that page (open or join incidents); ``info`` alerts are recorded only.
PAGING_SEVERITIES = ("warning", "critical")
#: The actor of audit rows written by heatreuse itself (escalation steps).
SYSTEM_ACTOR = "heatreuse"

_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
_US = 1_000_000
_MIN_US = 60 * _US


class MonitoringError(HeatreuseError):
    """A monitoring command got something it cannot use (unknown id, bad matcher, ...)."""


# --------------------------------------------------------------------------- time helpers
def _us(t: dt.datetime | pd.Timestamp) -> int:
    return int(pd.Timestamp(t).tz_convert("UTC").value // 1000)


def _ts(us: int) -> pd.Timestamp:
    return pd.Timestamp(int(us), unit="us", tz="UTC")


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    ts = _ts(us)
    fmt = "%Y-%m-%dT%H:%M:%SZ" if ts.microsecond == 0 else "%Y-%m-%dT%H:%M:%S.%fZ"
    return ts.strftime(fmt)


def _now(now: dt.datetime | pd.Timestamp | None) -> pd.Timestamp:
    ts = pd.Timestamp(now if now is not None else dt.datetime.now(dt.UTC))
    if ts.tzinfo is None:
        raise MonitoringError(f"now: expected a tz-aware instant, got {now!r}")
    return ts.tz_convert("UTC")


def _instant(value: str | dt.datetime | pd.Timestamp, what: str) -> pd.Timestamp:
    if isinstance(value, str):
        from heatreuse.services.twin import parse_time_utc

        return parse_time_utc(value, what)
    return _now(value)


# --------------------------------------------------------------------------- monitoring start
def monitoring_start(store: Store, site: Site) -> pd.Timestamp | None:
    """When monitoring of the site began [UTC, whole minute], or ``None`` (no reading ever).

    The SLA engine's answer (:func:`heatreuse.services.sla.monitoring_start`): the site
    file's ``contract.sla.monitoring_start`` if set, else the first reading the store ever
    accepted for the site (a recorded fact that retention does not move).
    """
    from heatreuse.services.sla import monitoring_start as sla_monitoring_start

    at = sla_monitoring_start(store, site.id, SlaDefinition.from_site(site)).at
    return None if at is None else pd.Timestamp(at).tz_convert("UTC").floor("min")


# --------------------------------------------------------------------------- hx baseline
@dataclass(frozen=True)
class HxBaseline:
    """The baseline UA the ``hx_fouling`` rule compares with, and where it comes from.

    Attributes
    ----------
    ua_w_per_k
        Flow-normalised baseline UA [W/K]; ``None``: none known (the rule is off).
    source
        ``site file: monitoring.rules.hx_fouling.baseline_ua_w_per_k``, ``ledger:
        commissioning entry N (period ...)``, ``site file: plant.heat_exchanger design UA``
        or ``none``.
    """

    ua_w_per_k: float | None
    source: str


def hx_baseline(site: Site, store: Store | None) -> HxBaseline:
    """The ``hx_fouling`` baseline: the site file's ``baseline_ua_w_per_k`` if set, else
    the latest commissioning entry's measured ``hx_ua_w_per_k`` (median flow-normalised
    UA over a clean period, :func:`heatreuse.monitoring.rules.hx_ua_normalised_w_per_k`),
    else the plant's design UA (:func:`heatreuse.monitoring.rules.hx_baseline_ua_w_per_k`).
    """
    from heatreuse.ledger.commissioning import ENTRY_COMMISSIONING
    from heatreuse.services.sla import read_ledger_entries

    set_ua = site.monitoring.rules.hx_fouling.baseline_ua_w_per_k
    if set_ua is not None:
        return HxBaseline(
            float(set_ua), "site file: monitoring.rules.hx_fouling.baseline_ua_w_per_k"
        )
    if store is not None:
        for e in reversed(read_ledger_entries(store, site.id, (ENTRY_COMMISSIONING,))):
            ua = (e.get("baselines") or {}).get("hx_ua_w_per_k")
            if isinstance(ua, int | float) and ua > 0:
                return HxBaseline(
                    float(ua),
                    f"ledger: commissioning entry {e['index']} (period {e.get('period_start')} "
                    f".. {e.get('period_end')})",
                )
    design = hx_baseline_ua_w_per_k(site)
    if design is None:
        return HxBaseline(None, "none")
    return HxBaseline(design, "site file: plant.heat_exchanger design UA")


# --------------------------------------------------------------------------- rules
_UNIT_SUFFIXES = (
    ("_w_per_k", "W/K"),
    ("_per_h", "1/h"),
    ("_fraction", "fraction 0..1"),
    ("_s", "s"),
    ("_k", "K"),
    ("_w", "W"),
)


def _param_unit(name: str) -> str:
    for suffix, unit in _UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    if name in ("factor", "flow_exponent"):
        return "1"
    return ""


def rules_catalogue(site: Site) -> list[dict[str, Any]]:
    """Every fault rule with what it checks, its parameters (with units) and severity.

    Parameters come from the site file's ``monitoring.rules`` (defaults where absent).
    """
    from heatreuse.monitoring.rules import RULES

    out: list[dict[str, Any]] = []
    cfg = site.monitoring.rules
    for name in RULES:
        model = getattr(cfg, name)
        doc = (type(model).__doc__ or "").strip().splitlines()
        params: list[dict[str, Any]] = []
        for key, value in model.model_dump(mode="json").items():
            if key in ("enabled", "severity"):
                continue
            params.append({"name": key, "value": value, "unit": _param_unit(key)})
        out.append(
            {
                "rule": name,
                "checks": doc[0] if doc else "",
                "enabled": bool(model.enabled),
                "severity": str(model.severity),
                "parameters": params,
            }
        )
    return out


# --------------------------------------------------------------------------- detect
@dataclass(frozen=True)
class DetectSummary:
    """What one :func:`detect` run evaluated and recorded."""

    site_id: str
    start: str | None
    end: str | None
    minutes: int
    blocks: int
    fired: int
    resolved: int
    muted: int
    incidents_opened: int
    actions_opened: int
    firing_now: int
    fired_by_rule: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    alert_ids: tuple[int, ...] = ()
    """Alerts that fired or resolved in this run (each once, first seen first)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "site_id": self.site_id,
            "start": self.start,
            "end": self.end,
            "minutes": self.minutes,
            "blocks": self.blocks,
            "fired": self.fired,
            "resolved": self.resolved,
            "muted": self.muted,
            "incidents_opened": self.incidents_opened,
            "actions_opened": self.actions_opened,
            "firing_now": self.firing_now,
            "fired_by_rule": dict(sorted(self.fired_by_rule.items())),
            "notes": list(self.notes),
            "alert_ids": list(self.alert_ids),
        }


def _state_json(tracker: AlertTracker) -> str:
    items = []
    for a in sorted(tracker.active, key=lambda a: (a.active_at, a.fingerprint)):
        cleared = tracker.cleared_at(a.fingerprint)
        items.append(
            {
                "labels": dict(a.labels),
                "state": str(a.state),
                "active_at_us": _us(a.active_at),
                "started_at_us": None if a.started_at is None else _us(a.started_at),
                "value": a.value,
                "annotations": dict(a.annotations),
                "cleared_at_us": None if cleared is None else _us(cleared),
            }
        )
    return json.dumps(items, sort_keys=True, allow_nan=False)


def _restore(tracker: AlertTracker, text: str) -> None:
    for item in json.loads(text):
        alert = Alert(
            labels=item["labels"],
            state=AlertState(item["state"]),
            active_at=_ts(item["active_at_us"]).to_pydatetime(),
            started_at=(
                None
                if item["started_at_us"] is None
                else _ts(item["started_at_us"]).to_pydatetime()
            ),
            value=item["value"],
            annotations=item["annotations"],
        )
        cleared = item.get("cleared_at_us")
        tracker.restore(alert, None if cleared is None else _ts(cleared).to_pydatetime())


def stored_silences(store: Store, site_id: str) -> list[Silence]:
    """The site's silences from the store (the ones that mute anything), as
    :class:`~heatreuse.monitoring.silences.Silence` (``LiveWatch(silences=...)`` takes this)."""
    out = []
    for r in store.list_silences(site_id):
        if r.ends_at_us <= r.starts_at_us:
            continue  # expired before it began: mutes nothing
        out.append(
            Silence(
                r.id,
                tuple(parse_matcher(m) for m in r.matchers),
                _ts(r.starts_at_us).to_pydatetime(),
                _ts(r.ends_at_us).to_pydatetime(),
                r.created_by,
                r.comment,
            )
        )
    return out


def maintenance_silences(site: Site) -> list[Silence]:
    """The site file's announced maintenance windows as silences of its SLA alerts.

    During an announced window the SLA engine excludes the minutes (they are not
    valid), so the interruption ladder and burn-rate alerts must not page either; the
    other rules keep running (a pump that trips during maintenance is still news).
    Each silence names the window and its description as author and comment.
    """
    out = []
    for i, w in enumerate(site.contract.sla.maintenance.windows):
        out.append(
            Silence(
                f"maintenance-{i}",
                (parse_matcher(f"site={site.id}"), parse_matcher("rule=~sla_.*")),
                w.start.astimezone(dt.UTC),
                w.end.astimezone(dt.UTC),
                "site file (contract.sla.maintenance)",
                f"announced maintenance window {w.start.isoformat()} .. {w.end.isoformat()}"
                + (f": {w.description}" if w.description else ""),
            )
        )
    return out


def site_silences(site: Site, store: Store) -> list[Silence]:
    """Everything that mutes the site's alerts: stored silences and maintenance windows."""
    return stored_silences(store, site.id) + maintenance_silences(site)


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _record(site_id: str, a: Alert, muted_by: str | None = None) -> AlertRecord:
    return AlertRecord(
        site_id=site_id,
        fingerprint=a.fingerprint,
        labels=dict(a.labels),
        state=str(a.state),
        active_at_us=_us(a.active_at),
        started_at_us=None if a.started_at is None else _us(a.started_at),
        resolved_at_us=None if a.resolved_at is None else _us(a.resolved_at),
        value=_finite(a.value),
        annotations=dict(a.annotations),
        muted_by=muted_by,
    )


def _events_count(rows: Sequence[AlertRecord]) -> int:
    """Distinct firings: overlapping firing intervals count once."""
    spans = sorted(
        (r.started_at_us, r.resolved_at_us if r.resolved_at_us is not None else 2**62)
        for r in rows
        if r.started_at_us is not None
    )
    n, end = 0, -1
    for s, e in spans:
        if s > end:
            n += 1
            end = e
        else:
            end = max(end, e)
    return n


class AlertRecorder:
    """Records one site's alert transitions: alert rows, incidents, corrective actions.

    The one recording path for stored history (:func:`detect`) and live evaluation
    (``serve``): feed it the :class:`~heatreuse.monitoring.detector.Detector`'s
    transitions in time order, inside a store transaction. ``firing``: the alerts
    firing before the first transition (sources of inhibition).
    """

    def __init__(self, site: Site, store: Store, firing: Iterable[Alert] = ()) -> None:
        self.site = site
        self.store = store
        self.silences = site_silences(site, store)
        self.inhibit: list[InhibitRule] = inhibit_rules(site.monitoring.inhibit)
        self.firing: dict[str, Alert] = {
            a.fingerprint: a for a in firing if a.state is AlertState.FIRING
        }
        self.fired: dict[str, int] = {}
        self.resolved = self.muted = self.incidents_opened = self.actions_opened = 0
        self.alert_ids: list[int] = []
        """Ids of the alerts that fired or resolved, in the order recorded."""

    def apply(self, transitions: Sequence[Transition]) -> None:
        """Record transitions (time-ordered); the same minute's firings count together."""
        i = 0
        while i < len(transitions):
            j = i
            while j < len(transitions) and transitions[j].at == transitions[i].at:
                j += 1
            batch = transitions[i:j]
            for t in batch:  # a source firing this minute inhibits targets of this minute
                if t.to_state is AlertState.FIRING:
                    self.firing[t.alert.fingerprint] = t.alert
            for t in batch:
                if t.to_state is AlertState.FIRING:
                    self._fire(t.alert, t.at)
                elif t.to_state is AlertState.RESOLVED:
                    self.firing.pop(t.alert.fingerprint, None)
                    self._resolve(t.alert, t.at)
            i = j

    def _fire(self, a: Alert, at: dt.datetime) -> None:
        reason = mute_reason(a.labels, at, self.silences, self.inhibit, self.firing.values())
        alert_id = self.store.upsert_alert(_record(self.site.id, a, reason))
        self.alert_ids.append(alert_id)
        known = self.store.get_alert(self.site.id, alert_id)
        if known is not None and (known.incident_id is not None or known.action_id is not None):
            return  # recorded before (live, then detect over the same minutes): routed once
        self.fired[a.rule] = self.fired.get(a.rule, 0) + 1
        if reason is not None:
            self.muted += 1
            return
        if a.severity not in PAGING_SEVERITIES:
            return
        t_us = _us(at)
        if self._to_action(a, alert_id, t_us):
            return
        self._to_incident(a, alert_id, t_us)

    def _to_action(self, a: Alert, alert_id: int, t_us: int) -> bool:
        st, sid = self.store, self.site.id
        equipment = a.labels.get("equipment", "")
        open_ = st.list_actions(sid, status="open", rule=a.rule, equipment=equipment)
        if open_:
            act = open_[-1]
            if alert_id not in act.alert_ids:
                st.update_action(_replace_action(act, alert_ids=(*act.alert_ids, alert_id)))
            st.set_alert_links(sid, alert_id, None, act.id)
            return True
        since = t_us - int(ACTION_WINDOW_S * _US)
        rows = [
            r
            for r in st.list_alerts(sid, rule=a.rule, equipment=equipment, start=_ts(since))
            if r.muted_by is None
            and r.severity in PAGING_SEVERITIES
            and r.started_at_us is not None
            and since < r.started_at_us <= t_us
        ]
        if _events_count(rows) < ACTION_FIRINGS:
            return False
        policy = policy_from_raci(self.site.ownership, a.labels)
        where = f" on {equipment}" if equipment else ""
        action_id = st.insert_action(
            ActionRecord(
                site_id=sid,
                rule=a.rule,
                equipment=equipment,
                owner=tuple(policy.steps[0].targets),
                opened_at_us=t_us,
                due_at_us=t_us + int(ACTION_DUE_S * _US),
                status="open",
                alert_ids=tuple(sorted({int(r.id) for r in rows if r.id is not None})),
                summary=f"{a.rule}{where} fired {_events_count(rows)} times in "
                f"{ACTION_WINDOW_S / 86400:g} days: find and fix the cause "
                f"({a.annotations.get('summary', '')})",
            )
        )
        st.set_alert_links(sid, alert_id, None, action_id)
        self.actions_opened += 1
        return True

    def _to_incident(self, a: Alert, alert_id: int, t_us: int) -> None:
        st, sid = self.store, self.site.id
        latest = st.latest_incident(sid)
        joinable = latest is not None and (
            latest.status == "firing"
            or (
                latest.resolved_at_us is not None
                and t_us - latest.resolved_at_us <= int(INCIDENT_GAP_S * _US)
            )
        )
        if latest is not None and joinable:
            assert latest.id is not None
            incident_id = latest.id
            sev = max(latest.severity, a.severity, key=lambda s: _SEVERITY_RANK.get(s, 0))
            st.update_incident(
                IncidentRecord(
                    site_id=sid,
                    opened_at_us=latest.opened_at_us,
                    status="firing",
                    severity=sev,
                    title=latest.title,
                    resolved_at_us=None,
                    acked_by=latest.acked_by,
                    acked_at_us=latest.acked_at_us,
                    id=incident_id,
                )
            )
        else:
            incident_id = st.insert_incident(
                IncidentRecord(
                    site_id=sid,
                    opened_at_us=t_us,
                    status="firing",
                    severity=a.severity,
                    title=a.annotations.get("summary", a.rule),
                )
            )
            self.incidents_opened += 1
        st.set_alert_links(sid, alert_id, incident_id, None)
        st.add_incident_event(
            IncidentEvent(
                incident_id=incident_id,
                at_us=t_us,
                kind="fired",
                dedup_key=f"fired:{alert_id}",
                alert_id=alert_id,
                detail={
                    "rule": a.rule,
                    "severity": a.severity,
                    "labels": dict(a.labels),
                    "summary": a.annotations.get("summary", ""),
                    "value": _finite(a.value),
                    "value_unit": a.annotations.get("value_unit", ""),
                },
            )
        )

    def _resolve(self, a: Alert, at: dt.datetime) -> None:
        st, sid = self.store, self.site.id
        # the value stays the one it fired with: the last value seen while it held depends
        # on where evaluation blocks began, the firing value does not
        alert_id = st.upsert_alert(replace(_record(sid, a), value=None))
        self.alert_ids.append(alert_id)
        self.resolved += 1
        rec = st.get_alert(sid, alert_id)
        if rec is None or rec.incident_id is None:
            return
        t_us = _us(at)
        st.add_incident_event(
            IncidentEvent(
                incident_id=rec.incident_id,
                at_us=t_us,
                kind="resolved",
                dedup_key=f"resolved:{alert_id}",
                alert_id=alert_id,
                detail={"rule": a.rule, "severity": a.severity, "labels": dict(a.labels)},
            )
        )
        if st.list_alerts(sid, state="firing", incident_id=rec.incident_id):
            return
        inc = st.get_incident(sid, rec.incident_id)
        if inc is not None:
            st.update_incident(_replace_incident(inc, status="resolved", resolved_at_us=t_us))


def _replace_action(a: ActionRecord, **kw: Any) -> ActionRecord:
    return replace(a, **kw)


def _replace_incident(i: IncidentRecord, **kw: Any) -> IncidentRecord:
    return replace(i, **kw)


def _minute_data(
    store: Store, site: Site, point_ids: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
) -> MinuteData:
    frame = store.read_minute_stats(site.id, list(point_ids), start, end)
    return MinuteData.from_rollup(frame, start, end)


def _sla_status(
    defn: SlaDefinition, data: MinuteData, started: pd.Timestamp | None
) -> tuple[np.ndarray[Any, np.dtype[np.object_]], str]:
    """Per-minute SLA status on the data's grid; minutes before monitoring began are
    excluded (as the SLA engine does), not unknown."""
    grid = data.grid

    def series(point: str, stat: str) -> pd.Series:
        return pd.Series(data.get(point, stat), index=grid)

    red = defn.redundant_point
    status = minute_status(
        defn,
        series(defn.measured_point, "mean"),
        period_start=grid[0].to_pydatetime(),
        period_end=(grid[-1] + pd.Timedelta(minutes=1)).to_pydatetime(),
        supply_min_c=series(defn.measured_point, "min"),
        supply_max_c=series(defn.measured_point, "max"),
        redundant_temp_c=None if red is None else series(red, "mean"),
    )
    out = status.to_numpy(dtype=object)
    if started is not None:
        out[grid < started] = "excluded"
    return out, defn.measured_point


def detect(
    site: Site,
    store: Store,
    start: str | dt.datetime | pd.Timestamp | None = None,
    end: str | dt.datetime | pd.Timestamp | None = None,
    *,
    now: dt.datetime | pd.Timestamp | None = None,
    block_min: int = DETECT_BLOCK_MIN,
) -> DetectSummary:
    """Run the fault rules over stored history and record alerts, incidents and actions.

    Parameters
    ----------
    site
        The site (its ``monitoring:`` section gives the rule parameters).
    store
        An open store (created if need be by the caller: this writes).
    start
        First minute to evaluate [UTC]; default: where the last run stopped, or the
        site's :func:`monitoring_start` on the first run. Minutes already evaluated are
        skipped (re-running is idempotent); a start after the resume point leaves the
        minutes between unevaluated (a note says so).
    end
        End of the evaluated range (exclusive) [UTC]; default and upper bound: the last
        complete minute by the clock (``now`` floored to the minute, minus the one
        minute the spike rule looks ahead). A feed that went silent is NoData up to it.
    now
        The clock [UTC] (default: the system clock).
    block_min
        Minutes per block; each block is read with ``LOOKBACK_MIN`` minutes before it.

    Returns
    -------
    DetectSummary
    """
    clock = _now(now).floor("min")
    points: dict[str, Point] = {p.id: p for p in expand_points(site).points}
    state = store.get_detect_state(site.id)
    resume = _ts(state[0]) + pd.Timedelta(minutes=1) if state is not None else None
    notes: list[str] = []
    limit = clock - pd.Timedelta(minutes=LOOKAHEAD_MIN)
    t1 = _instant(end, "--end").floor("min") if end is not None else limit
    if t1 > limit:
        notes.append(
            f"--end {_iso(_us(t1))} is after the last complete minute; evaluated until "
            f"{_iso(_us(limit))}"
        )
        t1 = limit
    if start is not None:
        t0 = _instant(start, "--start").ceil("min")
        if resume is not None and t0 < resume:
            notes.append(
                f"minutes before {_iso(_us(resume))} were evaluated by an earlier run; "
                "resuming there (re-running records nothing twice)"
            )
            t0 = resume
        elif resume is not None and t0 > resume:
            notes.append(
                f"minutes {_iso(_us(resume))} .. {_iso(_us(t0))} are left unevaluated "
                "(--start is after where the last run stopped)"
            )
    first = monitoring_start(store, site)
    if start is None and resume is not None:
        t0 = resume
    elif start is None:
        if first is None:
            return DetectSummary(
                site.id,
                None,
                None,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                {},
                ("no readings of this site in the store: nothing to evaluate",),
            )
        t0 = first
    if first is not None and t0 < first:
        notes.append(f"monitoring began {_iso(_us(first))}: minutes before it are not evaluated")
        t0 = first
    if t1 <= t0:
        notes.append(
            f"nothing to evaluate: the range starts at {_iso(_us(t0))} (where detection "
            f"stands or monitoring began) and ends at {_iso(_us(t1))}"
        )
    expected = state[0] if state is not None else None
    detector = Detector()
    if state is not None:
        _restore(detector.tracker, state[1])
    recorder = AlertRecorder(site, store, detector.active)
    defn = SlaDefinition.from_site(site)
    baseline = hx_baseline(site, store).ua_w_per_k
    ids = sorted(points)
    blocks = minutes = 0
    b0 = t0
    prev: MinuteData | None = None
    while b0 < t1:
        b1 = min(b0 + pd.Timedelta(minutes=block_min), t1)
        read0 = b0 - pd.Timedelta(minutes=LOOKBACK_MIN)
        read1 = b1 + pd.Timedelta(minutes=LOOKAHEAD_MIN)
        if prev is not None and prev.n and prev.grid[0] <= read0:
            # the look-back was read with the previous block: read only the new minutes
            i0, i1 = (int(prev.grid.searchsorted(x)) for x in (read0, b0))
            data = concat([prev.window(i0, i1), _minute_data(store, site, ids, b0, read1)])
        else:
            data = _minute_data(store, site, ids, read0, read1)
        prev = data
        sla, sla_point = _sla_status(defn, data, first)
        ctx = RuleContext(
            site=site,
            points=points,
            data=data,
            rules=site.monitoring.rules,
            mode_change_quiet_s=site.monitoring.mode_change_quiet_s,
            sla_status=sla,
            sla_target_fraction=defn.target_fraction,
            sla_point=sla_point,
            hx_baseline_ua_w_per_k=baseline,
        )
        detector.last_minute = None  # the resume point is b0: feed [b0, b1) exactly
        transitions = detector.run(ctx, from_minute=b0, to_minute=b1)
        last_us = _us(b1 - pd.Timedelta(minutes=1))
        with store.transaction():
            store.claim_detect_state(site.id, expected)
            recorder.apply(transitions)
            store.set_detect_state(site.id, last_us, _state_json(detector.tracker))
        expected = last_us
        blocks += 1
        minutes += int((b1 - b0) / pd.Timedelta(minutes=1))
        b0 = b1
    firing_now = len(store.list_alerts(site.id, state="firing"))
    return DetectSummary(
        site_id=site.id,
        start=_iso(_us(t0)) if t1 > t0 else None,
        end=_iso(_us(t1)) if t1 > t0 else None,
        minutes=minutes,
        blocks=blocks,
        fired=sum(recorder.fired.values()),
        resolved=recorder.resolved,
        muted=recorder.muted,
        incidents_opened=recorder.incidents_opened,
        actions_opened=recorder.actions_opened,
        firing_now=firing_now,
        fired_by_rule=dict(recorder.fired),
        notes=tuple(notes),
        alert_ids=tuple(dict.fromkeys(recorder.alert_ids)),
    )


# --------------------------------------------------------------------------- alerts
def alert_dict(r: AlertRecord) -> dict[str, Any]:
    """JSON-ready form of an alert (``alerts list --json``)."""
    return {
        "id": r.id,
        "rule": r.rule,
        "state": r.state,
        "severity": r.severity,
        "labels": dict(r.labels),
        "started_at": _iso(r.started_at_us),
        "resolved_at": _iso(r.resolved_at_us),
        "active_at": _iso(r.active_at_us),
        "summary": r.annotations.get("summary", ""),
        "value": r.value,
        "value_unit": r.annotations.get("value_unit", ""),
        "muted_by": r.muted_by,
        "acked_by": r.acked_by,
        "acked_at": _iso(r.acked_at_us),
        "ack_comment": r.ack_comment,
        "incident_id": r.incident_id,
        "action_id": r.action_id,
    }


ALERT_STATES = ("firing", "resolved", "all")


def list_alerts(site: Site, store: Store, state: str = "firing") -> list[dict[str, Any]]:
    """Alerts of the site in ``state`` (``firing``, ``resolved`` or ``all``), oldest first."""
    if state not in ALERT_STATES:
        raise MonitoringError(f"--state: expected one of {', '.join(ALERT_STATES)}; got {state!r}")
    rows = store.list_alerts(site.id, state=None if state == "all" else state)
    return [alert_dict(r) for r in rows]


def _name(text: str, what: str) -> str:
    name = text.strip()
    if not name:
        raise MonitoringError(f"{what}: expected a name (who is acting); got an empty one")
    return name


def _audit(
    store: Store,
    site: Site,
    at_us: int,
    actor: str,
    action: str,
    target: str,
    reason: str,
    detail: Mapping[str, Any],
) -> int:
    return store.append_audit(
        AuditRecord(
            site_id=site.id,
            at_us=at_us,
            actor=actor,
            action=action,
            target=target,
            reason=reason,
            detail=dict(detail),
        )
    )


def ack_alert(
    site: Site,
    store: Store,
    alert_id: int | str,
    by: str,
    comment: str = "",
    *,
    now: dt.datetime | pd.Timestamp | None = None,
    address: str | None = None,
) -> dict[str, Any]:
    """Acknowledge an alert: who took it and why; stops its incident's escalation.

    ``address``: where the request came from (the API's client address), kept in the
    audit row's detail.

    The acknowledgement, the incident's ``acked`` timeline event and the ``audit`` row
    are written in one transaction.

    Raises
    ------
    MonitoringError
        Unknown alert id, an empty name, or an alert already acknowledged.
    """
    who = _name(by, "--by")
    try:
        aid = int(str(alert_id).strip())
    except ValueError:
        raise MonitoringError(
            f"ALERT_ID: expected an alert id (a number, see `heatreuse alerts list`); "
            f"got {alert_id!r}"
        ) from None
    at_us = _us(_now(now))
    with store.transaction():
        rec = store.get_alert(site.id, aid)
        if rec is None:
            raise MonitoringError(
                f"alert {aid}: no such alert of site {site.id!r} (see `heatreuse alerts list "
                "--state all`)"
            )
        if rec.acked_by is not None:
            raise MonitoringError(
                f"alert {aid}: already acknowledged by {rec.acked_by} at {_iso(rec.acked_at_us)}"
            )
        store.ack_alert(site.id, aid, who, at_us, comment)
        if rec.incident_id is not None:
            inc = store.get_incident(site.id, rec.incident_id)
            if inc is not None and inc.acked_by is None:
                store.update_incident(_replace_incident(inc, acked_by=who, acked_at_us=at_us))
            store.add_incident_event(
                IncidentEvent(
                    incident_id=rec.incident_id,
                    at_us=at_us,
                    kind="acked",
                    dedup_key=f"acked:{aid}",
                    alert_id=aid,
                    actor=who,
                    detail={"comment": comment, "rule": rec.rule},
                )
            )
        audit_id = _audit(
            store,
            site,
            at_us,
            who,
            "alert.ack",
            f"alert {aid}",
            comment,
            {
                "alert_id": aid,
                "rule": rec.rule,
                "labels": dict(rec.labels),
                "incident_id": rec.incident_id,
                **({"address": address} if address is not None else {}),
            },
        )
        rec = store.get_alert(site.id, aid)
    assert rec is not None
    return {**alert_dict(rec), "audit_id": audit_id}


# --------------------------------------------------------------------------- silences
def silence_dict(r: SilenceRecord, now_us: int) -> dict[str, Any]:
    """JSON-ready form of a silence with its state at ``now_us``."""
    if r.expired_at_us is not None and r.expired_at_us <= now_us:
        state = "expired"
    elif now_us < r.starts_at_us:
        state = "pending"
    elif now_us < r.ends_at_us:
        state = "active"
    else:
        state = "expired"
    return {
        "id": r.id,
        "matchers": list(r.matchers),
        "starts_at": _iso(r.starts_at_us),
        "ends_at": _iso(r.ends_at_us),
        "state": state,
        "created_by": r.created_by,
        "comment": r.comment,
        "created_at": _iso(r.created_at_us),
        "expired_by": r.expired_by,
        "expired_at": _iso(r.expired_at_us),
        "expire_comment": r.expire_comment,
    }


def add_silence(
    site: Site,
    store: Store,
    matchers: Sequence[str],
    duration: str | float,
    by: str,
    comment: str,
    *,
    start: str | dt.datetime | pd.Timestamp | None = None,
    now: dt.datetime | pd.Timestamp | None = None,
    change_id: str | None = None,
    address: str | None = None,
) -> dict[str, Any]:
    """Mute alerts matching every matcher for ``duration`` from ``start`` (default now).

    ``address``: where the request came from, kept in the audit row's detail.

    A silence longer than :data:`heatreuse.services.access.TWO_PERSON_SILENCE_S` (4 h)
    needs the two-person rule: it is added only by an approved change request
    (``change_id``, :mod:`heatreuse.services.changes`), else refused.

    Matchers: ``NAME=VALUE``, ``NAME!=VALUE``, ``NAME=~REGEX``, ``NAME!~REGEX``
    (Alertmanager semantics); duration ``30m``, ``2h``, ``1d`` or seconds. The silence
    and its ``audit`` row are written in one transaction.

    Raises
    ------
    MonitoringError
        No or a malformed matcher (named), a duration that is not positive, an empty
        author or comment.
    """
    if not matchers:
        raise MonitoringError("--match: expected at least one KEY=VALUE; got none")
    parsed = []
    for m in matchers:
        try:
            parsed.append(parse_matcher(m))
        except MatcherError as exc:
            raise MonitoringError(f"--match {m!r}: {exc}") from None
    try:
        seconds = parse_duration_s(duration, "--duration")
    except HeatreuseError as exc:
        raise MonitoringError(str(exc)) from None
    if seconds <= 0:
        raise MonitoringError(
            f"--duration: expected a positive duration such as 2h; got {duration!r}"
        )
    from heatreuse.services.access import TWO_PERSON_SILENCE_S

    if seconds > TWO_PERSON_SILENCE_S and change_id is None:
        raise MonitoringError(
            f"--duration {duration}: silences over {TWO_PERSON_SILENCE_S / 3600:g} h need a "
            "second person; request one with `heatreuse silences add` (it files a change "
            "request) and have it approved with `heatreuse changes approve`"
        )
    who = _name(by, "--by")
    why = comment.strip()
    if not why:
        raise MonitoringError("--comment: expected why the alerts are silenced; got an empty one")
    clock = _now(now)
    t0 = _instant(start, "--start") if start is not None else clock
    rec = SilenceRecord(
        site_id=site.id,
        id=uuid.uuid4().hex[:12],
        matchers=tuple(str(m) for m in parsed),
        starts_at_us=_us(t0),
        ends_at_us=_us(t0) + round(seconds * _US),
        created_by=who,
        comment=why,
        created_at_us=_us(clock),
    )
    with store.transaction():
        store.add_silence(rec)
        audit_id = _audit(
            store,
            site,
            rec.created_at_us,
            who,
            "silence.add",
            f"silence {rec.id}",
            why,
            {
                "silence_id": rec.id,
                "matchers": list(rec.matchers),
                "starts_at": _iso(rec.starts_at_us),
                "ends_at": _iso(rec.ends_at_us),
                **({"change_id": change_id} if change_id is not None else {}),
                **({"address": address} if address is not None else {}),
            },
        )
    return {**silence_dict(rec, rec.created_at_us), "audit_id": audit_id}


def list_silences(
    site: Site, store: Store, *, now: dt.datetime | pd.Timestamp | None = None
) -> list[dict[str, Any]]:
    """Every silence of the site with its state now (pending, active, expired)."""
    now_us = _us(_now(now))
    return [silence_dict(r, now_us) for r in store.list_silences(site.id)]


def expire_silence(
    site: Site,
    store: Store,
    silence_id: str,
    by: str,
    comment: str = "",
    *,
    now: dt.datetime | pd.Timestamp | None = None,
    address: str | None = None,
) -> dict[str, Any]:
    """End a silence now; who and why are recorded (silence row and ``audit`` row, with
    ``address``, where the request came from, when given).

    Raises
    ------
    MonitoringError
        Unknown silence id, or one that already ended.
    """
    who = _name(by, "--by")
    now_us = _us(_now(now))
    with store.transaction():
        found = [r for r in store.list_silences(site.id) if r.id == silence_id.strip()]
        if not found:
            raise MonitoringError(
                f"silence {silence_id!r}: no such silence of site {site.id!r} (see "
                "`heatreuse silences list`)"
            )
        rec = found[0]
        if rec.expired_at_us is not None or rec.ends_at_us <= now_us:
            raise MonitoringError(
                f"silence {rec.id}: already ended at "
                f"{_iso(rec.expired_at_us if rec.expired_at_us is not None else rec.ends_at_us)}"
            )
        store.expire_silence(site.id, rec.id, who, now_us, comment)
        audit_id = _audit(
            store,
            site,
            now_us,
            who,
            "silence.expire",
            f"silence {rec.id}",
            comment,
            {
                "silence_id": rec.id,
                "matchers": list(rec.matchers),
                "was_until": _iso(rec.ends_at_us),
                **({"address": address} if address is not None else {}),
            },
        )
        rec = next(r for r in store.list_silences(site.id) if r.id == rec.id)
    return {**silence_dict(rec, now_us), "audit_id": audit_id}


# --------------------------------------------------------------------------- incidents
def incident_dict(inc: IncidentRecord, alerts: Sequence[AlertRecord]) -> dict[str, Any]:
    """JSON-ready summary of an incident (``incidents list --json``)."""
    return {
        "id": inc.id,
        "status": inc.status,
        "severity": inc.severity,
        "title": inc.title,
        "opened_at": _iso(inc.opened_at_us),
        "resolved_at": _iso(inc.resolved_at_us),
        "acked_by": inc.acked_by,
        "acked_at": _iso(inc.acked_at_us),
        "alerts": len(alerts),
        "rules": sorted({a.rule for a in alerts}),
        "equipment": sorted({a.equipment for a in alerts if a.equipment}),
    }


def list_incidents(site: Site, store: Store) -> list[dict[str, Any]]:
    """Incidents of the site, oldest first."""
    return [
        incident_dict(inc, store.list_alerts(site.id, incident_id=inc.id))
        for inc in store.list_incidents(site.id)
    ]


def sla_impact(site: Site, store: Store, start_us: int, end_us: int) -> dict[str, Any] | None:
    """What the SLA engine says about ``[start, end)``: minutes good, bad, unknown, excluded.

    ``None`` when the span is shorter than a minute. Minutes are classified as the SLA
    report does (band, operating hours, announced maintenance; no data = unknown).
    """
    t0 = _ts(start_us).floor("min")
    t1 = _ts(end_us).ceil("min")
    if t1 <= t0:
        return None
    defn = SlaDefinition.from_site(site)
    pts = [defn.measured_point] + ([defn.redundant_point] if defn.redundant_point else [])
    data = _minute_data(store, site, pts, t0, t1)
    status, _ = _sla_status(defn, data, monitoring_start(store, site))
    counts = {k: int(np.sum(status == k)) for k in ("good", "bad", "unknown", "excluded")}
    return {
        "sla_point": defn.measured_point,
        "band_c": [defn.band_min_temp_c, defn.band_max_temp_c],
        "good_min": counts["good"],
        "bad_min": counts["bad"],
        "unknown_min": counts["unknown"],
        "excluded_min": counts["excluded"],
        "missing_data": defn.missing_data,
    }


def show_incident(
    site: Site,
    store: Store,
    incident_id: int | str,
    *,
    now: dt.datetime | pd.Timestamp | None = None,
) -> dict[str, Any]:
    """One incident: summary, its alerts, the timeline, SLA impact and a post-incident
    template (impact, cause, actions) to fill in.

    Raises
    ------
    MonitoringError
        Unknown incident id.
    """
    try:
        iid = int(str(incident_id).strip())
    except ValueError:
        raise MonitoringError(
            f"ID: expected an incident id (a number); got {incident_id!r}"
        ) from None
    inc = store.get_incident(site.id, iid)
    if inc is None:
        raise MonitoringError(
            f"incident {iid}: no such incident of site {site.id!r} (see `heatreuse incidents list`)"
        )
    alerts = store.list_alerts(site.id, incident_id=iid)
    events = store.list_incident_events(iid)
    end_us = inc.resolved_at_us if inc.resolved_at_us is not None else _us(_now(now))
    impact = sla_impact(site, store, inc.opened_at_us, end_us)
    rules = sorted({a.rule for a in alerts})
    equipment = sorted({a.equipment for a in alerts if a.equipment})
    actions = [
        action_dict(x)
        for x in store.list_actions(site.id)
        if x.rule in rules and x.equipment in equipment
    ]
    if impact is None:
        impact_text = "no SLA figures for this span"
    else:
        impact_text = (
            f"{impact['bad_min']} min of supply outside {impact['band_c'][0]:g}-"
            f"{impact['band_c'][1]:g} C on {impact['sla_point']}, {impact['unknown_min']} min "
            f"without data (counted {impact['missing_data']}), {impact['good_min']} min in band"
        )
    return {
        **incident_dict(inc, alerts),
        "alerts_detail": [alert_dict(a) for a in alerts],
        "timeline": [
            {
                "at": _iso(e.at_us),
                "kind": e.kind,
                "alert_id": e.alert_id,
                "actor": e.actor,
                "detail": dict(e.detail),
            }
            for e in events
        ],
        "impact": impact,
        "postmortem": {
            "impact": impact_text,
            "cause": "(to fill in) first alert: "
            + (f"{alerts[0].rule} on {alerts[0].equipment or 'site'}" if alerts else "-"),
            "actions": [f"action {a['id']}: {a['summary']}" for a in actions] or ["(to fill in)"],
        },
    }


def add_incident_note(
    site: Site,
    store: Store,
    incident_id: int,
    by: str,
    text: str,
    *,
    now: dt.datetime | pd.Timestamp | None = None,
) -> None:
    """Add a note to an incident's timeline."""
    who = _name(by, "--by")
    if store.get_incident(site.id, int(incident_id)) is None:
        raise MonitoringError(f"incident {incident_id}: no such incident of site {site.id!r}")
    at_us = _us(_now(now))
    store.add_incident_event(
        IncidentEvent(
            incident_id=int(incident_id),
            at_us=at_us,
            kind="note",
            dedup_key=f"note:{uuid.uuid4().hex}",
            actor=who,
            detail={"text": text},
        )
    )


def escalate_due(
    site: Site,
    store: Store,
    *,
    now: dt.datetime | pd.Timestamp | None = None,
    notify: Callable[[IncidentRecord, Page], None] | None = None,
) -> list[dict[str, Any]]:
    """Carry out the escalation steps that are due for the site's open incidents.

    Each firing, unacknowledged incident follows the ladder
    :func:`~heatreuse.monitoring.escalation.policy_from_raci` builds from the site's
    RACI for its first alert (step 1 at once: ``notified``; later steps: ``escalated``).
    A step is recorded once (timeline event and ``audit`` row, in one transaction with
    the ``notify`` call that delivers it; when ``notify`` raises, nothing is recorded
    and the next call retries). Acknowledging an alert of the incident stops it.

    Returns
    -------
    list of dict
        The steps carried out now: incident id, step, loop, targets, role, due time.
    """
    clock = _now(now)
    mon = site.monitoring
    out: list[dict[str, Any]] = []
    for inc in store.list_incidents(site.id, status="firing"):
        assert inc.id is not None
        alerts = store.list_alerts(site.id, incident_id=inc.id)
        if not alerts:
            continue
        policy = policy_from_raci(
            site.ownership,
            alerts[0].labels,
            second_after_s=mon.escalation_second_after_s,
            third_after_s=mon.escalation_third_after_s,
            loops=mon.escalation_loops,
        )
        esc = Escalation(policy, _ts(inc.opened_at_us).to_pydatetime())
        if inc.acked_by is not None and inc.acked_at_us is not None:
            esc.ack(inc.acked_by, _ts(inc.acked_at_us).to_pydatetime())
        for page in esc.due(clock.to_pydatetime()):
            kind = "notified" if page.step_index == 0 and page.loop == 0 else "escalated"
            detail = {
                "step": page.step_index,
                "loop": page.loop,
                "targets": list(page.targets),
                "role": page.role,
                "due_at": _iso(_us(page.at)),
            }
            with store.transaction():
                new = store.add_incident_event(
                    IncidentEvent(
                        incident_id=inc.id,
                        at_us=_us(clock),
                        kind=kind,
                        dedup_key=f"escalation:{page.loop}:{page.step_index}",
                        actor=SYSTEM_ACTOR,
                        detail=detail,
                    )
                )
                if not new:
                    continue
                if notify is not None:
                    notify(inc, page)
                _audit(
                    store,
                    site,
                    _us(clock),
                    SYSTEM_ACTOR,
                    "escalation.step",
                    f"incident {inc.id}",
                    f"unacknowledged {inc.severity} incident: {inc.title}",
                    {"incident_id": inc.id, **detail},
                )
            out.append({"incident_id": inc.id, "kind": kind, **detail})
    return out


# --------------------------------------------------------------------------- actions
def action_dict(a: ActionRecord) -> dict[str, Any]:
    """JSON-ready form of a corrective action (``actions list --json``)."""
    return {
        "id": a.id,
        "rule": a.rule,
        "equipment": a.equipment,
        "owner": list(a.owner),
        "status": a.status,
        "opened_at": _iso(a.opened_at_us),
        "due_at": _iso(a.due_at_us),
        "closed_at": _iso(a.closed_at_us),
        "alert_ids": list(a.alert_ids),
        "summary": a.summary,
    }


def list_actions(site: Site, store: Store) -> list[dict[str, Any]]:
    """Corrective actions of the site, oldest first."""
    return [action_dict(a) for a in store.list_actions(site.id)]


# --------------------------------------------------------------------------- monthly report
def report_section(
    site: Site, store: Store, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[dict[str, int] | None, list[dict[str, Any]], list[dict[str, Any]], str]:
    """The monthly report's alerts section for ``[start, end)``.

    Returns
    -------
    (alerts by rule, incidents, actions, note)
        Firing alerts of severity warning or critical started in the period, counted
        by rule (None when detection never ran on the site: no count is invented);
        incidents open in the period, each with its SLA impact (minutes out of
        band, without data) over the part inside the period; corrective actions open in
        the period; a note on how far detection has run.
    """
    s_us, e_us = _us(start), _us(end)
    counts: dict[str, int] = {}
    for a in store.list_alerts(site.id, start=start, end=end):
        if (
            a.severity in PAGING_SEVERITIES
            and a.started_at_us is not None
            and s_us <= a.started_at_us < e_us
        ):
            counts[a.rule] = counts.get(a.rule, 0) + 1
    incidents = []
    for inc in store.list_incidents(site.id, start=start, end=end):
        alerts = store.list_alerts(site.id, incident_id=inc.id)
        lo = max(inc.opened_at_us, s_us)
        hi = min(inc.resolved_at_us if inc.resolved_at_us is not None else e_us, e_us)
        incidents.append({**incident_dict(inc, alerts), "impact": sla_impact(site, store, lo, hi)})
    actions = [action_dict(a) for a in store.list_actions(site.id, start=start, end=end)]
    state = store.get_detect_state(site.id)
    if state is None:
        note = (
            "Fault detection has not run on this site's stored data (`heatreuse detect "
            "SITE.yaml`): no alerts are reported, none are invented."
        )
        return None, incidents, actions, note
    last = _ts(state[0]) + pd.Timedelta(minutes=1)
    note = f"Fault detection evaluated the site's data until {_iso(_us(last))}."
    if last < end:
        note += " Later minutes of the period are not evaluated yet."
    return counts, incidents, actions, note
