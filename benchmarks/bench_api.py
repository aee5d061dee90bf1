"""HTTP API under load: readers and a device pushing readings, through ``heatreuse serve``.

Prints figures; asserts nothing (issue 12, "Figures")::

    .venv/bin/python benchmarks/bench_api.py                      # 50 clients, 10,000 r/s, 600 s
    .venv/bin/python benchmarks/bench_api.py --duration 30        # a short run
    .venv/bin/python benchmarks/bench_api.py --clients 10 --rate 2000 --duration 30

Set-up (same machine, same run):

* ``heatreuse serve SITE --http 127.0.0.1:PORT`` in its own process on a fresh SQLite
  store (the example pool site), with the first admin, a viewer, a viewer token and a
  device created through the CLI first (the real argon2id profile, token HMAC secret
  under a temporary ``$HEATREUSE_HOME``);
* this process runs, on one asyncio loop with httpx: a device pushing readings over
  ``POST /api/v1/sites/{site}/readings`` at ``--rate`` readings/s in batches of
  ``--batch`` (at most ``--in-flight`` requests open; each batch has new timestamps of
  the site's points, spread over the ``--duration`` before the start so nothing is in
  the future), and ``--clients`` readers, each in turn asking for a readings range
  (the last 10 minutes of one point, raw), the SLA status and the firing alerts, plus
  ``/healthz`` (no token) and ``/api/v1/me`` (token check only) in the same rotation;
* every ``--rss-every`` seconds the server's resident memory (VmRSS, RssAnon, RssFile)
  is printed, so "flat" can be judged: after warm-up (the first sample past
  ``--warmup`` s) vs the end;
* with ``--tracemalloc FRAMES`` the server runs under :mod:`tracemalloc` (a debug
  hook of this benchmark only: :data:`_TRACED_SERVE`; it slows the server several
  times over) and dumps a snapshot on ``SIGUSR1``; the benchmark takes one after
  warm-up and one at the end and prints the allocations that grew most in between
  (by line, then the largest by traceback);
* at the end: p50/p99 latency per route, readings sent (200 answers) vs stored
  (``Store.count_readings``), non-2xx answers, the server's resident memory (VmRSS)
  after start and at the end, and the token-check overhead per request:
  p50(``/api/v1/me``) - p50(``/healthz``) over the network, and
  :func:`heatreuse.services.people.verify_token` timed in-process on the same store.

The load generator and the server share the machine's cores: with 50 readers the
client itself is CPU-bound, so latencies include its queueing; the figures are for
comparison between routes in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "pool.yaml"
PASSWORD = "benchmark password"
#: Points pushed and a plausible value of each [the point's unit].
POINTS = {
    "hx.secondary_supply_temp_c": 41.0,
    "hx.secondary_return_temp_c": 33.0,
    "loop.pressure_bar": 2.1,
    "hx.heat_power_w": 60_000.0,
    "meter.heat_power_w": 59_000.0,
}


#: Runs ``heatreuse serve`` under tracemalloc: ``SIGUSR1`` dumps a snapshot to
#: ``$BENCH_TRACEMALLOC_DIR/snap-N.tracemalloc`` (N = 1, 2, ...), then writes ``snap-N.done``.
_TRACED_SERVE = """
import os, signal, sys, tracemalloc
tracemalloc.start(int(os.environ["BENCH_TRACEMALLOC_FRAMES"]))
out, n = os.environ["BENCH_TRACEMALLOC_DIR"], [0]
def dump(signum, frame):
    n[0] += 1
    path = os.path.join(out, f"snap-{n[0]}")
    tracemalloc.take_snapshot().dump(path + ".tracemalloc")
    open(path + ".done", "w").close()
