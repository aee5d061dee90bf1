"""The site model: one YAML file describes one site.

The models are pydantic at the edge (YAML parsing and validation) and frozen
(immutable, hashable-by-value) inside, so the same objects serve as the core's
value objects: no second, drifting dataclass copy of the schema. Every field
name carries its unit (docs/architecture.md, house rule 1).

Sources for defaults are cited at the field.
"""

# No ``from __future__ import annotations`` here: pydantic would then compile and evaluate
# every field annotation from its string when the classes are made, about a quarter of
# the time ``heatreuse validate`` spends making the site models (issue 16).

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, field_validator, model_validator

from heatreuse.site.base import SiteModel, plausible_range
from heatreuse.site.monitoring import Monitoring
from heatreuse.site.points import PointsConfig

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


class _Model(SiteModel):
    """Frozen, no unknown fields; numbers finite and plausible (:mod:`heatreuse.site.base`)."""


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=64)]


# --------------------------------------------------------------------------- site, location
class SiteInfo(_Model):
    """Identity of the site."""

    id: Identifier
    """Site id (letters, digits, `_`, `.`, `-`): names the site in the store, the MQTT topics
    (`heatreuse/<id>/...`), the ledger and the HTTP path."""
    name: str
    """Name shown in reports."""
    commissioning_date: dt.date | None = None
    """First day of operation: readings before 00:00 site-local time of this day are quarantined
    (`ts_before_site`)."""
    operator: str | None = None
    """Who runs the site (shown in reports)."""


