"""Hostile input through the ingest pipeline: refused with the field named, never a stall.

Real stores on both backends (SQLite file, own PostgreSQL schema).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from heatreuse.errors import IngestError, StoreError
from heatreuse.rawtext import MAX_RAW_PAYLOAD_BYTES, parse_capped
from heatreuse.site import Site
from heatreuse.telemetry import Ingestor, RawReading
from heatreuse.telemetry.edge import EdgeBuffer, read_rejects
from heatreuse.telemetry.mqtt import TopicLayout, parse_message
from heatreuse.telemetry.validate import parse_timestamp_us, reading_field_problems

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
T_OK = "2026-10-01T00:00:00Z"
LAYOUT = TopicLayout("pool-potsdam")


def _ingestor(site: Site, store: Any) -> Ingestor:
    return Ingestor(site, store, clock=lambda: NOW)


@pytest.mark.parametrize(
    "ts,expect",
    [
        ("2026-10-01T00:00:00Z\x00", "U+0000 at position 20"),
        ("2026-10-01T00:00:00Z\x00garbage", "U+0000"),
        ("2026-10-01T00:00\n:00Z", "U+000A"),
        ("\ud800", "lone surrogate U+D800"),
        ("2026-10-01T00:00:00Z" + " " * 100, "at most 64"),
        ("2026-10-01T00:00:00Q", "contains 'Q'"),
        ("２０２６-10-01T00:00:00Z", "contains '２'"),
    ],
)
def test_timestamps_with_control_characters_or_junk_are_refused(ts: str, expect: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601") as err:
        parse_timestamp_us(ts)
    assert expect in str(err.value)
    str(err.value).encode("utf-8")  # the message itself is storable


def test_strict_timestamps_still_read_iso_with_offset() -> None:
    assert parse_timestamp_us(" 2026-10-01T02:00:00+02:00 ") == parse_timestamp_us(T_OK)
    assert parse_timestamp_us("2026-10-01 00:00:00.5Z") == parse_timestamp_us(T_OK) + 500_000


def test_hostile_fields_are_quarantined_with_the_field_named(site: Site, store: Any) -> None:
    ing = _ingestor(site, store)
    result = ing.ingest(
        [
            RawReading("meter.heat_power_w", T_OK + "\x00", 1.0, "mqtt:a"),
            RawReading("\ud800", T_OK, 1.0, "mqtt:b"),
            RawReading("p" * 10_000_000, T_OK, 1.0, "http:c"),
            RawReading("meter.heat_power_w", "\ud800", 1.0, "mqtt:d", raw='{"ts": "\\ud800"}'),
            RawReading("meter.heat_power_w", T_OK, 25_000.0, "mqtt:e"),
        ]
    )
    assert (result.accepted, result.quarantined) == (1, {"unparseable": 4})
    rows = {r.source: r for r in store.list_quarantine(site.id)}
    assert "meter.heat_power_w: ts:" in rows["mqtt:a"].detail
    assert "U+0000" in rows["mqtt:a"].detail
    assert rows["mqtt:b"].detail.startswith("point_id:") and "U+D800" in rows["mqtt:b"].detail
    assert rows["mqtt:b"].point_id is None
    long = rows["http:c"]
    assert long.detail.startswith("point_id:") and "10,000,000 characters" in long.detail
    assert len(str(long.raw_payload)) < MAX_RAW_PAYLOAD_BYTES + 200
    capped = parse_capped(str(long.raw_payload))
    assert capped is not None and capped.size_bytes > 10_000_000
    assert rows["mqtt:d"].raw_payload == '{"ts": "\\ud800"}'
    assert store.count_readings(site.id) == 1


def test_mqtt_surrogate_payloads_reach_quarantine(site: Site, store: Any) -> None:
    ing = _ingestor(site, store)
    point = parse_message(
        LAYOUT, LAYOUT.point_topic("hx/heat_power_w"), b'{"ts": "\\ud800", "value": 1}'
    )
    batch = parse_message(
        LAYOUT,
        LAYOUT.batch_topic,
        b'{"readings": [{"point_id": "\\ud800", "ts": "2026-10-01T00:00Z", "value": 1},'
        b' {"point_id": "hx.heat_power_w", "ts": "2026-10-01T00:00Z", "value": 1}]}',
    )
    result = ing.ingest([*point.readings, *batch.readings])
    assert (result.accepted, result.quarantined) == (1, {"unparseable": 2})


class PoisonStore:
    """A real store whose ``write_readings`` raises a data error for one value.

    Stands in for any store error that is about one reading, not the store
    (an encoding the driver refuses, a constraint): not a StoreError.
    """

    def __init__(self, inner: Any, poison: float, quarantine_fails: bool = False) -> None:
        self.inner = inner
        self.poison = poison
        self.quarantine_fails = quarantine_fails
        self.write_calls = 0

    def write_readings(self, site_id: str, point_ids: Any, ts_us: Any, values: Any) -> Any:
        self.write_calls += 1
        if np.any(np.asarray(values) == self.poison):
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return self.inner.write_readings(site_id, point_ids, ts_us, values)

    def write_quarantine(self, records: Sequence[Any]) -> Any:
        if self.quarantine_fails:
            raise OSError("test: quarantine table unwritable too")
        return self.inner.write_quarantine(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_failing_reading_is_isolated_and_the_rest_of_its_batch_stored(
    site: Site, store: Any
) -> None:
    poisoned = PoisonStore(store, poison=666.0)
    ing = _ingestor(site, poisoned)
    readings = [
        RawReading("meter.heat_power_w", f"2026-10-01T00:{k // 60:02d}:{k % 60:02d}Z", v, "t")
        for k, v in enumerate([1000.0 + k for k in range(40)] + [666.0] + [2000.0] * 23)
    ]
    result = ing.ingest(readings)
    assert result.received == 64
    assert result.accepted == 63
    assert result.quarantined == {"store_refused": 1}
    assert store.count_readings(site.id) == 63
    (dead,) = store.list_quarantine(site.id, reason="store_refused")
    assert dead.point_id == "meter.heat_power_w" and dead.ts_us is not None
    assert "UnicodeEncodeError" in dead.detail and "isolated" in dead.detail
    assert json.loads(str(dead.raw_payload))["value"] == 666.0
    assert poisoned.write_calls <= 2 * 7 + 1  # bisection, not one call per reading
    assert ing.counters()["quarantined"]["store_refused"] == 1


def test_when_quarantine_fails_too_the_error_is_raised_and_nothing_acknowledged(
    site: Site, sqlite_store: Any
) -> None:
    ing = _ingestor(site, PoisonStore(sqlite_store, poison=666.0, quarantine_fails=True))
    with pytest.raises(UnicodeEncodeError):
        ing.ingest(
            [
                RawReading("meter.heat_power_w", T_OK, 666.0, "t"),
                RawReading("meter.heat_power_w", "2026-10-01T00:00:10Z", 1.0, "t"),
            ]
        )
    # the store is taken to be down: raised before the other half, the caller retries all
    # (a half stored before would come back as a duplicate: nothing lost or doubled)
    assert sqlite_store.count_readings(site.id) == 0
    assert sqlite_store.list_quarantine(site.id) == []


def test_a_store_outage_is_raised_not_isolated(site: Site, sqlite_store: Any) -> None:
    class Down(PoisonStore):
        def write_readings(self, *a: Any, **kw: Any) -> Any:
            self.write_calls += 1
            raise StoreError("test: database is locked")

    down = Down(sqlite_store, poison=0.0)
    ing = _ingestor(site, down)
    with pytest.raises(StoreError):
        ing.ingest([RawReading("meter.heat_power_w", T_OK, float(k), "t") for k in range(8)])
    assert down.write_calls == 1
    assert sqlite_store.list_quarantine(site.id) == []


def test_reading_field_problems_name_the_field() -> None:
    assert reading_field_problems("hx.heat_power_w", T_OK, 1.0) == []
    assert reading_field_problems("hx.heat_power_w", "yesterday", "hot") == []
    fields = [f for f, _ in reading_field_problems("p\x00", "\ud800", "v" * 100)]
    assert fields == ["point_id", "ts", "value"]
    assert reading_field_problems("hx.heat_power_w", T_OK, [1, 2]) == []  # wrong_type later
    ((field, problem),) = reading_field_problems("hx.heat_power_w", T_OK, list(range(10_000)))
    assert field == "value" and "JSON list of 58,890 characters" in problem


def test_edge_keeps_hostile_readings_and_caps_rejects(tmp_path: Any) -> None:
    buf = EdgeBuffer(tmp_path / "edge.db", synchronous="NORMAL")
    try:
        n = buf.ingest(
            [
                RawReading("hx.heat_power_w", T_OK, 1.0, "mqtt:ok"),
                RawReading("\ud800", T_OK, 1.0, "mqtt:bad-point", raw='{"point_id": "\\ud800"}'),
                RawReading("hx.heat_power_w", T_OK + "\x00", 1.0, "mqtt:nul"),
            ]
        )
        assert n == 1 and buf.pending() == 1
        buf.reject("mqtt:big", "x" * 10_000_000, "unparseable", "d\x00")
        buf.reject("mqtt:bin", b"\xff\x00", "unparseable", "not UTF-8")
    finally:
        buf.close()
    total, rows = read_rejects(tmp_path / "edge.db")
    assert total == 4
    by_source = {r.source: r for r in rows}
    assert "point_id:" in by_source["mqtt:bad-point"].detail
    assert "ts:" in by_source["mqtt:nul"].detail
    big = parse_capped(by_source["mqtt:big"].raw)
    assert big is not None and big.size_bytes == 10_000_000 and big.truncated
    assert by_source["mqtt:big"].detail == "d\\x00"
    assert "\\xff\\x00" in by_source["mqtt:bin"].raw


def test_a_csv_with_nul_characters_is_quarantined_not_a_crash(
    site: Site, store: Any, tmp_path: Any
) -> None:
    from heatreuse.services.ingest import ingest_file

    path = tmp_path / "hostile.csv"
    path.write_bytes(
        b"timestamp,point_id,value\n"
        b"2026-10-01T00:00:00Z,meter.heat_power_w,1000\n"
        b"2026-10-01T00:00:10Z\x00,meter.heat_power_w,1000\n"
        b"2026-10-01T00:00:20Z,meter\x00.heat_power_w,1000\n"
    )
    report = ingest_file(site, path, store, ingestor=_ingestor(site, store))
    assert report.result.accepted == 1 and report.result.quarantined_total == 2
    rows = store.list_quarantine(site.id)
    assert {r.reason for r in rows} == {"unparseable", "unknown_point"}
    for row in rows:  # PostgreSQL refuses NUL in TEXT: kept escaped
        assert "\x00" not in str(row.raw_payload) + (row.point_id or "") + row.detail
    assert any(r.point_id == "meter\\x00.heat_power_w" for r in rows)
    # a file that is not UTF-8 is refused whole, naming the row (exit 2 from the CLI)
    path.write_bytes(b"timestamp,point_id,value\n2026-10-01T00:00:00Z,\xed\xa0\x80,1\n")
    with pytest.raises(IngestError, match=r"hostile\.csv.*Row #2.*invalid UTF8"):
        ingest_file(site, path, store, ingestor=_ingestor(site, store))
