"""The heat-delivery SLA as one frozen value object.

:class:`SlaDefinition` joins the three places the contract lives in a site
file: ``contract.sla`` (band, target, period, maintenance, per-event limit,
minimum heat, measured point, slice and missing-data rules), the customer's
weekly operating hours and the site's time zone. Everything the evaluation
engine (:mod:`heatreuse.sla.evaluate`) and the OpenSLO import/export
(:mod:`heatreuse.sla.openslo`) need is in it; nothing else is read.

Rules (operations.md, "Heat-delivery SLA as data"):

- a 1-minute slice is *valid* inside operating hours (site-local time) and
  outside a maintenance window announced at least ``maintenance_notice_h``
  before the window starts; a window announced later does not exclude;
- a valid slice is *good* when the supply temperature is in the closed band
  ``[band_min_temp_c, band_max_temp_c]``: with ``slice_rule == "mean"`` the
  minute's mean counts, with ``"whole_minute"`` the minute's minimum and
  maximum must both be in band;
- a valid slice with no reading is *unknown*: counted bad
  (``missing_data == "bad"``) unless the ``redundant_point`` has a reading
  for that minute, or left out of the attainment denominator
  (``missing_data == "excluded"``);
- the verdict (met / breached / unknown) also weighs how much of the period
  has data: ``met`` needs at least ``min_data_coverage_fraction`` of the
  operating minutes read (see :func:`heatreuse.sla.evaluate.sla_verdict`);
- minutes before ``monitoring_start`` are out of scope (unmonitored).

References
----------
Google SRE Workbook, ch. 5 "Alerting on SLOs" (burn rates); OpenSLO v1
specification (https://github.com/OpenSLO/OpenSLO), used for import/export.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from heatreuse.errors import SLAError
from heatreuse.site.model import WEEKDAYS, Site, SlaTerms

Period = Literal["month", "contract_year", "both"]
SliceRule = Literal["mean", "whole_minute"]
MissingDataRule = Literal["bad", "excluded"]

#: Open ranges per weekday (0 = Monday), each a (start, end) minute of the local day.
WeeklyMinutes = tuple[tuple[tuple[int, int], ...], ...]

ALWAYS_OPEN: WeeklyMinutes = tuple(((0, 1440),) for _ in WEEKDAYS)


@dataclass(frozen=True)
class MaintenanceWindowDef:
    """One planned maintenance window, all instants tz-aware UTC.

    Attributes
    ----------
    start_utc, end_utc
        The window [start, end) [UTC].
    announced_at_utc
        When the customer was told [UTC].
    description
        Free text.
    """

    start_utc: dt.datetime
    end_utc: dt.datetime
    announced_at_utc: dt.datetime
    description: str = ""

    def __post_init__(self) -> None:
        for name in ("start_utc", "end_utc", "announced_at_utc"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise SLAError(f"maintenance window {name}: expected a tz-aware time, got {value}")
            object.__setattr__(self, name, value.astimezone(dt.UTC))
        if self.end_utc <= self.start_utc:
            raise SLAError(
                f"maintenance window: end ({self.end_utc.isoformat()}) must be after start "
                f"({self.start_utc.isoformat()})"
            )

    def notice_given_h(self) -> float:
        """Hours between announcement and start [h] (negative if announced after the start)."""
        return (self.start_utc - self.announced_at_utc).total_seconds() / 3600.0

    def announced_in_time(self, notice_h: float) -> bool:
        """True when announced at least ``notice_h`` [h] before its start."""
        return self.start_utc - self.announced_at_utc >= dt.timedelta(hours=notice_h)


@dataclass(frozen=True)
class SlaDefinition:
    """A site's heat-delivery SLA (frozen value object; units in the field names).

    Attributes
    ----------
    site_id
        Site the SLA belongs to.
    timezone
        IANA zone of the site; operating hours and calendar periods are local.
    band_min_temp_c, band_max_temp_c
        Closed supply temperature band [C].
    target_fraction
        Share of counted valid minutes that must be good [-], (0, 1].
    period
        ``month``, ``contract_year`` or ``both`` (reports show both side by side).
    contract_start_date
        First day of the contract year (local); ``None`` means the calendar year.
    operating_minutes_by_weekday
        Open ranges per weekday (Monday first), (start, end) minutes of the local day.
    maintenance_notice_h
        Notice a window needs to exclude its minutes [h].
    maintenance_windows
        Planned windows (UTC).
    max_interruption_h
        Longest allowed single interruption [h]; ``None`` = no per-event limit.
    min_heat_per_day_kwh
        Minimum heat delivered per operating day [kWh]; ``None`` = no such term.
    measured_point
        Canonical point id of the supply temperature [C].
    redundant_point
        Optional second sensor whose readings cover minutes the measured point misses.
    slice_rule
        ``mean`` (minute mean in band) or ``whole_minute`` (minute min and max in band).
    missing_data
        ``bad`` (unknown minutes count as bad) or ``excluded`` (left out of the
        attainment denominator and the budget base; still reported).
    escalation_ladder_h
        Interruption durations at which the ladder escalates [h].
    min_data_coverage_fraction
        Share of the expected minutes (operating, not in announced maintenance,
        monitored or not) that need a reading before the verdict can be ``met``
        [-], (0, 1].
    monitoring_start
        When monitoring began, set in the site file (tz-aware); ``None``: the
        store's recorded first reading of the site decides.
    """

    site_id: str
    timezone: str
    band_min_temp_c: float
    band_max_temp_c: float
    target_fraction: float
    period: Period = "both"
    contract_start_date: dt.date | None = None
    operating_minutes_by_weekday: WeeklyMinutes = ALWAYS_OPEN
    maintenance_notice_h: float = 48.0
    maintenance_windows: tuple[MaintenanceWindowDef, ...] = field(default_factory=tuple)
    max_interruption_h: float | None = None
    min_heat_per_day_kwh: float | None = None
    measured_point: str = "customer.supply_temp_c"
    redundant_point: str | None = None
    slice_rule: SliceRule = "mean"
    missing_data: MissingDataRule = "bad"
    escalation_ladder_h: tuple[float, ...] = (0.25, 1.0, 2.0, 3.0)
    min_data_coverage_fraction: float = 0.95
    monitoring_start: dt.datetime | None = None

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SLAError(
                f"timezone: expected an IANA time zone such as 'Europe/Berlin', "
                f"got {self.timezone!r}"
            ) from None
        if not self.band_min_temp_c < self.band_max_temp_c:
            raise SLAError(
                f"band: expected band_min_temp_c < band_max_temp_c, got "
                f"{self.band_min_temp_c} and {self.band_max_temp_c}"
            )
        if not 0.0 < self.target_fraction <= 1.0:
            raise SLAError(f"target_fraction: expected (0, 1], got {self.target_fraction}")
        if self.period not in ("month", "contract_year", "both"):
            raise SLAError(f"period: expected month, contract_year or both, got {self.period!r}")
        if self.slice_rule not in ("mean", "whole_minute"):
            raise SLAError(f"slice_rule: expected mean or whole_minute, got {self.slice_rule!r}")
        if self.missing_data not in ("bad", "excluded"):
            raise SLAError(f"missing_data: expected bad or excluded, got {self.missing_data!r}")
        if len(self.operating_minutes_by_weekday) != 7:
            raise SLAError(
                "operating_minutes_by_weekday: expected 7 weekdays (Monday first), got "
                f"{len(self.operating_minutes_by_weekday)}"
            )
        for day, ranges in zip(WEEKDAYS, self.operating_minutes_by_weekday, strict=True):
            for start, end in ranges:
                if not 0 <= start < end <= 1440:
                    raise SLAError(
                        f"operating hours {day}: expected 0 <= start < end <= 1440 minutes, "
                        f"got ({start}, {end})"
                    )
        if self.maintenance_notice_h < 0:
            raise SLAError(f"maintenance_notice_h: expected >= 0, got {self.maintenance_notice_h}")
        if self.max_interruption_h is not None and self.max_interruption_h <= 0:
            raise SLAError(f"max_interruption_h: expected > 0, got {self.max_interruption_h}")
        if self.min_heat_per_day_kwh is not None and self.min_heat_per_day_kwh < 0:
            raise SLAError(f"min_heat_per_day_kwh: expected >= 0, got {self.min_heat_per_day_kwh}")
        if not 0.0 < self.min_data_coverage_fraction <= 1.0:
            raise SLAError(
                "min_data_coverage_fraction: expected (0, 1], got "
                f"{self.min_data_coverage_fraction}"
            )
        if self.monitoring_start is not None:
            if self.monitoring_start.tzinfo is None:
                raise SLAError(
                    f"monitoring_start: expected a tz-aware time, got {self.monitoring_start}"
                )
            object.__setattr__(self, "monitoring_start", self.monitoring_start.astimezone(dt.UTC))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_site(cls, site: Site) -> SlaDefinition:
        """Build the definition from a validated site.

        Parameters
        ----------
        site
            The site; its ``contract.sla``, ``customer.operating_hours`` and
            ``location.timezone`` are read. The band is the SLA's own, else the
            customer's supply band (:attr:`Site.sla_band`).
        """
        sla = site.contract.sla
        band = site.sla_band
        return cls.from_terms(
            sla,
            site_id=site.id,
            timezone=site.location.timezone,
            band_min_temp_c=band.min_temp_c,
            band_max_temp_c=band.max_temp_c,
            operating_minutes_by_weekday=tuple(
                tuple(day) for day in site.customer.operating_hours.minutes_by_weekday()
            ),
        )

    @classmethod
    def from_terms(
        cls,
        sla: SlaTerms,
        *,
        site_id: str,
        timezone: str,
        band_min_temp_c: float,
        band_max_temp_c: float,
        operating_minutes_by_weekday: WeeklyMinutes = ALWAYS_OPEN,
    ) -> SlaDefinition:
        """Build the definition from ``contract.sla`` terms plus the customer-side facts."""
        return cls(
            site_id=site_id,
            timezone=timezone,
            band_min_temp_c=float(band_min_temp_c),
            band_max_temp_c=float(band_max_temp_c),
            target_fraction=float(sla.target_fraction),
            period=sla.period,
            contract_start_date=sla.contract_start_date,
            operating_minutes_by_weekday=operating_minutes_by_weekday,
            maintenance_notice_h=float(sla.maintenance.notice_h),
            maintenance_windows=tuple(
                MaintenanceWindowDef(
                    start_utc=w.start,
                    end_utc=w.end,
                    announced_at_utc=w.announced_at,
                    description=w.description,
                )
                for w in sla.maintenance.windows
            ),
            max_interruption_h=sla.max_interruption_h,
            min_heat_per_day_kwh=sla.min_heat_per_day_kwh,
            measured_point=sla.measured_point,
            redundant_point=sla.redundant_point,
            slice_rule=sla.slice_rule,
            missing_data=sla.missing_data,
            escalation_ladder_h=tuple(float(x) for x in sla.escalation_ladder_h),
            min_data_coverage_fraction=float(sla.min_data_coverage_fraction),
            monitoring_start=sla.monitoring_start,
        )

    # ------------------------------------------------------------------ views
    @property
    def zone(self) -> ZoneInfo:
        """The site's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def always_open(self) -> bool:
        """True when every weekday is open 00:00-24:00."""
        return self.operating_minutes_by_weekday == ALWAYS_OPEN

    def operating_hours_text(self) -> dict[str, list[str]]:
        """Operating hours as ``{"mon": ["06:00-22:00"], ...}`` (closed days omitted)."""
        out: dict[str, list[str]] = {}
        for day, ranges in zip(WEEKDAYS, self.operating_minutes_by_weekday, strict=True):
            if ranges:
                out[day] = [f"{_hhmm(s)}-{_hhmm(e)}" for s, e in ranges]
        return out

    def open_minutes_per_week(self) -> int:
        """Open minutes in a week without DST change [min]."""
        return sum(e - s for day in self.operating_minutes_by_weekday for s, e in day)

    def allowed_bad_fraction(self) -> float:
        """Error budget as a fraction of counted valid time, ``1 - target`` [-]."""
        return 1.0 - self.target_fraction

    def to_sla_terms(self) -> SlaTerms:
        """The ``contract.sla`` section of a site file that yields this definition.

        The band is written explicitly (``supply_band``). Operating hours and the
        time zone belong to ``customer`` and ``location`` and are not part of it.
        """
        return SlaTerms.model_validate(self.to_sla_terms_dict())

    def to_sla_terms_dict(self) -> dict[str, Any]:
        """``contract.sla`` as plain YAML-ready data (see :meth:`to_sla_terms`)."""
        out: dict[str, Any] = {
            "supply_band": {
                "min_temp_c": self.band_min_temp_c,
                "max_temp_c": self.band_max_temp_c,
            },
            "target_fraction": self.target_fraction,
            "period": self.period,
        }
        if self.contract_start_date is not None:
            out["contract_start_date"] = self.contract_start_date
        out["measured_point"] = self.measured_point
        if self.redundant_point is not None:
            out["redundant_point"] = self.redundant_point
        out["slice_rule"] = self.slice_rule
        out["missing_data"] = self.missing_data
        if self.max_interruption_h is not None:
            out["max_interruption_h"] = self.max_interruption_h
        if self.min_heat_per_day_kwh is not None:
            out["min_heat_per_day_kwh"] = self.min_heat_per_day_kwh
        out["escalation_ladder_h"] = list(self.escalation_ladder_h)
        out["min_data_coverage_fraction"] = self.min_data_coverage_fraction
        if self.monitoring_start is not None:
            out["monitoring_start"] = self.monitoring_start
        out["maintenance"] = {
            "notice_h": self.maintenance_notice_h,
            "windows": [
                {
                    "start": w.start_utc,
                    "end": w.end_utc,
                    "announced_at": w.announced_at_utc,
                    **({"description": w.description} if w.description else {}),
                }
                for w in self.maintenance_windows
            ],
        }
        return out


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_operating_hours(data: Any, where: str) -> WeeklyMinutes:
    """Parse ``{"mon": ["06:00-22:00"], ...}`` or ``"always"`` into weekly minutes.

    Parameters
    ----------
    data
        The mapping (closed days omitted) or the string ``always``.
    where
        Where the value came from, for error messages.
    """
    if data == "always":
        return ALWAYS_OPEN
    if not isinstance(data, dict):
        raise SLAError(
            f'{where}: expected \'always\' or a mapping such as {{"mon": ["06:00-22:00"]}}, '
            f"got {data!r}"
        )
    unknown = sorted(set(data) - set(WEEKDAYS))
    if unknown:
        raise SLAError(f"{where}: expected weekdays {list(WEEKDAYS)}, got {unknown}")
    out: list[tuple[tuple[int, int], ...]] = []
    for day in WEEKDAYS:
        ranges = data.get(day, [])
        if not isinstance(ranges, list):
            raise SLAError(f"{where}.{day}: expected a list of 'HH:MM-HH:MM', got {ranges!r}")
        parsed: list[tuple[int, int]] = []
        for text in ranges:
            parsed.append(_parse_range(str(text), f"{where}.{day}"))
        out.append(tuple(parsed))
    return tuple(out)


def _parse_range(text: str, where: str) -> tuple[int, int]:
    try:
        a, b = text.replace(" ", "").split("-")
        start = int(a[:2]) * 60 + int(a[3:5])
        end = int(b[:2]) * 60 + int(b[3:5])
        if len(a) != 5 or len(b) != 5 or a[2] != ":" or b[2] != ":":
            raise ValueError
    except ValueError:
        raise SLAError(f"{where}: expected a range 'HH:MM-HH:MM', got {text!r}") from None
    if not 0 <= start < end <= 1440:
        raise SLAError(f"{where}: range {text!r} must start before it ends, within one day")
    return start, end
