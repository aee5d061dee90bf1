"""Start-up costs cut for issue 16, checked by what runs (never by wall time).

``--help`` loads neither PyYAML nor the site loader, the quick commands never load
rich's progress bars, and the console script skips pydantic's plugin scan and runs
the cyclic GC with higher thresholds.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
from cli_import_probe import modules_imported

from heatreuse.cli import main

POOL = str(Path(__file__).resolve().parents[2] / "examples" / "pool.yaml")


def test_help_loads_neither_yaml_nor_the_site_loader() -> None:
    modules = modules_imported("--help")
    assert "heatreuse.cli.site_cmds" in modules and "heatreuse.cli.sla_cmds" in modules
    assert "yaml" not in modules
    assert "heatreuse.site.loader" not in modules


@pytest.mark.parametrize("args", [("--help",), ("validate", POOL), ("site", "show", POOL)], ids=str)
def test_quick_commands_load_no_progress_bar(args: tuple[str, ...]) -> None:
    modules = modules_imported(*args)
    assert "rich.console" in modules  # the report is complete
    assert "rich.progress" not in modules


def test_validate_loads_the_site_loader_it_needs() -> None:
    modules = modules_imported("validate", POOL)
    assert {"yaml", "heatreuse.site.loader", "heatreuse.site.model"} <= modules


def _main_sees(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """What ``run`` sees when the console script calls it (GC and environment)."""
    seen: dict[str, object] = {}

    def fake_run(argv: list[str] | None = None) -> int:
        seen["thresholds"] = gc.get_threshold()
        seen["plugins"] = os.environ.get(main.PYDANTIC_PLUGINS_ENV)
        return 0

    monkeypatch.setattr(main, "run", fake_run)
    monkeypatch.setattr(main.gc, "freeze", lambda: None)  # not this test process's objects
    before = gc.get_threshold()
    try:
        with pytest.raises(SystemExit) as exit_info:
            main.main()
    finally:
        gc.set_threshold(*before)
    assert exit_info.value.code == 0
    return seen


def test_console_script_raises_gc_thresholds_and_skips_the_plugin_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(main.PYDANTIC_PLUGINS_ENV, raising=False)
    seen = _main_sees(monkeypatch)
    assert seen["thresholds"] == main.GC_THRESHOLDS != gc.get_threshold()
    assert seen["plugins"] == "__all__"


def test_a_users_pydantic_plugin_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(main.PYDANTIC_PLUGINS_ENV, "")  # '' keeps every plugin
    assert _main_sees(monkeypatch)["plugins"] == ""
