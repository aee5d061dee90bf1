"""The plan report: one self-contained HTML page (plotly.js inline, no CDN, no network).

Sections: key figures (estimates labelled), the fit verdict with reasons,
plots (monthly demand vs delivered heat, tank temperature duration curve,
energy-flow Sankey, model comparison and sweep frontier when computed), the
heat-demand matrix, the model comparison table, the sweep frontier table,
and the assumptions with their sources.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from heatreuse.htmlpage import esc, figure_html, page_html
from heatreuse.planning.matrix import MONTHS
from heatreuse.planning.sweep import SWEEP_PARAMETERS, SweepResult
from heatreuse.site.model import Site

if TYPE_CHECKING:
    from heatreuse.planning.study import StudyResult

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;
color:#1d2a33;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #dde;
padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #ccd;padding:.25rem .5rem;text-align:right;vertical-align:top}
th{background:#eef1f5}td.t,th.t{text-align:left}
.est{background:#fff3cd;color:#7a5b00;border-radius:3px;padding:0 .3rem;font-size:.75rem;
margin-left:.3rem}
.good{color:#1b7f3b;font-weight:600}.fair{color:#a66b00;font-weight:600}
.poor{color:#b3261e;font-weight:600}
.major{color:#b3261e}.minor{color:#a66b00}.ok{color:#1b7f3b}
.note{color:#556;font-size:.85rem}
"""

