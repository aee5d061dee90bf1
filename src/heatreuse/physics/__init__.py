"""Physics of heatreuse: pure functions, one physical idea per module.

Every function takes floats or numpy arrays, returns a ``float`` for scalar
input and an ``ndarray`` for array input, carries its unit in its name and
raises :class:`heatreuse.errors.DomainError` for out-of-domain input.

Names are imported from their module on first use (:mod:`heatreuse._lazy`): importing
one module, e.g. :mod:`heatreuse.physics.saturation`, does not import the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from heatreuse._lazy import lazy_exports

if TYPE_CHECKING:
    from .degree_days import (
        heating_degree_days,
    )
    from .dhw import (
        cold_water_temp_c,
        dhw_draw_fractions,
        dhw_heat_kwh,
    )
    from .district import (
        district_preheat_power_w,
        district_return_flow_m3_per_h,
        heating_curve_temp_c,
        heating_load_fraction,
    )
    from .greenhouse import (
        greenhouse_air_volume_m3,
        greenhouse_heat_demand_w,
        greenhouse_setpoint_temp_c,
    )
    from .heat_exchanger import (
        hx_effectiveness,
        hx_effectiveness_counterflow,
        hx_effectiveness_parallel,
        hx_heat_rate_w,
        hx_ntu,
        hx_throttled_hot_outlet_temp_c,
        hx_ua_with_fouling_w_per_k,
        lmtd_k,
    )
    from .heat_pump import (
        carnot_cop_heating,
        heat_pump_cop_heating,
        heat_pump_electricity_w,
        heat_pump_source_heat_w,
    )
    from .metering import (
        calculator_mpe_percent,
        flow_sensor_mpe_percent,
        heat_coefficient_kwh_per_m3_k,
        heat_meter_mpe_kwh,
        heat_meter_mpe_percent,
        metered_heat_kwh,
        temperature_pair_mpe_percent,
    )
    from .pipe import (
        pipe_heat_loss_w,
        pipe_heat_loss_w_per_m,
        pipe_loss_coefficient_w_per_m_k,
        pipe_outlet_temp_c,
    )
    from .pool import (
        air_vapour_pressure_pa,
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
    from .space_heating import (
        space_heating_power_w,
        space_heating_return_temp_c,
    )
    from .tank import tank_heat_loss_w, tank_stored_heat_kwh
    from .water import (
        WaterPropertyGrid,
        saturation_pressure_pa,
        saturation_temperature_c,
        sublimation_pressure_pa,
        water_cp_j_per_kg_k,
        water_density_kg_per_m3,
        water_enthalpy_j_per_kg,
        water_latent_heat_j_per_kg,
        water_property_grid,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    ".degree_days": ("heating_degree_days",),
    ".dhw": (
        "cold_water_temp_c",
        "dhw_draw_fractions",
        "dhw_heat_kwh",
    ),
    ".district": (
        "district_preheat_power_w",
        "district_return_flow_m3_per_h",
        "heating_curve_temp_c",
        "heating_load_fraction",
    ),
    ".greenhouse": (
        "greenhouse_air_volume_m3",
        "greenhouse_heat_demand_w",
        "greenhouse_setpoint_temp_c",
    ),
    ".heat_exchanger": (
        "hx_effectiveness",
        "hx_effectiveness_counterflow",
        "hx_effectiveness_parallel",
        "hx_heat_rate_w",
        "hx_ntu",
        "hx_throttled_hot_outlet_temp_c",
        "hx_ua_with_fouling_w_per_k",
        "lmtd_k",
    ),
    ".heat_pump": (
        "carnot_cop_heating",
        "heat_pump_cop_heating",
        "heat_pump_electricity_w",
        "heat_pump_source_heat_w",
    ),
    ".metering": (
        "calculator_mpe_percent",
        "flow_sensor_mpe_percent",
        "heat_coefficient_kwh_per_m3_k",
        "heat_meter_mpe_kwh",
        "heat_meter_mpe_percent",
        "metered_heat_kwh",
        "temperature_pair_mpe_percent",
    ),
    ".pipe": (
        "pipe_heat_loss_w",
        "pipe_heat_loss_w_per_m",
        "pipe_loss_coefficient_w_per_m_k",
        "pipe_outlet_temp_c",
    ),
    ".pool": (
        "air_vapour_pressure_pa",
        "dew_point_temp_c",
        "humidity_ratio_kg_per_kg",
        "pool_convection_heat_w",
        "pool_evaporation_heat_w",
        "pool_evaporation_kg_per_h",
        "pool_hall_design_outdoor_air_kg_per_h",
        "pool_hall_outdoor_air_kg_per_h",
        "pool_hall_transmission_heat_w",
        "pool_hall_ventilation_heat_w",
        "pool_makeup_heat_w",
        "pool_radiation_heat_w",
        "pool_solar_gain_w",
        "pool_transmission_heat_w",
        "pool_wall_floor_area_m2",
        "sky_temperature_c",
    ),
    ".space_heating": (
        "space_heating_power_w",
        "space_heating_return_temp_c",
    ),
    ".tank": (
        "tank_heat_loss_w",
        "tank_stored_heat_kwh",
    ),
    ".water": (
        "WaterPropertyGrid",
        "saturation_pressure_pa",
        "saturation_temperature_c",
        "sublimation_pressure_pa",
        "water_cp_j_per_kg_k",
        "water_density_kg_per_m3",
        "water_enthalpy_j_per_kg",
        "water_latent_heat_j_per_kg",
        "water_property_grid",
    ),
}

__all__ = [
    "WaterPropertyGrid",
    "air_vapour_pressure_pa",
    "calculator_mpe_percent",
    "carnot_cop_heating",
    "cold_water_temp_c",
    "dew_point_temp_c",
    "dhw_draw_fractions",
    "dhw_heat_kwh",
    "district_preheat_power_w",
    "district_return_flow_m3_per_h",
    "flow_sensor_mpe_percent",
    "greenhouse_air_volume_m3",
    "greenhouse_heat_demand_w",
    "greenhouse_setpoint_temp_c",
    "heat_coefficient_kwh_per_m3_k",
    "heat_meter_mpe_kwh",
    "heat_meter_mpe_percent",
    "heat_pump_cop_heating",
    "heat_pump_electricity_w",
    "heat_pump_source_heat_w",
    "heating_curve_temp_c",
    "heating_degree_days",
    "heating_load_fraction",
    "humidity_ratio_kg_per_kg",
    "hx_effectiveness",
    "hx_effectiveness_counterflow",
    "hx_effectiveness_parallel",
    "hx_heat_rate_w",
    "hx_ntu",
    "hx_throttled_hot_outlet_temp_c",
    "hx_ua_with_fouling_w_per_k",
    "lmtd_k",
    "metered_heat_kwh",
    "pipe_heat_loss_w",
    "pipe_heat_loss_w_per_m",
    "pipe_loss_coefficient_w_per_m_k",
    "pipe_outlet_temp_c",
    "pool_convection_heat_w",
    "pool_evaporation_heat_w",
    "pool_evaporation_kg_per_h",
    "pool_hall_design_outdoor_air_kg_per_h",
    "pool_hall_outdoor_air_kg_per_h",
    "pool_hall_transmission_heat_w",
    "pool_hall_ventilation_heat_w",
    "pool_makeup_heat_w",
    "pool_radiation_heat_w",
    "pool_solar_gain_w",
    "pool_transmission_heat_w",
    "pool_wall_floor_area_m2",
    "saturation_pressure_pa",
    "saturation_temperature_c",
    "sky_temperature_c",
    "space_heating_power_w",
    "space_heating_return_temp_c",
    "sublimation_pressure_pa",
    "tank_heat_loss_w",
    "tank_stored_heat_kwh",
    "temperature_pair_mpe_percent",
    "water_cp_j_per_kg_k",
    "water_density_kg_per_m3",
    "water_enthalpy_j_per_kg",
    "water_latent_heat_j_per_kg",
    "water_property_grid",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
