"""The twin's heat meter and pump controller over Modbus TCP, read with a plain pymodbus client."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from pymodbus.client import ModbusTcpClient

from heatreuse.errors import TwinError
from heatreuse.services.twin import LiveTwin
from heatreuse.site import Site, expand_points, load_site
from heatreuse.site.points import ModbusRegister
from heatreuse.telemetry.modbus_server import ModbusTwinServer
from heatreuse.telemetry.twin_points import TwinReadings, decode_register, encode_register

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Keep:
    def __init__(self) -> None:
        self.last: TwinReadings | None = None

    def start(self) -> None: ...

    def publish(self, readings: TwinReadings) -> None:
        self.last = readings

    def close(self) -> None: ...


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(EXAMPLE)


@pytest.fixture
def running(site: Site) -> Iterator[tuple[LiveTwin, ModbusTwinServer, Keep, Clock]]:
    server = ModbusTwinServer("127.0.0.1", free_port(), expand_points(site))
    keep = Keep()
    clock = Clock(pd.Timestamp("2026-10-05T12:00Z").timestamp())
    twin = LiveTwin(
        site, speed=3600, step_s=60, start="2026-10-05T06:00Z", sinks=[server, keep], clock=clock
    )
    twin.start_sinks()
    try:
        yield twin, server, keep, clock
    finally:
        twin.close()


def f32(hi: int, lo: int) -> float:
    """Decode a big-endian float32 from two registers, high word first (independent of src)."""
    return float(struct.unpack(">f", struct.pack(">HH", hi, lo))[0])


def test_heat_meter_registers_match_the_simulation(
    running: tuple[LiveTwin, ModbusTwinServer, Keep, Clock],
) -> None:
    twin, server, keep, clock = running
    clock.t += 2.0  # two simulated hours
    twin.advance()
    assert keep.last is not None
    latest = keep.last.latest()
    client = ModbusTcpClient("127.0.0.1", port=server.port)
    assert client.connect()
    try:
        rr = client.read_holding_registers(0, count=10, device_id=1)
        assert not rr.isError()
        r = rr.registers
        # documented map (heatreuse.site.points): float32 ABCD at 0, 2, 4, 6 (kW); uint32 Wh at 8
        assert f32(r[0], r[1]) == pytest.approx(latest["meter.supply_temp_c"], abs=1e-4)
        assert f32(r[2], r[3]) == pytest.approx(latest["meter.return_temp_c"], abs=1e-4)
        assert f32(r[4], r[5]) == pytest.approx(latest["meter.flow_m3_per_h"], rel=1e-6)
        assert f32(r[6], r[7]) * 1000 == pytest.approx(latest["meter.heat_power_w"], rel=1e-6)
        wh = (r[8] << 16) | r[9]
        assert wh == round(latest["meter.heat_energy_kwh"] * 1000)
        assert wh > 0
        # values are live: an hour later the register has grown
        clock.t += 1.0
        twin.advance()
        r2 = client.read_holding_registers(8, count=2, device_id=1).registers
        assert (r2[0] << 16) | r2[1] > wh
        # pump controller, unit 2: block of 10 per pump, status uint16, speed float32 in %
        pumps = client.read_holding_registers(0, count=5, device_id=2).registers
        assert pumps[0] == 1
        assert f32(pumps[1], pumps[2]) * 0.01 == pytest.approx(
            keep.last.latest()["pump.p-primary.speed_fraction"], rel=1e-6
        )
        assert f32(pumps[3], pumps[4]) == pytest.approx(
            keep.last.latest()["pump.p-primary.power_w"], rel=1e-6
        )
        # outside the map: exception 2 (illegal data address); writes refused the same way
        bad = client.read_holding_registers(100, count=2, device_id=1)
        assert bad.isError() and bad.exception_code == 2
        assert client.write_register(0, 1, device_id=1).exception_code == 2
    finally:
        client.close()


def test_fault_shows_on_the_pump_controller(
    running: tuple[LiveTwin, ModbusTwinServer, Keep, Clock],
) -> None:
    twin, server, _keep, clock = running
    twin.inject("pump_failure+1h:primary")
    clock.t += 0.5
    twin.advance()
    client = ModbusTcpClient("127.0.0.1", port=server.port)
    assert client.connect()
    try:
        pumps = client.read_holding_registers(0, count=5, device_id=2).registers
        assert pumps[0] == 0 and f32(pumps[1], pumps[2]) == 0.0
    finally:
        client.close()


def test_encoding_word_orders_and_rollover() -> None:
    reg = ModbusRegister(device="d", address=0, type="float32", unit="kW", scale=1000.0)
    assert encode_register(38000.0, reg) == list(struct.unpack(">HH", struct.pack(">f", 38.0)))
    little = reg.model_copy(update={"word_order": "little"})
    assert encode_register(38000.0, little) == encode_register(38000.0, reg)[::-1]
    assert decode_register(encode_register(38000.0, little), little) == pytest.approx(38000.0)
    counter = ModbusRegister(device="d", address=8, type="uint32", unit="Wh", scale=0.001)
    assert encode_register(2**32 / 1000 + 0.005, counter) == [0, 5]  # rolls over at 2**32 Wh
    with pytest.raises(TwinError, match="negative"):
        encode_register(-1.0, counter)


def test_port_in_use_is_a_user_error(site: Site) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        server = ModbusTwinServer("127.0.0.1", port, expand_points(site))
        with pytest.raises(TwinError, match="cannot bind"):
            server.start()
