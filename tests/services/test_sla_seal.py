"""Issue 10.1: a closed period's SLA verdict cannot change because data was deleted or came later.

The issue's scenario, on SQLite and PostgreSQL: a January week with a 5 h supply
outage (the pool's maximum interruption is 4 h) goes in through the file ingest,
``store retention --raw-days 30 --rollup-days 1min=30`` runs in December, and live
data arrives in December through the serve pipeline. Before the fix, January then
read "met" ("before monitoring started 2026-12-01") and the monthly report showed
"Breaches 0". Each bullet of the issue has a test here:

- sealing: ``ledger update`` seals the closed month (``sla_seal`` entry with the
  evidence); reports read the seal and say when the store now differs;
- monitoring start is a recorded fact (first accepted reading, or the site file);
- retention refuses to delete raw / 1-min data of an unsealed month unless
  ``--force``, naming the month; ``store info`` lists sealed and unsealed periods;
- the verdict: met / breached / unknown with the data coverage.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from heatreuse.cli.main import run
from heatreuse.errors import SLAError
from heatreuse.ledger.build import sla_seal_entry
from heatreuse.ledger.verify import verify_export
from heatreuse.services.ingest import ingest_file, make_ingestor
from heatreuse.services.ledger import (
    SealRequest,
    export_ledger,
    monthly_report,
    open_ledger,
    update_ledger,
)
from heatreuse.services.retention import retention_blockers
from heatreuse.services.serve import IngestService, ServeConfig
from heatreuse.services.sla import read_seal_entries, sla_report
from heatreuse.site import Site, load_site
from heatreuse.store import open_store
from heatreuse.telemetry.validate import RawReading

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BERLIN = ZoneInfo("Europe/Berlin")
SUPPLY = "customer.supply_temp_c"
SITE_ID = "pool-potsdam"
WEEK_START = pd.Timestamp("2026-01-12", tz=BERLIN).tz_convert("UTC")  # Monday 00:00 local
OUTAGE = pd.Timestamp("2026-01-14 10:00", tz=BERLIN).tz_convert("UTC")  # Wednesday, open
FEB_SEAL = dt.datetime(2026, 2, 3, 6, 0, tzinfo=dt.UTC)  # January closed (48 h grace passed)
DEC = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)
RETENTION = ["--raw-days", "30", "--rollup-days", "1min=30", "--now", "2026-12-02T06:00:00Z"]


@pytest.fixture()
def site() -> Site:
    return load_site(EXAMPLES / "pool.yaml")


@pytest.fixture()
def env(backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    return {"url": backend_url, "cp": tmp_path / "cp", "key": tmp_path / "k" / "pool.key"}


def week_csv(path: Path, start: pd.Timestamp = WEEK_START, outage: bool = True) -> Path:
    """One supply reading a minute for 7 days: 38 C, 25 C for 5 h from OUTAGE."""
    idx = pd.date_range(start, start + pd.Timedelta(days=7), freq="min", inclusive="left")
    temp = np.full(len(idx), 38.0)
    if outage:
        temp[(idx >= OUTAGE) & (idx < OUTAGE + pd.Timedelta(hours=5))] = 25.0
    lines = ["timestamp," + SUPPLY]
    lines += [f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')},{v}" for t, v in zip(idx, temp, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ingest_week(site: Site, url: str, tmp_path: Path, **kw: object) -> None:
    with open_store(url, create=True) as store:
        report = ingest_file(site, week_csv(tmp_path / "week.csv", **kw), store)  # type: ignore[arg-type]
        assert report.result.as_dict()["accepted"] == 7 * 1440


def live_december(site: Site, url: str) -> None:
    """December readings through the serve pipeline (as MQTT/HTTP deliver them)."""
    start = pd.Timestamp("2026-12-01T00:00Z")
    ts = pd.date_range(start, pd.Timestamp(DEC), freq="min", inclusive="left")
    with open_store(url, create=True) as store:
        ingestor = make_ingestor(site, store, clock=lambda: DEC)
        res = ingestor.ingest(
            [RawReading(SUPPLY, t.to_pydatetime(), 38.0, "mqtt:test") for t in ts]
        )
        assert res.accepted == len(ts)


def seal_january(site: Site, env: dict[str, object]) -> dict[str, object]:
    upd = update_ledger(
        site,
        str(env["url"]),
        now=FEB_SEAL,
        checkpoint_dir=env["cp"],  # type: ignore[arg-type]
        key_path=env["key"],  # type: ignore[arg-type]
    )
    (seal,) = upd.seals
    return seal


def test_sealed_january_stays_breached_after_retention_and_december_data(
    site: Site, env: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = str(env["url"])
    ingest_week(site, url, tmp_path)
    seal = seal_january(site, env)
    assert seal["period"] == "2026-01" and seal["verdict"] == "breached"

    # the seal is its own entry kind with the evidence counts
    with open_store(url, create=True) as store:
        (entry,) = read_seal_entries(store, SITE_ID)
    assert entry["type"] == "sla_seal" and entry["index"] == seal["index"]
    ev = entry["evidence"]
    assert ev["good_min"] + ev["bad_min"] + ev["unknown_min"] == ev["valid_min"]
    assert ev["bad_min"] == 300 and ev["excluded_unmonitored_min"] > 0
    assert ev["excluded_min"] > 0

    assert run(["store", "retention", "--store", url, *RETENTION]) == 0
    capsys.readouterr()
    live_december(site, url)

    with open_store(url, create=True) as store:
        assert store.count_readings(SITE_ID, SUPPLY, end=pd.Timestamp("2026-02-01T00:00Z")) == 0
        # monitoring start is a recorded fact: neither retention nor December moved it
        assert store.first_reading(SITE_ID) == WEEK_START

    month, year = sla_report(site, url, "2026-01", now=DEC)
    assert month.verdict == "breached" and month.breached
    assert month.sealed is not None and month.sealed["index"] == seal["index"]
    assert month.bad_min == 300 and month.monitoring_start == WEEK_START.to_pydatetime()
    assert not any("2026-12-01" in n for n in month.notes)
    assert any("before monitoring started (2026-01-11 23:00" in n for n in month.notes)
    # recomputing is never silent: the store now holds no January data
    assert month.sealed["recomputed"]["matches"] is False
    assert month.sealed["recomputed"]["good_min"] == 0
    assert any("NOT the same as recomputing" in n and "less data" in n for n in month.notes)
    # the contract year adds the sealed month up with what the store holds
    assert year.period_kind == "contract_year" and year.verdict == "breached"
    assert year.bad_min == 300

    assert run(["sla", "report", str(site.source_path), "--period", "2026-01", "--store", url,
                "--json", "--now", "2026-12-02T06:00:00Z"]) == 0  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "breached" and data["breached"] is True
    assert data["sealed"]["index"] == seal["index"]
    assert 0.0 < data["data_coverage_fraction"] < data["min_data_coverage_fraction"]

    html, _pdf = monthly_report(
        site,
        "2026-01",
        tmp_path / "report",
        url,
        checkpoint_dir=env["cp"],
        now=DEC,  # type: ignore[arg-type]
    )
    page = html.read_text(encoding="utf-8")
    assert "<td>Verdict</td><td>BREACHED</td>" in page
    breaches = page.split("Breaches (contract terms)</td><td>")[1].split("<")[0]
    assert int(breaches) >= 2  # attainment and the 5 h interruption, not 0
    assert f"sealed in the ledger, entry {seal['index']}" in page
    assert "data coverage" in page

    # verify covers the new entry kind: its evidence is a recomputed, included total
    out = export_ledger(site, tmp_path / "export", url, checkpoint_dir=env["cp"])  # type: ignore[arg-type]
    report = verify_export(out)
    assert report.ok, report.problems
    totals = json.loads((out / "totals.json").read_text())["totals"]
    seal_totals = [t for t in totals if t["entry_type"] == "sla_seal"]
    assert {t["field"] for t in seal_totals} >= {"evidence.bad_min", "evidence.valid_min"}
    assert next(t for t in seal_totals if t["field"] == "evidence.bad_min")["value"] == 300


def test_unsealed_january_blocks_retention_and_forced_deletion_reads_unknown(
    site: Site, env: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = str(env["url"])
    ingest_week(site, url, tmp_path)
    assert run(["store", "retention", "--store", url, *RETENTION]) == 2
    err = capsys.readouterr().err
    assert "pool-potsdam 2026-01 (raw, 1min; not sealed)" in err and "--force" in err
    with open_store(url, create=True) as store:
        assert store.count_readings(SITE_ID) == 7 * 1440  # nothing deleted

    assert run(["store", "retention", "--store", url, *RETENTION, "--force", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["raw_deleted"] == 7 * 1440
    assert out["forced_unsealed_periods"] == [
        {"site_id": SITE_ID, "period": "2026-01", "tables": ["raw", "1min"]}
    ]
    # before December data: all of January is now without data; that is not a disaster
    month, _year = sla_report(site, url, "2026-01", now=dt.datetime(2026, 11, 30, tzinfo=dt.UTC))
    assert month.breached and month.attainment_fraction == 0.0  # the contract's count
    assert (month.verdict, month.data_coverage_fraction) == ("unknown", 0.0)
    assert not any("read out-of-band" in r for r in month.verdict_reasons)
    live_december(site, url)

    month, _year = sla_report(site, url, "2026-01", now=DEC)
    # not "met before monitoring started 2026-12-01", and not a proven disaster either
    assert month.verdict == "unknown"
    assert month.data_coverage_fraction == 0.0
    assert month.monitoring_start == WEEK_START.to_pydatetime()
    assert month.sealed is None
    assert any("coverage 0.00% is below the 95%" in r for r in month.verdict_reasons)
    assert any("retention deleted 1-min data" in n for n in month.notes)


def test_retention_refuses_an_open_month_and_store_info_lists_periods(
    site: Site, env: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = str(env["url"])
    ingest_week(site, url, tmp_path)
    seal_january(site, env)
    live_december(site, url)
    # a raw horizon of 12 h reaches into December, which has not ended
    argv = ["store", "retention", "--store", url, "--raw-days", "0.5", "--now", "2026-12-02T06:00Z"]
    assert run(argv) == 2
    assert "pool-potsdam 2026-12 (raw; open, ends 2026-12-31T23:00:00+00:00)" in (
        capsys.readouterr().err
    )
    with open_store(url, create=True) as store:
        blocks = retention_blockers(store, raw_days=0.5, now=DEC)
    assert [(b.period, b.tables) for b in blocks] == [("2026-12", ("raw",))]

    assert run(["store", "info", "--store", url, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    periods = info["sla_periods"][SITE_ID]
    assert periods["timezone"] == "Europe/Berlin"
    assert periods["monitoring_start"] == WEEK_START.isoformat()
    assert [(p["period"], p["verdict"]) for p in periods["sealed"]] == [("2026-01", "breached")]
    unsealed = {p["period"]: p["state"] for p in periods["unsealed"]}
    assert unsealed["2026-02"] == "not sealed"
    assert "2026-01" not in unsealed and len(unsealed) == 11
    assert info["first_reading"][SITE_ID] == "2026-01-11T23:00:00.000000Z"
    assert run(["store", "info", "--store", url]) == 0
    text = capsys.readouterr().out
    assert "SLA periods of pool-potsdam" in text and "breached" in text and "not sealed" in text


def test_monitoring_start_from_the_site_file_wins(
    site: Site, env: dict[str, object], tmp_path: Path
) -> None:
    url = str(env["url"])
    ingest_week(site, url, tmp_path)
    start = dt.datetime(2026, 1, 15, 0, 0, tzinfo=BERLIN)  # after the outage
    sla = site.contract.sla.model_copy(update={"monitoring_start": start})
    moved = site.model_copy(update={"contract": site.contract.model_copy(update={"sla": sla})})
    month, _ = sla_report(moved, url, "2026-01", now=DEC)
    assert month.monitoring_start == start.astimezone(dt.UTC)
    assert month.bad_min == 0  # the outage lies before monitoring started
    assert any("site file" in n for n in month.notes)
    plain, _ = sla_report(site, url, "2026-01", now=DEC)
    assert plain.monitoring_start == WEEK_START.to_pydatetime() and plain.bad_min == 300


def test_reseal_names_the_old_seal_and_refuses_thinner_evidence(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 's.db'}"
    env: dict[str, object] = {"url": url, "cp": tmp_path / "cp", "key": tmp_path / "k.key"}
    ingest_week(site, url, tmp_path)
    first = seal_january(site, env)
    seal_cmd = ["sla", "seal", str(site.source_path), "--period", "2026-01", "--store", url,
                "--checkpoints", str(env["cp"]), "--key", str(env["key"]),
                "--now", "2026-02-10T00:00:00Z"]  # fmt: skip

    assert run(seal_cmd) == 2
    assert "already sealed (ledger entry" in capsys.readouterr().err
    assert run([*seal_cmd, "--reseal"]) == 2
    assert "--reason TEXT is required" in capsys.readouterr().err
    assert run([*seal_cmd, "--reseal", "--reason", "check"]) == 0
    assert "recomputing gives the sealed result again" in capsys.readouterr().out
    with open_store(url, create=True) as store:
        assert len(read_seal_entries(store, SITE_ID)) == 1

    # the edge delivers the next week late: more evidence, a new seal naming the old one
    week2 = tmp_path / "w2"
    week2.mkdir()
    ingest_week(site, url, week2, start=WEEK_START + pd.Timedelta(days=7), outage=False)
    assert (
        run([*seal_cmd, "--reseal", "--reason", "edge buffer delivered 19-25 Jan", "--json"]) == 0
    )
    (resealed,) = json.loads(capsys.readouterr().out)["seals"]
    assert resealed["seal_number"] == 2 and resealed["supersedes_index"] == first["index"]
    month, _ = sla_report(site, url, "2026-01", now=DEC)
    assert month.sealed is not None and month.sealed["index"] == resealed["index"]
    assert month.sealed["reason"] == "edge buffer delivered 19-25 Jan"
    assert month.good_min > 2 * 5000

    # retention deletes January (sealed): a re-seal from what is left is refused
    assert run(["store", "retention", "--store", url, *RETENTION]) == 0
    capsys.readouterr()
    assert run([*seal_cmd, "--reseal", "--reason", "after retention"]) == 2
    assert "holds less data for it than when it was sealed" in capsys.readouterr().err
    with open_store(url, create=True) as store:
        assert len(read_seal_entries(store, SITE_ID)) == 2


def test_reseal_after_a_later_monitoring_start_is_a_definition_change_not_lost_data(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commissioning passed after the first reading moves the monitoring start later: the
    minutes before it become *unmonitored*, which a re-seal may record (with its reason);
    the guard against thinner evidence is for deleted data only."""
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 's.db'}"
    env: dict[str, object] = {"url": url, "cp": tmp_path / "cp", "key": tmp_path / "k.key"}
    ingest_week(site, url, tmp_path)
    first = seal_january(site, env)
    start = dt.datetime(2026, 1, 15, 0, 0, tzinfo=BERLIN)  # after the outage
    sla = site.contract.sla.model_copy(update={"monitoring_start": start})
    moved = site.model_copy(update={"contract": site.contract.model_copy(update={"sla": sla})})
    reason = "commissioning passed 2026-01-15: the days before were the pilot"
    upd = update_ledger(
        moved,
        url,
        now=dt.datetime(2026, 2, 10, tzinfo=dt.UTC),
        checkpoint_dir=env["cp"],  # type: ignore[arg-type]
        key_path=env["key"],  # type: ignore[arg-type]
        seal=SealRequest("2026-01", reseal=True, reason=reason),
    )
    (resealed,) = upd.seals
    assert resealed["supersedes_index"] == first["index"] and resealed["seal_number"] == 2
    month, _ = sla_report(moved, url, "2026-01", now=DEC)
    assert month.sealed is not None and month.sealed["reason"] == reason
    assert month.bad_min == 0 and month.excluded_unmonitored_min > 0


