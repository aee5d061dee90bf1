"""Fleet benchmark: N simulated sites written through the ingest pipeline into one store.

Prints figures; asserts nothing (issue 15)::

    .venv/bin/python benchmarks/bench_fleet.py                       # 100 sites, 1 day, SQLite
    .venv/bin/python benchmarks/bench_fleet.py --sites 20 --days 2
    .venv/bin/python benchmarks/bench_fleet.py --store postgresql://postgres@127.0.0.1:5432/postgres

What it does: the offline twin plays each example site (pool, greenhouse,
district preheat) for ``--days`` days once (60 s step); site k of the fleet is
example ``k mod 3`` under its own site id (``pool-007``), so its readings are
that example's twin readings. Each site's readings are handed to the site's
ingest pipeline (:meth:`heatreuse.telemetry.validate.Ingestor.ingest_batch`:
point lookup, validation, duplicate check, store write with rollups) one batch
per site-hour, sites interleaved hour by hour as edges forwarding hourly would
deliver them, all into one store (SQLite file, or a fresh schema on the given
PostgreSQL, dropped afterwards).

It does NOT drive edges through ``heatreuse serve --http`` over loopback: the
HTTP transport and the edge buffers are not measured, only the central ingest
pipeline and store. Store bytes per site-year are EXTRAPOLATED linearly from the
bytes measured after ``--days`` days (x 365 / days / sites).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

from heatreuse.services.ingest import make_ingestor
from heatreuse.services.twin import run_offline_twin
from heatreuse.site import load_site
from heatreuse.store import open_store
from heatreuse.telemetry.validate import ReadingBatch

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TEMPLATES = ("pool", "greenhouse", "district_preheat")
START = pd.Timestamp("2026-10-05T00:00Z")  # after every example's commissioning date


def _store_bytes(url: str, path: Path | None, schema: str | None) -> int:
    if path is not None:
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        row = conn.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
            "AND c.relkind IN ('r', 'm')",
            (schema,),
        ).fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sites", type=int, default=100)
    ap.add_argument("--days", type=float, default=1.0)
    ap.add_argument("--store", default=None, help="postgresql://... (default: a SQLite file)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_fleet_"))
    os.environ.setdefault("HEATREUSE_HOME", str(tmp / "home"))
    end = START + pd.Timedelta(days=args.days)
    frames: dict[str, pd.DataFrame] = {}
    for name in TEMPLATES:
        site = load_site(EXAMPLES / f"{name}.yaml")
        f = tmp / f"{name}.parquet"
        run_offline_twin(site, start=START, end=end, out=f)
        df = pd.read_parquet(f)
        df["ts_us"] = pd.DatetimeIndex(df["timestamp"]).as_unit("us").asi8
        df["hour"] = df["ts_us"] // 3_600_000_000
        frames[name] = df
    schema = None
    db_path: Path | None = None
    if args.store and args.store.startswith("postgresql"):
        schema = "bench_fleet_" + uuid.uuid4().hex[:8]
        url = f"{args.store}{'&' if '?' in args.store else '?'}schema={schema}"
    else:
        db_path = tmp / "fleet.db"
        url = f"sqlite:///{db_path}"
    store = open_store(url, create=True)
    try:
        pipes = []
        for k in range(args.sites):
            name = TEMPLATES[k % len(TEMPLATES)]
            data = load_site(EXAMPLES / f"{name}.yaml").model_dump(mode="json")
            data["site"]["id"] = f"{name.split('_')[0]}-{k:03d}"
            site = type(load_site(EXAMPLES / f"{name}.yaml")).model_validate(data)
            pipes.append((make_ingestor(site, store), frames[name]))
        hours = sorted(set(frames[TEMPLATES[0]]["hour"]))
        groups = {n: dict(tuple(df.groupby("hour"))) for n, df in frames.items()}
        lat: list[float] = []
        n = 0
        t0 = time.perf_counter()
        for h in hours:
            for k, (ing, _) in enumerate(pipes):
                part = groups[TEMPLATES[k % len(TEMPLATES)]].get(h)
                if part is None:
                    continue
                batch = ReadingBatch(
                    point_keys=part["point_id"].to_numpy(dtype=object),
                    ts_us=part["ts_us"].to_numpy(dtype=np.int64),
                    values=part["value"].to_numpy(dtype=np.float64),
                    source=f"bench:{k}",
                )
                b0 = time.perf_counter()
                res = ing.ingest_batch(batch)
                lat.append(time.perf_counter() - b0)
                n += res.accepted
        wall = time.perf_counter() - t0
        store.flush()
        size = _store_bytes(url, db_path, schema)
        print(f"store: {'PostgreSQL' if schema else 'SQLite'} ({url.split('?')[0]})")
        print(
            f"sites: {args.sites}, days: {args.days:g}, batches: {len(lat):,} (one per site-hour)"
        )
        print(f"readings accepted: {n:,} in {wall:.1f} s = {n / wall:,.0f} readings/s")
        print(
            f"ingest latency per batch: p50 {np.percentile(lat, 50) * 1e3:.1f} ms, "
            f"p99 {np.percentile(lat, 99) * 1e3:.1f} ms, max {max(lat) * 1e3:.1f} ms"
        )
        per_site_year = size / args.sites * 365.0 / args.days
        print(
            f"store bytes: {size / 1e6:,.1f} MB = {size / max(n, 1):.0f} bytes/reading; "
            f"EXTRAPOLATED from {args.days:g} day(s): {per_site_year / 1e9:,.2f} GB per site-year"
        )
    finally:
        store.close()
        if schema is not None:
            with psycopg.connect(args.store.split("?")[0], autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
