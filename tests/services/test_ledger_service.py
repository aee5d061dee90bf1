"""Ledger service end to end on a real SQLite store: update, corrections, KPIs, export/verify.

Readings are hand-built, one per minute, with exactly known kWh per hour:
IT 50, cooling 1.5, pumps 0.5, other 1.0, heat delivered 40, heat rejected 5,
backup 0 kWh/h. The heat meter register has a gap at 03:00-04:00 (its power
point still reports 40 kW) and no heat data at all in 05:00-06:00.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatreuse.cli.main import run
from heatreuse.errors import LedgerError, LedgerIntegrityError
from heatreuse.ledger.canonical import canonical_json_bytes
from heatreuse.ledger.kpis import compute_kpis
from heatreuse.ledger.merkle import leaf_hash
from heatreuse.ledger.tlog import DirectoryCheckpointStore
from heatreuse.ledger.verify import verify_export
from heatreuse.services.ledger import (
    export_eed,
    export_ledger,
    kpi_report,
    monthly_report,
    open_ledger,
    update_ledger,
)
from heatreuse.site import load_site
from heatreuse.store import open_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
START = pd.Timestamp("2026-01-09T23:00Z")
NOW = pd.Timestamp("2026-01-12T00:00Z").to_pydatetime()
RATES_KWH_PER_H = {
    "elec.it_energy_kwh": 50.0,
    "elec.cooling_energy_kwh": 1.5,
    "elec.pumps_energy_kwh": 0.5,
    "elec.other_energy_kwh": 1.0,
    "meter.heat_energy_kwh": 40.0,
    "dry_cooler.heat_energy_kwh": 5.0,
    "boiler.heat_energy_kwh": 0.0,
}
CONSTANTS = {
    "meter.flow_m3_per_h": 3.0,
    "meter.supply_temp_c": 45.0,
    "meter.return_temp_c": 35.0,
    "meter.heat_power_w": 40_000.0,
    "utility.feed_status": 1.0,
}


def readings(start: pd.Timestamp, hours: int) -> pd.DataFrame:
    """One reading a minute; registers rise linearly from 0 at START."""
    ts = pd.date_range(start, periods=hours * 60, freq="min")
    elapsed_h = (ts - START) / pd.Timedelta(hours=1)
    data = {p: 1000.0 + rate * elapsed_h.to_numpy() for p, rate in RATES_KWH_PER_H.items()}
    data.update({p: np.full(len(ts), v) for p, v in CONSTANTS.items()})
    frame = pd.DataFrame(data, index=ts)
    gap = (ts >= START + pd.Timedelta(hours=4)) & (ts < START + pd.Timedelta(hours=5))
    frame.loc[gap, "meter.heat_energy_kwh"] = np.nan  # register gap, power still there
    none = (ts >= START + pd.Timedelta(hours=6)) & (ts < START + pd.Timedelta(hours=7))
    frame.loc[none, ["meter.heat_energy_kwh", "meter.heat_power_w"]] = np.nan
    return frame


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    site = load_site(EXAMPLES / "pool.yaml")
    with open_store(url, create=True) as store:
        store.write_frame(site.id, readings(START, 7))  # 2026-01-09T23:00 .. 01-10T06:00
    return {"url": url, "site": site, "tmp": tmp_path}


def intervals(entries: list[dict]) -> dict[str, dict]:
    return {e["period_start"]: e for e in entries if e["type"] == "ledger_interval"}


def test_update_builds_known_hours_and_is_idempotent(env: dict) -> None:
    site, url = env["site"], env["url"]
    r1 = update_ledger(site, url, now=NOW)
    assert r1.intervals == 7 and r1.corrections == 0
    assert set(r1.config_entries) == {"method", "emission_factors", "sla_definition", "site_config"}
    assert r1.watermark == "2026-01-10T06:00:00Z"
    assert r1.checkpoint_path is not None and Path(r1.checkpoint_path).is_file()
    key = Path(env["tmp"]) / "home" / "keys" / f"{site.id}.key"
    assert key.stat().st_mode & 0o777 == 0o600

    r2 = update_ledger(site, url, now=NOW)
    assert r2.appended == 0 and r2.tree_size == r1.tree_size and r2.checkpoints_checked == 1

    with open_ledger(site, url) as ctx:
        entries = ctx.log.entries()
    iv = intervals(entries)
    assert sorted(iv) == [
        f"2026-01-{d}T{h:02d}:00:00Z" for d, h in [("09", 23)] + [("10", h) for h in range(6)]
    ]
    # first hour: the store's first bucket counts last - first reading (59 minutes)
    assert iv["2026-01-09T23:00:00Z"]["it_electricity"]["kwh"] == pytest.approx(50 * 59 / 60)
    for h in ("00", "01", "02"):
        e = iv[f"2026-01-10T{h}:00:00Z"]
        assert e["it_electricity"]["kwh"] == 50.0
        assert e["total_site_energy"]["kwh"] == 53.0
        assert e["heat_delivered"]["kwh"] == 40.0 and e["heat_delivered"]["status"] == "metered"
        assert e["heat_rejected"]["kwh"] == 5.0
        assert e["avoided_co2"]["kg"] == pytest.approx(40 * 0.2020 - 0.5 * 0.380, abs=1e-9)
        assert e["site_mode"] == "normal"
    # 03:00: no register readings -> integrated heat power, estimated
    gap = iv["2026-01-10T03:00:00Z"]["heat_delivered"]
    assert gap["status"] == "estimated" and gap["kwh"] == 40.0
    assert "integrated_power" in gap["estimate_method"]
    # 04:00: the register delta spans the gap (since 02:59) -> not attributed, estimated
    after = iv["2026-01-10T04:00:00Z"]["heat_delivered"]
    assert after["status"] == "estimated" and after["kwh"] == 40.0
    # 05:00: no heat data at all -> missing, never zero
    miss = iv["2026-01-10T05:00:00Z"]
    assert miss["heat_delivered"]["kwh"] is None and miss["heat_delivered"]["status"] == "missing"
    assert miss["avoided_co2"]["kg"] is None and miss["site_mode"] == "degraded"


def test_kpis_known_answers(env: dict) -> None:
    site, url = env["site"], env["url"]
    update_ledger(site, url, now=NOW)
    k = kpi_report(site, "2026-01-10", url)
    basis = k["kpi_basis"]
    # hours 00..04 have IT, total and heat (03, 04 estimated); 05 misses heat
    assert basis["hours_used"] == 5 and basis["hours_excluded_missing"] == 1
    assert basis["hours_with_estimates"] == 2
    assert basis["it_energy_kwh"] == pytest.approx(250.0)
    assert basis["total_energy_kwh"] == pytest.approx(265.0)
    assert basis["reused_energy_kwh"] == pytest.approx(200.0)
    pue, erf, ere = (k["kpis"][n]["value"] for n in ("pue", "erf", "ere"))
    assert pue == pytest.approx(265 / 250)
    assert erf == pytest.approx(200 / 265)
    assert ere == pytest.approx((1 - erf) * pue)
    assert ere == pytest.approx((265 - 200) / 250)
    assert k["kpis"]["pue_enefg"]["value"] == pytest.approx(pue)  # no heat pump
    assert k["kpis"]["wue"]["value"] is None and k["kpis"]["wue"]["status"] == "missing"
    assert k["kpis"]["ref"]["value"] == 0.0 and "no renewable" in k["kpis"]["ref"]["note"]
    assert k["kpis"]["cue"]["value"] == pytest.approx(265 * 0.380 / 250)
    heat = k["totals"]["quantities"]["heat_delivered"]
    assert heat["metered_kwh"] == pytest.approx(3 * 40.0)
    assert heat["estimated_kwh"] == pytest.approx(80.0)
    assert heat["hours_missing"] == 1
    co2 = k["totals"]["avoided_co2"]
    assert co2["kg"] == pytest.approx(5 * (40 * 0.2020 - 0.5 * 0.380))
    assert co2["metered_kg"] == pytest.approx(3 * (40 * 0.2020 - 0.5 * 0.380))
    assert k["method_versions"] == ["ledger-method/3"]
    # pool: 60 kW nameplate, below the EnEfG scope (300 kW)
    enefg = k["enefg"]
    assert enefg["in_scope"] is False
    assert {t["status"] for t in enefg["targets"]} == {"not applicable"}
    assert k["checkpoint"]["size"] > 0


def test_enefg_in_scope_targets(env: dict) -> None:
    site = env["site"]
    data = site.model_dump(mode="json")
    data["compute"]["racks"][0]["count"] = 10  # 11 x 30 kW = 330 kW >= 300 kW
    data["site"]["commissioning_date"] = "2026-09-01"
    big = site.model_validate(data)
    update_ledger(
        big,
        env["url"],
        now=NOW,
        checkpoint_dir=env["tmp"] / "cp-big",
        key_path=env["tmp"] / "big.key",
    )
    with open_ledger(big, env["url"], checkpoint_dir=env["tmp"] / "cp-big") as ctx:
        k = compute_kpis(big, ctx.log.entries(), "2026-01")
    enefg = k["enefg"]
    assert enefg["in_scope"] is True and enefg["category"] == "new"
    by = {t["kpi"]: t for t in enefg["targets"]}
    # commissioned 2026-09-01: PUE <= 1.2 met (1.06), ERF >= 10 % met (75 %)
    assert by["pue_enefg"]["status"] == "met" and by["pue_enefg"]["target"] == 1.2
    assert by["erf"]["status"] == "met" and by["erf"]["target"] == 0.10
    assert by["erf"]["due_from"] == "2028-09-01" and by["erf"]["binding"] is False


def test_late_data_appends_a_correction_and_new_hours(env: dict) -> None:
    site, url = env["site"], env["url"]
    first = update_ledger(site, url, now=NOW)
    # late heat power readings for 05:00 arrive; and a new hour 06:00 of data
    late = readings(START, 8).loc["2026-01-10T05:00Z":"2026-01-10T05:59Z", ["meter.heat_power_w"]]
    late.loc[:, "meter.heat_power_w"] = 40_000.0
    with open_store(url) as store:
        store.write_frame(site.id, late)
        nxt = readings(START, 8).loc["2026-01-10T06:00Z":]
        store.write_frame(site.id, nxt)
    second = update_ledger(site, url, now=NOW)
    assert second.corrections == 1 and second.intervals == 1
    with open_ledger(site, url) as ctx:
        entries = ctx.log.entries()
    corr = [e for e in entries if e["type"] == "ledger_correction"]
    assert len(corr) == 1
    c = corr[0]
    orig = intervals(entries)["2026-01-10T05:00:00Z"]
    assert c["period_start"] == "2026-01-10T05:00:00Z"
    assert c["corrects_index"] == orig["index"] and c["supersedes_index"] == orig["index"]
    assert c["heat_delivered"]["status"] == "estimated" and c["heat_delivered"]["kwh"] == 40.0
    assert c["delta"]["heat_delivered"]["estimated_kwh"] == 40.0
    assert second.tree_size == first.tree_size + 2
    # idempotent again
    assert update_ledger(site, url, now=NOW).appended == 0
    # KPIs read the corrected version: 03, 04, 05 (corrected) and 06 (its register delta
    # spans the 05:00 gap) are estimated
    k = kpi_report(site, "2026-01-10", url)
    heat = k["totals"]["quantities"]["heat_delivered"]
    assert heat["estimated_kwh"] == pytest.approx(160.0) and heat["hours_missing"] == 0


def test_site_config_change_appends_entry(env: dict) -> None:
    site, url = env["site"], env["url"]
    update_ledger(site, url, now=NOW)
    data = site.model_dump(mode="json")
    data["contract"]["emission_factors"]["grid"]["value_kg_per_kwh"] = 0.363
    data["contract"]["emission_factors"]["grid"]["year"] = 2024
    changed = site.model_validate(data)
    r = update_ledger(changed, url, now=NOW)
    assert set(r.config_entries) == {"emission_factors", "site_config"}
    # a new factor applies from now on; it does not "correct" the hours already ledgered
    assert r.intervals == 0 and r.corrections == 0
    assert update_ledger(changed, url, now=NOW).appended == 0


def test_export_verify_and_superuser_tamper(env: dict) -> None:
    site, url, tmp = env["site"], env["url"], env["tmp"]
    update_ledger(site, url, now=NOW)
    out = tmp / "export"
    export_ledger(site, out, url)
    report = verify_export(out)
    assert report.ok, report.problems
    totals = json.loads((out / "totals.json").read_text())["totals"]
    names = {t["name"]: t for t in totals}
    jan = names["heat_delivered.metered_kwh 2026-01 (intervals)"]
    # metered heat of January: 09T23 (59 min, first bucket) + 00, 01, 02; 03-05 are not
    assert jan["value"] == pytest.approx(40 * 59 / 60 + 3 * 40.0) and jan["count"] == 7
    assert report.totals_matched == report.totals_recomputed > 0
    # and through the CLI that an auditor runs
    assert run(["verify", str(out)]) == 0

    # a database superuser drops the trigger, rewrites one row and recreates the trigger
    with open_ledger(site, url) as ctx:
        victim = intervals(ctx.log.entries())["2026-01-10T01:00:00Z"]
    path = url.removeprefix("sqlite:///")
    con = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("UPDATE ledger_log SET entry = entry WHERE idx = ?", (victim["index"],))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("DELETE FROM ledger_log WHERE idx = ?", (victim["index"],))
    raw = con.execute("SELECT entry FROM ledger_log WHERE idx = ?", (victim["index"],)).fetchone()[
        0
    ]
    forged = bytes(raw).replace(b'"kwh":40,', b'"kwh":44,', 1)
    assert forged != bytes(raw)
    con.execute("DROP TRIGGER ledger_log_no_update")
    con.execute("UPDATE ledger_log SET entry = ? WHERE idx = ?", (forged, victim["index"]))
    con.commit()
    con.close()
    with open_ledger(site, url) as ctx:
        ctx.db.ensure_schema()  # triggers recreated
        entries_now = ctx.log.entry_bytes()

    # the service refuses to build on a rewritten log, naming the published checkpoint
    with pytest.raises(LedgerError, match="no longer matches this published checkpoint"):
        update_ledger(site, url, now=NOW)
    with pytest.raises(LedgerError, match="no longer matches"):
        export_ledger(site, tmp / "export2", url)
    # what the operator would now publish: the rewritten entries with the old checkpoints
    (out / "entries.jsonl").write_bytes(b"".join(e + b"\n" for e in entries_now))
    bad = verify_export(out)
    assert not bad.ok
    text = " ".join(p.message for p in bad.problems)
    assert f"entry {victim['index']} edited" in text
    assert run(["verify", str(out)]) == 3


def test_eed_and_monthly_report_and_cli(env: dict, capsys: pytest.CaptureFixture[str]) -> None:
    site, url, tmp = env["site"], env["url"], env["tmp"]
    site_file = str(EXAMPLES / "pool.yaml")
    assert run(["ledger", "update", site_file, "--store", url, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["intervals"] >= 7  # "now" is the real clock: all complete hours
    assert run(["ledger", "update", site_file, "--store", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["appended"] == 0

    assert run(["kpi", site_file, "--period", "2026-01", "--store", url, "--json"]) == 0
    k = json.loads(capsys.readouterr().out)
    assert k["kpis"]["pue"]["value"] == pytest.approx(1.06)
    assert run(["kpi", site_file, "--period", "2026-13", "--store", url]) == 2
    csv_out = tmp / "kpi.csv"
    assert (
        run(["kpi", site_file, "--period", "2026-01", "--store", url, "--csv", str(csv_out)]) == 0
    )
    rows = dict(line.split(",", 1) for line in csv_out.read_text().splitlines()[1:])
    assert float(rows["kpis.pue.value"]) == pytest.approx(1.06)
    assert rows["kpis.wue.value"] == ""

    json_path, csv_path = export_eed(site, 2026, tmp / "eed", url)
    eed = json.loads(json_path.read_text())
    fields = {f["id"]: f for f in eed["fields"]}
    assert fields["P_DIT"]["value"] == 60.0
    # the year's used hours: 09T23 (59 min) and 10T00..04 (05 misses heat)
    assert fields["E_IT"]["value"] == pytest.approx(50 * 59 / 60 + 250.0)
    assert fields["E_REUSE"]["value"] == pytest.approx(40 * 59 / 60 + 200.0)
    assert fields["W_IN"]["status"] == "missing" and "not metered" in fields["W_IN"]["reason"]
    assert eed["in_scope"] is False
    assert "W_IN" in eed["missing_fields"]
    assert csv_path.read_text().startswith("id,name,value,unit,status,source,reason")
    assert (
        run(
            [
                "export",
                "eed",
                site_file,
                "--year",
                "2026",
                "--out",
                str(tmp / "eed2"),
                "--store",
                url,
            ]
        )
        == 0
    )

    html_path, pdf_path = monthly_report(site, "2026-01", tmp / "report", url)
    page = html_path.read_text()
    # self-contained: plotly.js inline, no external script (the bundle itself mentions its
    # CDN for optional topojson maps, which this page does not use)
    assert "<script src=" not in page and 'src="http' not in page
    assert len(page) > 3_000_000
    assert "ledger-method/3" in page and "Sankey" in page
    assert "No alerting subsystem exists yet" in page
    assert pdf_path.read_bytes().startswith(b"%PDF")
    assert (
        run(
            [
                "report",
                "monthly",
                site_file,
                "--period",
                "2026-01",
                "--out",
                str(tmp / "r2"),
                "--store",
                url,
            ]
        )
        == 0
    )
    assert run(["ledger", "export", site_file, "--out", str(tmp / "x"), "--store", url]) == 0
    assert run(["verify", str(tmp / "x")]) == 0


def test_postgresql_store_update_export_verify_and_tamper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same on PostgreSQL: store and ledger tables in one own schema."""
    import uuid

    import psycopg

    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    schema = f"hr_ledger_svc_{uuid.uuid4().hex[:12]}"
    url = f"{admin}?schema={schema}"
    site = load_site(EXAMPLES / "pool.yaml")
    try:
        with open_store(url, create=True) as store:
            store.write_frame(site.id, readings(START, 7))
        r = update_ledger(site, url, now=NOW)
        assert r.intervals == 7
        assert update_ledger(site, url, now=NOW).appended == 0
        k = kpi_report(site, "2026-01-10", url)
        assert k["kpis"]["pue"]["value"] == pytest.approx(265 / 250)
        out = tmp_path / "export"
        export_ledger(site, out, url)
        assert verify_export(out).ok
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'SET search_path TO "{schema}"')
            with pytest.raises(psycopg.Error, match="append-only"):
                con.execute("DELETE FROM ledger_log")
            row = con.execute(
                "SELECT idx, entry FROM ledger_log WHERE entry_type = 'ledger_interval' "
                "ORDER BY idx LIMIT 1 OFFSET 2"
            ).fetchone()
            assert row is not None
            idx, raw = row[0], bytes(row[1])
            forged = raw.replace(b'"kwh":40,', b'"kwh":44,', 1)
            assert forged != raw
            # a superuser: disable the guard, rewrite, enable it again
            con.execute("ALTER TABLE ledger_log DISABLE TRIGGER ledger_log_no_update")
            con.execute("UPDATE ledger_log SET entry = %s WHERE idx = %s", (forged, idx))
            con.execute("ALTER TABLE ledger_log ENABLE TRIGGER ledger_log_no_update")
        with pytest.raises(LedgerError, match="no longer matches"):
            update_ledger(site, url, now=NOW)
        with open_ledger(site, url) as ctx:
            rewritten = ctx.log.entry_bytes()
        (out / "entries.jsonl").write_bytes(b"".join(e + b"\n" for e in rewritten))
        bad = verify_export(out)
        assert not bad.ok
        assert any(f"entry {idx} edited" in p.message for p in bad.problems)
    finally:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_concurrent_updates_ledger_each_hour_once(env: dict) -> None:
    import threading

    site, url = env["site"], env["url"]
    errors: list[BaseException] = []

    def run_update() -> None:
        try:
            update_ledger(site, url, now=NOW)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run_update) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with open_ledger(site, url) as ctx:
        entries = ctx.log.entries()
    starts = [e["period_start"] for e in entries if e["type"] == "ledger_interval"]
    assert len(starts) == len(set(starts)) == 7
    assert [e["index"] for e in entries] == list(range(len(entries)))
    assert sum(e["type"] == "method" for e in entries) == 1


