"""The site model: one YAML file describes one site.

The models are pydantic at the edge (YAML parsing and validation) and frozen
(immutable, hashable-by-value) inside, so the same objects serve as the core's
value objects: no second, drifting dataclass copy of the schema. Every field
name carries its unit (ARCHITECTURE.md house rule 1).

Sources for defaults are cited at the field.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from heatreuse.site.points import PointsConfig

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, defer_build=True
    )


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=64)]


# --------------------------------------------------------------------------- site, location
class SiteInfo(_Model):
    """Identity of the site."""

    id: Identifier
    name: str
    commissioning_date: dt.date | None = None
    operator: str | None = None


class Location(_Model):
    """Where the site is and which weather drives it."""

    name: str
    latitude_deg: Annotated[float, Field(ge=-90.0, le=90.0)]
    longitude_deg: Annotated[float, Field(ge=-180.0, le=180.0)]
    timezone: str
    altitude_m: float = 0.0
    weather: str = Field(
        description="Weather source: 'pvlib:<file in pvlib's data>', or a path to an EPW, "
        "TMY3 or CSV file (relative to the site file)."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"expected an IANA time zone such as 'Europe/Berlin', got {value!r}"
            ) from None
        return value


# --------------------------------------------------------------------------- compute
class Rack(_Model):
    """A group of identical racks."""

    id: Identifier
    nameplate_power_w: PositiveFloat
    count: Annotated[int, Field(ge=1)] = 1


class Utilisation(_Model):
    """IT utilisation profile as a fraction of nameplate power.

    kind ``constant`` uses ``fraction``; ``daily`` 24 values ``hourly_fraction``
    (local time, hour 0 first); ``weekly`` 168 values ``weekly_hourly_fraction``
    (Monday 00:00 local first); ``csv`` a file with columns ``timestamp`` (ISO
    8601 with offset) and ``fraction``.
    """

    kind: Literal["constant", "daily", "weekly", "csv"] = "constant"
    fraction: Fraction | None = None
    hourly_fraction: list[Fraction] | None = None
    weekly_hourly_fraction: list[Fraction] | None = None
    csv_path: str | None = None

    @model_validator(mode="after")
    def _shape_matches_kind(self) -> Utilisation:
        need = {
            "constant": ("fraction", None),
            "daily": ("hourly_fraction", 24),
            "weekly": ("weekly_hourly_fraction", 168),
            "csv": ("csv_path", None),
        }[self.kind]
        name, length = need
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"utilisation kind '{self.kind}' needs field '{name}'")
        if length is not None and len(value) != length:
            raise ValueError(
                f"'{name}' must have {length} values for kind '{self.kind}', got {len(value)}"
            )
        return self


class Cooling(_Model):
    """Cooling architecture and the share of IT heat captured to water.

    Typical capture fractions: direct liquid cooling 0.7-0.8 of IT heat to
    water (ASHRAE TC 9.9, "Liquid Cooling Guidelines for Datacom Equipment
    Centers", 2nd ed.); single-phase immersion 0.95+; air with rear-door or
    in-row coils depends on the coil.
    """

    architecture: Literal["air", "direct_liquid", "immersion", "hybrid"]
    heat_capture_fraction: Annotated[float, Field(gt=0.0, le=1.0)]
    coolant_supply_temp_c: float
    coolant_return_temp_c: float
    max_coolant_return_temp_c: float = Field(
        description="Above this loop temperature, with no reject path left, compute is throttled."
    )
    cooling_power_fraction_of_it: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05

    @model_validator(mode="after")
    def _temps_ordered(self) -> Cooling:
        if self.coolant_return_temp_c <= self.coolant_supply_temp_c:
            raise ValueError(
                "coolant_return_temp_c must be above coolant_supply_temp_c (heat flows from IT "
                f"into the coolant), got supply {self.coolant_supply_temp_c} C, return "
                f"{self.coolant_return_temp_c} C"
            )
        if self.max_coolant_return_temp_c < self.coolant_return_temp_c:
            raise ValueError(
                "max_coolant_return_temp_c must be at or above coolant_return_temp_c, got "
                f"{self.max_coolant_return_temp_c} C < {self.coolant_return_temp_c} C"
            )
        return self


class Compute(_Model):
    """The IT side: racks, utilisation, cooling, non-IT electricity."""

    racks: Annotated[list[Rack], Field(min_length=1)]
    utilisation: Utilisation
    cooling: Cooling
    other_power_w: NonNegativeFloat = Field(
        0.0, description="Constant non-IT electricity: lighting, controls, UPS losses."
    )

    @property
    def nameplate_it_power_w(self) -> float:
        """Sum of nameplate power over all racks [W]."""
        return float(sum(r.nameplate_power_w * r.count for r in self.racks))


# --------------------------------------------------------------------------- plant
class HeatExchanger(_Model):
    """Plate heat exchanger between the IT loop and the customer side.

    Give either ``ua_w_per_k`` (clean) or ``effectiveness_fraction``. A fouling
    factor R_f [m2 K/W] needs the heat-transfer ``area_m2``:
    1/UA = 1/UA_clean + R_f/A (Incropera, Fundamentals of Heat and Mass
    Transfer, 7th ed., eq. 11.5).
    """

    ua_w_per_k: PositiveFloat | None = None
    effectiveness_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    fouling_factor_m2_k_per_w: NonNegativeFloat = 0.0
    area_m2: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_rating(self) -> HeatExchanger:
        if (self.ua_w_per_k is None) == (self.effectiveness_fraction is None):
            raise ValueError("give exactly one of 'ua_w_per_k' or 'effectiveness_fraction'")
        if self.fouling_factor_m2_k_per_w > 0 and self.area_m2 is None:
            raise ValueError("a fouling factor needs 'area_m2' (R_f is per m2)")
        return self


class BufferTank(_Model):
    """Stratified buffer tank."""

    volume_m3: PositiveFloat
    height_m: PositiveFloat
    heat_loss_w_per_k: NonNegativeFloat
    layers: Annotated[int, Field(ge=1, le=100)] = 10
    max_temp_c: float = 90.0
    ambient_temp_c: float = 20.0


class Pump(_Model):
    """A circulation pump at its rated point."""

    id: Identifier
    role: Literal["primary", "secondary", "customer"]
    rated_flow_m3_per_h: PositiveFloat
    rated_head_m: PositiveFloat
    rated_power_w: PositiveFloat


class CopPoint(_Model):
    """One point of a heat pump COP curve."""

    source_temp_c: float
    sink_temp_c: float
    cop: Annotated[float, Field(gt=1.0)]


class HeatPump(_Model):
    """Optional heat pump lifting recovered heat to the customer's temperature.

    COP from a Carnot fraction (real units reach 0.4-0.6 of the Carnot COP at
    temperatures about 5 K beyond the water temperatures; standards.md) or a
    COP curve. ``upgrade_only`` marks electricity used only to upgrade waste
    heat, which EnEfG section 11 excludes from PUE.
    """

    max_heat_w: PositiveFloat
    carnot_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    cop_curve: list[CopPoint] | None = None
    approach_k: NonNegativeFloat = 5.0
    upgrade_only: bool = True

    @model_validator(mode="after")
    def _one_cop_model(self) -> HeatPump:
        if (self.carnot_fraction is None) == (self.cop_curve is None):
            raise ValueError("give exactly one of 'carnot_fraction' or 'cop_curve'")
        return self


class BackupBoiler(_Model):
    """Backup heat source that covers deficits."""

    capacity_w: PositiveFloat
    efficiency_fraction: Annotated[float, Field(gt=0.0, le=1.1)]
    fuel: Literal["natural_gas", "oil", "lpg", "biomass", "electric", "district_heat"]
    control_delay_s: NonNegativeFloat = 300.0


class HeatReject(_Model):
    """Heat-reject path (dry cooler)."""

    dry_cooler_capacity_w: PositiveFloat


class Pipe(_Model):
    """Insulated pipe run from the plant to the customer (one way)."""

    length_m: NonNegativeFloat
    inner_diameter_m: PositiveFloat
    insulation_thickness_m: NonNegativeFloat
    insulation_conductivity_w_per_m_k: PositiveFloat = 0.035
    surroundings_temp_c: float = 10.0


class Plant(_Model):
    """The thermal plant between the IT loop and the customer."""

    heat_exchanger: HeatExchanger
    buffer_tank: BufferTank
    pumps: Annotated[list[Pump], Field(min_length=1)]
    pipe: Pipe
    heat_pump: HeatPump | None = None
    backup_boiler: BackupBoiler | None = None
    heat_reject: HeatReject | None = None
    loop_pressure_bar: PositiveFloat = 3.0


# --------------------------------------------------------------------------- customer
class TempBand(_Model):
    """A two-sided temperature band [C]."""

    min_temp_c: float
    max_temp_c: float

    @model_validator(mode="after")
    def _not_upside_down(self) -> TempBand:
        if self.min_temp_c >= self.max_temp_c:
            raise ValueError(
                f"band upside down: min_temp_c ({self.min_temp_c}) must be below max_temp_c "
                f"({self.max_temp_c})"
            )
        return self


class OperatingHours(_Model):
    """Weekly operating hours in site-local time.

    Either ``always: true`` or per weekday a list of ``"HH:MM-HH:MM"`` ranges
    (``24:00`` allowed as an end). Days not listed are closed.
    """

    always: bool = False
    weekly: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[str]] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _parse(self) -> OperatingHours:
        if self.always and self.weekly:
            raise ValueError("give either 'always: true' or 'weekly', not both")
        if not self.always and not self.weekly:
            raise ValueError("give 'always: true' or 'weekly' ranges such as mon: ['06:00-22:00']")
        for day, ranges in self.weekly.items():
            for text in ranges:
                _parse_range(day, text)
        return self

    def minutes_by_weekday(self) -> list[list[tuple[int, int]]]:
        """Open ranges per weekday (0 = Monday) as (start, end) minutes of the day."""
        if self.always:
            return [[(0, 1440)] for _ in WEEKDAYS]
        out: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
        for day, ranges in self.weekly.items():
            out[WEEKDAYS.index(day)] = [_parse_range(day, r) for r in ranges]
        return out

    def open_hours_per_week_h(self) -> float:
        """Open hours per week [h]."""
        return sum(e - s for day in self.minutes_by_weekday() for s, e in day) / 60.0


def _parse_range(day: str, text: str) -> tuple[int, int]:
    parts = text.replace(" ", "").split("-")
    if len(parts) != 2 or not all(_HHMM.match(p) for p in parts):
        raise ValueError(f"{day}: expected a range 'HH:MM-HH:MM', got {text!r}")
    start, end = (int(p[:2]) * 60 + int(p[3:]) for p in parts)
    if start >= end or end > 1440:
        raise ValueError(f"{day}: range {text!r} must start before it ends, within one day")
    return start, end


class _CustomerBase(_Model):
    name: str
    supply_band: TempBand
    operating_hours: OperatingHours
    interruption_tolerance_h: NonNegativeFloat = Field(
        description="Longest interruption the customer tolerates without harm."
    )


class PoolCustomer(_CustomerBase):
    """Swimming pool (indoor or outdoor).

    beta values from VDI 2089-1 (2010): private 21, public deeper than 1.35 m
    28, shallower 40, wave pool / slides 50, at rest 7 [m/h]. DIN 19643-1
    requires at least 30 L of fresh water per visitor.
    """

    kind: Literal["pool"]
    area_m2: PositiveFloat
    depth_m: PositiveFloat
    indoor: bool = True
    use: Literal["private", "public_deep", "public_shallow", "wave_slides"] = "public_deep"
    water_temp_c: Annotated[float, Field(ge=5.0, le=40.0)]
    air_temp_c: Annotated[float, Field(ge=5.0, le=45.0)] = 30.0
    air_relative_humidity_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.54
    cover_at_night: bool = False
    visitors_per_day: NonNegativeFloat = 0.0
    fresh_water_l_per_visitor: NonNegativeFloat = 30.0
    wall_floor_u_w_per_m2_k: NonNegativeFloat = 0.3
    ground_temp_c: float = 10.0


class DhwPreheatCustomer(_CustomerBase):
    """Domestic hot water preheat: recovered heat lifts cold mains water."""

    kind: Literal["dhw_preheat"]
    daily_draw_l: PositiveFloat
    hot_temp_c: Annotated[float, Field(gt=0.0, le=95.0)] = 60.0
    cold_water_mean_temp_c: float = 11.0
    cold_water_amplitude_k: NonNegativeFloat = 4.0
    profile: Literal["residential", "hotel", "office", "flat"] = "residential"


class DistrictPreheatCustomer(_CustomerBase):
    """District-heating return preheat driven by a heating curve."""

    kind: Literal["district_preheat"]
    design_outdoor_temp_c: float = -12.0
    heating_limit_temp_c: float = 15.0
    supply_temp_at_design_c: float = 90.0
    supply_temp_at_limit_c: float = 70.0
    return_temp_at_design_c: float = 50.0
    return_temp_at_limit_c: float = 40.0
    design_flow_m3_per_h: PositiveFloat
    summer_flow_fraction: Fraction = 0.2
    max_preheat_power_w: PositiveFloat


class GreenhouseCustomer(_CustomerBase):
    """Heated greenhouse with day and night set points."""

    kind: Literal["greenhouse"]
    floor_area_m2: PositiveFloat
    cover_area_m2: PositiveFloat
    cover_u_w_per_m2_k: PositiveFloat
    day_setpoint_temp_c: float
    night_setpoint_temp_c: float
    day_start_h: Annotated[float, Field(ge=0.0, le=24.0)] = 6.0
    day_end_h: Annotated[float, Field(ge=0.0, le=24.0)] = 20.0
    air_exchange_per_h: NonNegativeFloat = 0.5
    solar_gain_fraction: Fraction = 0.0


class SpaceHeatingCustomer(_CustomerBase):
    """Space heating of a building by heat-loss coefficient (degree-day model)."""

    kind: Literal["space_heating"]
    heat_loss_coefficient_w_per_k: PositiveFloat
    indoor_temp_c: float = 20.0
    base_temp_c: float = 18.0
    threshold_temp_c: float = 15.0
    bdew_profile: str | None = Field(
        None, description="Optional BDEW standard load profile code (demandlib), e.g. 'GMF'."
    )
    annual_heat_kwh: PositiveFloat | None = None


Customer = Annotated[
    PoolCustomer
    | DhwPreheatCustomer
    | DistrictPreheatCustomer
    | GreenhouseCustomer
    | SpaceHeatingCustomer,
    Field(discriminator="kind"),
]
CUSTOMER_KINDS = ("pool", "dhw_preheat", "district_preheat", "greenhouse", "space_heating")


# --------------------------------------------------------------------------- contract
class MaintenanceWindow(_Model):
    """A planned maintenance window and when it was announced (UTC or with offset)."""

    start: dt.datetime
    end: dt.datetime
    announced_at: dt.datetime
    description: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindow:
        for name in ("start", "end", "announced_at"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"'{name}' needs a time zone offset, e.g. 2026-01-10T06:00Z")
        if self.end <= self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        return self


class Maintenance(_Model):
    """Maintenance exclusions: windows count only if announced early enough."""

    notice_h: NonNegativeFloat = 48.0
    windows: list[MaintenanceWindow] = Field(default_factory=list)


class SlaTerms(_Model):
    """Heat-delivery SLA terms (see operations.md, "Heat-delivery SLA as data")."""

    supply_band: TempBand | None = Field(
        None, description="Band the SLA measures; defaults to the customer's supply band."
    )
    target_fraction: Annotated[float, Field(gt=0.0, le=1.0)]
    period: Literal["month", "contract_year", "both"] = "both"
    contract_start_date: dt.date | None = None
    measured_point: str = "customer.supply_temp_c"
    slice_rule: Literal["mean", "whole_minute"] = "mean"
    missing_data: Literal["bad", "excluded"] = "bad"
    redundant_point: str | None = None
    maintenance: Maintenance = Field(default_factory=Maintenance)
    max_interruption_h: PositiveFloat | None = None
    min_heat_per_day_kwh: NonNegativeFloat | None = None
    escalation_ladder_h: list[PositiveFloat] = Field(default_factory=lambda: [0.25, 1.0, 2.0, 3.0])


class Capex(_Model):
    """Investment figures for the reuse installation [EUR]."""

    fixed_eur: NonNegativeFloat = 0.0
    tank_eur_per_m3: NonNegativeFloat = 0.0
    heat_exchanger_eur: NonNegativeFloat = 0.0
    pipe_eur_per_m: NonNegativeFloat = 0.0
    heat_pump_eur_per_kw: NonNegativeFloat = 0.0


class Tariffs(_Model):
    """Prices used for money figures."""

    electricity_eur_per_kwh: NonNegativeFloat
    heat_sale_eur_per_kwh: NonNegativeFloat = 0.0
    backup_fuel_eur_per_kwh: NonNegativeFloat = 0.0
    opex_eur_per_year: NonNegativeFloat = 0.0
    discount_rate_fraction: Fraction = 0.05
    capex: Capex = Field(default_factory=Capex)


class EmissionFactor(_Model):
    """An emission factor with its source and year (never a bare number)."""

    value_kg_per_kwh: NonNegativeFloat
    source: Annotated[str, Field(min_length=3)]
    year: Annotated[int, Field(ge=1990, le=2100)]
    basis: Literal["location", "market", "net_cv", "gross_cv"] | None = None


class EmissionFactors(_Model):
    """Factors for avoided-emissions accounting (standards.md, Carbon)."""

    grid: EmissionFactor
    displaced_fuel: EmissionFactor
    displaced_fuel_kind: Literal[
        "natural_gas", "oil", "lpg", "biomass", "heat_pump", "district_heat"
    ] = "natural_gas"
    reference_efficiency_fraction: Annotated[float, Field(gt=0.0, le=1.2)] = Field(
        0.9, description="Efficiency of the displaced plant (conservative: high end)."
    )


class Contract(_Model):
    """SLA, tariffs and emission factors."""

    sla: SlaTerms
    tariffs: Tariffs
    emission_factors: EmissionFactors


# --------------------------------------------------------------------------- ownership
class Person(_Model):
    """Someone in the site's RACI."""

    id: Identifier
    name: str
    email: str | None = None
    phone: str | None = None
    team: Literal["it", "facilities", "sustainability", "customer", "management", "vendor"] = (
        "facilities"
    )


class RaciEntry(_Model):
    """Responsible, accountable, consulted, informed for one activity (person ids)."""

    responsible: Annotated[list[str], Field(min_length=1)]
    accountable: str
    consulted: list[str] = Field(default_factory=list)
    informed: list[str] = Field(default_factory=list)


class AlarmRoute(_Model):
    """Who receives which alarms: matchers on alert labels -> people."""

    match: dict[str, str] = Field(default_factory=dict)
    receivers: Annotated[list[str], Field(min_length=1)]


class Ownership(_Model):
    """The site's RACI: who approves, signs off, receives alarms, may override."""

    people: Annotated[list[Person], Field(min_length=1)]
    design_change: RaciEntry
    maintenance_signoff: RaciEntry
    automation_override: RaciEntry
    alarms: Annotated[list[AlarmRoute], Field(min_length=1)]

    @model_validator(mode="after")
    def _people_exist(self) -> Ownership:
        known = {p.id for p in self.people}
        missing: list[str] = []
        for activity in ("design_change", "maintenance_signoff", "automation_override"):
            entry: RaciEntry = getattr(self, activity)
            for pid in [*entry.responsible, entry.accountable, *entry.consulted, *entry.informed]:
                if pid not in known:
                    missing.append(f"{activity}: '{pid}'")
        for i, route in enumerate(self.alarms):
            missing += [f"alarms[{i}]: '{pid}'" for pid in route.receivers if pid not in known]
        if missing:
            raise ValueError(
                "unknown person id(s) "
                + ", ".join(missing)
                + f"; expected one of {sorted(known)} (declared under ownership.people)"
            )
        return self


# --------------------------------------------------------------------------- the site
class Site(_Model):
    """A whole site: location, compute, plant, heat customer, contract, ownership."""

    schema_version: Literal[1] = 1
    site: SiteInfo
    location: Location
    compute: Compute
    plant: Plant
    customer: Customer
    contract: Contract
    ownership: Ownership
    points: PointsConfig = Field(default_factory=PointsConfig)

    _source_path: Path | None = PrivateAttr(default=None)

    @property
    def source_path(self) -> Path | None:
        """The YAML file this site was loaded from, if any."""
        return self._source_path

    def resolve_path(self, relative: str | Path) -> Path:
        """Resolve a path given in the site file relative to that file's folder."""
        p = Path(relative).expanduser()
        if p.is_absolute() or self._source_path is None:
            return p
        return self._source_path.parent / p

    @property
    def id(self) -> str:
        """The site id."""
        return self.site.id

    @property
    def sla_band(self) -> TempBand:
        """The band the SLA measures (the SLA's own, else the customer's)."""
        return self.contract.sla.supply_band or self.customer.supply_band
