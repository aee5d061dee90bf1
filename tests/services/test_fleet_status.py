"""Fleet status and KPIs over one store holding several sites, and store export round trips.

Two example sites (pool, greenhouse) play two twin days each, ingested into one store
(SQLite and PostgreSQL), ``ledger update`` for each; then ``fleet status|kpi --json`` are
checked against each site's own figures.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from heatreuse.cli.main import run
from heatreuse.services.ledger import kpi_report
from heatreuse.services.sla import daily_heat_kwh
from heatreuse.services.twin import run_offline_twin
from heatreuse.site import load_site
from heatreuse.store import open_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SITES = ("pool", "greenhouse")
START = pd.Timestamp("2026-10-05T00:00Z")
END = pd.Timestamp("2026-10-07T00:00Z")
NOW = "2026-10-06T23:59:30Z"
GHOST = "ghost-site"
PG_URL = os.environ.get("HEATREUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="module")
def twin_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("twin")
    files = {}
    for name in SITES:
        site = load_site(EXAMPLES / f"{name}.yaml")
        files[name] = out / f"{name}.parquet"
        run_offline_twin(site, start=START, end=END, out=files[name])
    return files


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fleet(
    request: pytest.FixtureRequest,
    twin_files: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, object]]:
    """One store per backend holding both sites (built once per module), ledgers updated."""
    tmp = tmp_path_factory.mktemp("fleet")
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'store.db'}"
    else:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT 1")  # fails (never skips) when the server is not there
        schema = "hr_test_" + uuid.uuid4().hex[:12]
        url = f"{PG_URL}?schema={schema}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEATREUSE_HOME", str(tmp / "home"))
        try:
            assert run(["store", "init", url]) == 0
            for name in SITES:
                site_file = str(EXAMPLES / f"{name}.yaml")
                assert run(["ingest", site_file, str(twin_files[name]), "--store", url, "-q"]) == 0
                assert run(["ledger", "update", site_file, "--store", url, "--json"]) == 0
            # a site in the store without a site file, silent since 00:09
            with open_store(url) as store:
                idx = pd.date_range(START, periods=10, freq="min")
                frame = pd.DataFrame({"meter.supply_temp_c": np.full(10, 40.0)}, idx)
                store.write_frame(GHOST, frame)
            yield {
                "url": url,
                "files": [str(EXAMPLES / f"{n}.yaml") for n in SITES],
                "home": str(tmp / "home"),
            }
        finally:
            if schema is not None:
                with psycopg.connect(PG_URL, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    capsys.readouterr()
    assert run(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_fleet_status_matches_each_site(
    fleet: dict, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEATREUSE_HOME", fleet["home"])  # where `ledger update` put checkpoints
    url = fleet["url"]
    res = _json(
        capsys, ["fleet", "status", *fleet["files"], "--store", url, "--now", NOW, "--json"]
    )
    rows = {r["site_id"]: r for r in res["sites"]}
    with open_store(url) as store:
        for f in fleet["files"]:
            site = load_site(f)
            row = rows[site.id]
            assert row["site_file"] is True
            assert row["last_reading"] == store.last_reading(site.id).strftime("%Y-%m-%dT%H:%M:%SZ")
            assert row["data_state"] == "fresh" and row["last_reading_age_s"] < 900
            tz = site.location.timezone
            local = pd.Timestamp(NOW).tz_convert(tz)
            month0 = pd.Timestamp(local.year, local.month, 1, tz=tz).tz_convert("UTC")
            per_day, _ = daily_heat_kwh(store, site.id, tz, month0, pd.Timestamp(NOW))
            assert per_day is not None and per_day.sum() > 0
            assert row["heat_month_kwh"] == pytest.approx(math.fsum(per_day))
            assert row["heat_today_kwh"] == pytest.approx(per_day[local.date()])
            assert row["sla"]["period"] == "2026-10"
            assert row["sla"]["verdict"] in ("met", "breached", "unknown")
            assert row["sla"]["data_coverage_fraction"] is not None
            assert row["checkpoint"] is not None and row["checkpoint"]["tree_size"] > 0
            assert row["alerts_firing"] == 0
    ghost = rows[GHOST]
    assert ghost["site_file"] is False and ghost["sla"] is None
    assert ghost["health"] == "no data" and ghost["data_state"] == "stale"
    assert ghost["data"] == "no data since 2026-10-05T00:09:00Z"
    assert ghost["checkpoint"] is None
    assert sum(res["counts"].values()) == 3


def test_a_stale_site_reads_no_data(fleet: dict, capsys: pytest.CaptureFixture[str]) -> None:
    later = "2026-10-08T12:00:00Z"
    res = _json(
        capsys,
        ["fleet", "status", *fleet["files"], "--store", fleet["url"], "--now", later, "--json"],
    )
    for r in res["sites"]:
        assert r["health"] == "no data", r
        assert r["data"].startswith("no data since 2026-10-0")
        assert r["last_reading_age_s"] > 86400
    # a site file without any data in the store: never read as healthy either
    district = str(EXAMPLES / "district_preheat.yaml")
    res = _json(capsys, ["fleet", "status", district, "--store", fleet["url"], "--json"])
    row = next(r for r in res["sites"] if r["site_id"] == load_site(district).id)
    assert row["data"] == "no data ever" and row["health"] == "no data"
    assert row["heat_month_kwh"] is None


def test_fleet_kpi_sums_energies_never_averages(
    fleet: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    url = fleet["url"]
    res = _json(
        capsys, ["fleet", "kpi", *fleet["files"], "--store", url, "--period", "2026-10", "--json"]
    )
    bases = [kpi_report(load_site(f), "2026-10", url)["kpi_basis"] for f in fleet["files"]]
    e_it = sum(b["it_energy_kwh"] for b in bases)
    e_dc = sum(b["total_energy_kwh"] for b in bases)
    e_reuse = sum(b["reused_energy_kwh"] for b in bases)
    assert res["sites_counted"] == 2 and res["sites_missing"] == []
    assert res["totals"]["it_energy_kwh"] == pytest.approx(e_it)
    assert res["totals"]["total_energy_kwh"] == pytest.approx(e_dc)
    assert res["totals"]["reused_energy_kwh"] == pytest.approx(e_reuse)
    pue = res["kpis"]["pue"]["value"]
    assert pue == pytest.approx(e_dc / e_it)
    assert res["kpis"]["erf"]["value"] == pytest.approx(e_reuse / e_dc)
    assert res["kpis"]["ere"]["value"] == pytest.approx((e_dc - e_reuse) / e_it)
    site_pues = [r["pue"] for r in res["sites"]]
    mean_pue = sum(site_pues) / len(site_pues)
    # unequal sites: the mean of site PUEs is not the fleet PUE
    assert abs(pue - mean_pue) > 1e-6
    # a site without a ledger is listed as missing, not counted as zero
    district = str(EXAMPLES / "district_preheat.yaml")
    res2 = _json(
        capsys,
        [
            "fleet",
            "kpi",
            *fleet["files"],
            district,
            "--store",
            url,
            "--period",
            "2026-10",
            "--json",
        ],
    )
    assert res2["sites_missing"] == [load_site(district).id]
    assert res2["kpis"]["pue"]["value"] == pytest.approx(pue)


def test_store_export_round_trips_through_ingest(
    fleet: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = fleet["url"]
    pool = fleet["files"][0]
    site = load_site(pool)
    out = tmp_path / "export"
    rep = _json(
        capsys,
        [
            "store",
            "export",
            pool,
            "--start",
            "2026-10-05",
            "--end",
            "2026-10-06T12:00Z",
            "--out",
            str(out),
            "--store",
            url,
            "--json",
        ],
    )
    assert rep["readings"] > 0
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert run(["store", "init", fresh]) == 0
    assert run(["ingest", pool, str(out / "readings.parquet"), "--store", fresh, "-q"]) == 0
    t0, t1 = START, pd.Timestamp("2026-10-06T12:00Z")
    with open_store(url) as a, open_store(fresh) as b:
        points = a.list_points(site.id)
        assert b.list_points(site.id) == points
        ra = a.read_series(site.id, points, t0, t1)
        rb = b.read_series(site.id, points, t0, t1)
        pd.testing.assert_frame_equal(ra, rb)
        assert int(ra.notna().sum().sum()) == rep["readings"]
        # nothing outside the window was exported
        assert b.read_series(site.id, points, t1, END).empty
        roll = pd.read_parquet(out / "rollup_1h.parquet")
        stored = a.read_rollup(site.id, points, t0, t1, resolution="1h")
        assert len(roll) == len(stored) == rep["rollup_1h_rows"]
        assert roll["count"].sum() == rep["readings"]


def test_fleet_errors_exit_2(
    fleet: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = fleet["url"]
    pool = fleet["files"][0]
    assert run(["fleet", "kpi", "--store", url, "--period", "2026-10"]) == 2
    assert run(["fleet", "kpi", pool, pool, "--store", url, "--period", "2026-10"]) == 2
    assert "also the id of" in capsys.readouterr().err
    assert run(["fleet", "kpi", pool, "--store", url, "--period", "2026-13"]) == 2
    assert run(["fleet", "status", pool, "--store", url, "--now", "2026-10-06T12:00"]) == 2
    out = str(tmp_path / "x")
    assert (
        run(
            [
                "store",
                "export",
                pool,
                "--start",
                "2026-10-06",
                "--end",
                "2026-10-05",
                "--out",
                out,
                "--store",
                url,
            ]
        )
        == 2
    )
    assert "expected after --start" in capsys.readouterr().err
    district = str(EXAMPLES / "district_preheat.yaml")
    assert (
        run(
            [
                "store",
                "export",
                district,
                "--start",
                "2026-10-05",
                "--end",
                "2026-10-06",
                "--out",
                out,
                "--store",
                url,
            ]
        )
        == 2
    )
    assert "no readings of site" in capsys.readouterr().err
