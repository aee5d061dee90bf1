"""Use case: the SLA report of a site for a period, from its seals and the store; sealing.

:func:`sla_report` parses the period in the site's local time zone, reads the
measured point (and the redundant point, if any) at 1-minute resolution from
the store (mean, and min/max for ``slice_rule: whole_minute``), reads daily
heat from the heat meter, and calls :func:`heatreuse.sla.evaluate`. A period
sealed in the site's ledger (``sla_seal``, :mod:`heatreuse.ledger.seal`) is
read from its seal instead, with the recomputation from the store beside it
(a difference is reported, never applied); a contract year or range with
sealed months is added up from them (:func:`heatreuse.sla.compose_reports`).

Sealing (:func:`closed_unsealed_periods`, :func:`seal_candidates`; the ledger
service appends the entries): a local month, and a contract year when the SLA
has one, is sealed once it has ended and data came in after its end, or
:data:`SEAL_GRACE` after its end; a contract year is added up from its month
seals.

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
extremes shown per interruption. Monitoring starts at
``contract.sla.monitoring_start`` if the site file sets it, else at the first
reading the store ever accepted for the site (a recorded fact, not what the
store holds today: retention does not move it); minutes before it are excluded
as *unmonitored* (out of scope: the verdict of a period before it is
``unknown``); after it every minute without a reading is *unknown*. Readings
from 3 days before the period feed the burn-rate windows.

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
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from heatreuse.errors import SLAError
from heatreuse.ledger.seal import ENTRY_SLA_SEAL
from heatreuse.site import Site, expand_points
from heatreuse.sla import SlaDefinition, SlaReport, compose_reports, evaluate
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
    """SLA report(s) of a site for a period, from its seals and the telemetry store.

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
        when the SLA's period is ``contract_year`` or ``both``. A sealed period's
        report is the seal (``report.sealed`` says which entry, and whether the store
        now gives a different result); a longer period is added up from its sealed
        months and the store (:func:`heatreuse.sla.compose_reports`).
    """
    defn = SlaDefinition.from_site(site)
    specs = parse_period(period, defn)
    now_ts = pd.Timestamp(now if now is not None else dt.datetime.now(dt.UTC))
    if now_ts.tzinfo is None:
        raise SLAError(f"now: expected a tz-aware instant, got {now!r}")
    now_ts = now_ts.tz_convert("UTC").floor("min")
    with using_store(store_url, store) as opened:
        mon = monitoring_start(opened, site.id, defn)
        seals = latest_seals(read_seal_entries(opened, site.id))
        return [
            _report_for(
                opened,
                site,
                defn,
                spec,
                min(now_ts, spec.end, spec.evaluate_until or spec.end),
                mon,
                seals,
            )
            for spec in specs
        ]


# --------------------------------------------------------------------------- monitoring start
@dataclass(frozen=True)
class MonitoringStart:
    """When monitoring of a site began, and where that fact comes from."""

    at: dt.datetime | None
    source: str

    def describe(self) -> str:
        """``2026-01-01T00:00:00+00:00 (store: first accepted reading)`` or ``unknown``."""
        return (
            "unknown (no reading ever accepted)"
            if self.at is None
            else (f"{self.at.isoformat()} ({self.source})")
        )


def monitoring_start(store: Store, site_id: str, defn: SlaDefinition) -> MonitoringStart:
    """When monitoring began: the site file's ``contract.sla.monitoring_start`` if set, else
    the first reading the store ever accepted for the site (a recorded fact that
    retention does not move, :meth:`heatreuse.store.Store.first_reading`); the later of
    that and the date commissioning passed (:func:`commissioned_at`) when a passing
    ``commissioning`` entry is in the ledger (a site is not in operation before).

    Minutes before it are excluded as unmonitored (out of scope); after it a minute
    without a reading is unknown.
    """
    if defn.monitoring_start is not None:
        base = MonitoringStart(defn.monitoring_start, "site file: contract.sla.monitoring_start")
    else:
        first = store.first_reading(site_id)
        if first is None:
            return MonitoringStart(None, "none")
        base = MonitoringStart(
            first.floor("min").to_pydatetime(), "store: first accepted reading of the site"
        )
    passed = commissioned_at(store, site_id)
    if passed is not None and base.at is not None and passed[0] > base.at:
        return MonitoringStart(passed[0], f"ledger: commissioning passed (entry {passed[1]})")
    return base


def commissioned_at(store: Store, site_id: str) -> tuple[dt.datetime, int] | None:
    """When the site's latest passing commissioning entry says it passed, and its index.

    A site is in operation for the SLA from then (``heatreuse commission``); ``None``
    without a passing ``commissioning`` entry in the ledger.
    """
    from heatreuse.ledger.commissioning import ENTRY_COMMISSIONING

    for e in reversed(read_ledger_entries(store, site_id, (ENTRY_COMMISSIONING,))):
        if e.get("passed") is True and isinstance(e.get("passed_at"), str):
            at = pd.Timestamp(e["passed_at"]).tz_convert("UTC").to_pydatetime()
            return at, int(e["index"])
    return None


# --------------------------------------------------------------------------- seals
def read_seal_entries(store: Store, site_id: str) -> list[dict[str, Any]]:
    """The ``sla_seal`` entries of a site's ledger, in log order (empty without a ledger).

    Read straight from the ledger table in the store database (no table is created).
    """
    return read_ledger_entries(store, site_id, (ENTRY_SLA_SEAL,))


def read_ledger_entries(
    store: Store, site_id: str, entry_types: Sequence[str]
) -> list[dict[str, Any]]:
    """Entries of some types from a site's ledger, in log order, each with its ``index``.

    Read straight from the ledger table in the store database (no table is created;
    empty when the store has no ledger). Not checked against the signed checkpoints
    (``heatreuse ledger update`` and ``ledger export`` do that).
    """
    with store.transaction(write=False) as tx:
        if store.dialect == "sqlite":
            exists = bool(
                tx.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_log'"
                )
            )
        else:
            exists = bool(tx.execute("SELECT to_regclass('ledger_log') IS NOT NULL")[0][0])
        if not exists:
            return []
        marks = ", ".join("?" for _ in entry_types)
        rows = tx.execute(
            f"SELECT idx, entry FROM ledger_log WHERE log_id = ? AND entry_type IN ({marks}) "
            "ORDER BY idx",
            (site_id, *entry_types),
        )
    out: list[dict[str, Any]] = []
    for idx, raw in rows:
        entry = json.loads(bytes(raw).decode("utf-8"))
        entry["index"] = int(idx)
        out.append(entry)
    return out


def latest_seals(entries: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest seal of each period label (a re-seal replaces the one it names)."""
    out: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e.get("type") == ENTRY_SLA_SEAL:
            out[str(e["period"])] = dict(e)
    return out


