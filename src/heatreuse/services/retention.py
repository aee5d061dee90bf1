"""Use case: retention that keeps the evidence of SLA periods until they are sealed.

A month's SLA verdict is computed from the 1-minute rollups of its measured point
(and the 3 days before it, for burn rates and an interruption that began earlier).
Once the month has closed and its result is sealed in the ledger
(:mod:`heatreuse.ledger.seal`), its data may go; before that, deleting it would
change the verdict silently. So :func:`apply_retention_guarded` refuses to delete
raw readings or 1-minute rollups of a period that is not sealed:

- per site of the store, the periods are its site-local calendar months (the time
  zone from the SLA definition in the site's ledger; UTC for a site that has no
  ledger yet, whose months are then all unsealed);
- a month *blocks* a table (``raw``, ``1min``) when that table holds data of the
  site in ``[month start - 3 d, min(month end, cutoff))`` and the month is not
  sealed; months before monitoring started are out of scope;
- ``force``: delete anyway (the blocked months then read ``unknown`` or keep the
  verdict nobody sealed; the caller says so); ``clamp``: delete only up to the
  first blocked month (what ``heatreuse serve`` does daily, after sealing).

Contract years need no guard of their own: a closed contract year is added up from
its sealed months (:func:`heatreuse.sla.compose_reports`).

:func:`sla_periods_overview` is what ``heatreuse store info`` shows: per site,
monitoring start, sealed and unsealed periods.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from heatreuse.errors import RetentionBlockedError
from heatreuse.ledger.build import ENTRY_SLA
from heatreuse.ledger.seal import ENTRY_SLA_SEAL
from heatreuse.services.sla import (
    LOOKBACK,
    PeriodSpec,
    latest_seals,
    local_months,
    read_ledger_entries,
)
from heatreuse.store import RetentionResult, Store, to_epoch_us

__all__ = [
    "RetentionBlock",
    "SiteSlaFacts",
    "apply_retention_guarded",
    "retention_blockers",
    "site_sla_facts",
    "sla_periods_overview",
]

_US_PER_DAY = 86_400_000_000
_GUARDED: tuple[Literal["raw", "1min"], ...] = ("raw", "1min")


@dataclass(frozen=True)
class SiteSlaFacts:
    """What the store and the site's ledger say about a site's SLA periods."""

    site_id: str
    timezone: str
    timezone_known: bool
    monitoring_start: pd.Timestamp | None
    seals: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class RetentionBlock:
    """A month whose data retention would delete although it is not sealed."""

    site_id: str
    period: str
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    tables: tuple[str, ...]
    state: str  # "open" (not ended) | "not sealed"

    def describe(self) -> str:
        """``pool-potsdam 2026-01 (raw, 1min; not sealed)``."""
        return f"{self.site_id} {self.period} ({', '.join(self.tables)}; {self.state})"


def site_sla_facts(store: Store, site_id: str) -> SiteSlaFacts:
    """Time zone (from the latest SLA definition in the ledger), monitoring start, seals."""
    entries = read_ledger_entries(store, site_id, (ENTRY_SLA, ENTRY_SLA_SEAL))
    definitions = [e for e in entries if e.get("type") == ENTRY_SLA]
    tz, known = "UTC", False
    start: pd.Timestamp | None = None
    if definitions:
        last = definitions[-1]
        tz, known = str(last.get("timezone") or "UTC"), True
        configured = (last.get("sla") or {}).get("monitoring_start")
        if configured:
            start = pd.Timestamp(configured).tz_convert("UTC")
    if start is None:
        start = store.first_reading(site_id)
    return SiteSlaFacts(site_id, tz, known, start, latest_seals(entries))


def _months(facts: SiteSlaFacts, start: pd.Timestamp, end: pd.Timestamp) -> list[PeriodSpec]:
    return local_months(facts.timezone, start, end)


def _earliest(store: Store, site_id: str, table: Literal["raw", "1min"]) -> pd.Timestamp | None:
    """The site's earliest raw reading / 1-min bucket still stored (rows or sealed)."""
    return store.earliest(site_id, table)


