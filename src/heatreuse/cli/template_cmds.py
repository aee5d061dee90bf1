"""``heatreuse template list|show`` and ``heatreuse site new --template NAME --id ID --out FILE``.

Templates are data in the package (:mod:`heatreuse.site.template`). These commands
import neither numpy nor pandas: they read YAML and pydantic models only.
``heatreuse validate`` calls :func:`report_template_check` for a site that names a
template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from heatreuse.errors import HeatreuseError, SiteConfigError
from heatreuse.site import Site
from heatreuse.site.loader import parse_yaml_with_lines, placeholders
from heatreuse.site.template import (
    REPORT_SECTIONS,
    Template,
    TemplateCheck,
    list_templates,
    load_template,
    render_site,
)

console = Console()
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


def _rows(title: str, headers: tuple[str, ...], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for h in headers:
        table.add_column(h, overflow="fold")
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    return table


def _level(required: bool) -> str:
    return "required" if required else "recommended"


def show_cmd(
    name: str = typer.Argument(..., help="Template name (heatreuse template list)."),
    json_out: bool = JSON_OPT,
) -> None:
    """Show a template: architecture, sensors, checklist, maintenance, SLA clauses, report."""
    t = load_template(name, where="NAME")
    spec = t.spec
    if json_out:
        typer.echo(json.dumps(spec.model_dump(mode="json"), indent=2))
        return
    out = console.print
    out(
        f"[bold]Template {spec.name}[/] v{spec.version} ({spec.customer_kind}): "
        f"{escape(spec.title)}"
    )
    out(escape(spec.description), highlight=False)
    arch = spec.reference_architecture
    out("")
    out("[bold]Reference architecture[/]")
    out(escape(arch.text), highlight=False)
    if arch.cooling is not None:
        out(f"cooling: {', '.join(arch.cooling.architectures)} ({_level(arch.cooling.required)})")
    out(
        _rows(
            "Equipment chain",
            ("step", "site file", "level"),
            [(s.step, s.site_path or "", _level(s.required)) for s in arch.chain],
        )
    )
    pkg = spec.sensor_package
    out(f"[bold]Sensor package[/] {pkg.package}: {escape(pkg.note)}", highlight=False)
    out(
        _rows(
            "Points",
            ("point", "level"),
            [(p, "required") for p in pkg.required_points]
            + [(p, "recommended") for p in pkg.recommended_points],
        )
    )
    out(
        _rows(
            "Commissioning checklist",
            ("id", "item", "reference", "level"),
            [(c.id, c.item, c.reference, _level(c.required)) for c in spec.commissioning],
        )
    )
    out(
        _rows(
            "Maintenance schedule",
            ("id", "task", "every [d]", "standard", "level"),
            [
                (m.id, m.task, f"{m.interval_d:g}", m.standard, _level(m.required))
                for m in spec.maintenance
            ],
        )
    )
    clauses = []
    for c in spec.sla:
        rule = f"{c.compare.replace('_', ' ')} {c.value}" if c.value is not None else "present"
        clauses.append((c.id, f"contract.sla.{c.field}", rule, c.text, _level(c.required)))
    out(_rows("SLA clauses", ("id", "field", "rule", "contract text", "level"), clauses))
    out(f"[bold]Report[/] ({spec.report.period}ly): " + escape(spec.report.notes), highlight=False)
    for i, section in enumerate(spec.report.sections, 1):
        out(f"  {i}. {REPORT_SECTIONS[section]} [dim]({section})[/]")


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


def template_check(site: Site, site_file: Path) -> TemplateCheck | None:
    """Check a site against its template (``validate``); ``None`` without a template.

    Raises
    ------
    SiteConfigError
        A deviation from a required item: every deviation listed, errors first (exit 2).
    """
    from heatreuse.site.template import check_loaded_site

    check = check_loaded_site(site, site_file)
    if check is not None and check.errors:
        raise SiteConfigError(check.messages(str(site_file)))
    return check


def print_template_check(check: TemplateCheck, site_file: Path) -> None:
    """Print a passed template check: the template, the schedule, each warning."""
    own = "its own maintenance schedule" if check.own_schedule else "the template's schedule"
    console.print(
        f"follows {check.label}: no deviation from required items, {len(check.warnings)} from "
        f"recommended ones; {own}",
        highlight=False,
    )
    for line in check.messages(str(site_file)):
        console.print(f"warning: {line}", highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``template list|show`` and ``site new`` (on the ``site`` group of site_cmds)."""
    from heatreuse.cli.site_cmds import site_app

    template_app.command("list")(list_cmd)
    template_app.command("show")(show_cmd)
    app.add_typer(template_app, name="template")
    site_app.command("new")(new_site)
