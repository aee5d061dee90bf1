"""Drill scenarios: ``name@START+DURATION[:severity]`` text to fault specifications.

A scenario is one fault of the twin (issue 4) with a start, a duration and a
severity. Scenarios combine: a drill or a twin run takes any number of them,
and :func:`scenarios_to_faults` turns them into the fault specifications of
:mod:`heatreuse.simulation.faults` (whose combination rules apply).

Text form
---------
::

    name[@START][+DURATION][:SEVERITY]

* ``name``: one of :data:`SCENARIO_NAMES`.
* ``START``: ISO 8601 date or date-time, e.g. ``2026-01-10T06:00``; with ``Z``
  or an offset (``+01:00``) it is taken as given, *without one it is UTC*
  (stated here, never guessed elsewhere). Missing: the caller's default
  (a drill uses :func:`default_drill_start`, a live twin "now").
* ``DURATION``: one or more number-unit pairs, units ``s``, ``min``/``m``,
  ``h``, ``d``, ``w`` (``5h``, ``1h30m``, ``3d``). Missing: the scenario's
  default (:data:`SCENARIO_DEFAULTS`).
* ``SEVERITY``: scenario specific (table below); missing: the default.

=========================  ====================================================  ==========
scenario                   severity                                              default
=========================  ====================================================  ==========
``pump_failure``           pump role (``primary``, ``secondary``, ``customer``)  primary, 0
                           and/or the fraction of its curve left (0 = trip),
                           e.g. ``secondary``, ``0.5``, ``secondary/0.4``
``hx_fouling``             UA fraction reached at the end of DURATION (the UA    0.4
                           falls linearly over DURATION and stays fouled to the
                           end of the run: fouling does not heal itself)
``sensor_false_low``       how far the controller's supply sensor reads low [K]  5
``sensor_drift``           drift of that sensor, reading ever lower [K/day]      2
``customer_disconnect``    none                                                  -
``compute_trip``           IT load multiplier left (0 = trip)                    0
``compute_surge``          IT load multiplier, 1..1.5                            1.3
``utility_feed_loss``      none                                                  -
``reject_path_unavailable``none                                                  -
=========================  ====================================================  ==========

Examples: ``pump_failure@2026-01-10T06:00+5h``,
``pump_failure@2026-01-10T06:00Z+2h:secondary/0.5``, ``hx_fouling+3d:0.3``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd

from heatreuse.errors import ScenarioError
from heatreuse.simulation.faults import (
    ComputeLoad,
    CustomerDisconnect,
    Fault,
    HxFouling,
    PumpFailure,
    RejectPathUnavailable,
    SensorFault,
    UtilityFeedLoss,
)
from heatreuse.simulation.scenario_catalog import (  # the catalogue is plain data
    SCENARIO_DEFAULTS,
    SCENARIO_DESCRIPTIONS,  # noqa: F401 - re-exported
    SCENARIO_NAMES,
)
from heatreuse.site.model import Site

_UNIT_S = {"s": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_START = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|z|[+-]\d{2}:?\d{2})?"
_DURATION = r"(?:\d+(?:\.\d+)?(?:min|s|m|h|d|w))+"
_SCENARIO_RE = re.compile(
    rf"^(?P<name>[a-z_]+)(?:@(?P<start>{_START}))?(?:\+(?P<duration>{_DURATION}))?"
    r"(?::(?P<severity>[^:]*))?$"
)
_PAIR_RE = re.compile(r"(\d+(?:\.\d+)?)(min|s|m|h|d|w)")


@dataclass(frozen=True)
class Scenario:
    """One drill scenario.

    Attributes
    ----------
    name
        One of :data:`SCENARIO_NAMES`.
    start
        Fault start (tz-aware UTC), or None: the caller's default.
    duration_s
        How long the fault lasts [s] (``hx_fouling``: the ramp time).
    severity
        Severity text (see the module table); "" for the default.
    text
        The text it was parsed from (or built), for reports.
    """

    name: str
    start: pd.Timestamp | None
    duration_s: float
    severity: str = ""
    text: str = ""

    def at(self, start: dt.datetime | pd.Timestamp) -> Scenario:
        """The same scenario starting at ``start`` (tz-aware)."""
        ts = pd.Timestamp(start)
        if ts.tzinfo is None:
            raise ScenarioError(f"scenario {self.name}: start must be tz-aware, got {start!r}")
        return Scenario(self.name, ts.tz_convert("UTC"), self.duration_s, self.severity)

    @property
    def end(self) -> pd.Timestamp | None:
        """Fault end (start + duration), or None without a start."""
        if self.start is None:
            return None
        return self.start + pd.Timedelta(seconds=self.duration_s)

    def label(self) -> str:
        """Canonical text ``name@START+DURATION[:severity]`` (UTC, ``Z``)."""
        out = self.name
        if self.start is not None:
            out += "@" + self.start.strftime("%Y-%m-%dT%H:%MZ")
        out += "+" + format_duration(self.duration_s)
        if self.severity:
            out += ":" + self.severity
        return out

    def faults(self) -> list[Fault]:
        """The fault specifications of this scenario (needs a start)."""
        if self.start is None:
            raise ScenarioError(f"scenario {self.text or self.name}: no start time given")
        return _faults(self)


def format_duration(seconds: float) -> str:
    """Short duration text: ``5h``, ``1h30m``, ``3d``, ``90s``."""
    s = round(seconds)
    if s <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            q, s = divmod(s, size)
            parts.append(f"{q}{unit}")
    return "".join(parts)


def parse_duration_s(text: str, where: str = "duration") -> float:
    """Parse ``5h``, ``1h30m``, ``90s``, ``3d``, ``2w``, ``60`` (seconds) into seconds.

    Raises
    ------
    ScenarioError
        Text that is not a sequence of number-unit pairs.
    """
    t = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", t):
        return float(t)
    if not t or not re.fullmatch(_DURATION, t):
        raise ScenarioError(
            f"{where}: expected a duration like '5h', '1h30m', '90s', '3d', got {text!r}"
        )
    return sum(float(n) * _UNIT_S[u] for n, u in _PAIR_RE.findall(t))


def _parse_start(text: str, where: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(text)
    except ValueError:
        raise ScenarioError(f"{where}: start {text!r} is not an ISO 8601 date-time") from None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")  # documented: a start without offset is UTC
    return ts.tz_convert("UTC")


def parse_scenario(text: str) -> Scenario:
    """Parse ``name[@START][+DURATION][:SEVERITY]`` (see the module docstring).

    Raises
    ------
    ScenarioError
        Unknown name (lists the known ones), bad start, duration or severity.
    """
    raw = text.strip()
    m = _SCENARIO_RE.match(raw)
    where = f"scenario {text!r}"
    if m is None:
        raise ScenarioError(
            f"{where}: expected 'name[@START][+DURATION][:SEVERITY]', e.g. "
            "'pump_failure@2026-01-10T06:00+5h' or 'hx_fouling+3d:0.3'"
        )
    name = m.group("name")
    if name not in SCENARIO_NAMES:
        raise ScenarioError(f"{where}: unknown scenario {name!r}; expected one of {SCENARIO_NAMES}")
    default_duration, _ = SCENARIO_DEFAULTS[name]
    start = _parse_start(m.group("start"), where) if m.group("start") else None
    duration = (
        parse_duration_s(m.group("duration"), where) if m.group("duration") else default_duration
    )
    if duration <= 0:
        raise ScenarioError(f"{where}: duration must be > 0, got {m.group('duration')!r}")
    severity = (m.group("severity") or "").strip()
    scenario = Scenario(name, start, duration, severity, raw)
    _faults(Scenario(name, start or pd.Timestamp("2000-01-01", tz="UTC"), duration, severity, raw))
    return scenario


def parse_scenarios(texts: Iterable[str]) -> list[Scenario]:
    """Parse several scenario texts (each may hold several separated by ``,``)."""
    out: list[Scenario] = []
    for text in texts:
        for part in text.split(","):
            if part.strip():
                out.append(parse_scenario(part))
    return out


def _number(text: str, where: str, lo: float, hi: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScenarioError(f"{where}: expected a number, got {text!r}") from None
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ScenarioError(f"{where}: expected a number in {lo:g}..{hi:g}, got {text!r}")
    return value


def _faults(s: Scenario) -> list[Fault]:
    assert s.start is not None
    where = f"scenario {s.text or s.name}: severity"
    sev = s.severity or SCENARIO_DEFAULTS[s.name][1]
    start, dur = s.start, s.duration_s
    if s.name == "pump_failure":
        role = "primary"
        fraction = 0.0
        for token in re.split(r"[/,;]", sev):
            token = token.strip().lower()
            if not token:
                continue
            if token in ("primary", "secondary", "customer"):
                role = token
            else:
                fraction = _number(token, f"{where} (fraction of the pump curve left)", 0.0, 1.0)
        return [
            PumpFailure(
                start=start,
                duration_s=dur,
                role=role,  # type: ignore[arg-type]
                availability_fraction=fraction,
            )
        ]
    if s.name == "hx_fouling":
        fraction = _number(sev, f"{where} (UA fraction)", 0.0, 1.0)
        return [HxFouling(start=start, duration_s=None, ua_fraction=fraction, ramp_s=dur)]
    if s.name == "sensor_false_low":
        offset = _number(sev, f"{where} (K low)", 0.0, 100.0)
        return [SensorFault(start=start, duration_s=dur, offset_k=-offset)]
    if s.name == "sensor_drift":
        drift = _number(sev, f"{where} (K/day low)", 0.0, 100.0)
        return [SensorFault(start=start, duration_s=dur, offset_k=0.0, drift_k_per_day=-drift)]
    if s.name == "customer_disconnect":
        _no_severity(s, where)
        return [CustomerDisconnect(start=start, duration_s=dur)]
    if s.name == "compute_trip":
        mult = _number(sev, f"{where} (IT load multiplier left)", 0.0, 1.0)
        return [ComputeLoad(start=start, duration_s=dur, multiplier=mult)]
    if s.name == "compute_surge":
        # up to 1.5: the registry's IT power range is 1.5 x nameplate
        mult = _number(sev, f"{where} (IT load multiplier)", 1.0, 1.5)
        return [ComputeLoad(start=start, duration_s=dur, multiplier=mult)]
    if s.name == "utility_feed_loss":
        _no_severity(s, where)
        return [UtilityFeedLoss(start=start, duration_s=dur)]
    if s.name == "reject_path_unavailable":
        _no_severity(s, where)
        return [RejectPathUnavailable(start=start, duration_s=dur)]
    raise ScenarioError(f"unknown scenario {s.name!r}")  # pragma: no cover


def _no_severity(s: Scenario, where: str) -> None:
    if s.severity:
        raise ScenarioError(f"{where}: {s.name} takes no severity, got {s.severity!r}")


def check_for_site(site: Site, scenarios: Sequence[Scenario]) -> None:
    """Refuse scenarios the site cannot have (they would silently do nothing).

    A ``pump_failure`` of a role the site has no pump for (e.g. ``customer`` on a
    site whose secondary pump also drives the customer circuit), ``hx_fouling``
    ... all other scenarios apply to every site.

    Raises
    ------
    ScenarioError
        Naming the scenario, the role asked for and the roles the site has.
    """
    roles = sorted({p.role for p in site.plant.pumps})
    for s in scenarios:
        if s.name != "pump_failure":
            continue
        probe = s if s.start is not None else s.at(pd.Timestamp("2000-01-01", tz="UTC"))
        for fault in probe.faults():
            if isinstance(fault, PumpFailure) and fault.role not in roles:
                raise ScenarioError(
                    f"scenario {s.text or s.label()}: site '{site.id}' has no {fault.role} pump "
                    f"(plant.pumps roles: {', '.join(roles)})"
                )


def scenarios_to_faults(scenarios: Sequence[Scenario]) -> list[Fault]:
    """All fault specifications of several scenarios (each needs a start)."""
    out: list[Fault] = []
    for s in scenarios:
        out.extend(s.faults())
    return out


def default_drill_start(timezone: str, year: int) -> pd.Timestamp:
    """Default scenario start: 06:00 site-local on the second Tuesday of January [UTC].

    A cold winter weekday morning, when the customer opens and heat matters
    most; the same date every run so drills are comparable.
    """
    cal = calendar.Calendar()
    tuesdays = [
        d for d in cal.itermonthdates(year, 1) if d.month == 1 and d.weekday() == calendar.TUESDAY
    ]
    day = tuesdays[1]
    local = dt.datetime(day.year, day.month, day.day, 6, 0, tzinfo=ZoneInfo(timezone))
    return pd.Timestamp(local).tz_convert("UTC")


def standard_drill_set(start: dt.datetime | pd.Timestamp) -> list[Scenario]:
    """The standard drill set: every scenario once at ``start``, default duration/severity."""
    ts = pd.Timestamp(start)
    if ts.tzinfo is None:
        raise ScenarioError(f"standard drill set: start must be tz-aware, got {start!r}")
    return [
        Scenario(name, ts.tz_convert("UTC"), SCENARIO_DEFAULTS[name][0], "", name)
        for name in SCENARIO_NAMES
    ]
