"""Arguments and options shared by the command modules (one definition, one help text)."""

from __future__ import annotations

import typer

SITE_ARG = typer.Argument(..., help="The site YAML file.", show_default=False)
STORE_OPT = typer.Option(
    None,
    "--store",
    help="Store URL: sqlite:///PATH or postgresql://... "
    "(default sqlite:///$HEATREUSE_HOME/heatreuse.db).",
    show_default=False,
)
