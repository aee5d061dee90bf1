"""OpenSLO v1 import and export of a heat-delivery SLA.

OpenSLO v1 (``apiVersion: openslo/v1``, https://github.com/OpenSLO/OpenSLO,
README "SLO", "SLI", "Objectives") expresses an SLO as a ratio SLI over a
calendar or rolling time window with a target. It has no two-sided bands,
no exclusion windows and no per-event limits, so the export carries those in
``metadata.annotations`` under the prefix ``heatreuse.org/`` (annotations are
``map[string]string``: structured values are compact JSON strings).

Mapping
-------
- one ``kind: SLO`` document per period: ``period: month`` gives one SLO with
  ``timeWindow: [{duration: 1M, isRolling: false, calendar: ...}]``,
  ``contract_year`` one with ``duration: 1Y``, ``both`` two documents
  (month first) in one multi-document YAML stream;
- ``calendar.timeZone`` is the site's zone, ``calendar.startTime`` the
  contract start (``YYYY-MM-DD 00:00:00``, local); without a contract start
  the year window starts on 1 January (calendar year);
- ``budgetingMethod: Timeslices`` with ``timeSliceWindow: 1m`` and
  ``timeSliceTarget: 1`` (a minute is good or bad as a whole);
- ``objectives[0].target`` is ``target_fraction``;
- ``spec.indicator.spec.ratioMetric`` has ``good`` (valid minutes in band)
  and ``total`` (valid minutes) from ``metricSource.type: heatreuse`` naming the
  measured point;
- annotations: band, measured/redundant point, slice rule, missing-data rule,
  operating hours, maintenance notice and windows, per-event limit, minimum
  heat per day, escalation ladder, period, contract start date, site id, minimum data
  coverage for a "met" verdict, monitoring start.

Import accepts what export writes (lossless round trip) and any OpenSLO v1 SLO
with an inline ratio SLI, a calendar 1M/1Y window and the band annotations;
anything else raises :class:`heatreuse.errors.SLAError` naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from typing import Any

import yaml

from heatreuse.errors import SLAError
from heatreuse.sla.definition import MaintenanceWindowDef, SlaDefinition, parse_operating_hours

API_VERSION = "openslo/v1"
PREFIX = "heatreuse.org/"

A_SITE_ID = PREFIX + "site-id"
A_BAND_MIN = PREFIX + "supply-band-min-temp-c"
A_BAND_MAX = PREFIX + "supply-band-max-temp-c"
A_POINT = PREFIX + "measured-point"
A_REDUNDANT = PREFIX + "redundant-point"
A_SLICE = PREFIX + "slice-rule"
A_MISSING = PREFIX + "missing-data"
A_HOURS = PREFIX + "operating-hours"
A_NOTICE = PREFIX + "maintenance-notice-h"
A_WINDOWS = PREFIX + "maintenance-windows"
A_MAX_INT = PREFIX + "max-interruption-h"
A_MIN_HEAT = PREFIX + "min-heat-per-day-kwh"
A_LADDER = PREFIX + "escalation-ladder-h"
A_PERIOD = PREFIX + "period"
A_START = PREFIX + "contract-start-date"
A_COVERAGE = PREFIX + "min-data-coverage-fraction"
A_MONITORING = PREFIX + "monitoring-start"

_DURATION = {"month": "1M", "contract_year": "1Y"}
_NAME_BAD = re.compile(r"[^a-z0-9-]+")


def _num(value: float) -> str:
    """A float as text that parses back to the same float (repr is exact)."""
    return repr(float(value))


def _rfc1123(text: str) -> str:
    name = _NAME_BAD.sub("-", text.lower()).strip("-")
    return (name or "site")[:63].rstrip("-")


def _annotations(defn: SlaDefinition) -> dict[str, str]:
    a: dict[str, str] = {
        A_SITE_ID: defn.site_id,
        A_BAND_MIN: _num(defn.band_min_temp_c),
        A_BAND_MAX: _num(defn.band_max_temp_c),
        A_POINT: defn.measured_point,
        A_SLICE: defn.slice_rule,
        A_MISSING: defn.missing_data,
        A_HOURS: "always" if defn.always_open else json.dumps(defn.operating_hours_text()),
        A_NOTICE: _num(defn.maintenance_notice_h),
        A_WINDOWS: json.dumps(
            [
                {
                    "start": w.start_utc.isoformat(),
                    "end": w.end_utc.isoformat(),
                    "announced_at": w.announced_at_utc.isoformat(),
                    "description": w.description,
                }
                for w in defn.maintenance_windows
            ]
        ),
        A_LADDER: json.dumps(list(defn.escalation_ladder_h)),
        A_PERIOD: defn.period,
        A_COVERAGE: _num(defn.min_data_coverage_fraction),
    }
    if defn.monitoring_start is not None:
        a[A_MONITORING] = defn.monitoring_start.isoformat()
    if defn.redundant_point is not None:
        a[A_REDUNDANT] = defn.redundant_point
    if defn.max_interruption_h is not None:
        a[A_MAX_INT] = _num(defn.max_interruption_h)
    if defn.min_heat_per_day_kwh is not None:
        a[A_MIN_HEAT] = _num(defn.min_heat_per_day_kwh)
    if defn.contract_start_date is not None:
        a[A_START] = defn.contract_start_date.isoformat()
    return a


def _time_window(defn: SlaDefinition, kind: str) -> dict[str, Any]:
    start = defn.contract_start_date
    if kind == "month":
        day = dt.date(start.year, start.month, 1) if start else dt.date(2000, 1, 1)
    else:
        day = start or dt.date(2000, 1, 1)
    return {
        "duration": _DURATION[kind],
        "isRolling": False,
        "calendar": {"startTime": f"{day.isoformat()} 00:00:00", "timeZone": defn.timezone},
    }


def to_openslo_documents(defn: SlaDefinition) -> list[dict[str, Any]]:
    """The SLA as OpenSLO v1 ``SLO`` documents (one per period; two for ``both``).

    Parameters
    ----------
    defn
        The SLA.

    Returns
    -------
    list of dict
        Plain data, ready for ``yaml.safe_dump_all``.
    """
    kinds = ["month", "contract_year"] if defn.period == "both" else [defn.period]
    band = f"{defn.band_min_temp_c:g}-{defn.band_max_temp_c:g} C"
    base = _rfc1123(defn.site_id)
    docs: list[dict[str, Any]] = []
    for kind in kinds:
        label = "monthly" if kind == "month" else "contract-year"
        metric_spec = {"point": defn.measured_point, "siteId": defn.site_id}
        docs.append(
            {
                "apiVersion": API_VERSION,
                "kind": "SLO",
                "metadata": {
                    "name": f"{base}-heat-delivery-{label}",
                    "displayName": f"Heat delivery {band}, {label}, site {defn.site_id}",
                    "annotations": _annotations(defn),
                },
                "spec": {
                    "description": (
                        f"Supply temperature ({defn.measured_point}) within {band} for "
                        f"{defn.target_fraction:.4%} of valid minutes (operating hours, outside "
                        "announced maintenance) per "
                        + ("calendar month." if kind == "month" else "contract year.")
                    ),
                    "service": defn.site_id,
                    "indicator": {
                        "metadata": {"name": f"{base}-supply-temp-in-band"},
                        "spec": {
                            "description": (
                                "Ratio of valid 1-minute slices with the supply temperature "
                                f"in band ({defn.slice_rule}) to all valid slices."
                            ),
                            "ratioMetric": {
                                "counter": False,
                                "good": {
                                    "metricSource": {
                                        "type": "heatreuse",
                                        "spec": {**metric_spec, "slices": "valid_in_band"},
                                    }
                                },
                                "total": {
                                    "metricSource": {
                                        "type": "heatreuse",
                                        "spec": {**metric_spec, "slices": "valid"},
                                    }
                                },
                            },
                        },
                    },
                    "timeWindow": [_time_window(defn, kind)],
                    "budgetingMethod": "Timeslices",
                    "objectives": [
                        {
                            "displayName": f"supply temperature in {band}",
                            "target": defn.target_fraction,
                            "timeSliceTarget": 1.0,
                            "timeSliceWindow": "1m",
                        }
                    ],
                },
            }
        )
    return docs


def export_openslo(defn: SlaDefinition) -> str:
    """The SLA as OpenSLO v1 YAML text (multi-document when the period is ``both``)."""
    return yaml.safe_dump_all(
        to_openslo_documents(defn), sort_keys=False, default_flow_style=False, width=100
    )


# --------------------------------------------------------------------------- import
def _get(data: Any, path: str, where: str) -> Any:
    cur = data
    done: list[str] = []
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            have = sorted(cur) if isinstance(cur, dict) else type(cur).__name__
            raise SLAError(
                f"{where}: {'.'.join([*done, part])}: required field missing (found {have})"
            )
        cur = cur[part]
        done.append(part)
    return cur


def _float(text: Any, field: str, where: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise SLAError(f"{where}: {field}: expected a number, got {text!r}") from None


def _json(text: Any, field: str, where: str) -> Any:
    if not isinstance(text, str):
        raise SLAError(f"{where}: {field}: expected a JSON string, got {text!r}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SLAError(f"{where}: {field}: expected JSON, got {text!r} ({exc.msg})") from None


def _parse_one(doc: Any, where: str) -> tuple[str, SlaDefinition]:
    """Parse one SLO document into (period kind, definition)."""
    if not isinstance(doc, dict):
        raise SLAError(f"{where}: expected a mapping (an OpenSLO object), got {doc!r}")
    api = doc.get("apiVersion")
    if api != API_VERSION:
        raise SLAError(f"{where}: apiVersion: expected {API_VERSION!r}, got {api!r}")
    kind = doc.get("kind")
    if kind != "SLO":
        raise SLAError(f"{where}: kind: expected 'SLO', got {kind!r}")
    name = _get(doc, "metadata.name", where)
    if not isinstance(name, str) or not name:
        raise SLAError(f"{where}: metadata.name: expected a non-empty string, got {name!r}")
    ann = doc["metadata"].get("annotations") or {}
    if not isinstance(ann, dict):
        raise SLAError(f"{where}: metadata.annotations: expected map[string]string, got {ann!r}")
    spec = _get(doc, "spec", where)
    if not isinstance(spec, dict):
        raise SLAError(f"{where}: spec: expected a mapping, got {spec!r}")
    if "indicator" not in spec:
        if "indicatorRef" in spec:
            raise SLAError(
                f"{where}: spec.indicatorRef: expected an inline spec.indicator (references "
                "to separate SLI objects are not supported), got indicatorRef"
            )
        _get(doc, "spec.indicator", where)
    ratio = _get(doc, "spec.indicator.spec", where)
    if not isinstance(ratio, dict) or "ratioMetric" not in ratio:
        raise SLAError(
            f"{where}: spec.indicator.spec.ratioMetric: required (a heat-delivery SLI is a "
            "ratio of good to valid minutes); got "
            + (f"{sorted(ratio)}" if isinstance(ratio, dict) else repr(ratio))
        )
    rm = ratio["ratioMetric"]
    if not isinstance(rm, dict) or "total" not in rm or not ("good" in rm or "bad" in rm):
        raise SLAError(
            f"{where}: spec.indicator.spec.ratioMetric: expected 'good' (or 'bad') and "
            f"'total', got {sorted(rm) if isinstance(rm, dict) else rm!r}"
        )
    budgeting = spec.get("budgetingMethod")
    if budgeting != "Timeslices":
        raise SLAError(
            f"{where}: spec.budgetingMethod: expected 'Timeslices' (1-minute slices), "
            f"got {budgeting!r}"
        )
    windows = _get(doc, "spec.timeWindow", where)
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], dict):
        raise SLAError(
            f"{where}: spec.timeWindow: expected a list with exactly one window, got {windows!r}"
        )
    tw = windows[0]
    duration = tw.get("duration")
    period_kind = {"1M": "month", "1Y": "contract_year", "12M": "contract_year"}.get(str(duration))
    if period_kind is None:
        raise SLAError(
            f"{where}: spec.timeWindow[0].duration: expected '1M' (calendar month) or '1Y' "
            f"(contract year), got {duration!r}"
        )
    if tw.get("isRolling", False) is not False:
        raise SLAError(
            f"{where}: spec.timeWindow[0].isRolling: expected false (SLA periods are calendar "
            f"aligned), got {tw.get('isRolling')!r}"
        )
    cal = tw.get("calendar")
    if not isinstance(cal, dict):
        raise SLAError(
            f"{where}: spec.timeWindow[0].calendar: required with startTime and timeZone, "
            f"got {cal!r}"
        )
    timezone = cal.get("timeZone")
    if not isinstance(timezone, str):
        raise SLAError(
            f"{where}: spec.timeWindow[0].calendar.timeZone: expected an IANA zone name, "
            f"got {timezone!r}"
        )
    start_text = str(cal.get("startTime", ""))
    try:
        start_time = dt.datetime.fromisoformat(start_text)
    except ValueError:
        raise SLAError(
            f"{where}: spec.timeWindow[0].calendar.startTime: expected 'YYYY-MM-DD hh:mm:ss', "
            f"got {start_text!r}"
        ) from None
    objectives = _get(doc, "spec.objectives", where)
    if not isinstance(objectives, list) or len(objectives) != 1:
        raise SLAError(
            f"{where}: spec.objectives: expected exactly one objective, got {objectives!r}"
        )
    obj = objectives[0]
    if not isinstance(obj, dict):
        raise SLAError(f"{where}: spec.objectives[0]: expected a mapping, got {obj!r}")
    if "target" in obj:
        target = _float(obj["target"], "spec.objectives[0].target", where)
    elif "targetPercent" in obj:
        target = _float(obj["targetPercent"], "spec.objectives[0].targetPercent", where) / 100
    else:
        raise SLAError(f"{where}: spec.objectives[0]: expected 'target' or 'targetPercent'")
    slice_window = str(obj.get("timeSliceWindow", "1m"))
    if slice_window not in ("1m", "1"):
        raise SLAError(
            f"{where}: spec.objectives[0].timeSliceWindow: expected '1m' (1-minute slices), "
            f"got {slice_window!r}"
        )

    def ann_num(key: str) -> float | None:
        return _float(ann[key], f"metadata.annotations[{key}]", where) if key in ann else None

    for key in (A_BAND_MIN, A_BAND_MAX):
        if key not in ann:
            raise SLAError(
                f"{where}: metadata.annotations[{key}]: required (OpenSLO has no two-sided "
                "band; the band travels in annotations)"
            )
    period = ann.get(A_PERIOD, period_kind)
    if A_START in ann:
        try:
            contract_start: dt.date | None = dt.date.fromisoformat(str(ann[A_START]))
        except ValueError:
            raise SLAError(
                f"{where}: metadata.annotations[{A_START}]: expected YYYY-MM-DD, "
                f"got {ann[A_START]!r}"
            ) from None
    elif period_kind == "contract_year" and (start_time.month, start_time.day) != (1, 1):
        contract_start = start_time.date()
    else:
        contract_start = None
    hours = (
        parse_operating_hours(
            ann[A_HOURS] if ann[A_HOURS] == "always" else _json(ann[A_HOURS], A_HOURS, where),
            f"{where}: metadata.annotations[{A_HOURS}]",
        )
        if A_HOURS in ann
        else parse_operating_hours("always", where)
    )
    windows_data = _json(ann[A_WINDOWS], A_WINDOWS, where) if A_WINDOWS in ann else []
    if not isinstance(windows_data, list):
        raise SLAError(f"{where}: metadata.annotations[{A_WINDOWS}]: expected a JSON list")
    mw: list[MaintenanceWindowDef] = []
    for i, w in enumerate(windows_data):
        field = f"metadata.annotations[{A_WINDOWS}][{i}]"
        try:
            mw.append(
                MaintenanceWindowDef(
                    start_utc=dt.datetime.fromisoformat(w["start"]),
                    end_utc=dt.datetime.fromisoformat(w["end"]),
                    announced_at_utc=dt.datetime.fromisoformat(w["announced_at"]),
                    description=str(w.get("description", "")),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SLAError(
                f"{where}: {field}: expected start, end, announced_at as ISO 8601 with offset, "
                f"got {w!r} ({exc})"
            ) from None
        except SLAError as exc:
            raise SLAError(f"{where}: {field}: {exc}") from None
    ladder = _json(ann[A_LADDER], A_LADDER, where) if A_LADDER in ann else [0.25, 1.0, 2.0, 3.0]
    if not isinstance(ladder, list):
        raise SLAError(f"{where}: metadata.annotations[{A_LADDER}]: expected a JSON list")
    notice = ann_num(A_NOTICE)
    coverage = ann_num(A_COVERAGE)
    monitoring_start: dt.datetime | None = None
    if A_MONITORING in ann:
        try:
            monitoring_start = dt.datetime.fromisoformat(str(ann[A_MONITORING]))
        except ValueError:
            raise SLAError(
                f"{where}: metadata.annotations[{A_MONITORING}]: expected ISO 8601 with offset, "
                f"got {ann[A_MONITORING]!r}"
            ) from None
    band_min, band_max = ann_num(A_BAND_MIN), ann_num(A_BAND_MAX)
    assert band_min is not None and band_max is not None
    try:
        defn = SlaDefinition(
            site_id=str(ann.get(A_SITE_ID, spec.get("service", name))),
            timezone=timezone,
            band_min_temp_c=band_min,
            band_max_temp_c=band_max,
            target_fraction=target,
            period=period,
            contract_start_date=contract_start,
            operating_minutes_by_weekday=hours,
            maintenance_notice_h=48.0 if notice is None else notice,
            maintenance_windows=tuple(mw),
            max_interruption_h=ann_num(A_MAX_INT),
            min_heat_per_day_kwh=ann_num(A_MIN_HEAT),
            measured_point=str(ann.get(A_POINT, "customer.supply_temp_c")),
            redundant_point=ann.get(A_REDUNDANT),
            slice_rule=ann.get(A_SLICE, "mean"),
            missing_data=ann.get(A_MISSING, "bad"),
            escalation_ladder_h=tuple(
                _float(x, f"metadata.annotations[{A_LADDER}]", where) for x in ladder
            ),
            min_data_coverage_fraction=0.95 if coverage is None else coverage,
            monitoring_start=monitoring_start,
        )
    except SLAError as exc:
        raise SLAError(f"{where}: {exc}") from None
    return period_kind, defn


def from_openslo_documents(docs: list[Any], where: str = "<openslo>") -> SlaDefinition:
    """Parse OpenSLO v1 ``SLO`` documents back into one :class:`SlaDefinition`.

    One document (month or year window) or two (month and year) describing the
    same SLA. Other kinds in the stream (Service, SLI ...) are refused.

    Raises
    ------
    SLAError
        Naming the document and field that is missing or invalid.
    """
    flat: list[Any] = []
    for doc in docs:
        if isinstance(doc, list):
            flat.extend(doc)
        elif doc is not None:
            flat.append(doc)
    if not flat:
        raise SLAError(f"{where}: expected one or two OpenSLO v1 SLO documents, got none")
    if len(flat) > 2:
        raise SLAError(
            f"{where}: expected one or two OpenSLO v1 SLO documents (month and/or contract "
            f"year), got {len(flat)}"
        )
    parsed = [_parse_one(d, f"{where} document {i + 1}") for i, d in enumerate(flat)]
    kinds = sorted(k for k, _ in parsed)
    first = parsed[0][1]
    if len(parsed) == 2:
        if kinds != ["contract_year", "month"]:
            raise SLAError(
                f"{where}: two SLO documents must be one month (1M) and one contract year "
                f"(1Y) window, got {kinds}"
            )
        other = parsed[1][1]
        if first != other:
            diffs = [
                name
                for name in first.__dataclass_fields__
                if getattr(first, name) != getattr(other, name) and name != "period"
            ]
            if diffs:
                raise SLAError(
                    f"{where}: the month and contract-year SLO documents disagree on {diffs}"
                )
        period = "both"
    else:
        period = kinds[0]
    if first.period != period:
        if len(parsed) == 1 and A_PERIOD in (flat[0].get("metadata", {}).get("annotations") or {}):
            raise SLAError(
                f"{where}: metadata.annotations[{A_PERIOD}]: says {first.period!r} but the one "
                f"SLO document has a {period} window; expected "
                + ("a 1M and a 1Y document" if first.period == "both" else "them to agree")
            )
        first = replace(first, period=period)  # type: ignore[arg-type]
    return first


def import_openslo(text: str, where: str = "<openslo>") -> SlaDefinition:
    """Parse OpenSLO v1 YAML text into a :class:`SlaDefinition`.

    Parameters
    ----------
    text
        YAML, one or two ``kind: SLO`` documents (or a YAML list of them).
    where
        File name for error messages.
    """
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise SLAError(f"{where}: not valid YAML: {exc}") from None
    return from_openslo_documents(docs, where)


def sla_terms_yaml(defn: SlaDefinition) -> str:
    """The site-file YAML (``contract.sla`` plus a commented operating-hours note).

    The text validates as :class:`heatreuse.site.model.SlaTerms`. Operating
    hours and the time zone belong to ``customer.operating_hours`` and
    ``location.timezone``; they follow as comments.
    """
    terms = defn.to_sla_terms()  # validates
    data = terms.model_dump(exclude_none=True)
    text = yaml.safe_dump({"contract": {"sla": data}}, sort_keys=False, width=100)
    hours = "always: true" if defn.always_open else json.dumps(defn.operating_hours_text())
    note = (
        f"# site {defn.site_id}; the SLA also depends on (set these in the site file):\n"
        f"#   location.timezone: {defn.timezone}\n"
        f"#   customer.operating_hours: {hours}\n"
    )
    return note + text
