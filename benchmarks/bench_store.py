"""Store benchmark: bulk import and range reads, side by side with the bare engines.

Prints figures; asserts nothing (issue 5, "Figures")::

    .venv/bin/python benchmarks/bench_store.py            # full sizes (a few minutes)
    .venv/bin/python benchmarks/bench_store.py --quick    # small sizes (seconds)

What is compared (same machine, same run, medians of 3):

* SQLite: ``Store.write_readings`` (classification against stored keys, the
  insert, and the 1 min / 15 min / 1 h rollup upserts, committed per chunk)
  vs a bare ``executemany("INSERT INTO readings VALUES (?,?,?)")`` into the
  same table layout with the same connection PRAGMAs, committed per chunk and
  starting from the same numpy columns (series ids pre-mapped for the bare
  path, so it does *less* work). For transparency also a bare multi-row
  ``INSERT ... VALUES (...),(...)``, the statement shape the store uses.
* PostgreSQL: ``Store.write_readings`` vs a bare binary ``COPY`` of the same
  columns into the same table layout (encoded with numpy: the fastest bare COPY
  from Python, not psycopg's per-row ``write_row``).
* Reads with a year loaded (1 point at 10 s = 3.15 M rows, plus 11 points at
  15 min so that 12 points have hourly rollups): one week of one point at raw
  10 s resolution, and one year of hourly means for 12 points (median of 5).

Input for imports: 12 points, 10 s spacing, long format in time order (one row
per point and timestamp, as a meter export or the file adapter delivers it),
written in chunks of 100,000 readings.

Sealed history (issue 15, ``--history``; also part of the full run): the twin's
readings of the pool example (every point the live twin publishes, sensor
resolution as it reports them) for the demo month at 60 s steps (January 2026 with
the demo's drill) and for a week at 10 s steps, each imported through the file
ingest path into a fresh store on each backend and then ``Store.compact`` (seal
+ VACUUM). Reported: the whole database (every table and index) per reading held,
before and after; the rate of raw range reads served from sealed blocks (every
point over the whole period, point by point, readings per second, wall and per CPU
second of this process); the 1-min rollup read of a week
derived from blocks; and the hourly year read of the 12-point year store after it
was compacted (all medians of 5).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from heatreuse.store import open_store
from heatreuse.store import postgres as pg_backend
from heatreuse.store import sqlite as sqlite_backend
from heatreuse.store.schema import STORE_MIGRATIONS

PG_BASE = os.environ.get("HEATREUSE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
STEP_US = 10_000_000
N_POINTS = 12
CHUNK = 100_000
#: CPU seconds of this process per SQLite run (SQLite runs in-process: readings per CPU
#: second approximate the rate on an otherwise idle machine)
CPU_S: dict[str, list[float]] = {}


def make_data(n: int) -> tuple[pd.Categorical, np.ndarray, np.ndarray]:
    """12 points, 10 s spacing, time-major long format."""
    steps = n // N_POINTS
    names = [f"rack{k:02d}.power_w" for k in range(N_POINTS)]
    codes = np.tile(np.arange(N_POINTS), steps)
    ts = np.repeat(T0_US + np.arange(steps, dtype=np.int64) * STEP_US, N_POINTS)
    rng = np.random.default_rng(1)
    values = 4000.0 + 500.0 * rng.standard_normal(len(ts))
    return pd.Categorical.from_codes(codes, categories=names), ts, values


def median_of(k: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(k))


def interleaved_medians(k: int, fns: list[Callable[[], float]]) -> list[float]:
    """Median of ``k`` runs of each function, run in turn (so load drifts hit all alike)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(k):
        for j, fn in enumerate(fns):
            times[j].append(fn())
    return [statistics.median(t) for t in times]


# ---------------------------------------------------------------------------- SQLite


def sqlite_store_run(tmp: Path, data: tuple[pd.Categorical, np.ndarray, np.ndarray]) -> float:
    cats, ts, vals = data
    path = tmp / f"store-{uuid.uuid4().hex}.db"
    with open_store(f"sqlite:///{path}", create=True) as store:
        t, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(ts), CHUNK):
            store.write_readings(
                "bench", cats[i : i + CHUNK], ts[i : i + CHUNK], vals[i : i + CHUNK]
            )
        dt = time.perf_counter() - t
        CPU_S.setdefault("store", []).append(time.process_time() - cpu)
    _rm_sqlite(path)
    return dt


