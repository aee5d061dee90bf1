"""``heatreuse template list|show`` and ``heatreuse site new --template NAME --id ID --out FILE``.

Templates are data in the package (:mod:`heatreuse.site.template`). These commands
import neither numpy nor pandas: they read YAML and pydantic models only.
``heatreuse validate`` checks a site that names a template
(:func:`heatreuse.cli.site_view.template_check`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from heatreuse.cli.output import make_console
from heatreuse.errors import HeatreuseError, SiteConfigError

if TYPE_CHECKING:
    from heatreuse.site.template import Template

console = make_console()
template_app = typer.Typer(
    help="Standard site templates: reference architecture, sensor package, commissioning, "
    "maintenance, SLA clauses, report.",
    no_args_is_help=True,
)
_SITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

JSON_OPT = typer.Option(False, "--json", help="Print JSON instead of tables.")


def _summary(t: Template) -> dict[str, object]:
    return {
        "name": t.name,
        "version": t.version,
        "title": t.spec.title,
        "customer_kind": t.spec.customer_kind,
        "description": t.spec.description,
        "file": str(t.path),
    }


def list_cmd(json_out: bool = JSON_OPT) -> None:
    """List the installed site templates."""
    from heatreuse.site.template import list_templates

    templates = list_templates()
    if json_out:
        typer.echo(json.dumps([_summary(t) for t in templates], indent=2))
        return
    table = Table(title="Site templates", title_justify="left")
    for col in ("name", "version", "customer", "title"):
        table.add_column(col)
    for t in templates:
        table.add_row(t.name, str(t.version), t.spec.customer_kind, escape(t.spec.title))
    console.print(table)
    console.print(
        "[dim]heatreuse template show NAME; heatreuse site new --template NAME --id ID "
        "--out FILE[/]"
    )


def _level(required: bool) -> str:
    return "required" if required else "recommended"


def _heading(text: str) -> None:
    console.print(f"\n[bold]{escape(text)}[/]")


def _item(head: str, *lines: str) -> None:
    """An indented entry whose wrapped lines keep their indent."""
    console.print(Padding(Text(head), (0, 0, 0, 2), expand=False))
    for line in lines:
        if line:
            console.print(Padding(Text(line, style="dim"), (0, 0, 0, 6), expand=False))


def show_cmd(
    name: str = typer.Argument(..., help="Template name (heatreuse template list)."),
    json_out: bool = JSON_OPT,
) -> None:
    """Show a template: architecture, sensors, checklist, maintenance, SLA clauses, report."""
    from heatreuse.site.template import REPORT_SECTIONS, load_template

    t = load_template(name, where="NAME")
    spec = t.spec
    if json_out:
        typer.echo(json.dumps(spec.model_dump(mode="json"), indent=2))
        return
    console.print(
        f"[bold]Template {spec.name}[/] v{spec.version} (customer {spec.customer_kind}): "
        f"{escape(spec.title)}",
        highlight=False,
    )
    console.print(escape(spec.description), highlight=False)
    arch = spec.reference_architecture
    _heading("Reference architecture")
    console.print(escape(arch.text), highlight=False)
    if arch.cooling is not None:
        console.print(
            f"cooling: {', '.join(arch.cooling.architectures)} ({_level(arch.cooling.required)})"
        )
    console.print("Equipment chain, heat source first (where the site file has it):")
    for i, step in enumerate(arch.chain, 1):
        _item(f"{i}. {step.step}", f"{step.site_path or '-'} ({_level(step.required)})")
    pkg = spec.sensor_package
    _heading(f"Sensor package {pkg.package}")
    console.print(escape(pkg.note), highlight=False)
    _item("required points:", ", ".join(pkg.required_points))
    _item("recommended points:", ", ".join(pkg.recommended_points) or "none")
    _heading("Commissioning checklist")
    for check in spec.commissioning:
        _item(f"[{check.id}] ({_level(check.required)}) {check.item}", check.reference)
    _heading("Maintenance schedule")
    for m in spec.maintenance:
        _item(f"[{m.id}] every {m.interval_d:g} d ({_level(m.required)}): {m.task}", m.standard)
    _heading("SLA clauses")
    for c in spec.sla:
        value = f"{c.value:g}" if isinstance(c.value, float) else c.value
        rule = f"{c.compare.replace('_', ' ')} {value}" if c.value is not None else "given"
        _item(f"[{c.id}] contract.sla.{c.field} {rule} ({_level(c.required)})", c.text)
    _heading(f"Report ({spec.report.period}ly)")
    console.print(escape(spec.report.notes), highlight=False)
    for i, section in enumerate(spec.report.sections, 1):
        _item(f"{i}. {REPORT_SECTIONS[section]} ({section})")


def new_site(
    template: str = typer.Option(
        ..., "--template", help="Template name (heatreuse template list)."
    ),
    site_id: str = typer.Option(..., "--id", help="The new site's id (letters, digits, _ . -)."),
    out: Path = typer.Option(..., "--out", help="Site file to write."),
    name: str | None = typer.Option(None, "--name", help="The site's name (else left to fill in)."),
    examples: bool = typer.Option(
        False,
        "--examples",
        help="Fill every placeholder with the template's example (a site to try the planner "
        "on, not a real site).",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite FILE if it exists."),
) -> None:
    """Write a new site file from a template; `heatreuse validate` lists what is left to fill in."""
    from heatreuse.site.loader import parse_yaml_with_lines, placeholders
    from heatreuse.site.template import load_template, render_site

    if not (_SITE_ID.match(site_id) and len(site_id) <= 64):
        raise SiteConfigError(
            "--id: expected a site id (letters, digits, '_', '.', '-', starting with a letter or "
            f"digit, at most 64 characters); got {site_id!r}"
        )
    if name is not None and (not name.strip() or "\n" in name):
        raise SiteConfigError(f"--name: expected one line of text; got {name!r}")
    t = load_template(template, where="--template")
    text = render_site(t, site_id, name, examples=examples)
    try:
        with out.open("w" if force else "x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise HeatreuseError(
            f"--out {out}: the file exists; expected a new file (or pass --force to overwrite)"
        ) from None
    except OSError as exc:
        raise HeatreuseError(f"--out {out}: cannot write ({exc.strerror})") from None
    left = len(list(placeholders(parse_yaml_with_lines(text, str(out))[0])))
    console.print(
        f"[green]wrote[/] {escape(str(out))}: site '{site_id}' from template {t.name} "
        f"v{t.version}"
        + (
            f"; {left} values to fill in (`heatreuse validate {escape(str(out))}` lists them)"
            if left
            else ""
        )
    )


def register(app: typer.Typer) -> None:
    """Add ``template list|show`` (``site new`` is registered with the ``site`` group by
    :func:`heatreuse.cli.site_cmds.register`, so ``heatreuse site ...`` loads one module)."""
    template_app.command("list")(list_cmd)
    template_app.command("show")(show_cmd)
    app.add_typer(template_app, name="template")
