"""Run the compiled kernel: whole runs (:func:`simulate`) and chunks (:func:`run_kernel`).

:func:`simulate` is the one-call API. The twin steps the engine against the
wall clock with :func:`run_kernel` over consecutive chunks (``state`` in,
``state`` out; consecutive chunks give exactly the same numbers as one run)
and joins chunks with :func:`result_from_outputs`. A sizing sweep prepares
once (:func:`heatreuse.simulation.inputs.prepare`) and runs
``run_kernel(inputs.with_params(...))`` per grid point.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.machinery
import importlib.util
import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from heatreuse.errors import SimulationError
from heatreuse.simulation import kernel as K
from heatreuse.simulation.faults import Fault, FaultTimeline
from heatreuse.simulation.inputs import (
    TUNABLE_PARAMS,
    KernelInputs,
    SimulationState,
    prepare,
)
from heatreuse.simulation.result import SimulationResult, build_frame
from heatreuse.site.model import Site


@dataclass(frozen=True, eq=False)
class KernelOutput:
    """Raw output of one kernel chunk (steps ``start_step .. stop_step-1``).

    Attributes
    ----------
    out
        float32 (N_OUT, m): per-step outputs (``kernel.O_*``).
    mode, mode_flags
        int8 mode code and uint8 bit set per step.
    layers
        float32 (layers, m) tank layer temperatures, or None.
    totals_j
        float64 (N_TOTALS,): energies [J] and times [s] of this chunk.
    state_in, state_out
        State at the start and the end of the chunk.
    stored_heat_start_j, stored_heat_end_j
        Heat stored in tank and loop at the start and end [J].
    """

    start_step: int
    stop_step: int
    out: npt.NDArray[np.float32]
    mode: npt.NDArray[np.int8]
    mode_flags: npt.NDArray[np.uint8]
    layers: npt.NDArray[np.float32] | None
    totals_j: npt.NDArray[np.float64]
    state_in: SimulationState
    state_out: SimulationState
    stored_heat_start_j: float
    stored_heat_end_j: float


#: The numba module whose import asks scipy for BLAS (issue 16, see below).
_NUMBA_ARRAYMATH = "numba.np.arraymath"
_CYTHON_BLAS = "scipy.linalg.cython_blas"


def _import_numba_arraymath() -> None:
    """Import numba's array maths without importing ``scipy.linalg`` (about 0.1 s of CPU).

    The first call of a jitted function, even one loaded from numba's cache, makes numba
    import its array-maths module, which checks at import that BLAS is there by
    importing ``scipy.linalg.cython_blas``. Python imports the ``scipy.linalg`` package
    first, and that (through scipy's array-API layer) imports ``numpy.f2py``,
    ``numpy.testing`` and much more; the kernel needs none of it. Here the check finds
    the very same extension module, loaded from its file on its own; it is then taken
    out of ``sys.modules`` again, so that a later ``import scipy.linalg`` (anyone using
    BLAS) imports the package as usual and gets that same module. Without scipy, or
    with anything unexpected, numba imports its module as it would.
    """
    if _NUMBA_ARRAYMATH in sys.modules or _CYTHON_BLAS in sys.modules:
        return
    loaded = None
    try:
        scipy = importlib.import_module("scipy")
        finder = importlib.machinery.FileFinder(
            f"{scipy.__path__[0]}/linalg",
            (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
        )
        spec = finder.find_spec(_CYTHON_BLAS)
        if spec is not None and spec.loader is not None:
            loaded = importlib.util.module_from_spec(spec)
            sys.modules[_CYTHON_BLAS] = loaded
            spec.loader.exec_module(loaded)
    except Exception:  # no scipy, another layout: numba checks BLAS its own way
        if loaded is not None and sys.modules.get(_CYTHON_BLAS) is loaded:
            del sys.modules[_CYTHON_BLAS]
        return
    try:
        importlib.import_module(_NUMBA_ARRAYMATH)
    finally:
        if loaded is not None and sys.modules.get(_CYTHON_BLAS) is loaded:
            del sys.modules[_CYTHON_BLAS]


def run_kernel(
    inputs: KernelInputs,
    state: SimulationState | None = None,
    start_step: int = 0,
    stop_step: int | None = None,
) -> KernelOutput:
    """Run steps ``start_step .. stop_step-1`` of prepared inputs from ``state``.

    Parameters
    ----------
    inputs
        Prepared inputs (:func:`heatreuse.simulation.inputs.prepare`).
    state
        State at ``start_step``; default ``inputs.initial_state``.
    start_step, stop_step
        Step range (default: all steps).

    Returns
    -------
    KernelOutput
        With ``state_out`` to continue from.
    """
    n = inputs.n_steps
    stop = n if stop_step is None else int(stop_step)
    start = int(start_step)
    if not 0 <= start <= stop <= n:
        raise SimulationError(
            f"run_kernel: expected 0 <= start_step <= stop_step <= {n}, got {start}, {stop}"
        )
    state_in = inputs.initial_state if state is None else state
    if len(state_in.tank_layer_temps_c) != inputs.n_layers:
        raise SimulationError(
            f"run_kernel: state has {len(state_in.tank_layer_temps_c)} tank layers, the inputs "
            f"{inputs.n_layers}"
        )
    arr = state_in.to_array()
    m = stop - start
    out = np.empty((K.N_OUT, m), dtype=np.float32)
    mode = np.empty(m, dtype=np.int8)
    mode_flags = np.empty(m, dtype=np.uint8)
    layers = (
        np.empty((inputs.n_layers, m), dtype=np.float32)
        if inputs.record_layers
        else np.empty((0, 0), dtype=np.float32)
    )
    totals = np.zeros(K.N_TOTALS)
    _import_numba_arraymath()  # before numba would, on the first call below
    u0 = K.stored_heat_j(inputs.params, arr)
    K.run_steps(
        inputs.params,
        inputs.hp_curve,
        inputs.series,
        inputs.flags,
        arr,
        start,
        stop,
        out,
        mode,
        mode_flags,
        layers,
        totals,
    )
    u1 = K.stored_heat_j(inputs.params, arr)
    return KernelOutput(
        start_step=start,
        stop_step=stop,
        out=out,
        mode=mode,
        mode_flags=mode_flags,
        layers=layers if inputs.record_layers else None,
        totals_j=totals,
        state_in=state_in,
        state_out=SimulationState.from_array(arr),
        stored_heat_start_j=u0,
        stored_heat_end_j=u1,
    )


def result_from_outputs(
    inputs: KernelInputs, outputs: KernelOutput | Sequence[KernelOutput]
) -> SimulationResult:
    """Build a :class:`SimulationResult` from one chunk or consecutive chunks."""
    chunks = [outputs] if isinstance(outputs, KernelOutput) else list(outputs)
    if not chunks:
        raise SimulationError("result_from_outputs: no chunks given")
    for a, b in itertools.pairwise(chunks):
        if a.stop_step != b.start_step:
            raise SimulationError(
                f"result_from_outputs: chunks not consecutive ({a.stop_step} then {b.start_step})"
            )
    first, last = chunks[0], chunks[-1]
    if len(chunks) == 1:
        out, mode, flags, layers = first.out, first.mode, first.mode_flags, first.layers
    else:
        out = np.concatenate([c.out for c in chunks], axis=1)
        mode = np.concatenate([c.mode for c in chunks])
        flags = np.concatenate([c.mode_flags for c in chunks])
        layers = (
            np.concatenate([c.layers for c in chunks if c.layers is not None], axis=1)
            if first.layers is not None
            else None
        )
    index = inputs.index[first.start_step : last.stop_step]
    operating = inputs.flags[K.F_OPERATING, first.start_step : last.stop_step].astype(bool)
    frame = build_frame(index, out, mode, flags, layers, operating)
    totals = np.sum([c.totals_j for c in chunks], axis=0)
    return SimulationResult(
        frame=frame,
        step_s=inputs.step_s,
        totals_j=totals,
        initial_state=first.state_in,
        final_state=last.state_out,
        stored_heat_start_j=first.stored_heat_start_j,
        stored_heat_end_j=last.stored_heat_end_j,
        site_id=inputs.site_id,
        params={name: inputs.param(name) for name in TUNABLE_PARAMS},
    )


def simulate(
    site: Site,
    demand: pd.DataFrame,
    *,
    start: dt.datetime | pd.Timestamp | str | None = None,
    end: dt.datetime | pd.Timestamp | str | None = None,
    step_s: int = 60,
    faults: FaultTimeline | Sequence[Fault] | None = None,
    initial_state: SimulationState | None = None,
    record_layers: bool = False,
    it_power_w: pd.Series | None = None,
) -> SimulationResult:
    """Simulate a site against a customer demand frame.

    Parameters
    ----------
    site
        The site model.
    demand
        Demand frame (UTC index; ``heat_demand_w``, ``supply_temp_required_c``,
        ``return_temp_c``, ``operating``), e.g. from
        ``heatreuse.simulation.demand.customer_demand``.
    start, end
        Period [start, end), tz-aware; default: the demand's span.
    step_s
        Step length [s] (1..3600, dividing an hour); default 60 s.
    faults
        Fault specifications or a :class:`FaultTimeline` (default: none).
    initial_state
        State at ``start`` (default: half-charged tank, loop at design).
    record_layers
        Add ``tank_layer_<i>_temp_c`` columns.
    it_power_w
        Measured IT power [W] (regular UTC index covering the period) used
        instead of the site's utilisation profile, e.g. to replay a period
        that was metered (see :func:`heatreuse.simulation.inputs.prepare`).

    Returns
    -------
    SimulationResult

    Raises
    ------
    SimulationError
        Bad step, demand frame, period, faults or state (the message says which).
    """
    inputs = prepare(
        site,
        demand,
        step_s,
        start=start,
        end=end,
        faults=faults,
        initial_state=initial_state,
        record_layers=record_layers,
        it_power_w=it_power_w,
    )
    return result_from_outputs(inputs, run_kernel(inputs))
