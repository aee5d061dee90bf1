"""Drill scenarios: parsing ``name@START+DURATION[:severity]``, defaults, faults, drill set."""

from __future__ import annotations

import pandas as pd
import pytest

from heatreuse.errors import ScenarioError
from heatreuse.simulation import (
    ComputeLoad,
    CustomerDisconnect,
    HxFouling,
    PumpFailure,
    RejectPathUnavailable,
    SensorFault,
    UtilityFeedLoss,
)
from heatreuse.simulation.scenarios import (
    SCENARIO_DEFAULTS,
    SCENARIO_NAMES,
    default_drill_start,
    format_duration,
    parse_duration_s,
    parse_scenario,
    parse_scenarios,
    scenarios_to_faults,
    standard_drill_set,
)


def test_issue_example_naive_start_is_utc() -> None:
    s = parse_scenario("pump_failure@2026-01-10T06:00+5h")
    assert s.name == "pump_failure"
    assert s.start == pd.Timestamp("2026-01-10T06:00Z")
    assert s.duration_s == 5 * 3600
    assert s.end == pd.Timestamp("2026-01-10T11:00Z")
    (fault,) = s.faults()
    assert fault == PumpFailure(
        start=s.start, duration_s=18000.0, role="primary", availability_fraction=0.0
    )


def test_offset_start_duration_pairs_and_severity() -> None:
    s = parse_scenario("pump_failure@2026-01-10T07:00+01:00+1h30m:secondary/0.4")
    assert s.start == pd.Timestamp("2026-01-10T06:00Z")
    assert s.duration_s == 5400
    (fault,) = s.faults()
    assert isinstance(fault, PumpFailure)
    assert fault.role == "secondary" and fault.availability_fraction == 0.4
    assert s.label() == "pump_failure@2026-01-10T06:00Z+1h30m:secondary/0.4"
    assert parse_scenario(s.label()) == parse_scenario(s.label())  # round trip parses


def test_defaults_without_start_duration_or_severity() -> None:
    s = parse_scenario("hx_fouling")
    assert s.start is None and s.duration_s == SCENARIO_DEFAULTS["hx_fouling"][0]
    with pytest.raises(ScenarioError, match="no start"):
        s.faults()
    (fault,) = s.at(pd.Timestamp("2026-01-05T00:00Z")).faults()
    # fouling ramps over the duration and does not heal: open-ended
    assert fault == HxFouling(
        start=pd.Timestamp("2026-01-05T00:00Z"), duration_s=None, ua_fraction=0.4, ramp_s=259200.0
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sensor_false_low@2026-01-10+2h:3",
            SensorFault(start=pd.Timestamp("2026-01-10T00:00Z"), duration_s=7200.0, offset_k=-3.0),
        ),
        (
            "sensor_drift@2026-01-10+2d:1.5",
            SensorFault(
                start=pd.Timestamp("2026-01-10T00:00Z"),
                duration_s=172800.0,
                offset_k=0.0,
                drift_k_per_day=-1.5,
            ),
        ),
        (
            "customer_disconnect@2026-01-10+8h",
            CustomerDisconnect(start=pd.Timestamp("2026-01-10T00:00Z"), duration_s=28800.0),
        ),
        (
            "compute_trip@2026-01-10+4h",
            ComputeLoad(
                start=pd.Timestamp("2026-01-10T00:00Z"), duration_s=14400.0, multiplier=0.0
            ),
        ),
        (
            "compute_surge@2026-01-10+6h:1.2",
            ComputeLoad(
                start=pd.Timestamp("2026-01-10T00:00Z"), duration_s=21600.0, multiplier=1.2
            ),
        ),
        (
            "utility_feed_loss@2026-01-10+90min",
            UtilityFeedLoss(start=pd.Timestamp("2026-01-10T00:00Z"), duration_s=5400.0),
        ),
        (
            "reject_path_unavailable@2026-01-10+1d",
            RejectPathUnavailable(start=pd.Timestamp("2026-01-10T00:00Z"), duration_s=86400.0),
        ),
    ],
)
def test_each_scenario_maps_to_its_fault(text: str, expected: object) -> None:
    assert parse_scenario(text).faults() == [expected]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("pump_explodes@2026-01-10+1h", "unknown scenario 'pump_explodes'"),
        ("pump_failure@2026-13-10+1h", "not an ISO 8601"),
        ("pump_failure@2026-01-10+5 hours", "expected 'name"),
        ("pump_failure+1h:1.5", "0..1"),
        ("pump_failure+1h:sideways", "expected a number"),
        ("customer_disconnect+1h:0.5", "takes no severity"),
        ("compute_surge+1h:9", "1..1.5"),
        ("compute_trip+0h", "duration must be > 0"),
    ],
)
def test_bad_scenarios_name_what_and_where(text: str, match: str) -> None:
    with pytest.raises(ScenarioError, match=match) as info:
        parse_scenario(text)
    assert text in str(info.value) or "scenario" in str(info.value)


def test_combinable_and_comma_lists() -> None:
    scen = parse_scenarios(
        [
            "pump_failure@2026-01-10T06:00+5h,compute_surge@2026-01-10T08:00+1h",
            "hx_fouling@2026-01-09",
        ]
    )
    assert [s.name for s in scen] == ["pump_failure", "compute_surge", "hx_fouling"]
    faults = scenarios_to_faults(scen)
    assert [type(f).__name__ for f in faults] == ["PumpFailure", "ComputeLoad", "HxFouling"]


def test_durations() -> None:
    assert parse_duration_s("90s") == 90
    assert parse_duration_s("1h30m") == 5400
    assert parse_duration_s("2w") == 14 * 86400
    assert parse_duration_s("60") == 60
    assert format_duration(5400) == "1h30m"
    assert format_duration(3 * 86400) == "3d"
    with pytest.raises(ScenarioError, match="expected a duration"):
        parse_duration_s("soon")


def test_standard_set_and_default_start() -> None:
    start = default_drill_start("Europe/Berlin", 2026)
    # second Tuesday of January 2026 is the 13th; 06:00 CET = 05:00 UTC
    assert start == pd.Timestamp("2026-01-13T05:00Z")
    drills = standard_drill_set(start)
    assert [d.name for d in drills] == list(SCENARIO_NAMES)
    assert all(d.start == start for d in drills)
    assert all(d.faults() for d in drills)


def test_pump_role_the_site_lacks_is_refused() -> None:
    from pathlib import Path

    from heatreuse.simulation.scenarios import check_for_site
    from heatreuse.site import load_site

    site = load_site(Path(__file__).resolve().parents[2] / "examples" / "pool.yaml")
    check_for_site(site, parse_scenarios(["pump_failure+1h:secondary", "compute_trip+1h"]))
    with pytest.raises(ScenarioError, match="has no customer pump"):
        check_for_site(site, parse_scenarios(["pump_failure+1h:customer"]))
