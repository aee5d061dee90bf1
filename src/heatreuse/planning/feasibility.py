"""Whether a planned site would keep its heat-delivery SLA: an estimate from one simulated year.

The SLA itself is evaluated on 1-minute slices of measured readings
(:mod:`heatreuse.sla.evaluate`). A plan has no readings, only the simulation
at its step (hourly in sweeps), so :func:`sla_estimate` applies the same two
terms to the simulated customer supply temperature (the SLA's measured point,
``customer_supply_temp_c``: the plant's supply, lifted by the backup boiler
when it runs, down to the return temperature when no heat arrives):

* attainment: the share of operating steps whose mean supply temperature lies
  in the SLA band (``contract.sla.supply_band``, else the customer's), against
  ``contract.sla.target_fraction``;
* longest interruption: the longest run of out-of-band operating steps, steps
  outside operating hours neither ending nor lengthening a run (the SLA
  engine's conservative reading), against ``contract.sla.max_interruption_h``.

Operating steps are those the demand model marks as operating. A year without
any operating step has no attainment (NaN) and is never called feasible: no
evidence is not a kept SLA. Finer effects (minutes inside an hour, maintenance
windows, minimum heat per day) are left to the SLA engine on the twin
(``heatreuse drill``).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from heatreuse.simulation import KernelInputs
from heatreuse.simulation import kernel as K
from heatreuse.site.model import Site
from heatreuse.units import SECONDS_PER_HOUR

#: Columns :func:`sla_estimate` adds to a sweep row.
SLA_COLUMNS: tuple[str, ...] = (
    "sla_in_band_fraction",
    "sla_target_fraction",
    "sla_longest_interruption_h",
    "sla_max_interruption_h",
    "sla_feasible",
)


def longest_bad_run_steps(bad: npt.NDArray[np.bool_], operating: npt.NDArray[np.bool_]) -> int:
    """Longest run of bad operating steps; steps outside operating hours are skipped [steps]."""
    flags = bad[operating]
    if not flags.any():
        return 0
    # run lengths of True in the operating-only sequence
    padded = np.concatenate(([False], flags, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[0::2]).max())


def sla_estimate(
    site: Site, inputs: KernelInputs, out: npt.NDArray[np.float32]
) -> dict[str, float | bool]:
    """The SLA terms estimated from one kernel run (see the module docstring).

    Parameters
    ----------
    site
        The site (band, target, maximum interruption from its contract).
    inputs
        The run's inputs (step length, operating flags).
    out
        The kernel's per-step outputs (``kernel.O_*`` rows).

    Returns
    -------
    dict
        ``sla_in_band_fraction`` [-] (NaN without operating steps),
        ``sla_target_fraction`` [-], ``sla_longest_interruption_h`` [h],
        ``sla_max_interruption_h`` [h] (NaN when the contract sets none) and
        ``sla_feasible`` (both terms kept).
    """
    band = site.sla_band
    sla = site.contract.sla
    supply = out[K.O_CUSTOMER_SUPPLY_C].astype(np.float64)
    operating = inputs.flags[K.F_OPERATING, : supply.shape[0]].astype(bool)
    in_band = (supply >= band.min_temp_c) & (supply <= band.max_temp_c)
    n_op = int(operating.sum())
    fraction = float(in_band[operating].sum()) / n_op if n_op else math.nan
    longest_h = longest_bad_run_steps(~in_band, operating) * inputs.step_s / SECONDS_PER_HOUR
    max_h = sla.max_interruption_h
    feasible = (
        n_op > 0 and fraction >= sla.target_fraction and (max_h is None or longest_h <= max_h)
    )
    return {
        "sla_in_band_fraction": fraction,
        "sla_target_fraction": float(sla.target_fraction),
        "sla_longest_interruption_h": float(longest_h),
        "sla_max_interruption_h": math.nan if max_h is None else float(max_h),
        "sla_feasible": bool(feasible),
    }
