"""Fleet-planning benchmark: 1,000 site-years serial, on a local pool and on Dask (1 and 2 workers).

Prints figures; asserts nothing (issue 15, "Fleet planning on Dask")::

    .venv/bin/python benchmarks/bench_fleet_plan.py            # 1,000 site-years
    .venv/bin/python benchmarks/bench_fleet_plan.py --quick    # 100 site-years

Part 1, the tank update: per-site-year kernel time of the pool and the district
example over 50 tank sizes 2-40 m3 at hourly steps (the grid of
``bench_sweep.py``'s serial figure), with the explicit upwind update it
replaced (one layer per sub-step) and the implicit update (half a tank volume
per port and sub-step), measured in the same run, one core, with the
differences of their results.

Part 2, the fleet: the three example sites, each with a grid of tank volumes x
heat capture fractions, together 1,000 site-year tasks at hourly steps
(:func:`heatreuse.planning.fleet.run_fleet`, exactly what ``heatreuse plan-fleet``
runs): serially in this process, on a local process pool of 2, and on Dask
LocalClusters of 1 and 2 single-threaded workers (cluster start-up and the
weather/demand setup are timed separately, not in the run figures).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from heatreuse.planning.fleet import load_fleet, prepare_site, run_fleet
from heatreuse.planning.sweep import LocalExecutor, SweepContext, run_sweep
from heatreuse.simulation import kernel as K

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SITES = ("pool.yaml", "district_preheat.yaml", "greenhouse.yaml")
NO_DEMAND = pd.DataFrame()  # the inputs are prepared already


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} cores"


def tank_scheme_part(contexts: dict[str, SweepContext], n_tanks: int) -> None:
    """Per-site-year time and result differences, explicit vs implicit tank update."""
    tanks = [2.0 + 38.0 * i / (n_tanks - 1) for i in range(n_tanks)]
    print(f"\n1) tank update, {n_tanks} tank sizes 2-40 m3, hourly steps, one core")
    for name in ("pool.yaml", "district_preheat.yaml"):
        ctx = contexts[name]
        frames = {}
        for scheme in ("explicit", "implicit"):
            inputs = ctx.inputs.with_tank_scheme(scheme)
            run_sweep(ctx.site, NO_DEMAND, {"tank_volume_m3": [10.0]}, inputs=inputs, workers=1)
            t = time.perf_counter()
            res = run_sweep(
                ctx.site, NO_DEMAND, {"tank_volume_m3": tanks}, inputs=inputs, workers=1
            )
            ms = (time.perf_counter() - t) / n_tanks * 1000
            small = inputs.with_params(tank_volume_m3=2.0)
            subs = K.substeps(small.params, small.n_layers)
            frames[scheme] = res.frame
            print(
                f"   {ctx.site.id:24s} {scheme:8s}: {ms:6.1f} ms per site-year "
                f"({subs} sub-steps per hour at 2 m3)"
            )
        a, b = frames["explicit"], frames["implicit"]
        for col in ("heat_delivered_kwh", "backup_heat_kwh", "npv_eur"):
            scale = max(float(np.abs(a["heat_delivered_kwh"]).max()), 1.0)
            if col == "npv_eur":
                scale = max(float(np.abs(a["capex_eur"]).max()), 1.0)
            diff = float(np.abs(b[col] - a[col]).max()) / scale
            print(f"      implicit - explicit, max |diff| {col}: {diff:.2%} of the largest "
                  f"{'capex' if col == 'npv_eur' else 'heat delivered'}")  # fmt: skip


def fleet_file(folder: Path, total: int) -> Path:
    """Three sites x 20 tank volumes x capture fractions, ``total`` points together."""
    tanks = 20
    rows = total // tanks  # capture fractions over all sites
    per_site = [rows // 3 + (1 if i < rows % 3 else 0) for i in range(3)]
    lines = ["schema_version: 1", "fleet:", "  id: bench", "step_s: 3600", "sites:"]
    for name, k in zip(SITES, per_site, strict=True):
        captures = np.round(np.linspace(0.6, 1.0, k), 6).tolist() if k > 1 else [0.8]
        lines += [
            f"  - file: {EXAMPLES / name}",
            "    sweep:",
            f"      tank_volume_m3: {[2.0 * (i + 1) for i in range(tanks)]}",
            f"      heat_capture_fraction: {captures}",
        ]
    path = folder / "fleet.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 site-years instead of 1,000")
    parser.add_argument("--tanks", type=int, default=50, help="tank sizes in part 1")
    args = parser.parse_args()
    total = 100 if args.quick else 1000
    print(f"heatreuse fleet benchmark; {_load()}")

    with tempfile.TemporaryDirectory() as tmp:
        fleet = load_fleet(fleet_file(Path(tmp), total))
    t = time.perf_counter()
    contexts = [prepare_site(fleet, s) for s in fleet.sites]
    setup_s = time.perf_counter() - t
    by_file = {s.file.name: c for s, c in zip(fleet.sites, contexts, strict=True)}
    print(
        f"fleet: {len(fleet.sites)} sites, {fleet.n_tasks} site x point tasks; weather, demand "
        f"and setup {setup_s:.1f} s"
    )

    tank_scheme_part(by_file, args.tanks if not args.quick else 10)

    print(f"\n2) {fleet.n_tasks} site-years (one task each), hourly steps; {_load()}")
    results: dict[str, float] = {}
    for label, workers in (("serial, in-process", 1), ("local process pool", 2)):
        t = time.perf_counter()
        res = run_fleet(fleet, LocalExecutor(workers), contexts=contexts)
        wall = time.perf_counter() - t
        results[label] = wall
        print(
            f"   {label:24s} {res.workers} worker(s): {wall:6.1f} s, "
            f"{fleet.n_tasks / wall:6.1f} site-years/s"
        )
    from heatreuse.planning.dask_executor import DaskExecutor
    from heatreuse.services.fleet_plan import dask_client

    for workers in (1, 2):
        t = time.perf_counter()
        with dask_client(None, workers) as client:
            start_s = time.perf_counter() - t
            warm = time.perf_counter()
            client.run(_warm_up, contexts[0])  # every worker loads the compiled kernel
            warm_s = time.perf_counter() - warm
            ex = DaskExecutor(client)
            t1 = time.perf_counter()
            res = run_fleet(fleet, ex, contexts=contexts)
            wall = time.perf_counter() - t1
        label = f"Dask LocalCluster {workers}"
        results[label] = wall
        spread = ", ".join(str(n) for n in sorted(res.tasks_per_worker.values()))
        print(
            f"   {label:24s} {res.workers} worker(s): {wall:6.1f} s, "
            f"{fleet.n_tasks / wall:6.1f} site-years/s (cluster start {start_s:.1f} s, "
            f"kernel load {warm_s:.1f} s; tasks per worker {spread})"
        )
    one, two = results["Dask LocalCluster 1"], results["Dask LocalCluster 2"]
    print(
        f"   Dask scaling 1 -> 2 workers: {one / two:.2f}x "
        f"(efficiency {one / two / 2:.0%}); serial / Dask 2: "
        f"{results['serial, in-process'] / two:.2f}x"
    )
    serial_ms = results["serial, in-process"] / fleet.n_tasks * 1000
    print(f"   serial: {serial_ms:.1f} ms per site-year over the fleet's grid; {_load()}")


def _warm_up(ctx: SweepContext) -> float:
    """On a worker: one site-year, so numba has loaded (or compiled) the kernel."""
    from heatreuse.planning.sweep import sweep_point

    return float(sweep_point(ctx, {})["heat_delivered_kwh"])


if __name__ == "__main__":
    main()
