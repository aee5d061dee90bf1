"""Errors become HTTP answers here, and only here.

Body of every error answer: ``{"detail": "...", "field": "name" | null}``; 422 from
request validation keeps FastAPI's ``detail`` list (each item's ``loc`` names the field).

* :class:`ApiError` (raised by routes): its own status and field.
* :class:`heatreuse.errors.HeatreuseError` from a service: the class decides the code
  (:func:`status_of`), the field is the message's leading ``name:`` (services write
  ``--since: expected ...``).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from heatreuse.api.context import UnknownSiteError
from heatreuse.errors import (
    AccessDeniedError,
    AddressError,
    DomainError,
    HeatreuseError,
    LedgerConflictError,
    ScenarioError,
    SLAError,
    StoreError,
    UnitError,
)
from heatreuse.rawtext import bounded_text, preview

_FIELD_RE = re.compile(r"^\s*-{0,2}([A-Za-z_][A-Za-z0-9_.\-]{0,63})\s*:")


class ApiError(Exception):
    """An answer other than 2xx decided by a route: ``status``, message, the field."""

    def __init__(self, status: int, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field


def not_found(what: str) -> ApiError:
    """404 naming what was not found."""
    return ApiError(404, f"{what}: not found")


def field_of(message: str) -> str | None:
    """The field a service message names first (``--since: ...`` -> ``since``)."""
    m = _FIELD_RE.match(message)
    return m.group(1).replace("-", "_") if m else None


def status_of(exc: HeatreuseError) -> int:
    """The HTTP status of a service error."""
    if isinstance(exc, AccessDeniedError):
        return 403
    if isinstance(exc, LedgerConflictError):
        return 409
    if isinstance(exc, StoreError):
        return 503
    if isinstance(exc, SLAError | ScenarioError | AddressError | DomainError | UnitError):
        return 422
    return 400


def _body(detail: str, field: str | None) -> dict[str, Any]:
    return {"detail": bounded_text(detail, 1000), "field": field}


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    async def api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse(_body(exc.detail, exc.field), status_code=exc.status)

    async def service_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HeatreuseError)
        msg = str(exc)
        return JSONResponse(_body(msg, field_of(msg)), status_code=status_of(exc))

    async def unknown_site(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, UnknownSiteError)
        return JSONResponse(
            _body(f"site {preview(exc.site_id)}: not served here", "site_id"), status_code=404
        )

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HeatreuseError, service_error)
    app.add_exception_handler(UnknownSiteError, unknown_site)
