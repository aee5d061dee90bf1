"""Use case: a metered period measured against the model (``heatreuse compare``).

:func:`compare_period` reads what the site measured from the store, replays the
engine with it (:func:`heatreuse.planning.replay.compare_measured`) and returns
the comparison; :func:`write_outputs` writes it as JSON and as one HTML page with a
chart per day.

What is read
------------
* Hourly energies exactly as the reuse ledger builds them
  (:func:`heatreuse.services.ledger.hourly_rollups` and
  :func:`heatreuse.ledger.build.build_intervals`: register deltas, else integrated
  power, each hour with its status): IT electricity, heat delivered (the heat
  meter), backup heat, rejected heat, total site energy, heat-pump electricity,
  and the heat meter's MPE per hour.
* Hourly means of the meter's return temperature (else ``customer.return_temp_c``),
  of the supply temperature the SLA measures and of the meter's power.
* 1-minute means of the meter's flow, supply and return temperature and power, the
  tank top and bottom, the boiler and dry cooler power, the primary loop temperature and the
  charging flow (evidence for control, sizing and metering).
* The tank layer temperatures and the loop temperature in the first 15 minutes of
  the period (the replay's start state).

Periods take the forms of ``heatreuse sla report`` (local month ``YYYY-MM``,
contract year ``YYYY``, local days ``YYYY-MM-DD..YYYY-MM-DD``;
:func:`heatreuse.services.sla.parse_period`). Hours after ``now`` are not compared.

Weather: ``--weather`` (a file or ``pvlib:``/``dwd-try:`` source; a typical year is
re-stamped onto the period's years) or the site's own ``location.weather``; the
output says which.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heatreuse.errors import CompareError, WeatherError
from heatreuse.ledger.build import build_intervals, ledger_points
from heatreuse.planning.replay import (
    HOURLY_COLUMNS,
    MINUTE_COLUMNS,
    Comparison,
    MeasuredData,
    compare_measured,
    compared_hours,
)
from heatreuse.services.ledger import hourly_rollups
from heatreuse.services.sla import parse_period
from heatreuse.services.twin import weather_for_window
from heatreuse.site import Site, expand_points
from heatreuse.sla import SlaDefinition
from heatreuse.store import Store, using_store
from heatreuse.weather import load_weather

__all__ = [
    "compare_period",
    "comparison_json",
    "measured_data",
    "period_window",
    "write_outputs",
]

#: Default engine step of the replay [s].
DEFAULT_STEP_S = 60
#: The start state is taken from the first readings within this time of the start.
START_STATE_WINDOW = pd.Timedelta(minutes=15)
_LAYER_RE = re.compile(r"^tank\.layer_(\d+)_temp_c$")
#: Ledger quantity -> hourly column.
_LEDGER_COLUMNS = {
    "it_electricity": "it_energy_kwh",
    "heat_delivered": "heat_delivered_kwh",
    "backup_heat": "backup_heat_kwh",
    "heat_rejected": "heat_rejected_kwh",
    "total_site_energy": "total_site_energy_kwh",
    "heat_pump_electricity": "heat_pump_electricity_kwh",
}


def period_window(
    site: Site, period: str, now: dt.datetime | None = None
) -> tuple[str, pd.Timestamp, pd.Timestamp, list[str]]:
    """The period as whole UTC hours: (label, start, end, notes).

    Raises
    ------
    SLAError
        The period text matches none of the forms of ``sla report``.
    CompareError
        The period has not started yet.
    """
    spec = parse_period(period, SlaDefinition.from_site(site))[0]
    notes: list[str] = []
    start, end = spec.start.floor("h"), spec.end.ceil("h")
    if start != spec.start or end != spec.end:
        notes.append(
            f"local days in {site.location.timezone} do not start on whole UTC hours: the "
            f"period is widened to {start.isoformat()} .. {end.isoformat()}"
        )
    now_ts = pd.Timestamp(now if now is not None else dt.datetime.now(dt.UTC))
    if now_ts.tzinfo is None:
        raise CompareError(f"now: expected a tz-aware instant, got {now!r}")
    now_h = now_ts.tz_convert("UTC").floor("h")
    if now_h <= start:
        raise CompareError(
            f"--period {period}: starts {start.isoformat()}, which is not in the past yet"
        )
    if now_h < end:
        notes.append(f"the period runs until {end.isoformat()}; compared up to {now_h.isoformat()}")
        end = now_h
    return spec.label, start, end, notes


def _status_text(statuses: pd.Series, what: str, points: str) -> str:
    counts = statuses.value_counts().to_dict()
    parts = [f"{int(n)} h {s}" for s, n in sorted(counts.items())]
    return (
        f"measured: {what} from {points} per hour, as the reuse ledger builds it "
        f"({', '.join(parts)})"
    )


def measured_data(store: Store, site: Site, start: pd.Timestamp, end: pd.Timestamp) -> MeasuredData:
    """Read what the site measured over [start, end) (whole UTC hours) from the store."""
    registry = expand_points(site).by_id()
    lp = ledger_points(site)
    hours = pd.date_range(start, end, freq="h", inclusive="left", name="time")
    sla_point = site.contract.sla.measured_point
    return_point = next(
        (p for p in ("meter.return_temp_c", "customer.return_temp_c") if p in registry), None
    )
    extra = [p for p in (sla_point, return_point, "meter.heat_power_w") if p and p in registry]
    points = sorted(set(lp.all_points()) | set(extra))
    rollups = hourly_rollups(
        store, site.id, points, start, end, counter_rollover=lp.counter_rollover
    )
    entries = build_intervals(site, hours, rollups, lp)
    cols: dict[str, list[Any]] = {c: [] for c in HOURLY_COLUMNS}
    statuses: dict[str, list[str]] = {q: [] for q in _LEDGER_COLUMNS}
    for e in entries:
        for q, col in _LEDGER_COLUMNS.items():
            kwh = e[q]["kwh"]
            cols[col].append(np.nan if kwh is None else float(kwh))
            statuses[q].append(str(e[q]["status"]))
        unc = e["heat_delivered"].get("uncertainty_kwh")
        cols["heat_delivered_uncertainty_kwh"].append(np.nan if unc is None else float(unc))
        cols["heat_delivered_estimated"].append(
            1.0 if e["heat_delivered"]["status"] == "estimated" else 0.0
        )

    def hourly_mean(pid: str | None) -> np.ndarray:
        frame = rollups.get(pid or "")
        if frame is None or "mean" not in frame:
            return np.full(len(hours), np.nan)
        return frame["mean"].reindex(hours).to_numpy(dtype=np.float64)

    cols["meter_power_w"] = list(hourly_mean("meter.heat_power_w"))
    cols["return_temp_c"] = list(hourly_mean(return_point))
    cols["supply_temp_c"] = list(hourly_mean(sla_point if sla_point in registry else None))
    hourly = pd.DataFrame(cols, index=hours)

    layer_ids = sorted(
        (int(m[1]), pid) for pid in registry if (m := _LAYER_RE.match(pid)) is not None
    )
    minute_points = {
        "flow_m3_per_h": "meter.flow_m3_per_h",
        "meter_supply_temp_c": "meter.supply_temp_c",
        "meter_return_temp_c": "meter.return_temp_c",
        "meter_power_w": "meter.heat_power_w",
        "supply_temp_c": sla_point,
        "tank_top_temp_c": layer_ids[0][1] if layer_ids else "",
        "tank_bottom_temp_c": layer_ids[-1][1] if layer_ids else "",
        "backup_heat_w": "boiler.heat_power_w",
        "heat_rejected_w": "dry_cooler.heat_power_w",
        "loop_temp_c": "it_loop.return_temp_c",
        "secondary_flow_m3_per_h": "hx.secondary_flow_m3_per_h",
    }
    assert set(minute_points) == set(MINUTE_COLUMNS)
    wanted = sorted({p for p in minute_points.values() if p in registry})
    raw = store.read_series(site.id, wanted, start, end, resolution="1min", agg="mean")
    minutes = pd.DataFrame(index=pd.DatetimeIndex(raw.index).tz_convert("UTC"))
    for col, pid in minute_points.items():
        minutes[col] = raw[pid].to_numpy(dtype=np.float64) if pid in raw.columns else np.nan
    if "boiler.heat_power_w" not in registry and site.plant.backup_boiler is None:
        minutes["backup_heat_w"] = 0.0  # no boiler: a true zero
    if "dry_cooler.heat_power_w" not in registry and site.plant.heat_reject is None:
        minutes["heat_rejected_w"] = 0.0

    tank_temps: tuple[float, ...] | None = None
    loop_c: float | None = None
    first_ids = [pid for _, pid in layer_ids]
    if "it_loop.return_temp_c" in registry:
        first_ids.append("it_loop.return_temp_c")
    if first_ids:
        head = store.read_series(
            site.id, first_ids, start, start + START_STATE_WINDOW, resolution="1min", agg="mean"
        )
        firsts = {
            pid: float(head[pid].dropna().iloc[0])
            for pid in head.columns
            if head[pid].notna().any()
        }
        if layer_ids and all(pid in firsts for _, pid in layer_ids):
            tank_temps = tuple(firsts[pid] for _, pid in layer_ids)
        loop_c = firsts.get("it_loop.return_temp_c")

    def reg(q: str) -> str:
        s = lp.source(q)
        return " / ".join(list(s.registers) + ["+".join(a) for a in s.power_points]) or "-"

    sources = {
        "it_power_w": _status_text(
            pd.Series(statuses["it_electricity"]), "IT energy", reg("it_electricity")
        ),
        "customer_heat_w": _status_text(
            pd.Series(statuses["heat_delivered"]), "recovered heat", reg("heat_delivered")
        )
        + "; plus backup heat from "
        + reg("backup_heat"),
        "return_temp_c": f"measured: hourly mean of {return_point}"
        if return_point
        else "model (no return temperature point in the registry)",
    }
    return MeasuredData(
        start=start,
        end=end,
        hourly=hourly,
        minutes=minutes,
        initial_tank_temps_c=tank_temps,
        initial_loop_temp_c=loop_c,
        sources=sources,
    )


def _weather(
    site: Site, spec: str | None, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[pd.DataFrame, str]:
    if spec is None or not spec.strip():
        return weather_for_window(site, start, end), f"{site.location.weather} (the site's)"
    text = spec.strip()
    first = load_weather(text)
    if bool(first.attrs.get("typical_year")):
        frames = [load_weather(text, year=y) for y in range(start.year - 1, end.year + 1)]
        weather = pd.concat(frames)
        weather = weather[~weather.index.duplicated(keep="first")].sort_index()
        weather.attrs = dict(frames[0].attrs)
    else:
        weather = first
    idx = pd.DatetimeIndex(weather.index)
    if idx[0] > start or idx[-1] + pd.Timedelta(hours=1) < end:
        raise WeatherError(
            f"--weather {text!r}: covers {idx[0].isoformat()} .. "
            f"{(idx[-1] + pd.Timedelta(hours=1)).isoformat()}, the period is "
            f"{start.isoformat()} .. {end.isoformat()}"
        )
    return weather, f"{text} (--weather)"


def compare_period(
    site: Site,
    period: str,
    store_url: str | None = None,
    *,
    weather: str | None = None,
    step_s: int = DEFAULT_STEP_S,
    store: Store | None = None,
    now: dt.datetime | None = None,
) -> Comparison:
    """Measured vs model for a period of the site (see the module docstring).

    Raises
    ------
    CompareError
        No measurement at all in the period, or a period in the future.
    SLAError
        A period text of none of the accepted forms.
    WeatherError
        The weather cannot be read or does not cover the period.
    StoreError
        No store at the URL.
    """
    label, start, end, notes = period_window(site, period, now)
    with using_store(store_url, store) as st:
        measured = measured_data(st, site, start, end)
    h = measured.hourly
    if not compared_hours(h).any():
        missing = [
            name
            for name, col in (
                ("IT energy", "it_energy_kwh"),
                ("delivered heat", "heat_delivered_kwh"),
                ("backup heat", "backup_heat_kwh"),
            )
            if not h[col].notna().any()
        ]
        raise CompareError(
            f"site {site.id!r}: no hour of {label} ({start.isoformat()} .. {end.isoformat()}) "
            "has measured IT energy, delivered heat and backup heat together in the store"
            + (f" (none at all: {', '.join(missing)})" if missing else "")
            + "; ingest the period's readings first (heatreuse ingest / serve)"
        )
    wx, wx_label = _weather(site, weather, start, end)
    result = compare_measured(
        site, measured, wx, weather_label=wx_label, period_label=label, step_s=step_s
    )
    return replace(result, notes=[*notes, *result.notes])


def write_outputs(result: Comparison, out_dir: str | Path) -> dict[str, Path]:
    """Write ``compare_<site>_<period>.json`` and ``.html`` (a chart per day) to ``out_dir``."""
    from heatreuse.planning.replay_report import render_comparison_html

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"compare_{result.site_id}_{_slug(result.period_label)}"
    json_path = out / f"{stem}.json"
    html_path = out / f"{stem}.html"
    json_path.write_text(
        json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    html_path.write_text(render_comparison_html(result), encoding="utf-8")
    return {"json": json_path, "html": html_path}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "period"


def comparison_json(result: Comparison) -> str:
    """The comparison as JSON text (``--json``)."""
    return json.dumps(result.to_dict(), indent=2, allow_nan=False)