signal.signal(signal.SIGUSR1, dump)
from heatreuse.cli.main import main
sys.argv[0] = "heatreuse"
main()
"""


def _snapshot(proc: subprocess.Popen[str], folder: Path, n: int) -> Path:
    """Ask the traced server for snapshot ``n``; its file once written."""
    proc.send_signal(signal.SIGUSR1)
    done = folder / f"snap-{n}.done"
    deadline = time.monotonic() + 300
    while not done.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit(f"no tracemalloc snapshot {n} from the server")
        time.sleep(0.2)
    return folder / f"snap-{n}.tracemalloc"


def _print_growth(first: Path, last: Path, top: int = 20) -> None:
    """The allocations that grew most from snapshot ``first`` to ``last``."""
    import tracemalloc

    skip = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
    ]
    a = tracemalloc.Snapshot.load(str(first)).filter_traces(skip)
    b = tracemalloc.Snapshot.load(str(last)).filter_traces(skip)
    total_a = sum(s.size for s in a.statistics("filename"))
    total_b = sum(s.size for s in b.statistics("filename"))
    print(
        f"\ntracemalloc: traced {total_a / 2**20:.1f} MiB after warm-up -> "
        f"{total_b / 2**20:.1f} MiB at the end; grew most (by line):"
    )
    for st in b.compare_to(a, "lineno")[:top]:
        print(f"  {st.size_diff / 2**20:+8.2f} MiB {st.count_diff:+9d} blocks  {st.traceback[0]}")
    print("largest growth by traceback (innermost frame last):")
    for st in b.compare_to(a, "traceback")[:3]:
        print(f"  {st.size_diff / 2**20:+8.2f} MiB {st.count_diff:+9d} blocks")
        for line in st.traceback.format()[-16:]:
            print("     " + line)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "heatreuse.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise SystemExit(f"heatreuse {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def _rss_mib(pid: int) -> dict[str, float]:
    """VmRSS and its parts [MiB]: RssAnon (heap), RssFile (mapped files: SQLite mmap)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = int(line.split()[1]) / 1024.0
    return out


