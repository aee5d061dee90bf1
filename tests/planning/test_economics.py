"""Capex, payback and NPV (heatreuse.planning.economics)."""

from __future__ import annotations

import math

import pytest

from heatreuse.errors import DomainError
from heatreuse.planning.economics import (
    LIFETIME_YEARS,
    annuity_factor,
    capex_breakdown,
    cash_flow,
    npv_eur,
    simple_payback_years,
    site_capex,
)
from heatreuse.site import Site


def test_site_capex_from_tariffs(pool_site: Site) -> None:
    # pool.yaml: fixed 40,000 + 10 m3 x 1,500 + HX 8,000 + 60 m x 350, no heat pump.
    capex = site_capex(pool_site)
    assert capex.fixed_eur == 40000
    assert capex.tank_eur == pytest.approx(15000)
    assert capex.pipe_eur == pytest.approx(21000)
    assert capex.heat_pump_eur == 0
    assert capex.total_eur == pytest.approx(84000)
    assert capex.as_dict()["total_eur"] == pytest.approx(84000)


def test_reject_option_builds_only_the_tie_in(pool_site: Site) -> None:
    capex = site_capex(pool_site, reuse_plant=False)
    assert capex.total_eur == pytest.approx(pool_site.contract.tariffs.capex.heat_exchanger_eur)


def test_heat_pump_priced_per_kw(pool_site: Site) -> None:
    prices = pool_site.contract.tariffs.capex.model_copy(update={"heat_pump_eur_per_kw": 600.0})
    capex = capex_breakdown(prices, tank_volume_m3=0, pipe_length_m=0, heat_pump_max_heat_w=50e3)
    assert capex.heat_pump_eur == pytest.approx(30000)


def test_capex_rejects_negative_sizes(pool_site: Site) -> None:
    with pytest.raises(DomainError, match="tank_volume_m3"):
        capex_breakdown(pool_site.contract.tariffs.capex, tank_volume_m3=-1, pipe_length_m=0)


def test_payback_and_npv() -> None:
    assert simple_payback_years(100000, 20000) == pytest.approx(5.0)
    assert simple_payback_years(100000, 0) is None
    assert simple_payback_years(100000, -5) is None
    assert simple_payback_years(0, 0) == 0.0
    # Annuity factor at 6 % over 15 years: (1 - 1.06^-15) / 0.06 = 9.7122 (standard tables).
    assert annuity_factor(0.06, 15) == pytest.approx(9.712249, rel=1e-6)
    assert annuity_factor(0.0, 15) == 15
    assert npv_eur(100000, 20000, 0.0, 10) == pytest.approx(100000)
    assert npv_eur(100000, 20000, 0.06) == pytest.approx(-100000 + 20000 * 9.712249, rel=1e-6)
    assert LIFETIME_YEARS == 15


def test_cash_flow_counts_reuse_electricity(pool_site: Site) -> None:
    t = pool_site.contract.tariffs
    flow = cash_flow(
        t,
        heat_delivered_kwh=1000.0,
        pump_electricity_kwh=10.0,
        heat_pump_electricity_kwh=5.0,
        backup_fuel_kwh=100.0,
    )
    assert flow.heat_revenue_eur_per_year == pytest.approx(1000 * t.heat_sale_eur_per_kwh)
    assert flow.energy_cost_eur_per_year == pytest.approx(15 * t.electricity_eur_per_kwh)
    assert flow.backup_fuel_cost_eur_per_year == pytest.approx(100 * t.backup_fuel_eur_per_kwh)
    assert math.isclose(
        flow.net_cash_flow_eur_per_year,
        flow.heat_revenue_eur_per_year - flow.opex_eur_per_year - flow.energy_cost_eur_per_year,
    )
