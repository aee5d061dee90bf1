"""Use cases of telemetry ingest: file import into both stores, quarantine listing."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest

from heatreuse.errors import IngestError, StoreError
from heatreuse.services.ingest import (
    ingest_file,
    list_quarantine,
    make_ingestor,
    opened_store,
    parse_not_before,
)
from heatreuse.site import Site, load_site
from heatreuse.store import open_store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(EXAMPLE)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'svc.db'}"
        return
    schema = "t_svc_" + uuid.uuid4().hex[:12]
    yield f"{PG_URL}?schema={schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _twin_like_file(path: Path, n_steps: int = 360) -> int:
    """A long-format Parquet file as the offline twin writes it; returns the row count."""
    ts = pd.date_range("2026-10-01", periods=n_steps, freq="10s", tz="UTC")
    points = ["customer.supply_temp_c", "meter.heat_power_w", "meter.heat_energy_kwh"]
    values = {
        "customer.supply_temp_c": 38.0 + np.sin(np.arange(n_steps) / 30.0),
        "meter.heat_power_w": np.full(n_steps, 45_000.0),
        "meter.heat_energy_kwh": 1000.0 + np.arange(n_steps) * 45.0 * 10 / 3600,
    }
    frame = pd.concat(
        [pd.DataFrame({"timestamp": ts, "point_id": p, "value": values[p]}) for p in points]
    )
    frame.to_parquet(path)
    return len(frame)


def test_reimport_stores_once_on_both_backends(site: Site, store_url: str, tmp_path: Path) -> None:
    path = tmp_path / "twin.parquet"
    n = _twin_like_file(path)
    seen: list[Any] = []
    with opened_store(store_url, create=True) as store:
        first = ingest_file(
            site,
            path,
            store,
            chunk_rows=250,
            on_open=lambda total, unit: seen.append((total, unit)),
            progress=seen.append,
        )
        second = ingest_file(site, path, store)
        assert store.count_readings(site.id) == n
        hourly = store.read_series(
            site.id,
            ["meter.heat_power_w"],
            "2026-10-01T00:00Z",
            "2026-10-02T00:00Z",
            resolution="1h",
        )
    assert (first.file_format, first.layout) == ("parquet", "long")
    assert (first.result.accepted, first.result.quarantined_total) == (n, 0)
    assert (second.result.accepted, second.result.duplicates) == (0, n)
    assert seen[0] == (n, "rows")
    assert seen[-1] == n
    assert hourly["meter.heat_power_w"].iloc[0] == pytest.approx(45_000.0)
    assert first.readings_per_s > 0


def test_list_quarantine_filters(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "timestamp,point_id,value\n"
        "2026-10-01T00:00:00Z,customer.supply_temp_c,999\n"
        "2026-10-01T00:00:10Z,customer.supply_temp_c,998\n"
        "2026-10-01T00:00:00Z,who.knows_c,1\n"
    )
    with open_store(f"sqlite:///{tmp_path / 'q.db'}", create=True) as store:
        report = ingest_file(site, path, store)
        assert report.result.quarantined == {"out_of_range": 2, "unknown_point": 1}
        rows = list_quarantine(site, store, reason="out_of_range", limit=1)
        everything = list_quarantine(site, store)
        with pytest.raises(IngestError, match="unknown quarantine reason 'hot'"):
            list_quarantine(site, store, reason="hot")
        with pytest.raises(IngestError, match="--limit"):
            list_quarantine(site, store, limit=0)
    assert len(rows) == 1
    assert rows[0]["reason"] == "out_of_range"
    assert rows[0]["source"].startswith(f"file:{path}:")
    assert rows[0]["ts"].startswith("2026-10-01T00:00:")
    assert rows[0]["received_at"] is not None
    assert len(everything) == 3


def test_not_before_allows_a_backfill(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text("timestamp,point_id,value\n2025-06-10T06:00:00Z,loop.pressure_bar,3.0\n")
    with open_store(f"sqlite:///{tmp_path / 'b.db'}", create=True) as store:
        refused = ingest_file(site, path, store)
        accepted = ingest_file(site, path, store, not_before=parse_not_before("2025-06-01"))
        clock = make_ingestor(site, store, clock=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        assert clock.max_future_s == 300.0
    assert refused.result.quarantined == {"ts_before_site": 1}
    assert accepted.result.accepted == 1


def test_parse_not_before() -> None:
    assert parse_not_before(None) is None
    assert parse_not_before("2026-01-01") == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert parse_not_before("2026-01-01T00:00+01:00") == dt.datetime(
        2025, 12, 31, 23, 0, tzinfo=dt.UTC
    )
    with pytest.raises(IngestError, match="no UTC offset"):
        parse_not_before("2026-01-01T00:00")
    with pytest.raises(IngestError, match="expected a date"):
        parse_not_before("soon")


def _long_csv(path: Path, n: int, bad_rows: dict[int, str] | None = None) -> None:
    """A long CSV of n readings at 1 s (data row r is line r + 1); bad_rows replaces rows."""
    ts = pd.date_range("2026-10-01", periods=n, freq="1s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [f"{t},meter.heat_power_w,{1000 + i % 500}" for i, t in enumerate(ts)]
    for row, line in (bad_rows or {}).items():
        lines[row - 1] = line
    path.write_text("timestamp,point_id,value\n" + "\n".join(lines) + "\n")


def _read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "heatreuse-ingest-read-ahead"]


def test_naive_timestamp_late_in_a_file_names_the_row_after_earlier_chunks(
    site: Site, store_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "late_naive.csv"
    n, bad = 60_000, 45_000
    _long_csv(path, n, {bad: "2026-10-01T12:30:00,meter.heat_power_w,1000"})
    seen: list[int] = []
    with opened_store(store_url, create=True) as store:
        with pytest.raises(IngestError) as err:
            ingest_file(site, path, store, chunk_rows=10_000, progress=seen.append)
        stored = store.count_readings(site.id)
    message = str(err.value)
    assert message.startswith(f"{path}: row {bad}: naive timestamp '2026-10-01T12:30:00'")
    first_of_chunk = int(message.rsplit("rows before ", 1)[1].split()[0])
    assert 1 < first_of_chunk <= bad
    # every chunk before the bad one is stored (and reported), none after it
    assert stored == first_of_chunk - 1
    assert len(seen) >= 3
    assert not _read_ahead_threads()


class _FailingStore:
    """Delegates to a real store; the second write_readings fails."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.writes = 0

    def write_readings(self, *args: Any, **kwargs: Any) -> Any:
        self.writes += 1
        if self.writes == 2:
            raise StoreError("disk full (test)")
        return self.store.write_readings(*args, **kwargs)

    def write_quarantine(self, records: Any) -> Any:
        return self.store.write_quarantine(records)


def test_a_store_error_stops_the_import_and_its_read_ahead(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    _long_csv(path, 60_000)
    with open_store(f"sqlite:///{tmp_path / 'f.db'}", create=True) as real:
        store = _FailingStore(real)
        with pytest.raises(StoreError, match="disk full"):
            ingest_file(site, path, store, chunk_rows=10_000)
        assert store.writes == 2
        assert 0 < real.count_readings(site.id) < 60_000
    assert not _read_ahead_threads()
