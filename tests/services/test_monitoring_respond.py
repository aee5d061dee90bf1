"""Respond: incidents and their timeline, corrective actions, silences, inhibition,
acknowledgement, escalation steps and the audit trail, on both stores.

Alert transitions come from the real lifecycle (:class:`AlertTracker`) with an injected
clock; they are recorded by the same :class:`AlertRecorder` that ``detect`` uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from heatreuse.errors import HeatreuseError
from heatreuse.monitoring.alerts import AlertTracker, Transition
from heatreuse.monitoring.escalation import Page
from heatreuse.services.monitoring import (
    ACTION_FIRINGS,
    AlertRecorder,
    MonitoringError,
    ack_alert,
    add_incident_note,
    add_silence,
    escalate_due,
    expire_silence,
    list_actions,
    report_section,
    show_incident,
)
from heatreuse.site import Site, load_site
from heatreuse.store import IncidentRecord, Store, open_store

POOL = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DAY0 = pd.Timestamp("2026-03-01T00:00Z")


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(POOL)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        st = open_store(f"sqlite:///{tmp_path / 'respond.db'}", create=True)
        yield st
        st.close()
        return
    schema = "t_respond_" + uuid.uuid4().hex[:12]
    st = open_store(f"{PG_URL}?schema={schema}", create=True)
    try:
        yield st
    finally:
        st.close()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # type: ignore[arg-type]


def labels(rule: str, equipment: str, severity: str = "warning", **extra: str) -> dict[str, str]:
    out = {
        "site": "pool-potsdam",
        "system": "plant",
        "equipment": equipment,
        "rule": rule,
        "severity": severity,
        "point": f"{equipment}.x",
    }
    out.update(extra)
    return out


class Feed:
    """Alert lifecycles with an explicit clock, recorded like ``detect`` records them."""

    def __init__(self, site: Site, store: Store) -> None:
        self.site, self.store = site, store
        self.tracker = AlertTracker()

    def _record(self, out: list[Transition]) -> None:
        with self.store.transaction():
            AlertRecorder(self.site, self.store, self.tracker.active).apply(out)

    def fire(self, at: pd.Timestamp, *label_sets: dict[str, str]) -> list[int]:
        out: list[Transition] = []
        for ls in label_sets:
            out += self.tracker.observe(
                ls, True, at.to_pydatetime(), annotations={"summary": ls["rule"]}
            )
        self._record(out)
        fps = {t.alert.fingerprint for t in out}
        return [
            a.id
            for a in self.store.list_alerts(self.site.id)
            if a.fingerprint in fps and a.active_at_us == at.value // 1000 and a.id is not None
        ]

    def resolve(self, at: pd.Timestamp, *label_sets: dict[str, str]) -> None:
        out: list[Transition] = []
        for ls in label_sets:
            out += self.tracker.observe(ls, False, at.to_pydatetime())
        self._record(out)


def H(hours: float) -> pd.Timedelta:
    return pd.Timedelta(hours=hours)


def test_three_firings_in_30_days_open_one_corrective_action(site: Site, store: Store) -> None:
    feed = Feed(site, store)
    pump = labels("command_fault", "pump.p-secondary")
    pump_b = labels("command_fault", "pump.p-secondary", point="pump.p-secondary.y")
    other = labels("command_fault", "pump.p-primary")
    ids: list[int] = []
    for day in (0, 9):
        t = DAY0 + pd.Timedelta(days=day)
        ids += feed.fire(t, pump)
        if day == 9:  # a second point of the same pump, overlapping: the same firing
            ids += feed.fire(t + H(0.5), pump_b)
            feed.resolve(t + H(3), pump_b)
        feed.resolve(t + H(2), pump)
    feed.fire(DAY0 + pd.Timedelta(days=12), other)  # other equipment: counted apart
    feed.resolve(DAY0 + pd.Timedelta(days=12) + H(1), other)
    assert list_actions(site, store) == []
    assert len(store.list_incidents(site.id)) == 3

    third = DAY0 + pd.Timedelta(days=20)
    (third_id,) = feed.fire(third, pump)
    (action,) = list_actions(site, store)
    assert ACTION_FIRINGS == 3
    assert (action["rule"], action["equipment"], action["status"]) == (
        "command_fault",
        "pump.p-secondary",
        "open",
    )
    assert action["owner"] == ["anna"]  # the RACI's alarm route for system=plant
    assert action["opened_at"] == "2026-03-21T00:00:00Z"
    assert action["due_at"] == "2026-04-04T00:00:00Z"  # +14 days
    assert action["alert_ids"] == sorted([*ids, third_id])
    rec = store.get_alert(site.id, third_id)
    assert rec is not None and rec.action_id == action["id"] and rec.incident_id is None
    assert len(store.list_incidents(site.id)) == 3  # no page for the third firing
    feed.resolve(third + H(1), pump)
    # a fourth firing joins the open action instead of paging
    (fourth_id,) = feed.fire(third + pd.Timedelta(days=2), pump)
    (action,) = list_actions(site, store)
    assert action["alert_ids"][-1] == fourth_id
    assert len(store.list_incidents(site.id)) == 3


def test_incident_groups_overlapping_and_near_alerts_with_a_timeline(
    site: Site, store: Store
) -> None:
    feed = Feed(site, store)
    a = labels("low_delta_t", "meter")
    b = labels("meter_balance", "meter")
    c = labels("hx_fouling", "hx")
    d = labels("spike", "hx")
    note = labels("sla_interruption", "customer", severity="info")
    t = DAY0
    (ia,) = feed.fire(t, a)
    feed.fire(t, note)  # info: recorded, pages nobody
    (ib,) = feed.fire(t + H(1 / 6), b)  # overlaps a
    feed.resolve(t + H(1 / 3), a)
    feed.resolve(t + H(0.5), b)
    (inc,) = store.list_incidents(site.id)
    assert inc.status == "resolved" and inc.resolved_at_us == (t + H(0.5)).value // 1000
    (ic,) = feed.fire(t + H(0.5) + pd.Timedelta(minutes=25), c)  # within 30 min: joins
    (inc,) = store.list_incidents(site.id)
    assert inc.status == "firing" and inc.resolved_at_us is None
    feed.resolve(t + H(2), c)
    (idd,) = feed.fire(t + H(2) + pd.Timedelta(minutes=31), d)  # later: a new incident
    first, second = store.list_incidents(site.id)
    assert first.id == inc.id and first.status == "resolved"
    assert second.status == "firing" and second.title == "spike"
    shown = show_incident(site, store, int(inc.id or 0), now=t + H(5))
    assert [(e["kind"], e["alert_id"]) for e in shown["timeline"]] == [
        ("fired", ia),
        ("fired", ib),
        ("resolved", ia),
        ("resolved", ib),
        ("fired", ic),
        ("resolved", ic),
    ]
    assert shown["alerts"] == 3 and shown["rules"] == ["hx_fouling", "low_delta_t", "meter_balance"]
    # no supply readings in this store: the SLA impact says so, it does not read as fine
    assert shown["impact"]["good_min"] == 0 and shown["impact"]["bad_min"] == 0
    info = [x for x in store.list_alerts(site.id) if x.severity == "info"]
    assert len(info) == 1 and info[0].incident_id is None
    assert idd not in [x.id for x in store.list_alerts(site.id, incident_id=inc.id)]


def test_silences_and_inhibition_mute_and_are_audited(site: Site, store: Store) -> None:
    feed = Feed(site, store)
    t = DAY0
    s = add_silence(
        site,
        store,
        ["rule=low_delta_t", "equipment=~met.*"],
        "2h",
        "anna",
        "meter swap",
        now=t,
    )
    assert (s["starts_at"], s["ends_at"], s["state"]) == (
        "2026-03-01T00:00:00Z",
        "2026-03-01T02:00:00Z",
        "active",
    )
    (muted,) = feed.fire(t + H(1), labels("low_delta_t", "meter"))
    rec = store.get_alert(site.id, muted)
    assert rec is not None and rec.muted_by == f"silenced by {s['id']}"
    assert rec.incident_id is None and store.list_incidents(site.id) == []
    # site telemetry lost mutes the sensor alerts that fire with it (same minute)
    lost = labels("telemetry_lost", "site", severity="critical", system="site")
    stale = labels("stale_feed", "meter")
    ids = feed.fire(t + H(3), stale, lost)
    by_rule = {x.rule: x for x in store.list_alerts(site.id, ids=ids)}
    assert by_rule["stale_feed"].muted_by is not None
    assert by_rule["stale_feed"].muted_by.startswith("inhibited by telemetry_lost")
    assert by_rule["telemetry_lost"].muted_by is None
    assert by_rule["telemetry_lost"].incident_id is not None
    feed.resolve(t + H(4), stale, lost)
    # expired early: a later firing is no longer muted
    gone = expire_silence(site, store, s["id"], "omar", "swap done", now=t + H(0.5))
    assert gone["state"] == "expired" and gone["ends_at"] == "2026-03-01T00:30:00Z"
    feed.resolve(t + H(1.2), labels("low_delta_t", "meter"))
    (later,) = feed.fire(t + H(1.5), labels("low_delta_t", "meter"))
    rec = store.get_alert(site.id, later)
    assert rec is not None and rec.muted_by is None and rec.incident_id is not None
    audit = store.list_audit(site.id)
    assert [(x.action, x.actor, x.reason) for x in audit] == [
        ("silence.add", "anna", "meter swap"),
        ("silence.expire", "omar", "swap done"),
    ]
    assert audit[0].detail["matchers"] == ["rule=low_delta_t", "equipment=~met.*"]
    with pytest.raises(MonitoringError, match="already ended"):
        expire_silence(site, store, s["id"], "omar", now=t + H(1))
    with pytest.raises(MonitoringError, match="no such silence"):
        expire_silence(site, store, "nope", "omar", now=t + H(1))
    for bad, msg in (
        (["rule"], "--match 'rule'"),
        (["rule=~("], "regular expression"),
        ([], "at least one"),
    ):
        with pytest.raises(MonitoringError, match=msg.replace("(", r"\(")):
            add_silence(site, store, bad, "2h", "anna", "x", now=t)
    for dur in ("0s", "2x", "-1h"):
        with pytest.raises(MonitoringError, match="--duration"):
            add_silence(site, store, ["rule=spike"], dur, "anna", "x", now=t)
    with pytest.raises(MonitoringError, match="--comment"):
        add_silence(site, store, ["rule=spike"], "1h", "anna", "  ", now=t)
    assert len(store.list_audit(site.id)) == 2  # refused input wrote nothing


def test_escalation_steps_and_ack_with_an_injected_clock(site: Site, store: Store) -> None:
    feed = Feed(site, store)
    t = DAY0
    (aid,) = feed.fire(t, labels("pump_stopped", "pump.p-primary", severity="critical"))
    (inc,) = store.list_incidents(site.id)
    pages: list[Page] = []

    def deliver(incident: IncidentRecord, page: Page) -> None:
        pages.append(page)

    # step 1 at once: the alarm receivers for a critical plant alert
    done = escalate_due(site, store, now=t, notify=deliver)
    assert [(d["kind"], d["targets"]) for d in done] == [("notified", ["anna", "pool-duty"])]
    assert escalate_due(site, store, now=t + H(0.1), notify=deliver) == []  # recorded once

    # a failed delivery records nothing; the next call retries
    def broken(incident: IncidentRecord, page: Page) -> None:
        raise OSError("SMTP relay down")

    with pytest.raises(OSError):
        escalate_due(site, store, now=t + H(0.26), notify=broken)
    done = escalate_due(site, store, now=t + H(0.26), notify=deliver)
    assert [(d["kind"], d["targets"], d["role"]) for d in done] == [
        ("escalated", ["omar"], "plant accountable")
    ]
    assert [p.targets for p in pages] == [("anna", "pool-duty"), ("omar",)]
    # omar acknowledges: no further steps
    acked = ack_alert(site, store, aid, "omar", "resetting the pump", now=t + H(0.3))
    assert acked["acked_by"] == "omar" and acked["acked_at"] == "2026-03-01T00:18:00Z"
    assert escalate_due(site, store, now=t + H(3), notify=deliver) == []
    with pytest.raises(MonitoringError, match="already acknowledged by omar"):
        ack_alert(site, store, aid, "anna", now=t + H(0.4))
    with pytest.raises(MonitoringError, match="alert 999: no such alert"):
        ack_alert(site, store, 999, "anna", now=t)
    with pytest.raises(MonitoringError, match="ALERT_ID"):
        ack_alert(site, store, "x7", "anna", now=t)
    with pytest.raises(MonitoringError, match="--by"):
        ack_alert(site, store, aid, " ", now=t)
    add_incident_note(site, store, int(inc.id or 0), "anna", "bearing worn", now=t + H(0.5))
    shown = show_incident(site, store, int(inc.id or 0), now=t + H(1))
    assert [(e["kind"], e["actor"]) for e in shown["timeline"]] == [
        ("fired", None),
        ("notified", "heatreuse"),
        ("escalated", "heatreuse"),
        ("acked", "omar"),
        ("note", "anna"),
    ]
    assert shown["timeline"][-1]["detail"] == {"text": "bearing worn"}
    assert shown["acked_by"] == "omar"
    audit = store.list_audit(site.id)
    assert [(x.action, x.actor, x.target) for x in audit] == [
        ("escalation.step", "heatreuse", f"incident {inc.id}"),
        ("escalation.step", "heatreuse", f"incident {inc.id}"),
        ("alert.ack", "omar", f"alert {aid}"),
    ]
    assert audit[1].detail["targets"] == ["omar"] and audit[2].reason == "resetting the pump"


def test_report_section_lists_incidents_and_actions(site: Site, store: Store) -> None:
    start, end = pd.Timestamp("2026-03-01T00:00Z"), pd.Timestamp("2026-04-01T00:00Z")
    alerts, incidents, actions, note = report_section(site, store, start, end)
    assert alerts is None and "has not run" in note  # never invented
    store.set_detect_state(site.id, (pd.Timestamp("2026-03-20").value // 1000), "[]")
    feed = Feed(site, store)
    pump = labels("command_fault", "pump.p-secondary")
    for day in (1, 5, 9):
        feed.fire(DAY0 + pd.Timedelta(days=day), pump)
        feed.resolve(DAY0 + pd.Timedelta(days=day) + H(1), pump)
    alerts, incidents, actions, note = report_section(site, store, start, end)
    assert alerts == {"command_fault": 3}
    assert len(incidents) == 2 and incidents[0]["impact"]["unknown_min"] >= 0
    assert [a["rule"] for a in actions] == ["command_fault"]
    assert "until 2026-03-20T00:01:00Z" in note and "not evaluated yet" in note
    with pytest.raises(HeatreuseError):
        show_incident(site, store, 12345)
