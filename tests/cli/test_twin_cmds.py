"""CLI: heatreuse drill, heatreuse twin (offline and live), heatreuse twin-inject."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pandas as pd
import pytest

from heatreuse.cli.main import run
from heatreuse.simulation.scenarios import SCENARIO_NAMES

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "pool.yaml")


def test_drill_one_scenario_writes_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d"
    code = run(
        ["drill", EXAMPLE, "--scenario", "pump_failure@2026-01-10T06:00+5h", "--out", str(out)]
    )
    assert code == 0
    line = capsys.readouterr().out.strip()
    assert "pump_failure@2026-01-10T06:00Z+5h" in line
    data = json.loads((out / "drill.json").read_text())
    assert data["scenarios"] == ["pump_failure@2026-01-10T06:00Z+5h"]
    assert (out / "drill.html").stat().st_size > 100_000


def test_drill_all_prints_one_line_per_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["drill", EXAMPLE, "--all", "--year", "2026", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(SCENARIO_NAMES)
    for name, line in zip(SCENARIO_NAMES, lines, strict=True):
        assert line.split()[0] in ("PASS", "DEGRADED", "FAIL")
        assert name in line
        assert (tmp_path / name / "drill.json").exists()
    summary = json.loads((tmp_path / "drills.json").read_text())
    assert [s["scenario"].split("@")[0] for s in summary] == list(SCENARIO_NAMES)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "pump_explodes"], "unknown scenario"),
        ([], "--scenario"),
        (["--all", "--scenario", "compute_trip"], "either --all or --scenario"),
        (["--scenario", "compute_trip", "--step", "7x"], "--step"),
    ],
)
def test_drill_user_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run(["drill", EXAMPLE, *args, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_offline_twin_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.csv"
    code = run(
        [
            "twin",
            EXAMPLE,
            "--start",
            "2026-10-05",
            "--end",
            "2026-10-06",
            "--scenario",
            "pump_failure@2026-10-05T06:00+5h",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    data = pd.read_csv(out)
    assert list(data.columns) == ["timestamp", "point_id", "value"]
    assert data["timestamp"].str.endswith("Z").all()
    assert run(["twin", EXAMPLE, "--out", str(out)]) == 2
    assert "--start and --end" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_live_twin_command_with_control_and_inject(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Compile the engine first (a clean checkout has no numba cache): the live twin below
    # runs for 8 s only (counted from when its control endpoint is up), and the injection
    # and the refused one must land inside that window (they take well under a second).
    warm = tmp_path / "warm.csv"
    assert (
        run(["twin", EXAMPLE, "--start", "2026-01-05", "--end", "2026-01-06", "--out", str(warm)])
        == 0
    )
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HEATREUSE_TWIN_TOKEN", raising=False)
    prefix = f"test-twin-cli/{uuid.uuid4().hex[:10]}"
    control_port = _free_port()
    control = f"127.0.0.1:{control_port}"
    token_file = tmp_path / "home" / f"twin-control-{control_port}.token"
    got: list[mqtt.MQTTMessage] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda _c, _u, m: got.append(m)
    sub.connect("127.0.0.1", 1883)
    sub.loop_start()
    sub.subscribe(f"{prefix}/#", qos=1)
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            run(
                [
                    "twin",
                    EXAMPLE,
                    "--speed",
                    "600",
                    "--step",
                    "60s",
                    "--mqtt",
                    "127.0.0.1:1883",
                    "--topic-prefix",
                    prefix,
                    "--modbus",
                    f"127.0.0.1:{_free_port()}",
                    "--control",
                    control,
                    "--duration",
                    "8s",
                ]
            )
        )
    )
    thread.start()
    try:
        deadline = time.monotonic() + 60
        injected = 1
        while time.monotonic() < deadline and injected != 0 and thread.is_alive():
            time.sleep(0.3)
            injected = run(["twin-inject", control, "utility_feed_loss+30min"])
        assert injected == 0, f"no injection while the twin ran (twin exit: {result})"
        # the token the twin made is owner-only; a wrong one is refused (exit 2, nothing injected)
        assert token_file.stat().st_mode & 0o777 == 0o600
        monkeypatch.setenv("HEATREUSE_TWIN_TOKEN", "x" * 43)
        assert run(["twin-inject", control, "compute_trip+1h"]) == 2
        assert "token was refused (401)" in capsys.readouterr().err
        monkeypatch.delenv("HEATREUSE_TWIN_TOKEN")
        thread.join(90)
        assert result == [0]
        topics = {m.topic for m in got}
        assert f"{prefix}/meter/heat_energy_kwh" in topics
        feed = [
            json.loads(m.payload)["value"]
            for m in got
            if m.topic == f"{prefix}/utility/feed_status"
        ]
        assert 0.0 in feed and 1.0 in feed
        # the twin's availability ends offline (MQTT orders messages per topic and QoS, so
        # a last data message of another QoS may still arrive after it)
        availability = [m.payload for m in got if m.topic == f"{prefix}/availability"]
        assert availability and availability[-1] == b"offline"
    finally:
        sub.publish(f"{prefix}/availability", b"", qos=1, retain=True).wait_for_publish(5)
        sub.loop_stop()
        sub.disconnect()
    assert not token_file.exists()  # the token died with the twin
    assert run(["twin-inject", control, "compute_trip+1h"]) == 2
    assert run(["twin", EXAMPLE]) == 2
