"""Modbus TCP ingest adapter: register decoding (pure) and a pymodbus 3 poller.

Decoding
--------
Registers are 16-bit, big-endian each (Modbus standard). 32-bit types span
two registers; ``word_order="big"`` ("ABCD") puts the high word first,
``"little"`` ("CDAB") the low word first. The value in the point's unit is
``raw * scale`` (the register map in the site YAML, see
:mod:`heatreuse.site.points`). :func:`decode_registers` /
:func:`encode_registers` are pure functions (no I/O); a simulator (the twin,
the tests) serves exactly what the poller reads by encoding with the same map.

Polling
-------
One :class:`DevicePoller` per device (host, port, unit id, register map):

* registers are read in contiguous blocks (at most 125 registers per request,
  holding and input tables separately), one request at a time per device
  (an :class:`asyncio.Lock` per device), with the device's pause between
  requests;
* an exception response (e.g. code 2, illegal data address) for a block is
  retried register by register, so one undefined address does not hide the
  others; the failing register is quarantined once per failure episode
  (reason ``device_exception``, source ``modbus:<host>:<port>/<unit>/<address>``)
  and logged;
* a connection failure or timeout backs off exponentially (from the poll
  interval up to :attr:`DeviceTarget.max_backoff_s`); the first failure is
  logged as an error, repeats at debug level, and the return is logged as
  ``recovered``;
* decoded values go to the sink (the
  :class:`~heatreuse.telemetry.validate.Ingestor`) as readings keyed by the
  registry's source key ``modbus:<device>:<address>`` with source
  ``modbus:<host>:<port>/<unit>/<address>`` and the time the response came.

This module does not know about stores, HTTP, files or MQTT (services wire them).

References
----------
Modbus Application Protocol Specification V1.1b3 (Modbus Organization, 2012),
sections 4.2 (big-endian registers), 6.3 (read holding registers, at most 125)
and 7 (exception codes). IEEE 754-2019 binary32.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from heatreuse.errors import IngestError
from heatreuse.site.points import REGISTER_WIDTH, ModbusRegister, SitePoints
from heatreuse.telemetry.validate import RawReading

log = logging.getLogger(__name__)

RegisterType = Literal["float32", "int16", "uint16", "int32", "uint32"]
WordOrder = Literal["big", "little"]

#: Most registers one read request may ask for (spec section 6.3).
MAX_REGISTERS_PER_READ = 125
#: Modbus exception codes (spec section 7).
EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}
_FORMATS = {"float32": ">f", "int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I"}


# --------------------------------------------------------------------------- decoding
def decode_registers(
    registers: Sequence[int], register_type: RegisterType, word_order: WordOrder = "big"
) -> float:
    """Decode raw register contents into a number (unscaled).

    Parameters
    ----------
    registers
        The 16-bit register values as read (each 0..65535), as many as the type
        needs (1 for 16-bit, 2 for 32-bit types).
    register_type
        ``float32``, ``int16``, ``uint16``, ``int32`` or ``uint32``.
    word_order
        For 32-bit types: ``big`` = high word first (ABCD), ``little`` = low
        word first (CDAB).

    Returns
    -------
    float
        The raw value [the register's unit]; ``nan``/``inf`` pass through
        (the pipeline quarantines them).

    Raises
    ------
    IngestError
        Wrong number of registers or a register outside 0..65535.
    """
    width = REGISTER_WIDTH[register_type]
    if len(registers) != width:
        raise IngestError(
            f"Modbus {register_type}: expected {width} register(s), got {len(registers)}"
        )
    if any(not 0 <= int(r) <= 0xFFFF for r in registers):
        raise IngestError(f"Modbus {register_type}: registers must be 0..65535, got {registers}")
    words = list(registers)
    if width == 2 and word_order == "little":
        words.reverse()
    data = b"".join(int(w).to_bytes(2, "big") for w in words)
    return float(struct.unpack(_FORMATS[register_type], data)[0])


def encode_registers(
    raw: float, register_type: RegisterType, word_order: WordOrder = "big"
) -> list[int]:
    """Encode a raw (unscaled) number into registers; the inverse of :func:`decode_registers`.

    Integer types are rounded to the nearest integer.

    Raises
    ------
    IngestError
        The value does not fit the type.
    """
    fmt = _FORMATS[register_type]
    value: float | int = raw if register_type == "float32" else round(raw)
    try:
        data = struct.pack(fmt, value)
    except (struct.error, OverflowError) as exc:
        raise IngestError(
            f"Modbus {register_type}: value {raw!r} does not fit the type ({exc})"
        ) from None
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if len(words) == 2 and word_order == "little":
        words.reverse()
    return words


def encode_point_value(
    value: float, register: ModbusRegister, device_word_order: WordOrder = "big"
) -> list[int]:
    """Registers holding a value given in the point's unit (``raw = value / scale``)."""
    order = register.word_order or device_word_order
    return encode_registers(value / register.scale, register.type, order)


# --------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class RegisterSpec:
    """One point's register(s), resolved against the device defaults."""

    point_id: str
    device_id: str
    address: int
    register_type: RegisterType
    word_order: WordOrder
    scale: float
    table: Literal["holding", "input"] = "holding"

    @property
    def width(self) -> int:
        """Registers the value occupies."""
        return REGISTER_WIDTH[self.register_type]

    @property
    def source_key(self) -> str:
        """The registry key ``modbus:<device>:<address>``."""
        return f"modbus:{self.device_id}:{self.address}"

    def decode(self, registers: Sequence[int]) -> float:
        """Value in the point's unit (``raw * scale``)."""
        return decode_registers(registers, self.register_type, self.word_order) * self.scale


@dataclass(frozen=True)
class ReadBlock:
    """One read request: contiguous registers of one table."""

    table: Literal["holding", "input"]
    address: int
    count: int
    specs: tuple[RegisterSpec, ...]


def plan_reads(
    specs: Sequence[RegisterSpec], max_registers: int = MAX_REGISTERS_PER_READ
) -> list[ReadBlock]:
    """Group registers into contiguous read requests (no gaps, no overlaps).

    Parameters
    ----------
    specs
        The device's registers.
    max_registers
        Upper bound of one request (125 for function codes 3 and 4).
    """
    blocks: list[ReadBlock] = []
    for table in ("holding", "input"):
        run: list[RegisterSpec] = []
        for s in sorted((s for s in specs if s.table == table), key=lambda s: s.address):
            if run:
                end = run[-1].address + run[-1].width
                if s.address == end and (s.address + s.width - run[0].address) <= max_registers:
                    run.append(s)
                    continue
                blocks.append(_block(table, run))
            run = [s]
        if run:
            blocks.append(_block(table, run))
    return blocks


def _block(table: Literal["holding", "input"], run: list[RegisterSpec]) -> ReadBlock:
    start = run[0].address
    count = run[-1].address + run[-1].width - start
    return ReadBlock(table=table, address=start, count=count, specs=tuple(run))


@dataclass(frozen=True)
class DeviceTarget:
    """A device to poll: where it is and what to read.

    Attributes
    ----------
    device_id
        The device id of the register map (``heat-meter``).
    host, port, unit_id
        Modbus TCP address and unit (device) id.
    specs
        Its registers.
    poll_interval_s
        Time between polls [s].
    pause_between_requests_s
        Pause between two requests to the device [s].
    timeout_s
        Request timeout [s].
    max_backoff_s
        Upper bound of the retry interval after failures [s].
    """

    device_id: str
    host: str
    port: int
    unit_id: int
    specs: tuple[RegisterSpec, ...]
    poll_interval_s: float = 10.0
    pause_between_requests_s: float = 0.05
    timeout_s: float = 3.0
    max_backoff_s: float = 300.0

    @property
    def label(self) -> str:
        """``<host>:<port>/<unit>`` (the source label prefix)."""
        return f"{self.host}:{self.port}/{self.unit_id}"

    def source(self, address: int) -> str:
        """Source label of one register: ``modbus:<host>:<port>/<unit>/<address>``."""
        return f"modbus:{self.label}/{address}"


def device_targets(
    site_points: SitePoints,
    default_host: str | None = None,
    default_port: int | None = None,
    poll_interval_s: float | None = None,
) -> list[DeviceTarget]:
    """Devices to poll from the site's ``points`` section.

    Parameters
    ----------
    site_points
        The expanded point list.
    default_host, default_port
        Address for devices whose ``host`` is not set in the site file (e.g.
        the twin's ``--modbus HOST:PORT``); ``default_port`` also replaces
        their port.
    poll_interval_s
        Overrides every device's poll interval [s].

    Raises
    ------
    IngestError
        A device has no host and none was given.
    """
    out: list[DeviceTarget] = []
    for dev in site_points.modbus_devices:
        rows = site_points.register_map(dev.id)
        if not rows:
            continue
        host, port = dev.host, dev.port
        if host is None:
            if default_host is None:
                raise IngestError(
                    f"points.modbus_devices: device '{dev.id}' has no host in the site file; "
                    "give one there or on the command line (--modbus HOST:PORT)"
                )
            host = default_host
            port = default_port if default_port is not None else port
        specs = tuple(
            RegisterSpec(
                point_id=p.id,
                device_id=dev.id,
                address=reg.address,
                register_type=reg.type,
                word_order=reg.word_order or dev.word_order,
                scale=reg.scale,
                table=reg.table,
            )
            for p, reg in rows
        )
        out.append(
            DeviceTarget(
                device_id=dev.id,
                host=host,
                port=port,
                unit_id=dev.unit_id,
                specs=specs,
                poll_interval_s=poll_interval_s or dev.poll_interval_s,
                pause_between_requests_s=dev.pause_between_requests_s,
                timeout_s=dev.timeout_s,
            )
        )
    return out


# --------------------------------------------------------------------------- transport
class ReadingSink(Protocol):
    """Where the poller hands readings (the Ingestor, the edge buffer)."""

    def ingest(self, readings: Sequence[RawReading]) -> Any:
        """Store readings; return once committed."""

    def reject(
        self,
        source: str,
        raw: str,
        reason: str = "unparseable",
        detail: str = "",
        point_id: str | None = None,
    ) -> None:
        """Quarantine something that never became a reading."""


class ModbusReadError(Exception):
    """A read failed: ``exception_code`` set for an exception response, else a link failure."""

    def __init__(self, message: str, exception_code: int | None = None) -> None:
        super().__init__(message)
        self.exception_code = exception_code


@dataclass
class DeviceStatus:
    """Live state of one device poller."""

    ok: bool = False
    polls: int = 0
    readings: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    register_errors: int = 0
    last_success: dt.datetime | None = None
    last_error: str = ""
    failing_registers: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "ok": self.ok,
            "polls": self.polls,
            "readings": self.readings,
            "failures": self.failures,
            "consecutive_failures": self.consecutive_failures,
            "register_errors": self.register_errors,
            "failing_registers": sorted(self.failing_registers),
            "last_success": None
            if self.last_success is None
            else self.last_success.isoformat().replace("+00:00", "Z"),
            "last_error": self.last_error,
        }