def test_verify_refuses_a_seal_replaced_without_naming_the_old_one(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 's.db'}"
    env: dict[str, object] = {"url": url, "cp": tmp_path / "cp", "key": tmp_path / "k.key"}
    ingest_week(site, url, tmp_path)
    seal_january(site, env)
    good = export_ledger(site, tmp_path / "good", url, checkpoint_dir=env["cp"])  # type: ignore[arg-type]
    assert verify_export(good).ok

    # an operator appends a second, "healthier" seal of January as if it were the first
    with open_store(url, create=True) as store:
        (old,) = read_seal_entries(store, SITE_ID)
    forged_report = {**old["report"], "bad_min": 0, "good_min": old["report"]["good_min"] + 300}
    forged_report.update(verdict="met", breached=False, breaches=[])
    forged = sla_seal_entry(site, forged_report, sealed_at=FEB_SEAL)
    with open_ledger(site, url, checkpoint_dir=env["cp"], key_path=env["key"]) as ctx:  # type: ignore[arg-type]
        from heatreuse.ledger.keys import load_signing_key

        ctx.log.extend([forged])
        ctx.log.sign_checkpoint(load_signing_key(Path(str(env["key"]))))
    bad = export_ledger(site, tmp_path / "bad", url, checkpoint_dir=env["cp"])  # type: ignore[arg-type]
    report = verify_export(bad)
    assert not report.ok
    messages = [str(p) for p in report.problems]
    assert any("already sealed at entry" in m and "without a trace" in m for m in messages)
    assert any("verdict 'met'" in m for m in messages)  # met at 23 % coverage