class Location(_Model):
    """Where the site is and which weather drives it."""

    name: str
    """Place name shown in reports."""
    latitude_deg: Annotated[float, Field(ge=-90.0, le=90.0)]
    """Latitude, north positive."""
    longitude_deg: Annotated[float, Field(ge=-180.0, le=180.0)]
    """Longitude, east positive."""
    timezone: str
    """IANA time zone of the site, e.g. `Europe/Berlin`: operating hours, local days and periods use
    it."""
    altitude_m: float = 0.0
    """Height above sea level."""
    weather: str = Field(
        description="Weather source: 'dwd-try:NN' (a DWD test reference year region, shipped "
        "with demandlib), 'pvlib:<file in pvlib's data>', or a path to an EPW, TMY3 or CSV file "
        "(relative to the site file)."
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
    """Rack group id (point ids `rack.<id>.*`)."""
    nameplate_power_w: PositiveFloat
    """Nameplate IT power of one rack."""
    count: Annotated[int, Field(ge=1, le=100_000)] = 1
    """Number of identical racks in the group."""


class Utilisation(_Model):
    """IT utilisation profile as a fraction of nameplate power.

    kind ``constant`` uses ``fraction``; ``daily`` 24 values ``hourly_fraction``
    (local time, hour 0 first); ``weekly`` 168 values ``weekly_hourly_fraction``
    (Monday 00:00 local first); ``csv`` a file with columns ``timestamp`` (ISO
    8601 with offset) and ``fraction``.
    """

    kind: Literal["constant", "daily", "weekly", "csv"] = "constant"
    """Profile shape: `constant`, `daily` (24 values), `weekly` (168 values) or `csv` (a file)."""
    fraction: Fraction | None = None
    """kind `constant`: the share of nameplate power."""
    hourly_fraction: list[Fraction] | None = None
    """kind `daily`: 24 shares of nameplate power, local hour 0 first."""
    weekly_hourly_fraction: list[Fraction] | None = None
    """kind `weekly`: 168 shares, Monday 00:00 local first."""
    csv_path: str | None = None
    """kind `csv`: a file with columns `timestamp` (ISO 8601 with offset) and `fraction`, relative
    to the site file."""

    @model_validator(mode="after")
    def _shape_matches_kind(self) -> "Utilisation":
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
    """How the racks are cooled."""
    heat_capture_fraction: Annotated[float, Field(gt=0.0, le=1.0)]
    """Share of IT heat captured to the water loop (the rest goes to room air)."""
    coolant_supply_temp_c: float
    """Coolant temperature into the racks at design load."""
    coolant_return_temp_c: float
    """Coolant temperature out of the racks at design load."""
    max_coolant_return_temp_c: float = Field(
        description="Above this loop temperature, with no reject path left, compute is throttled."
    )
    cooling_power_fraction_of_it: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    """Cooling electricity (CDU, fans) as a share of IT power."""

    @model_validator(mode="after")
    def _temps_ordered(self) -> "Cooling":
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
    """Rack groups, at least one."""
    utilisation: Utilisation
    """IT load over time."""
    cooling: Cooling
    """Cooling architecture and heat capture."""
    other_power_w: NonNegativeFloat = Field(
        0.0, description="Constant non-IT electricity: lighting, controls, UPS losses."
    )

    @model_validator(mode="after")
    def _plausible_total(self) -> "Compute":
        high = plausible_range("nameplate_it_power_w")[1]
        if self.nameplate_it_power_w > high:
            raise ValueError(
                f"racks: expected a total nameplate IT power (count x nameplate_power_w) of at "
                f"most {high:g} W (the plausible range for a site); got "
                f"{self.nameplate_it_power_w:g} W"
            )
        return self

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
    """Clean UA value (give this or `effectiveness_fraction`)."""
    effectiveness_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    """A constant effectiveness instead of a UA value."""
    fouling_factor_m2_k_per_w: NonNegativeFloat = 0.0
    """Fouling resistance R_f (needs `area_m2`)."""
    area_m2: PositiveFloat | None = None
    """Heat-transfer area (for the fouling factor)."""

    @model_validator(mode="after")
    def _one_rating(self) -> "HeatExchanger":
        if (self.ua_w_per_k is None) == (self.effectiveness_fraction is None):
            raise ValueError("give exactly one of 'ua_w_per_k' or 'effectiveness_fraction'")
        if self.fouling_factor_m2_k_per_w > 0 and self.area_m2 is None:
            raise ValueError("a fouling factor needs 'area_m2' (R_f is per m2)")
        return self


class BufferTank(_Model):
    """Stratified buffer tank."""

    volume_m3: PositiveFloat
    """Water volume."""
    height_m: PositiveFloat
    """Height of the water column (for stratification)."""
    heat_loss_w_per_k: NonNegativeFloat
    """Standing loss to the room, U x A."""
    layers: Annotated[int, Field(ge=1, le=100)] = 10
    """Stratified layers in the model (points `tank.layer_<i>_temp_c`, 1 = top)."""
    max_temp_c: float = 90.0
    """Highest allowed tank temperature."""
    ambient_temp_c: float = 20.0
    """Temperature around the tank."""


class Pump(_Model):
    """A circulation pump at its rated point."""

    id: Identifier
    """Pump id (point ids `pump.<id>.*`)."""
    role: Literal["primary", "secondary", "customer"]
    """Circuit it drives: `primary` (IT loop through the heat exchanger), `secondary` (heat
    exchanger to tank and customer), `customer` (a separate customer circuit)."""
    rated_flow_m3_per_h: PositiveFloat
    """Flow at the rated point."""
    rated_head_m: PositiveFloat
    """Head at the rated point."""
    rated_power_w: PositiveFloat
    """Electric power at the rated point."""


class CopPoint(_Model):
    """One point of a heat pump COP curve."""

    source_temp_c: float
    """Heat-source water temperature."""
    sink_temp_c: float
    """Heat-sink (supply) water temperature."""
    cop: Annotated[float, Field(gt=1.0)]
    """Heating COP at that point."""


class HeatPump(_Model):
    """Optional heat pump lifting recovered heat to the customer's temperature.

    COP from a Carnot fraction (real units reach 0.4-0.6 of the Carnot COP at
    condensing and evaporating temperatures about 5 K beyond the water
    temperatures, see :mod:`heatreuse.physics.heat_pump`) or a COP curve.
    ``upgrade_only`` marks electricity used only to upgrade waste heat, which
    EnEfG section 11 excludes from PUE.
    """

    max_heat_w: PositiveFloat
    """Largest heat output."""
    carnot_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    """COP as this share of the Carnot COP (give this or `cop_curve`)."""
    cop_curve: list[CopPoint] | None = None
    """Measured COP points (give this or `carnot_fraction`)."""
    approach_k: NonNegativeFloat = 5.0
    """Refrigerant-to-water temperature difference on each side, for the Carnot COP."""
    upgrade_only: bool = True
    """Its electricity only upgrades waste heat: EnEfG section 11 leaves it out of PUE."""

    @model_validator(mode="after")
    def _one_cop_model(self) -> "HeatPump":
        if (self.carnot_fraction is None) == (self.cop_curve is None):
            raise ValueError("give exactly one of 'carnot_fraction' or 'cop_curve'")
        return self


class BackupBoiler(_Model):
    """Backup heat source that covers deficits."""

    capacity_w: PositiveFloat
    """Largest heat output."""
    efficiency_fraction: Annotated[float, Field(gt=0.0, le=1.1)]
    """Heat out per fuel energy in (net calorific value: condensing boilers exceed 1)."""
    fuel: Literal["natural_gas", "oil", "lpg", "biomass", "electric", "district_heat"]
    """What it burns (or `electric`, `district_heat`)."""
    control_delay_s: NonNegativeFloat = 300.0
    """Time from a heat deficit to the boiler delivering."""


class HeatReject(_Model):
    """Heat-reject path (dry cooler)."""

    dry_cooler_capacity_w: PositiveFloat
    """Heat the dry cooler can reject."""


class Pipe(_Model):
    """Insulated pipe run from the plant to the customer (one way)."""

    length_m: NonNegativeFloat
    """Length one way, plant to customer."""
    inner_diameter_m: PositiveFloat
    """Inner diameter."""
    insulation_thickness_m: NonNegativeFloat
    """Insulation thickness."""
    insulation_conductivity_w_per_m_k: PositiveFloat = 0.035
    """Thermal conductivity of the insulation (mineral wool about 0.035, PUR foam about 0.027)."""
    surroundings_temp_c: float = 10.0
    """Temperature around the pipe (soil or room)."""


class Plant(_Model):
    """The thermal plant between the IT loop and the customer."""

    heat_exchanger: HeatExchanger
    """Plate heat exchanger between the IT loop and the customer side."""
    buffer_tank: BufferTank
    """Stratified buffer tank."""
    pumps: Annotated[list[Pump], Field(min_length=1)]
    """Circulation pumps, at least one."""
    pipe: Pipe
    """Pipe run to the customer."""
    heat_pump: HeatPump | None = None
    """Optional heat pump lifting recovered heat to the customer's temperature."""
    backup_boiler: BackupBoiler | None = None
    """Optional boiler covering what recovered heat cannot."""
    heat_reject: HeatReject | None = None
    """Optional heat-reject path (dry cooler) for heat the customer cannot take."""
    loop_pressure_bar: PositiveFloat = 3.0
    """Static fill pressure of the hot-water loop (gauge)."""


# --------------------------------------------------------------------------- customer
class TempBand(_Model):
    """A two-sided temperature band [C]."""

    min_temp_c: float
    """Lowest temperature of the band."""
    max_temp_c: float
    """Highest temperature of the band."""

    @model_validator(mode="after")
    def _not_upside_down(self) -> "TempBand":
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
    """Open around the clock."""
    weekly: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[str]] = Field(
        default_factory=dict
    )
    """Per weekday (`mon` ... `sun`) a list of `HH:MM-HH:MM` ranges, site-local time; days not
    listed are closed."""

    @model_validator(mode="after")
    def _parse(self) -> "OperatingHours":
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
    """Name of the heat customer (shown in reports)."""
    supply_band: TempBand
    """Supply temperatures the customer can use: at least `min_temp_c`, at most `max_temp_c`."""
    operating_hours: OperatingHours
    """When the customer takes heat (a pool: when it is open)."""
    interruption_tolerance_h: NonNegativeFloat = Field(
        description="Longest interruption the customer tolerates without harm."
    )


