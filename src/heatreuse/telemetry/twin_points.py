"""What the twin publishes: simulation result columns -> the site's registry points.

The twin (live over MQTT and Modbus, offline into a readings file) and the
drill's telemetry-visibility check all take their point values from
:class:`TwinPointMap`, so a reading means the same thing on every path and
ingest needs no twin-specific code: the ids, topics and registers are exactly
those of the site's point registry (:mod:`heatreuse.site.points`,
:class:`heatreuse.telemetry.registry.PointRegistry`).

Mapping (simulation column -> point)
------------------------------------
==================================  ==============================================================
point                               from the simulation step (``SimulationResult.frame``)
==================================  ==============================================================
``rack.<r>.it_power_w``             ``it_power_w`` x the rack group's share of nameplate
``rack.<r>.inlet/outlet_temp_c``    ``coolant_supply_temp_c`` / ``coolant_return_temp_c``
``it_loop.supply/return_temp_c``    same; ``it_loop.flow_m3_per_h``: ``flow_primary_m3_per_h``
``hx.secondary_return_temp_c``      ``tank_temp_bottom_c`` (what enters the HX)
``hx.secondary_supply_temp_c``      return + ``hx_heat_w`` / (rho cp V_dot); return when no flow
``hx.secondary_flow_m3_per_h``      ``flow_secondary_m3_per_h``; ``hx.heat_power_w``: ``hx_heat_w``
``tank.layer_<i>_temp_c``           ``tank_layer_<i-1>_temp_c`` (1 = top)
``pump.<p>.speed_fraction``         flow of its role / rated flow of the role (affinity law:
                                    flow ~ speed); a tripped pump reads 0
``pump.<p>.status``                 1 when its speed is above 0
``pump.<p>.power_w``                rated power x speed^3 (the engine's pump model)
``meter.supply_temp_c``             ``supply_temp_measured_c``: the meter's flow sensor is the
                                    one the controller reads, so a false-low or drifting
                                    sensor shows here (and in the meter's power and register)
``meter.return_temp_c``             ``return_temp_c``; ``meter.flow_m3_per_h``:
                                    ``flow_customer_m3_per_h``
``meter.heat_power_w``              what the meter computes from its sensors:
                                    ``heat_delivered_w`` x (T_meas - T_ret) / (T_true - T_ret)
``meter.heat_energy_kwh``           the meter's register: integral of its power
``customer.supply_temp_c``          ``customer_supply_temp_c`` (true supply at the customer,
                                    backup heat included; the SLA's point)
``customer.return_temp_c``          ``return_temp_c``
``loop.pressure_bar``               static fill pressure (``plant.loop_pressure_bar``) + each
                                    running loop pump's head x speed^2 (affinity law) x rho g
``utility.feed_status``             0 while the engine reports mode ``down``
``elec.<x>_power_w``                ``it_power_w``, ``cooling_electricity_w``,
                                    ``pump_electricity_w``, ``other_electricity_w``
``boiler.*``, ``dry_cooler.*``,     ``backup_heat_w``, ``heat_rejected_w``,
``heat_pump.*``                     ``heat_pump_heat_w`` / ``heat_pump_electricity_w``;
                                    status 1 above 1 W
``*_energy_kwh`` (counters)         integral of the matching power from the twin's start value
==================================  ==============================================================

Time stamps and sampling
------------------------
Step values are means over the step ``[t, t + step)`` and carry the step
start ``t`` (interval-beginning labels, as the simulation frame). A counter
at ``t`` holds the energy up to ``t``, so the difference of two register
readings is exactly the energy between them. Each point is sampled at
``max(sample_interval_s, step_s)`` (rounded up to whole steps), on instants
that are multiples of that interval since the Unix epoch, so chunked runs
sample the same instants as one run.

Points the twin cannot produce (custom entries with no simulation
counterpart) are listed in :attr:`TwinPointMap.missing` and not published.

Measurement noise and resolution
--------------------------------
A real site's sensors are never exactly constant, and rules that look for a
stuck sensor must be tested on data that looks real. Unless ``noise=False``,
each point gets the noise and resolution of its sensor class
(:data:`SENSOR_CLASSES`): a Gaussian error per reading, then rounding to the
sensor's resolution; counters (meter registers) are published in whole units
(floor, so they stay monotonic). The noise of a reading is a function of the
seed, the point id and the reading's instant only (a counter-based generator),
so chunked runs, live and offline runs, and a clean run and a faulty run of the
same site draw the same noise.

References
----------
Pump affinity laws (Q ~ n, H ~ n^2, P ~ n^3): Karassik et al., *Pump
Handbook*, 4th ed., McGraw-Hill 2008, section 2.1. Modbus Application
Protocol Specification V1.1b3 (big-endian registers).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from heatreuse.errors import TwinError
from heatreuse.physics.water import water_cp_j_per_kg_k, water_density_kg_per_m3
from heatreuse.site import Site, expand_points
from heatreuse.site.points import (
    ModbusRegister,
    Point,
    SitePoints,
    default_unit_code,
    unit_code_scale,
)
from heatreuse.units import GRAVITY_M_PER_S2, J_PER_KWH, PA_PER_BAR, SECONDS_PER_HOUR

FloatArray = npt.NDArray[np.float64]
#: Standard gravity [m/s2] (CGPM 1901).
#: Below this power a boiler, dry cooler or heat pump counts as off [W].
STATUS_ON_W = 1.0
#: Columns of the long readings format (``heatreuse.telemetry.files``).
LONG_COLUMNS = ("timestamp", "point_id", "value")
#: The mode code of "down" in ``mode_flags`` (``heatreuse.simulation.MODE_DOWN``).
_MODE_DOWN_BIT = 1 << 6


@dataclass(frozen=True)
class TwinReadings:
    """Point values of consecutive simulation steps.

    Attributes
    ----------
    index
        Step starts (tz-aware UTC).
    step_s
        Step length [s].
    point_ids
        Points, in registry order.
    values
        float64 (points, steps) [each point's unit].
    sampled
        bool (points, steps): True where the point publishes a reading.
    """

    index: pd.DatetimeIndex
    step_s: int
    point_ids: tuple[str, ...]
    values: FloatArray
    sampled: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.index)

    def series(self, point_id: str) -> pd.Series:
        """All step values of one point (sampled or not) as a UTC-indexed series."""
        i = self.point_ids.index(point_id)
        return pd.Series(self.values[i], index=self.index, name=point_id)

    def frame(self) -> pd.DataFrame:
        """Every point's step values, one column per point id."""
        return pd.DataFrame(self.values.T, index=self.index, columns=list(self.point_ids))

    def latest(self) -> dict[str, float]:
        """The values of the last step, by point id."""
        if len(self.index) == 0:
            return {}
        return {p: float(self.values[i, -1]) for i, p in enumerate(self.point_ids)}

    def long_arrays(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], FloatArray]:
        """The sampled readings as arrays: (step number into :attr:`index`, index into
        :attr:`point_ids`, values); sorted by time, then registry order."""
        step_idx, point_idx = np.nonzero(self.sampled.T)
        return (
            step_idx.astype(np.int64),
            point_idx.astype(np.int32),
            self.values[point_idx, step_idx],
        )

    def long_frame(self) -> pd.DataFrame:
        """The sampled readings in the long format ``timestamp, point_id, value``.

        Rows sorted by time, then registry order; ``point_id`` categorical.
        """
        steps, codes, values = self.long_arrays()
        return pd.DataFrame(
            {
                "timestamp": self.index.as_unit("us")[steps],
                "point_id": pd.Categorical.from_codes(
                    codes, categories=pd.Index(list(self.point_ids))
                ),
                "value": values,
            }
        )


