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


# ---------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args()
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
