"""Executors of approved commands against real peers on loopback: a pymodbus TCP server
(write single register, read it back) and the Mosquitto broker at 127.0.0.1:1883 with a
small device that applies commands and publishes its state."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from heatreuse.mqttconf import MqttConnection
from heatreuse.telemetry.commands import (
    CommandError,
    ModbusCommandRegister,
    ModbusWriteExecutor,
    MqttCommandExecutor,
)

BROKER = ("127.0.0.1", 1883)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def modbus_port() -> Iterator[int]:
    """A controller (unit 2): registers 100..103 writable, 200 read-only."""
    port = free_port()
    device = SimDevice(
        id=2,
        simdata=[
            SimData(100, count=4, values=0, datatype=DataType.REGISTERS),
            SimData(200, values=450, datatype=DataType.REGISTERS, readonly=True),
        ],
    )
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    server: list[ModbusTcpServer] = []

    async def serve() -> None:
        srv = ModbusTcpServer([device], address=("127.0.0.1", port))
        server.append(srv)
        await srv.serve_forever(background=True)
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
    assert ready.wait(10)
    try:
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(server[0].shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_modbus_write_and_read_back(modbus_port: int) -> None:
    ex = ModbusWriteExecutor(
        "127.0.0.1",
        modbus_port,
        {
            "supply_setpoint_c": ModbusCommandRegister(100, unit_id=2, scale=0.1),
            "pump.p1.mode": ModbusCommandRegister(101, unit_id=2, mode=True),
            "loop_setpoint_c": ModbusCommandRegister(102, unit_id=2, scale=0.01),
            "fixed": ModbusCommandRegister(200, unit_id=2, scale=0.1),
        },
    )
    assert ex.read("supply_setpoint_c") == 0.0
    ex.write("supply_setpoint_c", 46.5)
    assert ex.read("supply_setpoint_c") == 46.5
    ex.write("pump.p1.mode", "off")
    assert ex.read("pump.p1.mode") == "off"
    ex.write("loop_setpoint_c", -3.25)  # signed words
    assert ex.read("loop_setpoint_c") == -3.25
    with pytest.raises(CommandError, match="does not fit register 102"):
        ex.write("loop_setpoint_c", 400.0)
    with pytest.raises(CommandError, match="no register for 'valve'"):
        ex.write("valve", 1)
    # a read-only register refuses the write; its value stays
    with pytest.raises(CommandError, match="refused"):
        ex.write("fixed", 50.0)
    assert ex.read("fixed") == 45.0
    closed = ModbusWriteExecutor("127.0.0.1", free_port(), {"x": ModbusCommandRegister(1)})
    with pytest.raises(CommandError, match="cannot connect"):
        closed.write("x", 1.0)


@pytest.fixture
def mqtt_device() -> Iterator[tuple[str, dict[str, object]]]:
    """A device on the broker: applies PREFIX/cmd/T and publishes PREFIX/state/T (retained)."""
    prefix = f"hrtest-{uuid.uuid4().hex[:10]}/pool"
    state: dict[str, object] = {}
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"hrtest-dev-{uuid.uuid4().hex[:8]}"
    )
    subscribed = threading.Event()

    def on_connect(c: mqtt.Client, *_a: object) -> None:
        c.subscribe(f"{prefix}/cmd/#", qos=1)

    def on_message(c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        target = msg.topic.rsplit("/", 1)[1]
        value = json.loads(msg.payload)["value"]
        if target == "stuck":
            return  # a device that ignores commands
        state[target] = value
        c.publish(f"{prefix}/state/{target}", json.dumps({"value": value}), qos=1, retain=True)

    client.on_connect = on_connect
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_message = on_message
    client.connect(*BROKER)
    client.loop_start()
    assert subscribed.wait(5)
    try:
        yield prefix, state
    finally:
        for t in [*state, "stuck"]:
            client.publish(f"{prefix}/state/{t}", b"", qos=1, retain=True).wait_for_publish(5)
        client.disconnect()
        client.loop_stop()


def test_mqtt_command_and_read_back(mqtt_device: tuple[str, dict[str, object]]) -> None:
    prefix, state = mqtt_device
    ex = MqttCommandExecutor(MqttConnection(*BROKER), prefix, timeout_s=3.0)
    ex.write("supply_setpoint_c", 44.0)
    assert state["supply_setpoint_c"] == 44.0
    assert ex.read("supply_setpoint_c") == 44.0
    # a fresh read takes the retained state
    assert ex.read("supply_setpoint_c") == 44.0
    ex.write("pump.p1.mode", "off")
    assert ex.read("pump.p1.mode") == "off"
    # a device that does not answer: nothing read back (the service records a failure)
    ex.write("stuck", 1.0)
    assert ex.read("stuck") is None


def test_two_person_change_executed_over_modbus(modbus_port: int, tmp_path: Path) -> None:
    """The service path: request, approve by a second user, written by Modbus, read back."""
    from heatreuse.services import changes, people
    from heatreuse.site import load_site
    from heatreuse.store import open_store

    site = load_site(Path(__file__).resolve().parents[2] / "examples" / "pool.yaml")
    store = open_store(f"sqlite:///{tmp_path / 's.db'}", create=True)
    try:
        for name in ("anna", "kai"):
            people.add_user(
                store,
                name,
                "a long password",
                "facilities",
                site.id,
                by="t",
                hasher=people.cheap_hasher(),
            )
        ex = changes.make_executor(
            modbus=f"127.0.0.1:{modbus_port}", registers={"supply_setpoint_c": "103:2:0.1"}
        )
        r = changes.request_change(
            site, store, "setpoint", "supply_setpoint_c", 41.5, "cold pool", by="anna"
        )
        done = changes.approve_change(
            site, store, r["id"], r["request_hash"], by="kai", executor=ex
        )
        assert done["state"] == "executed"
        assert done["result"]["executor"] == f"modbus 127.0.0.1:{modbus_port}"
        assert done["result"]["read_back"] == 41.5
        direct = ModbusWriteExecutor(
            "127.0.0.1", modbus_port, {"s": ModbusCommandRegister(103, unit_id=2)}
        )
        assert direct.read("s") == 41.5
    finally:
        store.close()


def test_two_person_change_executed_over_mqtt(
    mqtt_device: tuple[str, dict[str, object]], tmp_path: Path
) -> None:
    """Break-glass over MQTT: the pump mode is commanded and the device's state read back."""
    from heatreuse.services import changes, people
    from heatreuse.site import load_site
    from heatreuse.store import open_store

    prefix, state = mqtt_device
    site = load_site(Path(__file__).resolve().parents[2] / "examples" / "pool.yaml")
    store = open_store(f"sqlite:///{tmp_path / 's.db'}", create=True)
    try:
        people.add_user(
            store,
            "omar",
            "a long password",
            "operator",
            site.id,
            by="t",
            hasher=people.cheap_hasher(),
        )
        ex = changes.make_executor(mqtt="mqtt://127.0.0.1:1883", mqtt_prefix=prefix)
        assert ex is not None and ex.label == f"mqtt 127.0.0.1:1883 {prefix}"
        done = changes.override(
            site,
            store,
            "pump_mode",
            "pump.p-primary.mode",
            "off",
            "pump cavitating",
            by="omar",
            executor=ex,
        )
        assert done["state"] == "overridden" and done["result"]["read_back"] == "off"
        assert state["pump.p-primary.mode"] == "off"
    finally:
        store.close()
