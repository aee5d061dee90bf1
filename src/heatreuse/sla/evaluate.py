"""Evaluate a heat-delivery SLA on 1-minute time slices (pure, vectorised with numpy).

:func:`evaluate` takes an :class:`~heatreuse.sla.definition.SlaDefinition`
and per-minute supply temperatures and returns an :class:`SlaReport`: minute
counts, attainment, error budget, burn rates with the multiwindow alert
verdicts, every interruption, and the breaches. No I/O; the service layer
(:mod:`heatreuse.services.sla`) reads the store and calls this.

Classification of one minute slice ``[t, t + 1 min)`` (UTC grid)
-----------------------------------------------------------------
- *excluded*: outside operating hours (site-local weekday and time, so
  operating hours follow DST), or entirely inside a maintenance window that
  was announced at least ``maintenance_notice_h`` before its start. A window
  announced later excludes nothing; the report lists it as not excluded.
  Also excluded (as *unmonitored*, reported apart): minutes before
  ``monitoring_start``, the site's first stored reading, when it is given.
- *unknown*: valid, but no reading (NaN) on the measured point and none on the
  redundant point either.
- *good*: valid and in the closed band ``[band_min_temp_c, band_max_temp_c]``:
  the minute mean (``slice_rule="mean"``) or both the minute minimum and
  maximum (``"whole_minute"``).
- *bad*: valid, read, out of band.
- *future*: at or after ``now`` (not yet happened).

Figures
-------
- counted minutes = valid minutes, less unknown ones when
  ``missing_data == "excluded"``; bad-counted = bad, plus unknown when
  ``missing_data == "bad"``;
- attainment = good / counted [-];
- error budget: allowed bad minutes = (1 - target) x budget base, where the
  base is the valid minutes the schedule gives the *whole* period (future
  ones included, less unknown ones when they are excluded); used =
  bad-counted minutes so far; left = allowed - used. 0.5 % of a 30-day month
  open 24/7 is 216 min (operations.md). The SLA is breached on attainment
  as soon as left < 0 (at the period end this is attainment < target);
- burn rate over a trailing window W ending at the evaluation time =
  (bad-counted / counted minutes in W) / (1 - target); ``None`` when W holds
  no counted minute (e.g. the customer is closed). Verdicts after the Google
  SRE Workbook, ch. 5, table 5-8: *page* when 1 h and 5 min both burn above
  14.4, or 6 h and 30 min both above 6; *ticket* when 3 d and 6 h both burn
  above 1 (``None`` counts as not burning). Windows reach back before the
  period start only as far as readings were passed in; a window longer
  than the data is marked ``truncated``;
- an *interruption* is a maximal run of consecutive bad or unknown valid
  minutes. Excluded minutes (closed hours, announced maintenance) between
  two bad minutes neither end the run nor add to its duration: the customer
  got no good heat from the last good minute to the next good minute. This
  is the conservative reading: a failure that spans the night closure is one
  event, and a maintenance window cannot be used to split an interruption.
  ``duration_min`` counts valid minutes, ``span_min`` the wall-clock
  minutes from start to end. A run longer than ``max_interruption_h`` is a
  breach (strictly longer: exactly 4 h against a 4 h limit is not);
- minimum heat per day: checked for each local calendar day that lies fully
  inside the period and before the evaluation time and has at least one
  valid minute. A day with no heat figure is a breach when
  ``missing_data == "bad"`` and skipped when ``"excluded"``.

References
----------
B. Beyer et al. (eds.), *The Site Reliability Workbook*, O'Reilly 2018,
ch. 5 "Alerting on SLOs" (burn rate, multiwindow multi-burn-rate alerts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from heatreuse.errors import SLAError
from heatreuse.sla.definition import SlaDefinition

EXCLUDED, GOOD, BAD, UNKNOWN, FUTURE = 0, 1, 2, 3, 4
STATUS_NAMES = ("excluded", "good", "bad", "unknown", "future")

#: Trailing burn-rate windows: label -> minutes.
BURN_WINDOWS_MIN: dict[str, int] = {"5m": 5, "30m": 30, "1h": 60, "6h": 360, "3d": 4320}
#: Multiwindow thresholds (SRE Workbook table 5-8): (long, short, burn rate) -> verdict.
PAGE_RULES = (("1h", "5m", 14.4), ("6h", "30m", 6.0))
TICKET_RULES = (("3d", "6h", 1.0),)

_MIN = pd.Timedelta(minutes=1)
_EPS_MIN = 1e-6

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


# --------------------------------------------------------------------------- report types
@dataclass(frozen=True)
class BurnRate:
    """Burn rate over one trailing window ending at the evaluation time."""

    window: str
    window_min: int
    counted_min: int
    bad_min: int
    burn_rate: float | None
    truncated: bool


@dataclass(frozen=True)
class Interruption:
    """One continuous run of bad or unknown valid minutes (see module notes).

    ``open_at_end``: the run lasts to the last valid minute evaluated;
    ``open_at_start``: it holds the period's first valid minute (it may have begun
    before, in the previous period); ``max_bad_run_min``: its longest run of read
    out-of-band minutes (what the data proves).
    """

    start: dt.datetime
    end: dt.datetime
    duration_min: int
    span_min: int
    unknown_min: int
    min_temp_c: float | None
    max_temp_c: float | None
    exceeds_max_interruption: bool
    escalation_level: int
    open_at_end: bool
    starts_before_period: bool
    max_bad_run_min: int = 0
    open_at_start: bool = False

    @property
    def all_unknown(self) -> bool:
        """True when the whole run is missing data (no reading at all)."""
        return self.unknown_min == self.duration_min


@dataclass(frozen=True)
class Breach:
    """A broken SLA term."""

    kind: str  # "max_interruption" | "attainment" | "min_heat_per_day"
    start: dt.datetime | None
    end: dt.datetime | None
    value: float | None
    limit: float
    unit: str
    detail: str


@dataclass(frozen=True)
class MaintenanceVerdict:
    """Whether a maintenance window excluded its minutes, and why."""

    start: dt.datetime
    end: dt.datetime
    announced_at: dt.datetime
    notice_given_h: float
    notice_required_h: float
    excluded: bool
    excluded_min: int
    description: str


@dataclass(frozen=True)
class DailyHeat:
    """Heat delivered on one operating day (site-local calendar day)."""

    date: dt.date
    heat_kwh: float | None
    below_min: bool


@dataclass(frozen=True)
class DailyMinutes:
    """Minute counts of one site-local calendar day of the period [min].

    The evidence a sealed period keeps per day, so that a longer period (a
    contract year) can be summed from sealed months that no longer have data.
    """

    date: dt.date
    good_min: int
    bad_min: int
    unknown_min: int
    excluded_closed_min: int
    excluded_maintenance_min: int
    excluded_unmonitored_min: int
    future_min: int
    covered_by_redundant_min: int
    scheduled_valid_min: int

    @property
    def valid_min(self) -> int:
        """Good, bad and unknown minutes (elapsed valid minutes) [min]."""
        return self.good_min + self.bad_min + self.unknown_min


#: Verdicts of :func:`sla_verdict`.
VERDICTS = ("met", "breached", "unknown")


@dataclass(frozen=True)
class SlaReport:
    """Result of :func:`evaluate` for one period (all counts in minutes [min])."""

    site_id: str
    period_label: str
    period_kind: str
    binding: bool
    period_start: dt.datetime
    period_end: dt.datetime
    evaluated_until: dt.datetime
    timezone: str
    measured_point: str
    band_min_temp_c: float
    band_max_temp_c: float
    target_fraction: float
    slice_rule: str
    missing_data: str
    period_min: int
    elapsed_min: int
    future_min: int
    valid_min: int
    good_min: int
    bad_min: int
    unknown_min: int
    excluded_min: int
    excluded_closed_min: int
    excluded_maintenance_min: int
    excluded_unmonitored_min: int
    covered_by_redundant_min: int
    counted_min: int
    scheduled_valid_min: int
    attainment_fraction: float | None
    error_budget_allowed_min: float
    error_budget_used_min: int
    error_budget_left_min: float
    error_budget_left_fraction: float | None
    burn_rates: tuple[BurnRate, ...]
    page_alert: bool
    ticket_alert: bool
    alert_reasons: tuple[str, ...]
    interruptions: tuple[Interruption, ...]
    breaches: tuple[Breach, ...]
    maintenance: tuple[MaintenanceVerdict, ...]
    daily_heat: tuple[DailyHeat, ...]
    min_heat_per_day_kwh: float | None
    max_interruption_h: float | None
    heat_method: str | None
    notes: tuple[str, ...] = field(default_factory=tuple)
    verdict: str = "unknown"
    verdict_reasons: tuple[str, ...] = field(default_factory=tuple)
    data_coverage_fraction: float | None = None
    min_data_coverage_fraction: float = 0.95
    monitoring_start: dt.datetime | None = None
    daily_minutes: tuple[DailyMinutes, ...] = field(default_factory=tuple)
    sealed: Mapping[str, Any] | None = None

    @property
    def breached(self) -> bool:
        """True when any SLA term is broken, as the contract counts (``missing_data`` rule).

        See :attr:`verdict` for what the data present proves.
        """
        return bool(self.breaches)

    @property
    def complete(self) -> bool:
        """True when the period is over (evaluated to its end)."""
        return self.evaluated_until >= self.period_end

    def burn_rate(self, window: str) -> float | None:
        """Burn rate of one window label (``5m``, ``30m``, ``1h``, ``6h``, ``3d``)."""
        for b in self.burn_rates:
            if b.window == window:
                return b.burn_rate
        if window in BURN_WINDOWS_MIN:
            return None  # a sealed report keeps no burn rates (they describe a moment)
        raise SLAError(
            f"burn rate window: expected one of {[b.window for b in self.burn_rates]}, "
            f"got {window!r}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (instants ISO 8601 UTC, keys with units)."""

        def iso(x: dt.datetime | None) -> str | None:
            return None if x is None else x.astimezone(dt.UTC).isoformat()

        out: dict[str, Any] = {
            "site_id": self.site_id,
            "period": self.period_label,
            "period_kind": self.period_kind,
            "binding": self.binding,
            "period_start": iso(self.period_start),
            "period_end": iso(self.period_end),
            "evaluated_until": iso(self.evaluated_until),
            "timezone": self.timezone,
            "measured_point": self.measured_point,
            "band_min_temp_c": self.band_min_temp_c,
            "band_max_temp_c": self.band_max_temp_c,
            "target_fraction": self.target_fraction,
            "slice_rule": self.slice_rule,
            "missing_data": self.missing_data,
            "period_min": self.period_min,
            "elapsed_min": self.elapsed_min,
            "future_min": self.future_min,
            "valid_min": self.valid_min,
            "good_min": self.good_min,
            "bad_min": self.bad_min,
            "unknown_min": self.unknown_min,
            "excluded_min": self.excluded_min,
            "excluded_closed_min": self.excluded_closed_min,
            "excluded_maintenance_min": self.excluded_maintenance_min,
            "excluded_unmonitored_min": self.excluded_unmonitored_min,
            "covered_by_redundant_min": self.covered_by_redundant_min,
            "counted_min": self.counted_min,
            "scheduled_valid_min": self.scheduled_valid_min,
            "attainment_fraction": self.attainment_fraction,
            "error_budget_allowed_min": self.error_budget_allowed_min,
            "error_budget_used_min": self.error_budget_used_min,
            "error_budget_left_min": self.error_budget_left_min,
            "error_budget_left_fraction": self.error_budget_left_fraction,
        }
        for b in self.burn_rates:
            out[f"burn_rate_{b.window}"] = b.burn_rate
        out["burn_rate_windows"] = [
            {
                "window": b.window,
                "window_min": b.window_min,
                "counted_min": b.counted_min,
                "bad_min": b.bad_min,
                "burn_rate": b.burn_rate,
                "truncated": b.truncated,
            }
            for b in self.burn_rates
        ]
        out["page_alert"] = self.page_alert
        out["ticket_alert"] = self.ticket_alert
        out["alert_reasons"] = list(self.alert_reasons)
        out["max_interruption_h"] = self.max_interruption_h
        out["interruptions"] = [
            {
                "start": iso(i.start),
                "end": iso(i.end),
                "duration_min": i.duration_min,
                "span_min": i.span_min,
                "unknown_min": i.unknown_min,
                "all_unknown": i.all_unknown,
                "min_temp_c": i.min_temp_c,
                "max_temp_c": i.max_temp_c,
                "exceeds_max_interruption": i.exceeds_max_interruption,
                "escalation_level": i.escalation_level,
                "open_at_end": i.open_at_end,
                "starts_before_period": i.starts_before_period,
                "max_bad_run_min": i.max_bad_run_min,
                "open_at_start": i.open_at_start,
            }
            for i in self.interruptions
        ]
        out["breached"] = self.breached
        out["verdict"] = self.verdict
        out["verdict_reasons"] = list(self.verdict_reasons)
        out["data_coverage_fraction"] = self.data_coverage_fraction
        out["min_data_coverage_fraction"] = self.min_data_coverage_fraction
        out["monitoring_start"] = iso(self.monitoring_start)
        out["breaches"] = [
            {
                "kind": b.kind,
                "start": iso(b.start),
                "end": iso(b.end),
                "value": b.value,
                "limit": b.limit,
                "unit": b.unit,
                "detail": b.detail,
            }
            for b in self.breaches
        ]
        out["maintenance_windows"] = [
            {
                "start": iso(m.start),
                "end": iso(m.end),
                "announced_at": iso(m.announced_at),
                "notice_given_h": m.notice_given_h,
                "notice_required_h": m.notice_required_h,
                "excluded": m.excluded,
                "excluded_min": m.excluded_min,
                "description": m.description,
            }
            for m in self.maintenance
        ]
        out["min_heat_per_day_kwh"] = self.min_heat_per_day_kwh
        out["heat_method"] = self.heat_method
        out["daily_heat"] = [
            {"date": d.date.isoformat(), "heat_kwh": d.heat_kwh, "below_min": d.below_min}
            for d in self.daily_heat
        ]
        out["daily_minutes"] = [
            {
                "date": d.date.isoformat(),
                "good_min": d.good_min,
                "bad_min": d.bad_min,
                "unknown_min": d.unknown_min,
                "excluded_closed_min": d.excluded_closed_min,
                "excluded_maintenance_min": d.excluded_maintenance_min,
                "excluded_unmonitored_min": d.excluded_unmonitored_min,
                "future_min": d.future_min,
                "covered_by_redundant_min": d.covered_by_redundant_min,
                "scheduled_valid_min": d.scheduled_valid_min,
            }
            for d in self.daily_minutes
        ]
        out["notes"] = list(self.notes)
        out["sealed"] = None if self.sealed is None else dict(self.sealed)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlaReport:
        """Rebuild a report from :meth:`to_dict` output (e.g. a sealed ledger entry).

        Raises
        ------
        SLAError
            A field is missing or of the wrong kind (the message names it).
        """
        try:
            return _from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise SLAError(
                f"SLA report data: expected the fields of SlaReport.to_dict(), got a problem "
                f"with {exc!r}"
            ) from None


