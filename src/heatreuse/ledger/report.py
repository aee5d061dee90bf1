"""The monthly performance report: one self-contained HTML page and a PDF.

The page holds, for one month: heat delivered against the heat the customer
drew (delivered + backup), SLA attainment and interruptions (from
:mod:`heatreuse.sla`, passed in by the service), alert counts by cause (no
alerting subsystem exists yet: the page says so), energy flows (Sankey), the
KPIs, avoided CO2 with the method version and the uncertainty, and the signed
checkpoint (size, root, signature) that anchors every figure.

The HTML embeds plotly's JavaScript inline (``plotly.offline.get_plotlyjs``), so
it opens offline with no CDN. The PDF is a typeset document of the same blocks
(:func:`report_blocks`: headings, paragraphs, tables, the two figures, the
checkpoint), set with ReportLab and matplotlib: pure Python wheels from PyPI,
no browser and no system libraries (WeasyPrint would need Pango on the
machine, which ``./run demo`` on a fresh machine does not have).

Every number comes from :func:`heatreuse.ledger.kpis.compute_kpis` /
:func:`heatreuse.ledger.kpis.period_totals`, i.e. from ledger entries that
``heatreuse verify`` can check.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from heatreuse.htmlpage import esc, figure_html, page_html
from heatreuse.ledger.kpis import Period

__all__ = [
    "Block",
    "Cards",
    "Chart",
    "Heading",
    "MonthlyReportData",
    "Table",
    "Text",
    "daily_frame",
    "render_blocks_html",
    "render_monthly_html",
    "report_blocks",
    "write_blocks_pdf",
    "write_monthly_pdf",
]


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


# --------------------------------------------------------------------------- the document
# One list of blocks is the report; the HTML page and the PDF render the same blocks, so they
# carry the same headings, tables, figures and checkpoint. Text may hold `code` spans.
@dataclass(frozen=True)
class Heading:
    """A section heading (level 1 = title, 2 = section, 3 = subsection)."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Text:
    """A paragraph; ``kind`` is ``body``, ``sub`` (small print), ``note`` (a warning),
    ``missing`` (data that is not there) or ``pre`` (preformatted)."""

    text: str
    kind: str = "body"


