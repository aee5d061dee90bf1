"""HTTP push endpoint for readings (batch JSON), as a FastAPI router and app factory.

``POST /api/v1/sites/{site_id}/readings`` with a JSON body::

    {"readings": [
        {"point_id": "hx.secondary_supply_temp_c", "ts": "2026-01-10T06:00:00Z", "value": 41.2},
        {"point_id": "meter.heat_energy_kwh", "ts": 1768024800, "value": 18234.5}
    ]}

``point_id`` is a canonical point id or a source key; ``ts`` ISO 8601 text with
``Z``/offset or epoch seconds (UTC); ``value`` a number (status points 0/1 or
true/false). At most :data:`MAX_READINGS_PER_REQUEST` readings and
``max_body_bytes`` (default :data:`DEFAULT_MAX_BODY_BYTES`) per request.

Responses:

* **200** after the store committed (and flushed), with counts::

      {"site_id": "pool-potsdam", "received": 2, "accepted": 2, "duplicates": 0,
       "quarantined": {}, "quarantined_total": 0}

  Readings that fail validation are quarantined (reason, raw item, source
  ``http:<client address>``) and counted under ``quarantined``; the batch
  still succeeds. Sending the same batch again returns ``accepted: 0`` and
  counts ``duplicates`` (idempotent: safe to retry after a timeout).
* **401** the endpoint checks device tokens (``heatreuse serve`` does unless
  ``--allow-anonymous-ingest``) and the request has no ``Authorization: Bearer
  TOKEN`` header, or a token that is not a device token of this site (unknown,
  revoked, another site's). Nothing is read or stored.
* **404** the site id is not the one this endpoint serves.
* **413** the body is larger than ``max_body_bytes``: refused before it is
  read (a ``Content-Length`` over the limit) or as soon as the bytes read
  pass it (chunked bodies); nothing is parsed or stored.
* **422** malformed request (not JSON, no ``readings`` list, an item that is
  not an object, lacks ``point_id``/``ts``/``value`` or has another field --
  ``{"point": ...}`` is answered "unknown field 'point' (did you mean
  'point_id'?)" --, too many readings) or hostile text in a field (a point id
  longer than :data:`~heatreuse.telemetry.validate.MAX_POINT_KEY_CHARS`, a
  control character such as NUL or a lone surrogate in ``point_id``, ``ts`` or
  a text ``value``: see
  :func:`~heatreuse.telemetry.validate.reading_field_problems`). No reading is
  stored; the body says where (``loc``, e.g. ``["body", "readings", 3,
  "point_id"]``) and what. The refused body is kept as one quarantine row
  (reason ``unparseable``, source ``http:<client>``, the body capped: first
  bytes, size and SHA-256), so an operator sees what a client sent.
* **503** the store failed; nothing is acknowledged, retry later.

``GET /api/v1/sites/{site_id}/ingest/counters`` returns the cumulative
counters as JSON; ``GET /metrics`` the same in Prometheus text format.

Nothing runs at import time: :func:`create_ingest_app` builds the app;
:func:`ingest_router` gives the routes alone (body limit included) to mount in
another app.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from heatreuse.errors import HeatreuseError, StoreError
from heatreuse.rawtext import bounded_text, has_unsafe_text, preview
from heatreuse.site import Site
from heatreuse.telemetry.validate import (
    MAX_POINT_KEY_CHARS,
    MAX_TS_CHARS,
    Ingestor,
    RawReading,
    ReadingStore,
    reading_field_problems,
)
from heatreuse.threads import run_in_lane

log = logging.getLogger(__name__)

#: Largest batch one request may carry.
MAX_READINGS_PER_REQUEST = 100_000
#: Default largest request body [bytes] (8 MiB: an edge batch of 2,000 readings is
#: about 0.2 MB).
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
#: Validation errors listed in a 422 answer (the rest are counted).
MAX_ERRORS_SHOWN = 20
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Worker threads of the readings push (token check, parsing, store write): a lane of
#: their own (:func:`heatreuse.threads.run_in_lane`), not the server's shared pool.
INGEST_THREADS = 4
READINGS_PATH = "/api/v1/sites/{site_id}/readings"


def _field_check(name: str, point: Any, ts: Any, value: Any) -> None:
    for field_name, problem in reading_field_problems(point, ts, value):
        if field_name == name:
            raise ValueError(problem)


class ReadingIn(BaseModel):
    """One reading in a push request."""

    model_config = ConfigDict(extra="forbid")

    point_id: str = Field(min_length=1, description="Point id or source key.")
    ts: Any = Field(description="ISO 8601 with Z/offset, or epoch seconds (UTC).")
    value: Any = Field(description="Number in the point's unit; status 0/1.")

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        """Name the expected field for an unknown one (``point`` -> ``point_id``)."""
        if isinstance(data, dict):
            unknown = [k for k in data if k not in cls.model_fields]
            if unknown:
                hints = []
                for key in unknown:
                    close = difflib.get_close_matches(str(key), list(cls.model_fields), n=1)
                    name = bounded_text(str(key), 64)
                    hints.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
                raise ValueError(
                    f"unknown field {', '.join(hints)}; a reading has the fields "
                    f"{', '.join(cls.model_fields)}"
                )
        return data

    @field_validator("point_id")
    @classmethod
    def _point_id_text(cls, v: str) -> str:
        _field_check("point_id", v, None, None)
        return v

    @field_validator("ts")
    @classmethod
    def _ts_text(cls, v: Any) -> Any:
        _field_check("ts", "x", v, None)
        return v

    @field_validator("value")
    @classmethod
    def _value_text(cls, v: Any) -> Any:
        _field_check("value", "x", None, v)
        return v


class ReadingsBatchIn(BaseModel):
    """A push request: a batch of readings."""

    model_config = ConfigDict(extra="forbid")

    readings: list[ReadingIn] = Field(max_length=MAX_READINGS_PER_REQUEST)


class IngestResponse(BaseModel):
    """Outcome of a push request (after the store committed)."""

    site_id: str
    received: int
    accepted: int
    duplicates: int
    quarantined: dict[str, int]
    quarantined_total: int


class CloseAfter413:
    """ASGI middleware: a 413 answer closes the connection (``Connection: close``).

    The body limit answers 413 without reading the body; on a kept-alive
    connection the server would still read (and discard) whatever the client
    keeps sending. With ``Connection: close`` the server closes the
    connection after the answer, so a client streaming a huge or endless
    (chunked) body is cut off. Add it to any app that mounts
    :func:`ingest_router` (:func:`create_ingest_app` does).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 413:
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"
                ]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_closing)


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its ``$defs`` inlined (for ``openapi_extra``)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.rsplit("/", 1)[1]]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(schema)
    return out


