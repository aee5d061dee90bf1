"""Python-side setup: site + demand frame -> plain arrays and parameters for the kernel.

:func:`prepare` does all the work that needs Python objects (pydantic site
model, pandas, CoolProp-backed water properties) once, so the compiled
kernel (:mod:`heatreuse.simulation.kernel`) runs on plain arrays only. A
prepared :class:`KernelInputs` can be reused with a few parameters changed
(:meth:`KernelInputs.with_params`, e.g. tank volume or IT power in a sizing
sweep) or with another fault timeline (:meth:`KernelInputs.with_faults`)
without redoing the setup.

Water properties
----------------
The kernel cannot call CoolProp, so density and isobaric heat capacity are
evaluated once per circuit (IAPWS-95 via :mod:`heatreuse.physics.water`) at a
representative temperature: the primary loop at the mean of the coolant supply
and return design temperatures, the secondary side (tank, pipe, customer) at
the mean of the customer's mean return temperature and the coolant return
design temperature. The effect of holding them constant:

* heat capacity: cp of liquid water varies by less than 0.5 % between 5 and
  70 C (4.2019 kJ/(kg K) at 5 C, 4.1785 at 35 C, 4.1896 at 70 C; IAPWS-95), so
  every heat flow is within about 0.3 % of the temperature-dependent value
  for the operating range of these sites;
  :attr:`KernelInputs.property_error` reports the worst case over each
  circuit's own range;
* density: converting rated volume flows to mass flows at the representative
  temperature is within about 0.7 % over 10-60 C, well inside the flow
  tolerance of pump ratings (ISO 9906 grade 2B: +-8 %), and the tank's water
  mass is fixed (an expansion vessel takes the volume change), so using one
  mass per layer is the physical choice.

The energy balance itself is exact because the kernel uses the same constant
cp in every flux and in the stored heat.

Plant defaults
--------------
* Pumps of one role run in parallel: their rated flows and powers add. No
  primary pump: the design flow that carries the nameplate heat at the design
  coolant delta-T (no pump electricity). No secondary pump: the primary flow.
  No customer pump: the secondary pump also drives the customer circuit.
* The primary loop's water content (not in the site file) is the volume the
  primary pump moves in :data:`LOOP_RESIDENCE_S` (CDU, manifolds, piping), at
  least :data:`MIN_LOOP_VOLUME_M3`; it only sets how fast the loop
  temperature follows, not where it settles.
* Heat exchanger rated by effectiveness: UA from the effectiveness at the
  rated primary and secondary flows (inverse counterflow NTU relation), then
  the fouling factor: 1/UA = 1/UA_clean + R_f/A.
* The tank starts half charged (:func:`default_initial_state`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from heatreuse.errors import SimulationError
from heatreuse.physics import hx_ua_with_fouling_w_per_k, pipe_loss_coefficient_w_per_m_k
from heatreuse.physics.water import water_cp_j_per_kg_k, water_density_kg_per_m3
from heatreuse.simulation import kernel as K
from heatreuse.simulation.faults import Fault, FaultTimeline, build_fault_timeline
from heatreuse.site.model import Site

FloatArray = npt.NDArray[np.float64]
UInt8Array = npt.NDArray[np.uint8]

#: Columns a demand frame must have (the contract of ``customer_demand``).
DEMAND_COLUMNS = ("heat_demand_w", "supply_temp_required_c", "return_temp_c", "operating")
#: Primary-loop water content when the site file gives none: the volume the
#: primary pump moves in this many seconds (CDU, manifolds, piping) [s].
LOOP_RESIDENCE_S = 120.0
#: Smallest primary-loop water content [m3].
MIN_LOOP_VOLUME_M3 = 0.02
#: The heat pump's evaporator water outlet does not go below this [C] (freeze margin).
HP_EVAPORATOR_MIN_C = 5.0
#: Upper bound of any heat pump COP used by the kernel [-].
HP_COP_MAX = 10.0
#: Tank volumes that may pass through a port in one sub-step of the implicit tank
#: update [-] (:func:`heatreuse.simulation.kernel.substeps`).
TANK_TURNOVER_MAX = 0.5
#: Tank advection schemes by name (:meth:`KernelInputs.with_tank_scheme`).
TANK_SCHEMES: dict[str, int] = {"implicit": K.TANK_IMPLICIT, "explicit": K.TANK_EXPLICIT}

#: Parameters that :meth:`KernelInputs.with_params` can change, with their kernel index.
TUNABLE_PARAMS: dict[str, int] = {
    "it_nameplate_power_w": K.P_IT_NAMEPLATE_W,
    "tank_volume_m3": K.P_TANK_VOLUME_M3,
    "tank_heat_loss_w_per_k": K.P_TANK_UA_W_PER_K,
    "hx_ua_w_per_k": K.P_UA_W_PER_K,
    "dry_cooler_capacity_w": K.P_REJECT_CAPACITY_W,
    "backup_capacity_w": K.P_BACKUP_CAPACITY_W,
    "backup_control_delay_s": K.P_BACKUP_DELAY_S,
    "heat_pump_max_heat_w": K.P_HP_MAX_HEAT_W,
    "pipe_length_m": K.P_PIPE_LENGTH_M,
    "heat_capture_fraction": K.P_CAPTURE_FRACTION,
    "loop_heat_capacity_j_per_k": K.P_LOOP_HEAT_CAPACITY_J_PER_K,
}

_OFFSET_RE = re.compile(r"(Z|[+-]\d\d:?\d\d)$")


@dataclass(frozen=True)
class SimulationState:
    """State of the plant between steps (all a chunked run needs to continue).

    Attributes
    ----------
    loop_temp_c
        Primary loop (coolant return) temperature [C].
    backup_timer_s
        How long the controller has seen a deficit [s].
    supply_temp_c
        Supply temperature at the customer (pipe outlet) [C].
    tank_layer_temps_c
        Tank layer temperatures, top layer first [C].
    secondary_flow_kg_per_s
        Last charging (secondary) flow [kg/s], the flow controller's warm start.
    """

    loop_temp_c: float
    backup_timer_s: float
    supply_temp_c: float
    tank_layer_temps_c: tuple[float, ...]
    secondary_flow_kg_per_s: float = 0.0

    def to_array(self) -> FloatArray:
        """The kernel's state vector (``kernel.S_*`` then the layers)."""
        arr = np.empty(K.N_SCALAR_STATE + len(self.tank_layer_temps_c))
        arr[K.S_LOOP_C] = self.loop_temp_c
        arr[K.S_BACKUP_TIMER_S] = self.backup_timer_s
        arr[K.S_SUPPLY_C] = self.supply_temp_c
        arr[K.S_SECONDARY_FLOW_KG_PER_S] = self.secondary_flow_kg_per_s
        arr[K.N_SCALAR_STATE :] = self.tank_layer_temps_c
        return arr

    @classmethod
    def from_array(cls, arr: npt.ArrayLike) -> SimulationState:
        """Build a state from the kernel's state vector."""
        a = np.asarray(arr, dtype=np.float64)
        return cls(
            loop_temp_c=float(a[K.S_LOOP_C]),
            backup_timer_s=float(a[K.S_BACKUP_TIMER_S]),
            supply_temp_c=float(a[K.S_SUPPLY_C]),
            tank_layer_temps_c=tuple(float(x) for x in a[K.N_SCALAR_STATE :]),
            secondary_flow_kg_per_s=float(a[K.S_SECONDARY_FLOW_KG_PER_S]),
        )