@dataclass(frozen=True)
class Table:
    """A table of text cells (units in the headers or the cells)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Chart:
    """A figure: ``daily`` (heat delivered vs customer heat use) or ``flows`` (energy flows)."""

    key: str
    caption: str


@dataclass(frozen=True)
class Cards:
    """Headline figures: (title, value, small print) each."""

    cards: tuple[tuple[str, str, str], ...]


Block = Heading | Text | Table | Chart | Cards

#: Chart captions (the same words above the HTML figure and under the PDF figure).
DAILY_CAPTION = (
    "Figure 1. Heat delivered (metered, estimated) and customer heat use = delivered + backup "
    "[kWh per UTC day]"
)
FLOWS_CAPTION = "Figure 2. Energy flows of the month [kWh]"


def _table_block(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    return Table(tuple(headers), tuple(tuple("" if c is None else str(c) for c in r) for r in rows))


def _sla_blocks(data: MonthlyReportData) -> list[Block]:
    if not data.sla:
        return [Text(data.sla_note, "missing")]
    parts: list[Block] = []
    for rep in data.sla:
        rows = [
            [
                "Period",
                f"{rep.get('period')} ({rep.get('period_kind')}"
                + (", binding" if rep.get("binding") else ", not binding")
                + ")",
            ],
            ["Verdict", _verdict(rep)],
            ["Attainment (data coverage)", _attainment(rep)],
            ["Target", f"{100 * float(rep.get('target_fraction', 0)):.2f} %"],
            [
                "Valid / good / bad / unknown minutes",
                f"{rep.get('valid_min')} / {rep.get('good_min')} / {rep.get('bad_min')} / "
                f"{rep.get('unknown_min')}",
            ],
            ["Error budget left", _fmt(rep.get("error_budget_left_min"), 0, "min")],
            ["Breaches (contract terms)", str(len(rep.get("breaches") or []))],
            ["Source", _source(rep)],
        ]
        parts.append(_table_block(["SLA", "value"], rows))
        shown = [*(rep.get("verdict_reasons") or []), *(rep.get("notes") or [])]
        if shown:
            parts.append(Text(" ".join(str(x) for x in shown), "sub"))
        inter = rep.get("interruptions") or []
        if inter:
            irows = [
                [i.get("start"), i.get("end"), _fmt(i.get("duration_min"), 0, "min")]
                for i in inter[:50]
            ]
            parts += [Text("Interruptions"), _table_block(["start", "end", "duration"], irows)]
        else:
            parts.append(Text("No interruptions."))
        br = rep.get("breaches") or []
        if br:
            brows = [
                [b.get("kind"), b.get("start"), b.get("end"), b.get("detail")] for b in br[:40]
            ]
            parts += [Text("Breaches"), _table_block(["kind", "start", "end", "detail"], brows)]
            if len(br) > 40:
                parts.append(Text(f"{len(br) - 40} more breaches not listed.", "sub"))
    if data.sla_note:
        parts.append(Text(data.sla_note, "sub"))
    return parts


def _verdict(rep: Mapping[str, Any]) -> str:
    """``met`` / ``BREACHED`` / ``UNKNOWN`` of an SLA report dict."""
    verdict = str(rep.get("verdict") or "unknown")
    return verdict if verdict == "met" else verdict.upper()


def _attainment(rep: Mapping[str, Any]) -> str:
    """Attainment with the data coverage beside it (a figure without its coverage misleads)."""
    att, cov = rep.get("attainment_fraction"), rep.get("data_coverage_fraction")
    need = rep.get("min_data_coverage_fraction")
    return (
        ("n/a" if att is None else f"{100 * float(att):.3f} %")
        + " (data coverage "
        + ("n/a" if cov is None else f"{100 * float(cov):.1f} %")
        + ("" if need is None else f", {100 * float(need):.0f} % needed")
        + ")"
    )


def _source(rep: Mapping[str, Any]) -> str:
    """Where an SLA figure comes from: its seal in the ledger, or the store now."""
    sealed = rep.get("sealed")
    if not sealed:
        return "not sealed (yet): computed now from the store and any sealed months (see below)"
    text = f"sealed in the ledger, entry {sealed.get('index')} ({sealed.get('sealed_at')})"
    recomputed = sealed.get("recomputed") or {}
    if recomputed and not recomputed.get("matches", True):
        text += "; the store now gives a different result (see below)"
    return text


def _impact_text(impact: Mapping[str, Any] | None) -> str:
    if not impact:
        return "n/a"
    return (
        f"{impact['bad_min']} min out of band, {impact['unknown_min']} min without data, "
        f"{impact['good_min']} min in band"
    )


def _alerts_blocks(data: MonthlyReportData) -> list[Block]:
    """Alerts by rule, the period's incidents with their SLA impact, corrective actions."""
    if data.alerts is None:
        return [Text(data.alerts_note, "missing")]
    parts: list[Block] = [Text(data.alerts_note, "sub")]
    if data.alerts:
        rows = [[c, str(n)] for c, n in sorted(data.alerts.items())]
        parts.append(_table_block(["alerts fired (warning or critical), by rule", "count"], rows))
    else:
        parts.append(Text("No alert of severity warning or critical fired.", "sub"))
    if data.incidents:
        parts.append(
            _table_block(
                ["incident", "severity", "open (UTC)", "title", "rules", "SLA impact", "acked by"],
                [
                    [
                        i["id"],
                        i["severity"],
                        f"{i['opened_at']} .. {i['resolved_at'] or 'open'}",
                        i["title"],
                        ", ".join(i["rules"]),
                        _impact_text(i.get("impact")),
                        i["acked_by"] or "-",
                    ]
                    for i in data.incidents
                ],
            )
        )
    else:
        parts.append(Text("No incident in the period.", "sub"))
    if data.actions:
        parts.append(
            _table_block(
                ["action", "status", "what", "owner", "opened", "due", "summary"],
                [
                    [
                        a["id"],
                        a["status"],
                        f"{a['rule']} on {a['equipment'] or 'site'}",
                        ", ".join(a["owner"]),
                        a["opened_at"],
                        a["due_at"],
                        a["summary"],
                    ]
                    for a in data.actions
                ],
            )
        )
    else:
        parts.append(Text("No corrective action open in the period.", "sub"))
    return parts


