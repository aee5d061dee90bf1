"""A real heat meter's register map: input registers, low word first, unit-code registers.

The meter is a plain ``pymodbus`` server (``SimDevice`` with an action callback) on a
free loopback port whose words the test computes with :mod:`struct` (independent of
the encoder under test), so a unit switch on the "device" is a change of two numbers
here. Readings go through the real :class:`~heatreuse.telemetry.Ingestor` into a
SQLite store.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from heatreuse.errors import SiteConfigError
from heatreuse.site import Site, expand_points, load_site_text
from heatreuse.telemetry import Ingestor, PointRegistry
from heatreuse.telemetry.modbus import (
    DevicePoller,
    DeviceTarget,
    RegisterSpec,
    device_targets,
    implausible_reason,
)
from heatreuse.telemetry.modbus_server import ModbusTwinServer
from heatreuse.units import unit_factor

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)

#: The meter's map, as its manual would give it: input registers, float32 CDAB, a unit
#: code for energy (input 40) and one for power (input 41).
METER_POINTS = """
points:
  unit_code_tables:
    acme_mc603:
      energy: [[0, Wh], [1, kWh], [2, MWh], [3, GJ]]
      power: [[0, W], [1, kW]]
  modbus_devices:
    - {id: heat-meter, kind: acme_mc603, unit_id: 1, word_order: little,
       unit_code_interval_s: 300}
  entries:
    - id: meter.supply_temp_c
      source: {modbus: {device: heat-meter, table: input, address: 0, unit: degC}}
    - id: meter.return_temp_c
      source: {modbus: {device: heat-meter, table: input, address: 2, unit: degC}}
    - id: meter.flow_m3_per_h
      source: {modbus: {device: heat-meter, table: input, address: 4, unit: m3/h}}
    - id: meter.heat_power_w
      source:
        modbus: {device: heat-meter, table: input, address: 6, unit: kW,
                 unit_code: {address: 41, table: input, codes: power}}
    - id: meter.heat_energy_kwh
      rollover_value: 10000000000
      source:
        modbus: {device: heat-meter, table: input, address: 8, unit: kWh,
                 unit_code: {address: 40, table: input, codes: energy}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def site_with(points_yaml: str) -> Site:
    return load_site_text(EXAMPLE.read_text() + "\n" + points_yaml, "meter-test.yaml")


def cdab(value: float) -> list[int]:
    """float32, low word first (independent of src)."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [lo, hi]


def abcd(value: float) -> list[int]:
    return list(struct.unpack(">HH", struct.pack(">f", value)))


class Meter:
    """Input registers of a heat meter; ``words`` may be changed while it serves."""

    def __init__(self, energy_kwh: float = 18_234.5, code: int = 1) -> None:
        self.words: dict[int, int] = {}
        self.set(55.25, 31.5, 2.75, 88.5, energy_kwh, code)

    def set(
        self,
        supply_c: float,
        return_c: float,
        flow: float,
        power_kw: float,
        energy_kwh: float,
        energy_code: int,
        order: Any = cdab,
    ) -> None:
        per_code = {0: 1000.0, 1: 1.0, 2: 0.001, 3: 0.0036}  # kWh -> Wh, kWh, MWh, GJ
        energy_raw = energy_kwh * per_code.get(energy_code, 1.0)
        for addr, value in (
            (0, supply_c),
            (2, return_c),
            (4, flow),
            (6, power_kw),
            (8, energy_raw),
        ):
            self.words[addr], self.words[addr + 1] = order(value)
        self.words[40] = energy_code
        self.words[41] = 1  # power in kW

    def device(self, unit_id: int = 1) -> SimDevice:
        async def action(
            function_code: int,
            start_address: int,
            address: int,
            count: int,
            registers: list[int],
            set_values: Any,
        ) -> Any:
            if function_code != 4 or set_values is not None:  # input registers only
                return ExcCodes.ILLEGAL_ADDRESS
            for a in range(address, address + count):
                registers[a - start_address] = self.words[a]
            return None

        return SimDevice(
            unit_id,
            simdata=[
                SimData(0, values=[0] * 10, datatype=DataType.REGISTERS),
                SimData(40, values=[0, 0], datatype=DataType.REGISTERS),
            ],
            action=action,
        )


@contextlib.asynccontextmanager
async def serving(port: int, device: SimDevice) -> AsyncIterator[None]:
    server = ModbusTcpServer([device], address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    try:
        yield
    finally:
        await server.shutdown()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def meter_site() -> Site:
    return site_with(METER_POINTS)


# --------------------------------------------------------------------------- pure parts
def test_unit_factors() -> None:
    assert unit_factor("MWh", "kWh") == 1000.0
    assert unit_factor("Wh", "kWh") == pytest.approx(0.001)
    assert unit_factor("GJ", "kWh") == pytest.approx(277.7777778)
    assert unit_factor("kW", "W") == 1000.0
    assert unit_factor("degC", "degC") == 1.0
    with pytest.raises(ValueError, match=r"\(energy\) to .W. \(power\)"):
        unit_factor("kWh", "W")
    with pytest.raises(ValueError, match="'degF' is not one of"):
        unit_factor("degF", "degC")


def test_implausible_decodes_are_named_with_the_other_word_order() -> None:
    temp = RegisterSpec(
        "meter.supply_temp_c",
        "m",
        0,
        "float32",
        "big",
        1.0,
        min_value=-10,
        max_value=120,
        point_unit="degC",
    )
    # 55.25 degC written low word first and read high word first: 2.4e-41, subnormal, and
    # inside -10..120 (the range check alone stores it)
    words = cdab(55.25)
    raw = struct.unpack(">f", struct.pack(">HH", *words))[0]
    assert 0 < raw < 1e-38 and -10 <= raw <= 120
    detail = implausible_reason(temp, words)
    assert detail is not None
    assert "subnormal" in detail and "with word order little it reads 55.25" in detail
    # the right word order passes; so do zero and negative zero
    assert implausible_reason(temp, abcd(55.25)) is None
    assert implausible_reason(temp, [0, 0]) is None
    assert implausible_reason(temp, [0x8000, 0]) is None
    # NaN and infinity never are readings
    assert "not a number" in str(implausible_reason(temp, abcd(math.nan)))
    assert "infinite" in str(implausible_reason(temp, abcd(math.inf)))
    # a normal but vanishing number: 31.51 written CDAB reads 1.3e-26
    vanishing = implausible_reason(temp, cdab(31.51))
    assert vanishing is not None and "vanishing" in vanishing and "reads 31.51 " in vanishing
    # out of range, but the swapped reading is in range: a word-order problem
    power = RegisterSpec(
        "meter.heat_power_w", "m", 6, "float32", "big", 1000.0, "holding", 0.0, 2e5, "W"
    )
    assert struct.unpack(">f", struct.pack(">HH", *cdab(100.3)))[0] < 0  # -1.6e-23 kW
    swapped = implausible_reason(power, cdab(100.3))
    assert swapped is not None and "with word order little it reads 100300 W" in swapped
    # out of range both ways: left to the range check (out_of_range)
    assert implausible_reason(temp, abcd(500.0)) is None
    # integers are not judged here
    counter = RegisterSpec("meter.heat_energy_kwh", "m", 8, "uint32", "big", 0.001)
    assert implausible_reason(counter, [0xFFFF, 0xFFFF]) is None


# --------------------------------------------------------------------------- site file
def test_points_section_takes_tables_input_registers_and_unit_codes(meter_site: Site) -> None:
    sp = expand_points(meter_site)
    energy = sp.by_id()["meter.heat_energy_kwh"].source.modbus
    assert energy is not None and energy.table == "input" and energy.unit_code is not None
    assert sp.unit_codes(energy) == {0: "Wh", 1: "kWh", 2: "MWh", 3: "GJ"}
    assert energy.scale_source() == "unit code input 40 (energy)"
    reg = PointRegistry(sp)
    assert reg.resolve("modbus:heat-meter:input:8") == "meter.heat_energy_kwh"
    assert reg.resolve("modbus:heat-meter:8") is None
    (target,) = [t for t in device_targets(sp, "127.0.0.1", 502) if t.device_id == "heat-meter"]
    assert target.unit_code_interval_s == 300
    assert {(s.table, s.address) for s in target.unit_code_specs} == {("input", 40), ("input", 41)}
    assert {s.word_order for s in target.specs} == {"little"}


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            METER_POINTS.replace("energy: [[0, Wh]", "energie: [[0, Wh]"),
            r"point 'meter.heat_energy_kwh': unit_code input register 40: expected a code "
            r"table 'energy' for device kind 'acme_mc603'",
        ),
        (
            METER_POINTS.replace("[3, GJ]", "[3, kW]"),
            r"code 3 of table acme_mc603.energy means 'kW', which a point in 'kWh' cannot take",
        ),
        (
            METER_POINTS.replace("{address: 41, table: input", "{address: 9, table: input"),
            r"unit-code input register 9 of device 'heat-meter' overlaps the value register "
            r"of 'meter.heat_energy_kwh'",
        ),
        (
            METER_POINTS.replace("address: 8, unit: kWh,", "address: 8, unit: Btu,"),
            r"unit 'Btu' is not in code table acme_mc603.energy",
        ),
        (
            METER_POINTS.replace(
                "source: {modbus: {device: heat-meter, table: input, address: 0, unit: degC}}",
                "source: {modbus: {device: heat-meter, table: input, address: 0}}",
            ),
            r"expected 'unit' \(the raw unit, e.g. 'Wh'\) or 'unit_code'",
        ),
    ],
)
def test_bad_unit_code_sections_name_the_field(yaml_text: str, message: str) -> None:
    with pytest.raises(SiteConfigError, match=message) as info:
        site_with(yaml_text)
    assert "meter-test.yaml" in str(info.value) or "site 'pool-potsdam'" in str(info.value)


# --------------------------------------------------------------------------- live meter
def meter_target(site: Site, port: int) -> DeviceTarget:
    (target,) = [
        t for t in device_targets(expand_points(site), "127.0.0.1", port) if t.unit_id == 1
    ]
    return target


def poll(poller: DevicePoller, ingestor: Ingestor) -> None:
    async def main() -> None:
        try:
            readings = await poller.poll_once()
            if readings:
                ingestor.ingest(readings)
        finally:
            await poller.close()

    asyncio.run(main())


def last_value(store: Any, site: Site, point: str) -> float:
    df = store.read_series(site.id, [point], T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=1))
    return float(df[point].dropna().iloc[-1])


def test_unit_switch_from_kwh_to_mwh_reads_the_right_kwh_after_the_reread(
    meter_site: Site, sqlite_store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    meter = Meter(energy_kwh=18_234.5, code=1)
    clock = Clock()
    ingestor = Ingestor(meter_site, sqlite_store, clock=clock)
    target = meter_target(meter_site, port)
    poller = DevicePoller(target, ingestor, clock=clock)

    async def serve_and(fn: Any) -> None:
        async with serving(port, meter.device()):
            await fn()

    async def step(minutes: int) -> None:
        clock.now += dt.timedelta(minutes=minutes)
        readings = await poller.poll_once()
        await asyncio.to_thread(ingestor.ingest, readings)

    async def scenario() -> None:
        await step(1)  # codes read: energy in kWh, power in kW
        assert last_value(sqlite_store, meter_site, "meter.heat_energy_kwh") == 18_234.5
        assert last_value(sqlite_store, meter_site, "meter.heat_power_w") == 88_500.0
        assert last_value(sqlite_store, meter_site, "meter.supply_temp_c") == 55.25
        # on site, the meter is reconfigured to MWh: the register now holds 18.2345(+0.5)
        meter.set(55.25, 31.5, 2.75, 88.5, 18_235.0, 2)
        await step(6)  # 6 min later: past the 300 s re-read interval
        assert poller.status.unit_codes[("input", 40)] == 2
        # the right kWh, not 1000x low (float32 of 18.235 MWh: 7 significant digits)
        assert last_value(sqlite_store, meter_site, "meter.heat_energy_kwh") == pytest.approx(
            18_235.0, abs=0.01
        )
        await step(1)  # within the interval: the cached code still applies
        assert last_value(sqlite_store, meter_site, "meter.heat_energy_kwh") == pytest.approx(
            18_235.0, abs=0.01
        )
        await poller.close()

    with caplog.at_level(logging.INFO, logger="heatreuse.telemetry.modbus"):
        asyncio.run(asyncio.wait_for(serve_and(scenario), 30))
    assert any("unit code changed 1 -> 2" in r.getMessage() for r in caplog.records)
    assert sqlite_store.list_quarantine(meter_site.id) == []
    assert sqlite_store.count_readings(meter_site.id, "meter.heat_energy_kwh") == 3


def test_unknown_unit_code_is_quarantined_naming_the_register(
    meter_site: Site, sqlite_store: Any
) -> None:
    port = free_port()
    meter = Meter(energy_kwh=500.0, code=1)
    clock = Clock()
    ingestor = Ingestor(meter_site, sqlite_store, clock=clock)
    target = meter_target(meter_site, port)
    poller = DevicePoller(target, ingestor, clock=clock)

    async def scenario() -> None:
        async with serving(port, meter.device()):
            for minutes, code in ((1, 7), (1, 7), (1, 1)):  # unknown twice, then known again
                meter.set(55.25, 31.5, 2.75, 88.5, 500.0, code)
                clock.now += dt.timedelta(minutes=minutes)
                readings = await poller.poll_once()
                await asyncio.to_thread(ingestor.ingest, readings)
            await poller.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    q = sqlite_store.list_quarantine(meter_site.id, reason="unknown_unit_code")
    assert len(q) == 1  # once per episode, not per poll
    rec = q[0]
    assert rec.source == f"modbus:127.0.0.1:{port}/1/input/40"
    assert rec.point_id == "meter.heat_energy_kwh"
    assert "unit-code input register 40 holds 7" in rec.detail
    assert "0=Wh, 1=kWh, 2=MWh, 3=GJ" in rec.detail
    assert rec.raw_payload == "registers=[7] code=7"
    # the energy register was withheld while the code was unknown, then read again
    assert sqlite_store.count_readings(meter_site.id, "meter.heat_energy_kwh") == 1
    assert sqlite_store.count_readings(meter_site.id, "meter.supply_temp_c") == 3
    assert poller.status.withheld_readings == 2
    assert poller.status.unknown_unit_codes == {}


def test_wrong_word_order_is_refused_as_implausible_decode_not_stored(
    site: Site, sqlite_store: Any
) -> None:
    """The standard map (holding, high word first) against a meter writing low word first."""
    port = free_port()
    words: dict[int, int] = {}
    for addr, value in ((0, 55.25), (2, 31.5), (4, 2.75), (6, 88.5)):
        words[addr], words[addr + 1] = cdab(value)
    words[8], words[9] = 0, 1000
    device = SimDevice(
        1,
        simdata=[SimData(0, values=[words[a] for a in range(10)], datatype=DataType.REGISTERS)],
    )
    clock = Clock()
    ingestor = Ingestor(site, sqlite_store, clock=clock)
    (meter,) = [t for t in device_targets(expand_points(site), "127.0.0.1", port) if t.unit_id == 1]
    poller = DevicePoller(meter, ingestor, clock=clock)

    async def scenario() -> None:
        async with serving(port, device):
            for _ in range(3):
                clock.now += dt.timedelta(minutes=1)
                readings = await poller.poll_once()
                await asyncio.to_thread(ingestor.ingest, readings)
            await poller.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    floats = ("meter.supply_temp_c", "meter.return_temp_c", "meter.flow_m3_per_h")
    for pid in (*floats, "meter.heat_power_w"):
        assert sqlite_store.count_readings(site.id, pid) == 0, pid
    q = sqlite_store.list_quarantine(site.id, reason="implausible_decode")
    by_point = {r.point_id: r for r in q}
    assert set(by_point) == {*floats, "meter.heat_power_w"}  # once per register, not per poll
    supply = by_point["meter.supply_temp_c"]
    assert supply.raw_payload == f"registers={cdab(55.25)}"
    assert supply.source == f"modbus:127.0.0.1:{port}/1/0"
    assert "with word order little it reads 55.25 degC" in supply.detail
    assert poller.status.implausible_decodes == 12


# --------------------------------------------------------------------------- the twin
@pytest.fixture
def twin_meter(meter_site: Site) -> Iterator[ModbusTwinServer]:
    server = ModbusTwinServer("127.0.0.1", free_port(), expand_points(meter_site))
    server.start()
    try:
        yield server
    finally:
        server.close()


def test_twin_serves_input_registers_low_word_first_and_unit_codes(
    meter_site: Site, twin_meter: ModbusTwinServer, sqlite_store: Any
) -> None:
    values = {
        "meter.supply_temp_c": 55.25,
        "meter.return_temp_c": 31.5,
        "meter.flow_m3_per_h": 2.75,
        "meter.heat_power_w": 88_500.0,
        "meter.heat_energy_kwh": 18_234.5,
    }
    twin_meter.set_values(values)
    client = ModbusTcpClient("127.0.0.1", port=twin_meter.port)
    assert client.connect()
    try:
        r = client.read_input_registers(0, count=10, device_id=1).registers
        assert r[0:2] == cdab(55.25) and r[6:8] == cdab(88.5) and r[8:10] == cdab(18_234.5)
        assert client.read_input_registers(40, count=2, device_id=1).registers == [1, 1]
        # input registers only: function 3 at the same address is not in the map
        assert client.read_holding_registers(0, count=2, device_id=1).exception_code == 2
        # reconfigured to MWh: the code and the value change together
        twin_meter.set_unit_code("heat-meter", 40, 2, table="input")
        assert client.read_input_registers(40, count=1, device_id=1).registers == [2]
        r = client.read_input_registers(8, count=2, device_id=1).registers
        assert struct.unpack(">f", struct.pack(">HH", r[1], r[0]))[0] == pytest.approx(18.2345)
    finally:
        client.close()
    # and the poller reads the twin back in kWh
    clock = Clock()
    ingestor = Ingestor(meter_site, sqlite_store, clock=clock)
    target = meter_target(meter_site, twin_meter.port)
    poller = DevicePoller(target, ingestor, clock=clock)
    poll(poller, ingestor)
    for pid, value in values.items():
        assert last_value(sqlite_store, meter_site, pid) == pytest.approx(value, rel=1e-6), pid


def test_twin_standard_map_still_answers_function_4_with_the_holding_words(site: Site) -> None:
    server = ModbusTwinServer("127.0.0.1", free_port(), expand_points(site))
    server.start()
    try:
        server.set_values({"meter.supply_temp_c": 41.5})
        client = ModbusTcpClient("127.0.0.1", port=server.port)
        assert client.connect()
        try:
            held = client.read_holding_registers(0, count=2, device_id=1).registers
            assert held == abcd(41.5)
            assert client.read_input_registers(0, count=2, device_id=1).registers == held
        finally:
            client.close()
    finally:
        server.close()