def _when(text: Any) -> dt.datetime | None:
    if text is None:
        return None
    value = dt.datetime.fromisoformat(str(text))
    if value.tzinfo is None:
        raise ValueError(f"naive time {text!r}")
    return value.astimezone(dt.UTC)


def _when_req(text: Any) -> dt.datetime:
    value = _when(text)
    if value is None:
        raise ValueError("a required time is null")
    return value


def _from_dict(d: Mapping[str, Any]) -> SlaReport:
    burn = tuple(
        BurnRate(
            str(b["window"]),
            int(b["window_min"]),
            int(b["counted_min"]),
            int(b["bad_min"]),
            None if b["burn_rate"] is None else float(b["burn_rate"]),
            bool(b["truncated"]),
        )
        for b in d.get("burn_rate_windows") or []
    )
    interruptions = tuple(
        Interruption(
            start=_when_req(i["start"]),
            end=_when_req(i["end"]),
            duration_min=int(i["duration_min"]),
            span_min=int(i["span_min"]),
            unknown_min=int(i["unknown_min"]),
            min_temp_c=None if i["min_temp_c"] is None else float(i["min_temp_c"]),
            max_temp_c=None if i["max_temp_c"] is None else float(i["max_temp_c"]),
            exceeds_max_interruption=bool(i["exceeds_max_interruption"]),
            escalation_level=int(i["escalation_level"]),
            open_at_end=bool(i["open_at_end"]),
            starts_before_period=bool(i["starts_before_period"]),
            max_bad_run_min=int(i.get("max_bad_run_min", 0)),
            open_at_start=bool(i.get("open_at_start", False)),
        )
        for i in d["interruptions"]
    )
    breaches = tuple(
        Breach(
            kind=str(b["kind"]),
            start=_when(b["start"]),
            end=_when(b["end"]),
            value=None if b["value"] is None else float(b["value"]),
            limit=float(b["limit"]),
            unit=str(b["unit"]),
            detail=str(b["detail"]),
        )
        for b in d["breaches"]
    )
    maintenance = tuple(
        MaintenanceVerdict(
            start=_when_req(m["start"]),
            end=_when_req(m["end"]),
            announced_at=_when_req(m["announced_at"]),
            notice_given_h=float(m["notice_given_h"]),
            notice_required_h=float(m["notice_required_h"]),
            excluded=bool(m["excluded"]),
            excluded_min=int(m["excluded_min"]),
            description=str(m["description"]),
        )
        for m in d["maintenance_windows"]
    )
    daily_heat = tuple(
        DailyHeat(
            dt.date.fromisoformat(str(h["date"])),
            None if h["heat_kwh"] is None else float(h["heat_kwh"]),
            bool(h["below_min"]),
        )
        for h in d["daily_heat"]
    )
    daily_minutes = tuple(
        DailyMinutes(
            date=dt.date.fromisoformat(str(m["date"])),
            good_min=int(m["good_min"]),
            bad_min=int(m["bad_min"]),
            unknown_min=int(m["unknown_min"]),
            excluded_closed_min=int(m["excluded_closed_min"]),
            excluded_maintenance_min=int(m["excluded_maintenance_min"]),
            excluded_unmonitored_min=int(m["excluded_unmonitored_min"]),
            future_min=int(m["future_min"]),
            covered_by_redundant_min=int(m["covered_by_redundant_min"]),
            scheduled_valid_min=int(m["scheduled_valid_min"]),
        )
        for m in d.get("daily_minutes") or []
    )

    def opt_float(key: str) -> float | None:
        value = d.get(key)
        return None if value is None else float(value)

    return SlaReport(
        site_id=str(d["site_id"]),
        period_label=str(d["period"]),
        period_kind=str(d["period_kind"]),
        binding=bool(d["binding"]),
        period_start=_when_req(d["period_start"]),
        period_end=_when_req(d["period_end"]),
        evaluated_until=_when_req(d["evaluated_until"]),
        timezone=str(d["timezone"]),
        measured_point=str(d["measured_point"]),
        band_min_temp_c=float(d["band_min_temp_c"]),
        band_max_temp_c=float(d["band_max_temp_c"]),
        target_fraction=float(d["target_fraction"]),
        slice_rule=str(d["slice_rule"]),
        missing_data=str(d["missing_data"]),
        period_min=int(d["period_min"]),
        elapsed_min=int(d["elapsed_min"]),
        future_min=int(d["future_min"]),
        valid_min=int(d["valid_min"]),
        good_min=int(d["good_min"]),
        bad_min=int(d["bad_min"]),
        unknown_min=int(d["unknown_min"]),
        excluded_min=int(d["excluded_min"]),
        excluded_closed_min=int(d["excluded_closed_min"]),
        excluded_maintenance_min=int(d["excluded_maintenance_min"]),
        excluded_unmonitored_min=int(d["excluded_unmonitored_min"]),
        covered_by_redundant_min=int(d["covered_by_redundant_min"]),
        counted_min=int(d["counted_min"]),
        scheduled_valid_min=int(d["scheduled_valid_min"]),
        attainment_fraction=opt_float("attainment_fraction"),
        error_budget_allowed_min=float(d["error_budget_allowed_min"]),
        error_budget_used_min=int(d["error_budget_used_min"]),
        error_budget_left_min=float(d["error_budget_left_min"]),
        error_budget_left_fraction=opt_float("error_budget_left_fraction"),
        burn_rates=burn,
        page_alert=bool(d.get("page_alert", False)),
        ticket_alert=bool(d.get("ticket_alert", False)),
        alert_reasons=tuple(str(x) for x in d.get("alert_reasons") or []),
        interruptions=interruptions,
        breaches=breaches,
        maintenance=maintenance,
        daily_heat=daily_heat,
        min_heat_per_day_kwh=opt_float("min_heat_per_day_kwh"),
        max_interruption_h=opt_float("max_interruption_h"),
        heat_method=None if d.get("heat_method") is None else str(d["heat_method"]),
        notes=tuple(str(x) for x in d.get("notes") or []),
        verdict=str(d.get("verdict", "unknown")),
        verdict_reasons=tuple(str(x) for x in d.get("verdict_reasons") or []),
        data_coverage_fraction=opt_float("data_coverage_fraction"),
        min_data_coverage_fraction=float(d.get("min_data_coverage_fraction", 0.95)),
        monitoring_start=_when(d.get("monitoring_start")),
        daily_minutes=daily_minutes,
        sealed=None if d.get("sealed") is None else dict(d["sealed"]),
    )


