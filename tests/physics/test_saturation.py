"""The numpy-free saturation line (IAPWS-IF97 region 4) used by the site loader."""

from __future__ import annotations

import numpy as np
import pytest

from heatreuse.errors import DomainError
from heatreuse.physics import saturation_pressure_pa, saturation_temperature_c
from heatreuse.physics.saturation import boiling_temp_c, psat_pa, tsat_k


@pytest.mark.parametrize("pressure_bar", [0.00612, 0.1, 1.01325, 3.0, 6.0, 40.0, 150.0, 220.64])
def test_boiling_temp_is_the_saturation_temperature(pressure_bar: float) -> None:
    assert boiling_temp_c(pressure_bar) == pytest.approx(
        saturation_temperature_c(pressure_bar), rel=1e-13
    )


def test_if97_table_35_and_36_check_values() -> None:
    # IAPWS R7-97(2012), Tables 35 and 36 (region 4 verification values).
    assert psat_pa(300.0) == pytest.approx(0.353658941e4, rel=1e-8)
    assert psat_pa(500.0) == pytest.approx(0.263889776e7, rel=1e-8)
    assert tsat_k(0.1e6) == pytest.approx(0.372755919e3, rel=1e-8)
    assert tsat_k(10e6) == pytest.approx(0.584149488e3, rel=1e-8)


def test_floats_and_arrays_alike() -> None:
    temps_k = np.array([300.0, 373.15, 500.0])
    np.testing.assert_allclose(psat_pa(temps_k), [psat_pa(float(t)) for t in temps_k], rtol=1e-14)
    np.testing.assert_allclose(
        psat_pa(temps_k), saturation_pressure_pa(temps_k - 273.15), rtol=1e-14
    )


@pytest.mark.parametrize("pressure_bar", [0.001, 221.0, 300.0])
def test_outside_the_saturation_line_raises(pressure_bar: float) -> None:
    with pytest.raises(DomainError, match=r"boiling_temp_c: pressure_bar expected .* got"):
        boiling_temp_c(pressure_bar)