def _bare_sqlite_conn(path: Path):  # type: ignore[no-untyped-def]
    conn = sqlite_backend.connect(str(path))
    readings_ddl = next(s for s in STORE_MIGRATIONS[0].sqlite if "TABLE readings" in s)
    conn.execute(readings_ddl)
    return conn


def sqlite_bare_executemany(
    tmp: Path, data: tuple[pd.Categorical, np.ndarray, np.ndarray]
) -> float:
    cats, ts, vals = data
    sid = np.asarray(cats.codes, dtype=np.int64) + 1
    path = tmp / f"bare-{uuid.uuid4().hex}.db"
    conn = _bare_sqlite_conn(path)
    t, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(ts), CHUNK):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO readings (series_id, ts_us, value) VALUES (?, ?, ?)",
            zip(
                sid[i : i + CHUNK].tolist(),
                ts[i : i + CHUNK].tolist(),
                vals[i : i + CHUNK].tolist(),
                strict=True,
            ),
        )
        conn.execute("COMMIT")
    dt = time.perf_counter() - t
    CPU_S.setdefault("executemany", []).append(time.process_time() - cpu)
    conn.close()
    _rm_sqlite(path)
    return dt


def sqlite_bare_multirow(tmp: Path, data: tuple[pd.Categorical, np.ndarray, np.ndarray]) -> float:
    cats, ts, vals = data
    sid = np.asarray(cats.codes, dtype=np.int64) + 1
    path = tmp / f"bare-{uuid.uuid4().hex}.db"
    conn = _bare_sqlite_conn(path)
    per = 4000
    one = ",".join(["(?,?,?)"] * per)
    t, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(ts), CHUNK):
        flat = sqlite_backend.interleave(sid[i : i + CHUNK], ts[i : i + CHUNK], vals[i : i + CHUNK])
        conn.execute("BEGIN IMMEDIATE")
        k = 0
        while len(flat) - k >= 3 * per:
            conn.execute(
                f"INSERT INTO readings (series_id, ts_us, value) VALUES {one}",
                flat[k : k + 3 * per],
            )
            k += 3 * per
        if k < len(flat):
            m = (len(flat) - k) // 3
            rest = ",".join(["(?,?,?)"] * m)
            conn.execute(f"INSERT INTO readings (series_id, ts_us, value) VALUES {rest}", flat[k:])
        conn.execute("COMMIT")
    dt = time.perf_counter() - t
    CPU_S.setdefault("multirow", []).append(time.process_time() - cpu)
    conn.close()
    _rm_sqlite(path)
    return dt


def _rm_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# ---------------------------------------------------------------------------- PostgreSQL


def _schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_BASE else "?"
    return f"{PG_BASE}{sep}schema={schema}"


def _drop_schema(schema: str) -> None:
    conn = pg_backend.connect(PG_BASE, None)
    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()


def pg_store_run(data: tuple[pd.Categorical, np.ndarray, np.ndarray]) -> float:
    cats, ts, vals = data
    schema = f"hr_bench_{uuid.uuid4().hex[:8]}"
    try:
        with open_store(_schema_url(schema), create=True) as store:
            t = time.perf_counter()
            for i in range(0, len(ts), CHUNK):
                store.write_readings(
                    "bench", cats[i : i + CHUNK], ts[i : i + CHUNK], vals[i : i + CHUNK]
                )
            return time.perf_counter() - t
    finally:
        _drop_schema(schema)


