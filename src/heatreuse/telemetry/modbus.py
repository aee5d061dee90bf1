"""Modbus TCP ingest adapter: register decoding (pure) and a pymodbus 3 poller.

Decoding
--------
Registers are 16-bit, big-endian each (Modbus standard). 32-bit types span
two registers; ``word_order="big"`` ("ABCD") puts the high word first,
``"little"`` ("CDAB") the low word first. The value in the point's unit is
``raw * scale`` (the register map in the site YAML, see
:mod:`heatreuse.site.points`); for a register whose unit the device announces
in a unit-code register, ``raw * scale * f`` with ``f`` from the announced
unit to the point's (MWh -> kWh: 1000). :func:`decode_registers` /
:func:`encode_registers` are pure functions (no I/O); a simulator (the twin,
the tests) serves exactly what the poller reads by encoding with the same map.

A float32 that cannot be physical is not a reading
(:func:`implausible_reason`): NaN or infinity, a subnormal or vanishing
number, or a value out of range whose swapped-word reading is in range (a
wrong word order: 55.25 degC written low word first reads 2.4e-41 degC, which
the range check alone would store).

Polling
-------
One :class:`DevicePoller` per device (host, port, unit id, register map):

* registers are read in contiguous blocks (at most 125 registers per request,
  holding and input tables separately), one request at a time per device
  (an :class:`asyncio.Lock` per device), with the device's pause between
  requests;
* unit-code registers are read with the values (every poll, or at most every
  ``unit_code_interval_s`` of the device; an unknown or unread code is read
  again at the next poll); a change of code is logged; a code that is not in
  the code table is quarantined once per episode (reason
  ``unknown_unit_code``, naming the register) and the points it scales are
  withheld (counted in ``withheld_readings``) until a known code comes;
* an implausible float32 is refused: quarantined once per episode and
  register with its raw registers (reason ``implausible_decode``), repeats
  counted (``implausible_decodes``);
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
  registry's source key ``modbus:<device>:<address>`` (input registers
  ``modbus:<device>:input:<address>``) with source
  ``modbus:<host>:<port>/<unit>/<address>`` (``.../<unit>/input/<address>``)
  and the time the response came; the range check and the other checks stay
  the pipeline's.

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
from heatreuse.site.points import REGISTER_WIDTH, ModbusRegister, SitePoints, modbus_source_key
from heatreuse.telemetry.validate import RawReading
from heatreuse.units import unit_factor

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
Table = Literal["holding", "input"]


@dataclass(frozen=True)
class UnitCodeSpec:
    """A unit-code register: where a device announces the raw unit of value registers."""

    device_id: str
    address: int
    table: Table = "holding"
    register_type: RegisterType = "uint16"
    word_order: WordOrder = "big"

    @property
    def width(self) -> int:
        """Registers the code occupies."""
        return REGISTER_WIDTH[self.register_type]

    @property
    def key(self) -> tuple[str, int]:
        """``(table, address)``."""
        return (self.table, self.address)

    @property
    def label(self) -> str:
        """``<table> register <address>`` (for messages)."""
        return f"{self.table} register {self.address}"

    def decode(self, registers: Sequence[int]) -> int:
        """The code (an integer)."""
        return int(decode_registers(registers, self.register_type, self.word_order))


@dataclass(frozen=True)
class RegisterSpec:
    """One point's register(s), resolved against the device defaults.

    ``scale`` is the fixed factor; with ``unit_code`` the value is further
    converted from the unit the device announces (looked up in ``codes``)
    into ``point_unit``. ``min_value``/``max_value`` (the point's physical
    range) decide whether a float32 is plausible (:func:`implausible_reason`).
    """

    point_id: str
    device_id: str
    address: int
    register_type: RegisterType
    word_order: WordOrder
    scale: float
    table: Table = "holding"
    min_value: float = -math.inf
    max_value: float = math.inf
    point_unit: str = ""
    unit_code: UnitCodeSpec | None = None
    codes: tuple[tuple[int, str], ...] = ()

    @property
    def width(self) -> int:
        """Registers the value occupies."""
        return REGISTER_WIDTH[self.register_type]

    @property
    def key(self) -> tuple[str, int]:
        """``(table, address)``."""
        return (self.table, self.address)

    @property
    def source_key(self) -> str:
        """The registry key ``modbus:<device>:<address>`` (``:input:`` for input registers)."""
        return modbus_source_key(self.device_id, self.address, self.table)

    def unit_of(self, code: int) -> str | None:
        """The raw unit a unit code means for this register, or None (unknown code)."""
        return dict(self.codes).get(code)

    def scale_for(self, raw_unit: str | None = None) -> float:
        """Factor from the raw value to the point's unit.

        Raises
        ------
        IngestError
            A register with a unit code and no (or an unconvertible) raw unit.
        """
        if self.unit_code is None:
            return self.scale
        if raw_unit is None:
            raise IngestError(
                f"Modbus {self.device_id} {self.table} register {self.address}: its unit comes "
                f"from {self.unit_code.label}, which was not read"
            )
        try:
            return self.scale * unit_factor(raw_unit, self.point_unit)
        except ValueError as exc:
            raise IngestError(f"Modbus {self.device_id}: {exc}") from None

    def decode(self, registers: Sequence[int], raw_unit: str | None = None) -> float:
        """Value in the point's unit (``raw * scale``, converted from ``raw_unit``)."""
        raw = decode_registers(registers, self.register_type, self.word_order)
        return raw * self.scale_for(raw_unit)