def retention_blockers(
    store: Store,
    raw_days: float | None = None,
    rollup_days: Mapping[str, float] | None = None,
    now: Any = None,
) -> list[RetentionBlock]:
    """The unsealed months whose raw or 1-minute data these horizons would delete.

    Parameters
    ----------
    store
        The store (every site of it is checked).
    raw_days, rollup_days
        The horizons of :meth:`heatreuse.store.Store.apply_retention` [d].
    now
        Reference time (tz-aware or µs); default the current time.
    """
    ref = pd.Timestamp(
        to_epoch_us(now if now is not None else dt.datetime.now(dt.UTC), "now"), unit="us", tz="UTC"
    )
    cutoffs: dict[Literal["raw", "1min"], pd.Timestamp] = {}
    if raw_days is not None:
        cutoffs["raw"] = ref - pd.Timedelta(days=raw_days)
    if rollup_days and "1min" in rollup_days:
        cutoffs["1min"] = ref - pd.Timedelta(days=rollup_days["1min"])
    if not cutoffs:
        return []
    blocks: dict[tuple[str, str], RetentionBlock] = {}
    for site in store.list_sites():
        facts: SiteSlaFacts | None = None
        for table, cutoff in cutoffs.items():
            first = _earliest(store, site, table)
            if first is None or first >= cutoff:
                continue
            facts = facts or site_sla_facts(store, site)
            for m in _months(facts, first, cutoff + LOOKBACK):
                if m.label in facts.seals:
                    continue
                if facts.monitoring_start is not None and m.end <= facts.monitoring_start:
                    continue  # before monitoring started: out of scope
                lo, hi = m.start - LOOKBACK, min(m.end, cutoff)
                if hi <= lo or not store.has_data_in(site, table, lo, hi):
                    continue
                key = (site, m.label)
                prev = blocks.get(key)
                tables = (*prev.tables, table) if prev else (table,)
                state = "open, ends " + m.end.isoformat() if m.end > ref else "not sealed"
                blocks[key] = RetentionBlock(site, m.label, m.start, m.end, tables, state)
    return sorted(blocks.values(), key=lambda b: (b.site_id, b.period_start))


def apply_retention_guarded(
    store: Store,
    raw_days: float | None = None,
    rollup_days: Mapping[str, float] | None = None,
    quarantine_days: float | None = None,
    now: Any = None,
    *,
    force: bool = False,
    clamp: bool = False,
) -> tuple[RetentionResult, list[RetentionBlock]]:
    """:meth:`heatreuse.store.Store.apply_retention`, refusing to delete unsealed evidence.

    Parameters
    ----------
    force
        Delete anyway; the blocks are returned so the caller can say what lost its data.
    clamp
        Delete only what lies before the first blocked month (and its 3-day look-back);
        the blocks are returned.

    Returns
    -------
    (RetentionResult, blocks)

    Raises
    ------
    RetentionBlockedError
        Some month blocks and neither ``force`` nor ``clamp`` is set; nothing deleted.
    """
    ref_us = to_epoch_us(now if now is not None else dt.datetime.now(dt.UTC), "now")
    store.check_retention(raw_days, rollup_days, quarantine_days)
    blocks = retention_blockers(store, raw_days, rollup_days, ref_us)
    rollup = dict(rollup_days or {})
    if blocks and not force:
        if not clamp:
            listed = "; ".join(b.describe() for b in blocks[:24])
            more = f" and {len(blocks) - 24} more" if len(blocks) > 24 else ""
            raise RetentionBlockedError(
                "store retention refused: it would delete raw or 1-min data of SLA periods "
                f"that are not sealed: {listed}{more}. A closed month is sealed by "
                "`heatreuse ledger update SITE.yaml` (or `heatreuse sla seal SITE.yaml --period "
                "YYYY-MM`); an open one only after it ends. Or pass --force to delete anyway: "
                "their SLA verdict then reads 'unknown'. Nothing was deleted."
            )
        for table in _GUARDED:
            first_block = min(
                (b.period_start - LOOKBACK for b in blocks if table in b.tables), default=None
            )
            if first_block is None:
                continue
            keep_days = (ref_us - to_epoch_us(first_block, "cutoff")) / _US_PER_DAY
            if table == "raw" and raw_days is not None:
                raw_days = max(raw_days, keep_days)
            elif table == "1min" and "1min" in rollup:
                rollup["1min"] = max(rollup["1min"], keep_days)
    res = store.apply_retention(
        raw_days=raw_days, rollup_days=rollup, quarantine_days=quarantine_days, now=ref_us
    )
    return res, blocks


def sla_periods_overview(store: Store, now: Any = None) -> dict[str, dict[str, Any]]:
    """Per site: time zone, monitoring start, sealed months/years and unsealed months.

    Unsealed months run from monitoring start to now; ``state`` is ``open`` for the
    month in progress, ``not sealed`` for a closed one.
    """
    ref = pd.Timestamp(
        to_epoch_us(now if now is not None else dt.datetime.now(dt.UTC), "now"), unit="us", tz="UTC"
    )
    out: dict[str, dict[str, Any]] = {}
    for site in store.list_sites():
        facts = site_sla_facts(store, site)
        sealed = [
            {
                "period": label,
                "period_kind": s.get("period_kind"),
                "verdict": s.get("verdict"),
                "data_coverage_fraction": s.get("data_coverage_fraction"),
                "index": s.get("index"),
                "seal_number": s.get("seal_number"),
            }
            for label, s in sorted(
                facts.seals.items(), key=lambda kv: (str(kv[1].get("period_start")), kv[0])
            )
        ]
        unsealed: list[dict[str, Any]] = []
        if facts.monitoring_start is not None:
            for m in _months(facts, facts.monitoring_start, ref):
                if m.label not in facts.seals:
                    unsealed.append(
                        {"period": m.label, "state": "open" if m.end > ref else "not sealed"}
                    )
        out[site] = {
            "timezone": facts.timezone if facts.timezone_known else None,
            "monitoring_start": (
                None if facts.monitoring_start is None else facts.monitoring_start.isoformat()
            ),
            "sealed": sealed,
            "unsealed": unsealed,
        }
    return out