class PoolCustomer(_CustomerBase):
    """Swimming pool (indoor or outdoor).

    beta values from VDI 2089-1 (2010): private 21, public deeper than 1.35 m
    28, shallower 40, wave pool / slides 50, at rest 7 [m/h]. DIN 19643-1
    requires at least 30 L of fresh water per visitor.

    An indoor pool's demand includes its hall unless ``hall_heating`` is
    false: the outdoor air that dehumidifies the hall (VDI 2089-1), warmed
    with heat recovery, and transmission through the hall envelope; both
    follow the outdoor weather.
    """

    kind: Literal["pool"]
    """`pool`."""
    area_m2: PositiveFloat
    """Water surface."""
    depth_m: PositiveFloat
    """Mean water depth."""
    indoor: bool = True
    """An indoor pool (hall air above the water) or an outdoor one (weather at the surface)."""
    use: Literal["private", "public_deep", "public_shallow", "wave_slides"] = "public_deep"
    """Use while open, which sets the VDI 2089 evaporation coefficient beta: `private` 21,
    `public_deep` (deeper than 1.35 m) 28, `public_shallow` 40, `wave_slides` 50 m/h; 7 m/h while
    closed."""
    water_temp_c: Annotated[float, Field(ge=5.0, le=40.0)]
    """Pool water temperature."""
    air_temp_c: Annotated[float, Field(ge=5.0, le=45.0)] = 30.0
    """Indoor: hall air temperature (VDI 2089: 2-4 K above the water)."""
    air_relative_humidity_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.54
    """Indoor: hall air relative humidity (VDI 2089 design 0.54 at 30 C, 14.3 g/kg)."""
    cover_at_night: bool = False
    """A cover lies on the water outside operating hours (evaporation -90 %)."""
    visitors_per_day: NonNegativeFloat = 0.0
    """Visitors a day, each bringing fresh water."""
    fresh_water_l_per_visitor: NonNegativeFloat = 30.0
    """Fresh (make-up) water per visitor (DIN 19643-1: at least 30 L)."""
    wall_floor_u_w_per_m2_k: NonNegativeFloat = 0.3
    """U value of the basin's walls and floor to the ground."""
    ground_temp_c: float = 10.0
    """Ground temperature around the basin."""
    hall_heating: bool = Field(
        True,
        description="Indoor pool: the customer also heats the hall (outdoor air for "
        "dehumidification after VDI 2089-1, and the hall envelope), so the demand follows the "
        "weather. false: pool water only.",
    )
    hall_envelope_ua_w_per_k: NonNegativeFloat | None = Field(
        None,
        description="Transmission coefficient of the hall's roof, walls and windows to "
        "outdoors (sum of U x A). None: estimated from the water area (2.4 W/K per m2 of water, "
        "see heatreuse.simulation.demand.DemandAssumptions).",
    )
    hall_heat_recovery_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.73,
        description="Temperature efficiency of the hall ventilation's heat recovery; 0.73 is "
        "the EU ecodesign minimum for non-residential units (Regulation 1253/2014).",
    )


