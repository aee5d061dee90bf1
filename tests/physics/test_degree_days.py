"""Heating degree days, Eurostat rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from heatreuse.errors import DomainError
from heatreuse.physics import heating_degree_days


def test_eurostat_examples() -> None:
    # Eurostat nrg_chdd metadata: HDD = 18 - Tm if Tm <= 15 C, else 0.
    assert heating_degree_days(10.0) == 8.0
    assert heating_degree_days(15.0) == 3.0
    assert heating_degree_days(15.1) == 0.0
    assert heating_degree_days(-5.0) == 23.0


def test_array_is_per_day() -> None:
    got = heating_degree_days(np.array([0.0, 14.0, 16.0, 20.0]))
    np.testing.assert_allclose(got, [18.0, 4.0, 0.0, 0.0])


def test_other_base_and_threshold() -> None:
    assert heating_degree_days(10.0, base_temp_c=20.0, threshold_temp_c=12.0) == 10.0
    with pytest.raises(DomainError, match="threshold_temp_c expected at or below base_temp_c"):
        heating_degree_days(10.0, base_temp_c=15.0, threshold_temp_c=16.0)


@given(st.lists(st.floats(-40.0, 45.0), min_size=1, max_size=50))
def test_non_negative_and_zero_above_threshold(temps: list[float]) -> None:
    t = np.array(temps)
    hdd = heating_degree_days(t)
    assert (hdd >= 0).all()
    assert (hdd[t > 15.0] == 0).all()
    np.testing.assert_allclose(hdd[t <= 15.0], 18.0 - t[t <= 15.0])
