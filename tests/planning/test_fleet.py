"""Fleet files (schema, errors with file and line), ranking, the SLA estimate, the local run."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatreuse.errors import FleetConfigError
from heatreuse.planning.feasibility import longest_bad_run_steps, sla_estimate
from heatreuse.planning.fleet import (
    RANK_METRICS,
    Fleet,
    load_fleet,
    prepare_site,
    rank_frame,
    run_fleet,
)
from heatreuse.planning.sweep import LocalExecutor, run_sweep
from heatreuse.simulation import kernel as K
from heatreuse.simulation import prepare
from heatreuse.site import load_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Path:
    """A folder with the three example sites under sites/ (fleet files refer to them)."""
    sites = tmp_path / "sites"
    sites.mkdir()
    for name in ("pool.yaml", "district_preheat.yaml", "greenhouse.yaml"):
        shutil.copy(EXAMPLES / name, sites / name)
    return tmp_path


def write(folder: Path, text: str, name: str = "fleet.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


HEAD = "schema_version: 1\nfleet:\n  id: f1\n"


def problems(path: Path, **kwargs: object) -> str:
    with pytest.raises(FleetConfigError) as info:
        load_fleet(path, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


# --------------------------------------------------------------------------- the file
def test_example_fleet_loads_with_paths_relative_to_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")  # site files resolve against the fleet file, not the cwd
    fleet = load_fleet(EXAMPLES / "fleets" / "three-sites.yaml")
    assert [s.site.id for s in fleet.sites] == [
        "pool-potsdam",
        "dh-hamburg",
        "greenhouse-niederrhein",
    ]
    pool, district, greenhouse = fleet.sites
    assert pool.axes == {
        "tank_volume_m3": [5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0],
        "it_power_kw": [40.0, 60.0, 80.0],
    }
    assert district.axes == {"tank_volume_m3": [2.0, 5.0, 10.0, 20.0, 30.0]}
    assert greenhouse.axes == {"tank_volume_m3": [10.0, 20.0, 30.0, 40.0]}  # the default grid
    assert fleet.n_tasks == 24 + 5 + 4
    assert fleet.metric == "npv_eur" and fleet.sla_feasible_first
    assert fleet.step_s == 3600


def test_command_line_sweep_and_metric_replace_the_files(fleet_dir: Path) -> None:
    path = write(
        fleet_dir,
        HEAD + "sites:\n  - file: sites/pool.yaml\n    sweep:\n      tank_volume_m3: [4, 8]\n"
        "  - file: sites/greenhouse.yaml\n",
    )
    plain = load_fleet(path)
    assert plain.sites[0].axes == {"tank_volume_m3": [4.0, 8.0]}
    assert plain.sites[1].axes == {} and plain.sites[1].points == [{}]  # as designed
    fleet = load_fleet(path, sweeps=["it_power_kw=40:60:20"], metric="avoided_emissions_kg")
    assert [s.axes for s in fleet.sites] == [{"it_power_kw": [40.0, 60.0]}] * 2
    assert fleet.metric == "avoided_emissions_kg"


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        # unknown field, with its line; a wrong unit suffix is an unknown field too
        (
            "step_min: 60\nsites:\n  - file: sites/pool.yaml\n",
            ["fleet.yaml:4: step_min", "unknown field"],
        ),
        ("sites:\n  - file: sites/pool.yaml\n    tank_m3: 4\n", ["fleet.yaml:6: sites[0].tank_m3"]),
        (
            "ranking:\n  metric: irr\nsites:\n  - file: sites/pool.yaml\n",
            ["fleet.yaml:5: ranking.metric", "unknown metric 'irr'", "npv_eur"],
        ),
        (
            "sites:\n  - file: sites/pool.yaml\n    sweep:\n      tank_litres: '2:4:2'\n",
            [
                "fleet.yaml:7: sites[0].sweep.tank_litres",
                "unknown sizing parameter",
                "tank_volume_m3",
            ],
        ),
        (
            "sites:\n  - file: sites/pool.yaml\n    sweep:\n      tank_volume_m3: '4:2:1'\n",
            ["fleet.yaml:7: sites[0].sweep.tank_volume_m3", "STOP (2) must not be below START (4)"],
        ),
        # unquoted, YAML 1.1 reads 2:40:2 as a base-60 number: refused with the hint
        (
            "sites:\n  - file: sites/pool.yaml\n    sweep:\n      tank_volume_m3: 2:40:2\n",
            ["fleet.yaml:7: sites[0].sweep.tank_volume_m3", "in quotes", "got 9602"],
        ),
        (
            "sites:\n  - file: sites/pool.yaml\n    sweep:\n      tank_volume_m3: [0, 4]\n",
            ["sites[0].sweep.tank_volume_m3", "must be > 0, got 0"],
        ),
        (
            "sweep:\n  heat_capture_fraction: '0.5:1.5:0.5'\nsites:\n  - file: sites/pool.yaml\n",
            ["fleet.yaml:5: sweep.heat_capture_fraction", "must be <= 1"],
        ),
        (
            "sites:\n  - file: sites/nowhere.yaml\n",
            ["fleet.yaml:5: sites[0].file", "nowhere.yaml", "no such site file"],
        ),
        (
            "sites:\n  - file: sites/pool.yaml\n    sweep:\n"
            "      heat_pump_max_heat_kw: '10:20:10'\n",
            ["sites[0] (pool-potsdam)", "no plant.heat_pump"],
        ),
        (
            "sites:\n  - file: sites/pool.yaml\n  - file: ./sites/pool.yaml\n",
            ["fleet.yaml:6: sites[1].file", "site id 'pool-potsdam' again"],
        ),
        ("sites: []\n", ["fleet.yaml:4: sites", "at least 1 item"]),
        ("step_s: 7200\nsites:\n  - file: sites/pool.yaml\n", ["fleet.yaml:4: step_s", "3600"]),
        (
            "sites:\n  - site: sites/pool.yaml\n",
            ["sites[0].file: required field missing", "sites[0].site: unknown field"],
        ),
    ],
)
def test_bad_fleet_files_name_file_line_and_field(
    fleet_dir: Path, body: str, needles: list[str]
) -> None:
    msg = problems(write(fleet_dir, HEAD + body))
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_every_problem_is_listed_at_once_and_a_bad_site_brings_its_own_line(
    fleet_dir: Path,
) -> None:
    bad_site = (
        (fleet_dir / "sites" / "pool.yaml").read_text().replace("volume_m3: 10", "volume_l: 10000")
    )
    (fleet_dir / "sites" / "bad.yaml").write_text(bad_site)
    line = next(i for i, t in enumerate(bad_site.splitlines(), 1) if "volume_l" in t)
    msg = problems(
        write(
            fleet_dir,
            HEAD + "ranking:\n  metric: irr\nsites:\n  - file: sites/bad.yaml\n"
            "  - file: sites/pool.yaml\n    sweep:\n      tank_litres: '2:4:2'\n",
        )
    )
    assert "ranking.metric" in msg
    assert "sites[0].file: site file 'sites/bad.yaml' is not usable" in msg
    assert f"bad.yaml:{line}: plant.buffer_tank.volume_l" in msg  # the site loader's own words
    assert "sites[1].sweep.tank_litres" in msg


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "fleet.yaml:1: the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("- a\n- b\n", "expected a mapping with fleet, sites"),
        ("fleet: {id: x}\nsites: [\n", "malformed YAML"),
        ("fleet: !!python/object:os.system {}\nsites: []\n", "fleet.yaml:1"),
    ],
)
def test_broken_yaml_is_refused_with_its_place(fleet_dir: Path, text: str, needle: str) -> None:
    assert needle in problems(write(fleet_dir, text))


def test_missing_fleet_file_and_bad_command_line_options(fleet_dir: Path) -> None:
    assert "no such fleet file" in problems(fleet_dir / "nope.yaml")
    path = write(fleet_dir, HEAD + "sites:\n  - file: sites/pool.yaml\n")
    assert "--rank-by: unknown metric 'irr'" in problems(path, metric="irr")
    assert "tank_size" in problems(path, sweeps=["tank_size=1:2:1"])


# --------------------------------------------------------------------------- ranking
def test_ranking_puts_sla_feasible_first_then_metric_nan_last() -> None:
    frame = pd.DataFrame(
        {
            "site_id": ["a", "a", "b", "b", "c"],
            "npv_eur": [10.0, 50.0, math.nan, 30.0, 40.0],
            "sla_feasible": [True, False, True, True, False],
        }
    )
    ranked = rank_frame(frame, "npv_eur")
    assert list(zip(ranked["site_id"], ranked["npv_eur"].fillna(-1), strict=True)) == [
        ("b", 30.0),
        ("a", 10.0),
        ("b", -1),  # feasible but no value: after every feasible row with one
        ("a", 50.0),
        ("c", 40.0),
    ]
    assert list(ranked["rank"]) == [1, 2, 3, 4, 5]
    assert list(ranked["site_best"]) == [True, True, False, False, True]
    plain = rank_frame(frame, "npv_eur", sla_feasible_first=False)
    assert list(plain["npv_eur"].fillna(-1)) == [50.0, 40.0, 30.0, 10.0, -1]


def test_every_rank_metric_is_a_column_with_its_unit() -> None:
    for name, metric in RANK_METRICS.items():
        assert metric.column == name
        assert name.endswith(("_eur", "_kwh", "_kg", "_fraction", "_kwh_per_eur")) or name == "erf"
        assert "[" in metric.description  # the unit, stated


# --------------------------------------------------------------------------- SLA estimate
def test_longest_bad_run_skips_closed_steps() -> None:
    bad = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1], dtype=bool)
    operating = np.array([1, 1, 1, 1, 0, 1, 1, 1, 1], dtype=bool)
    # the closed step 4 (bad or not) neither ends the run 3..5 nor counts in it
    assert longest_bad_run_steps(bad, operating) == 2
    assert longest_bad_run_steps(np.array([1, 0, 1], bool), np.array([1, 0, 1], bool)) == 2
    assert longest_bad_run_steps(np.zeros(4, bool), np.ones(4, bool)) == 0


def test_sla_estimate_against_the_contract() -> None:
    site = load_site(EXAMPLES / "pool.yaml")  # band from the site, target 0.995, max 4 h
    idx = pd.date_range("2026-01-05", periods=48, freq="h", tz="UTC")
    demand = pd.DataFrame(
        {
            "heat_demand_w": 40e3,
            "supply_temp_required_c": 38.0,
            "return_temp_c": 29.0,
            "operating": np.arange(48) % 24 >= 6,
        },
        index=idx,
    )
    inputs = prepare(site, demand, 3600)
    band = site.sla_band
    out = np.full((K.N_OUT, 48), band.min_temp_c + 1.0, dtype=np.float32)
    ok = sla_estimate(site, inputs, out)
    assert ok["sla_in_band_fraction"] == 1.0 and ok["sla_feasible"] is True
    out[K.O_CUSTOMER_SUPPLY_C, 10:15] = band.min_temp_c - 0.5  # 5 h cold while open
    cold = sla_estimate(site, inputs, out)
    assert cold["sla_longest_interruption_h"] == 5.0
    assert cold["sla_in_band_fraction"] == pytest.approx(1 - 5 / 36)
    assert cold["sla_feasible"] is False
    closed = prepare(site, demand.assign(operating=False), 3600)
    unknown = sla_estimate(site, closed, out)
    assert math.isnan(unknown["sla_in_band_fraction"]) and unknown["sla_feasible"] is False


# --------------------------------------------------------------------------- running
def test_local_fleet_run_gives_the_sweeps_own_rows(fleet_dir: Path) -> None:
    path = write(
        fleet_dir,
        HEAD + "sites:\n  - file: sites/pool.yaml\n    sweep:\n      tank_volume_m3: [5, 20]\n"
        "  - file: sites/greenhouse.yaml\n    sweep: {}\n",
    )
    fleet: Fleet = load_fleet(path)
    contexts = [prepare_site(fleet, s) for s in fleet.sites]
    result = run_fleet(fleet, LocalExecutor(1), contexts=contexts)
    frame = result.frame
    assert len(frame) == 3 and result.site_years == pytest.approx(3.0)
    assert set(frame["site_id"]) == {"pool-potsdam", "greenhouse-niederrhein"}
    # the same task as `plan --sweep`: identical figures
    pool = contexts[0]
    sweep = run_sweep(
        pool.site, pd.DataFrame(), {"tank_volume_m3": [5.0, 20.0]}, inputs=pool.inputs, workers=1
    )
    mine = frame[frame["site_id"] == "pool-potsdam"].sort_values("tank_volume_m3")
    for col in ("heat_delivered_kwh", "npv_eur", "capex_eur", "sla_in_band_fraction"):
        assert list(mine[col]) == list(sweep.frame[col]), col
    # a site as designed carries its own sizing; plant it lacks is NaN, not zero
    gh = frame[frame["site_id"] == "greenhouse-niederrhein"].iloc[0]
    gh_site = fleet.sites[1].site
    assert gh["tank_volume_m3"] == gh_site.plant.buffer_tank.volume_m3
    assert math.isnan(gh["heat_pump_max_heat_kw"])
    assert (frame["rank"] == np.arange(1, 4)).all()
    assert frame.columns[0] == "rank" and "heat_delivered_per_capex_kwh_per_eur" in frame
