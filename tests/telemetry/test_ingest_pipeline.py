"""The validation and quarantine pipeline against both store backends."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import numpy as np
import pytest

from heatreuse.errors import IngestError
from heatreuse.site import Site
from heatreuse.store import QuarantineReason
from heatreuse.telemetry import (
    REASONS,
    Ingestor,
    RawReading,
    ReadingBatch,
    format_ts_us,
    parse_timestamp_us,
)

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
T0 = "2026-10-01T00:00:00Z"


def _ingestor(site: Site, store: Any, **kw: Any) -> Ingestor:
    return Ingestor(site, store, clock=lambda: NOW, **kw)


def _r(point: str, value: Any, ts: Any = T0, source: str = "test") -> RawReading:
    return RawReading(point=point, ts=ts, value=value, source=source)


def test_every_reason_is_quarantined_with_raw_source_and_reason(site: Site, store: Any) -> None:
    ing = _ingestor(site, store)
    good = _r("customer.supply_temp_c", 38.5)
    batch = [
        good,
        _r("no.such_point_c", 1.0, source="mqtt:x/y"),  # unknown_point
        _r("customer.supply_temp_c", 1.0, ts="yesterday"),  # unparseable
        _r("customer.supply_temp_c", 1.0, ts="2026-10-01T00:00:00"),  # naive: unparseable
        _r("customer.return_temp_c", "31.0"),  # wrong_type (text)
        _r("customer.return_temp_c", None, ts="2026-10-01T00:00:10Z"),  # wrong_type (null)
        _r("loop.pressure_bar", True),  # wrong_type (bool for a measurement)
        _r("pump.p-primary.status", 0.5),  # wrong_type (status not 0/1)
        _r("meter.heat_power_w", float("nan")),  # not_finite
        _r("meter.flow_m3_per_h", float("inf")),  # not_finite
        _r("hx.secondary_supply_temp_c", 150.0),  # out_of_range
        _r("hx.secondary_supply_temp_c", 40.0, ts="2026-11-01T12:06:00Z"),  # ts_future
        _r("hx.secondary_supply_temp_c", 40.0, ts="2025-08-31T21:59:59Z"),  # ts_before_site
        _r("customer.supply_temp_c", 39.0),  # duplicate_conflict (in batch)
        _r("customer.supply_temp_c", 38.5),  # exact duplicate (in batch)
        _r("meter.heat_energy_kwh", 10**400),  # out_of_range (beyond float)
    ]
    res = ing.ingest(batch)
    assert res.received == len(batch)
    assert res.accepted == 1
    assert res.duplicates == 1
    assert dict(res.quarantined) == {
        "unknown_point": 1,
        "unparseable": 2,
        "wrong_type": 4,
        "not_finite": 2,
        "out_of_range": 2,
        "ts_future": 1,
        "ts_before_site": 1,
        "duplicate_conflict": 1,
    }
    assert res.accepted + res.duplicates + res.quarantined_total == res.received
    rows = store.list_quarantine(site.id, limit=100)
    assert len(rows) == res.quarantined_total
    unknown = next(r for r in rows if r.reason == "unknown_point")
    assert unknown.source == "mqtt:x/y"
    assert "no.such_point_c" in unknown.raw_payload
    rng = next(r for r in rows if r.reason == "out_of_range" and "150" in r.raw_payload)
    assert rng.point_id == "hx.secondary_supply_temp_c"
    assert "150" in rng.detail and "-10..120 degC" in rng.detail
    conflict = next(r for r in rows if r.reason == "duplicate_conflict")
    assert "stored value 38.5" in conflict.detail
    assert store.count_readings(site.id) == 1
    assert {r.reason for r in rows} <= set(REASONS)
    # the pipeline's reasons are the store's reason codes (``other`` is the store's catch-all)
    assert set(REASONS) == {r.value for r in QuarantineReason} - {"other"}


def test_same_batch_twice_is_stored_once(site: Site, store: Any) -> None:
    ing = _ingestor(site, store)
    batch = [
        _r("rack.tank-a.it_power_w", 25_000.0 + i, ts=f"2026-10-01T00:{i:02d}:00Z")
        for i in range(30)
    ]
    first = ing.ingest(batch)
    second = ing.ingest(batch)
    assert (first.accepted, first.duplicates) == (30, 0)
    assert (second.accepted, second.duplicates, second.quarantined_total) == (0, 30, 0)
    assert store.count_readings(site.id, "rack.tank-a.it_power_w") == 30
    changed = [_r("rack.tank-a.it_power_w", 1.0, ts="2026-10-01T00:05:00Z", source="late")]
    third = ing.ingest(changed)
    assert third.quarantined == {"duplicate_conflict": 1}
    row = store.list_quarantine(site.id, reason="duplicate_conflict")[0]
    assert row.source == "late"
    assert "stored value 25005.0" in row.detail
    frame = store.read_series(site.id, ["rack.tank-a.it_power_w"], T0, "2026-10-02T00:00Z")
    assert frame["rack.tank-a.it_power_w"].iloc[5] == 25_005.0  # the first value wins


def test_timestamps_as_text_epoch_and_datetime(site: Site, sqlite_store: Any) -> None:
    ing = _ingestor(site, sqlite_store)
    when = dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    res = ing.ingest(
        [
            _r("loop.pressure_bar", 3.0, ts=when),  # = 00:00Z
            _r("loop.pressure_bar", 3.0, ts=when.timestamp()),  # epoch seconds: duplicate
            _r("loop.pressure_bar", 3.1, ts="2026-10-01T00:00:00.250+00:00"),
            _r("pump.p-primary.status", True),
            _r("pump.p-secondary.status", 0),
        ]
    )
    assert (res.accepted, res.duplicates, res.quarantined_total) == (4, 1, 0)
    frame = sqlite_store.read_series(site.id, ["loop.pressure_bar"], T0, "2026-10-01T00:01Z")
    assert [t.isoformat() for t in frame.index] == [
        "2026-10-01T00:00:00+00:00",
        "2026-10-01T00:00:00.250000+00:00",
    ]


def test_parse_timestamp_never_guesses() -> None:
    assert parse_timestamp_us("1970-01-01T00:00:01Z") == 1_000_000
    assert parse_timestamp_us("1970-01-01T01:00:01+01:00") == 1_000_000
    assert parse_timestamp_us(1.5) == 1_500_000
    assert format_ts_us(1_500_000) == "1970-01-01T00:00:01.500000Z"
    for bad in ("1970-01-01T00:00:01", dt.datetime(2026, 1, 1), "soon", None, True, float("nan")):
        with pytest.raises(ValueError):
            parse_timestamp_us(bad)


def test_clock_and_start_are_configurable(site: Site, sqlite_store: Any) -> None:
    early = "2025-06-01T00:00:00Z"  # before the example's commissioning (2025-09-01)
    ing = _ingestor(site, sqlite_store)
    assert ing.ingest([_r("loop.pressure_bar", 3.0, ts=early)]).quarantined == {"ts_before_site": 1}
    backfill = _ingestor(
        site, sqlite_store, not_before=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), max_future_s=0
    )
    assert backfill.ingest([_r("loop.pressure_bar", 3.0, ts=early)]).accepted == 1
    just_after = (NOW + dt.timedelta(seconds=1)).isoformat()
    assert backfill.ingest([_r("loop.pressure_bar", 3.0, ts=just_after)]).quarantined == {
        "ts_future": 1
    }
    with pytest.raises(IngestError, match="time zone"):
        _ingestor(site, sqlite_store, not_before=dt.datetime(2025, 1, 1))


def test_counters_and_prometheus_text(site: Site, sqlite_store: Any) -> None:
    ing = _ingestor(site, sqlite_store)
    ing.ingest([_r("loop.pressure_bar", 3.0), _r("loop.pressure_bar", 3.0), _r("x", 1.0)])
    ing.reject("mqtt:heatreuse/pool/garbage", "{not json", detail="bad JSON")
    c = ing.counters()
    assert (c["received"], c["accepted"], c["duplicates"]) == (4, 1, 1)
    assert c["quarantined"]["unknown_point"] == 1
    assert c["quarantined"]["unparseable"] == 1
    assert c["quarantined_total"] == 2
    text = ing.prometheus_text()
    assert "# TYPE heatreuse_ingest_readings_total counter" in text
    assert (
        'heatreuse_ingest_readings_total{site="pool-potsdam",outcome="accepted",reason=""} 1'
        in text
    )
    assert (
        'heatreuse_ingest_readings_total{site="pool-potsdam",outcome="quarantined",'
        'reason="unparseable"} 1' in text
    )
    rows = sqlite_store.list_quarantine(site.id, reason="unparseable")
    assert rows[0].raw_payload == "{not json"
    with pytest.raises(IngestError, match="unknown quarantine reason"):
        ing.reject("x", "y", reason="because")


def test_threads_share_one_ingestor(site: Site, store: Any) -> None:
    ing = _ingestor(site, store)
    base = parse_timestamp_us(T0)

    def work(k: int) -> None:
        for b in range(5):
            n = 200
            ts = base + (np.arange(n, dtype=np.int64) + (k * 5 + b) * n) * 1_000_000
            keys = np.array(["meter.heat_power_w"] * n, dtype=object)
            ing.ingest_batch(
                ReadingBatch(point_keys=keys, ts_us=ts, values=np.full(n, 1000.0), source=f"t{k}")
            )

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c = ing.counters()
    assert (c["batches"], c["received"], c["accepted"]) == (20, 4000, 4000)
    assert store.count_readings(site.id, "meter.heat_power_w") == 4000


def test_columnar_batch_with_rows_labels_sources(site: Site, sqlite_store: Any) -> None:
    ing = _ingestor(site, sqlite_store)
    ts = np.full(3, parse_timestamp_us(T0), dtype=np.int64)
    res = ing.ingest_batch(
        ReadingBatch(
            point_keys=np.array(["file:meter.heat_power_w", "mqtt:nope", "loop.pressure_bar"]),
            ts_us=ts,
            values=np.array([1000.0, 1.0, -5.0]),
            source="file:/data/x.csv",
            rows=np.array([7, 8, 9]),
        )
    )
    assert res.accepted == 1
    rows = {r.reason: r for r in sqlite_store.list_quarantine(site.id)}
    assert rows["unknown_point"].source == "file:/data/x.csv:8"
    assert rows["out_of_range"].source == "file:/data/x.csv:9"
    assert '"value": -5.0' in rows["out_of_range"].raw_payload


class _NoStore:
    """A store that must not be touched."""

    def write_readings(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("check_batch wrote readings")

    def write_quarantine(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("check_batch wrote quarantine")


def test_check_batch_touches_no_store_and_store_checked_finishes_it(
    site: Site, sqlite_store: Any
) -> None:
    ts0 = parse_timestamp_us(T0)
    batch = ReadingBatch(
        point_keys=np.array(
            ["meter.heat_power_w", "meter.heat_power_w", "meter.heat_power_w", "mqtt:nope"],
            dtype=object,
        ),
        ts_us=np.array([ts0, ts0 + 10_000_000, ts0, ts0], dtype=np.int64),
        values=np.array([1000.0, np.nan, 1001.0, 1.0]),
        source="file:/data/y.csv",
        rows=np.array([1, 2, 3, 4]),
    )
    checked = _ingestor(site, _NoStore()).check_batch(batch)
    assert checked.reason.tolist() == [0, 4, 8, 2]  # ok, not_finite, conflict, unknown
    assert checked.first_values == {2: 1000.0}
    ing = _ingestor(site, sqlite_store)
    res = ing.store_checked(checked)
    assert (res.received, res.accepted, res.duplicates) == (4, 1, 0)
    assert dict(res.quarantined) == {
        "not_finite": 1,
        "duplicate_conflict": 1,
        "unknown_point": 1,
    }
    assert checked.reason.tolist() == [0, 4, 8, 2]  # unchanged by storing
    conflict = sqlite_store.list_quarantine(site.id, reason="duplicate_conflict")[0]
    assert conflict.source == "file:/data/y.csv:3"
    assert "stored value 1000.0, new value 1001.0" in conflict.detail
    assert ing.counters()["batches"] == 1
    # the same batch again: the store (not the check) finds the duplicate
    again = ing.store_checked(ing.check_batch(batch))
    assert (again.accepted, again.duplicates) == (0, 1)


def test_repeated_keys_and_timestamps_are_judged_for_every_reading(
    site: Site, sqlite_store: Any
) -> None:
    """A batch names each point and instant many times (the checks run once per distinct
    text): every reading still gets its own verdict, detail and raw text."""
    ing = _ingestor(site, sqlite_store)
    batch = [
        _r("hx.secondary_supply_temp_c", 41.0, ts="2026-10-01T00:00:00Z"),
        _r("hx.secondary_return_temp_c", 33.0, ts="2026-10-01T00:00:00Z"),
        _r("hx.secondary_supply_temp_c", 41.5, ts="soon"),
        _r("hx.secondary_return_temp_c", 33.5, ts="soon"),
        _r("no.such_point_c", 1.0),
        _r("no.such_point_c", 2.0, ts="2026-10-01T00:00:10Z"),
        _r("pump.p-primary.status", True),
        _r("pump.p-primary.status", 0.5, ts="2026-10-01T00:00:10Z"),
        _r("hx.secondary_supply_temp_c", True, ts="2026-10-01T00:00:20Z"),
    ]
    res = ing.ingest(batch)
    assert (res.received, res.accepted) == (9, 3)
    assert res.quarantined == {"unparseable": 2, "unknown_point": 2, "wrong_type": 2}
    bad_ts = sqlite_store.list_quarantine(site.id, reason="unparseable")
    assert sorted(q.detail.split(":")[0] for q in bad_ts) == [
        "hx.secondary_return_temp_c",
        "hx.secondary_supply_temp_c",
    ]
    assert all("soon" in q.raw_payload for q in bad_ts)
    wrong = sqlite_store.list_quarantine(site.id, reason="wrong_type")
    assert sorted(q.raw_payload for q in wrong) == sorted(
        [
            '{"point_id": "pump.p-primary.status", "ts": "2026-10-01T00:00:10Z", "value": 0.5}',
            '{"point_id": "hx.secondary_supply_temp_c", "ts": "2026-10-01T00:00:20Z", '
            '"value": true}',
        ]
    )
