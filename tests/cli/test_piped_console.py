"""Every command lays piped output out the same way (issue 16: piped output is not cut).

A command module that builds its own ``rich.console.Console()`` lays piped output out
on 80 columns and truncates table cells (``stale_f…``, ``point=d…`` in ``detect``'s
alert table): every console comes from :func:`heatreuse.cli.output.make_console`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import heatreuse.cli

CLI = Path(heatreuse.cli.__file__).parent
POOL = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"


def test_no_command_module_builds_its_own_console() -> None:
    offenders = [
        f"{p.name}:{n}"
        for p in sorted(CLI.glob("*.py"))
        if p.name != "output.py"
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\bConsole\(", line)
    ]
    assert offenders == []


def test_detect_table_piped_keeps_whole_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alert table of ``detect`` on a pipe: rule names and labels whole, never ``…``."""
    from heatreuse.cli.main import run
    from heatreuse.services.ingest import ingest_file
    from heatreuse.services.twin import run_offline_twin
    from heatreuse.simulation.scenarios import parse_scenarios
    from heatreuse.site import load_site
    from heatreuse.store import open_store

    monkeypatch.delenv("COLUMNS", raising=False)
    site = load_site(POOL)
    day = tmp_path / "day.parquet"
    run_offline_twin(
        site,
        start="2026-01-14T00:00Z",
        end="2026-01-15T00:00Z",
        out=day,
        scenarios=parse_scenarios(["pump_failure@2026-01-14T06:00Z+5h"]),
    )
    url = f"sqlite:///{tmp_path / 'piped.db'}"
    with open_store(url, create=True) as st:
        ingest_file(site, day, st)
    assert run(["detect", str(POOL), "--store", url, "--end", "2026-01-15T00:00Z"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    assert "pump_stopped" in out and "equipment=pump.p-primary" in out
