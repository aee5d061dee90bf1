"""``heatreuse commission``: the checklist on twin data ingested into a SQLite store.

One twin run serves most tests: three clean days (the commissioning period), then the
heat exchanger fouls to 60 % of its UA over two days. The twin's HX UA does not depend on
flow, so the flow-normalised design UA is the wrong yardstick; the baseline measured at
commissioning is the right one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from heatreuse.cli.main import run
from heatreuse.ledger.verify import verify_export
from heatreuse.services.commissioning import record_commissioning, run_commissioning
from heatreuse.services.ingest import ingest_file
from heatreuse.services.ledger import export_ledger, update_ledger
from heatreuse.services.monitoring import detect, hx_baseline
from heatreuse.services.sla import SlaDefinition, monitoring_start
from heatreuse.services.twin import run_offline_twin
from heatreuse.simulation.scenarios import parse_scenarios
from heatreuse.site import Site, load_site
from heatreuse.store import Store, open_store

POOL = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
T0 = pd.Timestamp("2026-01-05T00:00Z")
C1 = T0 + pd.Timedelta(days=3)  # end of the commissioning period; fouling starts here
T1 = T0 + pd.Timedelta(days=6)
NOW = pd.Timestamp("2026-03-01T00:00Z")


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(POOL)


@pytest.fixture(scope="module")
def fouling_file(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("twin") / "fouling.parquet"
    run_offline_twin(
        site,
        start=T0,
        end=T1,
        out=out,
        scenarios=parse_scenarios([f"hx_fouling@{C1.isoformat()}+2d:0.6"]),
    )
    return out


def _store(tmp: Path, site: Site, twin: Path, name: str = "s.db") -> Store:
    st = open_store(f"sqlite:///{tmp / name}", create=True)
    report = ingest_file(site, twin, st)
    assert report.result.accepted > 0
    return st


def _status(items: object) -> dict[str, str]:
    return {i["item"]: i["status"] for i in items}  # type: ignore[attr-defined]


def test_clean_period_passes_records_baselines_and_verifies(
    site: Site, fouling_file: Path, tmp_path: Path
) -> None:
    st = _store(tmp_path, site, fouling_file)
    try:
        r = run_commissioning(site, st, T0, C1, now=NOW)
        status = _status(r.items)
        assert status == {
            "points_report": "pass",
            "values_in_range": "pass",
            "sensor_pairs": "pass",
            "meter_balance": "pass",
            "pumps_respond": "pass",
            "hx_baseline": "pass",
            "functional": "skipped",
        }
        assert r.passed
        functional = next(i for i in r.items if i["item"] == "functional")
        assert "two-person" in functional["evidence"]
        assert r.baselines["hx_ua_w_per_k"] > 0
        assert r.baselines["delta_t_design_load_k"] > 0
        assert r.baselines["pumps"]["p-secondary"]["affinity_ratio"] == pytest.approx(1.0, 0.1)
        before = monitoring_start(st, site.id, SlaDefinition.from_site(site))
        assert before.at is not None and pd.Timestamp(before.at) < C1
        cp, key = tmp_path / "cp", tmp_path / "k.key"
        rec = record_commissioning(
            site, r, st.url, checkpoint_dir=cp, key_path=key, store=st, now=NOW.to_pydatetime()
        )
        # SLA: not in operation before commissioning passed, and the report says why
        after = monitoring_start(st, site.id, SlaDefinition.from_site(site))
        assert pd.Timestamp(after.at) == C1
        assert f"commissioning passed (entry {rec['index']})" in after.source
        # the hx_fouling baseline now comes from the commissioning entry
        base = hx_baseline(site, st)
        assert base.ua_w_per_k == r.baselines["hx_ua_w_per_k"]
        assert base.source.startswith(f"ledger: commissioning entry {rec['index']}")
        update_ledger(
            site, st.url, now=NOW.to_pydatetime(), checkpoint_dir=cp, key_path=key, store=st
        )
        out = export_ledger(site, tmp_path / "export", st.url, checkpoint_dir=cp)
        rep = verify_export(out)
        assert rep.ok, rep.problems
        assert rep.entry_types["commissioning"] == 1
    finally:
        st.close()


def test_verify_refuses_a_commissioning_entry_whose_verdict_does_not_follow() -> None:
    from heatreuse.ledger.commissioning import check_commissioning_entries, commissioning_entry

    items = [
        {"item": "points_report", "status": "fail", "evidence": "x silent"},
        {"item": "meter_balance", "status": "pass", "evidence": "ok"},
    ]
    e = commissioning_entry("s", items, {}, T0.to_pydatetime(), C1.to_pydatetime(), NOW)
    assert e["passed"] is False and e["passed_at"] is None
    assert check_commissioning_entries([e]) == []
    forged = {**e, "passed": True, "passed_at": e["period_end"]}
    problems = check_commissioning_entries([forged])
    assert {i for i, _ in problems} == {0}
    assert any("passed is True but the items say False" in p for _, p in problems)


def test_hx_fouling_found_with_the_commissioned_baseline_missed_with_design_ua(
    site: Site, fouling_file: Path, tmp_path: Path
) -> None:
    design = _store(tmp_path, site, fouling_file, "design.db")
    try:
        assert hx_baseline(site, design).source == "site file: plant.heat_exchanger design UA"
        s = detect(site, design, start=T0, end=T1, now=NOW)
        assert s.fired_by_rule.get("hx_fouling", 0) == 0
    finally:
        design.close()
    st = _store(tmp_path, site, fouling_file, "commissioned.db")
    try:
        r = run_commissioning(site, st, T0, C1, now=NOW)
        record_commissioning(
            site, r, st.url, checkpoint_dir=tmp_path / "cp", key_path=tmp_path / "k", store=st
        )
        s = detect(site, st, start=T0, end=T1, now=NOW)
        assert s.fired_by_rule.get("hx_fouling", 0) >= 1
        fired = [a for a in st.list_alerts(site.id) if a.rule == "hx_fouling" and a.started_at_us]
        assert min(a.started_at_us for a in fired) > int(C1.value // 1000)
    finally:
        st.close()


def test_site_file_baseline_wins(site: Site) -> None:
    rules = site.monitoring.rules
    hx = rules.hx_fouling.model_copy(update={"baseline_ua_w_per_k": 5000.0})
    mon = site.monitoring.model_copy(update={"rules": rules.model_copy(update={"hx_fouling": hx})})
    s2 = site.model_copy(update={"monitoring": mon})
    b = hx_baseline(s2, None)
    assert b.ua_w_per_k == 5000.0
    assert "monitoring.rules.hx_fouling.baseline_ua_w_per_k" in b.source


def test_sensor_false_low_fails_the_pair_item(site: Site, tmp_path: Path) -> None:
    twin = tmp_path / "false_low.parquet"
    end = T0 + pd.Timedelta(days=1)
    run_offline_twin(
        site,
        start=T0,
        end=end,
        out=twin,
        scenarios=parse_scenarios([f"sensor_false_low@{T0.isoformat()}+1d:5"]),
    )
    st = _store(tmp_path, site, twin)
    try:
        r = run_commissioning(site, st, T0, end, now=NOW)
    finally:
        st.close()
    status = _status(r.items)
    assert status["sensor_pairs"] == "fail"
    assert "DISAGREE" in next(i for i in r.items if i["item"] == "sensor_pairs")["evidence"]
    assert status["points_report"] == "pass"
    assert not r.passed
    assert r.entry()["passed"] is False and r.entry()["passed_at"] is None


def test_silenced_point_fails_reports_at_interval(
    site: Site, fouling_file: Path, tmp_path: Path
) -> None:
    frame = pd.read_parquet(fouling_file)
    ts = pd.to_datetime(frame["timestamp"], utc=True)
    silent = (frame["point_id"] == "pump.p-secondary.power_w") & (ts >= T0 + pd.Timedelta(days=1))
    out = tmp_path / "silenced.parquet"
    frame[~silent].to_parquet(out)
    st = _store(tmp_path, site, out)
    try:
        r = run_commissioning(site, st, T0, C1, now=NOW)
    finally:
        st.close()
    item = next(i for i in r.items if i["item"] == "points_report")
    assert item["status"] == "fail"
    assert "pump.p-secondary.power_w" in item["evidence"]
    assert not r.passed


def test_cli_json_report_and_errors(
    site: Site,
    fouling_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    st = _store(tmp_path, site, fouling_file)
    url = st.url
    st.close()
    args = [
        "commission",
        str(POOL),
        "--store",
        url,
        "--start",
        T0.isoformat(),
        "--end",
        C1.isoformat(),
    ]
    code = run([*args, "--json", "--out", str(tmp_path / "rep")])
    assert code == 0
    items = json.loads(capsys.readouterr().out)
    assert all(set(i) == {"item", "status", "evidence"} for i in items)
    assert {i["status"] for i in items} <= {"pass", "fail", "skipped"}
    html = list((tmp_path / "rep").glob("*.html"))
    pdf = list((tmp_path / "rep").glob("*.pdf"))
    assert len(html) == 1 and len(pdf) == 1
    assert "meter_balance" in html[0].read_text(encoding="utf-8")
    assert pdf[0].read_bytes().startswith(b"%PDF")
    # errors exit 2: reversed period, no data in the period, a store that does not exist
    assert (
        run(
            [
                "commission",
                str(POOL),
                "--store",
                url,
                "--start",
                C1.isoformat(),
                "--end",
                T0.isoformat(),
            ]
        )
        == 2
    )
    assert "expected a start before the end" in capsys.readouterr().err
    assert (
        run(
            [
                "commission",
                str(POOL),
                "--store",
                url,
                "--start",
                "2025-01-01",
                "--end",
                "2025-01-02",
            ]
        )
        == 2
    )
    assert "no readings" in capsys.readouterr().err
    assert run(["commission", str(POOL), "--store", f"sqlite:///{tmp_path / 'none.db'}"]) == 2
