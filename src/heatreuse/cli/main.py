"""The ``heatreuse`` command: dispatch, error-to-exit-code mapping, sub-command registration.

Exit codes: 0 ok, 2 user error (:class:`heatreuse.errors.HeatreuseError`, bad
arguments), 1 internal error. User errors print their message without a
traceback; set ``HEATREUSE_DEBUG=1`` to see tracebacks of internal errors.

Start-up (issue 16): this module imports neither typer nor any command module.
:func:`run` registers only the command module a command line needs
(:data:`COMMAND_MODULE_OF`), and runs the plain command lines of
:data:`FAST_COMMANDS` (``heatreuse validate FILE``, ``heatreuse site show FILE``)
without typer at all: typer and the pydantic adapters it builds for its
parameters cost more than reading and checking a site file.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from heatreuse.cli.output import make_console
from heatreuse.errors import HeatreuseError

err_console = make_console(stderr=True)

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

#: Command lines run without typer: their words -> (module, function) that does the work,
#: called with the site file as a :class:`~pathlib.Path` (what typer would pass). Only the
#: exact line ``WORDS FILE`` takes this path (FILE not starting with ``-``); any option,
#: ``--help`` or an extra argument goes through typer. ``tests/cli/test_fast_commands.py``
#: checks that both paths print the same and exit alike.
FAST_COMMANDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("validate",): ("heatreuse.cli.site_view", "validate_site"),
    ("site", "show"): ("heatreuse.cli.site_view", "show_site"),
}


def _fast_command(args: Sequence[str]) -> Callable[[], object] | None:
    """The direct call that ``args`` asks for, or ``None`` when typer must parse them."""
    if len(args) < 2 or args[-1].startswith("-"):
        return None
    target = FAST_COMMANDS.get(tuple(args[:-1]))
    if target is None:
        return None
    module, function = target
    site_file = Path(args[-1])
    work: Callable[[Path], object] = getattr(importlib.import_module(module), function)
    return lambda: work(site_file)


def _register(argv: Sequence[str] | None = None) -> None:
    """Register the command modules that ``argv`` needs (all of them without a known command)."""
    from heatreuse.cli.app import app

    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    first = COMMAND_MODULE_OF.get(words[0]) if words else None
    for name in (first,) if first else COMMAND_MODULES:
        if name in _REGISTERED:
            continue
        _REGISTERED.add(name)
        importlib.import_module(f"heatreuse.cli.{name}").register(app)


#: Modules that typer's help formatter (``typer.rich_utils``) imports but uses only for
#: Markdown help (``rich_markup_mode="markdown"``, not ours) and pretty tracebacks (switched
#: off): with their dependencies (markdown-it, pygments, attrs) about 45 ms of ``--help``.
#: :func:`_import_help_formatter` lets it import these names as stand-ins that import the
#: real module on first use.
_HELP_FORMATTER_DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


class _Deferred(type):
    """Metaclass of a stand-in class: calls and attributes go to the real class."""

    _module: str
    _name: str

    def _real(cls) -> Any:
        return getattr(importlib.import_module(cls._module), cls._name)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls._real(), name)

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, cls._real())

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls._real())


def _deferred_class(module: str, name: str) -> type:
    """A stand-in for class ``module.name`` that imports ``module`` on first use."""
    return _Deferred(name, (), {"_module": module, "_name": name, "__module__": module})


def _import_help_formatter() -> None:
    """Import ``typer.rich_utils`` without the modules of :data:`_HELP_FORMATTER_DEFERRED`.

    The stand-ins stay only in ``typer.rich_utils``: anyone else importing those modules
    gets the real ones. A no-op once the formatter (or a deferred module) is imported; a
    typer that imports more from those modules than the stand-ins have gets the real ones.
    """
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins = {}
    for module, name in _HELP_FORMATTER_DEFERRED.items():
        if module not in sys.modules:
            stand_in = types.ModuleType(module)
            setattr(stand_in, name, _deferred_class(module, name))
            stand_ins[module] = stand_in
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("typer.rich_utils")
    except ImportError:  # it wants a name the stand-ins lack: import it as it is
        sys.modules.pop("typer.rich_utils", None)
    finally:
        for module, stand_in in stand_ins.items():
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]
    importlib.import_module("typer.rich_utils")


def _hide_flag_types(command: Any) -> None:
    """Help lists a flag without a value type: ``--json``, not ``--json <bool>``."""
    ctx = command.context_class(command)
    for param in command.get_params(ctx):  # with the --help option
        if getattr(param, "is_flag", False):
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _hide_flag_types(sub)


def _run_typer(argv: list[str] | None) -> None:
    """Parse ``argv`` (``None``: ``sys.argv``) with typer and run the command."""
    args = sys.argv[1:] if argv is None else argv
    words = [a for a in args if not a.startswith("-")]
    if "--help" in args or len(words) < 2:  # help, or a group's help, or a usage error
        _import_help_formatter()
    _register(argv)
    import typer

    from heatreuse.cli.app import app

    command = typer.main.get_command(app)
    _hide_flag_types(command)
    command.main(args=argv, prog_name="heatreuse", standalone_mode=False)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by the console script and tests)."""
    try:
        fast = _fast_command(sys.argv[1:] if argv is None else argv)
        if fast is not None:
            fast()
        else:
            _run_typer(argv)
    except HeatreuseError as exc:
        # the message may echo user input with brackets: never read it as markup
        from rich.markup import escape

        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("aborted")
        return 130
    except SystemExit as exc:  # click usage errors in standalone_mode=False still land here
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    except Exception as exc:  # internal error: short message, traceback on demand
        from rich.markup import escape

        typer = sys.modules.get("typer")  # typer's own exits, when typer ran
        if typer is not None and isinstance(exc, typer.Exit):
            return int(exc.exit_code or 0)
        if typer is not None and isinstance(exc, typer.Abort):
            err_console.print("aborted")
            return 130
        # typer may carry its own copy of click: recognise its exceptions by duck typing.
        if hasattr(exc, "show") and hasattr(exc, "exit_code") and "click" in type(exc).__module__:
            exc.show()
            return int(exc.exit_code)
        if os.environ.get("HEATREUSE_DEBUG"):
            import traceback

            traceback.print_exc()
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
            "This is a bug in heatreuse; rerun with HEATREUSE_DEBUG=1 for the traceback.",
            highlight=False,
        )
        return 1
    return 0


