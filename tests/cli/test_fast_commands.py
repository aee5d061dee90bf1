"""Issue 16: ``validate FILE`` and ``site show FILE`` run without typer; ``--help`` is lighter.

Checked by what a process imports and by what the commands print, never by wall time:

* ``heatreuse validate FILE`` and ``heatreuse site show FILE`` import neither typer, nor
  ``importlib.metadata`` (pydantic's plugin loader), nor rich's emoji table;
* they print and exit exactly as the same command line parsed by typer does;
* ``heatreuse --help`` prints the same help without importing rich's Markdown and
  traceback modules (markdown-it, pygments, attrs).
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from cli_import_probe import modules_imported

from heatreuse.cli import main
from heatreuse.cli.main import run
from heatreuse.cli.output import make_console
from heatreuse.site.template import fill_placeholders

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POOL = str(EXAMPLES / "pool.yaml")


def _top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize("args", [("validate", POOL), ("site", "show", POOL)], ids=str)
def test_a_plain_site_command_runs_without_typer(args: tuple[str, ...], tmp_path: Path) -> None:
    warm = {"HEATREUSE_CACHE_DIR": str(tmp_path)}  # the schema cache, as a user has it
    modules_imported(*args, env=warm)
    modules = modules_imported(*args, env=warm)
    # it did the work: read the YAML, built the model, printed with rich
    assert {"yaml", "heatreuse.site.model", "heatreuse.cli.site_view", "rich.console"} <= modules
    assert "typer" not in _top(modules) and "click" not in _top(modules)
    assert not {m for m in modules if m.startswith("heatreuse.cli.") and m.endswith("_cmds")}
    assert "importlib.metadata" not in modules  # no pydantic plugin scan, no version lookup
    assert "pydantic.plugin._loader" not in modules
    assert "rich._emoji_codes" not in modules


@pytest.mark.parametrize(
    "args",
    [("validate", "--help"), ("validate", POOL, "--help"), ("site", "show", "--help")],
    ids=str,
)
def test_any_other_line_of_those_commands_goes_through_typer(args: tuple[str, ...]) -> None:
    modules = modules_imported(*args)
    assert "typer" in _top(modules) and "heatreuse.cli.site_cmds" in modules


def test_only_the_exact_plain_lines_take_the_fast_path() -> None:
    assert main._fast_command(["validate", POOL]) is not None
    assert main._fast_command(["site", "show", POOL]) is not None
    for args in (
        [],
        ["validate"],
        ["validate", "-"],
        ["validate", "--help"],
        ["validate", POOL, "--help"],
        ["validate", "--", POOL],
        ["validate", POOL, POOL],
        ["site", POOL],
        ["site", "new", POOL],
        ["show", POOL],
        ["plan", POOL],
    ):
        assert main._fast_command(args) is None, args


def _filled_template_site(tmp_path: Path) -> Path:
    site_file = tmp_path / "greenhouse.yaml"
    assert (
        run(["site", "new", "--template", "greenhouse", "--id", "g-1", "--out", str(site_file)])
        == 0
    )
    site_file.write_text(fill_placeholders(site_file.read_text()))
    return site_file


def _cases(tmp_path: Path) -> list[list[str]]:
    pool = Path(POOL).read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(pool.replace("volume_m3: 10", "volume_m3: -3"))
    markup = tmp_path / "[bold]pool[red] :fire:.yaml"
    markup.write_text(pool)
    warned = _filled_template_site(tmp_path)
    text = warned.read_text()
    warned.write_text(text.replace("notice_h: 48", "notice_h: 12"))
    refused = tmp_path / "refused.yaml"
    refused.write_text(
        text.replace("notice_h: 48", "notice_h: 12").replace(
            "target_fraction: 0.97", "target_fraction: 0.9"
        )
    )
    not_yaml = tmp_path / "folder.yaml"
    not_yaml.mkdir()
    lines = []
    for site in (POOL, bad, markup, warned, refused, tmp_path / "missing.yaml", not_yaml, ""):
        lines += [["validate", str(site)], ["site", "show", str(site)]]
    lines.append(["site", "show", str(EXAMPLES / "district_preheat.yaml")])
    return lines


def test_the_fast_path_prints_and_exits_as_typer_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _cases(tmp_path)
    capsys.readouterr()
    fast = []
    for args in lines:
        assert main._fast_command(args) is not None, args
        code = run(args)
        fast.append((code, *capsys.readouterr()))
    monkeypatch.setattr(main, "FAST_COMMANDS", {})  # every line through typer
    for args, (code, out, err) in zip(lines, fast, strict=True):
        assert main._fast_command(args) is None
        assert (run(args), *capsys.readouterr()) == (code, out, err), args
    codes = [code for code, _, _ in fast]
    assert 0 in codes and 2 in codes  # both outcomes compared
    assert any("warning:" in out for _, out, _ in fast)  # a template check printed
    assert any("Ownership (RACI)" in out for _, out, _ in fast)  # site show printed tables


def test_an_internal_error_on_the_fast_path_is_reported_as_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import heatreuse.cli.site_view as site_view

    def broken(site_file: Path) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(site_view, "validate_site", broken)
    assert run(["validate", POOL]) == 1
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError" in err and "Traceback" not in err


def test_help_defers_rich_markdown_and_traceback() -> None:
    modules = modules_imported("--help")
    assert "typer.rich_utils" in modules  # rich's help panels are there
    deferred = {"rich.markdown", "rich.traceback", "rich.syntax", "rich.pretty"}
    assert not modules & deferred, sorted(modules & deferred)
    assert not _top(modules) & {"markdown_it", "pygments", "attr"}


def test_help_is_the_same_with_and_without_the_deferred_modules() -> None:
    def help_text(prelude: str) -> str:
        code = f"{prelude}\nfrom heatreuse.cli.main import run\nraise SystemExit(run(['--help']))"
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    deferred = help_text("")
    real = help_text("import rich.markdown, rich.traceback, typer.rich_utils")
    assert "Commands" in deferred and "validate" in deferred
    assert deferred == real


def test_a_deferred_class_is_the_real_one_on_use() -> None:
    code = """
import sys
from heatreuse.cli import main
main._import_help_formatter()
import typer.rich_utils as ru
assert "rich.markdown" not in sys.modules and "rich.traceback" not in sys.modules
md = ru.Markdown("# Title")  # what typer does with rich_markup_mode="markdown"
import rich.markdown, rich.traceback
assert type(md) is rich.markdown.Markdown and isinstance(md, ru.Markdown)
assert ru.Traceback.from_exception == rich.traceback.Traceback.from_exception
assert sys.modules["rich.markdown"] is rich.markdown  # the real module for everyone else
print("ok")
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_the_console_prints_emoji_codes_as_written() -> None:
    console = make_console()
    console.file = io.StringIO()
    console.print("site :fire: at C:\\data:pool:")
    assert console.file.getvalue().strip() == "site :fire: at C:\\data:pool:"


def test_help_still_works_when_typer_wants_more_than_the_stand_ins_have() -> None:
    code = """
import sys
from heatreuse.cli import main
main._HELP_FORMATTER_DEFERRED = {"rich.markdown": "NotWhatTyperImports"}
main._import_help_formatter()
import typer.rich_utils as ru, rich.markdown
assert ru.Markdown is rich.markdown.Markdown  # the real class
raise SystemExit(main.run(["--help"]))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Commands" in proc.stdout
