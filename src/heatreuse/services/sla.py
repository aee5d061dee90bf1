"""Use case: the SLA report of a site for a period, read from the store.

:func:`sla_report` parses the period in the site's local time zone, reads the
measured point (and the redundant point, if any) at 1-minute resolution from
the store (mean, and min/max for ``slice_rule: whole_minute``), reads daily
heat from the heat meter, and calls :func:`heatreuse.sla.evaluate`.

Periods (all in the site's local time zone, ``location.timezone``):

- ``YYYY-MM``: the local calendar month (e.g. ``2026-01`` in Europe/Berlin is
  2025-12-31T23:00Z .. 2026-01-31T23:00Z);
- ``YYYY``: the contract year that starts in that year on the day of
  ``contract.sla.contract_start_date`` (the calendar year without one);
- ``YYYY-MM-DD..YYYY-MM-DD``: local days, both ends inclusive.

Which reports come back: the requested period first; when it is a month and
the SLA's period is ``contract_year`` or ``both``, the contract year that
contains the month follows, evaluated up to the end of the month (year to
date), so the month and the contract year appear side by side. Each report says
whether its period is a contractual one (``binding``).

Readings: the 1-minute rollups (mean, min, max) of the measured point; with
``slice_rule: mean`` the mean decides and min/max only feed the temperature
extremes shown per interruption. Monitoring starts at the first stored reading
of the measured (or redundant) point; minutes before it are excluded as
*unmonitored* (a site cannot miss an SLA before it sends data at all); after
it every minute without a reading is *unknown*. Readings from 3 days before
the period feed the burn-rate windows.

Daily heat (minimum heat per day) comes from the heat meter's energy register
``meter.heat_energy_kwh``: the store's 15-minute counter increase (last
reading of the bucket minus the last one before it; one wrap of the register
counted), buckets where the counter broke (reset, meter exchange) counted as
0, summed per local day of the bucket. Without register
data the power ``meter.heat_power_w`` is integrated over 15-minute means (an
estimate; the report labels it). Without either, the minimum-heat term is
reported as not evaluated.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from heatreuse.errors import SLAError
from heatreuse.site import Site, expand_points
from heatreuse.sla import SlaDefinition, SlaReport, evaluate
from heatreuse.store import Store, using_store
from heatreuse.units import J_PER_KWH

HEAT_ENERGY_POINT = "meter.heat_energy_kwh"
HEAT_POWER_POINT = "meter.heat_power_w"
LOOKBACK = pd.Timedelta(days=3)  # longest burn-rate window
PERIOD_FORMATS = (
    "YYYY-MM (local calendar month, e.g. 2026-01), YYYY (contract year starting in that "
    "year, e.g. 2026) or YYYY-MM-DD..YYYY-MM-DD (local days, both inclusive)"
)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class PeriodSpec:
    """One period to evaluate: [start, end) in UTC plus labels."""

    label: str
    kind: str  # "month" | "contract_year" | "range"
    start: pd.Timestamp
    end: pd.Timestamp
    binding: bool
    evaluate_until: pd.Timestamp | None = None


def _midnight(day: dt.date, tz: str) -> pd.Timestamp:
    return (
        pd.Timestamp(day)
        .tz_localize(tz, nonexistent="shift_forward", ambiguous=False)
        .tz_convert("UTC")
        .as_unit("ns")
    )


def _anniversary(start: dt.date, year: int) -> dt.date:
    try:
        return start.replace(year=year)
    except ValueError:  # 29 February in a common year
        return dt.date(year, 2, 28)


def contract_year_bounds(defn: SlaDefinition, year: int) -> tuple[dt.date, dt.date]:
    """First day and the day after the last of the contract year starting in ``year``."""
    if defn.contract_start_date is None:
        return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    return (
        _anniversary(defn.contract_start_date, year),
        _anniversary(defn.contract_start_date, year + 1),
    )


def contract_year_containing(defn: SlaDefinition, day: dt.date) -> tuple[dt.date, dt.date]:
    """The contract year (local dates [first, after-last)) that contains ``day``."""
    first, after = contract_year_bounds(defn, day.year)
    if day < first:
        first, after = contract_year_bounds(defn, day.year - 1)
    return first, after


def parse_period(text: str, defn: SlaDefinition) -> list[PeriodSpec]:
    """Parse ``--period`` into the periods to report (see the module docstring).

    Raises
    ------
    SLAError
        The text matches none of the formats, or names an impossible date.
    """
    tz = defn.timezone
    raw = text.strip()
    try:
        if m := _MONTH.match(raw):
            y, mo = int(m[1]), int(m[2])
            first = dt.date(y, mo, 1)
            after = dt.date(y + (mo == 12), mo % 12 + 1, 1)
            month = PeriodSpec(
                raw,
                "month",
                _midnight(first, tz),
                _midnight(after, tz),
                binding=defn.period in ("month", "both"),
            )
            out = [month]
            if defn.period in ("contract_year", "both"):
                cy_first, cy_after = contract_year_containing(defn, first)
                out.append(
                    PeriodSpec(
                        f"contract year {cy_first.isoformat()}..{cy_after.isoformat()}",
                        "contract_year",
                        _midnight(cy_first, tz),
                        _midnight(cy_after, tz),
                        binding=True,
                        evaluate_until=month.end,
                    )
                )
            return out
        if m := _YEAR.match(raw):
            cy_first, cy_after = contract_year_bounds(defn, int(m[1]))
            return [
                PeriodSpec(
                    f"contract year {cy_first.isoformat()}..{cy_after.isoformat()}",
                    "contract_year",
                    _midnight(cy_first, tz),
                    _midnight(cy_after, tz),
                    binding=defn.period in ("contract_year", "both"),
                )
            ]
        if m := _RANGE.match(raw):
            first, last = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
            if last < first:
                raise SLAError(
                    f"--period: range ends ({last}) before it starts ({first}); expected "
                    + PERIOD_FORMATS
                )
            return [
                PeriodSpec(
                    raw,
                    "range",
                    _midnight(first, tz),
                    _midnight(last + dt.timedelta(days=1), tz),
                    binding=False,
                )
            ]
    except ValueError as exc:
        raise SLAError(
            f"--period: {raw!r} is not a real date ({exc}); expected {PERIOD_FORMATS}"
        ) from None
    raise SLAError(f"--period: expected {PERIOD_FORMATS}; got {raw!r}")


# --------------------------------------------------------------------------- store access
def _us(ts: pd.Timestamp) -> int:
    """Microseconds since the epoch (the store's integer time; ``Timestamp.value`` is ns)."""
    return int(pd.Timestamp(ts).as_unit("ns").value // 1000)


def _rollup(
    store: Store,
    site_id: str,
    point: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    resolution: Literal["1min", "15min", "1h"],
    counter_rollover: float | None = None,
) -> pd.DataFrame:
    """Rollup rows of one point (index bucket start, UTC; columns count/min/max/mean/delta)."""
    frame: pd.DataFrame = store.read_rollup(
        site_id,
        [point],
        _us(start),
        _us(end),
        resolution=resolution,
        counter_rollover={point: counter_rollover} if counter_rollover is not None else None,
    )
    frame = frame[frame["point_id"] == point]
    idx = pd.DatetimeIndex(frame.index)
    if idx.tz is None:
        raise SLAError(f"store: {point}: expected a tz-aware UTC index from the store, got naive")
    frame = frame.copy()
    frame.index = idx.tz_convert("UTC").as_unit("ns")
    return frame[~frame.index.duplicated(keep="last")]


def _minute_stats(
    store: Store,
    site_id: str,
    point: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> dict[str, pd.Series | None]:
    """1-minute mean, min and max of one point (``None`` entries when it has no data)."""
    frame = _rollup(store, site_id, point, start, end, "1min")
    if frame.empty:
        return {"mean": None, "min": None, "max": None}
    return {k: frame[k].astype(float) for k in ("mean", "min", "max")}


def _local_dates(index: pd.Index, tz: str) -> pd.Index:
    return pd.Index([t.date() for t in pd.DatetimeIndex(index).tz_convert(tz)])


def daily_heat_kwh(
    store: Store,
    site_id: str,
    tz: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    counter_rollover_kwh: float | None = None,
) -> tuple[pd.Series | None, str | None]:
    """Heat per local day [kWh] from the heat meter (register increments, else power).

    Register: the store's 15-minute counter ``delta`` (last reading of the bucket
    minus the last reading before it, looked up before ``start`` too; one wrap at
    ``counter_rollover_kwh`` [kWh] counted), buckets where the counter broke
    (reset, meter exchange: ``delta`` NaN) counted as 0, summed per local day of
    the bucket. Power: 15-minute mean power x 900 s (an estimate).

    Returns
    -------
    (series indexed by ``datetime.date``, method label) or (None, None) without meter data.
    """
    reg = _rollup(store, site_id, HEAT_ENERGY_POINT, start, end, "15min", counter_rollover_kwh)
    if not reg.empty:
        inc = reg["delta"].astype(float).fillna(0.0)
        per_day = inc.groupby(_local_dates(inc.index, tz)).sum()
        label = (
            f"{HEAT_ENERGY_POINT} register increments per 15 min bucket, on the local day of "
            "the bucket (one register wrap counted; a bucket where the counter fell "
            "otherwise, i.e. a reset or meter exchange, counts 0)"
        )
        return per_day.astype(float), label
    pw = _rollup(store, site_id, HEAT_POWER_POINT, start, end, "15min")
    if not pw.empty:
        energy_kwh = pw["mean"].astype(float) * 900.0 / J_PER_KWH
        per_day = energy_kwh.groupby(_local_dates(energy_kwh.index, tz)).sum()
        label = (
            f"ESTIMATE: integral of {HEAT_POWER_POINT} over 15 min means (no energy register "
            "data; 15 min without any reading count as no heat)"
        )
        return per_day.astype(float), label
    return None, None


def sla_report(
    site: Site,
    store_url: str | None = None,
    period: str = "",
    *,
    now: dt.datetime | None = None,
    store: Store | None = None,
) -> list[SlaReport]:
    """SLA report(s) of a site for a period, from the telemetry store.

    Parameters
    ----------
    site
        The site (its SLA, operating hours and time zone).
    store_url
        Store URL (``sqlite:///...`` or ``postgresql://...``); default: the
        store's default URL. Ignored when ``store`` is given.
    period
        ``YYYY-MM``, ``YYYY`` or ``YYYY-MM-DD..YYYY-MM-DD`` in the site's local
        time (see the module docstring).
    now
        Evaluation time (default: the current time); minutes after it are future.
    store
        An open store (used as is, not closed).

    Returns
    -------
    list of SlaReport
        The requested period first; for a month, the contract year to date after it
        when the SLA's period is ``contract_year`` or ``both``.
    """
    defn = SlaDefinition.from_site(site)
    specs = parse_period(period, defn)
    now_ts = pd.Timestamp(now if now is not None else dt.datetime.now(dt.UTC))
    if now_ts.tzinfo is None:
        raise SLAError(f"now: expected a tz-aware instant, got {now!r}")
    now_ts = now_ts.tz_convert("UTC").floor("min")
    if store is None:
        with using_store(store_url) as opened:
            return _reports(opened, site, defn, specs, now_ts)
    return _reports(store, site, defn, specs, now_ts)


def _monitoring_start(
    store: Store,
    site_id: str,
    defn: SlaDefinition,
    *series: pd.Series | None,
) -> dt.datetime | None:
    """First stored reading of the measured (or redundant) point, the start of monitoring.

    From the raw data's extent and the 1-minute rollups read; minutes before it
    are excluded as unmonitored. ``None`` (no data at all): every minute is unknown.
    """
    firsts: list[pd.Timestamp] = []
    for point in (defn.measured_point, defn.redundant_point):
        if point is None:
            continue
        ext = store.extent(site_id, point)
        if ext is not None:
            firsts.append(pd.Timestamp(ext[0]).tz_convert("UTC"))
    for x in series:
        if x is not None and x.notna().any():
            firsts.append(x[x.notna()].index[0])
    if not firsts:
        return None
    return min(firsts).floor("min").to_pydatetime()


def _reports(
    store: Store,
    site: Site,
    defn: SlaDefinition,
    specs: list[PeriodSpec],
    now_ts: pd.Timestamp,
) -> list[SlaReport]:
    ends = [min(now_ts, s.end, s.evaluate_until or s.end) for s in specs]
    read_start = min(s.start for s in specs) - LOOKBACK
    read_end = max(max(ends), min(s.start for s in specs) + pd.Timedelta(minutes=1))
    main = _minute_stats(store, site.id, defn.measured_point, read_start, read_end)
    red: dict[str, pd.Series | None] = {"mean": None, "min": None, "max": None}
    if defn.redundant_point is not None:
        red = _minute_stats(store, site.id, defn.redundant_point, read_start, read_end)
    monitoring_start = _monitoring_start(store, site.id, defn, main["mean"], red["mean"])
    heat, heat_method = (None, None)
    if defn.min_heat_per_day_kwh is not None:
        heat_start = min(s.start for s in specs)
        meter = expand_points(site).by_id().get(HEAT_ENERGY_POINT)
        heat, heat_method = daily_heat_kwh(
            store,
            site.id,
            defn.timezone,
            heat_start,
            read_end,
            meter.counter_rollover if meter is not None else None,
        )
    empty = pd.Series(np.array([], dtype=float), index=pd.DatetimeIndex([], tz="UTC"))
    reports: list[SlaReport] = []
    for spec, t_end in zip(specs, ends, strict=True):
        lo = spec.start - LOOKBACK

        def cut(
            x: pd.Series | None, lo: pd.Timestamp = lo, t_end: pd.Timestamp = t_end
        ) -> pd.Series | None:
            return None if x is None else x[(x.index >= lo) & (x.index < t_end)]

        mean = cut(main["mean"])
        r = evaluate(
            defn,
            empty if mean is None else mean,
            period_start=spec.start,
            period_end=spec.end,
            heat_kwh_per_day=heat,
            supply_min_c=cut(main["min"]),
            supply_max_c=cut(main["max"]),
            redundant_temp_c=cut(red["mean"]),
            redundant_min_c=cut(red["min"]),
            redundant_max_c=cut(red["max"]),
            now=t_end.to_pydatetime(),
            monitoring_start=monitoring_start,
            period_label=spec.label,
            period_kind=spec.kind,
            binding=spec.binding,
            heat_method=heat_method,
        )
        notes = list(r.notes)
        if spec.kind == "month":
            notes.append(f"month {spec.label} is the local calendar month in {defn.timezone}")
        if spec.kind == "contract_year" and defn.contract_start_date is None:
            notes.append("no contract_start_date: the contract year is the calendar year")
        if (
            spec.kind == "contract_year"
            and defn.contract_start_date is not None
            and spec.start < _midnight(defn.contract_start_date, defn.timezone)
        ):
            notes.append(
                f"this contract year lies before the contract start "
                f"{defn.contract_start_date.isoformat()} (shown for information)"
            )
        if mean is None or not mean.notna().any():
            notes.append(
                f"no readings of {defn.measured_point} in the store for this period (every "
                "valid minute is unknown)"
            )
        reports.append(replace(r, notes=tuple(notes)))
    return reports
