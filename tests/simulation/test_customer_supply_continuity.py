"""The customer supply temperature has no one-step dips where the plant runs just short.

Before the fix, the pool twin's ``customer.supply_temp_c`` fell from 37.9 C to 32.0 C for
one minute on 2026-01-18 05:08 UTC (the tank ran 0.6 % short of a demand it had covered
the step before, the boiler still within its control delay): the "demand not met" branch
took the requirement (32 C off opening hours) as the circuit's lift instead of the plant's
supply, a jump at the threshold that the ``spike`` rule then reported on clean data.
Now the supply falls with the share of the demand that arrives,
``T_ret + Q_in / Q_d (max(T_plant, T_req) - T_ret)``: continuous at ``Q_in = Q_d``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from heatreuse.services.twin import run_offline_twin
from heatreuse.site import load_site

POOL = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"


def test_no_one_step_dip_when_the_tank_runs_just_short(tmp_path: Path) -> None:
    out = tmp_path / "twin.parquet"
    run_offline_twin(load_site(POOL), start="2026-01-17T00:00Z", end="2026-01-18T12:00Z", out=out)
    d = pd.read_parquet(out)
    s = d[d.point_id == "customer.supply_temp_c"].set_index("timestamp")["value"]
    boiler = d[d.point_id == "boiler.status"].set_index("timestamp")["value"]
    assert boiler.diff().max() == 1.0  # the boiler does start in this window (the case at hand)
    deviation = (s - s.rolling(5, center=True).median()).abs()
    assert deviation.max() < 1.0, deviation.idxmax()
