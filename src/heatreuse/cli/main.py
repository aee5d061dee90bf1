"""The ``heatreuse`` command: the app, error-to-exit-code mapping, sub-command registration.

Exit codes: 0 ok, 2 user error (:class:`heatreuse.errors.HeatreuseError`, bad
arguments), 1 internal error. User errors print their message without a
traceback; set ``HEATREUSE_DEBUG=1`` to see tracebacks of internal errors.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import typer
from rich.markup import escape

from heatreuse.cli.output import make_console
from heatreuse.errors import HeatreuseError

app = typer.Typer(
    name="heatreuse",
    help="Plan, run and prove waste-heat reuse from edge compute sites.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = make_console(stderr=True)


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


#: The command modules, in the order ``heatreuse --help`` lists their commands. Each
#: lives in ``heatreuse.cli`` and has ``register(app)``; heavy imports stay inside commands.
COMMAND_MODULES = (
    "site_cmds",
    "demo_cmds",
    "verify_cmds",
    "sla_cmds",
    "telemetry_cmds",
    "ledger_cmds",
    "serve_cmds",
    "plan_cmds",
    "store_cmds",
    "twin_cmds",
    "mqtt_cmds",
    "monitoring_cmds",
    "compare_cmds",
    "template_cmds",
    "maintenance_cmds",
    "review_cmds",
    "people_cmds",
    "fleet_cmds",
    "commission_cmds",
    "changes_cmds",
)
#: First word of a command line -> the one module that registers it, so that ``heatreuse
#: validate`` imports neither the ledger nor the twin. A word missing here (help, a typo,
#: a new command) registers every module: slower, never wrong. Checked by
#: tests/cli/test_startup.py against what each module registers.
COMMAND_MODULE_OF = {
    "validate": "site_cmds",
    "site": "site_cmds",
    "demo": "demo_cmds",
    "verify": "verify_cmds",
    "sla": "sla_cmds",
    "ingest": "telemetry_cmds",
    "points": "telemetry_cmds",
    "quarantine": "telemetry_cmds",
    "kpi": "ledger_cmds",
    "ledger": "ledger_cmds",
    "export": "ledger_cmds",
    "report": "ledger_cmds",
    "serve": "serve_cmds",
    "edge": "serve_cmds",
    "edge-rejects": "serve_cmds",
    "plan": "plan_cmds",
    "plan-fleet": "plan_cmds",
    "store": "store_cmds",
    "drill": "twin_cmds",
    "twin": "twin_cmds",
    "twin-inject": "twin_cmds",
    "mqtt": "mqtt_cmds",
    "witness": "verify_cmds",
    "detect": "monitoring_cmds",
    "rules": "monitoring_cmds",
    "alerts": "monitoring_cmds",
    "silences": "monitoring_cmds",
    "incidents": "monitoring_cmds",
    "actions": "monitoring_cmds",
    "compare": "compare_cmds",
    "template": "template_cmds",
    "maintenance": "maintenance_cmds",
    "review": "review_cmds",
    "users": "people_cmds",
    "tokens": "people_cmds",
    "devices": "people_cmds",
    "audit": "people_cmds",
    "access": "people_cmds",
    "fleet": "fleet_cmds",
    "commission": "commission_cmds",
    "changes": "changes_cmds",
}
#: Modules already registered in this process: each registers once (typer rebuilds every
#: registered group per call, so repeated registration slows every later call).
_REGISTERED: set[str] = set()


def _register(argv: Sequence[str] | None = None) -> None:
    """Register the command modules that ``argv`` needs (all of them without a known command)."""
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    first = COMMAND_MODULE_OF.get(words[0]) if words else None
    for name in (first,) if first else COMMAND_MODULES:
        if name in _REGISTERED:
            continue
        _REGISTERED.add(name)
        importlib.import_module(f"heatreuse.cli.{name}").register(app)


def _hide_flag_types(command: Any) -> None:
    """Help lists a flag without a value type: ``--json``, not ``--json <bool>``."""
    ctx = command.context_class(command)
    for param in command.get_params(ctx):  # with the --help option
        if getattr(param, "is_flag", False):
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _hide_flag_types(sub)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by the console script and tests)."""
    _register(argv)
    try:
        command = typer.main.get_command(app)
        _hide_flag_types(command)
        command.main(args=argv, prog_name="heatreuse", standalone_mode=False)
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
    code = run()
    # Leaving the interpreter, CPython collects every object pandas, numba and plotly made
    # (about 0.5 s of CPU after a plan); frozen objects are left to the OS, which frees the
    # whole process anyway. atexit handlers (log flushing, ...) still run.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