def _safe_loc(loc: Any) -> list[Any]:
    """An error location with untrusted keys (extra fields) escaped and bounded."""
    return [part if isinstance(part, int) else bounded_text(str(part), 80) for part in loc]


class _Refused(Exception):
    """A push request refused with 422 (``errors`` as in FastAPI's validation answers)."""

    def __init__(self, errors: list[dict[str, Any]], total: int) -> None:
        super().__init__(f"{total} problem(s)")
        self.errors = errors
        self.total = total

    def summary(self) -> str:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in self.errors[:3]]
        more = f" (+{self.total - 3} more)" if self.total > 3 else ""
        return "; ".join(parts) + more


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        msg = (
            f"JSON decode error: {exc}"
            if isinstance(exc, json.JSONDecodeError)
            else f"JSON decode error: {type(exc).__name__}"
        )
        raise _Refused(
            [{"type": "json_invalid", "loc": ["body"], "msg": bounded_text(msg, 300)}], 1
        ) from None


def _validate_doc(doc: Any) -> ReadingsBatchIn:
    try:
        return ReadingsBatchIn.model_validate(doc)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        shown = [
            {
                "type": e["type"],
                "loc": ["body", *_safe_loc(e["loc"])],
                "msg": bounded_text(str(e["msg"]), 500),
            }
            for e in errors[:MAX_ERRORS_SHOWN]
        ]
        raise _Refused(shown, len(errors)) from None


def parse_readings_body(body: bytes) -> ReadingsBatchIn:
    """Parse and validate a push request body.

    Raises
    ------
    _Refused
        Not JSON, wrong shape, or hostile text in a field; the errors name
        where (``loc``) and what (``msg``), never echoing more than a short
        escaped preview of what came.
    """
    return _validate_doc(_load_json(body))


_FIELDS = frozenset(ReadingIn.model_fields)


