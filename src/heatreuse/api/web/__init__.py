"""Web UI routes (the dashboard helper replaces this stub; keep the signature)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter


def web_router(ctx: Any) -> APIRouter:
    """Routes of the web UI for the app of ``ctx`` (:class:`heatreuse.api.app.ApiContext`)."""
    return APIRouter()
