"""Sealed SLA results in the ledger: the ``sla_seal`` entry and its checks (pure, no I/O).

When an SLA period (a site-local month, a contract year) has closed, its result is
appended to the site's ledger as one ``sla_seal`` entry. Reports of the period read
the seal from then on, so deleting the period's data (retention) or data arriving
later can no longer change its verdict silently. Entry layout::

    {"type": "sla_seal", "site_id": "pool-potsdam",
     "period": "2026-01", "period_kind": "month",          # or "contract_year"
     "period_start": "2025-12-31T23:00:00Z", "period_end": "2026-01-31T23:00:00Z",
     "seal_number": 1,                # 1 for the first seal of the period, then 2, 3 ...
     "supersedes_index": null,        # a re-seal names the entry it replaces ...
     "reason": null,                  # ... and says why (required then)
     "sealed_at": "...Z", "method_version": "ledger-method/3",
     "sla_definition_sha256": "...",  # the sla_definition entry in force
     "verdict": "breached",           # met | breached | unknown
     "breached": true,                # the contract's terms as counted
     "data_coverage_fraction": 0.98, "min_data_coverage_fraction": 0.95,
     "evidence": {"valid_min": .., "good_min": .., "bad_min": .., "unknown_min": ..,
                  "excluded_min": .., "excluded_closed_min": ..,
                  "excluded_maintenance_min": .., "excluded_unmonitored_min": ..,
                  "counted_min": ..},
     "composed_from": [12, 40],      # contract year: the month seals it adds up
     "report": {...}}                # the full SLA report (SlaReport.to_dict, no burn rates)

:func:`check_seal_entries` is what ``heatreuse verify`` runs over an export: the
evidence adds up, the coverage follows from it, a ``met`` verdict has the coverage
it needs and no broken term, the report agrees with the evidence, and every
period's seals form one chain (each re-seal names the previous seal and gives a
reason), so a sealed result cannot be replaced without a trace.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ENTRY_SLA_SEAL",
    "SEAL_EVIDENCE_FIELDS",
    "SEAL_REPORT_DROP",
    "check_seal_entries",
    "seal_evidence",
]

ENTRY_SLA_SEAL = "sla_seal"
#: Minute counts a seal carries as evidence [min].
SEAL_EVIDENCE_FIELDS = (
    "valid_min",
    "good_min",
    "bad_min",
    "unknown_min",
    "excluded_min",
    "excluded_closed_min",
    "excluded_maintenance_min",
    "excluded_unmonitored_min",
    "counted_min",
)
#: Report keys a seal leaves out: alerting state at one moment, not the period's result.
SEAL_REPORT_DROP = ("burn_rate_", "page_alert", "ticket_alert", "alert_reasons", "sealed")
_VERDICTS = ("met", "breached", "unknown")
_TOL = 1e-9


def seal_evidence(report: Mapping[str, Any]) -> dict[str, int]:
    """The evidence counts of an SLA report dict (``SlaReport.to_dict()``)."""
    return {k: int(report[k]) for k in SEAL_EVIDENCE_FIELDS}


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _num(x: Any) -> float | None:
    """``x`` as a finite float, or None when it is not a finite JSON number."""
    if isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x):
        return float(x)
    return None


def _check_one(e: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    for key in ("site_id", "period", "period_kind", "period_start", "period_end"):
        if not isinstance(e.get(key), str):
            problems.append(f"sla_seal: field {key!r} must be a string, got {e.get(key)!r}")
    if not _is_int(e.get("seal_number")) or e["seal_number"] < 1:
        problems.append(
            f"sla_seal: seal_number must be an integer >= 1, got {e.get('seal_number')!r}"
        )
    verdict = e.get("verdict")
    if verdict not in _VERDICTS:
        problems.append(f"sla_seal: verdict must be one of {list(_VERDICTS)}, got {verdict!r}")
    ev = e.get("evidence")
    if not isinstance(ev, Mapping) or any(
        not _is_int(ev.get(k)) or ev[k] < 0 for k in SEAL_EVIDENCE_FIELDS
    ):
        problems.append(
            "sla_seal: evidence must hold non-negative integer minutes "
            f"{list(SEAL_EVIDENCE_FIELDS)}"
        )
        return problems
    good, bad, unknown, valid = ev["good_min"], ev["bad_min"], ev["unknown_min"], ev["valid_min"]
    if good + bad + unknown != valid:
        problems.append(
            f"sla_seal: evidence does not add up: good {good} + bad {bad} + unknown {unknown} "
            f"!= valid {valid}"
        )
    parts = ev["excluded_closed_min"] + ev["excluded_maintenance_min"]
    parts += ev["excluded_unmonitored_min"]
    if parts != ev["excluded_min"]:
        problems.append(
            f"sla_seal: excluded minutes do not add up: closed + maintenance + unmonitored = "
            f"{parts} != excluded {ev['excluded_min']}"
        )
    expected = valid + ev["excluded_unmonitored_min"]
    cov = e.get("data_coverage_fraction")
    if expected == 0:
        if cov is not None:
            problems.append(f"sla_seal: no minute was expected but coverage is {cov!r}")
    elif (c := _num(cov)) is None or abs(c - (good + bad) / expected) > _TOL:
        problems.append(
            f"sla_seal: data_coverage_fraction {cov!r} does not follow from the evidence "
            f"((good + bad) / (valid + unmonitored) = {(good + bad) / expected!r})"
        )
    need = e.get("min_data_coverage_fraction")
    if _num(need) is None:
        problems.append(f"sla_seal: min_data_coverage_fraction must be a number, got {need!r}")
    breached = e.get("breached")
    if not isinstance(breached, bool):
        problems.append(f"sla_seal: breached must be true or false, got {breached!r}")
    c, n = _num(cov), _num(need)
    if verdict == "met" and (
        breached is True or (c is not None and n is not None and c < n - _TOL)
    ):
        problems.append(
            f"sla_seal: verdict 'met' with coverage {cov!r} (needs {need!r}) and breached "
            f"{breached!r}: a met verdict needs enough data and no broken term"
        )
    report = e.get("report")
    if not isinstance(report, Mapping):
        problems.append("sla_seal: field 'report' must be an object (the SLA report)")
        return problems
    for k in SEAL_EVIDENCE_FIELDS:
        if report.get(k) != ev[k]:
            problems.append(
                f"sla_seal: report.{k} = {report.get(k)!r} differs from evidence.{k} = {ev[k]!r}"
            )
    for k in ("verdict", "breached", "data_coverage_fraction"):
        if report.get(k) != e.get(k):
            problems.append(
                f"sla_seal: report.{k} = {report.get(k)!r} differs from {k} {e.get(k)!r}"
            )
    if report.get("period") != e.get("period"):
        problems.append(
            f"sla_seal: report.period {report.get('period')!r} differs from period "
            f"{e.get('period')!r}"
        )
    return problems


def check_seal_entries(entries: Sequence[Mapping[str, Any] | None]) -> list[tuple[int, str]]:
    """Check every ``sla_seal`` entry of a log; ``(index, problem)`` for each failure.

    Parameters
    ----------
    entries
        The log's entries in order (``None`` for an unreadable one, skipped).

    Returns
    -------
    list of (int, str)
        Empty when every seal checks out (also for a log without seals).
    """
    problems: list[tuple[int, str]] = []
    chains: dict[tuple[str, str], list[int]] = {}
    for i, e in enumerate(entries):
        if e is None or e.get("type") != ENTRY_SLA_SEAL:
            continue
        problems.extend((i, p) for p in _check_one(e))
        key = (str(e.get("site_id")), str(e.get("period")))
        earlier = chains.setdefault(key, [])
        number, supersedes = e.get("seal_number"), e.get("supersedes_index")
        label = f"period {key[1]!r} of site {key[0]!r}"
        if not earlier:
            if supersedes is not None or number != 1:
                problems.append(
                    (
                        i,
                        f"sla_seal: first seal of {label} must have seal_number 1 and "
                        f"supersedes_index null, got {number!r} and {supersedes!r}",
                    )
                )
        else:
            if supersedes != earlier[-1] or number != len(earlier) + 1:
                problems.append(
                    (
                        i,
                        f"sla_seal: {label} was already sealed at entry {earlier[-1]}; a new "
                        f"seal must name it (supersedes_index {earlier[-1]}, seal_number "
                        f"{len(earlier) + 1}), got {supersedes!r} and {number!r}: a sealed "
                        "result replaced without a trace",
                    )
                )
            if not isinstance(e.get("reason"), str) or not e["reason"].strip():
                problems.append((i, f"sla_seal: re-seal of {label} gives no reason"))
        composed = e.get("composed_from") or []
        if not isinstance(composed, list) or any(
            not _is_int(j) or not 0 <= j < i for j in composed
        ):
            problems.append((i, "sla_seal: composed_from must list earlier entry indices"))
        else:
            for j in composed:
                src = entries[j]
                if src is None or src.get("type") != ENTRY_SLA_SEAL:
                    problems.append(
                        (i, f"sla_seal: composed_from names entry {j}, which is not a seal")
                    )
        earlier.append(i)
    return problems