# --------------------------------------------------------------------------- helpers
def _utc(value: Any, name: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise SLAError(f"{name}: expected a tz-aware instant (e.g. ...+00:00), got {value!r}")
    ts = ts.tz_convert("UTC").as_unit("ns")
    if ts != ts.floor("min"):
        raise SLAError(f"{name}: expected a whole minute, got {ts.isoformat()}")
    return ts


def _utc_any(value: Any, name: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise SLAError(f"{name}: expected a tz-aware instant, got {value!r}")
    return ts.tz_convert("UTC").as_unit("ns")


def _check_series(series: pd.Series | None, name: str) -> pd.Series | None:
    if series is None:
        return None
    idx = series.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
        raise SLAError(
            f"{name}: expected a tz-aware DatetimeIndex (UTC, 1-minute), got "
            f"{type(idx).__name__}" + ("" if not isinstance(idx, pd.DatetimeIndex) else " (naive)")
        )
    idx = idx.tz_convert("UTC").as_unit("ns")
    if len(idx):
        off = idx != idx.floor("min")
        if off.any():
            raise SLAError(
                f"{name}: expected 1-minute slices on whole minutes, got "
                f"{idx[off][0].isoformat()} (resample to 1 min first)"
            )
        if idx.has_duplicates:
            raise SLAError(
                f"{name}: expected one value per minute, got a duplicate at "
                f"{idx[idx.duplicated()][0].isoformat()}"
            )
    return pd.Series(pd.to_numeric(series.to_numpy(), errors="coerce"), index=idx, dtype=float)


def _on_grid(series: pd.Series | None, grid: pd.DatetimeIndex) -> FloatArray | None:
    if series is None:
        return None
    return np.asarray(series.reindex(grid).to_numpy(dtype=float), dtype=np.float64)


def _operating_mask(defn: SlaDefinition, grid: pd.DatetimeIndex) -> BoolArray:
    table = np.zeros((7, 1440), dtype=bool)
    for day, ranges in enumerate(defn.operating_minutes_by_weekday):
        for start, end in ranges:
            table[day, start:end] = True
    local = grid.tz_convert(defn.timezone)
    weekday = np.asarray(local.day_of_week, dtype=np.int64)
    minute = np.asarray(local.hour, dtype=np.int64) * 60 + np.asarray(local.minute, dtype=np.int64)
    return np.asarray(table[weekday, minute], dtype=bool)


def _ns(ts: dt.datetime | pd.Timestamp) -> int:
    return int(pd.Timestamp(ts).as_unit("ns").value)


def _run_bounds(flag: BoolArray) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Start indices and exclusive end indices of runs of True."""
    d = np.diff(np.concatenate(([0], flag.astype(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _reduce_runs(
    ufunc: np.ufunc, values: FloatArray, starts: npt.NDArray[np.intp], ends: npt.NDArray[np.intp]
) -> FloatArray:
    """ufunc.reduce over each [start, end) with NaN ignored by fmin/fmax."""
    if len(starts) == 0:
        return np.empty(0)
    padded = np.concatenate((values, [np.nan]))
    idx = np.ravel(np.column_stack((starts, ends)))
    return np.asarray(ufunc.reduceat(padded, idx)[::2], dtype=np.float64)


def _none_if_nan(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _local_midnight_utc(day: dt.date, tz: str) -> pd.Timestamp:
    """Start of a local calendar day as a UTC instant (DST gaps shift forward)."""
    return (
        pd.Timestamp(day)
        .tz_localize(tz, nonexistent="shift_forward", ambiguous=False)
        .tz_convert("UTC")
        .as_unit("ns")
    )


def _daily_heat_map(heat: pd.Series | None, tz: str) -> dict[dt.date, float | None] | None:
    if heat is None:
        return None
    out: dict[dt.date, float | None] = {}
    idx = heat.index
    if isinstance(idx, pd.DatetimeIndex):
        if idx.tz is None:
            raise SLAError(
                "heat_kwh_per_day: expected an index of dates or tz-aware local midnights, "
                "got naive timestamps"
            )
        dates = [ts.date() for ts in idx.tz_convert(tz)]
    else:
        dates = [d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) for d in idx]
    for day, value in zip(dates, heat.to_numpy(dtype=float), strict=True):
        out[day] = None if np.isnan(value) else float(value)
    return out


# --------------------------------------------------------------------------- classification
@dataclass(frozen=True)
class _Slices:
    grid: pd.DatetimeIndex
    status: npt.NDArray[np.int8]
    operating: BoolArray
    maintenance: BoolArray
    monitored: BoolArray
    in_period: BoolArray
    covered: BoolArray
    lo: FloatArray
    hi: FloatArray
    verdicts: tuple[MaintenanceVerdict, ...]


def _classify(
    defn: SlaDefinition,
    grid: pd.DatetimeIndex,
    period_start: pd.Timestamp,
    t_end: pd.Timestamp,
    temp: FloatArray,
    lo: FloatArray | None,
    hi: FloatArray | None,
    red: FloatArray | None,
    red_lo: FloatArray | None,
    red_hi: FloatArray | None,
    monitoring_start: pd.Timestamp | None = None,
) -> _Slices:
    n = len(grid)
    gi = grid.asi8
    operating = _operating_mask(defn, grid)
    maintenance = np.zeros(n, dtype=bool)
    verdicts: list[MaintenanceVerdict] = []
    for w in defn.maintenance_windows:
        in_time = w.announced_in_time(defn.maintenance_notice_h)
        # Only minutes entirely inside the window: t >= start and t + 1 min <= end.
        s = int(np.searchsorted(gi, _ns(w.start_utc), side="left"))
        e = int(np.searchsorted(gi, _ns(w.end_utc) - _MIN.value, side="right"))
        touched = (
            n > 0 and _ns(w.start_utc) < int(gi[-1]) + _MIN.value and _ns(w.end_utc) > int(gi[0])
        )
        if in_time and e > s:
            maintenance[s:e] = True
        if touched:
            excluded_min = int((operating[s:e]).sum()) if in_time and e > s else 0
            verdicts.append(
                MaintenanceVerdict(
                    start=w.start_utc,
                    end=w.end_utc,
                    announced_at=w.announced_at_utc,
                    notice_given_h=round(w.notice_given_h(), 6),
                    notice_required_h=defn.maintenance_notice_h,
                    excluded=in_time,
                    excluded_min=excluded_min,
                    description=w.description,
                )
            )
    monitored = np.ones(n, dtype=bool) if monitoring_start is None else gi >= monitoring_start.value
    valid = operating & ~maintenance & monitored

    mean = temp
    lo_v = mean if lo is None else np.where(np.isnan(lo), mean, lo)
    hi_v = mean if hi is None else np.where(np.isnan(hi), mean, hi)
    whole = defn.slice_rule == "whole_minute"
    missing = (np.isnan(lo_v) | np.isnan(hi_v)) if whole else np.isnan(mean)
    covered = np.zeros(n, dtype=bool)
    if red is not None:
        covered = missing & ~np.isnan(red)
        r_lo = red if red_lo is None else np.where(np.isnan(red_lo), red, red_lo)
        r_hi = red if red_hi is None else np.where(np.isnan(red_hi), red, red_hi)
        mean = np.where(covered, red, mean)
        lo_v = np.where(covered, r_lo, lo_v)
        hi_v = np.where(covered, r_hi, hi_v)
    with np.errstate(invalid="ignore"):
        if defn.slice_rule == "mean":
            # The minute mean decides; lo/hi only feed the reported min/max of a run.
            present = ~np.isnan(mean)
            in_band = (mean >= defn.band_min_temp_c) & (mean <= defn.band_max_temp_c)
        else:
            present = ~np.isnan(lo_v) & ~np.isnan(hi_v)
            in_band = (lo_v >= defn.band_min_temp_c) & (hi_v <= defn.band_max_temp_c)

    status = np.full(n, EXCLUDED, dtype=np.int8)
    status[valid & present & in_band] = GOOD
    status[valid & present & ~in_band] = BAD
    status[valid & ~present] = UNKNOWN
    elapsed = gi < t_end.value
    status[~elapsed] = FUTURE
    in_period = gi >= period_start.value
    return _Slices(
        grid=grid,
        status=status,
        operating=operating,
        maintenance=maintenance,
        monitored=monitored,
        in_period=in_period,
        covered=covered & valid & elapsed,
        lo=np.asarray(lo_v, dtype=np.float64),
        hi=np.asarray(hi_v, dtype=np.float64),
        verdicts=tuple(verdicts),
    )


def minute_status(
    defn: SlaDefinition,
    supply_temp_c: pd.Series,
    *,
    period_start: dt.datetime,
    period_end: dt.datetime,
    supply_min_c: pd.Series | None = None,
    supply_max_c: pd.Series | None = None,
    redundant_temp_c: pd.Series | None = None,
    now: dt.datetime | None = None,
) -> pd.Series:
    """Per-minute status (``excluded/good/bad/unknown/future``) over ``[period_start, period_end)``.

    Same rules as :func:`evaluate`; for plots and the monthly report.
    """
    ps, pe = _utc(period_start, "period_start"), _utc(period_end, "period_end")
    t_end = (
        pe if now is None else min(max(pd.Timestamp(now).tz_convert("UTC").floor("min"), ps), pe)
    )
    grid = pd.date_range(ps, pe, freq="min", inclusive="left", unit="ns")
    s = _classify(
        defn,
        grid,
        ps,
        t_end,
        _on_grid(_check_series(supply_temp_c, "supply_temp_c"), grid),  # type: ignore[arg-type]
        _on_grid(_check_series(supply_min_c, "supply_min_c"), grid),
        _on_grid(_check_series(supply_max_c, "supply_max_c"), grid),
        _on_grid(_check_series(redundant_temp_c, "redundant_temp_c"), grid),
        None,
        None,
    )
    names = np.asarray(STATUS_NAMES, dtype=object)[s.status]
    return pd.Series(names, index=grid, name="sla_status")


def _daily_minutes(
    keys: npt.NDArray[np.int64], inverse: npt.NDArray[np.intp], masks: Mapping[str, BoolArray]
) -> tuple[DailyMinutes, ...]:
    """Per local day (``keys`` as YYYYMMDD) the count of each mask, for days in the period."""
    counts = {
        name: np.bincount(inverse, weights=mask, minlength=len(keys)).astype(np.int64)
        for name, mask in masks.items()
    }
    out: list[DailyMinutes] = []
    for j, key in enumerate(keys.tolist()):
        row = {name: int(c[j]) for name, c in counts.items()}
        if not any(row.values()):
            continue  # a look-back day before the period
        out.append(DailyMinutes(date=dt.date(key // 10000, key // 100 % 100, key % 100), **row))
    return tuple(out)


# --------------------------------------------------------------------------- verdict
def data_coverage(report: SlaReport) -> float | None:
    """Share of the expected minutes that have a reading [-]; ``None`` when none is expected.

    Expected: elapsed operating minutes outside announced maintenance, those before
    monitoring started included (a period nobody watched is not covered). Read:
    good and bad minutes (a reading of the measured or the redundant point).
    """
    expected = report.valid_min + report.excluded_unmonitored_min
    if expected <= 0:
        return None
    return (report.good_min + report.bad_min) / expected


def proven_breaches(report: SlaReport) -> list[str]:
    """Breaches the minutes *with* data prove, whatever the minutes without data were.

    - an interruption holding a run of read out-of-band minutes longer than
      ``max_interruption_h`` (excluded minutes skipped, as for interruptions);
    - more read out-of-band minutes than the largest error budget the period could
      have, ``(1 - target) x`` its scheduled valid minutes (every unknown minute
      counted as if it were good);
    - a day whose metered heat is below ``min_heat_per_day_kwh``.
    """
    out: list[str] = []
    limit_min = None if report.max_interruption_h is None else report.max_interruption_h * 60.0
    if limit_min is not None:
        for i in report.interruptions:
            if i.max_bad_run_min > limit_min + _EPS_MIN:
                out.append(
                    f"{i.max_bad_run_min / 60:.2f} h of read out-of-band minutes in a row from "
                    f"{i.start.isoformat()} exceed the {report.max_interruption_h:g} h maximum"
                )
    widest_budget = (1.0 - report.target_fraction) * report.scheduled_valid_min
    if report.bad_min > widest_budget + _EPS_MIN:
        out.append(
            f"{report.bad_min} read out-of-band minutes exceed the error budget of "
            f"{widest_budget:.1f} min even if every minute without data was good"
        )
    for d in report.daily_heat:
        if d.heat_kwh is not None and d.below_min:
            out.append(
                f"{d.date.isoformat()}: {d.heat_kwh:.1f} kWh delivered, below the "
                f"{report.min_heat_per_day_kwh:g} kWh minimum"
            )
    return out


def sla_verdict(report: SlaReport) -> tuple[str, tuple[str, ...], float | None]:
    """The verdict of a report: ``met``, ``breached`` or ``unknown``, with the reasons.

    Rules (missing data never reads as healthy, nor as a disaster):

    - ``breached`` when the data present alone proves a breach
      (:func:`proven_breaches`);
    - ``met`` when the data coverage (:func:`data_coverage`) is at least
      ``min_data_coverage_fraction`` and no term is broken as the contract counts
      (:attr:`SlaReport.breached`, unknown minutes per ``missing_data``);
    - ``unknown`` otherwise: too little data, or the contract's terms are broken only
      by minutes without data. :attr:`SlaReport.breached` still says what the
      contract counts.

    Returns
    -------
    (verdict, reasons, data_coverage_fraction)
    """
    coverage = data_coverage(report)
    proven = proven_breaches(report)
    so_far = "" if report.complete else " so far"
    need = report.min_data_coverage_fraction
    if proven:
        return "breached", tuple(proven), coverage
    if coverage is None:
        if report.elapsed_min == 0:
            return "unknown", ("the period has not started",), None
        if not report.breached:
            return (
                "met",
                ("no operating minutes outside announced maintenance: nothing was owed",),
                None,
            )
    reasons: list[str] = []
    before = (
        report.monitoring_start is not None
        and report.good_min + report.bad_min + report.unknown_min == 0
        and report.excluded_unmonitored_min > 0
    )
    if before:
        assert report.monitoring_start is not None
        reasons.append(
            f"the period lies before monitoring started ({report.monitoring_start.isoformat()}): "
            "out of scope, nothing is known about it"
        )
    elif coverage is not None and coverage < need:
        reasons.append(
            f"data coverage {coverage:.2%} is below the {need:.0%} needed to call the SLA met"
            + (
                f" ({report.excluded_unmonitored_min} min before monitoring started)"
                if report.excluded_unmonitored_min
                else ""
            )
        )
    if report.breached:
        no_heat = sum(1 for d in report.daily_heat if d.heat_kwh is None)
        reasons.append(
            f"the contract's terms are broken as it counts missing data (missing_data: "
            f"{report.missing_data}; {report.unknown_min} min without a reading"
            + (f", {no_heat} day(s) without heat data" if no_heat else "")
            + "), but the data present alone proves no breach"
        )
    if reasons:
        return "unknown", tuple(reasons), coverage
    return (
        "met",
        (
            f"every term met{so_far} with data coverage "
            + ("n/a" if coverage is None else f"{coverage:.2%}")
            + f" (>= {need:.0%} needed)",
        ),
        coverage,
    )


def with_verdict(report: SlaReport) -> SlaReport:
    """``report`` with :attr:`~SlaReport.verdict`, its reasons and the coverage filled in."""
    verdict, reasons, coverage = sla_verdict(report)
    return replace(
        report, verdict=verdict, verdict_reasons=reasons, data_coverage_fraction=coverage
    )


# --------------------------------------------------------------------------- evaluate
def evaluate(
    defn: SlaDefinition,
    supply_temp_c: pd.Series,
    *,
    period_start: dt.datetime,
    period_end: dt.datetime,
    heat_kwh_per_day: pd.Series | None = None,
    supply_min_c: pd.Series | None = None,
    supply_max_c: pd.Series | None = None,
    redundant_temp_c: pd.Series | None = None,
    redundant_min_c: pd.Series | None = None,
    redundant_max_c: pd.Series | None = None,
    now: dt.datetime | None = None,
    monitoring_start: dt.datetime | None = None,
    period_label: str | None = None,
    period_kind: str = "range",
    binding: bool = True,
    heat_method: str | None = None,
) -> SlaReport:
    """Evaluate the SLA for one period on 1-minute slices.

    Parameters
    ----------
    defn
        The SLA.
    supply_temp_c
        Minute means of the measured point [C], tz-aware index on whole minutes
        (UTC or any zone; converted to UTC). Missing minutes and NaN are
        "no data". Readings before ``period_start`` (up to 3 d) feed the burn
        rates only.
    period_start, period_end
        The period ``[start, end)``, tz-aware, on whole minutes.
    heat_kwh_per_day
        Heat delivered per site-local day [kWh], indexed by ``datetime.date``
        or tz-aware local midnights; ``None`` skips the minimum-heat check.
    supply_min_c, supply_max_c
        Minute minimum and maximum [C]; needed for ``slice_rule="whole_minute"``
        (the mean stands in where they are missing).
    redundant_temp_c, redundant_min_c, redundant_max_c
        The redundant point [C], used only for minutes the measured point misses.
    now
        Evaluation time; minutes at or after it are *future*. Default: period end.
    monitoring_start
        First reading the site ever stored for the measured point; minutes
        before it are excluded as *unmonitored* (reported apart) rather than
        unknown. ``None`` (default): every minute is monitored, so a gap at
        the start of the data counts as unknown.
    period_label, period_kind, binding
        Labels carried into the report (e.g. ``"2026-01"``, ``"month"``, and
        whether this period is the contractual SLA period).
    heat_method
        How ``heat_kwh_per_day`` was obtained (shown in the report).

    Returns
    -------
    SlaReport

    Raises
    ------
    SLAError
        Naive or off-minute timestamps, period end before start,
        ``whole_minute`` without minimum/maximum series.

    Notes
    -----
    See the module docstring for the rules and the treatment of excluded
    minutes inside an interruption. Reference: SRE Workbook, ch. 5.
    """
    ps, pe = _utc(period_start, "period_start"), _utc(period_end, "period_end")
    if pe <= ps:
        raise SLAError(
            f"period: expected period_end after period_start, got {ps.isoformat()} .. "
            f"{pe.isoformat()}"
        )
    if defn.slice_rule == "whole_minute" and (supply_min_c is None or supply_max_c is None):
        raise SLAError(
            "supply_min_c/supply_max_c: slice_rule 'whole_minute' needs the minute minimum and "
            "maximum of the measured point (rollup min/max); got none"
        )
    if now is None:
        t_end = pe
    else:
        now_ts = pd.Timestamp(now)
        if now_ts.tzinfo is None:
            raise SLAError(f"now: expected a tz-aware instant, got {now!r}")
        t_end = min(max(now_ts.tz_convert("UTC").as_unit("ns").floor("min"), ps), pe)

    series = {
        "supply_temp_c": _check_series(supply_temp_c, "supply_temp_c"),
        "supply_min_c": _check_series(supply_min_c, "supply_min_c"),
        "supply_max_c": _check_series(supply_max_c, "supply_max_c"),
        "redundant_temp_c": _check_series(redundant_temp_c, "redundant_temp_c"),
        "redundant_min_c": _check_series(redundant_min_c, "redundant_min_c"),
        "redundant_max_c": _check_series(redundant_max_c, "redundant_max_c"),
    }
    primary = series["supply_temp_c"]
    assert primary is not None
    lookback_limit = t_end - pd.Timedelta(minutes=max(BURN_WINDOWS_MIN.values()))
    grid_start = ps
    if len(primary.index) and primary.index.min() < ps:
        grid_start = max(min(primary.index.min(), ps), min(lookback_limit, ps))
    grid = pd.date_range(grid_start, pe, freq="min", inclusive="left", unit="ns")
    on = {k: _on_grid(v, grid) for k, v in series.items()}
    temp = on["supply_temp_c"]
    assert temp is not None
    s = _classify(
        defn,
        grid,
        ps,
        t_end,
        temp,
        on["supply_min_c"],
        on["supply_max_c"],
        on["redundant_temp_c"],
        on["redundant_min_c"],
        on["redundant_max_c"],
        None if monitoring_start is None else _utc_any(monitoring_start, "monitoring_start"),
    )
    st = s.status
    inp = s.in_period
    valid_now = (st == GOOD) | (st == BAD) | (st == UNKNOWN)
    scheduled_valid = s.operating & ~s.maintenance & s.monitored
    elapsed = st != FUTURE

    period_min = int(inp.sum())
    elapsed_min = int((inp & elapsed).sum())
    good_min = int((inp & (st == GOOD)).sum())
    bad_min = int((inp & (st == BAD)).sum())
    unknown_min = int((inp & (st == UNKNOWN)).sum())
    valid_min = good_min + bad_min + unknown_min
    excluded_closed = int((inp & elapsed & ~s.operating).sum())
    excluded_maint = int((inp & elapsed & s.operating & s.maintenance).sum())
    excluded_unmon = int((inp & elapsed & s.operating & ~s.maintenance & ~s.monitored).sum())
    unknown_is_bad = defn.missing_data == "bad"
    counted_min = valid_min if unknown_is_bad else valid_min - unknown_min
    used_min = bad_min + (unknown_min if unknown_is_bad else 0)
    attainment = good_min / counted_min if counted_min > 0 else None
    scheduled_valid_min = int((inp & scheduled_valid).sum())
    budget_base = scheduled_valid_min - (0 if unknown_is_bad else unknown_min)
    allowed = defn.allowed_bad_fraction() * budget_base
    left = allowed - used_min
    left_fraction = left / allowed if allowed > 0 else None

    # ---- burn rates at t_end over trailing windows (prefix sums over the whole grid)
    counted_flag = valid_now if unknown_is_bad else ((st == GOOD) | (st == BAD))
    bad_flag = (st == BAD) | ((st == UNKNOWN) if unknown_is_bad else np.zeros_like(counted_flag))
    cum_counted = np.concatenate(([0], np.cumsum(counted_flag, dtype=np.int64)))
    cum_bad = np.concatenate(([0], np.cumsum(bad_flag, dtype=np.int64)))
    gi = grid.asi8
    hi_idx = int(np.searchsorted(gi, t_end.value, side="left"))
    burn: list[BurnRate] = []
    allowed_fraction = defn.allowed_bad_fraction()
    for label, minutes in BURN_WINDOWS_MIN.items():
        w_start = t_end - pd.Timedelta(minutes=minutes)
        lo_idx = int(np.searchsorted(gi, w_start.value, side="left"))
        c = int(cum_counted[hi_idx] - cum_counted[lo_idx])
        b = int(cum_bad[hi_idx] - cum_bad[lo_idx])
        if c == 0:
            rate: float | None = None
        elif allowed_fraction <= 0:
            rate = float("inf") if b else 0.0
        else:
            rate = (b / c) / allowed_fraction
        burn.append(BurnRate(label, minutes, c, b, rate, truncated=bool(w_start < grid[0])))
    rates = {b.window: (b.burn_rate or 0.0) for b in burn}
    reasons: list[str] = []
    page = False
    for long_w, short_w, limit in PAGE_RULES:
        if rates[long_w] > limit and rates[short_w] > limit:
            page = True
            reasons.append(
                f"page: {long_w} burn {rates[long_w]:.1f} and {short_w} burn "
                f"{rates[short_w]:.1f} above {limit:g}"
            )
    ticket = False
    for long_w, short_w, limit in TICKET_RULES:
        if rates[long_w] > limit and rates[short_w] > limit:
            ticket = True
            reasons.append(
                f"ticket: {long_w} burn {rates[long_w]:.2f} and {short_w} burn "
                f"{rates[short_w]:.2f} above {limit:g}"
            )

    # ---- interruptions: runs over the valid elapsed minutes (excluded ones skipped)
    vidx = np.flatnonzero(valid_now)
    vst = st[vidx]
    flag = (vst == BAD) | (vst == UNKNOWN)
    starts, ends = _run_bounds(flag)
    unk_cum = np.concatenate(([0], np.cumsum(vst == UNKNOWN, dtype=np.int64)))
    run_min = _reduce_runs(np.fmin, s.lo[vidx], starts, ends)
    run_max = _reduce_runs(np.fmax, s.hi[vidx], starts, ends)
    # longest run of read out-of-band minutes inside each interruption (what the data proves)
    bad_starts, bad_ends = _run_bounds(vst == BAD)
    max_bad_run = np.zeros(len(starts), dtype=np.int64)
    if len(bad_starts):
        owner = np.searchsorted(starts, bad_starts, side="right") - 1
        np.maximum.at(max_bad_run, owner, (bad_ends - bad_starts).astype(np.int64))
    max_int_min = None if defn.max_interruption_h is None else defn.max_interruption_h * 60.0
    ladder_min = np.asarray(defn.escalation_ladder_h, dtype=float) * 60.0
    interruptions: list[Interruption] = []
    breaches: list[Breach] = []
    ps_i = ps.value
    # position (among the valid minutes) of the period's first valid minute
    first_in_period = int(np.searchsorted(gi[vidx], ps_i, side="left")) if len(vidx) else 0
    for k in range(len(starts)):
        g0 = int(vidx[starts[k]])
        g1 = int(vidx[ends[k] - 1])
        end_ns = int(gi[g1]) + _MIN.value
        if end_ns <= ps_i:
            continue  # wholly in the look-back before the period
        start_ts = grid[g0].to_pydatetime()
        end_ts = pd.Timestamp(end_ns, tz="UTC").to_pydatetime()
        duration = int(ends[k] - starts[k])
        exceeds = max_int_min is not None and duration > max_int_min + _EPS_MIN
        intr = Interruption(
            start=start_ts,
            end=end_ts,
            duration_min=duration,
            span_min=int((end_ns - int(gi[g0])) // _MIN.value),
            unknown_min=int(unk_cum[ends[k]] - unk_cum[starts[k]]),
            min_temp_c=_none_if_nan(run_min[k]),
            max_temp_c=_none_if_nan(run_max[k]),
            exceeds_max_interruption=exceeds,
            escalation_level=int((ladder_min <= duration + _EPS_MIN).sum()),
            open_at_end=bool(ends[k] == len(flag)),
            starts_before_period=bool(gi[g0] < ps_i),
            max_bad_run_min=int(max_bad_run[k]),
            open_at_start=bool(starts[k] <= first_in_period < ends[k]),
        )
        interruptions.append(intr)
        if exceeds and defn.max_interruption_h is not None:
            breaches.append(
                Breach(
                    kind="max_interruption",
                    start=start_ts,
                    end=end_ts,
                    value=duration / 60.0,
                    limit=defn.max_interruption_h,
                    unit="h",
                    detail=(
                        f"interruption of {duration / 60:.2f} h ({duration} valid min"
                        + (f", {intr.unknown_min} without data" if intr.unknown_min else "")
                        + f") from {start_ts.isoformat()} exceeds the "
                        f"{defn.max_interruption_h:g} h maximum"
                        + (" (still open)" if intr.open_at_end and t_end < pe else "")
                    ),
                )
            )

    if left < -_EPS_MIN:
        complete = t_end >= pe
        breaches.append(
            Breach(
                kind="attainment",
                start=ps.to_pydatetime(),
                end=t_end.to_pydatetime(),
                value=attainment,
                limit=defn.target_fraction,
                unit="fraction",
                detail=(
                    f"attainment {attainment if attainment is not None else float('nan'):.4%} "
                    f"below target {defn.target_fraction:.4%}: {used_min} bad min against an "
                    f"error budget of {allowed:.1f} min"
                    + ("" if complete else " (budget already spent; the period cannot recover)")
                ),
            )
        )

    # ---- minute counts per local day (the evidence a seal keeps)
    local = grid.tz_convert(defn.timezone)
    day_key = np.asarray(local.year * 10000 + local.month * 100 + local.day, dtype=np.int64)
    keys, inverse = np.unique(day_key, return_inverse=True)
    daily_minutes = _daily_minutes(
        keys,
        inverse,
        {
            "good_min": inp & (st == GOOD),
            "bad_min": inp & (st == BAD),
            "unknown_min": inp & (st == UNKNOWN),
            "excluded_closed_min": inp & elapsed & ~s.operating,
            "excluded_maintenance_min": inp & elapsed & s.operating & s.maintenance,
            "excluded_unmonitored_min": inp & elapsed & s.operating & ~s.maintenance & ~s.monitored,
            "future_min": inp & ~elapsed,
            "covered_by_redundant_min": s.covered & inp,
            "scheduled_valid_min": inp & scheduled_valid,
        },
    )

    # ---- minimum heat per local day
    notes: list[str] = []
    daily: list[DailyHeat] = []
    heat_map = _daily_heat_map(heat_kwh_per_day, defn.timezone)
    if defn.min_heat_per_day_kwh is not None:
        if heat_map is None:
            notes.append("minimum heat per day not evaluated: no heat meter data passed")
        else:
            valid_per_day = np.bincount(inverse, weights=scheduled_valid & inp)
            for j, key in enumerate(keys):
                day = dt.date(int(key // 10000), int(key // 100 % 100), int(key % 100))
                day_start = _local_midnight_utc(day, defn.timezone)
                day_end = _local_midnight_utc(day + dt.timedelta(days=1), defn.timezone)
                if day_start < ps or day_end > pe or day_end > t_end or valid_per_day[j] == 0:
                    continue
                heat = heat_map.get(day)
                if heat is None and not unknown_is_bad:
                    continue
                below = heat is None or heat < defn.min_heat_per_day_kwh - 1e-9
                daily.append(DailyHeat(day, heat, below))
                if below:
                    breaches.append(
                        Breach(
                            kind="min_heat_per_day",
                            start=day_start.to_pydatetime(),
                            end=day_end.to_pydatetime(),
                            value=heat,
                            limit=defn.min_heat_per_day_kwh,
                            unit="kWh",
                            detail=(
                                f"{day.isoformat()}: "
                                + (
                                    "no heat meter data (counted as a breach, missing data is bad)"
                                    if heat is None
                                    else f"{heat:.1f} kWh delivered, below the "
                                    f"{defn.min_heat_per_day_kwh:g} kWh minimum"
                                )
                            ),
                        )
                    )

    for v in s.verdicts:
        if not v.excluded:
            notes.append(
                f"maintenance window {v.start.isoformat()} .. {v.end.isoformat()} was announced "
                f"{v.notice_given_h:g} h before its start ({v.notice_required_h:g} h required): "
                "NOT excluded, its minutes count"
            )
    if excluded_unmon:
        notes.append(
            f"{excluded_unmon} min before monitoring started ({monitoring_start}) are excluded "
            "as unmonitored"
        )
    if any(b.truncated for b in burn):
        notes.append(
            "burn-rate windows longer than the data available before the evaluation time "
            "are computed over the data there is (marked truncated)"
        )
    if t_end < pe:
        notes.append(f"period not over: evaluated until {t_end.isoformat()}")
    breaches.sort(key=lambda b: (b.start or pd.Timestamp(0, tz="UTC").to_pydatetime(), b.kind))

    report = SlaReport(
        site_id=defn.site_id,
        period_label=period_label or f"{ps.isoformat()}..{pe.isoformat()}",
        period_kind=period_kind,
        binding=binding,
        period_start=ps.to_pydatetime(),
        period_end=pe.to_pydatetime(),
        evaluated_until=t_end.to_pydatetime(),
        timezone=defn.timezone,
        measured_point=defn.measured_point,
        band_min_temp_c=defn.band_min_temp_c,
        band_max_temp_c=defn.band_max_temp_c,
        target_fraction=defn.target_fraction,
        slice_rule=defn.slice_rule,
        missing_data=defn.missing_data,
        period_min=period_min,
        elapsed_min=elapsed_min,
        future_min=period_min - elapsed_min,
        valid_min=valid_min,
        good_min=good_min,
        bad_min=bad_min,
        unknown_min=unknown_min,
        excluded_min=excluded_closed + excluded_maint + excluded_unmon,
        excluded_closed_min=excluded_closed,
        excluded_maintenance_min=excluded_maint,
        excluded_unmonitored_min=excluded_unmon,
        covered_by_redundant_min=int((s.covered & inp).sum()),
        counted_min=counted_min,
        scheduled_valid_min=scheduled_valid_min,
        attainment_fraction=attainment,
        error_budget_allowed_min=allowed,
        error_budget_used_min=used_min,
        error_budget_left_min=left,
        error_budget_left_fraction=left_fraction,
        burn_rates=tuple(burn),
        page_alert=page,
        ticket_alert=ticket,
        alert_reasons=tuple(reasons),
        interruptions=tuple(interruptions),
        breaches=tuple(breaches),
        maintenance=s.verdicts,
        daily_heat=tuple(daily),
        min_heat_per_day_kwh=defn.min_heat_per_day_kwh,
        max_interruption_h=defn.max_interruption_h,
        heat_method=heat_method,
        notes=tuple(notes),
        min_data_coverage_fraction=defn.min_data_coverage_fraction,
        monitoring_start=(
            None
            if monitoring_start is None
            else _utc_any(monitoring_start, "monitoring_start").to_pydatetime()
        ),
        daily_minutes=daily_minutes,
    )
    return with_verdict(report)
