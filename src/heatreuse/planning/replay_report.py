"""The measured-vs-model page: one self-contained HTML file (plotly.js inline, no CDN).

Sections: the variance and its causes (largest first, each with its evidence),
the model's inputs (measured or model), a chart and a table of the days, then one
chart per day (hourly recovered heat measured / replay / model, backup and
rejected heat, supply temperature), and the notes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from heatreuse.htmlpage import esc, figure_html, page_html
from heatreuse.planning.replay import Comparison

__all__ = ["day_figure", "days_figure", "render_comparison_html"]

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;
color:#1d2a33;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #dde;
padding-bottom:.2rem}h3{margin:1.4rem 0 .2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #ccd;padding:.25rem .5rem;text-align:right;vertical-align:top}
th{background:#eef1f5}td.t,th.t{text-align:left}
.note{color:#556;font-size:.85rem}ul.ev{margin:.2rem 0 .6rem 1rem;font-size:.85rem}
.model{background:#eef4ff;color:#2a4d8f;border-radius:3px;padding:0 .3rem;font-size:.75rem}
.meas{background:#e8f6ec;color:#1b7f3b;border-radius:3px;padding:0 .3rem;font-size:.75rem}
"""

_COLORS = {"measured": "#1b7f3b", "replay": "#2a4d8f", "model": "#999999"}


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | np.floating | np.integer):
        v = float(value)
        return f"{v:,.{digits}f}" if math.isfinite(v) else "n/a"
    return esc(value)


def _table(headers: list[str], rows: list[list[str]], text_cols: tuple[int, ...] = (0,)) -> str:
    head = "".join(
        f'<th class="{"t" if i in text_cols else ""}">{esc(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"t" if i in text_cols else ""}">{c}</td>' for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fig_html(fig: go.Figure, div_id: str, height: int) -> str:
    fig.update_layout(
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
        template="plotly_white",
        height=height,
        legend={"orientation": "h", "y": -0.15},
    )
    return figure_html(fig, div_id)


def days_figure(result: Comparison) -> go.Figure:
    """Recovered heat per day, measured vs replay vs model, with backup and rejected heat."""
    dates = [d["date"] for d in result.days]
    fig = go.Figure()
    for src in ("measured", "replay", "model"):
        fig.add_bar(
            x=dates,
            y=[d.get(f"heat_delivered_{src}_kwh") for d in result.days],
            name=f"recovered heat, {src} [kWh]",
            marker_color=_COLORS[src],
        )
    for src, dash in (("measured", "solid"), ("replay", "dot")):
        fig.add_scatter(
            x=dates,
            y=[d.get(f"backup_heat_{src}_kwh") for d in result.days],
            name=f"backup heat, {src} [kWh]",
            mode="lines+markers",
            line={"color": "#b3261e", "dash": dash},
        )
        fig.add_scatter(
            x=dates,
            y=[d.get(f"heat_rejected_{src}_kwh") for d in result.days],
            name=f"rejected heat, {src} [kWh]",
            mode="lines+markers",
            line={"color": "#a66b00", "dash": dash},
        )
    fig.update_layout(title="Per day (local days)", barmode="group", yaxis_title="kWh")
    return fig


def day_figure(result: Comparison, date: str) -> go.Figure:
    """One local day by the hour: heat (top) and supply temperature at the customer (bottom)."""
    h = result.hourly
    day = h[h["local_date"].astype(str) == date]
    local = pd.DatetimeIndex(day.index).tz_convert(result.timezone).tz_localize(None)
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38], vertical_spacing=0.06
    )
    for src in ("measured", "replay", "model"):
        fig.add_scatter(
            x=local,
            y=day[f"heat_delivered_{src}_kwh"],
            name=f"recovered {src} [kWh/h]",
            line={"color": _COLORS[src], "shape": "hv"},
            row=1,
            col=1,
        )
    for src, dash in (("measured", "solid"), ("replay", "dot")):
        fig.add_scatter(
            x=local,
            y=day[f"backup_heat_{src}_kwh"],
            name=f"backup {src} [kWh/h]",
            line={"color": "#b3261e", "dash": dash, "shape": "hv"},
            row=1,
            col=1,
        )
        fig.add_scatter(
            x=local,
            y=day[f"heat_rejected_{src}_kwh"],
            name=f"rejected {src} [kWh/h]",
            line={"color": "#a66b00", "dash": dash, "shape": "hv"},
            row=1,
            col=1,
        )
    for src in ("measured", "replay"):
        fig.add_scatter(
            x=local,
            y=day[f"supply_temp_{src}_c"],
            name=f"supply at customer {src} [C]",
            line={"color": _COLORS[src]},
            row=2,
            col=1,
        )
    fig.add_scatter(
        x=local,
        y=day["supply_temp_required_c"],
        name="required supply [C]",
        line={"color": "#555", "dash": "dash"},
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="kWh per hour", row=1, col=1)
    fig.update_yaxes(title_text="C", row=2, col=1)
    fig.update_layout(title=f"{date} (local time)")
    return fig