def _seal_info(seal: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "index": seal.get("index"),
        "seal_number": seal.get("seal_number"),
        "sealed_at": seal.get("sealed_at"),
        "supersedes_index": seal.get("supersedes_index"),
        "reason": seal.get("reason"),
    }


def sealed_report(seal: Mapping[str, Any]) -> SlaReport:
    """The report a seal holds, marked as sealed (``report.sealed``)."""
    rep = SlaReport.from_dict(seal["report"])
    return replace(rep, sealed=_seal_info(seal))


def evidence_of(report: SlaReport) -> dict[str, Any]:
    """What a seal's result consists of: the evidence counts and the verdict."""
    return {
        "verdict": report.verdict,
        "breached": report.breached,
        "valid_min": report.valid_min,
        "good_min": report.good_min,
        "bad_min": report.bad_min,
        "unknown_min": report.unknown_min,
        "excluded_min": report.excluded_min,
        "data_coverage_fraction": report.data_coverage_fraction,
    }


def month_specs(defn: SlaDefinition, start: pd.Timestamp, end: pd.Timestamp) -> list[PeriodSpec]:
    """The site-local calendar months overlapping ``[start, end)``, in order."""
    return local_months(defn.timezone, start, end, binding=defn.period in ("month", "both"))


def local_months(
    tz: str, start: pd.Timestamp, end: pd.Timestamp, binding: bool = True
) -> list[PeriodSpec]:
    """The calendar months in time zone ``tz`` overlapping ``[start, end)``, in order."""
    first = pd.Timestamp(start).tz_convert(tz).date().replace(day=1)
    out: list[PeriodSpec] = []
    day = first
    while True:
        after = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        m_start, m_end = _midnight(day, tz), _midnight(after, tz)
        if m_start >= end:
            break
        out.append(
            PeriodSpec(
                f"{day.year:04d}-{day.month:02d}",
                "month",
                m_start,
                m_end,
                binding=binding,
            )
        )
        day = after
    return out


