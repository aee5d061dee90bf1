"""Domestic hot water: heat, draw profiles, mains temperature."""

from __future__ import annotations

import numpy as np
import pytest

from heatreuse.errors import DomainError
from heatreuse.physics import cold_water_temp_c, dhw_draw_fractions, dhw_heat_kwh
from heatreuse.physics.dhw import DHW_DRAW_PROFILES


def test_1000_l_from_10_to_60_c() -> None:
    # IAPWS-95: rho(10 C) = 999.7 kg/m3, h(60) - h(10) = 209.3 kJ/kg -> 58.1 kWh
    # (the 1.163 kWh/(m3 K) shortcut gives 58.15 kWh).
    assert dhw_heat_kwh(1000.0, 10.0, 60.0) == pytest.approx(58.1, abs=0.1)


def test_arrays_and_zero_lift() -> None:
    got = dhw_heat_kwh(np.array([0.0, 500.0, 1000.0]), 10.0, np.array([60.0, 60.0, 10.0]))
    assert isinstance(got, np.ndarray)
    assert got[0] == 0.0 and got[2] == 0.0
    assert got[1] == pytest.approx(dhw_heat_kwh(1000.0, 10.0, 60.0) / 2)


def test_domain_errors() -> None:
    with pytest.raises(DomainError, match="volume_l expected >= 0"):
        dhw_heat_kwh(-1.0, 10.0, 60.0)
    with pytest.raises(DomainError, match="hot_temp_c expected at or above cold_temp_c"):
        dhw_heat_kwh(1.0, 60.0, 10.0)
    with pytest.raises(DomainError, match="profile expected one of"):
        dhw_draw_fractions("spa")


@pytest.mark.parametrize("profile", sorted(DHW_DRAW_PROFILES))
def test_profiles_sum_to_one(profile: str) -> None:
    f = dhw_draw_fractions(profile)
    assert f.shape == (24,)
    assert f.sum() == pytest.approx(1.0)
    assert (f >= 0).all()


def test_residential_is_eu_812_2013_profile_m() -> None:
    # Regulation (EU) 812/2013 Annex VII Table 7, load profile M: 5.845 kWh/day with
    # showers of 1.4 kWh at 07:05 and 21:30 and dishwashing 0.315 kWh at 12:45.
    f = dhw_draw_fractions("residential") * 5.845
    assert f[7] == pytest.approx(1.61)
    assert f[21] == pytest.approx(1.505)
    assert f[12] == pytest.approx(0.315)
    assert f[0:7].sum() == 0.0


def test_cold_water_peaks_in_late_summer() -> None:
    days = np.arange(1.0, 366.0)
    t = cold_water_temp_c(days, 11.0, 4.0)
    assert days[np.argmax(t)] == 240.0
    assert t.max() == pytest.approx(15.0)
    assert t.min() == pytest.approx(7.0, abs=1e-3)
    assert t.mean() == pytest.approx(11.0, abs=1e-3)
    assert cold_water_temp_c(1.0, 2.0, 4.0) == 0.5  # never below liquid mains water
