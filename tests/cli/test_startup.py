"""A fast, readable CLI (issue 16): what start-up imports, piped output, help text.

Start-up is checked by what it imports (never by wall time): ``heatreuse
--help``, ``validate`` and ``site show`` run as their own process with ``python
-X importtime``, whose report names every module the process imported.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from rich.console import Console

from heatreuse.cli import main
from heatreuse.cli.main import run
from heatreuse.cli.output import Table

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POOL = str(EXAMPLES / "pool.yaml")
#: What the quick commands must not load: the numeric stack, the engine, the charts.
HEAVY = ("numpy", "pandas", "numba", "scipy", "plotly", "pyarrow", "CoolProp", "pvlib")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``heatreuse ARGS`` as its own process with stdout piped (not a terminal)."""
    base = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "heatreuse.cli.main", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        check=False,
        timeout=120,
    )


def _imported(stderr: str) -> set[str]:
    """Top-level packages in a ``-X importtime`` report."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


@pytest.mark.parametrize(
    "args",
    [("--help",), ("validate", POOL), ("site", "show", POOL), ("site", "--help")],
    ids=["--help", "validate", "site show", "site --help"],
)
def test_quick_commands_do_not_import_the_numeric_stack(args: tuple[str, ...]) -> None:
    proc = _cli(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = _imported(proc.stderr)
    assert "heatreuse" in imported and "rich" in imported  # the report is complete
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_help_loads_neither_pydantic_nor_the_site_model() -> None:
    imported = _imported(_cli("--help").stderr)
    assert "pydantic" not in imported


def test_every_command_word_maps_to_the_module_that_registers_it() -> None:
    for name in main.COMMAND_MODULES:
        module = __import__(f"heatreuse.cli.{name}", fromlist=["register"])
        fresh = typer.Typer()
        module.register(fresh)
        words = {c.name for c in fresh.registered_commands} | {
            g.name for g in fresh.registered_groups
        }
        mapped = {w for w, m in main.COMMAND_MODULE_OF.items() if m == name}
        assert words == mapped, name


def test_a_known_command_registers_only_its_module(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str] = []
    monkeypatch.setattr(main.importlib, "import_module", lambda n: loaded.append(n) or _Stub())
    monkeypatch.setattr(main, "_REGISTERED", set())  # (stubs must not count as registered)
    main._register(["validate", POOL])
    assert loaded == ["heatreuse.cli.site_cmds"]
    loaded.clear()
    main._register(["--help"])
    # every module, each once: site_cmds was registered by the first call already
    assert loaded == [f"heatreuse.cli.{n}" for n in main.COMMAND_MODULES if n != "site_cmds"]


class _Stub:
    @staticmethod
    def register(app: typer.Typer) -> None:
        """Register nothing."""


def test_piped_output_is_not_cut_to_80_columns(tmp_path: Path) -> None:
    deep = tmp_path / ("a-folder-whose-name-is-long-" * 3) / "and-a-site-file-named-at-length"
    deep.mkdir(parents=True)
    site = deep / "pool-potsdam-nord.yaml"
    site.write_text((EXAMPLES / "pool.yaml").read_text())
    assert len(str(site)) > 80
    proc = _cli("validate", str(site))
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and str(site) in lines[0]


def test_raci_rows_are_told_apart_and_not_truncated_on_80_columns() -> None:
    proc = _cli("site", "show", POOL, env={"COLUMNS": "80"})
    assert proc.returncode == 0
    raci = proc.stdout[proc.stdout.index("Ownership (RACI)") :]
    assert max(len(line) for line in raci.splitlines()) <= 80
    for activity in ("design_change", "maintenance_signoff", "automation_override"):
        assert activity in raci
    for route in ("system=it", "system=plant", "severity=critical", "system=ledger"):
        assert f"alarms [{route}]" in raci  # the match, not eaten as rich markup


def test_help_shows_no_type_for_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["plan", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--compare-models" in out and "<bool>" not in out
    assert "<int" in out  # options that take a value still show its type
    assert run(["--help"]) == 0
    assert "<bool>" not in capsys.readouterr().out


def test_version_is_looked_up_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    from heatreuse import __version__

    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"heatreuse {__version__}"


def test_a_table_title_is_not_wrapped_to_the_width_of_its_columns() -> None:
    title = "Store sqlite:////home/someone/.local/share/heatreuse/heatreuse.db"
    console = Console(width=200, file=io.StringIO())
    table = Table(title=title)
    table.add_column("item")
    table.add_row("schema version")
    console.print(table)
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert printed.splitlines()[0].strip() == title