@dataclass(frozen=True)
class SensorClass:
    """Noise and resolution of one kind of sensor.

    Attributes
    ----------
    sigma_abs
        Standard deviation of the absolute error [the point's unit].
    sigma_rel
        Standard deviation of the relative error [fraction of the value].
    resolution
        Smallest step the sensor reports [the point's unit]; 0: none.
    """

    sigma_abs: float = 0.0
    sigma_rel: float = 0.0
    resolution: float = 0.0


#: Sensor classes by point quantity. Temperatures: Pt1000 pairs of heat meters read to
#: 0.01 K; a noise of 0.05 K is well inside EN 60751 class A (+-(0.15 + 0.002 |t|) K).
#: Flow: ultrasonic meters repeat to about 1 % (EN 1434-1 class 2 allows 2 % + 0.02 qp/q).
#: Power: derived from flow and temperature, about 1 %, read in whole W. Pressure:
#: transmitters of 0.25 % FS on 10 bar, read to 0.01 bar. Counters: whole units.
SENSOR_CLASSES: dict[str, SensorClass] = {
    "temperature": SensorClass(sigma_abs=0.05, resolution=0.01),
    "volume_flow": SensorClass(sigma_rel=0.01, resolution=0.001),
    "power": SensorClass(sigma_rel=0.01, resolution=1.0),
    "pressure": SensorClass(sigma_abs=0.01, resolution=0.01),
    "speed": SensorClass(resolution=0.001),
}
#: Counters (meter registers) are published in whole units of the point [kWh].
COUNTER_RESOLUTION = 1.0
_U64 = np.uint64


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64 finaliser (Steele, Lea, Flood 2014): a counter-based 64-bit hash."""
    with np.errstate(over="ignore"):
        z = x + _U64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
        return np.asarray(z ^ (z >> _U64(31)), dtype=np.uint64)


def standard_normal_at(seed: int, point_id: str, epoch_s: npt.NDArray[np.int64]) -> FloatArray:
    """Standard normal draws that depend only on (seed, point id, instant) [1].

    Box-Muller on two SplitMix64 uniforms; the same instant of the same point gives
    the same draw in any chunk or run.
    """
    import zlib

    key = _U64((seed * 0x100000001B3 + zlib.crc32(point_id.encode())) & 0xFFFFFFFFFFFFFFFF)
    t = epoch_s.astype(np.uint64)
    with np.errstate(over="ignore"):
        a = _splitmix64((t * _U64(2)) ^ key)
        b = _splitmix64((t * _U64(2) + _U64(1)) ^ key)
    u1 = ((a >> _U64(11)).astype(np.float64) + 1.0) / 9007199254740993.0  # (0, 1]
    u2 = (b >> _U64(11)).astype(np.float64) / 9007199254740992.0
    out: FloatArray = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return out


def apply_sensor(
    point: Point, values: FloatArray, epoch_s: npt.NDArray[np.int64], seed: int
) -> FloatArray:
    """What the point's sensor reports for the true ``values`` [the point's unit].

    Counters are floored to whole units; other points get their class's noise and
    resolution (:data:`SENSOR_CLASSES`) and stay inside the point's range; status
    points and unknown quantities pass unchanged.
    """
    if point.kind == "counter":
        # (the tiny lift keeps a value summed in another chunk order, 4.999999999999 for
        # 5, on the same side of a whole unit: live and offline twins publish the same)
        out: FloatArray = np.floor(values / COUNTER_RESOLUTION + 1e-9) * COUNTER_RESOLUTION
        return out
    cls = SENSOR_CLASSES.get(point.quantity)
    if cls is None or point.kind == "status":
        return values
    noisy = values
    if cls.sigma_abs or cls.sigma_rel:
        z = standard_normal_at(seed, point.id, epoch_s)
        noisy = values + z * (cls.sigma_abs + cls.sigma_rel * np.abs(values))
    if cls.resolution:
        noisy = np.round(noisy / cls.resolution) * cls.resolution
    clipped: FloatArray = np.clip(noisy, point.min_value, point.max_value)
    return clipped


def _every_steps(interval_s: float, step_s: int) -> int:
    return max(1, math.ceil(interval_s / step_s - 1e-9))


class TwinPointMap:
    """Maps simulation frames onto the site's points (see the module docstring).

    Parameters
    ----------
    site
        The site.
    step_s
        Simulation step [s].
    site_points
        The expanded point list; default ``expand_points(site)``.
    noise
        Publish what real sensors report (noise, resolution, whole-unit registers;
        see the module docstring) instead of the simulation's exact values.
    seed
        Seed of the sensor noise; default derived from the site id.
    """

    def __init__(
        self,
        site: Site,
        step_s: int,
        site_points: SitePoints | None = None,
        *,
        noise: bool = True,
        seed: int | None = None,
    ) -> None:
        import zlib

        self.site = site
        self.noise = bool(noise)
        self.seed = int(seed) if seed is not None else zlib.crc32(site.id.encode())
        self.step_s = int(step_s)
        self.site_points = site_points or expand_points(site)
        plant = site.plant
        p_bar = plant.loop_pressure_bar
        t_rep = 0.5 * (site.compute.cooling.coolant_return_temp_c + 30.0)
        rho = float(water_density_kg_per_m3(t_rep, p_bar))
        self._rho_cp_j_per_m3_k = rho * float(water_cp_j_per_kg_k(t_rep, p_bar))
        self._rho_g_bar_per_m = rho * GRAVITY_M_PER_S2 / PA_PER_BAR
        total_nameplate = sum(r.nameplate_power_w * r.count for r in site.compute.racks)
        self._rack_share = {
            r.id: (r.nameplate_power_w * r.count / total_nameplate if total_nameplate > 0 else 0.0)
            for r in site.compute.racks
        }
        self._pumps = {p.id: p for p in plant.pumps}
        self._has_customer_pump = any(p.role == "customer" for p in plant.pumps)
        self._role_flow: dict[str, float] = {}
        for p in plant.pumps:
            self._role_flow[p.role] = self._role_flow.get(p.role, 0.0) + p.rated_flow_m3_per_h
        self.points: tuple[Point, ...] = ()
        self.missing: tuple[str, ...] = ()
        producers: dict[str, Callable[[_Ctx], FloatArray]] = {}
        missing: list[str] = []
        for point in self.site_points.points:
            fn = self._producer(point.id)
            if fn is None:
                missing.append(point.id)
            else:
                producers[point.id] = fn
        self.points = tuple(p for p in self.site_points.points if p.id in producers)
        self.point_ids: tuple[str, ...] = tuple(p.id for p in self.points)
        self.missing = tuple(missing)
        self._producers = producers
        self.counter_ids: tuple[str, ...] = tuple(p.id for p in self.points if p.kind == "counter")
        #: Publication interval of each point [s] (a whole number of steps).
        self.interval_s: dict[str, int] = {
            p.id: _every_steps(p.sample_interval_s, self.step_s) * self.step_s for p in self.points
        }

    # ------------------------------------------------------------------ producers
    def _producer(self, pid: str) -> Callable[[_Ctx], FloatArray] | None:
        parts = pid.split(".")
        col: dict[str, str] = {
            "it_loop.supply_temp_c": "coolant_supply_temp_c",
            "it_loop.return_temp_c": "coolant_return_temp_c",
            "it_loop.flow_m3_per_h": "flow_primary_m3_per_h",
            "hx.secondary_return_temp_c": "tank_temp_bottom_c",
            "hx.secondary_flow_m3_per_h": "flow_secondary_m3_per_h",
            "hx.heat_power_w": "hx_heat_w",
            "meter.supply_temp_c": "supply_temp_measured_c",
            "meter.return_temp_c": "return_temp_c",
            "meter.flow_m3_per_h": "flow_customer_m3_per_h",
            "customer.supply_temp_c": "customer_supply_temp_c",
            "customer.return_temp_c": "return_temp_c",
            "elec.it_power_w": "it_power_w",
            "elec.cooling_power_w": "cooling_electricity_w",
            "elec.pumps_power_w": "pump_electricity_w",
            "elec.other_power_w": "other_electricity_w",
            "boiler.heat_power_w": "backup_heat_w",
            "dry_cooler.heat_power_w": "heat_rejected_w",
            "heat_pump.heat_power_w": "heat_pump_heat_w",
            "heat_pump.elec_power_w": "heat_pump_electricity_w",
        }
        if pid in col:
            name = col[pid]
            return lambda c: c.col(name)
        status_of = {
            "boiler.status": "backup_heat_w",
            "dry_cooler.status": "heat_rejected_w",
            "heat_pump.status": "heat_pump_heat_w",
        }
        if pid in status_of:
            name = status_of[pid]
            return lambda c: (c.col(name) > STATUS_ON_W).astype(np.float64)
        counters = {
            "meter.heat_energy_kwh": "meter.heat_power_w",
            "elec.it_energy_kwh": "elec.it_power_w",
            "elec.cooling_energy_kwh": "elec.cooling_power_w",
            "elec.pumps_energy_kwh": "elec.pumps_power_w",
            "elec.other_energy_kwh": "elec.other_power_w",
            "boiler.heat_energy_kwh": "boiler.heat_power_w",
            "dry_cooler.heat_energy_kwh": "dry_cooler.heat_power_w",
            "heat_pump.elec_energy_kwh": "heat_pump.elec_power_w",
        }
        if pid in counters:
            power_pid = counters[pid]
            power_fn = self._producer(power_pid)
            assert power_fn is not None
            return lambda c: c.counter(pid, power_fn(c))
        if pid == "hx.secondary_supply_temp_c":
            return self._hx_supply
        if pid == "meter.heat_power_w":
            return self._meter_power
        if pid == "loop.pressure_bar":
            return self._pressure
        if pid == "utility.feed_status":
            return lambda c: ((c.col("mode_flags").astype(np.int64) & _MODE_DOWN_BIT) == 0).astype(
                np.float64
            )
        if len(parts) == 3 and parts[0] == "rack" and parts[1] in self._rack_share:
            share = self._rack_share[parts[1]]
            if parts[2] == "it_power_w":
                return lambda c: c.col("it_power_w") * share
            if parts[2] == "inlet_temp_c":
                return lambda c: c.col("coolant_supply_temp_c")
            if parts[2] == "outlet_temp_c":
                return lambda c: c.col("coolant_return_temp_c")
        if len(parts) == 3 and parts[0] == "pump" and parts[1] in self._pumps:
            pump_id = parts[1]
            if parts[2] == "speed_fraction":
                return lambda c: self._pump_speed(c, pump_id)
            if parts[2] == "status":
                return lambda c: (self._pump_speed(c, pump_id) > 1e-6).astype(np.float64)
            if parts[2] == "power_w":
                return lambda c: self._pump_power(c, pump_id)
        if parts[0] == "tank" and len(parts) == 2 and parts[1].startswith("layer_"):
            try:
                layer = int(parts[1].removeprefix("layer_").removesuffix("_temp_c"))
            except ValueError:
                return None
            n_layers = self.site.plant.buffer_tank.layers
            if not 1 <= layer <= n_layers:
                return None
            return lambda c: c.layer(layer - 1, n_layers)
        return None

    def _hx_supply(self, c: _Ctx) -> FloatArray:
        t_in = c.col("tank_temp_bottom_c")
        flow = c.col("flow_secondary_m3_per_h") / SECONDS_PER_HOUR
        heat = c.col("hx_heat_w")
        with np.errstate(divide="ignore", invalid="ignore"):
            rise = np.where(flow > 1e-9, heat / (flow * self._rho_cp_j_per_m3_k), 0.0)
        return t_in + rise

    def _meter_power(self, c: _Ctx) -> FloatArray:
        true_c = c.col("supply_temp_c")
        meas_c = c.col("supply_temp_measured_c")
        ret_c = c.col("return_temp_c")
        heat = c.col("heat_delivered_w")
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(true_c - ret_c > 1e-6, (meas_c - ret_c) / (true_c - ret_c), 0.0)
        return np.maximum(heat * ratio, 0.0)

    def _pump_speed(self, c: _Ctx, pump_id: str) -> FloatArray:
        pump = self._pumps[pump_id]
        rated = self._role_flow[pump.role]
        if pump.role == "primary":
            flow = c.col("flow_primary_m3_per_h")
        elif pump.role == "secondary":
            flow = c.col("flow_secondary_m3_per_h")
            if not self._has_customer_pump:
                flow = np.maximum(flow, c.col("flow_customer_m3_per_h"))
                flow = np.maximum(flow, self._boiler_flow(c, rated))
        else:
            flow = np.maximum(c.col("flow_customer_m3_per_h"), self._boiler_flow(c, rated))
        return flow / rated if rated > 0 else np.zeros(c.n)

    def _boiler_flow(self, c: _Ctx, rated_m3_per_h: float) -> FloatArray:
        """Flow [m3/h] the customer circuit's pump moves through the backup boiler.

        The boiler sits in the customer circuit and shares its circulation pump (the
        engine's plant): while it delivers heat the pump runs, even when the tank has
        nothing to give and no water flows through the plant's side (meter flow 0).
        Q_backup / (rho c_p (T_supply - T_return)), at least 1 K of lift, at most the
        pump's rated flow.
        """
        heat = c.col("backup_heat_w")
        lift = np.maximum(c.col("customer_supply_temp_c") - c.col("return_temp_c"), 1.0)
        flow = heat / (self._rho_cp_j_per_m3_k * lift) * SECONDS_PER_HOUR
        return np.where(heat > 1.0, np.minimum(flow, rated_m3_per_h), 0.0)

    def _pump_power(self, c: _Ctx, pump_id: str) -> FloatArray:
        pump = self._pumps[pump_id]
        # (a secondary pump that also drives the customer circuit runs at the larger of the
        # two flows, as its speed point says; its power follows that speed: affinity law)
        x = self._pump_speed(c, pump_id)
        return pump.rated_power_w * x**3

    def _pressure(self, c: _Ctx) -> FloatArray:
        p = np.full(c.n, self.site.plant.loop_pressure_bar)
        for pump in self.site.plant.pumps:
            if pump.role == "primary":
                continue
            x = self._pump_speed(c, pump.id)
            p = p + pump.rated_head_m * x**2 * self._rho_g_bar_per_m
        return p

    # ------------------------------------------------------------------ api
    @property
    def needs_layers(self) -> bool:
        """Whether the simulation must record every tank layer."""
        return any(p.startswith("tank.layer_") for p in self.point_ids)

    def initial_counters(self, start_kwh: Mapping[str, float] | None = None) -> dict[str, float]:
        """Counter start values [kWh]: 0 unless given."""
        given = dict(start_kwh or {})
        unknown = sorted(set(given) - set(self.counter_ids))
        if unknown:
            raise TwinError(
                f"counter start values: {unknown} are not counter points of site "
                f"'{self.site.id}'; expected some of {list(self.counter_ids)}"
            )
        return {p: float(given.get(p, 0.0)) for p in self.counter_ids}

    def readings(
        self,
        frame: pd.DataFrame,
        counters_kwh: Mapping[str, float] | None = None,
        point_ids: Sequence[str] | None = None,
    ) -> tuple[TwinReadings, dict[str, float]]:
        """Point values of the steps in ``frame``.

        Parameters
        ----------
        frame
            ``SimulationResult.frame`` (or a slice of consecutive steps).
        counters_kwh
            Counter values at the first step [kWh] (default all 0); the next
            chunk continues from the returned values.
        point_ids
            Only these points (default: all the twin produces).

        Returns
        -------
        (TwinReadings, counters at the end of the last step [kWh])
        """
        ctx = _Ctx(frame, self.step_s, dict(counters_kwh or self.initial_counters()))
        n = len(frame)
        ids = self.point_ids if point_ids is None else tuple(point_ids)
        unknown = [p for p in ids if p not in self._producers]
        if unknown:
            raise TwinError(f"twin points: {unknown} are not points the twin produces")
        values = np.empty((len(ids), n))
        epoch_s = pd.DatetimeIndex(frame.index).as_unit("s").asi8
        by_id = {p.id: p for p in self.points}
        for i, pid in enumerate(ids):
            values[i] = self._producers[pid](ctx)
            if self.noise:
                values[i] = apply_sensor(by_id[pid], values[i], epoch_s, self.seed)
        intervals = np.array([self.interval_s[p] for p in ids], dtype=np.int64)
        sampled = (epoch_s[None, :] % intervals[:, None]) == 0
        readings = TwinReadings(
            index=pd.DatetimeIndex(frame.index),
            step_s=self.step_s,
            point_ids=ids,
            values=values,
            sampled=sampled,
        )
        return readings, ctx.counters_out


class _Ctx:
    """Per-call cache: frame columns as float64 arrays, counter bookkeeping."""

    def __init__(self, frame: pd.DataFrame, step_s: int, counters: dict[str, float]) -> None:
        self.frame = frame
        self.n = len(frame)
        self.step_s = step_s
        self.counters_in = counters
        self.counters_out = dict(counters)
        self._cache: dict[str, FloatArray] = {}

    def col(self, name: str) -> FloatArray:
        arr = self._cache.get(name)
        if arr is None:
            if name not in self.frame.columns:
                raise TwinError(
                    f"twin points: the simulation frame has no column {name!r} (got "
                    f"{list(self.frame.columns)[:8]}...)"
                )
            arr = self.frame[name].to_numpy(dtype=np.float64)
            self._cache[name] = arr
        return arr

    def layer(self, j: int, n_layers: int) -> FloatArray:
        name = f"tank_layer_{j}_temp_c"
        if name in self.frame.columns:
            return self.col(name)
        top, bottom = self.col("tank_temp_top_c"), self.col("tank_temp_bottom_c")
        w = j / (n_layers - 1) if n_layers > 1 else 0.0
        return top + (bottom - top) * w

    def counter(self, pid: str, power_w: FloatArray) -> FloatArray:
        start = self.counters_in.get(pid, 0.0)
        energy_kwh = power_w * (self.step_s / J_PER_KWH)
        before = np.concatenate(([0.0], np.cumsum(energy_kwh)[:-1])) if self.n else energy_kwh
        values = start + before
        # The next chunk starts from the last value plus the last step (not from a separately
        # rounded sum), so a register never steps back by a rounding error at a chunk edge.
        self.counters_out[pid] = float(values[-1] + energy_kwh[-1]) if self.n else start
        return values


# --------------------------------------------------------------------------- modbus encoding
def encode_register(
    value: float,
    reg: ModbusRegister,
    device_word_order: str = "big",
    scale: float | None = None,
) -> list[int]:
    """Encode a point value into the 16-bit words of its register(s).

    ``raw = value / scale`` in the register's type; 32-bit types span two
    registers, high word first for word order ``big`` (the Modbus default,
    "ABCD"), low word first for ``little`` ("CDAB"). Unsigned counters roll
    over (``uint32``: modulo 2**32); other values outside the type's range
    raise. ``scale`` overrides ``reg.scale`` (a register whose unit the
    device announces: :func:`heatreuse.site.points.unit_code_scale`).

    Raises
    ------
    TwinError
        A non-finite value, or one the register type cannot hold.
    """
    if not math.isfinite(value):
        raise TwinError(
            f"Modbus {reg.device}:{reg.address}: expected a finite number, got {value!r}"
        )
    scale = reg.scale if scale is None else scale
    raw = value / scale
    order = reg.word_order or device_word_order
    kind = reg.type
    if kind == "float32":
        data = struct.pack(">f", raw)
    elif kind in ("uint32", "uint16"):
        bits = 32 if kind == "uint32" else 16
        iv = round(raw)
        if iv < 0:
            raise TwinError(
                f"Modbus {reg.device}:{reg.address} ({kind}, scale {scale}): expected a "
                f"value >= 0, got negative {value}"
            )
        iv %= 1 << bits  # registers roll over
        data = struct.pack(">I" if bits == 32 else ">H", iv)
    elif kind in ("int32", "int16"):
        iv = round(raw)
        lim = 1 << (31 if kind == "int32" else 15)
        if not -lim <= iv < lim:
            raise TwinError(
                f"Modbus {reg.device}:{reg.address} ({kind}, scale {scale}): expected "
                f"{-lim * scale:g}..{(lim - 1) * scale:g} in point units, got {value}"
            )
        data = struct.pack(">i" if kind == "int32" else ">h", iv)
    else:  # pragma: no cover - RegisterType is exhaustive
        raise TwinError(f"Modbus {reg.device}:{reg.address}: unknown type {kind!r}")
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if len(words) == 2 and order == "little":
        words.reverse()
    return words


def decode_register(words: list[int], reg: ModbusRegister, device_word_order: str = "big") -> float:
    """Inverse of :func:`encode_register`: words -> value in the point's unit."""
    order = reg.word_order or device_word_order
    ws = list(words)
    if len(ws) == 2 and order == "little":
        ws.reverse()
    data = b"".join(int(w).to_bytes(2, "big") for w in ws)
    fmt = {"float32": ">f", "uint32": ">I", "uint16": ">H", "int32": ">i", "int16": ">h"}[reg.type]
    return float(struct.unpack(fmt, data)[0]) * reg.scale


def device_unit_codes(site_points: SitePoints, device_id: str) -> dict[tuple[str, int], int]:
    """The unit codes a device set up as its register map says announces.

    ``(table, address)`` of each unit-code register -> code
    (:func:`heatreuse.site.points.default_unit_code` of its first point).
    """
    out: dict[tuple[str, int], int] = {}
    for point, reg in site_points.register_map(device_id):
        uc = reg.unit_code
        if uc is not None and (uc.table, uc.address) not in out:
            codes = site_points.unit_codes(reg)
            out[(uc.table, uc.address)] = default_unit_code(codes, reg, point.unit)
    return out


def device_words(
    site_points: SitePoints,
    device_id: str,
    values: Mapping[str, float],
    unit_codes: Mapping[tuple[str, int], int] | None = None,
) -> dict[tuple[str, int], int]:
    """``(table, address)`` -> word for one Modbus device from point values.

    Points of the device with no value (not produced) are left out. Unit-code
    registers hold ``unit_codes`` (default :func:`device_unit_codes`) and the
    values they scale are encoded in the unit their code announces.

    Raises
    ------
    TwinError
        A unit code that is not in the register's code table.
    """
    device = site_points.device(device_id)
    codes_now = dict(device_unit_codes(site_points, device_id))
    codes_now.update(unit_codes or {})
    out: dict[tuple[str, int], int] = {}
    for point, reg in site_points.register_map(device_id):
        uc = reg.unit_code
        scale = None
        if uc is not None:
            code = codes_now[(uc.table, uc.address)]
            table = site_points.unit_codes(reg)
            code_words = encode_register(
                float(code),
                ModbusRegister(device=reg.device, address=uc.address, type=uc.type, unit="1"),
                device.word_order,
            )
            for k, w in enumerate(code_words):
                out[(uc.table, uc.address + k)] = w
            if code not in table:  # a device error the twin can play: values keep the last unit
                continue
            scale = unit_code_scale(reg, table[code], point.unit)
        if point.id not in values:
            continue
        words = encode_register(values[point.id], reg, device.word_order, scale)
        for k, w in enumerate(words):
            out[(reg.table, reg.address + k)] = w
    return out


# --------------------------------------------------------------------------- mqtt layout
def default_topic_prefix(site_id: str) -> str:
    """Default MQTT topic prefix of a site: ``heatreuse/<site id>``."""
    return f"heatreuse/{site_id}"


def point_topic(prefix: str, point: Point) -> str:
    """Full topic of a point: ``<prefix>/<point's topic suffix>`` (registry's suffix)."""
    return f"{prefix.rstrip('/')}/{point.mqtt_topic}"


def availability_topic(prefix: str) -> str:
    """Retained availability topic (``online`` / ``offline``, the latter also as LWT)."""
    return f"{prefix.rstrip('/')}/availability"
