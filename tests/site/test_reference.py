"""docs/site-file.md is generated from the site model and must match it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from heatreuse.site.model import PoolCustomer, Site
from heatreuse.site.reference import (
    REGENERATE_COMMAND,
    field_description,
    main,
    site_file_reference,
    unit_of_field,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "site-file.md"


def test_checked_in_reference_matches_the_model() -> None:
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert current == site_file_reference(), (
        f"{DOC} is out of date with src/heatreuse/site/model.py (or points.py); regenerate it "
        f"from the repository root with: PYTHONPATH=src {REGENERATE_COMMAND}"
    )


def test_every_field_is_listed_with_unit_default_and_description() -> None:
    text = site_file_reference()
    pool = text.split("## `customer (kind: pool)`", 1)[1].split("\n## ", 1)[0]
    for name, _field in PoolCustomer.model_fields.items():
        row = next((r for r in pool.splitlines() if r.startswith(f"| `{name}` |")), None)
        assert row is not None, name
        assert field_description(PoolCustomer, name), f"PoolCustomer.{name} has no description"
    row = next(r for r in pool.splitlines() if r.startswith("| `hall_heat_recovery_fraction` |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:5] == ["number", "1", "`0.73`", ">= 0; < 1"]
    # Every section of the whole file is there, and every link points at a heading.
    for name, _field in Site.model_fields.items():
        if name != "schema_version":  # a plain value, in the table of the whole file
            assert f"## `{name}" in text, name
        assert field_description(Site, name), f"Site.{name} has no description"
    headings = {
        re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^## (.+)$", text, flags=re.M)
    }
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links and links <= headings, sorted(links - headings)


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("rated_flow_m3_per_h", "m3/h"),
        ("tank_eur_per_m3", "EUR/m3"),
        ("air_exchange_per_h", "1/h"),
        ("wall_floor_u_w_per_m2_k", "W/(m2 K)"),
        ("supply_temp_at_design_c", "degC"),
        ("interruption_tolerance_h", "h"),
        ("count", ""),
    ],
)
def test_unit_from_the_name(name: str, unit: str) -> None:
    assert unit_of_field(name) == unit


def test_check_and_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "site-file.md"
    stale.write_text("# old\n", encoding="utf-8")
    assert main(["--check", str(stale)]) == 1
    assert REGENERATE_COMMAND in capsys.readouterr().err
    assert main(["--out", str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0
