"""``heatreuse store info|retention|compact``: output, effect, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from heatreuse.cli.main import run
from heatreuse.store import open_store

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z [µs]
DAY = 86_400_000_000


def _store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 's.db'}"
    with open_store(url, create=True) as store:
        ts = T0 + np.arange(10) * DAY  # a reading a day for 10 days
        store.write_readings("site-a", "hx.heat_power_w", ts, np.arange(10.0))
        store.write_readings("site-b", "meter.heat_energy_kwh", ts[:2], [1.0, 2.0])
    return url


def test_store_info_counts_what_is_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _store(tmp_path)
    assert run(["store", "info", "--store", url, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["sites"] == ["site-a", "site-b"]
    assert info["series"] == 2
    assert info["rows"]["readings"] == 12
    assert info["rows"]["rollup_1h"] == 12
    assert info["rows"]["rollup_1h_day"] == 12  # one packed day block per reading day
    assert info["raw_first"] == "2026-01-01T00:00:00.000000Z"
    assert info["raw_last"] == "2026-01-10T00:00:00.000000Z"
    assert info["raw_horizon"] is None
    assert run(["store", "info", "--store", url]) == 0
    assert "rows in readings" in capsys.readouterr().out


def test_store_retention_deletes_by_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _store(tmp_path)
    # January 2026 is open (not sealed): --force deletes its raw and 1-min data anyway
    argv = ["store", "retention", "--store", url, "--now", "2026-01-10T12:00:00Z", "--force"]
    assert run([*argv, "--raw-days", "3", "--rollup-days", "1min=5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # raw: days 0..6 are older than now - 3 d (site-a 7, site-b 2); 1 min: days 0..4 (5 + 2)
    assert out == {
        "raw_deleted": 9,
        "rollups_deleted": {"1min": 7},
        "quarantine_deleted": 0,
        "forced_unsealed_periods": [
            {"site_id": "site-a", "period": "2026-01", "tables": ["raw", "1min"]},
            {"site_id": "site-b", "period": "2026-01", "tables": ["raw", "1min"]},
        ],
    }
    with open_store(url) as store:
        assert store.count_readings("site-a") == 3
        assert len(store.read_rollup("site-a", "hx.heat_power_w", T0, T0 + 20 * DAY, "1h")) == 10
        assert store.summary()["raw_horizon"] == "2026-01-07T12:00:00.000000Z"
    assert run([*argv, "--rollup-days", "1h=1"]) == 0
    assert "deleted 0 raw reading(s), 11 1h rollup row(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "nothing to do; expected at least one of --raw-days"),
        (["--rollup-days", "5min=3"], "--rollup-days '5min=3': expected RES=DAYS with RES one of"),
        (["--rollup-days", "1h"], "--rollup-days '1h': expected RES=DAYS"),
        (["--rollup-days", "1h=2", "--rollup-days", "1h=3"], "'1h' given twice"),
        (["--raw-days", "-1"], "raw_days=-1.0; expected >= 0 days"),
        (["--raw-days", "1", "--now", "2026-01-10T12:00:00"], "now"),
    ],
)
def test_store_retention_user_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    url = _store(tmp_path)
    assert run(["store", "retention", "--store", url, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    with open_store(url) as store:
        assert store.count_readings("site-a") == 10  # nothing deleted


def test_an_error_echoing_brackets_is_printed_not_read_as_markup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["store", "info", "--store", "sqlite:///[/x]/a[/b].db?mode=[/red]"]) == 2
    err = capsys.readouterr().err
    assert "[/red]" in err and "internal error" not in err


def test_store_compact_seals_history_and_info_reports_bytes_per_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _store(tmp_path)
    now = "2026-01-10T12:00:00Z"
    argv = ["store", "compact", "--store", url, "--now", now, "--hot-days", "3", "--json"]
    assert run(argv) == 0
    out = json.loads(capsys.readouterr().out)
    # days 0..5 end before now - 3 d (Jan 7, 12:00): site-a 6 days, site-b 2 days
    assert out["days_sealed"] == 8 and out["readings_sealed"] == 8
    assert out["readings"] == 12
    assert out["bytes_after"] <= out["bytes_before"]
    assert out["bytes_per_reading"] == pytest.approx(out["bytes_after"] / 12, rel=1e-3)
    assert run(["store", "info", "--store", url, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rows"]["readings"] == 4 and info["rows"]["sealed_blocks"] == 8
    assert info["history"]["readings"] == 12
    assert info["history"]["hot_window_days"] == 3.0  # recorded for serve and ingest
    assert info["raw_first"] == "2026-01-01T00:00:00.000000Z"  # sealed data still counts
    assert run(["store", "info", "--store", url]) == 0
    assert "bytes per reading" in capsys.readouterr().out
    # a second run finds nothing left to seal; the reads are unchanged
    assert run(argv) == 0
    assert json.loads(capsys.readouterr().out)["days_sealed"] == 0
    with open_store(url) as store:
        got = store.read_series("site-a", "hx.heat_power_w", T0, T0 + 10 * DAY)
    assert got["hx.heat_power_w"].tolist() == list(np.arange(10.0))
