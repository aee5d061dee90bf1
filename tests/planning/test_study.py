"""The feasibility study: summary.json, hourly.parquet, report.html, bad input."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatreuse import kpi
from heatreuse.carbon import avoided_emissions_kg
from heatreuse.errors import SimulationError, WeatherError
from heatreuse.planning import REUSE_MODELS, StudyResult, parse_step_s, run_study
from heatreuse.planning.study import assumptions, load_study_weather
from heatreuse.site import Site, load_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

REQUIRED_KEYS = (
    "heat_demand_kwh",
    "heat_delivered_kwh",
    "heat_rejected_kwh",
    "backup_heat_kwh",
    "it_energy_kwh",
    "total_energy_kwh",
    "pipe_loss_kwh",
    "pue",
    "erf",
    "ere",
    "demand_coverage_fraction",
    "avoided_emissions_kg",
    "capex_eur",
    "opex_eur_per_year",
    "payback_years",
    "npv_eur",
    "step_s",
)
#: Unit suffixes a numeric summary key may end with (or a dimensionless KPI name).
UNIT_SUFFIXES = ("_kwh", "_kg", "_eur", "_eur_per_year", "_years", "_fraction", "_h", "_s")
DIMENSIONLESS = {"pue", "pue_enefg", "erf", "ere", "weather_year"}


def _summary(study: StudyResult) -> dict:
    return json.loads(study.paths["summary"].read_text(encoding="utf-8"))


def test_summary_keys_and_units(pool_study: StudyResult) -> None:
    s = _summary(pool_study)
    for key in REQUIRED_KEYS:
        assert key in s, key
    for key, value in s.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert key.endswith(UNIT_SUFFIXES) or key in DIMENSIONLESS, key
    assert s["step_s"] == 3600
    assert s["duration_h"] == 8760
    assert s["customer_kind"] == "pool"
    assert s["weather_source"].startswith("dwd-try") or "TRY" in s["weather_source"]


def test_summary_figures_are_consistent(pool_study: StudyResult) -> None:
    s = _summary(pool_study)
    assert 0 < s["heat_delivered_kwh"] <= s["heat_demand_kwh"]
    assert s["demand_coverage_fraction"] == pytest.approx(
        s["heat_delivered_kwh"] / s["heat_demand_kwh"], rel=1e-12
    )
    # Customer side: delivered + backup + unmet = demand. The implicit tank update decides
    # the customer flow for the top temperature it iterates to (to CUSTOMER_FLOW_TOL_K,
    # 1e-3 K) and books the heat at the temperature the water actually leaves with, so a
    # sub-step can deliver up to ~TOL / delta-T (1e-3 K / 10 K) more than asked: the plant's
    # own energy balance still closes exactly (tests/simulation/test_balance.py).
    assert s["heat_delivered_kwh"] + s["backup_heat_kwh"] + s["unmet_heat_kwh"] == pytest.approx(
        s["heat_demand_kwh"], rel=1e-4
    )
    assert s["heat_delivered_kwh"] + s["backup_heat_kwh"] + s["unmet_heat_kwh"] >= (
        s["heat_demand_kwh"] * (1 - 1e-9)
    )  # never short of demand: what is not delivered is backup or unmet
    assert s["total_energy_kwh"] == pytest.approx(
        s["it_energy_kwh"]
        + s["cooling_electricity_kwh"]
        + s["pump_electricity_kwh"]
        + s["other_electricity_kwh"]
        + s["heat_pump_electricity_kwh"],
        rel=1e-12,
    )
    reused = s["heat_delivered_kwh"] - s["heat_pump_electricity_kwh"]
    assert s["pue"] == pytest.approx(kpi.pue(s["total_energy_kwh"], s["it_energy_kwh"]))
    assert s["pue_enefg"] == pytest.approx(
        kpi.pue(s["total_energy_kwh"], s["it_energy_kwh"], s["upgrade_only_energy_kwh"])
    )
    assert s["erf"] == pytest.approx(kpi.erf(reused, s["total_energy_kwh"]))
    assert s["ere"] == pytest.approx(kpi.ere(s["total_energy_kwh"], reused, s["it_energy_kwh"]))
    ef = s["emission_factors"]
    assert ef["grid"]["source"] and ef["grid"]["year"] == 2023
    assert s["avoided_emissions_kg"] == pytest.approx(
        avoided_emissions_kg(
            s["heat_delivered_kwh"],
            ef["displaced_fuel"]["value_kg_per_kwh"],
            ef["reference_efficiency_fraction"],
            s["heat_pump_electricity_kwh"],
            s["pump_electricity_kwh"],
            ef["grid"]["value_kg_per_kwh"],
        )
    )
    assert s["capex_eur"] == pytest.approx(s["capex_breakdown_eur"]["total_eur"])
    net = s["heat_revenue_eur_per_year"] - s["opex_eur_per_year"] - s["energy_cost_eur_per_year"]
    assert s["net_cash_flow_eur_per_year"] == pytest.approx(net)
    assert s["payback_years"] == pytest.approx(s["capex_eur"] / net)
    assert "capex_eur" in s["estimates"] and "avoided_emissions_kg" in s["estimates"]


def test_energy_balance_closes(pool_study: StudyResult) -> None:
    s = _summary(pool_study)
    inputs = s["it_energy_kwh"] + s["heat_pump_electricity_kwh"]
    outputs = (
        s["heat_delivered_kwh"]
        + s["heat_rejected_kwh"]
        + s["heat_to_room_kwh"]
        + s["pipe_loss_kwh"]
        + s["tank_loss_kwh"]
        + s["stored_heat_change_kwh"]
    )
    assert abs(inputs - outputs) <= 1e-3 * inputs


def test_comparison_has_the_five_models(pool_study: StudyResult) -> None:
    rows = _summary(pool_study)["comparison"]
    assert [r["model"] for r in rows] == list(REUSE_MODELS)
    by = {r["model"]: r for r in rows}
    assert by["pool"]["is_site_customer"]
    assert by["pool"]["heat_delivered_kwh"] == pytest.approx(
        pool_study.summary["heat_delivered_kwh"]
    )
    reject = by["backup_reject"]
    assert reject["heat_delivered_kwh"] == 0 and reject["erf"] == 0
    assert reject["avoided_emissions_kg"] == 0
    assert reject["heat_rejected_kwh"] > 0.9 * by["pool"]["heat_rejected_kwh"]
    for r in rows:
        assert 0 <= r["demand_coverage_fraction"] <= 1
        assert r["key_risk"]
        assert r["pue"] >= 1
        assert abs(r["balance_residual_fraction"]) < 1e-3
        assert r["heat_delivered_kwh"] <= r["heat_demand_kwh"] * (1 + 1e-9)


def test_hourly_parquet(pool_study: StudyResult) -> None:
    hourly = pd.read_parquet(pool_study.paths["hourly"])
    assert len(hourly) == 8760
    assert str(pd.DatetimeIndex(hourly.index).tz) == "UTC"
    for col in ("heat_delivered_w", "heat_demand_w", "tank_temp_mean_c", "mode", "air_temp_c"):
        assert col in hourly.columns
    delivered_kwh = hourly["heat_delivered_w"].sum() / 1000.0
    assert delivered_kwh == pytest.approx(pool_study.summary["heat_delivered_kwh"], rel=1e-3)


def test_report_is_self_contained_with_the_plots(pool_study: StudyResult) -> None:
    text = pool_study.paths["report"].read_text(encoding="utf-8")
    for div in ("plot-monthly", "plot-duration", "plot-sankey", "plot-frontier", "plot-comparison"):
        assert f'id="{div}"' in text, div
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, re.IGNORECASE)
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?https?://", text, re.IGNORECASE)
    assert "Plotly" in text and len(text) > 1_000_000  # plotly.js inline
    assert "estimate" in text
    assert "Umweltbundesamt" in text  # emission factor sources listed
    assert "Assumptions and sources" in text
    # The report says what the pool demand answers to (the hall follows the weather).
    assert "pool demand model" in text and "dehumidify the hall" in text
    assert text.count('"plot_bgcolor":"white"') == 5  # each figure in plotly's white look
    sweep_page = pool_study.paths["sweep_report"].read_text(encoding="utf-8")
    assert 'id="plot-frontier"' in sweep_page
    assert not re.search(r"<script[^>]*\bsrc\s*=", sweep_page, re.IGNORECASE)


def test_sub_hourly_step_aggregates_to_hours(tmp_path: Path, pool_site: Site) -> None:
    study = run_study(pool_site, tmp_path, step_s=900)
    assert study.summary["step_s"] == 900
    assert len(study.hourly) == 8760
    delivered_kwh = study.hourly["heat_delivered_w"].sum() / 1000.0
    assert delivered_kwh == pytest.approx(study.summary["heat_delivered_kwh"], rel=1e-3)
    assert study.sweep is None and "sweep" not in study.paths
    assert abs(study.summary["balance_residual_fraction"]) < 1e-3


def test_heat_pump_site_excludes_upgrade_electricity_from_pue(tmp_path: Path) -> None:
    site = load_site(EXAMPLES / "district_preheat.yaml")
    s = run_study(site, tmp_path, step_s=3600).summary
    assert s["upgrade_only_energy_kwh"] == pytest.approx(s["heat_pump_electricity_kwh"])
    assert s["pue_enefg"] == pytest.approx(
        (s["total_energy_kwh"] - s["heat_pump_electricity_kwh"]) / s["it_energy_kwh"]
    )
    assert s["pue"] == pytest.approx(s["total_energy_kwh"] / s["it_energy_kwh"])
    assert s["pue"] > s["pue_enefg"]
    assert s["capex_breakdown_eur"]["heat_pump_eur"] > 0


def test_pvlib_weather_by_name(tmp_path: Path, pool_site: Site) -> None:
    weather = load_study_weather(pool_site, "pvlib:723170TYA.CSV")
    assert len(weather) == 8760
    assert np.isfinite(weather["air_temp_c"]).all()


def _commissioned(site: Site, day: dt.date | None) -> Site:
    return site.model_copy(
        update={"site": site.site.model_copy(update={"commissioning_date": day})}
    )


def test_typical_year_is_stamped_onto_the_commissioning_year(pool_site: Site) -> None:
    site = _commissioned(pool_site, dt.date(2028, 3, 1))
    weather = load_study_weather(site, None)
    assert weather.index[len(weather) // 2].year == 2028 and len(weather) == 8784  # leap year
    assert load_study_weather(site, None, 2027).index[100].year == 2027  # --year wins
    assert load_study_weather(_commissioned(pool_site, None), None).index[100].year == 2025


def test_a_csv_year_is_not_restamped(pool_site: Site, tmp_path: Path) -> None:
    path = tmp_path / "year2023.csv"
    _write_csv(path, pd.date_range("2023-01-01", periods=8760, freq="h", tz="UTC"))
    weather = load_study_weather(_commissioned(pool_site, dt.date(2028, 3, 1)), str(path))
    assert weather.index[0] == pd.Timestamp("2023-01-01", tz="UTC")


# --------------------------------------------------------------------------- bad input
def test_unknown_weather_file_is_named(pool_site: Site, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.epw"
    with pytest.raises(WeatherError, match=r"nowhere\.epw"):
        load_study_weather(pool_site, str(missing))
    with pytest.raises(WeatherError, match="NOPE"):
        load_study_weather(pool_site, "pvlib:NOPE.CSV")


def _write_csv(path: Path, index: pd.DatetimeIndex) -> None:
    frame = pd.DataFrame({"timestamp": [t.isoformat() for t in index], "air_temp_c": 10.0})
    frame.to_csv(path, index=False)


def test_weather_with_a_gap_is_refused(pool_site: Site, tmp_path: Path) -> None:
    index = pd.date_range("2025-01-01", periods=8761, freq="h", tz="UTC")
    path = tmp_path / "gap.csv"
    _write_csv(path, index.delete(100))
    with pytest.raises(WeatherError, match=r"gap\.csv"):
        load_study_weather(pool_site, str(path))


def test_weather_of_the_wrong_length_is_refused(pool_site: Site, tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    _write_csv(path, pd.date_range("2025-01-01", periods=48, freq="h", tz="UTC"))
    with pytest.raises(WeatherError, match="full year"):
        load_study_weather(pool_site, str(path))


@pytest.mark.parametrize("text", ["7s", "2h", "0", "abc", "90min"])
def test_bad_step(text: str) -> None:
    with pytest.raises(SimulationError, match="--step"):
        parse_step_s(text)


def test_steps_parse() -> None:
    assert parse_step_s("60s") == 60
    assert parse_step_s("60") == 60
    assert parse_step_s("15min") == 900
    assert parse_step_s("1h") == 3600
    assert parse_step_s(None) is None


def test_pool_demand_assumption_names_the_weather_dependence(pool_site: Site) -> None:
    weather = pd.DataFrame()
    row = next(r for r in assumptions(pool_site, weather) if r["name"] == "pool demand model")
    assert "outdoor temperature and humidity" in row["value"] and row["estimate"]
    water_only = pool_site.customer.model_copy(update={"hall_heating": False})
    row = next(
        r
        for r in assumptions(pool_site.model_copy(update={"customer": water_only}), weather)
        if r["name"] == "pool demand model"
    )
    assert "does not depend on the weather" in row["value"]