def pg_bare_copy(data: tuple[pd.Categorical, np.ndarray, np.ndarray]) -> float:
    cats, ts, vals = data
    sid = np.asarray(cats.codes, dtype=np.int64) + 1
    schema = f"hr_bench_{uuid.uuid4().hex[:8]}"
    conn = pg_backend.connect(PG_BASE, schema)
    try:
        readings_ddl = next(s for s in STORE_MIGRATIONS[0].postgresql if "TABLE readings" in s)
        conn.execute(readings_ddl)  # type: ignore[arg-type]
        t = time.perf_counter()
        for i in range(0, len(ts), CHUNK):
            payload = pg_backend.encode_binary_copy(
                [sid[i : i + CHUNK], ts[i : i + CHUNK], vals[i : i + CHUNK]], ("i4", "i8", "f8")
            )
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(
                    "COPY readings (series_id, ts_us, value) FROM STDIN (FORMAT BINARY)"
                ) as cp,
            ):
                cp.write(payload)
        return time.perf_counter() - t
    finally:
        conn.close()
        _drop_schema(schema)


# ---------------------------------------------------------------------------- reads


def load_year(url: str, days: int) -> None:
    steps = days * 8640
    with open_store(url, create=True) as store:
        ts = T0_US + np.arange(steps, dtype=np.int64) * STEP_US
        rng = np.random.default_rng(2)
        v = 30.0 + rng.standard_normal(steps)
        for i in range(0, steps, 500_000):
            store.write_readings(
                "bench", "hx.supply_temp_c", ts[i : i + 500_000], v[i : i + 500_000]
            )
        ts15 = T0_US + np.arange(days * 96, dtype=np.int64) * 900_000_000
        for k in range(1, N_POINTS):
            store.write_readings(
                "bench", f"rack{k:02d}.power_w", ts15, 4000.0 + rng.standard_normal(len(ts15))
            )


def time_reads(url: str, days: int) -> tuple[float, float, int, tuple[int, int]]:
    points = ["hx.supply_temp_c"] + [f"rack{k:02d}.power_w" for k in range(1, N_POINTS)]
    start = pd.Timestamp(T0_US, unit="us", tz="UTC")
    week_start = start + pd.Timedelta(days=min(100, days - 7))
    with open_store(url, create=True) as store:
        n_week = 0
        shape: tuple[int, int] = (0, 0)

        def week() -> float:
            nonlocal n_week
            t, cpu = time.perf_counter(), time.process_time()
            df = store.read_series(
                "bench", "hx.supply_temp_c", week_start, week_start + pd.Timedelta(days=7)
            )
            n_week = len(df)
            CPU_S.setdefault("read_week", []).append(time.process_time() - cpu)
            return time.perf_counter() - t

        def year() -> float:
            nonlocal shape
            t, cpu = time.perf_counter(), time.process_time()
            df = store.read_series(
                "bench", points, start, start + pd.Timedelta(days=days), resolution="1h", agg="mean"
            )
            shape = df.shape
            CPU_S.setdefault("read_year", []).append(time.process_time() - cpu)
            return time.perf_counter() - t

        return median_of(5, week) * 1e3, median_of(5, year) * 1e3, n_week, shape


# ---------------------------------------------------------------------------- sealed history

HISTORY_NOW = "2026-12-01T00:00:00+00:00"  # every day of the twin periods is older than 2 d


def twin_file(tmp: Path, start: str, end: str, step_s: int, scenarios: list[str]) -> Path:
    """The pool example's twin readings over ``[start, end)`` as Parquet."""
    from heatreuse.services.demo import find_example
    from heatreuse.services.twin import run_offline_twin
    from heatreuse.simulation.scenarios import parse_scenarios
    from heatreuse.site import load_site

    out = tmp / f"twin-{step_s}s-{uuid.uuid4().hex[:6]}.parquet"
    run_offline_twin(
        load_site(find_example()),
        start=start,
        end=end,
        out=out,
        scenarios=parse_scenarios(scenarios),
        step_s=step_s,
    )
    return out