def _checkpoint_blocks(cp: Mapping[str, Any] | None) -> list[Block]:
    if not cp:
        return [Text("No signed checkpoint found for this ledger.", "missing")]
    rows = [
        ["Log origin", cp.get("origin")],
        ["Tree size (entries)", cp.get("size")],
        ["Root hash (base64)", cp.get("root_hash_b64")],
        ["Root hash (hex)", cp.get("root_hash_hex")],
        ["Signature line", cp.get("signature_line")],
        ["Verifier key", cp.get("vkey")],
        ["Checkpoint file", cp.get("path")],
    ]
    return [
        _table_block(["checkpoint", "value"], rows),
        Text(
            "Check: `heatreuse ledger export SITE.yaml --out DIR` then `heatreuse verify DIR`; "
            "the export's checkpoint of this size must carry this root."
        ),
        Text(str(cp.get("note") or ""), "pre"),
    ]


def report_blocks(data: MonthlyReportData) -> list[Block]:
    """The monthly report as a list of blocks (what both the HTML and the PDF show)."""
    k = data.kpis
    totals = k["totals"]
    q = totals.get("quantities", {})
    heat = q.get("heat_delivered", {})
    co2 = totals.get("avoided_co2", {})
    method_version = (data.method or {}).get("version") or ", ".join(k.get("method_versions", []))
    erf = k["kpis"]["erf"]["value"]
    cards = Cards(
        (
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
                _fmt(None if erf is None else 100 * erf, 1, "%"),
                "ERE " + _fmt(k["kpis"]["ere"]["value"], 3),
            ),
        )
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
    alerts = _alerts_blocks(data)
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
    return [
        Heading(f"Monthly performance review: {data.site_name}", 1),
        Text(
            f"Site `{data.site_id}` · period {data.period.label} (UTC, "
            f"{totals.get('period_start')} to {totals.get('period_end')}) · generated "
            f"{data.generated_at.strftime('%Y-%m-%d %H:%M UTC')} · ledger method "
            f"{method_version}",
            "sub",
        ),
        *[Text(w, "note") for w in data.warnings],
        cards,
        Heading("Heat delivered vs customer heat use"),
        Chart("daily", DAILY_CAPTION),
        Text(
            "Customer heat use is what the customer drew from the reuse installation and its "
            "backup boiler (metered heat delivered + backup heat). Estimated heat is shown "
            f"apart. Hours without heat data: {heat.get('hours_missing', 'n/a')}.",
            "sub",
        ),
        Heading("SLA attainment and interruptions"),
        *_sla_blocks(data),
        Heading("Alerts, incidents and corrective actions"),
        *alerts,
        Heading("Energy flows"),
        Chart("flows", FLOWS_CAPTION),
        _table_block(
            ["quantity", "metered", "estimated", "hours estimated", "hours missing"],
            _quantity_rows(totals),
        ),
        Heading("Site modes"),
        _table_block(["mode", "hours"], mode_rows),
        Text(
            f"Hours in month {totals.get('hours_in_period')}, ledgered "
            f"{totals.get('hours_ledgered')}, not ledgered {totals.get('hours_not_ledgered')}.",
            "sub",
        ),
        Heading("KPIs"),
        _table_block(["KPI", "value", "formula", "note"], _kpi_rows(k["kpis"])),
        Text(
            f"Basis: {basis.get('hours_used')} hours with IT, total and heat values "
            f"({basis.get('hours_with_estimates')} with estimates); {basis.get('note')}.",
            "sub",
        ),
        Heading(f"EnEfG section 11 targets ({enefg.get('category')} site)", 3),
        Text(f"{enefg.get('scope_note')}. {enefg.get('note')}", "sub"),
        _table_block(["KPI", "target", "value", "status", "due from", "note"], enefg_rows),
        Heading("Avoided CO2"),
        _table_block(["item", "value"], co2_rows),
        Heading("Checkpoint anchoring these figures"),
        *_checkpoint_blocks(data.checkpoint),
    ]


