"""SLA service: period parsing in local time, and reports from a real SQLite store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from heatreuse.errors import SLAError
from heatreuse.services.sla import contract_year_containing, parse_period, sla_report
from heatreuse.site import load_site
from heatreuse.sla import SlaDefinition

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def pool_defn() -> SlaDefinition:
    return SlaDefinition.from_site(load_site(EXAMPLES / "pool.yaml"))


def test_month_is_the_local_calendar_month_with_contract_year_beside_it() -> None:
    specs = parse_period("2026-01", pool_defn())
    month, year = specs
    assert month.kind == "month" and month.binding
    assert month.start == pd.Timestamp("2025-12-31 23:00", tz="UTC")  # 00:00 CET
    assert month.end == pd.Timestamp("2026-01-31 23:00", tz="UTC")
    # contract starts 2026-09-01: January 2026 lies in the year from 2025-09-01
    assert year.kind == "contract_year" and year.evaluate_until == month.end
    assert year.start == pd.Timestamp("2025-08-31 22:00", tz="UTC")  # 00:00 CEST
    assert year.end == pd.Timestamp("2026-08-31 22:00", tz="UTC")


def test_year_and_range_periods() -> None:
    d = pool_defn()
    (year,) = parse_period("2026", d)
    assert (year.start, year.end) == (
        pd.Timestamp("2026-08-31 22:00", tz="UTC"),
        pd.Timestamp("2027-08-31 22:00", tz="UTC"),
    )
    (rng,) = parse_period("2026-03-28..2026-03-29", d)  # over the DST change
    assert rng.end - rng.start == pd.Timedelta(hours=47)
    assert not rng.binding


def test_contract_year_without_start_is_calendar_year() -> None:
    d = SlaDefinition("s", "UTC", 30.0, 40.0, 0.99, period="contract_year")
    assert contract_year_containing(d, dt.date(2026, 5, 1)) == (
        dt.date(2026, 1, 1),
        dt.date(2027, 1, 1),
    )
    (only_year,) = parse_period("2026", d)
    assert only_year.start == pd.Timestamp("2026-01-01", tz="UTC")
    month_specs = parse_period("2026-02", SlaDefinition("s", "UTC", 30.0, 40.0, 0.99, "month"))
    assert len(month_specs) == 1


@pytest.mark.parametrize(
    "bad", ["2026-13", "Jan 2026", "2026-01-05..2026-01-01", "2026-02-30..2026-03-01", ""]
)
def test_bad_period_names_expected_format(bad: str) -> None:
    with pytest.raises(SLAError, match="YYYY-MM"):
        parse_period(bad, pool_defn())


# --------------------------------------------------------------------------- with a real store
BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
SUPPLY = "customer.supply_temp_c"
REGISTER = "meter.heat_energy_kwh"


def expected_open_minutes_january_2026() -> int:
    """Independent count: pool hours Mon-Fri 06-22 (960 min), Sat/Sun 08-20 (720 min)."""
    total = 0
    for day in range(1, 32):
        weekday = dt.date(2026, 1, day).weekday()
        total += 960 if weekday < 5 else 720
    return total


def january_frame(outage_local_start: dt.datetime, outage_h: float) -> pd.DataFrame:
    """Supply at 38 C every minute of local January 2026, out of band for ``outage_h``."""
    start = pd.Timestamp("2026-01-01", tz=BERLIN).tz_convert("UTC")
    end = pd.Timestamp("2026-02-01", tz=BERLIN).tz_convert("UTC")
    idx = pd.date_range(start, end, freq="min", inclusive="left")
    temp = pd.Series(38.0, index=idx)
    t0 = pd.Timestamp(outage_local_start).tz_convert("UTC")
    temp[(idx >= t0) & (idx < t0 + pd.Timedelta(hours=outage_h))] = 25.0
    return pd.DataFrame({SUPPLY: temp})


def register_frame(low_day: dt.date) -> pd.DataFrame:
    """Heat meter register every 15 min: 600 kWh/day (150 kWh on ``low_day``)."""
    start = pd.Timestamp("2026-01-01", tz=BERLIN).tz_convert("UTC")
    end = pd.Timestamp("2026-02-01", tz=BERLIN).tz_convert("UTC")
    idx = pd.date_range(start, end, freq="15min", inclusive="left")
    local_days = np.array([t.date() for t in idx.tz_convert(BERLIN)])
    step = np.where(local_days == low_day, 150.0 / 96, 600.0 / 96)
    return pd.DataFrame({REGISTER: 10_000.0 + np.cumsum(step)}, index=idx)


@pytest.fixture()
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sla.db'}"


def write(store_url: str, *frames: pd.DataFrame) -> None:
    from heatreuse.store import open_store

    with open_store(store_url, create=True) as store:
        for f in frames:
            store.write_frame("pool-potsdam", f)


def test_report_from_store_five_hour_outage_breaches_four_hour_limit(store_url: str) -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    outage = dt.datetime(2026, 1, 14, 10, tzinfo=BERLIN)  # a Wednesday, inside 06-22
    write(store_url, january_frame(outage, 5.0), register_frame(dt.date(2026, 1, 20)))
    month, year = sla_report(site, store_url, "2026-01", now=NOW)

    open_min = expected_open_minutes_january_2026()
    assert month.period_kind == "month" and month.binding
    assert (month.valid_min, month.bad_min, month.unknown_min) == (open_min, 300, 0)
    assert month.good_min == open_min - 300
    assert month.attainment_fraction == pytest.approx((open_min - 300) / open_min)
    assert month.error_budget_allowed_min == pytest.approx(0.005 * open_min)
    (intr,) = month.interruptions
    assert intr.start == outage.astimezone(dt.UTC) and intr.duration_min == 300
    assert intr.min_temp_c == 25.0 and intr.exceeds_max_interruption
    kinds = sorted(b.kind for b in month.breaches)
    assert kinds == ["attainment", "max_interruption", "min_heat_per_day"]
    heat_breach = next(b for b in month.breaches if b.kind == "min_heat_per_day")
    assert heat_breach.value == pytest.approx(150.0)
    assert month.heat_method is not None and REGISTER in month.heat_method
    assert len(month.daily_heat) == 31
    assert any("local calendar month" in n for n in month.notes)

    # contract year 2025-09-01..2026-09-01 to the end of January; monitoring began 1 January
    assert year.period_kind == "contract_year"
    assert year.evaluated_until == month.period_end
    assert (year.valid_min, year.bad_min, year.unknown_min) == (open_min, 300, 0)
    assert year.excluded_unmonitored_min > 0
    assert year.error_budget_allowed_min > 5 * month.error_budget_allowed_min
    assert [b.kind for b in year.breaches if b.kind != "min_heat_per_day"] == ["max_interruption"]


def test_three_hour_outage_and_missing_data(store_url: str) -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    frame = january_frame(dt.datetime(2026, 1, 14, 10, tzinfo=BERLIN), 3.0)
    gap = (frame.index >= pd.Timestamp("2026-01-21 12:00", tz="UTC")) & (
        frame.index < pd.Timestamp("2026-01-21 12:30", tz="UTC")
    )
    write(store_url, frame[~gap], register_frame(dt.date(2026, 1, 1)))
    (month, _year) = sla_report(site, store_url, "2026-01", now=NOW)
    assert month.bad_min == 180 and month.unknown_min == 30
    assert month.error_budget_used_min == 210
    assert not any(b.kind == "max_interruption" for b in month.breaches)
    assert [i.duration_min for i in month.interruptions] == [180, 30]
    assert month.interruptions[1].all_unknown


def test_report_without_data_counts_every_valid_minute_unknown(store_url: str) -> None:
    site = load_site(EXAMPLES / "pool.yaml")
    write(store_url)  # creates an empty store
    month, _ = sla_report(site, store_url, "2026-01", now=NOW)
    assert month.unknown_min == month.valid_min == expected_open_minutes_january_2026()
    assert month.good_min == 0 and month.breached
    assert any("no readings" in n for n in month.notes)
    assert any("not evaluated" in n for n in month.notes)
