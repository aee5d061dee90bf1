"""The ``/api/v1`` routes, one module per area; :func:`api_router` gathers them."""

from __future__ import annotations

from fastapi import APIRouter

from heatreuse.api.context import ApiContext


def api_router(ctx: ApiContext) -> APIRouter:
    """Every ``/api/v1`` route (the readings push aside: :mod:`heatreuse.telemetry.http`).

    Write bodies are limited to ``ctx.settings.max_body_bytes`` (413 before reading).
    """
    from heatreuse.api.routes import (
        changes,
        fleet,
        ops,
        people,
        readings,
        reports,
        session,
        sites,
    )

    root = APIRouter(max_body_size=ctx.settings.max_body_bytes)
    for module in (session, sites, readings, reports, ops, people, changes, fleet):
        root.include_router(module.router(ctx))
    return root