def history_case(url: str, readings_file: Path) -> dict[str, float]:
    """Ingest (no sealing), measure, compact, measure; read rates from the blocks."""
    from heatreuse.services.demo import find_example
    from heatreuse.services.ingest import ingest_file
    from heatreuse.site import load_site

    site = load_site(find_example())
    with open_store(url, create=True) as store:
        ingest_file(site, readings_file, store, seal=False)
        n = store.count_all_readings()
        before = store.database_bytes()
        t = time.perf_counter()
        res = store.compact(now=HISTORY_NOW, hot_days=2)
        compact_s = time.perf_counter() - t
        points = store.list_points(site.id)
        extents = [e for e in (store.extent(site.id, p) for p in points) if e is not None]
        lo = min(e[0] for e in extents)
        end = max(e[1] for e in extents) + pd.Timedelta(seconds=1)
        got = 0
        cpu: list[float] = []

        def raw() -> float:
            # point by point: the rate of the store's raw reads, not of pandas aligning
            # points of different intervals into one wide frame
            nonlocal got
            t0, c0 = time.perf_counter(), time.process_time()
            got = sum(len(store.read_series(site.id, p, lo, end)) for p in points)
            cpu.append(time.process_time() - c0)
            return time.perf_counter() - t0

        raw_s = median_of(5, raw)

        def minute_week() -> float:
            t0 = time.perf_counter()
            store.read_minute_stats(site.id, points, lo, lo + pd.Timedelta(days=7))
            return time.perf_counter() - t0

        minute_s = median_of(5, minute_week)
        assert got == n == res.readings, (got, n, res.readings)
        return {
            "readings": float(n),
            "points": float(len(points)),
            "before": before / n,
            "after": res.bytes_after / n,
            "compact_s": compact_s,
            "raw_rate": got / raw_s,
            "raw_rate_cpu": got / statistics.median(cpu),
            "raw_ms": raw_s * 1e3,
            "minute_week_ms": minute_s * 1e3,
        }


def run_history(tmp: Path, postgres: bool) -> None:
    """Bytes per reading and read rates of sealed history, each case in a fresh store."""
    month = twin_file(
        tmp,
        "2026-01-01T00:00:00+00:00",
        "2026-02-01T00:00:00+00:00",
        60,
        ["pump_failure@2026-01-14T06:00Z+5h:secondary"],
    )
    week = twin_file(tmp, "2026-01-05T00:00:00+00:00", "2026-01-12T00:00:00+00:00", 10, [])
    print("sealed history (twin of the pool example; whole database per reading, medians of 5):")
    for label in ["SQLite", "PostgreSQL"] if postgres else ["SQLite"]:
        schema = f"hr_bench_{uuid.uuid4().hex[:8]}"
        url = f"sqlite:///{tmp / 'year.db'}" if label == "SQLite" else _schema_url(schema)
        try:
            load_year(url, 365)
            with open_store(url) as store:
                before = store.database_bytes() / store.count_all_readings()
                res = store.compact(now=HISTORY_NOW, hot_days=2)
            CPU_S.pop("read_week", None)
            CPU_S.pop("read_year", None)
            wk, yr, n_week, shape = time_reads(url, 365)
        finally:
            if label != "SQLite":
                _drop_schema(schema)
        print(
            f"  {label:<10} year store compacted ({res.readings:,} readings, random doubles: "
            f"{before:.1f} -> {res.bytes_per_reading or 0:.2f} bytes/reading): one week of 1 "
            f"point raw from blocks ({n_week:,} rows) {wk:6.1f} ms; 365 d of hourly means, "
            f"12 points {shape} {yr:6.1f} ms (CPU of this process: "
            f"{statistics.median(CPU_S['read_year']) * 1e3:.1f} ms)"
        )
    for case, path, goal in (("demo month, 60 s", month, 10.0), ("week, 10 s", week, 4.0)):
        backends = ["SQLite", "PostgreSQL"] if postgres else ["SQLite"]
        for label in backends:
            schema = f"hr_bench_{uuid.uuid4().hex[:8]}"
            url = (
                f"sqlite:///{tmp / f'history-{uuid.uuid4().hex[:6]}.db'}"
                if label == "SQLite"
                else _schema_url(schema)
            )
            try:
                r = history_case(url, path)
            finally:
                if label != "SQLite":
                    _drop_schema(schema)
            print(
                f"  {label:<10} {case:<16} {r['readings']:>11,.0f} readings of "
                f"{r['points']:.0f} points: {r['before']:6.1f} -> {r['after']:5.2f} bytes/reading "
                f"(goal <= {goal:g}; compact {r['compact_s']:.1f} s); raw read from blocks "
                f"{r['raw_rate'] / 1e6:5.1f} M readings/s ({r['raw_ms']:.0f} ms; "
                f"{r['raw_rate_cpu'] / 1e6:.1f} M per CPU-second of this process); "
                f"1-min stats of a week, all points {r['minute_week_ms']:.0f} ms"
            )


