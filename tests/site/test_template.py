"""Site templates: each renders to a valid site once filled; placeholders; deviations."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from heatreuse.errors import SiteConfigError
from heatreuse.site import CUSTOMER_KINDS, Site, load_site_text
from heatreuse.site.loader import parse_yaml_with_lines, placeholders
from heatreuse.site.template import (
    REPORT_SECTIONS,
    TEMPLATE_DIR,
    CustomerKind,
    check_site,
    fill_placeholders,
    list_templates,
    load_template,
    maintenance_schedule,
    parse_template,
    render_site,
    skeleton,
    template_names,
    yaml_scalar,
)

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["dhw_preheat", "district_preheat", "greenhouse", "pool_modular"]


def _problems(text: str) -> list[str]:
    with pytest.raises(SiteConfigError) as info:
        load_site_text(text, "new.yaml")
    return info.value.problems


def _filled_site(name: str, site_id: str = "site-1") -> tuple[str, Site]:
    text = fill_placeholders(render_site(load_template(name), site_id))
    return text, load_site_text(text, "filled.yaml")


def test_the_four_patterns_are_shipped() -> None:
    assert template_names() == NAMES
    kinds = {t.name: t.spec.customer_kind for t in list_templates()}
    assert kinds == {
        "dhw_preheat": "dhw_preheat",
        "district_preheat": "district_preheat",
        "greenhouse": "greenhouse",
        "pool_modular": "pool",
    }
    # The spec's customer-kind vocabulary is the site model's.
    assert CustomerKind.__args__ == CUSTOMER_KINDS  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", NAMES)
def test_template_renders_to_a_site_that_validates_once_filled(name: str) -> None:
    template = load_template(name)
    text = render_site(template, "my-site", "My site")
    found = dict(placeholders(parse_yaml_with_lines(text, "new.yaml")[0]))
    assert len(found) >= 20  # sizes, location, prices, people are the site's own
    # Refused until filled: one "to fill in" per placeholder, nothing else.
    problems = _problems(text)
    assert len(problems) == len(found)
    assert all("to fill in" in p for p in problems)
    for path in found:
        dotted = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", ".".join(map(str, path)))
        assert any(f": {dotted}: to fill in" in p for p in problems), dotted
    site = load_site_text(fill_placeholders(text), "filled.yaml")
    assert site.id == "my-site" and site.site.name == "My site"
    assert site.customer.kind == template.spec.customer_kind
    assert site.template is not None
    assert (site.template.name, site.template.version) == (name, template.version)
    schedule = site.maintenance_schedule or []
    assert [t.id for t in schedule] == [t.id for t in template.spec.maintenance]
    assert [t.interval_d for t in schedule] == [t.interval_d for t in template.spec.maintenance]
    # The template's own example follows the template exactly.
    assert check_site(site, template).deviations == ()


@pytest.mark.parametrize("name", NAMES)
def test_template_spec_names_real_points_and_sections(name: str) -> None:
    template = load_template(name)
    _text, site = _filled_site(name)
    from heatreuse.site.points import expand_points

    ids = {p.id for p in expand_points(site).points}
    pkg = template.spec.sensor_package
    assert set(pkg.required_points) <= ids
    assert set(pkg.recommended_points) <= ids
    for step in template.spec.reference_architecture.chain:
        assert step.site_path is not None
    assert set(template.spec.report.sections) <= set(REPORT_SECTIONS)


def test_report_sections_are_the_monthly_reports_headings() -> None:
    source = (ROOT / "src" / "heatreuse" / "ledger" / "report.py").read_text()
    for heading in REPORT_SECTIONS.values():
        assert f'"{heading}' in source, heading


def test_extra_points_use_brick_classes_of_the_ontology() -> None:
    import brickschema

    ttl = (Path(brickschema.__file__).parent / "ontologies" / "1.5" / "Brick.ttl").read_text()
    classes = set(re.findall(r"^brick:([A-Za-z0-9_]+) ", ttl, flags=re.M))
    for name in NAMES:
        _text, site = _filled_site(name)
        used = {e.brick_class for e in site.points.equipment}
        used |= {e.brick_class for e in site.points.entries if e.brick_class}
        assert used and used <= classes, (name, used - classes)


def test_placeholder_errors_hide_only_what_the_placeholder_causes() -> None:
    pool = (ROOT / "examples" / "pool.yaml").read_text()
    # A placeholder in an opening-hours range (checked by the model above it) and a real
    # error elsewhere: the placeholder is "to fill in", the real error is still reported.
    text = pool.replace('mon: ["06:00-22:00"]', 'mon: ["TODO(06:00-22:00)"]', 1)
    text = text.replace("volume_m3: 10", "volume_m3: -3", 1)
    problems = _problems(text)
    assert len(problems) == 2, problems
    assert re.search(r"customer\.operating_hours\.weekly\.mon\[0\]: to fill in", problems[0])
    assert "TODO(06:00-22:00)" in problems[0]
    assert "plant.buffer_tank.volume_m3" in problems[1]
    # A placeholder in a text field is still to fill in, though the model would take it.
    problems = _problems(pool.replace("name: Pool water heating circuit", "name: TODO(pool)"))
    assert len(problems) == 1 and "customer.name: to fill in" in problems[0]
    line = next(i for i, t in enumerate(pool.splitlines(), 1) if "Pool water heating" in t)
    assert problems[0].startswith(f"new.yaml:{line}: ")


def test_examples_fill_plain_and_quoted_placeholders() -> None:
    text = "a: TODO(12)\nb: 'TODO(12)'\nc: \"TODO(x, y)\"\nd: [TODO(1.5)]\n"
    assert yaml.safe_load(fill_placeholders(text)) == {"a": 12, "b": "12", "c": "x, y", "d": [1.5]}
    assert yaml.safe_load(fill_placeholders(text, {"a": "true"})) == {
        "a": "true",
        "b": "12",
        "c": "x, y",
        "d": [1.5],
    }


@pytest.mark.parametrize("value", ["pool-1", "1e3", "true", "null", "a: b", "x # y", "TODO(1)"])
def test_yaml_scalar_reads_back_as_the_same_text(value: str) -> None:
    assert yaml.safe_load(f"k: {yaml_scalar(value)}\n") == {"k": value}


def test_site_id_that_yaml_would_read_as_a_number_stays_text() -> None:
    site = load_site_text(
        fill_placeholders(render_site(load_template("greenhouse"), "2026")), "s.yaml"
    )
    assert site.id == "2026"


def test_skeleton_is_the_file_up_to_the_template_block() -> None:
    template = load_template("pool_modular")
    body = skeleton(template)
    assert "template:" not in body.replace("(template", "")
    data = yaml.safe_load(body)
    assert "template" not in data and data["customer"]["kind"] == "pool"
    assert template.text.startswith(body.rstrip())


def test_broken_template_files_are_refused_naming_the_field(tmp_path: Path) -> None:
    good = (TEMPLATE_DIR / "greenhouse.yaml").read_text()
    cases = {
        "last key": good + "extra: 1\n",
        "field path": good.replace("site_path: plant.heat_reject", "site_path: plant.reject"),
        "clause field": good.replace("field: max_interruption_h", "field: max_outage_h"),
        "order": good.replace("      order: [excluded, bad]\n", ""),
        "section": good.replace("sections: [heat_vs_use,", "sections: [weather,"),
        "name": good.replace("  name: greenhouse\n  version: 1", "  name: other\n  version: 1"),
    }
    needles = {
        "last key": "template: expected the last top-level key",
        "field path": "site_path",
        "clause field": "max_outage_h",
        "order": "needs 'order'",
        "section": "template.report.sections",
        "name": "template.name: expected the file's name 'greenhouse'",
    }
    for case, text in cases.items():
        with pytest.raises(SiteConfigError) as info:
            parse_template(text, str(tmp_path / "greenhouse.yaml"))
        message = str(info.value)
        assert needles[case] in message, (case, message)
        assert re.match(r".*greenhouse\.yaml:\d+: ", message), (case, message)


def test_unknown_template_names_the_choices() -> None:
    with pytest.raises(SiteConfigError) as info:
        load_template("pool", where="--template")
    assert str(info.value) == (
        "--template: expected one of the installed templates (dhw_preheat, district_preheat, "
        "greenhouse, pool_modular); got 'pool'"
    )


# --------------------------------------------------------------------------- deviations
def _deviate(name: str, edit: dict[str, str]) -> tuple[list[str], list[bool]]:
    text, _site = _filled_site(name)
    for old, new in edit.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    site = load_site_text(text, "dev.yaml")
    lines = parse_yaml_with_lines(text, "dev.yaml")[1]
    check = check_site(site, load_template(name), lines.line_of)
    return [d.message("dev.yaml", check.label) for d in check.deviations], [
        d.required for d in check.deviations
    ]


def test_each_kind_of_deviation_is_named_with_field_expected_and_got() -> None:
    cases = [
        (  # a required point of the sensor package removed
            {
                "points:\n  package: standard_hydronic\n": "points:\n  package: standard_hydronic\n"
                "  remove: [customer.return_temp_c]\n"
            },
            r"dev\.yaml:\d+: points\.remove\[0\]: expected point 'customer\.return_temp_c'; got "
            r"removed under points\.remove \(template pool_modular v1, sensor package, required\)",
            True,
        ),
        (  # an SLA clause weaker than the template's
            {"target_fraction: 0.995": "target_fraction: 0.99"},
            r"contract\.sla\.target_fraction: expected at least 0\.995; got 0\.99 \(.*SLA clause "
            r"'availability', required\)",
            True,
        ),
        (  # an SLA term dropped (no limit is weaker than 4 h)
            {"    max_interruption_h: 4\n": ""},
            r"contract\.sla\.max_interruption_h: expected at most 4; got none \(no such term\)",
            True,
        ),
        (  # a text-valued clause weaker
            {"missing_data: bad": "missing_data: excluded"},
            r"contract\.sla\.missing_data: expected one of 'bad' \(weakest to strongest: "
            r"excluded, bad\); got 'excluded'",
            True,
        ),
        (  # a recommended clause: a warning
            {"notice_h: 72": "notice_h: 24"},
            r"contract\.sla\.maintenance\.notice_h: expected at least 72; got 24 .*recommended\)",
            False,
        ),
        (  # a maintenance task missing
            {"- id: meter-reverification": "- id: meter-exchange"},
            r"maintenance_schedule: expected task 'meter-reverification' \(Re-verify .*every "
            r"2190 d; MessEG .*\); got no such task .*required\)",
            True,
        ),
        (  # a maintenance interval longer than the template's
            {"  interval_d: 92\n": "  interval_d: 180\n"},
            r"maintenance_schedule\[8\]\.interval_d: expected at most 92 d; got 180 d .*'drill', "
            r"recommended\)",
            False,
        ),
        (  # a required link of the reference architecture missing
            {"  heat_reject:\n    dry_cooler_capacity_w: 70000": ""},
            r"plant\.heat_reject: expected this part of the reference architecture \(Dry cooler "
            r".*\); got none .*required\)",
            True,
        ),
        (  # another cooling architecture: a warning here
            {"architecture: immersion": "architecture: direct_liquid"},
            None,
            None,
        ),
        (
            {"architecture: immersion": "architecture: air"},
            r"compute\.cooling\.architecture: expected one of immersion, direct_liquid; got "
            r"'air' .*recommended\)",
            False,
        ),
        (  # a newer template version installed than the site names
            {
                "template:\n  name: pool_modular\n  version: 1": "template:\n  name: pool_modular\n"
                "  version: 2"
            },
            r"template\.version: expected 1 \(the installed version.*\); got 2 .*recommended\)",
            False,
        ),
    ]
    for edit, pattern, required in cases:
        messages, levels = _deviate("pool_modular", edit)
        if pattern is None:
            assert messages == [], messages
            continue
        hits = [i for i, m in enumerate(messages) if re.search(pattern, m)]
        assert hits, (pattern, messages)
        assert levels[hits[0]] is required


def test_another_points_package_is_an_error() -> None:
    template = load_template("pool_modular")
    pkg = template.spec.sensor_package.model_copy(update={"package": "none"})
    other = dataclasses.replace(
        template, spec=template.spec.model_copy(update={"sensor_package": pkg})
    )
    _text, site = _filled_site("pool_modular")
    (deviation,) = check_site(site, other).deviations
    assert deviation.path == "points.package" and deviation.required
    assert (deviation.expected, deviation.got) == ("'none'", "'standard_hydronic'")


def test_a_different_customer_kind_is_an_error() -> None:
    text, _site = _filled_site("greenhouse")
    site = load_site_text(text, "g.yaml")
    check = check_site(site, load_template("pool_modular"))
    kinds = [d for d in check.deviations if d.path == "customer.kind"]
    assert len(kinds) == 1 and kinds[0].required
    assert kinds[0].expected.startswith("'pool'") and kinds[0].got == "'greenhouse'"
    assert check.errors and kinds[0] in check.errors


def test_a_site_without_its_own_schedule_gets_the_templates() -> None:
    text, site = _filled_site("dhw_preheat")
    assert [t.id for t in maintenance_schedule(site)] == [
        t.id for t in load_template("dhw_preheat").spec.maintenance
    ]
    cut = text.index("maintenance_schedule:")
    rest = text[text.index("template:\n", cut) :]
    bare = load_site_text(text[:cut] + rest, "bare.yaml")
    assert bare.maintenance_schedule is None
    check = check_site(bare, load_template("dhw_preheat"))
    assert check.deviations == () and not check.own_schedule
    assert [t.id for t in maintenance_schedule(bare)] == [t.id for t in maintenance_schedule(site)]
    own = load_site_text(
        text.replace("template:\n  name: dhw_preheat", "template:\n  name: x"), "o"
    )
    assert maintenance_schedule(own) == list(own.maintenance_schedule or [])


def test_site_model_refuses_a_task_twice_and_a_bad_template_reference() -> None:
    text, _site = _filled_site("greenhouse")
    twice = text.replace("- id: water-quality", "- id: meter-reverification", 1)
    (problem,) = _problems(twice)
    assert re.match(
        r"new\.yaml:\d+: maintenance_schedule: task id 'meter-reverification' given "
        r"twice",
        problem,
    ), problem
    (problem,) = _problems(text.replace("  version: 1\n", "  version: 0\n"))
    assert re.match(r"new\.yaml:\d+: template\.version: ", problem) and "got 0" in problem


def test_template_code_imports_no_numpy_or_pandas() -> None:
    # The template code adds no heavy import to what the site model itself needs (once the
    # site model imports no numpy, neither do `template list|show` and `site new`).
    code = (
        "import sys\n"
        "import heatreuse.site\n"
        "HEAVY = ('numpy', 'pandas', 'scipy', 'numba', 'pvlib')\n"
        "before = {m for m in HEAVY if m in sys.modules}\n"
        "from heatreuse.cli import template_cmds\n"
        "from heatreuse.site.template import list_templates, render_site, fill_placeholders\n"
        "from heatreuse.site.loader import parse_yaml_with_lines\n"
        "for t in list_templates():\n"
        "    parse_yaml_with_lines(fill_placeholders(render_site(t, 'x')), 'x')\n"
        "template_cmds.list_cmd(json_out=True)\n"
        "template_cmds.show_cmd('pool_modular', json_out=False)\n"
        "added = sorted(m for m in HEAVY if m in sys.modules and m not in before)\n"
        "assert not added, added\n"
        "assert 'pandas' not in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
