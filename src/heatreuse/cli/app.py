"""The root typer app of ``heatreuse`` and its ``--version`` option.

Imported by :mod:`heatreuse.cli.main` only for a command line that needs typer:
the plain ``heatreuse validate FILE`` and ``heatreuse site show FILE`` run without
it (:data:`heatreuse.cli.main.FAST_COMMANDS`).
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="heatreuse",
    help="Plan, run and prove waste-heat reuse from edge compute sites.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        from heatreuse import __version__  # importlib.metadata: only when asked

        typer.echo(f"heatreuse {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Plan, run and prove waste-heat reuse from edge compute sites."""
