"""SlaDefinition from the site model."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from heatreuse.errors import SLAError
from heatreuse.site import load_site
from heatreuse.sla import SlaDefinition

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_from_pool_site() -> None:
    d = SlaDefinition.from_site(load_site(EXAMPLES / "pool.yaml"))
    assert (d.band_min_temp_c, d.band_max_temp_c) == (32.0, 50.0)  # customer band
    assert d.target_fraction == 0.995 and d.period == "both"
    assert d.contract_start_date == dt.date(2025, 9, 1)
    assert d.timezone == "Europe/Berlin" and d.maintenance_notice_h == 72.0
    assert d.operating_minutes_by_weekday[0] == ((360, 1320),)
    assert d.operating_minutes_by_weekday[6] == ((480, 1200),)
    assert d.open_minutes_per_week() == 5 * 960 + 2 * 720
    assert d.max_interruption_h == 4.0 and d.min_heat_per_day_kwh == 400.0
    assert d.operating_hours_text()["sat"] == ["08:00-20:00"]
    assert d.to_sla_terms().target_fraction == 0.995


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"timezone": "Nowhere/City"}, "timezone"),
        ({"band_min_temp_c": 50.0}, "band"),
        ({"target_fraction": 0.0}, "target_fraction"),
        ({"slice_rule": "median"}, "slice_rule"),
        ({"operating_minutes_by_weekday": (((0, 1500),),) * 7}, "operating hours mon"),
    ],
)
def test_invalid_definition_names_the_field(kw: dict[str, object], field: str) -> None:
    base: dict[str, object] = {
        "site_id": "s",
        "timezone": "UTC",
        "band_min_temp_c": 30.0,
        "band_max_temp_c": 40.0,
        "target_fraction": 0.99,
    }
    base.update(kw)
    with pytest.raises(SLAError, match=field):
        SlaDefinition(**base)  # type: ignore[arg-type]
