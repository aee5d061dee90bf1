"""Who is asking: bearer tokens, browser sessions, CSRF, and ``require(action)``.

* ``Authorization: Bearer TOKEN``: an API or device token
  (:func:`heatreuse.services.people.verify_token`: HMAC with the server secret, not
  expired, not revoked, user not disabled). A request with an ``Authorization``
  header is judged by it alone (a bad token is 401 even with a valid cookie).
* Browser sessions: ``POST /api/v1/login`` sets the cookie :data:`SESSION_COOKIE`
  (``HttpOnly``, ``SameSite=Strict``, ``Secure`` unless the request came over plain
  http to a loopback address, ``Path=/``) holding ``user.sid.issued.expires`` signed
  with HMAC-SHA256 under a key derived from the server secret. Every request checks
  the signature, the expiry, that the user exists and is not disabled, and that the
  session was issued after the user's last logout (``POST /api/v1/logout`` ends every
  session of the user: the store's ``meta`` key ``session.not_before.<user>``).
* CSRF: cookie-authenticated unsafe requests (POST, PUT, PATCH, DELETE) need the
  token of the session in the header :data:`CSRF_HEADER` or the form field
  :data:`CSRF_FIELD`, equal to the cookie :data:`CSRF_COOKIE` (double submit) and to
  HMAC(session key, sid) (so a cookie planted by a sibling host cannot forge it).
  Bearer requests are exempt (a browser never adds the header by itself).
* :func:`require` ``(action)``: the dependency of a route on ``/sites/{site_id}/...``:
  401 without a valid principal, 403 unless ``principal.may(site_id, action)``
  (:data:`heatreuse.services.access.PERMISSIONS`; a role on site A gives nothing on B).
* Wall displays: :func:`require_display` also accepts ``?token=`` when that token has
  scope ``display`` (site.read, readings.read, sla.read, kpi.read, alerts.read only).

Reference: OWASP Session Management and CSRF Prevention cheat sheets (signed double
submit cookie); RFC 6265bis (SameSite); RFC 6750 (bearer tokens).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import Depends, HTTPException, Request, Response

from heatreuse.api.context import ApiContext
from heatreuse.services import access, people
from heatreuse.services.people import Principal
from heatreuse.store import people as rows
from heatreuse.store.base import to_epoch_us
from heatreuse.threads import run_in_lane

SESSION_COOKIE = "heatreuse_session"
CSRF_COOKIE = "heatreuse_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The action of routes any authenticated principal may call (``/api/v1/me``, logout).
AUTHENTICATED = "authenticated"
_SESSION_KEY_LABEL = b"heatreuse session cookie v1"
#: Worker threads of token and session checks (:func:`heatreuse.threads.run_in_lane`):
#: a lane of their own, so a check never waits for a thread behind slow reads.
AUTH_THREADS = 4
_NOT_BEFORE_KEY = "session.not_before."


def get_ctx(request: Request) -> ApiContext:
    """The :class:`ApiContext` of the app serving ``request``."""
    ctx: ApiContext = request.app.state.api_ctx
    return ctx


def client_address(request: Request) -> str:
    """The peer address of the request (``unknown`` when the server gives none)."""
    return request.client.host if request.client is not None else "unknown"


# --------------------------------------------------------------------------- sessions
@dataclass(frozen=True)
class Session:
    """A decoded, signature-checked session cookie."""

    user: str
    sid: str
    issued_us: int
    expires_us: int


def _session_key(secret: bytes) -> bytes:
    return hmac.new(secret, _SESSION_KEY_LABEL, hashlib.sha256).digest()


def _sign(secret: bytes, payload: str) -> str:
    return hmac.new(_session_key(secret), payload.encode(), hashlib.sha256).hexdigest()


def csrf_token_for(secret: bytes, sid: str) -> str:
    """The CSRF token of session ``sid`` (HMAC under the session key, URL-safe)."""
    mac = hmac.new(_session_key(secret), b"csrf:" + sid.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def make_session(secret: bytes, user: str, now_us: int, ttl_s: float) -> tuple[str, Session]:
    """A new session of ``user``: the cookie value and the session."""
    sid = secrets.token_urlsafe(18)
    sess = Session(user, sid, now_us, now_us + int(ttl_s * 1e6))
    user_b64 = base64.urlsafe_b64encode(user.encode()).decode().rstrip("=")
    payload = f"{user_b64}.{sid}.{sess.issued_us}.{sess.expires_us}"
    return f"{payload}.{_sign(secret, payload)}", sess


def read_session(secret: bytes, value: str, now_us: int) -> Session | None:
    """The session of a cookie value if its signature is right and it has not expired."""
    if not value or len(value) > 512:
        return None
    payload, _, mac = value.rpartition(".")
    if not payload or not hmac.compare_digest(mac, _sign(secret, payload)):
        return None
    try:
        user_b64, sid, issued, expires = payload.split(".")
        user = base64.urlsafe_b64decode(user_b64 + "=" * (-len(user_b64) % 4)).decode()
        sess = Session(user, sid, int(issued), int(expires))
    except ValueError:
        return None
    if sess.expires_us <= now_us:
        return None
    return sess


def end_sessions(ctx: ApiContext, user: str, now_us: int) -> None:
    """Invalidate every session of ``user`` issued up to ``now_us`` (logout)."""
    ctx.store.set_meta(_NOT_BEFORE_KEY + user, str(now_us))


def session_principal(ctx: ApiContext, sess: Session) -> Principal | None:
    """The principal of a valid session: the user exists, is enabled, did not log out."""
    user = rows.get_user(ctx.auth, sess.user)
    if user is None or user.disabled_at_us is not None:
        return None
    not_before = ctx.auth.get_meta(_NOT_BEFORE_KEY + sess.user)
    if not_before is not None and sess.issued_us <= int(not_before):
        return None
    grants: dict[str, list[str]] = {}
    for g in rows.list_grants(ctx.auth, user_id=user.id):
        grants.setdefault(g.site_id, []).append(g.role)
    return Principal(
        "user",
        user.name,
        f"session:{sess.sid[:8]}",
        "write",
        {s: tuple(r) for s, r in grants.items()},
    )


def _is_loopback(host: str) -> bool:
    # "testserver"/"testclient": the host and peer names of Starlette's test client (a
    # real peer is always an IP address, so a request from the network never matches)
    if host in ("localhost", "testclient", "testserver"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cookie_secure(ctx: ApiContext, request: Request) -> bool:
    """Whether to mark cookies ``Secure`` (always but for plain http on loopback)."""
    mode = ctx.settings.secure_cookies
    if mode == "always":
        return True
    if mode == "never":
        return False
    if request.url.scheme == "https":
        return True
    host = request.url.hostname or ""
    return not (_is_loopback(host) and _is_loopback(client_address(request)))


def set_session_cookies(
    ctx: ApiContext, request: Request, response: Response, cookie: str, sess: Session
) -> str:
    """Set the session and CSRF cookies on ``response``; return the CSRF token."""
    secure = cookie_secure(ctx, request)
    max_age = max(1, (sess.expires_us - sess.issued_us) // 1_000_000)
    csrf = csrf_token_for(ctx.token_secret, sess.sid)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=False,
        samesite="strict",
    )
    return csrf


def clear_session_cookies(ctx: ApiContext, request: Request, response: Response) -> None:
    """Delete both cookies."""
    secure = cookie_secure(ctx, request)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(
            name, path="/", secure=secure, httponly=name == SESSION_COOKIE, samesite="strict"
        )


# --------------------------------------------------------------------------- resolution
@dataclass(frozen=True)
class Auth:
    """How a request authenticated: ``principal`` (None: nobody), ``via`` (``bearer``,
    ``cookie`` or ``none``), the session (cookie only)."""

    principal: Principal | None
    via: str
    session: Session | None = None


def _now_us(ctx: ApiContext) -> int:
    return to_epoch_us(ctx.clock(), "now")


def _resolve(ctx: ApiContext, request: Request) -> Auth:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Auth(None, "bearer")
        principal = people.verify_token(
            ctx.auth, token.strip(), secret=ctx.token_secret, now=ctx.clock()
        )
        return Auth(principal, "bearer")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        sess = read_session(ctx.token_secret, cookie, _now_us(ctx))
        if sess is None:
            return Auth(None, "cookie")
        return Auth(session_principal(ctx, sess), "cookie", sess)
    return Auth(None, "none")


async def request_auth(request: Request) -> Auth:
    """Resolve (once per request) who is asking; CSRF-check cookie-authenticated writes."""
    cached = getattr(request.state, "heatreuse_auth", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    ctx = get_ctx(request)
    auth = await run_in_lane("auth", AUTH_THREADS, _resolve, ctx, request)
    if (
        auth.via == "cookie"
        and auth.principal is not None
        and auth.session is not None
        and request.method.upper() in UNSAFE_METHODS
    ):
        await _check_csrf(ctx, request, auth.session)
    request.state.heatreuse_auth = auth
    return auth


async def _form_field(request: Request, name: str) -> str | None:
    """A field of an urlencoded form body (multipart only with python-multipart installed)."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        try:
            form = parse_qs((await request.body()).decode("utf-8"), max_num_fields=100)
        except (UnicodeDecodeError, ValueError):
            return None
        values = form.get(name)
        return values[0] if values else None
    if ctype.startswith("multipart/form-data"):
        try:
            parsed = await request.form()
        except AssertionError:  # python-multipart not installed: send the header instead
            return None
        value = parsed.get(name)
        return value if isinstance(value, str) else None
    return None