def render_comparison_html(result: Comparison) -> str:
    """The whole page for ``heatreuse compare --out``."""
    t = result.totals
    parts = [
        f"<h1>Measured against the model: {esc(result.site_id)}, {esc(result.period_label)}</h1>",
        f'<p class="note">{esc(result.start.isoformat())} .. {esc(result.end.isoformat())} '
        f"(UTC), days in {esc(result.timezone)}; engine step {result.step_s} s; "
        f"{t['hours_compared']} of {t['hours_in_period']} hours with measurements.</p>",
        "<h2>Variance and its causes</h2>",
        f"<p>Recovered heat: model {_fmt(t.get('heat_delivered_model_kwh'))} kWh, replay on "
        f"the measured inputs {_fmt(t.get('heat_delivered_replay_kwh'))} kWh, measured "
        f"{_fmt(t.get('heat_delivered_measured_kwh'))} kWh. Variance (model - measured) "
        f"<b>{_fmt(t['variance_heat_kwh'])} kWh</b>; unexplained "
        f"{_fmt(t['unexplained_heat_kwh'])} kWh ({esc(t['unexplained_note'])}).</p>",
    ]
    rows = []
    for a in result.attribution:
        share = a.get("share_of_variance_fraction")
        ev = "<ul class='ev'>" + "".join(f"<li>{esc(e)}</li>" for e in a["evidence"]) + "</ul>"
        rows.append(
            [
                esc(a["cause"]),
                _fmt(a["heat_kwh"]),
                "n/a" if share is None else f"{share:.0%}",
                ev,
            ]
        )
    rows.append(["unexplained", _fmt(t["unexplained_heat_kwh"]), "", ""])
    parts.append(_table(["cause", "heat [kWh]", "of variance", "evidence"], rows, (0, 3)))

    parts.append("<h2>The model's inputs</h2>")
    parts.append(
        _table(
            ["input", "", "source"],
            [
                [
                    esc(i["input"]),
                    '<span class="meas">measured</span>'
                    if i["measured"]
                    else '<span class="model">model</span>',
                    esc(i["source"]),
                ]
                for i in result.inputs
            ],
            (0, 1, 2),
        )
    )

    parts.append("<h2>Per day</h2>")
    parts.append(_fig_html(days_figure(result), "days", 420))
    day_rows = []
    for d in result.days:
        day_rows.append(
            [
                esc(d["date"]),
                f"{d['hours_compared']}/{d['hours']}",
                _fmt(d.get("heat_delivered_measured_kwh")),
                _fmt(d.get("heat_delivered_replay_kwh")),
                _fmt(d.get("heat_delivered_model_kwh")),
                _fmt(d.get("supply_temp_measured_c"), 1),
                _fmt(d.get("supply_temp_replay_c"), 1),
                _fmt(d.get("backup_heat_measured_kwh")),
                _fmt(d.get("backup_heat_replay_kwh")),
                _fmt(d.get("heat_rejected_measured_kwh")),
                _fmt(d.get("heat_rejected_replay_kwh")),
                _fmt(d.get("erf_measured"), 3),
                _fmt(d.get("erf_replay"), 3),
            ]
        )
    parts.append(
        _table(
            [
                "day",
                "hours",
                "recovered meas. [kWh]",
                "replay",
                "model",
                "supply meas. [C]",
                "replay",
                "backup meas. [kWh]",
                "replay",
                "rejected meas. [kWh]",
                "replay",
                "ERF meas.",
                "replay",
            ],
            day_rows,
        )
    )
    parts.append("<h2>Each day by the hour</h2>")
    for i, d in enumerate(result.days):
        parts.append(_fig_html(day_figure(result, d["date"]), f"day{i}", 460))
    if result.notes:
        parts.append("<h2>Notes</h2><ul>")
        parts.extend(f"<li class='note'>{esc(n)}</li>" for n in result.notes)
        parts.append("</ul>")
    return page_html(
        f"heatreuse compare: {result.site_id} {result.period_label}", "\n".join(parts), _CSS
    )
