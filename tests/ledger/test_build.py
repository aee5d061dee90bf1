"""Ledger intervals from hand-built hourly rollups with exactly known kWh."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from heatreuse.errors import LedgerError
from heatreuse.ledger.build import (
    METHOD_VERSION,
    build_intervals,
    correction_entry,
    interval_digest,
    ledger_points,
    method_entry,
    site_config_entry,
    site_config_hash,
)
from heatreuse.ledger.canonical import canonical_json_bytes
from heatreuse.physics import heat_meter_mpe_percent
from heatreuse.site import load_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
H0 = pd.Timestamp("2026-01-10T00:00Z")


def pool():
    return load_site(EXAMPLES / "pool.yaml")


def frame(values: dict[pd.Timestamp, dict[str, float]], hours: list[pd.Timestamp]) -> pd.DataFrame:
    rows = {h: values[h] for h in hours if h in values}
    return pd.DataFrame.from_dict(rows, orient="index")


def reg(rate_kwh: float, hours: list[pd.Timestamp]) -> pd.DataFrame:
    """An energy register rising ``rate_kwh`` per hour, sampled every 10 s."""
    return pd.DataFrame(
        {"count": 360.0, "mean": 0.0, "min": 0.0, "max": 0.0, "delta": rate_kwh},
        index=pd.DatetimeIndex(hours),
    )


def const(value: float, hours: list[pd.Timestamp], count: float = 360.0) -> pd.DataFrame:
    return pd.DataFrame(
        {"count": count, "mean": value, "min": value, "max": value}, index=pd.DatetimeIndex(hours)
    )


def standard_rollups(hours: list[pd.Timestamp]) -> dict[str, pd.DataFrame]:
    return {
        "elec.it_energy_kwh": reg(50.0, hours),
        "elec.cooling_energy_kwh": reg(1.5, hours),
        "elec.pumps_energy_kwh": reg(0.5, hours),
        "elec.other_energy_kwh": reg(1.0, hours),
        "meter.heat_energy_kwh": reg(40.0, hours),
        "meter.heat_power_w": const(40_000.0, hours),
        "meter.flow_m3_per_h": const(3.0, hours),
        "meter.supply_temp_c": const(45.0, hours),
        "meter.return_temp_c": const(35.0, hours),
        "boiler.heat_energy_kwh": reg(0.0, hours),
        "dry_cooler.heat_energy_kwh": reg(5.0, hours),
        "utility.feed_status": const(1.0, hours),
    }


def test_metered_hour_known_answers() -> None:
    site = pool()
    hours = [H0, H0 + pd.Timedelta(hours=1)]
    (e, _) = build_intervals(site, hours, standard_rollups(hours))
    assert e["type"] == "ledger_interval" and e["method_version"] == METHOD_VERSION
    assert e["period_start"] == "2026-01-10T00:00:00Z"
    assert e["period_end"] == "2026-01-10T01:00:00Z"
    assert e["it_electricity"]["kwh"] == 50.0 and e["it_electricity"]["status"] == "metered"
    assert e["other_site_electricity"]["kwh"] == 3.0
    assert e["total_site_energy"]["kwh"] == 53.0
    assert e["heat_delivered"] == e["heat_delivered"] | {
        "kwh": 40.0,
        "status": "metered",
        "estimated": False,
        "metered_kwh": 40.0,
        "estimated_kwh": 0.0,
        "points": ["meter.heat_energy_kwh"],
    }
    assert e["heat_rejected"]["kwh"] == 5.0
    assert e["backup_heat"]["kwh"] == 0.0 and e["backup_heat"]["status"] == "metered"
    # no heat pump in the pool site: a true zero, marked as such
    assert e["heat_pump_electricity"]["status"] == "not_installed"
    assert e["heat_pump_electricity"]["kwh"] == 0.0
    # displaced fuel = Q / eta_ref (pool: eta_ref = 1.0, most conservative)
    assert e["displaced_fuel"]["kwh"] == 40.0
    # E = Q EF_fuel / eta - (W_hp + W_pumps) EF_grid = 40*0.2020 - 0.5*0.380
    assert e["avoided_co2"]["kg"] == pytest.approx(40 * 0.2020 / 1.0 - 0.5 * 0.380, abs=1e-9)
    assert e["avoided_co2"]["status"] == "metered"
    # MID MI-004 MPE of a class 2 meter: qp 6 m3/h (secondary pump), q 3, dT 10, dTmin 3:
    # E_f = 2 + 0.02*6/3 = 2.04, E_t = 0.5 + 3*3/10 = 1.4, E_c = 0.5 + 3/10 = 0.8 -> 4.24 %
    assert e["heat_delivered"]["mpe_percent"] == pytest.approx(4.24, abs=1e-9)
    assert e["heat_delivered"]["mpe_percent"] == pytest.approx(
        heat_meter_mpe_percent(2, 6.0, 3.0, 10.0, 3.0)
    )
    assert e["heat_delivered"]["uncertainty_kwh"] == pytest.approx(40 * 0.0424, abs=1e-6)
    assert e["avoided_co2"]["uncertainty_kg"] == pytest.approx(40 * 0.0424 * 0.2020, abs=1e-6)
    # factors copied into the entry with source and year
    grid = e["emission_factors"]["grid"]
    assert (
        grid["value_kg_per_kwh"] == 0.380
        and grid["year"] == 2023
        and "Umweltbundesamt" in (grid["source"])
    )
    assert e["site_mode"] == "normal" and not e["estimated"] and e["missing_quantities"] == []
    canonical_json_bytes(e)  # JSON-clean (no NaN)


def test_register_gap_integrates_power_and_is_flagged_estimated() -> None:
    site = pool()
    hours = [H0]
    r = standard_rollups(hours)
    r["meter.heat_energy_kwh"] = r["meter.heat_energy_kwh"].assign(delta=math.nan)
    (e,) = build_intervals(site, hours, r)
    heat = e["heat_delivered"]
    assert heat["status"] == "estimated" and heat["estimated"] is True
    assert heat["kwh"] == 40.0
    assert heat["metered_kwh"] == 0.0 and heat["estimated_kwh"] == 40.0
    assert heat["estimate_method"].startswith("integrated_power (register_gap")
    assert e["estimated"] is True and e["site_mode"] == "degraded"
    assert e["avoided_co2"]["status"] == "estimated"
    assert e["avoided_co2"]["metered_kg"] == 0.0
    assert e["displaced_fuel"]["status"] == "estimated"


def test_counter_break_integrates_power_and_says_so() -> None:
    """A meter exchange inside the hour: the store reports the register's delta as NaN with
    counter_break; the hour is estimated from power and the method names the break."""
    site = pool()
    hours = [H0]
    r = standard_rollups(hours)
    r["meter.heat_energy_kwh"] = r["meter.heat_energy_kwh"].assign(
        delta=math.nan, counter_break=1.0
    )
    (e,) = build_intervals(site, hours, r)
    heat = e["heat_delivered"]
    assert heat["status"] == "estimated" and heat["kwh"] == 40.0
    assert heat["estimate_method"].startswith("integrated_power (register_break")


def test_counter_rollover_of_the_default_heat_meter_register() -> None:
    """The standard heat meter's energy is a uint32 Wh register with scale 0.001: it wraps
    at 2**32 Wh = 4,294,967.296 kWh; the ledger passes that to the store's delta."""
    lp = ledger_points(pool())
    assert lp.counter_rollover["meter.heat_energy_kwh"] == pytest.approx(4_294_967.296)