def contract_year_specs(
    defn: SlaDefinition, start: pd.Timestamp, end: pd.Timestamp
) -> list[PeriodSpec]:
    """The contract years overlapping ``[start, end)``, in order."""
    tz = defn.timezone
    first, after = contract_year_containing(defn, pd.Timestamp(start).tz_convert(tz).date())
    out: list[PeriodSpec] = []
    while _midnight(first, tz) < end:
        out.append(
            PeriodSpec(
                f"contract year {first.isoformat()}..{after.isoformat()}",
                "contract_year",
                _midnight(first, tz),
                _midnight(after, tz),
                binding=defn.period in ("contract_year", "both"),
            )
        )
        first, after = contract_year_bounds(defn, after.year)
    return out


# --------------------------------------------------------------------------- evaluation
def _live(
    store: Store,
    site: Site,
    defn: SlaDefinition,
    spec: PeriodSpec,
    t_end: pd.Timestamp,
    mon: MonitoringStart,
) -> SlaReport:
    """Evaluate one period from what the store holds now."""
    read_start = spec.start - LOOKBACK
    read_end = max(t_end, spec.start + pd.Timedelta(minutes=1))
    main = _minute_stats(store, site.id, defn.measured_point, read_start, read_end)
    red: dict[str, pd.Series | None] = {"mean": None, "min": None, "max": None}
    if defn.redundant_point is not None:
        red = _minute_stats(store, site.id, defn.redundant_point, read_start, read_end)
    heat, heat_method = (None, None)
    if defn.min_heat_per_day_kwh is not None:
        meter = expand_points(site).by_id().get(HEAT_ENERGY_POINT)
        heat, heat_method = daily_heat_kwh(
            store,
            site.id,
            defn.timezone,
            spec.start,
            read_end,
            meter.counter_rollover if meter is not None else None,
        )
    empty = pd.Series(np.array([], dtype=float), index=pd.DatetimeIndex([], tz="UTC"))

    def cut(x: pd.Series | None) -> pd.Series | None:
        return None if x is None else x[(x.index >= read_start) & (x.index < t_end)]

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
        monitoring_start=mon.at,
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
    if mon.at is not None:
        notes.append(f"monitoring started {mon.describe()}")
    if (mean is None or not mean.notna().any()) and t_end > spec.start:
        horizons = store.retention_horizons()
        cut_at = horizons.get("1min")
        gone = cut_at is not None and cut_at > spec.start
        notes.append(
            f"no readings of {defn.measured_point} in the store for this period"
            + (
                f" (retention deleted 1-min data before {cut_at.isoformat()})"
                if gone and cut_at is not None
                else ""
            )
            + ": every valid minute since monitoring started is unknown"
        )
    return replace(r, notes=tuple(notes))