class DhwPreheatCustomer(_CustomerBase):
    """Domestic hot water preheat: recovered heat lifts cold mains water."""

    kind: Literal["dhw_preheat"]
    """`dhw_preheat`."""
    daily_draw_l: PositiveFloat
    """Hot water drawn per day (on days with operating hours)."""
    hot_temp_c: Annotated[float, Field(gt=0.0, le=95.0)] = 60.0
    """Hot-water temperature of the system the preheat feeds."""
    cold_water_mean_temp_c: float = 11.0
    """Annual mean mains-water temperature."""
    cold_water_amplitude_k: NonNegativeFloat = 4.0
    """Half the seasonal swing of the mains-water temperature."""
    profile: Literal["residential", "hotel", "office", "flat"] = "residential"
    """Daily draw profile."""


class DistrictPreheatCustomer(_CustomerBase):
    """District-heating return preheat driven by a heating curve."""

    kind: Literal["district_preheat"]
    """`district_preheat`."""
    design_outdoor_temp_c: float = -12.0
    """Outdoor temperature at design load (heating curve)."""
    heating_limit_temp_c: float = 15.0
    """Outdoor temperature above which the network runs its summer flow."""
    supply_temp_at_design_c: float = 90.0
    """Network supply temperature at the design outdoor temperature."""
    supply_temp_at_limit_c: float = 70.0
    """Network supply temperature at the heating limit."""
    return_temp_at_design_c: float = 50.0
    """Network return temperature at the design outdoor temperature."""
    return_temp_at_limit_c: float = 40.0
    """Network return temperature at the heating limit."""
    design_flow_m3_per_h: PositiveFloat
    """Return flow through the preheat exchanger at design load."""
    summer_flow_fraction: Fraction = 0.2
    """Return flow above the heating limit, as a share of the design flow."""
    max_preheat_power_w: PositiveFloat
    """Largest heat the preheat exchanger takes."""