def test_no_data_is_missing_never_zero() -> None:
    site = pool()
    hours = [H0]
    r = standard_rollups(hours)
    del r["meter.heat_energy_kwh"], r["meter.heat_power_w"]
    (e,) = build_intervals(site, hours, r)
    heat = e["heat_delivered"]
    assert heat["status"] == "missing" and heat["kwh"] is None
    assert heat["metered_kwh"] == 0.0 and heat["estimated_kwh"] == 0.0
    assert e["avoided_co2"]["kg"] is None and e["avoided_co2"]["status"] == "missing"
    assert e["displaced_fuel"]["kwh"] is None
    assert "heat_delivered" in e["missing_quantities"]
    assert e["site_mode"] == "degraded"


def test_missing_part_makes_total_missing() -> None:
    site = pool()
    hours = [H0]
    r = standard_rollups(hours)
    del r["elec.cooling_energy_kwh"]  # the point exists in the registry but sent nothing
    (e,) = build_intervals(site, hours, r)
    assert e["cooling_electricity"]["status"] == "missing"
    assert e["total_site_energy"]["kwh"] is None
    assert e["it_electricity"]["kwh"] == 50.0


def test_uninstrumented_quantity_estimated_from_site_config() -> None:
    site = pool()
    lp = ledger_points(site)
    # a registry without any cooling point: estimated from cooling_power_fraction_of_it
    sources = tuple(
        s.__class__(s.name, config_fraction_of_it=s.config_fraction_of_it)
        if s.name == "cooling_electricity"
        else s
        for s in lp.sources
    )
    lp2 = lp.__class__(**{**lp.__dict__, "sources": sources})
    (e,) = build_intervals(site, [H0], standard_rollups([H0]), lp2)
    cool = e["cooling_electricity"]
    assert cool["status"] == "estimated"
    assert cool["kwh"] == pytest.approx(0.03 * 50.0)
    assert "cooling_power_fraction_of_it" in cool["estimate_method"]
    total = e["total_site_energy"]
    assert total["status"] == "estimated"
    assert total["metered_kwh"] == pytest.approx(50.0 + 0.5 + 1.0)
    assert total["estimated_kwh"] == pytest.approx(1.5)