def _recheck(
    store: Store,
    site: Site,
    defn: SlaDefinition,
    spec: PeriodSpec,
    seal: Mapping[str, Any],
    seals: Mapping[str, Mapping[str, Any]],
) -> SlaReport:
    """The sealed report, with what recomputing it now gives beside it (a month from the
    store; a contract year from its other seals and the store)."""
    sealed = sealed_report(seal)
    others = {k: v for k, v in seals.items() if k != spec.label}
    (fresh,) = seal_candidates(store, site, [spec], others)
    live = fresh.report
    then, now_ = evidence_of(sealed), evidence_of(live)
    info = dict(sealed.sealed or {})
    info["recomputed"] = {**now_, "matches": then == now_}
    notes = [
        f"sealed in the ledger at entry {seal.get('index')} on {seal.get('sealed_at')}"
        + (
            f" (re-seal {seal.get('seal_number')}, replacing entry {seal.get('supersedes_index')}: "
            f"{seal.get('reason')})"
            if seal.get("supersedes_index") is not None
            else ""
        )
        + ": this report is the sealed result"
    ]
    if then != now_:
        observed_then = sealed.good_min + sealed.bad_min
        observed_now = live.good_min + live.bad_min
        if observed_now < observed_then:
            horizons = store.retention_horizons()
            why = "the store holds less data than when the period was sealed" + (
                " (retention deleted data before "
                + ", ".join(f"{k} {v.isoformat()}" for k, v in sorted(horizons.items()))
                + ")"
                if horizons
                else ""
            )
        elif observed_now > observed_then:
            why = "data for this period arrived after it was sealed"
        else:
            why = "the data or the SLA definition changed after the period was sealed"
        notes.append(
            f"NOT the same as recomputing from the store now: {why}; the store now gives "
            f"verdict {live.verdict}, {live.valid_min} valid / {live.good_min} good / "
            f"{live.bad_min} bad / {live.unknown_min} unknown min (sealed: verdict "
            f"{sealed.verdict}, {sealed.valid_min} / {sealed.good_min} / {sealed.bad_min} / "
            f"{sealed.unknown_min}). The sealed result stands; `heatreuse sla seal SITE.yaml "
            f"--period {_period_arg(spec, defn)} --reseal --reason TEXT` records a new seal that "
            "names this one"
        )
    elif seal.get("sla_definition_sha256") not in (None, _sla_hash(site)):
        notes.append("the site's SLA definition changed after this period was sealed")
    return replace(sealed, sealed=info, notes=tuple(list(sealed.notes) + notes))


def _sla_hash(site: Site) -> str:
    from heatreuse.ledger.build import sla_definition_sha256

    return sla_definition_sha256(site)


def _period_arg(spec: PeriodSpec, defn: SlaDefinition) -> str:
    """The ``--period`` text that names ``spec``."""
    if spec.kind == "contract_year":
        return str(spec.start.tz_convert(defn.timezone).year)
    return spec.label


def _composed(
    store: Store,
    site: Site,
    defn: SlaDefinition,
    spec: PeriodSpec,
    t_end: pd.Timestamp,
    mon: MonitoringStart,
    month_reports: Mapping[str, SlaReport],
) -> tuple[SlaReport, tuple[str, ...]] | None:
    """``spec`` added up from sealed months and the store, with the months used; None when
    no month of it is sealed."""
    parts: list[SlaReport] = []
    used: list[str] = []
    seg_start: pd.Timestamp | None = None

    def flush(end: pd.Timestamp) -> None:
        nonlocal seg_start
        if seg_start is not None and end > seg_start:
            seg = PeriodSpec(
                f"{spec.label} (from the store)", spec.kind, seg_start, end, binding=spec.binding
            )
            parts.append(_live(store, site, defn, seg, min(max(t_end, seg_start), end), mon))
        seg_start = None

    for m in month_specs(defn, spec.start, spec.end):
        rep = month_reports.get(m.label)
        if rep is not None and m.start < t_end:
            flush(max(m.start, spec.start))
            parts.append(rep)
            used.append(m.label)
        elif seg_start is None:
            seg_start = max(m.start, spec.start)
    flush(spec.end)
    if not used:
        return None
    live = [p.period_label for p in parts if p.sealed is None]
    note = f"added up from the sealed months {', '.join(used)}" + (
        " and what the store holds for the rest" if live else ""
    )
    report = compose_reports(
        defn,
        parts,
        period_start=spec.start.to_pydatetime(),
        period_end=spec.end.to_pydatetime(),
        evaluated_until=t_end.to_pydatetime(),
        period_label=spec.label,
        period_kind=spec.kind,
        binding=spec.binding,
        notes=(note, f"monitoring started {mon.describe()}"),
    )
    return report, tuple(used)


