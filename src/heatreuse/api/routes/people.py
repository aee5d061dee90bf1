"""Who did what and who may: audit entries, access review, users, tokens, devices.

Users and tokens are global (a user holds roles on several sites), so an admin of one
site changes a user or mints a token only when they manage *every* site the user holds
a role on (otherwise an admin of site A could act on site B through a shared user):
403 naming the other sites. New users via the API get the ``viewer`` role only; other
roles are role grants, a two-person change (``heatreuse changes``).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from heatreuse.api.auth import client_address, require
from heatreuse.api.context import ApiContext
from heatreuse.api.errors import ApiError, not_found
from heatreuse.api.permissions import S
from heatreuse.api.routes.common import jdict, jlist, page
from heatreuse.services import people
from heatreuse.services.people import Principal
from heatreuse.store import people as rows

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"


class UserIn(BaseModel):
    """A new user (role ``viewer`` on this site)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=_NAME)
    password: str = Field(min_length=1, max_length=1024)
    role: Literal["viewer"] = "viewer"


class TokenIn(BaseModel):
    """A new API token of a user of this site."""

    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=64, pattern=_NAME)
    scope: Literal["read", "write", "display"] = "read"
    expires: str = Field("30d", max_length=20, description="30d, 12h, or never.")


class DeviceIn(BaseModel):
    """A new ingest device of this site."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=_NAME)


class SecretOut(BaseModel):
    """A new token: shown this once (the store keeps its HMAC only)."""

    token: str
    info: dict[str, Any]


def router(ctx: ApiContext) -> APIRouter:
    """Audit, access review, user, token and device routes."""
    r = APIRouter(tags=["people"])
    store = ctx.store

    def user_sites(name: str) -> tuple[rows.UserRecord, set[str]]:
        user = rows.get_user(store, name)
        if user is None:
            raise not_found(f"user {name}")
        return user, {g.site_id for g in rows.list_grants(store, user_id=user.id)}

    def on_site(site_id: str, name: str) -> rows.UserRecord:
        user, sites = user_sites(name)
        if site_id not in sites:
            raise not_found(f"user {name} of site {site_id!r}")
        return user

    def manages_all(p: Principal, action: str, name: str) -> None:
        _, sites = user_sites(name)
        others = sorted(s for s in sites if not p.may(s, action))
        if others:
            raise ApiError(
                403,
                f"user {name} also holds roles on {', '.join(others)}, where {p.name} may not "
                f"{action}; an admin of every site of the user must do this",
            )

    @r.get(S + "/audit")
    def audit(
        site_id: str,
        since: str | None = Query(None, max_length=64),
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = Query(None, max_length=32),
        _p: Principal = Depends(require("audit.read")),
    ) -> dict[str, Any]:
        """Audit entries of the site (who, what, when, why), oldest first."""
        ctx.site(site_id)
        if since is not None:
            from heatreuse.api.routes.common import parse_time

            parse_time(since, "since")
        return jdict(page(people.list_audit(store, site_id, since), limit, cursor))

    @r.get(S + "/access/review")
    def access_review(
        site_id: str, _p: Principal = Depends(require("access.review"))
    ) -> list[dict[str, Any]]:
        """Every user, token and device of the site with role, last use, expiry and flags."""
        ctx.site(site_id)
        return jlist(people.access_review(store, site_id=site_id, now=ctx.clock()))

    @r.get(S + "/users")
    def users(site_id: str, _p: Principal = Depends(require("users.manage"))) -> list[Any]:
        """Users with a role on this site (their roles on this site only)."""
        ctx.site(site_id)
        out = []
        for u in people.list_users(store):
            roles = [x for x in u["roles"] if x.endswith("@" + site_id)]
            if roles:
                out.append({**u, "roles": roles})
        return jlist(out)

    @r.post(S + "/users", status_code=201)
    def add_user(
        site_id: str, body: UserIn, p: Principal = Depends(require("users.manage"))
    ) -> dict[str, Any]:
        """Create a user with the viewer role on this site (audited)."""
        ctx.site(site_id)
        if rows.get_user(store, body.name) is not None:
            raise ApiError(409, f"name: user {body.name!r} exists", "name")
        return people.add_user(
            store,
            body.name,
            body.password,
            body.role,
            site_id,
            by=p.name,
            hasher=ctx.hasher,
            now=ctx.clock(),
        )

    @r.post(S + "/users/{name}/disable")
    def disable_user(
        site_id: str,
        name: str = Path(max_length=64, pattern=_NAME),
        p: Principal = Depends(require("users.manage")),
    ) -> dict[str, Any]:
        """Disable a user: logins, sessions and tokens refused from now on (audited)."""
        ctx.site(site_id)
        on_site(site_id, name)
        manages_all(p, "users.manage", name)
        changed = people.disable_user(store, name, by=p.name, now=ctx.clock())
        return {"name": name, "disabled": True, "changed": changed}

    def site_tokens(site_id: str) -> list[dict[str, Any]]:
        users = {g.user_name for g in rows.list_grants(store, site_id=site_id)}
        devices = {d.name for d in rows.list_devices(store, site_id)}
        return [
            t
            for t in people.list_tokens(store, now=ctx.clock())
            if (t["kind"] == "user" and t["owner"] in users)
            or (t["kind"] == "device" and t["site_id"] == site_id and t["owner"] in devices)
        ]

    @r.get(S + "/tokens")
    def tokens(
        site_id: str,
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = Query(None, max_length=32),
        _p: Principal = Depends(require("tokens.manage")),
    ) -> dict[str, Any]:
        """Tokens of the site's users and devices (never the token or its digest)."""
        ctx.site(site_id)
        return jdict(page(site_tokens(site_id), limit, cursor))

    @r.post(S + "/tokens", status_code=201, response_model=SecretOut)
    def create_token(
        site_id: str, body: TokenIn, p: Principal = Depends(require("tokens.manage"))
    ) -> SecretOut:
        """Create an API token for a user of this site; the token is in this answer only."""
        ctx.site(site_id)
        on_site(site_id, body.user)
        manages_all(p, "tokens.manage", body.user)
        token, info = people.create_token(
            store,
            body.user,
            scope=body.scope,
            expires=body.expires,
            by=p.name,
            secret=ctx.token_secret,
            now=ctx.clock(),
        )
        return SecretOut(token=token, info=info)

    @r.post(S + "/tokens/{token_id}/revoke")
    def revoke_token(
        site_id: str,
        token_id: str = Path(max_length=32, pattern=r"^[0-9a-f]{1,32}$"),
        p: Principal = Depends(require("tokens.manage")),
    ) -> dict[str, Any]:
        """Revoke a token of this site's users or devices (audited)."""
        ctx.site(site_id)
        if not any(t["id"] == token_id for t in site_tokens(site_id)):
            raise not_found(f"token {token_id} of site {site_id!r}")
        rec = rows.get_token(store, token_id)
        if rec is not None and rec.user_id is not None:
            user = rows.get_user_by_id(store, rec.user_id)
            if user is not None:
                manages_all(p, "tokens.manage", user.name)
        changed = people.revoke_token(store, token_id, by=p.name, now=ctx.clock())
        return {"id": token_id, "revoked": True, "changed": changed}

    @r.post(S + "/devices", status_code=201, response_model=SecretOut)
    def add_device(
        site_id: str,
        body: DeviceIn,
        request: Request,
        p: Principal = Depends(require("devices.manage")),
    ) -> SecretOut:
        """Create an ingest device of this site; its token is in this answer only."""
        ctx.site(site_id)
        if rows.get_device(store, site_id, body.name) is not None:
            raise ApiError(409, f"name: device {body.name!r} of site {site_id!r} exists", "name")
        token, info = people.add_device(
            store, site_id, body.name, by=p.name, secret=ctx.token_secret, now=ctx.clock()
        )
        info["created_from"] = client_address(request)
        return SecretOut(token=token, info=info)

    return r
