"""Executors of approved plant commands: write a value, read it back.

An approved change request (:mod:`heatreuse.services.changes`) is carried out by a
:class:`CommandExecutor`: :meth:`~CommandExecutor.write` sends the value,
:meth:`~CommandExecutor.read` reads what the device now holds, and the service compares
the two and records both. Three implementations:

* :class:`TwinControlExecutor`: the live twin's control port (HTTP, ``Authorization:
  Bearer TOKEN``; ``PUT /setpoints/NAME``, ``GET /setpoints``).
* :class:`ModbusWriteExecutor`: Modbus TCP, function code 6 (write single register) and
  code 3 (read holding registers) with pymodbus 3; each target maps to a register, a
  scale and a unit id. Modes are written as codes (:data:`MODE_CODES`).
* :class:`MqttCommandExecutor`: publishes ``{"value": V, "request": ID}`` (QoS 1) to
  ``PREFIX/cmd/TARGET`` and reads the device's state from ``PREFIX/state/TARGET``
  (``{"value": V}``, retained), waiting for the state that follows the command.

Nothing here imports the other telemetry adapters.

References
----------
Modbus Application Protocol Specification V1.1b3 (function codes 3 and 6); MQTT 3.1.1
(QoS 1, retained messages); operations.md, section Security (two-person rule: the
result read back and recorded).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from heatreuse.errors import HeatreuseError

#: Mode names and the register codes a Modbus controller uses for them.
MODE_CODES: Mapping[str, int] = {"auto": 0, "on": 1, "off": 2}


class CommandError(HeatreuseError):
    """A command could not be sent or its value could not be read back."""


class CommandExecutor(Protocol):
    """Writes a value to a target and reads back what the device holds."""

    @property
    def label(self) -> str:
        """Where commands go (for the record), e.g. ``twin 127.0.0.1:8081``."""

    def write(self, target: str, value: float | str) -> None:
        """Send ``value`` to ``target``; raise :class:`CommandError` if refused."""

    def read(self, target: str) -> float | str | None:
        """The value ``target`` holds now (None: the device did not say)."""


# --------------------------------------------------------------------------- twin
class TwinControlExecutor:
    """The live twin's control port: ``PUT /setpoints/NAME``, ``GET /setpoints``.

    Parameters
    ----------
    host, port
        The control endpoint (loopback in tests).
    token
        The twin's control token.
    timeout_s
        Per request [s].
    """

    def __init__(self, host: str, port: int, token: str, *, timeout_s: float = 5.0) -> None:
        self.host, self.port, self._token, self.timeout_s = host, int(port), token, timeout_s

    @property
    def label(self) -> str:
        return f"twin {self.host}:{self.port}"

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """One authorised request; returns (status, JSON body)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            conn.request(
                method,
                path,
                body=None if body is None else json.dumps(body),
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {self._token}",
                },
            )
            resp = conn.getresponse()
            data = json.loads(resp.read().decode() or "{}")
        except (OSError, ValueError) as exc:
            raise CommandError(f"{self.label}: cannot reach the control port: {exc}") from None
        finally:
            conn.close()
        if resp.status == 401:
            raise CommandError(f"{self.label}: the control token was refused (401)")
        return resp.status, data if isinstance(data, dict) else {}

    def write(self, target: str, value: float | str) -> None:
        status, data = self.request("PUT", f"/setpoints/{target}", {"value": value})
        if status != 200:
            raise CommandError(f"{self.label}: {target}: {data.get('error', status)}")

    def read(self, target: str) -> float | str | None:
        status, data = self.request("GET", "/setpoints")
        if status != 200:
            raise CommandError(f"{self.label}: GET /setpoints: {data.get('error', status)}")
        value = data.get("setpoints", {}).get(target)
        return value if isinstance(value, (int, float, str)) else None


# --------------------------------------------------------------------------- Modbus
@dataclass(frozen=True)
class ModbusCommandRegister:
    """Where a target lives on a Modbus controller.

    ``value = raw x scale`` for numbers (raw a signed 16-bit word when ``signed``);
    modes use :data:`MODE_CODES`.
    """

    address: int
    unit_id: int = 1
    scale: float = 0.1
    signed: bool = True
    mode: bool = False


