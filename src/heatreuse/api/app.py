"""The API app factory: :func:`create_app` (``heatreuse serve --http`` serves it).

Mounts, into one FastAPI app:

* ``/healthz`` and ``/metrics`` (the serve process's health and Prometheus text);
* the readings push ``POST /api/v1/sites/{site_id}/readings`` of
  :mod:`heatreuse.telemetry.http` (device tokens only);
* the ``/api/v1`` routes of :mod:`heatreuse.api.routes` (sessions, sites, readings,
  SLA, KPIs, ledger, alerts, incidents, silences, actions, drills, maintenance,
  audit, users, tokens, devices);
* the web UI of :func:`heatreuse.api.web.web_router`.

OpenAPI at ``/api/v1/openapi.json``, Swagger UI at ``/api/v1/docs``. Every route is
in :data:`heatreuse.api.permissions.ROUTE_ACTIONS`; :func:`create_app` refuses to
build otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse, PlainTextResponse

from heatreuse.api import errors, permissions
from heatreuse.api.context import ApiContext, ApiSettings

__all__ = ["ApiContext", "ApiSettings", "app_for_service", "create_app"]

log = logging.getLogger(__name__)
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Page cache of each API connection [MiB] (:meth:`Store.limit_cache`): the readers of
#: a SQLite store read the memory-mapped file; the ingest connection keeps 64 MiB.
READER_CACHE_MIB = 8.0


def _ingest_routes(ctx: ApiContext) -> Any:
    """The readings push of :mod:`heatreuse.telemetry.http`, device-token checked."""
    from heatreuse.services import people
    from heatreuse.telemetry.http import ingest_router

    pipelines = ctx.all_ingestors()
    assert pipelines

    def verify(site_id: str, token: str) -> Any:
        principal = people.verify_token(ctx.auth, token, secret=ctx.token_secret, now=ctx.clock())
        if principal is not None and not principal.may(site_id, "readings.write"):
            # a valid principal without the right: 403 like every other route (the
            # ingest router alone answers 401 for anything but a device of the site)
            raise HTTPException(
                status_code=403,
                detail=f"{principal.name} may not readings.write on site {site_id!r} "
                "(device tokens of the site only: heatreuse devices add)",
            )
        return principal

    router = ingest_router(
        pipelines,
        max_body_bytes=ctx.settings.ingest_max_body_bytes,
        metrics=False,
        verify_device_token=None if ctx.settings.allow_anonymous_ingest else verify,
    )
    # the counters route of the ingest router checks nobody: ours (site.read) replaces it
    router.routes = [
        r for r in router.routes if getattr(r, "path", "") == permissions.S + "/readings"
    ]
    return router


def create_app(ctx: ApiContext) -> FastAPI:
    """Build the API app for ``ctx`` (nothing runs until a server serves it)."""
    from heatreuse.api import routes, web
    from heatreuse.telemetry.http import CloseAfter413

    site_ids = ", ".join(sorted(ctx.sites)) or "no site"
    app = FastAPI(
        title=f"heatreuse API ({site_ids})",
        description="Sites, readings, SLA, KPIs, ledger, alerts and people of heatreuse. "
        "Authenticate with `Authorization: Bearer TOKEN` (heatreuse tokens create) or a "
        "session cookie from POST /api/v1/login.",
        version="1",
        openapi_url=permissions.V1 + "/openapi.json",
        docs_url=permissions.V1 + "/docs",
        redoc_url=permissions.V1 + "/redoc",
        swagger_ui_oauth2_redirect_url=permissions.V1 + "/docs/oauth2-redirect",
    )
    app.state.api_ctx = ctx
    errors.install(app)

    def healthz() -> Any:
        if ctx.health is None:
            return JSONResponse({"status": "ok", "sites": sorted(ctx.sites)})
        body = ctx.health()
        code = 503 if body.get("status") in ("stopping", "stalled") else 200
        return JSONResponse(body, status_code=code)

    def metrics() -> Any:
        if ctx.metrics_text is not None:
            text = ctx.metrics_text()
        elif ctx.ingestor is not None:
            text = ctx.ingestor.prometheus_text()
        else:
            text = ""
        return PlainTextResponse(text, media_type=PROMETHEUS_CONTENT_TYPE)

    app.add_api_route(
        "/healthz",
        healthz,
        methods=["GET"],
        response_class=JSONResponse,
        response_model=None,
        responses={503: {"description": "Stopping, or ingest stalled."}},
    )
    app.add_api_route(
        "/metrics", metrics, methods=["GET"], response_class=PlainTextResponse, response_model=None
    )
    if ctx.all_ingestors():
        app.include_router(_ingest_routes(ctx))
    app.include_router(routes.api_router(ctx))
    app.include_router(web.web_router(ctx))
    app.add_middleware(CloseAfter413)
    app.add_middleware(_MarkWrites)
    extra = getattr(web, "WEB_ROUTE_ACTIONS", None)
    permissions.check_routes(app.routes, permissions.all_actions(extra))
    return app


def _own_connections(store: Any, readers: int) -> tuple[Any, Any]:
    """Connections of the API's own to the service's store: (a pool, the auth connection).

    A store object serialises its calls with a lock: on the service's, a month of SLA
    minutes read for a dashboard would hold up the readings being stored (and a large
    ingest batch every API read); on one API connection, 50 readers would queue behind
    each other and the token check of every request behind them all. The API works
    through a :class:`~heatreuse.store.pool.StorePool`: ``readers`` connections for
    reads, and one writer that every state-changing request uses (``_MarkWrites``), so
    writes stay serialised in the process as on one store. Tokens and sessions are
    checked on one more connection. SQLite (WAL: readers do not wait for the writer or
    each other) and PostgreSQL run them side by side. Falls back to the service's store
    when the URL cannot be opened again (an in-memory database).
    """
    from heatreuse.store import open_store
    from heatreuse.store.pool import StorePool

    if ":memory:" in store.url or "mode=memory" in store.url:
        return store, None
    opened: list[Any] = []
    try:
        for _ in range(max(1, readers) + 2):
            opened.append(open_store(store.url))
            opened[-1].limit_cache(READER_CACHE_MIB)
    except Exception as exc:  # any failure: close what was opened, share the service's
        for s in opened:
            s.close()
        log.warning("API: sharing the ingest store connection (%s)", exc)
        return store, None
    return StorePool(opened[2:], writer=opened[1]), opened[0]


class _MarkWrites:
    """ASGI middleware: a request that may change state (not GET/HEAD/OPTIONS) runs with
    :data:`heatreuse.store.pool.WRITE_REQUEST` set: its store calls use the pool's writer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from heatreuse.store.pool import WRITE_REQUEST

        if scope["type"] != "http" or scope.get("method", "GET") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        token = WRITE_REQUEST.set(True)
        try:
            await self.app(scope, receive, send)
        finally:
            WRITE_REQUEST.reset(token)


