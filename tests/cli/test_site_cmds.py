"""CLI: validate, site show, --version and exit codes (0 ok, 2 user error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from heatreuse import __version__
from heatreuse.cli.main import run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", str(EXAMPLES / "pool.yaml")]) == 0
    assert "OK" in capsys.readouterr().out


def test_validate_bad_file_exit_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((EXAMPLES / "pool.yaml").read_text().replace("volume_m3: 10", "volume_m3: -3"))
    assert run(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "plant.buffer_tank.volume_m3" in err and "Traceback" not in err


def test_site_show_prints_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["site", "show", str(EXAMPLES / "district_preheat.yaml")]) == 0
    out = capsys.readouterr().out
    assert "dh-hamburg" in out and "400 kW" in out and "Ownership (RACI)" in out


def test_unknown_command_is_a_usage_error() -> None:
    assert run(["frobnicate"]) == 2


def test_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    assert run(["site", "--help"]) == 0
    assert "show" in capsys.readouterr().out
