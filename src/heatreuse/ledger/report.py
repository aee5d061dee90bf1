"""The monthly performance report: one self-contained HTML page and a PDF.

The page holds, for one month: heat delivered against the heat the customer
drew (delivered + backup), SLA attainment and interruptions (from
:mod:`heatreuse.sla`, passed in by the service), alert counts by cause (no
alerting subsystem exists yet: the page says so), energy flows (Sankey), the
KPIs, avoided CO2 with the method version and the uncertainty, and the signed
checkpoint (size, root, signature) that anchors every figure.

The HTML embeds plotly's JavaScript inline (``plotly.offline.get_plotlyjs``), so
it opens offline with no CDN. The PDF is drawn with matplotlib's PDF backend
(pure Python, no browser needed).

Every number comes from :func:`heatreuse.ledger.kpis.compute_kpis` /
:func:`heatreuse.ledger.kpis.period_totals`, i.e. from ledger entries that
``heatreuse verify`` can check.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from heatreuse.htmlpage import esc, figure_html, page_html
from heatreuse.ledger.kpis import Period

__all__ = ["MonthlyReportData", "daily_frame", "render_monthly_html", "write_monthly_pdf"]


@dataclass(frozen=True)
class MonthlyReportData:
    """Everything the monthly report shows (gathered by the service layer).

    Attributes
    ----------
    site_id, site_name
        The site.
    period
        The month (UTC).
    kpis
        Output of :func:`heatreuse.ledger.kpis.compute_kpis` for the month.
    daily
        Daily sums (:func:`daily_frame`), UTC-indexed, units in column names.
    sla
        SLA reports as dicts (``SlaReport.to_dict()``), or None when unavailable.
    sla_note
        Why the SLA section is empty, or notes about it.
    alerts
        Alert counts by cause (rule) of the period, or None when detection has not run.
    alerts_note
        Text shown in the alerts section (how far fault detection has run).
    checkpoint
        ``{"origin", "size", "root_hash_b64", "root_hash_hex", "signature_line",
        "note", "path", "vkey"}`` of the checkpoint anchoring the figures.
    method
        The method entry (``type: method``) used.
    generated_at
        When the report was made [UTC].
    incidents
        Incidents open in the period (``heatreuse.services.monitoring.report_section``):
        ``id``, ``status``, ``severity``, ``title``, ``opened_at``, ``resolved_at``,
        ``rules``, ``alerts``, ``acked_by`` and ``impact`` (SLA minutes ``bad_min``,
        ``unknown_min``, ``good_min`` or None).
    actions
        Corrective actions open in the period: ``id``, ``rule``, ``equipment``,
        ``owner``, ``status``, ``opened_at``, ``due_at``, ``summary``.
    """

    site_id: str
    site_name: str
    period: Period
    kpis: Mapping[str, Any]
    daily: pd.DataFrame
    sla: Sequence[Mapping[str, Any]] | None
    sla_note: str
    alerts: Mapping[str, int] | None
    alerts_note: str
    checkpoint: Mapping[str, Any] | None
    method: Mapping[str, Any] | None
    generated_at: dt.datetime
    warnings: tuple[str, ...] = field(default_factory=tuple)
    incidents: Sequence[Mapping[str, Any]] = ()
    actions: Sequence[Mapping[str, Any]] = ()


def daily_frame(frame: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Daily sums of an :func:`~heatreuse.ledger.kpis.intervals_frame` within ``period``.

    Columns: ``heat_delivered_metered_kwh``, ``heat_delivered_estimated_kwh``,
    ``backup_heat_kwh``, ``heat_demand_served_kwh`` (delivered + backup),
    ``heat_rejected_kwh``, ``it_electricity_kwh``, ``hours_missing_heat``.
    """
    days = pd.date_range(period.start, period.end, freq="D", inclusive="left")
    cols = [
        "heat_delivered_metered_kwh",
        "heat_delivered_estimated_kwh",
        "backup_heat_kwh",
        "heat_demand_served_kwh",
        "heat_rejected_kwh",
        "it_electricity_kwh",
        "hours_missing_heat",
    ]
    out = pd.DataFrame(0.0, index=days, columns=cols)
    if frame.empty:
        return out
    part = frame[(frame.index >= period.start) & (frame.index < period.end)]
    if part.empty:
        return out
    g = part.groupby(pd.DatetimeIndex(part.index).floor("D"))
    out.loc[:, "heat_delivered_metered_kwh"] = g["heat_delivered_metered_kwh"].sum()
    out.loc[:, "heat_delivered_estimated_kwh"] = g["heat_delivered_estimated_kwh"].sum()
    out.loc[:, "backup_heat_kwh"] = g["backup_heat_kwh"].sum(min_count=0)
    out.loc[:, "heat_rejected_kwh"] = g["heat_rejected_kwh"].sum(min_count=0)
    out.loc[:, "it_electricity_kwh"] = g["it_electricity_kwh"].sum(min_count=0)
    out.loc[:, "hours_missing_heat"] = g["heat_delivered_kwh"].apply(lambda s: s.isna().sum())
    out = out.fillna(0.0)
    out["heat_demand_served_kwh"] = (
        out["heat_delivered_metered_kwh"]
        + out["heat_delivered_estimated_kwh"]
        + out["backup_heat_kwh"]
    )
    return out


