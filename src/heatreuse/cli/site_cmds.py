"""``heatreuse validate`` and ``heatreuse site show``: typer commands over :mod:`.site_view`."""

from __future__ import annotations

from pathlib import Path

import typer

from heatreuse.cli.options import SITE_ARG

site_app = typer.Typer(help="Inspect a site file.", no_args_is_help=True)


def validate(site_file: Path = SITE_ARG) -> None:
    """Check a site YAML file; exit 0 when valid, 2 with every problem listed when not.

    A site with a `template:` reference is also checked against that template: deviations
    from required items are errors (exit 2), from recommended ones warnings.
    """
    from heatreuse.cli.site_view import validate_site

    validate_site(site_file)


def show(site_file: Path = SITE_ARG) -> None:
    """Print a readable summary of a site file."""
    from heatreuse.cli.site_view import show_site

    show_site(site_file)


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``site show`` to the root app."""
    app.command("validate")(validate)
    site_app.command("show")(show)
    from heatreuse.cli.template_cmds import new_site

    site_app.command("new")(new_site)
    app.add_typer(site_app, name="site")
