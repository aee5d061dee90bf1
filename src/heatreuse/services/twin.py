"""The digital twin: offline (as fast as the engine runs, into a readings file) and live.

Both run the same engine (:mod:`heatreuse.simulation`) with the same
scenarios (:mod:`heatreuse.simulation.scenarios`) and take every published
value from :class:`heatreuse.telemetry.twin_points.TwinPointMap`, so the
offline file holds exactly the readings the live twin would have published.

Offline: :func:`run_offline_twin` writes the long readings format of
:mod:`heatreuse.telemetry.files` (``timestamp, point_id, value``; CSV,
``.csv.gz`` or Parquet by extension), which ``heatreuse ingest`` imports.

Live: :class:`LiveTwin` steps the engine against a clock (injectable) with a
speed-up factor and hands each finished chunk to its sinks (the MQTT
publisher and the Modbus server adapters). Simulated time is
``start + speed x (wall - wall_at_start)``; by default it never runs ahead of
the wall clock (``clamp_to_wall``): a fast twin replays from ``start`` and,
once it has caught up, runs in real time, so nothing it publishes is
"from the future" for the ingest service. Faults can be injected while it
runs (:meth:`LiveTwin.inject`, and the loopback HTTP control endpoint
:class:`TwinControlServer`: ``POST /faults``).

The control endpoint changes plant state, so it binds to loopback unless
told otherwise (``--control-allow-remote``) and every request must carry the
twin's token (``Authorization: Bearer TOKEN``): a random token made at start
and written with mode 0600 to ``$HEATREUSE_HOME/twin-control-<port>.token``
(or ``--control-token-file``), which ``heatreuse twin-inject`` reads.

The twin also holds the plant controller's writable values (:data:`TWIN_CONTROLS`,
``GET /setpoints``, ``PUT /setpoints/NAME``): the executor of approved change
requests (:mod:`heatreuse.services.changes`) writes one and reads it back.
The engine acts on each from the next step on (:func:`control_faults`,
:meth:`LiveTwin._with_controls`): ``loop_setpoint_c`` is the temperature the engine's
controller holds the IT loop at (kernel parameter ``P_LOOP_SET_C``);
``supply_setpoint_c`` is the supply temperature the controller works to (the backup
and heat pump top up to it), never below what the customer's demand model requires
at that step; ``pump.<id>.mode`` ``off`` stops that pump (its role's flow falls by
its share of the role's pumps; ``on`` and ``auto`` run it as the controller would);
``heat_reject_override`` ``off`` takes the dry cooler out of service (``on`` and
``auto`` leave it to the controller, which rejects what the loop cannot deliver: a
forced dump of heat the customer could take is not modelled).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from heatreuse.errors import HeatreuseError, ScenarioError, TwinError, WeatherError
from heatreuse.locations import heatreuse_home, make_private_dirs
from heatreuse.mqttconf import MqttConnection
from heatreuse.services.addresses import (
    is_loopback_host,
    parse_broker_url,
    parse_host_port,
    parse_listen_address,
)
from heatreuse.simulation import (
    KernelInputs,
    SimulationState,
    prepare,
    result_from_outputs,
    run_kernel,
)
from heatreuse.simulation.demand import customer_demand, site_weather
from heatreuse.simulation.faults import Fault
from heatreuse.simulation.scenarios import (
    Scenario,
    check_for_site,
    parse_scenario,
    scenarios_to_faults,
)
from heatreuse.site import Site
from heatreuse.telemetry.twin_points import TwinPointMap, TwinReadings

log = logging.getLogger(__name__)

#: Default step of the live twin [s] (the registry's shortest sample interval).
LIVE_STEP_S = 10
#: Default step of the offline twin and drills [s].
OFFLINE_STEP_S = 60
#: Simulated time prepared at once by the live twin [s].
LIVE_WINDOW_S = 86400
#: Most steps the live twin runs (and publishes) in one go when catching up.
LIVE_MAX_CHUNK_STEPS = 720


# --------------------------------------------------------------------------- inputs
def _utc(value: Any, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except ValueError:
        raise TwinError(f"{what}: expected an ISO 8601 date or date-time, got {value!r}") from None
    if ts.tzinfo is None:
        raise TwinError(
            f"{what}: expected a time with a UTC offset or 'Z' (e.g. 2026-01-01T00:00Z), got "
            f"{value!r}"
        )
    return ts.tz_convert("UTC")


def parse_time_utc(text: str, what: str) -> pd.Timestamp:
    """Parse a command-line time: a date (00:00 UTC) or a date-time with offset.

    A bare date ``2026-01-01`` means 00:00 UTC (stated, so nothing is guessed);
    a date-time needs ``Z`` or an offset.
    """
    t = text.strip()
    if len(t) == 10 and t[4] == "-" and t[7] == "-":
        try:
            return pd.Timestamp(t).tz_localize("UTC")
        except ValueError:
            raise TwinError(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None
    return _utc(t, what)


_WEATHER_CACHE: dict[tuple[str, str, int], pd.DataFrame] = {}


def weather_for_window(site: Site, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The site's weather covering ``[start, end)``, across calendar years if needed.

    Typical-year sources are re-stamped onto each year touched and joined.
    """
    frames = []
    key0 = (str(site.source_path), site.location.weather)
    for year in range(start.year - 1, end.year + 1):
        key = (*key0, year)
        if key not in _WEATHER_CACHE:
            try:
                _WEATHER_CACHE[key] = site_weather(site, year)
            except WeatherError:
                if start.year <= year < end.year or year == start.year:
                    raise
                continue  # a neighbouring year a real-year file does not hold
        frames.append(_WEATHER_CACHE[key])
    weather = pd.concat(frames)
    weather = weather[~weather.index.duplicated(keep="first")].sort_index()
    weather.attrs = dict(frames[0].attrs)
    return weather