@dataclass(frozen=True, eq=False)
class KernelInputs:
    """Everything the kernel needs for one run, as plain arrays.

    Attributes
    ----------
    index
        Step start times (tz-aware UTC), one per step.
    step_s
        Step length [s].
    params
        Kernel parameters (``kernel.P_*``), SI units.
    hp_curve
        Heat pump COP against lift, shape (2, k) (k = 0: Carnot model or none).
    series
        Per-step inputs (``kernel.X_*``), shape (N_SERIES, n).
    flags
        Per-step switches (``kernel.F_*``), shape (N_FLAGS, n), uint8.
    initial_state
        State at the start of step 0.
    record_layers
        Whether results carry every tank layer temperature.
    site_id
        The site's id (for messages).
    property_error
        Worst relative error of the constant water properties over each
        circuit's temperature range: keys ``cp_primary_fraction``,
        ``cp_secondary_fraction``, ``rho_primary_fraction``,
        ``rho_secondary_fraction``.
    """

    index: pd.DatetimeIndex
    step_s: int
    params: FloatArray
    hp_curve: FloatArray
    series: FloatArray
    flags: UInt8Array
    initial_state: SimulationState
    record_layers: bool = False
    site_id: str = ""
    property_error: Mapping[str, float] = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        """Number of steps."""
        return int(self.series.shape[1])

    @property
    def n_layers(self) -> int:
        """Number of tank layers."""
        return len(self.initial_state.tank_layer_temps_c)

    def param(self, name: str) -> float:
        """Current value of a tunable parameter (see :data:`TUNABLE_PARAMS`)."""
        if name not in TUNABLE_PARAMS:
            raise SimulationError(
                f"unknown simulation parameter {name!r}; expected one of {sorted(TUNABLE_PARAMS)}"
            )
        return float(self.params[TUNABLE_PARAMS[name]])

    def with_params(self, **overrides: float) -> KernelInputs:
        """A copy with some parameters changed; arrays are shared, not copied.

        Parameters
        ----------
        **overrides
            Names from :data:`TUNABLE_PARAMS` with their new values (SI units
            as in the names), e.g. ``tank_volume_m3=20.0``,
            ``it_nameplate_power_w=120e3``.
        """
        params = self.params.copy()
        for name, value in overrides.items():
            if name not in TUNABLE_PARAMS:
                raise SimulationError(
                    f"unknown simulation parameter {name!r}; expected one of "
                    f"{sorted(TUNABLE_PARAMS)}"
                )
            v = float(value)
            if not math.isfinite(v) or v < 0.0:
                raise SimulationError(f"parameter {name}: expected a finite value >= 0, got {v}")
            positive = ("tank_volume_m3", "heat_capture_fraction", "loop_heat_capacity_j_per_k")
            if name in positive and v <= 0.0:
                raise SimulationError(f"parameter {name}: expected > 0, got {v}")
            if name == "heat_capture_fraction" and v > 1.0:
                raise SimulationError(f"parameter {name}: expected <= 1, got {v}")
            params[TUNABLE_PARAMS[name]] = v
        return replace(self, params=params)

    def with_tank_scheme(self, scheme: str, turnover_max: float | None = None) -> KernelInputs:
        """A copy whose tank advection uses ``scheme`` (``"implicit"`` or ``"explicit"``).

        ``"implicit"`` (the default of :func:`prepare`) is the backward-Euler
        update coupled with the loop; ``"explicit"`` the explicit upwind update
        with one layer per sub-step at most, kept as the reference that
        convergence tests and benchmarks compare with
        (:func:`heatreuse.simulation.kernel.substeps`). ``turnover_max`` sets
        the implicit scheme's sub-step limit (tank volumes per port and
        sub-step, default :data:`TANK_TURNOVER_MAX`).
        """
        if scheme not in TANK_SCHEMES:
            raise SimulationError(
                f"tank scheme: expected one of {sorted(TANK_SCHEMES)}, got {scheme!r}"
            )
        params = self.params.copy()
        params[K.P_TANK_SCHEME] = TANK_SCHEMES[scheme]
        if turnover_max is not None:
            v = float(turnover_max)
            if not (math.isfinite(v) and v > 0.0):
                raise SimulationError(f"tank turnover_max: expected a number > 0, got {v}")
            params[K.P_TANK_TURNOVER_MAX] = v
        return replace(self, params=params)

    def with_faults(self, faults: FaultTimeline | Sequence[Fault] | None) -> KernelInputs:
        """A copy with another fault timeline (other arrays shared)."""
        timeline = _timeline(self.index, faults)
        series = self.series.copy()
        flags = self.flags.copy()
        _apply_faults(series, flags, timeline)
        return replace(self, series=series, flags=flags)

    def with_initial_state(self, state: SimulationState) -> KernelInputs:
        """A copy starting from ``state``."""
        _check_state(state, self.n_layers)
        return replace(self, initial_state=state)


