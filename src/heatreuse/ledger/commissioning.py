"""Commissioning results in the ledger: the ``commissioning`` entry and its checks (pure).

``heatreuse commission`` runs the commissioning checklist over a period of stored data
and appends one entry through the signed append of ``heatreuse ledger update``::

    {"type": "commissioning", "site_id": "pool-potsdam", "method": "commissioning/1",
     "period_start": "2026-01-05T00:00:00Z", "period_end": "2026-01-08T00:00:00Z",
     "commissioned_at": "2026-01-08T09:00:00Z", "passed": true,
     "passed_at": "2026-01-08T00:00:00Z",
     "items": [{"item": "points_report", "status": "pass", "evidence": "..."}, ...],
     "baselines": {"hx_ua_w_per_k": 5210.4, ...}}

``passed`` is true exactly when no item failed and at least one passed; ``passed_at``
(the end of the commissioned period: when the evidence was complete) is set exactly
when it passed. The SLA counts the site as in operation from the latest ``passed_at``
(:func:`heatreuse.services.sla.monitoring_start`); the ``hx_fouling`` rule takes its
baseline UA from the latest entry's ``baselines.hx_ua_w_per_k``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "COMMISSIONING_FIELDS",
    "COMMISSIONING_METHOD",
    "ENTRY_COMMISSIONING",
    "ITEM_STATUSES",
    "check_commissioning_entries",
    "commissioning_entry",
    "commissioning_passed",
]

ENTRY_COMMISSIONING = "commissioning"
COMMISSIONING_METHOD = "commissioning/1"
ITEM_STATUSES = ("pass", "fail", "skipped")
COMMISSIONING_FIELDS = (
    "site_id",
    "method",
    "period_start",
    "period_end",
    "commissioned_at",
    "passed",
    "passed_at",
    "items",
    "baselines",
)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def commissioning_passed(items: Sequence[Mapping[str, Any]]) -> bool:
    """True when no item failed and at least one passed (all skipped proves nothing)."""
    statuses = [str(i.get("status")) for i in items]
    return "fail" not in statuses and "pass" in statuses


def commissioning_entry(
    site_id: str,
    items: Sequence[Mapping[str, Any]],
    baselines: Mapping[str, Any],
    period_start: dt.datetime,
    period_end: dt.datetime,
    commissioned_at: dt.datetime,
    method: str = COMMISSIONING_METHOD,
) -> dict[str, Any]:
    """The ``commissioning`` entry of one checklist run (layout in the module docstring).

    Parameters
    ----------
    items
        ``{"item", "status", "evidence"}`` per checklist item (status in
        :data:`ITEM_STATUSES`).
    baselines
        The measured baselines (JSON values; numbers in the unit their name says).
    period_start, period_end
        The commissioned period [UTC, tz-aware].
    commissioned_at
        When the checklist ran [UTC, tz-aware].
    """
    passed = commissioning_passed(items)
    return {
        "type": ENTRY_COMMISSIONING,
        "site_id": site_id,
        "method": method,
        "period_start": _iso(period_start),
        "period_end": _iso(period_end),
        "commissioned_at": _iso(commissioned_at),
        "passed": passed,
        "passed_at": _iso(period_end) if passed else None,
        "items": [
            {"item": str(i["item"]), "status": str(i["status"]), "evidence": str(i["evidence"])}
            for i in items
        ],
        "baselines": dict(baselines),
    }


def _problems(e: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    missing = [f for f in COMMISSIONING_FIELDS if f not in e]
    if missing:
        return [f"commissioning: missing fields {missing}"]
    for key in ("site_id", "method", "period_start", "period_end", "commissioned_at"):
        if not isinstance(e[key], str) or not e[key]:
            out.append(f"commissioning: field {key!r} must be a non-empty string, got {e[key]!r}")
    items = e["items"]
    if not isinstance(items, list) or not items:
        return [*out, "commissioning: items must be a non-empty list"]
    for n, it in enumerate(items):
        if not isinstance(it, dict) or set(it) != {"item", "status", "evidence"}:
            out.append(f"commissioning: items[{n}] must be {{item, status, evidence}}, got {it!r}")
        elif it["status"] not in ITEM_STATUSES:
            out.append(
                f"commissioning: items[{n}] ({it['item']}) status must be one of "
                f"{list(ITEM_STATUSES)}, got {it['status']!r}"
            )
    if out:
        return out
    passed = commissioning_passed(items)
    if e["passed"] is not passed:
        out.append(
            f"commissioning: passed is {e['passed']!r} but the items say {passed} (passed means "
            "no item failed and at least one passed)"
        )
    if passed and e["passed_at"] != e["period_end"]:
        out.append(
            f"commissioning: passed_at {e['passed_at']!r} must be the period end "
            f"{e['period_end']!r}"
        )
    if not passed and e["passed_at"] is not None:
        out.append(f"commissioning: failed but passed_at is {e['passed_at']!r}")
    if not isinstance(e["baselines"], dict):
        out.append("commissioning: baselines must be an object")
    if isinstance(e["period_start"], str) and e["period_start"] >= e["period_end"]:
        out.append(
            f"commissioning: period_start {e['period_start']} is not before period_end "
            f"{e['period_end']}"
        )
    return out


def check_commissioning_entries(
    entries: Sequence[Mapping[str, Any] | None],
) -> list[tuple[int, str]]:
    """Check every ``commissioning`` entry of a log; ``(index, problem)`` for each failure
    (``None``: a line that did not parse, reported elsewhere)."""
    return [
        (i, p)
        for i, e in enumerate(entries)
        if e is not None and e.get("type") == ENTRY_COMMISSIONING
        for p in _problems(e)
    ]
