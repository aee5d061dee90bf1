"""KPIs, EnEfG targets and EED fields from ledger entries with known answers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest

from heatreuse.errors import LedgerError
from heatreuse.ledger.build import build_intervals, correction_entry
from heatreuse.ledger.kpis import (
    compute_kpis,
    eed_csv,
    eed_report,
    enefg_targets,
    intervals_frame,
    parse_period,
    period_totals,
    rollup,
)
from heatreuse.site import load_site
from heatreuse.site.model import Site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
H0 = pd.Timestamp("2026-03-01T00:00Z")


def reg(rate: float, hours: list[pd.Timestamp]) -> pd.DataFrame:
    return pd.DataFrame({"count": 360.0, "delta": rate}, index=pd.DatetimeIndex(hours))


def const(value: float, hours: list[pd.Timestamp]) -> pd.DataFrame:
    return pd.DataFrame(
        {"count": 360.0, "mean": value, "min": value, "max": value},
        index=pd.DatetimeIndex(hours),
    )


def site_with(**changes: object) -> Site:
    site = load_site(EXAMPLES / "pool.yaml")
    data = site.model_dump(mode="json")
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return Site.model_validate(data)


def ledger(site: Site, n_hours: int, hp_kwh: float = 0.0) -> list[dict]:
    hours = [H0 + pd.Timedelta(hours=h) for h in range(n_hours)]
    r = {
        "elec.it_energy_kwh": reg(50.0, hours),
        "elec.cooling_energy_kwh": reg(1.5, hours),
        "elec.pumps_energy_kwh": reg(0.5, hours),
        "elec.other_energy_kwh": reg(1.0, hours),
        "meter.heat_energy_kwh": reg(40.0, hours),
        "meter.flow_m3_per_h": const(3.0, hours),
        "meter.supply_temp_c": const(45.0, hours),
        "meter.return_temp_c": const(35.0, hours),
        "boiler.heat_energy_kwh": reg(2.0, hours),
        "dry_cooler.heat_energy_kwh": reg(5.0, hours),
        "heat_pump.elec_energy_kwh": reg(hp_kwh, hours),
    }
    out = build_intervals(site, hours, r)
    for i, e in enumerate(out):
        e["index"] = i
    return out


def test_parse_period() -> None:
    p = parse_period("2026-01")
    assert (p.start, p.end, p.hours) == (
        pd.Timestamp("2026-01-01T00:00Z"),
        pd.Timestamp("2026-02-01T00:00Z"),
        744,
    )
    assert parse_period("2026").hours == 8760
    assert parse_period("2026-03-01").hours == 24
    for bad in ("2026-13", "26-01", "January", "2026-02-30"):
        with pytest.raises(LedgerError, match="--period"):
            parse_period(bad)


def test_kpis_pue_erf_ere_cue_known_answers() -> None:
    site = site_with()
    k = compute_kpis(site, ledger(site, 10), "2026-03")
    b = k["kpi_basis"]
    assert b["hours_used"] == 10 and b["hours_not_ledgered"] == 744 - 10
    assert b["it_energy_kwh"] == pytest.approx(500.0)
    assert b["total_energy_kwh"] == pytest.approx(530.0)
    assert b["reused_energy_kwh"] == pytest.approx(400.0)
    kp = {n: v["value"] for n, v in k["kpis"].items()}
    assert kp["pue"] == pytest.approx(1.06)
    assert kp["erf"] == pytest.approx(400 / 530)
    assert kp["ere"] == pytest.approx((1 - 400 / 530) * 1.06)
    assert kp["cue"] == pytest.approx(0.380 * 1.06)  # one supply: EF x PUE (ISO/IEC 30134-8)
    assert kp["ref"] == 0.0 and kp["wue"] is None
    # CER: (delivered + rejected) / (cooling + pumps) = (40 + 5) / 2
    assert kp["cer"] == pytest.approx(45 / 2.0)
    t = k["totals"]
    assert t["quantities"]["backup_heat"]["kwh"] == pytest.approx(20.0)
    assert t["avoided_co2"]["kg"] == pytest.approx(10 * (40 * 0.2020 - 0.5 * 0.380))
    assert t["site_mode_hours"] == {"normal": 10}
    assert k["method_versions"] == ["ledger-method/3"]


def test_enefg_pue_excludes_upgrade_only_heat_pump() -> None:
    hp = {"max_heat_w": 50000, "carnot_fraction": 0.5, "upgrade_only": True}
    site = site_with(plant__heat_pump=hp)
    entries = ledger(site, 4, hp_kwh=5.0)
    assert entries[0]["heat_pump_electricity"]["status"] == "metered"
    assert entries[0]["total_site_energy"]["kwh"] == 58.0
    # heat pump electricity charged to the avoided emissions
    assert entries[0]["avoided_co2"]["kg"] == pytest.approx(40 * 0.2020 - (5 + 0.5) * 0.380)
    k = compute_kpis(site, entries, "2026-03")
    assert k["kpis"]["pue"]["value"] == pytest.approx(58 / 50)
    assert k["kpis"]["pue_enefg"]["value"] == pytest.approx(53 / 50)
    # ERF counts reused waste heat: 40 kWh delivered minus the heat pump's 5 kWh, over 58 kWh
    # (the same rule the planner uses: heatreuse.kpi.reused_energy_kwh)
    assert k["kpis"]["erf"]["value"] == pytest.approx((40 - 5) / 58)
    # not upgrade-only: EnEfG PUE equals PUE
    site2 = site_with(plant__heat_pump={**hp, "upgrade_only": False})
    k2 = compute_kpis(site2, ledger(site2, 4, hp_kwh=5.0), "2026-03")
    assert k2["kpis"]["pue_enefg"]["value"] == pytest.approx(58 / 50)


def _targets(site: Site, label: str, pue: float | None, erf: float | None) -> dict:
    return enefg_targets(site, parse_period(label), pue, erf)


def test_enefg_targets_by_commissioning_date_and_scope() -> None:
    big = {"compute__racks": [{"id": "hall", "nameplate_power_w": 50000, "count": 8}]}
    # new site (from 2026-07-01): PUE <= 1.2 and ERF >= 10/15/20 %, due 2 years later
    s = site_with(site__commissioning_date="2026-09-01", **big)
    t = _targets(s, "2028", 1.15, 0.12)
    assert t["in_scope"] and t["category"] == "new"
    by = {x["kpi"]: x for x in t["targets"]}
    assert by["pue_enefg"]["status"] == "met" and by["erf"]["status"] == "met"
    assert by["erf"]["target"] == 0.10 and by["erf"]["due_from"] == "2028-09-01"
    assert by["erf"]["binding"] is True
    assert _targets(s, "2028", 1.25, 0.05)["targets"][0]["status"] == "not met"
    s15 = site_with(site__commissioning_date="2027-08-01", **big)
    assert {x["kpi"]: x for x in _targets(s15, "2029", 1.1, 0.1)["targets"]}["erf"][
        "target"
    ] == 0.15
    s20 = site_with(site__commissioning_date="2028-07-01", **big)
    erf20 = {x["kpi"]: x for x in _targets(s20, "2030", 1.1, 0.19)["targets"]}["erf"]
    assert erf20["target"] == 0.20 and erf20["status"] == "not met"
    # existing site: PUE <= 1.5 from 2027-07-01, <= 1.3 from 2030-07-01
    old = site_with(site__commissioning_date="2019-05-01", **big)
    t = _targets(old, "2026", 1.4, 0.0)
    assert t["category"] == "existing"
    assert [(x["target"], x["status"], x["binding"]) for x in t["targets"]] == [
        (1.5, "met", False),
        (1.3, "not met", False),
    ]
    assert [x["binding"] for x in _targets(old, "2031", 1.4, 0.0)["targets"]] == [True, True]
    # below 300 kW: not applicable, with the indicative comparison kept
    small = site_with(site__commissioning_date="2026-09-01")
    t = _targets(small, "2028", 1.15, 0.12)
    assert not t["in_scope"] and {x["status"] for x in t["targets"]} == {"not applicable"}
    assert {x["indicative"] for x in t["targets"]} == {"met"}
    # no data
    t = _targets(s, "2028", None, None)
    assert {x["status"] for x in t["targets"]} == {"no data"}
    assert site_with(site__commissioning_date=None).site.commissioning_date is None
    assert _targets(site_with(site__commissioning_date=None), "2028", 1.1, 0.1)["targets"] == []


def test_corrections_replace_hours_in_totals() -> None:
    site = site_with()
    entries = ledger(site, 3)
    hours = [H0 + pd.Timedelta(hours=1)]
    fixed = build_intervals(
        site,
        hours,
        {
            "elec.it_energy_kwh": reg(50.0, hours),
            "elec.cooling_energy_kwh": reg(1.5, hours),
            "elec.pumps_energy_kwh": reg(0.5, hours),
            "elec.other_energy_kwh": reg(1.0, hours),
            "meter.heat_energy_kwh": reg(45.0, hours),
            "boiler.heat_energy_kwh": reg(2.0, hours),
            "dry_cooler.heat_energy_kwh": reg(5.0, hours),
        },
    )[0]
    c = correction_entry(fixed, 1, entries[1], "late data")
    c["index"] = 3
    frame = intervals_frame([*entries, c])
    assert len(frame) == 3 and frame["entry_index"].tolist() == [0, 3, 2]
    t = period_totals(frame, parse_period("2026-03-01"))
    assert t["quantities"]["heat_delivered"]["metered_kwh"] == pytest.approx(125.0)
    # the verifiable form: sum over intervals plus the correction's delta
    assert sum(e["heat_delivered"]["metered_kwh"] for e in entries) + c["delta"]["heat_delivered"][
        "metered_kwh"
    ] == pytest.approx(125.0)


def test_eed_report_fields_and_csv() -> None:
    site = site_with()
    rep = eed_report(site, ledger(site, 24), 2026)
    assert rep["in_scope"] is False and "500 kW" in rep["scope_note"]
    assert rep["due"] == "2027-05-15"
    f = {x["id"]: x for x in rep["fields"]}
    assert f["P_DIT"]["value"] == 60.0 and f["P_DIT"]["unit"] == "kW"
    assert f["E_DC"]["value"] == pytest.approx(24 * 53.0)
    assert f["E_IT"]["value"] == pytest.approx(24 * 50.0)
    assert f["E_REUSE"]["value"] == pytest.approx(24 * 40.0)
    assert f["E_RES_TOT"]["value"] == 0.0 and "no renewable" in f["E_RES_TOT"]["reason"]
    assert f["W_IN"]["value"] is None and f["W_IN"]["status"] == "missing"
    assert f["waste_heat_temperature_avg"]["value"] == pytest.approx(45.0)
    assert {"W_IN", "floor_area", "data_traffic"} <= set(rep["missing_fields"])
    assert all(x["reason"] for x in rep["fields"] if x["status"] == "missing")
    assert rep["derived_kpis"]["PUE"] == pytest.approx(1.06)
    assert rep["derived_kpis"]["WUE"] is None
    rows = list(csv.DictReader(io.StringIO(eed_csv(rep))))
    by = {r["id"]: r for r in rows}
    assert float(by["E_IT"]["value"]) == pytest.approx(1200.0)
    assert by["W_IN"]["value"] == "" and by["W_IN"]["status"] == "missing"
    assert by["ERF"]["status"] == "filled"
    assert dt.date.fromisoformat(f["commissioning_date"]["value"]) == site.site.commissioning_date


def test_rollup_day_month_year() -> None:
    site = site_with()
    hours = [H0 + pd.Timedelta(hours=h) for h in range(30)]
    r = {
        "elec.it_energy_kwh": reg(50.0, hours),
        "meter.heat_energy_kwh": reg(40.0, hours[:20]),  # 10 hours without heat data
    }
    entries = build_intervals(site, hours, r)
    frame = intervals_frame(entries)
    days = rollup(frame, "D")
    assert days["hours_ledgered"].tolist() == [24, 6]
    assert days["it_electricity_kwh"].tolist() == pytest.approx([1200.0, 300.0])
    assert days["heat_delivered_metered_kwh"].tolist() == pytest.approx([800.0, 0.0])
    assert days["heat_delivered_hours_missing"].tolist() == [4, 6]
    assert pd.isna(days["heat_delivered_kwh"].iloc[1])  # no value at all: NaN, not 0
    month = rollup(frame, "MS")
    assert month["heat_delivered_kwh"].iloc[0] == pytest.approx(800.0)
    assert rollup(frame, "YS")["hours_ledgered"].iloc[0] == 30
    with pytest.raises(LedgerError, match="freq"):
        rollup(frame, "W")
