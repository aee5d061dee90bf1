"""SLA, KPIs and the ledger: status and period reports, KPIs, entries, checkpoints, proofs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from heatreuse.api.auth import require, require_display
from heatreuse.api.context import ApiContext
from heatreuse.api.errors import ApiError
from heatreuse.api.permissions import S
from heatreuse.api.routes.common import jsonable, page, parse_time
from heatreuse.errors import HeatreuseError, LedgerError, SLAError
from heatreuse.rawtext import preview
from heatreuse.services.people import Principal

_PERIOD = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?(\.\.[0-9]{4}-[0-9]{2}-[0-9]{2})?$"


class SlaOut(BaseModel):
    """SLA report(s): the period asked for first (a month is followed by its contract year
    to date when the SLA has one)."""

    site_id: str
    period: str
    reports: list[dict[str, Any]]


class CheckpointOut(BaseModel):
    """A signed checkpoint of the site's ledger."""

    size: int
    root_hash_hex: str
    note: str


class ProofOut(BaseModel):
    """RFC 9162 inclusion proof of one ledger entry in the tree of ``tree_size`` entries."""

    index: int
    entry: dict[str, Any]
    leaf_hash_hex: str
    tree_size: int
    root_hash_hex: str
    audit_path_hex: list[str]
    checkpoint: str | None


def _local_month(ctx: ApiContext, site_id: str) -> str:
    import pandas as pd

    site = ctx.site(site_id)
    return pd.Timestamp(ctx.clock()).tz_convert(site.location.timezone).strftime("%Y-%m")


def _json_bytes(model: BaseModel) -> bytes:
    """``model`` as FastAPI would send it (:class:`JSONResponse` of its JSON mode dump)."""
    return bytes(JSONResponse(model.model_dump(mode="json")).body)


def _json_answer(body: bytes) -> Response:
    """A new answer of JSON bytes (a response object is never shared between requests:
    FastAPI adds the headers of dependencies to it)."""
    return Response(body, media_type="application/json")


