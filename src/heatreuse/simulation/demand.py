"""Heat demand of a site's customer from physics and weather.

:func:`customer_demand` turns a site's customer (pool, DHW preheat, district
preheat, greenhouse, space heating) plus a weather frame
(:func:`heatreuse.weather.load_weather`) into a time series with a UTC index
and these columns:

=========================  ===============================================================
column                     meaning
=========================  ===============================================================
``heat_demand_w``          heat the customer needs at the interface [W], ``>= 0``
``supply_temp_required_c`` lowest supply temperature the customer can use then [C]
``return_temp_c``          temperature of the water coming back from the customer [C]
``operating``              inside the customer's operating hours (site-local time) [bool]
``air_temp_c``             outdoor air temperature used [C]
=========================  ===============================================================

Time steps. Without ``index`` the weather's own (hourly) index is used. With
``index`` (any regular UTC index inside the weather period, e.g. 60 s steps)
the weather is forward-filled onto it (each hourly value holds for its hour,
matching the interval-beginning labels of the weather frame, so energy over an
hour is preserved), and the physics runs on the target steps: operating hours,
day/night set points and draw times are resolved at the target resolution.

Each model's assumptions are constants in :data:`ASSUMPTIONS` (one place),
with their sources. ``operating`` drives the models as follows: pool (opening
hours set the VDI 2089 beta, "in use" or "at rest", when the cover is on and the
least outdoor air of an indoor pool's hall),
DHW (draws happen only in operating hours), district preheat (heat accepted
only in operating hours); greenhouse and space heating lose heat whether or not
anyone is there, so ``operating`` is reported but does not gate their demand.

Return temperatures follow the load: pool, the outlet of its plate exchanger
with the heating flow throttled to the load (:func:`pool_return_temp_c`, near
the pool water at part load, ``pool_return_approach_k`` above it at the design
load of :func:`pool_design_heat_w`); district preheat, the network's return
on its heating curve; greenhouse and space heating, constant-flow circuits
whose spread scales with the load fraction; DHW preheat, the approach above
the seasonal mains water. What a model derives for the whole run comes from
the customer alone, never from the period, so windows and chunks agree; the
pool's frame carries its design return in ``attrs["nominal_return_temp_c"]``
[C] for the kernel's water properties
(:func:`heatreuse.simulation.inputs.prepare`).

:func:`demand_for_kind` builds a reasonable default customer of any kind sized
to the same site (for ``heatreuse plan --compare-models``).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from heatreuse.errors import SimulationError, WeatherError
from heatreuse.physics.degree_days import heating_degree_days
from heatreuse.physics.dhw import (
    COLD_WATER_PEAK_DAY,
    cold_water_temp_c,
    dhw_draw_fractions,
    dhw_heat_kwh,
)
from heatreuse.physics.district import (
    district_preheat_power_w,
    district_return_flow_m3_per_h,
    heating_curve_temp_c,
    heating_load_fraction,
)
from heatreuse.physics.greenhouse import (
    greenhouse_air_volume_m3,
    greenhouse_heat_demand_w,
    greenhouse_setpoint_temp_c,
)
from heatreuse.physics.heat_exchanger import hx_throttled_hot_outlet_temp_c, lmtd_k
from heatreuse.physics.pool import (
    POOL_BETA_M_PER_H,
    POOL_COVER_EVAPORATION_FACTOR,
    POOL_COVER_SURFACE_LOSS_FACTOR,
    POOL_HALL_MIN_OUTDOOR_AIR_FRACTION,
    dew_point_temp_c,
    humidity_ratio_kg_per_kg,
    pool_convection_heat_w,
    pool_evaporation_heat_w,
    pool_evaporation_kg_per_h,
    pool_hall_design_outdoor_air_kg_per_h,
    pool_hall_outdoor_air_kg_per_h,
    pool_hall_transmission_heat_w,
    pool_hall_ventilation_heat_w,
    pool_makeup_heat_w,
    pool_radiation_heat_w,
    pool_solar_gain_w,
    pool_transmission_heat_w,
    pool_wall_floor_area_m2,
    sky_temperature_c,
)
from heatreuse.physics.space_heating import space_heating_power_w, space_heating_return_temp_c
from heatreuse.physics.water import water_density_kg_per_m3
from heatreuse.site.model import (
    CUSTOMER_KINDS,
    DhwPreheatCustomer,
    DistrictPreheatCustomer,
    GreenhouseCustomer,
    OperatingHours,
    PoolCustomer,
    Site,
    SpaceHeatingCustomer,
    TempBand,
)
from heatreuse.weather.readers import (
    AIR_TEMP,
    GHI,
    RELATIVE_HUMIDITY,
    WIND_SPEED,
    load_weather,
    require_columns,
)

DEMAND_COLUMNS = (
    "heat_demand_w",
    "supply_temp_required_c",
    "return_temp_c",
    "operating",
    "air_temp_c",
)

AnyCustomer = (
    PoolCustomer
    | DhwPreheatCustomer
    | DistrictPreheatCustomer
    | GreenhouseCustomer
    | SpaceHeatingCustomer
)
Kind = Literal["pool", "dhw_preheat", "district_preheat", "greenhouse", "space_heating"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DemandAssumptions:
    """Assumptions of the demand models that the site file does not give.

    Every value is an engineering default; the docstring of each field names
    its source or says it is an estimate.
    """

    #: Pool: at the design heat load the heating water returns this much above the pool
    #: water temperature [K] (plate heat exchanger on the pool circuit, 2-5 K approach;
    #: estimate). This sizes the exchanger's UA; at part load the throttled heating flow
    #: returns colder, towards the pool water (see :func:`pool_return_temp_c`).
    pool_return_approach_k: float = 3.0
    #: Pool: design weather the customer's exchanger is sized for (with
    #: ``design_outdoor_temp_c``): outdoor relative humidity [-] and wind speed [m/s] of a
    #: cold, overcast winter day, no sun (estimates; the hall's outdoor air and an outdoor
    #: pool's surface see them). Mains water at its seasonal minimum, the pool in use.
    pool_design_outdoor_relative_humidity_fraction: float = 0.9
    pool_design_wind_speed_m_per_s: float = 4.0
    #: Pool: mains water for make-up, annual mean [C] and half swing [K] (same defaults
    #: as DhwPreheatCustomer: central European drinking water, 11 +- 4 C; estimate).
    pool_cold_water_mean_temp_c: float = 11.0
    pool_cold_water_amplitude_k: float = 4.0
    #: Indoor pool hall: transmission coefficient per m2 of water surface [W/K per m2] when
    #: the site file gives no ``hall_envelope_ua_w_per_k`` (estimate). Derivation: hall floor
    #: 2.6 x the water area (a 25 m x 12.5 m pool in a 33 m x 25 m hall, KOK-Richtlinien
    #: 2013 layout), 6.5 m high; roof (U 0.20) and walls (U 0.28, 40 % windows at U 1.3) to
    #: outdoors, the GEG 2020 Anlage 2 reference values for non-residential buildings, plus
    #: 0.05 W/(m2 K) for thermal bridges: about 760 W/K for 312.5 m2 of water.
    pool_hall_ua_w_per_k_per_water_m2: float = 2.4
    #: DHW preheat: the preheated water ends this far below the highest supply
    #: temperature the plant may deliver, and the heating water returns this far above
    #: the cold water [K] (counter-flow plate exchanger approach; estimate).
    dhw_approach_k: float = 5.0
    #: District preheat: temperature approach of the preheat exchanger [K] (estimate):
    #: required supply = network return + approach; preheat target = band max - approach.
    district_approach_k: float = 5.0
    #: Space heating and greenhouse: design outdoor temperature [C] for the heating
    #: curve; -12 C is the DIN/TS 12831-1 design value for much of Germany (Potsdam -14,
    #: Hamburg -10); use the local value where it matters.
    design_outdoor_temp_c: float = -12.0
    #: Space heating and greenhouse: supply-return spread at design load [K]
    #: (55/45 C radiator or pipe-rail circuit; estimate).
    design_delta_t_k: float = 10.0
    #: BDEW profile: building class for EFH/MFH (1..11; demandlib's example value) and
    #: wind class (0 = not windy location).
    bdew_building_class: int = 1
    bdew_wind_class: int = 0


#: The assumptions in use (one place; see :class:`DemandAssumptions`).
ASSUMPTIONS = DemandAssumptions()


# --------------------------------------------------------------------------- public API
def customer_demand(
    site: Site, weather: pd.DataFrame, index: pd.DatetimeIndex | None = None
) -> pd.DataFrame:
    """Heat demand of the site's customer over the weather period.

    Parameters
    ----------
    site : Site
        The site (its customer and its time zone are used).
    weather : pandas.DataFrame
        Weather from :func:`heatreuse.weather.load_weather` (UTC index,
        ``air_temp_c`` and, where a model needs them, humidity, irradiance,
        wind).
    index : pandas.DatetimeIndex, optional
        Regular UTC index to compute on (e.g. 60 s steps); default: the
        weather's own index. Weather values are forward-filled onto it.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DEMAND_COLUMNS` on a UTC index (see module docstring).

    Raises
    ------
    WeatherError
        The weather lacks a column the model needs, is not UTC-indexed, or
        does not cover ``index``.
    SimulationError
        ``index`` is not tz-aware UTC, not regular, or empty.
    """
    return _demand(site.customer, site.location.timezone, weather, index)


def site_weather(site: Site, year: int | None = None) -> pd.DataFrame:
    """Load the weather named in ``site.location.weather``.

    Paths are resolved relative to the site file's folder
    (:meth:`heatreuse.site.Site.resolve_path`); ``pvlib:`` and ``dwd-try:``
    names load from the packaged data. ``year`` as for
    :func:`heatreuse.weather.load_weather`.
    """
    base = site.source_path.parent if site.source_path is not None else None
    return load_weather(site.location.weather, base_dir=base, year=year)


def demand_for_kind(
    kind: str, site: Site, weather: pd.DataFrame, index: pd.DatetimeIndex | None = None
) -> pd.DataFrame:
    """Heat demand of a default customer of ``kind`` sized to ``site``.

    For the site's own kind this is :func:`customer_demand`. Otherwise the
    customer from :func:`default_customer` is used.

    Parameters
    ----------
    kind : str
        One of ``pool``, ``dhw_preheat``, ``district_preheat``,
        ``greenhouse``, ``space_heating``.
    site, weather, index
        As for :func:`customer_demand`.

    Returns
    -------
    pandas.DataFrame
        Same columns as :func:`customer_demand`.
    """
    customer = default_customer(kind, site, weather)
    return _demand(customer, site.location.timezone, weather, index)


def site_with_customer_kind(kind: str, site: Site, weather: pd.DataFrame) -> Site:
    """A copy of ``site`` whose customer is :func:`default_customer` of ``kind``."""
    customer = default_customer(kind, site, weather)
    if customer is site.customer:
        return site
    return site.model_copy(update={"customer": customer})


def recoverable_heat_w(site: Site) -> float:
    """Mean heat the site's IT can offer [W].

    nameplate IT power * heat-capture fraction * mean utilisation fraction
    (constant: ``fraction``; daily / weekly: mean of the profile; csv: 1.0, an
    upper bound because the file is not read here).
    """
    util = site.compute.utilisation
    if util.kind == "constant" and util.fraction is not None:
        mean_util = util.fraction
    elif util.kind == "daily" and util.hourly_fraction is not None:
        mean_util = float(np.mean(util.hourly_fraction))
    elif util.kind == "weekly" and util.weekly_hourly_fraction is not None:
        mean_util = float(np.mean(util.weekly_hourly_fraction))
    else:
        mean_util = 1.0
    return (
        site.compute.nameplate_it_power_w * site.compute.cooling.heat_capture_fraction * mean_util
    )


def default_customer(kind: str, site: Site, weather: pd.DataFrame) -> AnyCustomer:
    """A reasonable customer of ``kind`` for comparing reuse models at ``site``.

    The site's own customer is returned unchanged when ``kind`` matches it.
    Otherwise a template from :data:`DEFAULT_CUSTOMER_TEMPLATES` (sources in
    its comments) is scaled so that its mean heat demand over the weather
    period equals :func:`recoverable_heat_w` of the site: every model then
    could take all recovered heat on average, and the comparison shows how
    well the timing and temperatures fit. Scaling is linear in the size fields
    (area, volume, flow, heat-loss coefficient); the pool's wall area grows
    with the square root of its surface, so its match is approximate (within
    a few per cent).

    Raises
    ------
    SimulationError
        Unknown ``kind``.
    """
    if kind not in CUSTOMER_KINDS:
        raise SimulationError(
            f"unknown customer kind {kind!r}; expected one of {', '.join(CUSTOMER_KINDS)}"
        )
    if site.customer.kind == kind:
        return site.customer
    template = _template(kind)
    target_w = recoverable_heat_w(site)
    probe = _demand(template, site.location.timezone, weather, None)
    mean_w = float(probe["heat_demand_w"].mean())
    if mean_w <= 0.0:
        return template
    return _scaled(template, target_w / mean_w)


# --------------------------------------------------------------------------- default customers
def _band(lo: float, hi: float) -> TempBand:
    return TempBand(min_temp_c=lo, max_temp_c=hi)


_ALWAYS = OperatingHours(always=True)

#: Templates for :func:`default_customer` (sizes are rescaled to the site).
DEFAULT_CUSTOMER_TEMPLATES: dict[str, dict[str, Any]] = {
    # Public indoor sports pool 25 m x 12.5 m (KOK-Richtlinien fuer den Baederbau 2013),
    # water 28 C, hall 30 C / 54 % RH (VDI 2089-1 design), 2.56 visitors per m2 and day,
    # 30 L fresh water each (DIN 19643-1), open 06-22 h daily (estimate).
    "pool": {
        "kind": "pool",
        "name": "Default public indoor pool",
        "supply_band": _band(32.0, 45.0),
        "operating_hours": OperatingHours(
            weekly={d: ["06:00-22:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
        ),
        "interruption_tolerance_h": 4.0,  # 600 m3 of water cools ~0.1 K/h (estimate)
        "area_m2": 312.5,
        "depth_m": 1.8,
        "indoor": True,
        "use": "public_deep",
        "water_temp_c": 28.0,
        "air_temp_c": 30.0,
        "air_relative_humidity_fraction": 0.54,
        "visitors_per_day": 800.0,
        "fresh_water_l_per_visitor": 30.0,
        "wall_floor_u_w_per_m2_k": 0.35,
        "ground_temp_c": 10.0,
    },
    # Residential DHW, 60 C storage (legionella rule DVGW W 551), preheat up to 45 C.
    "dhw_preheat": {
        "kind": "dhw_preheat",
        "name": "Default residential DHW preheat",
        "supply_band": _band(20.0, 50.0),
        "operating_hours": _ALWAYS,
        "interruption_tolerance_h": 8.0,  # the boiler stage covers outages (estimate)
        "daily_draw_l": 10000.0,
        "hot_temp_c": 60.0,
        "profile": "residential",
    },
    # Heating curve of a conventional 3rd-generation network (90/50 C at -12 C, 70/40 C
    # at the 15 C heating limit; Frederiksen & Werner 2013, ch. 5).
    "district_preheat": {
        "kind": "district_preheat",
        "name": "Default district-heating return preheat",
        "supply_band": _band(40.0, 60.0),
        "operating_hours": _ALWAYS,
        "interruption_tolerance_h": 24.0,  # the network's own plant covers (estimate)
        "design_flow_m3_per_h": 10.0,
        "max_preheat_power_w": 200000.0,
    },
    # Glass (Venlo) greenhouse, single glass U = 6.0 W/(m2 K) (ASHRAE HVAC Applications
    # ch. 25: 6.4 for single glass), cover/floor 1.4, day 20 C / night 16 C (tomato
    # growing practice, estimate), 0.5 air changes per hour, 40 % of sun useful.
    "greenhouse": {
        "kind": "greenhouse",
        "name": "Default glass greenhouse",
        "supply_band": _band(40.0, 60.0),
        "operating_hours": _ALWAYS,
        "interruption_tolerance_h": 2.0,  # crops tolerate short cooling (estimate)
        "floor_area_m2": 1000.0,
        "cover_area_m2": 1400.0,
        "cover_u_w_per_m2_k": 6.0,
        "day_setpoint_temp_c": 20.0,
        "night_setpoint_temp_c": 16.0,
        "air_exchange_per_h": 0.5,
        "solar_gain_fraction": 0.4,
    },
    # Office/school building with a low-temperature radiator circuit, Eurostat base.
    "space_heating": {
        "kind": "space_heating",
        "name": "Default building space heating",
        "supply_band": _band(35.0, 55.0),
        "operating_hours": _ALWAYS,
        "interruption_tolerance_h": 6.0,  # building mass (estimate)
        "heat_loss_coefficient_w_per_k": 2000.0,
    },
}

_SIZE_FIELDS: dict[str, tuple[str, ...]] = {
    "pool": ("area_m2", "visitors_per_day"),
    "dhw_preheat": ("daily_draw_l",),
    "district_preheat": ("design_flow_m3_per_h", "max_preheat_power_w"),
    "greenhouse": ("floor_area_m2", "cover_area_m2"),
    "space_heating": ("heat_loss_coefficient_w_per_k",),
}
_MODELS: dict[str, type[AnyCustomer]] = {
    "pool": PoolCustomer,
    "dhw_preheat": DhwPreheatCustomer,
    "district_preheat": DistrictPreheatCustomer,
    "greenhouse": GreenhouseCustomer,
    "space_heating": SpaceHeatingCustomer,
}


def _template(kind: str) -> AnyCustomer:
    return _MODELS[kind].model_validate(DEFAULT_CUSTOMER_TEMPLATES[kind])


def _scaled(customer: AnyCustomer, factor: float) -> AnyCustomer:
    update = {f: getattr(customer, f) * factor for f in _SIZE_FIELDS[customer.kind]}
    return customer.model_copy(update=update)


# --------------------------------------------------------------------------- the engine room
@dataclass(frozen=True)
class _Steps:
    """Target time steps with their local-time components."""

    index: pd.DatetimeIndex
    step_h: float
    weekday: npt.NDArray[np.int64]
    minute_of_day: FloatArray
    day_of_year: FloatArray
    local_day: npt.NDArray[np.int64]
    air_temp_c: FloatArray
    weather: pd.DataFrame


def _demand(
    customer: AnyCustomer, timezone: str, weather: pd.DataFrame, index: pd.DatetimeIndex | None
) -> pd.DataFrame:
    steps = _steps(weather, index, timezone)
    operating = _operating(customer.operating_hours, steps)
    cols: tuple[FloatArray, FloatArray | float, FloatArray | float]
    if isinstance(customer, PoolCustomer):
        cols = _pool(customer, steps, operating)
    elif isinstance(customer, DhwPreheatCustomer):
        cols = _dhw(customer, steps, operating)
    elif isinstance(customer, DistrictPreheatCustomer):
        cols = _district(customer, steps, operating)
    elif isinstance(customer, GreenhouseCustomer):
        cols = _greenhouse(customer, steps)
    else:
        cols = _space_heating(customer, steps, timezone)
    n = len(steps.index)
    frame = pd.DataFrame(
        {
            "heat_demand_w": np.asarray(cols[0], dtype=np.float64),
            "supply_temp_required_c": np.broadcast_to(cols[1], (n,)).astype(np.float64),
            "return_temp_c": np.broadcast_to(cols[2], (n,)).astype(np.float64),
            "operating": operating,
            "air_temp_c": steps.air_temp_c,
        },
        index=steps.index,
    )
    if isinstance(customer, PoolCustomer):
        # window-independent stand-in for the (load-dependent) return: the design return
        frame.attrs["nominal_return_temp_c"] = (
            customer.water_temp_c + ASSUMPTIONS.pool_return_approach_k
        )
    frame.attrs["customer_kind"] = customer.kind
    frame.attrs["customer_name"] = customer.name
    frame.attrs["weather_source"] = weather.attrs.get("source", "")
    return frame


def _steps(weather: pd.DataFrame, index: pd.DatetimeIndex | None, timezone: str) -> _Steps:
    source = weather.attrs.get("source", "weather")
    if not isinstance(weather.index, pd.DatetimeIndex) or str(weather.index.tz) != "UTC":
        raise WeatherError(f"weather {source!r}: expected a tz-aware UTC DatetimeIndex")
    if AIR_TEMP not in weather.columns:
        require_columns(weather, [AIR_TEMP], "every demand model")
    if len(weather) < 2:
        raise WeatherError(f"weather {source!r}: expected at least 2 rows, got {len(weather)}")
    w_step = weather.index[1] - weather.index[0]
    if index is None:
        target = weather.index
        on_index = weather
    else:
        if not isinstance(index, pd.DatetimeIndex) or str(index.tz) != "UTC":
            raise SimulationError("demand index: expected a tz-aware UTC DatetimeIndex")
        if len(index) == 0:
            raise SimulationError("demand index: expected at least one time step, got none")
        end = weather.index[-1] + w_step
        if index[0] < weather.index[0] or index[-1] >= end:
            raise WeatherError(
                f"weather {source!r} covers {weather.index[0]} to {end} (exclusive); the "
                f"requested steps run from {index[0]} to {index[-1]}"
            )
        target = index
        on_index = weather.reindex(index, method="ffill")
    if len(target) > 1:
        diffs = np.diff(target.to_numpy(dtype="datetime64[ns]")).astype(np.int64)
        if not bool(np.all(diffs == diffs[0])) or diffs[0] <= 0:
            raise SimulationError("demand index: expected regular, increasing time steps")
        step_h = float(diffs[0]) / 3.6e12
    else:
        step_h = float(w_step / pd.Timedelta(hours=1))
    local = target.tz_convert(ZoneInfo(timezone))
    minute = (local.hour * 60 + local.minute).to_numpy(dtype=np.float64) + local.second.to_numpy(
        dtype=np.float64
    ) / 60.0
    local_day = local.year.to_numpy(dtype=np.int64) * 1000 + local.day_of_year.to_numpy(
        dtype=np.int64
    )
    return _Steps(
        index=target,
        step_h=step_h,
        weekday=local.day_of_week.to_numpy(dtype=np.int64),
        minute_of_day=minute,
        day_of_year=local.day_of_year.to_numpy(dtype=np.float64) + minute / 1440.0,
        local_day=local_day,
        air_temp_c=on_index[AIR_TEMP].to_numpy(dtype=np.float64),
        weather=on_index,
    )


def _operating(hours: OperatingHours, steps: _Steps) -> npt.NDArray[np.bool_]:
    mask = np.zeros(len(steps.index), dtype=bool)
    for day, ranges in enumerate(hours.minutes_by_weekday()):
        on_day = steps.weekday == day
        for start, end in ranges:
            mask |= on_day & (steps.minute_of_day >= start) & (steps.minute_of_day < end)
    return mask


def _column(steps: _Steps, name: str, needed_by: str) -> FloatArray:
    require_columns(steps.weather, [name], needed_by)
    return steps.weather[name].to_numpy(dtype=np.float64)


# --------------------------------------------------------------------------- pool
def _pool_heat_w(c: PoolCustomer, steps: _Steps, operating: npt.NDArray[np.bool_]) -> FloatArray:
    a = ASSUMPTIONS
    n = len(steps.index)
    tw = c.water_temp_c
    beta = np.where(operating, POOL_BETA_M_PER_H[c.use], POOL_BETA_M_PER_H["at_rest"])
    covered = np.asarray(c.cover_at_night & ~operating, dtype=bool)
    hall = np.zeros(n)
    if c.indoor:
        air = np.full(n, c.air_temp_c)
        rh = np.full(n, c.air_relative_humidity_fraction)
        conv = pool_convection_heat_w(c.area_m2, tw, air)
        rad = pool_radiation_heat_w(c.area_m2, tw, air)
        solar = np.zeros(n)
    else:
        who = "outdoor pool"
        air = steps.air_temp_c
        rh = _column(steps, RELATIVE_HUMIDITY, f"{who} (evaporation)")
        wind = _column(steps, WIND_SPEED, f"{who} (convection)")
        ghi = _column(steps, GHI, f"{who} (solar gain)")
        conv = pool_convection_heat_w(c.area_m2, tw, air, wind)
        # Lewis analogy: wind raises the mass-transfer coefficient like the heat-transfer one,
        # beta = h / (rho_air c_p,air) (Incropera, 7th ed., eq. 6.92 with Le ~ 1).
        beta = np.maximum(beta, (2.8 + 3.0 * wind) / (1.204 * 1006.0) * 3600.0)
        dew = dew_point_temp_c(np.clip(air, -50.0, 60.0), np.clip(rh, 0.01, 1.0))
        rad = pool_radiation_heat_w(c.area_m2, tw, sky_temperature_c(air, dew))
        solar = pool_solar_gain_w(c.area_m2, ghi)
    evap_kg_per_h = pool_evaporation_kg_per_h(c.area_m2, tw, air, rh, beta)
    evap_kg_per_h = np.where(covered, evap_kg_per_h * POOL_COVER_EVAPORATION_FACTOR, evap_kg_per_h)
    surface = np.where(covered, POOL_COVER_SURFACE_LOSS_FACTOR, 1.0)
    conv = conv * surface
    rad = rad * surface
    evap = pool_evaporation_heat_w(evap_kg_per_h, tw)
    # Make-up water: visitors' fresh water spread over the day's open steps, plus water
    # replacing what evaporated (never negative).
    open_h_by_day = _per_day_sum(steps.local_day, np.where(operating, steps.step_h, 0.0))
    rho = float(water_density_kg_per_m3(tw, 1.0))
    visitors_kg = c.visitors_per_day * c.fresh_water_l_per_visitor * 1e-3 * rho
    fresh_kg_per_h = np.where(
        operating & (open_h_by_day > 0.0),
        visitors_kg / np.where(open_h_by_day > 0.0, open_h_by_day, 1.0),
        0.0,
    )
    makeup_kg_per_h = fresh_kg_per_h + np.maximum(evap_kg_per_h, 0.0)
    cold = cold_water_temp_c(
        steps.day_of_year, a.pool_cold_water_mean_temp_c, a.pool_cold_water_amplitude_k
    )
    makeup = pool_makeup_heat_w(makeup_kg_per_h, tw, np.minimum(cold, tw))
    trans = pool_transmission_heat_w(
        pool_wall_floor_area_m2(c.area_m2, c.depth_m),
        c.wall_floor_u_w_per_m2_k,
        tw,
        c.ground_temp_c,
    )
    water = np.maximum(evap + conv + rad + makeup + trans - solar, 0.0)
    if c.indoor and c.hall_heating:
        hall = _pool_hall_w(c, steps, operating, evap_kg_per_h, conv + rad)
    out: FloatArray = water + hall
    return out


def _pool(
    c: PoolCustomer, steps: _Steps, operating: npt.NDArray[np.bool_]
) -> tuple[FloatArray, float, FloatArray]:
    heat_w = _pool_heat_w(c, steps, operating)
    return heat_w, c.supply_band.min_temp_c, pool_return_temp_c(c, heat_w)


def pool_design_heat_w(c: PoolCustomer) -> float:
    """Design heat load of a pool customer [W], what its exchanger is sized for.

    The pool model of :func:`customer_demand` at one design step: in use (the
    VDI 2089-1 beta of ``use``; at rest if the pool never opens), no cover,
    mains water at its seasonal minimum, the visitors' fresh water over the
    shortest open day, outdoor air at ``design_outdoor_temp_c`` with the design
    humidity and wind of :class:`DemandAssumptions`, no sun. It depends on the
    customer only, never on the period simulated, so every window and chunk of
    a run sees the same exchanger.
    """
    a = ASSUMPTIONS
    open_h = [
        sum(end - start for start, end in ranges) / 60.0
        for ranges in c.operating_hours.minutes_by_weekday()
    ]
    open_days = [h for h in open_h if h > 0.0]
    operating = np.array([bool(open_days)])
    stamp = pd.DatetimeIndex([pd.Timestamp("2001-01-01", tz="UTC")])
    weather = pd.DataFrame(
        {
            AIR_TEMP: [a.design_outdoor_temp_c],
            RELATIVE_HUMIDITY: [a.pool_design_outdoor_relative_humidity_fraction],
            WIND_SPEED: [a.pool_design_wind_speed_m_per_s],
            GHI: [0.0],
        },
        index=stamp,
    )
    steps = _Steps(
        index=stamp,
        step_h=min(open_days) if open_days else 24.0,
        weekday=np.zeros(1, dtype=np.int64),
        minute_of_day=np.full(1, 720.0),
        # half a year from the warmest day: the mains water at its minimum
        day_of_year=np.full(1, COLD_WATER_PEAK_DAY - 365.0 / 2.0),
        local_day=np.zeros(1, dtype=np.int64),
        air_temp_c=np.full(1, a.design_outdoor_temp_c),
        weather=weather,
    )
    return float(_pool_heat_w(c, steps, operating)[0])


def pool_return_temp_c(c: PoolCustomer, heat_w: FloatArray) -> FloatArray:
    """Heating-water return of a pool customer at the heat load ``heat_w`` [C].

    The customer's heat reaches the pool through a plate heat exchanger whose
    heating flow a valve throttles to the load (the plant's customer flow in
    :mod:`heatreuse.simulation.kernel` is load-controlled too), while the
    pool's filtration circulation on the other side is large and constant:
    C_r -> 0, the pool side stays at ``water_temp_c``. The exchanger is sized
    (UA = Q_design / LMTD, Bergman et al. eq. 11.14) so that at
    :func:`pool_design_heat_w`, fed at ``supply_band.min_temp_c``, the water
    returns ``pool_return_approach_k`` above the pool water; at a load q the
    return is then :func:`heatreuse.physics.heat_exchanger.hx_throttled_hot_outlet_temp_c`
    at that same supply: towards the pool water temperature at low load, up
    to the approach at design load, and towards the supply above it (the
    exchanger's limit UA (T_s - T_w)). With the hall heated the hall's air
    heater is lumped into the same exchanger (its air, 2-4 K above the water,
    is a similar cold side).

    The supply used is the customer's minimum: a hotter plant supply would
    give a slightly colder return at the same load, so the return here is the
    upper bound for any supply that meets the requirement. If the band's
    minimum is not above the pool water plus the approach, the exchanger is
    sized for a supply of twice the approach above the pool water.
    """
    a = ASSUMPTIONS
    tw = c.water_temp_c
    approach = a.pool_return_approach_k
    t_supply = c.supply_band.min_temp_c
    if t_supply <= tw + approach:
        t_supply = tw + 2.0 * approach
    design_w = pool_design_heat_w(c)
    q = np.maximum(np.asarray(heat_w, dtype=np.float64), 0.0)
    if design_w <= 0.0:
        return np.full(q.shape, tw + approach)
    ua = design_w / float(lmtd_k(t_supply - tw, approach))
    out: FloatArray = np.asarray(hx_throttled_hot_outlet_temp_c(q, ua, t_supply, tw))
    return out


def _pool_hall_w(
    c: PoolCustomer,
    steps: _Steps,
    operating: npt.NDArray[np.bool_],
    evap_kg_per_h: FloatArray,
    surface_to_air_w: FloatArray,
) -> FloatArray:
    """Heat the hall of an indoor pool needs [W], >= 0.

    Hall air balance (VDI 2089-1 dehumidification with outdoor air; EN ISO 13789
    transmission): outdoor air carries the evaporation away
    (m = m_evap / (x_hall - x_out), between 30 % of the design flow while open and the
    design flow), is warmed to the hall temperature behind the heat recovery, and the
    envelope loses H_T (T_hall - T_out); the water surface gives the hall
    ``surface_to_air_w`` (convection + radiation, negative when the hall warms the water,
    which the hall must then make up). Gains from people, lights and sun are not
    credited (an overestimate, mostly in summer); a hall that would need cooling counts 0.
    """
    who = "indoor pool hall (VDI 2089 outdoor-air dehumidification; or hall_heating: false)"
    t_out = steps.air_temp_c
    rh_out = _column(steps, RELATIVE_HUMIDITY, who)
    x_hall = humidity_ratio_kg_per_kg(c.air_temp_c, c.air_relative_humidity_fraction)
    x_out = humidity_ratio_kg_per_kg(np.clip(t_out, -50.0, 60.0), np.clip(rh_out, 0.0, 1.0))
    design_evap = pool_evaporation_kg_per_h(
        c.area_m2,
        c.water_temp_c,
        c.air_temp_c,
        c.air_relative_humidity_fraction,
        POOL_BETA_M_PER_H[c.use],
    )
    design_air = pool_hall_design_outdoor_air_kg_per_h(max(design_evap, 0.0), x_hall)
    min_air = np.where(operating, POOL_HALL_MIN_OUTDOOR_AIR_FRACTION * design_air, 0.0)
    air = pool_hall_outdoor_air_kg_per_h(evap_kg_per_h, x_hall, x_out, design_air, min_air)
    vent = pool_hall_ventilation_heat_w(
        air, c.air_temp_c, t_out, x_out, c.hall_heat_recovery_fraction
    )
    ua = (
        c.hall_envelope_ua_w_per_k
        if c.hall_envelope_ua_w_per_k is not None
        else ASSUMPTIONS.pool_hall_ua_w_per_k_per_water_m2 * c.area_m2
    )
    envelope = pool_hall_transmission_heat_w(ua, c.air_temp_c, t_out)
    out: FloatArray = np.maximum(envelope + vent - surface_to_air_w, 0.0)
    return out


def _per_day_sum(local_day: npt.NDArray[np.int64], values: FloatArray) -> FloatArray:
    _, inverse = np.unique(local_day, return_inverse=True)
    inverse = inverse.ravel()
    sums = np.asarray(
        np.bincount(inverse, weights=np.asarray(values, dtype=np.float64)), dtype=np.float64
    )
    out: FloatArray = sums[inverse]
    return out


# --------------------------------------------------------------------------- DHW
def _dhw(
    c: DhwPreheatCustomer, steps: _Steps, operating: npt.NDArray[np.bool_]
) -> tuple[FloatArray, float, FloatArray]:
    a = ASSUMPTIONS
    fractions = dhw_draw_fractions(c.profile)
    # Share of the daily profile that falls into open hours, per weekday, so a day's draw
    # is c.daily_draw_l on every day with open hours, whatever the index covers.
    open_share = np.zeros(7)
    for day, ranges in enumerate(c.operating_hours.minutes_by_weekday()):
        for start, end in ranges:
            for hour in range(24):
                overlap = min(end, (hour + 1) * 60) - max(start, hour * 60)
                if overlap > 0:
                    open_share[day] += fractions[hour] * overlap / 60.0
    hour_of_day = np.minimum(steps.minute_of_day // 60, 23).astype(np.int64)
    share_today = open_share[steps.weekday]
    weight = np.where(
        operating & (share_today > 0.0),
        fractions[hour_of_day] * steps.step_h / np.where(share_today > 0.0, share_today, 1.0),
        0.0,
    )
    volume_l = c.daily_draw_l * weight
    cold = cold_water_temp_c(steps.day_of_year, c.cold_water_mean_temp_c, c.cold_water_amplitude_k)
    limit = min(c.supply_band.max_temp_c - a.dhw_approach_k, c.hot_temp_c)
    heat_kwh = dhw_heat_kwh(volume_l, cold, np.maximum(limit, cold))
    power = heat_kwh * 1000.0 / steps.step_h
    return power, c.supply_band.min_temp_c, cold + a.dhw_approach_k


# --------------------------------------------------------------------------- district
def _district(
    c: DistrictPreheatCustomer, steps: _Steps, operating: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    a = ASSUMPTIONS
    t = steps.air_temp_c
    design, limit = c.design_outdoor_temp_c, c.heating_limit_temp_c
    f = heating_load_fraction(t, design, limit)
    supply = heating_curve_temp_c(
        t, design, limit, c.supply_temp_at_design_c, c.supply_temp_at_limit_c
    )
    ret = heating_curve_temp_c(
        t, design, limit, c.return_temp_at_design_c, c.return_temp_at_limit_c
    )
    flow = district_return_flow_m3_per_h(f, c.design_flow_m3_per_h, c.summer_flow_fraction)
    target = np.minimum(c.supply_band.max_temp_c - a.district_approach_k, supply)
    power = district_preheat_power_w(flow, ret, target, c.max_preheat_power_w)
    return np.where(operating, power, 0.0), ret + a.district_approach_k, ret


# --------------------------------------------------------------------------- greenhouse
def _greenhouse(c: GreenhouseCustomer, steps: _Steps) -> tuple[FloatArray, FloatArray, FloatArray]:
    a = ASSUMPTIONS
    t = steps.air_temp_c
    setpoint = greenhouse_setpoint_temp_c(
        steps.minute_of_day / 60.0,
        c.day_start_h,
        c.day_end_h,
        c.day_setpoint_temp_c,
        c.night_setpoint_temp_c,
    )
    ghi = (
        _column(steps, GHI, "greenhouse (solar_gain_fraction > 0)")
        if c.solar_gain_fraction > 0.0
        else None
    )
    power = greenhouse_heat_demand_w(
        setpoint,
        t,
        c.cover_area_m2,
        c.cover_u_w_per_m2_k,
        greenhouse_air_volume_m3(c.floor_area_m2),
        c.air_exchange_per_h,
        floor_area_m2=c.floor_area_m2,
        ghi_w_per_m2=ghi,
        solar_gain_fraction=c.solar_gain_fraction,
    )
    span = np.maximum(setpoint - a.design_outdoor_temp_c, 1.0)
    f = np.clip((setpoint - t) / span, 0.0, 1.0)
    supply = c.supply_band.min_temp_c + f * (c.supply_band.max_temp_c - c.supply_band.min_temp_c)
    ret = np.maximum(supply - a.design_delta_t_k * f, setpoint)
    return power, supply, ret


# --------------------------------------------------------------------------- space heating
def _space_heating(
    c: SpaceHeatingCustomer, steps: _Steps, timezone: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    a = ASSUMPTIONS
    t = steps.air_temp_c
    if c.bdew_profile:
        power = _bdew_power_w(c, steps, timezone)
    else:
        power = space_heating_power_w(
            t, steps.local_day, c.heat_loss_coefficient_w_per_k, c.base_temp_c, c.threshold_temp_c
        )
    limit = max(c.threshold_temp_c, a.design_outdoor_temp_c + 1.0)
    f = heating_load_fraction(t, a.design_outdoor_temp_c, limit)
    supply = heating_curve_temp_c(
        t, a.design_outdoor_temp_c, limit, c.supply_band.max_temp_c, c.supply_band.min_temp_c
    )
    ret = space_heating_return_temp_c(supply, f, a.design_delta_t_k, c.indoor_temp_c)
    return power, supply, ret


def annual_degree_day_heat_kwh(
    c: SpaceHeatingCustomer, weather: pd.DataFrame, timezone: str
) -> float:
    """Degree-day heat of a space-heating customer over the weather period [kWh].

    Q = H * sum(HDD) * 24 / 1000, daily means over local calendar days
    (Eurostat rule, ``standards.md``). Days with fewer than 24 hours in the
    period count their hours only.
    """
    steps = _steps(weather, None, timezone)
    _, inverse, counts = np.unique(steps.local_day, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    means = np.bincount(inverse, weights=steps.air_temp_c) / counts
    hdd = heating_degree_days(means, c.base_temp_c, c.threshold_temp_c)
    hours = counts * steps.step_h
    return float(c.heat_loss_coefficient_w_per_k * np.sum(hdd * hours) / 1000.0)


def _bdew_power_w(c: SpaceHeatingCustomer, steps: _Steps, timezone: str) -> FloatArray:
    """BDEW standard load profile via demandlib, on the weather's hours (local standard time)."""
    from demandlib.bdew import HeatBuilding

    a = ASSUMPTIONS
    code = str(c.bdew_profile).upper()
    weather = steps.weather
    hourly = weather.resample("h").first() if len(weather) > 1 else weather
    zone = ZoneInfo(timezone)
    year = int(hourly.index[len(hourly) // 2].year)
    offsets = [dt.datetime(year, m, 1, tzinfo=zone).utcoffset() or dt.timedelta(0) for m in (1, 7)]
    standard = pd.Timedelta(min(offsets))
    local_std = pd.DatetimeIndex(pd.DatetimeIndex(hourly.index).tz_convert(None) + standard)
    temps = pd.Series(hourly[AIR_TEMP].to_numpy(dtype=np.float64), index=local_std)
    if c.annual_heat_kwh is not None:
        annual_kwh = (
            float(c.annual_heat_kwh) * len(hourly) / (8784 if calendar.isleap(year) else 8760)
        )
    else:
        annual_kwh = annual_degree_day_heat_kwh(c, hourly, timezone)
    building_class = a.bdew_building_class if code in ("EFH", "MFH") else 0
    try:
        building = HeatBuilding(
            local_std,
            temperature=temps,
            shlp_type=code,
            building_class=building_class,
            wind_class=a.bdew_wind_class,
            annual_heat_demand=annual_kwh,
            ww_incl=False,
        )
        profile_kwh = building.get_bdew_profile()
    except (ValueError, KeyError, IndexError) as exc:
        raise SimulationError(
            f"customer.bdew_profile: demandlib could not build BDEW profile {code!r} "
            f"(expected one of EFH, MFH, GMF, GPD, GHD, GWA, GGB, GKO, GBD, GBA, GMK, GBH, GGA, "
            f"GHA): {exc}"
        ) from exc
    hourly_w = pd.Series(np.asarray(profile_kwh, dtype=np.float64) * 1000.0, index=hourly.index)
    on_steps = hourly_w.reindex(steps.index, method="ffill")
    out: FloatArray = np.asarray(on_steps.to_numpy(), dtype=np.float64)
    return out
