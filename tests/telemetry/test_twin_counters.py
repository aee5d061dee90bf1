"""Twin meter registers: chunk by chunk, a register never steps back."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heatreuse.telemetry.twin_points import _Ctx


def test_register_is_monotonic_across_chunk_edges() -> None:
    # 999 steps of 30-50 kW then one at 0 W: a separately rounded total (np.sum, pairwise)
    # may land below the last value of the chunk (cumsum) by a rounding step, and the next
    # chunk's register would start below where this one ended.
    rng = np.random.default_rng(0)
    counters = {"meter.heat_energy_kwh": 1234.5678}
    last_values: list[float] = []
    for _ in range(200):
        power_w = np.concatenate([rng.uniform(30_000.0, 50_000.0, 999), [0.0]])
        ctx = _Ctx(pd.DataFrame(index=range(power_w.size)), 60, counters)
        values = ctx.counter("meter.heat_energy_kwh", power_w)
        assert np.all(np.diff(values) >= 0.0)
        if last_values:
            assert values[0] >= last_values[-1]
        last_values.append(float(values[-1]))
        counters = ctx.counters_out