def _plain_items(doc: Any) -> list[tuple[str, Any, Any]] | None:
    """The ``(point_id, ts, value)`` of a body every check of :class:`ReadingsBatchIn`
    passes at a glance, or None (then the model validates it and names the problems).

    At a glance: an object of ``readings`` alone, a list of at most
    :data:`MAX_READINGS_PER_REQUEST` objects of exactly the three fields, point ids
    non-empty text within :data:`~heatreuse.telemetry.validate.MAX_POINT_KEY_CHARS`,
    timestamp text within :data:`~heatreuse.telemetry.validate.MAX_TS_CHARS`, values
    that are not text, lists or objects, and no control character or lone surrogate
    in any of the texts (one search over them all).
    """
    if type(doc) is not dict or len(doc) != 1:
        return None
    items = doc.get("readings")
    if type(items) is not list or len(items) > MAX_READINGS_PER_REQUEST:
        return None
    out: list[tuple[str, Any, Any]] = []
    texts: list[str] = []
    for item in items:
        if type(item) is not dict or item.keys() != _FIELDS:
            return None
        point, ts, value = item["point_id"], item["ts"], item["value"]
        if type(point) is not str or not point or len(point) > MAX_POINT_KEY_CHARS:
            return None
        texts.append(point)
        if type(ts) is str:
            if len(ts) > MAX_TS_CHARS:
                return None
            texts.append(ts)
        if isinstance(value, str | list | dict):
            return None
        out.append((point, ts, value))
    if has_unsafe_text("".join(texts)):
        return None
    return out


def parse_readings(body: bytes) -> list[tuple[str, Any, Any]]:
    """The ``(point_id, ts, value)`` of a push request body, in order.

    The same answer as :func:`parse_readings_body` (the same refusals, raised by it),
    without building a model per reading when the body is plain (:func:`_plain_items`):
    a batch of 1,000 readings costs a JSON decode and one pass.

    Raises
    ------
    _Refused
        As :func:`parse_readings_body`.
    """
    doc = _load_json(body)
    plain = _plain_items(doc)
    if plain is not None:
        return plain
    return [(item.point_id, item.ts, item.value) for item in _validate_doc(doc).readings]


