"""The point registry declared in the site YAML (section ``points:``).

A *point* is one measured or counted quantity of the site: a rack's IT power,
a loop temperature, the heat meter's energy register, a pump's run status. Each
point has a canonical id that carries its unit (``hx.secondary_supply_temp_c``,
``meter.heat_energy_kwh``, ``pump.p-primary.status``), the equipment it belongs
to, a quantity, an SI-consistent unit, a kind (``measurement``, ``counter`` for
monotonic registers, ``status`` for 0/1 states), a Brick class and Haystack
tags, a physical range, the expected sample interval and its sources (MQTT
topic suffix, Modbus register, file column). Meters carry an EN 1434 accuracy
class.

Sensor package
--------------
``points: {package: standard_hydronic}`` (the default when the section is
missing) expands, from the site's own plant, into the standard point list
(:func:`standard_hydronic_points`) that the twin publishes and the ledger,
SLA and monitoring read::

    rack.<rack>.it_power_w            IT power per rack group          [W]
    rack.<rack>.inlet_temp_c          coolant into the rack            [degC]
    rack.<rack>.outlet_temp_c         coolant out of the rack          [degC]
    it_loop.supply_temp_c             IT coolant loop, to the racks    [degC]
    it_loop.return_temp_c             IT coolant loop, from the racks  [degC]
    it_loop.flow_m3_per_h             IT coolant loop flow             [m3/h]
    hx.secondary_supply_temp_c        plate HX, secondary leaving      [degC]
    hx.secondary_return_temp_c        plate HX, secondary entering     [degC]
    hx.secondary_flow_m3_per_h        plate HX, secondary flow         [m3/h]
    hx.heat_power_w                   heat recovered through the HX    [W]
    tank.layer_<i>_temp_c             buffer tank layer i, 1 = top     [degC]
    pump.<pump>.status                1 running, 0 stopped             [1]
    pump.<pump>.speed_fraction        speed as fraction of rated       [1]
    pump.<pump>.power_w               electric power of the pump       [W]
    meter.supply_temp_c               heat meter, flow (supply) sensor [degC]
    meter.return_temp_c               heat meter, return sensor        [degC]
    meter.flow_m3_per_h               heat meter, volume flow          [m3/h]
    meter.heat_power_w                heat meter, thermal power        [W]
    meter.heat_energy_kwh             heat meter, energy register      [kWh] (counter)
    customer.supply_temp_c            supply at the customer (SLA)     [degC]
    customer.return_temp_c            return from the customer         [degC]
    loop.pressure_bar                 hot-water loop gauge pressure    [bar]
    utility.feed_status               1 utility feed present, 0 lost   [1]
    elec.it_power_w / elec.it_energy_kwh            site electricity, IT
    elec.cooling_power_w / elec.cooling_energy_kwh  cooling (CDU, fans)
    elec.pumps_power_w / elec.pumps_energy_kwh      circulation pumps
    elec.other_power_w / elec.other_energy_kwh      lighting, controls, UPS losses
    boiler.heat_power_w, boiler.heat_energy_kwh, boiler.status         (if a backup boiler)
    dry_cooler.heat_power_w, dry_cooler.heat_energy_kwh, dry_cooler.status  (if a reject path)
    heat_pump.heat_power_w, heat_pump.elec_power_w, heat_pump.elec_energy_kwh,
    heat_pump.status                                                   (if a heat pump)

``points.entries`` add points or override fields of package points (matched by
``id``); ``points.remove`` drops package points a site does not have;
``points.equipment`` declares extra equipment; ``points.modbus_devices``
replaces package devices by ``id`` (e.g. to set ``host`` and ``port``).

Default Modbus register map
---------------------------
Holding registers, 0-based addresses, each register big-endian (Modbus
standard); 32-bit values span two registers with the high word first
(``word_order: big``, "ABCD") unless the device or register says ``little``
(low word first, "CDAB"). The value in the point's unit is
``raw * scale``. The map is data (:data:`HEAT_METER_REGISTER_MAP`,
:data:`PUMP_CONTROLLER_REGISTER_MAP`, :meth:`SitePoints.register_map`), so the
twin serves exactly what the poller reads.

Heat meter, device ``heat-meter`` (unit id 1)::

    addr  point                   type     raw unit  scale
    0     meter.supply_temp_c     float32  degC      1
    2     meter.return_temp_c     float32  degC      1
    4     meter.flow_m3_per_h     float32  m3/h      1
    6     meter.heat_power_w      float32  kW        1000
    8     meter.heat_energy_kwh   uint32   Wh        0.001   (rolls over at 2**32 Wh)

Pump controller, device ``pump-controller`` (unit id 2), one block of 10
registers per pump in the order of ``plant.pumps`` (pump k starts at 10 k)::

    +0    pump.<id>.status          uint16   1         1       (1 running, 0 stopped)
    +1    pump.<id>.speed_fraction  float32  %         0.01
    +3    pump.<id>.power_w         float32  W         1

Other register maps (a real meter)
----------------------------------
A point's ``source.modbus`` may say ``table: input`` (input registers,
function code 4; registry key ``modbus:<device>:input:<address>``),
``word_order: little`` (or the device's ``word_order``), and, instead of a
fixed ``unit``, a ``unit_code`` register in which the device announces the
raw unit at run time. The code is looked up in a code table of the device's
``kind`` (data in the site file) and converted into the point's unit
(:func:`heatreuse.units.unit_factor`)::

    points:
      unit_code_tables:
        acme_mc603:                       # a device kind: its manual's code tables
          energy: [[0, Wh], [1, kWh], [2, MWh], [3, GJ]]    # [code, unit]
          power: [[0, W], [1, kW]]
      modbus_devices:
        - {id: heat-meter, kind: acme_mc603, host: 10.0.0.20, word_order: little,
           unit_code_interval_s: 300}     # re-read the codes every 5 min (default: every poll)
      entries:
        - id: meter.heat_energy_kwh
          source:
            modbus: {device: heat-meter, table: input, address: 8, type: float32,
                     unit_code: {address: 40, table: input, codes: energy}}

The value is ``raw x scale x f(announced unit -> point unit)``; a code that
is not in the table is a device error (quarantined as ``unknown_unit_code``
naming the register; the point's readings are withheld until a known code
comes). Loading the site checks that every unit of the table converts into
the point's unit and that the code register overlaps no value register.

References
----------
Brick Schema 1.4/1.5 class names (https://brickschema.org/ontology); Project
Haystack 4 tags (https://project-haystack.org/doc/docHaystack/Tags);
EN 1434-1:2022 (heat meters, accuracy classes 1-3); Modbus Application
Protocol Specification V1.1b3 (register model, big-endian registers).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from heatreuse.errors import SiteConfigError
from heatreuse.site.base import SiteModel
from heatreuse.units import UNIT_SUFFIXES, split_unit_suffix, unit_factor

if TYPE_CHECKING:
    from heatreuse.site.model import Site

PointKind = Literal["measurement", "counter", "status"]
RegisterType = Literal["float32", "int16", "uint16", "int32", "uint32"]
WordOrder = Literal["big", "little"]
AccuracyClass = Literal["1", "2", "3"]

PointId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$", max_length=128)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=64)]
BrickClass = Annotated[str, Field(pattern=r"^([a-z]+:)?[A-Z][A-Za-z0-9_]*$")]

#: Unit of a status point (dimensionless 0/1).
STATUS_UNIT = "1"
#: Registers a value of each Modbus type occupies.
REGISTER_WIDTH: dict[str, int] = {
    "float32": 2,
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
}
#: Default temperature range of a water sensor [degC] (liquid loop, sensor limits).
WATER_TEMP_RANGE_C = (-10.0, 120.0)
#: Default range of a gauge pressure sensor [bar] (PN 16 hydronic parts).
PRESSURE_RANGE_BAR = (0.0, 16.0)
#: Upper bound of energy registers [kWh] (any value above is a wiring or decoding error).
MAX_REGISTER_KWH = 1.0e10


class _Model(SiteModel):
    """Frozen, no unknown fields; numbers finite and plausible (:mod:`heatreuse.site.base`)."""


# --------------------------------------------------------------------------- modbus
RegisterTable = Literal["holding", "input"]
UnitCodeType = Literal["uint16", "int16", "uint32", "int32"]


def modbus_source_key(device: str, address: int, table: str = "holding") -> str:
    """Registry source key of a Modbus register.

    ``modbus:<device>:<address>`` for a holding register (function 3),
    ``modbus:<device>:input:<address>`` for an input register (function 4).
    """
    if table == "input":
        return f"modbus:{device}:input:{address}"
    return f"modbus:{device}:{address}"


class UnitCodeRegister(_Model):
    """A register in which the device announces, at run time, the unit of a value register.

    The code read from it is looked up in the code table ``codes`` of the
    device's kind (``points.unit_code_tables[<kind>][<codes>]``: code ->
    unit); an unknown code is a device error (quarantined as
    ``unknown_unit_code``, the point's readings withheld until a known code
    comes).
    """

    address: Annotated[int, Field(ge=0, le=65535)]
    table: RegisterTable = "holding"
    type: UnitCodeType = "uint16"
    codes: Identifier = Field(description="Name of the code table of the device's kind.")

    @property
    def width(self) -> int:
        """Number of 16-bit registers the code occupies."""
        return REGISTER_WIDTH[self.type]


class ModbusRegister(_Model):
    """Where a point sits in a Modbus device.

    The value in the point's unit is ``raw * scale``, ``raw`` the register
    content decoded as ``type`` with ``word_order`` (for 32-bit types). With
    ``unit_code``, the raw unit is read from the device at run time and the
    value is ``raw * scale * f``, ``f`` converting the announced unit into
    the point's (:func:`heatreuse.units.unit_factor`; MWh -> kWh: 1000).
    """

    device: Identifier
    """Id of the Modbus device (under `points.modbus_devices`)."""
    address: Annotated[int, Field(ge=0, le=65535)]
    """Register address, 0-based (first register of a 32-bit value)."""
    type: RegisterType = "float32"
    """How the register content is decoded."""
    word_order: WordOrder | None = Field(
        None, description="Word order of 32-bit values; None: the device's."
    )
    scale: float = 1.0
    unit: str | None = Field(
        None,
        description="Unit of the raw register value, e.g. 'kW', 'Wh', 'degC'; with "
        "unit_code: the unit the device is set to (what the twin announces), else required.",
    )
    table: RegisterTable = "holding"
    unit_code: UnitCodeRegister | None = Field(
        None, description="Register announcing the raw unit at run time (scale source)."
    )

    @field_validator("scale")
    @classmethod
    def _nonzero(cls, value: float) -> float:
        if value == 0.0 or not math.isfinite(value):
            raise ValueError(f"scale must be a finite non-zero number, got {value}")
        return value

    @model_validator(mode="after")
    def _unit_given(self) -> ModbusRegister:
        if self.unit is None and self.unit_code is None:
            raise ValueError(
                f"Modbus register {self.address} of '{self.device}': expected 'unit' (the raw "
                "unit, e.g. 'Wh') or 'unit_code' (a register announcing it)"
            )
        return self

    @property
    def width(self) -> int:
        """Number of 16-bit registers the value occupies."""
        return REGISTER_WIDTH[self.type]

    @property
    def source_key(self) -> str:
        """Registry source key (:func:`modbus_source_key`)."""
        return modbus_source_key(self.device, self.address, self.table)

    def scale_source(self) -> str:
        """Where the scale comes from, for listings: ``x0.001 (Wh)`` or the unit-code register."""
        if self.unit_code is None:
            return f"x{self.scale:g} ({self.unit})"
        uc = self.unit_code
        extra = f" x{self.scale:g}" if self.scale != 1.0 else ""
        return f"unit code {uc.table} {uc.address} ({uc.codes}){extra}"


class ModbusDevice(_Model):
    """A Modbus TCP device (heat meter, pump controller, ...).

    ``kind`` is ``heat_meter``, ``pump_controller``, ``generic`` or a device
    model of your own (``acme_mc603``); it names the device's code tables in
    ``points.unit_code_tables``.
    """

    id: Identifier
    """Device id (referred to by `source.modbus.device`)."""
    kind: Identifier = "generic"
    """What the device is: `heat_meter`, `pump_controller`, `generic` or a model name of
    your own (the key of its `unit_code_tables`)."""
    unit_id: Annotated[int, Field(ge=0, le=255)] = 1
    """Modbus unit (slave) id."""
    host: str | None = Field(None, description="Address; None: given on the command line.")
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    """TCP port."""
    word_order: WordOrder = "big"
    """Word order of 32-bit values: `big` high word first (ABCD), `little` low word first (CDAB)."""
    poll_interval_s: Annotated[float, Field(gt=0.0)] = 10.0
    """Time between polls of the device."""
    pause_between_requests_s: Annotated[float, Field(ge=0.0)] = 0.05
    """Pause between two requests to the device."""
    timeout_s: Annotated[float, Field(gt=0.0)] = 3.0
    """Time to wait for an answer."""
    unit_code_interval_s: Annotated[float, Field(gt=0.0)] | None = Field(
        None,
        description="Re-read the unit-code registers at most this often [s]; None: every poll.",
    )


# --------------------------------------------------------------------------- points
class PointSource(_Model):
    """Where a point's readings come from. ``None`` fields take the default.

    Defaults: ``mqtt_topic`` is the id with ``.`` replaced by ``/`` (relative to
    the site's topic prefix), ``file_column`` is the id, no Modbus register.
    """

    mqtt_topic: str | None = None
    """Topic below the site prefix; default: the point id with `.` replaced by `/`."""
    modbus: ModbusRegister | None = None
    """Where the point sits in a Modbus device; default: not polled."""
    file_column: str | None = None
    """Column name in a wide CSV/Parquet file; default: the point id."""


class Equipment(_Model):
    """A piece of equipment (or a loop) that points belong to."""

    id: Identifier
    """Equipment id (points refer to it)."""
    brick_class: BrickClass
    """Brick class, e.g. `Hot_Water_Pump`."""
    name: str = ""
    """Human-readable name."""
    part_of: Identifier | None = Field(None, description="Parent equipment id (brick:hasPart).")
    feeds: tuple[Identifier, ...] = Field(default=(), description="Equipment this one feeds.")
    meters: Identifier | None = Field(None, description="Equipment this meter meters.")


class Point(_Model):
    """A fully specified point (what the registry holds)."""

    id: PointId
    equipment: Identifier
    quantity: str
    unit: str
    kind: PointKind
    brick_class: BrickClass
    haystack_tags: tuple[str, ...] = ()
    min_value: float = Field(description="Lowest physically possible value [the point's unit].")
    max_value: float = Field(description="Highest physically possible value [the point's unit].")
    sample_interval_s: Annotated[float, Field(gt=0.0)]
    source: PointSource = Field(default_factory=PointSource)
    accuracy_class: AccuracyClass | None = Field(
        None, description="EN 1434 accuracy class of a heat meter (1, 2 or 3)."
    )
    rollover_value: float | None = Field(
        None,
        description="Counter only: the register value at which it wraps to 0 [the point's "
        "unit]; None: taken from an unsigned Modbus register (2**bits x scale), else none.",
    )
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        if not (math.isfinite(self.min_value) and math.isfinite(self.max_value)):
            raise ValueError(f"point '{self.id}': min_value and max_value must be finite")
        if self.rollover_value is not None and (
            self.kind != "counter"
            or not math.isfinite(self.rollover_value)
            or self.rollover_value <= 0
        ):
            raise ValueError(
                f"point '{self.id}': rollover_value is for counters and must be a positive "
                f"number; got {self.rollover_value} on a {self.kind} point"
            )
        if self.min_value >= self.max_value:
            raise ValueError(
                f"point '{self.id}': min_value ({self.min_value}) must be below max_value "
                f"({self.max_value})"
            )
        if self.kind == "status":
            if self.unit != STATUS_UNIT:
                raise ValueError(
                    f"point '{self.id}': a status point has unit '1', got {self.unit!r}"
                )
        else:
            split = split_unit_suffix(self.id.rsplit(".", 1)[-1])
            if split is None:
                raise ValueError(
                    f"point '{self.id}': the id must end with its unit (e.g. '_temp_c', "
                    f"'_power_w', '_energy_kwh'); expected a suffix for unit {self.unit!r}"
                )
            if UNIT_SUFFIXES[split[1]] != self.unit:
                raise ValueError(
                    f"point '{self.id}': the id says {UNIT_SUFFIXES[split[1]]!r} but unit is "
                    f"{self.unit!r}"
                )
        return self

    @property
    def counter_rollover(self) -> float | None:
        """Value at which this counter wraps to 0 [the point's unit], or ``None``.

        ``rollover_value`` when given; else, for a counter read from an unsigned
        Modbus register with a fixed scale, ``2**(16 x width) x scale`` (a
        ``uint32`` Wh register with scale 0.001 wraps at 4,294,967.296 kWh);
        else ``None`` (a register whose unit the device announces wraps at a
        value that depends on the unit: give ``rollover_value``).
        """
        if self.kind != "counter":
            return None
        if self.rollover_value is not None:
            return self.rollover_value
        reg = self.source.modbus
        if reg is not None and reg.type.startswith("uint") and reg.unit_code is None:
            return float(2 ** (16 * reg.width)) * abs(reg.scale)
        return None

    @property
    def mqtt_topic(self) -> str:
        """Topic suffix below the site's prefix."""
        return self.source.mqtt_topic or self.id.replace(".", "/")

    @property
    def file_column(self) -> str:
        """Column name in a wide file (and point id in a long file)."""
        return self.source.file_column or self.id


class PointEntry(_Model):
    """A ``points.entries`` item: a new point (all fields) or an override (id + changes)."""

    id: PointId
    """Point id; it ends with its unit (`_temp_c`, `_power_w`, `_energy_kwh`); a package point to
    override or a new one."""
    equipment: Identifier | None = None
    """Equipment id the point belongs to (new points: required)."""
    quantity: str | None = None
    """Measured quantity, e.g. `temperature` (new points: required)."""
    unit: str | None = None
    """Unit, matching the id's suffix (`degC`, `W`, `kWh`; status points `1`) (new points:
    required)."""
    kind: PointKind | None = None
    """`measurement`, `counter` (a monotonic register) or `status` (0/1) (new points: required)."""
    brick_class: BrickClass | None = None
    """Brick class of the point, e.g. `Supply_Water_Temperature_Sensor` (new points: required)."""
    haystack_tags: tuple[str, ...] | None = None
    """Project Haystack tags."""
    min_value: float | None = None
    """Lowest physically possible value; readings below are quarantined `out_of_range` (new points:
    required)."""
    max_value: float | None = None
    """Highest physically possible value (new points: required)."""
    sample_interval_s: Annotated[float, Field(gt=0.0)] | None = None
    """Expected time between readings (new points: required)."""
    source: PointSource | None = None
    """Where readings come from (MQTT topic, Modbus register, file column)."""
    accuracy_class: AccuracyClass | None = None
    """EN 1434 accuracy class of a heat meter."""
    rollover_value: float | None = None
    """Counters: value at which the register wraps to 0."""
    description: str | None = None
    """What the point measures."""


#: Code tables of one device kind: table name -> code -> unit (``{energy: {0: Wh, 1: kWh}}``).
UnitCodeTables = dict[str, dict[int, str]]
UnitCode = Annotated[int, Field(ge=-(2**31), le=2**32 - 1)]
UnitName = Annotated[str, Field(min_length=1, max_length=32)]


class PointsConfig(_Model):
    """The ``points:`` section of a site file."""

    package: Literal["standard_hydronic", "none"] = "standard_hydronic"
    """Sensor package: `standard_hydronic` (the standard point list built from the plant) or `none`.
    """
    entries: list[PointEntry] = Field(default_factory=list)
    """Points to add, or changes to package points (matched by `id`)."""
    remove: list[str] = Field(default_factory=list)
    """Package point ids the site does not have."""
    equipment: list[Equipment] = Field(default_factory=list)
    """Extra equipment for added points."""
    modbus_devices: list[ModbusDevice] = Field(default_factory=list)
    """Modbus devices; replace package devices by `id` (e.g. to set `host` and `port`)."""
    unit_code_tables: dict[Identifier, dict[Identifier, list[tuple[UnitCode, UnitName]]]] = Field(
        default_factory=dict,
        description="Per device kind: code tables of unit-code registers, name -> "
        "[[code, unit], ...] (e.g. energy: [[0, Wh], [1, kWh], [2, MWh]]).",
    )

    @field_validator("unit_code_tables")
    @classmethod
    def _codes_unique(
        cls, value: dict[str, dict[str, list[tuple[int, str]]]]
    ) -> dict[str, dict[str, list[tuple[int, str]]]]:
        for kind, tables in value.items():
            for name, rows in tables.items():
                seen: set[int] = set()
                for code, _unit in rows:
                    if code in seen:
                        raise ValueError(f"{kind}.{name}: code {code} given twice")
                    seen.add(code)
        return value

    def code_tables(self) -> dict[str, UnitCodeTables]:
        """``unit_code_tables`` as kind -> table -> {code: unit}."""
        return {
            kind: {name: dict(rows) for name, rows in tables.items()}
            for kind, tables in self.unit_code_tables.items()
        }

    @model_validator(mode="after")
    def _unique(self) -> PointsConfig:
        for name, ids in (
            ("entries", [e.id for e in self.entries]),
            ("equipment", [e.id for e in self.equipment]),
            ("modbus_devices", [d.id for d in self.modbus_devices]),
            ("remove", list(self.remove)),
        ):
            seen: set[str] = set()
            for i in ids:
                if i in seen:
                    raise ValueError(f"points.{name}: id '{i}' given twice")
                seen.add(i)
        return self


class SitePoints(_Model):
    """The expanded point list of one site: equipment, points, Modbus devices."""

    site_id: str
    equipment: tuple[Equipment, ...]
    points: tuple[Point, ...]
    modbus_devices: tuple[ModbusDevice, ...]
    unit_code_tables: dict[str, UnitCodeTables] = Field(default_factory=dict)

    def by_id(self) -> dict[str, Point]:
        """Points keyed by id."""
        return {p.id: p for p in self.points}

    def counter_rollovers(self) -> dict[str, float]:
        """Point id -> roll-over value [the point's unit] of the counters that have one."""
        return {p.id: r for p in self.points if (r := p.counter_rollover) is not None}

    def register_map(self, device_id: str) -> list[tuple[Point, ModbusRegister]]:
        """The register map of one Modbus device, sorted by address.

        Raises
        ------
        SiteConfigError
            Unknown device id.
        """
        if device_id not in {d.id for d in self.modbus_devices}:
            raise SiteConfigError(
                f"points.modbus_devices: no device '{device_id}'; expected one of "
                f"{sorted(d.id for d in self.modbus_devices)}"
            )
        rows = [
            (p, p.source.modbus)
            for p in self.points
            if p.source.modbus is not None and p.source.modbus.device == device_id
        ]
        return sorted(rows, key=lambda row: row[1].address)

    def device(self, device_id: str) -> ModbusDevice:
        """A Modbus device by id."""
        for d in self.modbus_devices:
            if d.id == device_id:
                return d
        raise SiteConfigError(
            f"points.modbus_devices: no device '{device_id}'; expected one of "
            f"{sorted(d.id for d in self.modbus_devices)}"
        )

    def unit_codes(self, register: ModbusRegister) -> dict[int, str]:
        """Code table (code -> unit) of a register with a ``unit_code``.

        Raises
        ------
        SiteConfigError
            No unit-code register, or no such table for the device's kind.
        """
        if register.unit_code is None:
            raise SiteConfigError(
                f"Modbus register {register.address} of '{register.device}' has no unit_code"
            )
        kind = self.device(register.device).kind
        tables = self.unit_code_tables.get(kind, {})
        name = register.unit_code.codes
        if name not in tables:
            raise SiteConfigError(
                f"points.unit_code_tables: device kind '{kind}' has no code table '{name}'; "
                f"expected one of {sorted(tables)}"
            )
        return dict(tables[name])


def unit_code_scale(register: ModbusRegister, raw_unit: str, point_unit: str) -> float:
    """Scale of a register whose raw unit ``raw_unit`` was announced by the device.

    ``register.scale x unit_factor(raw_unit, point_unit)``: a float32 energy
    register announced in MWh for a kWh point has scale 1000.

    Raises
    ------
    ValueError
        The announced unit cannot be converted into the point's unit.
    """
    return register.scale * unit_factor(raw_unit, point_unit)


def default_unit_code(codes: dict[int, str], register: ModbusRegister, point_unit: str) -> int:
    """The code a device set up as the register says announces (what the twin serves).

    The code of ``register.unit`` when given, else of the point's own unit,
    else the lowest code.
    """
    for want in (register.unit, point_unit):
        for code in sorted(codes):
            if want is not None and codes[code] == want:
                return code
    return min(codes)


# --------------------------------------------------------------------------- default maps
#: Heat meter map: (point id, address, type, raw unit, scale). See the module docstring.
HEAT_METER_REGISTER_MAP: tuple[tuple[str, int, RegisterType, str, float], ...] = (
    ("meter.supply_temp_c", 0, "float32", "degC", 1.0),
    ("meter.return_temp_c", 2, "float32", "degC", 1.0),
    ("meter.flow_m3_per_h", 4, "float32", "m3/h", 1.0),
    ("meter.heat_power_w", 6, "float32", "kW", 1000.0),
    ("meter.heat_energy_kwh", 8, "uint32", "Wh", 0.001),
)
#: Pump controller block per pump: (point id suffix, offset, type, raw unit, scale).
PUMP_CONTROLLER_REGISTER_MAP: tuple[tuple[str, int, RegisterType, str, float], ...] = (
    ("status", 0, "uint16", "1", 1.0),
    ("speed_fraction", 1, "float32", "%", 0.01),
    ("power_w", 3, "float32", "W", 1.0),
)
#: Registers reserved per pump in the pump controller.
PUMP_BLOCK_REGISTERS = 10
HEAT_METER_DEVICE = ModbusDevice(id="heat-meter", kind="heat_meter", unit_id=1)
PUMP_CONTROLLER_DEVICE = ModbusDevice(id="pump-controller", kind="pump_controller", unit_id=2)


# --------------------------------------------------------------------------- the package
def _temp(
    pid: str,
    equipment: str,
    brick: str,
    tags: Iterable[str],
    description: str,
    interval_s: float = 10.0,
    rng: tuple[float, float] = WATER_TEMP_RANGE_C,
    modbus: ModbusRegister | None = None,
) -> Point:
    return Point(
        id=pid,
        equipment=equipment,
        quantity="temperature",
        unit="degC",
        kind="measurement",
        brick_class=brick,
        haystack_tags=("point", "sensor", "temp", "water", *tags),
        min_value=rng[0],
        max_value=rng[1],
        sample_interval_s=interval_s,
        source=PointSource(modbus=modbus),
        description=description,
    )


def _power(
    pid: str,
    equipment: str,
    brick: str,
    tags: Iterable[str],
    max_w: float,
    description: str,
    modbus: ModbusRegister | None = None,
) -> Point:
    return Point(
        id=pid,
        equipment=equipment,
        quantity="power",
        unit="W",
        kind="measurement",
        brick_class=brick,
        haystack_tags=("point", "sensor", "power", *tags),
        min_value=0.0,
        max_value=max_w,
        sample_interval_s=10.0,
        source=PointSource(modbus=modbus),
        description=description,
    )


def _energy(
    pid: str,
    equipment: str,
    brick: str,
    tags: Iterable[str],
    description: str,
    modbus: ModbusRegister | None = None,
    accuracy: AccuracyClass | None = None,
) -> Point:
    return Point(
        id=pid,
        equipment=equipment,
        quantity="energy",
        unit="kWh",
        kind="counter",
        brick_class=brick,
        haystack_tags=("point", "sensor", "energy", "his", *tags),
        min_value=0.0,
        max_value=MAX_REGISTER_KWH,
        sample_interval_s=60.0,
        source=PointSource(modbus=modbus),
        accuracy_class=accuracy,
        description=description,
    )


def _flow(
    pid: str,
    equipment: str,
    brick: str,
    max_m3_per_h: float,
    description: str,
    modbus: ModbusRegister | None = None,
) -> Point:
    return Point(
        id=pid,
        equipment=equipment,
        quantity="volume_flow",
        unit="m3/h",
        kind="measurement",
        brick_class=brick,
        haystack_tags=("point", "sensor", "water", "flow"),
        min_value=0.0,
        max_value=max_m3_per_h,
        sample_interval_s=10.0,
        source=PointSource(modbus=modbus),
        description=description,
    )


def _status(
    pid: str,
    equipment: str,
    brick: str,
    tags: Iterable[str],
    description: str,
    modbus: ModbusRegister | None = None,
) -> Point:
    return Point(
        id=pid,
        equipment=equipment,
        quantity="status",
        unit=STATUS_UNIT,
        kind="status",
        brick_class=brick,
        haystack_tags=("point", "sensor", *tags),
        min_value=0.0,
        max_value=1.0,
        sample_interval_s=10.0,
        source=PointSource(modbus=modbus),
        description=description,
    )


def _boiler_class(fuel: str) -> str:
    return {"natural_gas": "Natural_Gas_Boiler", "electric": "Electric_Boiler"}.get(fuel, "Boiler")


def standard_hydronic_points(site: Site) -> SitePoints:
    """Expand the ``standard_hydronic`` sensor package for a site.

    Parameters
    ----------
    site
        The site; racks, pumps, tank layers and optional plant (backup boiler,
        dry cooler, heat pump) decide which points exist.

    Returns
    -------
    SitePoints
        Equipment, points and the two default Modbus devices (heat meter,
        pump controller) with their register maps (see the module docstring).

    Notes
    -----
    Ranges are physical limits, not alarm limits: power up to 1.5x nameplate,
    flows up to 3x the largest rated pump flow, water temperatures -10 to
    120 degC, gauge pressure 0-16 bar (PN 16).
    """
    plant = site.plant
    nameplate_w = site.compute.nameplate_it_power_w
    max_flow = 3.0 * max(p.rated_flow_m3_per_h for p in plant.pumps)
    max_heat_w = 1.5 * nameplate_w + (plant.heat_pump.max_heat_w if plant.heat_pump else 0.0)
    # A full tank can discharge faster than the IT heats it: bound by water at the tank's
    # maximum temperature cooled to 0 degC at the largest flow (cp ~ 1163 Wh/(m3 K)).
    max_heat_w = max(max_heat_w, max_flow * 1163.0 * plant.buffer_tank.max_temp_c)
    loop = "hot-water-loop"
    equipment: list[Equipment] = [
        Equipment(
            id=loop,
            brick_class="Heat_Recovery_Hot_Water_System",
            name="Heat-recovery hot-water loop",
        ),
        Equipment(id="it-loop", brick_class="Water_Loop", name="IT coolant loop", feeds=("hx",)),
        # Brick 1.5 lets HVAC equipment (the HX) feed only HVAC equipment, valves and spaces,
        # not a tank: the HX charges the tank through the loop both are part of.
        Equipment(
            id="hx",
            brick_class="Plate_Heat_Exchanger",
            name="Heat-recovery plate heat exchanger",
            part_of=loop,
        ),
        Equipment(
            id="tank",
            brick_class="Hot_Water_Thermal_Energy_Storage_Tank",
            name="Stratified buffer tank",
            part_of=loop,
            feeds=("customer",),
        ),
        Equipment(
            id="meter",
            brick_class="Thermal_Power_Meter",
            name="Heat meter at the customer interface (EN 1434)",
            part_of=loop,
            meters="customer",
        ),
        Equipment(id="customer", brick_class="Hot_Water_System", name=site.customer.name),
        Equipment(id="loop", brick_class="Hot_Water_Loop", name="Loop pressure", part_of=loop),
        Equipment(id="utility", brick_class="Switchgear", name="Utility feed"),
        Equipment(id="elec", brick_class="Building_Electrical_Meter", name="Site electricity"),
    ]
    points: list[Point] = []

    for rack in site.compute.racks:
        eq = f"rack.{rack.id}"
        equipment.append(
            Equipment(
                id=eq,
                brick_class="ICT_Rack",
                name=f"Rack group {rack.id} ({rack.count} x {rack.nameplate_power_w:g} W)",
                feeds=("it-loop",),
            )
        )
        points += [
            _power(
                f"rack.{rack.id}.it_power_w",
                eq,
                "Electric_Power_Sensor",
                ("elec",),
                1.5 * rack.nameplate_power_w * rack.count,
                f"IT electric power of rack group {rack.id}",
            ),
            _temp(
                f"rack.{rack.id}.inlet_temp_c",
                eq,
                "Entering_Water_Temperature_Sensor",
                ("entering",),
                f"Coolant temperature into rack group {rack.id}",
            ),
            _temp(
                f"rack.{rack.id}.outlet_temp_c",
                eq,
                "Leaving_Water_Temperature_Sensor",
                ("leaving",),
                f"Coolant temperature out of rack group {rack.id}",
            ),
        ]

    points += [
        _temp(
            "it_loop.supply_temp_c",
            "it-loop",
            "Leaving_Water_Temperature_Sensor",
            ("leaving",),
            "IT coolant loop supply (to the racks)",
        ),
        _temp(
            "it_loop.return_temp_c",
            "it-loop",
            "Entering_Water_Temperature_Sensor",
            ("entering",),
            "IT coolant loop return (from the racks)",
        ),
        _flow("it_loop.flow_m3_per_h", "it-loop", "Water_Flow_Sensor", max_flow, "IT coolant flow"),
        _temp(
            "hx.secondary_supply_temp_c",
            "hx",
            "Leaving_Hot_Water_Temperature_Sensor",
            ("hot", "leaving"),
            "Heat exchanger secondary outlet (heat-recovery supply)",
        ),
        _temp(
            "hx.secondary_return_temp_c",
            "hx",
            "Entering_Hot_Water_Temperature_Sensor",
            ("hot", "entering"),
            "Heat exchanger secondary inlet (heat-recovery return)",
        ),
        _flow(
            "hx.secondary_flow_m3_per_h",
            "hx",
            "Hot_Water_Flow_Sensor",
            max_flow,
            "Heat exchanger secondary flow",
        ),
        _power(
            "hx.heat_power_w",
            "hx",
            "Thermal_Power_Sensor",
            ("thermal",),
            max_heat_w,
            "Heat recovered through the heat exchanger",
        ),
    ]
    for layer in range(1, plant.buffer_tank.layers + 1):
        points.append(
            _temp(
                f"tank.layer_{layer}_temp_c",
                "tank",
                "Water_Temperature_Sensor",
                ("tank", "hot"),
                f"Buffer tank layer {layer} of {plant.buffer_tank.layers} (1 = top)",
                interval_s=60.0,
            )
        )

    for k, pump in enumerate(plant.pumps):
        eq = f"pump.{pump.id}"
        vfd = f"pump.{pump.id}.vfd"
        equipment += [
            Equipment(
                id=eq,
                brick_class="Hot_Water_Pump",
                name=f"{pump.role} pump {pump.id}",
                part_of=loop if pump.role != "primary" else "it-loop",
            ),
            # the drive feeds the pump (Brick 1.5: an HVAC pump's parts are HVAC equipment)
            Equipment(id=vfd, brick_class="Pump_VFD", name=f"Drive of {pump.id}", feeds=(eq,)),
        ]
        base = PUMP_BLOCK_REGISTERS * k
        regs = {
            suffix: ModbusRegister(
                device=PUMP_CONTROLLER_DEVICE.id,
                address=base + offset,
                type=rtype,
                unit=raw_unit,
                scale=scale,
            )
            for suffix, offset, rtype, raw_unit, scale in PUMP_CONTROLLER_REGISTER_MAP
        }
        points += [
            _status(
                f"pump.{pump.id}.status",
                eq,
                "Pump_Status",
                ("pump", "run"),
                f"Run status of {pump.id} (1 running, 0 stopped)",
                modbus=regs["status"],
            ),
            Point(
                id=f"pump.{pump.id}.speed_fraction",
                equipment=vfd,
                quantity="speed",
                unit="1",
                kind="measurement",
                brick_class="Motor_Speed_Sensor",
                haystack_tags=("point", "sensor", "speed", "motor"),
                min_value=0.0,
                max_value=1.2,
                sample_interval_s=10.0,
                source=PointSource(modbus=regs["speed_fraction"]),
                description=f"Speed of {pump.id} as a fraction of rated speed",
            ),
            _power(
                f"pump.{pump.id}.power_w",
                eq,
                "Electric_Power_Sensor",
                ("elec",),
                3.0 * pump.rated_power_w,
                f"Electric power of {pump.id}",
                modbus=regs["power_w"],
            ),
        ]

    meter_regs = {
        pid: ModbusRegister(
            device=HEAT_METER_DEVICE.id, address=addr, type=rtype, unit=raw_unit, scale=scale
        )
        for pid, addr, rtype, raw_unit, scale in HEAT_METER_REGISTER_MAP
    }
    points += [
        _temp(
            "meter.supply_temp_c",
            "meter",
            "Leaving_Hot_Water_Temperature_Sensor",
            ("hot", "leaving"),
            "Heat meter flow (supply) temperature sensor",
            modbus=meter_regs["meter.supply_temp_c"],
        ),
        _temp(
            "meter.return_temp_c",
            "meter",
            "Entering_Hot_Water_Temperature_Sensor",
            ("hot", "entering"),
            "Heat meter return temperature sensor",
            modbus=meter_regs["meter.return_temp_c"],
        ),
        _flow(
            "meter.flow_m3_per_h",
            "meter",
            "Hot_Water_Flow_Sensor",
            max_flow,
            "Heat meter volume flow",
            modbus=meter_regs["meter.flow_m3_per_h"],
        ),
        _power(
            "meter.heat_power_w",
            "meter",
            "Thermal_Power_Sensor",
            ("thermal",),
            max_heat_w,
            "Heat meter thermal power delivered to the customer",
            modbus=meter_regs["meter.heat_power_w"],
        ).model_copy(update={"accuracy_class": "2"}),
        _energy(
            "meter.heat_energy_kwh",
            "meter",
            "Thermal_Energy_Usage_Sensor",
            ("thermal",),
            "Heat meter energy register (heat delivered to the customer)",
            modbus=meter_regs["meter.heat_energy_kwh"],
            accuracy="2",
        ),
        _temp(
            "customer.supply_temp_c",
            "customer",
            "Leaving_Hot_Water_Temperature_Sensor",
            ("hot", "leaving"),
            "Supply temperature delivered to the heat customer (the SLA's measured point)",
        ),
        _temp(
            "customer.return_temp_c",
            "customer",
            "Entering_Hot_Water_Temperature_Sensor",
            ("hot", "entering"),
            "Return temperature from the heat customer",
        ),
        Point(
            id="loop.pressure_bar",
            equipment="loop",
            quantity="pressure",
            unit="bar",
            kind="measurement",
            brick_class="Hot_Water_Gauge_Pressure_Sensor",
            haystack_tags=("point", "sensor", "water", "pressure"),
            min_value=PRESSURE_RANGE_BAR[0],
            max_value=PRESSURE_RANGE_BAR[1],
            sample_interval_s=10.0,
            description="Hot-water loop gauge pressure",
        ),
        _status(
            "utility.feed_status",
            "utility",
            "Availability_Status",
            ("elec", "available"),
            "Utility feed present (1) or lost (0)",
        ),
    ]

    pumps_w = sum(p.rated_power_w for p in plant.pumps)
    cooling_w = site.compute.cooling.cooling_power_fraction_of_it * nameplate_w
    for name, max_w, what in (
        ("it", 1.5 * nameplate_w, "IT equipment"),
        ("cooling", max(1.5 * cooling_w, 1000.0), "cooling (CDU, fans)"),
        ("pumps", 3.0 * pumps_w, "circulation pumps"),
        ("other", max(3.0 * site.compute.other_power_w, 1000.0), "other: lighting, controls"),
    ):
        points += [
            _power(
                f"elec.{name}_power_w",
                "elec",
                "Electric_Power_Sensor",
                ("elec",),
                max_w,
                f"Site electric power, {what}",
            ),
            _energy(
                f"elec.{name}_energy_kwh",
                "elec",
                "Electrical_Energy_Usage_Sensor",
                ("elec",),
                f"Site electricity meter register, {what}",
            ),
        ]

    if plant.backup_boiler is not None:
        equipment.append(
            Equipment(
                id="boiler",
                brick_class=_boiler_class(plant.backup_boiler.fuel),
                name=f"Backup boiler ({plant.backup_boiler.fuel})",
                part_of=loop,
                feeds=("customer",),
            )
        )
        points += [
            _power(
                "boiler.heat_power_w",
                "boiler",
                "Thermal_Power_Sensor",
                ("thermal",),
                1.5 * plant.backup_boiler.capacity_w,
                "Heat from the backup boiler",
            ),
            _energy(
                "boiler.heat_energy_kwh",
                "boiler",
                "Thermal_Energy_Usage_Sensor",
                ("thermal",),
                "Backup boiler heat register",
            ),
            _status("boiler.status", "boiler", "Run_Status", ("run",), "Backup boiler firing"),
        ]
    if plant.heat_reject is not None:
        equipment.append(
            Equipment(id="dry_cooler", brick_class="Dry_Cooler", name="Dry cooler", part_of=loop)
        )
        points += [
            _power(
                "dry_cooler.heat_power_w",
                "dry_cooler",
                "Thermal_Power_Sensor",
                ("thermal",),
                1.5 * plant.heat_reject.dry_cooler_capacity_w,
                "Heat rejected by the dry cooler",
            ),
            _energy(
                "dry_cooler.heat_energy_kwh",
                "dry_cooler",
                "Thermal_Energy_Usage_Sensor",
                ("thermal",),
                "Rejected heat register",
            ),
            _status("dry_cooler.status", "dry_cooler", "Run_Status", ("run",), "Dry cooler on"),
        ]
    if plant.heat_pump is not None:
        hp = plant.heat_pump
        equipment.append(
            Equipment(
                id="heat_pump",
                brick_class="Packaged_Water_Source_Heat_Pump",
                name="Heat pump",
                part_of=loop,
                feeds=("customer",),
            )
        )
        points += [
            _power(
                "heat_pump.heat_power_w",
                "heat_pump",
                "Thermal_Power_Sensor",
                ("thermal",),
                1.5 * hp.max_heat_w,
                "Heat delivered by the heat pump",
            ),
            _power(
                "heat_pump.elec_power_w",
                "heat_pump",
                "Electric_Power_Sensor",
                ("elec",),
                1.5 * hp.max_heat_w,
                "Electric power of the heat pump",
            ),
            _energy(
                "heat_pump.elec_energy_kwh",
                "heat_pump",
                "Electrical_Energy_Usage_Sensor",
                ("elec",),
                "Heat pump electricity register",
            ),
            _status("heat_pump.status", "heat_pump", "Run_Status", ("run",), "Heat pump running"),
        ]
    return SitePoints(
        site_id=site.id,
        equipment=tuple(equipment),
        points=tuple(points),
        modbus_devices=(HEAT_METER_DEVICE, PUMP_CONTROLLER_DEVICE),
    )


_REQUIRED_FOR_NEW = (
    "equipment",
    "quantity",
    "unit",
    "kind",
    "brick_class",
    "min_value",
    "max_value",
    "sample_interval_s",
)


def _where(site: Site) -> str:
    return str(site.source_path) if site.source_path is not None else f"site '{site.id}'"


def expand_points(site: Site) -> SitePoints:
    """The site's full point list: package, then ``remove``, then ``entries``.

    Parameters
    ----------
    site
        A loaded site.

    Returns
    -------
    SitePoints
        Validated: unique ids, every point's equipment declared, Modbus
        registers on declared devices without overlaps, the SLA's measured
        point present.

    Raises
    ------
    SiteConfigError
        Naming the site file, the field (``points.entries[i]`` ...), what was
        expected and what came.
    """
    cfg = site.points
    where = _where(site)
    if cfg.package == "standard_hydronic":
        base = standard_hydronic_points(site)
    else:
        base = SitePoints(site_id=site.id, equipment=(), points=(), modbus_devices=())
    points: dict[str, Point] = {p.id: p for p in base.points}
    problems: list[str] = []
    for pid in cfg.remove:
        if pid not in points:
            problems.append(
                f"{where}: points.remove: '{pid}' is not a point of package '{cfg.package}'"
            )
        points.pop(pid, None)
    for i, entry in enumerate(cfg.entries):
        given = entry.model_dump(exclude_unset=True)
        if entry.id in points:
            merged = points[entry.id].model_dump()
            merged.update(given)
        else:
            missing = [f for f in _REQUIRED_FOR_NEW if given.get(f) is None]
            if missing:
                problems.append(
                    f"{where}: points.entries[{i}] ('{entry.id}'): a new point (not in package "
                    f"'{cfg.package}') needs {', '.join(missing)}"
                )
                continue
            merged = given
        try:
            points[entry.id] = Point.model_validate(merged)
        except ValueError as exc:
            problems.append(f"{where}: points.entries[{i}] ('{entry.id}'): {exc}")

    equipment = {e.id: e for e in base.equipment}
    equipment.update({e.id: e for e in cfg.equipment})
    devices = {d.id: d for d in base.modbus_devices}
    devices.update({d.id: d for d in cfg.modbus_devices})
    for p in points.values():
        if p.equipment not in equipment:
            problems.append(
                f"{where}: point '{p.id}': equipment '{p.equipment}' is not declared; add it "
                "under points.equipment"
            )
    for e in equipment.values():
        for ref in (e.part_of, e.meters, *e.feeds):
            if ref is not None and ref not in equipment:
                problems.append(f"{where}: equipment '{e.id}': refers to unknown '{ref}'")
    used: dict[tuple[str, str, int], str] = {}
    code_regs: dict[tuple[str, str, int], UnitCodeRegister] = {}
    for p in points.values():
        reg = p.source.modbus
        if reg is None:
            continue
        if reg.device not in devices:
            problems.append(
                f"{where}: point '{p.id}': Modbus device '{reg.device}' is not declared under "
                f"points.modbus_devices; expected one of {sorted(devices)}"
            )
            continue
        for a in range(reg.address, reg.address + reg.width):
            key = (reg.device, reg.table, a)
            if key in used:
                problems.append(
                    f"{where}: point '{p.id}': {reg.table} register {a} of device "
                    f"'{reg.device}' is already used by '{used[key]}'"
                )
                break
            used[key] = p.id
        if reg.unit_code is not None:
            problems += _check_unit_code(
                where, p, reg, devices[reg.device], cfg.code_tables(), code_regs
            )
    for (dev_id, table, address), uc in code_regs.items():
        for a in range(address, address + uc.width):
            code_key = (dev_id, table, a)
            if code_key in used:
                problems.append(
                    f"{where}: unit-code {table} register {address} of device '{dev_id}' "
                    f"overlaps the value register of '{used[code_key]}'"
                )
                break
    sla_point = site.contract.sla.measured_point
    for field, ref_id in (
        ("contract.sla.measured_point", sla_point),
        ("contract.sla.redundant_point", site.contract.sla.redundant_point),
    ):
        if ref_id is not None and ref_id not in points:
            problems.append(
                f"{where}: {field}: point '{ref_id}' is not in the site's point list; declare it "
                "under points.entries"
            )
    if problems:
        raise SiteConfigError(problems)
    used_devices = {p.source.modbus.device for p in points.values() if p.source.modbus}
    return SitePoints(
        site_id=site.id,
        equipment=tuple(equipment.values()),
        points=tuple(points.values()),
        modbus_devices=tuple(d for d in devices.values() if d.id in used_devices),
        unit_code_tables=cfg.code_tables(),
    )


def _check_unit_code(
    where: str,
    point: Point,
    reg: ModbusRegister,
    device: ModbusDevice,
    tables: dict[str, UnitCodeTables],
    code_regs: dict[tuple[str, str, int], UnitCodeRegister],
) -> list[str]:
    """Problems of one point's unit-code register: table, units, shared register type."""
    uc = reg.unit_code
    assert uc is not None
    head = f"{where}: point '{point.id}': unit_code {uc.table} register {uc.address}"
    kinds = tables.get(device.kind)
    if kinds is None or uc.codes not in kinds:
        known = sorted(kinds) if kinds else []
        return [
            f"{head}: expected a code table '{uc.codes}' for device kind '{device.kind}' under "
            f"points.unit_code_tables.{device.kind}; "
            + (f"that kind has {known}" if known else "none is declared")
        ]
    codes = kinds[uc.codes]
    problems: list[str] = []
    if not codes:
        problems.append(f"{head}: code table '{uc.codes}' of '{device.kind}' is empty")
    for code, unit in sorted(codes.items()):
        try:
            unit_factor(unit, point.unit)
        except ValueError as exc:
            problems.append(
                f"{head}: code {code} of table {device.kind}.{uc.codes} means {unit!r}, which "
                f"a point in {point.unit!r} cannot take ({exc})"
            )
    if reg.unit is not None and reg.unit not in codes.values():
        problems.append(
            f"{head}: unit {reg.unit!r} is not in code table {device.kind}.{uc.codes} "
            f"({sorted(set(codes.values()))})"
        )
    key = (reg.device, uc.table, uc.address)
    other = code_regs.setdefault(key, uc)
    if other.type != uc.type:
        problems.append(
            f"{head}: type {uc.type} differs from {other.type} given for the same register by "
            "another point"
        )
    return problems