def router(ctx: ApiContext) -> APIRouter:
    """SLA, KPI and ledger routes."""
    r = APIRouter(tags=["sla", "ledger"])

    # An SLA report reads a month of minutes (about 0.5 s): computed at most once per
    # site, period and minute (the SLA's resolution), one computation per site and period
    # at a time; while one runs, the others get the previous minute's report (not the
    # worker threads of the whole API waiting on it). The cache holds the answer's JSON
    # bytes (about 100 kB for a month): validating and encoding the model again for each
    # request cost more than the rest of a cached answer. At most 64 site/period keys
    # (then it starts over; the locks too): the minute is the value, not the key.
    cache: dict[tuple[str, str], tuple[str, bytes]] = {}
    locks: dict[tuple[str, str], threading.Lock] = {}
    guard = threading.Lock()

    def sla(site_id: str, period: str, now: str | None) -> Response:
        from heatreuse.services.sla import sla_report

        site = ctx.site(site_id)
        when = (parse_time(now, "now") or ctx.clock()).replace(second=0, microsecond=0)
        key, minute = (site_id, period), when.isoformat()
        with guard:
            if len(locks) >= 64 and key not in locks:  # periods come from the URL
                for k in [k for k, lk in locks.items() if not lk.locked()]:
                    del locks[k]  # idle ones only: a held lock stays its key's lock
            lock = locks.setdefault(key, threading.Lock())
            hit = cache.get(key)
        if hit is not None and hit[0] == minute:
            return _json_answer(hit[1])
        if not lock.acquire(blocking=hit is None or now is not None):
            assert hit is not None
            return _json_answer(hit[1])  # being recomputed for this minute: the last one meanwhile
        try:
            hit = cache.get(key)
            if hit is not None and hit[0] == minute:
                return _json_answer(hit[1])
            try:
                reports = sla_report(site, period=period, now=when, store=ctx.store)
            except SLAError as exc:
                raise ApiError(422, f"period: {exc}", "period") from None
            model = SlaOut(
                site_id=site_id, period=period, reports=[jsonable(x.to_dict()) for x in reports]
            )
            out = _json_bytes(model)
            with guard:
                if len(cache) >= 64:
                    cache.clear()
                cache[key] = (minute, out)
            return _json_answer(out)
        finally:
            lock.release()

    @r.get(S + "/sla", response_model=SlaOut)
    def sla_status(
        site_id: str,
        now: str | None = Query(None, max_length=64),
        _p: Principal = Depends(require_display("sla.read")),
    ) -> Response:
        """SLA status: the current local month so far (and the contract year to date)."""
        return sla(site_id, _local_month(ctx, site_id), now)

    @r.get(S + "/sla/periods/{period}", response_model=SlaOut)
    def sla_period(
        site_id: str,
        period: str = Path(max_length=40),
        now: str | None = Query(None, max_length=64),
        _p: Principal = Depends(require_display("sla.read")),
    ) -> Response:
        """SLA report of a period: ``YYYY-MM``, ``YYYY`` (contract year) or
        ``YYYY-MM-DD..YYYY-MM-DD`` (site-local)."""
        import re

        if not re.fullmatch(_PERIOD, period):
            raise ApiError(
                422,
                f"period: expected YYYY-MM, YYYY or YYYY-MM-DD..YYYY-MM-DD, got {preview(period)}",
                "period",
            )
        return sla(site_id, period, now)

    @r.get(S + "/kpis")
    def kpis(
        site_id: str,
        period: str | None = Query(None, max_length=10, pattern=r"^[0-9]{4}(-[0-9]{2}){0,2}$"),
        _p: Principal = Depends(require_display("kpi.read")),
    ) -> dict[str, Any]:
        """KPIs of a period (UTC ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; default the current
        month) from the ledger, with the checkpoint anchoring them."""
        from heatreuse.services.ledger import kpi_report

        site = ctx.site(site_id)
        per = period or ctx.clock().strftime("%Y-%m")
        try:
            out = kpi_report(site, per, ctx.store.url, checkpoint_dir=ctx.settings.checkpoint_dir)
        except LedgerError as exc:
            if str(exc).startswith("--period"):
                raise ApiError(422, str(exc).removeprefix("--"), "period") from None
            raise ApiError(409, str(exc)) from None
        return {"site_id": site_id, "period": per, **jsonable(out)}

    @contextmanager
    def ledger(site_id: str) -> Iterator[Any]:
        from heatreuse.services.ledger import open_ledger

        site = ctx.site(site_id)
        try:
            with open_ledger(
                site, ctx.store.url, checkpoint_dir=ctx.settings.checkpoint_dir
            ) as led:
                yield led
        except HeatreuseError as exc:
            if isinstance(exc, LedgerError):
                raise ApiError(409, str(exc)) from None
            raise

    @r.get(S + "/ledger/entries")
    def ledger_entries(
        site_id: str,
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = Query(None, max_length=32),
        _p: Principal = Depends(require("ledger.read")),
    ) -> dict[str, Any]:
        """Ledger entries in log order (``index`` is the entry's position in the log)."""
        with ledger(site_id) as led:
            size = led.log.size
            start = page(range(size), limit, cursor)
            idx = start["items"]
            entries = led.log.entries(idx[0], idx[-1] + 1) if idx else []
        items = [{"index": i, **jsonable(e)} for i, e in zip(idx, entries, strict=True)]
        return {**start, "items": items, "size": size}

    @r.get(S + "/ledger/checkpoints", response_model=list[CheckpointOut])
    def checkpoints(
        site_id: str, _p: Principal = Depends(require("ledger.read"))
    ) -> list[CheckpointOut]:
        """The signed checkpoints (tree heads) of the site's ledger, by size."""
        from heatreuse.ledger.checkpoint import parse_checkpoint_text, parse_note

        out = []
        with ledger(site_id) as led:
            for note in led.log.signed_checkpoints():
                text, _ = parse_note(note)
                cp = parse_checkpoint_text(text)
                out.append(CheckpointOut(size=cp.size, root_hash_hex=cp.root_hash.hex(), note=note))
        return out

    @r.get(S + "/ledger/entries/{index}/proof", response_model=ProofOut)
    def proof(
        site_id: str,
        index: int = Path(ge=0, le=2**40),
        _p: Principal = Depends(require("ledger.read")),
    ) -> ProofOut:
        """Inclusion proof of entry ``index`` against the latest signed checkpoint that
        covers it (else the current tree)."""
        from heatreuse.ledger.checkpoint import parse_checkpoint_text, parse_note
        from heatreuse.ledger.merkle import leaf_hash

        with ledger(site_id) as led:
            if index >= led.log.size:
                raise ApiError(
                    404, f"index: the ledger has {led.log.size} entries, no entry {index}", "index"
                )
            note = None
            size = led.log.size
            for n in led.log.signed_checkpoints():
                cp = parse_checkpoint_text(parse_note(n)[0])
                if cp.size > index:
                    note, size = n, cp.size
                    break
            raw = led.log.entry_bytes(index, index + 1)[0]
            return ProofOut(
                index=index,
                entry=jsonable(led.log.entries(index, index + 1)[0]),
                leaf_hash_hex=leaf_hash(raw).hex(),
                tree_size=size,
                root_hash_hex=led.log.root_hash(size).hex(),
                audit_path_hex=[h.hex() for h in led.log.inclusion_proof(index, size)],
                checkpoint=note,
            )

    return r