def test_serve_daily_job_seals_closed_months_and_keeps_unsealed_data(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 's.db'}"
    ingest_week(site, url, tmp_path)
    nov = pd.date_range("2026-11-20T00:00Z", "2026-11-30T12:00Z", freq="min", inclusive="left")
    with open_store(url, create=True) as store:
        store.write_readings(SITE_ID, SUPPLY, nov, np.full(len(nov), 38.0))
        service = IngestService(
            site,
            ServeConfig(http=None, retention_raw_days=5, job_tick_s=3600, watch=False),
            store=store,
            clock=lambda: DEC,
        )
        service.start()
        try:
            with caplog.at_level(logging.INFO, logger="heatreuse"):
                assert service.jobs.run_due() == ["retention", "compaction"]
        finally:
            assert service.stop()
        seals = {e["period"]: e["verdict"] for e in read_seal_entries(store, SITE_ID)}
        # January..October closed and sealed (November waits: no data after its end yet),
        # and the contract year 2025-09-01..2026-09-01, added up from its sealed months
        assert seals["2026-01"] == "breached" and seals["2026-02"] == "unknown"
        assert seals["contract year 2025-09-01..2026-09-01"] == "breached"
        assert "2026-11" not in seals and len(seals) == 11
        # January's raw data went; November's (unsealed) stayed although older than 5 days
        assert store.count_readings(SITE_ID, end=pd.Timestamp("2026-02-01T00:00Z")) == 0
        assert store.count_readings(SITE_ID, start=pd.Timestamp("2026-11-01T00:00Z")) == len(nov)
    assert "kept raw/1-min data of SLA periods that are not sealed" in caplog.text
    assert "pool-potsdam 2026-11 (raw; not sealed)" in caplog.text

    # the contract year reads its seal, which adds up the month seals it names
    _month, year = sla_report(site, url, "2026-08", now=DEC)
    assert year.sealed is not None and year.sealed["recomputed"]["matches"] is True
    assert year.verdict == "breached" and year.bad_min == 300
    out = export_ledger(site, tmp_path / "export", url)
    assert verify_export(out).ok
    entries = [json.loads(line) for line in (out / "entries.jsonl").read_text().splitlines()]
    (cy,) = [e for e in entries if e["type"] == "sla_seal" and e["period_kind"] == "contract_year"]
    months = {e["index"]: e["period"] for e in entries if e.get("period_kind") == "month"}
    assert [months[i] for i in cy["composed_from"]] == [f"2026-{m:02d}" for m in range(1, 9)]


def test_seal_request_for_a_period_that_has_not_ended_is_refused(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 's.db'}"
    ingest_week(site, url, tmp_path)
    with pytest.raises(SLAError, match="has not ended yet"):
        update_ledger(
            site,
            url,
            now=dt.datetime(2026, 1, 20, tzinfo=dt.UTC),
            checkpoint_dir=tmp_path / "cp",
            key_path=tmp_path / "k.key",
            seal=SealRequest("2026-01"),
        )