#: Smallest positive normal IEEE 754 binary32 number (2**-126); non-zero magnitudes
#: below it are subnormal: no sensor produces them, a wrong word order does.
FLOAT32_MIN_NORMAL = 2.0**-126
#: Smallest non-zero raw magnitude a meter reports, in its raw unit (1e-9 MWh is 1 mWh,
#: 1e-9 degC far below any sensor's resolution). A float32 read with the wrong word order
#: takes its exponent from mantissa bits, so it is often a vanishing number like 1e-26.
MIN_NONZERO_RAW = 1.0e-9


def _plausible(value: float, spec: RegisterSpec, raw: float) -> bool:
    return (
        math.isfinite(raw)
        and (raw == 0.0 or abs(raw) >= MIN_NONZERO_RAW)
        and spec.min_value <= value <= spec.max_value
    )


def implausible_reason(
    spec: RegisterSpec, registers: Sequence[int], raw_unit: str | None = None
) -> str | None:
    """Why a float32 register cannot hold a physical value, or None.

    Implausible: NaN or infinity; a subnormal number (non-zero, below
    2**-126 in magnitude) or another vanishing one (non-zero, below
    :data:`MIN_NONZERO_RAW` in the raw unit); or a value outside the point's
    range whose swapped-word reading is inside it (a wrong word order). A
    value out of range whose swapped reading is out of range too is left to
    the range check (``out_of_range``). Other types always pass.

    Parameters
    ----------
    spec
        The register.
    registers
        The words as read.
    raw_unit
        The announced raw unit (registers with a unit code).

    Returns
    -------
    str or None
        What was read, what was expected and, when the other word order gives
        a value in range, that value.

    References
    ----------
    IEEE 754-2019, section 3.4 (binary32: subnormal numbers below 2**-126).
    """
    if spec.register_type != "float32":
        return None
    scale = spec.scale_for(raw_unit)
    raw = decode_registers(registers, "float32", spec.word_order)
    value = raw * scale
    if _plausible(value, spec, raw):
        return None
    other: WordOrder = "little" if spec.word_order == "big" else "big"
    raw_swapped = decode_registers(registers, "float32", other)
    swapped = raw_swapped * scale
    swapped_ok = _plausible(swapped, spec, raw_swapped)
    if not math.isfinite(raw):
        what = f"{raw!r} (not a number)" if math.isnan(raw) else f"{raw!r} (infinite)"
    elif raw != 0.0 and abs(raw) < FLOAT32_MIN_NORMAL:
        what = f"{raw!r} (a subnormal float32)"
    elif raw != 0.0 and abs(raw) < MIN_NONZERO_RAW:
        what = f"{raw!r} (vanishing: no meter reports a non-zero value below {MIN_NONZERO_RAW:g})"
    elif swapped_ok:
        what = f"{value!r} {spec.point_unit} (outside {spec.min_value:g}..{spec.max_value:g})"
    else:
        return None  # out of range either way: the range check says so
    where = f"{spec.point_id}: {spec.table} register {spec.address}"
    text = (
        f"{where}: float32 with word order {spec.word_order} decodes to {what}; expected a "
        f"finite value in {spec.min_value:g}..{spec.max_value:g} {spec.point_unit}"
    )
    if swapped_ok:
        text += (
            f"; with word order {other} it reads {swapped:.6g} {spec.point_unit}: check "
            "word_order of the device or register"
        )
    return text