def app_for_service(service: Any, settings: ApiSettings | None = None) -> FastAPI:
    """The API app of a running :class:`heatreuse.services.serve.IngestService`.

    ``heatreuse serve --http`` passes this as the service's app factory (services do
    not import the API). The token secret is created (mode 0600) when missing: the
    session cookies are signed with it. The API reads and writes through a connection
    of its own (:func:`_own_connections`); the readings push feeds the service's
    ingestor. The connection lives as long as the process (``serve`` ends with it).
    """
    from dataclasses import replace

    from heatreuse.services import people

    cfg = service.config
    secret = people.load_token_secret(cfg.token_secret_path, create=True)
    base = settings or ApiSettings()
    base = replace(
        base,
        ingest_max_body_bytes=cfg.http_max_body_bytes,
        allow_anonymous_ingest=bool(cfg.allow_anonymous_ingest),
        checkpoint_dir=cfg.checkpoint_dir,
        key_path=cfg.key_path,
    )
    if cfg.allow_anonymous_ingest:
        service.device_check()  # refuses a non-loopback listener, warns loudly
    api_store, auth_store = _own_connections(service.store, base.read_connections)
    ctx = ApiContext(
        sites={site.id: site for site in service.sites},
        store=api_store,
        auth_store=auth_store,
        token_secret=secret,
        clock=service.clock,
        ingestor=service.ingestor,
        ingestors=dict(service.ingestors),
        health=service.health,
        metrics_text=service.prometheus_text,
        watch=lambda: service.watch,
        settings=base,
    )
    return create_app(ctx)


AppFactory = Callable[[Any], FastAPI]
