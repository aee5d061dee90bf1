"""The heat-demand matrix and fit verdicts (heatreuse.planning.matrix)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heatreuse.planning import StudyResult
from heatreuse.planning.matrix import (
    HX_APPROACH_K,
    available_supply_temp_c,
    demand_profile,
    matrix_frame,
)
from heatreuse.site import Site
from heatreuse.site.model import CUSTOMER_KINDS, Cooling


def _flat_demand(
    power_w: np.ndarray, supply_c: float = 30.0, start: str = "2025-01-01"
) -> pd.DataFrame:
    index = pd.date_range(start, periods=len(power_w), freq="h", tz="UTC", name="time")
    return pd.DataFrame(
        {
            "heat_demand_w": power_w,
            "supply_temp_required_c": supply_c,
            "return_temp_c": supply_c - 10,
            "operating": True,
            "air_temp_c": 5.0,
        },
        index=index,
    )


def _air_cooled_without_backup(site: Site) -> Site:
    cooling = Cooling(
        architecture="air",
        heat_capture_fraction=0.6,
        coolant_supply_temp_c=25,
        coolant_return_temp_c=35,
        max_coolant_return_temp_c=40,
    )
    compute = site.compute.model_copy(update={"cooling": cooling})
    plant = site.plant.model_copy(update={"backup_boiler": None, "heat_pump": None})
    return site.model_copy(update={"compute": compute, "plant": plant})


def test_needs_70_c_without_backup_is_a_poor_fit(pool_site: Site) -> None:
    site = _air_cooled_without_backup(pool_site)
    recoverable = 60e3 * 0.6 * 0.78  # about the pool site's mean recoverable heat [W]
    demand = _flat_demand(np.full(8760, recoverable), supply_c=70.0)
    profile = demand_profile(site, site.customer, demand, is_site_customer=True)
    assert profile.fit.verdict == "poor"
    texts = [r.text for r in profile.fit.reasons if r.severity == "major"]
    assert any("needs 70 C without backup" in t and "air-cooled" in t for t in texts), texts
    assert profile.available_supply_temp_c == pytest.approx(35 - HX_APPROACH_K)
    assert profile.demand_above_available_temp_fraction == pytest.approx(1.0)


def test_summer_demand_low_means_heat_rejected_in_summer(pool_site: Site) -> None:
    index = pd.date_range("2025-01-01", periods=8760, freq="h", tz="UTC")
    summer = np.isin(index.month, [6, 7, 8])
    power = np.where(summer, 8e3, 40e3)
    profile = demand_profile(
        pool_site, pool_site.customer, _flat_demand(power), is_site_customer=True
    )
    assert profile.summer_to_winter_demand_fraction == pytest.approx(0.2, abs=0.01)
    reasons = [r.text for r in profile.fit.reasons]
    assert any("demand in summer only 20% of winter: heat rejected in summer" in t for t in reasons)
    assert profile.fit.verdict in ("fair", "poor")


def test_small_customer_rejects_most_heat(pool_site: Site) -> None:
    demand = _flat_demand(np.full(8760, 2e3))
    profile = demand_profile(pool_site, pool_site.customer, demand, is_site_customer=True)
    assert profile.demand_to_recoverable_fraction < 0.25
    assert profile.fit.verdict == "poor"
    assert any("most heat is rejected" in r.text for r in profile.fit.reasons)


def test_monthly_values_add_up_and_use_local_months(
    pool_study: StudyResult, pool_site: Site
) -> None:
    own = pool_study.matrix[0]
    assert own.is_site_customer and own.kind == "pool"
    assert len(own.monthly_heat_demand_kwh) == 12
    assert sum(own.monthly_heat_demand_kwh) == pytest.approx(own.heat_demand_kwh, rel=1e-9)
    assert own.heat_demand_kwh == pytest.approx(pool_study.summary["heat_demand_kwh"], rel=1e-6)
    # Pool opening hours: 5 x 16 h + 2 x 12 h = 104 h a week.
    assert own.operating_hours_per_week_h == pytest.approx(104)
    assert own.interruption_tolerance_h == 4
    assert own.supply_band_min_temp_c == 32
    assert own.required_supply_temp_c >= own.supply_band_min_temp_c - 1e-9
    assert own.available_supply_temp_c == pytest.approx(available_supply_temp_c(pool_site))


def test_compare_models_matrix_has_every_kind(pool_study: StudyResult) -> None:
    kinds = [p.kind for p in pool_study.matrix]
    assert sorted(kinds) == sorted(CUSTOMER_KINDS)
    assert kinds[0] == "pool"
    for p in pool_study.matrix:
        assert p.fit.verdict in ("good", "fair", "poor")
        assert p.fit.reasons
    simulated = {p.kind for p in pool_study.matrix if p.demand_coverage_fraction is not None}
    assert simulated == {"pool", "district_preheat", "dhw_preheat", "greenhouse"}
    frame = matrix_frame(pool_study.matrix)
    assert "heat_demand_jan_kwh" in frame.columns and len(frame) == len(CUSTOMER_KINDS)
