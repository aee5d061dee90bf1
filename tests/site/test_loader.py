"""Site YAML loading: every example validates; every kind of bad input names file, line, field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from heatreuse.errors import SiteConfigError
from heatreuse.site import CUSTOMER_KINDS, Site, load_site, load_site_text

EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples").glob("*.yaml"))
POOL = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"


def _pool_text() -> str:
    return POOL.read_text()


def _line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in text")


def _error(text: str) -> str:
    with pytest.raises(SiteConfigError) as info:
        load_site_text(text, "site.yaml")
    return str(info.value)


def test_examples_cover_the_three_required_kinds() -> None:
    kinds = {load_site(p).customer.kind for p in EXAMPLES}
    assert {"pool", "district_preheat", "greenhouse"} <= kinds


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_validates_and_is_frozen(path: Path) -> None:
    site = load_site(path)
    assert isinstance(site, Site)
    assert site.source_path == path.resolve()
    assert site.compute.nameplate_it_power_w > 0
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError on frozen
        site.site.name = "changed"  # type: ignore[misc]


def test_relative_paths_resolve_against_the_site_file() -> None:
    site = load_site(POOL)
    assert site.resolve_path("x.csv") == POOL.parent.resolve() / "x.csv"
    assert site.resolve_path("/abs/x.csv") == Path("/abs/x.csv")


def test_negative_volume_names_line_and_field() -> None:
    text = _pool_text().replace("volume_m3: 10", "volume_m3: -10")
    msg = _error(text)
    line = _line_of(text, "volume_m3: -10")
    assert f"site.yaml:{line}: plant.buffer_tank.volume_m3" in msg
    assert "greater than 0" in msg and "-10" in msg


def test_wrong_unit_is_recognised_from_the_suffix() -> None:
    text = _pool_text().replace("volume_m3: 10", "volume_l: 10000")
    msg = _error(text)
    assert f"site.yaml:{_line_of(text, 'volume_l')}: plant.buffer_tank.volume_l" in msg
    assert "wrong unit" in msg and "'volume_m3' in m3" in msg


def test_number_with_unit_text_says_plain_number_expected() -> None:
    text = _pool_text().replace("dry_cooler_capacity_w: 70000", "dry_cooler_capacity_w: 70 kW")
    msg = _error(text)
    assert "plant.heat_reject.dry_cooler_capacity_w" in msg
    assert "expected a plain number in W" in msg and "'70 kW'" in msg


def test_band_upside_down() -> None:
    text = _pool_text().replace("min_temp_c: 32", "min_temp_c: 50")
    msg = _error(text)
    assert "customer.supply_band" in msg and "upside down" in msg


def test_unknown_customer_kind_lists_the_known_ones() -> None:
    text = _pool_text().replace("kind: pool", "kind: sauna")
    msg = _error(text)
    assert "customer.kind" in msg and "'sauna'" in msg
    for kind in CUSTOMER_KINDS:
        assert kind in msg


def test_temperature_above_boiling_at_loop_pressure() -> None:
    text = _pool_text().replace("max_temp_c: 55", "max_temp_c: 140")
    msg = _error(text)
    assert "plant.buffer_tank.max_temp_c" in msg
    assert "above boiling" in msg and "133.5 C" in msg  # IAPWS: T_sat(3 bar) = 133.52 C


def test_missing_required_field() -> None:
    text = re.sub(r"\n  area_m2: 312.5", "", _pool_text())
    msg = _error(text)
    assert "customer.area_m2: required field missing" in msg
    assert f"site.yaml:{_line_of(text, 'customer:')}:" in msg


def test_malformed_yaml_gives_line_and_column() -> None:
    text = _pool_text().replace("  name: Potsdam, Germany", "  name: [Potsdam")
    msg = _error(text)
    assert msg.startswith("site.yaml:") and "malformed YAML" in msg


def test_duplicate_key_is_refused() -> None:
    text = _pool_text().replace("  volume_m3: 10\n", "  volume_m3: 10\n    volume_m3: 12\n")
    msg = _error(text)
    assert "plant.buffer_tank.volume_m3" in msg and "twice" in msg


def test_unknown_field_lists_expected_fields() -> None:
    text = _pool_text().replace("  layers: 10", "  layers: 10\n    colour: red")
    msg = _error(text)
    assert "plant.buffer_tank.colour: unknown field" in msg and "volume_m3" in msg


def test_several_problems_reported_together() -> None:
    text = (
        _pool_text()
        .replace("volume_m3: 10", "volume_m3: -1")
        .replace("min_temp_c: 32", "min_temp_c: 50")
    )
    with pytest.raises(SiteConfigError) as info:
        load_site_text(text, "site.yaml")
    assert len(info.value.problems) == 2


def test_unknown_raci_person() -> None:
    text = _pool_text().replace("accountable: kai", "accountable: nobody")
    msg = _error(text)
    assert "ownership" in msg and "'nobody'" in msg


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(SiteConfigError, match="no such site file"):
        load_site(tmp_path / "nope.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(SiteConfigError, match="empty"):
        load_site(empty)


def test_timezone_must_be_known() -> None:
    msg = _error(_pool_text().replace("Europe/Berlin", "Mars/Olympus"))
    assert "location.timezone" in msg and "IANA" in msg


def test_operating_hours_parse() -> None:
    site = load_site(POOL)
    hours = site.customer.operating_hours
    assert hours.open_hours_per_week_h() == pytest.approx(5 * 16 + 2 * 12)
    msg = _error(_pool_text().replace('mon: ["06:00-22:00"]', 'mon: ["22:00-06:00"]'))
    assert "customer.operating_hours" in msg and "22:00-06:00" in msg


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_libyaml_and_the_python_parser_give_the_same_data_and_lines(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from heatreuse.site.loader import parse_yaml_with_lines

    assert hasattr(yaml, "CSafeLoader")  # the fast path is what runs here
    fast_data, fast_lines = parse_yaml_with_lines(path.read_text(), path.name)
    monkeypatch.delattr(yaml, "CSafeLoader")
    data, lines = parse_yaml_with_lines(path.read_text(), path.name)
    assert fast_data == data and fast_lines.lines == lines.lines


def test_malformed_yaml_message_is_the_python_parsers(monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    text = _pool_text().replace("  name: Potsdam, Germany", "  name: [Potsdam")
    with_libyaml = _error(text)
    monkeypatch.delattr(yaml, "CSafeLoader")
    assert with_libyaml == _error(text)
