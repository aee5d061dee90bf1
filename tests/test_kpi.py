"""ISO/IEC 30134 KPIs and The Green Grid ERE."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatreuse import kpi
from heatreuse.errors import DomainError

# Hand-computed example site for one year (numbers chosen, not measured):
# E_IT = 1,000,000 kWh; cooling 200,000 kWh; power delivery + other 100,000 kWh
# -> E_DC = 1,300,000 kWh; heat reused outside the boundary 390,000 kWh;
# renewable (retired GoOs) 650,000 kWh; water 1,800,000 L; emissions
# 0.4 kg/kWh * 1.3 GWh = 520,000 kg; heat removed by cooling 1,100,000 kWh.
E_IT = 1_000_000.0
E_DC = 1_300_000.0
E_REUSE = 390_000.0


def test_pue_iso_30134_2() -> None:
    # ISO/IEC 30134-2: PUE = E_DC / E_IT = 1.3
    assert kpi.pue(E_DC, E_IT) == pytest.approx(1.3)


def test_pue_enefg_upgrade_exclusion() -> None:
    # EnEfG section 11: a heat pump upgrading waste heat for a customer uses
    # 80,000 kWh, metered inside E_DC; excluded from the PUE numerator.
    assert kpi.pue(E_DC + 80_000.0, E_IT, upgrade_only_energy_kwh=80_000.0) == pytest.approx(1.3)
    assert kpi.pue(E_DC + 80_000.0, E_IT) == pytest.approx(1.38)


def test_erf_iso_30134_6() -> None:
    # ERF = E_Reuse / E_DC = 390,000 / 1,300,000 = 0.3
    assert kpi.erf(E_REUSE, E_DC) == pytest.approx(0.3)


def test_ere_green_grid() -> None:
    # ERE = (E_DC - E_Reuse) / E_IT = 910,000 / 1,000,000 = 0.91, below 1.
    assert kpi.ere(E_DC, E_REUSE, E_IT) == pytest.approx(0.91)
    # identity ERE = (1 - ERF) * PUE (The Green Grid WP#29)
    assert kpi.ere(E_DC, E_REUSE, E_IT) == pytest.approx(
        (1.0 - kpi.erf(E_REUSE, E_DC)) * kpi.pue(E_DC, E_IT)
    )


def test_ref_iso_30134_3_with_cap() -> None:
    assert kpi.ref(650_000.0, E_DC) == pytest.approx(0.5)
    # Surplus renewable certificates do not push REF above 1 (ISO/IEC 30134-3).
    assert kpi.ref(2_000_000.0, E_DC) == 1.0


def test_wue_cue_cer() -> None:
    assert kpi.wue(1_800_000.0, E_IT) == pytest.approx(1.8)  # L/kWh, ISO/IEC 30134-9
    # CUE = CO2(E_DC) / E_IT = 0.4 * 1.3 = 0.52 kg/kWh = EF x PUE (ISO/IEC 30134-8)
    assert kpi.cue(0.4 * E_DC, E_IT) == pytest.approx(0.52)
    assert kpi.cue(0.4 * E_DC, E_IT) == pytest.approx(0.4 * kpi.pue(E_DC, E_IT))
    # CER = Q_removed / E_cooling = 1,100,000 / 200,000 = 5.5 (ISO/IEC 30134-7)
    assert kpi.cer(1_100_000.0, 200_000.0) == pytest.approx(5.5)


def test_monthly_arrays() -> None:
    it = np.full(12, E_IT / 12)
    total = it * np.linspace(1.2, 1.4, 12)
    p = kpi.pue(total, it)
    assert isinstance(p, np.ndarray) and p.shape == (12,)
    np.testing.assert_allclose(p, np.linspace(1.2, 1.4, 12))
    assert type(kpi.pue(E_DC, E_IT)) is float


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: kpi.pue(1300.0, 0.0), "it_energy_kwh expected IT energy > 0"),
        (lambda: kpi.pue(1300.0, -5.0), "it_energy_kwh expected IT energy > 0"),
        (lambda: kpi.pue(900.0, 1000.0), "total_energy_kwh expected a total"),
        (lambda: kpi.pue(-1.0, 1000.0), "total_energy_kwh expected >= 0"),
        (lambda: kpi.pue(1300.0, 1000.0, 2000.0), "upgrade_only_energy_kwh expected a part"),
        (lambda: kpi.pue(1300.0, 1000.0, 400.0), "total_energy_kwh expected a total"),
        (lambda: kpi.erf(1400.0, 1300.0), r"ERF is in \[0, 1\]"),
        (lambda: kpi.erf(-1.0, 1300.0), "reused_energy_kwh expected >= 0"),
        (lambda: kpi.erf(10.0, 0.0), "total_energy_kwh expected total energy > 0"),
        (lambda: kpi.ere(1300.0, 1400.0, 1000.0), "reused_energy_kwh expected <="),
        (lambda: kpi.ere(900.0, 0.0, 1000.0), "total_energy_kwh expected a total"),
        (lambda: kpi.ere(1300.0, 0.0, 0.0), "it_energy_kwh"),
        (lambda: kpi.ref(-1.0, 1300.0), "renewable_energy_kwh expected >= 0"),
        (lambda: kpi.wue(-1.0, 1000.0), "water_l expected >= 0"),
        (lambda: kpi.cue(-1.0, 1000.0), "total_emissions_kg expected >= 0"),
        (lambda: kpi.cer(100.0, 0.0), "cooling_energy_kwh expected cooling energy > 0"),
        (lambda: kpi.pue(float("nan"), 1000.0), "finite"),
        (lambda: kpi.pue(np.array([1300.0, 800.0]), 1000.0), r"element 1"),
    ],
)
def test_domain_errors(call: object, match: str) -> None:
    with pytest.raises(DomainError, match=match):
        call()  # type: ignore[operator]


energies = st.floats(min_value=1.0, max_value=1e9, allow_nan=False)
fractions = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(it=energies, overhead=st.floats(0.0, 2.0), reuse_share=fractions)
def test_ere_identity_and_bounds(it: float, overhead: float, reuse_share: float) -> None:
    total = it * (1.0 + overhead)
    reused = reuse_share * total
    p = kpi.pue(total, it)
    f = kpi.erf(reused, total)
    e = kpi.ere(total, reused, it)
    assert p >= 1.0
    assert 0.0 <= f <= 1.0
    assert e == pytest.approx((1.0 - f) * p, rel=1e-9, abs=1e-12)
    assert 0.0 <= e <= p + 1e-12


@settings(max_examples=200, deadline=None)
@given(it=energies, overhead=st.floats(0.0, 2.0), upgrade_share=fractions)
def test_upgrade_exclusion_never_raises_pue(
    it: float, overhead: float, upgrade_share: float
) -> None:
    total = it * (1.0 + overhead)
    upgrade = upgrade_share * (total - it)
    assert kpi.pue(total, it, upgrade) <= kpi.pue(total, it) + 1e-12
    assert kpi.pue(total, it, upgrade) >= 1.0 - 1e-12


@settings(max_examples=200, deadline=None)
@given(ren=st.floats(0.0, 1e10), total=energies)
def test_ref_in_unit_interval(ren: float, total: float) -> None:
    assert 0.0 <= kpi.ref(ren, total) <= 1.0


def test_reused_energy_excludes_heat_pump_electricity() -> None:
    # 1,000 kWh delivered, of which a heat pump's 250 kWh electricity: 750 kWh of waste heat
    # reused (ISO/IEC 30134-6 counts reused waste energy); never negative.
    assert kpi.reused_energy_kwh(1000.0, 250.0) == pytest.approx(750.0)
    assert kpi.reused_energy_kwh(1000.0) == pytest.approx(1000.0)
    assert kpi.reused_energy_kwh(100.0, 250.0) == 0.0
    with pytest.raises(DomainError, match="heat_pump_electricity_kwh"):
        kpi.reused_energy_kwh(1000.0, -1.0)
