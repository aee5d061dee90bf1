"""Avoided emissions (WBCSD guidance; formula in shared/reference/standards.md)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatreuse import carbon
from heatreuse.errors import DomainError
from heatreuse.units import kg_per_tj_to_kg_per_kwh

# IPCC 2006 Guidelines, Vol. 2, ch. 2, Table 2.2: natural gas 56,100 kg CO2/TJ
# (net calorific value) -> 0.20196 kg CO2/kWh.
GAS_KG_PER_KWH = kg_per_tj_to_kg_per_kwh(56_100.0)


def test_ipcc_gas_factor_conversion() -> None:
    factor = kg_per_tj_to_kg_per_kwh(56_100.0)
    assert factor == pytest.approx(0.20196, abs=1e-5)


def test_gas_boiler_counterfactual_hand_computed() -> None:
    # 100 MWh delivered, condensing gas boiler eta = 0.9 (net CV):
    # 100,000 * 0.20196 / 0.9 = 22,440 kg avoided.
    assert carbon.avoided_emissions_kg(100_000.0, GAS_KG_PER_KWH, 0.9) == pytest.approx(
        22_440.0, rel=1e-5
    )
    assert carbon.displaced_fuel_kwh(100_000.0, 0.9) == pytest.approx(111_111.11, rel=1e-7)


def test_with_heat_pump_and_aux_electricity() -> None:
    # Heat pump lifts waste heat, COP 4: W_hp = 25,000 kWh; pumps 2,000 kWh;
    # grid 0.35 kg/kWh (location-based): 22,440 - 27,000 * 0.35 = 12,990 kg.
    e = carbon.avoided_emissions_kg(100_000.0, GAS_KG_PER_KWH, 0.9, 25_000.0, 2_000.0, 0.35)
    assert e == pytest.approx(22_440.0 - 27_000.0 * 0.35, rel=1e-5)


def test_heat_pump_counterfactual_can_go_negative() -> None:
    # Displaced heat would have come from a heat pump with SCOP 3 on a 0.35 grid:
    # 0.1167 kg per kWh of heat. Our own heat pump (COP 3.5) + pumps emit more.
    ef_heat = carbon.heat_pump_counterfactual_factor_kg_per_kwh(0.35, 3.0)
    assert ef_heat == pytest.approx(0.35 / 3.0)
    e = carbon.avoided_emissions_kg(100_000.0, ef_heat, 1.0, 100_000.0 / 3.5, 8_000.0, 0.35)
    assert e == pytest.approx(100_000.0 * 0.35 / 3.0 - (100_000.0 / 3.5 + 8_000.0) * 0.35)
    assert e < 0.0


def test_arrays_and_types() -> None:
    monthly = carbon.avoided_emissions_kg(np.full(12, 8_000.0), GAS_KG_PER_KWH, 0.95)
    assert isinstance(monthly, np.ndarray) and monthly.shape == (12,)
    assert type(carbon.avoided_emissions_kg(8_000.0, GAS_KG_PER_KWH, 0.95)) is float


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reference_efficiency": 90.0}, "not percent"),
        ({"reference_efficiency": 0.0}, r"a fraction in \(0, 1.2\]"),
        ({"reference_efficiency": 1.25}, "reference_efficiency"),
        ({"heat_delivered_kwh": -1.0}, "heat_delivered_kwh expected >= 0"),
        ({"fuel_factor_kg_per_kwh": -0.2}, "fuel_factor_kg_per_kwh expected >= 0"),
        ({"heat_pump_electricity_kwh": -5.0}, "heat_pump_electricity_kwh expected >= 0"),
        ({"aux_electricity_kwh": float("nan")}, "finite"),
        ({"grid_factor_kg_per_kwh": -0.1}, "grid_factor_kg_per_kwh expected >= 0"),
    ],
)
def test_domain_errors(kwargs: dict[str, float], match: str) -> None:
    args: dict[str, float] = {
        "heat_delivered_kwh": 1000.0,
        "fuel_factor_kg_per_kwh": 0.2,
        "reference_efficiency": 0.9,
    }
    args.update(kwargs)
    with pytest.raises(DomainError, match=match):
        carbon.avoided_emissions_kg(**args)


def test_counterfactual_scop_below_one_rejected() -> None:
    with pytest.raises(DomainError, match="seasonal_cop"):
        carbon.heat_pump_counterfactual_factor_kg_per_kwh(0.3, 0.5)


@settings(max_examples=300, deadline=None)
@given(
    q=st.floats(0.0, 1e7),
    ef=st.floats(0.0, 0.5),
    eta=st.floats(0.5, 1.2),
    w=st.floats(0.0, 1e6),
    grid=st.floats(0.0, 1.0),
)
def test_properties(q: float, ef: float, eta: float, w: float, grid: float) -> None:
    e = carbon.avoided_emissions_kg(q, ef, eta, w, 0.0, grid)
    # Linear: gross avoided minus electricity emissions.
    assert e == pytest.approx(q * ef / eta - w * grid, rel=1e-9, abs=1e-6)
    # Conservative direction: a more efficient reference avoids less.
    assert carbon.avoided_emissions_kg(q, ef, min(eta * 1.1, 1.2), w, 0.0, grid) <= e + 1e-6
    # More electricity never increases avoided emissions.
    assert carbon.avoided_emissions_kg(q, ef, eta, w + 1.0, 0.0, grid) <= e + 1e-12