def window_demand(site: Site, start: pd.Timestamp, end: pd.Timestamp, step_s: int) -> pd.DataFrame:
    """Customer demand on a regular ``step_s`` grid over ``[start, end)`` (real weather)."""
    index = pd.date_range(start, end, freq=pd.Timedelta(seconds=step_s), inclusive="left")
    index.name = "time"
    weather = weather_for_window(site, start, end)
    return customer_demand(site, weather, index)


def _check_window(start: pd.Timestamp, end: pd.Timestamp, step_s: int) -> None:
    if end <= start:
        raise TwinError(f"--end ({end.isoformat()}) must be after --start ({start.isoformat()})")
    span = (end - start).total_seconds()
    if span % step_s or start.value // 10**9 % step_s:
        raise TwinError(
            f"period {start.isoformat()} .. {end.isoformat()}: start and end must fall on whole "
            f"{step_s} s steps"
        )


# --------------------------------------------------------------------------- offline twin
@dataclass(frozen=True)
class OfflineTwinReport:
    """What :func:`run_offline_twin` wrote.

    Attributes
    ----------
    path, file_format
        The file and ``csv`` / ``parquet``.
    start, end, step_s
        Simulated period ``[start, end)`` and step [s].
    readings, points
        Rows written and distinct points.
    scenarios
        Scenario labels applied.
    totals
        Simulation totals (kWh, h) of the run.
    duration_s
        Wall time [s].
    """

    path: Path
    file_format: str
    start: pd.Timestamp
    end: pd.Timestamp
    step_s: int
    readings: int
    points: int
    scenarios: tuple[str, ...]
    totals: dict[str, float]
    duration_s: float
    missing_points: tuple[str, ...] = field(default=())


def _file_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        return "csv"
    raise TwinError(
        f"--out {str(path)!r}: unknown file type; expected .parquet, .csv or .csv.gz (the formats "
        "'heatreuse ingest' reads)"
    )


