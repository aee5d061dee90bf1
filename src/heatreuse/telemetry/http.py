"""HTTP push endpoint for readings (batch JSON), as a FastAPI router and app factory.

``POST /api/v1/sites/{site_id}/readings`` with a JSON body::

    {"readings": [
        {"point_id": "hx.secondary_supply_temp_c", "ts": "2026-01-10T06:00:00Z", "value": 41.2},
        {"point_id": "meter.heat_energy_kwh", "ts": 1768024800, "value": 18234.5}
    ]}

``point_id`` is a canonical point id or a source key; ``ts`` ISO 8601 text with
``Z``/offset or epoch seconds (UTC); ``value`` a number (status points 0/1 or
true/false). At most :data:`MAX_READINGS_PER_REQUEST` readings per request.

Responses:

* **200** after the store committed (and flushed), with counts::

      {"site_id": "pool-potsdam", "received": 2, "accepted": 2, "duplicates": 0,
       "quarantined": {}, "quarantined_total": 0}

  Readings that fail validation are quarantined (reason, raw item, source
  ``http:<client address>``) and counted under ``quarantined``; the batch
  still succeeds. Sending the same batch again returns ``accepted: 0`` and
  counts ``duplicates`` (idempotent: safe to retry after a timeout).
* **404** the site id is not the one this endpoint serves.
* **422** malformed request (not JSON, no ``readings`` list, an item that is
  not an object, lacks ``point_id``/``ts``/``value`` or has another field --
  ``{"point": ...}`` is answered "unknown field 'point' (did you mean
  'point_id'?)" --, too many readings); nothing is stored. The body says where
  (``loc``) and what.
* **503** the store failed; nothing is acknowledged, retry later.

``GET /api/v1/sites/{site_id}/ingest/counters`` returns the cumulative
counters as JSON; ``GET /metrics`` the same in Prometheus text format.

Nothing runs at import time: :func:`create_ingest_app` builds the app.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from heatreuse.errors import HeatreuseError, StoreError
from heatreuse.site import Site
from heatreuse.telemetry.validate import Ingestor, RawReading, ReadingStore

#: Largest batch one request may carry.
MAX_READINGS_PER_REQUEST = 100_000
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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
                    hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
                raise ValueError(
                    f"unknown field {', '.join(hints)}; a reading has the fields "
                    f"{', '.join(cls.model_fields)}"
                )
        return data


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


def ingest_router(ingestor: Ingestor, *, durable: bool = True) -> APIRouter:
    """Routes for pushing readings to one site's ingestor.

    Parameters
    ----------
    ingestor
        The site's pipeline; its store receives the readings.
    durable
        Call the store's ``flush()`` (if it has one) before answering 200, so an
        acknowledged batch survives power loss too (SQLite WAL with
        ``synchronous=NORMAL`` otherwise only survives a process crash). The
        edge agent deletes its buffer on 200, so keep this on.
    """
    flush = getattr(ingestor.store, "flush", None) if durable else None
    router = APIRouter()
    site_id = ingestor.site_id

    def _check_site(requested: str) -> None:
        if requested != site_id:
            raise HTTPException(
                status_code=404,
                detail=f"unknown site '{requested}'; this endpoint serves site '{site_id}'",
            )

    @router.post("/api/v1/sites/{site_id}/readings", response_model=IngestResponse)
    def push_readings(site_id: str, body: ReadingsBatchIn, request: Request) -> IngestResponse:
        """Validate and store a batch of readings; 200 only after the store committed."""
        _check_site(site_id)
        client = request.client.host if request.client is not None else "unknown"
        source = f"http:{client}"
        readings = [
            RawReading(
                point=item.point_id,
                ts=item.ts,
                value=item.value,
                source=source,
                raw=json.dumps(item.model_dump(), default=str),
            )
            for item in body.readings
        ]
        try:
            result = ingestor.ingest(readings)
            if callable(flush):
                flush()
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
        _check_site(site_id)
        return {"site_id": site_id, **ingestor.counters()}

    @router.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Ingest counters in Prometheus text format."""
        return PlainTextResponse(ingestor.prometheus_text(), media_type=PROMETHEUS_CONTENT_TYPE)

    return router


def create_ingest_app(
    site: Site, store: ReadingStore, ingestor: Ingestor | None = None, *, durable: bool = True
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
    """
    pipeline = ingestor if ingestor is not None else Ingestor(site, store)
    app = FastAPI(
        title=f"heatreuse ingest: {site.id}",
        description="Push readings of one site (see heatreuse.telemetry.http).",
    )
    app.include_router(ingest_router(pipeline, durable=durable))
    app.state.ingestor = pipeline
    return app
