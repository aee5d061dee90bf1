"""The ``heatreuse`` command: the app, error-to-exit-code mapping, sub-command registration.

Exit codes: 0 ok, 2 user error (:class:`heatreuse.errors.HeatreuseError`, bad
arguments), 1 internal error. User errors print their message without a
traceback; set ``HEATREUSE_DEBUG=1`` to see tracebacks of internal errors.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer
from rich.console import Console
from rich.markup import escape

from heatreuse import __version__
from heatreuse.errors import HeatreuseError

app = typer.Typer(
    name="heatreuse",
    help="Plan, run and prove waste-heat reuse from edge compute sites.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"heatreuse {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Plan, run and prove waste-heat reuse from edge compute sites."""


def _register() -> None:
    # Each command group lives in its own module and registers itself on `app`.
    from heatreuse.cli import demo_cmds, site_cmds

    site_cmds.register(app)
    demo_cmds.register(app)
    from heatreuse.cli import verify_cmds

    verify_cmds.register(app)
    from heatreuse.cli import sla_cmds

    sla_cmds.register(app)
    from heatreuse.cli import telemetry_cmds

    telemetry_cmds.register(app)
    from heatreuse.cli import ledger_cmds

    ledger_cmds.register(app)
    from heatreuse.cli import serve_cmds

    serve_cmds.register(app)
    from heatreuse.cli import plan_cmds

    plan_cmds.register(app)
    from heatreuse.cli import store_cmds

    store_cmds.register(app)
    from heatreuse.cli import twin_cmds

    twin_cmds.register(app)
    from heatreuse.cli import template_cmds

    template_cmds.register(app)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by the console script and tests)."""
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except HeatreuseError as exc:
        # the message may echo user input with brackets: never read it as markup
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        return 130
    except SystemExit as exc:  # click usage errors in standalone_mode=False still land here
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    except Exception as exc:  # internal error: short message, traceback on demand
        # typer may carry its own copy of click: recognise its exceptions by duck typing.
        if hasattr(exc, "show") and hasattr(exc, "exit_code") and "click" in type(exc).__module__:
            exc.show()
            return int(exc.exit_code)
        if os.environ.get("HEATREUSE_DEBUG"):
            traceback.print_exc()
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
            "This is a bug in heatreuse; rerun with HEATREUSE_DEBUG=1 for the traceback.",
            highlight=False,
        )
        return 1
    return 0


def main() -> None:  # pragma: no cover - console script
    sys.exit(run())


if __name__ == "__main__":  # pragma: no cover
    main()