class DevicePoller:
    """Poll one Modbus TCP device (see the module docstring).

    Parameters
    ----------
    target
        The device and its registers.
    sink
        Receives readings (``ingest``) and failing registers (``reject``);
        called in a worker thread (it may block on the store).
    clock
        Returns the current time (aware, UTC); default the system clock.
    """

    def __init__(
        self,
        target: DeviceTarget,
        sink: ReadingSink,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.target = target
        self.sink = sink
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.blocks = plan_reads(target.specs)
        self.lock = asyncio.Lock()
        self.status = DeviceStatus()
        self._client: Any = None

    async def _connect(self) -> Any:
        from pymodbus.client import AsyncModbusTcpClient

        if self._client is not None and self._client.connected:
            return self._client
        await self.close()
        client = AsyncModbusTcpClient(
            self.target.host,
            port=self.target.port,
            timeout=self.target.timeout_s,
            retries=0,
            reconnect_delay=0,
        )
        ok = await client.connect()
        if not ok:
            client.close()
            raise ModbusReadError(
                f"Modbus {self.target.device_id} at {self.target.label}: cannot connect"
            )
        self._client = client
        return client

    async def close(self) -> None:
        """Close the connection (reopened by the next poll)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _read(self, table: str, address: int, count: int) -> list[int]:
        from pymodbus.exceptions import ModbusException

        client = await self._connect()
        fn = client.read_holding_registers if table == "holding" else client.read_input_registers
        try:
            rr = await fn(address, count=count, device_id=self.target.unit_id)
        except (TimeoutError, ModbusException, OSError) as exc:
            await self.close()
            raise ModbusReadError(
                f"Modbus {self.target.device_id} at {self.target.label}: {table} registers "
                f"{address}..{address + count - 1}: no valid response ({exc})"
            ) from None
        if rr.isError():
            code = int(getattr(rr, "exception_code", 0) or 0)
            raise ModbusReadError(
                f"Modbus {self.target.device_id} at {self.target.label}: {table} registers "
                f"{address}..{address + count - 1}: exception {code} "
                f"({EXCEPTION_NAMES.get(code, 'unknown')})",
                exception_code=code,
            )
        regs = [int(r) for r in rr.registers][:count]
        if len(regs) != count:
            raise ModbusReadError(
                f"Modbus {self.target.device_id} at {self.target.label}: {table} registers "
                f"{address}..{address + count - 1}: expected {count} registers, got {len(regs)}"
            )
        return regs

    async def poll_once(self) -> list[RawReading]:
        """Read every register once; return the readings (not yet handed to the sink).

        Registers answering with an exception are reported to the sink's
        ``reject`` once per failure episode and skipped.

        Raises
        ------
        ModbusReadError
            The device cannot be reached or does not answer (no ``exception_code``).
        """
        readings: list[RawReading] = []
        rejects: list[tuple[RegisterSpec, ModbusReadError]] = []
        ok_addresses: set[int] = set()
        async with self.lock:
            first = True
            for block in self.blocks:
                if not first:
                    await asyncio.sleep(self.target.pause_between_requests_s)
                first = False
                try:
                    regs = await self._read(block.table, block.address, block.count)
                except ModbusReadError as exc:
                    if exc.exception_code is None:
                        raise
                    if len(block.specs) == 1:
                        rejects.append((block.specs[0], exc))
                        continue
                    # isolate the failing register(s)
                    for spec in block.specs:
                        await asyncio.sleep(self.target.pause_between_requests_s)
                        try:
                            one = await self._read(spec.table, spec.address, spec.width)
                        except ModbusReadError as exc1:
                            if exc1.exception_code is None:
                                raise
                            rejects.append((spec, exc1))
                            continue
                        readings.append(self._reading(spec, one))
                        ok_addresses.add(spec.address)
                    continue
                when = self.clock()
                for spec in block.specs:
                    off = spec.address - block.address
                    readings.append(self._reading(spec, regs[off : off + spec.width], when))
                    ok_addresses.add(spec.address)
        recovered = self.status.failing_registers & ok_addresses
        for addr in sorted(recovered):
            log.info("Modbus %s register %d: recovered", self.target.device_id, addr)
        self.status.failing_registers -= recovered
        for spec, err in rejects:
            self.status.register_errors += 1
            if spec.address in self.status.failing_registers:
                log.debug("%s (still failing)", err)
                continue
            self.status.failing_registers.add(spec.address)
            log.error("%s; point %s skipped until it answers", err, spec.point_id)
            await asyncio.to_thread(
                self.sink.reject,
                self.target.source(spec.address),
                f"exception_code={err.exception_code}",
                "device_exception",
                str(err),
                spec.point_id,
            )
        return readings

    def _reading(
        self, spec: RegisterSpec, regs: Sequence[int], when: dt.datetime | None = None
    ) -> RawReading:
        value = spec.decode(regs)
        return RawReading(
            point=spec.source_key,
            ts=when or self.clock(),
            value=value,
            source=self.target.source(spec.address),
            raw=f"registers={list(regs)} value={value!r}"
            if math.isfinite(value)
            else f"registers={list(regs)}",
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set: poll, hand readings to the sink, wait, repeat."""
        interval = self.target.poll_interval_s
        backoff = interval
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            wait = interval
            try:
                readings = await self.poll_once()
                if readings:
                    await asyncio.to_thread(self.sink.ingest, readings)
            except ModbusReadError as exc:
                self._failed(str(exc))
                backoff = min(max(backoff * 2.0, interval), self.target.max_backoff_s)
                wait = backoff
            except Exception as exc:  # store failure or a bug: keep polling, say it
                self._failed(f"{type(exc).__name__}: {exc}")
                backoff = min(max(backoff * 2.0, interval), self.target.max_backoff_s)
                wait = backoff
            else:
                self._succeeded(len(readings))
                backoff = interval
                wait = max(0.0, interval - (loop.time() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
        await self.close()

    def _failed(self, message: str) -> None:
        s = self.status
        s.polls += 1
        s.failures += 1
        s.consecutive_failures += 1
        s.ok = False
        s.last_error = message
        if s.consecutive_failures == 1:
            log.error("%s; retrying with backoff (repeats are logged at debug level)", message)
        else:
            log.debug("%s (failure %d in a row)", message, s.consecutive_failures)

    def _succeeded(self, n: int) -> None:
        s = self.status
        if s.consecutive_failures:
            log.info(
                "Modbus %s at %s: recovered after %d failed poll(s)",
                self.target.device_id,
                self.target.label,
                s.consecutive_failures,
            )
        s.polls += 1
        s.readings += n
        s.consecutive_failures = 0
        s.ok = True
        s.last_success = self.clock()
        s.last_error = ""


class ModbusPoller:
    """Poll several devices concurrently (one task and one lock per device).

    Parameters
    ----------
    targets
        The devices (:func:`device_targets`).
    sink
        Receives the readings.
    clock
        Injectable time source (aware UTC).
    """

    def __init__(
        self,
        targets: Sequence[DeviceTarget],
        sink: ReadingSink,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.pollers = [DevicePoller(t, sink, clock) for t in targets]
        self._stop: asyncio.Event | None = None

    async def run(self) -> None:
        """Poll until :meth:`request_stop` (call it from the same event loop)."""
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # our own logging policy
        self._stop = asyncio.Event()
        await asyncio.gather(*(p.run(self._stop) for p in self.pollers))

    def request_stop(self) -> None:
        """Ask every device loop to finish after its current poll."""
        if self._stop is not None:
            self._stop.set()

    def stats(self) -> dict[str, Any]:
        """Per-device status, keyed by device id."""
        return {p.target.device_id: p.status.as_dict() for p in self.pollers}
