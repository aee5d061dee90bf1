"""Sizing-sweep benchmark: 1,000 site-years at hourly steps on the local cores.

Prints figures; asserts nothing (issue 3, "Sizing")::

    .venv/bin/python benchmarks/bench_sweep.py                  # pool example, 1,000 site-years
    .venv/bin/python benchmarks/bench_sweep.py --site examples/greenhouse.yaml
    .venv/bin/python benchmarks/bench_sweep.py --quick          # 100 site-years

The grid is ``tank_volume_m3=2:40:2`` x ``it_power_kw=20:200:20`` x
``heat_capture_fraction=0.6:1.0:0.1`` (20 x 10 x 5 = 1,000 points), each point one
site-year at 3600 s steps, run by :func:`heatreuse.planning.run_sweep` exactly as
``heatreuse plan --sweep`` runs it (demand prepared once, kernel per point in
worker processes). Timing is the median of 3 sweeps (wall clock, after a warm-up
that compiles or loads the kernel); the serial figure runs 50 points in-process
for the per-point kernel cost on one core.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from heatreuse.planning.sweep import default_workers, parse_sweep_specs, run_sweep
from heatreuse.simulation import prepare
from heatreuse.simulation.demand import customer_demand, site_weather
from heatreuse.site import load_site

ROOT = Path(__file__).resolve().parents[1]
FULL = ["tank_volume_m3=2:40:2", "it_power_kw=20:200:20", "heat_capture_fraction=0.6:1.0:0.1"]
QUICK = ["tank_volume_m3=4:40:4", "it_power_kw=20:200:20"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default=str(ROOT / "examples" / "pool.yaml"))
    parser.add_argument("--quick", action="store_true", help="100 site-years instead of 1,000")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    site = load_site(args.site)
    t0 = time.perf_counter()
    weather = site_weather(site)
    demand = customer_demand(site, weather)
    inputs = prepare(site, demand, 3600)
    setup_s = time.perf_counter() - t0
    axes = parse_sweep_specs(QUICK if args.quick else FULL)
    n = 1
    for values in axes.values():
        n *= len(values)
    workers = args.workers or default_workers()
    print(f"site: {site.id} ({args.site})")
    print(f"grid: {' x '.join(f'{k}[{len(v)}]' for k, v in axes.items())} = {n} site-years")
    print(f"steps: 3600 s, {inputs.n_steps} per site-year; workers: {workers}")
    print(f"setup (weather, demand, prepare): {setup_s:.2f} s")

    # warm-up: kernel compiled or loaded from numba's cache
    run_sweep(site, demand, {"tank_volume_m3": [10.0]}, inputs=inputs, workers=1)

    serial_axes = {"tank_volume_m3": [2.0 + 38.0 * i / 49 for i in range(50)]}
    t = time.perf_counter()
    run_sweep(site, demand, serial_axes, inputs=inputs, workers=1)
    per_point_ms = (time.perf_counter() - t) / 50 * 1000
    print(f"serial, one core: {per_point_ms:.1f} ms per site-year (50 tank sizes 2-40 m3)")

    times = []
    for i in range(args.repeat):
        t = time.perf_counter()
        result = run_sweep(site, demand, axes, inputs=inputs, workers=workers)
        times.append(time.perf_counter() - t)
        print(
            f"  run {i + 1}: {times[-1]:.2f} s, {len(result.frame)} points, "
            f"{int(result.frame['on_frontier'].sum())} on the frontier"
        )
    median = statistics.median(times)
    print(
        f"sweep of {n} site-years on {workers} worker(s): median {median:.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f}), {n / median:.1f} site-years/s, "
        f"{n * inputs.n_steps / median / 1e6:.2f} M steps/s"
    )


if __name__ == "__main__":
    main()
