"""The point package, the site's ``points:`` section and the registry lookups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatreuse.errors import SiteConfigError
from heatreuse.site import Site, expand_points, load_site_text
from heatreuse.site.points import (
    HEAT_METER_REGISTER_MAP,
    PUMP_BLOCK_REGISTERS,
    Point,
    PointsConfig,
)
from heatreuse.telemetry import PointRegistry

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"


def _site_with(points_yaml: str) -> Site:
    return load_site_text(EXAMPLE.read_text() + "\n" + points_yaml, "pool-test.yaml")


def test_default_section_is_the_standard_package(site: Site) -> None:
    assert site.points == PointsConfig()
    assert site.points.package == "standard_hydronic"


def test_package_covers_what_the_twin_publishes_and_the_ledger_needs(site: Site) -> None:
    ids = {p.id for p in expand_points(site).points}
    for rack in ("tank-a", "tank-b"):
        assert {
            f"rack.{rack}.it_power_w",
            f"rack.{rack}.inlet_temp_c",
            f"rack.{rack}.outlet_temp_c",
        } <= ids
    for pump in ("p-primary", "p-secondary"):
        assert {
            f"pump.{pump}.status",
            f"pump.{pump}.speed_fraction",
            f"pump.{pump}.power_w",
        } <= ids
    assert {f"tank.layer_{i}_temp_c" for i in range(1, 11)} <= ids
    assert {
        "it_loop.flow_m3_per_h",
        "hx.secondary_supply_temp_c",
        "hx.secondary_return_temp_c",
        "meter.heat_power_w",
        "meter.heat_energy_kwh",
        "meter.flow_m3_per_h",
        "customer.supply_temp_c",  # the SLA's measured point
        "loop.pressure_bar",
        "utility.feed_status",
        "boiler.heat_power_w",
        "boiler.heat_energy_kwh",
        "dry_cooler.heat_power_w",
        "elec.it_energy_kwh",
        "elec.cooling_energy_kwh",
        "elec.pumps_energy_kwh",
        "elec.other_energy_kwh",
    } <= ids
    assert site.contract.sla.measured_point in ids


def test_optional_plant_decides_optional_points() -> None:
    text = EXAMPLE.read_text()
    start = text.index("  backup_boiler:")
    end = text.index("  loop_pressure_bar:")
    no_backup = load_site_text(text[:start] + text[end:], "no-backup.yaml")
    ids = {p.id for p in expand_points(no_backup).points}
    assert not any(i.startswith(("boiler.", "dry_cooler.")) for i in ids)
    assert "heat_pump.heat_power_w" not in ids


def test_every_point_id_carries_its_unit(site: Site) -> None:
    for p in expand_points(site).points:
        if p.kind == "status":
            assert p.unit == "1"
        assert p.min_value < p.max_value
        assert p.sample_interval_s > 0
    meter = expand_points(site).by_id()["meter.heat_energy_kwh"]
    assert meter.kind == "counter"
    assert meter.accuracy_class == "2"
    with pytest.raises(ValueError, match="the id says 'W' but unit is 'kW'"):
        Point(
            id="x.power_w",
            equipment="hx",
            quantity="power",
            unit="kW",
            kind="measurement",
            brick_class="Thermal_Power_Sensor",
            min_value=0,
            max_value=1,
            sample_interval_s=10,
        )


def test_default_modbus_maps_are_data_and_match_the_points(site: Site) -> None:
    sp = expand_points(site)
    meter_map = sp.register_map("heat-meter")
    assert [(p.id, r.address, r.type, r.unit, r.scale) for p, r in meter_map] == [
        tuple(row) for row in HEAT_METER_REGISTER_MAP
    ]
    energy = dict((p.id, r) for p, r in meter_map)["meter.heat_energy_kwh"]
    assert (energy.type, energy.width, energy.unit, energy.scale) == ("uint32", 2, "Wh", 0.001)
    assert sp.device("heat-meter").word_order == "big"
    pumps = sp.register_map("pump-controller")
    second = [r.address for p, r in pumps if p.id.startswith("pump.p-secondary.")]
    assert min(second) == PUMP_BLOCK_REGISTERS
    with pytest.raises(SiteConfigError, match="no device 'nope'"):
        sp.register_map("nope")


def test_entries_override_add_and_remove() -> None:
    site = _site_with(
        """points:
  package: standard_hydronic
  remove: [utility.feed_status]
  equipment:
    - {id: hall, brick_class: Hot_Water_System, name: Pool hall}
  modbus_devices:
    - {id: heat-meter, kind: heat_meter, host: 10.0.0.5, port: 5020, word_order: little}
  entries:
    - id: customer.supply_temp_c
      max_value: 60
      source: {mqtt_topic: pool/supply}
    - id: hall.air_temp_c
      equipment: hall
      quantity: temperature
      unit: degC
      kind: measurement
      brick_class: Air_Temperature_Sensor
      min_value: -20
      max_value: 60
      sample_interval_s: 60
