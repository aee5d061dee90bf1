"""One period's SLA report composed from the reports of its parts (pure, no I/O).

A contract year outlives the 1-minute data it is evaluated from: retention may
delete the data of months that were sealed long ago. :func:`compose_reports`
adds the year up from the sealed months' evidence (per local day, so a
contract year that starts mid-month takes only its own days of the edge
months) and from a fresh evaluation of what is not sealed yet.

Rules
-----
- minute counts are summed per site-local day over the days of the period
  (:class:`~heatreuse.sla.evaluate.DailyMinutes`); attainment, error budget
  and the attainment breach follow from the sums exactly as in
  :func:`~heatreuse.sla.evaluate.evaluate`;
- interruptions of all parts that overlap the period are kept; a run cut by
  the boundary of two parts (open at the end of one, holding the first valid
  minute of the next) is one interruption, its durations added (excluded
  minutes between them skipped, as in :func:`~heatreuse.sla.evaluate.evaluate`);
  the same run seen twice (a look-back view) is kept once, the longer view
  (a lower bound; noted);
- minimum-heat days, maintenance verdicts: the parts' entries inside the
  period, each day or window once;
- burn rates come from the last part when it reaches the evaluation time
  (sealed parts keep none);
- the verdict is recomputed from the composed figures
  (:func:`~heatreuse.sla.evaluate.with_verdict`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

from heatreuse.errors import SLAError
from heatreuse.sla.definition import SlaDefinition
from heatreuse.sla.evaluate import (
    Breach,
    DailyHeat,
    DailyMinutes,
    Interruption,
    MaintenanceVerdict,
    SlaReport,
    with_verdict,
)

__all__ = ["compose_reports"]

_EPS_MIN = 1e-6
_COUNTS = (
    "good_min",
    "bad_min",
    "unknown_min",
    "excluded_closed_min",
    "excluded_maintenance_min",
    "excluded_unmonitored_min",
    "future_min",
    "covered_by_redundant_min",
    "scheduled_valid_min",
)


def _local_day(t: dt.datetime, tz: str) -> dt.date:
    return t.astimezone(ZoneInfo(tz)).date()


def _merge_interruptions(
    items: Sequence[tuple[int, Interruption]], max_interruption_h: float | None
) -> tuple[list[Interruption], bool]:
    """Keep each run once (see module notes); True when a duration is a lower bound.

    ``items`` are ``(part number, interruption)`` in part order.
    """
    lower_bound = False
    limit = None if max_interruption_h is None else max_interruption_h * 60.0
    out: list[tuple[int, Interruption]] = []
    for part, i in sorted(items, key=lambda x: (x[1].start, -x[1].duration_min, x[0])):
        if out:
            prev_part, prev = out[-1]
            overlap = i.start < prev.end
            adjacent = part == prev_part + 1 and prev.open_at_end and i.open_at_start
            if overlap and i.end <= prev.end:
                continue  # the same run, a shorter view of it
            if overlap or adjacent:
                if overlap:  # two views of one run: the longer one is a lower bound
                    duration = max(prev.duration_min, i.duration_min)
                    unknown = max(prev.unknown_min, i.unknown_min)
                    bad_run = max(prev.max_bad_run_min, i.max_bad_run_min)
                    lower_bound = True
                else:  # one run cut by the boundary between two parts
                    duration = prev.duration_min + i.duration_min
                    unknown = prev.unknown_min + i.unknown_min
                    if prev.unknown_min == 0 and i.unknown_min == 0:
                        bad_run = duration  # read out of band throughout
                    else:
                        bad_run = max(prev.max_bad_run_min, i.max_bad_run_min)
                        lower_bound = lower_bound or bad_run < duration - unknown
                out[-1] = (
                    part,
                    Interruption(
                        start=prev.start,
                        end=max(prev.end, i.end),
                        duration_min=duration,
                        span_min=int((max(prev.end, i.end) - prev.start).total_seconds() // 60),
                        unknown_min=unknown,
                        min_temp_c=_opt(True, prev.min_temp_c, i.min_temp_c),
                        max_temp_c=_opt(False, prev.max_temp_c, i.max_temp_c),
                        exceeds_max_interruption=limit is not None and duration > limit + _EPS_MIN,
                        escalation_level=max(prev.escalation_level, i.escalation_level),
                        open_at_end=i.open_at_end,
                        starts_before_period=prev.starts_before_period,
                        max_bad_run_min=bad_run,
                        open_at_start=prev.open_at_start,
                    ),
                )
                continue
        out.append((part, i))
    return [i for _, i in out], lower_bound


def _opt(lowest: bool, a: float | None, b: float | None) -> float | None:
    values = [x for x in (a, b) if x is not None]
    if not values:
        return None
    return float(min(values) if lowest else max(values))


def compose_reports(
    defn: SlaDefinition,
    parts: Sequence[SlaReport],
    *,
    period_start: dt.datetime,
    period_end: dt.datetime,
    evaluated_until: dt.datetime,
    period_label: str,
    period_kind: str,
    binding: bool,
    notes: Sequence[str] = (),
) -> SlaReport:
    """The report of ``[period_start, period_end)`` from reports covering its days.

    Parameters
    ----------
    defn
        The SLA (target, missing-data rule, limits).
    parts
        Reports whose local days together cover the period up to
        ``evaluated_until`` (sealed months, fresh evaluations), in time order;
        days outside the period are ignored.
    period_start, period_end
        The period, local midnights as tz-aware instants.
    evaluated_until
        Evaluation time (the period end for a closed period).
    period_label, period_kind, binding, notes
        Carried into the report.

    Raises
    ------
    SLAError
        No parts, or two parts both holding the same day.
    """
    if not parts:
        raise SLAError(f"{period_label}: compose_reports needs at least one part")
    tz = defn.timezone
    first_day = _local_day(period_start, tz)
    end_day = _local_day(period_end, tz)
    days: dict[dt.date, DailyMinutes] = {}
    for part in parts:
        for d in part.daily_minutes:
            if not first_day <= d.date < end_day:
                continue
            if d.date in days:
                raise SLAError(
                    f"{period_label}: day {d.date.isoformat()} is in two of the composed parts "
                    f"(one of them {part.period_label})"
                )
            days[d.date] = d
    sums = {k: sum(getattr(d, k) for d in days.values()) for k in _COUNTS}
    good, bad, unknown = sums["good_min"], sums["bad_min"], sums["unknown_min"]
    valid = good + bad + unknown
    excluded = (
        sums["excluded_closed_min"]
        + sums["excluded_maintenance_min"]
        + sums["excluded_unmonitored_min"]
    )
    period_min = valid + excluded + sums["future_min"]
    unknown_is_bad = defn.missing_data == "bad"
    counted = valid if unknown_is_bad else valid - unknown
    used = bad + (unknown if unknown_is_bad else 0)
    base = sums["scheduled_valid_min"] - (0 if unknown_is_bad else unknown)
    allowed = defn.allowed_bad_fraction() * base
    left = allowed - used
    attainment = good / counted if counted > 0 else None

    lo, hi = period_start, min(evaluated_until, period_end)
    candidates = [
        (k, i) for k, p in enumerate(parts) for i in p.interruptions if i.end > lo and i.start < hi
    ]
    interruptions, united = _merge_interruptions(candidates, defn.max_interruption_h)
    breaches: list[Breach] = []
    for i in interruptions:
        if i.exceeds_max_interruption and defn.max_interruption_h is not None:
            breaches.append(
                Breach(
                    kind="max_interruption",
                    start=i.start,
                    end=i.end,
                    value=i.duration_min / 60.0,
                    limit=defn.max_interruption_h,
                    unit="h",
                    detail=(
                        f"interruption of {i.duration_min / 60:.2f} h ({i.duration_min} valid min"
                        + (f", {i.unknown_min} without data" if i.unknown_min else "")
                        + f") from {i.start.isoformat()} exceeds the "
                        f"{defn.max_interruption_h:g} h maximum"
                    ),
                )
            )
    if left < -_EPS_MIN:
        breaches.append(
            Breach(
                kind="attainment",
                start=period_start,
                end=hi,
                value=attainment,
                limit=defn.target_fraction,
                unit="fraction",
                detail=(
                    f"attainment {attainment if attainment is not None else float('nan'):.4%} "
                    f"below target {defn.target_fraction:.4%}: {used} bad min against an "
                    f"error budget of {allowed:.1f} min"
                ),
            )
        )
    heat_days: dict[dt.date, DailyHeat] = {}
    for p in parts:
        for h in p.daily_heat:
            if first_day <= h.date < end_day:
                heat_days[h.date] = h
    seen_heat: set[dt.datetime | None] = set()
    for p in parts:
        for b in p.breaches:
            in_period = b.start is not None and lo <= b.start < hi
            if b.kind == "min_heat_per_day" and in_period and b.start not in seen_heat:
                seen_heat.add(b.start)
                breaches.append(b)
    breaches.sort(key=lambda b: (b.start or period_start, b.kind))
    maint: dict[tuple[dt.datetime, dt.datetime], MaintenanceVerdict] = {}
    for p in parts:
        for m in p.maintenance:
            key = (m.start, m.end)
            if key in maint:
                prev = maint[key]
                maint[key] = replace(prev, excluded_min=prev.excluded_min + m.excluded_min)
            else:
                maint[key] = m
    last = parts[-1]
    live = last.sealed is None and last.evaluated_until >= hi
    all_notes = list(notes)
    if united:
        all_notes.append(
            "an interruption seen in parts by two neighbouring periods was united; its duration "
            "(or its run of read out-of-band minutes) is a lower bound"
        )
    report = SlaReport(
        site_id=defn.site_id,
        period_label=period_label,
        period_kind=period_kind,
        binding=binding,
        period_start=period_start,
        period_end=period_end,
        evaluated_until=hi,
        timezone=defn.timezone,
        measured_point=defn.measured_point,
        band_min_temp_c=defn.band_min_temp_c,
        band_max_temp_c=defn.band_max_temp_c,
        target_fraction=defn.target_fraction,
        slice_rule=defn.slice_rule,
        missing_data=defn.missing_data,
        period_min=period_min,
        elapsed_min=period_min - sums["future_min"],
        future_min=sums["future_min"],
        valid_min=valid,
        good_min=good,
        bad_min=bad,
        unknown_min=unknown,
        excluded_min=excluded,
        excluded_closed_min=sums["excluded_closed_min"],
        excluded_maintenance_min=sums["excluded_maintenance_min"],
        excluded_unmonitored_min=sums["excluded_unmonitored_min"],
        covered_by_redundant_min=sums["covered_by_redundant_min"],
        counted_min=counted,
        scheduled_valid_min=sums["scheduled_valid_min"],
        attainment_fraction=attainment,
        error_budget_allowed_min=allowed,
        error_budget_used_min=used,
        error_budget_left_min=left,
        error_budget_left_fraction=left / allowed if allowed > 0 else None,
        burn_rates=last.burn_rates if live else (),
        page_alert=last.page_alert if live else False,
        ticket_alert=last.ticket_alert if live else False,
        alert_reasons=last.alert_reasons if live else (),
        interruptions=tuple(interruptions),
        breaches=tuple(breaches),
        maintenance=tuple(maint[k] for k in sorted(maint)),
        daily_heat=tuple(heat_days[d] for d in sorted(heat_days)),
        min_heat_per_day_kwh=defn.min_heat_per_day_kwh,
        max_interruption_h=defn.max_interruption_h,
        heat_method=next((p.heat_method for p in parts if p.heat_method), None),
        notes=tuple(all_notes),
        min_data_coverage_fraction=defn.min_data_coverage_fraction,
        monitoring_start=next((p.monitoring_start for p in parts if p.monitoring_start), None),
        daily_minutes=tuple(days[d] for d in sorted(days)),
    )
    return with_verdict(report)
