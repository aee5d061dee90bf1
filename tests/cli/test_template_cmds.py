"""CLI: ``template list|show``, ``site new``, ``validate`` against a template, ``plan`` on one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from heatreuse.cli.main import run
from heatreuse.site import load_site
from heatreuse.site.template import fill_placeholders, load_template, render_site

NAMES = ["dhw_preheat", "district_preheat", "greenhouse", "pool_modular"]


def _out(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    captured = capsys.readouterr()
    return re.sub(r"\s+", " ", captured.out), re.sub(r"\s+", " ", captured.err)


def test_template_list_names_every_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["template", "list"]) == 0
    out, _err = _out(capsys)
    for name in NAMES:
        assert name in out
    assert run(["template", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == NAMES
    assert {r["customer_kind"] for r in rows} == {
        "pool",
        "dhw_preheat",
        "district_preheat",
        "greenhouse",
    }
    assert all(r["version"] >= 1 and Path(r["file"]).is_file() for r in rows)


def test_template_show_prints_each_part(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["template", "show", "dhw_preheat"]) == 0
    out, _err = _out(capsys)
    squeezed = re.sub(r"[\s│┃]+", " ", out)
    for part in (
        "Reference architecture",
        "Equipment chain",
        "Sensor package standard_hydronic",
        "dhw.heater_outlet_temp_c",
        "Commissioning checklist",
        "Maintenance schedule",
        "legionella-test",
        "SLA clauses",
        "contract.sla.target_fraction",
        "Report",
        "Avoided CO2",
    ):
        assert part in squeezed, part
    assert run(["template", "show", "dhw_preheat", "--json"]) == 0
    spec = json.loads(capsys.readouterr().out)
    template = load_template("dhw_preheat")
    assert spec["name"] == "dhw_preheat"
    assert [t["id"] for t in spec["maintenance"]] == [t.id for t in template.spec.maintenance]
    assert spec["sla"][0]["text"] == template.spec.sla[0].text


def test_template_show_unknown_name_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["template", "show", "pool"]) == 2
    _out_text, err = _out(capsys)
    assert "NAME: expected one of the installed templates" in err and "got 'pool'" in err
    assert "Traceback" not in err


def test_site_new_writes_the_rendered_template_and_round_trips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site_file = tmp_path / "site.yaml"
    args = ["site", "new", "--template", "pool_modular", "--id", "pool-x", "--out", str(site_file)]
    assert run([*args, "--name", "Bad Nord: pool"]) == 0
    out, _err = _out(capsys)
    assert "pool-x" in out and "values to fill in" in out
    text = site_file.read_text(encoding="utf-8")
    assert text == render_site(load_template("pool_modular"), "pool-x", "Bad Nord: pool")
    data = yaml.safe_load(text)
    assert data["site"]["id"] == "pool-x" and data["site"]["name"] == "Bad Nord: pool"
    assert data["template"] == {"name": "pool_modular", "version": 1}
    # Until filled: validate exits 2 and names each field to fill in with its line.
    assert run(["validate", str(site_file)]) == 2
    _out_text, err = _out(capsys)
    assert re.search(
        rf"{re.escape(str(site_file))}:\d+: plant\.buffer_tank\.volume_m3: to fill in", err
    )
    assert "Traceback" not in err
    # Filled: valid, follows its template, and survives a dump and reload unchanged.
    site_file.write_text(fill_placeholders(text), encoding="utf-8")
    assert run(["validate", str(site_file)]) == 0
    out, _err = _out(capsys)
    assert "OK" in out and "follows template pool_modular v1" in out
    site = load_site(site_file)
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(site.model_dump(mode="json", exclude_none=True)))
    assert load_site(again).model_dump() == site.model_dump()
    assert run(["validate", str(again)]) == 0


def test_site_new_refuses_bad_input_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site_file = tmp_path / "site.yaml"
    base = ["site", "new", "--out", str(site_file)]
    assert run([*base, "--template", "pool", "--id", "p1"]) == 2
    assert "--template: expected one of the installed templates" in _out(capsys)[1]
    assert run([*base, "--template", "greenhouse", "--id", "a b"]) == 2
    assert "--id: expected a site id" in _out(capsys)[1] and not site_file.exists()
    assert run([*base, "--template", "greenhouse", "--id", "g1"]) == 0
    first = site_file.read_text()
    capsys.readouterr()
    # An existing file is never overwritten without --force.
    assert run([*base, "--template", "pool_modular", "--id", "p1"]) == 2
    assert "the file exists" in _out(capsys)[1] and site_file.read_text() == first
    assert run([*base, "--template", "pool_modular", "--id", "p1", "--force"]) == 0
    assert "pool_modular" in site_file.read_text()


def _example_site(tmp_path: Path, name: str) -> Path:
    site_file = tmp_path / f"{name}.yaml"
    code = run(
        [
            "site",
            "new",
            "--template",
            name,
            "--id",
            f"{name}-1",
            "--out",
            str(site_file),
            "--examples",
        ]
    )
    assert code == 0
    return site_file


def test_validate_warns_on_recommended_and_fails_on_required_deviations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site_file = _example_site(tmp_path, "greenhouse")
    text = site_file.read_text()
    capsys.readouterr()
    site_file.write_text(text.replace("notice_h: 48", "notice_h: 12"))
    assert run(["validate", str(site_file)]) == 0
    out, _err = _out(capsys)
    assert "1 from recommended ones" in out
    assert re.search(
        r"warning: \S+greenhouse\.yaml:\d+: contract\.sla\.maintenance\.notice_h: expected at "
        r"least 48; got 12 \(template greenhouse v1, SLA clause 'notice', recommended\)",
        out,
    )
    site_file.write_text(
        text.replace("notice_h: 48", "notice_h: 12").replace(
            "target_fraction: 0.97", "target_fraction: 0.9"
        )
    )
    assert run(["validate", str(site_file)]) == 2
    _out_text, err = _out(capsys)
    assert re.search(
        r"greenhouse\.yaml:\d+: contract\.sla\.target_fraction: expected at least 0\.97; got "
        r"0\.9 \(template greenhouse v1, SLA clause 'availability', required\)",
        err,
    )
    assert "notice_h" in err  # the warnings are listed with the errors
    assert "Traceback" not in err


def test_validate_names_an_unknown_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site_file = _example_site(tmp_path, "dhw_preheat")
    text = site_file.read_text().replace("  name: dhw_preheat\n", "  name: dhw_heat\n")
    site_file.write_text(text)
    capsys.readouterr()
    assert run(["validate", str(site_file)]) == 2
    line = text.splitlines().index("  name: dhw_heat") + 1
    _out_text, err = _out(capsys)
    assert f"dhw_preheat.yaml:{line}: template.name: expected one of the installed templates" in err
    assert "got 'dhw_heat'" in err


def test_validate_without_a_template_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    pool = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
    assert run(["validate", str(pool)]) == 0
    out, _err = _out(capsys)
    assert "OK" in out and "follows template" not in out and "warning" not in out


def test_a_template_site_plans(tmp_path: Path) -> None:
    site_file = _example_site(tmp_path, "dhw_preheat")
    out = tmp_path / "plan"
    assert run(["plan", str(site_file), "--step", "1h", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["site_id"] == "dhw_preheat-1"
    assert summary["customer_kind"] == "dhw_preheat"
    assert summary["step_s"] == 3600
    assert summary["heat_delivered_kwh"] > 0
    assert abs(summary["balance_residual_fraction"]) < 1e-6