# --------------------------------------------------------------------------- HTML
def _inline_html(text: str) -> str:
    """Escape text; `code` spans become <code>."""
    parts = text.split("`")
    return "".join(f"<code>{esc(p)}</code>" if i % 2 else esc(p) for i, p in enumerate(parts))


def render_monthly_html(data: MonthlyReportData) -> str:
    """The monthly report as one self-contained HTML page (plotly JS inline, no CDN)."""
    heat_div, sankey_div = _plot_divs(data)
    charts = {"daily": heat_div, "flows": sankey_div}
    return render_blocks_html(
        f"{data.site_id} monthly report {data.period.label}", report_blocks(data), charts
    )


def render_blocks_html(
    title: str, blocks: Sequence[Block], charts: Mapping[str, str] | None = None
) -> str:
    """A list of report blocks as one self-contained HTML page (the report's CSS).

    ``charts``: chart key -> HTML of the figure (:func:`heatreuse.htmlpage.figure_html`).
    """
    charts = charts or {}
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{esc(block.text)}</h{block.level}>")
        elif isinstance(block, Text):
            if block.kind == "pre":
                out.append(f"<pre>{esc(block.text)}</pre>")
            elif block.kind in ("sub", "note", "missing"):
                tag = "p" if block.kind == "sub" else "div"
                out.append(f'<{tag} class="{block.kind}">{_inline_html(block.text)}</{tag}>')
            else:
                out.append(f"<p>{_inline_html(block.text)}</p>")
        elif isinstance(block, Table):
            out.append(_table(block.headers, block.rows))
        elif isinstance(block, Chart):
            out.append(f'<p class="sub">{esc(block.caption)}</p>{charts[block.key]}')
        else:
            out.append(
                '<div class="cards">'
                + "".join(
                    f'<div class="card">{esc(t)}<b>{esc(v)}</b><span class="sub">{esc(s)}</span>'
                    "</div>"
                    for t, v, s in block.cards
                )
                + "</div>"
            )
    return page_html(title, "\n".join(out), _CSS)


# --------------------------------------------------------------------------- PDF
def _pdf_fonts() -> dict[str, str]:
    """Register DejaVu Sans (shipped with matplotlib) with ReportLab; font names by role.

    A TrueType font embeds in the PDF and covers the report's characters (±, ·, —, CO2
    subscripts aside), which the PDF base-14 fonts (Latin-1 only) do not.
    """
    from matplotlib import get_data_path
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    fonts = {
        "body": "HeatreuseSans",
        "bold": "HeatreuseSans-Bold",
        "mono": "HeatreuseMono",
    }
    files = {
        "body": "DejaVuSans.ttf",
        "bold": "DejaVuSans-Bold.ttf",
        "mono": "DejaVuSansMono.ttf",
    }
    registered = set(pdfmetrics.getRegisteredFontNames())
    ttf_dir = Path(get_data_path()) / "fonts" / "ttf"
    for role, name in fonts.items():
        if name not in registered:
            pdfmetrics.registerFont(TTFont(name, str(ttf_dir / files[role])))
    return fonts


