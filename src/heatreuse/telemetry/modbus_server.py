"""Modbus TCP server adapter of the twin (pymodbus 3): a heat meter and a pump controller.

Serves every Modbus device of the site's point list (default: the heat meter,
unit id 1, and the pump controller, unit id 2; register maps in
:mod:`heatreuse.site.points`) on one TCP address, holding registers (function
code 3; input registers, code 4, read the same words). Values are encoded
exactly as the registry's map says (type, scale, word order;
:func:`heatreuse.telemetry.twin_points.encode_register`) and updated live
from the twin's latest step. Addresses outside the map answer exception 2
(illegal data address); writes are refused the same way (the twin is a meter,
not an actuator).

The server runs its own asyncio loop in a background thread; the twin calls
:meth:`ModbusTwinServer.publish` from its thread, which swaps in the new
words under a lock. It binds only to the address given. Nothing here imports
the other telemetry adapters.

References
----------
Modbus Application Protocol Specification V1.1b3 (function codes 3/4,
exception code 2); pymodbus 3 ``SimDevice``/``SimData`` with an ``action``
callback (operations.md, "Field protocols").
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from heatreuse.errors import TwinError
from heatreuse.site.points import SitePoints
from heatreuse.telemetry.twin_points import TwinReadings, device_words

log = logging.getLogger(__name__)


class ModbusTwinServer:
    """A Modbus TCP server with live twin values (a :class:`TwinSink`).

    Parameters
    ----------
    host, port
        Address to bind (port 0: any free port; see :attr:`port` after start).
    site_points
        The site's expanded points (devices and register maps).
    device_ids
        Devices to serve (default: every device of the site).
    """

    def __init__(
        self,
        host: str,
        port: int,
        site_points: SitePoints,
        device_ids: Sequence[str] | None = None,
    ) -> None:
        self.host = host
        self.port = int(port)
        self.site_points = site_points
        self.device_ids = tuple(device_ids or [d.id for d in site_points.modbus_devices])
        self._words: dict[int, dict[int, int]] = {}
        self._unit_of: dict[str, int] = {}
        for dev_id in self.device_ids:
            device = site_points.device(dev_id)
            self._unit_of[dev_id] = device.unit_id
            self._words[device.unit_id] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.updates = 0

    # ------------------------------------------------------------------ devices
    def _sim_devices(self) -> list[Any]:
        from pymodbus.constants import ExcCodes
        from pymodbus.simulator import DataType, SimData, SimDevice

        devices = []
        for dev_id in self.device_ids:
            unit = self._unit_of[dev_id]
            blocks = []
            for _point, reg in self.site_points.register_map(dev_id):
                blocks.append(
                    SimData(
                        reg.address,
                        values=[0] * reg.width,
                        datatype=DataType.REGISTERS,
                        readonly=True,
                    )
                )
            if not blocks:
                continue

            async def action(
                function_code: int,
                start_address: int,
                address: int,
                count: int,
                registers: list[int],
                set_values: list[int] | list[bool] | None,
                _unit: int = unit,
            ) -> Any:
                if set_values is not None:
                    return ExcCodes.ILLEGAL_ADDRESS
                with self._lock:
                    words = self._words[_unit]
                    for a in range(address, address + count):
                        w = words.get(a)
                        if w is not None:
                            registers[a - start_address] = w
                return None

            devices.append(SimDevice(unit, simdata=blocks, action=action))
        if not devices:
            raise TwinError(
                f"--modbus: site '{self.site_points.site_id}' has no Modbus registers to serve"
            )
        return devices

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout_s: float = 10.0) -> None:
        """Bind and serve in a background thread.

        Raises
        ------
        TwinError
            The address cannot be bound (in use, not local).
        """
        if self.port == 0:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((self.host, 0))
                self.port = int(s.getsockname()[1])
        # fail early and clearly when the port is taken
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((self.host, self.port))
        except OSError as exc:
            raise TwinError(f"--modbus {self.host}:{self.port}: cannot bind: {exc}") from None
        devices = self._sim_devices()
        self._thread = threading.Thread(
            target=self._run, args=(devices,), name="twin-modbus", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._error is not None:
                raise TwinError(
                    f"--modbus {self.host}:{self.port}: server failed: {self._error}"
                ) from None
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise TwinError(f"--modbus {self.host}:{self.port}: server did not start in {timeout_s} s")

    def _run(self, devices: list[Any]) -> None:
        from pymodbus.server import ModbusTcpServer

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def serve() -> None:
            self._server = ModbusTcpServer(devices, address=(self.host, self.port))
            await self._server.serve_forever()

        try:
            loop.run_until_complete(serve())
        except BaseException as exc:
            self._error = exc
            log.error("Modbus twin server stopped: %s", exc)
        finally:
            loop.close()

    def set_values(self, values: Mapping[str, float]) -> None:
        """Encode point values into the served registers (points not given keep theirs)."""
        new: dict[int, dict[int, int]] = {}
        for dev_id in self.device_ids:
            new[self._unit_of[dev_id]] = device_words(self.site_points, dev_id, values)
        with self._lock:
            for unit, words in new.items():
                self._words[unit].update(words)
        self.updates += 1

    def publish(self, readings: TwinReadings) -> None:
        """Serve the last step's values from now on."""
        self.set_values(readings.latest())

    def close(self) -> None:
        """Stop serving and join the thread."""
        loop, server = self._loop, self._server
        if loop is not None and server is not None and loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(server.shutdown(), loop)
            try:
                fut.result(timeout=5)
            except Exception:
                log.warning("Modbus twin server: shutdown did not finish cleanly")
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._server = None
