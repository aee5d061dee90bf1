"""Modbus adapter: register decoding (pure) and the poller against a real pymodbus server.

The server is ``pymodbus.server.ModbusTcpServer`` with ``SimDevice``/``SimData``
on a free loopback port. The heat meter's registers are filled by pymodbus's
own FLOAT32/UINT32 encoder (big word order), so the decoder is checked against
an independent implementation; the little-word-order device is filled with
hand-computed words.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
import struct
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from heatreuse.errors import IngestError
from heatreuse.site import Site, expand_points
from heatreuse.telemetry import Ingestor, RawReading
from heatreuse.telemetry.modbus import (
    DevicePoller,
    DeviceTarget,
    ModbusPoller,
    ModbusReadError,
    RegisterSpec,
    decode_registers,
    device_targets,
    encode_point_value,
    encode_registers,
    plan_reads,
)

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- pure decoding
def test_float32_word_orders() -> None:
    # IEEE 754 binary32 of 41.5 is 0x42260000 (sign 0, exponent 132, mantissa 0x260000)
    assert encode_registers(41.5, "float32", "big") == [0x4226, 0x0000]
    assert encode_registers(41.5, "float32", "little") == [0x0000, 0x4226]
    assert decode_registers([0x4226, 0x0000], "float32", "big") == 41.5
    assert decode_registers([0x0000, 0x4226], "float32", "little") == 41.5


def test_integer_types() -> None:
    # 123456789 = 0x075BCD15
    assert encode_registers(123456789, "uint32", "big") == [0x075B, 0xCD15]
    assert decode_registers([0xCD15, 0x075B], "uint32", "little") == 123456789
    assert decode_registers([0xFFFF], "int16") == -1
    assert decode_registers([0xFFFF], "uint16") == 65535
    assert decode_registers([0xFFFF, 0xFFFE], "int32", "big") == -2
    assert encode_registers(-300, "int16") == [0xFED4]


def test_scale_and_register_spec() -> None:
    spec = RegisterSpec("meter.heat_power_w", "heat-meter", 6, "float32", "big", 1000.0)
    assert spec.decode(encode_registers(123.25, "float32")) == pytest.approx(123250.0)
    assert spec.source_key == "modbus:heat-meter:6"
    energy = RegisterSpec("meter.heat_energy_kwh", "heat-meter", 8, "uint32", "little", 0.001)
    assert energy.decode([0xCD15, 0x075B]) == pytest.approx(123456.789)


def test_decode_errors_name_type_and_count() -> None:
    with pytest.raises(IngestError, match=r"float32: expected 2 register\(s\), got 1"):
        decode_registers([1], "float32")
    with pytest.raises(IngestError, match=r"0\.\.65535"):
        decode_registers([70000], "uint16")
    with pytest.raises(IngestError, match="does not fit"):
        encode_registers(70000, "int16")


def test_nan_passes_through_for_the_pipeline() -> None:
    words = list(struct.unpack(">2H", struct.pack(">f", float("nan"))))
    assert decode_registers(words, "float32") != decode_registers(words, "float32")


def test_plan_reads_groups_contiguous_registers(site: Site) -> None:
    sp = expand_points(site)
    meter = next(t for t in device_targets(sp, "127.0.0.1", 5020) if t.device_id == "heat-meter")
    (block,) = plan_reads(meter.specs)
    assert (block.table, block.address, block.count) == ("holding", 0, 10)
    pumps = next(t for t in device_targets(sp, "127.0.0.1", 5020) if t.unit_id == 2)
    blocks = plan_reads(pumps.specs)
    assert [(b.address, b.count) for b in blocks] == [(0, 5), (10, 5)]
    split = plan_reads(meter.specs, max_registers=4)
    assert [(b.address, b.count) for b in split] == [(0, 4), (4, 4), (8, 2)]


def test_device_targets_need_a_host(site: Site) -> None:
    sp = expand_points(site)
    with pytest.raises(IngestError, match="has no host"):
        device_targets(sp)
    targets = device_targets(sp, "10.0.0.5", 5020, poll_interval_s=2.0)
    assert {(t.host, t.port, t.poll_interval_s) for t in targets} == {("10.0.0.5", 5020, 2.0)}
    assert {t.unit_id for t in targets} == {1, 2}


# --------------------------------------------------------------------------- live server
METER_VALUES = {
    "meter.supply_temp_c": 55.25,
    "meter.return_temp_c": 31.5,
    "meter.flow_m3_per_h": 2.75,
    "meter.heat_power_w": 88_500.0,  # served as 88.5 kW
    "meter.heat_energy_kwh": 18_234.567,  # served as 18234567 Wh
}


def heat_meter_device(unit_id: int = 1) -> SimDevice:
    """The default heat meter map, encoded by pymodbus itself (big word order)."""
    return SimDevice(
        id=unit_id,
        simdata=[
            SimData(0, values=[55.25, 31.5, 2.75, 88.5], datatype=DataType.FLOAT32),
            SimData(8, values=18_234_567, datatype=DataType.UINT32),
        ],
    )


def little_endian_device(unit_id: int) -> SimDevice:
    """Registers 0..3: float32 41.5 and uint32 123456789, both low word first (CDAB)."""
    words = [0x0000, 0x4226, 0xCD15, 0x075B]
    return SimDevice(id=unit_id, simdata=[SimData(0, values=words, datatype=DataType.REGISTERS)])


@contextlib.asynccontextmanager
async def modbus_server(port: int, devices: Sequence[SimDevice]) -> AsyncIterator[ModbusTcpServer]:
    server = ModbusTcpServer(list(devices), address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    try:
        yield server
    finally:
        await server.shutdown()


class ListSink:
    def __init__(self) -> None:
        self.readings: list[RawReading] = []
        self.rejects: list[tuple[Any, ...]] = []

    def ingest(self, readings: Sequence[RawReading]) -> int:
        self.readings.extend(readings)
        return len(readings)

    def reject(self, *args: Any, **kw: Any) -> None:
        self.rejects.append(args)


def test_poll_decodes_the_heat_meter_with_scale(site: Site) -> None:
    port = free_port()
    (meter,) = [t for t in device_targets(expand_points(site), "127.0.0.1", port) if t.unit_id == 1]

    async def main() -> list[RawReading]:
        async with modbus_server(port, [heat_meter_device()]):
            poller = DevicePoller(meter, ListSink(), clock=lambda: NOW)
            try:
                return await poller.poll_once()
            finally:
                await poller.close()

    readings = asyncio.run(main())
    by_point = {r.point: r for r in readings}
    assert set(by_point) == {f"modbus:heat-meter:{a}" for a in (0, 2, 4, 6, 8)}
    sp = expand_points(site)
    for point, reg in sp.register_map("heat-meter"):
        r = by_point[f"modbus:heat-meter:{reg.address}"]
        assert r.value == pytest.approx(METER_VALUES[point.id], rel=1e-9)
        assert r.source == f"modbus:127.0.0.1:{port}/1/{reg.address}"
        assert r.ts == NOW
    # the twin encodes with the same map: its registers decode to the same values
    for point, reg in sp.register_map("heat-meter"):
        words = encode_point_value(METER_VALUES[point.id], reg)
        spec = next(s for s in meter.specs if s.address == reg.address)
        assert spec.decode(words) == pytest.approx(METER_VALUES[point.id], rel=1e-6)


def test_poll_little_word_order() -> None:
    port = free_port()
    target = DeviceTarget(
        device_id="cdab-meter",
        host="127.0.0.1",
        port=port,
        unit_id=3,
        specs=(
            RegisterSpec("x.supply_temp_c", "cdab-meter", 0, "float32", "little", 1.0),
            RegisterSpec("x.heat_energy_kwh", "cdab-meter", 2, "uint32", "little", 0.001),
        ),
    )

    async def main() -> list[RawReading]:
        async with modbus_server(port, [little_endian_device(3)]):
            poller = DevicePoller(target, ListSink(), clock=lambda: NOW)
            try:
                return await poller.poll_once()
            finally:
                await poller.close()

    temp, energy = asyncio.run(main())
    assert temp.value == 41.5
    assert energy.value == pytest.approx(123456.789)


def test_undefined_address_is_isolated_quarantined_once_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    specs = (
        RegisterSpec("meter.supply_temp_c", "m", 0, "float32", "big", 1.0),
        RegisterSpec("meter.return_temp_c", "m", 2, "float32", "big", 1.0),
        RegisterSpec("meter.missing_temp_c", "m", 10, "float32", "big", 1.0),  # undefined
        RegisterSpec("meter.also_missing_temp_c", "m", 12, "float32", "big", 1.0),
    )
    target = DeviceTarget("m", "127.0.0.1", port, 1, specs, pause_between_requests_s=0.0)
    sink = ListSink()

    async def main() -> tuple[list[RawReading], list[RawReading]]:
        async with modbus_server(port, [heat_meter_device()]):
            poller = DevicePoller(target, sink, clock=lambda: NOW)
            try:
                return await poller.poll_once(), await poller.poll_once()
            finally:
                await poller.close()

    with caplog.at_level(logging.DEBUG, logger="heatreuse.telemetry.modbus"):
        first, second = asyncio.run(main())
    assert [r.value for r in first] == [55.25, 31.5]
    assert [r.value for r in second] == [55.25, 31.5]
    # one quarantine record per failing register and failure episode, not per poll
    assert len(sink.rejects) == 2
    source, raw, reason, detail, point_id = sink.rejects[0]
    assert source == f"modbus:127.0.0.1:{port}/1/10"
    assert raw == "exception_code=2" and reason == "device_exception"
    assert "exception 2 (illegal data address)" in detail and point_id == "meter.missing_temp_c"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and "holding registers 10..11" in errors[0].getMessage()
    assert any("still failing" in r.getMessage() for r in caplog.records if r.levelno == 10)


def test_unreachable_device_backs_off_logs_once_then_recovers(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    (meter,) = [t for t in device_targets(expand_points(site), "127.0.0.1", port) if t.unit_id == 1]
    target = DeviceTarget(
        meter.device_id,
        meter.host,
        meter.port,
        meter.unit_id,
        meter.specs,
        poll_interval_s=0.05,
        pause_between_requests_s=0.0,
        timeout_s=1.0,
        max_backoff_s=0.2,
    )
    sink = ListSink()

    async def main() -> DevicePoller:
        poller = DevicePoller(target, sink, clock=lambda: NOW)
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        while poller.status.consecutive_failures < 3:
            await asyncio.sleep(0.01)
        with pytest.raises(ModbusReadError, match="cannot connect"):
            await poller.poll_once()
        async with modbus_server(port, [heat_meter_device()]):
            while not sink.readings:
                await asyncio.sleep(0.01)
            stop.set()
            await asyncio.wait_for(task, 10.0)
        return poller

    with caplog.at_level(logging.DEBUG, logger="heatreuse.telemetry.modbus"):
        poller = asyncio.run(asyncio.wait_for(main(), 30.0))
    mine = [r for r in caplog.records if r.name == "heatreuse.telemetry.modbus"]
    errors = [r for r in mine if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "cannot connect" in errors[0].getMessage()
    assert any(r.levelno == logging.DEBUG and "in a row" in r.getMessage() for r in mine)
    assert any(r.levelno == logging.INFO and "recovered" in r.getMessage() for r in mine)
    assert poller.status.ok and poller.status.consecutive_failures == 0
    assert len(sink.readings) >= 5


def test_poller_feeds_the_ingestor(site: Site, sqlite_store: Any) -> None:
    port = free_port()
    targets = device_targets(expand_points(site), "127.0.0.1", port, poll_interval_s=0.05)
    ingestor = Ingestor(site, sqlite_store)

    async def main() -> None:
        # only the heat meter answers; the pump controller (unit 2) answers exception 4
        async with modbus_server(port, [heat_meter_device()]):
            poller = ModbusPoller(targets, ingestor)
            task = asyncio.create_task(poller.run())
            while sqlite_store.count_readings(site.id, "meter.heat_energy_kwh") < 2:
                await asyncio.sleep(0.02)
            poller.request_stop()
            await asyncio.wait_for(task, 10.0)
            stats = poller.stats()
            assert stats["heat-meter"]["ok"] and stats["heat-meter"]["readings"] >= 10

    asyncio.run(asyncio.wait_for(main(), 30.0))
    df = sqlite_store.read_series(
        site.id,
        ["meter.heat_power_w", "meter.heat_energy_kwh"],
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
    )
    assert df.iloc[0].tolist() == pytest.approx([88_500.0, 18_234.567])
    q = sqlite_store.list_quarantine(site.id)
    assert q and {r.reason for r in q} == {"device_exception"}
    assert all(r.source.startswith(f"modbus:127.0.0.1:{port}/2/") for r in q)