# --------------------------------------------------------------------------- formatting
def _fmt(value: Any, digits: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = f"{value:,.{digits}f}" if isinstance(value, int | float) else str(value)
    return f"{text} {unit}".strip()


def _mass(kg: Any) -> str:
    """A CO2 mass in kg below 1 t, else in t."""
    if kg is None or not math.isfinite(float(kg)):
        return "n/a"
    return _fmt(kg, 1, "kg") if abs(float(kg)) < 1000.0 else _fmt(float(kg) / 1000.0, 2, "t")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kpi_rows(kpis: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for name, label in (
        ("pue", "PUE (as is)"),
        ("pue_enefg", "PUE (EnEfG rule)"),
        ("erf", "ERF"),
        ("ere", "ERE"),
        ("ref", "REF"),
        ("cue", "CUE"),
        ("wue", "WUE"),
        ("cer", "CER"),
    ):
        k = kpis.get(name) or {}
        rows.append(
            [
                label,
                _fmt(k.get("value"), 3, k.get("unit", "")),
                k.get("formula", ""),
                k.get("note", ""),
            ]
        )
    return rows


def _quantity_rows(totals: Mapping[str, Any]) -> list[list[str]]:
    labels = {
        "it_electricity": "IT electricity",
        "cooling_electricity": "Cooling electricity",
        "pump_electricity": "Pump electricity",
        "other_electricity": "Other electricity",
        "heat_pump_electricity": "Heat pump electricity",
        "total_site_energy": "Total site energy",
        "heat_delivered": "Heat delivered",
        "heat_rejected": "Heat rejected",
        "backup_heat": "Backup heat",
        "displaced_fuel": "Displaced fuel",
    }
    rows = []
    q = totals.get("quantities", {})
    for key, label in labels.items():
        item = q.get(key)
        if not item:
            continue
        rows.append(
            [
                label,
                _fmt(item["metered_kwh"], 1, "kWh"),
                _fmt(item["estimated_kwh"], 1, "kWh"),
                str(item["hours_estimated"]),
                str(item["hours_missing"]),
            ]
        )
    return rows


def _sankey_links(totals: Mapping[str, Any]) -> tuple[list[str], list[tuple[int, int, float]]]:
    q = totals.get("quantities", {})

    def v(name: str) -> float:
        item = q.get(name) or {}
        x = item.get("kwh")
        return float(x) if x is not None and math.isfinite(float(x)) else 0.0

    nodes = [
        "Electricity in",  # 0
        "IT equipment",  # 1
        "Cooling",  # 2
        "Pumps",  # 3
        "Other",  # 4
        "Heat pump",  # 5
        "Heat delivered to customer",  # 6
        "Heat rejected (dry cooler)",  # 7
        "Losses / not recovered",  # 8
        "Backup boiler",  # 9
        "Customer heat use",  # 10
    ]
    it, hp = v("it_electricity"), v("heat_pump_electricity")
    delivered, rejected, backup = v("heat_delivered"), v("heat_rejected"), v("backup_heat")
    from_it = max(delivered - hp, 0.0)
    losses = max(it - from_it - rejected, 0.0)
    links = [
        (0, 1, it),
        (0, 2, v("cooling_electricity")),
        (0, 3, v("pump_electricity")),
        (0, 4, v("other_electricity")),
        (0, 5, hp),
        (1, 6, min(from_it, it)),
        (1, 7, min(rejected, it)),
        (1, 8, losses),
        (5, 6, hp),
        (6, 10, delivered),
        (9, 10, backup),
    ]
    return nodes, [(a, b, x) for a, b, x in links if x > 0]


# --------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#1d2530;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:0}h2{font-size:1.2rem;border-bottom:2px solid #dde3ea;
padding-bottom:.2rem;margin-top:2rem}.sub{color:#5b6775}
table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #dde3ea;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f6f9}.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5rem 1rem}
.missing{background:#fdecea;border-left:4px solid #d93025;padding:.5rem 1rem}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #dde3ea;border-radius:6px;
padding:.6rem 1rem;min-width:10rem}.card b{font-size:1.3rem;display:block}
code,pre{font-family:ui-monospace,Menlo,monospace;font-size:.8rem;word-break:break-all;
white-space:pre-wrap}
"""


def _plot_divs(data: MonthlyReportData) -> tuple[str, str]:
    import plotly.graph_objects as go

    d = data.daily
    x = [t.strftime("%Y-%m-%d") for t in d.index]
    fig = go.Figure()
    fig.add_bar(
        x=x,
        y=d["heat_delivered_metered_kwh"].round(3).tolist(),
        name="Heat delivered, metered [kWh]",
        marker_color="#d9480f",
    )
    fig.add_bar(
        x=x,
        y=d["heat_delivered_estimated_kwh"].round(3).tolist(),
        name="Heat delivered, estimated [kWh]",
        marker_color="#ffa94d",
    )
    fig.add_scatter(
        x=x,
        y=d["heat_demand_served_kwh"].round(3).tolist(),
        name="Customer heat use = delivered + backup [kWh]",
        mode="lines+markers",
        line={"color": "#1c7ed6"},
    )
    fig.update_layout(
        barmode="stack",
        height=380,
        margin={"l": 40, "r": 10, "t": 30, "b": 40},
        yaxis_title="kWh per day (UTC)",
        legend={"orientation": "h"},
    )
    nodes, links = _sankey_links(data.kpis["totals"])
    sankey = go.Figure(
        go.Sankey(
            node={"label": nodes, "pad": 15, "thickness": 16},
            link={
                "source": [a for a, _, _ in links],
                "target": [b for _, b, _ in links],
                "value": [round(v, 3) for _, _, v in links],
            },
        )
    )
    sankey.update_layout(
        height=420,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title="Energy flows of the month [kWh]",
    )
    return figure_html(fig, "heat-daily"), figure_html(sankey, "sankey")


def _sla_html(data: MonthlyReportData) -> str:
    if not data.sla:
        return f'<div class="missing">{esc(data.sla_note)}</div>'
    parts = []
    for rep in data.sla:
        att = rep.get("attainment_fraction")
        rows = [
            [
                "Period",
                f"{rep.get('period')} ({rep.get('period_kind')}"
                + (", binding" if rep.get("binding") else ", not binding")
                + ")",
            ],
            ["Attainment", "n/a" if att is None else f"{100 * att:.3f} %"],
            ["Target", f"{100 * float(rep.get('target_fraction', 0)):.2f} %"],
            [
                "Valid / good / bad / unknown minutes",
                f"{rep.get('valid_min')} / {rep.get('good_min')} / {rep.get('bad_min')} / "
                f"{rep.get('unknown_min')}",
            ],
            ["Error budget left", _fmt(rep.get("error_budget_left_min"), 0, "min")],
            ["Breaches", str(len(rep.get("breaches") or []))],
        ]
        parts.append(_table(["SLA", "value"], rows))
        inter = rep.get("interruptions") or []
        if inter:
            irows = [
                [i.get("start"), i.get("end"), _fmt(i.get("duration_min"), 0, "min")]
                for i in inter[:50]
            ]
            parts.append("<p>Interruptions</p>" + _table(["start", "end", "duration"], irows))
        else:
            parts.append("<p>No interruptions.</p>")
        br = rep.get("breaches") or []
        if br:
            brows = [
                [b.get("kind"), b.get("start"), b.get("end"), b.get("detail")] for b in br[:40]
            ]
            more = (
                f'<p class="sub">{len(br) - 40} more breaches not listed.</p>'
                if len(br) > 40
                else ""
            )
            parts.append(
                "<p>Breaches</p>" + _table(["kind", "start", "end", "detail"], brows) + more
            )
    if data.sla_note:
        parts.append(f'<p class="sub">{esc(data.sla_note)}</p>')
    return "".join(parts)


def _impact_text(impact: Mapping[str, Any] | None) -> str:
    if not impact:
        return "n/a"
    return (
        f"{impact['bad_min']} min out of band, {impact['unknown_min']} min without data, "
        f"{impact['good_min']} min in band"
    )


def _alerts_html(data: MonthlyReportData) -> str:
    if data.alerts is None:
        return f'<div class="missing">{esc(data.alerts_note)}</div>'
    parts = [f'<p class="sub">{esc(data.alerts_note)}</p>']
    if data.alerts:
        rows = [[c, str(n)] for c, n in sorted(data.alerts.items())]
        parts.append(_table(["alerts fired (warning or critical), by rule", "count"], rows))
    else:
        parts.append('<p class="sub">No alert of severity warning or critical fired.</p>')
    if data.incidents:
        rows = [
            [
                str(i["id"]),
                str(i["severity"]),
                f"{i['opened_at']} .. {i['resolved_at'] or 'open'}",
                str(i["title"]),
                ", ".join(i["rules"]),
                _impact_text(i.get("impact")),
                str(i["acked_by"] or "-"),
            ]
            for i in data.incidents
        ]
        parts.append(
            _table(
                ["incident", "severity", "open (UTC)", "title", "rules", "SLA impact", "acked by"],
                rows,
            )
        )
    else:
        parts.append('<p class="sub">No incident in the period.</p>')
    if data.actions:
        rows = [
            [
                str(a["id"]),
                str(a["status"]),
                f"{a['rule']} on {a['equipment'] or 'site'}",
                ", ".join(a["owner"]),
                str(a["opened_at"]),
                str(a["due_at"]),
                str(a["summary"]),
            ]
            for a in data.actions
        ]
        parts.append(
            _table(
                ["action", "status", "what", "owner", "opened", "due", "summary"],
                rows,
            )
        )
    else:
        parts.append('<p class="sub">No corrective action open in the period.</p>')
    return "\n".join(parts)


def _checkpoint_html(cp: Mapping[str, Any] | None) -> str:
    if not cp:
        return '<div class="missing">No signed checkpoint found for this ledger.</div>'
    rows = [
        ["Log origin", cp.get("origin")],
        ["Tree size (entries)", cp.get("size")],
        ["Root hash (base64)", cp.get("root_hash_b64")],
        ["Root hash (hex)", cp.get("root_hash_hex")],
        ["Signature line", cp.get("signature_line")],
        ["Verifier key", cp.get("vkey")],
        ["Checkpoint file", cp.get("path")],
    ]
    return (
        _table(["checkpoint", "value"], rows)
        + "<p>Check: <code>heatreuse ledger export SITE.yaml --out DIR</code> then "
        "<code>heatreuse verify DIR</code>; the export's checkpoint of this size must carry "
        "this root.</p><pre>" + esc(cp.get("note")) + "</pre>"
    )


def render_monthly_html(data: MonthlyReportData) -> str:
    """The monthly report as one self-contained HTML page (plotly JS inline, no CDN)."""
    k = data.kpis
    totals = k["totals"]
    q = totals.get("quantities", {})
    heat = q.get("heat_delivered", {})
    co2 = totals.get("avoided_co2", {})
    heat_div, sankey_div = _plot_divs(data)
    method_version = (data.method or {}).get("version") or ", ".join(k.get("method_versions", []))
    cards = [
        (
            "Heat delivered",
            _fmt(heat.get("kwh"), 0, "kWh"),
            f"metered {_fmt(heat.get('metered_kwh'), 0)} / estimated "
            f"{_fmt(heat.get('estimated_kwh'), 0)} kWh; ± "
            f"{_fmt(totals.get('heat_delivered_uncertainty_kwh'), 0)} kWh (MPE)",
        ),
        (
            "Avoided CO2",
            _mass(co2.get("kg")),
            f"± {_mass(co2.get('uncertainty_kg'))}; conservative "
            f"{_mass(co2.get('conservative_kg'))}",
        ),
        (
            "PUE",
            _fmt(k["kpis"]["pue"]["value"], 3),
            "EnEfG rule: " + _fmt(k["kpis"]["pue_enefg"]["value"], 3),
        ),
        (
            "ERF",
            _fmt(
                None if k["kpis"]["erf"]["value"] is None else 100 * k["kpis"]["erf"]["value"],
                1,
                "%",
            ),
            "ERE " + _fmt(k["kpis"]["ere"]["value"], 3),
        ),
    ]
    card_html = "".join(
        f'<div class="card">{esc(t)}<b>{esc(v)}</b><span class="sub">{esc(s)}</span></div>'
        for t, v, s in cards
    )
    modes = totals.get("site_mode_hours", {})
    mode_rows = [[m, str(modes.get(m, 0))] for m in ("normal", "degraded", "maintenance", "down")]
    enefg = k.get("enefg", {})
    enefg_rows = [
        [
            t["kpi"],
            f"{t['comparison']} {t['target']}",
            _fmt(t["value"], 3),
            t["status"],
            t["due_from"],
            t["note"],
        ]
        for t in enefg.get("targets", [])
    ]
    alerts = _alerts_html(data)
    ef_rows = []
    if data.method:
        ef_rows.append(["Method", method_version])
    warnings = "".join(f'<div class="note">{esc(w)}</div>' for w in data.warnings)
    co2_rows = [
        ["Avoided CO2 (central)", _fmt(co2.get("kg"), 1, "kg")],
        ["of which from metered hours", _fmt(co2.get("metered_kg"), 1, "kg")],
        ["of which from hours with estimates", _fmt(co2.get("estimated_kg"), 1, "kg")],
        ["Uncertainty (heat meter MPE)", "± " + _fmt(co2.get("uncertainty_kg"), 1, "kg")],
        ["Conservative (central minus MPE)", _fmt(co2.get("conservative_kg"), 1, "kg")],
        ["Hours without a value", str(co2.get("hours_missing", "n/a"))],
        ["Method version", method_version],
        ["Formula", "Q x EF_fuel / eta_ref - (W_heat_pump + W_pumps) x EF_grid"],
    ]
    basis = k.get("kpi_basis", {})
    body = f"""
<h1>Monthly performance review: {esc(data.site_name)}</h1>
<p class="sub">Site <code>{esc(data.site_id)}</code> · period {esc(data.period.label)}
(UTC, {esc(totals.get("period_start"))} to {esc(totals.get("period_end"))}) ·
generated {esc(data.generated_at.strftime("%Y-%m-%d %H:%M UTC"))} · ledger method
<b>{esc(method_version)}</b></p>
{warnings}
<div class="cards">{card_html}</div>
<h2>Heat delivered vs customer heat use</h2>
{heat_div}
<p class="sub">Customer heat use is what the customer drew from the reuse installation and
its backup boiler (metered heat delivered + backup heat). Estimated heat is shown apart.
Hours without heat data: {esc(heat.get("hours_missing", "n/a"))}.</p>
<h2>SLA attainment and interruptions</h2>
{_sla_html(data)}
<h2>Alerts, incidents and corrective actions</h2>
{alerts}
<h2>Energy flows</h2>
{sankey_div}
{
        _table(
            ["quantity", "metered", "estimated", "hours estimated", "hours missing"],
            _quantity_rows(totals),
        )
    }
<h2>Site modes</h2>
{_table(["mode", "hours"], mode_rows)}
<p class="sub">Hours in month {esc(totals.get("hours_in_period"))}, ledgered
{esc(totals.get("hours_ledgered"))}, not ledgered {esc(totals.get("hours_not_ledgered"))}.</p>
<h2>KPIs</h2>
{_table(["KPI", "value", "formula", "note"], _kpi_rows(k["kpis"]))}
<p class="sub">Basis: {esc(basis.get("hours_used"))} hours with IT, total and heat values
({esc(basis.get("hours_with_estimates"))} with estimates); {esc(basis.get("note"))}.</p>
<h3>EnEfG section 11 targets ({esc(enefg.get("category"))} site)</h3>
<p class="sub">{esc(enefg.get("scope_note"))}. {esc(enefg.get("note"))}</p>
{_table(["KPI", "target", "value", "status", "due from", "note"], enefg_rows)}
<h2>Avoided CO2</h2>
{_table(["item", "value"], co2_rows)}
<h2>Checkpoint anchoring these figures</h2>
{_checkpoint_html(data.checkpoint)}
"""
    return page_html(f"{data.site_id} monthly report {data.period.label}", body, _CSS)


# --------------------------------------------------------------------------- PDF
def write_monthly_pdf(data: MonthlyReportData, path: str | Path) -> Path:
    """Write the monthly report as a PDF with matplotlib (pure Python, no browser).

    Page 1: summary, KPIs, SLA, avoided CO2, checkpoint. Page 2: daily heat and the
    energy flows.
    """
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    target = Path(path)
    k = data.kpis
    totals = k["totals"]
    q = totals.get("quantities", {})
    heat = q.get("heat_delivered", {})
    co2 = totals.get("avoided_co2", {})
    method_version = (data.method or {}).get("version") or ", ".join(k.get("method_versions", []))
    lines: list[str] = [
        f"Site {data.site_id}: {data.site_name}",
        f"Period {data.period.label} (UTC) - ledger method {method_version}",
        f"Generated {data.generated_at.strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        f"Heat delivered: {_fmt(heat.get('kwh'), 1, 'kWh')} (metered "
        f"{_fmt(heat.get('metered_kwh'), 1)}, estimated {_fmt(heat.get('estimated_kwh'), 1)}, "
        f"uncertainty +/- {_fmt(totals.get('heat_delivered_uncertainty_kwh'), 1)} kWh (meter "
        "MPE); "
        f"{heat.get('hours_missing', 'n/a')} h missing)",
        f"Avoided CO2: {_fmt(co2.get('kg'), 1, 'kg')} +/- {_fmt(co2.get('uncertainty_kg'), 1)} "
        f"kg (conservative {_fmt(co2.get('conservative_kg'), 1)} kg)",
        "",
        "KPIs:",
    ]
    for row in _kpi_rows(k["kpis"]):
        lines.append(f"  {row[0]:<18} {row[1]:<20} {row[2]}")
    lines.append("")
    lines.append("EnEfG section 11: " + str(k.get("enefg", {}).get("scope_note", "")))
    for t in k.get("enefg", {}).get("targets", []):
        lines.append(
            f"  {t['kpi']} {t['comparison']} {t['target']}: value {_fmt(t['value'], 3)} -> "
            f"{t['status']} (due from {t['due_from']})"
        )
    lines.append("")
    if data.sla:
        for rep in data.sla:
            att = rep.get("attainment_fraction")
            lines.append(
                f"SLA {rep.get('period')} ({rep.get('period_kind')}): attainment "
                f"{'n/a' if att is None else f'{100 * att:.3f} %'}, target "
                f"{100 * float(rep.get('target_fraction', 0)):.2f} %, interruptions "
                f"{len(rep.get('interruptions') or [])}, breaches {len(rep.get('breaches') or [])}"
            )
    else:
        lines.append("SLA: " + data.sla_note)
    lines.append("Alerts: " + data.alerts_note)
    if data.alerts:
        lines.append(
            "  fired by rule: " + ", ".join(f"{r} {n}" for r, n in sorted(data.alerts.items()))
        )
    for i in data.incidents:
        lines.append(
            f"  incident {i['id']} [{i['severity']}] {i['opened_at']} .. "
            f"{i['resolved_at'] or 'open'}: {i['title']} (SLA: {_impact_text(i.get('impact'))})"
        )
    for a in data.actions:
        lines.append(
            f"  action {a['id']} [{a['status']}] {a['rule']} on {a['equipment'] or 'site'}, "
            f"owner {', '.join(a['owner'])}, due {a['due_at']}"
        )
    lines.append("")
    modes = totals.get("site_mode_hours", {})
    lines.append("Site modes [h]: " + ", ".join(f"{m} {n}" for m, n in modes.items()))
    lines.append("")
    cp = data.checkpoint
    if cp:
        lines += [
            "Checkpoint anchoring these figures:",
            f"  origin {cp.get('origin')}, size {cp.get('size')}",
            f"  root {cp.get('root_hash_b64')}",
            f"  {cp.get('signature_line')}",
        ]
    else:
        lines.append("No signed checkpoint found.")
    for w in data.warnings:
        lines.append("NOTE: " + w)

    with PdfPages(target) as pdf:
        page = Figure(figsize=(8.27, 11.69))
        page.text(0.06, 0.97, "Monthly performance review", fontsize=16, weight="bold", va="top")
        wrapped = [
            part
            for line in lines
            for part in (textwrap.wrap(line, 104, subsequent_indent="      ") or [""])
        ]
        page.text(0.06, 0.93, "\n".join(wrapped), fontsize=7.2, family="monospace", va="top")
        pdf.savefig(page)

        page2 = Figure(figsize=(8.27, 11.69))
        ax1 = page2.add_axes((0.1, 0.58, 0.85, 0.35))
        d = data.daily
        x = list(range(len(d)))
        ax1.bar(x, d["heat_delivered_metered_kwh"], color="#d9480f", label="delivered, metered")
        ax1.bar(
            x,
            d["heat_delivered_estimated_kwh"],
            bottom=d["heat_delivered_metered_kwh"],
            color="#ffa94d",
            label="delivered, estimated",
        )
        ax1.plot(
            x,
            d["heat_demand_served_kwh"],
            color="#1c7ed6",
            marker=".",
            label="customer heat use (delivered + backup)",
        )
        ax1.set_xticks(x[::3], [t.strftime("%d") for t in d.index][::3])
        ax1.set_ylabel("kWh per day")
        ax1.set_title("Heat delivered vs customer heat use")
        ax1.legend(fontsize=7)
        ax2 = page2.add_axes((0.35, 0.08, 0.6, 0.4))
        nodes, links = _sankey_links(totals)
        labels = [f"{nodes[a]} -> {nodes[b]}" for a, b, _ in links]
        values = [v for _, _, v in links]
        ax2.barh(range(len(values)), values, color="#495057")
        ax2.set_yticks(range(len(values)), labels, fontsize=7)
        ax2.invert_yaxis()
        ax2.set_xlabel("kWh in the month")
        ax2.set_title("Energy flows")
        pdf.savefig(page2)
    return target
