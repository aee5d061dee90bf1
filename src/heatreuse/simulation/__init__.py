"""The simulation engine: one compiled time-stepping kernel for the whole site.

``simulate(site, demand, step_s=60)`` returns a :class:`SimulationResult`
(UTC-indexed frame with units in the column names, exact energy totals and
balance). Lower level: ``prepare`` (site + demand -> plain arrays),
``run_kernel`` (run a chunk from a state), ``result_from_outputs``. Faults
are given as specifications (``PumpFailure``, ``HxFouling``, ...) or as a
``FaultTimeline`` of per-step arrays. Controller modes are small ints
(``MODE_NAMES``).

Names are imported from their module on first use (:mod:`heatreuse._lazy`):
``heatreuse.simulation.scenarios`` does not load the compiled kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from heatreuse._lazy import lazy_exports

if TYPE_CHECKING:
    from heatreuse.simulation.engine import KernelOutput, result_from_outputs, run_kernel, simulate
    from heatreuse.simulation.faults import (
        ComputeLoad,
        CustomerDisconnect,
        Fault,
        FaultTimeline,
        HxFouling,
        PumpFailure,
        RejectPathUnavailable,
        SensorFault,
        UtilityFeedLoss,
        build_fault_timeline,
    )
    from heatreuse.simulation.inputs import (
        DEMAND_COLUMNS,
        TUNABLE_PARAMS,
        KernelInputs,
        SimulationState,
        prepare,
    )
    from heatreuse.simulation.kernel import (
        MODE_BACKUP,
        MODE_CUSTOMER_DISCONNECTED,
        MODE_DEGRADED,
        MODE_DOWN,
        MODE_NORMAL,
        MODE_REJECT,
        MODE_THROTTLED,
    )
    from heatreuse.simulation.result import MODE_CODES, MODE_NAMES, OUTPUT_COLUMNS, SimulationResult

_EXPORTS: dict[str, tuple[str, ...]] = {
    ".engine": (
        "KernelOutput",
        "result_from_outputs",
        "run_kernel",
        "simulate",
    ),
    ".faults": (
        "ComputeLoad",
        "CustomerDisconnect",
        "Fault",
        "FaultTimeline",
        "HxFouling",
        "PumpFailure",
        "RejectPathUnavailable",
        "SensorFault",
        "UtilityFeedLoss",
        "build_fault_timeline",
    ),
    ".inputs": (
        "DEMAND_COLUMNS",
        "TUNABLE_PARAMS",
        "KernelInputs",
        "SimulationState",
        "prepare",
    ),
    ".kernel": (
        "MODE_BACKUP",
        "MODE_CUSTOMER_DISCONNECTED",
        "MODE_DEGRADED",
        "MODE_DOWN",
        "MODE_NORMAL",
        "MODE_REJECT",
        "MODE_THROTTLED",
    ),
    ".result": (
        "MODE_CODES",
        "MODE_NAMES",
        "OUTPUT_COLUMNS",
        "SimulationResult",
    ),
}

__all__ = [
    "DEMAND_COLUMNS",
    "MODE_BACKUP",
    "MODE_CODES",
    "MODE_CUSTOMER_DISCONNECTED",
    "MODE_DEGRADED",
    "MODE_DOWN",
    "MODE_NAMES",
    "MODE_NORMAL",
    "MODE_REJECT",
    "MODE_THROTTLED",
    "OUTPUT_COLUMNS",
    "TUNABLE_PARAMS",
    "ComputeLoad",
    "CustomerDisconnect",
    "Fault",
    "FaultTimeline",
    "HxFouling",
    "KernelInputs",
    "KernelOutput",
    "PumpFailure",
    "RejectPathUnavailable",
    "SensorFault",
    "SimulationResult",
    "SimulationState",
    "UtilityFeedLoss",
    "build_fault_timeline",
    "prepare",
    "result_from_outputs",
    "run_kernel",
    "simulate",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