_EST = '<span class="est" title="estimate">estimate</span>'


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | np.floating | np.integer):
        v = float(value)
        if not math.isfinite(v):
            return "n/a"
        return f"{v:,.{digits}f}"
    return esc(value)


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], text_cols: Sequence[int] = (0,)
) -> str:
    head = "".join(
        f'<th class="{"t" if i in text_cols else ""}">{h}</th>' for i, h in enumerate(headers)
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


@lru_cache(maxsize=1)
def _white_template() -> dict[str, Any]:
    """plotly's "plotly_white" template as JSON, read once (not validated and deep-copied
    into every figure, which took a tenth of a second per report).

    Read from the JSON file plotly ships it in: ``plotly.io.templates`` would build and
    validate a ``Template`` object from the same file first (another 50 ms per plan;
    tests/planning/test_report_template.py checks that both give the same JSON)."""
    import json
    from importlib.resources import files

    try:
        text = (files("plotly") / "package_data" / "templates" / "plotly_white.json").read_text(
            encoding="utf-8"
        )
        raw = json.loads(text)
        # in the key order of plotly's Template (the file has layout first): same page bytes
        white: dict[str, Any] = {
            **{k: raw[k] for k in ("data", "layout") if k in raw},
            **{k: v for k, v in raw.items() if k not in ("data", "layout")},
        }
    except (OSError, ValueError):  # a plotly that keeps its templates elsewhere
        import plotly.io as pio

        white = pio.templates["plotly_white"].to_plotly_json()
    return white


def _figure_html(fig: go.Figure, div_id: str) -> str:
    fig.update_layout(margin={"l": 60, "r": 20, "t": 50, "b": 50})
    spec = fig.to_plotly_json()
    spec["layout"]["template"] = _white_template()
    return figure_html(spec, div_id)


# --------------------------------------------------------------------------- figures
def monthly_figure(site: Site, hourly: pd.DataFrame) -> go.Figure:
    """Monthly heat demand vs delivered waste heat, backup heat and rejected heat [MWh]."""
    local = pd.DatetimeIndex(hourly.index).tz_convert(site.location.timezone)
    step_h = (
        (hourly.index[1] - hourly.index[0]).total_seconds() / 3600.0 if len(hourly) > 1 else 1.0
    )
    fig = go.Figure()
    series = (
        ("heat_demand_w", "heat demand", "#546e7a"),
        ("heat_delivered_w", "waste heat delivered", "#e65100"),
        ("backup_heat_w", "backup heat", "#8d6e63"),
        ("heat_rejected_w", "heat rejected", "#90caf9"),
    )
    for col, name, color in series:
        if col not in hourly.columns:
            continue
        mwh = hourly[col].groupby(local.month).sum() * step_h / 1e6
        mwh = mwh.reindex(range(1, 13), fill_value=0.0)
        fig.add_bar(
            x=[m.capitalize() for m in MONTHS], y=mwh.to_numpy(), name=name, marker_color=color
        )
    fig.update_layout(
        title="Monthly heat demand vs delivered heat (site-local months)",
        barmode="group",
        yaxis_title="heat [MWh]",
    )
    return fig


def duration_figure(site: Site, hourly: pd.DataFrame) -> go.Figure:
    """Tank temperature duration curve: hours in the year at or above each temperature."""
    fig = go.Figure()
    for col, name in (
        ("tank_temp_top_c", "tank top"),
        ("tank_temp_mean_c", "tank mean"),
        ("tank_temp_bottom_c", "tank bottom"),
    ):
        if col in hourly.columns:
            values = np.sort(hourly[col].to_numpy(dtype=np.float64))[::-1]
            fig.add_scatter(x=np.arange(1, len(values) + 1), y=values, mode="lines", name=name)
    band = site.customer.supply_band
    fig.add_hline(
        y=band.min_temp_c,
        line_dash="dash",
        line_color="#b3261e",
        annotation_text=f"customer band min {band.min_temp_c:g} C",
    )
    fig.update_layout(
        title="Tank temperature duration curve",
        xaxis_title="hours of the year at or above [h]",
        yaxis_title="temperature [C]",
    )
    return fig


def sankey_figure(summary: Mapping[str, Any]) -> go.Figure:
    """Energy flows of the year [MWh]: electricity -> IT -> heat -> customer / reject / losses."""

    def v(key: str) -> float:
        x = summary.get(key)
        return max(0.0, float(x)) / 1000.0 if x is not None else 0.0

    nodes = [
        "electricity",  # 0
        "IT",  # 1
        "cooling",  # 2
        "pumps",  # 3
        "other loads",  # 4
        "heat pump electricity",  # 5
        "heat captured to water",  # 6
        "heat to room air",  # 7
        "waste heat delivered",  # 8
        "heat rejected (dry cooler)",  # 9
        "pipe losses",  # 10
        "tank losses",  # 11
        "backup heat",  # 12
        "customer",  # 13
        "stored heat",  # 14
    ]
    hp = v("heat_pump_electricity_kwh")
    links = [
        (0, 1, v("it_energy_kwh")),
        (0, 2, v("cooling_electricity_kwh")),
        (0, 3, v("pump_electricity_kwh")),
        (0, 4, v("other_electricity_kwh")),
        (0, 5, hp),
        (1, 6, v("heat_captured_kwh")),
        (1, 7, v("heat_to_room_kwh")),
        (6, 8, max(0.0, v("heat_delivered_kwh") - hp)),
        (5, 8, min(hp, v("heat_delivered_kwh"))),
        (6, 9, v("heat_rejected_kwh")),
        (6, 10, v("pipe_loss_kwh")),
        (6, 11, v("tank_loss_kwh")),
        (6, 14, v("stored_heat_change_kwh")),
        (8, 13, v("heat_delivered_kwh")),
        (12, 13, v("backup_heat_kwh")),
    ]
    links = [link for link in links if link[2] > 0.0]
    fig = go.Figure(
        go.Sankey(
            valueformat=",.1f",
            valuesuffix=" MWh",
            node={"label": nodes, "pad": 18, "thickness": 16},
            link={
                "source": [s for s, _, _ in links],
                "target": [t for _, t, _ in links],
                "value": [x for _, _, x in links],
            },
        )
    )
    fig.update_layout(title="Energy flows over the year [MWh]")
    return fig


def comparison_figure(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Delivered, backup and rejected heat per reuse model [MWh]."""
    labels = [str(r["label"]) for r in rows]
    fig = go.Figure()
    for key, name, color in (
        ("heat_delivered_kwh", "waste heat delivered", "#e65100"),
        ("backup_heat_kwh", "backup heat", "#8d6e63"),
        ("heat_rejected_kwh", "heat rejected", "#90caf9"),
    ):
        fig.add_bar(
            x=labels,
            y=[(r.get(key) or 0.0) / 1000.0 for r in rows],
            name=name,
            marker_color=color,
        )
    fig.update_layout(title="Reuse models compared", barmode="group", yaxis_title="heat [MWh]")
    return fig


def frontier_figure(sweep: SweepResult) -> go.Figure:
    """All sweep points (cost vs coverage) with the Pareto frontier."""
    frame = sweep.frame
    names = list(sweep.axes)
    hover = ["<br>".join(f"{n} = {row[n]:g}" for n in names) for _, row in frame[names].iterrows()]
    fig = go.Figure()
    color_by = names[0]
    fig.add_scatter(
        x=frame[sweep.cost_column],
        y=frame[sweep.benefit_column],
        mode="markers",
        name="grid points",
        text=hover,
        hovertemplate="%{text}<br>cost %{x:,.0f}<br>coverage %{y:.1%}<extra></extra>",
        marker={
            "color": frame[color_by],
            "colorscale": "Viridis",
            "showscale": True,
            "colorbar": {"title": color_by},
            "size": 7,
            "opacity": 0.6,
        },
    )
    front = sweep.frontier
    fig.add_scatter(
        x=front[sweep.cost_column],
        y=front[sweep.benefit_column],
        mode="lines+markers",
        name="frontier (Pareto)",
        line={"color": "#b3261e"},
        marker={"size": 9, "symbol": "diamond"},
    )
    fig.update_layout(
        title=f"Sweep frontier: {sweep.benefit_column} vs {sweep.cost_column}",
        xaxis_title=f"{sweep.cost_column} (estimate)",
        yaxis_title=sweep.benefit_column,
        yaxis_tickformat=".0%",
    )
    return fig


# --------------------------------------------------------------------------- tables
_KEY_FIGURES: tuple[tuple[str, str, str, int], ...] = (
    ("heat_demand_kwh", "heat demand", "kWh", 0),
    ("heat_delivered_kwh", "waste heat delivered", "kWh", 0),
    ("demand_coverage_fraction", "share of demand covered", "%", 1),
    ("heat_rejected_kwh", "heat rejected", "kWh", 0),
    ("backup_heat_kwh", "backup heat", "kWh", 0),
    ("unmet_heat_kwh", "unmet demand", "kWh", 0),
    ("pipe_loss_kwh", "pipe losses", "kWh", 0),
    ("it_energy_kwh", "IT energy", "kWh", 0),
    ("total_energy_kwh", "total site electricity", "kWh", 0),
    ("heat_pump_electricity_kwh", "heat pump electricity", "kWh", 0),
    ("pue", "PUE", "-", 3),
    ("pue_enefg", "PUE (EnEfG: upgrade-only heat pump excluded)", "-", 3),
    ("erf", "ERF", "-", 3),
    ("ere", "ERE", "-", 3),
    ("avoided_emissions_kg", "avoided CO2", "kg", 0),
    ("capex_eur", "capex", "EUR", 0),
    ("opex_eur_per_year", "opex", "EUR/a", 0),
    ("energy_cost_eur_per_year", "electricity cost of reuse", "EUR/a", 0),
    ("heat_revenue_eur_per_year", "heat revenue", "EUR/a", 0),
    ("net_cash_flow_eur_per_year", "net cash flow", "EUR/a", 0),
    ("payback_years", "simple payback", "years", 1),
    ("npv_eur", "NPV", "EUR", 0),
    ("throttled_h", "compute throttled", "h", 0),
    ("balance_residual_fraction", "energy balance residual", "-", 6),
)


def _value(key: str, value: Any, unit: str, digits: int) -> str:
    if unit == "%" and value is not None:
        return f"{float(value):.{digits}%}"
    if key == "payback_years" and value is None:
        return "never"
    return _fmt(value, digits)


def key_figures_table(summary: Mapping[str, Any], estimates: Mapping[str, str]) -> str:
    """The key figures with units, estimates labelled."""
    rows = []
    for key, label, unit, digits in _KEY_FIGURES:
        if key not in summary:
            continue
        badge = _EST if key in estimates else ""
        rows.append(
            (
                f"{esc(label)}{badge}",
                _value(key, summary[key], unit, digits),
                esc(unit if unit != "%" else "of demand"),
                f"<code>{esc(key)}</code>",
            )
        )
    return _table(("figure", "value", "unit", "summary.json key"), rows, text_cols=(0, 2, 3))


def matrix_table(profiles: Sequence[Mapping[str, Any]]) -> str:
    """The heat-demand matrix as HTML."""
    headers = [
        "customer",
        "annual demand [MWh]",
        *[f"{m.capitalize()} [MWh]" for m in MONTHS],
        "needs [C] (mean / p95)",
        "band [C]",
        "loop gives [C]",
        "open [h/week]",
        "tolerates [h]",
        "summer/winter",
        "verdict",
        "reasons",
    ]
    rows = []
    for p in profiles:
        reasons = "<br>".join(
            f'<span class="{esc(r["severity"])}">[{esc(r["severity"])}]</span> {esc(r["text"])}'
            for r in p["fit_reasons"]
        )
        sw = p.get("summer_to_winter_demand_fraction")
        own = " (site)" if p.get("is_site_customer") else ""
        rows.append(
            (
                f"{esc(p['kind'])}{own}<br><span class='note'>{esc(p['customer_name'])}</span>",
                _fmt(p["heat_demand_kwh"] / 1000.0, 0),
                *[_fmt(x / 1000.0, 0) for x in p["monthly_heat_demand_kwh"]],
                f"{_fmt(p['required_supply_temp_c'], 0)} / "
                f"{_fmt(p['required_supply_temp_p95_c'], 0)}",
                f"{_fmt(p['supply_band_min_temp_c'], 0)}-{_fmt(p['supply_band_max_temp_c'], 0)}",
                _fmt(p["available_supply_temp_c"], 0),
                _fmt(p["operating_hours_per_week_h"], 0),
                _fmt(p["interruption_tolerance_h"], 1),
                "n/a" if sw is None else f"{sw:.0%}",
                f'<span class="{esc(p["fit_verdict"])}">{esc(p["fit_verdict"])}</span>',
                reasons,
            )
        )
    return _table(headers, rows, text_cols=(0, len(headers) - 2, len(headers) - 1))


def comparison_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The five reuse models side by side."""
    headers = [
        "model",
        "delivered [MWh]",
        "demand covered",
        "rejected [MWh]",
        "backup [MWh]",
        "pipe losses [MWh]",
        "ERF",
        "PUE",
        f"avoided CO2 [t]{_EST}",
        f"capex [EUR]{_EST}",
        f"opex [EUR/a]{_EST}",
        f"payback [years]{_EST}",
        "verdict",
        "key risk",
    ]
    out = []
    for r in rows:
        own = " (site)" if r.get("is_site_customer") else ""
        out.append(
            (
                f"{esc(r['label'])}{own}",
                _fmt(r["heat_delivered_kwh"] / 1000.0, 0),
                f"{float(r['demand_coverage_fraction']):.0%}",
                _fmt(r["heat_rejected_kwh"] / 1000.0, 0),
                _fmt(r["backup_heat_kwh"] / 1000.0, 0),
                _fmt(r["pipe_loss_kwh"] / 1000.0, 1),
                _fmt(r["erf"], 3),
                _fmt(r["pue"], 3),
                _fmt((r["avoided_emissions_kg"] or 0.0) / 1000.0, 1),
                _fmt(r["capex_eur"], 0),
                _fmt(r["opex_eur_per_year"], 0),
                "never" if r["payback_years"] is None else _fmt(r["payback_years"], 1),
                f'<span class="{esc(r["fit_verdict"])}">{esc(r["fit_verdict"])}</span>',
                esc(r["key_risk"]),
            )
        )
    return _table(headers, out, text_cols=(0, 12, 13))


def frontier_table(sweep: SweepResult) -> str:
    """Frontier points of a sweep."""
    names = list(sweep.axes)
    cols = [
        *names,
        "demand_coverage_fraction",
        "heat_delivered_kwh",
        "heat_rejected_kwh",
        "capex_eur",
        "payback_years",
        "npv_eur",
    ]
    rows = []
    for _, r in sweep.frontier.iterrows():
        rows.append(
            [_fmt(r[n], 2) for n in names]
            + [
                f"{r['demand_coverage_fraction']:.1%}",
                _fmt(r["heat_delivered_kwh"], 0),
                _fmt(r["heat_rejected_kwh"], 0),
                _fmt(r["capex_eur"], 0),
                "never" if pd.isna(r["payback_years"]) else _fmt(r["payback_years"], 1),
                _fmt(r["npv_eur"], 0),
            ]
        )
    headers = [
        *(
            f"{n}<br><span class='note'>{esc(SWEEP_PARAMETERS[n].description)}</span>"
            for n in names
        ),
        "coverage",
        "delivered [kWh]",
        "rejected [kWh]",
        f"capex [EUR]{_EST}",
        f"payback [years]{_EST}",
        f"NPV [EUR]{_EST}",
    ]
    assert len(headers) == len(cols)
    return _table(headers, rows, text_cols=())


def assumptions_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Assumptions with their sources."""
    return _table(
        ("assumption", "value", "source"),
        (
            (
                esc(r["name"]) + (_EST if r.get("estimate") else ""),
                esc(r["value"]),
                esc(r["source"]),
            )
            for r in rows
        ),
        text_cols=(0, 1, 2),
    )


# --------------------------------------------------------------------------- pages
def render_report(site: Site, study: StudyResult) -> str:
    """The full plan report as one self-contained HTML page."""
    s = study.summary
    estimates: Mapping[str, str] = s.get("estimates", {})
    verdict = str(s.get("fit_verdict", ""))
    reasons = "".join(f"<li>{esc(r)}</li>" for r in s.get("fit_reasons", []))
    parts = [
        f"<h1>Heat-reuse feasibility study: {esc(site.site.name)}</h1>",
        f"<p class='note'>site <code>{esc(site.id)}</code>, customer "
        f"{esc(site.customer.name)} ({esc(site.customer.kind)}); weather "
        f"<code>{esc(s.get('weather_source'))}</code>; period {esc(s.get('period_start_utc'))} "
        f"to {esc(s.get('period_end_utc'))} (UTC), step {esc(s.get('step_s'))} s; heatreuse "
        f"{esc(s.get('heatreuse_version'))}, generated {esc(s.get('generated_at_utc'))}.</p>",
        f"<p class='note'>Figures marked {_EST} are estimates: modelled demand, simulated "
        "heat, planning prices. Nothing here is metered.</p>",
        f"<h2>Fit verdict: <span class='{esc(verdict)}'>{esc(verdict)}</span></h2>",
        f"<ul>{reasons}</ul>",
        "<h2>Key figures (one year)</h2>",
        key_figures_table(s, estimates),
        "<h2>Monthly demand and delivered heat</h2>",
        _figure_html(monthly_figure(site, study.hourly), "plot-monthly"),
        "<h2>Tank temperature duration curve</h2>",
        _figure_html(duration_figure(site, study.hourly), "plot-duration"),
        "<h2>Energy flows</h2>",
        _figure_html(sankey_figure(s), "plot-sankey"),
        "<h2>Heat-demand matrix</h2>",
        "<p class='note'>Demand modelled from physics and the weather year "
        f"{_EST}; monthly values by site-local calendar month.</p>",
        matrix_table(s.get("matrix", [])),
    ]
    if s.get("comparison"):
        parts += [
            "<h2>The five reuse models side by side</h2>",
            "<p class='note'>Customers other than the site's are defaults sized so their mean "
            f"demand equals the heat the site recovers {_EST}.</p>",
            comparison_table(s["comparison"]),
            _figure_html(comparison_figure(s["comparison"]), "plot-comparison"),
        ]
    if study.sweep is not None:
        sw = study.sweep
        parts += [
            "<h2>Sizing sweep</h2>",
            f"<p class='note'>{len(sw.frame)} grid points ({sw.site_years:.0f} site-years) at "
            f"{sw.step_s} s steps in {sw.elapsed_s:.1f} s on {sw.workers} worker(s). The frontier "
            "holds the points no other point beats on both coverage and cost.</p>",
            _figure_html(frontier_figure(sw), "plot-frontier"),
            frontier_table(sw),
        ]
    parts += [
        "<h2>Emission factors</h2>",
        _emission_factors_html(s.get("emission_factors", {})),
        "<h2>Assumptions and sources</h2>",
        assumptions_table(s.get("assumptions", [])),
        "<h2>Estimates</h2>",
        _table(
            ("figure", "why it is an estimate"),
            ((f"<code>{esc(k)}</code>", esc(v)) for k, v in estimates.items()),
            text_cols=(0, 1),
        ),
    ]
    return page_html(f"heatreuse plan: {site.id}", "\n".join(parts), _CSS)


def _emission_factors_html(ef: Mapping[str, Any]) -> str:
    rows = []
    for key in ("grid", "displaced_fuel"):
        f = ef.get(key)
        if f:
            rows.append(
                (
                    esc(key),
                    _fmt(f.get("value_kg_per_kwh"), 4),
                    esc(f.get("basis") or ""),
                    esc(f.get("source")),
                    esc(f.get("year")),
                )
            )
    return _table(
        ("factor", "kg CO2/kWh", "basis", "source", "year"), rows, text_cols=(0, 2, 3)
    ) + (
        f"<p class='note'>displaced fuel: {esc(ef.get('displaced_fuel_kind'))}, reference "
        f"efficiency {esc(ef.get('reference_efficiency_fraction'))}</p>"
    )


def render_sweep_page(site: Site, sweep: SweepResult) -> str:
    """The sweep page: frontier plot, frontier table, run figures."""
    body = "\n".join(
        [
            f"<h1>Sizing sweep: {esc(site.site.name)}</h1>",
            f"<p class='note'>{len(sweep.frame)} grid points ({sweep.site_years:.0f} site-years) "
            f"at {sweep.step_s} s steps in {sweep.elapsed_s:.1f} s on {sweep.workers} worker(s). "
            f"Money figures are estimates {_EST}.</p>",
            _figure_html(frontier_figure(sweep), "plot-frontier"),
            "<h2>Frontier</h2>",
            frontier_table(sweep),
        ]
    )
    return page_html(f"heatreuse sweep: {site.id}", body, _CSS)