async def _check_csrf(ctx: ApiContext, request: Request, sess: Session) -> None:
    expected = csrf_token_for(ctx.token_secret, sess.sid)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        sent = await _form_field(request, CSRF_FIELD)
    ok = (
        sent is not None
        and hmac.compare_digest(sent, expected)
        and hmac.compare_digest(cookie, expected)
    )
    if not ok:
        raise HTTPException(
            status_code=403,
            detail=f"CSRF check failed: a cookie-authenticated {request.method} needs the "
            f"session's token in the {CSRF_HEADER} header or the form field {CSRF_FIELD}, "
            f"equal to the {CSRF_COOKIE} cookie",
        )


async def optional_principal(auth: Auth = Depends(request_auth)) -> Principal | None:
    """The principal of the request, or None (no or invalid credentials)."""
    return auth.principal


def _unauthorized(detail: str = "authentication required") -> HTTPException:
    return HTTPException(
        status_code=401,
        detail=f"{detail}: send Authorization: Bearer TOKEN (heatreuse tokens create) or "
        "log in (POST /api/v1/login)",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def current_principal(auth: Auth = Depends(request_auth)) -> Principal:
    """The principal of the request; 401 without valid credentials."""
    if auth.principal is None:
        raise _unauthorized(
            "authentication required" if auth.via == "none" else "invalid or expired credentials"
        )
    return auth.principal


def _mark(dep: Callable[..., Any], action: str) -> Callable[..., Any]:
    dep.__heatreuse_action__ = action  # type: ignore[attr-defined]
    return dep


def require(action: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """Dependency: the principal, if it may do ``action`` on the path's ``{site_id}``.

    401 without valid credentials, 403 if the roles it holds on that site (and its
    token's scope) do not allow ``action``. The action must be in
    :data:`heatreuse.services.access.PERMISSIONS` (or :data:`AUTHENTICATED`).
    """
    if action != AUTHENTICATED and action not in access.PERMISSIONS:
        raise ValueError(f"require({action!r}): not an action of the permission table")

    async def dep(request: Request, principal: Principal = Depends(current_principal)) -> Principal:
        if action == AUTHENTICATED:
            return principal
        site_id = request.path_params.get("site_id")
        if not isinstance(site_id, str) or not principal.may(site_id, action):
            raise HTTPException(
                status_code=403,
                detail=f"{principal.name} may not {action} on site {site_id!r}",
            )
        return principal

    return _mark(dep, action)


def require_on_some_site(action: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """Dependency of the fleet routes (no ``{site_id}`` in the path): the principal, if it
    may do ``action`` on at least one served site.

    401 without valid credentials, 403 when no served site allows ``action``. The route
    then answers for the sites the principal may do ``action`` on only
    (:func:`sites_allowed`).
    """
    if action not in access.PERMISSIONS:
        raise ValueError(f"require_on_some_site({action!r}): not an action of the table")

    async def dep(request: Request, principal: Principal = Depends(current_principal)) -> Principal:
        if not sites_allowed(get_ctx(request), principal, action):
            raise HTTPException(
                status_code=403,
                detail=f"{principal.name} may not {action} on any site served here",
            )
        return principal

    return _mark(dep, action)


def sites_allowed(ctx: ApiContext, principal: Principal, action: str) -> list[str]:
    """Ids of the served sites on which ``principal`` may do ``action`` (sorted)."""
    return sorted(sid for sid in ctx.sites if principal.may(sid, action))


def _display_token(ctx: ApiContext, token: str) -> Principal | None:
    principal = people.verify_token(ctx.auth, token, secret=ctx.token_secret, now=ctx.clock())
    if principal is None or principal.scope != "display":
        return None
    return principal


def require_display(action: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """Like :func:`require`, also accepting a display-scope token in ``?token=``.

    For wall displays (a kiosk browser cannot send headers): only a token of scope
    ``display`` is taken from the query (any other token there is ignored: 401), and
    that scope allows only ``site.read``, ``readings.read``, ``sla.read``,
    ``kpi.read`` and ``alerts.read``. Safe methods only.
    """
    if action not in access.SCOPES["display"]:
        raise ValueError(f"require_display({action!r}): not an action of the display scope")

    async def dep(request: Request, auth: Auth = Depends(request_auth)) -> Principal:
        principal = auth.principal
        token = request.query_params.get("token")
        if principal is None and token and request.method.upper() in ("GET", "HEAD"):
            principal = await run_in_lane(
                "auth", AUTH_THREADS, _display_token, get_ctx(request), token
            )
        if principal is None:
            raise _unauthorized()
        site_id = request.path_params.get("site_id")
        if not isinstance(site_id, str) or not principal.may(site_id, action):
            raise HTTPException(
                status_code=403,
                detail=f"{principal.name} may not {action} on site {site_id!r}",
            )
        return principal

    return _mark(dep, action)


def route_action(route: Any) -> str | None:
    """The action a route's dependencies require (None: the route checks nobody)."""
    stack = [getattr(route, "dependant", None)]
    while stack:
        dep = stack.pop()
        if dep is None:
            continue
        action = getattr(dep.call, "__heatreuse_action__", None)
        if action is not None:
            return str(action)
        stack.extend(dep.dependencies)
    return None
