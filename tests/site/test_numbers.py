"""Every number of a site file is a number, finite and plausible for the unit in its name.

The rules live once, in :class:`heatreuse.site.base.SiteModel`; these tests walk every site
model class (present and future) and every numeric field, so a field added later is covered
without a test of its own.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import heatreuse.site  # noqa: F401 - registers every site model
from heatreuse.errors import SiteConfigError
from heatreuse.site import Site, load_site, load_site_text
from heatreuse.site.base import (
    MAX_ABS_NUMBER,
    PLAUSIBLE_RANGES,
    SiteModel,
    plausible_range,
    takes_number,
)
from heatreuse.site.points import expand_points

EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples").glob("*.yaml"))
POOL = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"


def _site_models() -> list[type[SiteModel]]:
    out: list[type[SiteModel]] = []
    todo: list[type[SiteModel]] = [SiteModel]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            out.append(sub)
            todo.append(sub)
    return out


def _numeric_fields() -> list[tuple[type[SiteModel], str]]:
    return [
        (cls, name)
        for cls in _site_models()
        for name in cls.model_fields
        if takes_number(cls, name)
    ]


def test_the_walk_finds_the_site_models() -> None:
    names = {cls.__name__ for cls, _ in _numeric_fields()}
    # A sample of the classes that carry numbers today (the walk finds later ones too).
    assert {"Rack", "BufferTank", "Pipe", "Tariffs", "PoolCustomer", "Point", "ModbusRegister"} <= (
        names
    )
    assert len(_numeric_fields()) > 90


@pytest.mark.parametrize(
    "bad",
    [math.nan, math.inf, -math.inf, True, False, 1e20, -1e20, "nan", "inf", "-1e400"],
    ids=repr,
)
def test_every_numeric_field_of_every_site_model_refuses(bad: Any) -> None:
    """NaN, infinities, booleans and absurd magnitudes are refused at the field, everywhere."""
    accepted = []
    for cls, name in _numeric_fields():
        try:
            cls.model_validate({name: bad})
        except ValidationError as exc:
            if any(err["loc"][:1] == (name,) for err in exc.errors()):
                continue
        accepted.append(f"{cls.__name__}.{name}")
    assert accepted == []


def _numbers(obj: Any, path: str = "") -> list[tuple[str, str, float]]:
    """(path, field name, value) of every number in a validated model tree."""
    out: list[tuple[str, str, float]] = []
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            value = getattr(obj, name)
            for where, _, number in _numbers(value, f"{path}.{name}"):
                out.append((where, name, number))
    elif isinstance(obj, list | tuple):
        for i, item in enumerate(obj):
            out += _numbers(item, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for key, item in obj.items():
            out += _numbers(item, f"{path}[{key!r}]")
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        out.append((path, "", float(obj)))
    return out


def implausible_numbers(site: Site) -> list[str]:
    """Numbers of a loaded site (points expanded) outside their field's plausible range."""
    bad = []
    for root in (site, expand_points(site)):
        for where, name, number in _numbers(root):
            low, high, _ = plausible_range(name)
            if not (math.isfinite(number) and low <= number <= high):
                bad.append(f"{where} = {number!r}")
    return bad


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_hold_only_plausible_numbers(path: Path) -> None:
    site = load_site(path)
    assert implausible_numbers(site) == []
    assert len(_numbers(site)) > 50


def test_plausible_range_by_unit_suffix() -> None:
    assert plausible_range("max_temp_c") == (-60.0, 200.0, "a temperature in degC")
    assert plausible_range("volume_m3")[:2] == (0.0, 1.0e7)
    assert plausible_range("opex_eur_per_year")[2] == "a yearly cost in EUR/a"
    assert plausible_range("tank_eur_per_m3")[2] == "a unit cost in EUR/m3"  # not a volume
    assert plausible_range("count") == (-MAX_ABS_NUMBER, MAX_ABS_NUMBER, "a number")
    for low, high, _ in PLAUSIBLE_RANGES.values():
        assert -MAX_ABS_NUMBER <= low < high <= MAX_ABS_NUMBER


def _error(text: str) -> str:
    with pytest.raises(SiteConfigError) as info:
        load_site_text(text, "site.yaml")
    return str(info.value)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "field", "expected"),
    [
        ("ground_temp_c: 10", "ground_temp_c: .nan", "customer.ground_temp_c", "finite number"),
        ("  max_temp_c: 55", "  max_temp_c: -1e20", "plant.buffer_tank.max_temp_c", "-60 and 200"),
        ("volume_m3: 10", "volume_m3: .inf", "plant.buffer_tank.volume_m3", "finite number in m3"),
        ("length_m: 60", "length_m: .inf", "plant.pipe.length_m", "finite number in m"),
        (
            "heat_sale_eur_per_kwh: 0.075",
            "heat_sale_eur_per_kwh: .inf",
            "contract.tariffs.heat_sale_eur_per_kwh",
            "finite number in EUR/kWh",
        ),
        (
            "electricity_eur_per_kwh: 0.24",
            "electricity_eur_per_kwh: 1e9",
            "contract.tariffs.electricity_eur_per_kwh",
            "a price in EUR/kWh between 0 and 100",
        ),
        ("volume_m3: 10", "volume_m3: true", "plant.buffer_tank.volume_m3", "not true/false"),
        ("layers: 10", "layers: false", "plant.buffer_tank.layers", "not true/false"),
        ("volume_m3: 10", "volume_m3: 'nan'", "plant.buffer_tank.volume_m3", "finite number"),
        (
            "nameplate_power_w: 30000\n    - id: tank-b",
            "nameplate_power_w: 30000\n      count: 99999\n    - id: tank-b",
            "compute",
            "total nameplate IT power",
        ),
    ],
)
def test_bad_number_in_a_site_file_names_line_and_field(
    old: str, new: str, field: str, expected: str
) -> None:
    text = POOL.read_text().replace(old, new, 1)
    assert text != POOL.read_text()
    msg = _error(text)
    line = _line_of(text, new.split("\n")[0].strip()) if field != "compute" else 26
    assert f"site.yaml:{line}: {field}" in msg
    assert expected in msg


def test_boolean_in_a_list_of_numbers_is_refused() -> None:
    text = POOL.read_text().replace("[0.85, 0.85,", "[true, 0.85,", 1)
    msg = _error(text)
    assert "compute.utilisation.hourly_fraction" in msg and "got true" in msg


def test_yes_no_fields_still_take_booleans() -> None:
    site = load_site_text(POOL.read_text().replace("indoor: true", "indoor: false"), "site.yaml")
    assert site.customer.indoor is False  # type: ignore[union-attr]
