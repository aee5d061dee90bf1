"""``heatreuse edge-rejects``: payloads an edge agent kept because they never became readings."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from heatreuse.cli.main import run
from heatreuse.telemetry import RawReading
from heatreuse.telemetry.edge import EdgeBuffer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"


def _buffer_with_rejects(path: Path) -> None:
    buf = EdgeBuffer(path)
    try:
        buf.reject("mqtt:site/batch", "not json", "unparseable", "expected a JSON object")
        buf.reject("mqtt:site/x", "hex:ff00 [/b]", "unparseable", "payload is not UTF-8 text")
        # a batch item without a point key is kept as a reject by the buffer itself
        buf.ingest([RawReading("", None, None, "mqtt:site/batch", raw='{"ts": 1}')])
        buf.reject("modbus:pumps:40001", "exception 2", "unknown_point", "no such register", "p1")
        buf.ingest([RawReading("hx.heat_power_w", "2026-11-01T12:00:00Z", 1.0, "t")])
    finally:
        buf.close()


def test_edge_rejects_lists_newest_first_as_table_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "edge.db"
    _buffer_with_rejects(path)
    assert run(["edge-rejects", str(EXAMPLE), "--buffer", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["site_id"] == "pool-potsdam" and doc["total"] == 4
    rows = doc["rejects"]
    assert [r["source"] for r in rows] == [
        "modbus:pumps:40001",
        "mqtt:site/batch",
        "mqtt:site/x",
        "mqtt:site/batch",
    ]
    assert rows[0] | {"id": 0, "received_at": ""} == {
        "id": 0,
        "received_at": "",
        "source": "modbus:pumps:40001",
        "reason": "unknown_point",
        "point": "p1",
        "raw": "exception 2",
        "raw_size_bytes": 11,
        "raw_sha256": hashlib.sha256(b"exception 2").hexdigest(),
        "raw_truncated": False,
        "raw_escaped": False,
        "detail": "no such register",
    }
    assert rows[1]["raw"] == '{"ts": 1}' and rows[1]["point"] is None
    assert all(r["received_at"].endswith("Z") for r in rows)
    args = ["edge-rejects", str(EXAMPLE), "--buffer", str(path)]
    assert run([*args, "--json", "--limit", "1", "--reason", "unparseable"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["total"] == 3 and [r["source"] for r in doc["rejects"]] == ["mqtt:site/batch"]
    monkeypatch.setenv("COLUMNS", "250")  # rich: one line per row
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "4 of 4 shown" in out and "no such register" in out and "hex:ff00 [/b]" in out
    # the default buffer is $HEATREUSE_HOME/edge-<site>.db
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path))
    path.rename(tmp_path / "edge-pool-potsdam.db")
    assert run(["edge-rejects", str(EXAMPLE), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 4


def test_edge_rejects_user_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.db"
    assert run(["edge-rejects", str(EXAMPLE), "--buffer", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "nope.db" in err and "no such file" in err
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert run(["edge-rejects", str(EXAMPLE), "--buffer", str(other)]) == 2
    assert "expected an edge buffer" in capsys.readouterr().err
    _buffer_with_rejects(tmp_path / "edge.db")
    args = ["edge-rejects", str(EXAMPLE), "--buffer", str(tmp_path / "edge.db")]
    assert run([*args, "--limit", "0"]) == 2
    assert "--limit: expected a positive number, got 0" in capsys.readouterr().err
    assert run([*args, "--reason", "bogus"]) == 2
    assert "unknown quarantine reason 'bogus'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["edge", "edge-rejects", "serve"])
def test_help_renders(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Help texts are rich markup: a '[/...]' in them would crash ``--help``."""
    assert run([command, "--help"]) == 0
    assert f" {command} [OPTIONS]" in capsys.readouterr().out
