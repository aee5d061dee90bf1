"""File-import benchmark: ``heatreuse ingest`` end to end vs the bare database engines.

Prints figures; asserts nothing (issue 5, "Figures")::

    .venv/bin/python benchmarks/bench_ingest_file.py            # 2,000,000 readings
    .venv/bin/python benchmarks/bench_ingest_file.py --quick    # 200,000 readings
    .venv/bin/python benchmarks/bench_ingest_file.py --no-pg    # SQLite only

What is measured (same machine, same run, medians of 3, run in turn):

* **end to end**: :func:`heatreuse.services.ingest.ingest_file` on a long-format
  file of the example site's own points (CSV and Parquet): parse (pyarrow),
  resolve point ids, validate (type, NaN/inf, range, time window, in-batch
  duplicates), ``Store.write_readings`` (duplicate/conflict check against the
  store, insert, 1 min / 15 min / 1 h rollups), one transaction per chunk of
  500,000 readings (a CSV file's first chunks are 1/8, 1/4 and 1/2 of that);
  a worker thread parses and checks the next chunk while the store writes one.
* **parse + validate only**: the same with a store that accepts and keeps
  nothing (the pipeline's own cost).
* **Store.write_readings from numpy**: the store alone on the same columns,
  100,000 per call (``bench_store.sqlite_store_run`` / ``pg_store_run``).
* **bare SQLite** ``executemany("INSERT INTO readings VALUES (?,?,?)")`` into
  the same table layout with the same PRAGMAs, committed per 100,000 rows,
  from numpy columns already in memory (no file, no validation, no rollups):
  ``bench_store.sqlite_bare_executemany``.
* **bare PostgreSQL** binary ``COPY`` of the same columns into the same table
  layout: ``bench_store.pg_bare_copy``.

Target (issue 5): SQLite import >= 500,000 readings/s and >= 0.7x the bare
``executemany``; PostgreSQL import >= 0.7x the bare binary COPY.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_store
from heatreuse.services.ingest import ingest_file
from heatreuse.site import expand_points, load_site
from heatreuse.store import WriteResult, open_store

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pool.yaml"
T0 = pd.Timestamp("2026-09-02T00:00:00Z")  # after the example's commissioning date
PG_BASE = bench_store.PG_BASE


def make_files(
    tmp: Path, n: int
) -> tuple[Path, Path, tuple[pd.Categorical, np.ndarray, np.ndarray]]:
    """Long-format CSV + Parquet with the example site's points at 10 s, time-major."""
    site = load_site(EXAMPLE)
    points = [p for p in expand_points(site).points if p.kind == "measurement"][:40]
    names = [p.id for p in points]
    lo = np.array([max(p.min_value, 0.0) for p in points])
    hi = np.array([min(p.max_value, 100.0) for p in points])
    steps = n // len(names)
    codes = np.tile(np.arange(len(names)), steps)
    ts = np.repeat(T0.value // 1000 + np.arange(steps, dtype=np.int64) * 10_000_000, len(names))
    rng = np.random.default_rng(7)
    values = np.round(lo[codes] + (hi[codes] - lo[codes]) * rng.random(len(codes)), 3)
    cats = pd.Categorical.from_codes(codes, categories=names)
    stamps = pd.to_datetime(ts, unit="us", utc=True)
    frame = pd.DataFrame({"timestamp": stamps, "point_id": cats, "value": values})
    parquet = tmp / "readings.parquet"
    frame.to_parquet(parquet, index=False)
    csv = tmp / "readings.csv"
    iso = stamps.strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"timestamp": iso, "point_id": cats, "value": values}).to_csv(csv, index=False)
    return csv, parquet, (cats, ts, values)


def ingest_sqlite(tmp: Path, path: Path) -> float:
    site = load_site(EXAMPLE)
    db = tmp / f"e2e-{uuid.uuid4().hex}.db"
    with open_store(f"sqlite:///{db}", create=True) as store:
        t = time.perf_counter()
        report = ingest_file(site, path, store)
        dt = time.perf_counter() - t
    assert report.result.quarantined_total == 0, report.result
    bench_store._rm_sqlite(db)
    return dt