class GreenhouseCustomer(_CustomerBase):
    """Heated greenhouse with day and night set points."""

    kind: Literal["greenhouse"]
    """`greenhouse`."""
    floor_area_m2: PositiveFloat
    """Floor area."""
    cover_area_m2: PositiveFloat
    """Area of the glass or film cover (roof and walls)."""
    cover_u_w_per_m2_k: PositiveFloat
    """U value of the cover."""
    day_setpoint_temp_c: float
    """Air temperature set point by day."""
    night_setpoint_temp_c: float
    """Air temperature set point by night."""
    day_start_h: Annotated[float, Field(ge=0.0, le=24.0)] = 6.0
    """Local hour the day set point begins."""
    day_end_h: Annotated[float, Field(ge=0.0, le=24.0)] = 20.0
    """Local hour the day set point ends."""
    air_exchange_per_h: NonNegativeFloat = 0.5
    """Air changes per hour (infiltration and ventilation)."""
    solar_gain_fraction: Fraction = 0.0
    """Share of the global irradiance on the floor area that heats the house."""


class SpaceHeatingCustomer(_CustomerBase):
    """Space heating of a building by heat-loss coefficient (degree-day model)."""

    kind: Literal["space_heating"]
    """`space_heating`."""
    heat_loss_coefficient_w_per_k: PositiveFloat
    """Heat-loss coefficient H of the building (transmission and ventilation)."""
    indoor_temp_c: float = 20.0
    """Indoor temperature (for the return temperature)."""
    base_temp_c: float = 18.0
    """Degree-day base temperature (Eurostat: 18 C)."""
    threshold_temp_c: float = 15.0
    """Daily mean outdoor temperature above which no heating is needed (Eurostat: 15 C)."""
    bdew_profile: str | None = Field(
        None, description="Optional BDEW standard load profile code (demandlib), e.g. 'GMF'."
    )
    annual_heat_kwh: PositiveFloat | None = None
    """With `bdew_profile`: annual heat the profile is scaled to; default: degree days x H."""


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
    """Start, with a UTC offset."""
    end: dt.datetime
    """End, with a UTC offset."""
    announced_at: dt.datetime
    """When the window was announced to the customer."""
    description: str = ""
    """What is done."""

    @model_validator(mode="after")
    def _ordered(self) -> "MaintenanceWindow":
        for name in ("start", "end", "announced_at"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"'{name}' needs a time zone offset, e.g. 2026-01-10T06:00Z")
        if self.end <= self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        return self


class Maintenance(_Model):
    """Maintenance exclusions: windows count only if announced early enough."""

    notice_h: NonNegativeFloat = 48.0
    """Notice a window needs (before it starts) to be left out of the SLA."""
    windows: list[MaintenanceWindow] = Field(default_factory=list)
    """Planned windows."""


def _default_escalation_ladder_h() -> list[float]:
    """Default escalation ladder [h] (a named function: the schema cache pickles it)."""
    return [0.25, 1.0, 2.0, 3.0]


class SlaTerms(_Model):
    """Heat-delivery SLA terms: the rules are in :mod:`heatreuse.sla.definition`.

    A valid minute is one inside operating hours and outside an announced maintenance
    window; it is good when the measured supply temperature is in the band.
    """

    supply_band: TempBand | None = Field(
        None, description="Band the SLA measures; defaults to the customer's supply band."
    )
    target_fraction: Annotated[float, Field(gt=0.0, le=1.0)]
    """Share of valid minutes that must be in band (e.g. 0.995)."""
    period: Literal["month", "contract_year", "both"] = "both"
    """Evaluation period: calendar `month`, `contract_year` or `both` side by side."""
    contract_start_date: dt.date | None = None
    """First day of the contract year; none: the calendar year."""
    measured_point: str = "customer.supply_temp_c"
    """Point id of the supply temperature the SLA measures."""
    slice_rule: Literal["mean", "whole_minute"] = "mean"
    """A minute is good when its `mean` is in band, or (`whole_minute`) its minimum and maximum both
    are."""
    missing_data: Literal["bad", "excluded"] = "bad"
    """Valid minutes without a reading count as `bad`, or are `excluded` from the attainment (still
    reported)."""
    redundant_point: str | None = None
    """A second sensor whose readings cover minutes the measured point misses."""
    maintenance: Maintenance = Field(default_factory=Maintenance)
    """Announced maintenance windows."""
    max_interruption_h: PositiveFloat | None = None
    """Longest allowed single interruption; none: no per-event limit."""
    min_heat_per_day_kwh: NonNegativeFloat | None = None
    """Least heat delivered per operating day; none: no such term."""
    escalation_ladder_h: list[PositiveFloat] = Field(default_factory=_default_escalation_ladder_h)
    """Interruption durations at which the escalation ladder steps up."""
    min_data_coverage_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.95,
        description="Share of the period's operating minutes that must have a reading before "
        "the SLA can be called met; below it the verdict is unknown unless the data present "
        "already proves a breach.",
    )
    monitoring_start: dt.datetime | None = Field(
        None,
        description="When monitoring of this SLA began (with offset); default: the first "
        "reading the store accepted for the site (recorded at ingest).",
    )

    @model_validator(mode="after")
    def _aware_monitoring_start(self) -> "SlaTerms":
        if self.monitoring_start is not None and self.monitoring_start.tzinfo is None:
            raise ValueError("'monitoring_start' needs a time zone offset, e.g. 2026-01-01T00:00Z")
        return self