# --------------------------------------------------------------------------- validation
def check_step_s(step_s: Any) -> int:
    """Validate the step length: an integer number of seconds from 1 to 3600 dividing 3600."""
    try:
        value = float(step_s)
    except (TypeError, ValueError):
        raise SimulationError(f"step_s: expected seconds as a number, got {step_s!r}") from None
    if not value.is_integer() or not 1 <= value <= 3600:
        raise SimulationError(f"step_s: expected a whole number of seconds 1..3600, got {step_s}")
    step = int(value)
    if 3600 % step:
        raise SimulationError(
            f"step_s: expected a step that divides an hour (3600 s) evenly, e.g. 1, 10, 60, "
            f"300, 900, 3600; got {step} s"
        )
    return step


def check_demand(demand: Any) -> tuple[pd.DataFrame, int]:
    """Validate a demand frame and return it (UTC index) with its step length [s].

    Raises :class:`SimulationError` naming the problem: not a DataFrame, wrong
    or missing columns, index not tz-aware, not sorted, duplicated or
    irregular, missing values.
    """
    if not isinstance(demand, pd.DataFrame):
        raise SimulationError(f"demand: expected a pandas DataFrame, got {type(demand).__name__}")
    missing = [c for c in DEMAND_COLUMNS if c not in demand.columns]
    if missing:
        raise SimulationError(
            f"demand: missing column(s) {missing}; expected {list(DEMAND_COLUMNS)}, got "
            f"{list(map(str, demand.columns))}"
        )
    idx = demand.index
    if isinstance(idx, pd.DatetimeIndex) and idx.tz is not None and str(idx.tz) != "UTC":
        demand = demand.tz_convert("UTC")
    step_s = _regular_step_s(demand.index, "demand")
    for col in DEMAND_COLUMNS:
        values = demand[col]
        if values.isna().any():
            first = values.index[values.isna().to_numpy()][0]
            raise SimulationError(f"demand: column {col!r} has missing values, first at {first}")
    for col in ("heat_demand_w", "supply_temp_required_c", "return_temp_c"):
        if not np.issubdtype(demand[col].dtype, np.number):
            raise SimulationError(
                f"demand: column {col!r} must be numeric, got {demand[col].dtype}"
            )
    if (demand["heat_demand_w"] < 0).any():
        first = demand.index[(demand["heat_demand_w"] < 0).to_numpy()][0]
        raise SimulationError(f"demand: heat_demand_w must be >= 0, negative first at {first}")
    return demand, step_s


