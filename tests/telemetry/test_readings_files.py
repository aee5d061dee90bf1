"""CSV and Parquet readings files: long and wide format, refusals, chunking."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from heatreuse.errors import IngestError
from heatreuse.site import Site
from heatreuse.telemetry import Ingestor, IngestResult
from heatreuse.telemetry.files import open_readings_file

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)

LONG_CSV = """timestamp,point_id,value
2026-10-01T00:00:00Z,customer.supply_temp_c,38.5
2026-10-01T01:00:10+01:00,customer.supply_temp_c,38.6
2026-10-01T00:00:20.5Z,meter.heat_energy_kwh,18234.5
2026-10-01T00:00:30Z,pump.p-primary.status,1
2026-10-01T00:00:30Z,mqtt:loop/pressure_bar,3.1
not-a-time,customer.supply_temp_c,38.0
2026-10-01T00:00:40Z,,38.0
2026-10-01T00:00:40Z,customer.supply_temp_c,warm
2026-10-01T00:00:50Z,customer.supply_temp_c,
2026-10-01T00:01:00Z,customer.supply_temp_c,nan
2026-10-01T00:01:10Z,customer.supply_temp_c,999
"""


def _import(site: Site, store: Any, path: Path, chunk_rows: int = 500_000) -> IngestResult:
    ing = Ingestor(site, store, clock=lambda: NOW)
    f = open_readings_file(path, chunk_rows=chunk_rows)
    result = IngestResult()
    for chunk in f.chunks():
        part = ing.ingest_batch(chunk.batch)
        result = result.merge(part).merge(
            IngestResult(skipped_empty_cells=chunk.skipped_empty_cells)
        )
    return result


def test_long_csv_good_and_bad_rows(site: Site, store: Any, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(LONG_CSV)
    f = open_readings_file(path)
    assert (f.kind, f.layout, f.total_unit) == ("csv", "long", "bytes")
    res = _import(site, store, path)
    assert res.received == 11
    assert res.accepted == 5  # row 2 (+01:00) is 00:00:10Z; row 5 is a source key
    assert res.duplicates == 0
    assert dict(res.quarantined) == {
        "unparseable": 2,
        "wrong_type": 2,
        "not_finite": 1,
        "out_of_range": 1,
    }
    rows = {r.source: r for r in store.list_quarantine(site.id)}
    assert rows[f"file:{path}:6"].reason == "unparseable"
    assert rows[f"file:{path}:6"].raw_payload == "not-a-time,customer.supply_temp_c,38.0"
    assert rows[f"file:{path}:8"].raw_payload.endswith(",warm")
    assert rows[f"file:{path}:11"].reason == "out_of_range"
    frame = store.read_series(
        site.id, ["meter.heat_energy_kwh"], "2026-10-01T00:00Z", "2026-10-02T00:00Z"
    )
    assert frame.index[0] == pd.Timestamp("2026-10-01T00:00:20.5Z")


def test_reimport_is_idempotent(site: Site, store: Any, tmp_path: Path) -> None:
    path = tmp_path / "again.csv"
    path.write_text(LONG_CSV)
    first = _import(site, store, path)
    second = _import(site, store, path)
    assert second.accepted == 0
    assert second.duplicates == first.accepted + first.duplicates
    assert store.count_readings(site.id) == first.accepted


def test_wide_csv_and_empty_cells(site: Site, sqlite_store: Any, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(
        "timestamp,customer.supply_temp_c,meter.heat_power_w,no_such_point\n"
        "2026-10-01T00:00:00Z,38.5,25000,1\n"
        "2026-10-01T00:01:00Z,,26000,\n"
        "2026-10-01T00:02:00Z,38.7,lots,\n"
        "yesterday,38.9,,\n"
    )
    assert open_readings_file(path).layout == "wide"
    res = _import(site, sqlite_store, path)
    assert (res.received, res.accepted, res.skipped_empty_cells) == (7, 4, 5)
    assert dict(res.quarantined) == {"unknown_point": 1, "wrong_type": 1, "unparseable": 1}
    assert sqlite_store.list_quarantine(site.id, reason="unparseable")[0].raw_payload == (
        "yesterday,customer.supply_temp_c=38.9"
    )
    bad = sqlite_store.list_quarantine(site.id, reason="wrong_type")[0]
    assert bad.source == f"file:{path}:3"
    assert bad.raw_payload == "2026-10-01T00:02:00Z,meter.heat_power_w=lots"


def test_parquet_long_and_wide(site: Site, store: Any, tmp_path: Path) -> None:
    ts = pd.date_range("2026-10-01", periods=100, freq="10s", tz="UTC")
    long = pd.DataFrame(
        {
            "timestamp": np.repeat(ts, 2),
            "point_id": ["customer.supply_temp_c", "meter.heat_power_w"] * 100,
            "value": np.tile([38.0, 25_000.0], 100),
        }
    )
    long.to_parquet(tmp_path / "long.parquet")
    f = open_readings_file(tmp_path / "long.parquet")
    assert (f.kind, f.layout, f.total, f.total_unit) == ("parquet", "long", 200, "rows")
    assert _import(site, store, tmp_path / "long.parquet", chunk_rows=64).accepted == 200
    wide = pd.DataFrame(
        {
            "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "tank.layer_1_temp_c": np.linspace(40, 45, 100),
            "pump.p-primary.status": np.ones(100, dtype=np.int64),
        }
    )
    wide.to_parquet(tmp_path / "wide.parquet")
    res = _import(site, store, tmp_path / "wide.parquet")
    assert (res.accepted, res.quarantined_total) == (200, 0)


def test_gzip_csv_in_small_chunks(site: Site, sqlite_store: Any, tmp_path: Path) -> None:
    n = 5000
    ts = pd.date_range("2026-10-01", periods=n, freq="1s", tz="UTC")
    text = "timestamp,point_id,value\n" + "".join(
        f"{t.isoformat()},rack.tank-b.it_power_w,{20000 + i}\n" for i, t in enumerate(ts)
    )
    path = tmp_path / "power.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    f = open_readings_file(path, chunk_rows=700)
    progress = [c.progress for c in f.chunks()]
    assert len(progress) > 1
    assert progress == sorted(progress)
    assert progress[-1] == path.stat().st_size
    res = _import(site, sqlite_store, path, chunk_rows=700)
    assert res.accepted == n


def test_naive_timestamps_are_refused_naming_file_and_row(
    site: Site, sqlite_store: Any, tmp_path: Path
) -> None:
    path = tmp_path / "naive.csv"
    path.write_text(
        "timestamp,point_id,value\n"
        "2026-10-01T00:00:00Z,customer.supply_temp_c,38\n"
        "2026-10-01T00:00:10,customer.supply_temp_c,38\n"
    )
    with pytest.raises(IngestError, match=rf"{path}: row 2: naive timestamp"):
        _import(site, sqlite_store, path)
    assert sqlite_store.count_readings(site.id) == 0
    df = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-10-01", periods=3, freq="10s"),
            "point_id": "customer.supply_temp_c",
            "value": 38.0,
        }
    )
    df.to_parquet(tmp_path / "naive.parquet")
    with pytest.raises(IngestError, match=r"naive\.parquet: row 1: .*naive timestamps"):
        _import(site, sqlite_store, tmp_path / "naive.parquet")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "missing.csv: no such file"),
        ("readings.xlsx", b"PK", "unknown file type '.xlsx'"),
        ("nots.csv", b"time,point_id,value\n1,2,3\n", "no 'timestamp' column"),
        (
            "extra.csv",
            b"timestamp,point_id,value,unit\n",
            r"long format needs exactly the columns .* unexpected \['unit'\]",
        ),
        ("bad.parquet", b"this is not parquet", "bad.parquet: cannot read as Parquet"),
        ("dup.csv", b"timestamp,a_c,a_c\n", r"column\(s\) \['a_c'\] appear twice"),
    ],
)
def test_unreadable_files_name_the_file(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(IngestError, match=message):
        open_readings_file(path)


def test_broken_csv_mid_way_names_file(site: Site, sqlite_store: Any, tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        "timestamp,point_id,value\n2026-10-01T00:00:00Z,customer.supply_temp_c,38,extra\n"
    )
    with pytest.raises(
        IngestError, match=r"ragged\.csv: cannot read (as )?CSV.*Expected 3 columns, got 4"
    ):
        _import(site, sqlite_store, path)


def test_parquet_tz_aware_timestamp_column(site: Site, sqlite_store: Any, tmp_path: Path) -> None:
    table = pa.table(
        {
            "timestamp": pa.array(
                [1_790_000_000_000_000, 1_790_000_010_000_000], type=pa.timestamp("us", "UTC")
            ),
            "point_id": ["loop.pressure_bar", "loop.pressure_bar"],
            "value": [3.0, 3.1],
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    res = _import(site, sqlite_store, tmp_path / "p.parquet")
    assert res.accepted == 2


def _long_csv(path: Path, n: int, bad_rows: dict[int, str] | None = None) -> None:
    """A long CSV of n rows (1-based data row r -> line r + 1); bad_rows replaces lines."""
    ts = pd.date_range("2026-10-01", periods=n, freq="1s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [f"{t},meter.heat_power_w,{1000 + i % 500}" for i, t in enumerate(ts)]
    for row, line in (bad_rows or {}).items():
        lines[row - 1] = line
    path.write_text("timestamp,point_id,value\n" + "\n".join(lines) + "\n")


def test_csv_chunks_ramp_up_to_chunk_rows(site: Site, sqlite_store: Any, tmp_path: Path) -> None:
    path = tmp_path / "ramp.csv"
    n = 60_000
    bad = 40_000  # in the fourth chunk or later
    _long_csv(path, n, {bad: "2026-10-02T00:00:00Z,meter.heat_power_w,lots"})
    chunks = list(open_readings_file(path, chunk_rows=10_000).chunks())
    sizes = [len(c.batch) for c in chunks]
    assert sum(sizes) == n
    # an eighth, a quarter, half, then full chunks (CSV chunks are approximate)
    assert sizes[0] < sizes[1] < sizes[2] < sizes[3]
    assert sizes[0] < 10_000 / 4
    assert max(sizes) < 2 * 10_000
    progress = [c.progress for c in chunks]
    assert progress == sorted(progress)
    assert progress[-1] == path.stat().st_size
    rows = np.concatenate([np.asarray(c.batch.rows) for c in chunks])
    assert rows.tolist() == list(range(1, n + 1))
    res = _import(site, sqlite_store, path, chunk_rows=10_000)
    assert (res.accepted, dict(res.quarantined)) == (n - 1, {"wrong_type": 1})
    q = sqlite_store.list_quarantine(site.id)[0]
    assert q.source == f"file:{path}:{bad}"
    assert q.raw_payload == "2026-10-02T00:00:00Z,meter.heat_power_w,lots"


def test_broken_csv_after_some_blocks_yields_the_rows_before(tmp_path: Path) -> None:
    path = tmp_path / "ragged_late.csv"
    _long_csv(path, 60_000, {50_000: "2026-10-02T00:00:00Z,meter.heat_power_w,1,extra"})
    seen = 0
    with pytest.raises(IngestError, match=r"cannot read CSV after data row (\d+)") as err:
        for chunk in open_readings_file(path, chunk_rows=10_000).chunks():
            seen += len(chunk.batch)
    assert 0 < seen < 50_000
    assert f"after data row {seen}:" in str(err.value)
    assert "Expected 3 columns, got 4" in str(err.value)
