"""Benchmark the simulation engine against the targets of issue 3 (prints, no assertions).

Run: ``.venv/bin/python benchmarks/bench_engine.py [--site examples/pool.yaml] [--tespy-steps 60]``

Prints, for one site-year at 60 s steps (525,600 steps) after compilation:
median of 5 wall times of the kernel and of the whole ``simulate`` call,
steps per second, memory of the result and the tracemalloc peak while building
it; the same at hourly steps; a drill (the same year with faults) against the
plain run; and the same plant in TESPy (IT heat -> plate heat exchanger ->
insulated pipe, water, design point then off-design steps with changing heat
input), with the steps-per-second ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from heatreuse.simulation import (
    HxFouling,
    PumpFailure,
    SensorFault,
    UtilityFeedLoss,
    prepare,
    result_from_outputs,
    run_kernel,
    simulate,
)
from heatreuse.site import Site, load_site

ROOT = Path(__file__).resolve().parents[1]


def _median_s(func: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _demand(site: Site, path: Path) -> tuple[pd.DataFrame, str]:
    try:
        from heatreuse.simulation.demand import customer_demand
        from heatreuse.weather import load_weather

        weather = load_weather(site.location.weather, base_dir=path.parent)
        return customer_demand(site, weather), f"customer_demand from {site.location.weather}"
    except ImportError:  # pragma: no cover - the demand module ships with heatreuse
        idx = pd.date_range("2026-01-01T00:00Z", periods=8760, freq="h")
        heat = 60e3 + 30e3 * np.cos(2 * np.pi * np.arange(8760) / 8760)
        frame = pd.DataFrame(
            {
                "heat_demand_w": heat,
                "supply_temp_required_c": 32.0,
                "return_temp_c": 28.0,
                "operating": True,
            },
            index=idx,
        )
        return frame, "synthetic"


def bench_engine(path: Path) -> float:
    site = load_site(path)
    demand, source = _demand(site, path)
    print(f"site {site.id} ({path.name}), demand: {source}")

    t0 = time.perf_counter()
    inputs = prepare(site, demand, 60)
    prepare_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_kernel(inputs.with_params())  # compile or load the cached machine code
    first_s = time.perf_counter() - t0
    n = inputs.n_steps
    kernel_s = _median_s(lambda: run_kernel(inputs))
    simulate_s = _median_s(lambda: simulate(site, demand, step_s=60))

    tracemalloc.start()
    result = result_from_outputs(inputs, run_kernel(inputs))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tot = result.totals()

    print(f"\n== one site-year at 60 s steps ({n:,} steps, {inputs.n_layers} tank layers)")
    print(f"first call (compile or cache load)  {first_s:8.3f} s")
    print(f"prepare (setup in Python)           {prepare_s:8.3f} s")
    print(f"kernel, median of 5                 {kernel_s:8.3f} s  ({n / kernel_s:,.0f} steps/s)")
    print(
        f"simulate() end to end, median of 5  {simulate_s:8.3f} s  ({n / simulate_s:,.0f} steps/s)"
    )
    print(f"result frame memory                 {result.memory_usage_bytes() / 1e6:8.1f} MB")
    print(f"tracemalloc peak (run + frame)      {peak / 1e6:8.1f} MB")
    print(f"balance residual                    {tot['balance_residual_fraction']:8.1e} (fraction)")
    print("target: <= 0.5 s per site-year at 60 s on one core; result < 200 MB")

    hourly = prepare(site, demand, 3600)
    run_kernel(hourly)
    hourly_s = _median_s(lambda: run_kernel(hourly))
    hourly_sim_s = _median_s(lambda: simulate(site, demand, step_s=3600))
    print("\n== one site-year at 3600 s steps (8,760 steps)")
    print(f"kernel, median of 5                 {hourly_s * 1e3:8.2f} ms")
    print(f"simulate() end to end, median of 5  {hourly_sim_s * 1e3:8.2f} ms")
    sweep_s = _median_s(
        lambda: [
            run_kernel(hourly.with_params(tank_volume_m3=v, it_nameplate_power_w=p))
            for v in (2.0, 10.0, 40.0)
            for p in (20e3, 100e3, 200e3)
        ],
        repeats=3,
    )
    print(
        f"sweep from prepared inputs          {sweep_s / 9 * 1e3:8.2f} ms per site-year "
        f"-> 1,000 site-years ~ {sweep_s / 9 * 1000:.1f} s on one core"
    )

    t_mid = inputs.index[0] + pd.Timedelta(days=40)
    faults = [
        PumpFailure(t_mid, 6 * 3600, role="secondary"),
        HxFouling(
            inputs.index[0] + pd.Timedelta(days=100), None, ua_fraction=0.5, ramp_s=30 * 86400
        ),
        SensorFault(inputs.index[0] + pd.Timedelta(days=200), 86400 * 3, offset_k=-5.0),
        UtilityFeedLoss(inputs.index[0] + pd.Timedelta(days=250), 4 * 3600),
    ]
    drill_s = _median_s(lambda: simulate(site, demand, step_s=60, faults=faults))
    print("\n== drill: the same year with 4 faults (issue 4: <= plain + 20 %)")
    print(
        f"simulate() with faults, median of 5 {drill_s:8.3f} s  "
        f"({(drill_s / simulate_s - 1) * 100:+.0f} % vs plain)"
    )
    return n / kernel_s


def bench_tespy(steps: int) -> float | None:
    try:
        from tespy.components import HeatExchanger, Pipe, SimpleHeatExchanger, Sink, Source
        from tespy.connections import Connection
        from tespy.networks import Network
    except ImportError:  # pragma: no cover - tespy is a dev dependency
        print("\nTESPy not installed; skipped")
        return None
    warnings.simplefilter("ignore", FutureWarning)
    nw = Network(iterinfo=False)
    nw.units.set_defaults(temperature="degC", pressure="bar", pressure_difference="bar", heat="W")
    loop_in, loop_out = Source("coolant from hx"), Sink("coolant back to it")
    racks = SimpleHeatExchanger("it racks")
    hx = HeatExchanger("plate hx")
    tank, customer = Source("tank bottom"), Sink("customer")
    pipe = Pipe("pipe to customer")
    c1 = Connection(loop_in, "out1", racks, "in1", label="c1")
    c2 = Connection(racks, "out1", hx, "in1", label="c2")
    c3 = Connection(hx, "out1", loop_out, "in1", label="c3")
    c4 = Connection(tank, "out1", hx, "in2", label="c4")
    c5 = Connection(hx, "out2", pipe, "in1", label="c5")
    c6 = Connection(pipe, "out1", customer, "in1", label="c6")
    nw.add_conns(c1, c2, c3, c4, c5, c6)
    # the pool plant: 45.6 kW captured, 5 m3/h primary, 12 kW/K exchanger, 60 m pipe
    racks.set_attr(Q=45600, pr=1)
    hx.set_attr(pr1=1, pr2=1, ttd_u=5, design=["ttd_u"], offdesign=["UA_char"])
    pipe.set_attr(pr=1, UA=14.5, Tamb=15)
    c1.set_attr(fluid={"water": 1}, T=38, p=3, m=1.38)
    c4.set_attr(fluid={"water": 1}, T=30, p=3, m=1.0)
    t0 = time.perf_counter()
    nw.solve("design")
    design_s = time.perf_counter() - t0
    nw.assert_convergence()
    design = nw.save(as_dict=True)
    hx.set_attr(ttd_u=None)
    heat = 45600 * (0.8 + 0.2 * np.sin(np.linspace(0, 2 * np.pi, steps)))
    t0 = time.perf_counter()
    for q in heat:
        racks.set_attr(Q=float(q))
        nw.solve("offdesign", design_path=design)
    off_s = time.perf_counter() - t0
    nw.assert_convergence()
    rate = steps / off_s
    print("\n== TESPy 0.11: IT heat -> plate heat exchanger -> insulated pipe (water)")
    print(f"design solve                        {design_s:8.3f} s")
    print(f"{steps} off-design steps               {off_s:8.3f} s  ({rate:,.1f} steps/s)")
    print(f"last step: hx {-hx.Q.val / 1e3:.1f} kW, customer supply {c6.T.val:.2f} C")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "examples" / "pool.yaml")
    parser.add_argument("--tespy-steps", type=int, default=60)
    args = parser.parse_args()
    engine_rate = bench_engine(args.site)
    tespy_rate = bench_tespy(args.tespy_steps)
    if tespy_rate:
        print(
            f"\n== ratio: heatreuse kernel / TESPy = {engine_rate / tespy_rate:,.0f}x "
            "steps per second"
        )
        print(
            f"   (TESPy would need {525_600 / tespy_rate / 3600:,.1f} h for one site-year at 60 s)"
        )


if __name__ == "__main__":
    main()
