"""Water properties: published values, interpolation accuracy, domain, shapes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import CoolProp.CoolProp as CP
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatreuse.errors import DomainError
from heatreuse.physics import (
    saturation_pressure_pa,
    saturation_temperature_c,
    sublimation_pressure_pa,
    water,
    water_cp_j_per_kg_k,
    water_density_kg_per_m3,
    water_enthalpy_j_per_kg,
    water_latent_heat_j_per_kg,
    water_property_grid,
)
from heatreuse.physics.water import PRESSURE_MAX_BAR, PRESSURE_MIN_BAR

# --- published numbers ------------------------------------------------------


def test_density_20c_1bar_nist() -> None:
    # NIST Chemistry WebBook, SRD 69, "Thermophysical Properties of Fluid
    # Systems" (IAPWS-95), water, isobaric 0.1 MPa, 20 C: 998.21 kg/m3.
    assert water_density_kg_per_m3(20.0, pressure_bar=1.0) == pytest.approx(998.21, abs=0.005)


def test_cp_25c_nist() -> None:
    # NIST Chemistry WebBook (IAPWS-95), water, 0.101325 MPa, 25 C:
    # cp = 4.1813 kJ/(kg K).
    assert water_cp_j_per_kg_k(25.0, pressure_bar=1.01325) == pytest.approx(4181.3, abs=0.05)


def test_enthalpy_20c_1bar_nist() -> None:
    # NIST Chemistry WebBook (IAPWS-95 reference state), 0.1 MPa, 20 C:
    # h = 84.007 kJ/kg.
    assert water_enthalpy_j_per_kg(20.0, pressure_bar=1.0) == pytest.approx(84006.0, abs=2.0)


def test_density_iapws95_verification_point() -> None:
    # IAPWS R6-95(2018), Table 7 (verification of the single-phase region):
    # T = 300 K, rho = 0.9965560e3 kg/m3 gives p = 0.992418352e-1 MPa.
    # Inverted here: at T = 300 K and that pressure, rho must be 996.556.
    rho = water_density_kg_per_m3(300.0 - 273.15, pressure_bar=0.992418352)
    assert rho == pytest.approx(996.5560, rel=2e-7)


def test_saturation_pressure_100c() -> None:
    # IAPWS-IF97 (and IAPWS-95): p_sat(100 C) = 101.418 kPa.
    assert saturation_pressure_pa(100.0) == pytest.approx(101418.0, abs=1.0)


@pytest.mark.parametrize(
    ("temp_k", "p_mpa"),
    [
        # IAPWS R7-97(2012), Table 35: verification values for eq. (30).
        (300.0, 0.353658941e-2),
        (500.0, 0.263889776e1),
        (600.0, 0.123443146e2),
    ],
)
def test_saturation_pressure_if97_table35(temp_k: float, p_mpa: float) -> None:
    assert saturation_pressure_pa(temp_k - 273.15) == pytest.approx(
        p_mpa * 1e6, rel=1e-8
    )  # 9 digits


@pytest.mark.parametrize(
    ("p_mpa", "temp_k"),
    [
        # IAPWS R7-97(2012), Table 36: verification values for eq. (31).
        (0.1, 0.372755919e3),
        (1.0, 0.453035632e3),
        (10.0, 0.584149488e3),
    ],
)
def test_saturation_temperature_if97_table36(p_mpa: float, temp_k: float) -> None:
    assert saturation_temperature_c(p_mpa * 10.0) + 273.15 == pytest.approx(temp_k, abs=1e-6)


def test_sublimation_pressure_iapws_r14_check_value() -> None:
    # IAPWS R14-08(2011), Table 2 (computer-program verification):
    # T = 230 K -> p_subl = 8.94735e-6 MPa; and p_t = 611.657 Pa at 273.16 K.
    assert sublimation_pressure_pa(230.0 - 273.15) == pytest.approx(8.94735, rel=1e-5)
    assert sublimation_pressure_pa(0.01) == pytest.approx(611.657, rel=1e-9)


@pytest.mark.parametrize(
    ("temp_c", "latent_kj_per_kg"),
    [
        # Cengel & Boles, Thermodynamics, 8th ed., Table A-4 (saturated water,
        # generated from IAPWS-95): h_fg at 25 C = 2441.7, 100 C = 2256.4 kJ/kg.
        (25.0, 2441.7),
        (100.0, 2256.4),
    ],
)
def test_latent_heat_published(temp_c: float, latent_kj_per_kg: float) -> None:
    assert water_latent_heat_j_per_kg(temp_c) / 1000.0 == pytest.approx(latent_kj_per_kg, abs=0.06)


def test_independent_implementation_iapws_package() -> None:
    # The `iapws` package (J. M. Romera) implements IAPWS-95 independently of
    # CoolProp: both must agree to round-off at a few points.
    from iapws import IAPWS95

    for temp_c, p_bar in [(10.0, 2.0), (45.0, 6.0), (90.0, 10.0), (140.0, 16.0)]:
        ref = IAPWS95(T=temp_c + 273.15, P=p_bar / 10.0)
        assert water_density_kg_per_m3(temp_c, p_bar) == pytest.approx(ref.rho, rel=2e-6)
        assert water_cp_j_per_kg_k(temp_c, p_bar) == pytest.approx(ref.cp * 1000.0, rel=2e-5)
        assert water_enthalpy_j_per_kg(temp_c, p_bar) == pytest.approx(ref.h * 1000.0, abs=1.0)


# --- interpolation accuracy against direct IAPWS-95 (CoolProp) ----------------


def _random_liquid_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p_bar = rng.uniform(PRESSURE_MIN_BAR, PRESSURE_MAX_BAR, n)
    tsat = saturation_temperature_c(p_bar)
    # 0.01 C lower bound: CoolProp HEOS refuses direct calls below the triple point.
    temp_c = 0.01 + rng.uniform(0.0, 1.0, n) * (tsat - 0.01) * 0.99999
    return temp_c, p_bar


def test_interpolation_within_001_percent_of_direct_coolprop() -> None:
    temp_c, p_bar = _random_liquid_points(4000, seed=7)
    t_k, p_pa = temp_c + 273.15, p_bar * 1e5
    rho = CP.PropsSI("D", "T", t_k, "P", p_pa, "HEOS::Water")
    cp = CP.PropsSI("C", "T", t_k, "P", p_pa, "HEOS::Water")
    h = CP.PropsSI("H", "T", t_k, "P", p_pa, "HEOS::Water")
    assert np.max(np.abs(water_density_kg_per_m3(temp_c, p_bar) / rho - 1.0)) < 1e-6
    assert np.max(np.abs(water_cp_j_per_kg_k(temp_c, p_bar) / cp - 1.0)) < 2e-5
    # Enthalpy differences (what metering uses), over 0.5..60 K.
    rng = np.random.default_rng(8)
    lower_c = np.maximum(temp_c - rng.uniform(0.5, 60.0, temp_c.size), 0.01)
    keep = temp_c - lower_c > 0.4
    h_low = CP.PropsSI("H", "T", lower_c + 273.15, "P", p_pa, "HEOS::Water")
    ours = water_enthalpy_j_per_kg(temp_c, p_bar) - water_enthalpy_j_per_kg(lower_c, p_bar)
    rel = np.abs(ours[keep] / (h - h_low)[keep] - 1.0)
    assert np.max(rel) < 1e-5  # promised: < 0.01 % = 1e-4


def test_small_temperature_difference_enthalpy_is_exact() -> None:
    # Hermite interpolation keeps dh/dT = cp even inside one grid cell.
    t = 41.23
    dh = water_enthalpy_j_per_kg(t + 0.01) - water_enthalpy_j_per_kg(t)
    direct = CP.PropsSI("H", "T", t + 273.16, "P", 6e5, "HEOS::Water") - CP.PropsSI(
        "H", "T", t + 273.15, "P", 6e5, "HEOS::Water"
    )
    assert dh == pytest.approx(direct, rel=1e-6)


# --- shapes and types ---------------------------------------------------------


def test_scalar_in_float_out_array_in_array_out() -> None:
    assert type(water_density_kg_per_m3(50.0)) is float
    assert type(water_density_kg_per_m3(np.float64(50.0))) is float
    assert type(saturation_pressure_pa(50.0)) is float
    assert type(water_latent_heat_j_per_kg(30.0)) is float
    out = water_density_kg_per_m3(np.array([10.0, 50.0, 90.0]))
    assert isinstance(out, np.ndarray)
    assert out.shape == (3,)
    # A scalar temperature with an array of pressures broadcasts.
    out2 = water_enthalpy_j_per_kg(50.0, np.array([1.0, 6.0, 16.0]))
    assert out2.shape == (3,)
    assert np.all(np.diff(out2) > 0)  # (dh/dp)_T > 0 for liquid water at 50 C
    grid = water_cp_j_per_kg_k(np.full((4, 5), 30.0), 3.0)
    assert grid.shape == (4, 5)


def test_array_and_scalar_paths_agree() -> None:
    temps = np.linspace(0.0, 150.0, 61)
    arr = water_enthalpy_j_per_kg(temps, 6.0)
    for t, a in zip(temps, arr, strict=True):
        assert water_enthalpy_j_per_kg(float(t), 6.0) == pytest.approx(a, rel=1e-13, abs=1e-9)


def test_large_array() -> None:
    temps = np.random.default_rng(0).uniform(5.0, 95.0, 1_000_000)
    rho = water_density_kg_per_m3(temps)
    assert rho.shape == temps.shape
    assert np.all((rho > 960.0) & (rho < 1000.5))


# --- domain -------------------------------------------------------------------


@pytest.mark.parametrize("temp_c", [-0.5, 158.9, 200.0])
def test_outside_liquid_raises(temp_c: float) -> None:
    # Boiling point at 6 bar is 158.83 C (IF97 eq. 31).
    with pytest.raises(DomainError, match="liquid water"):
        water_density_kg_per_m3(temp_c, 6.0)


def test_at_boiling_point_raises() -> None:
    tsat = saturation_temperature_c(6.0)
    with pytest.raises(DomainError, match=r"boiling point \(158\.83 C"):
        water_cp_j_per_kg_k(tsat, 6.0)
    assert water_cp_j_per_kg_k(tsat - 1e-6, 6.0) > 4000.0


def test_array_error_names_element() -> None:
    with pytest.raises(DomainError, match=r"element 2 of 3"):
        water_enthalpy_j_per_kg(np.array([20.0, 50.0, 101.0]), 1.01325)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_and_inf_raise(bad: float) -> None:
    with pytest.raises(DomainError, match="finite"):
        water_density_kg_per_m3(bad)


@pytest.mark.parametrize("p_bar", [0.05, 41.0, -1.0])
def test_pressure_out_of_range_raises(p_bar: float) -> None:
    with pytest.raises(DomainError, match="pressure_bar"):
        water_density_kg_per_m3(20.0, p_bar)


def test_other_domains() -> None:
    with pytest.raises(DomainError):
        saturation_pressure_pa(-1.0)
    with pytest.raises(DomainError):
        saturation_pressure_pa(374.0)
    with pytest.raises(DomainError):
        water_latent_heat_j_per_kg(250.0)
    with pytest.raises(DomainError):
        sublimation_pressure_pa(5.0)
    with pytest.raises(DomainError):
        saturation_temperature_c(300.0)


# --- properties (hypothesis) ----------------------------------------------------

liquid_temp = st.floats(min_value=0.0, max_value=150.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(t1=liquid_temp, t2=liquid_temp)
def test_enthalpy_increases_with_temperature(t1: float, t2: float) -> None:
    lo, hi = sorted((t1, t2))
    if hi - lo < 1e-3:
        return
    assert water_enthalpy_j_per_kg(hi) > water_enthalpy_j_per_kg(lo)


@settings(max_examples=200, deadline=None)
@given(t=st.floats(min_value=0.0, max_value=370.0, allow_nan=False))
def test_saturation_roundtrip(t: float) -> None:
    p_bar = saturation_pressure_pa(t) / 1e5
    if p_bar < 611.213e-5:
        return
    assert saturation_temperature_c(p_bar) == pytest.approx(t, abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(t=st.floats(min_value=4.0, max_value=150.0, allow_nan=False))
def test_density_decreases_above_4c(t: float) -> None:
    # Water's density maximum is at 3.98 C (IAPWS-95); above it rho falls with T.
    assert water_density_kg_per_m3(t + 0.5) < water_density_kg_per_m3(t)


def test_property_grid_for_compiled_kernels() -> None:
    grid = water_property_grid(6.0)
    assert grid.temp_c[0] == 0.0
    assert grid.temp_c[-1] == pytest.approx(saturation_temperature_c(6.0), abs=1e-5)
    temps = np.random.default_rng(3).uniform(0.0, 158.0, 5000)
    rho = np.interp(temps, grid.temp_c, grid.density_kg_per_m3)
    cp = np.interp(temps, grid.temp_c, grid.cp_j_per_kg_k)
    h = np.interp(temps, grid.temp_c, grid.enthalpy_j_per_kg)
    assert np.max(np.abs(rho / water_density_kg_per_m3(temps) - 1.0)) < 1e-6
    assert np.max(np.abs(cp / water_cp_j_per_kg_k(temps) - 1.0)) < 5e-6
    assert np.max(np.abs(h - water_enthalpy_j_per_kg(temps))) < 0.15
    assert water_property_grid(6.0) is grid  # cached
    with pytest.raises(DomainError, match="step_k"):
        water_property_grid(6.0, step_k=0.0)


# --- the shipped IAPWS-95 tables ----------------------------------------------


def test_shipped_tables_are_coolprop_on_todays_grid() -> None:
    # The file in the package is what CoolProp gives on the grid the module defines now
    # (regenerate with `python -m heatreuse.physics.water` after changing the grid).
    with np.load(water.TABLES_FILE) as data:
        shipped = {k: data[k] for k in data.files}
    computed = water.compute_tables()
    assert shipped.keys() == computed.keys()
    for key, values in computed.items():
        np.testing.assert_allclose(shipped[key], values, rtol=1e-12, atol=0.0, err_msg=key)


def test_properties_come_from_the_shipped_tables_without_coolprop() -> None:
    code = (
        "import sys; from heatreuse.physics import water as w; "
        "print(w.water_latent_heat_j_per_kg(30.0), w.water_cp_j_per_kg_k(40.0, 3.0), "
        "'CoolProp' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out[2] == "False"
    assert float(out[0]) == pytest.approx(
        CP.PropsSI("H", "T", 303.15, "Q", 1, "HEOS::Water")
        - CP.PropsSI("H", "T", 303.15, "Q", 0, "HEOS::Water"),
        rel=1e-7,
    )
    assert float(out[1]) == pytest.approx(
        CP.PropsSI("C", "T", 313.15, "P", 3e5, "HEOS::Water"), rel=2e-5
    )


def test_a_stale_table_file_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with np.load(water.TABLES_FILE) as data:
        stale = {k: data[k] for k in data.files}
    stale["pressure_bar"] = stale["pressure_bar"] * 1.01  # written on another grid
    stale["rho"] = stale["rho"] * 2.0
    path = tmp_path / "stale.npz"
    np.savez(path, **stale)
    monkeypatch.setattr(water, "TABLES_FILE", path)
    monkeypatch.setattr(water, "compute_tables", lambda: {"computed": np.zeros(1)})
    water._tables.cache_clear()
    try:
        assert set(water._tables()) == {"computed"}
    finally:
        water._tables.cache_clear()
