"""Use case: the weekly operations review (``heatreuse review weekly``).

One short pack per ISO week (Monday..Sunday in the site's time zone), written as Markdown,
HTML and PDF from one list of report blocks (:mod:`heatreuse.ledger.report`). Every
figure comes from the function that computes it elsewhere:

* heat delivery against the SLA for the week, the month to date and the contract year
  to date: :func:`heatreuse.services.sla.sla_report` (a sealed period's figures are the
  seal's);
* control stability: per minute of the week the spread of the SLA's measured point and
  the number of pump status changes (1-minute rollups), and the control evidence of the
  comparison with the model;
* alerts, incidents and corrective actions:
  :func:`heatreuse.services.monitoring.report_section`; recurring issues: the same rule
  on the same equipment firing twice or more in the 28 days to the week's end;
* maintenance due and overdue and the quarterly drill:
  :mod:`heatreuse.services.maintenance`;
* measured vs model: :func:`heatreuse.services.compare.compare_period` over the week;
* changes (design, setpoints, silences, acks, maintenance) from the audit trail;
* the coming week: announced maintenance windows, tasks falling due, the weather from a
  file when given.

A figure that cannot be computed says why ("not available: ..."); nothing missing reads
as healthy.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heatreuse.errors import HeatreuseError, MaintenanceError
from heatreuse.ledger.report import Block, Cards, Heading, Table, Text
from heatreuse.site import Site
from heatreuse.store import Store

__all__ = ["WeeklyReview", "parse_week", "weekly_review", "write_weekly"]

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
#: Days back from the week's end in which a repeated (rule, equipment) is recurring.
RECURRING_WINDOW_D = 28


def parse_week(text: str) -> tuple[dt.date, dt.date]:
    """``YYYY-Www`` (ISO 8601 week) -> (Monday, Sunday).

    Raises
    ------
    MaintenanceError
        Not of that form, or no such week.
    """
    m = _WEEK.match(text.strip())
    if not m:
        raise MaintenanceError(
            f"--week: expected an ISO week YYYY-Www (e.g. 2026-W03); got {text!r}"
        )
    try:
        monday = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
    except ValueError as exc:
        raise MaintenanceError(f"--week: {text!r} is not a week ({exc})") from None
    return monday, monday + dt.timedelta(days=6)


@dataclass(frozen=True)
class WeeklyReview:
    """The review: its label, blocks (for HTML and PDF) and the figures as data."""

    site_id: str
    week: str
    start: pd.Timestamp
    end: pd.Timestamp
    blocks: tuple[Block, ...]
    data: dict[str, Any]


def _midnight(day: dt.date, tz: str) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize(tz).tz_convert("UTC")


def _f(value: Any, digits: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "unknown"
    return f"{value:,.{digits}f}{(' ' + unit) if unit else ''}"


def _pct(x: float | None) -> str:
    return "unknown" if x is None else f"{100 * x:.2f} %"


def _sla_row(label: str, rep: Any) -> dict[str, Any]:
    heat = [d.heat_kwh for d in rep.daily_heat]
    known = [h for h in heat if h is not None]
    return {
        "period": label,
        "label": rep.period_label,
        "attainment_fraction": rep.attainment_fraction,
        "target_fraction": rep.target_fraction,
        "verdict": rep.verdict,
        "data_coverage_fraction": rep.data_coverage_fraction,
        "bad_min": rep.bad_min,
        "unknown_min": rep.unknown_min,
        "interruptions": len(rep.interruptions),
        "heat_delivered_kwh": sum(known) if known and len(known) == len(heat) else None,
        "heat_days_unknown": len(heat) - len(known),
        "sealed": rep.sealed is not None,
    }


def _sla_section(
    site: Site, store: Store, monday: dt.date, sunday: dt.date, until: pd.Timestamp
) -> tuple[list[Block], list[dict[str, Any]]]:
    from heatreuse.services.sla import contract_year_containing, sla_report
    from heatreuse.sla import SlaDefinition

    blocks: list[Block] = [Heading("Heat delivery against the SLA")]
    rows: list[dict[str, Any]] = []
    try:
        defn = SlaDefinition.from_site(site)
        cy_first, _ = contract_year_containing(defn, sunday)
        asks = [
            ("week", f"{monday.isoformat()}..{sunday.isoformat()}"),
            ("month to date", f"{sunday.year}-{sunday.month:02d}"),
            ("contract year to date", str(cy_first.year)),
        ]
        for label, period in asks:
            rep = sla_report(site, period=period, now=until.to_pydatetime(), store=store)[0]
            rows.append(_sla_row(label, rep))
    except HeatreuseError as exc:
        blocks.append(Text(f"Not available: {exc}", "missing"))
        return blocks, rows
    blocks.append(
        Table(
            (
                "period",
                "attainment",
                "target",
                "verdict",
                "data coverage",
                "out of band [min]",
                "no data [min]",
                "interruptions",
                "heat delivered [kWh]",
            ),
            tuple(
                (
                    f"{r['period']} ({r['label']})" + (" sealed" if r["sealed"] else ""),
                    _pct(r["attainment_fraction"]),
                    _pct(r["target_fraction"]),
                    r["verdict"],
                    _pct(r["data_coverage_fraction"]),
                    str(r["bad_min"]),
                    str(r["unknown_min"]),
                    str(r["interruptions"]),
                    _f(r["heat_delivered_kwh"])
                    + (f" ({r['heat_days_unknown']} d unknown)" if r["heat_days_unknown"] else ""),
                )
                for r in rows
            ),
        )
    )
    blocks.append(
        Text(
            f"Evaluated until {until.isoformat()}; a verdict of unknown means the readings "
            "do not cover enough minutes to say the SLA was met.",
            "sub",
        )
    )
    return blocks, rows


def _stability(
    site: Site, store: Store, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[list[Block], dict[str, Any]]:
    """Supply temperature spread and pump status changes per minute of the week."""
    from heatreuse.sla import SlaDefinition

    point = SlaDefinition.from_site(site).measured_point
    pumps = [f"pump.{p.id}.status" for p in site.plant.pumps]
    stats = store.read_minute_stats(site.id, [point, *pumps], start, end)
    minutes = int((end - start) / pd.Timedelta(minutes=1))
    out: dict[str, Any] = {"measured_point": point, "minutes_in_week": minutes}
    rows: list[tuple[str, ...]] = []
    sup = stats[stats["point_id"] == point]["mean"]
    out["supply_minutes"] = int(sup.size)
    out["supply_std_k"] = float(sup.std()) if sup.size > 1 else None
    out["supply_mean_c"] = float(sup.mean()) if sup.size else None
    rows.append(
        (
            point,
            f"{sup.size} of {minutes}",
            f"mean {_f(out['supply_mean_c'], 2, 'C')}, standard deviation "
            f"{_f(out['supply_std_k'], 2, 'K')}",
        )
    )
    out["pump_switches"] = {}
    for p in pumps:
        s = stats[stats["point_id"] == p]["mean"].round()
        changes = int((s.diff().fillna(0) != 0).sum()) if s.size else None
        out["pump_switches"][p] = changes
        rows.append(
            (
                p,
                f"{s.size} of {minutes}",
                "no data" if changes is None else f"{changes} status changes",
            )
        )
    blocks: list[Block] = [
        Heading("Control stability"),
        Table(("point", "minutes with data", "figure"), tuple(rows)),
        Text(
            "From the 1-minute means of the week. A pump that changes state many times a day, "
            "or a supply temperature that swings, points to control tuning (hunting, "
            "flapping); minutes without data are counted, not assumed steady.",
            "sub",
        ),
    ]
    return blocks, out


def _alerts_section(
    site: Site, store: Store, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[list[Block], dict[str, Any]]:
    from heatreuse.services.monitoring import action_dict, report_section

    counts, incidents, actions, note = report_section(site, store, start, end)
    blocks: list[Block] = [Heading("Alerts, incidents and their owners"), Text(note, "sub")]
    if counts is None:
        blocks.append(Text("Not available: fault detection has not run on this site.", "missing"))
    elif counts:
        blocks.append(
            Table(
                ("rule", "alerts started this week"),
                tuple((k, str(v)) for k, v in sorted(counts.items())),
            )
        )
    else:
        blocks.append(Text("No warning or critical alert started this week."))
    if incidents:
        blocks.append(
            Table(
                ("incident", "severity", "status", "opened", "acknowledged by", "rules"),
                tuple(
                    (
                        f"{i['id']}: {i['title']}",
                        i["severity"],
                        i["status"],
                        str(i["opened_at"]),
                        i["acked_by"] or "nobody yet",
                        ", ".join(i["rules"]),
                    )
                    for i in incidents
                ),
            )
        )
    else:
        blocks.append(Text("No incident open during the week."))
    open_actions = [action_dict(a) for a in store.list_actions(site.id, status="open")]
    blocks.append(Heading("Open corrective actions and recurring issues", 3))
    if open_actions:
        blocks.append(
            Table(
                ("action", "rule", "equipment", "owner", "opened", "due", "alerts"),
                tuple(
                    (
                        f"{a['id']}: {a['summary']}",
                        a["rule"],
                        a["equipment"],
                        ", ".join(a["owner"]) or "no owner",
                        str(a["opened_at"]),
                        str(a["due_at"]),
                        str(len(a["alert_ids"])),
                    )
                    for a in open_actions
                ),
            )
        )
    else:
        blocks.append(Text("No corrective action open."))
    since = end - pd.Timedelta(days=RECURRING_WINDOW_D)
    since_us, end_us = int(since.value // 1000), int(end.value // 1000)
    seen: dict[tuple[str, str], int] = {}
    for a in store.list_alerts(site.id, start=since, end=end):
        if a.started_at_us is not None and since_us <= a.started_at_us < end_us:
            seen[(a.rule, a.equipment)] = seen.get((a.rule, a.equipment), 0) + 1
    recurring = {k: v for k, v in seen.items() if v >= 2}
    acted = {(a["rule"], a["equipment"]) for a in open_actions}
    if recurring:
        blocks.append(
            Table(
                ("rule", "equipment", f"alerts in {RECURRING_WINDOW_D} d", "corrective action"),
                tuple(
                    (r, e or "-", str(n), "open" if (r, e) in acted else "none open")
                    for (r, e), n in sorted(recurring.items(), key=lambda kv: -kv[1])
                ),
            )
        )
    else:
        blocks.append(Text(f"No rule fired twice on the same equipment in {RECURRING_WINDOW_D} d."))
    return blocks, {
        "alerts_by_rule": counts,
        "incidents": incidents,
        "actions_in_week": actions,
        "open_actions": open_actions,
        "recurring": [
            {"rule": r, "equipment": e, "alerts": n} for (r, e), n in sorted(recurring.items())
        ],
    }


def _maintenance_section(
    site: Site, store: Store, until: pd.Timestamp
) -> tuple[list[Block], dict[str, Any]]:
    from heatreuse.services.maintenance import drill_status, due_tasks

    blocks: list[Block] = [Heading("Maintenance due and overdue")]
    data: dict[str, Any] = {}
    try:
        tasks = due_tasks(site, store, now=until, within_d=7)
    except MaintenanceError as exc:
        blocks.append(Text(f"Not available: {exc}", "missing"))
        data["tasks"] = None
    else:
        data["tasks"] = [t.to_dict() for t in tasks]
        shown = [t for t in data["tasks"] if t["status"] != "ok"]
        if shown:
            blocks.append(
                Table(
                    ("task", "status", "due", "why"),
                    tuple(
                        (t["task"], t["status"], t["due_at"] or "now", t["reason"]) for t in shown
                    ),
                )
            )
        ok = len(data["tasks"]) - len(shown)
        blocks.append(
            Text(f"{ok} of {len(data['tasks'])} tasks recorded and not due within 7 d.", "sub")
        )
    drill = drill_status(site, store, now=until)
    data["drill"] = drill.to_dict()
    blocks.append(Heading("Quarterly drill", 3))
    blocks.append(Text(drill.reason, "note" if drill.due else "body"))
    return blocks, data


def _compare_section(
    site: Site,
    store: Store,
    monday: dt.date,
    sunday: dt.date,
    weather: str | None,
    until: pd.Timestamp,
) -> tuple[list[Block], dict[str, Any] | None]:
    from heatreuse.services.compare import compare_period

    blocks: list[Block] = [Heading("Measured vs model")]
    try:
        result = compare_period(
            site,
            f"{monday.isoformat()}..{sunday.isoformat()}",
            store=store,
            weather=weather,
            now=until.to_pydatetime(),
        )
    except HeatreuseError as exc:
        blocks.append(Text(f"Not available: {exc}", "missing"))
        return blocks, None
    d = result.to_dict()
    t = d["totals"]
    rows = [
        (name, _f(t.get(m)), _f(t.get(r)))
        for name, m, r in (
            ("heat delivered [kWh]", "heat_delivered_measured_kwh", "heat_delivered_replay_kwh"),
            ("backup heat [kWh]", "backup_heat_measured_kwh", "backup_heat_replay_kwh"),
            ("heat rejected [kWh]", "heat_rejected_measured_kwh", "heat_rejected_replay_kwh"),
        )
    ]
    blocks.append(Table(("quantity", "measured", "model replay"), tuple(rows)))
    if d["attribution"]:
        blocks.append(
            Table(
                ("cause", "heat [kWh]", "evidence"),
                tuple(
                    (a["cause"], _f(a.get("heat_kwh")), " ".join(a.get("evidence") or []))
                    for a in d["attribution"]
                ),
            )
        )
    for n in d["notes"]:
        blocks.append(Text(n, "sub"))
    return blocks, d


def _audit_section(
    site: Site, store: Store, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[list[Block], list[dict[str, Any]]]:
    lo, hi = int(start.value // 1000), int(end.value // 1000)
    rows: list[dict[str, Any]] = [
        {
            "id": r.id,
            "at": pd.Timestamp(r.at_us, unit="us", tz="UTC").strftime("%Y-%m-%dT%H:%MZ"),
            "actor": r.actor,
            "action": r.action,
            "target": r.target,
            "reason": r.reason,
        }
        for r in store.list_audit(site.id)
        if lo <= r.at_us < hi
    ]
    blocks: list[Block] = [Heading("Changes and records (audit trail)")]
    if rows:
        blocks.append(
            Table(
                ("when", "who", "what", "on", "why"),
                tuple(
                    tuple(str(r[k]) for k in ("at", "actor", "action", "target", "reason"))
                    for r in rows
                ),
            )
        )
        changes = [
            r for r in rows if any(k in r["action"] for k in ("setpoint", "design", "site."))
        ]
        if changes:
            blocks.append(Text(f"{len(changes)} design or setpoint change(s) this week.", "note"))
    else:
        blocks.append(
            Text("No audit entry this week (no ack, silence, setpoint, design change or record).")
        )
    return blocks, rows


def _coming_week(
    site: Site, sunday: dt.date, tasks: list[dict[str, Any]] | None, weather: str | None
) -> tuple[list[Block], dict[str, Any]]:
    tz = site.location.timezone
    start = _midnight(sunday + dt.timedelta(days=1), tz)
    end = _midnight(sunday + dt.timedelta(days=8), tz)
    blocks: list[Block] = [Heading("The coming week")]
    windows = [
        w
        for w in site.contract.sla.maintenance.windows
        if pd.Timestamp(w.start) < end and pd.Timestamp(w.end) > start
    ]
    data: dict[str, Any] = {
        "maintenance_windows": [
            {"start": w.start.isoformat(), "end": w.end.isoformat(), "description": w.description}
            for w in windows
        ]
    }
    if windows:
        blocks.append(
            Table(
                ("planned maintenance", "from", "to"),
                tuple(
                    (w.description or "-", w.start.isoformat(), w.end.isoformat()) for w in windows
                ),
            )
        )
    else:
        blocks.append(Text("No maintenance window announced in the site file for the coming week."))
    if tasks is not None:
        falling = [
            t
            for t in tasks
            if t["due_at"] and pd.Timestamp(t["due_at"]) < end and t["status"] == "due"
        ]
        data["tasks_falling_due"] = [t["task"] for t in falling]
        if falling:
            blocks.append(
                Text("Falling due: " + ", ".join(f"{t['task']} ({t['due_at']})" for t in falling))
            )
    util = site.compute.utilisation
    blocks.append(
        Text(
            f"Workload: the site file plans IT utilisation as `{util.kind}`; it declares no "
            "workload change for the coming week."
        )
    )
    data["weather"] = None
    if weather:
        try:
            from heatreuse.weather import load_weather

            wx = load_weather(weather, year=start.year)
            col = next(c for c in wx.columns if c.startswith("temp_air") or c.endswith("_temp_c"))
            part = wx.loc[(wx.index >= start) & (wx.index < end), col]
            if part.empty:
                raise MaintenanceError(
                    f"--weather {weather!r}: no data for {start.date()} .. {end.date()}"
                )
            daily = part.groupby(pd.DatetimeIndex(part.index).tz_convert(tz).date).mean()
            data["weather"] = {str(k): round(float(v), 1) for k, v in daily.items()}
            blocks.append(
                Table(
                    ("day", f"mean outdoor temperature [C] ({col})"),
                    tuple((str(k), f"{v:.1f}") for k, v in daily.items()),
                )
            )
        except (HeatreuseError, StopIteration) as exc:
            blocks.append(
                Text(f"Weather not available: {exc or 'no air temperature column'}", "missing")
            )
    else:
        blocks.append(Text("No weather file given (`--weather`): no forecast shown.", "sub"))
    return blocks, data


def weekly_review(
    site: Site,
    store: Store,
    week: str,
    *,
    weather: str | None = None,
    now: dt.datetime | pd.Timestamp | None = None,
) -> WeeklyReview:
    """Build the weekly operations review of ``week`` (``YYYY-Www``) from the store."""
    monday, sunday = parse_week(week)
    tz = site.location.timezone
    start, end = _midnight(monday, tz), _midnight(sunday + dt.timedelta(days=1), tz)
    now_ts = pd.Timestamp(now if now is not None else dt.datetime.now(dt.UTC)).tz_convert("UTC")
    if now_ts <= start:
        raise MaintenanceError(f"--week {week}: starts {start.isoformat()}, not in the past yet")
    until = min(now_ts.floor("min"), end)
    title = f"Weekly operations review: {site.site.name} ({site.id}), {week}"
    blocks: list[Block] = [
        Heading(title, 1),
        Text(
            f"{monday.isoformat()} .. {sunday.isoformat()} ({tz}); evaluated until "
            f"{until.isoformat()}.",
            "sub",
        ),
    ]
    sla_blocks, sla_rows = _sla_section(site, store, monday, sunday, until)
    stab_blocks, stab = _stability(site, store, start, until)
    alert_blocks, alerts = _alerts_section(site, store, start, until)
    mnt_blocks, mnt = _maintenance_section(site, store, until)
    cmp_blocks, cmp = _compare_section(site, store, monday, sunday, weather, until)
    aud_blocks, audit = _audit_section(site, store, start, until)
    next_blocks, coming = _coming_week(site, sunday, mnt["tasks"], weather)
    week_sla = sla_rows[0] if sla_rows else None
    overdue = None if mnt["tasks"] is None else sum(t["status"] == "overdue" for t in mnt["tasks"])
    blocks.append(
        Cards(
            (
                (
                    "SLA this week",
                    "unknown" if week_sla is None else _pct(week_sla["attainment_fraction"]),
                    "verdict " + ("not available" if week_sla is None else week_sla["verdict"]),
                ),
                (
                    "alerts started",
                    "unknown"
                    if alerts["alerts_by_rule"] is None
                    else str(sum(alerts["alerts_by_rule"].values())),
                    f"{len(alerts['open_actions'])} corrective action(s) open",
                ),
                (
                    "maintenance overdue",
                    "unknown" if overdue is None else str(overdue),
                    "quarterly drill " + ("due" if mnt["drill"]["due"] else "done"),
                ),
            )
        )
    )
    blocks += (
        sla_blocks + stab_blocks + alert_blocks + mnt_blocks + cmp_blocks + aud_blocks + next_blocks
    )
    data = {
        "site_id": site.id,
        "week": week,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "evaluated_until": until.isoformat(),
        "sla": sla_rows,
        "control_stability": stab,
        **alerts,
        "maintenance": mnt["tasks"],
        "drill": mnt["drill"],
        "measured_vs_model": None
        if cmp is None
        else {"totals": cmp["totals"], "attribution": cmp["attribution"]},
        "audit": audit,
        "coming_week": coming,
    }
    return WeeklyReview(site.id, week, start, end, tuple(blocks), data)


def review_markdown(review: WeeklyReview) -> str:
    """The review's blocks as Markdown (tables as pipe tables)."""
    out: list[str] = []

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    for b in review.blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Text):
            prefix = {"missing": "> **Not available.** ", "note": "> "}.get(b.kind, "")
            text = b.text.removeprefix("Not available: ") if b.kind == "missing" else b.text
            out.append(prefix + (f"*{text}*" if b.kind == "sub" else text))
        elif isinstance(b, Table):
            out.append("| " + " | ".join(cell(h) for h in b.headers) + " |")
            out.append("|" + "---|" * len(b.headers))
            out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in b.rows]
        elif isinstance(b, Cards):
            out += [f"- **{t}: {v}** ({s})" for t, v, s in b.cards]
        out.append("")
    return "\n".join(out)


def write_weekly(review: WeeklyReview, out_dir: str | Path) -> dict[str, Path]:
    """Write ``review_<site>_<week>.md``, ``.html``, ``.pdf`` and ``.json`` to ``out_dir``."""
    import json

    from heatreuse.ledger.report import render_blocks_html, write_blocks_pdf

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"review_{review.site_id}_{review.week}"
    paths = {k: stem.with_suffix(f".{k}") for k in ("md", "html", "pdf", "json")}
    title = f"{review.site_id} weekly review {review.week}"
    paths["md"].write_text(review_markdown(review), encoding="utf-8")
    paths["html"].write_text(render_blocks_html(title, review.blocks), encoding="utf-8")
    write_blocks_pdf(
        review.blocks,
        paths["pdf"],
        title=f"Weekly operations review {review.site_id} {review.week}",
        subject=f"site {review.site_id}, week {review.week}",
        footer=f"{review.site_id} · weekly review {review.week} · page ",
    )
    paths["json"].write_text(
        json.dumps(review.data, indent=2, default=str) + "\n", encoding="utf-8"
    )
    return paths
