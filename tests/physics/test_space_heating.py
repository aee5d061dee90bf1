"""Hourly space heating that reduces exactly to degree days."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from heatreuse.errors import DomainError
from heatreuse.physics import (
    heating_degree_days,
    space_heating_power_w,
    space_heating_return_temp_c,
)


@settings(max_examples=80, deadline=None)
@given(
    temps=arrays(np.float64, (5, 24), elements=st.floats(-25.0, 35.0)),
    h=st.floats(1.0, 1e5),
)
def test_daily_sum_equals_degree_day_heat(temps: np.ndarray, h: float) -> None:
    days = np.repeat(np.arange(5), 24)
    p = space_heating_power_w(temps.ravel(), days, h)
    assert (p >= 0).all()
    daily_wh = p.reshape(5, 24).sum(axis=1)
    expected = h * heating_degree_days(temps.mean(axis=1)) * 24.0
    np.testing.assert_allclose(daily_wh, expected, rtol=1e-9, atol=1e-6)


def test_equals_hourly_heat_loss_when_all_hours_below_base() -> None:
    t = np.linspace(-5.0, 10.0, 24)
    p = space_heating_power_w(t, np.zeros(24, dtype=int), 250.0)
    np.testing.assert_allclose(p, 250.0 * (18.0 - t))


def test_mild_day_has_no_heat() -> None:
    t = np.full(24, 16.0)
    assert space_heating_power_w(t, np.zeros(24, dtype=int), 250.0).sum() == 0.0


def test_shape_mismatch() -> None:
    with pytest.raises(DomainError, match="day_index expected the shape"):
        space_heating_power_w(np.zeros(3), np.zeros(2), 1.0)


def test_return_temperature() -> None:
    ret = space_heating_return_temp_c(np.array([55.0, 35.0]), np.array([1.0, 0.0]), 10.0, 20.0)
    np.testing.assert_allclose(ret, [45.0, 35.0])
    assert space_heating_return_temp_c(21.0, 1.0, 10.0, 20.0) == 20.0