# ---------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument(
        "--history", action="store_true", help="only the sealed-history figures (issue 15)"
    )
    args = ap.parse_args()
    if args.history:
        with tempfile.TemporaryDirectory(prefix="hr-bench-") as d:
            run_history(Path(d), not args.skip_postgres)
        return
    n = 240_000 if args.quick else 2_000_000
    days = 30 if args.quick else 365
    reps = 3

    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start "
        "(other processes share the CPUs; ratios are from the same run, interleaved)"
    )
    data = make_data(n)
    n = len(data[1])
    print(f"bulk import: {n:,} readings, {N_POINTS} points, 10 s spacing, chunks of {CHUNK:,}")
    with tempfile.TemporaryDirectory(prefix="hr-bench-") as d:
        tmp = Path(d)
        ours, bare, multi = interleaved_medians(
            reps,
            [
                lambda: sqlite_store_run(tmp, data),
                lambda: sqlite_bare_executemany(tmp, data),
                lambda: sqlite_bare_multirow(tmp, data),
            ],
        )
        print(f"  SQLite  store.write_readings (+rollups)  {n / ours:>12,.0f} readings/s")
        print(f"  SQLite  bare executemany                 {n / bare:>12,.0f} readings/s")
        print(f"  SQLite  ratio store / bare executemany   {bare / ours:>12.2f} x")
        print(
            f"  SQLite  bare multi-row INSERT (info)     {n / multi:>12,.0f} readings/s"
            f"   (store / this: {multi / ours:.2f} x)"
        )
        cpu = {k: statistics.median(v) for k, v in CPU_S.items()}
        print(
            f"  SQLite  per CPU-second of this process: store {n / cpu['store']:,.0f}, "
            f"bare executemany {n / cpu['executemany']:,.0f}, multi-row {n / cpu['multirow']:,.0f}"
            " readings/s"
        )
        if not args.skip_postgres:
            pours, pbare = interleaved_medians(
                reps, [lambda: pg_store_run(data), lambda: pg_bare_copy(data)]
            )
            print(f"  PostgreSQL store.write_readings (+rollups) {n / pours:>10,.0f} readings/s")
            print(f"  PostgreSQL bare binary COPY                {n / pbare:>10,.0f} readings/s")
            print(f"  PostgreSQL ratio store / bare COPY         {pbare / pours:>10.2f} x")

        print(
            f"reads: {days} days loaded (1 point at 10 s = {days * 8640:,} rows, "
            f"11 points at 15 min), median of 5"
        )
        urls = [("SQLite", f"sqlite:///{tmp / 'year.db'}")]
        schema = f"hr_bench_{uuid.uuid4().hex[:8]}"
        if not args.skip_postgres:
            urls.append(("PostgreSQL", _schema_url(schema)))
        try:
            for label, url in urls:
                t = time.perf_counter()
                load_year(url, days)
                load_s = time.perf_counter() - t
                CPU_S.pop("read_week", None)
                CPU_S.pop("read_year", None)
                wk, yr, n_week, shape = time_reads(url, days)
                print(
                    f"  {label:<10} load {load_s:6.1f} s; one week of 1 point raw "
                    f"({n_week:,} rows) "
                    f"{wk:7.1f} ms; {days} d of hourly means, 12 points {shape} {yr:7.1f} ms"
                )
                if label == "SQLite":
                    print(
                        "  SQLite     CPU time of this process (median): week "
                        f"{statistics.median(CPU_S['read_week']) * 1e3:.1f} ms, year "
                        f"{statistics.median(CPU_S['read_year']) * 1e3:.1f} ms"
                    )
        finally:
            if not args.skip_postgres:
                _drop_schema(schema)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