def test_backfill_before_the_first_ledgered_hour(env: dict) -> None:
    site, url = env["site"], env["url"]
    r1 = update_ledger(site, url, now=NOW)
    assert r1.intervals == 7
    # an edge buffer replays two older hours (22:00 and 21:00 of 2026-01-09)
    older = readings(START - pd.Timedelta(hours=2), 2)
    with open_store(url) as store:
        store.write_frame(site.id, older)
    r2 = update_ledger(site, url, now=NOW, recheck_hours=24)
    assert r2.intervals == 2 and r2.corrections == 1  # 23:00 now has its previous reading
    with open_ledger(site, url) as ctx:
        entries = ctx.log.entries()
    starts = sorted(e["period_start"] for e in entries if e["type"] == "ledger_interval")
    assert starts[:3] == ["2026-01-09T21:00:00Z", "2026-01-09T22:00:00Z", "2026-01-09T23:00:00Z"]
    fixed = next(e for e in entries if e["type"] == "ledger_correction")
    assert fixed["period_start"] == "2026-01-09T23:00:00Z"
    assert fixed["it_electricity"]["kwh"] == 50.0  # a full hour now
    assert update_ledger(site, url, now=NOW, recheck_hours=24).appended == 0


# -- unsigned tails, interrupted updates, consistent rollbacks and the witness -------------


