"""Measured against the model: replay a metered period on the engine and explain the variance.

:func:`compare_measured` takes what a site measured over a period (hourly
energies the reuse ledger uses, hourly temperatures, 1-minute plant signals;
:class:`MeasuredData`, read from the store by :mod:`heatreuse.services.compare`)
and the period's weather, runs the engine four times from the same start state
and sets the results beside the measurements, per local day and in total:

* ``P`` (the plan): planned IT power (``compute.utilisation`` x nameplate) and the
  modelled demand (the site's ``customer`` with the weather);
* ``B``: planned IT power, measured demand;
* ``W``: measured IT power, modelled demand;
* ``R`` (the replay): measured IT power, measured demand.

*Measured demand* is the heat the customer actually took: metered recovered heat
(heat meter, corrected by the heat balance where the meter disagrees with its own
flow and temperatures beyond its error, see *metering*) plus metered backup heat,
each hour held over its steps, with the measured return temperature. The required
supply temperature and the operating hours always come from the model (they are
not metered). The model's plant is the site file (tank, heat exchanger, pumps, dry
cooler, boiler). All four runs start from the tank and loop temperatures measured
at the start of the period when the store has them (else the engine's half-charged
default).

Variance and its causes
-----------------------
The variance is the model's recovered heat minus the metered one over the hours
that have measurements (``V = Q_P - Q_M`` [kWh]; positive: the site delivered less
than planned; hours without measured IT, delivered or backup heat are left out of
every sum, and the runs go through them on the model's inputs). It splits exactly::

    V = (Q_P - Q_R) + (Q_M* - Q_M) + (Q_R - Q_M*)
      = demand + workload + metering + control + sizing + unexplained

with ``Q_M*`` the balance-corrected metered heat. Each cause is a real quantity of
heat [kWh] with its evidence:

* **workload** and **demand** (inputs that differ from the plan): the Shapley
  split of ``Q_P - Q_R`` over the two inputs (order-free, exact)::

      workload = ((Q_P - Q_W) + (Q_B - Q_R)) / 2
      demand   = ((Q_P - Q_B) + (Q_W - Q_R)) / 2

  workload: recovered heat the plan's IT power would have delivered beyond the
  measured IT power (IT below plan); demand: recovered heat the modelled demand
  would have taken beyond what the customer took (customer took less than
  modelled). Negative values: measured IT or demand above the model.
* **metering** = ``sum_h (Q_bal,h - Q_M,h)`` over the hours with a balance of the
  local days where ``|sum_h (Q_bal,h - Q_M,h)| > sum_h U_h + 2 x``
  :data:`REGISTER_RESOLUTION_KWH` (``U_h`` [kWh] the meter's maximum permissible
  error in the hour, MID Annex VI MI-004 / EN 1434, as the ledger computes it).
  ``Q_bal,h`` [kWh] is the heat balance of the hour from the meter's own flow and
  temperatures: ``k(theta_f, theta_r) V_dot (theta_f - theta_r)`` [W] per minute
  (``k`` the EN 1434-1 heat coefficient [kWh/(m3 K)],
  :func:`heatreuse.physics.heat_coefficient_kwh_per_m3_k`; ``V_dot`` [m3/h]),
  averaged over the hour's minutes that have flow, both temperatures and the
  meter's power (at least :data:`BALANCE_MIN_MINUTES`), x 1 h; ``Q_M,h`` the
  meter's register delta. Positive: the meter registered less heat than its flow
  and temperatures show; on those days the replay's demand uses ``Q_bal,h``. The
  meter's power against the balance on the same minutes and the register against
  the integral of the power are shown as evidence.
* **control** = ``sum_h (Q_R,h - Q_M*,h)`` over hours with evidence of a control
  fault: the controller's supply reading (``meter.supply_temp_c``) differs from the
  tank top by more than :data:`SENSOR_DEVIATION_K` beyond what the replay shows
  (setpoint deviation: a false or drifting sensor makes the controller fire the
  boiler while the plant has heat), the boiler or the dry cooler switching at
  least :data:`FLAPPING_EXTRA_SWITCHES_PER_H` times an hour more than in the
  replay (mode flapping), the supply temperature at the customer reversing at
  least :data:`HUNTING_EXTRA_REVERSALS_PER_H` times an hour more than in the
  replay with swings of :data:`HUNTING_AMPLITUDE_K` or more (hunting; both for at
  least :data:`CONTROL_MIN_RUN_H` consecutive hours), or backup
  heat while the supply at the customer was above the band (out-of-band supply).
* **sizing** = ``sum_h s_h`` over the hours not counted as control, with
  ``s_h = min(dQ_bkp,h+, max(Q_R,h - Q_M*,h, 0), dQ_rej available)``:
  ``dQ_bkp,h = Q_bkp,M,h - Q_bkp,R,h`` is backup heat beyond the replay and
  ``dQ_rej,h = Q_rej,M,h - Q_rej,R,h`` heat the dry cooler rejected beyond the
  replay; rejected heat is available to the backup of the same hour and of the
  next :data:`STORAGE_HORIZON_H` hours, oldest first, each kWh used once (an hour
  that rejected less than the replay cancels that much of it). That is
  heat thrown away while (or shortly before) the customer needed more backup heat
  than the model did: a larger tank or heat exchanger would have moved it to the
  customer (the tank or the exchanger saturated, the reject path active while
  the customer wanted heat). The same matching with both signs turned is
  subtracted: heat the replay's plant rejected and then covered with backup heat
  where the site stored and delivered it (negative sizing: the real plant shifted
  more heat than the model's, e.g. with its reject path out of service). Evidence:
  hours of reject while the boiler heated, hours with the tank full while
  rejecting, hours with the heat exchanger at its limit (full charging flow,
  rejecting, tank not full).
* **unexplained** = ``V`` minus the five causes (model error, effects that span
  days, missing evidence); reported in the totals, never hidden.

References
----------
EN 1434-1:2022 (heat coefficient, heat meters); Directive 2014/32/EU (MID) Annex VI
MI-004 (maximum permissible errors); L. S. Shapley, "A value for n-person games",
Contributions to the Theory of Games II (1953) 307-317 (the order-free split of a
difference between two inputs); ISO/IEC 30134-6 (ERF).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from heatreuse.errors import DomainError, SimulationError
from heatreuse.kpi import erf, reused_energy_kwh
from heatreuse.physics.metering import heat_coefficient_kwh_per_m3_k
from heatreuse.planning.study import hourly_frame
from heatreuse.simulation import SimulationResult, SimulationState, simulate
from heatreuse.simulation import kernel as K
from heatreuse.simulation.demand import customer_demand
from heatreuse.simulation.inputs import prepare
from heatreuse.site.model import Site
from heatreuse.units import J_PER_KWH

__all__ = [
    "CAUSES",
    "HOURLY_COLUMNS",
    "MINUTE_COLUMNS",
    "Comparison",
    "MeasuredData",
    "compare_measured",
    "compared_hours",
]

FloatArray = npt.NDArray[np.float64]

#: The causes a variance is attributed to.
CAUSES: tuple[str, ...] = ("control", "sizing", "workload", "demand", "metering")
#: Hourly measured columns (UTC hour starts): energies of the hour [kWh] as the ledger
#: builds them (NaN: missing, never 0), hourly means of temperatures [C] and power [W].
HOURLY_COLUMNS: tuple[str, ...] = (
    "it_energy_kwh",
    "heat_delivered_kwh",
    "heat_delivered_uncertainty_kwh",
    "heat_delivered_estimated",
    "backup_heat_kwh",
    "heat_rejected_kwh",
    "total_site_energy_kwh",
    "heat_pump_electricity_kwh",
    "meter_power_w",
    "return_temp_c",
    "supply_temp_c",
)
#: 1-minute measured columns (UTC minute starts; NaN where a point has no reading).
MINUTE_COLUMNS: tuple[str, ...] = (
    "flow_m3_per_h",
    "meter_supply_temp_c",
    "meter_return_temp_c",
    "meter_power_w",
    "supply_temp_c",
    "tank_top_temp_c",
    "tank_bottom_temp_c",
    "backup_heat_w",
    "heat_rejected_w",
    "loop_temp_c",
    "secondary_flow_m3_per_h",
)

#: Difference between the controller's supply reading minus the tank top, measured vs
#: replay, above which an hour shows a setpoint deviation (sensor offset or drift) [K]
#: (several times the EN 60751 class A tolerance of a Pt1000 pair, +-0.3 K at 50 C).
SENSOR_DEVIATION_K = 2.0
#: Extra on/off switches per hour of the boiler or the dry cooler, measured vs replay,
#: that count as mode flapping [1/h] (a switch every 6 minutes beyond the model's own).
FLAPPING_EXTRA_SWITCHES_PER_H = 10
#: Flapping and hunting count only in runs of at least this many consecutive hours (a
#: faulty loop keeps doing it; an hour where the plant changes regime earlier or later
#: than the model does not) [h].
CONTROL_MIN_RUN_H = 2
#: A swing of the supply temperature at the customer counts when it reverses after moving
#: at least this much [K] (well above the sensor noise of a few hundredths of a K).
HUNTING_AMPLITUDE_K = 1.0
#: Extra reversals per hour of the supply temperature, measured vs replay, that count as
#: hunting [1/h] (a single dip and recovery is two reversals, an oscillating loop many).
HUNTING_EXTRA_REVERSALS_PER_H = 6
#: Heat rejected beyond the replay can have served backup heat beyond the replay within
#: this time (what a store sized for a day shifts) [h].
STORAGE_HORIZON_H = 24
#: Hours one row of the 1-minute frame stands for [h].
MINUTE_H = 1.0 / 60.0
#: A boiler or dry cooler counts as running above this power [W].
STATUS_ON_W = 1.0
#: Customer flow above this fraction of the customer circuit's rated flow counts as flowing.
FLOW_ON_FRACTION = 0.01
#: Fewest 1-minute balance values an hour needs for its heat balance.
BALANCE_MIN_MINUTES = 6
#: Resolution of an energy register [kWh] added to the meter's MPE when judging a day's
#: balance residual (registers count whole kWh).
REGISTER_RESOLUTION_KWH = 1.0
#: An operating hour in which the customer took less than this fraction of the modelled
#: demand counts as "took no heat".
NO_HEAT_FRACTION = 0.05
#: An hour whose measured IT energy is below this fraction of the plan counts as "IT down".
IT_LOW_FRACTION = 0.5
#: A day's sizing figure is listed as evidence when it exceeds this [kWh] ...
DAY_NOISE_KWH = 5.0
#: ... and this fraction of the day's metered heat (meter noise and register resolution).
DAY_NOISE_FRACTION = 0.01
#: The tank counts as full when its bottom is within this of the loop's design return
#: temperature (the engine's rule: charging stops there) [K].
LIMIT_MARGIN_K = 1.0


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class MeasuredData:
    """What a site measured over a period (see :data:`HOURLY_COLUMNS`, :data:`MINUTE_COLUMNS`).

    Attributes
    ----------
    start, end
        The period [start, end), whole UTC hours.
    hourly
        One row per UTC hour of the period, columns :data:`HOURLY_COLUMNS`.
    minutes
        1-minute means, columns :data:`MINUTE_COLUMNS` (rows may be missing).
    initial_tank_temps_c
        Tank sensor temperatures at the start, top first [C], or None.
    initial_loop_temp_c
        Primary loop (coolant return) temperature at the start [C], or None.
    sources
        Each measured input and where it came from (points, method), for the output.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    hourly: pd.DataFrame
    minutes: pd.DataFrame
    initial_tank_temps_c: tuple[float, ...] | None = None
    initial_loop_temp_c: float | None = None
    sources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare_measured`.

    Attributes
    ----------
    site_id, period_label, timezone
        What was compared; days are local days in ``timezone``.
    start, end
        The period [start, end) (UTC).
    step_s
        Engine step [s].
    days
        One dict per local day (keys with units, see :meth:`to_dict`).
    totals
        Sums over the compared hours and the variance split [kWh, -].
    attribution
        One dict per cause (``cause``, ``heat_kwh``, ``share_of_variance_fraction``,
        ``evidence`` (list of sentences), ``figures``), largest magnitude first.
    inputs
        The replay's inputs, each ``{"input", "source", "measured"}``.
    notes
        Caveats worth reading (coverage, typical-year weather, ...).
    hourly
        Per UTC hour: measured values and the four runs (for charts).
    """

    site_id: str
    period_label: str
    timezone: str
    start: pd.Timestamp
    end: pd.Timestamp
    step_s: int
    days: list[dict[str, Any]]
    totals: dict[str, Any]
    attribution: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    notes: list[str]
    hourly: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"days", "totals", "attribution"}`` plus site, period, inputs, notes."""
        return {
            "site_id": self.site_id,
            "period": self.period_label,
            "timezone": self.timezone,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "step_s": self.step_s,
            "days": [_clean(d) for d in self.days],
            "totals": _clean(self.totals),
            "attribution": [_clean(a) for a in self.attribution],
            "inputs": self.inputs,
            "notes": self.notes,
        }


def _clean(obj: Any) -> Any:
    """Floats rounded to 3 decimals, NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        v = float(obj)
        return round(v, 3) if math.isfinite(v) else None
    return obj


# --------------------------------------------------------------------------- helpers
def compared_hours(hourly: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Hours that can be compared: measured IT energy, delivered and backup heat all known."""
    mask: npt.NDArray[np.bool_] = (
        np.isfinite(hourly["it_energy_kwh"].to_numpy(dtype=np.float64))
        & np.isfinite(hourly["heat_delivered_kwh"].to_numpy(dtype=np.float64))
        & np.isfinite(hourly["backup_heat_kwh"].to_numpy(dtype=np.float64))
    )
    return mask


def _kwh_per_hour(run_hourly: pd.DataFrame, column: str) -> FloatArray:
    """Hourly mean power [W] -> energy of the hour [kWh]."""
    out: FloatArray = run_hourly[column].to_numpy(dtype=np.float64) * 3600.0 / J_PER_KWH
    return out


def _held(
    hourly_values: FloatArray, hours: pd.DatetimeIndex, index: pd.DatetimeIndex
) -> FloatArray:
    pos = np.asarray(hours.searchsorted(index, side="right")) - 1
    out: FloatArray = hourly_values[pos]
    return out


def _runs(mask: npt.NDArray[np.bool_], index: pd.DatetimeIndex) -> list[tuple[pd.Timestamp, int]]:
    """Runs of consecutive True hours: (first hour, length in hours), longest first."""
    out: list[tuple[pd.Timestamp, int]] = []
    i, n = 0, len(mask)
    while i < n:
        if mask[i]:
            j = i
            while j < n and mask[j]:
                j += 1
            out.append((index[i], j - i))
            i = j
        else:
            i += 1
    return sorted(out, key=lambda r: (-r[1], r[0]))


def _sustained(mask: npt.NDArray[np.bool_], min_run: int) -> npt.NDArray[np.bool_]:
    """Keep only the True hours that belong to runs of at least ``min_run`` hours."""
    out = np.zeros(len(mask), dtype=bool)
    i, n = 0, len(mask)
    while i < n:
        if mask[i]:
            j = i
            while j < n and mask[j]:
                j += 1
            if j - i >= min_run:
                out[i:j] = True
            i = j
        else:
            i += 1
    return out


def _runs_text(runs: Sequence[tuple[pd.Timestamp, int]], tz: str, limit: int = 3) -> str:
    parts = []
    for t, n in runs[:limit]:
        local = t.tz_convert(tz)
        end = (t + pd.Timedelta(hours=n)).tz_convert(tz)
        parts.append(f"{local:%Y-%m-%d %H:%M}-{end:%H:%M} ({n} h)")
    more = f" and {len(runs) - limit} more" if len(runs) > limit else ""
    return ", ".join(parts) + more


def _switches_per_hour(on: pd.Series, hours: pd.DatetimeIndex) -> FloatArray:
    """On/off transitions per hour of a boolean series with gaps (NaN skipped)."""
    valid = on.dropna()
    if valid.empty:
        return np.full(len(hours), np.nan)
    v = valid.to_numpy(dtype=np.float64) > 0.5
    change = np.concatenate(([False], v[1:] != v[:-1]))
    counts = pd.Series(change.astype(np.float64), index=valid.index).resample("h").sum()
    out: FloatArray = np.asarray(counts.reindex(hours, fill_value=0.0), dtype=np.float64)
    return out


def _reversals_per_hour(
    temp_c: pd.Series, hours: pd.DatetimeIndex, amplitude_k: float = HUNTING_AMPLITUDE_K
) -> FloatArray:
    """Reversals per hour of a temperature that moved at least ``amplitude_k`` each way.

    A zigzag filter: a reversal is counted when the series, after rising (falling) to an
    extreme, falls (rises) by ``amplitude_k`` or more from it. Gaps (NaN) are skipped.
    """
    valid = temp_c.dropna()
    if valid.empty:
        return np.full(len(hours), np.nan)
    values = valid.to_numpy(dtype=np.float64)
    marks = np.zeros(len(values))
    direction = 0  # 0: no swing yet, 1: rising, -1: falling
    hi = lo = extreme = float(values[0])
    for i in range(1, len(values)):
        v = float(values[i])
        if direction == 0:
            hi, lo = max(hi, v), min(lo, v)
            if hi - v >= amplitude_k:
                direction, extreme = -1, v
            elif v - lo >= amplitude_k:
                direction, extreme = 1, v
        elif direction == 1:
            if v > extreme:
                extreme = v
            elif extreme - v >= amplitude_k:
                marks[i], direction, extreme = 1.0, -1, v
        else:
            if v < extreme:
                extreme = v
            elif v - extreme >= amplitude_k:
                marks[i], direction, extreme = 1.0, 1, v
    counts = pd.Series(marks, index=valid.index).resample("h").sum()
    out: FloatArray = np.asarray(counts.reindex(hours, fill_value=0.0), dtype=np.float64)
    return out


def _hourly_mean(series: pd.Series, hours: pd.DatetimeIndex) -> FloatArray:
    out: FloatArray = np.asarray(
        series.astype(np.float64).resample("h").mean().reindex(hours), dtype=np.float64
    )
    return out


def _sum(values: FloatArray, mask: npt.NDArray[np.bool_] | None = None) -> float:
    v = values if mask is None else values[mask]
    return float(np.nansum(v))


def _safe_erf(heat_kwh: float, hp_el_kwh: float, total_kwh: float) -> float | None:
    """ERF of a day or a period [-] (ISO/IEC 30134-6), None when it cannot be formed."""
    if not (math.isfinite(heat_kwh) and math.isfinite(total_kwh)) or total_kwh <= 0.0:
        return None
    try:
        reused = reused_energy_kwh(max(heat_kwh, 0.0), max(hp_el_kwh, 0.0))
        return float(erf(reused, total_kwh))
    except DomainError:
        return None


def _balance_power_w(minutes: pd.DataFrame, pressure_bar: float) -> tuple[pd.Series, pd.Series]:
    """Heat balance per minute from flow and temperatures [W], and the meter's power [W].

    ``k(theta_f, theta_r) * V_dot * (theta_f - theta_r)`` with the EN 1434 heat
    coefficient (flow sensor in the return); 0 where the supply is not above the
    return (a heating meter registers nothing). Only minutes with flow, both
    temperatures and the meter's power.
    """
    cols = ("flow_m3_per_h", "meter_supply_temp_c", "meter_return_temp_c", "meter_power_w")
    sub = minutes.loc[:, list(cols)].dropna()
    if sub.empty:
        empty = pd.Series(np.array([], dtype=np.float64), index=pd.DatetimeIndex([], tz="UTC"))
        return empty, empty
    t_f = sub["meter_supply_temp_c"].to_numpy(dtype=np.float64)
    t_r = sub["meter_return_temp_c"].to_numpy(dtype=np.float64)
    flow = np.maximum(sub["flow_m3_per_h"].to_numpy(dtype=np.float64), 0.0)
    warm = (t_f > t_r) & (t_r > 0.5) & (t_f < 150.0)
    # (rows that are not a heating pair get a dummy pair and 0 heat)
    t_f_ok = np.where(warm, t_f, 40.0)
    t_r_ok = np.where(warm, t_r, 30.0)
    k = np.asarray(
        heat_coefficient_kwh_per_m3_k(t_f_ok, t_r_ok, "return", pressure_bar), dtype=np.float64
    )
    balance_w = np.where(warm, k * flow * (t_f - t_r) * 1000.0, 0.0)
    return (
        pd.Series(balance_w, index=sub.index),
        sub["meter_power_w"].astype(np.float64),
    )


def _initial_state(site: Site, measured: MeasuredData) -> tuple[SimulationState | None, str]:
    temps = measured.initial_tank_temps_c
    if not temps or any(not math.isfinite(t) for t in temps):
        return None, "model default: tank half charged, loop at its design return temperature"
    n = site.plant.buffer_tank.layers
    if len(temps) == n:
        layers = tuple(float(t) for t in temps)
    else:  # sensors at equal heights from top to bottom, interpolated onto the model's layers
        x_s = np.linspace(0.0, 1.0, len(temps)) if len(temps) > 1 else np.array([0.5])
        x_m = (np.arange(n) + 0.5) / n
        layers = tuple(float(v) for v in np.interp(x_m, x_s, np.asarray(temps, dtype=float)))
    layers = tuple(min(max(t, -10.0), 140.0) for t in layers)
    ordered = tuple(sorted(layers, reverse=True))  # the engine mixes inversions anyway
    loop = measured.initial_loop_temp_c
    if loop is None or not math.isfinite(loop):
        loop = site.compute.cooling.coolant_return_temp_c
    state = SimulationState(
        loop_temp_c=float(loop),
        backup_timer_s=0.0,
        supply_temp_c=ordered[0],
        tank_layer_temps_c=ordered,
    )
    return state, "measured: tank sensors and loop temperature at the start of the period"


# --------------------------------------------------------------------------- the comparison
def compare_measured(
    site: Site,
    measured: MeasuredData,
    weather: pd.DataFrame,
    *,
    weather_label: str,
    period_label: str,
    step_s: int = 60,
) -> Comparison:
    """Replay a measured period on the engine and attribute the variance (module docstring).

    Parameters
    ----------
    site
        The site (its file is the model: plant, utilisation, customer).
    measured
        What the site measured over the period.
    weather
        Hourly weather covering the period (UTC index).
    weather_label
        Where the weather came from (for the output).
    period_label
        The period as asked (e.g. ``2026-01``).
    step_s
        Engine step [s] (divides an hour).

    Returns
    -------
    Comparison

    Raises
    ------
    SimulationError
        Weather or measured frames that do not cover the period.
    """
    tz = site.location.timezone
    start, end = measured.start, measured.end
    hours = pd.date_range(start, end, freq="h", inclusive="left", name="time")
    if len(hours) == 0:
        raise SimulationError(f"compare: empty period {start} .. {end}")
    hourly_m = measured.hourly.reindex(hours)
    index = pd.date_range(
        start, end, freq=pd.Timedelta(seconds=step_s), inclusive="left", name="time"
    )
    demand_model = customer_demand(site, weather, index)
    notes: list[str] = []

    # ---- which hours can be compared
    it_m = hourly_m["it_energy_kwh"].to_numpy(dtype=np.float64)
    heat_m = hourly_m["heat_delivered_kwh"].to_numpy(dtype=np.float64)
    bkp_m = hourly_m["backup_heat_kwh"].to_numpy(dtype=np.float64)
    rej_m = hourly_m["heat_rejected_kwh"].to_numpy(dtype=np.float64)
    total_m = hourly_m["total_site_energy_kwh"].to_numpy(dtype=np.float64)
    hp_m = np.nan_to_num(hourly_m["heat_pump_electricity_kwh"].to_numpy(dtype=np.float64))
    compared = compared_hours(hourly_m)
    n_compared = int(compared.sum())
    if n_compared < len(hours):
        runs = _runs(~compared, hours)
        notes.append(
            f"{len(hours) - n_compared} of {len(hours)} hours lack measured IT, delivered or "
            f"backup heat ({_runs_text(runs, tz)}); they are left out of every sum and the "
            "replay runs through them on the model's inputs"
        )

    # ---- metering: the heat balance of the meter's own flow and temperatures
    balance_w, meter_w = _balance_power_w(measured.minutes, site.plant.loop_pressure_bar)
    bal_mean = balance_w.resample("h").mean().reindex(hours).to_numpy(dtype=np.float64)
    bal_count = balance_w.resample("h").count().reindex(hours, fill_value=0).to_numpy()
    pow_mean = meter_w.resample("h").mean().reindex(hours).to_numpy(dtype=np.float64)
    bal_ok = compared & (bal_count >= BALANCE_MIN_MINUTES)
    q_bal = np.where(bal_ok, bal_mean * 3600.0 / J_PER_KWH, np.nan)
    q_pow_same = np.where(bal_ok, pow_mean * 3600.0 / J_PER_KWH, np.nan)
    unc = np.nan_to_num(
        hourly_m["heat_delivered_uncertainty_kwh"].to_numpy(dtype=np.float64), nan=0.0
    )
    # days whose balance residual exceeds the meter's MPE (+ register resolution)
    local_day = np.array([t.date() for t in hours.tz_convert(tz)])
    day_list = sorted(set(local_day))
    meter_fault_day: dict[Any, bool] = {}
    for d in day_list:
        sel = (local_day == d) & bal_ok
        if not sel.any():
            meter_fault_day[d] = False
            continue
        bal_resid = _sum(q_bal, sel) - _sum(heat_m, sel)
        limit = _sum(unc, sel) + REGISTER_RESOLUTION_KWH * 2.0
        meter_fault_day[d] = abs(bal_resid) > limit
    in_fault_day = np.array([meter_fault_day.get(d, False) for d in local_day]) & bal_ok
    heat_corr = np.where(in_fault_day, q_bal, heat_m)

    # ---- replay inputs
    cust_m = heat_corr + bkp_m  # heat the customer took [kWh per hour]
    model_hourly_demand_kwh = (
        demand_model["heat_demand_w"].resample("h").mean().reindex(hours).to_numpy(dtype=float)
        * 3600.0
        / J_PER_KWH
    )
    held_compared = _held(compared.astype(np.float64), hours, index) > 0.5
    demand_meas = demand_model.copy()
    demand_meas["heat_demand_w"] = np.where(
        held_compared,
        _held(np.nan_to_num(cust_m) * J_PER_KWH / 3600.0, hours, index),
        demand_model["heat_demand_w"].to_numpy(dtype=np.float64),
    )
    ret_m = hourly_m["return_temp_c"].to_numpy(dtype=np.float64)
    ret_ok = _held(np.isfinite(ret_m).astype(np.float64), hours, index) > 0.5
    demand_meas["return_temp_c"] = np.where(
        held_compared & ret_ok,
        _held(np.nan_to_num(ret_m), hours, index),
        demand_model["return_temp_c"].to_numpy(dtype=np.float64),
    )
    state, state_source = _initial_state(site, measured)
    plan = simulate(site, demand_model, step_s=step_s, initial_state=state)
    plan_h = hourly_frame(plan, demand_model)
    plan_it_w = (plan_h["it_power_w"] + plan_h["it_power_throttled_w"]).to_numpy(dtype=float)
    it_w = np.where(np.isfinite(it_m), it_m * J_PER_KWH / 3600.0, plan_it_w)
    it_series = pd.Series(it_w, index=hours, name="it_power_w")
    sims: dict[str, SimulationResult] = {"P": plan}
    sims["B"] = simulate(site, demand_meas, step_s=step_s, initial_state=state)
    sims["W"] = simulate(
        site, demand_model, step_s=step_s, initial_state=state, it_power_w=it_series
    )
    sims["R"] = simulate(
        site, demand_meas, step_s=step_s, initial_state=state, it_power_w=it_series
    )
    run_h = {"P": plan_h}
    for key in ("B", "W", "R"):
        run_h[key] = hourly_frame(sims[key], demand_meas if key in ("B", "R") else demand_model)
    q = {key: _kwh_per_hour(h, "heat_delivered_w") for key, h in run_h.items()}
    rh = run_h["R"]

    # ---- per-hour evidence from the replay and the 1-minute measurements
    inputs_r = prepare(site, demand_meas, step_s, initial_state=state, it_power_w=it_series)
    cap_m3_per_h = float(
        inputs_r.params[K.P_MDOT_CUSTOMER_KG_PER_S]
        / inputs_r.params[K.P_RHO_SECONDARY_KG_PER_M3]
        * 3600.0
    )
    sec_cap_m3_per_h = float(
        inputs_r.params[K.P_MDOT_SECONDARY_KG_PER_S]
        / inputs_r.params[K.P_RHO_SECONDARY_KG_PER_M3]
        * 3600.0
    )
    mins = measured.minutes
    rf = sims["R"].frame
    flow_on_m = mins["flow_m3_per_h"] > FLOW_ON_FRACTION * cap_m3_per_h
    dev_m = _hourly_mean(
        (mins["meter_supply_temp_c"] - mins["tank_top_temp_c"]).where(flow_on_m), hours
    )
    flow_on_r = rf["flow_customer_m3_per_h"] > FLOW_ON_FRACTION * cap_m3_per_h
    dev_r = _hourly_mean(
        (rf["supply_temp_measured_c"] - rf["tank_temp_top_c"]).where(flow_on_r), hours
    )
    deviation = dev_m - dev_r
    c_sensor = compared & np.isfinite(deviation) & (np.abs(deviation) > SENSOR_DEVIATION_K)

    sw_bkp_m = _switches_per_hour(
        (mins["backup_heat_w"] > STATUS_ON_W).where(mins["backup_heat_w"].notna()), hours
    )
    sw_bkp_r = _switches_per_hour((rf["backup_heat_w"] > STATUS_ON_W).astype(float), hours)
    sw_rej_m = _switches_per_hour(
        (mins["heat_rejected_w"] > STATUS_ON_W).where(mins["heat_rejected_w"].notna()), hours
    )
    sw_rej_r = _switches_per_hour((rf["heat_rejected_w"] > STATUS_ON_W).astype(float), hours)
    c_flap = _sustained(
        compared
        & (
            (np.nan_to_num(sw_bkp_m - sw_bkp_r) >= FLAPPING_EXTRA_SWITCHES_PER_H)
            | (np.nan_to_num(sw_rej_m - sw_rej_r) >= FLAPPING_EXTRA_SWITCHES_PER_H)
        ),
        CONTROL_MIN_RUN_H,
    )
    rev_m = _reversals_per_hour(mins["supply_temp_c"], hours)
    rev_r = _reversals_per_hour(rf["customer_supply_temp_c"].astype(np.float64), hours)
    c_hunt = _sustained(
        compared & (np.nan_to_num(rev_m - rev_r) >= HUNTING_EXTRA_REVERSALS_PER_H),
        CONTROL_MIN_RUN_H,
    )
    band = site.sla_band
    sup_m = hourly_m["supply_temp_c"].to_numpy(dtype=np.float64)
    c_band = compared & (np.nan_to_num(sup_m) > band.max_temp_c) & (np.nan_to_num(bkp_m) > 0.5)
    control_h = c_sensor | c_flap | c_hunt | c_band

    # ---- the split
    resid = np.where(compared, q["R"] - heat_corr, 0.0)  # replay minus corrected meter
    metering_h = np.where(compared, heat_corr - heat_m, 0.0)
    bkp_r = _kwh_per_hour(rh, "backup_heat_w")
    rej_r = _kwh_per_hour(rh, "heat_rejected_w")
    control_kwh = _sum(resid, control_h)
    extra_rej = np.where(compared & np.isfinite(rej_m), rej_m - rej_r, 0.0)
    extra_bkp = np.where(compared & ~control_h, bkp_m - bkp_r, 0.0)
    sizing_h = _match_reject_to_backup(
        extra_rej, extra_bkp, np.maximum(resid, 0.0), STORAGE_HORIZON_H
    ) - _match_reject_to_backup(-extra_rej, -extra_bkp, np.maximum(-resid, 0.0), STORAGE_HORIZON_H)
    sizing_h = np.where(control_h, 0.0, sizing_h)
    sizing_kwh = _sum(sizing_h)
    sizing_by_day = {d: _sum(sizing_h, local_day == d) for d in day_list}
    tot = {key: _sum(v, compared) for key, v in q.items()}
    workload_kwh = 0.5 * ((tot["P"] - tot["W"]) + (tot["B"] - tot["R"]))
    demand_kwh = 0.5 * ((tot["P"] - tot["B"]) + (tot["W"] - tot["R"]))
    metering_kwh = _sum(metering_h)
    measured_kwh = _sum(heat_m, compared)
    variance_kwh = tot["P"] - measured_kwh
    attributed = workload_kwh + demand_kwh + metering_kwh + control_kwh + sizing_kwh
    unexplained_kwh = variance_kwh - attributed

    # ---- evidence
    plan_it_kwh = plan_it_w * 3600.0 / J_PER_KWH
    it_meas_kwh = _sum(it_m, compared)
    it_plan_kwh = _sum(plan_it_kwh, compared)
    it_low = compared & (it_m < IT_LOW_FRACTION * plan_it_kwh)
    workload_ev = [
        f"measured IT energy {it_meas_kwh:,.0f} kWh vs plan {it_plan_kwh:,.0f} kWh "
        f"({_pct_diff(it_meas_kwh, it_plan_kwh)})",
    ]
    if it_low.any():
        workload_ev.append(
            f"{int(it_low.sum())} h with IT below {IT_LOW_FRACTION:.0%} of plan: "
            + _runs_text(_runs(it_low, hours), tz)
        )
    workload_ev.append(
        "heat = Shapley split of the model's recovered heat over IT input "
        f"(plan {tot['P']:,.0f}, plan IT + measured demand {tot['B']:,.0f}, measured IT + "
        f"model demand {tot['W']:,.0f}, replay {tot['R']:,.0f} kWh)"
    )

    op_h = (
        plan_h["operating"].to_numpy(dtype=bool)
        if "operating" in plan_h
        else np.ones(len(hours), bool)
    )
    cust_kwh = _sum(cust_m, compared)
    model_kwh = _sum(model_hourly_demand_kwh, compared)
    no_heat = (
        compared
        & op_h
        & (np.nan_to_num(cust_m) < NO_HEAT_FRACTION * model_hourly_demand_kwh)
        & (model_hourly_demand_kwh > 0.0)
    )
    cold = no_heat & (np.nan_to_num(sup_m, nan=np.inf) < band.min_temp_c)
    demand_ev = [
        f"customer took {cust_kwh:,.0f} kWh (recovered {_sum(heat_corr, compared):,.0f} + "
        f"backup {_sum(bkp_m, compared):,.0f}) vs modelled demand {model_kwh:,.0f} kWh "
        f"({_pct_diff(cust_kwh, model_kwh)})",
    ]
    if no_heat.any():
        demand_ev.append(
            f"{int(no_heat.sum())} operating hours with (almost) no heat taken: "
            + _runs_text(_runs(no_heat, hours), tz)
        )
    if cold.any():
        demand_ev.append(
            f"of which {int(cold.sum())} h with the supply at the customer below its band "
            f"({band.min_temp_c:g} C): the customer may have wanted heat it did not get (a "
            "plant outage reads as low demand here: check pumps and alerts for those hours)"
        )
    rm = _finite_mean(ret_m[compared])
    rmod = float(demand_model["return_temp_c"].mean())
    if rm is not None:
        demand_ev.append(f"return temperature measured {rm:.1f} C vs model {rmod:.1f} C")

    n_bal = int(bal_ok.sum())
    metering_ev: list[str] = []
    if n_bal == 0:
        metering_ev.append(
            "heat balance NOT evaluated: no hour has the meter's flow, supply and return "
            "temperature and power together (metering is unknown, not fine)"
        )
    else:
        qb, qm = _sum(q_bal, bal_ok), _sum(heat_m, bal_ok)
        metering_ev.append(
            f"heat balance k V dT {qb:,.0f} kWh vs meter register {qm:,.0f} kWh over {n_bal} h "
            f"({_pct_diff(qm, qb)}); the meter's MPE over those hours is "
            f"{_sum(unc, bal_ok):,.0f} kWh"
        )
        qp = _sum(q_pow_same, bal_ok)
        metering_ev.append(
            f"meter power {qp:,.0f} kWh vs k V dT {qb:,.0f} kWh on the same minutes "
            f"({_pct_diff(qp, qb)})"
        )
        fault_days = [str(d) for d in day_list if meter_fault_day.get(d)]
        if fault_days:
            metering_ev.append(
                f"{len(fault_days)} day(s) beyond the meter's MPE: {', '.join(fault_days[:5])}"
                + (" ..." if len(fault_days) > 5 else "")
                + "; the replay uses the balance there"
            )
        else:
            metering_ev.append("no day beyond the meter's MPE: the register is used as is")
        if n_bal < n_compared:
            metering_ev.append(f"{n_compared - n_bal} compared hours without a balance")
    mp = hourly_m["meter_power_w"].to_numpy(dtype=np.float64) * 3600.0 / J_PER_KWH
    both = compared & np.isfinite(mp)
    if both.any():
        metering_ev.append(
            f"register {_sum(heat_m, both):,.0f} kWh vs integral of the meter's power "
            f"{_sum(mp, both):,.0f} kWh"
        )
    est = hourly_m["heat_delivered_estimated"].to_numpy(dtype=np.float64)
    if np.nansum(est[compared]) > 0:
        metering_ev.append(
            f"{int(np.nansum(est[compared]))} h of delivered heat estimated by the ledger "
            "(register gap or break)"
        )

    control_ev: list[str] = []
    n_dev = int(np.isfinite(deviation[compared]).sum())
    if n_dev == 0:
        control_ev.append(
            "setpoint deviation NOT evaluated: no hour with the controller's supply reading, "
            "the tank top temperature and flow"
        )
    else:
        control_ev.append(
            f"controller's supply reading minus tank top: measured "
            f"{_finite_mean(dev_m[compared]) or 0.0:+.1f} K, replay "
            f"{_finite_mean(dev_r[compared]) or 0.0:+.1f} K (mean over flowing hours)"
        )
    if c_sensor.any():
        control_ev.append(
            f"{int(c_sensor.sum())} h with the supply reading off by more than "
            f"{SENSOR_DEVIATION_K:g} K (false or drifting sensor, setpoint deviation): "
            + _runs_text(_runs(c_sensor, hours), tz)
        )
    control_ev.append(
        f"boiler switches measured {np.nansum(sw_bkp_m[compared]):.0f} vs replay "
        f"{np.nansum(sw_bkp_r[compared]):.0f}; dry cooler {np.nansum(sw_rej_m[compared]):.0f} "
        f"vs {np.nansum(sw_rej_r[compared]):.0f}"
    )
    if c_flap.any():
        control_ev.append(
            f"{int(c_flap.sum())} h of mode flapping (>= {FLAPPING_EXTRA_SWITCHES_PER_H} "
            "extra switches an hour): " + _runs_text(_runs(c_flap, hours), tz)
        )
    if c_hunt.any():
        control_ev.append(
            f"{int(c_hunt.sum())} h of supply temperature hunting (>= "
            f"{HUNTING_EXTRA_REVERSALS_PER_H} extra swings of {HUNTING_AMPLITUDE_K:g} K an "
            "hour): " + _runs_text(_runs(c_hunt, hours), tz)
        )
    if c_band.any():
        control_ev.append(
            f"{int(c_band.sum())} h with backup heat while the supply was above the band "
            f"({band.max_temp_c:g} C)"
        )
    if control_h.any():
        control_ev.append(
            f"backup heat in those hours: measured {_sum(bkp_m, control_h):,.0f} kWh vs replay "
            f"{_sum(bkp_r, control_h):,.0f} kWh"
        )

    sizing_ev: list[str] = []
    day_heat = {d: _sum(heat_m, (local_day == d) & compared) for d in day_list}
    size_days = [d for d in day_list if sizing_by_day[d] > _noise_kwh(day_heat[d])]
    neg_days = [d for d in day_list if sizing_by_day[d] < -_noise_kwh(day_heat[d])]
    sizing_ev.append(
        f"rejected heat measured {_sum(rej_m, compared & np.isfinite(rej_m)):,.0f} kWh vs "
        f"replay {_sum(rej_r, compared):,.0f} kWh; backup heat measured "
        f"{_sum(bkp_m, compared):,.0f} kWh vs replay {_sum(bkp_r, compared):,.0f} kWh"
    )
    if size_days:
        sizing_ev.append(
            f"{len(size_days)} day(s) with heat rejected beyond the replay while (or up to "
            f"{STORAGE_HORIZON_H} h before) the customer needed more backup heat than the "
            "replay: "
            + ", ".join(f"{d} ({sizing_by_day[d]:,.0f} kWh)" for d in size_days[:5])
            + (" ..." if len(size_days) > 5 else "")
        )
    if neg_days:
        sizing_ev.append(
            f"{len(neg_days)} day(s) where the site rejected less than the replay and needed "
            "less backup heat (it stored and delivered heat the model's plant rejects): "
            + ", ".join(f"{d} ({sizing_by_day[d]:,.0f} kWh)" for d in neg_days[:5])
            + (" ..." if len(neg_days) > 5 else "")
        )
    both_on_m = (mins["heat_rejected_w"] > STATUS_ON_W) & (mins["backup_heat_w"] > STATUS_ON_W)
    both_on_r = (rf["heat_rejected_w"] > STATUS_ON_W) & (rf["backup_heat_w"] > STATUS_ON_W)
    sizing_ev.append(
        f"dry cooler rejecting while the boiler heated: measured "
        f"{both_on_m.sum() * MINUTE_H:.1f} h vs replay "
        f"{both_on_r.sum() * step_s / 3600.0:.1f} h"
    )
    loop_set = site.compute.cooling.coolant_return_temp_c
    rej_on_m = mins["heat_rejected_w"] > STATUS_ON_W
    rej_on_r = rf["heat_rejected_w"] > STATUS_ON_W
    full_m = (mins["tank_bottom_temp_c"] >= loop_set - LIMIT_MARGIN_K) & rej_on_m
    full_r = (rf["tank_temp_bottom_c"] >= loop_set - LIMIT_MARGIN_K) & rej_on_r
    sizing_ev.append(
        f"tank full (bottom within {LIMIT_MARGIN_K:g} K of the loop's design return "
        f"{loop_set:g} C) while rejecting: measured {full_m.sum() * MINUTE_H:.1f} h vs "
        f"replay {full_r.sum() * step_s / 3600.0:.1f} h"
    )
    hx_m = (
        (mins["secondary_flow_m3_per_h"] >= 0.95 * sec_cap_m3_per_h)
        & rej_on_m
        & (mins["tank_bottom_temp_c"] < loop_set - LIMIT_MARGIN_K)
    )
    hx_r = (
        (rf["flow_secondary_m3_per_h"] >= 0.95 * sec_cap_m3_per_h)
        & rej_on_r
        & (rf["tank_temp_bottom_c"] < loop_set - LIMIT_MARGIN_K)
    )
    sizing_ev.append(
        "heat exchanger at its limit (full charging flow, dry cooler rejecting, tank not "
        f"full): measured {hx_m.sum() * MINUTE_H:.1f} h vs replay "
        f"{hx_r.sum() * step_s / 3600.0:.1f} h"
    )
    figures = {
        "workload": {
            "it_energy_measured_kwh": it_meas_kwh,
            "it_energy_model_kwh": it_plan_kwh,
            "hours_it_below_half_plan": int(it_low.sum()),
        },
        "demand": {
            "customer_heat_measured_kwh": cust_kwh,
            "heat_demand_model_kwh": model_kwh,
            "operating_hours_no_heat_taken": int(no_heat.sum()),
            "of_which_supply_below_band_h": int(cold.sum()),
        },
        "metering": {
            "hours_with_balance": n_bal,
            "balance_heat_kwh": _sum(q_bal, bal_ok),
            "meter_heat_kwh": _sum(heat_m, bal_ok),
            "mpe_kwh": _sum(unc, bal_ok),
            "days_beyond_mpe": int(sum(meter_fault_day.values())),
        },
        "control": {
            "hours_flagged": int(control_h.sum()),
            "hours_setpoint_deviation": int(c_sensor.sum()),
            "hours_flapping": int(c_flap.sum()),
            "hours_supply_hunting": int(c_hunt.sum()),
            "hours_backup_above_band": int(c_band.sum()),
            "backup_heat_measured_kwh": _sum(bkp_m, control_h),
            "backup_heat_replay_kwh": _sum(bkp_r, control_h),
        },
        "sizing": {
            "days_rejected_beyond_model_listed": len(size_days),
            "days_rejected_less_than_model_listed": len(neg_days),
            "heat_rejected_measured_kwh": _sum(rej_m, compared & np.isfinite(rej_m)),
            "heat_rejected_replay_kwh": _sum(rej_r, compared),
            "backup_heat_measured_kwh": _sum(bkp_m, compared),
            "backup_heat_replay_kwh": _sum(bkp_r, compared),
        },
    }
    amounts = {
        "control": control_kwh,
        "sizing": sizing_kwh,
        "workload": workload_kwh,
        "demand": demand_kwh,
        "metering": metering_kwh,
    }
    evidence = {
        "control": control_ev,
        "sizing": sizing_ev,
        "workload": workload_ev,
        "demand": demand_ev,
        "metering": metering_ev,
    }
    attribution: list[dict[str, Any]] = [
        {
            "cause": c,
            "heat_kwh": amounts[c],
            "share_of_variance_fraction": (
                amounts[c] / variance_kwh if abs(variance_kwh) > 1e-9 else None
            ),
            "evidence": evidence[c],
            "figures": figures[c],
        }
        for c in CAUSES
    ]
    attribution.sort(key=lambda a: -abs(float(a["heat_kwh"])))

    # ---- days
    hourly_out = pd.DataFrame(
        {
            "compared": compared,
            "operating": op_h,
            "it_energy_measured_kwh": it_m,
            "it_energy_model_kwh": plan_it_kwh,
            "heat_delivered_measured_kwh": heat_m,
            "heat_delivered_balance_kwh": q_bal,
            "heat_delivered_replay_kwh": q["R"],
            "heat_delivered_model_kwh": q["P"],
            "customer_heat_measured_kwh": cust_m,
            "heat_demand_model_kwh": model_hourly_demand_kwh,
            "backup_heat_measured_kwh": bkp_m,
            "backup_heat_replay_kwh": bkp_r,
            "backup_heat_model_kwh": _kwh_per_hour(plan_h, "backup_heat_w"),
            "heat_rejected_measured_kwh": rej_m,
            "heat_rejected_replay_kwh": rej_r,
            "heat_rejected_model_kwh": _kwh_per_hour(plan_h, "heat_rejected_w"),
            "supply_temp_measured_c": sup_m,
            "supply_temp_replay_c": rh["customer_supply_temp_c"].to_numpy(dtype=float),
            "supply_temp_model_c": plan_h["customer_supply_temp_c"].to_numpy(dtype=float),
            "supply_temp_required_c": plan_h["supply_temp_required_c"].to_numpy(dtype=float),
            "total_energy_measured_kwh": total_m,
            "total_energy_replay_kwh": _kwh_per_hour(rh, "total_electricity_w"),
            "total_energy_model_kwh": _kwh_per_hour(plan_h, "total_electricity_w"),
            "heat_pump_electricity_measured_kwh": hp_m,
            "heat_pump_electricity_replay_kwh": _kwh_per_hour(rh, "heat_pump_electricity_w"),
            "heat_pump_electricity_model_kwh": _kwh_per_hour(plan_h, "heat_pump_electricity_w"),
            "control_flag": control_h,
            "residual_kwh": resid,
            "metering_kwh": metering_h,
        },
        index=hours,
    )
    hourly_out["local_date"] = local_day
    days = [
        _day_row(d, hourly_out[hourly_out["local_date"] == d], sizing_by_day[d]) for d in day_list
    ]
    totals = _sums(hourly_out)
    totals.update(
        {
            "hours_in_period": len(hours),
            "hours_compared": n_compared,
            "variance_heat_kwh": variance_kwh,
            "model_minus_replay_heat_kwh": tot["P"] - tot["R"],
            "replay_minus_measured_heat_kwh": tot["R"] - measured_kwh,
            "attributed_heat_kwh": attributed,
            "unexplained_heat_kwh": unexplained_kwh,
            "unexplained_note": (
                "variance minus the five causes: model error, effects spanning days, "
                "causes without evidence in the data"
            ),
            "model_heat_plan_it_measured_demand_kwh": tot["B"],
            "model_heat_measured_it_model_demand_kwh": tot["W"],
        }
    )
    inputs = _inputs_list(measured, weather_label, state_source)
    corrected_days = [str(d) for d in day_list if meter_fault_day.get(d)]
    if corrected_days:
        for item in inputs:
            if item["input"].startswith("customer heat demand"):
                item["source"] += (
                    "; recovered heat balance-corrected (k V dT of the meter's own flow and "
                    f"temperatures) on {len(corrected_days)} day(s) where the meter is beyond "
                    "its MPE"
                )
    if bool(weather.attrs.get("typical_year")):
        notes.append(
            f"weather {weather_label} is a typical year re-stamped onto the period: the "
            "model's demand is a typical one, not this period's weather (give --weather FILE "
            "with the period's measured weather to take weather out of the demand variance)"
        )
    notes.append(
        "days are local days in " + tz + "; hours are UTC hours, each counted in the local "
        "day it starts in"
    )
    return Comparison(
        site_id=site.id,
        period_label=period_label,
        timezone=tz,
        start=start,
        end=end,
        step_s=step_s,
        days=days,
        totals=totals,
        attribution=attribution,
        inputs=inputs,
        notes=notes,
        hourly=hourly_out,
    )


def _match_reject_to_backup(
    extra_reject_kwh: FloatArray,
    extra_backup_kwh: FloatArray,
    cap_kwh: FloatArray,
    horizon_h: int,
) -> FloatArray:
    """Per hour, backup heat beyond the model that rejected heat beyond the model could
    have covered [kWh] (see *sizing* in the module docstring).

    Rejected heat of hour i is available to hours i .. i + ``horizon_h``, oldest first,
    each kWh used once; an hour that rejected less than the model takes that much back
    from the newest (so meter noise of both signs cancels); an hour takes at most its
    extra backup and its ``cap_kwh``.
    """
    n = len(extra_reject_kwh)
    out = np.zeros(n)
    pool: list[list[float]] = []  # [hour, kWh left]
    for i in range(n):
        if extra_reject_kwh[i] > 0.0:
            pool.append([float(i), float(extra_reject_kwh[i])])
        elif extra_reject_kwh[i] < 0.0:  # rejected less than the model: nets earlier excess
            short = -float(extra_reject_kwh[i])
            for p in reversed(pool):
                take = min(short, p[1])
                p[1] -= take
                short -= take
        pool = [p for p in pool if i - p[0] <= horizon_h and p[1] > 0.0]
        want = min(max(float(extra_backup_kwh[i]), 0.0), float(cap_kwh[i]))
        for p in pool:
            if want <= 0.0:
                break
            take = min(want, p[1])
            p[1] -= take
            want -= take
            out[i] += take
    return out


def _noise_kwh(day_heat_kwh: float) -> float:
    """What a day's attribution must exceed to be listed as evidence [kWh]: the larger of
    :data:`DAY_NOISE_KWH` and :data:`DAY_NOISE_FRACTION` of the day's metered heat."""
    return max(DAY_NOISE_KWH, DAY_NOISE_FRACTION * abs(day_heat_kwh))


def _finite_mean(values: FloatArray) -> float | None:
    v = values[np.isfinite(values)]
    return float(v.mean()) if len(v) else None


def _pct_diff(value: float, reference: float) -> str:
    if not math.isfinite(value) or not math.isfinite(reference) or abs(reference) < 1e-9:
        return "n/a"
    return f"{(value / reference - 1.0) * 100.0:+.1f} %"


_DAY_FIELDS = (
    "it_energy",
    "heat_delivered",
    "backup_heat",
    "heat_rejected",
    "total_energy",
    "heat_pump_electricity",
)


def _sums(frame: pd.DataFrame) -> dict[str, Any]:
    sel = frame["compared"].to_numpy(dtype=bool)
    out: dict[str, Any] = {}
    for name in _DAY_FIELDS:
        for src in ("measured", "replay", "model"):
            col = f"{name}_{src}_kwh"
            if col not in frame.columns:
                continue
            values = frame[col].to_numpy(dtype=np.float64)[sel]
            out[col] = float(np.nansum(values)) if np.isfinite(values).any() else None
    out["heat_delivered_balance_kwh"] = _nansum_or_none(frame, "heat_delivered_balance_kwh", sel)
    out["customer_heat_measured_kwh"] = _nansum_or_none(frame, "customer_heat_measured_kwh", sel)
    out["heat_demand_model_kwh"] = _nansum_or_none(frame, "heat_demand_model_kwh", sel)
    flowing = sel & (np.nan_to_num(frame["customer_heat_measured_kwh"].to_numpy(float)) > 0.0)
    for src in ("measured", "replay", "model"):
        values = frame[f"supply_temp_{src}_c"].to_numpy(dtype=np.float64)[flowing]
        values = values[np.isfinite(values)]
        out[f"supply_temp_{src}_c"] = float(values.mean()) if len(values) else None
    for src in ("measured", "replay", "model"):
        heat = out.get(f"heat_delivered_{src}_kwh")
        total = out.get(f"total_energy_{src}_kwh")
        hp = out.get(f"heat_pump_electricity_{src}_kwh") or 0.0
        out[f"erf_{src}"] = None if heat is None or total is None else _safe_erf(heat, hp, total)
    return out


def _nansum_or_none(frame: pd.DataFrame, col: str, sel: npt.NDArray[np.bool_]) -> float | None:
    values = frame[col].to_numpy(dtype=np.float64)[sel]
    return float(np.nansum(values)) if np.isfinite(values).any() else None


def _day_row(day: Any, frame: pd.DataFrame, sizing_kwh: float) -> dict[str, Any]:
    sel = frame["compared"].to_numpy(dtype=bool)
    row: dict[str, Any] = {
        "date": str(day),
        "hours": len(frame),
        "hours_compared": int(sel.sum()),
    }
    row.update(_sums(frame))
    row["variance_heat_kwh"] = (
        None
        if row.get("heat_delivered_model_kwh") is None
        or row.get("heat_delivered_measured_kwh") is None
        else row["heat_delivered_model_kwh"] - row["heat_delivered_measured_kwh"]
    )
    row["control_heat_kwh"] = float(
        frame["residual_kwh"].to_numpy(float)[frame["control_flag"].to_numpy(bool) & sel].sum()
    )
    row["sizing_heat_kwh"] = sizing_kwh
    row["metering_heat_kwh"] = float(frame["metering_kwh"].to_numpy(float)[sel].sum())
    return row


def _inputs_list(
    measured: MeasuredData, weather_label: str, state_source: str
) -> list[dict[str, Any]]:
    src = dict(measured.sources)

    def item(name: str, source: str, is_measured: bool) -> dict[str, Any]:
        return {"input": name, "source": source, "measured": is_measured}

    return [
        item("IT power [W]", src.get("it_power_w", "measured"), True),
        item(
            "customer heat demand [W] = recovered heat + backup heat",
            src.get("customer_heat_w", "measured"),
            True,
        ),
        item("return temperature [C]", src.get("return_temp_c", "measured"), True),
        item("initial tank and loop temperatures [C]", state_source, state_source.startswith("m")),
        item(
            "required supply temperature [C], operating hours",
            "model: the site's customer with the weather " + weather_label,
            False,
        ),
        item("weather", weather_label, False),
        item(
            "plant (tank, heat exchanger, pumps, dry cooler, boiler, pipe)",
            "model: the site file",
            False,
        ),
        item(
            "plan: IT power and customer demand (runs P, B, W)",
            "model: compute.utilisation x nameplate; the customer model with the weather",
            False,
        ),
    ]