class _LongWriter:
    """Incremental writer of the long readings format (CSV or Parquet)."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        self.rows = 0
        self._pq: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        self._sink: Any = None
        self.schema = pa.schema(
            [
                ("timestamp", pa.timestamp("us", tz="UTC") if kind == "parquet" else pa.string()),
                (
                    "point_id",
                    pa.dictionary(pa.int32(), pa.string()) if kind == "parquet" else pa.string(),
                ),
                ("value", pa.float64()),
            ]
        )

    def write(self, readings: TwinReadings) -> None:
        steps, codes, values_np = readings.long_arrays()
        step_ts = pa.array(readings.index.as_unit("us").asi8, pa.int64()).cast(
            pa.timestamp("us", tz="UTC")
        )
        pid = pa.DictionaryArray.from_arrays(
            pa.array(codes, pa.int32()), pa.array(list(readings.point_ids), pa.string())
        )
        values = pa.array(values_np, pa.float64())
        take = pa.array(steps, pa.int64())
        if self.kind == "parquet":
            table = pa.table(
                {"timestamp": step_ts.take(take), "point_id": pid, "value": values},
                schema=self.schema,
            )
            if self._pq is None:
                self._pq = pq.ParquetWriter(self.path, self.schema, compression="zstd")
            self._pq.write_table(table)
        else:
            text_ts = pc.strftime(step_ts, format="%Y-%m-%dT%H:%M:%SZ").take(take)
            table = pa.table(
                {"timestamp": text_ts, "point_id": pid.cast(pa.string()), "value": values},
                schema=self.schema,
            )
            if self._csv is None:
                if self.path.name.lower().endswith(".gz"):
                    self._sink = pa.CompressedOutputStream(str(self.path), "gzip")
                else:
                    self._sink = pa.OSFile(str(self.path), "wb")
                self._csv = pacsv.CSVWriter(
                    self._sink, self.schema, write_options=pacsv.WriteOptions(quoting_style="none")
                )
            self._csv.write_table(table)
        self.rows += len(steps)

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._csv is not None:
            self._csv.close()
        if self._sink is not None:
            self._sink.close()
        if self._pq is None and self._csv is None:  # nothing written: header-only file
            if self.kind == "parquet":
                pq.write_table(self.schema.empty_table(), self.path)
            else:
                with open(self.path, "w", encoding="utf-8") as fh:
                    fh.write("timestamp,point_id,value\n")


def run_offline_twin(
    site: Site,
    *,
    start: pd.Timestamp | dt.datetime | str,
    end: pd.Timestamp | dt.datetime | str,
    out: str | Path,
    scenarios: Sequence[Scenario] = (),
    step_s: int = OFFLINE_STEP_S,
    chunk_steps: int = 7 * 1440,
    counters_start_kwh: Mapping[str, float] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> OfflineTwinReport:
    """Run the twin over ``[start, end)`` as fast as the engine allows and write its readings.

    Parameters
    ----------
    site
        The site.
    start, end
        Period (tz-aware).
    out
        ``.parquet``, ``.csv`` or ``.csv.gz`` file (long format).
    scenarios
        Faults (each with a start; see :mod:`heatreuse.simulation.scenarios`).
    step_s
        Simulation step [s]; each point is written every
        ``max(sample_interval_s, step_s)``.
    chunk_steps
        Steps simulated and written per chunk (bounds memory for a year).
    counters_start_kwh
        Start values of energy registers [kWh] (default 0).
    progress
        Called with (steps done, steps total) after each chunk.

    Returns
    -------
    OfflineTwinReport
    """
    t_wall = time.perf_counter()
    t0 = _utc(start, "--start")
    t1 = _utc(end, "--end")
    _check_window(t0, t1, step_s)
    path = Path(out)
    kind = _file_format(path)
    for s in scenarios:
        if s.start is None:
            raise ScenarioError(
                f"scenario {s.text or s.name}: the offline twin needs a start (name@START+DURATION)"
            )
    check_for_site(site, scenarios)
    demand = window_demand(site, t0, t1, step_s)
    points = TwinPointMap(site, step_s)
    inputs = prepare(
        site,
        demand,
        step_s,
        faults=scenarios_to_faults(scenarios),
        record_layers=points.needs_layers,
    )
    counters = points.initial_counters(counters_start_kwh)
    state: SimulationState | None = None
    writer = _LongWriter(path, kind)
    outputs = []
    n = inputs.n_steps
    try:
        for k0 in range(0, n, chunk_steps):
            k1 = min(n, k0 + chunk_steps)
            chunk = run_kernel(inputs, state, k0, k1)
            state = chunk.state_out
            frame = result_from_outputs(inputs, chunk).frame
            readings, counters = points.readings(frame, counters)
            writer.write(readings)
            outputs.append(chunk)
            if progress is not None:
                progress(k1, n)
    finally:
        writer.close()
    result = result_from_outputs(inputs, outputs)
    return OfflineTwinReport(
        path=path,
        file_format=kind,
        start=t0,
        end=t1,
        step_s=step_s,
        readings=writer.rows,
        points=len(points.point_ids),
        scenarios=tuple(s.label() for s in scenarios),
        totals=result.totals(),
        duration_s=time.perf_counter() - t_wall,
        missing_points=points.missing,
    )


# --------------------------------------------------------------------------- live twin
class TwinSink(Protocol):
    """Where the live twin's readings go (MQTT publisher, Modbus server, a test list)."""

    def start(self) -> None:
        """Connect / bind (raise :class:`TwinError` on failure)."""

    def publish(self, readings: TwinReadings) -> None:
        """Hand over the readings of consecutive finished steps."""

    def close(self) -> None:
        """Disconnect / unbind."""


#: Modes a pump or the heat-reject path can be commanded to.
COMMAND_MODES = ("auto", "on", "off")


def twin_controls(site: Site) -> dict[str, float | str]:
    """The writable controller values of a twin of ``site`` and their start values.

    ``loop_setpoint_c`` [C] starts at ``compute.cooling.coolant_return_temp_c``;
    ``supply_setpoint_c`` [C] at the customer's ``supply_band.min_temp_c``;
    ``heat_reject_override`` (if the plant has a reject path) and ``pump.<id>.mode`` at
    ``auto``.
    """
    out: dict[str, float | str] = {
        "loop_setpoint_c": float(site.compute.cooling.coolant_return_temp_c),
        "supply_setpoint_c": float(site.customer.supply_band.min_temp_c),
    }
    if site.plant.heat_reject is not None:
        out["heat_reject_override"] = "auto"
    for pump in site.plant.pumps:
        out[f"pump.{pump.id}.mode"] = "auto"
    return out


