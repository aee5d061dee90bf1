"""Change requests under the two-person rule (:mod:`heatreuse.services.changes`).

``GET .../changes`` and ``.../changes/{change_id}``: any role on the site
(``changes.read``). ``POST .../changes`` files a request and ``POST
.../changes/{change_id}/approve`` approves the request's hash; both routes are open to
anyone with a role on the site (``changes.read``), and then the kind decides:
the principal (role *and* token scope) must hold the kind's request or approve
permission (``KINDS``: setpoint.request/approve, maintenance.write, silences.write,
users.manage, sla.write), else 403; the service checks again (roles, the RACI, that
the approver is not the requester) and records every step with the client address.
Approved plant changes wait for an executor (``heatreuse changes execute`` or the edge
writer); store kinds (silence, maintenance window, role grant) execute on approval.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from heatreuse.api.auth import client_address, require
from heatreuse.api.context import ApiContext
from heatreuse.api.errors import ApiError, field_of
from heatreuse.api.permissions import S
from heatreuse.api.routes.common import jdict, jsonable, page
from heatreuse.services.people import Principal

_CHANGE_ID = r"^cr-[0-9a-f]{1,32}$"


class ChangeIn(BaseModel):
    """A change request: what (kind, target, value), why, and when it lapses."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(min_length=1, max_length=40)
    target: str = Field(min_length=1, max_length=200)
    value: Any = None
    reason: str = Field(min_length=1, max_length=2000)
    expires: str = Field("4h", max_length=20)


class ApproveIn(BaseModel):
    """Approve exactly this request: its ``request_hash``."""

    model_config = ConfigDict(extra="forbid")
    hash: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-fA-F]{64}$")


class RejectIn(BaseModel):
    """Refuse a request (the requester may withdraw it)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


def router(ctx: ApiContext) -> APIRouter:
    """Change request routes."""
    from heatreuse.services import changes

    r = APIRouter(tags=["changes"])

    def kind_allows(p: Principal, site_id: str, kind: str, step: str) -> None:
        rule = changes.KINDS.get(kind)
        if rule is None:
            raise ApiError(
                422, f"kind: expected one of {', '.join(changes.KINDS)}, got {kind!r}", "kind"
            )
        action = rule.request if step == "request" else rule.approve
        if not p.may(site_id, action):
            raise ApiError(403, f"{p.name} may not {step} a {kind} change ({action})")

    def get(site_id: str, change_id: str) -> dict[str, Any]:
        try:
            return changes.show_change(ctx.site(site_id), ctx.store, change_id, now=ctx.clock())
        except changes.ChangeError:
            raise ApiError(404, f"change {change_id} of site {site_id!r}: not found") from None

    def conflict(exc: Exception) -> ApiError:
        msg = str(exc)
        return ApiError(409, msg, "hash" if "hash" in msg else None)

    @r.get(S + "/changes")
    def list_changes(
        site_id: str,
        state: Literal[
            "requested", "approved", "executed", "failed", "rejected", "expired", "overridden"
        ]
        | None = None,
        flagged: bool = False,
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = Query(None, max_length=32),
        _p: Principal = Depends(require("changes.read")),
    ) -> dict[str, Any]:
        """Change requests of the site, oldest first."""
        items = changes.list_changes(
            ctx.site(site_id), ctx.store, state=state, flagged=flagged, now=ctx.clock()
        )
        return jdict(page(items, limit, cursor))

    @r.get(S + "/changes/{change_id}")
    def show(
        site_id: str,
        change_id: str = Path(max_length=40, pattern=_CHANGE_ID),
        _p: Principal = Depends(require("changes.read")),
    ) -> dict[str, Any]:
        """One change request with its hash, state and result."""
        return jdict(get(site_id, change_id))

    @r.post(S + "/changes", status_code=201)
    def request_change(
        site_id: str,
        body: ChangeIn,
        request: Request,
        p: Principal = Depends(require("changes.read")),
    ) -> dict[str, Any]:
        """File a change request (a second person approves its hash)."""
        site = ctx.site(site_id)
        kind_allows(p, site_id, body.kind, "request")
        try:
            out = changes.request_change(
                site,
                ctx.store,
                body.kind,
                body.target,
                body.value,
                body.reason,
                by=p.name,
                expires=body.expires,
                address=client_address(request),
                now=ctx.clock(),
            )
        except changes.ChangeError as exc:
            raise ApiError(422, str(exc), field_of(str(exc))) from None
        return jdict(out)

    @r.post(S + "/changes/{change_id}/approve")
    def approve(
        site_id: str,
        body: ApproveIn,
        request: Request,
        change_id: str = Path(max_length=40, pattern=_CHANGE_ID),
        p: Principal = Depends(require("changes.read")),
    ) -> dict[str, Any]:
        """Approve the request whose hash is given (not the requester; RACI); store kinds
        execute at once, plant kinds wait for their executor."""
        site = ctx.site(site_id)
        rec = get(site_id, change_id)
        kind_allows(p, site_id, str(rec["kind"]), "approve")
        try:
            out = changes.approve_change(
                site,
                ctx.store,
                change_id,
                body.hash,
                by=p.name,
                address=client_address(request),
                now=ctx.clock(),
            )
        except changes.ChangeError as exc:
            raise conflict(exc) from None
        return jdict(jsonable(out))

    @r.post(S + "/changes/{change_id}/reject")
    def reject(
        site_id: str,
        body: RejectIn,
        request: Request,
        change_id: str = Path(max_length=40, pattern=_CHANGE_ID),
        p: Principal = Depends(require("changes.read")),
    ) -> dict[str, Any]:
        """Refuse a request (its requester, or someone who may approve it)."""
        site = ctx.site(site_id)
        rec = get(site_id, change_id)
        if rec.get("requested_by") != p.name:
            kind_allows(p, site_id, str(rec["kind"]), "approve")
        try:
            out = changes.reject_change(
                site,
                ctx.store,
                change_id,
                body.reason,
                by=p.name,
                address=client_address(request),
                now=ctx.clock(),
            )
        except changes.ChangeError as exc:
            raise conflict(exc) from None
        return jdict(out)

    return r
