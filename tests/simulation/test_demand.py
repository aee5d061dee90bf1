"""customer_demand / demand_for_kind on the example sites and real weather."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from heatreuse.errors import SimulationError, WeatherError
from heatreuse.physics import heating_degree_days
from heatreuse.simulation.demand import (
    DEFAULT_CUSTOMER_TEMPLATES,
    DEMAND_COLUMNS,
    annual_degree_day_heat_kwh,
    customer_demand,
    default_customer,
    demand_for_kind,
    pool_design_heat_w,
    pool_return_temp_c,
    recoverable_heat_w,
    site_weather,
    site_with_customer_kind,
)
from heatreuse.site import CUSTOMER_KINDS, Site, load_site
from heatreuse.site.model import (
    DhwPreheatCustomer,
    DistrictPreheatCustomer,
    GreenhouseCustomer,
    OperatingHours,
    PoolCustomer,
    SpaceHeatingCustomer,
)
from heatreuse.weather import load_weather

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@cache
def _site() -> Site:
    return load_site(EXAMPLES / "pool.yaml")


@cache
def _weather(spec: str = "dwd-try:04") -> pd.DataFrame:
    return load_weather(spec)


def _with(customer: Any) -> Site:
    return _site().model_copy(update={"customer": customer})


def _customer(kind: str, **changes: Any) -> Any:
    model = {
        "pool": PoolCustomer,
        "dhw_preheat": DhwPreheatCustomer,
        "district_preheat": DistrictPreheatCustomer,
        "greenhouse": GreenhouseCustomer,
        "space_heating": SpaceHeatingCustomer,
    }[kind]
    return model.model_validate({**DEFAULT_CUSTOMER_TEMPLATES[kind], **changes})


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_site(path: Path) -> None:
    site = load_site(path)
    w = load_weather(site.location.weather, base_dir=path.parent)
    d = customer_demand(site, w)
    assert list(d.columns) == list(DEMAND_COLUMNS)
    assert d.index.equals(w.index) and str(d.index.tz) == "UTC"
    assert d["operating"].dtype == bool
    assert not d.isna().any().any()
    assert (d["heat_demand_w"] >= 0).all()
    assert d["heat_demand_w"].sum() > 0
    assert (d["return_temp_c"] <= d["supply_temp_required_c"] + 1e-9).all() or path.stem == "pool"


def test_pool_example_components_and_opening_hours() -> None:
    site = _site()
    d = customer_demand(site, _weather())
    # Opening 06:00 Berlin = 05:00 UTC in winter (CET), 04:00 UTC in summer (CEST).
    assert not d.loc["2025-01-06 04:00+00:00", "operating"]
    assert d.loc["2025-01-06 05:00+00:00", "operating"]
    assert d.loc["2025-07-07 04:00+00:00", "operating"]
    assert site.customer.operating_hours.open_hours_per_week_h() == 5 * 16 + 2 * 12
    assert d["operating"].sum() == pytest.approx(365 / 7 * (5 * 16 + 2 * 12), abs=20)
    # In use the evaporation coefficient is 4x the at-rest one: demand jumps when it opens.
    assert (
        d.loc["2025-01-06 05:00+00:00", "heat_demand_w"]
        > 1.5 * d.loc["2025-01-06 04:00+00:00", "heat_demand_w"]
    )
    assert d["supply_temp_required_c"].eq(32.0).all()
    # The return follows the load (test_pool_return_follows_the_load): between the pool
    # water (28 C) and the 3 K design approach, rising with the demand.
    ret = d["return_temp_c"]
    assert ret.min() > 28.0 and ret.max() < 31.0 and ret.std() > 0.3
    by_load = ret.to_numpy()[np.argsort(d["heat_demand_w"].to_numpy(), kind="stable")]
    assert np.all(np.diff(by_load) >= 0.0)


def test_pool_return_follows_the_load() -> None:
    # A plate exchanger on the pool water (VDI 2089-1 pool, DIN 19643 filtration flow on
    # the pool side: C_r -> 0) with its heating flow throttled to the load. Sized so the
    # design load, fed at the band's 32 C minimum, returns 3 K above the 28 C water:
    # UA = Q_design / LMTD(4 K, 3 K) (Bergman et al., 7th ed., eq. 11.14, 3.476 K).
    c = _site().customer
    assert isinstance(c, PoolCustomer)
    q_design = pool_design_heat_w(c)
    # The hall at -12 C outdoor air makes the design load well above the mean demand.
    mean_w = float(customer_demand(_site(), _weather())["heat_demand_w"].mean())
    assert 1.3 * mean_w < q_design < 3.0 * mean_w
    ua = q_design / (1.0 / math.log(4.0 / 3.0))
    assert ua == pytest.approx(q_design / 3.4761, rel=1e-4)
    loads = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.1, 1.3]) * q_design
    ret = pool_return_temp_c(c, loads)
    assert ret[0] == 28.0  # no load: the trickle returns at the pool water temperature
    assert ret[4] == pytest.approx(31.0, abs=1e-6)  # design load: the design approach
    assert np.all(np.diff(ret) > 0.0)
    # above UA * (32 - 28) = 1.15 Q_design the exchanger cannot pass more at 32 C
    assert ret[6] == 32.0
    # hand check at half load, q = C_h * 4 K * (1 - exp(-UA / C_h)) (eq. 11.35a, C_r = 0)
    c_h = loads[2] / (32.0 - ret[2])
    assert c_h * 4.0 * (1.0 - math.exp(-ua / c_h)) == pytest.approx(loads[2], rel=1e-9)
    # no hall: a smaller design load, the same 3 K at it (the exchanger is sized per pool)
    water_only = c.model_copy(update={"hall_heating": False})
    q_water = pool_design_heat_w(water_only)
    assert q_water < 0.8 * q_design
    assert pool_return_temp_c(water_only, np.array([q_water]))[0] == pytest.approx(31.0)
    # supply band at or below water + approach: sized for twice the approach (34 C)
    band = c.supply_band.model_copy(update={"min_temp_c": 30.0})
    low = c.model_copy(update={"supply_band": band})
    assert pool_return_temp_c(low, np.array([q_design]))[0] == pytest.approx(31.0)
    assert pool_return_temp_c(low, np.array([10.0 * q_design]))[0] == 34.0


def test_pool_cover_reduces_night_losses() -> None:
    # The water surface alone (the hall envelope does not care about the cover).
    base = _site().customer.model_copy(update={"hall_heating": False})
    open_ = customer_demand(_with(base), _weather())
    covered = customer_demand(_with(base.model_copy(update={"cover_at_night": True})), _weather())
    closed = ~open_["operating"]
    assert covered["heat_demand_w"][closed].sum() < 0.5 * open_["heat_demand_w"][closed].sum()
    pd.testing.assert_series_equal(
        covered["heat_demand_w"][~closed], open_["heat_demand_w"][~closed]
    )
    # With the hall: less evaporation at night also needs less outdoor air.
    hall = _site().customer
    open_hall = customer_demand(_site(), _weather())
    covered_hall = customer_demand(
        _with(hall.model_copy(update={"cover_at_night": True})), _weather()
    )
    assert covered_hall["heat_demand_w"][closed].sum() < open_hall["heat_demand_w"][closed].sum()


def test_indoor_pool_demand_follows_the_climate() -> None:
    # Potsdam (DWD TRY 2010 region 4, mean 9.5 C) against Miami (TMY2, mean 24.3 C): the hall's
    # outdoor air and envelope make the colder climate need clearly more heat.
    site = _site()
    potsdam = customer_demand(site, _weather())["heat_demand_w"].sum()
    miami = customer_demand(site, _weather("pvlib:12839.tm2"))["heat_demand_w"].sum()
    assert potsdam > 1.1 * miami
    # Winter against summer in Potsdam, per open hour.
    d = customer_demand(site, _weather())
    jan = (d.index.month == 1) & d["operating"]
    jul = (d.index.month == 7) & d["operating"]
    assert d["heat_demand_w"][jan].mean() > 1.2 * d["heat_demand_w"][jul].mean()
    # The pool water alone (hall_heating off) does not see the weather: equal in both.
    water = _with(site.customer.model_copy(update={"hall_heating": False}))
    assert customer_demand(water, _weather())["heat_demand_w"].sum() == pytest.approx(
        customer_demand(water, _weather("pvlib:12839.tm2"))["heat_demand_w"].sum()
    )


def test_indoor_pool_hall_needs_humidity(tmp_path: Path) -> None:
    idx = pd.date_range("2025-01-01", periods=48, freq="h", tz="UTC")
    p = tmp_path / "w.csv"
    p.write_text("timestamp,air_temp_c\n" + "\n".join(f"{t.isoformat()},5.0" for t in idx) + "\n")
    with pytest.raises(
        WeatherError, match=r"no column\(s\) \['relative_humidity_fraction'\].*pool hall"
    ):
        customer_demand(_site(), load_weather(str(p)))
    water = _site().customer.model_copy(update={"hall_heating": False})
    assert customer_demand(_with(water), load_weather(str(p)))["heat_demand_w"].sum() > 0


def test_outdoor_pool_uses_weather_and_sun() -> None:
    outdoor = _site().customer.model_copy(update={"indoor": False, "water_temp_c": 26.0})
    d = customer_demand(_with(outdoor), _weather())
    indoor = customer_demand(_site(), _weather())
    # Outdoor in a German winter loses far more than indoors; sunny summer noons go to 0.
    jan = d.index.month == 1
    assert d["heat_demand_w"][jan].mean() > 3 * indoor["heat_demand_w"][jan].mean()
    assert (d["heat_demand_w"][d.index.month == 7] == 0).any()


def test_outdoor_pool_needs_irradiance(tmp_path: Path) -> None:
    idx = pd.date_range("2025-01-01", periods=48, freq="h", tz="UTC")
    rows = [f"{t.isoformat()},5.0,0.8,3.0" for t in idx]
    p = tmp_path / "w.csv"
    p.write_text("timestamp,air_temp_c,relative_humidity_fraction,wind_speed_m_per_s\n")
    p.write_text(p.read_text() + "\n".join(rows) + "\n")
    outdoor = _site().customer.model_copy(update={"indoor": False})
    with pytest.raises(WeatherError, match=r"no column\(s\) \['ghi_w_per_m2'\].*outdoor pool"):
        customer_demand(_with(outdoor), load_weather(str(p)))


def test_sixty_second_steps_keep_the_energy() -> None:
    w = _weather()
    hourly = customer_demand(_site(), w)
    idx = pd.date_range(w.index[0], periods=len(w) * 60, freq="60s")
    fine = customer_demand(_site(), w, idx)
    assert len(fine) == 525_600
    assert fine.index.equals(idx)
    # Opening times fall on full hours, so the energy is the same to rounding.
    assert fine["heat_demand_w"].sum() / 60 == pytest.approx(
        hourly["heat_demand_w"].sum(), rel=1e-9
    )
    assert (fine["air_temp_c"].iloc[:60] == w["air_temp_c"].iloc[0]).all()


def test_index_outside_weather_is_refused() -> None:
    w = _weather()
    idx = pd.date_range(w.index[-1], periods=120, freq="60s")  # runs one hour past the end
    with pytest.raises(WeatherError, match=r"covers .* requested steps run from"):
        customer_demand(_site(), w, idx)
    with pytest.raises(SimulationError, match="tz-aware UTC"):
        customer_demand(_site(), w, pd.date_range("2025-01-02", periods=3, freq="h"))


def test_dhw_draws_follow_profile_and_operating_hours() -> None:
    office = _customer(
        "dhw_preheat",
        profile="office",
        operating_hours=OperatingHours(
            weekly={d: ["07:00-19:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
        ),
        daily_draw_l=2000.0,
    )
    d = customer_demand(_with(office), _weather())
    local = d.index.tz_convert("Europe/Berlin")
    assert d["heat_demand_w"][local.day_of_week >= 5].sum() == 0.0
    assert d["heat_demand_w"][(local.hour < 7) | (local.hour >= 19)].sum() == 0.0
    # Each open day draws 2000 L: heat per day ~ 2000 L lifted from ~7-15 C to 45 C.
    per_day = d["heat_demand_w"].groupby(local.date).sum() / 1000.0
    working = per_day[per_day > 0]
    assert len(working) in (260, 261, 262)
    assert working.between(2.0 * 1.16 * 29.0, 2.0 * 1.17 * 39.0).all()
    assert (d["return_temp_c"] < 25.0).all()


def test_dhw_preheat_limit_is_band_max_minus_approach_or_hot_temp() -> None:
    low = _customer("dhw_preheat", hot_temp_c=30.0, profile="flat")
    d = customer_demand(_with(low), _weather())
    high = customer_demand(_with(_customer("dhw_preheat", profile="flat")), _weather())
    assert d["heat_demand_w"].sum() < high["heat_demand_w"].sum()


def test_district_preheat_follows_heating_curve() -> None:
    site = load_site(EXAMPLES / "district_preheat.yaml")
    w = load_weather(site.location.weather)
    d = customer_demand(site, w)
    cold = d["air_temp_c"] <= -12.0
    warm = d["air_temp_c"] >= 15.0
    assert np.allclose(d["return_temp_c"][cold], 50.0) and np.allclose(
        d["return_temp_c"][warm], 40.0
    )
    assert np.allclose(d["supply_temp_required_c"], d["return_temp_c"] + 5.0)
    assert d["heat_demand_w"].max() == pytest.approx(500_000.0)
    # Summer: 25 % of 60 m3/h lifted from 40 C to 70 C (band max 75 - 5 K approach).
    summer = d["heat_demand_w"][warm].iloc[0]
    assert summer == pytest.approx(min(15.0 / 3600 * 992.2 * 4180.0 * 30.0, 500_000.0), rel=0.01)
    closed = _customer(
        "district_preheat", operating_hours=OperatingHours(weekly={"mon": ["00:00-24:00"]})
    )
    dc = customer_demand(_with(closed), _weather())
    assert dc["heat_demand_w"][~dc["operating"]].sum() == 0.0


def test_greenhouse_day_night_and_sun() -> None:
    site = load_site(EXAMPLES / "greenhouse.yaml")
    w = load_weather(site.location.weather)
    d = customer_demand(site, w)
    local = d.index.tz_convert("Europe/Berlin")
    night = ((local.hour < 6) | (local.hour >= 20)) & (w["ghi_w_per_m2"] == 0).to_numpy()
    # Same outdoor temperature, day set point 3 K higher: more heat by day without sun.
    no_sun = site.customer.model_copy(update={"solar_gain_fraction": 0.0})
    d0 = customer_demand(site.model_copy(update={"customer": no_sun}), w)
    assert d0["heat_demand_w"].sum() > d["heat_demand_w"].sum()
    assert d0["heat_demand_w"][night].equals(d["heat_demand_w"][night])
    assert (d["heat_demand_w"][(local.month == 7) & (local.hour == 13)] == 0).mean() > 0.5


def test_space_heating_reduces_to_degree_days() -> None:
    c = _customer("space_heating", heat_loss_coefficient_w_per_k=1500.0)
    site = _with(c)
    d = customer_demand(site, _weather())
    local = d.index.tz_convert("Europe/Berlin")
    daily_mean = d["air_temp_c"].groupby(local.date).mean()
    hours = d["air_temp_c"].groupby(local.date).size()
    expected_wh = (1500.0 * heating_degree_days(daily_mean.to_numpy()) * hours.to_numpy()).sum()
    assert d["heat_demand_w"].sum() == pytest.approx(expected_wh, rel=1e-9)
    assert annual_degree_day_heat_kwh(c, _weather(), "Europe/Berlin") == pytest.approx(
        expected_wh / 1000.0, rel=1e-9
    )
    assert d["supply_temp_required_c"].between(35.0, 55.0).all()
    assert (d["return_temp_c"] <= d["supply_temp_required_c"]).all()


def test_space_heating_bdew_profile() -> None:
    c = _customer("space_heating", bdew_profile="MFH", annual_heat_kwh=100_000.0)
    d = customer_demand(_with(c), _weather())
    assert d["heat_demand_w"].sum() / 1000.0 == pytest.approx(100_000.0, rel=0.01)
    jan = d["heat_demand_w"][d.index.month == 1].mean()
    jul = d["heat_demand_w"][d.index.month == 7].mean()
    assert jan > 4 * jul
    ghd = _customer("space_heating", bdew_profile="GHD")  # annual from degree days
    dg = customer_demand(_with(ghd), _weather())
    expected = annual_degree_day_heat_kwh(ghd, _weather(), "Europe/Berlin")
    assert dg["heat_demand_w"].sum() / 1000.0 == pytest.approx(expected, rel=0.01)
    bad = _customer("space_heating", bdew_profile="XYZ")
    with pytest.raises(SimulationError, match=r"bdew_profile.*'XYZ'"):
        customer_demand(_with(bad), _weather())


@pytest.mark.parametrize("kind", CUSTOMER_KINDS)
def test_demand_for_kind_is_sized_to_the_site(kind: str) -> None:
    site, w = _site(), _weather()
    d = demand_for_kind(kind, site, w)
    assert list(d.columns) == list(DEMAND_COLUMNS)
    if kind == site.customer.kind:
        pd.testing.assert_frame_equal(d, customer_demand(site, w))
        return
    assert d["heat_demand_w"].mean() == pytest.approx(recoverable_heat_w(site), rel=0.05)
    c = default_customer(kind, site, w)
    assert c.kind == kind
    other = site_with_customer_kind(kind, site, w)
    assert other.customer == c and other.source_path == site.source_path


def test_recoverable_heat_and_unknown_kind() -> None:
    site = _site()
    expected = 60_000.0 * 0.95 * float(np.mean(site.compute.utilisation.hourly_fraction or [0]))
    assert recoverable_heat_w(site) == pytest.approx(expected)
    with pytest.raises(SimulationError, match="unknown customer kind 'sauna'"):
        demand_for_kind("sauna", site, _weather())


def test_site_weather_resolves_relative_paths(tmp_path: Path) -> None:
    assert site_weather(_site()).attrs["source"] == "dwd-try:04"
    text = (EXAMPLES / "pool.yaml").read_text().replace("weather: dwd-try:04", "weather: w.csv")
    (tmp_path / "site.yaml").write_text(text)
    idx = pd.date_range("2025-01-01", periods=8760, freq="h", tz="UTC")
    rows = "\n".join(f"{t.isoformat()},{5.0}" for t in idx)
    (tmp_path / "w.csv").write_text("timestamp,air_temp_c\n" + rows + "\n")
    w = site_weather(load_site(tmp_path / "site.yaml"), year=2025)
    assert len(w) == 8760 and w.attrs["source"] == str(tmp_path / "w.csv")


def test_other_climates_and_timezone_mismatch() -> None:
    # Greensboro weather with a Berlin site: local days are partial at the ends, still fine.
    d = customer_demand(_site(), _weather("pvlib:723170TYA.CSV"))
    assert len(d) == 8760 and not d.isna().any().any()
