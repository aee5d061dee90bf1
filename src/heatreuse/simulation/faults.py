"""Fault timelines: what is broken when, as plain arrays over the simulation steps.

A :class:`FaultTimeline` holds one array per fault input of the kernel, each
with one value per step (default: no fault). Fault specifications
(:class:`PumpFailure`, :class:`HxFouling`, :class:`SensorFault`,
:class:`CustomerDisconnect`, :class:`ComputeLoad`, :class:`UtilityFeedLoss`,
:class:`RejectPathUnavailable`) each have a start, a duration (``None``: to
the end of the run) and a severity; :func:`build_fault_timeline` turns any
combination into a timeline. Combination rules: availability and UA
multipliers multiply, IT multipliers multiply, sensor offsets add, on/off
flags AND (anything that cuts something cuts it).

These cover the scenarios of the twin (issue 4): ``pump_failure``,
``hx_fouling``, ``sensor_false_low``/``sensor_drift``, ``customer_disconnect``,
``compute_trip``/``compute_surge``, ``utility_feed_loss``,
``reject_path_unavailable``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from heatreuse.errors import SimulationError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
PumpRole = Literal["primary", "secondary", "customer"]


def _utc(value: dt.datetime | pd.Timestamp | str, what: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise SimulationError(
            f"{what}: expected a time with a time zone (e.g. '2026-01-10T06:00Z'), got {value!r}"
        )
    return ts.tz_convert("UTC")


@dataclass(frozen=True)
class _FaultBase:
    """Common fields: when the fault starts and how long it lasts [s] (None: to the end)."""

    start: dt.datetime | pd.Timestamp | str
    duration_s: float | None = None

    def _mask(self, index: pd.DatetimeIndex) -> BoolArray:
        start = _utc(self.start, f"{type(self).__name__}.start")
        if self.duration_s is not None and self.duration_s < 0:
            raise SimulationError(
                f"{type(self).__name__}.duration_s: expected >= 0 s, got {self.duration_s}"
            )
        mask = np.asarray(index >= start)
        if self.duration_s is not None:
            mask &= np.asarray(index < start + pd.Timedelta(seconds=self.duration_s))
        return mask

    def _elapsed_s(self, index: pd.DatetimeIndex) -> FloatArray:
        start = _utc(self.start, f"{type(self).__name__}.start")
        return np.asarray((index - start).total_seconds(), dtype=np.float64)


@dataclass(frozen=True)
class PumpFailure(_FaultBase):
    """A pump trips (``availability_fraction=0``) or runs on a fraction of its curve."""

    role: PumpRole = "primary"
    availability_fraction: float = 0.0


@dataclass(frozen=True)
class HxFouling(_FaultBase):
    """Heat-exchanger UA falls linearly over ``ramp_s`` from 1 to ``ua_fraction``, then stays."""

    ua_fraction: float = 0.5
    ramp_s: float = 0.0


@dataclass(frozen=True)
class SensorFault(_FaultBase):
    """The controller's supply temperature reads ``offset_k`` (+ drift) off the truth.

    ``sensor_false_low``: offset_k < 0; ``sensor_drift``: drift_k_per_day != 0
    (offset grows from ``offset_k`` at the start).
    """

    offset_k: float = -5.0
    drift_k_per_day: float = 0.0


@dataclass(frozen=True)
class CustomerDisconnect(_FaultBase):
    """The heat customer stops taking heat."""


@dataclass(frozen=True)
class ComputeLoad(_FaultBase):
    """IT load multiplied by ``multiplier``: 0 for ``compute_trip``, > 1 for ``compute_surge``."""

    multiplier: float = 0.0


@dataclass(frozen=True)
class UtilityFeedLoss(_FaultBase):
    """Site power lost: compute and pumps stop."""


@dataclass(frozen=True)
class RejectPathUnavailable(_FaultBase):
    """The dry cooler is out of service."""


Fault = (
    PumpFailure
    | HxFouling
    | SensorFault
    | CustomerDisconnect
    | ComputeLoad
    | UtilityFeedLoss
    | RejectPathUnavailable
)


@dataclass(frozen=True, eq=False)
class FaultTimeline:
    """Fault inputs per simulation step (all arrays have the run's length).

    Attributes
    ----------
    pump_primary_fraction, pump_secondary_fraction, pump_customer_fraction
        Pump availability per role [-]: 1 healthy, 0 tripped, in between a
        degraded curve (flow scales with the fraction, power with its cube).
    ua_multiplier
        Heat-exchanger UA multiplier [-] (fouling).
    sensor_offset_k
        Offset of the controller's supply-temperature reading [K].
    it_multiplier
        IT load multiplier [-] (0 trip, > 1 surge).
    customer_connected, utility_feed_available, reject_available
        Flags (True: normal).
    """

    pump_primary_fraction: FloatArray
    pump_secondary_fraction: FloatArray
    pump_customer_fraction: FloatArray
    ua_multiplier: FloatArray
    sensor_offset_k: FloatArray
    it_multiplier: FloatArray
    customer_connected: BoolArray
    utility_feed_available: BoolArray
    reject_available: BoolArray
    faults: tuple[Fault, ...] = field(default=())

    @classmethod
    def none(cls, n_steps: int) -> FaultTimeline:
        """A timeline with no fault over ``n_steps`` steps."""
        ones = np.ones(n_steps)
        true = np.ones(n_steps, dtype=bool)
        return cls(
            ones.copy(),
            ones.copy(),
            ones.copy(),
            ones.copy(),
            np.zeros(n_steps),
            ones.copy(),
            true.copy(),
            true.copy(),
            true.copy(),
        )

    def __len__(self) -> int:
        return int(self.it_multiplier.shape[0])

    def active(self) -> BoolArray:
        """Steps in which any fault input differs from normal."""
        return np.asarray(
            (self.pump_primary_fraction != 1.0)
            | (self.pump_secondary_fraction != 1.0)
            | (self.pump_customer_fraction != 1.0)
            | (self.ua_multiplier != 1.0)
            | (self.sensor_offset_k != 0.0)
            | (self.it_multiplier != 1.0)
            | ~self.customer_connected
            | ~self.utility_feed_available
            | ~self.reject_available
        )

    def check_length(self, n_steps: int) -> None:
        """Raise :class:`SimulationError` unless every array has ``n_steps`` values."""
        for name in (
            "pump_primary_fraction",
            "pump_secondary_fraction",
            "pump_customer_fraction",
            "ua_multiplier",
            "sensor_offset_k",
            "it_multiplier",
            "customer_connected",
            "utility_feed_available",
            "reject_available",
        ):
            arr = getattr(self, name)
            if arr.shape != (n_steps,):
                raise SimulationError(
                    f"faults.{name}: expected {n_steps} values (one per step), got shape "
                    f"{arr.shape}"
                )
            if arr.dtype != bool and not np.all(np.isfinite(arr)):
                raise SimulationError(f"faults.{name}: values must be finite")
        for name in ("pump_primary_fraction", "pump_secondary_fraction", "pump_customer_fraction"):
            arr = getattr(self, name)
            if np.any((arr < 0.0) | (arr > 1.0)):
                raise SimulationError(f"faults.{name}: expected fractions in [0, 1]")
        if np.any(self.ua_multiplier < 0.0) or np.any(self.it_multiplier < 0.0):
            raise SimulationError("faults: ua_multiplier and it_multiplier must be >= 0")

    def slice(self, start: int, stop: int) -> FaultTimeline:
        """The timeline for steps ``start .. stop-1``."""
        return replace(
            self,
            **{
                name: getattr(self, name)[start:stop]
                for name in (
                    "pump_primary_fraction",
                    "pump_secondary_fraction",
                    "pump_customer_fraction",
                    "ua_multiplier",
                    "sensor_offset_k",
                    "it_multiplier",
                    "customer_connected",
                    "utility_feed_available",
                    "reject_available",
                )
            },
        )


def build_fault_timeline(index: pd.DatetimeIndex, faults: Sequence[Fault]) -> FaultTimeline:
    """Turn fault specifications into per-step arrays over ``index`` (step starts, UTC).

    Parameters
    ----------
    index
        Step start times of the run (tz-aware UTC).
    faults
        Any combination of fault specifications (see module docstring for
        how overlapping faults combine).

    Returns
    -------
    FaultTimeline
    """
    tl = FaultTimeline.none(len(index))
    tl = replace(tl, faults=tuple(faults))
    for fault in faults:
        mask = fault._mask(index)
        name = type(fault).__name__
        if isinstance(fault, PumpFailure):
            if not 0.0 <= fault.availability_fraction <= 1.0:
                raise SimulationError(
                    f"PumpFailure.availability_fraction: expected 0..1, got "
                    f"{fault.availability_fraction}"
                )
            arr = getattr(tl, f"pump_{fault.role}_fraction")
            arr[mask] *= fault.availability_fraction
        elif isinstance(fault, HxFouling):
            if fault.ua_fraction < 0.0 or fault.ramp_s < 0.0:
                raise SimulationError(
                    f"HxFouling: expected ua_fraction >= 0 and ramp_s >= 0, got "
                    f"{fault.ua_fraction}, {fault.ramp_s}"
                )
            elapsed = fault._elapsed_s(index)[mask]
            progress = np.ones_like(elapsed) if fault.ramp_s == 0 else elapsed / fault.ramp_s
            tl.ua_multiplier[mask] *= 1.0 - (1.0 - fault.ua_fraction) * np.clip(progress, 0, 1)
        elif isinstance(fault, SensorFault):
            elapsed = fault._elapsed_s(index)[mask]
            tl.sensor_offset_k[mask] += fault.offset_k + fault.drift_k_per_day * elapsed / 86400.0
        elif isinstance(fault, CustomerDisconnect):
            tl.customer_connected[mask] = False
        elif isinstance(fault, ComputeLoad):
            if fault.multiplier < 0.0:
                raise SimulationError(
                    f"ComputeLoad.multiplier: expected >= 0, got {fault.multiplier}"
                )
            tl.it_multiplier[mask] *= fault.multiplier
        elif isinstance(fault, UtilityFeedLoss):
            tl.utility_feed_available[mask] = False
        elif isinstance(fault, RejectPathUnavailable):
            tl.reject_available[mask] = False
        else:  # pragma: no cover - exhaustive over Fault
            raise SimulationError(f"unknown fault {name}")
    return tl