class Capex(_Model):
    """Investment figures for the reuse installation [EUR]."""

    fixed_eur: NonNegativeFloat = 0.0
    """Fixed investment (engineering, tie-in)."""
    tank_eur_per_m3: NonNegativeFloat = 0.0
    """Buffer tank cost per m3."""
    heat_exchanger_eur: NonNegativeFloat = 0.0
    """Heat exchanger cost."""
    pipe_eur_per_m: NonNegativeFloat = 0.0
    """Pipe cost per metre (one way)."""
    heat_pump_eur_per_kw: NonNegativeFloat = 0.0
    """Heat pump cost per kW of heat."""


class Tariffs(_Model):
    """Prices used for money figures."""

    electricity_eur_per_kwh: NonNegativeFloat
    """Electricity price."""
    heat_sale_eur_per_kwh: NonNegativeFloat = 0.0
    """Price the customer pays for delivered heat."""
    backup_fuel_eur_per_kwh: NonNegativeFloat = 0.0
    """Price of the backup boiler's fuel."""
    opex_eur_per_year: NonNegativeFloat = 0.0
    """Yearly operating cost of the reuse installation."""
    discount_rate_fraction: Fraction = 0.05
    """Discount rate for the net present value."""
    capex: Capex = Field(default_factory=Capex)
    """Investment figures."""


class EmissionFactor(_Model):
    """An emission factor with its source and year (never a bare number)."""

    value_kg_per_kwh: NonNegativeFloat
    """CO2 per kWh."""
    source: Annotated[str, Field(min_length=3)]
    """Publication the factor comes from."""
    year: Annotated[int, Field(ge=1990, le=2100)]
    """Year the factor applies to."""
    basis: Literal["location", "market", "net_cv", "gross_cv"] | None = None
    """`location` or `market` (electricity, GHG Protocol Scope 2); `net_cv` or `gross_cv` (fuels).
    """


class EmissionFactors(_Model):
    """Factors for avoided-emissions accounting (:mod:`heatreuse.carbon`).

    Avoided CO2 = Q_delivered x EF_fuel / eta_ref - (W_heat_pump + W_pumps) x EF_grid
    (WBCSD 2023, Guidance on Avoided Emissions).
    """

    grid: EmissionFactor
    """Grid electricity factor."""
    displaced_fuel: EmissionFactor
    """Factor of the fuel the delivered heat displaces."""
    displaced_fuel_kind: Literal[
        "natural_gas", "oil", "lpg", "biomass", "heat_pump", "district_heat"
    ] = "natural_gas"
    """What would have made the heat otherwise."""
    reference_efficiency_fraction: Annotated[float, Field(gt=0.0, le=1.2)] = Field(
        0.9, description="Efficiency of the displaced plant (conservative: high end)."
    )


class Contract(_Model):
    """SLA, tariffs and emission factors."""

    sla: SlaTerms
    """Heat-delivery SLA terms."""
    tariffs: Tariffs
    """Prices."""
    emission_factors: EmissionFactors
    """Emission factors for avoided CO2."""