def _cpu_s(pid: int) -> float:
    """User + system CPU time of a process [s]."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


class Load:
    """The clients and their measurements."""

    def __init__(self, args: argparse.Namespace, base: str, site: str, tokens: dict[str, str]):
        self.args = args
        self.base = base
        self.site = site
        self.tokens = tokens
        self.lat: dict[str, list[float]] = {}
        self.codes: dict[str, dict[int, int]] = {}
        self.sent = 0
        self.batches = 0
        self.errors = 0
        self.stop = False
        self.t_first = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=args.duration + 60)

    def record(self, route: str, seconds: float, code: int) -> None:
        self.lat.setdefault(route, []).append(seconds * 1000.0)
        c = self.codes.setdefault(route, {})
        c[code] = c.get(code, 0) + 1

    async def timed(
        self, client: httpx.AsyncClient, route: str, method: str, url: str, **kw: Any
    ) -> httpx.Response | None:
        t = time.perf_counter()
        try:
            r = await client.request(method, url, **kw)
        except httpx.HTTPError:
            self.errors += 1
            return None
        self.record(route, time.perf_counter() - t, r.status_code)
        return r

    def batch(self, k: int) -> dict[str, Any]:
        """Batch ``k``: ``--batch`` readings, new timestamps, spread over the run."""
        n = self.args.batch
        per_point = n // len(POINTS)
        step_us = max(1, int(1e6 * len(POINTS) / self.args.rate))  # per point
        rows = []
        for i in range(per_point):
            slot = k * per_point + i
            ts = self.t_first + dt.timedelta(microseconds=slot * step_us)
            text = ts.isoformat().replace("+00:00", "Z")
            for p, value in POINTS.items():
                rows.append(
                    {"point_id": p, "ts": text, "value": value * (1 + random.random() / 100)}
                )
        return {"readings": rows}

    async def writer(self) -> None:
        url = f"{self.base}/api/v1/sites/{self.site}/readings"
        headers = {"Authorization": f"Bearer {self.tokens['device']}"}
        interval = self.args.batch / self.args.rate
        sem = asyncio.Semaphore(self.args.in_flight)
        start = time.perf_counter()
        pending: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=60.0) as client:

            async def send(k: int) -> None:
                async with sem:
                    r = await self.timed(
                        client, "POST readings", "POST", url, json=self.batch(k), headers=headers
                    )
                    if r is not None and r.status_code == 200:
                        self.sent += int(r.json()["accepted"])
                        self.batches += 1

            k = 0
            while not self.stop:
                due = start + k * interval
                now = time.perf_counter()
                if due > now:
                    await asyncio.sleep(due - now)
                if self.stop:
                    break
                if sem.locked():  # the server is behind: do not pile up requests
                    await asyncio.sleep(0.001)
                    continue
                task = asyncio.create_task(send(k))
                pending.add(task)
                task.add_done_callback(pending.discard)
                k += 1
            await asyncio.gather(*pending)

    async def reader(self, i: int) -> None:
        h = {"Authorization": f"Bearer {self.tokens['viewer']}"}
        s = f"{self.base}/api/v1/sites/{self.site}"
        async with httpx.AsyncClient(timeout=60.0) as client:
            n = i
            while not self.stop:
                which = n % 5
                n += 1
                if which == 0:
                    end = self.t_first + dt.timedelta(seconds=max(60.0, self.args.duration * 0.5))
                    params = {
                        "point": list(POINTS)[n % len(POINTS)],
                        "start": (end - dt.timedelta(minutes=10)).isoformat(),
                        "end": end.isoformat(),
                        "limit": 5000,
                    }
                    await self.timed(
                        client, "GET readings", "GET", s + "/readings", params=params, headers=h
                    )
                elif which == 1:
                    await self.timed(client, "GET sla", "GET", s + "/sla", headers=h)
                elif which == 2:
                    await self.timed(client, "GET alerts", "GET", s + "/alerts", headers=h)
                elif which == 3:
                    await self.timed(
                        client, "GET /healthz (no token)", "GET", self.base + "/healthz"
                    )
                else:
                    await self.timed(
                        client,
                        "GET /api/v1/me (token only)",
                        "GET",
                        self.base + "/api/v1/me",
                        headers=h,
                    )

    async def run(self, on_tick: Any = None) -> float:
        """Run for ``--duration`` s; ``on_tick(t, sent)`` every ``--rss-every`` s."""
        tasks = [asyncio.create_task(self.writer())]
        tasks += [asyncio.create_task(self.reader(i)) for i in range(self.args.clients)]
        t = time.perf_counter()
        every = max(1.0, self.args.rss_every)
        k = 1
        while True:
            left = t + self.args.duration - time.perf_counter()
            if left <= 0:
                break
            await asyncio.sleep(min(left, t + k * every - time.perf_counter()))
            if time.perf_counter() >= t + k * every - 0.01:
                k += 1
                if on_tick is not None:
                    # in a thread: a tracemalloc snapshot takes seconds, the clients go on
                    await asyncio.to_thread(on_tick, time.perf_counter() - t, self.sent)
        self.stop = True
        elapsed = time.perf_counter() - t
        _, late = await asyncio.wait(tasks, timeout=120.0)
        for task in late:  # a request the server is still working on: not waited for
            task.cancel()
        if late:
            print(f"  {len(late)} clients still waiting 120 s after the end: cancelled")
        return elapsed


def _verify_token_us(store_url: str, token: str, home: str, n: int = 2000) -> float:
    os.environ["HEATREUSE_HOME"] = home
    from heatreuse.services import people
    from heatreuse.store import open_store

    secret = people.load_token_secret()
    store = open_store(store_url)
    try:
        people.verify_token(store, token, secret=secret)
        t = time.perf_counter()
        for _ in range(n):
            people.verify_token(store, token, secret=secret)
        return (time.perf_counter() - t) / n * 1e6
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50, help="concurrent API readers")
    ap.add_argument("--rate", type=float, default=10_000.0, help="readings/s pushed")
    ap.add_argument("--batch", type=int, default=1000, help="readings per push request")
    ap.add_argument("--in-flight", type=int, default=8, help="push requests open at most")
    ap.add_argument("--duration", type=float, default=600.0, help="length of the run [s]")
    ap.add_argument(
        "--rss-every", type=float, default=30.0, help="print the server's memory every [s]"
    )
    ap.add_argument(
        "--warmup", type=float, default=60.0, help="memory after this is the baseline [s]"
    )
    ap.add_argument(
        "--tracemalloc",
        type=int,
        default=0,
        metavar="FRAMES",
        help="run the server under tracemalloc (FRAMES deep); print what grew after warm-up",
    )
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    home = str(tmp / "home")
    env = {**os.environ, "HEATREUSE_HOME": home, "PYTHONPATH": str(ROOT / "src")}
    store = f"sqlite:///{tmp / 'api.db'}"
    site = "pool-potsdam"
    _cli(
        env,
        "users",
        "add",
        "root",
        "--role",
        "admin",
        "--site",
        site,
        "--password-stdin",
        "--store",
        store,
        stdin=PASSWORD + "\n",
    )
    _cli(
        env,
        "users",
        "add",
        "vera",
        "--role",
        "viewer",
        "--site",
        site,
        "--password-stdin",
        "--store",
        store,
        stdin=PASSWORD + "\n",
    )
    tokens = {
        "viewer": _cli(env, "tokens", "create", "--user", "vera", "--store", store),
        "device": _cli(env, "devices", "add", str(EXAMPLE), "bench-edge", "--store", store),
    }
    port = _free_port()
    trace_dir = tmp / "tracemalloc"
    launcher = ["-m", "heatreuse.cli.main"]
    if args.tracemalloc > 0:
        trace_dir.mkdir()
        env = {
            **env,
            "BENCH_TRACEMALLOC_FRAMES": str(args.tracemalloc),
            "BENCH_TRACEMALLOC_DIR": str(trace_dir),
        }
        launcher = ["-c", _TRACED_SERVE]
    proc = subprocess.Popen(
        [
            sys.executable,
            *launcher,
            "serve",
            str(EXAMPLE),
            "--store",
            store,
            "--http",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("heatreuse serve did not start")
            time.sleep(0.1)
        rss0 = _rss_mib(proc.pid)
        cpu0, own0 = _cpu_s(proc.pid), time.process_time()
        load = Load(args, base, site, tokens)
        print(
            f"heatreuse serve pid {proc.pid} on {base}; {args.clients} readers, "
            f"{args.rate:,.0f} readings/s in batches of {args.batch}, {args.duration:g} s"
            + (f"; tracemalloc {args.tracemalloc} frames" if args.tracemalloc else ""),
            flush=True,
        )
        samples: list[tuple[float, dict[str, float]]] = [(0.0, rss0)]
        snaps: list[Path] = []

        def tick(t: float, sent: int) -> None:
            rss = _rss_mib(proc.pid)
            samples.append((t, rss))
            print(
                f"  t={t:6.0f} s  "
                + ", ".join(f"{k} {v:.0f}" for k, v in rss.items())
                + f" MiB; {sent:,} readings pushed; load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            if args.tracemalloc and not snaps and t >= args.warmup:
                snaps.append(_snapshot(proc, trace_dir, 1))

        elapsed = asyncio.run(load.run(tick))
        rss1 = _rss_mib(proc.pid)
        cpu1, own1 = _cpu_s(proc.pid), time.process_time()
        if snaps:
            snaps.append(_snapshot(proc, trace_dir, 2))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
    from heatreuse.store import open_store

    os.environ["HEATREUSE_HOME"] = home
    s = open_store(store)
    try:
        stored = int(s.count_readings(site))
    finally:
        s.close()
    print(f"\n{'route':32s} {'n':>7s} {'p50 ms':>9s} {'p99 ms':>9s}  answers")
    for route in sorted(load.lat):
        v = load.lat[route]
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(load.codes[route].items()))
        print(f"{route:32s} {len(v):7d} {_pct(v, 0.5):9.1f} {_pct(v, 0.99):9.1f}  {codes}")
    print(
        f"\nreadings pushed (200 answers): {load.sent:,} in {elapsed:.1f} s = "
        f"{load.sent / elapsed:,.0f} readings/s (target {args.rate:,.0f})"
    )
    print(
        f"readings stored: {stored:,}; lost: {max(0, load.sent - stored):,}; "
        f"transport errors: {load.errors}"
        + (
            f"; {stored - load.sent:,} stored from pushes whose answer came after the end"
            if stored > load.sent
            else ""
        )
    )
    print(
        "server memory [MiB] after start -> at the end: "
        + ", ".join(f"{k} {rss0[k]:.0f} -> {rss1[k]:.0f}" for k in rss0)
        + " (RssFile: pages of the SQLite file mapped with mmap, up to 256 MiB)"
    )
    warm = next(((t, r) for t, r in samples if t >= args.warmup), None)
    if warm is not None:
        t_w, r_w = warm
        print(
            f"server memory [MiB] after warm-up (t={t_w:.0f} s) -> at the end "
            f"(t={elapsed:.0f} s): "
            + ", ".join(f"{k} {r_w[k]:.0f} -> {rss1[k]:.0f} ({rss1[k] - r_w[k]:+.0f})" for k in r_w)
        )
    load1 = os.getloadavg()[0]
    print(
        f"CPU: server {(cpu1 - cpu0) / elapsed:.2f} cores, load generator "
        f"{(own1 - own0) / elapsed:.2f} cores, of {os.cpu_count()} (load average {load1:.1f})"
    )
    me = statistics.median(load.lat.get("GET /api/v1/me (token only)", [float("nan")]))
    hz = statistics.median(load.lat.get("GET /healthz (no token)", [float("nan")]))
    print(
        f"token check: p50 /api/v1/me - p50 /healthz = {me - hz:.2f} ms over HTTP "
        "(with the readers: mostly the wait for a thread of the token-check lane); "
        f"verify_token in-process: {_verify_token_us(store, tokens['viewer'], home):.0f} us"
    )
    if len(snaps) == 2:
        _print_growth(snaps[0], snaps[1])


if __name__ == "__main__":
    main()