def check_control_value(name: str, current: float | str, value: Any) -> float | str:
    """``value`` as the type of control ``name`` (a finite number, or one of
    :data:`COMMAND_MODES`); raises :class:`TwinError` naming the control."""
    if isinstance(current, str):
        if value not in COMMAND_MODES:
            raise TwinError(f"{name}: expected one of {', '.join(COMMAND_MODES)}, got {value!r}")
        return str(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TwinError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise TwinError(f"{name}: expected a finite number, got {value!r}")
    return v


#: A start before any simulated time: a commanded state holds from the first step.
_ALWAYS = "1970-01-01T00:00Z"


def control_faults(site: Site, controls: Mapping[str, float | str]) -> list[Fault]:
    """What commanded modes take out of service, as engine faults.

    ``pump.<id>.mode = off``: a :class:`~heatreuse.simulation.faults.PumpFailure` of the
    pump's role, the role's flow scaled to the share of its pumps still running;
    ``heat_reject_override = off``: :class:`~heatreuse.simulation.faults.RejectPathUnavailable`.
    """
    from heatreuse.simulation.faults import PumpFailure, RejectPathUnavailable

    out: list[Fault] = []
    roles: dict[str, list[bool]] = {}
    for pump in site.plant.pumps:
        roles.setdefault(pump.role, []).append(controls.get(f"pump.{pump.id}.mode") == "off")
    for role, off in sorted(roles.items()):
        if any(off):
            running = 1.0 - sum(off) / len(off)
            out.append(
                PumpFailure(start=_ALWAYS, role=role, availability_fraction=running)  # type: ignore[arg-type]
            )
    if controls.get("heat_reject_override") == "off":
        out.append(RejectPathUnavailable(start=_ALWAYS))
    return out


@dataclass
class _Window:
    first_step: int  # global step number of the window's step 0
    inputs: KernelInputs
    #: the demand model's required supply temperature per step [C] (before the set point)
    supply_required_c: Any = None


class LiveTwin:
    """The engine stepped against a clock, publishing to sinks.

    Parameters
    ----------
    site
        The site.
    speed
        Simulated seconds per wall second (>= 1 ... any positive number).
    step_s
        Simulation step [s] (default 10 s).
    start
        Simulated start (tz-aware); default: now (floored to the step) for
        ``speed <= 1``, one day before now for a faster twin.
    scenarios
        Faults active from the start (each with a start; none: the twin's start).
    sinks
        Adapters that receive each finished chunk.
    clock
        Wall clock [s since the epoch]; injectable for tests.
    clamp_to_wall
        Never simulate past the wall clock (default True; see module notes).
    counters_start_kwh
        Start values of energy registers [kWh].
    """

    def __init__(
        self,
        site: Site,
        *,
        speed: float = 60.0,
        step_s: int = LIVE_STEP_S,
        start: pd.Timestamp | dt.datetime | str | None = None,
        scenarios: Sequence[Scenario] = (),
        sinks: Iterable[TwinSink] = (),
        clock: Callable[[], float] = time.time,
        clamp_to_wall: bool = True,
        counters_start_kwh: Mapping[str, float] | None = None,
        window_s: int = LIVE_WINDOW_S,
    ) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise TwinError(f"--speed: expected a positive number, got {speed}")
        self.site = site
        self.speed = float(speed)
        self.step_s = int(step_s)
        self.clock = clock
        self.clamp_to_wall = clamp_to_wall
        self.sinks = list(sinks)
        self.points = TwinPointMap(site, self.step_s)
        self.window_steps = max(1, int(window_s) // self.step_s)
        wall0 = float(clock())
        if start is None:
            back = 0.0 if self.speed <= 1.0 else 86400.0
            t = pd.Timestamp(wall0 - back, unit="s", tz="UTC")
        else:
            t = _utc(start, "--start")
        self.start = t.floor(f"{self.step_s}s")
        self.wall_start = wall0
        self.steps_done = 0
        self.counters = self.points.initial_counters(counters_start_kwh)
        self.state: SimulationState | None = None
        check_for_site(site, scenarios)
        self.scenarios: list[Scenario] = [s if s.start else s.at(self.start) for s in scenarios]
        self.latest: dict[str, float] = {}
        self.last_mode: int | None = None
        self._window: _Window | None = None
        self._faults_dirty = False
        self.controls: dict[str, float | str] = twin_controls(site)
        self._controls_dirty = False
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._started = False
        self.readings_published = 0

    # ------------------------------------------------------------------ time
    def sim_now(self) -> pd.Timestamp:
        """Simulated time the clock has reached (clamped to the wall clock if asked)."""
        wall = float(self.clock())
        sim = self.start + pd.Timedelta(seconds=(wall - self.wall_start) * self.speed)
        if self.clamp_to_wall:
            sim = min(sim, pd.Timestamp(wall, unit="s", tz="UTC"))
        return sim

    def next_step_start(self) -> pd.Timestamp:
        """Start of the next step to be simulated."""
        return self.start + pd.Timedelta(seconds=self.steps_done * self.step_s)

    # ------------------------------------------------------------------ faults
    def inject(self, scenario: Scenario | str) -> Scenario:
        """Add a fault while running; without a start it starts at the next step.

        Returns
        -------
        Scenario
            With its start filled in.
        """
        s = parse_scenario(scenario) if isinstance(scenario, str) else scenario
        check_for_site(self.site, [s])
        with self._lock:
            if s.start is None:
                s = s.at(self.next_step_start())
            self.scenarios.append(s)
            self._faults_dirty = True
        log.info("twin: fault injected: %s", s.label())
        return s

    def clear_faults(self) -> None:
        """Remove every fault (the plant is healthy from the next step)."""
        with self._lock:
            self.scenarios.clear()
            self._faults_dirty = True

    # ------------------------------------------------------------------ controls
    def write_control(self, name: str, value: Any) -> float | str:
        """Write a controller value (:func:`twin_controls`); effective from the next step.

        Raises
        ------
        TwinError
            An unknown control, or a value of the wrong kind.
        """
        with self._lock:
            if name not in self.controls:
                raise TwinError(
                    f"control {name!r}: no such control; expected one of {sorted(self.controls)}"
                )
            v = check_control_value(name, self.controls[name], value)
            self.controls[name] = v
            self._controls_dirty = True
        log.info("twin: control %s set to %s", name, v)
        return v

    def read_controls(self) -> dict[str, float | str]:
        """A copy of the controller values."""
        with self._lock:
            return dict(self.controls)

    def _faults(self) -> list[Fault]:
        """The drills' faults and what the commanded modes take out of service."""
        return [*scenarios_to_faults(self.scenarios), *control_faults(self.site, self.controls)]

    def _with_controls(self, inputs: KernelInputs, supply_required_c: Any) -> KernelInputs:
        from heatreuse.simulation import kernel as K

        params = inputs.params.copy()
        params[K.P_LOOP_SET_C] = float(self.controls["loop_setpoint_c"])
        series = inputs.series.copy()
        series[K.X_SUPPLY_REQUIRED_C] = np.maximum(
            supply_required_c, float(self.controls["supply_setpoint_c"])
        )
        return replace(inputs, params=params, series=series)

    # ------------------------------------------------------------------ stepping
    def _new_window(self) -> _Window:
        first = self.steps_done
        t0 = self.next_step_start()
        t1 = t0 + pd.Timedelta(seconds=self.window_steps * self.step_s)
        demand = window_demand(self.site, t0, t1, self.step_s)
        inputs = prepare(
            self.site,
            demand,
            self.step_s,
            faults=self._faults(),
            initial_state=self.state,
            record_layers=self.points.needs_layers,
        )
        from heatreuse.simulation import kernel as K

        self._faults_dirty = False
        self._controls_dirty = False
        required = inputs.series[K.X_SUPPLY_REQUIRED_C].copy()
        return _Window(first, self._with_controls(inputs, required), required)

    def advance(self, max_steps: int | None = None) -> int:
        """Simulate and publish every step the clock has passed; return steps run."""
        done = 0
        with self._lock:
            target = self.sim_now()
            due = int((target - self.start).total_seconds() // self.step_s) - self.steps_done
            if max_steps is not None:
                due = min(due, max_steps)
            while due > 0:
                w = self._window
                if w is None or self.steps_done >= w.first_step + w.inputs.n_steps:
                    w = self._window = self._new_window()
                elif self._faults_dirty or self._controls_dirty:
                    w.inputs = self._with_controls(
                        w.inputs.with_faults(self._faults()), w.supply_required_c
                    )
                    self._faults_dirty = False
                    self._controls_dirty = False
                k0 = self.steps_done - w.first_step
                k1 = min(w.inputs.n_steps, k0 + due, k0 + LIVE_MAX_CHUNK_STEPS)
                chunk = run_kernel(w.inputs, self.state, k0, k1)
                frame = result_from_outputs(w.inputs, chunk).frame
                readings, self.counters = self.points.readings(frame, self.counters)
                self.state = chunk.state_out
                self.steps_done += k1 - k0
                done += k1 - k0
                due -= k1 - k0
                self.latest = readings.latest()
                self.last_mode = int(frame["mode"].iloc[-1])
                self.readings_published += int(readings.sampled.sum())
                for sink in self.sinks:
                    sink.publish(readings)
        return done

    # ------------------------------------------------------------------ running
    def start_sinks(self) -> None:
        """Start every sink (bind ports, connect)."""
        started: list[TwinSink] = []
        try:
            for sink in self.sinks:
                sink.start()
                started.append(sink)
        except BaseException:
            for sink in reversed(started):
                sink.close()
            raise
        self._started = True

    def close(self) -> None:
        """Close every sink."""
        self._stop.set()
        for sink in reversed(self.sinks):
            try:
                sink.close()
            except Exception:
                log.exception("twin: closing a sink failed")

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        self._stop.set()

    def run(self, *, duration_s: float | None = None, tick_s: float | None = None) -> None:
        """Run until :meth:`stop` (or ``duration_s`` wall seconds), sinks started and closed."""
        if not self._started:
            self.start_sinks()
        tick = tick_s if tick_s is not None else min(1.0, max(0.02, self.step_s / self.speed / 2))
        t_end = None if duration_s is None else time.monotonic() + duration_s
        try:
            while not self._stop.is_set():
                self.advance()
                if t_end is not None and time.monotonic() >= t_end:
                    break
                self._stop.wait(tick)
        finally:
            self.close()

    def status(self) -> dict[str, Any]:
        """JSON-ready status: simulated time, steps, faults, mode, latest values."""
        from heatreuse.simulation import MODE_NAMES

        with self._lock:
            return {
                "site_id": self.site.id,
                "speed": self.speed,
                "step_s": self.step_s,
                "start": self.start.isoformat(),
                "simulated_until": self.next_step_start().isoformat(),
                "steps": self.steps_done,
                "readings_published": self.readings_published,
                "mode": None if self.last_mode is None else MODE_NAMES.get(self.last_mode),
                "faults": [s.label() for s in self.scenarios],
                "setpoints": dict(self.controls),
                "latest": self.latest,
            }


# --------------------------------------------------------------------------- control endpoint
#: Environment variable ``heatreuse twin-inject`` reads the control token from.
TWIN_TOKEN_ENV = "HEATREUSE_TWIN_TOKEN"
#: Shortest control token accepted (characters); generated tokens have 43.
MIN_TOKEN_CHARS = 16
#: Largest request body the control endpoint reads [bytes].
MAX_CONTROL_BODY_BYTES = 64 * 1024


def default_control_token_path(port: int) -> Path:
    """``$HEATREUSE_HOME/twin-control-<port>.token``: where a twin on ``port`` keeps its token."""
    return heatreuse_home() / f"twin-control-{int(port)}.token"


def write_token_file(path: Path, token: str) -> None:
    """Write ``token`` to ``path`` with mode 0600 (folder 0700 if created), replacing it whole."""
    path = Path(path)
    make_private_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_token_file(path: Path, what: str) -> str:
    """The token held in ``path`` (surrounding white space dropped).

    Raises
    ------
    TwinError
        Missing, unreadable, or shorter than :data:`MIN_TOKEN_CHARS`.
    """
    p = Path(path)
    try:
        token = p.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise TwinError(
            f"{what} {p}: no such file; expected the token file the twin printed at start"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TwinError(f"{what} {p}: cannot read it ({exc})") from None
    _check_token(token, f"{what} {p}")
    return token


def _check_token(token: str, where: str) -> None:
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise TwinError(
            f"{where}: expected a token of at least {MIN_TOKEN_CHARS} characters without spaces; "
            f"got {len(token)} characters"
        )


class TwinControlServer:
    """HTTP control endpoint of a live twin: loopback by default, every request with a token.

    ``GET /status`` (JSON status), ``GET /faults`` (active scenario labels),
    ``POST /faults`` with ``{"scenario": "pump_failure+2h"}`` (JSON) or the
    scenario text as the body (201 + the scenario with its start),
    ``DELETE /faults`` (clear); ``GET /setpoints`` (the controller values),
    ``PUT /setpoints/NAME`` with ``{"value": V}`` (200 + the value now held; 404 for an
    unknown name, 400 for a wrong kind of value). Every request needs ``Authorization: Bearer
    TOKEN``; without it or with another token the answer is 401 and nothing
    changes (the token is compared in constant time). Errors: 400/401/404/413
    with ``{"error": ...}``.

    Parameters
    ----------
    twin
        The live twin.
    host, port
        Address to bind (port 0: any free port).
    token
        The token; None: read from ``token_file`` if it exists, else a new
        random one (:func:`secrets.token_urlsafe`) written there with mode
        0600 (default :func:`default_control_token_path` of the bound port).
    token_file
        Where the token is read from or written to.
    allow_remote
        Allow a non-loopback bind address (the token is still required).

    Raises
    ------
    TwinError
        A non-loopback address without ``allow_remote``; a given token or
        token file that is unreadable or too short.
    """

    def __init__(
        self,
        twin: LiveTwin,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token: str | None = None,
        token_file: Path | None = None,
        allow_remote: bool = False,
    ) -> None:
        self.twin = twin
        self.host = host
        self.port = port
        self.allow_remote = allow_remote
        if not self.allow_remote and not is_loopback_host(self.host):
            raise TwinError(
                f"--control {self.host}:{self.port}: the control endpoint changes plant state and "
                "binds to loopback only; expected 127.0.0.1:PORT (or just PORT), or add "
                "--control-allow-remote to expose it beyond this machine (the token is still "
                "required)"
            )
        self.token_file = Path(token_file) if token_file is not None else None
        self._generated = False
        if token is not None:
            _check_token(token, "twin control token")
        elif self.token_file is not None and self.token_file.exists():
            token = read_token_file(self.token_file, "--control-token-file")
        else:
            token = secrets.token_urlsafe(32)
            self._generated = True
        self._token = token.encode()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """Bound (host, port)."""
        if self._server is None:
            return self.host, self.port
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Bind and serve in a thread; write a generated token to its file.

        Raises
        ------
        TwinError
            The address cannot be bound, or the token file cannot be written.
        """
        twin = self.twin
        expected = self._token

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                log.debug("twin control: " + format, *args)

            def _send(self, code: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                scheme, _, given = (self.headers.get("Authorization") or "").partition(" ")
                ok = scheme.lower() == "bearer" and hmac.compare_digest(
                    given.strip().encode(), expected
                )
                if not ok:
                    log.warning(
                        "twin control: %s %s from %s refused: %s",
                        self.command,
                        self.path,
                        self.client_address[0],
                        "wrong token" if given else "no token",
                    )
                    self.close_connection = True
                    self._send(
                        401,
                        {
                            "error": "expected the header 'Authorization: Bearer TOKEN' with the "
                            "twin's control token (its file is printed when the twin starts; "
                            "heatreuse twin-inject --token-file FILE)"
                        },
                        {"WWW-Authenticate": 'Bearer realm="heatreuse-twin"'},
                    )
                return ok

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                if self.path.rstrip("/") == "/status":
                    self._send(200, twin.status())
                elif self.path.rstrip("/") == "/faults":
                    self._send(200, {"faults": [s.label() for s in twin.scenarios]})
                elif self.path.rstrip("/") == "/setpoints":
                    self._send(200, {"setpoints": twin.read_controls()})
                else:
                    self._send(
                        404, {"error": f"no route {self.path}; try /status, /faults or /setpoints"}
                    )

            def _body(self) -> str | None:
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if not 0 <= length <= MAX_CONTROL_BODY_BYTES:
                    self.close_connection = True
                    self._send(
                        413,
                        {"error": f"expected a body of at most {MAX_CONTROL_BODY_BYTES} bytes"},
                    )
                    return None
                return self.rfile.read(length).decode("utf-8", "replace").strip()

            def do_PUT(self) -> None:
                if not self._authorised():
                    return
                prefix = "/setpoints/"
                if not self.path.startswith(prefix) or len(self.path) <= len(prefix):
                    self._send(404, {"error": f"no route {self.path}; PUT /setpoints/NAME"})
                    return
                name = self.path[len(prefix) :].rstrip("/")
                body = self._body()
                if body is None:
                    return
                try:
                    value = json.loads(body)["value"]
                except (ValueError, KeyError, TypeError):
                    self._send(400, {"error": 'expected {"value": NUMBER or MODE}'})
                    return
                if name not in twin.controls:
                    self._send(
                        404,
                        {"error": f"no control {name!r}; expected one of {sorted(twin.controls)}"},
                    )
                    return
                try:
                    held = twin.write_control(name, value)
                except HeatreuseError as exc:
                    self._send(400, {"error": str(exc)})
                    return
                self._send(200, {"name": name, "value": held})

            def do_POST(self) -> None:
                if not self._authorised():
                    return
                if self.path.rstrip("/") != "/faults":
                    self._send(404, {"error": f"no route {self.path}; POST /faults"})
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if not 0 <= length <= MAX_CONTROL_BODY_BYTES:
                    self.close_connection = True
                    self._send(
                        413,
                        {"error": f"expected a body of at most {MAX_CONTROL_BODY_BYTES} bytes"},
                    )
                    return
                body = self.rfile.read(length).decode("utf-8", "replace").strip()
                text = body
                if body.startswith("{"):
                    try:
                        text = str(json.loads(body)["scenario"])
                    except (ValueError, KeyError, TypeError):
                        self._send(400, {"error": 'expected {"scenario": "name[@START][+DUR]"}'})
                        return
                try:
                    s = twin.inject(text)
                except HeatreuseError as exc:
                    self._send(400, {"error": str(exc)})
                    return
                self._send(201, {"scenario": s.label()})

            def do_DELETE(self) -> None:
                if not self._authorised():
                    return
                if self.path.rstrip("/") != "/faults":
                    self._send(404, {"error": f"no route {self.path}; DELETE /faults"})
                    return
                twin.clear_faults()
                self._send(200, {"faults": []})

        try:
            self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as exc:
            raise TwinError(
                f"--control {self.host}:{self.port}: cannot bind the control endpoint: {exc}"
            ) from None
        if self._generated:
            if self.token_file is None:
                self.token_file = default_control_token_path(self.address[1])
            try:
                write_token_file(self.token_file, self._token.decode())
            except OSError as exc:
                self._server.server_close()
                self._server = None
                raise TwinError(
                    f"--control-token-file {self.token_file}: cannot write the token ({exc})"
                ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="twin-control", daemon=True
        )
        self._thread.start()

    def publish(self, readings: TwinReadings) -> None:  # a sink that ignores readings
        return None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._generated and self.token_file is not None:
            self.token_file.unlink(missing_ok=True)  # the token died with the endpoint


def control_token(
    address: str,
    token_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The token ``twin-inject`` sends: ``--token-file``, else ``HEATREUSE_TWIN_TOKEN``, else
    the default token file of the port (a twin on this machine, same ``HEATREUSE_HOME``).

    Raises
    ------
    TwinError
        No token found, or a token file that is missing, unreadable or too short.
    """
    env = os.environ if environ is None else environ
    if token_file is not None:
        return read_token_file(token_file, "--token-file")
    if env.get(TWIN_TOKEN_ENV):
        token = env[TWIN_TOKEN_ENV].strip()
        _check_token(token, TWIN_TOKEN_ENV)
        return token
    _, port = parse_host_port(address, "--control")
    default = default_control_token_path(port)
    if default.exists():
        return read_token_file(default, "token file")
    raise TwinError(
        f"twin control {address}: no token; expected --token-file FILE (the path the twin printed "
        f"at start) or {TWIN_TOKEN_ENV}; no token file at {default}"
    )


def inject_remote(address: str, scenario: str, timeout_s: float = 5.0, *, token: str) -> str:
    """POST a scenario to a running twin's control endpoint; return its label.

    Raises
    ------
    TwinError
        The endpoint is unreachable, refuses the token (401) or the scenario
        (its message).
    """
    import http.client

    host, port = parse_host_port(address, "--control")
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request(
            "POST",
            "/faults",
            body=json.dumps({"scenario": scenario}),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        resp = conn.getresponse()
        body = json.loads(resp.read().decode() or "{}")
    except (OSError, ValueError) as exc:
        raise TwinError(f"twin control {host}:{port}: cannot reach the endpoint: {exc}") from None
    finally:
        conn.close()
    if resp.status == 401:
        raise TwinError(
            f"twin control {host}:{port}: the token was refused (401); expected the token the "
            f"twin wrote at start (--token-file FILE or {TWIN_TOKEN_ENV})"
        )
    if resp.status != 201:
        raise TwinError(f"twin control {host}:{port}: {body.get('error', resp.status)}")
    return str(body["scenario"])


def build_live_twin(
    site: Site,
    *,
    scenarios: Sequence[Scenario] = (),
    start: Any = None,
    step_s: int = 10,
    speed: float = 1.0,
    mqtt: str | MqttConnection | None = None,
    modbus: str | None = None,
    control: str | None = None,
    topic_prefix: str | None = None,
    ha_discovery: bool = False,
    clamp: bool = True,
    control_token_file: Path | None = None,
    control_allow_remote: bool = False,
) -> LiveTwin:
    """Wire a live twin to its outputs: MQTT publisher, Modbus server, control endpoint.

    Addresses are text as typed: ``--mqtt`` a broker URL (or a parsed
    :class:`~heatreuse.mqttconf.MqttConnection` with credentials and TLS),
    ``--modbus`` ``HOST:PORT``, ``--control`` ``HOST:PORT`` or ``PORT``
    (127.0.0.1); see :class:`TwinControlServer` for ``control_token_file`` and
    ``control_allow_remote``.

    Raises
    ------
    TwinError
        Neither MQTT nor Modbus given.
    AddressError
        A malformed address.
    """
    from heatreuse.site import expand_points
    from heatreuse.telemetry.modbus_server import ModbusTwinServer
    from heatreuse.telemetry.mqtt_publish import MqttPublisher

    if not (mqtt or modbus):
        raise TwinError("live twin: give --mqtt HOST:PORT and/or --modbus HOST:PORT (or --out)")
    site_points = expand_points(site)
    sinks: list[TwinSink] = []
    if mqtt:
        broker = mqtt if isinstance(mqtt, MqttConnection) else parse_broker_url(mqtt, "--mqtt")
        sinks.append(
            MqttPublisher(
                broker.host,
                broker.port,
                site_points,
                connection=broker,
                prefix=topic_prefix,
                site_name=site.site.name,
                ha_discovery=ha_discovery,
            )
        )
    if modbus:
        host, port = parse_host_port(modbus, "--modbus")
        sinks.append(ModbusTwinServer(host, port, site_points))
    live = LiveTwin(
        site,
        speed=speed,
        step_s=step_s,
        start=start,
        scenarios=list(scenarios),
        sinks=sinks,
        clamp_to_wall=clamp,
    )
    if control:
        host, port = parse_listen_address(control, "--control")
        live.sinks.append(
            TwinControlServer(
                live,
                host,
                port,
                token_file=control_token_file,
                allow_remote=control_allow_remote,
            )
        )
    return live