"""
    )
    sp = expand_points(site)
    by_id = sp.by_id()
    assert "utility.feed_status" not in by_id
    assert by_id["customer.supply_temp_c"].max_value == 60
    assert by_id["customer.supply_temp_c"].min_value == -10  # kept from the package
    assert by_id["customer.supply_temp_c"].mqtt_topic == "pool/supply"
    assert by_id["hall.air_temp_c"].equipment == "hall"
    assert sp.device("heat-meter").host == "10.0.0.5"
    assert sp.device("heat-meter").word_order == "little"
    reg = PointRegistry(sp)
    assert reg.resolve("mqtt:pool/supply") == "customer.supply_temp_c"


def test_counter_rollover_from_the_register_or_declared() -> None:
    """uint32 Wh register x 0.001 wraps at 2**32 Wh = 4,294,967.296 kWh (Modbus registers
    are 16 bit; a 32-bit value spans two, Modbus Application Protocol V1.1b3 section 4.2);
    a declared rollover_value (an 8-digit display register) wins; float registers and
    measurements have none."""
    site = _site_with(
        """points:
  entries:
    - id: elec.it_energy_kwh
      equipment: hx
      quantity: energy
      unit: kWh
      kind: counter
      brick_class: Energy_Sensor
      min_value: 0
      max_value: 100000000
      sample_interval_s: 60
      rollover_value: 100000000
"""
    )
    rollovers = expand_points(site).counter_rollovers()
    assert rollovers["meter.heat_energy_kwh"] == 2**32 * 0.001
    assert rollovers["elec.it_energy_kwh"] == 100_000_000
    assert "meter.heat_power_w" not in rollovers
    with pytest.raises(SiteConfigError, match="rollover_value is for counters"):
        _site_with("points:\n  entries:\n    - {id: meter.heat_power_w, rollover_value: 10}\n")


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "points:\n  entries:\n    - {id: new.thing_w, unit: W}\n",
            r"points.entries\[0\] \('new.thing_w'\): a new point .* needs equipment",
        ),
        ("points:\n  remove: [no.such_c]\n", "points.remove: 'no.such_c' is not a point"),
        (
            "points:\n  remove: [customer.supply_temp_c]\n",
            "contract.sla.measured_point: point 'customer.supply_temp_c' is not in",
        ),
        (
            "points:\n  entries:\n    - id: customer.return_temp_c\n      source:\n"
            "        modbus: {device: heat-meter, address: 1, unit: degC}\n",
            "register 1 of device 'heat-meter' is already used",
        ),
        (
            "points:\n  entries:\n    - id: customer.return_temp_c\n      equipment: nowhere\n",
            "equipment 'nowhere' is not declared",
        ),
        (
            "points:\n  entries:\n    - id: customer.return_temp_c\n      source:\n"
            "        modbus: {device: plc-9, address: 1, unit: degC}\n",
            "Modbus device 'plc-9' is not declared",
        ),
    ],
)
def test_bad_points_sections_name_file_and_field(yaml_text: str, message: str) -> None:
    # Loading the site already expands its points (so `heatreuse validate` reports them).
    with pytest.raises(SiteConfigError, match=message) as info:
        _site_with(yaml_text)
    assert "pool-test.yaml" in str(info.value) or "pool-potsdam" in str(info.value)


def test_unknown_field_in_points_is_a_site_error() -> None:
    with pytest.raises(SiteConfigError, match=r"points.pakage: unknown field"):
        _site_with("points:\n  pakage: standard_hydronic\n")


def test_registry_resolves_ids_and_source_keys(site: Site) -> None:
    reg = PointRegistry.from_site(site)
    assert len(reg) == len(expand_points(site).points)
    assert reg.resolve("meter.heat_energy_kwh") == "meter.heat_energy_kwh"
    assert reg.resolve("mqtt:rack/tank-a/it_power_w") == "rack.tank-a.it_power_w"
    assert reg.resolve("modbus:heat-meter:8") == "meter.heat_energy_kwh"
    assert reg.resolve("modbus:pump-controller:10") == "pump.p-secondary.status"
    assert reg.resolve("file:customer.supply_temp_c") == "customer.supply_temp_c"
    assert reg.resolve("nope") is None
    keys = ["meter.heat_power_w", "nope", "mqtt:loop/pressure_bar"]
    idx = reg.resolve_many(keys)
    assert idx[1] == -1
    assert [reg.ids[i] for i in idx[[0, 2]]] == ["meter.heat_power_w", "loop.pressure_bar"]
    cat = pd.Categorical.from_codes(
        np.array([0, 1, -1, 0]), categories=pd.Index(["nope", "customer.supply_temp_c"])
    )
    assert list(reg.resolve_many(cat)) == [-1, reg.ids.index("customer.supply_temp_c"), -1, -1]
    assert bool(reg.is_counter[reg.ids.index("meter.heat_energy_kwh")])
    assert bool(reg.is_status[reg.ids.index("pump.p-primary.status")])


def test_registry_refuses_two_points_on_one_topic() -> None:
    site = _site_with(
        "points:\n  entries:\n    - id: customer.return_temp_c\n      source: "
        "{mqtt_topic: customer/supply_temp_c}\n"
    )
    with pytest.raises(SiteConfigError, match="MQTT topic 'customer/supply_temp_c'"):
        PointRegistry.from_site(site)