@dataclass(frozen=True)
class ReadBlock:
    """One read request: contiguous registers of one table."""

    table: Table
    address: int
    count: int
    specs: tuple[RegisterSpec | UnitCodeSpec, ...]


def plan_reads(
    specs: Sequence[RegisterSpec | UnitCodeSpec], max_registers: int = MAX_REGISTERS_PER_READ
) -> list[ReadBlock]:
    """Group registers into contiguous read requests (no gaps, no overlaps).

    Parameters
    ----------
    specs
        The device's value registers (and unit-code registers).
    max_registers
        Upper bound of one request (125 for function codes 3 and 4).
    """
    blocks: list[ReadBlock] = []
    for table in ("holding", "input"):
        run: list[RegisterSpec | UnitCodeSpec] = []
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


def _block(table: Table, run: list[RegisterSpec | UnitCodeSpec]) -> ReadBlock:
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
    unit_code_interval_s
        Re-read the unit-code registers at most this often [s]; None: every
        poll (a code that is not known is re-read every poll).
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
    unit_code_interval_s: float | None = None

    @property
    def label(self) -> str:
        """``<host>:<port>/<unit>`` (the source label prefix)."""
        return f"{self.host}:{self.port}/{self.unit_id}"

    def source(self, address: int, table: str = "holding") -> str:
        """Source label of one register: ``modbus:<host>:<port>/<unit>/<address>``.

        Input registers: ``modbus:<host>:<port>/<unit>/input/<address>``.
        """
        if table == "input":
            return f"modbus:{self.label}/input/{address}"
        return f"modbus:{self.label}/{address}"

    @property
    def unit_code_specs(self) -> tuple[UnitCodeSpec, ...]:
        """The distinct unit-code registers of the device's points."""
        seen: dict[tuple[str, int], UnitCodeSpec] = {}
        for s in self.specs:
            if s.unit_code is not None:
                seen.setdefault(s.unit_code.key, s.unit_code)
        return tuple(seen.values())


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
        specs = []
        for p, reg in rows:
            code_spec = None
            codes: tuple[tuple[int, str], ...] = ()
            if reg.unit_code is not None:
                uc = reg.unit_code
                code_spec = UnitCodeSpec(dev.id, uc.address, uc.table, uc.type, dev.word_order)
                codes = tuple(sorted(site_points.unit_codes(reg).items()))
            specs.append(
                RegisterSpec(
                    point_id=p.id,
                    device_id=dev.id,
                    address=reg.address,
                    register_type=reg.type,
                    word_order=reg.word_order or dev.word_order,
                    scale=reg.scale,
                    table=reg.table,
                    min_value=p.min_value,
                    max_value=p.max_value,
                    point_unit=p.unit,
                    unit_code=code_spec,
                    codes=codes,
                )
            )
        out.append(
            DeviceTarget(
                device_id=dev.id,
                host=host,
                port=port,
                unit_id=dev.unit_id,
                specs=tuple(specs),
                poll_interval_s=poll_interval_s or dev.poll_interval_s,
                pause_between_requests_s=dev.pause_between_requests_s,
                timeout_s=dev.timeout_s,
                unit_code_interval_s=dev.unit_code_interval_s,
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
    """Live state of one device poller.

    Register sets hold ``(table, address)``; :meth:`as_dict` names them
    ``"<table> <address>"``.
    """

    ok: bool = False
    polls: int = 0
    readings: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    register_errors: int = 0
    implausible_decodes: int = 0
    withheld_readings: int = 0
    last_success: dt.datetime | None = None
    last_error: str = ""
    failing_registers: set[tuple[str, int]] = field(default_factory=set)
    implausible_registers: set[tuple[str, int]] = field(default_factory=set)
    unit_codes: dict[tuple[str, int], int] = field(default_factory=dict)
    unknown_unit_codes: dict[tuple[str, int], int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""

        def names(keys: Any) -> list[str]:
            return [f"{t} {a}" for t, a in sorted(keys)]

        return {
            "ok": self.ok,
            "polls": self.polls,
            "readings": self.readings,
            "failures": self.failures,
            "consecutive_failures": self.consecutive_failures,
            "register_errors": self.register_errors,
            "failing_registers": names(self.failing_registers),
            "implausible_decodes": self.implausible_decodes,
            "implausible_registers": names(self.implausible_registers),
            "withheld_readings": self.withheld_readings,
            "unit_codes": {f"{t} {a}": c for (t, a), c in sorted(self.unit_codes.items())},
            "unknown_unit_codes": {
                f"{t} {a}": c for (t, a), c in sorted(self.unknown_unit_codes.items())
            },
            "last_success": None
            if self.last_success is None
            else self.last_success.isoformat().replace("+00:00", "Z"),
            "last_error": self.last_error,
        }


_Span = RegisterSpec | UnitCodeSpec


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
        self.code_specs = target.unit_code_specs
        self.value_blocks = plan_reads(target.specs)
        #: Blocks of a poll that also reads the unit-code registers.
        self.blocks = plan_reads([*target.specs, *self.code_specs])
        self.lock = asyncio.Lock()
        self.status = DeviceStatus()
        self._client: Any = None
        self._codes_read_at: dt.datetime | None = None

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

    def _codes_due(self) -> bool:
        """Read the unit-code registers in this poll?"""
        if not self.code_specs:
            return False
        interval = self.target.unit_code_interval_s
        if interval is None or self._codes_read_at is None:
            return True
        if any(s.key not in self.status.unit_codes for s in self.code_specs):
            return True  # unknown or unread: try again at once
        return (self.clock() - self._codes_read_at).total_seconds() >= interval

    async def _read_blocks(
        self, blocks: Sequence[ReadBlock]
    ) -> tuple[
        dict[tuple[str, int], tuple[list[int], dt.datetime]], list[tuple[_Span, ModbusReadError]]
    ]:
        """Read the blocks; words and time per register, and the registers that failed."""
        got: dict[tuple[str, int], tuple[list[int], dt.datetime]] = {}
        rejects: list[tuple[_Span, ModbusReadError]] = []
        first = True
        for block in blocks:
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
                    got[spec.key] = (one, self.clock())
                continue
            when = self.clock()
            for spec in block.specs:
                off = spec.address - block.address
                got[spec.key] = (regs[off : off + spec.width], when)
        return got, rejects

    def _dependents(self, code: UnitCodeSpec) -> list[RegisterSpec]:
        return [s for s in self.target.specs if s.unit_code is not None and s.unit_code == code]

    def _update_codes(
        self,
        got: dict[tuple[str, int], tuple[list[int], dt.datetime]],
    ) -> list[tuple[UnitCodeSpec, list[int], int, list[RegisterSpec]]]:
        """Take the unit codes read in this poll; return the unknown ones (once per episode).

        A code that is unknown for a point, or whose register did not answer,
        leaves the point without a scale: its readings are withheld.
        """
        st = self.status
        unknown: list[tuple[UnitCodeSpec, list[int], int, list[RegisterSpec]]] = []
        for cs in self.code_specs:
            entry = got.get(cs.key)
            if entry is None:
                st.unit_codes.pop(cs.key, None)
                continue
            words = entry[0]
            code = cs.decode(words)
            dependents = self._dependents(cs)
            bad = [s for s in dependents if s.unit_of(code) is None]
            if bad:
                st.unit_codes.pop(cs.key, None)
                if st.unknown_unit_codes.get(cs.key) != code:
                    unknown.append((cs, words, code, bad))
                st.unknown_unit_codes[cs.key] = code
                continue
            if cs.key in st.unknown_unit_codes:
                del st.unknown_unit_codes[cs.key]
                log.info("Modbus %s %s: unit code %d is known again", cs.device_id, cs.label, code)
            before = st.unit_codes.get(cs.key)
            if before != code:
                units = ", ".join(f"{s.point_id} in {s.unit_of(code)}" for s in dependents)
                if before is None:
                    log.info("Modbus %s %s: unit code %d (%s)", cs.device_id, cs.label, code, units)
                else:
                    log.warning(
                        "Modbus %s %s: unit code changed %d -> %d (%s)",
                        cs.device_id,
                        cs.label,
                        before,
                        code,
                        units,
                    )
            st.unit_codes[cs.key] = code
        self._codes_read_at = self.clock()
        return unknown

    async def poll_once(self) -> list[RawReading]:
        """Read every register once; return the readings (not yet handed to the sink).

        Registers answering with an exception are reported to the sink's
        ``reject`` once per failure episode and skipped; so are unknown unit
        codes (``unknown_unit_code``; the points they scale are withheld) and
        float32 registers that decode to no physical value
        (``implausible_decode``, :func:`implausible_reason`).

        Raises
        ------
        ModbusReadError
            The device cannot be reached or does not answer (no ``exception_code``).
        """
        st = self.status
        due = self._codes_due()
        async with self.lock:
            got, rejects = await self._read_blocks(self.blocks if due else self.value_blocks)
        unknown = self._update_codes(got) if due else []
        readings: list[RawReading] = []
        implausible: list[tuple[RegisterSpec, list[int], str]] = []
        for spec in self.target.specs:
            entry = got.get(spec.key)
            if entry is None:
                continue
            words, when = entry
            raw_unit: str | None = None
            if spec.unit_code is not None:
                code = st.unit_codes.get(spec.unit_code.key)
                raw_unit = None if code is None else spec.unit_of(code)
                if raw_unit is None:
                    st.withheld_readings += 1
                    continue
            detail = implausible_reason(spec, words, raw_unit)
            if detail is not None:
                implausible.append((spec, words, detail))
                continue
            if spec.key in st.implausible_registers:
                st.implausible_registers.discard(spec.key)
                log.info(
                    "Modbus %s %s register %d: plausible again",
                    self.target.device_id,
                    spec.table,
                    spec.address,
                )
            readings.append(self._reading(spec, words, when, raw_unit))
        recovered = st.failing_registers & set(got)
        for table, addr in sorted(recovered):
            log.info("Modbus %s %s register %d: recovered", self.target.device_id, table, addr)
        st.failing_registers -= recovered
        for span, err in rejects:
            st.register_errors += 1
            if span.key in st.failing_registers:
                log.debug("%s (still failing)", err)
                continue
            st.failing_registers.add(span.key)
            if isinstance(span, RegisterSpec):
                point_id: str | None = span.point_id
                what = f"point {span.point_id} skipped until it answers"
            else:
                point_id = None
                names = ", ".join(s.point_id for s in self._dependents(span))
                what = f"unit-code register of {names}: withheld until it answers"
            log.error("%s; %s", err, what)
            await asyncio.to_thread(
                self.sink.reject,
                self.target.source(span.address, span.table),
                f"exception_code={err.exception_code}",
                "device_exception",
                f"{err}; {what}",
                point_id,
            )
        for cs, words, code, bad in unknown:
            known = ", ".join(f"{c}={u}" for c, u in bad[0].codes)
            detail = (
                f"Modbus {self.target.device_id} at {self.target.label}: unit-code {cs.label} "
                f"holds {code}, which is not in the code table ({known}); readings of "
                f"{', '.join(s.point_id for s in bad)} withheld until a known code comes"
            )
            log.error("%s", detail)
            await asyncio.to_thread(
                self.sink.reject,
                self.target.source(cs.address, cs.table),
                f"registers={list(words)} code={code}",
                "unknown_unit_code",
                detail,
                bad[0].point_id if len(bad) == 1 else None,
            )
        for spec, words, detail in implausible:
            st.implausible_decodes += 1
            if spec.key in st.implausible_registers:
                log.debug("Modbus %s: %s (still)", self.target.device_id, detail)
                continue
            st.implausible_registers.add(spec.key)
            log.error(
                "Modbus %s at %s: %s; refused (repeats are counted, not quarantined again)",
                self.target.device_id,
                self.target.label,
                detail,
            )
            await asyncio.to_thread(
                self.sink.reject,
                self.target.source(spec.address, spec.table),
                f"registers={list(words)}",
                "implausible_decode",
                detail,
                spec.point_id,
            )
        return readings

    def _reading(
        self,
        spec: RegisterSpec,
        regs: Sequence[int],
        when: dt.datetime | None = None,
        raw_unit: str | None = None,
    ) -> RawReading:
        value = spec.decode(regs, raw_unit)
        unit = f" unit={raw_unit}" if raw_unit is not None else ""
        return RawReading(
            point=spec.source_key,
            ts=when or self.clock(),
            value=value,
            source=self.target.source(spec.address, spec.table),
            raw=f"registers={list(regs)}{unit} value={value!r}"
            if math.isfinite(value)
            else f"registers={list(regs)}{unit}",
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
