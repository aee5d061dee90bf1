"""``heatreuse ingest``, ``points list|export``, ``quarantine list``: output and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph

from heatreuse.cli.main import run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
CSV = (
    "timestamp,point_id,value\n"
    "2026-10-01T00:00:00Z,customer.supply_temp_c,38.5\n"
    "2026-10-01T00:00:10Z,customer.supply_temp_c,38.6\n"
    "2026-10-01T00:00:10Z,customer.supply_temp_c,200\n"
)


def test_ingest_then_reingest_then_quarantine_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "m.csv"
    data.write_text(CSV)
    store = f"sqlite:///{tmp_path / 's.db'}"
    assert run(["ingest", str(EXAMPLE), str(data), "--store", store]) == 0
    out = capsys.readouterr().out
    assert "accepted (new)" in out and "2" in out
    assert "quarantined: out_of_range" in out
    assert run(["ingest", str(EXAMPLE), str(data), "--store", store, "-q"]) == 0
    out = capsys.readouterr().out
    assert "duplicates (already stored)" in out
    args = ["quarantine", "list", str(EXAMPLE), "--store", store]
    assert run([*args, "--reason", "out_of_range"]) == 0
    out = capsys.readouterr().out
    assert "out_of_range" in out
    assert run([*args, "--reason", "bogus"]) == 2
    assert "unknown quarantine reason" in capsys.readouterr().err


def test_ingest_user_errors_exit_2_and_name_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 's.db'}"
    missing = tmp_path / "nope.csv"
    assert run(["ingest", str(EXAMPLE), str(missing), "--store", store]) == 2
    assert "nope.csv" in capsys.readouterr().err
    naive = tmp_path / "naive.csv"
    naive.write_text("timestamp,point_id,value\n2026-10-01T00:00:00,loop.pressure_bar,3\n")
    assert run(["ingest", str(EXAMPLE), str(naive), "--store", store, "-q"]) == 2
    err = capsys.readouterr().err
    assert "naive.csv" in err and "row 1" in err
    assert run(["ingest", str(tmp_path / "no-site.yaml"), str(naive), "--store", store]) == 2
    assert "no-site.yaml" in capsys.readouterr().err
    assert run(["ingest", str(EXAMPLE), str(naive), "--store", "mysql://x"]) == 2
    assert run(["ingest", str(EXAMPLE), str(naive), "--not-before", "2026-01-01T00:00"]) == 2


def test_points_list_and_brick_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["points", "list", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "meter.heat_energy_kwh" in out
    assert run(["points", "export", str(EXAMPLE)]) == 2
    assert "--brick" in capsys.readouterr().err
    ttl = tmp_path / "site.ttl"
    assert run(["points", "export", str(EXAMPLE), "--brick", "--out", str(ttl)]) == 0
    g = Graph()
    g.parse(ttl, format="turtle")
    assert len(g) > 500
    assert run(["points", "export", str(EXAMPLE), "--brick"]) == 0
    assert "brick:Thermal_Power_Meter" in capsys.readouterr().out


def test_quarantine_list_pages_streams_and_shows_hostile_payloads_safely(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from heatreuse.store import QuarantineRecord, open_store

    store = f"sqlite:///{tmp_path / 's.db'}"
    with open_store(store, create=True) as s:
        s.write_quarantine(
            [
                QuarantineRecord(
                    site_id="pool-potsdam",
                    source=f"mqtt:t/{k}",
                    reason="unknown_point",
                    raw_payload=f"row{k:03d} [/bold] \x1b[2J",
                    received_at_us=1_000_000 + k,
                )
                for k in range(120)
            ]
            + [
                QuarantineRecord(
                    site_id="pool-potsdam",
                    source="http:x",
                    reason="unparseable",
                    raw_payload="p" * 10_000_000,
                    point_id="\ud800",
                    received_at_us=5,
                )
            ]
        )
    args = ["quarantine", "list", str(EXAMPLE), "--store", store]
    assert run([*args, "--limit", "10", "--offset", "5"]) == 0
    out = capsys.readouterr().out
    assert "row114" in out and "row105" in out and "row115" not in out and "row104" not in out
    assert "[/bold]" in out and "\x1b" not in out  # shown as text, escapes escaped
    assert "--offset 15" in out
    assert run([*args, "--all", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 121 and rows[0]["raw"].startswith("row119")
    big = rows[-1]
    assert big["raw_truncated"] and big["raw_size_bytes"] == 10_000_000
    assert len(big["raw"]) == 4096 and len(big["raw_sha256"]) == 64
    assert big["point"] == "\\ud800"
    assert run([*args, "--reason", "unparseable"]) == 0
    flat = "".join(c for c in capsys.readouterr().out if c not in "│┃ \n")  # undo folding
    assert "firstbytesof10,000,000bytes,sha256" in flat
    assert run([*args, "--limit", "0"]) == 2


def test_points_list_shows_table_address_type_word_order_and_scale_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from heatreuse.cli import telemetry_cmds

    site = tmp_path / "meter.yaml"
    site.write_text(
        EXAMPLE.read_text()
        + """
points:
  unit_code_tables:
    acme_mc603:
      energy: [[0, Wh], [1, kWh], [2, MWh], [3, GJ]]
  modbus_devices:
    - {id: heat-meter, kind: acme_mc603, word_order: little}
  entries:
    - id: meter.heat_energy_kwh
      rollover_value: 10000000000
      source:
        modbus: {device: heat-meter, table: input, address: 8,
                 unit_code: {address: 40, table: input, codes: energy}}
"""
    )
    monkeypatch.setattr(telemetry_cmds.console, "width", 250)
    assert run(["points", "list", str(site)]) == 0
    out = capsys.readouterr().out
    assert "heat-meter input 8 float32 little, scale: unit code input 40 (energy)" in out
    assert "heat-meter holding 0 float32 little, scale: x1 (degC)" in out
    assert "pump-controller holding 0 uint16, scale: x1 (1)" in out
    assert run(["points", "list", str(site), "--modbus"]) == 0
    rows = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:8]]
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("│")
    }
    assert rows["meter.heat_energy_kwh"] == [
        "heat-meter",
        "input",
        "8",
        "float32",
        "little",
        "unit code input 40 (energy)",
    ]
    assert rows["meter.supply_temp_c"] == [
        "heat-meter",
        "holding",
        "0",
        "float32",
        "little",
        "x1 (degC)",
    ]
    assert rows["pump.p-primary.status"][2:] == ["0", "uint16", "-", "x1 (1)"]
    assert rows["pump.p-primary.speed_fraction"][4:] == ["big", "x0.01 (%)"]
    assert "customer.supply_temp_c" not in rows  # no register: not in the map
