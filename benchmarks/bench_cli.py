"""CLI start-up and plan benchmark: how long a user waits for ``heatreuse ...`` (issue 16).

Prints figures; asserts nothing::

    .venv/bin/python benchmarks/bench_cli.py              # 7 runs per command
    .venv/bin/python benchmarks/bench_cli.py --repeat 3 --quick   # without plan

Every command runs as its own process, exactly as a user starts it (the
``heatreuse`` console script next to this interpreter, or ``python -m
heatreuse.cli.main`` when there is none), with stdout to a pipe. Runs are
interleaved (command A, B, C, A, B, C, ...) so that load from other processes
hits all of them alike; one warm-up round first, so that the OS file cache,
``__pycache__``, the site models' schema cache (:mod:`heatreuse.site.schema_cache`)
and numba's on-disk cache are warm (the "warm" in the issue). The commands run
without ``PYTHONDONTWRITEBYTECODE``, which would otherwise leave an editable
install without bytecode and compile every heatreuse module on every run (an
installed package has its bytecode from pip).
Printed per command: the median and the fastest wall time, the median as a
multiple of a bare ``python -c pass`` measured in the same rounds (the machine's
own yardstick: on a busy machine both grow), and the median CPU time (user +
system) of the process, which a busy machine stretches far less than wall time.

Commands: ``--help``, ``validate examples/pool.yaml``, ``site show
examples/pool.yaml`` (targets: <= 0.3 s) and ``plan examples/pool.yaml --step
1h --out TMP`` (target: <= 2 s). ``--importtime`` also prints the ten slowest
imports of each start-up command (``python -X importtime``, cumulative).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pool.yaml"


def cli_prefix() -> list[str]:
    """The ``heatreuse`` console script of this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("heatreuse")
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-m", "heatreuse.cli.main"]


#: The commands' environment: this one, bytecode writing allowed (see the module docstring).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_s(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU time [s] of one run of ``argv`` (stdout to a pipe, as when piped)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=ENV)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def slowest_imports(argv: list[str], n: int = 10) -> list[tuple[float, str]]:
    """The ``n`` largest cumulative import times [s] of one run (``-X importtime``)."""
    proc = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]],
        capture_output=True,
        text=True,
        check=False,
        env=ENV,
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        rows.append((int(cumulative) / 1e6, name.rstrip()))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="Runs per command (median).")
    parser.add_argument("--site", type=Path, default=EXAMPLE)
    parser.add_argument("--quick", action="store_true", help="Start-up commands only, no plan.")
    parser.add_argument("--importtime", action="store_true", help="Also list the slowest imports.")
    args = parser.parse_args()

    cli = cli_prefix()
    out = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    site = str(args.site)
    commands: dict[str, list[str]] = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "heatreuse --help": [*cli, "--help"],
        "heatreuse validate SITE": [*cli, "validate", site],
        "heatreuse site show SITE": [*cli, "site", "show", site],
    }
    if not args.quick:
        commands["heatreuse plan SITE --step 1h"] = [
            *cli,
            "plan",
            site,
            "--step",
            "1h",
            "--out",
            str(out / "plan"),
        ]
    targets = {"heatreuse plan SITE --step 1h": 2.0}
    try:
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for argv in commands.values():  # warm-up round
            run_s(argv)
        for _ in range(args.repeat):
            for name, argv in commands.items():
                wall, cpu = run_s(argv)
                times[name].append(wall)
                cpus[name].append(cpu)
        bare = statistics.median(times["python -c pass"])
        print(
            f"{'command':30s} {'median':>8s} {'fastest':>8s} {'x python':>9s} "
            f"{'cpu':>8s} {'target':>7s}"
        )
        for name, values in times.items():
            med = statistics.median(values)
            target = "" if name.startswith("python") else f"{targets.get(name, 0.3):.1f} s"
            print(
                f"{name:30s} {med:7.3f}s {min(values):7.3f}s {med / bare:8.1f}x "
                f"{statistics.median(cpus[name]):7.3f}s {target:>7s}"
            )
        print(
            f"({args.repeat} runs each, interleaved, after one warm-up round; "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f})"
        )
        if args.importtime:
            for name, argv in commands.items():
                if name.startswith("python") or "plan" in name:
                    continue
                print(f"\nslowest imports of {name} (cumulative):")
                for seconds, module in slowest_imports(argv):
                    print(f"  {seconds * 1000:7.1f} ms  {module.strip()}")
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
