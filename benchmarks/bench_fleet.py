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

``--central`` (issue 15's scale test) drives the real path instead::

    .venv/bin/python benchmarks/bench_fleet.py --central --sites 100 --hours 6

It writes ``--sites`` site files (copies of the examples with their own ids), starts
ONE ``heatreuse serve SITES_DIR --store postgresql://...?schema=bench_fleet_xxx --http
127.0.0.1:PORT`` subprocess (a fresh schema, dropped afterwards), creates a device token
per site (``heatreuse devices add``'s service function), fills one edge buffer per site
(:class:`heatreuse.telemetry.edge.EdgeBuffer`) with the site's twin readings of the
last ``--hours`` hours, and forwards every buffer with the edge's own
:class:`~heatreuse.telemetry.edge.Forwarder` and
:class:`~heatreuse.telemetry.edge.HttpTransport` (``heatreuse edge``'s code path, batches
of 2,000 readings, device token in ``Authorization``) from ``--edge-threads`` threads of
this process (100 edge processes do not fit 2 cores; each thread serves its share of
the sites round-robin, one batch per site in turn). Printed: readings/s (accepted by
the central serve over the forwarding wall time), the batch POST round trip (p50/p99:
the edge's send until the serve's 200, after the store committed), and store bytes
per site-year EXTRAPOLATED linearly (x 8760 / hours / sites) twice: as ingested (rows
of the hot window plus rollups) and after ``store compact`` with no hot window (every
day sealed into compressed blocks, space given back).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import psycopg
import yaml

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
    ap.add_argument(
        "--central",
        action="store_true",
        help="edges over HTTP to one central `heatreuse serve` subprocess on PostgreSQL",
    )
    ap.add_argument("--hours", type=float, default=6.0, help="--central: twin hours per site")
    ap.add_argument("--edge-threads", type=int, default=8, help="--central: forwarding threads")
    args = ap.parse_args()
    if args.central:
        central(args)
        return
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


PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


class _TimedTransport:
    """The edge's HTTP transport, the round trip of each POST recorded [s]."""

    def __init__(self, inner: Any, latencies: list[float]) -> None:
        self.inner = inner
        self.latencies = latencies

    @property
    def url(self) -> str:
        return str(self.inner.url)

    def send(self, batch: Any) -> None:
        t0 = time.perf_counter()
        self.inner.send(batch)
        self.latencies.append(time.perf_counter() - t0)

    def probe(self) -> str | None:
        return self.inner.probe()  # type: ignore[no-any-return]

    def close(self) -> None:
        self.inner.close()


def _site_file(name: str, site_id: str, out: Path) -> Path:
    data = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    data["site"]["id"] = site_id
    path = out / f"{site_id}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"heatreuse serve exited with {proc.returncode} before it was ready")
        try:
            r = httpx.get(base + "/healthz", timeout=2.0)
            if r.status_code == 200:
                return dict(r.json())
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"heatreuse serve did not answer /healthz within {timeout_s:.0f} s")


def central(args: argparse.Namespace) -> None:
    """Twin files through edges (HTTP) to one central serve on PostgreSQL (see the docstring)."""
    from heatreuse.services import people
    from heatreuse.telemetry.edge import EdgeBuffer, Forwarder, HttpTransport, readings_url
    from heatreuse.telemetry.validate import RawReading

    tmp = Path(tempfile.mkdtemp(prefix="bench_fleet_central_"))
    home = tmp / "home"
    os.environ["HEATREUSE_HOME"] = str(home)
    end = pd.Timestamp.now(tz="UTC").floor("h")
    start = end - pd.Timedelta(hours=args.hours)
    readings: dict[str, list[tuple[str, str, float]]] = {}
    for name in TEMPLATES:
        f = tmp / f"{name}.parquet"
        run_offline_twin(load_site(EXAMPLES / f"{name}.yaml"), start=start, end=end, out=f)
        df = pd.read_parquet(f)
        ts = pd.DatetimeIndex(df["timestamp"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        readings[name] = list(
            zip(df["point_id"].astype(str), ts, df["value"].astype(float), strict=True)
        )
    sites_dir = tmp / "sites"
    sites_dir.mkdir()
    names = []
    for k in range(args.sites):
        name = TEMPLATES[k % len(TEMPLATES)]
        site_id = f"{name.split('_')[0]}-{k:03d}"
        _site_file(name, site_id, sites_dir)
        names.append((site_id, name))
    schema = "bench_fleet_" + uuid.uuid4().hex[:8]
    url = f"{PG_URL}?schema={schema}"
    secret = people.load_token_secret(create=True)
    store = open_store(url, create=True)
    tokens = {
        sid: people.add_device(store, sid, "edge", by="bench", secret=secret)[0] for sid, _ in names
    }
    store.flush()
    store.close()
    size_empty = _store_bytes(url, None, schema)  # tables, indexes, people: no reading yet
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    base = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        "-c",
        "from heatreuse.cli.main import main; main()",
        "serve",
        str(sites_dir),
        "--store",
        url,
        "--http",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    t_start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=dict(os.environ))
    try:
        _wait_healthy(base, proc, 300.0)
        print(f"central serve of {args.sites} sites ready in {time.perf_counter() - t_start:.1f} s")
        buffers: list[tuple[str, Any]] = []
        (tmp / "edges").mkdir()
        for sid, name in names:
            buf = EdgeBuffer(tmp / "edges" / f"edge-{sid}.db", synchronous="NORMAL")
            buf.ingest([RawReading(p, t, v, "twin") for p, t, v in readings[name]])
            buffers.append((sid, buf))
        latencies: list[float] = []
        forwarders = [
            Forwarder(
                buf,
                _TimedTransport(
                    HttpTransport(readings_url(base, sid), token=tokens[sid]), latencies
                ),
            )
            for sid, buf in buffers
        ]
        n_threads = max(1, min(args.edge_threads, len(forwarders)))
        errors: list[str] = []

        def edge_thread(i: int) -> None:
            mine = forwarders[i::n_threads]
            try:
                while True:
                    sent = sum(f.send_one() for f in mine)
                    if sent == 0:
                        return
            except Exception as exc:  # a benchmark prints what failed
                errors.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=edge_thread, args=(i,)) for i in range(n_threads)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        if errors:
            print(f"FORWARDING FAILED ({len(errors)}): {errors[0]}")
        sent = sum(f.stats.readings_sent for f in forwarders)
        health = httpx.get(base + "/healthz", timeout=30.0).json()
        per_site = health.get("sites", {})
        accepted = sum(v["ingest"]["accepted"] for v in per_site.values())
        dups = sum(v["ingest"]["duplicates"] for v in per_site.values())
        quarantined = sum(v["ingest"].get("quarantined_total", 0) for v in per_site.values())
        for f in forwarders:
            f.transport.close()
        for _, buf in buffers:
            buf.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
    try:
        lat = np.asarray(latencies)
        size_rows = _store_bytes(url, None, schema)
        store = open_store(url)
        try:
            store.compact(now=end + pd.Timedelta(days=1), hot_days=0)
        finally:
            store.close()
        size_sealed = _store_bytes(url, None, schema)
        year = 8760.0 / args.hours / args.sites
        print(f"store: PostgreSQL, schema {schema} (dropped afterwards)")
        print(
            f"sites: {args.sites}, twin hours per site: {args.hours:g}, edge threads: "
            f"{n_threads}, batches: {lat.size:,} (<= 2,000 readings each)"
        )
        print(
            f"readings forwarded: {sent:,}; accepted by the central serve: {accepted:,} "
            f"(duplicates {dups:,}, quarantined {quarantined:,})"
        )
        print(f"throughput: {accepted / wall:,.0f} readings/s ({wall:.1f} s wall, edges -> serve)")
        print(
            f"ingest latency per batch POST (round trip, 200 after commit): "
            f"p50 {np.percentile(lat, 50) * 1e3:.0f} ms, "
            f"p99 {np.percentile(lat, 99) * 1e3:.0f} ms, "
            f"max {lat.max() * 1e3:.0f} ms"
        )
        print(f"store bytes before any reading (schema, indexes, devices): {size_empty:,}")
        size_rows -= size_empty
        size_sealed -= size_empty
        print(
            f"store bytes as ingested (minus those): {size_rows / 1e6:,.1f} MB = "
            f"{size_rows / max(accepted, 1):.0f} bytes/reading; "
            f"EXTRAPOLATED from {args.hours:g} h: "
            f"{size_rows * year / 1e9:,.2f} GB per site-year"
        )
        print(
            f"store bytes after store compact (every day sealed; minus those): "
            f"{size_sealed / 1e6:,.1f} MB = "
            f"{size_sealed / max(accepted, 1):.1f} bytes/reading; EXTRAPOLATED: "
            f"{size_sealed * year / 1e9:,.3f} GB per site-year"
        )
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