#: pydantic looks for plugins (third-party observability hooks, none of which heatreuse uses)
#: by reading the entry points of every installed distribution when the first model is
#: validated: importlib.metadata and the scan cost ``validate`` about 15 ms. The command line
#: skips the scan unless the user set the variable (``PYDANTIC_DISABLE_PLUGINS=`` keeps it).
PYDANTIC_PLUGINS_ENV = "PYDANTIC_DISABLE_PLUGINS"
#: Cyclic-GC thresholds of the console script (CPython's default: 700, 10, 10). Importing
#: pandas, numba and scipy creates millions of long-lived objects, and with the default
#: thresholds CPython walks them again and again (about 480 young and 40 older collections in
#: ``heatreuse plan --step 1h``, 0.15-0.3 s of CPU; 51 and 4 with these). Young garbage is
#: still collected every 50,000 allocations; a long-running ``serve`` still runs full
#: collections, only rarer.
GC_THRESHOLDS = (50_000, 20, 100)


def main() -> None:  # pragma: no cover - console script
    os.environ.setdefault(PYDANTIC_PLUGINS_ENV, "__all__")
    gc.set_threshold(*GC_THRESHOLDS)
    code = run()
    # Leaving the interpreter, CPython collects every object pandas, numba and plotly made
    # (about 0.5 s of CPU after a plan); frozen objects are left to the OS, which frees the
    # whole process anyway. atexit handlers (log flushing, ...) still run.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
