"""The edge buffer holds telemetry: created owner-only, with its folder and side files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from heatreuse.cli.main import run
from heatreuse.telemetry import RawReading
from heatreuse.telemetry.edge import EdgeBuffer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_022")
def test_edge_buffer_and_side_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "edge" / "site" / "edge-pool.db"
    buf = EdgeBuffer(path)
    try:
        assert buf.ingest([RawReading("p.temp_c", "2026-11-01T12:00:00Z", 1.0, "test")]) == 1
        side = [Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(p.exists() for p in side)
        assert [_mode(p) for p in (path, *side)] == [0o600, 0o600, 0o600]
        assert _mode(tmp_path / "edge") == 0o700 and _mode(tmp_path / "edge" / "site") == 0o700
    finally:
        buf.close()


@pytest.mark.usefixtures("umask_022")
def test_existing_edge_buffer_mode_is_kept(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o755)
    path = folder / "edge.db"
    EdgeBuffer(path).close()
    os.chmod(path, 0o640)
    buf = EdgeBuffer(path)
    buf.close()
    assert _mode(path) == 0o640 and _mode(folder) == 0o755


def test_edge_rejects_without_a_buffer_creates_no_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "hr-home"
    monkeypatch.setenv("HEATREUSE_HOME", str(home))
    assert run(["edge-rejects", str(EXAMPLE)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not home.exists()