def _regular_step_s(idx: Any, what: str) -> int:
    """Step [s] of a regular, strictly increasing, tz-aware UTC index (else SimulationError)."""
    if not isinstance(idx, pd.DatetimeIndex):
        raise SimulationError(f"{what}: expected a DatetimeIndex (UTC), got {type(idx).__name__}")
    if idx.tz is None:
        raise SimulationError(f"{what}: expected a tz-aware UTC index, got a naive DatetimeIndex")
    if len(idx) < 1:
        raise SimulationError(f"{what}: the frame is empty")
    if len(idx) == 1:
        raise SimulationError(f"{what}: needs at least two rows to know its step length")
    deltas = np.diff(idx.as_unit("ns").asi8)
    if np.any(deltas <= 0):
        bad = int(np.argmax(deltas <= 0)) + 1
        raise SimulationError(
            f"{what}: index must be strictly increasing; row {bad} ({idx[bad]}) is not after "
            f"row {bad - 1} ({idx[bad - 1]})"
        )
    step_ns = int(deltas[0])
    if np.any(deltas != step_ns):
        bad = int(np.argmax(deltas != step_ns)) + 1
        raise SimulationError(
            f"{what}: irregular index; expected a step of {step_ns / 1e9:g} s throughout, but "
            f"row {bad} ({idx[bad]}) comes {deltas[bad - 1] / 1e9:g} s after the previous row"
        )
    if step_ns % 1_000_000_000:
        raise SimulationError(f"{what}: step must be whole seconds, got {step_ns / 1e9} s")
    return step_ns // 1_000_000_000