def ingest_pg(path: Path) -> float:
    site = load_site(EXAMPLE)
    schema = f"hr_bench_{uuid.uuid4().hex[:8]}"
    try:
        with open_store(f"{PG_BASE}?schema={schema}", create=True) as store:
            t = time.perf_counter()
            ingest_file(site, path, store)
            return time.perf_counter() - t
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class NullStore:
    """Accepts everything, stores nothing: isolates parsing + validation."""

    def write_readings(self, site_id: str, point_ids: Any, ts_us: Any, values: Any) -> Any:
        return WriteResult(len(ts_us), 0, ())

    def write_quarantine(self, records: Any) -> int:
        return len(records)


def pipeline_only(path: Path) -> float:
    site = load_site(EXAMPLE)
    t = time.perf_counter()
    ingest_file(site, path, NullStore())
    return time.perf_counter() - t


def medians(k: int, fns: list[Callable[[], float]]) -> list[float]:
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(k):
        for j, fn in enumerate(fns):
            times[j].append(fn())
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 readings instead of 2 M")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = 200_000 if args.quick else 2_000_000
    with tempfile.TemporaryDirectory(prefix="hr-bench-ingest-") as d:
        tmp = Path(d)
        csv, parquet, data = make_files(tmp, n)
        n = len(data[1])
        print(f"{n:,} readings, {len(data[0].categories)} points, 10 s spacing")
        print(f"load average at start: {_load()}")
        print(
            f"files: CSV {csv.stat().st_size / 1e6:.1f} MB, "
            f"Parquet {parquet.stat().st_size / 1e6:.1f} MB"
        )
        p_csv, p_pq = medians(
            args.repeats, [lambda: pipeline_only(csv), lambda: pipeline_only(parquet)]
        )
        print("\nparse + validate only, no store (medians of", args.repeats, "runs)")
        print(f"  CSV                                {n / p_csv:>12,.0f} readings/s")
        print(f"  Parquet                            {n / p_pq:>12,.0f} readings/s")
        bare, store_only, e2e_csv, e2e_pq = medians(
            args.repeats,
            [
                lambda: bench_store.sqlite_bare_executemany(tmp, data),
                lambda: bench_store.sqlite_store_run(tmp, data),
                lambda: ingest_sqlite(tmp, csv),
                lambda: ingest_sqlite(tmp, parquet),
            ],
        )
        print("\nSQLite (medians of", args.repeats, "runs)")
        print(f"  bare executemany (raw table only)  {n / bare:>12,.0f} readings/s")
        print(
            f"  Store.write_readings from numpy    {n / store_only:>12,.0f} readings/s  "
            f"= {bare / store_only:.2f}x bare"
        )
        for label, t in (("CSV", e2e_csv), ("Parquet", e2e_pq)):
            print(
                f"  heatreuse ingest {label:<8} end to end {n / t:>12,.0f} readings/s  "
                f"= {bare / t:.2f}x bare   (target >= 500,000/s and >= 0.70x)"
            )
        if args.no_pg:
            print(f"\nload average at end: {_load()}")
            return
        copy, pg_store, pg_csv, pg_pq = medians(
            args.repeats,
            [
                lambda: bench_store.pg_bare_copy(data),
                lambda: bench_store.pg_store_run(data),
                lambda: ingest_pg(csv),
                lambda: ingest_pg(parquet),
            ],
        )
        print("\nPostgreSQL (medians of", args.repeats, "runs)")
        print(f"  bare binary COPY (raw table only)   {n / copy:>12,.0f} readings/s")
        print(
            f"  Store.write_readings from numpy     {n / pg_store:>12,.0f} readings/s  "
            f"= {copy / pg_store:.2f}x bare COPY"
        )
        for label, t in (("CSV", pg_csv), ("Parquet", pg_pq)):
            print(
                f"  heatreuse ingest {label:<8} end to end {n / t:>12,.0f} readings/s  "
                f"= {copy / t:.2f}x bare COPY   (target >= 0.70x)"
            )
        print(f"\nload average at end: {_load()}")


def _load() -> str:
    """1, 5 and 15 min load averages (this machine's other work skews every figure)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