def _checkpoint_sizes(home: Path, site_id: str) -> list[int]:
    folder = home / "checkpoints" / site_id
    return sorted(int(p.stem) for p in folder.glob("*.txt"))


def test_a_row_inserted_into_ledger_log_is_refused_not_signed(
    env: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    site, url, tmp = env["site"], env["url"], env["tmp"]
    first = update_ledger(site, url, now=NOW)
    n = first.tree_size
    # someone with write access to the database appends a forged hour: the append-only
    # triggers allow an INSERT at the next index
    forged = canonical_json_bytes(
        {
            "type": "ledger_interval",
            "index": n,
            "period_start": "2026-01-10T07:00:00Z",
            "heat_delivered": {"kwh": 400.0, "status": "metered"},
        }
    )
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    con.execute(
        "INSERT INTO ledger_log (log_id, idx, entry_type, entry, leaf_hash, appended_at) "
        "VALUES (?, ?, 'ledger_interval', ?, ?, '2026-01-11T00:00:00Z')",
        (site.id, n, forged, leaf_hash(forged)),
    )
    con.commit()
    con.close()
    more = readings(START, 8).loc["2026-01-10T06:00Z":]  # a new honest hour arrives too
    with open_store(url) as store:
        store.write_frame(site.id, more)

    with pytest.raises(LedgerIntegrityError, match=rf"entry {n} in the database is not covered"):
        update_ledger(site, url, now=NOW)
    assert _checkpoint_sizes(tmp / "home", site.id) == [n]  # nothing signed
    with open_ledger(site, url) as ctx:
        assert ctx.log.size == n + 1  # nothing appended after it
    site_file = str(EXAMPLES / "pool.yaml")
    assert run(["ledger", "update", site_file, "--store", url]) == 3
    err = capsys.readouterr().err
    assert f"entry {n} in the database is not covered" in err and "direct INSERT" in err
    # export does not sign it either
    with pytest.raises(LedgerIntegrityError, match=f"entry {n} in the database"):
        export_ledger(site, tmp / "export", url)
    # nor does renaming the last checkpoint file make it look covered
    cp_dir = tmp / "home" / "checkpoints" / site.id
    (cp_dir / f"{n}.txt").rename(cp_dir / f"{n + 1}.txt")
    with pytest.raises(LedgerIntegrityError, match=f"entry {n} in the database"):
        update_ledger(site, url, now=NOW)


def test_an_interrupted_update_publishes_its_checkpoint_next_time(
    env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, url, tmp = env["site"], env["url"], env["tmp"]
    first = update_ledger(site, url, now=NOW)
    with open_store(url) as store:
        store.write_frame(site.id, readings(START, 8).loc["2026-01-10T06:00Z":])
    real_save = DirectoryCheckpointStore.save_checkpoint

    def crash(self: DirectoryCheckpointStore, size: int, note: str) -> None:
        raise OSError("disk full")  # the process dies after the database commit

    monkeypatch.setattr(DirectoryCheckpointStore, "save_checkpoint", crash)
    with pytest.raises(OSError, match="disk full"):
        update_ledger(site, url, now=NOW)
    monkeypatch.setattr(DirectoryCheckpointStore, "save_checkpoint", real_save)
    with open_ledger(site, url) as ctx:
        grown = ctx.log.size
    assert grown == first.tree_size + 1
    assert _checkpoint_sizes(tmp / "home", site.id) == [first.tree_size]

    again = update_ledger(site, url, now=NOW)  # its own head, stored with the rows: published
    assert again.appended == 0 and again.tree_size == grown
    assert any("interrupted `ledger update` was published" in note for note in again.notes)
    assert _checkpoint_sizes(tmp / "home", site.id) == [first.tree_size, grown]
    export_ledger(site, tmp / "export", url)
    assert verify_export(tmp / "export").ok


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy a whole SQLite database (WAL included) with SQLite's online backup."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _doubled_heat(hours: int) -> pd.DataFrame:
    """Hours 06:00.. with the heat register and power doubled (80 kWh/h)."""
    frame = readings(START, 7 + hours).loc["2026-01-10T06:00Z":].copy()
    base = frame["meter.heat_energy_kwh"].iloc[0]
    elapsed_h = (frame.index - frame.index[0]) / pd.Timedelta(hours=1)
    frame["meter.heat_energy_kwh"] = base + 80.0 * elapsed_h.to_numpy()
    frame["meter.heat_power_w"] = 80_000.0
    return frame


def test_consistent_rollback_verifies_without_a_witness_and_fails_with_one(
    env: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    site, url, tmp = env["site"], env["url"], env["tmp"]
    home = tmp / "home"
    db_path = Path(url.removeprefix("sqlite:///"))
    init = ["witness", "init", "--name", "witness.customer.example/pool", "--out"]
    assert run([*init, str(tmp / "witness")]) == 0
    wvkey = capsys.readouterr().out.strip().splitlines()[-1]

    # month 1: the operator exports, the heat customer witnesses
    s1 = update_ledger(site, url, now=NOW).tree_size
    backup = tmp / "store-backup.db"
    _copy_sqlite(db_path, backup)  # the operator keeps a copy of the database
    export_ledger(site, tmp / "x1", url)
    assert run(["witness", "cosign", str(tmp / "x1"), "--state", str(tmp / "witness")]) == 0
    # month 2: one more honest hour (40 kWh), exported and witnessed
    with open_store(url) as store:
        store.write_frame(site.id, readings(START, 8).loc["2026-01-10T06:00Z":])
    s2 = update_ledger(site, url, now=NOW).tree_size
    assert s2 > s1
    export_ledger(site, tmp / "x2", url)
    assert run(["witness", "cosign", str(tmp / "x2"), "--state", str(tmp / "witness")]) == 0
    assert run(["verify", str(tmp / "x2"), "--witness", wvkey]) == 0

    # the rollback: restore the database, drop the tail's checkpoint, re-ingest the
    # hours with doubled heat, rebuild with the same key
    _copy_sqlite(backup, db_path)
    for size in _checkpoint_sizes(home, site.id):
        if size > s1:
            (home / "checkpoints" / site.id / f"{size}.txt").unlink()
    with open_store(url) as store:
        store.write_frame(site.id, _doubled_heat(2))
    s3 = update_ledger(site, url, now=NOW).tree_size
    export_ledger(site, tmp / "x3", url)
    with open_ledger(site, url) as ctx:
        forged = intervals(ctx.log.entries())["2026-01-10T06:00:00Z"]
    assert forged["heat_delivered"]["kwh"] == 80.0  # doubled

    # without a witness the rolled-back log verifies: it is consistent in itself
    assert verify_export(tmp / "x3").ok
    assert run(["verify", str(tmp / "x3")]) == 0
    assert "not checked (no --witness)" in capsys.readouterr().out
    # the witness refuses to cosign it, and verify --witness fails
    assert run(["witness", "cosign", str(tmp / "x3"), "--state", str(tmp / "witness")]) == 3
    assert f"fork: no consistency proof leads from the checkpoint of size {s2}" in (
        capsys.readouterr().err
    )
    assert run(["verify", str(tmp / "x3"), "--witness", wvkey]) == 3
    out = capsys.readouterr().out
    assert f"checkpoints/{s3}.txt: the newest checkpoint (size {s3}) carries no valid" in out


def test_postgresql_inserted_row_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    import psycopg

    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    schema = f"hr_ledger_ins_{uuid.uuid4().hex[:12]}"
    url = f"{admin}?schema={schema}"
    site = load_site(EXAMPLES / "pool.yaml")
    try:
        with open_store(url, create=True) as store:
            store.write_frame(site.id, readings(START, 3))
        n = update_ledger(site, url, now=NOW).tree_size
        forged = canonical_json_bytes({"type": "ledger_interval", "index": n, "x": 1})
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'SET search_path TO "{schema}"')
            con.execute(
                "INSERT INTO ledger_log (log_id, idx, entry_type, entry, leaf_hash) "
                "VALUES (%s, %s, 'ledger_interval', %s, %s)",
                (site.id, n, forged, leaf_hash(forged)),
            )
        with pytest.raises(LedgerIntegrityError, match=rf"entry {n} in the database"):
            update_ledger(site, url, now=NOW)
    finally:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
