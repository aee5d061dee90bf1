"""The fleet plan page: one self-contained HTML file with the ranked table.

Column headers are the frame's column names, so every number carries its unit
(``capex_eur``, ``heat_delivered_kwh``, ``sla_longest_interruption_h``). The
page shows the first :data:`MAX_TABLE_ROWS` ranks and each site's best point;
``fleet.parquet`` holds every row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go

from heatreuse.htmlpage import esc, page_html
from heatreuse.planning.report import _CSS, _EST, _figure_html, _fmt, _table

if TYPE_CHECKING:
    from heatreuse.planning.fleet import FleetResult

#: Most rows in the page's ranked table.
MAX_TABLE_ROWS = 200

_DIGITS = {
    "npv_eur": 0,
    "capex_eur": 0,
    "heat_delivered_kwh": 0,
    "avoided_emissions_kg": 0,
    "demand_coverage_fraction": 3,
    "heat_delivered_per_capex_kwh_per_eur": 2,
    "erf": 3,
    "sla_in_band_fraction": 4,
    "sla_target_fraction": 4,
    "sla_longest_interruption_h": 1,
    "sla_max_interruption_h": 1,
}


def _columns(result: FleetResult) -> list[str]:
    from heatreuse.planning.sweep import SWEEP_PARAMETERS

    frame = result.frame
    swept = [
        name
        for name in SWEEP_PARAMETERS
        if frame.groupby("site_id")[name].nunique(dropna=True).max() > 1
    ]
    sizing = list(dict.fromkeys(["tank_volume_m3", "it_power_kw", *swept]))
    figures = [
        result.fleet.metric,
        "npv_eur",
        "capex_eur",
        "heat_delivered_kwh",
        "demand_coverage_fraction",
        "heat_delivered_per_capex_kwh_per_eur",
        "sla_in_band_fraction",
        "sla_target_fraction",
        "sla_longest_interruption_h",
        "sla_max_interruption_h",
        "sla_feasible",
    ]
    return ["rank", "site_id", "customer_kind", *sizing, *dict.fromkeys(figures)]


def _rows_html(result: FleetResult, rows: object, cols: list[str]) -> str:
    import pandas as pd

    assert isinstance(rows, pd.DataFrame)
    body = []
    for _, r in rows.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if c in ("site_id", "customer_kind"):
                cells.append(esc(v))
            elif c == "rank":
                cells.append(str(int(v)))
            else:
                cells.append(_fmt(v, _DIGITS.get(c, 1)))
        body.append(cells)
    text_cols = [cols.index("site_id"), cols.index("customer_kind")]
    return _table([esc(c) for c in cols], body, text_cols=text_cols)


def fleet_figure(result: FleetResult) -> go.Figure:
    """Every point: capex against the ranking metric, one trace per site; hollow = SLA not kept."""
    fig = go.Figure()
    metric = result.fleet.metric
    for site_id, f in result.frame.groupby("site_id", sort=False):
        fig.add_trace(
            go.Scatter(
                x=f["capex_eur"],
                y=f[metric],
                mode="markers",
                name=str(site_id),
                marker={
                    "size": 8,
                    "symbol": ["circle" if ok else "circle-open" for ok in f["sla_feasible"]],
                },
                text=[f"rank {r}" for r in f["rank"]],
            )
        )
    fig.update_layout(
        title=f"{metric} against capex_eur (hollow: SLA estimate not kept)",
        xaxis_title="capex_eur (estimate)",
        yaxis_title=metric,
    )
    return fig


def render_fleet_page(result: FleetResult) -> str:
    """The fleet page: what was ranked how, the figure, each site's best, the ranked table."""
    from heatreuse.planning.fleet import RANK_METRICS

    fleet = result.fleet
    frame = result.frame
    cols = _columns(result)
    order = "SLA-feasible points first, then " if fleet.sla_feasible_first else ""
    best = frame[frame["site_best"]]
    shown = frame.head(MAX_TABLE_ROWS)
    body = "\n".join(
        [
            f"<h1>Fleet plan: {esc(fleet.name or fleet.id)}</h1>",
            f"<p class='note'>{len(fleet.sites)} candidate sites, {len(frame)} site x sizing "
            f"points ({result.site_years:.0f} site-years at {fleet.step_s} s steps) in "
            f"{result.elapsed_s:.1f} s on {result.workers} worker(s) ({esc(result.executor)}); "
            f"weather, demand and setup {result.prepare_s:.1f} s. Fleet file "
            f"<code>{esc(fleet.file)}</code>.</p>",
            f"<p>Ranked by <b>{esc(fleet.metric)}</b>: "
            f"{esc(RANK_METRICS[fleet.metric].description)}; {order}highest first. Money "
            f"figures are estimates {_EST}. The SLA columns are an estimate from the "
            "simulated customer supply temperature at the simulation step: share of "
            "operating steps in the SLA band against the target, longest run out of band "
            "against the contract's maximum interruption (heatreuse.planning.feasibility); "
            "drill the chosen site on the twin for the SLA engine's verdict.</p>",
            _figure_html(fleet_figure(result), "plot-fleet"),
            "<h2>Best point of each site</h2>",
            _rows_html(result, best, cols),
            f"<h2>Ranking (first {len(shown)} of {len(frame)})</h2>",
            _rows_html(result, shown, cols),
        ]
    )
    return page_html(f"heatreuse fleet plan: {fleet.id}", body, _CSS)