def _utc_time(value: Any, what: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise SimulationError(
            f"{what}: expected a time with a time zone (e.g. '2026-01-01T00:00Z'), got {value!r}"
        )
    return ts.tz_convert("UTC")


def _align_demand(
    demand: pd.DataFrame, d_step: int, index: pd.DatetimeIndex, step_s: int
) -> dict[str, np.ndarray]:
    """Demand values per simulation step: held when coarser, averaged when finer."""
    d_idx = pd.DatetimeIndex(demand.index)
    out: dict[str, np.ndarray] = {}
    for c in ("heat_demand_w", "supply_temp_required_c", "return_temp_c"):
        out[c] = _align_values(
            demand[c].to_numpy(dtype=np.float64), d_idx, d_step, index, step_s, "demand"
        )
    op = demand["operating"].to_numpy().astype(bool)
    if d_step >= step_s:
        pos = np.asarray(d_idx.searchsorted(index, side="right")) - 1
        out["operating"] = op[pos]
    else:
        k = step_s // d_step
        first = int((index[0] - d_idx[0]).total_seconds() // d_step)
        rows = op[first : first + len(index) * k].reshape(len(index), k)
        out["operating"] = np.asarray(rows.any(axis=1), dtype=bool)
    return out


def _align_values(
    values: FloatArray,
    d_idx: pd.DatetimeIndex,
    d_step: int,
    index: pd.DatetimeIndex,
    step_s: int,
    what: str,
) -> FloatArray:
    """Values of a regular series per simulation step: held when coarser, averaged when finer.

    Means over the finer rows keep the energy of a power series.
    """
    offset_s = (index[0] - d_idx[0]).total_seconds()
    if d_step >= step_s:
        if d_step % step_s or offset_s % step_s:
            raise SimulationError(
                f"{what}: its step ({d_step} s) and start ({d_idx[0]}) must line up with the "
                f"simulation step ({step_s} s) starting {index[0]}"
            )
        pos = np.asarray(d_idx.searchsorted(index, side="right")) - 1
        held: FloatArray = values[pos]
        return held
    if step_s % d_step or offset_s % d_step:
        raise SimulationError(
            f"{what}: the simulation step ({step_s} s) must be a multiple of its step "
            f"({d_step} s), with steps starting on its rows"
        )
    k = step_s // d_step
    first = int(offset_s // d_step)
    mean: FloatArray = values[first : first + len(index) * k].reshape(len(index), k).mean(axis=1)
    return mean


def check_it_power(it_power_w: Any, nameplate_w: float) -> tuple[pd.Series, int]:
    """Validate a measured IT power series and return it (UTC index) with its step [s].

    Raises :class:`SimulationError` naming the problem: not a Series, index not
    tz-aware or irregular, missing, negative or non-finite values.
    """
    if not isinstance(it_power_w, pd.Series):
        raise SimulationError(
            f"it_power_w: expected a pandas Series of IT power [W], got {type(it_power_w).__name__}"
        )
    index = it_power_w.index
    if isinstance(index, pd.DatetimeIndex) and index.tz is not None:
        index = index.tz_convert("UTC")
    step = _regular_step_s(index, "it_power_w")
    values = pd.to_numeric(it_power_w, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0.0)
    if bad.any():
        first = it_power_w.index[bad][0]
        raise SimulationError(
            f"it_power_w: expected finite IT power >= 0 W in every row, got "
            f"{it_power_w.iloc[int(np.argmax(bad))]!r} at {first}"
        )
    if nameplate_w <= 0.0 and (values > 0.0).any():
        raise SimulationError(
            "it_power_w: the site has no IT nameplate power (compute.racks), so measured IT "
            "power cannot be replayed"
        )
    series = pd.Series(values, index=index, name="it_power_w")
    return series, step


def _utilisation_fraction(site: Site, index: pd.DatetimeIndex) -> FloatArray:
    """Utilisation per step [-] from the site's profile (local time for daily/weekly)."""
    u = site.compute.utilisation
    n = len(index)
    if u.kind == "constant":
        assert u.fraction is not None
        return np.full(n, float(u.fraction))
    if u.kind in ("daily", "weekly"):
        local = index.tz_convert(site.location.timezone)
        hour = np.asarray(local.hour)
        if u.kind == "daily":
            assert u.hourly_fraction is not None
            daily: FloatArray = np.asarray(u.hourly_fraction, dtype=np.float64)[hour]
            return daily
        assert u.weekly_hourly_fraction is not None
        pos = np.asarray(local.day_of_week) * 24 + hour
        weekly: FloatArray = np.asarray(u.weekly_hourly_fraction, dtype=np.float64)[pos]
        return weekly
    assert u.csv_path is not None
    path = site.resolve_path(u.csv_path)
    where = f"{path} (compute.utilisation.csv_path)"
    try:
        frame = pd.read_csv(path, dtype={"timestamp": str})
    except OSError as exc:
        raise SimulationError(f"{where}: cannot read: {exc}") from None
    for col in ("timestamp", "fraction"):
        if col not in frame.columns:
            raise SimulationError(
                f"{where}: expected columns 'timestamp' and 'fraction', got {list(frame.columns)}"
            )
    stamps = frame["timestamp"].astype(str).str.strip()
    naive = ~stamps.str.contains(_OFFSET_RE)
    if naive.any():
        row = int(np.argmax(naive.to_numpy())) + 2
        raise SimulationError(
            f"{where}:{row}: timestamp needs a UTC offset (ISO 8601, e.g. "
            f"2026-01-01T00:00+01:00), got {stamps[naive].iloc[0]!r}"
        )
    times = pd.to_datetime(stamps, utc=True, format="ISO8601")
    fraction = pd.to_numeric(frame["fraction"], errors="coerce")
    if fraction.isna().any() or ((fraction < 0) | (fraction > 1)).any():
        row = int(np.argmax((fraction.isna() | (fraction < 0) | (fraction > 1)).to_numpy())) + 2
        raise SimulationError(f"{where}:{row}: fraction must be a number in 0..1")
    series = pd.Series(fraction.to_numpy(), index=pd.DatetimeIndex(times)).sort_index()
    if index[0] < series.index[0]:
        raise SimulationError(
            f"{where}: starts {series.index[0]}, after the simulation start {index[0]}"
        )
    pos = np.asarray(series.index.searchsorted(index, side="right")) - 1
    return series.to_numpy(dtype=np.float64)[pos]


def _timeline(
    index: pd.DatetimeIndex, faults: FaultTimeline | Sequence[Fault] | None
) -> FaultTimeline:
    if faults is None:
        return FaultTimeline.none(len(index))
    if isinstance(faults, FaultTimeline):
        faults.check_length(len(index))
        return faults
    timeline = build_fault_timeline(index, list(faults))
    timeline.check_length(len(index))
    return timeline


def _apply_faults(series: FloatArray, flags: UInt8Array, tl: FaultTimeline) -> None:
    series[K.X_IT_MULTIPLIER] = tl.it_multiplier
    series[K.X_PUMP_PRIMARY] = tl.pump_primary_fraction
    series[K.X_PUMP_SECONDARY] = tl.pump_secondary_fraction
    series[K.X_PUMP_CUSTOMER] = tl.pump_customer_fraction
    series[K.X_UA_MULTIPLIER] = tl.ua_multiplier
    series[K.X_SENSOR_OFFSET_K] = tl.sensor_offset_k
    flags[K.F_CONNECTED] = tl.customer_connected
    flags[K.F_UTILITY_FEED] = tl.utility_feed_available
    flags[K.F_REJECT_AVAILABLE] = tl.reject_available
    flags[K.F_FAULT_ACTIVE] = tl.active()


def _check_state(state: SimulationState, n_layers: int) -> None:
    if len(state.tank_layer_temps_c) != n_layers:
        raise SimulationError(
            f"initial_state: expected {n_layers} tank layer temperatures (the site's "
            f"plant.buffer_tank.layers), got {len(state.tank_layer_temps_c)}"
        )
    values = [state.loop_temp_c, state.supply_temp_c, *state.tank_layer_temps_c]
    if not all(math.isfinite(v) and -20.0 < v < 150.0 for v in values):
        raise SimulationError(f"initial_state: temperatures must be finite, -20..150 C: {values}")


# --------------------------------------------------------------------------- plant parameters
def _max_relative_error(func: Any, lo_c: float, hi_c: float, rep: float, p_bar: float) -> float:
    temps = np.linspace(lo_c, hi_c, 41)
    values = np.asarray(func(temps, p_bar), dtype=np.float64)
    return float(np.max(np.abs(values / rep - 1.0)))


def counterflow_ua_from_effectiveness(
    effectiveness: float, c_hot_w_per_k: float, c_cold_w_per_k: float
) -> float:
    """UA [W/K] of a counterflow exchanger with the given effectiveness at given flows.

    NTU = ln((1 - eps Cr) / (1 - eps)) / (1 - Cr), NTU = eps / (1 - eps) for
    Cr = 1 (Incropera, Fundamentals of Heat and Mass Transfer, 7th ed.,
    Table 11.4, eq. 11.30b); UA = NTU C_min.
    """
    c_min = min(c_hot_w_per_k, c_cold_w_per_k)
    cr = c_min / max(c_hot_w_per_k, c_cold_w_per_k)
    if abs(1.0 - cr) < 1e-9:
        ntu = effectiveness / (1.0 - effectiveness)
    else:
        ntu = math.log((1.0 - effectiveness * cr) / (1.0 - effectiveness)) / (1.0 - cr)
    return ntu * c_min


def pipe_loss_w_per_m_k(
    inner_diameter_m: float, insulation_thickness_m: float, conductivity_w_per_m_k: float
) -> float:
    """Heat loss of an insulated pipe per metre and kelvin [W/(m K)].

    U' = 2 pi k / ln(r_o / r_i) (conduction through a cylindrical shell,
    Incropera 7th ed., eq. 3.33), pipe wall and film resistances neglected
    (they would lower the loss). A bare pipe (no insulation) loses
    U' = pi d h with h = 10 W/(m2 K) to still air.
    """
    if insulation_thickness_m <= 0.0:
        return math.pi * inner_diameter_m * K.BARE_PIPE_H_W_PER_M2_K
    return float(
        pipe_loss_coefficient_w_per_m_k(
            inner_diameter_m, insulation_thickness_m, conductivity_w_per_m_k
        )
    )


def _plant_params(
    site: Site, step_s: int, mean_return_c: float
) -> tuple[FloatArray, FloatArray, dict[str, float]]:
    compute, plant = site.compute, site.plant
    cool = compute.cooling
    p_bar = plant.loop_pressure_bar
    t_rep_p = 0.5 * (cool.coolant_supply_temp_c + cool.coolant_return_temp_c)
    t_rep_s = 0.5 * (mean_return_c + cool.coolant_return_temp_c)
    rho_p = float(water_density_kg_per_m3(t_rep_p, p_bar))
    cp_p = float(water_cp_j_per_kg_k(t_rep_p, p_bar))
    rho_s = float(water_density_kg_per_m3(t_rep_s, p_bar))
    cp_s = float(water_cp_j_per_kg_k(t_rep_s, p_bar))
    lo_s = min(mean_return_c, plant.buffer_tank.ambient_temp_c, cool.coolant_supply_temp_c)
    hi_s = max(cool.max_coolant_return_temp_c, plant.buffer_tank.max_temp_c)
    hi_s = min(hi_s, 95.0)
    prop_err = {
        "cp_primary_fraction": _max_relative_error(
            water_cp_j_per_kg_k,
            cool.coolant_supply_temp_c,
            cool.max_coolant_return_temp_c,
            cp_p,
            p_bar,
        ),
        "rho_primary_fraction": _max_relative_error(
            water_density_kg_per_m3,
            cool.coolant_supply_temp_c,
            cool.max_coolant_return_temp_c,
            rho_p,
            p_bar,
        ),
        "cp_secondary_fraction": _max_relative_error(water_cp_j_per_kg_k, lo_s, hi_s, cp_s, p_bar),
        "rho_secondary_fraction": _max_relative_error(
            water_density_kg_per_m3, lo_s, hi_s, rho_s, p_bar
        ),
    }

    def pumps(role: str) -> tuple[float, float, bool]:
        chosen = [p for p in plant.pumps if p.role == role]
        flow = sum(p.rated_flow_m3_per_h for p in chosen) / 3600.0
        power = sum(p.rated_power_w for p in chosen)
        return flow, power, bool(chosen)

    nameplate = compute.nameplate_it_power_w
    flow_p, power_p, has_p = pumps("primary")
    if not has_p:  # design flow for the nameplate heat at the design delta-T
        delta_t = cool.coolant_return_temp_c - cool.coolant_supply_temp_c
        flow_p = nameplate * cool.heat_capture_fraction / (rho_p * cp_p * delta_t)
    mdot_p = flow_p * rho_p
    flow_s, power_s, has_s = pumps("secondary")
    mdot_s = flow_s * rho_s if has_s else mdot_p
    flow_c, power_c, has_c = pumps("customer")
    if has_c:
        mdot_c = flow_c * rho_s
    else:  # the secondary pump also drives the customer circuit
        mdot_c, power_c = mdot_s, power_s

    hx = plant.heat_exchanger
    if hx.ua_w_per_k is not None:
        ua_clean = hx.ua_w_per_k
    else:
        assert hx.effectiveness_fraction is not None
        ua_clean = counterflow_ua_from_effectiveness(
            hx.effectiveness_fraction, mdot_p * cp_p, mdot_s * cp_s
        )
    ua = ua_clean
    if hx.fouling_factor_m2_k_per_w > 0.0:
        assert hx.area_m2 is not None
        ua = float(hx_ua_with_fouling_w_per_k(ua_clean, hx.fouling_factor_m2_k_per_w, hx.area_m2))

    loop_volume = max(flow_p * LOOP_RESIDENCE_S, MIN_LOOP_VOLUME_M3)
    pipe = plant.pipe
    tank = plant.buffer_tank

    p = np.zeros(K.N_PARAMS)
    p[K.P_DT_S] = step_s
    p[K.P_IT_NAMEPLATE_W] = nameplate
    p[K.P_CAPTURE_FRACTION] = cool.heat_capture_fraction
    p[K.P_COOLING_FRACTION] = cool.cooling_power_fraction_of_it
    p[K.P_OTHER_POWER_W] = compute.other_power_w
    p[K.P_LOOP_SET_C] = cool.coolant_return_temp_c
    p[K.P_LOOP_MAX_C] = cool.max_coolant_return_temp_c
    p[K.P_LOOP_HEAT_CAPACITY_J_PER_K] = loop_volume * rho_p * cp_p
    p[K.P_CP_PRIMARY_J_PER_KG_K] = cp_p
    p[K.P_CP_SECONDARY_J_PER_KG_K] = cp_s
    p[K.P_RHO_PRIMARY_KG_PER_M3] = rho_p
    p[K.P_RHO_SECONDARY_KG_PER_M3] = rho_s
    p[K.P_MDOT_PRIMARY_KG_PER_S] = mdot_p
    p[K.P_MDOT_SECONDARY_KG_PER_S] = mdot_s
    p[K.P_MDOT_CUSTOMER_KG_PER_S] = mdot_c
    p[K.P_PUMP_PRIMARY_W] = power_p
    p[K.P_PUMP_SECONDARY_W] = power_s
    p[K.P_PUMP_CUSTOMER_W] = power_c
    p[K.P_HAS_CUSTOMER_PUMP] = 1.0 if has_c else 0.0
    p[K.P_UA_W_PER_K] = ua
    p[K.P_TANK_VOLUME_M3] = tank.volume_m3
    p[K.P_TANK_UA_W_PER_K] = tank.heat_loss_w_per_k
    p[K.P_TANK_AMBIENT_C] = tank.ambient_temp_c
    p[K.P_TANK_MAX_C] = tank.max_temp_c
    p[K.P_PIPE_LOSS_W_PER_M_K] = pipe_loss_w_per_m_k(
        pipe.inner_diameter_m, pipe.insulation_thickness_m, pipe.insulation_conductivity_w_per_m_k
    )
    p[K.P_PIPE_LENGTH_M] = pipe.length_m
    p[K.P_PIPE_SURROUNDINGS_C] = pipe.surroundings_temp_c
    p[K.P_PIPE_HEAT_CAPACITY_J_PER_M_K] = rho_s * cp_s * math.pi * (pipe.inner_diameter_m / 2) ** 2
    p[K.P_BACKUP_EFFICIENCY] = 1.0
    if plant.backup_boiler is not None:
        b = plant.backup_boiler
        p[K.P_HAS_BACKUP] = 1.0
        p[K.P_BACKUP_CAPACITY_W] = b.capacity_w
        p[K.P_BACKUP_EFFICIENCY] = b.efficiency_fraction
        p[K.P_BACKUP_DELAY_S] = b.control_delay_s
    if plant.heat_reject is not None:
        p[K.P_HAS_REJECT] = 1.0
        p[K.P_REJECT_CAPACITY_W] = plant.heat_reject.dry_cooler_capacity_w
    hp_curve = np.zeros((2, 0))
    if plant.heat_pump is not None:
        hp = plant.heat_pump
        p[K.P_HAS_HEAT_PUMP] = 1.0
        p[K.P_HP_MAX_HEAT_W] = hp.max_heat_w
        p[K.P_HP_APPROACH_K] = hp.approach_k
        p[K.P_HP_CARNOT_FRACTION] = hp.carnot_fraction or 0.0
        if hp.cop_curve is not None:
            if not hp.cop_curve:
                raise SimulationError("plant.heat_pump.cop_curve: expected at least one point")
            pts = sorted((c.sink_temp_c - c.source_temp_c, c.cop) for c in hp.cop_curve)
            hp_curve = np.array(pts, dtype=np.float64).T.copy()
    p[K.P_HP_EVAPORATOR_MIN_C] = HP_EVAPORATOR_MIN_C
    p[K.P_HP_COP_MAX] = HP_COP_MAX
    p[K.P_COURANT_MAX] = 1.0
    p[K.P_TANK_SCHEME] = K.TANK_IMPLICIT
    p[K.P_TANK_TURNOVER_MAX] = TANK_TURNOVER_MAX
    return p, hp_curve, prop_err


def default_initial_state(site: Site, mean_return_c: float) -> SimulationState:
    """A half-charged start: loop at its design return temperature, tank uniform.

    Tank layers at the midpoint of the customer's mean return temperature and
    the coolant return design temperature (capped at the tank maximum).
    """
    cool = site.compute.cooling
    tank = site.plant.buffer_tank
    t_tank = min(0.5 * (mean_return_c + cool.coolant_return_temp_c), tank.max_temp_c)
    return SimulationState(
        loop_temp_c=cool.coolant_return_temp_c,
        backup_timer_s=0.0,
        supply_temp_c=t_tank,
        tank_layer_temps_c=(t_tank,) * tank.layers,
    )


def prepare(
    site: Site,
    demand: pd.DataFrame,
    step_s: int = 60,
    *,
    start: dt.datetime | pd.Timestamp | str | None = None,
    end: dt.datetime | pd.Timestamp | str | None = None,
    faults: FaultTimeline | Sequence[Fault] | None = None,
    initial_state: SimulationState | None = None,
    record_layers: bool = False,
    it_power_w: pd.Series | None = None,
) -> KernelInputs:
    """Turn a site and a demand frame into kernel inputs.

    Parameters
    ----------
    site
        The site model.
    demand
        Customer demand with a regular tz-aware UTC index and columns
        ``heat_demand_w`` [W], ``supply_temp_required_c`` [C],
        ``return_temp_c`` [C], ``operating`` (bool); other columns are
        ignored. Coarser than the step: values held; finer: averaged (power
        means keep the energy; ``operating`` true if any part of the step is).
        The secondary water's properties and the default initial state use a
        representative return temperature [C]: ``demand.attrs
        ["nominal_return_temp_c"]`` when given (the pool model sets its design
        return, so every window and chunk of a run sees the same), else the
        mean return over the steps the customer operates with demand.
    step_s
        Step length [s], 1..3600, dividing an hour.
    start, end
        Simulated period [start, end) (tz-aware); default: the demand's span.
    faults
        A :class:`FaultTimeline` with one value per step, or fault
        specifications, or None (no fault).
    initial_state
        State at ``start``; default :func:`default_initial_state`.
    record_layers
        Keep every tank layer temperature in the result.
    it_power_w
        Measured IT power [W] on a regular tz-aware UTC index covering the
        period (aligned like the demand: held or averaged), used instead of
        the site's utilisation profile: the kernel's IT fraction is
        ``it_power_w / compute.nameplate_it_power_w`` (it may exceed 1 when
        the site drew more than its nameplate). Faults still act on it
        (``compute_trip`` multiplies it). Default: the utilisation profile.

    Returns
    -------
    KernelInputs

    Raises
    ------
    SimulationError
        Bad step, bad demand frame (says which column/row), period outside
        the demand, bad fault arrays or state.
    """
    step = check_step_s(step_s)
    nominal_return = getattr(demand, "attrs", {}).get("nominal_return_temp_c")
    demand, d_step = check_demand(demand)
    d_start = demand.index[0]
    d_end = demand.index[-1] + pd.Timedelta(seconds=d_step)
    t0 = d_start if start is None else _utc_time(start, "start")
    t1 = d_end if end is None else _utc_time(end, "end")
    if t1 <= t0:
        raise SimulationError(f"end ({t1}) must be after start ({t0})")
    if t0 < d_start or t1 > d_end:
        raise SimulationError(
            f"simulated period {t0} .. {t1} is not covered by the demand frame "
            f"({d_start} .. {d_end})"
        )
    span_s = (t1 - t0).total_seconds()
    if span_s % step:
        raise SimulationError(
            f"the period {t0} .. {t1} ({span_s:g} s) is not a whole number of {step} s steps"
        )
    n = int(span_s // step)
    index = pd.date_range(t0, periods=n, freq=pd.Timedelta(seconds=step), name="time")
    values = _align_demand(demand, d_step, index, step)

    series = np.empty((K.N_SERIES, n))
    flags = np.zeros((K.N_FLAGS, n), dtype=np.uint8)
    nameplate_w = site.compute.nameplate_it_power_w
    if it_power_w is None:
        series[K.X_IT_FRACTION] = _utilisation_fraction(site, index)
    else:
        it_series, it_step = check_it_power(it_power_w, nameplate_w)
        it_start = it_series.index[0]
        it_end = it_series.index[-1] + pd.Timedelta(seconds=it_step)
        if t0 < it_start or t1 > it_end:
            raise SimulationError(
                f"it_power_w: simulated period {t0} .. {t1} is not covered by the IT power "
                f"series ({it_start} .. {it_end})"
            )
        watts = _align_values(
            it_series.to_numpy(dtype=np.float64),
            pd.DatetimeIndex(it_series.index),
            it_step,
            index,
            step,
            "it_power_w",
        )
        series[K.X_IT_FRACTION] = watts / nameplate_w if nameplate_w > 0.0 else 0.0
    series[K.X_DEMAND_W] = values["heat_demand_w"]
    series[K.X_SUPPLY_REQUIRED_C] = values["supply_temp_required_c"]
    series[K.X_RETURN_C] = values["return_temp_c"]
    flags[K.F_OPERATING] = values["operating"]
    _apply_faults(series, flags, _timeline(index, faults))

    if isinstance(nominal_return, int | float) and math.isfinite(nominal_return):
        # the same for every window and chunk of a run (the return varies with the load)
        mean_return_c = float(nominal_return)
    else:
        op = values["operating"] & (values["heat_demand_w"] > 0)
        returns = values["return_temp_c"][op] if op.any() else values["return_temp_c"]
        mean_return_c = float(np.mean(returns))
    params, hp_curve, prop_err = _plant_params(site, step, mean_return_c)
    state = initial_state or default_initial_state(site, mean_return_c)
    _check_state(state, site.plant.buffer_tank.layers)
    return KernelInputs(
        index=index,
        step_s=step,
        params=params,
        hp_curve=hp_curve,
        series=series,
        flags=flags,
        initial_state=state,
        record_layers=record_layers,
        site_id=site.id,
        property_error=prop_err,
    )
