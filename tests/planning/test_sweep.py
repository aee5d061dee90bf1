"""Sweep ranges, parameter errors, grid shape and the Pareto frontier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatreuse.errors import HeatreuseError, SimulationError
from heatreuse.planning import StudyResult
from heatreuse.planning.sweep import (
    SWEEP_PARAMETERS,
    check_applicable,
    grid_points,
    pareto_frontier,
    parse_range,
    parse_sweep_specs,
    run_sweep,
)
from heatreuse.simulation.demand import customer_demand, site_weather
from heatreuse.site import Site


def test_range_includes_stop() -> None:
    values = parse_range("tank_volume_m3", "2:40:2")
    assert len(values) == 20
    assert values[0] == 2 and values[-1] == 40
    assert list(parse_range("it_power_kw", "20:200:20")) == [20.0 * i for i in range(1, 11)]
    assert list(parse_range("tank_volume_m3", "5:5:1")) == [5.0]
    assert list(parse_range("heat_capture_fraction", "0.1:0.3:0.1")) == [0.1, 0.2, 0.3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2:1:0", "STEP must be > 0"),
        ("2:1:1", "must not be below START"),
        ("1:2", "START:STOP:STEP"),
        ("a:b:c", "three numbers"),
        ("1:nan:1", "finite"),
        ("0:10:2", "must be > 0"),
    ],
)
def test_malformed_ranges_name_the_parameter(text: str, expected: str) -> None:
    with pytest.raises(SimulationError, match=expected) as info:
        parse_range("tank_volume_m3", text)
    assert "tank_volume_m3" in str(info.value)


def test_capture_fraction_above_one_refused() -> None:
    with pytest.raises(SimulationError, match="<= 1"):
        parse_range("heat_capture_fraction", "0.5:1.5:0.5")


def test_unknown_parameter_lists_known_ones() -> None:
    with pytest.raises(SimulationError) as info:
        parse_sweep_specs(["tank_size=1:2:1"])
    msg = str(info.value)
    assert "'tank_size'" in msg
    for name in SWEEP_PARAMETERS:
        assert name in msg
    assert isinstance(info.value, HeatreuseError)


def test_spec_without_equals_and_duplicates() -> None:
    with pytest.raises(SimulationError, match="PARAM=START:STOP:STEP"):
        parse_sweep_specs(["tank_volume_m3"])
    with pytest.raises(SimulationError, match="more than once"):
        parse_sweep_specs(["tank_volume_m3=1:2:1", "tank_volume_m3=3:4:1"])


def test_parameter_for_missing_plant_refused(pool_site: Site) -> None:
    # The pool example has no heat pump to size.
    with pytest.raises(SimulationError, match=r"plant\.heat_pump"):
        check_applicable(pool_site, {"heat_pump_max_heat_kw": [10.0]})


def test_grid_is_the_cartesian_product() -> None:
    axes = parse_sweep_specs(["tank_volume_m3=2:40:2", "it_power_kw=20:200:20"])
    points = grid_points(axes)
    assert len(points) == 200
    assert {p["tank_volume_m3"] for p in points} == set(axes["tank_volume_m3"])
    assert len({(p["tank_volume_m3"], p["it_power_kw"]) for p in points}) == 200


def _dominated(i: int, cost: np.ndarray, benefit: np.ndarray) -> bool:
    better_or_equal = (cost <= cost[i]) & (benefit >= benefit[i])
    strictly = (cost < cost[i]) | (benefit > benefit[i])
    return bool(np.any(better_or_equal & strictly))


def _check_pareto(cost: np.ndarray, benefit: np.ndarray, mask: np.ndarray) -> None:
    for i in range(len(cost)):
        assert mask[i] == (not _dominated(i, cost, benefit)), (i, cost[i], benefit[i])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=40))
def test_frontier_is_exactly_the_pareto_set(points: list[tuple[int, int]]) -> None:
    cost = np.array([p[0] for p in points], dtype=float)
    benefit = np.array([p[1] for p in points], dtype=float)
    _check_pareto(cost, benefit, pareto_frontier(cost, benefit))


def test_frontier_skips_nan() -> None:
    mask = pareto_frontier([1.0, 2.0, np.nan], [0.5, np.nan, 0.9])
    assert list(mask) == [True, False, False]


def test_study_sweep_grid_and_frontier(pool_study: StudyResult) -> None:
    sweep = pool_study.sweep
    assert sweep is not None
    frame = sweep.frame
    assert len(frame) == 4
    assert set(zip(frame["tank_volume_m3"], frame["it_power_kw"], strict=True)) == {
        (4.0, 40.0),
        (4.0, 60.0),
        (8.0, 40.0),
        (8.0, 60.0),
    }
    assert sweep.workers == 2
    assert sweep.step_s == 3600
    _check_pareto(
        frame["capex_eur"].to_numpy(),
        frame["demand_coverage_fraction"].to_numpy(),
        frame["on_frontier"].to_numpy(),
    )
    # Bigger tank costs more; more IT power at the same tank covers more of the demand.
    by = frame.set_index(["tank_volume_m3", "it_power_kw"])
    assert by.loc[(8.0, 40.0), "capex_eur"] > by.loc[(4.0, 40.0), "capex_eur"]
    assert (
        by.loc[(4.0, 60.0), "demand_coverage_fraction"]
        > by.loc[(4.0, 40.0), "demand_coverage_fraction"]
    )
    assert (frame["heat_delivered_kwh"] <= frame["heat_demand_kwh"] * (1 + 1e-9)).all()
    assert (frame["balance_residual_fraction"].abs() < 1e-3).all()
    stored = pd.read_parquet(pool_study.paths["sweep"])
    assert len(stored) == 4 and "on_frontier" in stored.columns


def test_sweep_in_process_matches_workers(pool_site: Site, pool_study: StudyResult) -> None:
    weather = site_weather(pool_site)
    demand = customer_demand(pool_site, weather)
    axes = {"tank_volume_m3": [4.0, 8.0], "it_power_kw": [40.0, 60.0]}
    serial = run_sweep(pool_site, demand, axes, workers=1)
    assert serial.workers == 1
    assert pool_study.sweep is not None
    cols = ["heat_delivered_kwh", "capex_eur", "demand_coverage_fraction"]
    np.testing.assert_allclose(
        serial.frame[cols].to_numpy(), pool_study.sweep.frame[cols].to_numpy(), rtol=1e-12
    )


def test_sweep_point_equals_site_with_that_value(pool_site: Site, pool_study: StudyResult) -> None:
    # A grid point at the site's own tank and IT power reproduces the main run.
    nameplate_kw = pool_site.compute.nameplate_it_power_w / 1000
    weather = site_weather(pool_site)
    demand = customer_demand(pool_site, weather)
    axes = {
        "tank_volume_m3": [pool_site.plant.buffer_tank.volume_m3],
        "it_power_kw": [nameplate_kw],
    }
    one = run_sweep(pool_site, demand, axes, workers=1)
    assert one.frame["heat_delivered_kwh"].iloc[0] == pytest.approx(
        pool_study.summary["heat_delivered_kwh"], rel=1e-9
    )
