"""Building blocks of the measured-vs-model attribution (heatreuse.planning.replay)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heatreuse.physics.metering import heat_coefficient_kwh_per_m3_k
from heatreuse.planning.replay import (
    _balance_power_w,
    _match_reject_to_backup,
    _reversals_per_hour,
    _sustained,
)

HOURS = pd.date_range("2026-01-06T00:00Z", periods=4, freq="h")


def test_rejected_heat_covers_later_backup_within_the_horizon_once() -> None:
    n = 40
    rej = np.zeros(n)
    bkp = np.zeros(n)
    rej[0] = 16.0  # thrown away at night
    bkp[5] = 6.0  # extra backup next morning: covered
    bkp[6] = 6.0  # covered, 4 kWh of hour 0 left
    bkp[30] = 5.0  # hour 0 is more than 24 h back: only hour 29's 1 kWh
    rej[29] = 1.0
    cap = np.full(n, 100.0)
    out = _match_reject_to_backup(rej, bkp, cap, 24)
    assert out[5] == pytest.approx(6.0)
    assert out[6] == pytest.approx(6.0)
    assert out[30] == pytest.approx(1.0)
    assert out.sum() == pytest.approx(13.0)
    # an hour's own residual caps what it takes; the rest stays for later hours
    capped = _match_reject_to_backup(rej, bkp, np.where(np.arange(n) == 5, 2.0, 100.0), 24)
    assert capped[5] == pytest.approx(2.0) and capped[6] == pytest.approx(6.0)


def test_less_rejection_later_cancels_noise() -> None:
    rej = np.array([3.0, -3.0, 0.0])
    bkp = np.array([0.0, 0.0, 3.0])
    assert _match_reject_to_backup(rej, bkp, np.full(3, 10.0), 24).sum() == 0.0


def test_reversals_count_oscillation_not_a_dip_or_noise() -> None:
    minutes = pd.date_range(HOURS[0], periods=240, freq="min")
    t = np.arange(240)
    rng = np.random.default_rng(1)
    hunting = pd.Series(40.0 + 2.0 * np.sin(2 * np.pi * t / 10.0), index=minutes)
    dip = pd.Series(np.where((t > 30) & (t < 45), 34.0, 40.0), index=minutes)
    noise = pd.Series(40.0 + rng.normal(0.0, 0.05, 240), index=minutes)
    assert np.all(_reversals_per_hour(hunting, HOURS) >= 10)
    assert _reversals_per_hour(dip, HOURS).sum() <= 2
    assert _reversals_per_hour(noise, HOURS).sum() == 0


def test_sustained_keeps_runs_only() -> None:
    mask = np.array([True, False, True, True, False, True, True, True])
    assert _sustained(mask, 2).tolist() == [False, False, True, True, False, True, True, True]


def test_heat_balance_uses_the_en1434_coefficient() -> None:
    minutes = pd.date_range(HOURS[0], periods=3, freq="min")
    frame = pd.DataFrame(
        {
            "flow_m3_per_h": [3.0, 3.0, 3.0],
            "meter_supply_temp_c": [45.0, 30.0, np.nan],  # reversed pair: no heat
            "meter_return_temp_c": [35.0, 31.0, 35.0],
            "meter_power_w": [34_000.0, 0.0, 1.0],
        },
        index=minutes,
    )
    balance, power = _balance_power_w(frame, 3.0)
    k = heat_coefficient_kwh_per_m3_k(45.0, 35.0, "return", 3.0)
    assert len(balance) == 2  # the minute without a supply temperature is left out
    assert balance.iloc[0] == pytest.approx(k * 3.0 * 10.0 * 1000.0)
    assert balance.iloc[1] == 0.0
    assert power.iloc[0] == 34_000.0
