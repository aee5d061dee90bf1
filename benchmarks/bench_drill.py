"""Drill benchmark: a site-year drill against the plain simulation of the same year.

Prints figures; asserts nothing (issue 4, "Tests and figures": a drill of a
site-year at 60 s steps takes no longer than the plain simulation plus 20 %)::

    .venv/bin/python benchmarks/bench_drill.py            # the pool example, a year
    .venv/bin/python benchmarks/bench_drill.py --days 30  # shorter

What is compared (same process, same machine, medians of 3 interleaved runs,
after one warm-up run each so that numba's compiled kernel and the weather file are loaded):

* plain: the customer's demand on the 60 s grid from the site's weather plus
  :func:`heatreuse.simulation.simulate` (no fault);
* drill: :func:`heatreuse.services.drill.run_drill` with a 5 h primary pump
  failure in the middle of the year over the same window: demand, the faulted
  run, the healthy rerun of the fault span, twin points, SLA evaluation of the
  window and the month, telemetry visibility, the JSON report. Writing the
  HTML page is timed apart (it does not depend on the window length: it
  plots the fault span only).
* also printed: the offline twin writing the same year of readings to Parquet.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from heatreuse.services.drill import drill_html, run_drill
from heatreuse.services.twin import run_offline_twin, window_demand
from heatreuse.simulation import simulate
from heatreuse.simulation.scenarios import parse_scenario
from heatreuse.site import load_site

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pool.yaml"


def median_s(fn: Callable[[], object], repeat: int = 3) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=EXAMPLE)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=3, help="Runs per variant (median).")
    args = parser.parse_args()
    site = load_site(args.site)
    start = pd.Timestamp(f"{args.year}-01-01T00:00Z")
    end = start + pd.Timedelta(days=args.days)
    mid = start + (end - start) / 2
    scenario = parse_scenario(f"pump_failure@{mid.floor('h').strftime('%Y-%m-%dT%H:%MZ')}+5h")

    def plain() -> object:
        demand = window_demand(site, start, end, 60)
        return simulate(site, demand, step_s=60)

    holder: dict[str, object] = {}

    def drill() -> object:
        holder["d"] = run_drill(site, [scenario], start=start, end=end)
        return holder["d"]

    # interleaved, so that load from other processes hits both alike
    plain()
    drill()
    plains, drills = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        plain()
        plains.append(time.perf_counter() - t)
        t = time.perf_counter()
        drill()
        drills.append(time.perf_counter() - t)
    t_plain, t_drill = statistics.median(plains), statistics.median(drills)
    t_html = median_s(lambda: drill_html(holder["d"]))  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "year.parquet"
        t_twin = median_s(lambda: run_offline_twin(site, start=start, end=end, out=out), 1)
        size_mb = out.stat().st_size / 1e6
    steps = int((end - start).total_seconds() // 60)
    print(f"site {site.id}, {args.days} days at 60 s ({steps} steps), {scenario.label()}")
    print(f"plain simulation (demand + simulate):  {t_plain:8.3f} s   (median of {args.repeat})")
    print(f"drill (run_drill, JSON report):        {t_drill:8.3f} s   (median of {args.repeat})")
    print(f"drill / plain:                         {t_drill / t_plain:8.3f}   (target <= 1.20)")
    print(f"drill HTML page:                       {t_html:8.3f} s")
    print(f"offline twin to Parquet:               {t_twin:8.3f} s   ({size_mb:.1f} MB)")


if __name__ == "__main__":
    main()
