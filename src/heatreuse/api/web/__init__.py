"""The web UI: the shared dashboard and the wall display (server-rendered, no CDN).

Stack: Jinja2 templates rendered on the server, one small vanilla-JS file
(``static/app.js``: live updates by server-sent events, ack/silence buttons, the
history charts) and plotly.js read from the installed ``plotly`` package (the same
file the reports embed), served under ``/static/`` with every other asset. Nothing is
fetched from elsewhere and nothing is built at install time.

Pages (``/sites/{site_id}/...``, browser session from ``POST /api/v1/login``): overview,
facilities, ops, sustainability, alerts, history, glossary. Live figures come from
``GET /sites/{site_id}/events`` (``text/event-stream``): a ``figures`` event within a
fraction of a second of the ingest pipeline committing readings (the SSE loop watches
the ingestor's accepted counter, in memory, every :data:`SSE_POLL_S`).

Wall display: ``GET /wall/{site_id}?token=DISPLAY_TOKEN`` (``heatreuse tokens create
--user NAME --scope display``): read only, no controls, refused (401) without a valid
display token or session; a revoked token is refused at once.

Every figure comes from :mod:`heatreuse.services.dashboard` (which calls the SLA,
ledger, monitoring and store functions) with its unit, status and source.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import threading
import time
from collections.abc import Callable, Coroutine
from importlib import resources
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.concurrency import run_in_threadpool

from heatreuse.api.auth import (
    Auth,
    get_ctx,
    optional_principal,
    request_auth,
    require_display,
)
from heatreuse.api.context import ApiContext
from heatreuse.services.people import Principal

__all__ = ["WEB_ROUTE_ACTIONS", "web_router"]

PUBLIC = "public"
P = "/sites/{site_id}"

#: The web UI's routes and the action each needs (merged into the API's route table).
WEB_ROUTE_ACTIONS: dict[tuple[str, str], str] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("GET", "/static/{name}"): PUBLIC,
    ("GET", P): "site.read",
    ("GET", P + "/overview"): "site.read",
    ("GET", P + "/overview.json"): "site.read",
    ("GET", P + "/facilities"): "readings.read",
    ("GET", P + "/ops"): "readings.read",
    ("GET", P + "/sustainability"): "ledger.read",
    ("GET", P + "/alerts"): "alerts.read",
    ("GET", P + "/history"): "readings.read",
    ("GET", P + "/glossary"): "site.read",
    ("GET", P + "/events"): "readings.read",
    ("GET", "/wall/{site_id}"): "site.read",
}

#: How often the event stream looks at the ingest counter [s].
SSE_POLL_S = 0.2
#: Keep-alive comment interval of the event stream [s].
SSE_KEEPALIVE_S = 15.0
#: Longest life of one event stream before the browser reconnects [s].
SSE_MAX_S = 600.0
#: How often the stream refreshes the slower figures (heat today, SLA, incidents) [s].
SSE_PERIODIC_S = 60.0
#: Without an ingestor in this process, how often the stream re-reads the store [s].
SSE_STORE_POLL_S = 1.0

_STATIC_TYPES = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "wall.css": "text/css; charset=utf-8",
    "plotly.min.js": "text/javascript; charset=utf-8",
}
NAV = (
    ("overview", "Overview"),
    ("facilities", "Facilities"),
    ("ops", "Ops"),
    ("sustainability", "Sustainability"),
    ("alerts", "Alerts"),
    ("history", "History"),
    ("glossary", "Glossary"),
)


# --------------------------------------------------------------------------- assets
@functools.cache
def _env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("heatreuse.api.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = _when
    return env


def _when(value: Any) -> str:
    """``2026-12-02T09:52:00.42Z`` -> ``2026-12-02 09:52 UTC`` (empty for None)."""
    if not value:
        return ""
    text = str(value)
    return f"{text[:10]} {text[11:16]} UTC" if len(text) >= 16 and text[10] == "T" else text


@functools.cache
def _asset(name: str) -> tuple[bytes, bytes]:
    """Bytes of a static asset and their gzip form."""
    if name == "plotly.min.js":
        from plotly.offline import get_plotlyjs

        raw = get_plotlyjs().encode("utf-8")
    else:
        raw = resources.files("heatreuse.api.web").joinpath("static", name).read_bytes()
    return raw, gzip.compress(raw, 6, mtime=0)


def _render(name: str, **kw: Any) -> HTMLResponse:
    html = _env().get_template(name).render(**kw)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------------------- guards
def _page(action: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """Like :func:`heatreuse.api.auth.require`, but a browser (``Accept: text/html``)
    without a session is sent to the login page (303) instead of getting a 401 body."""

    async def dep(request: Request, auth: Auth = Depends(request_auth)) -> Principal:
        principal = auth.principal
        browser = "text/html" in request.headers.get("accept", "") and auth.via != "bearer"
        if principal is None and not browser:
            raise HTTPException(
                status_code=401,
                detail="authentication required: log in (POST /api/v1/login) or send "
                "Authorization: Bearer TOKEN",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if principal is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(
                status_code=303,
                detail="log in first",
                headers={"Location": "/login?next=" + quote(target, safe="")},
            )
        site_id = request.path_params.get("site_id")
        if not isinstance(site_id, str) or not principal.may(site_id, action):
            raise HTTPException(
                status_code=403, detail=f"{principal.name} may not {action} on site {site_id!r}"
            )
        return principal

    dep.__heatreuse_action__ = action  # type: ignore[attr-defined]
    return dep


def _csrf(request: Request) -> str:
    from heatreuse.api.auth import CSRF_COOKIE

    return request.cookies.get(CSRF_COOKIE, "")


def _common(
    ctx: ApiContext, request: Request, principal: Principal, site_id: str, page: str
) -> dict[str, Any]:
    site = ctx.site(site_id)
    return {
        "site": site,
        "site_id": site_id,
        "site_name": site.site.name,
        "page": page,
        "nav": NAV,
        "user": principal.name,
        "roles": list(principal.grants.get(site_id, ())),
        "may_ack": principal.may(site_id, "alerts.ack"),
        "may_silence": principal.may(site_id, "silences.write"),
        "csrf_cookie": "heatreuse_csrf",
        "sites": sorted(s for s in ctx.sites if principal.may(s, "site.read")),
    }


# --------------------------------------------------------------------------- live stream
def _live_payload(ctx: ApiContext, site_id: str) -> dict[str, Any]:
    from heatreuse.services import dashboard

    return dashboard.live_state(ctx.site(site_id), ctx.store, ctx.clock())


_PERIODIC: dict[str, tuple[int, dict[str, Any]]] = {}
_PERIODIC_LOCK = threading.Lock()


def _periodic_payload(ctx: ApiContext, site_id: str) -> dict[str, Any]:
    """The slower figures, computed at most once per minute and site for every stream."""
    from heatreuse.services import dashboard

    now = ctx.clock()
    minute = int(now.timestamp() // 60)
    with _PERIODIC_LOCK:
        hit = _PERIODIC.get(site_id)
        if hit is not None and hit[0] == minute:
            return hit[1]
        payload = dashboard.periodic_state(ctx.site(site_id), ctx.store, now)
        _PERIODIC[site_id] = (minute, payload)
        return payload


def _sse(event: str, data: dict[str, Any], event_id: int | None = None) -> bytes:
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return (head + "data: " + json.dumps(data, allow_nan=False) + "\n\n").encode()


def _stopping(ctx: ApiContext) -> bool:
    if ctx.health is None:
        return False
    try:
        return bool(ctx.health().get("status") == "stopping")
    except Exception:
        return False


async def _event_stream(ctx: ApiContext, request: Request, site_id: str) -> Any:
    """``figures`` events: at once, then whenever the ingestor accepted readings of the
    site (or, without an ingestor here, when the store's newest reading moved)."""
    ingestor = ctx.ingestor_of(site_id)

    def marker() -> Any:
        if ingestor is not None:
            return ingestor.counters()["accepted"]
        return ctx.store.last_reading(site_id)

    if "text/event-stream" not in request.headers.get("accept", ""):
        # not an EventSource (curl, a test client): one snapshot, then the stream ends
        yield _sse("figures", await run_in_threadpool(_live_payload, ctx, site_id), 0)
        return
    seq = 0
    started = last_sent = last_periodic = time.monotonic()
    last_check = 0.0
    yield b"retry: 1000\n\n"
    last = await run_in_threadpool(marker)
    yield _sse("figures", await run_in_threadpool(_live_payload, ctx, site_id), seq)
    poll = SSE_POLL_S if ingestor is not None else SSE_STORE_POLL_S
    while True:
        await asyncio.sleep(poll)
        now = time.monotonic()
        if await request.is_disconnected() or now - started > SSE_MAX_S:
            return
        if now - last_check >= 1.0:
            last_check = now
            if _stopping(ctx):
                return
        cur = marker() if ingestor is not None else await run_in_threadpool(marker)
        if cur != last:
            last = cur
            seq += 1
            payload = await run_in_threadpool(_live_payload, ctx, site_id)
            yield _sse("figures", payload, seq)
            last_sent = now
        elif now - last_periodic >= SSE_PERIODIC_S:
            last_periodic = last_sent = now
            seq += 1
            yield _sse("figures", await run_in_threadpool(_periodic_payload, ctx, site_id), seq)
        elif now - last_sent >= SSE_KEEPALIVE_S:
            last_sent = now
            yield b": keep-alive\n\n"


# --------------------------------------------------------------------------- router
def web_router(ctx: ApiContext) -> APIRouter:
    """Routes of the web UI for the app of ``ctx``."""
    from heatreuse.services import dashboard

    r = APIRouter(include_in_schema=False)

    @r.get("/")
    def root(principal: Principal | None = Depends(optional_principal)) -> Response:
        if principal is None:
            return RedirectResponse("/login", status_code=303)
        for sid in sorted(ctx.sites):
            if principal.may(sid, "site.read"):
                return RedirectResponse(f"/sites/{sid}/overview", status_code=303)
        return _render(
            "message.html", title="No site", message="You hold no role on a site served here."
        )

    @r.get("/login")
    def login_page(next: str = "/") -> Response:
        # only a path of this site (never //host or /\host, which browsers read as a host)
        local = next.startswith("/") and not next.startswith(("//", "/\\")) and len(next) < 500
        safe_next = next if local else "/"
        return _render("login.html", next=safe_next, title="Log in")

    @r.get("/static/{name}")
    def static(name: str, request: Request) -> Response:
        if name not in _STATIC_TYPES:
            raise HTTPException(status_code=404, detail=f"static file {name!r}: not found")
        raw, gz = _asset(name)
        headers = {"Cache-Control": "public, max-age=3600", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(gz, media_type=_STATIC_TYPES[name], headers=headers)
        return Response(raw, media_type=_STATIC_TYPES[name], headers=headers)

    @r.get(P)
    def site_home(site_id: str, _p: Principal = Depends(_page("site.read"))) -> Response:
        ctx.site(site_id)
        return RedirectResponse(f"/sites/{site_id}/overview", status_code=303)

    @r.get(P + "/overview")
    def overview_page(
        site_id: str, request: Request, p: Principal = Depends(_page("site.read"))
    ) -> Response:
        c = _common(ctx, request, p, site_id, "overview")
        ledger = dashboard.ledger_month(
            c["site"], ctx.store.url, dashboard._now(ctx.clock()), ctx.settings.checkpoint_dir
        )
        ov = dashboard.overview(c["site"], ctx.store, ctx.clock(), ledger=ledger)
        return _render("overview.html", title="Overview", ov=ov.to_dict(), **c)

    @r.get(P + "/overview.json")
    def overview_json(site_id: str, _p: Principal = Depends(_page("site.read"))) -> Response:
        site = ctx.site(site_id)
        ledger = dashboard.ledger_month(
            site, ctx.store.url, dashboard._now(ctx.clock()), ctx.settings.checkpoint_dir
        )
        ov = dashboard.overview(site, ctx.store, ctx.clock(), ledger=ledger)
        return JSONResponse(ov.to_dict())

    @r.get(P + "/facilities")
    def facilities_page(
        site_id: str, request: Request, p: Principal = Depends(_page("readings.read"))
    ) -> Response:
        c = _common(ctx, request, p, site_id, "facilities")
        return _render(
            "facilities.html",
            title="Facilities",
            fac=dashboard.facilities(c["site"], ctx.store, ctx.clock()),
            **c,
        )

    @r.get(P + "/ops")
    def ops_page(
        site_id: str, request: Request, p: Principal = Depends(_page("readings.read"))
    ) -> Response:
        c = _common(ctx, request, p, site_id, "ops")
        return _render(
            "ops.html", title="Ops", ops=dashboard.ops(c["site"], ctx.store, ctx.clock()), **c
        )

    @r.get(P + "/sustainability")
    def sustainability_page(
        site_id: str, request: Request, p: Principal = Depends(_page("ledger.read"))
    ) -> Response:
        c = _common(ctx, request, p, site_id, "sustainability")
        sus = dashboard.sustainability(
            c["site"], ctx.store.url, ctx.clock(), ctx.settings.checkpoint_dir
        )
        return _render("sustainability.html", title="Sustainability", sus=sus, plotly=True, **c)

    @r.get(P + "/alerts")
    def alerts_page(
        site_id: str, request: Request, p: Principal = Depends(_page("alerts.read"))
    ) -> Response:
        c = _common(ctx, request, p, site_id, "alerts")
        view = dashboard.alerts_view(c["site"], ctx.store, ctx.clock())
        return _render("alerts.html", title="Alerts and incidents", av=view, **c)

    @r.get(P + "/history")
    def history_page(
        site_id: str,
        request: Request,
        span: str = "day",
        end: str = "",
        p: Principal = Depends(_page("readings.read")),
    ) -> Response:
        import pandas as pd

        c = _common(ctx, request, p, site_id, "history")
        if span not in dashboard.HISTORY_RANGES:
            span = "day"
        tz = c["site"].location.timezone
        now = dashboard._now(ctx.clock())
        end_ts = now
        end_day = now.tz_convert(tz).date().isoformat()
        if end:
            try:
                day = pd.Timestamp(end).date()
            except ValueError:
                raise HTTPException(
                    422, f"end: expected a date YYYY-MM-DD, got {end[:40]!r}"
                ) from None
            end_day = day.isoformat()
            end_ts = min(now, pd.Timestamp(day, tz=tz) + pd.Timedelta(days=1))
        hist = dashboard.history(c["site"], ctx.store, span, end_ts)
        return _render(
            "history.html",
            title="History",
            hist=hist,
            spans=list(dashboard.HISTORY_RANGES),
            span=span,
            end_day=end_day,
            plotly=True,
            **c,
        )

    @r.get(P + "/glossary")
    def glossary_page(
        site_id: str, request: Request, p: Principal = Depends(_page("site.read"))
    ) -> Response:
        c = _common(ctx, request, p, site_id, "glossary")
        return _render("glossary.html", title="Glossary", glossary=dashboard.GLOSSARY, **c)

    @r.get(P + "/events")
    async def events(
        site_id: str, request: Request, _p: Principal = Depends(require_display("readings.read"))
    ) -> Response:
        ctx.site(site_id)
        return StreamingResponse(
            _event_stream(get_ctx(request), request, site_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @r.get("/wall/{site_id}")
    def wall_page(
        site_id: str, request: Request, _p: Principal = Depends(require_display("site.read"))
    ) -> Response:
        site = ctx.site(site_id)
        data = dashboard.wall(site, ctx.store, ctx.clock())
        token = request.query_params.get("token", "")
        events_url = f"/sites/{site_id}/events" + (
            f"?token={quote(token, safe='')}" if token else ""
        )
        return _render(
            "wall.html",
            title=f"Wall: {site.site.name}",
            w=data,
            events_url=events_url,
            site_id=site_id,
        )

    return r