def test_site_modes_down_and_maintenance() -> None:
    site = pool()
    hours = [H0]
    r = standard_rollups(hours)
    r["elec.it_energy_kwh"] = reg(0.1, hours)  # 100 W mean < 1 % of 60 kW
    (e,) = build_intervals(site, hours, r)
    assert e["site_mode"] == "down"
    r = standard_rollups(hours)
    r["utility.feed_status"] = const(0.0, hours)
    (e,) = build_intervals(site, hours, r)
    assert e["site_mode"] == "down"
    assert "utility feed lost for the whole hour" in e["mode_reasons"]

    data = site.model_dump(mode="json")
    data["contract"]["sla"]["maintenance"]["windows"] = [
        {
            "start": "2026-01-10T00:30:00Z",
            "end": "2026-01-10T02:00:00Z",
            "announced_at": "2026-01-01T00:00:00Z",
        }
    ]
    site_m = site.model_validate(data)
    (e,) = build_intervals(site_m, hours, standard_rollups(hours))
    assert e["site_mode"] == "maintenance"
    assert e["maintenance_window"]["announced_in_time"] is True


def test_hours_must_be_aware_hour_starts() -> None:
    with pytest.raises(LedgerError, match="tz-aware"):
        build_intervals(pool(), [pd.Timestamp("2026-01-10T00:00")], {})
    with pytest.raises(LedgerError, match="hour starts"):
        build_intervals(pool(), [pd.Timestamp("2026-01-10T00:30Z")], {})


def test_correction_delta_and_digest() -> None:
    site = pool()
    r = standard_rollups([H0])
    (orig,) = build_intervals(site, [H0], r)
    orig["index"] = 7
    r["meter.heat_energy_kwh"] = reg(42.0, [H0])
    (new,) = build_intervals(site, [H0], r)
    assert interval_digest(orig) != interval_digest(new)
    c = correction_entry(new, 7, orig, "late data")
    assert c["type"] == "ledger_correction" and c["corrects_index"] == 7
    assert c["supersedes_index"] == 7
    assert c["delta"]["heat_delivered"]["metered_kwh"] == pytest.approx(2.0)
    assert c["delta"]["it_electricity"]["metered_kwh"] == 0.0


def test_method_and_config_entries() -> None:
    site = pool()
    m = method_entry()
    assert m["type"] == "method" and m["version"] == "ledger-method/3"
    cfg = site_config_entry(site)
    assert cfg["site_config_sha256"] == site_config_hash(site)
    data = site.model_dump(mode="json")
    data["compute"]["other_power_w"] = 1600
    assert site_config_hash(site.model_validate(data)) != cfg["site_config_sha256"]