def _chart_png(data: MonthlyReportData, key: str) -> bytes:
    """One report figure drawn with matplotlib, as PNG bytes (200 dpi)."""
    import io

    from matplotlib.figure import Figure

    d = data.daily
    if key == "daily":
        fig = Figure(figsize=(7.0, 3.2))
        ax = fig.add_subplot()
        x = list(range(len(d)))
        ax.bar(x, d["heat_delivered_metered_kwh"], color="#d9480f", label="delivered, metered")
        ax.bar(
            x,
            d["heat_delivered_estimated_kwh"],
            bottom=d["heat_delivered_metered_kwh"],
            color="#ffa94d",
            label="delivered, estimated",
        )
        ax.plot(
            x,
            d["heat_demand_served_kwh"],
            color="#1c7ed6",
            marker=".",
            label="customer heat use (delivered + backup)",
        )
        ax.set_xticks(x[::3], [t.strftime("%d") for t in d.index][::3])
        ax.set_xlabel(f"day of {data.period.label} (UTC)")
        ax.set_ylabel("heat [kWh per day]")
        ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, frameon=False)
        ax.grid(axis="y", color="#dde3ea")
    else:
        nodes, links = _sankey_links(data.kpis["totals"])
        fig = Figure(figsize=(7.0, 0.35 * max(len(links), 3) + 0.8))
        ax = fig.add_subplot()
        labels = [f"{nodes[a]} → {nodes[b]}" for a, b, _ in links]
        values = [v for _, _, v in links]
        ax.barh(range(len(values)), values, color="#495057")
        ax.set_yticks(range(len(values)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("energy in the month [kWh]")
        ax.grid(axis="x", color="#dde3ea")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=200)
    return buf.getvalue()


def write_monthly_pdf(data: MonthlyReportData, path: str | Path) -> Path:
    """Write the monthly report as a typeset PDF: the blocks of :func:`report_blocks`.

    Headings, paragraphs and tables are set with ReportLab's Platypus (text stays text:
    searchable, copyable), the two figures are matplotlib drawings, the font is DejaVu Sans
    (embedded). Pure Python (``pip install reportlab``): no browser, no system libraries.
    """
    return write_blocks_pdf(
        report_blocks(data),
        path,
        title=f"Monthly performance review: {data.site_name} ({data.period.label})",
        subject=f"site {data.site_id}, period {data.period.label}",
        footer=f"{data.site_id} · monthly report {data.period.label} · page ",
        chart_png=lambda key: _chart_png(data, key),
    )


def write_blocks_pdf(
    blocks: Sequence[Block],
    path: str | Path,
    *,
    title: str,
    subject: str,
    footer: str,
    chart_png: Callable[[str], bytes] | None = None,
) -> Path:
    """Write report blocks as a typeset A4 PDF (ReportLab Platypus, DejaVu Sans embedded).

    ``footer``: text before the page number on each page; ``chart_png``: chart key -> PNG
    bytes (a :class:`Chart` block without it is an error).
    """
    import io

    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import (
        Image,
        KeepTogether,
        Paragraph,
        Preformatted,
        SimpleDocTemplate,
        Spacer,
        TableStyle,
    )
    from reportlab.platypus import Table as PdfTable

    target = Path(path)
    fonts = _pdf_fonts()
    ink, muted, rule = colors.HexColor("#1d2530"), colors.HexColor("#5b6775"), "#dde3ea"
    body = ParagraphStyle(
        "body", fontName=fonts["body"], fontSize=9, leading=12, textColor=ink, alignment=TA_LEFT
    )
    styles = {
        "body": body,
        "sub": ParagraphStyle("sub", parent=body, fontSize=8, leading=10.5, textColor=muted),
        "note": ParagraphStyle(
            "note",
            parent=body,
            backColor=colors.HexColor("#fff8e1"),
            borderColor=colors.HexColor("#f0b400"),
            borderPadding=4,
            borderWidth=0.6,
            spaceBefore=4,
            spaceAfter=6,
        ),
        "missing": ParagraphStyle(
            "missing",
            parent=body,
            backColor=colors.HexColor("#fdecea"),
            borderColor=colors.HexColor("#d93025"),
            borderPadding=4,
            borderWidth=0.6,
            spaceBefore=4,
            spaceAfter=6,
        ),
        "cell": ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9.5),
        "head": ParagraphStyle(
            "head", parent=body, fontName=fonts["bold"], fontSize=7.5, leading=9.5
        ),
        "pre": ParagraphStyle("pre", parent=body, fontName=fonts["mono"], fontSize=7, leading=9),
        "caption": ParagraphStyle(
            "caption", parent=body, fontSize=8, leading=10, textColor=muted, spaceAfter=6
        ),
        "card_title": ParagraphStyle("card_title", parent=body, fontSize=8, textColor=muted),
        "card_value": ParagraphStyle(
            "card_value", parent=body, fontName=fonts["bold"], fontSize=14, leading=17
        ),
    }
    headings = {
        1: ParagraphStyle(
            "h1", parent=body, fontName=fonts["bold"], fontSize=16, leading=20, spaceAfter=4
        ),
        2: ParagraphStyle(
            "h2",
            parent=body,
            fontName=fonts["bold"],
            fontSize=12,
            leading=15,
            spaceBefore=12,
            spaceAfter=5,
        ),
        3: ParagraphStyle(
            "h3",
            parent=body,
            fontName=fonts["bold"],
            fontSize=10,
            leading=13,
            spaceBefore=8,
            spaceAfter=4,
        ),
    }

    def inline(text: str) -> str:
        parts = text.split("`")
        return "".join(
            f'<font face="{fonts["mono"]}">{_xml(p)}</font>' if i % 2 else _xml(p)
            for i, p in enumerate(parts)
        )

    page_w = A4[0]
    margin = 16 * mm
    width = page_w - 2 * margin - 12  # the frame's own padding: 6 pt each side

    def table(block: Table) -> PdfTable:
        n = len(block.headers)
        longest = [
            max([len(block.headers[j])] + [len(r[j]) for r in block.rows if j < len(r)])
            for j in range(n)
        ]
        weights = [
            min(max(w, len(h) + 3, 8), 60) for w, h in zip(longest, block.headers, strict=True)
        ]
        widths = [width * w / sum(weights) for w in weights]
        rows = [[Paragraph(_xml(h), styles["head"]) for h in block.headers]]
        rows += [[Paragraph(_xml(c), styles["cell"]) for c in r] for r in block.rows]
        t = PdfTable(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor(rule)),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f6f9")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        return t

    story: list[Any] = []
    pending_heading: Any = None
    for block in blocks:
        flow: Any
        if isinstance(block, Heading):
            pending_heading = Paragraph(_xml(block.text), headings[min(block.level, 3)])
            if block.level == 1:
                story.append(pending_heading)
                pending_heading = None
            continue
        if isinstance(block, Text):
            if block.kind == "pre":
                flow = Preformatted(block.text, styles["pre"], maxLineLength=100, newLineChars="")
            else:
                flow = Paragraph(inline(block.text), styles.get(block.kind, body))
        elif isinstance(block, Table):
            flow = table(block)
        elif isinstance(block, Chart):
            if chart_png is None:
                raise ValueError(f"chart {block.key!r}: no chart renderer given")
            png = chart_png(block.key)
            iw, ih = ImageReader(io.BytesIO(png)).getSize()
            flow = [
                Image(io.BytesIO(png), width=width, height=width * ih / iw),
                Paragraph(_xml(block.caption), styles["caption"]),
            ]
        else:
            cells = [
                [
                    [
                        Paragraph(_xml(t), styles["card_title"]),
                        Paragraph(_xml(v), styles["card_value"]),
                        Paragraph(_xml(s), styles["sub"]),
                    ]
                    for t, v, s in block.cards
                ]
            ]
            flow = PdfTable(cells, colWidths=[width / len(block.cards)] * len(block.cards))
            flow.setStyle(
                TableStyle(
                    [
                        ("BOX", (0, 0), (-1, -1), 0.5, colors.HexColor(rule)),
                        ("INNERGRID", (0, 0), (-1, -1), 0.5, colors.HexColor(rule)),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
        flows = flow if isinstance(flow, list) else [flow]
        if pending_heading is not None:  # keep a heading with what follows it (not nested:
            # a KeepTogether inside another one always reports an infinite height)
            story.append(KeepTogether([pending_heading, *flows]))
            pending_heading = None
        else:
            story.append(KeepTogether(flows) if len(flows) > 1 else flows[0])
        story.append(Spacer(1, 4))

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(fonts["body"], 7)
        canvas.setFillColor(muted)
        canvas.drawString(margin, 9 * mm, f"{footer}{doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(target),
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=16 * mm,
        title=title,
        author="heatreuse",
        subject=subject,
        creator="heatreuse (ReportLab, matplotlib)",
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return target


def _xml(text: Any) -> str:
    """Text escaped for ReportLab's paragraph markup."""
    from xml.sax.saxutils import escape

    return escape("" if text is None else str(text))