class ModbusWriteExecutor:
    """Modbus TCP: write single register (code 6), read it back (code 3)."""

    def __init__(
        self,
        host: str,
        port: int,
        registers: Mapping[str, ModbusCommandRegister],
        *,
        timeout_s: float = 3.0,
    ) -> None:
        self.host, self.port, self.registers, self.timeout_s = host, int(port), registers, timeout_s

    @property
    def label(self) -> str:
        return f"modbus {self.host}:{self.port}"

    def _reg(self, target: str) -> ModbusCommandRegister:
        reg = self.registers.get(target)
        if reg is None:
            raise CommandError(
                f"{self.label}: no register for {target!r}; expected one of "
                f"{sorted(self.registers)}"
            )
        return reg

    def _encode(self, target: str, reg: ModbusCommandRegister, value: float | str) -> int:
        if reg.mode:
            if value not in MODE_CODES:
                raise CommandError(f"{target}: expected one of {sorted(MODE_CODES)}, got {value!r}")
            return MODE_CODES[str(value)]
        raw = round(float(value) / reg.scale)
        lo, hi = (-32768, 32767) if reg.signed else (0, 65535)
        if not lo <= raw <= hi:
            raise CommandError(
                f"{target}: {value} does not fit register {reg.address} (raw {raw}, "
                f"expected {lo}..{hi} at scale {reg.scale})"
            )
        return raw & 0xFFFF

    def _decode(self, reg: ModbusCommandRegister, word: int) -> float | str | None:
        if reg.mode:
            names = {v: k for k, v in MODE_CODES.items()}
            return names.get(word)
        raw = word - 65536 if reg.signed and word >= 32768 else word
        return round(raw * reg.scale, 6)

    def _client(self) -> Any:
        from pymodbus.client import ModbusTcpClient

        client: Any = ModbusTcpClient(self.host, port=self.port, timeout=self.timeout_s, retries=0)
        if not client.connect():
            client.close()
            raise CommandError(f"{self.label}: cannot connect")
        return client

    def write(self, target: str, value: float | str) -> None:
        from pymodbus.exceptions import ModbusException

        reg = self._reg(target)
        word = self._encode(target, reg, value)
        client = self._client()
        try:
            rr = client.write_register(reg.address, word, device_id=reg.unit_id)
        except (ModbusException, OSError) as exc:
            raise CommandError(
                f"{self.label}: write {target} (register {reg.address}): {exc}"
            ) from None
        finally:
            client.close()
        if rr.isError():
            raise CommandError(
                f"{self.label}: write {target} (register {reg.address}) refused: "
                f"exception {getattr(rr, 'exception_code', '?')}"
            )

    def read(self, target: str) -> float | str | None:
        from pymodbus.exceptions import ModbusException

        reg = self._reg(target)
        client = self._client()
        try:
            rr = client.read_holding_registers(reg.address, count=1, device_id=reg.unit_id)
        except (ModbusException, OSError) as exc:
            raise CommandError(
                f"{self.label}: read {target} (register {reg.address}): {exc}"
            ) from None
        finally:
            client.close()
        if rr.isError():
            return None
        return self._decode(reg, int(rr.registers[0]))


# --------------------------------------------------------------------------- MQTT
class MqttCommandExecutor:
    """MQTT: command on ``PREFIX/cmd/TARGET``, state read back from ``PREFIX/state/TARGET``.

    Parameters
    ----------
    connection
        A :class:`heatreuse.mqttconf.MqttConnection` (host, port, credentials, TLS).
    prefix
        Topic prefix of the device, e.g. ``heatreuse/SITE``.
    timeout_s
        How long to wait for the connection and for the state after a command [s].
    """

    def __init__(self, connection: Any, prefix: str, *, timeout_s: float = 5.0) -> None:
        self.connection, self.prefix, self.timeout_s = connection, prefix.rstrip("/"), timeout_s
        self._last_state: dict[str, float | str | None] = {}

    @property
    def label(self) -> str:
        return f"mqtt {self.connection.host}:{self.connection.port} {self.prefix}"

    def _exchange(self, target: str, value: float | str | None) -> float | str | None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        state_topic = f"{self.prefix}/state/{target}"
        connected, got = threading.Event(), threading.Event()
        seen: list[Any] = []
        subscribed = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, clean_session=True)
        self.connection.configure(client)

        def on_connect(c: Any, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
            if not rc.is_failure:
                c.subscribe(state_topic, qos=1)
            connected.set()

        def on_subscribe(*_a: Any) -> None:
            subscribed.set()

        def on_message(_c: Any, _u: Any, msg: Any) -> None:
            try:
                payload = json.loads(msg.payload.decode())
                v = payload.get("value") if isinstance(payload, dict) else payload
            except (ValueError, UnicodeDecodeError):
                return
            seen.append((bool(msg.retain), v))
            if value is None or v == value:
                got.set()

        client.on_connect, client.on_subscribe, client.on_message = (
            on_connect,
            on_subscribe,
            on_message,
        )
        try:
            client.connect(self.connection.host, self.connection.port, keepalive=30)
        except OSError as exc:
            raise CommandError(f"{self.label}: cannot connect: {exc}") from None
        client.loop_start()
        try:
            if not connected.wait(self.timeout_s) or not subscribed.wait(self.timeout_s):
                raise CommandError(f"{self.label}: no connection within {self.timeout_s:g} s")
            if value is not None:
                info = client.publish(
                    f"{self.prefix}/cmd/{target}", json.dumps({"value": value}), qos=1
                )
                info.wait_for_publish(self.timeout_s)
            got.wait(self.timeout_s)
        finally:
            client.disconnect()
            client.loop_stop()
        if not seen:
            return None
        return seen[-1][1] if isinstance(seen[-1][1], (int, float, str)) else None

    def write(self, target: str, value: float | str) -> None:
        self._last_state[target] = self._exchange(target, value)

    def read(self, target: str) -> float | str | None:
        if target in self._last_state:  # the state that followed our command
            return self._last_state.pop(target)
        return self._exchange(target, None)
