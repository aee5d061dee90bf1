"""Use case: maintenance records, what is due, and drill records (evidence).

The schedule is the site's own ``maintenance_schedule`` or its template's
(:func:`heatreuse.site.template.maintenance_schedule`): tasks with an id, what is done,
the longest interval between two executions [d] and the standard that sets it (heat
meter re-verification after MessEV / MID, pump and heat-exchanger service after VDMA
24186-2, sensor checks after EN 1434-6, water quality after VDI 2035).

* :func:`add_record` stores a task done (who, when, what was found) and appends an
  ``audit`` row (``maintenance.done``) that ``heatreuse ledger update`` folds into the
  signed ledger.
* :func:`due_tasks`: per task the last record and the next due date (last done +
  interval). A task never recorded is ``no_record`` (due counted from the site's
  commissioning date when it has one, else due now): a missing record never reads as
  done. Alerts bring a task forward (:data:`ALERT_TASKS`): an alert of a linked rule
  that started after the task was last done (fouling after the last cleaning) makes the
  task due now, with the alert named.
* :func:`record_drill` keeps a drill's result as evidence (``drill --record``), with an
  ``audit`` row (``drill.record``); :func:`drill_status` says whether the quarterly drill
  is due (none recorded, or the last one older than :data:`DRILL_INTERVAL_D` days).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from heatreuse.errors import MaintenanceError
from heatreuse.site import Site
from heatreuse.site.model import MaintenanceTask
from heatreuse.site.template import maintenance_schedule
from heatreuse.store import AuditRecord, DrillRecord, MaintenanceRecord, Store

__all__ = [
    "ALERT_TASKS",
    "DRILL_INTERVAL_D",
    "DRILL_TASK_ID",
    "DrillStatus",
    "TaskDue",
    "add_record",
    "drill_status",
    "due_tasks",
    "list_records",
    "record_dict",
    "record_drill",
    "schedule",
]

#: Longest time between two recorded drills before the quarterly drill is due [d].
DRILL_INTERVAL_D = 92
#: The schedule's task id that a recorded drill also counts for (the templates' ``drill``).
DRILL_TASK_ID = "drill"
#: Fault rule -> the schedule's task ids that an alert of the rule makes due now.
ALERT_TASKS: dict[str, tuple[str, ...]] = {
    "hx_fouling": ("hx-cleaning",),
    "pump_degradation": ("pump-inspection",),
    "sensor_drift": ("sensor-check",),
    "meter_balance": ("sensor-check", "meter-reverification"),
}
#: ``due_tasks`` statuses, most urgent first.
STATUSES = ("overdue", "alert", "no_record", "due", "ok")


def _ts(us: int) -> pd.Timestamp:
    return pd.Timestamp(int(us), unit="us", tz="UTC")


def _us(t: pd.Timestamp) -> int:
    return int(pd.Timestamp(t).tz_convert("UTC").value // 1000)


def _iso(us: int | None) -> str | None:
    return None if us is None else _ts(us).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now(now: dt.datetime | pd.Timestamp | None) -> pd.Timestamp:
    ts = pd.Timestamp(now if now is not None else dt.datetime.now(dt.UTC))
    if ts.tzinfo is None:
        raise MaintenanceError(f"now: expected a tz-aware instant, got {now!r}")
    return ts.tz_convert("UTC")


def _when(value: str | dt.datetime | pd.Timestamp | None, what: str, now: pd.Timestamp) -> int:
    """A time given on the command line (date = 00:00 UTC, date-time with offset) [µs]."""
    if value is None:
        return _us(now)
    if isinstance(value, str):
        from heatreuse.errors import TwinError
        from heatreuse.services.twin import parse_time_utc

        try:
            ts = parse_time_utc(value, what)
        except TwinError as exc:
            raise MaintenanceError(str(exc)) from None
    else:
        ts = _now(value)
    if ts > now + pd.Timedelta(minutes=5):
        raise MaintenanceError(
            f"{what}: {ts.isoformat()} is in the future (now {now.floor('s').isoformat()}); "
            "record work when it is done"
        )
    return _us(ts)


def _name(text: str, what: str) -> str:
    name = text.strip()
    if not name:
        raise MaintenanceError(f"{what}: expected a name (who did it); got an empty one")
    return name


def schedule(site: Site) -> list[MaintenanceTask]:
    """The site's maintenance schedule (its own, else its template's; may be empty)."""
    return maintenance_schedule(site)


def _schedule_source(site: Site) -> str:
    if site.maintenance_schedule is not None:
        return "the site file's maintenance_schedule"
    if site.template is not None:
        return f"template {site.template.name}"
    return "none"


def _task(site: Site, task_id: str) -> MaintenanceTask:
    tasks = schedule(site)
    for t in tasks:
        if t.id == task_id:
            return t
    if not tasks:
        raise MaintenanceError(
            f"site {site.id!r}: no maintenance schedule (give `maintenance_schedule:` in the "
            "site file or a `template:` reference); cannot record task "
            f"{task_id!r}"
        )
    raise MaintenanceError(
        f"task {task_id!r}: not in the maintenance schedule of site {site.id!r} "
        f"({_schedule_source(site)}); expected one of {', '.join(t.id for t in tasks)}"
    )


def record_dict(r: MaintenanceRecord) -> dict[str, Any]:
    """JSON-ready form of a maintenance record (``maintenance list --json``)."""
    return {
        "id": r.id,
        "task": r.task_id,
        "done_at": _iso(r.done_at_us),
        "by": r.done_by,
        "note": r.note,
        "recorded_at": _iso(r.recorded_at_us),
    }


def add_record(
    site: Site,
    store: Store,
    task_id: str,
    *,
    by: str,
    note: str,
    done_at: str | dt.datetime | pd.Timestamp | None = None,
    now: dt.datetime | pd.Timestamp | None = None,
    address: str | None = None,
) -> dict[str, Any]:
    """Record a maintenance task done, with an audit row (who, what, when, why; from
    where: ``address``, the API's client address, when given).

    Parameters
    ----------
    task_id
        An id of the site's schedule (``pump-inspection``, ``hx-cleaning``, ...).
    by
        Who did the work.
    note
        What was done and found (the audit row's reason).
    done_at
        When the work was done (default ``now``); a date means 00:00 UTC.

    Raises
    ------
    MaintenanceError
        Unknown task, empty name or note, a time in the future or not a time.
    """
    now_ts = _now(now)
    task = _task(site, task_id.strip())
    who = _name(by, "--by")
    why = note.strip()
    if not why:
        raise MaintenanceError("--note: expected what was done and found; got an empty note")
    done_us = _when(done_at, "--at", now_ts)
    rec = MaintenanceRecord(
        site_id=site.id,
        task_id=task.id,
        done_at_us=done_us,
        done_by=who,
        note=why,
        recorded_at_us=_us(now_ts),
    )
    rid = store.add_maintenance_record(rec)
    store.append_audit(
        AuditRecord(
            site_id=site.id,
            at_us=_us(now_ts),
            actor=who,
            action="maintenance.done",
            target=f"maintenance {task.id}",
            reason=why,
            detail={
                "record_id": rid,
                "task": task.id,
                "what": task.task,
                "done_at": _iso(done_us),
                "interval_d": task.interval_d,
                "standard": task.standard,
                **({"address": address} if address is not None else {}),
            },
        )
    )
    return record_dict(MaintenanceRecord(**{**rec.__dict__, "id": rid}))


def list_records(site: Site, store: Store, task_id: str | None = None) -> list[dict[str, Any]]:
    """Maintenance records of the site (optionally one task), oldest work first."""
    if task_id is not None:
        _task(site, task_id)
    return [record_dict(r) for r in store.list_maintenance_records(site.id, task_id)]


@dataclass(frozen=True)
class TaskDue:
    """One task of the schedule and when it is due.

    ``status``: ``overdue`` (due date passed), ``alert`` (a linked alert started after
    the task was last done: due now), ``no_record`` (never recorded), ``due`` (due within
    the look-ahead), ``ok``.
    """

    task: MaintenanceTask
    status: str
    due_at: pd.Timestamp | None
    last_done_at: pd.Timestamp | None
    last_done_by: str | None
    reason: str
    alerts: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``maintenance due --json``)."""
        return {
            "task": self.task.id,
            "what": self.task.task,
            "interval_d": self.task.interval_d,
            "standard": self.task.standard,
            "status": self.status,
            "due_at": None if self.due_at is None else _iso(_us(self.due_at)),
            "last_done_at": None if self.last_done_at is None else _iso(_us(self.last_done_at)),
            "last_done_by": self.last_done_by,
            "reason": self.reason,
            "alerts": list(self.alerts),
        }


def _linked_alerts(
    store: Store, site: Site, now: pd.Timestamp
) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Task id -> [(started µs, alert)] of the linked rules' alerts started by ``now``."""
    out: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    now_us = _us(now)
    for a in store.list_alerts(site.id):
        tasks = ALERT_TASKS.get(a.rule, ())
        if not tasks or a.started_at_us is None or a.started_at_us > now_us:
            continue
        info = {
            "id": a.id,
            "rule": a.rule,
            "equipment": a.equipment,
            "state": a.state,
            "started_at": _iso(a.started_at_us),
            "resolved_at": _iso(a.resolved_at_us),
        }
        for t in tasks:
            out.setdefault(t, []).append((a.started_at_us, info))
    return out


def _drill_times(store: Store, site_id: str) -> list[int]:
    return [d.drilled_at_us for d in store.list_drill_records(site_id)]


def due_tasks(
    site: Site,
    store: Store,
    *,
    now: dt.datetime | pd.Timestamp | None = None,
    within_d: float = 30.0,
) -> list[TaskDue]:
    """Every task of the schedule with its status, most urgent first.

    Parameters
    ----------
    within_d
        Look-ahead [d]: a task due within it is ``due``.

    Raises
    ------
    MaintenanceError
        The site has no schedule (nothing can be said to be up to date).
    """
    now_ts = _now(now)
    tasks = schedule(site)
    if not tasks:
        raise MaintenanceError(
            f"site {site.id!r}: no maintenance schedule (give `maintenance_schedule:` in the "
            "site file or a `template:` reference); nothing can be reported as up to date"
        )
    if within_d < 0:
        raise MaintenanceError(f"--within: expected days >= 0; got {within_d}")
    records = store.list_maintenance_records(site.id)
    alerts = _linked_alerts(store, site, now_ts)
    drills = _drill_times(store, site.id)
    commissioned = site.site.commissioning_date
    out: list[TaskDue] = []
    for task in tasks:
        done = [r for r in records if r.task_id == task.id and r.done_at_us <= _us(now_ts)]
        last = done[-1] if done else None
        last_us = last.done_at_us if last is not None else None
        last_by = last.done_by if last is not None else None
        if task.id == DRILL_TASK_ID:
            drilled = [d for d in drills if d <= _us(now_ts)]
            if drilled and (last_us is None or drilled[-1] > last_us):
                last_us, last_by = drilled[-1], "drill --record"
        interval = pd.Timedelta(days=float(task.interval_d))
        linked = [
            info
            for started, info in alerts.get(task.id, [])
            if last_us is None or started > last_us
        ]
        if last_us is not None:
            due = _ts(last_us) + interval
            base = f"last done {_iso(last_us)} by {last_by}; due {task.interval_d:g} d later"
        elif commissioned is not None:
            due = pd.Timestamp(commissioned).tz_localize("UTC") + interval
            base = (
                f"no record; counted from the commissioning date {commissioned.isoformat()}"
                f" + {task.interval_d:g} d"
            )
        else:
            due = None
            base = "no record and no commissioning date: due now"
        if due is not None and due < now_ts:
            status = "overdue"
            reason = f"{base}; overdue by {(now_ts - due).days} d"
        elif linked:
            status = "alert"
            names = ", ".join(f"{a['rule']} alert {a['id']} ({a['started_at']})" for a in linked)
            reason = f"due now: {names} since it was last done; {base}"
        elif last_us is None:
            status = "no_record"
            reason = base
        elif due is not None and due <= now_ts + pd.Timedelta(days=within_d):
            status = "due"
            reason = f"{base}; due in {(due - now_ts).days} d"
        else:
            status = "ok"
            reason = base
        if linked and status == "overdue":
            reason += "; linked alerts: " + ", ".join(f"{a['rule']} {a['id']}" for a in linked)
        out.append(
            TaskDue(
                task=task,
                status=status,
                due_at=due,
                last_done_at=None if last_us is None else _ts(last_us),
                last_done_by=last_by,
                reason=reason,
                alerts=tuple(linked),
            )
        )
    rank = {s: i for i, s in enumerate(STATUSES)}
    return sorted(out, key=lambda d: (rank[d.status], d.due_at or now_ts))


# --------------------------------------------------------------------------- drills
def drill_evidence(reports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A compact summary of drill reports (``drill.json``) kept as evidence."""
    keep = ("scenarios", "verdict", "window", "comparison_span", "supply", "out_of_band_min")
    return {"drills": [{k: r[k] for k in keep if k in r} for r in reports]}


def record_drill(
    site: Site,
    store: Store,
    *,
    verdict: str,
    summary: str,
    evidence: Mapping[str, Any],
    by: str,
    now: dt.datetime | pd.Timestamp | None = None,
) -> dict[str, Any]:
    """Keep a drill's result as evidence, with an audit row (``drill.record``).

    The drill counts as done at ``now`` (when it was run and recorded).
    """
    now_ts = _now(now)
    who = _name(by, "--by")
    rec = DrillRecord(
        site_id=site.id,
        drilled_at_us=_us(now_ts),
        recorded_by=who,
        verdict=verdict,
        summary=summary,
        evidence=dict(evidence),
        recorded_at_us=_us(now_ts),
    )
    rid = store.add_drill_record(rec)
    store.append_audit(
        AuditRecord(
            site_id=site.id,
            at_us=_us(now_ts),
            actor=who,
            action="drill.record",
            target=f"drill {rid}",
            reason=summary,
            detail={"record_id": rid, "verdict": verdict},
        )
    )
    return {"id": rid, "drilled_at": _iso(rec.drilled_at_us), "verdict": verdict}


@dataclass(frozen=True)
class DrillStatus:
    """Whether the quarterly drill is due: ``last_at`` None when none is recorded."""

    due: bool
    last_at: pd.Timestamp | None
    last_verdict: str | None
    age_d: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "due": self.due,
            "last_at": None if self.last_at is None else _iso(_us(self.last_at)),
            "last_verdict": self.last_verdict,
            "age_d": None if self.age_d is None else round(self.age_d, 1),
            "interval_d": DRILL_INTERVAL_D,
            "reason": self.reason,
        }


def drill_status(
    site: Site, store: Store, *, now: dt.datetime | pd.Timestamp | None = None
) -> DrillStatus:
    """The quarterly drill: due when none is recorded or the last is older than 92 d."""
    now_ts = _now(now)
    drills = [d for d in store.list_drill_records(site.id) if d.drilled_at_us <= _us(now_ts)]
    if not drills:
        return DrillStatus(
            True, None, None, None, "no drill recorded (`heatreuse drill ... --record`): due now"
        )
    last = drills[-1]
    at = _ts(last.drilled_at_us)
    age_d = (now_ts - at) / pd.Timedelta(days=1)
    due = age_d > DRILL_INTERVAL_D
    reason = f"last drill {_iso(last.drilled_at_us)} ({last.verdict}), {age_d:.0f} d ago; " + (
        f"older than {DRILL_INTERVAL_D} d: due now"
        if due
        else f"next due by {_iso(_us(at + pd.Timedelta(days=DRILL_INTERVAL_D)))}"
    )
    return DrillStatus(due, at, last.verdict, age_d, reason)