# --------------------------------------------------------------------------- ownership
class Person(_Model):
    """Someone in the site's RACI."""

    id: Identifier
    """Person id used in the RACI entries and alarm routes."""
    name: str
    """Full name."""
    email: str | None = None
    """E-mail address for alerts."""
    phone: str | None = None
    """Phone number."""
    team: Literal["it", "facilities", "sustainability", "customer", "management", "vendor"] = (
        "facilities"
    )
    """Team the person belongs to."""


class RaciEntry(_Model):
    """Responsible, accountable, consulted, informed for one activity (person ids)."""

    responsible: Annotated[list[str], Field(min_length=1)]
    """Who does the work (person ids)."""
    accountable: str
    """Who signs it off (one person id)."""
    consulted: list[str] = Field(default_factory=list)
    """Who is asked first."""
    informed: list[str] = Field(default_factory=list)
    """Who is told afterwards."""


class AlarmRoute(_Model):
    """Who receives which alarms: matchers on alert labels -> people."""

    match: dict[str, str] = Field(default_factory=dict)
    """Alert labels to match, e.g. `{system: plant}`."""
    receivers: Annotated[list[str], Field(min_length=1)]
    """Person ids that receive matching alarms."""


class Ownership(_Model):
    """The site's RACI: who approves, signs off, receives alarms, may override."""

    people: Annotated[list[Person], Field(min_length=1)]
    """Everyone named in the RACI."""
    design_change: RaciEntry
    """Who may change the design (set points, plant)."""
    maintenance_signoff: RaciEntry
    """Who signs off maintenance."""
    automation_override: RaciEntry
    """Who may override the automation."""
    alarms: Annotated[list[AlarmRoute], Field(min_length=1)]
    """Alarm routes: which alarms go to whom."""

    @model_validator(mode="after")
    def _people_exist(self) -> "Ownership":
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


# --------------------------------------------------------------------------- standards
class MaintenanceTask(_Model):
    """One recurring task of the site's maintenance schedule.

    The standard tasks of each site template (heat-meter re-verification under the
    German MessEV, water quality after VDI 2035, pump and heat-exchanger service after
    VDMA 24186-2, sensor checks after EN 1434-6) are in `heatreuse template show NAME`.
    """

    id: Identifier
    """Task id; a template's task is matched by it."""
    task: Annotated[str, Field(min_length=3)]
    """What is done."""
    interval_d: PositiveFloat
    """Longest time between two executions of the task."""
    standard: str = ""
    """The standard, regulation or manual that sets the task and its interval."""


class TemplateRef(_Model):
    """The standard template a site follows: a name and version of `heatreuse template list`."""

    name: Identifier
    """Template name, e.g. `pool_modular`."""
    version: Annotated[int, Field(ge=1, le=1000)]
    """Template version the site was made from (the installed version is checked)."""


# --------------------------------------------------------------------------- the site
class Site(_Model):
    """A whole site: location, compute, plant, heat customer, contract, ownership."""

    schema_version: Literal[1] = 1
    """Version of the site-file schema (1)."""
    site: SiteInfo
    """Identity of the site."""
    location: Location
    """Where it is and its weather."""
    compute: Compute
    """IT load and cooling."""
    plant: Plant
    """The thermal plant."""
    customer: Customer
    """The heat customer; `kind` selects the model (`pool`, `dhw_preheat`, `district_preheat`,
    `greenhouse`, `space_heating`)."""
    contract: Contract
    """SLA, tariffs, emission factors."""
    ownership: Ownership
    """The site's RACI and alarm routes."""
    points: PointsConfig = Field(default_factory=PointsConfig)
    """Measured points (sensor package, additions, Modbus devices)."""
    monitoring: Monitoring = Field(default_factory=Monitoring)
    """Fault-detection rules: thresholds and which rules run."""
    maintenance_schedule: list[MaintenanceTask] | None = None
    """Recurring maintenance tasks; not given: the schedule of the site's `template` applies."""
    template: TemplateRef | None = None
    """The standard template the site follows (`heatreuse site new --template`); `heatreuse
    validate` names the site's deviations from it."""

    @field_validator("maintenance_schedule")
    @classmethod
    def _task_ids_unique(cls, value: list[MaintenanceTask] | None) -> list[MaintenanceTask] | None:
        seen: set[str] = set()
        for task in value or []:
            if task.id in seen:
                raise ValueError(f"task id '{task.id}' given twice; expected one entry per task")
            seen.add(task.id)
        return value

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