def _report_for(
    store: Store,
    site: Site,
    defn: SlaDefinition,
    spec: PeriodSpec,
    t_end: pd.Timestamp,
    mon: MonitoringStart,
    seals: Mapping[str, Mapping[str, Any]],
) -> SlaReport:
    seal = seals.get(spec.label)
    if seal is not None and t_end >= spec.end and seal.get("period_kind") == spec.kind:
        return _recheck(store, site, defn, spec, seal, seals)
    if spec.kind != "month" and seals:
        months = {
            label: sealed_report(s) for label, s in seals.items() if s.get("period_kind") == "month"
        }
        composed = _composed(store, site, defn, spec, t_end, mon, months)
        if composed is not None:
            return composed[0]
    return _live(store, site, defn, spec, t_end, mon)


# --------------------------------------------------------------------------- sealing
#: A closed period is sealed this long after its end even when no later reading came.
SEAL_GRACE = pd.Timedelta(hours=48)


@dataclass(frozen=True)
class SealCandidate:
    """A period's report ready to be sealed, and the month labels a contract year adds up."""

    report: SlaReport
    composed_from: tuple[str, ...] = ()


def _closed(
    end: pd.Timestamp, now: pd.Timestamp, last: pd.Timestamp | None, grace: pd.Timedelta
) -> bool:
    """A period is closed once it has ended and data came in after its end (the site
    caught up), or ``grace`` has passed since."""
    return end <= now and (now >= end + grace or (last is not None and last >= end))


def closed_unsealed_periods(
    store: Store,
    site: Site,
    now: dt.datetime,
    seals: Mapping[str, Mapping[str, Any]],
    *,
    grace: pd.Timedelta = SEAL_GRACE,
) -> list[PeriodSpec]:
    """Months (and contract years, when the SLA period has them) that have closed since
    monitoring started and are not sealed yet, months first."""
    defn = SlaDefinition.from_site(site)
    mon = monitoring_start(store, site.id, defn)
    if mon.at is None:
        return []
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    start = pd.Timestamp(mon.at)
    ext = store.extent(site.id, defn.measured_point)
    last = None if ext is None else ext[1]
    out = [
        m
        for m in month_specs(defn, start, now_ts)
        if m.label not in seals and m.end > start and _closed(m.end, now_ts, last, grace)
    ]
    if defn.period in ("contract_year", "both"):
        out += [
            y
            for y in contract_year_specs(defn, start, now_ts)
            if y.label not in seals and y.end > start and _closed(y.end, now_ts, last, grace)
        ]
    return out


def seal_candidates(
    store: Store,
    site: Site,
    specs: Sequence[PeriodSpec],
    seals: Mapping[str, Mapping[str, Any]],
) -> list[SealCandidate]:
    """Reports to seal for ``specs`` (months evaluated from the store; a contract year
    added up from its month seals, those of ``specs`` included)."""
    defn = SlaDefinition.from_site(site)
    mon = monitoring_start(store, site.id, defn)
    months: dict[str, SlaReport] = {
        label: sealed_report(s) for label, s in seals.items() if s.get("period_kind") == "month"
    }
    out: list[SealCandidate] = []
    for spec in specs:
        if spec.kind != "month":
            continue
        rep = _live(store, site, defn, spec, spec.end, mon)
        months[spec.label] = rep
        out.append(SealCandidate(rep))
    for spec in specs:
        if spec.kind == "month":
            continue
        composed = _composed(store, site, defn, spec, spec.end, mon, months)
        if composed is None:
            out.append(SealCandidate(_live(store, site, defn, spec, spec.end, mon)))
        else:
            out.append(SealCandidate(*composed))
    return out


def find_period(site: Site, period: str) -> PeriodSpec:
    """The one period ``--period`` names for sealing: a month (``YYYY-MM``) or a contract
    year (``YYYY``).

    Raises
    ------
    SLAError
        A day range, or text that names no period.
    """
    defn = SlaDefinition.from_site(site)
    spec = parse_period(period, defn)[0]
    if spec.kind not in ("month", "contract_year"):
        raise SLAError(
            f"--period {period!r}: only a month (YYYY-MM) or a contract year (YYYY) is sealed, "
            "not a range of days"
        )
    return spec
