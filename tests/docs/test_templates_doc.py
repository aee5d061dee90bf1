"""docs/templates.md names every shipped template and every part of a template."""

from __future__ import annotations

from pathlib import Path

from heatreuse.site.template import TemplateSpec, list_templates

DOC = Path(__file__).resolve().parents[2] / "docs" / "templates.md"


def test_every_template_and_every_part_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for template in list_templates():
        assert f"| `{template.name}` | `{template.spec.customer_kind}` |" in text, template.name
    for field in TemplateSpec.model_fields:
        assert f"`{field}`" in text, field
