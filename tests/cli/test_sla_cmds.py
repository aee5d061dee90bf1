"""CLI: heatreuse sla export / import / report (exit codes 0, 2, 4)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import yaml

from heatreuse.cli.main import run
from heatreuse.site import load_site
from heatreuse.sla import SlaDefinition, import_openslo
from heatreuse.store import open_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_export_stdout_and_file_then_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sla", "export", str(EXAMPLES / "pool.yaml")]) == 0
    text = capsys.readouterr().out
    assert import_openslo(text) == SlaDefinition.from_site(load_site(EXAMPLES / "pool.yaml"))
    out = tmp_path / "pool-slo.yaml"
    assert run(["sla", "export", str(EXAMPLES / "pool.yaml"), "--out", str(out)]) == 0
    assert out.read_text() == text
    capsys.readouterr()
    assert run(["sla", "import", str(out)]) == 0
    printed = capsys.readouterr().out
    sla = yaml.safe_load(printed)["contract"]["sla"]
    assert sla["target_fraction"] == 0.995 and sla["max_interruption_h"] == 4.0
    assert sla["supply_band"] == {"min_temp_c": 32.0, "max_temp_c": 50.0}


def test_import_invalid_openslo_exit_2_names_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec: {}\n")
    assert run(["sla", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "spec.indicator" in err and "Traceback" not in err
    assert run(["sla", "import", str(tmp_path / "missing.yaml")]) == 2


def _write_january(url: str, outage_h: float) -> None:
    """Pool supply 38 C for local January 2026 with one outage at 10:00 on Wed 14 Jan."""
    berlin = ZoneInfo("Europe/Berlin")
    start = pd.Timestamp("2026-01-01", tz=berlin).tz_convert("UTC")
    end = pd.Timestamp("2026-02-01", tz=berlin).tz_convert("UTC")
    idx = pd.date_range(start, end, freq="min", inclusive="left")
    temp = pd.Series(38.0, index=idx)
    t0 = pd.Timestamp(dt.datetime(2026, 1, 14, 10, tzinfo=berlin)).tz_convert("UTC")
    temp[(idx >= t0) & (idx < t0 + pd.Timedelta(hours=outage_h))] = 25.0
    q = pd.date_range(start, end, freq="15min", inclusive="left")
    register = pd.Series(1000.0 + 10.0 * np.arange(len(q)), index=q)  # 960 kWh/day
    with open_store(url, create=True) as store:
        store.write_frame("pool-potsdam", pd.DataFrame({"customer.supply_temp_c": temp}))
        store.write_frame("pool-potsdam", pd.DataFrame({"meter.heat_energy_kwh": register}))


def test_report_json_breach_and_fail_on_breach(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _write_january(url, 5.0)
    args = ["sla", "report", str(EXAMPLES / "pool.yaml"), "--period", "2026-01", "--store", url]
    assert run([*args, "--json"]) == 0  # a breached report is still a report
    data = json.loads(capsys.readouterr().out)
    for key in (
        "valid_min",
        "good_min",
        "bad_min",
        "unknown_min",
        "attainment_fraction",
        "error_budget_left_min",
        "burn_rate_1h",
        "burn_rate_5m",
        "burn_rate_3d",
    ):
        assert key in data
    assert data["bad_min"] == 300 and data["unknown_min"] == 0
    (intr,) = data["interruptions"]
    assert intr["duration_min"] == 300 and intr["exceeds_max_interruption"]
    assert intr["start"] == "2026-01-14T09:00:00+00:00"
    assert intr["end"] == "2026-01-14T14:00:00+00:00"
    assert "max_interruption" in [b["kind"] for b in data["breaches"]]
    assert data["contract_year"]["period_kind"] == "contract_year"
    assert data["breached_any"] is True
    assert run([*args, "--json", "--fail-on-breach"]) == 4
    assert "SLA breached" in capsys.readouterr().err
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "Interruptions" in out and "Breaches" in out and "BREACHED" in out
    assert "duration [min]" in out and "lowest [C]" in out  # units in the headers


def test_report_three_hour_outage_no_interruption_breach(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _write_january(url, 3.0)
    args = ["sla", "report", str(EXAMPLES / "pool.yaml"), "--period", "2026-01", "--store", url]
    assert run([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # 180 bad min exceed the month's budget (0.5 % of 27,600 open min = 138 min) but no
    # single interruption exceeds 4 h
    assert data["bad_min"] == 180 and data["error_budget_allowed_min"] == pytest.approx(138.0)
    assert [b["kind"] for b in data["breaches"]] == ["attainment"]
    assert not data["interruptions"][0]["exceeds_max_interruption"]


def test_report_bad_period_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    args = ["sla", "report", str(EXAMPLES / "pool.yaml"), "--period", "January", "--store", url]
    assert run(args) == 2
    assert "YYYY-MM" in capsys.readouterr().err
