"""SLA evaluation on 1-minute slices with known answers.

Budget figures from operations.md ("Heat-delivery SLA as data"): 0.5 % of a
30-day month is 3.6 h = 216 min. Burn-rate thresholds from the Google SRE
Workbook, ch. 5, table 5-8 (page 14.4 over 1 h & 5 min, 6 over 6 h & 30 min;
ticket 1 over 3 d & 6 h).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from heatreuse.errors import SLAError
from heatreuse.sla import MaintenanceWindowDef, SlaDefinition, evaluate, minute_status

UTC = dt.UTC
APRIL_START = dt.datetime(2026, 4, 1, tzinfo=UTC)
APRIL_END = dt.datetime(2026, 5, 1, tzinfo=UTC)  # 30 days = 43,200 min


def defn(**kw: object) -> SlaDefinition:
    base: dict[str, object] = {
        "site_id": "t",
        "timezone": "UTC",
        "band_min_temp_c": 30.0,
        "band_max_temp_c": 40.0,
        "target_fraction": 0.995,
        "max_interruption_h": 4.0,
    }
    base.update(kw)
    return SlaDefinition(**base)  # type: ignore[arg-type]


def minutes(start: dt.datetime, end: dt.datetime, value: float = 35.0) -> pd.Series:
    idx = pd.date_range(start, end, freq="min", inclusive="left")
    return pd.Series(value, index=idx, dtype=float)


def set_bad(s: pd.Series, start: dt.datetime, n_min: int, value: float = 20.0) -> None:
    i = s.index.get_loc(pd.Timestamp(start))
    s.iloc[i : i + n_min] = value


def test_exactly_n_bad_minutes_and_budget_of_a_30_day_month() -> None:
    s = minutes(APRIL_START, APRIL_END)
    set_bad(s, dt.datetime(2026, 4, 3, 10, tzinfo=UTC), 60)
    set_bad(s, dt.datetime(2026, 4, 20, 8, tzinfo=UTC), 40, value=45.0)  # above the band
    r = evaluate(defn(), s, period_start=APRIL_START, period_end=APRIL_END)
    assert r.period_min == 43_200 and r.valid_min == 43_200
    assert (r.good_min, r.bad_min, r.unknown_min, r.excluded_min) == (43_100, 100, 0, 0)
    assert r.attainment_fraction == pytest.approx(43_100 / 43_200)
    # 0.5 % of a 30-day month = 216 min (operations.md)
    assert r.error_budget_allowed_min == pytest.approx(216.0)
    assert r.error_budget_used_min == 100
    assert r.error_budget_left_min == pytest.approx(116.0)
    assert r.error_budget_left_fraction == pytest.approx(116 / 216)
    assert len(r.interruptions) == 2 and not r.breached
    first = r.interruptions[0]
    assert first.start == dt.datetime(2026, 4, 3, 10, tzinfo=UTC)
    assert first.end == dt.datetime(2026, 4, 3, 11, tzinfo=UTC)
    assert (first.duration_min, first.min_temp_c, first.max_temp_c) == (60, 20.0, 20.0)
    assert r.interruptions[1].max_temp_c == 45.0


def test_band_edges_are_inclusive() -> None:
    s = minutes(APRIL_START, APRIL_START + dt.timedelta(hours=1))
    s.iloc[0], s.iloc[1], s.iloc[2] = 30.0, 40.0, 40.0001
    r = evaluate(defn(), s, period_start=APRIL_START, period_end=s.index[-1] + pd.Timedelta("1min"))
    assert (r.good_min, r.bad_min) == (59, 1)


def test_budget_exactly_spent_is_no_breach_one_more_minute_is() -> None:
    s = minutes(APRIL_START, APRIL_END)
    # 216 bad minutes in runs shorter than 4 h
    for day in range(1, 4):
        set_bad(s, dt.datetime(2026, 4, day * 5, 10, tzinfo=UTC), 72)
    r = evaluate(defn(), s, period_start=APRIL_START, period_end=APRIL_END)
    assert r.bad_min == 216 and r.error_budget_left_min == pytest.approx(0.0, abs=1e-6)
    assert not r.breached
    set_bad(s, dt.datetime(2026, 4, 28, 10, tzinfo=UTC), 1)
    r = evaluate(defn(), s, period_start=APRIL_START, period_end=APRIL_END)
    assert [b.kind for b in r.breaches] == ["attainment"]
    assert r.attainment_fraction is not None and r.attainment_fraction < 0.995


@pytest.mark.parametrize(("hours", "breach"), [(5, True), (3, False), (4, False)])
def test_max_interruption(hours: int, breach: bool) -> None:
    s = minutes(APRIL_START, APRIL_END)
    set_bad(s, dt.datetime(2026, 4, 10, 8, tzinfo=UTC), hours * 60)
    d = defn(target_fraction=0.99)  # keep the budget out of it
    r = evaluate(d, s, period_start=APRIL_START, period_end=APRIL_END)
    assert len(r.interruptions) == 1
    assert r.interruptions[0].duration_min == hours * 60
    assert r.interruptions[0].exceeds_max_interruption is breach
    assert [b.kind for b in r.breaches] == (["max_interruption"] if breach else [])
    if breach:
        assert r.breaches[0].value == pytest.approx(5.0) and r.breaches[0].limit == 4.0


def test_maintenance_announced_in_time_excludes_late_does_not() -> None:
    start = dt.datetime(2026, 4, 10, 6, tzinfo=UTC)
    end = start + dt.timedelta(hours=5)
    s = minutes(APRIL_START, APRIL_END)
    set_bad(s, start, 300)  # plant off during the works
    on_time = MaintenanceWindowDef(start, end, start - dt.timedelta(hours=72), "HX cleaning")
    late = MaintenanceWindowDef(start, end, start - dt.timedelta(hours=24), "HX cleaning")

    r = evaluate(
        defn(maintenance_notice_h=72.0, maintenance_windows=(on_time,)),
        s,
        period_start=APRIL_START,
        period_end=APRIL_END,
    )
    assert (r.excluded_maintenance_min, r.valid_min, r.bad_min) == (300, 42_900, 0)
    assert r.maintenance[0].excluded and r.maintenance[0].excluded_min == 300
    assert not r.breached and r.interruptions == ()

    r = evaluate(
        defn(maintenance_notice_h=72.0, maintenance_windows=(late,)),
        s,
        period_start=APRIL_START,
        period_end=APRIL_END,
    )
    assert (r.excluded_maintenance_min, r.valid_min, r.bad_min) == (0, 43_200, 300)
    assert not r.maintenance[0].excluded and r.maintenance[0].notice_given_h == 24.0
    assert any("NOT excluded" in n and "24 h" in n for n in r.notes)
    assert {b.kind for b in r.breaches} == {"max_interruption", "attainment"}


def test_partial_minutes_of_a_window_are_not_excluded() -> None:
    start = dt.datetime(2026, 4, 10, 6, 0, 30, tzinfo=UTC)
    w = MaintenanceWindowDef(start, start + dt.timedelta(minutes=10), APRIL_START, "")
    s = minutes(APRIL_START, APRIL_END)
    r = evaluate(
        defn(maintenance_notice_h=1.0, maintenance_windows=(w,)),
        s,
        period_start=APRIL_START,
        period_end=APRIL_END,
    )
    assert r.excluded_maintenance_min == 9  # 06:01 .. 06:09 lie wholly inside


def test_unknown_minutes_counted_bad_or_excluded() -> None:
    s = minutes(APRIL_START, APRIL_END)
    set_bad(s, dt.datetime(2026, 4, 2, 12, tzinfo=UTC), 100, value=np.nan)
    s = s.drop(s.index[5000:5020])  # absent rows are no data too
    bad = evaluate(defn(), s, period_start=APRIL_START, period_end=APRIL_END)
    assert (bad.unknown_min, bad.bad_min, bad.valid_min) == (120, 0, 43_200)
    assert bad.counted_min == 43_200 and bad.error_budget_used_min == 120
    assert bad.attainment_fraction == pytest.approx(43_080 / 43_200)
    assert len(bad.interruptions) == 2 and bad.interruptions[0].all_unknown
    assert bad.interruptions[0].min_temp_c is None

    excl = evaluate(
        defn(missing_data="excluded"), s, period_start=APRIL_START, period_end=APRIL_END
    )
    assert (excl.unknown_min, excl.valid_min, excl.counted_min) == (120, 43_200, 43_080)
    assert excl.attainment_fraction == 1.0 and excl.error_budget_used_min == 0
    assert excl.error_budget_allowed_min == pytest.approx(0.005 * 43_080)


def test_redundant_point_covers_missing_minutes() -> None:
    s = minutes(APRIL_START, APRIL_END)
    set_bad(s, dt.datetime(2026, 4, 2, 12, tzinfo=UTC), 100, value=np.nan)
    red = minutes(APRIL_START, APRIL_END, 36.0)
    r = evaluate(
        defn(redundant_point="customer.supply_temp_2_c"),
        s,
        period_start=APRIL_START,
        period_end=APRIL_END,
        redundant_temp_c=red,
    )
    assert (r.unknown_min, r.covered_by_redundant_min, r.good_min) == (0, 100, 43_200)


def test_whole_minute_rule_uses_min_and_max() -> None:
    s = minutes(APRIL_START, APRIL_END)
    lo, hi = s.copy() - 0.5, s.copy() + 0.5
    t = dt.datetime(2026, 4, 5, 9, tzinfo=UTC)
    set_bad(hi, t, 10, value=41.0)  # spikes above the band inside the minute; mean in band
    mean_r = evaluate(defn(), s, period_start=APRIL_START, period_end=APRIL_END)
    whole = evaluate(
        defn(slice_rule="whole_minute"),
        s,
        period_start=APRIL_START,
        period_end=APRIL_END,
        supply_min_c=lo,
        supply_max_c=hi,
    )
    assert mean_r.bad_min == 0 and whole.bad_min == 10
    assert whole.interruptions[0].max_temp_c == 41.0
    with pytest.raises(SLAError, match="whole_minute"):
        evaluate(defn(slice_rule="whole_minute"), s, period_start=APRIL_START, period_end=APRIL_END)


def test_operating_hours_local_time_across_dst_change() -> None:
    # Europe/Berlin switches CET -> CEST on Sunday 29 March 2026 at 02:00 local.
    daily = tuple(((360, 1320),) for _ in range(7))  # 06:00-22:00 every day
    d = defn(timezone="Europe/Berlin", operating_minutes_by_weekday=daily)
    start = dt.datetime(2026, 3, 28, tzinfo=dt.UTC) - dt.timedelta(hours=1)  # Sat 00:00 CET
    end = dt.datetime(2026, 3, 30, 22, tzinfo=dt.UTC)  # Tue 00:00 CEST = Mon 22:00Z
    s = minutes(start, end)
    r = evaluate(d, s, period_start=start, period_end=end)
    assert r.period_min == 24 * 60 + 23 * 60 + 24 * 60  # the Sunday has 23 hours
    assert r.valid_min == 3 * 960
    status = minute_status(d, s, period_start=start, period_end=end)
    good = status[status == "good"].index
    # Saturday opens 06:00 CET = 05:00Z; Sunday 06:00 CEST = 04:00Z; closes 21:00Z / 20:00Z.
    sat = good[good.normalize() == pd.Timestamp("2026-03-28", tz="UTC")]
    sun = good[good.normalize() == pd.Timestamp("2026-03-29", tz="UTC")]
    assert sat[0] == pd.Timestamp("2026-03-28 05:00", tz="UTC")
    assert sat[-1] == pd.Timestamp("2026-03-28 20:59", tz="UTC")
    assert sun[0] == pd.Timestamp("2026-03-29 04:00", tz="UTC")
    assert sun[-1] == pd.Timestamp("2026-03-29 19:59", tz="UTC")


def test_interruption_bridges_closed_hours_but_counts_only_valid_minutes() -> None:
    daily = tuple(((360, 1320),) for _ in range(7))  # 06:00-22:00 (UTC site)
    d = defn(operating_minutes_by_weekday=daily, target_fraction=0.9)
    s = minutes(APRIL_START, APRIL_END)
    # bad from 20:00 until 08:00 next day: 2 h before closing + 2 h after opening
    set_bad(s, dt.datetime(2026, 4, 6, 20, tzinfo=UTC), 12 * 60)
    r = evaluate(d, s, period_start=APRIL_START, period_end=APRIL_END)
    assert len(r.interruptions) == 1
    i = r.interruptions[0]
    assert i.duration_min == 240 and i.span_min == 12 * 60
    assert i.start == dt.datetime(2026, 4, 6, 20, tzinfo=UTC)
    assert i.end == dt.datetime(2026, 4, 7, 8, tzinfo=UTC)
    assert not i.exceeds_max_interruption  # 4 h of operating time, not more
    assert i.escalation_level == 4  # ladder 0.25, 1, 2, 3 h all passed


def test_burn_rate_values_and_page_verdict() -> None:
    d = defn(target_fraction=0.999)  # error budget 0.1 %
    s = minutes(APRIL_START, APRIL_END)
    set_bad(s, APRIL_END - dt.timedelta(minutes=60), 60)  # the last hour all bad
    r = evaluate(d, s, period_start=APRIL_START, period_end=APRIL_END)
    assert r.burn_rate("5m") == pytest.approx(1000.0)
    assert r.burn_rate("1h") == pytest.approx(1000.0)
    assert r.burn_rate("6h") == pytest.approx((60 / 360) / 0.001)
    assert r.burn_rate("3d") == pytest.approx((60 / 4320) / 0.001)
    assert r.page_alert and r.ticket_alert
    assert r.interruptions[-1].open_at_end

    # recovered 10 minutes before the end: the 5 min window no longer burns -> no fast page,
    # but 6 h (50/360 / 0.001 = 139) and 30 min (20/30 / 0.001) still page on the slow pair.
    s2 = minutes(APRIL_START, APRIL_END)
    set_bad(s2, APRIL_END - dt.timedelta(minutes=60), 50)
    r2 = evaluate(d, s2, period_start=APRIL_START, period_end=APRIL_END)
    assert r2.burn_rate("5m") == 0.0
    assert r2.burn_rate("30m") == pytest.approx((20 / 30) / 0.001)
    assert r2.page_alert and any(x.startswith("page: 6h") for x in r2.alert_reasons)


def test_burn_rate_known_value_without_alert() -> None:
    d = defn(target_fraction=0.99)
    s = minutes(APRIL_START, APRIL_END)
    set_bad(s, APRIL_END - dt.timedelta(minutes=30), 6)  # 6 bad in the last hour
    r = evaluate(d, s, period_start=APRIL_START, period_end=APRIL_END)
    assert r.burn_rate("1h") == pytest.approx((6 / 60) / 0.01)  # 10
    assert r.burn_rate("5m") == 0.0
    assert not r.page_alert
    assert r.burn_rate("3d") == pytest.approx((6 / 4320) / 0.01)
    assert not r.ticket_alert


def test_burn_windows_use_readings_before_the_period() -> None:
    d = defn(target_fraction=0.99)
    start = APRIL_START - dt.timedelta(days=3)
    s = minutes(start, APRIL_START + dt.timedelta(hours=1))
    set_bad(s, APRIL_START - dt.timedelta(hours=2), 60)
    end = APRIL_START + dt.timedelta(hours=1)
    r = evaluate(d, s, period_start=APRIL_START, period_end=end)
    assert r.valid_min == 60 and r.bad_min == 0
    assert r.burn_rate("3d") == pytest.approx((60 / 4320) / 0.01)
    assert not any(b.truncated for b in r.burn_rates)
    assert r.interruptions == ()  # wholly before the period


def test_now_mid_period_budget_covers_the_whole_period() -> None:
    s = minutes(APRIL_START, APRIL_START + dt.timedelta(days=10))
    set_bad(s, dt.datetime(2026, 4, 5, tzinfo=UTC), 30)
    now = dt.datetime(2026, 4, 11, tzinfo=UTC)
    r = evaluate(defn(), s, period_start=APRIL_START, period_end=APRIL_END, now=now)
    assert r.elapsed_min == 14_400 and r.future_min == 28_800
    assert r.valid_min == 14_400 and r.bad_min == 30
    assert r.error_budget_allowed_min == pytest.approx(216.0)
    assert r.error_budget_left_min == pytest.approx(186.0)
    assert r.evaluated_until == now and any("not over" in n for n in r.notes)


def test_min_heat_per_day_on_operating_days_only() -> None:
    weekdays_only = (((360, 1320),),) * 5 + ((), ())
    d = defn(operating_minutes_by_weekday=weekdays_only, min_heat_per_day_kwh=400.0)
    start, end = (
        dt.datetime(2026, 4, 6, tzinfo=UTC),
        dt.datetime(2026, 4, 13, tzinfo=UTC),
    )  # Mon-Sun
    s = minutes(start, end)
    days = [dt.date(2026, 4, 6) + dt.timedelta(days=i) for i in range(7)]
    heat = pd.Series([500.0, 399.0, 450.0, np.nan, 400.0, 0.0, 0.0], index=days)
    r = evaluate(d, s, period_start=start, period_end=end, heat_kwh_per_day=heat)
    assert [x.date.day for x in r.daily_heat] == [6, 7, 8, 9, 10]  # weekend closed
    assert [b.kind for b in r.breaches] == ["min_heat_per_day", "min_heat_per_day"]
    assert [b.value for b in r.breaches] == [399.0, None]  # Tuesday low, Thursday no data
    excl = evaluate(
        defn(
            operating_minutes_by_weekday=weekdays_only,
            min_heat_per_day_kwh=400.0,
            missing_data="excluded",
        ),
        s,
        period_start=start,
        period_end=end,
        heat_kwh_per_day=heat,
    )
    assert [b.value for b in excl.breaches] == [399.0]


def test_a_year_of_minutes() -> None:
    start, end = dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC)
    s = minutes(start, end)
    rng = np.random.default_rng(1)
    s.iloc[rng.integers(0, len(s), 2000)] = 10.0
    r = evaluate(defn(target_fraction=0.99), s, period_start=start, period_end=end)
    assert r.period_min == 525_600
    assert r.bad_min == int((s < 30).sum())
    assert r.good_min + r.bad_min == 525_600


def test_input_errors_name_the_field() -> None:
    naive = pd.Series([35.0], index=pd.DatetimeIndex(["2026-04-01 00:00"]))
    with pytest.raises(SLAError, match="supply_temp_c: expected a tz-aware"):
        evaluate(defn(), naive, period_start=APRIL_START, period_end=APRIL_END)
    off = pd.Series([35.0], index=pd.DatetimeIndex(["2026-04-01 00:00:30"], tz="UTC"))
    with pytest.raises(SLAError, match="whole minutes"):
        evaluate(defn(), off, period_start=APRIL_START, period_end=APRIL_END)
    with pytest.raises(SLAError, match="period_end after period_start"):
        evaluate(
            defn(), minutes(APRIL_START, APRIL_END), period_start=APRIL_END, period_end=APRIL_START
        )


def test_minutes_before_monitoring_start_are_excluded_not_unknown() -> None:
    first = dt.datetime(2026, 4, 11, tzinfo=UTC)
    s = minutes(first, APRIL_END)
    strict = evaluate(defn(), s, period_start=APRIL_START, period_end=APRIL_END)
    assert strict.unknown_min == 14_400
    r = evaluate(defn(), s, period_start=APRIL_START, period_end=APRIL_END, monitoring_start=first)
    assert (r.unknown_min, r.excluded_unmonitored_min, r.valid_min) == (0, 14_400, 28_800)
    assert r.error_budget_allowed_min == pytest.approx(0.005 * 28_800)
    assert not r.breached
