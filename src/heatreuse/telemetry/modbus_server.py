"""Modbus TCP server adapter of the twin (pymodbus 3): a heat meter and a pump controller.

Serves every Modbus device of the site's point list (default: the heat meter,
unit id 1, and the pump controller, unit id 2; register maps in
:mod:`heatreuse.site.points`) on one TCP address. Values are encoded exactly as
the registry's map says (table, type, scale, word order, unit codes;
:func:`heatreuse.telemetry.twin_points.device_words`) and updated live from the
twin's latest step. A device whose map has input registers serves holding
(function code 3) and input registers (code 4) as separate tables; a map of
holding registers only (the standard maps) answers code 4 with the same words.
Unit-code registers announce the unit the map says (:meth:`set_unit_code`
switches it at run time, as a meter reconfigured on site; the values follow).
Addresses outside the map answer exception 2 (illegal data address); writes
are refused the same way (the twin is a meter, not an actuator).

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
from heatreuse.telemetry.twin_points import TwinReadings, device_unit_codes, device_words

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
        self._words: dict[int, dict[tuple[str, int], int]] = {}
        self._unit_of: dict[str, int] = {}
        self._codes: dict[str, dict[tuple[str, int], int]] = {}
        self._values: dict[str, float] = {}
        for dev_id in self.device_ids:
            device = site_points.device(dev_id)
            self._unit_of[dev_id] = device.unit_id
            self._words[device.unit_id] = {}
            self._codes[dev_id] = device_unit_codes(site_points, dev_id)
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
            mapped: set[tuple[str, int]] = set()
            for _point, reg in self.site_points.register_map(dev_id):
                mapped.update((reg.table, reg.address + k) for k in range(reg.width))
                uc = reg.unit_code
                if uc is not None:
                    mapped.update((uc.table, uc.address + k) for k in range(uc.width))
            if not mapped:
                continue
            # one SimData per run of addresses (both tables share pymodbus's address space;
            # the action answers per table)
            addresses = sorted({a for _t, a in mapped})
            blocks = []
            run = [addresses[0]]
            for a in addresses[1:]:
                if a == run[-1] + 1:
                    run.append(a)
                    continue
                blocks.append(
                    SimData(
                        run[0], values=[0] * len(run), datatype=DataType.REGISTERS, readonly=True
                    )
                )
                run = [a]
            blocks.append(
                SimData(run[0], values=[0] * len(run), datatype=DataType.REGISTERS, readonly=True)
            )
            split = any(t == "input" for t, _a in mapped)

            async def action(
                function_code: int,
                start_address: int,
                address: int,
                count: int,
                registers: list[int],
                set_values: list[int] | list[bool] | None,
                _unit: int = unit,
                _mapped: frozenset[tuple[str, int]] = frozenset(mapped),
                _split: bool = split,
            ) -> Any:
                if set_values is not None or function_code not in (3, 4):
                    return ExcCodes.ILLEGAL_ADDRESS
                table = "input" if function_code == 4 and _split else "holding"
                wanted = [(table, a) for a in range(address, address + count)]
                if any(key not in _mapped for key in wanted):
                    return ExcCodes.ILLEGAL_ADDRESS
                with self._lock:
                    words = self._words[_unit]
                    for key in wanted:
                        registers[key[1] - start_address] = words.get(key, 0)
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
        self._values.update(values)
        new: dict[int, dict[tuple[str, int], int]] = {}
        for dev_id in self.device_ids:
            new[self._unit_of[dev_id]] = device_words(
                self.site_points, dev_id, self._values, self._codes[dev_id]
            )
        with self._lock:
            for unit, words in new.items():
                self._words[unit].update(words)
        self.updates += 1

    def set_unit_code(
        self, device_id: str, address: int, code: int, table: str = "holding"
    ) -> None:
        """Announce another unit code (a meter reconfigured on site, or a wrong code).

        The values the code scales are re-encoded in the unit it means; a code
        that is not in the table is served as is and the values keep their
        last words (a device error, for drills and tests).

        Raises
        ------
        TwinError
            The device has no unit-code register there.
        """
        codes = self._codes.get(device_id)
        if codes is None or (table, address) not in codes:
            raise TwinError(
                f"Modbus {device_id}: no unit-code {table} register {address}; expected one of "
                f"{sorted(codes or {})}"
            )
        codes[(table, address)] = int(code)
        self.set_values({})  # re-encodes every last value with the new code

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
