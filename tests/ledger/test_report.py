"""Monthly report: self-contained HTML (inline plotly) and a PDF, from ledger figures."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import re
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from heatreuse.ledger.build import build_intervals
from heatreuse.ledger.kpis import compute_kpis, intervals_frame, parse_period
from heatreuse.ledger.report import (
    DAILY_CAPTION,
    FLOWS_CAPTION,
    MonthlyReportData,
    daily_frame,
    render_monthly_html,
    write_monthly_pdf,
)
from heatreuse.site import load_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
H0 = pd.Timestamp("2026-01-05T00:00Z")


def reg(rate: float, hours: list[pd.Timestamp]) -> pd.DataFrame:
    return pd.DataFrame({"count": 360.0, "delta": rate}, index=pd.DatetimeIndex(hours))


def data(sla: list[dict] | None = None) -> MonthlyReportData:
    site = load_site(EXAMPLES / "pool.yaml")
    hours = [H0 + pd.Timedelta(hours=h) for h in range(48)]
    rollups = {
        "elec.it_energy_kwh": reg(50.0, hours),
        "elec.cooling_energy_kwh": reg(1.5, hours),
        "elec.pumps_energy_kwh": reg(0.5, hours),
        "elec.other_energy_kwh": reg(1.0, hours),
        "meter.heat_energy_kwh": reg(40.0, hours[:40]),  # 8 hours without heat data
        "boiler.heat_energy_kwh": reg(3.0, hours),
        "dry_cooler.heat_energy_kwh": reg(5.0, hours),
    }
    entries = [{"type": "method", "version": "ledger-method/1", "index": 0}]
    for i, e in enumerate(build_intervals(site, hours, rollups), start=1):
        e["index"] = i
        entries.append(e)
    period = parse_period("2026-01")
    return MonthlyReportData(
        site_id=site.id,
        site_name=site.site.name,
        period=period,
        kpis=compute_kpis(site, entries, period),
        daily=daily_frame(intervals_frame(entries), period),
        sla=sla,
        sla_note="SLA module not available (test)" if sla is None else "",
        alerts=None,
        alerts_note="No alerting subsystem exists yet in heatreuse.",
        checkpoint={
            "origin": "heatreuse.local/pool-potsdam",
            "size": 49,
            "root_hash_b64": "b9Nl1jbMEVe2un5tJIX8uh2izEhcOMKydKmQpdruwqs=",
            "root_hash_hex": "6fd3",
            "signature_line": "— heatreuse.local/pool-potsdam AAAA",
            "note": "heatreuse.local/pool-potsdam\n49\nb9Nl...\n",
            "path": "/x/49.txt",
            "vkey": "heatreuse.local/pool-potsdam+01234567+AQ==",
        },
        method=entries[0],
        generated_at=dt.datetime(2026, 2, 1, 6, 0, tzinfo=dt.UTC),
    )


def test_daily_frame_sums() -> None:
    d = data().daily
    assert len(d) == 31
    day5, day6 = d.loc["2026-01-05"], d.loc["2026-01-06"]
    assert day5["heat_delivered_metered_kwh"] == pytest.approx(24 * 40.0)
    assert day6["heat_delivered_metered_kwh"] == pytest.approx(16 * 40.0)
    assert day6["hours_missing_heat"] == 8
    assert day5["heat_demand_served_kwh"] == pytest.approx(24 * 43.0)
    assert d.loc["2026-01-01"].sum() == 0.0


def test_html_is_self_contained_and_shows_every_section() -> None:
    page = render_monthly_html(data())
    assert page.startswith("<!DOCTYPE html>")
    assert "<script src=" not in page and 'src="http' not in page  # plotly inline
    assert len(page) > 3_000_000
    text = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    for needle in (
        "Heat delivered vs customer heat use",
        "SLA module not available (test)",
        "No alerting subsystem exists yet",
        "Energy flows",
        '"type":"sankey"',
        "PUE (EnEfG rule)",
        "EnEfG section 11 targets",
        "ledger-method/1",
        "b9Nl1jbMEVe2un5tJIX8uh2izEhcOMKydKmQpdruwqs=",
        "Uncertainty (heat meter MPE)",
        "hours miss",
    ):
        assert needle in (page if needle.startswith('"type"') else text), needle
    # heat delivered total of the month: 40 h x 40 kWh
    assert "1,600 kWh" in text


def test_html_with_sla_reports() -> None:
    rep = {
        "period": "2026-01",
        "period_kind": "month",
        "binding": True,
        "attainment_fraction": 0.99,
        "target_fraction": 0.995,
        "valid_min": 1000,
        "good_min": 990,
        "bad_min": 10,
        "unknown_min": 0,
        "error_budget_left_min": -5.0,
        "interruptions": [
            {
                "start": "2026-01-05T10:00:00+00:00",
                "end": "2026-01-05T10:10:00+00:00",
                "duration_min": 10,
            }
        ],
        "breaches": [{"kind": "attainment", "start": "a", "end": "b", "detail": "below target"}],
    }
    page = render_monthly_html(data(sla=[rep]))
    assert "99.000 %" in page and "2026-01-05T10:00:00+00:00" in page
    assert "below target" in page


def _sla_report() -> dict:
    return {
        "period": "2026-01",
        "period_kind": "month",
        "binding": True,
        "attainment_fraction": 0.99,
        "target_fraction": 0.995,
        "valid_min": 1000,
        "good_min": 990,
        "bad_min": 10,
        "unknown_min": 0,
        "error_budget_left_min": -5.0,
        "interruptions": [
            {
                "start": "2026-01-05T10:00:00+00:00",
                "end": "2026-01-05T10:10:00+00:00",
                "duration_min": 10,
            }
        ],
        "breaches": [{"kind": "attainment", "start": "a", "end": "b", "detail": "below target"}],
    }


def test_pdf_is_a_typeset_document_with_the_html_content(tmp_path: Path) -> None:
    d = data(sla=[_sla_report()])
    path = write_monthly_pdf(d, tmp_path / "m.pdf")
    reader = PdfReader(path)
    pages = [page.extract_text() for page in reader.pages]
    flat = re.sub(r"\s+", " ", " ".join(pages))
    # The same headings as the HTML page, in the same order.
    page = render_monthly_html(d)
    heads = [
        re.sub(r"\s+", " ", htmllib.unescape(h))
        for h in re.findall(r"<h[123]>(.*?)</h[123]>", page)
    ]
    assert len(heads) >= 10 and "SLA attainment and interruptions" in heads
    at = 0
    for h in heads:  # each heading after the one before it
        found = flat.find(h, at)
        assert found >= 0, f"heading {h!r} not in the PDF after position {at}"
        at = found + len(h)
    # Table figures equal the JSON figures the HTML shows.
    k = d.kpis
    heat_kwh = k["totals"]["quantities"]["heat_delivered"]["kwh"]
    assert heat_kwh == pytest.approx(1600.0)
    assert f"{heat_kwh:,.0f} kWh" in flat  # "1,600 kWh", the headline figure
    for name in ("pue", "ere", "cue"):
        value = k["kpis"][name]["value"]
        assert f"{value:,.3f}" in flat, name
    co2_kg = k["totals"]["avoided_co2"]["kg"]
    assert f"{co2_kg:,.1f} kg" in flat
    assert "99.000 %" in flat and "below target" in flat
    assert "2026-01-05T10:00:00+00:00" in flat.replace(" ", "")
    assert "No alerting subsystem exists yet" in flat
    # The checkpoint: the root hash (a long token may wrap inside its table cell).
    assert "b9Nl1jbMEVe2un5tJIX8uh2izEhcOMKydKmQpdruwqs=" in re.sub(r"\s+", "", flat)
    assert "heatreuse verify DIR" in flat
    # The two figures: drawn images, each with its caption on the same page.
    images = {i: len(p.images) for i, p in enumerate(reader.pages)}
    assert sum(images.values()) == 2
    for caption in (DAILY_CAPTION, FLOWS_CAPTION):
        on = [i for i, text in enumerate(pages) if caption in re.sub(r"\s+", " ", text)]
        assert on and images[on[0]] >= 1, caption
    # Typeset, not a monospaced dump: the body font is a proportional embedded TrueType.
    fonts = {
        str(f["/BaseFont"])
        for p in reader.pages
        for f in p["/Resources"]["/Font"].values()  # type: ignore[index]
    }
    assert any(f.endswith("+DejaVuSans") for f in fonts), fonts  # subset of the body font
    assert not any("Courier" in f for f in fonts), fonts
    assert reader.metadata is not None and "pool-potsdam" in str(reader.metadata.subject)


def test_pdf_without_checkpoint_or_sla_says_so(tmp_path: Path) -> None:
    base = data()
    d = MonthlyReportData(**{**base.__dict__, "checkpoint": None})
    flat = " ".join(
        p.extract_text() for p in PdfReader(write_monthly_pdf(d, tmp_path / "m.pdf")).pages
    )
    flat = re.sub(r"\s+", " ", flat)
    assert "No signed checkpoint found for this ledger." in flat
    assert "SLA module not available (test)" in flat
