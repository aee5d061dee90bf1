"""Failure drills: each scenario's physical outcome, the report's answers, JSON + HTML output.

The pool example with its real weather (DWD TRY region 4), drills starting
06:00 local on Tuesday 13 January 2026 (05:00 UTC), 60 s steps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatreuse.services.drill import DrillResult, run_drill, run_drill_set, write_drill
from heatreuse.simulation import MODE_DOWN, MODE_THROTTLED
from heatreuse.simulation.scenarios import SCENARIO_NAMES, parse_scenarios
from heatreuse.site import Site, load_site

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
T0 = pd.Timestamp("2026-01-13T05:00Z")


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(EXAMPLE)


def water_only(site: Site) -> Site:
    """The pool water circuit alone (``hall_heating: false``): the racks then cover the pool
    on most January hours, so a drill shows the backup or the throttle taking over."""
    return site.model_copy(
        update={"customer": site.customer.model_copy(update={"hall_heating": False})}
    )


def drill(site: Site, *texts: str) -> DrillResult:
    return run_drill(site, parse_scenarios(list(texts)), year=2026)


def during(d: DrillResult, hours: float, col: str, start: pd.Timestamp = T0) -> np.ndarray:
    f = d.result.frame
    mask = (f.index >= start) & (f.index < start + pd.Timedelta(hours=hours))
    return f.loc[mask, col].to_numpy(dtype=np.float64)


def assert_balance_closes(d: DrillResult) -> None:
    bal = d.report["energy_balance"]
    assert bal["closes"], bal
    assert abs(bal["residual_kwh"]) < 1e-6 * bal["inputs_kwh"]


def test_pump_failure_secondary_customer_goes_cold(site: Site) -> None:
    d = drill(site, "pump_failure@2026-01-13T05:00Z+5h:secondary")
    # the pump that also drives the customer circuit is down: no flow, no heat reaches the
    # customer -- the boiler sits in the same circuit and cannot help
    assert np.all(during(d, 5, "flow_customer_m3_per_h")[1:] == 0.0)
    assert np.all(during(d, 5, "heat_delivered_w")[1:] == 0.0)
    r = d.report
    # the supply falls out of the band for the whole failure: a breach of the 4 h limit
    assert r["supply"]["coldest_temp_c"] < r["supply"]["band_min_temp_c"]
    assert r["supply"]["out_of_band_min"] >= 4 * 60
    assert r["interruptions"]["longest_h"] > 4.0 and r["interruptions"]["exceeds_max"]
    assert r["sla"]["would_breach"] and d.verdict == "fail"
    shown = {p["point_id"] for p in r["telemetry"]["points"]}
    assert {"meter.flow_m3_per_h", "customer.supply_temp_c", "pump.p-secondary.status"} <= shown
    assert_balance_closes(d)


def test_pump_failure_primary_supply_falls_backup_within_control_delay(site: Site) -> None:
    d = drill(water_only(site), "pump_failure@2026-01-13T05:00Z+5h")
    f = d.result.frame
    before = f.loc[T0 - pd.Timedelta(minutes=10) : T0, "supply_temp_c"].mean()
    # no heat into the tank: the plant's supply temperature falls as the tank drains
    assert during(d, 5, "supply_temp_c").min() < before - 5.0
    backup = d.report["fallback_modes"]["backup"]
    assert backup["took_over"] and backup["control_delay_s"] == 300
    # the boiler starts within its control delay of the first deficit
    assert backup["deficit_first_at"] is not None
    assert 0.0 <= backup["after_deficit_min"] * 60 <= 300 + 60
    assert d.report["energy"]["backup_heat_kwh"]["difference"] > 100.0
    # the customer stays in band thanks to the boiler
    assert d.report["supply"]["stayed_in_band"]
    assert d.report["sla"]["would_breach"] is False
    assert_balance_closes(d)


def test_pump_failure_primary_throttles_compute(site: Site) -> None:
    d = drill(site, "pump_failure@2026-01-13T05:00Z+5h")
    # no coolant flow: the racks cannot be cooled, the controller throttles them
    assert np.all(during(d, 5, "flow_primary_m3_per_h") == 0.0)
    throttled = d.report["fallback_modes"]["throttled"]
    assert throttled["took_over"] and throttled["onset_after_fault_min"] <= 5
    assert throttled["extra_min"] >= 4.5 * 60
    assert d.report["energy"]["throttled_it_energy_kwh"]["with_fault"] > 100.0
    assert d.verdict == "degraded"
    assert "pump.p-primary.status" in {p["point_id"] for p in d.report["telemetry"]["points"]}
    assert_balance_closes(d)


def test_pump_degraded_to_a_fraction(site: Site) -> None:
    d = drill(site, "pump_failure@2026-01-13T05:00Z+2h:primary/0.5")
    assert np.allclose(during(d, 2, "flow_primary_m3_per_h"), 2.5, rtol=1e-5)
    speed = {p["point_id"]: p for p in d.report["telemetry"]["points"]}
    assert speed["pump.p-primary.speed_fraction"]["value_with_fault"] == pytest.approx(0.5)


def test_hx_fouling_lowers_heat_recovered_and_raises_reject(site: Site) -> None:
    d = drill(site, "hx_fouling@2026-01-13T05:00Z+3d:0.2")
    f, b = d.result.frame.loc[d.compare_start : d.compare_end], d.baseline.frame
    assert f["hx_heat_w"].mean() < 0.95 * b["hx_heat_w"].mean()
    # the charging pump runs harder to hold the loop, and more heat goes to the dry cooler
    assert f["flow_secondary_m3_per_h"].mean() > 1.2 * b["flow_secondary_m3_per_h"].mean()
    assert d.report["energy"]["heat_rejected_kwh"]["difference"] > 0.0
    assert_balance_closes(d)


def test_sensor_false_low_controller_acts_on_wrong_value_truth_kept(site: Site) -> None:
    d = drill(site, "sensor_false_low@2026-01-13T05:00Z+6h:5")
    true_c = during(d, 6, "supply_temp_c")
    seen_c = during(d, 6, "supply_temp_measured_c")
    assert np.allclose(seen_c - true_c, -5.0, atol=1e-3)
    # the controller believes the supply is cold and fires the boiler more than needed
    assert d.report["energy"]["backup_heat_kwh"]["difference"] > 10.0
    pts = {p["point_id"]: p for p in d.report["telemetry"]["points"]}
    assert pts["meter.supply_temp_c"]["max_deviation"] == pytest.approx(-5.0, abs=1.0)
    # the SLA's own sensor at the customer reads the truth: in band
    assert d.report["supply"]["stayed_in_band"]


def test_sensor_drift_grows_at_k_per_day(site: Site) -> None:
    d = drill(site, "sensor_drift@2026-01-13T05:00Z+2d:2")
    off = during(d, 48, "supply_temp_measured_c") - during(d, 48, "supply_temp_c")
    assert off[0] == pytest.approx(0.0, abs=0.01)
    assert off[24 * 60] == pytest.approx(-2.0, abs=0.01)
    assert off[-1] == pytest.approx(-4.0, abs=0.01)


def test_customer_disconnect_stops_delivery(site: Site) -> None:
    d = drill(site, "customer_disconnect@2026-01-13T05:00Z+8h")
    assert np.all(during(d, 8, "heat_delivered_w") == 0.0)
    assert d.report["fallback_modes"]["customer_disconnected"]["active_min"] == 8 * 60
    assert d.report["energy"]["heat_rejected_kwh"]["difference"] > 0.0
    assert_balance_closes(d)


def test_compute_trip_it_power_zero(site: Site) -> None:
    d = drill(site, "compute_trip@2026-01-13T05:00Z+4h")
    assert np.all(during(d, 4, "it_power_w") == 0.0)
    pts = {p["point_id"] for p in d.report["telemetry"]["points"]}
    assert {"rack.tank-a.it_power_w", "rack.tank-b.it_power_w", "elec.it_power_w"} <= pts
    assert_balance_closes(d)


def test_compute_surge_raises_it_power(site: Site) -> None:
    d = drill(site, "compute_surge@2026-01-13T05:00Z+6h:1.3")
    ratio = during(d, 6, "it_power_w").mean() / d.baseline.frame["it_power_w"].iloc[:360].mean()
    assert ratio == pytest.approx(1.3, rel=0.01)


def test_utility_feed_loss_pumps_and_compute_stop(site: Site) -> None:
    d = drill(site, "utility_feed_loss@2026-01-13T05:00Z+2h")
    assert np.all(during(d, 2, "it_power_w") == 0.0)
    assert np.all(during(d, 2, "pump_electricity_w") == 0.0)
    assert np.all(during(d, 2, "flow_primary_m3_per_h") == 0.0)
    assert np.all(during(d, 2, "mode") == MODE_DOWN)
    pts = {p["point_id"]: p for p in d.report["telemetry"]["points"]}
    assert pts["utility.feed_status"]["value_with_fault"] == 0.0
    assert pts["utility.feed_status"]["lag_min"] == 0.0
    assert "loop.pressure_bar" in pts  # pumps stopped: the loop falls to its fill pressure
    assert d.report["fallback_modes"]["down"]["active_min"] == 120


def test_reject_path_unavailable_rejects_nothing(site: Site) -> None:
    d = drill(water_only(site), "reject_path_unavailable@2026-01-13T05:00Z+1d")
    assert np.all(during(d, 24, "heat_rejected_w") == 0.0)
    # at night the pool needs less than the racks give: with no dry cooler, compute throttles
    assert d.report["fallback_modes"]["throttled"]["took_over"]


def test_no_backup_no_reject_site_shows_the_failure(site: Site) -> None:
    bare = site.model_copy(
        update={"plant": site.plant.model_copy(update={"backup_boiler": None, "heat_reject": None})}
    )
    d = drill(bare, "pump_failure@2026-01-13T05:00Z+5h:secondary")
    r = d.report
    assert r["fallback_modes"]["backup"]["available"] is False
    assert r["fallback_modes"]["backup"]["active"] is False
    # nothing takes the heat: compute throttled; nothing tops up: the customer goes cold
    assert np.any(during(d, 5, "mode") == MODE_THROTTLED)
    assert r["fallback_modes"]["throttled"]["took_over"]
    assert r["energy"]["unmet_heat_kwh"]["with_fault"] > 100.0
    assert not r["supply"]["stayed_in_band"]
    assert r["supply"]["coldest_temp_c"] < r["supply"]["band_min_temp_c"]
    assert r["interruptions"]["longest_h"] > 4.0 and r["interruptions"]["exceeds_max"]
    assert r["sla"]["would_breach"] and d.verdict == "fail"
    assert "FAIL" in d.line and "SLA breached" in d.line
    assert_balance_closes(d)


def test_combined_scenarios_in_one_drill(site: Site) -> None:
    d = drill(
        site, "compute_trip@2026-01-13T05:00Z+2h", "reject_path_unavailable@2026-01-13T05:00Z+2h"
    )
    assert len(d.report["scenarios"]) == 2
    assert np.all(during(d, 2, "it_power_w") == 0.0)
    assert np.all(during(d, 2, "heat_rejected_w") == 0.0)


def test_report_files_self_contained(site: Site, tmp_path: Path) -> None:
    d = drill(site, "pump_failure@2026-01-13T05:00Z+5h")
    json_path, html_path = write_drill(d, tmp_path / "out")
    data = json.loads(json_path.read_text())
    for key in (
        "supply",
        "interruptions",
        "fallback_modes",
        "energy",
        "sla",
        "telemetry",
        "energy_balance",
        "verdict",
        "summary",
    ):
        assert key in data
    page = html_path.read_text()
    assert "<script src" not in page  # plotly inline, no CDN
    assert "Plotly.newPlot" in page or "newPlot" in page
    assert "pump_failure@2026-01-13T05:00Z+5h" in page


def test_standard_set_one_line_each(site: Site) -> None:
    results = run_drill_set(site, year=2026)
    assert [r.report["scenario_details"][0]["name"] for r in results] == list(SCENARIO_NAMES)
    for r in results:
        assert r.verdict in ("pass", "degraded", "fail")
        assert "\n" not in r.line and r.line.startswith(r.verdict.upper())
        assert r.report["energy_balance"]["closes"]
        assert r.report["telemetry"]["visible"]


def test_drill_reports_which_rule_detected_the_fault_and_how_soon(site: Site) -> None:
    """Issue 11: drills prove the rules (rule, equipment, time to detect)."""
    d = drill(site, "pump_failure@2026-01-13T05:00Z+5h:secondary")
    det = d.report["detection"]
    assert det["detected"]
    assert 0 <= det["first_detection_s"] <= 10 * 60
    stopped = [r for r in det["rules_fired"] if r["rule"] == "pump_stopped"]
    assert [r["equipment"] for r in stopped] == ["pump.p-secondary"]
    assert 0 < stopped[0]["time_to_detect_s"] <= 10 * 60  # its for: 5 min
    assert det["firing_before_fault"] == []  # the clean days before raise nothing
    assert "detected by " in d.line
    # a fault the twin makes invisible to the rules says so
    quiet = drill(site, "reject_path_unavailable@2026-01-13T05:00Z+1d")
    assert quiet.report["detection"]["detected"] is False
    assert "NOT detected by any rule" in quiet.line
