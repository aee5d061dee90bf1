"""The SLA verdict (met / breached / unknown) with data coverage, report round trip, composing.

Rules under test (``heatreuse.sla.evaluate.sla_verdict``): ``breached`` when the data
present alone proves it; ``met`` only with enough data coverage and no broken term;
``unknown`` otherwise, including a period before monitoring started.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from heatreuse.sla import (
    SlaDefinition,
    SlaReport,
    compose_reports,
    evaluate,
    export_openslo,
    import_openslo,
)

UTC = dt.UTC
APRIL = dt.datetime(2026, 4, 1, tzinfo=UTC)
MAY = dt.datetime(2026, 5, 1, tzinfo=UTC)  # 43,200 min
JUNE = dt.datetime(2026, 6, 1, tzinfo=UTC)


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


def at(s: pd.Series, start: dt.datetime, n_min: int, value: float) -> None:
    i = s.index.get_loc(pd.Timestamp(start))
    s.iloc[i : i + n_min] = value


def test_full_data_no_breach_is_met_with_coverage_one() -> None:
    r = evaluate(defn(), minutes(APRIL, MAY), period_start=APRIL, period_end=MAY)
    assert r.verdict == "met" and r.data_coverage_fraction == 1.0
    assert "every term met" in r.verdict_reasons[0]
    d = r.to_dict()
    assert (d["verdict"], d["breached"], d["data_coverage_fraction"]) == ("met", False, 1.0)


def sparse(s: pd.Series, keep_of_ten: int) -> pd.Series:
    """Keep ``keep_of_ten`` minutes of every ten (short gaps, no long interruption)."""
    return s[np.arange(len(s)) % 10 < keep_of_ten]


def test_too_little_data_is_unknown_not_met_even_when_excluded_minutes_hide_it() -> None:
    kept = sparse(minutes(APRIL, MAY), 3)
    r = evaluate(defn(missing_data="excluded"), kept, period_start=APRIL, period_end=MAY)
    assert not r.breached and r.attainment_fraction == 1.0  # the old reading: healthy
    assert r.verdict == "unknown"
    assert r.data_coverage_fraction == pytest.approx(0.3)
    assert r.verdict_reasons == (
        "data coverage 30.00% is below the 95% needed to call the SLA met",
    )


def test_coverage_threshold_comes_from_the_contract() -> None:
    kept = sparse(minutes(APRIL, MAY), 6)  # 60 %
    lenient = defn(missing_data="excluded", min_data_coverage_fraction=0.5)
    assert evaluate(lenient, kept, period_start=APRIL, period_end=MAY).verdict == "met"
    strict = defn(missing_data="excluded")
    assert evaluate(strict, kept, period_start=APRIL, period_end=MAY).verdict == "unknown"


def test_missing_data_alone_is_not_a_proven_disaster() -> None:
    r = evaluate(defn(), minutes(APRIL, APRIL), period_start=APRIL, period_end=MAY)
    # no reading at all, missing_data: bad: the contract counts a 720 h interruption ...
    assert r.breached and r.attainment_fraction == 0.0
    assert r.interruptions[0].all_unknown and r.interruptions[0].max_bad_run_min == 0
    # ... but the data proves nothing
    assert r.verdict == "unknown" and r.data_coverage_fraction == 0.0
    assert any("missing data" in x for x in r.verdict_reasons)


def test_a_proven_long_outage_is_breached_whatever_the_coverage() -> None:
    s = minutes(APRIL, dt.datetime(2026, 4, 3, tzinfo=UTC))  # two days of data only
    at(s, dt.datetime(2026, 4, 1, 10, tzinfo=UTC), 5 * 60 + 1, 20.0)
    r = evaluate(defn(missing_data="excluded"), s, period_start=APRIL, period_end=MAY)
    assert r.data_coverage_fraction == pytest.approx(2 / 30)
    assert r.verdict == "breached"
    assert r.interruptions[0].max_bad_run_min == 301
    assert (
        "301" not in r.verdict_reasons[0] and "5.02 h of read out-of-band" in r.verdict_reasons[0]
    )


def test_an_outage_that_is_partly_missing_data_proves_only_its_read_part() -> None:
    s = minutes(APRIL, MAY)
    at(s, dt.datetime(2026, 4, 5, 10, tzinfo=UTC), 180, 20.0)  # 3 h read out of band ...
    gap = (s.index >= pd.Timestamp("2026-04-05 13:00Z")) & (
        s.index < pd.Timestamp("2026-04-05 15:00Z")
    )
    r = evaluate(defn(), s[~gap], period_start=APRIL, period_end=MAY)  # ... then 2 h no data
    (i,) = r.interruptions
    assert (i.duration_min, i.unknown_min, i.max_bad_run_min) == (300, 120, 180)
    assert r.breached  # the contract: a 5 h interruption
    assert r.verdict == "unknown"  # the data: 3 h proven, the rest could have been fine


def test_bad_minutes_beyond_the_widest_budget_are_a_proven_breach() -> None:
    s = minutes(APRIL, MAY)
    for day in range(2, 6):  # 4 x 60 min bad: 240 > 216 = 0.5 % of the month
        at(s, dt.datetime(2026, 4, day, 10, tzinfo=UTC), 60, 45.0)
    r = evaluate(defn(), s, period_start=APRIL, period_end=MAY)
    assert r.verdict == "breached"
    assert (
        "240 read out-of-band minutes exceed the error budget of 216.0 min"
        in (r.verdict_reasons[0])
    )


def test_a_period_before_monitoring_started_is_out_of_scope_not_met() -> None:
    r = evaluate(
        defn(),
        minutes(APRIL, APRIL),
        period_start=APRIL,
        period_end=MAY,
        monitoring_start=JUNE,
    )
    assert r.excluded_unmonitored_min == 43_200 and not r.breached
    assert r.verdict == "unknown" and r.data_coverage_fraction == 0.0
    assert (
        "before monitoring started (2026-06-01T00:00:00+00:00): out of scope"
        in (r.verdict_reasons[0])
    )


def test_report_round_trips_through_its_dict() -> None:
    s = minutes(APRIL, MAY)
    at(s, dt.datetime(2026, 4, 3, 10, tzinfo=UTC), 300, 20.0)
    r = evaluate(defn(), s, period_start=APRIL, period_end=MAY, monitoring_start=APRIL)
    back = SlaReport.from_dict(r.to_dict())
    assert back == r
    assert back.daily_minutes[2].bad_min == 300 and len(back.daily_minutes) == 30


def _month_report(
    d: SlaDefinition, s: pd.Series, start: dt.datetime, end: dt.datetime
) -> SlaReport:
    lookback = s[(s.index >= start - dt.timedelta(days=3)) & (s.index < end)]
    return evaluate(d, lookback, period_start=start, period_end=end, period_kind="month")


def test_two_months_compose_to_the_direct_evaluation() -> None:
    d = defn()
    s = minutes(APRIL, JUNE)
    at(s, dt.datetime(2026, 4, 30, 22, tzinfo=UTC), 5 * 60, 20.0)  # over the month boundary
    at(s, dt.datetime(2026, 5, 10, 10, tzinfo=UTC), 30, 45.0)
    gap = (s.index >= pd.Timestamp("2026-05-20T00:00Z")) & (
        s.index < pd.Timestamp("2026-05-21T00:00Z")
    )
    s = s[~gap]
    april, may = _month_report(d, s, APRIL, MAY), _month_report(d, s, MAY, JUNE)
    whole = evaluate(d, s, period_start=APRIL, period_end=JUNE)
    composed = compose_reports(
        d,
        [april, may],
        period_start=APRIL,
        period_end=JUNE,
        evaluated_until=JUNE,
        period_label="two months",
        period_kind="range",
        binding=True,
    )
    for name in ("valid_min", "good_min", "bad_min", "unknown_min", "excluded_min",
                 "counted_min", "scheduled_valid_min", "error_budget_used_min"):  # fmt: skip
        assert getattr(composed, name) == getattr(whole, name), name
    assert composed.attainment_fraction == pytest.approx(whole.attainment_fraction)
    assert composed.error_budget_allowed_min == pytest.approx(whole.error_budget_allowed_min)
    # the run over the boundary is one 5 h interruption, as in the direct evaluation
    assert [(i.start, i.duration_min) for i in composed.interruptions] == [
        (i.start, i.duration_min) for i in whole.interruptions
    ]
    assert sorted(b.kind for b in composed.breaches) == sorted(b.kind for b in whole.breaches)
    assert composed.verdict == whole.verdict == "breached"


def test_composing_a_mid_month_period_takes_only_its_days() -> None:
    d = defn(missing_data="excluded")
    s = minutes(APRIL, JUNE)
    at(s, dt.datetime(2026, 4, 5, 10, tzinfo=UTC), 60, 20.0)  # before the period
    at(s, dt.datetime(2026, 4, 20, 10, tzinfo=UTC), 45, 20.0)
    start, end = dt.datetime(2026, 4, 15, tzinfo=UTC), dt.datetime(2026, 5, 15, tzinfo=UTC)
    april, may = _month_report(d, s, APRIL, MAY), _month_report(d, s, MAY, JUNE)
    composed = compose_reports(
        d, [april, may], period_start=start, period_end=end, evaluated_until=end,
        period_label="15 Apr..14 May", period_kind="contract_year", binding=True,
    )  # fmt: skip
    assert composed.valid_min == 30 * 1440 and composed.bad_min == 45
    assert [i.duration_min for i in composed.interruptions] == [45]
    assert composed.verdict == "met"


def test_new_contract_terms_survive_the_openslo_round_trip() -> None:
    d = defn(
        min_data_coverage_fraction=0.9,
        monitoring_start=dt.datetime(2026, 1, 12, 0, 0, tzinfo=UTC),
        period="month",
    )
    assert import_openslo(export_openslo(d)) == d
    assert np.isclose(import_openslo(export_openslo(defn())).min_data_coverage_fraction, 0.95)
