"""Sessions: ``POST /api/v1/login``, ``POST /api/v1/logout``; ``GET /api/v1/me``, ``/sites``."""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from heatreuse.api.auth import (
    AUTHENTICATED,
    Auth,
    clear_session_cookies,
    client_address,
    csrf_token_for,
    end_sessions,
    get_ctx,
    make_session,
    request_auth,
    require,
    set_session_cookies,
)
from heatreuse.api.context import ApiContext
from heatreuse.api.errors import ApiError
from heatreuse.api.permissions import V1
from heatreuse.services import access, people
from heatreuse.services.people import Principal
from heatreuse.store.base import to_epoch_us


class LoginIn(BaseModel):
    """Credentials (JSON body, or a form with the same fields)."""

    name: str
    password: str


class LoginOut(BaseModel):
    """A new session: the CSRF token to send with cookie-authenticated writes."""

    user: str
    csrf_token: str
    expires: str


class MeOut(BaseModel):
    """Who is asking and what they may do, per site."""

    name: str
    kind: str
    scope: str
    via: str
    roles: dict[str, list[str]]
    actions: dict[str, list[str]]
    csrf_token: str | None = None


class SiteBrief(BaseModel):
    """A site this API serves and the principal may read."""

    id: str
    name: str
    customer: str


def _credentials(body: bytes, content_type: str) -> tuple[str, str]:
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            raise ApiError(422, "body: expected a form with name and password", "body") from None
        doc: Any = {k: v[0] for k, v in form.items()}
    else:
        try:
            doc = json.loads(body or b"null")
        except (ValueError, RecursionError):
            raise ApiError(
                422, 'body: expected JSON {"name": ..., "password": ...} or a form', "body"
            ) from None
    if not isinstance(doc, dict):
        raise ApiError(422, "body: expected an object with name and password", "body")
    for key in ("name", "password"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise ApiError(422, f"{key}: expected a non-empty text", key)
        if len(doc[key]) > 1024 or "\x00" in doc[key]:
            raise ApiError(422, f"{key}: expected at most 1024 characters, no NUL", key)
    return str(doc["name"]), str(doc["password"])


def _me(ctx: ApiContext, principal: Principal, auth: Auth) -> MeOut:
    roles = {s: list(r) for s, r in principal.grants.items()}
    actions = {
        s: sorted(a for a in access.PERMISSIONS if principal.may(s, a)) for s in principal.grants
    }
    csrf = (
        csrf_token_for(ctx.token_secret, auth.session.sid)
        if auth.via == "cookie" and auth.session is not None
        else None
    )
    return MeOut(
        name=principal.name,
        kind=principal.kind,
        scope=principal.scope,
        via=auth.via,
        roles=roles,
        actions=actions,
        csrf_token=csrf,
    )


def router(ctx: ApiContext) -> APIRouter:
    """The session routes."""
    r = APIRouter(tags=["session"])

    @r.post(
        V1 + "/login",
        response_model=LoginOut,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": LoginIn.model_json_schema()},
                    "application/x-www-form-urlencoded": {"schema": LoginIn.model_json_schema()},
                },
            }
        },
        responses={
            401: {"description": "Wrong name or password (or a disabled user)."},
            429: {
                "description": "Too many attempts from this address, or the account is "
                "locked after repeated failures; see Retry-After."
            },
        },
    )
    async def login(request: Request) -> Any:
        """Log in with name and password: sets the session and CSRF cookies."""
        name, password = _credentials(await request.body(), request.headers.get("content-type", ""))
        result = await run_in_threadpool(
            people.login,
            ctx.store,
            name,
            password,
            address=client_address(request),
            now=ctx.clock(),
            hasher=ctx.hasher,
            policy=ctx.login_policy,
        )
        if result.reason in ("rate_limited", "locked"):
            retry = max(1, math.ceil(result.retry_after_s))
            what = (
                "too many login attempts from this address"
                if result.reason == "rate_limited"
                else "this account is locked after repeated failed logins"
            )
            return JSONResponse(
                {"detail": f"{what}; retry in {retry} s", "field": None},
                status_code=429,
                headers={"Retry-After": str(retry)},
            )
        if not result.ok:
            return JSONResponse(
                {"detail": "wrong name or password", "field": None},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        now_us = to_epoch_us(ctx.clock(), "now")
        cookie, sess = make_session(ctx.token_secret, name, now_us, ctx.settings.session_ttl_s)
        out = LoginOut(
            user=name,
            csrf_token=csrf_token_for(ctx.token_secret, sess.sid),
            expires=str(people._iso(sess.expires_us)),
        )
        response = JSONResponse(out.model_dump())
        set_session_cookies(ctx, request, response, cookie, sess)
        return response

    @r.post(V1 + "/logout", responses={401: {"description": "Not logged in."}})
    def logout(
        request: Request,
        response: Response,
        principal: Principal = Depends(require(AUTHENTICATED)),
        auth: Auth = Depends(request_auth),
    ) -> dict[str, Any]:
        """End every browser session of the user (a bearer token stays valid: revoke it)."""
        c = get_ctx(request)
        if auth.via == "cookie":
            end_sessions(c, principal.name, to_epoch_us(c.clock(), "now"))
        clear_session_cookies(c, request, response)
        return {"user": principal.name, "sessions_ended": auth.via == "cookie"}

    @r.get(V1 + "/me", response_model=MeOut)
    async def me(
        principal: Principal = Depends(require(AUTHENTICATED)),
        auth: Auth = Depends(request_auth),
    ) -> MeOut:
        """Who is asking: roles and allowed actions per site, the session's CSRF token."""
        return _me(ctx, principal, auth)

    @r.get(V1 + "/sites", response_model=list[SiteBrief])
    async def sites(principal: Principal = Depends(require(AUTHENTICATED))) -> list[SiteBrief]:
        """The sites served here that the principal may read."""
        return [
            SiteBrief(id=s.id, name=s.site.name, customer=s.customer.kind)
            for sid, s in sorted(ctx.sites.items())
            if principal.may(sid, "site.read")
        ]

    return r