def ingest_router(
    ingestor: Ingestor | Mapping[str, Ingestor],
    *,
    durable: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    metrics: bool = True,
    verify_device_token: Callable[[str, str], Any] | None = None,
) -> APIRouter:
    """Routes for pushing readings to one site's ingestor.

    Parameters
    ----------
    ingestor
        The site's pipeline; its store receives the readings. A mapping site id ->
        pipeline serves several sites (a central ``heatreuse serve``): the push of
        ``/sites/{site_id}/readings`` goes to that site's pipeline, an unknown site is 404.
    durable
        Call the store's ``flush()`` (if it has one) before answering 200, so an
        acknowledged batch survives power loss too (SQLite WAL with
        ``synchronous=NORMAL`` otherwise only survives a process crash). The
        edge agent deletes its buffer on 200, so keep this on.
    max_body_bytes
        Largest request body of the push route [bytes]; larger: 413 before
        parsing (FastAPI's route ``max_body_size``: the ``Content-Length`` is
        checked before the first byte is read, streamed bytes are counted).
    metrics
        Include ``GET /metrics`` (the ingest counters); off when the app has
        its own (``heatreuse serve``'s adds MQTT and Modbus state).
    verify_device_token
        ``(site_id, token) -> principal or None``: when given, the push route needs
        ``Authorization: Bearer TOKEN`` and answers 401 unless this returns a principal
        (run in a worker thread; it may read a store). None: no check (a lab or a test
        app; ``heatreuse serve`` passes one unless told ``--allow-anonymous-ingest``).
    """
    if max_body_bytes < 1:
        raise HeatreuseError(f"max_body_bytes: expected a positive number, got {max_body_bytes}")
    ingestors: dict[str, Ingestor] = (
        {ingestor.site_id: ingestor} if isinstance(ingestor, Ingestor) else dict(ingestor)
    )
    if not ingestors:
        raise HeatreuseError("ingest_router: no site to serve (no ingest pipeline given)")
    router = APIRouter()
    served = ", ".join(f"'{s}'" for s in sorted(ingestors))

    def _check_site(requested: str) -> Ingestor:
        pipeline = ingestors.get(requested)
        if pipeline is None:
            raise HTTPException(
                status_code=404,
                detail=f"unknown site {preview(requested)}; this endpoint serves site {served}"
                if len(ingestors) == 1
                else f"unknown site {preview(requested)}; this endpoint serves sites {served}",
            )
        return pipeline

    def _keep_refused(pipeline: Ingestor, source: str, body: bytes, refused: _Refused) -> None:
        detail = f"HTTP 422, request refused, nothing stored: {refused.summary()}"
        try:
            pipeline.reject(source, body, "unparseable", detail)
        except Exception as exc:  # the client has its answer; the store may be down
            log.warning(
                "HTTP ingest: could not keep a refused request in quarantine (%s: %s)",
                type(exc).__name__,
                bounded_text(str(exc), 300),
            )

    def _parse_and_ingest(pipeline: Ingestor, source: str, body: bytes) -> Any:
        # raises _Refused: nothing stored; the raw text of a quarantined reading is
        # built from its fields when needed (the JSON of point_id, ts, value)
        readings = [
            RawReading(point=point, ts=ts, value=value, source=source)
            for point, ts, value in parse_readings(body)
        ]
        result = pipeline.ingest(readings)
        flush = getattr(pipeline.store, "flush", None) if durable else None
        if callable(flush):
            flush()
        return result

    body_schema = _inline_refs(ReadingsBatchIn.model_json_schema())

    async def device_principal(site_id: str, request: Request) -> Any:
        """The device principal of the request (401 without a valid device token)."""
        if verify_device_token is None:
            return None
        _check_site(site_id)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        principal = None
        if scheme.lower() == "bearer" and token.strip():
            principal = await run_in_lane(
                "ingest", INGEST_THREADS, verify_device_token, site_id, token.strip()
            )
        if principal is None:
            raise HTTPException(
                status_code=401,
                detail="a device token of this site is required "
                "(Authorization: Bearer TOKEN; create one with `heatreuse devices add`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return principal

    @router.post(
        READINGS_PATH,
        response_model=IngestResponse,
        max_body_size=max_body_bytes,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            }
        },
        dependencies=[Depends(device_principal)],
        responses={
            401: {"description": "No valid device token of this site; nothing stored."},
            404: {"description": "Not this endpoint's site."},
            413: {"description": f"Body larger than {max_body_bytes} bytes; not read."},
            422: {"description": "Malformed request or hostile text in a field; nothing stored."},
            503: {"description": "Store unavailable; nothing stored, retry."},
        },
    )
    async def push_readings(site_id: str, request: Request) -> IngestResponse:
        """Validate and store a batch of readings; 200 only after the store committed."""
        pipeline = _check_site(site_id)
        client = request.client.host if request.client is not None else "unknown"
        source = f"http:{client}"
        body = await request.body()  # 413 here when over the limit (route max_body_size)
        # parsing, validation and the store write run in the ingest lane: off the event
        # loop, and never waiting behind API readers for a worker thread
        try:
            result = await run_in_lane(
                "ingest", INGEST_THREADS, _parse_and_ingest, pipeline, source, body
            )
        except _Refused as refused:
            await run_in_lane(
                "ingest", INGEST_THREADS, _keep_refused, pipeline, source, body, refused
            )
            raise HTTPException(status_code=422, detail=refused.errors) from None
        except StoreError as exc:
            raise HTTPException(status_code=503, detail=f"store unavailable: {exc}") from None
        except HeatreuseError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        return IngestResponse(
            site_id=site_id,
            received=result.received,
            accepted=result.accepted,
            duplicates=result.duplicates,
            quarantined=dict(sorted(result.quarantined.items())),
            quarantined_total=result.quarantined_total,
        )

    @router.get("/api/v1/sites/{site_id}/ingest/counters")
    def counters(site_id: str) -> dict[str, Any]:
        """Cumulative ingest counters of this site."""
        return {"site_id": site_id, **_check_site(site_id).counters()}

    if metrics:

        @router.get("/metrics", response_class=PlainTextResponse)
        def ingest_metrics() -> PlainTextResponse:
            """Ingest counters in Prometheus text format."""
            text = "".join(p.prometheus_text() for _, p in sorted(ingestors.items()))
            return PlainTextResponse(text, media_type=PROMETHEUS_CONTENT_TYPE)

    return router


def create_ingest_app(
    site: Site,
    store: ReadingStore,
    ingestor: Ingestor | None = None,
    *,
    durable: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    verify_device_token: Callable[[str, str], Any] | None = None,
) -> FastAPI:
    """App factory: the HTTP ingest endpoint of one site.

    Parameters
    ----------
    site
        The site served.
    store
        The store readings go to (used when ``ingestor`` is None).
    ingestor
        A shared pipeline (e.g. the one ``heatreuse serve`` also feeds from
        MQTT); default: a new :class:`Ingestor` on ``store``.
    durable
        Flush the store before each 200 (see :func:`ingest_router`).
    max_body_bytes
        Largest push request body [bytes] (see :func:`ingest_router`).
    verify_device_token
        Device-token check of the push route (see :func:`ingest_router`).
    """
    pipeline = ingestor if ingestor is not None else Ingestor(site, store)
    app = FastAPI(
        title=f"heatreuse ingest: {site.id}",
        description="Push readings of one site (see heatreuse.telemetry.http).",
    )
    app.include_router(
        ingest_router(
            pipeline,
            durable=durable,
            max_body_bytes=max_body_bytes,
            verify_device_token=verify_device_token,
        )
    )
    app.add_middleware(CloseAfter413)
    app.state.ingestor = pipeline
    return app
