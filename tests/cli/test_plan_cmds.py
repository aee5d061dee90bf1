"""``heatreuse plan``: exit codes, outputs, bad-input messages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from heatreuse.cli.main import run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POOL = str(EXAMPLES / "pool.yaml")


def test_plan_with_pvlib_weather_and_sweep(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = run(
        [
            "plan",
            POOL,
            "--weather",
            "pvlib:723170TYA.CSV",
            "--step",
            "3600",
            "--out",
            str(out),
            "--sweep",
            "tank_volume_m3=5:10:5",
            "--workers",
            "1",
        ]
    )
    assert code == 0
    for name in ("summary.json", "hourly.parquet", "report.html", "sweep.parquet", "sweep.html"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert "723170TYA" in summary["weather_source"]
    assert summary["step_s"] == 3600
    assert len(summary["sweep"]["parameters"]["tank_volume_m3"]["values"]) == 2
    assert len(pd.read_parquet(out / "sweep.parquet")) == 2


def test_plan_prints_units_and_stamps_the_sites_year(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a-long-output-folder-name-for-the-district-heating-plan"
    site = str(EXAMPLES / "district_preheat.yaml")  # commissioning_date: 2026-07-15
    assert run(["plan", site, "--step", "1h", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for label in ("heat demand [kWh]", "heat rejected [kWh]", "avoided CO2 [kg]"):
        assert label in printed  # a unit in brackets, not swallowed as rich markup
    assert f"wrote report: {out / 'report.html'}\n" in printed  # one line, however long
    summary = json.loads((out / "summary.json").read_text())
    assert summary["weather_year"] == 2026
    assert pd.Timestamp(summary["period_start_utc"]).tz_convert("Europe/Berlin").year == 2026


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--weather", "no/such/file.epw"], "file.epw"),
        (["--weather", "dwd-try:99"], "dwd-try:99"),
        (["--sweep", "tank_litres=1:2:1"], "tank_litres"),
        (["--sweep", "tank_volume_m3=2:1:0"], "tank_volume_m3"),
        (["--step", "7s"], "--step"),
    ],
)
def test_bad_input_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code = run(["plan", POOL, "--out", str(tmp_path / "out"), "--step", "3600", *args])
    assert code == 2
    err = capsys.readouterr().err
    assert needle in err.replace("\n", "")
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "summary.json").exists()


def test_weather_with_gap_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = pd.date_range("2025-01-01", periods=8760, freq="h", tz="UTC").delete(5000)
    path = tmp_path / "gappy.csv"
    pd.DataFrame({"timestamp": [t.isoformat() for t in index], "air_temp_c": 8.0}).to_csv(
        path, index=False
    )
    code = run(["plan", POOL, "--weather", str(path), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "gappy.csv" in capsys.readouterr().err.replace("\n", "")


def test_missing_site_file_exits_2(tmp_path: Path) -> None:
    assert run(["plan", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")]) == 2


def test_out_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["plan", POOL]) == 2
