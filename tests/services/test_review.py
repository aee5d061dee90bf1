"""Maintenance records, drill records and the weekly operations review on a twin's data:
due dates by interval, overdue, alert-linked due, audit rows in a verified export,
quarterly drill due by date, the review's files and figures equal to the functions'."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from heatreuse.cli.main import run
from heatreuse.services import maintenance as mnt
from heatreuse.services.ingest import ingest_file
from heatreuse.services.review import parse_week, weekly_review
from heatreuse.services.sla import sla_report
from heatreuse.services.twin import run_offline_twin
from heatreuse.simulation.scenarios import parse_scenarios
from heatreuse.site import load_site
from heatreuse.store import AlertRecord, open_store

POOL = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
SCHEDULE = """
maintenance_schedule:
  - id: pump-inspection
    task: Inspect the circulation pumps
    interval_d: 365
    standard: VDMA 24186-2
  - id: hx-cleaning
    task: Clean the plate heat exchanger
    interval_d: 730
    standard: VDMA 24186-2
  - id: sensor-check
    task: Check sensors against a reference thermometer
    interval_d: 30
    standard: EN 1434-6
  - id: drill
    task: Quarterly drill
    interval_d: 92
"""
NOW = pd.Timestamp("2026-01-14T00:00Z")


@pytest.fixture(scope="module")
def site_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("site") / "pool.yaml"
    path.write_text(POOL.read_text() + SCHEDULE)
    return path


@pytest.fixture(scope="module")
def twin_days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("twin") / "days.parquet"
    run_offline_twin(
        load_site(POOL),
        start="2026-01-12T00:00Z",
        end="2026-01-14T00:00Z",
        out=out,
        scenarios=parse_scenarios(["pump_failure@2026-01-13T06:00Z+5h"]),
    )
    return out


@pytest.fixture
def url(
    tmp_path: Path, twin_days: Path, site_file: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    u = f"sqlite:///{tmp_path / 'review.db'}"
    with open_store(u, create=True) as st:
        ingest_file(load_site(site_file), twin_days, st)
    yield u


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    capsys.readouterr()
    code = run(argv)
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], *needles: str) -> None:
    capsys.readouterr()
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, err


def test_maintenance_due_interval_overdue_and_alert_linked(site_file: Path, url: str) -> None:
    site = load_site(site_file)
    with open_store(url) as st:
        mnt.add_record(
            site,
            st,
            "pump-inspection",
            by="anna",
            note="bearings ok",
            done_at="2025-06-01",
            now=NOW,
        )
        mnt.add_record(
            site, st, "sensor-check", by="omar", note="0.1 K off", done_at="2025-11-01", now=NOW
        )
        mnt.add_record(
            site, st, "hx-cleaning", by="anna", note="cleaned", done_at="2025-12-01", now=NOW
        )
        due = {d.task.id: d for d in mnt.due_tasks(site, st, now=NOW, within_d=30)}
        assert due["pump-inspection"].status == "ok"
        assert due["pump-inspection"].due_at == pd.Timestamp("2026-06-01T00:00Z")
        assert due["sensor-check"].status == "overdue"  # 2025-11-01 + 30 d < NOW
        assert due["sensor-check"].due_at == pd.Timestamp("2025-12-01T00:00Z")
        assert due["hx-cleaning"].status == "ok"
        assert due["drill"].status in ("no_record", "overdue")  # never done: never ok
        # a fouling alert after the last cleaning makes the cleaning due now, named
        st.upsert_alert(
            AlertRecord(
                site_id=site.id,
                fingerprint="fp-foul",
                labels={"rule": "hx_fouling", "severity": "warning", "equipment": "hx"},
                state="firing",
                active_at_us=int(pd.Timestamp("2026-01-10T00:00Z").value // 1000),
                started_at_us=int(pd.Timestamp("2026-01-10T01:00Z").value // 1000),
            )
        )
        linked = {d.task.id: d for d in mnt.due_tasks(site, st, now=NOW)}["hx-cleaning"]
        assert linked.status == "alert"
        assert "hx_fouling" in linked.reason and linked.alerts[0]["rule"] == "hx_fouling"
        # recording the cleaning after the alert clears it
        mnt.add_record(
            site, st, "hx-cleaning", by="anna", note="cleaned again", done_at="2026-01-12", now=NOW
        )
        again = {d.task.id: d for d in mnt.due_tasks(site, st, now=NOW)}["hx-cleaning"]
        assert again.status == "ok" and not again.alerts
        audit = [a for a in st.list_audit(site.id) if a.action == "maintenance.done"]
        assert len(audit) == 4 and audit[0].actor == "anna" and audit[0].reason == "bearings ok"
        assert audit[0].detail["task"] == "pump-inspection"


def test_drill_record_and_quarterly_due_by_date(site_file: Path, url: str) -> None:
    site = load_site(site_file)
    with open_store(url) as st:
        assert mnt.drill_status(site, st, now=NOW).due  # none recorded
        mnt.record_drill(
            site, st, verdict="pass", summary="pump trip: held", evidence={}, by="anna", now=NOW
        )
        assert not mnt.drill_status(site, st, now=NOW + pd.Timedelta(days=92)).due
        late = mnt.drill_status(site, st, now=NOW + pd.Timedelta(days=93))
        assert late.due and "older than 92 d" in late.reason
        # the recorded drill counts for the schedule's drill task
        d = {t.task.id: t for t in mnt.due_tasks(site, st, now=NOW + pd.Timedelta(days=1))}
        assert d["drill"].status == "ok" and d["drill"].last_done_by == "drill --record"
        assert [a.action for a in st.list_audit(site.id)] == ["drill.record"]


def test_cli_maintenance_audit_reaches_verified_export(
    site_file: Path, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = ["--store", url]
    rec = _json(
        capsys,
        [
            "maintenance",
            "add",
            str(site_file),
            "pump-inspection",
            "--by",
            "anna",
            "--note",
            "seal replaced",
            "--at",
            "2026-01-10",
            *s,
            "--json",
        ],
    )
    assert rec["task"] == "pump-inspection" and rec["done_at"] == "2026-01-10T00:00:00Z"
    listed = _json(capsys, ["maintenance", "list", str(site_file), *s, "--json"])
    assert [r["id"] for r in listed] == [rec["id"]]
    due = _json(capsys, ["maintenance", "due", str(site_file), "--at", "2026-01-14", *s, "--json"])
    assert {d["task"]: d["status"] for d in due}["pump-inspection"] == "ok"
    _fails(
        capsys,
        ["maintenance", "add", str(site_file), "pump-clean", "--by", "anna", "--note", "x", *s],
        "pump-clean",
        "pump-inspection",
    )
    _fails(
        capsys,
        [
            "maintenance",
            "add",
            str(site_file),
            "hx-cleaning",
            "--by",
            "anna",
            "--note",
            "x",
            "--at",
            "2999-01-01",
            *s,
        ],
        "future",
    )
    _fails(capsys, ["maintenance", "due", str(POOL), *s], "no maintenance schedule")
    cp = ["--checkpoints", str(tmp_path / "cp")]
    upd = _json(capsys, ["ledger", "update", str(site_file), *s, *cp, "--json"])
    assert upd["audit"] == 1
    export = tmp_path / "export"
    assert run(["ledger", "export", str(site_file), "--out", str(export), *s, *cp]) == 0
    capsys.readouterr()
    assert run(["verify", str(export)]) == 0
    entries = [json.loads(x) for x in (export / "entries.jsonl").read_text().splitlines()]
    assert any("maintenance.done" in json.dumps(e) for e in entries)


def test_weekly_review_files_and_figures(
    site_file: Path, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = load_site(site_file)
    s = ["--store", url]
    assert run(["detect", str(site_file), *s, "--end", "2026-01-14T00:00Z"]) == 0
    out = tmp_path / "rev"
    assert (
        run(
            [
                "review",
                "weekly",
                str(site_file),
                "--week",
                "2026-W03",
                "--out",
                str(out),
                "--at",
                "2026-01-14T00:00Z",
                *s,
            ]
        )
        == 0
    )
    stem = out / f"review_{site.id}_2026-W03"
    md = stem.with_suffix(".md").read_text()
    assert stem.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    html = stem.with_suffix(".html").read_text()
    for heading in (
        "Heat delivery against the SLA",
        "Control stability",
        "Alerts, incidents",
        "Open corrective actions",
        "Maintenance due and overdue",
        "Quarterly drill",
        "Measured vs model",
        "audit trail",
        "The coming week",
    ):
        assert heading in md and heading in html
    data = json.loads(stem.with_suffix(".json").read_text())
    monday, sunday = parse_week("2026-W03")
    with open_store(url) as st:
        (week,) = sla_report(site, period=f"{monday}..{sunday}", now=NOW.to_pydatetime(), store=st)
        review = weekly_review(site, st, "2026-W03", now=NOW)
    assert data["sla"][0]["attainment_fraction"] == week.attainment_fraction
    assert data["sla"][0]["bad_min"] == week.bad_min and week.bad_min > 0  # the pump trip
    assert [r["period"] for r in data["sla"]] == ["week", "month to date", "contract year to date"]
    assert data["alerts_by_rule"].get("pump_stopped", 0) >= 1
    assert data["drill"]["due"] is True  # nothing recorded: never reads as done
    assert review.data["sla"] == data["sla"]
    # a figure that cannot be computed says why
    assert data["measured_vs_model"] is None or data["measured_vs_model"]["totals"]
    _fails(
        capsys,
        ["review", "weekly", str(site_file), "--week", "2026-03", "--out", str(out), *s],
        "--week",
        "YYYY-Www",
    )
